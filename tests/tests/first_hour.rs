//! What a new user trips over on the command line (issue: the first hour),
//! through the real CLI: usage errors exit 2, a mistyped subcommand gets
//! "did you mean", and `--help` says where azlin keeps its state.

use azlin_e2e::Env;

#[test]
fn a_command_that_chooses_no_vms_is_a_usage_error() {
    let env = Env::new();
    let out = env.run(&["exec", "--", "uname"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("choose the VMs: --vm NAME"), "{err}");
    // Told from the command line alone: no daemon was started for it.
    assert!(!env.home().join("daemon.sock").exists());
}

#[test]
fn a_mistyped_subcommand_gets_the_one_meant() {
    let env = Env::new();
    for (typed, meant) in [
        ("lst", "list"),
        ("stauts", "status"),
        ("destory", "destroy"),
    ] {
        let out = env.run(&[typed]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{typed}: {err}");
        assert!(
            err.contains(&format!("did you mean `azlin {meant}`?")),
            "{typed}: {err}"
        );
    }
    // Far from every subcommand: clap's own error, no tip.
    let out = env.run(&["qwertyuiop"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("did you mean"));
    // `azlin -- CMD` still runs CMD (on an empty fleet: nothing to run on).
    let out = env.run(&["--", "lst"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("did you mean"));
}

#[test]
fn help_says_where_state_lives_and_what_new_json_prints() {
    let env = Env::new();
    let help = env.ok(&["--help"]);
    assert!(help.contains("AZLIN_HOME"), "{help}");
    let new_help = env.ok(&["new", "--help"]);
    assert!(new_help.contains("as JSON"), "{new_help}");
}

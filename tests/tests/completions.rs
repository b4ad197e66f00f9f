//! Shell completion through real shells: `azlin completions bash` is
//! sourced by bash and registered; a TAB completes subcommands, and VM
//! and session names from the running daemon; with no daemon running it
//! completes no names and starts none. fish completes a VM name through
//! its own `complete -C`; zsh loads the registration under compinit; the
//! PowerShell registration is generated (PowerShell is not in Debian).

use std::process::Command;

use azlin_e2e::{Env, bin};

/// Run `script` in `shell` with this test's azlin home.
fn shell(env: &Env, shell: &str, script: &str) -> String {
    let out = Command::new(shell)
        .args(["-c", script])
        .env("AZLIN_HOME", env.home())
        .env("AZLIN", bin("azlin"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shell}: {e}"));
    assert!(
        out.status.success(),
        "{shell} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What bash's TAB offers after `line` (words split on spaces; the last
/// one is the word being completed).
fn bash_tab(env: &Env, line: &str) -> Vec<String> {
    let script = format!(
        r#"source <("$AZLIN" completions bash)
f=$(complete -p azlin | sed -E 's/.*-F ([^ ]+).*/\1/')
COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}
read -r -a COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
"$f" azlin "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    shell(env, "bash", &script)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn shells_complete_commands_and_the_fleets_names() {
    let env = Env::new();
    let registered = shell(
        &env,
        "bash",
        r#"source <("$AZLIN" completions bash); complete -p azlin"#,
    );
    assert!(
        registered.contains("-F _clap_complete_azlin azlin"),
        "{registered}"
    );

    // No daemon: names complete to nothing, and none is started.
    assert!(bash_tab(&env, "azlin connect a").is_empty());
    assert!(
        !env.home().join("daemon.sock").exists(),
        "a TAB started the daemon"
    );

    env.ok(&["new", "--name", "alpha"]);
    env.ok(&["new", "--name", "alps-2"]);
    env.ok(&["new", "--name", "beta"]);
    env.ok(&["session", "alpha", "main"]);

    assert_eq!(bash_tab(&env, "azlin snaps"), ["snapshot"]);
    let mut names = bash_tab(&env, "azlin connect al");
    names.sort();
    assert_eq!(names, ["alpha", "alps-2"]);
    assert_eq!(bash_tab(&env, "azlin connect ma"), ["main"]);
    let mut names = bash_tab(&env, "azlin exec --vm ");
    names.sort();
    assert_eq!(names, ["alpha", "alps-2", "beta", "main"]);
    assert_eq!(bash_tab(&env, "azlin stop b"), ["beta"]);

    // Context names come from contexts.toml.
    for name in ["work", "wild", "home"] {
        env.ok(&[
            "context",
            "create",
            name,
            "--subscription",
            "00000000-0000-0000-0000-000000000001",
        ]);
    }
    let mut names = bash_tab(&env, "azlin context use w");
    names.sort();
    assert_eq!(names, ["wild", "work"]);
    assert_eq!(bash_tab(&env, "azlin list --context h"), ["home"]);

    // fish asks the same way, through its own completion command.
    let fish = shell(
        &env,
        "fish",
        r#""$AZLIN" completions fish | source; complete -C "azlin connect alps""#,
    );
    let fish: Vec<&str> = fish
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(fish, ["alps-2"], "{fish:?}");

    let zsh = shell(
        &env,
        "zsh",
        r#"autoload -U compinit && compinit -u && source <("$AZLIN" completions zsh) && print -r -- "${_comps[azlin]}""#,
    );
    assert!(zsh.trim().starts_with('_'), "zsh registered {zsh:?}");

    let ps = env.ok(&["completions", "powershell"]);
    assert!(ps.contains("Register-ArgumentCompleter"), "{ps}");
}

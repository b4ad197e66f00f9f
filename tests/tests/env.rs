//! `azlin env` on real local VMs and their agents: values with quotes,
//! `$`, backquotes, backslashes and newlines come back exactly and are
//! never run; `azlin exec` and a login shell see them; `list` masks them
//! unless --show; bad names change nothing; export and import carry them
//! between VMs; selectors (--all, --tag) reach the VMs they choose.

use azlin_e2e::Env;
use serde_json::Value;

fn vars(env: &Env, vm: &str) -> Vec<(String, String)> {
    let out: Value =
        serde_json::from_str(&env.ok(&["env", "list", vm, "--show", "--json"])).unwrap();
    out[0]["vars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn variables_are_kept_exactly_and_seen_by_commands_and_shells() {
    let env = Env::new();
    for vm in ["e1", "e2", "e3"] {
        env.ok(&["new", "--name", vm]);
    }
    env.ok(&["tag", "e1", "team=a"]);
    env.ok(&["tag", "e2", "team=a"]);
    let pwned = env.home().join("pwned");
    let hard = format!(
        "it's \"$HOME\" `id` $(touch {}) \\n\\\\ end\nline two",
        pwned.display()
    );
    env.ok(&[
        "env",
        "set",
        "e1",
        "FOO=bar",
        &format!("HARD={hard}"),
        "EMPTY=",
    ]);
    assert_eq!(
        vars(&env, "e1"),
        [
            ("FOO".to_string(), "bar".to_string()),
            ("HARD".to_string(), hard.clone()),
            ("EMPTY".to_string(), String::new()),
        ]
    );

    // Masked unless asked.
    let listed = env.ok(&["env", "list", "e1"]);
    assert!(
        listed.contains("FOO=********") && !listed.contains("bar"),
        "{listed}"
    );
    assert!(env.ok(&["env", "list", "e1", "--show"]).contains("FOO=bar"));

    // Commands see them exactly; nothing in a value ever ran.
    let seen = env.ok(&["exec", "--vm", "e1", "--", "printf '%s' \"$HARD\""]);
    assert_eq!(seen, hard);
    let login = env.ok(&[
        "exec",
        "--vm",
        "e1",
        "--",
        "env -i HOME=\"$HOME\" bash -lc 'printf %s \"$FOO\"'",
    ]);
    assert_eq!(login, "bar", "a login shell sources the file");
    assert!(!pwned.exists(), "a value was run");

    // Bad names and the login's own names change nothing.
    for bad in ["1BAD=x", "A-B=x", "PATH=/evil"] {
        let err = env.fails(&["env", "set", "e1", "OK=1", bad]);
        assert!(err.contains("nothing changed"), "{bad}: {err}");
    }
    assert_eq!(vars(&env, "e1").len(), 3);

    env.ok(&["env", "unset", "e1", "EMPTY"]);
    assert_eq!(vars(&env, "e1").len(), 2);

    // Export from one VM, import into another.
    let file = env.home().join("e1.env");
    env.ok(&["env", "export", "e1", file.to_str().unwrap()]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    env.ok(&["env", "import", "e2", file.to_str().unwrap()]);
    assert_eq!(vars(&env, "e2"), vars(&env, "e1"));
    let dotenv = env.home().join("plain.env");
    std::fs::write(&dotenv, "# comment\nexport PLAIN=\"two words\"\nX=1\n").unwrap();
    env.ok(&["env", "import", "e3", dotenv.to_str().unwrap()]);
    assert_eq!(
        vars(&env, "e3"),
        [
            ("PLAIN".to_string(), "two words".to_string()),
            ("X".to_string(), "1".to_string())
        ]
    );

    // Selectors.
    env.ok(&["env", "set", "--tag", "team=a", "TEAM=a"]);
    env.ok(&["env", "set", "--all", "SHARED=1"]);
    for (vm, team) in [("e1", true), ("e2", true), ("e3", false)] {
        let v = vars(&env, vm);
        assert_eq!(v.iter().any(|(k, _)| k == "TEAM"), team, "{vm}: {v:?}");
        assert!(v.iter().any(|(k, _)| k == "SHARED"), "{vm}: {v:?}");
    }
    env.ok(&["env", "clear", "e1"]);
    assert!(vars(&env, "e1").is_empty());
    assert_eq!(
        env.ok(&["exec", "--vm", "e1", "--", "printf '%s' \"${FOO-unset}\""]),
        "unset"
    );
}

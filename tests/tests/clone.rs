//! `azlin clone` on local VMs end to end (real agents, the real daemon):
//! three clones come up in parallel, each connected with a certificate of
//! its own, with the source's home less its secrets (a private key by
//! name, another by content); the source stays connected with its own
//! certificate; a clone that presents the source's certificate is
//! refused; taken names, a missing source and a stopped one are refused
//! with nothing made.

use std::{collections::HashSet, time::Duration};

use azlin_e2e::Env;

const WAIT: Duration = Duration::from_secs(60);

fn on(env: &Env, vm: &str, script: &str) -> String {
    env.ok(&["exec", "--vm", vm, "--", script])
}

#[test]
fn clones_are_new_identities_with_the_home_and_without_its_secrets() {
    let env = Env::new();
    env.ok(&["new", "--name", "src"]);
    env.wait("connected", WAIT, || env.connected("src"));
    on(
        &env,
        "src",
        "mkdir -p ~/.ssh ~/work ~/notes && echo hello > ~/work/readme.md && \
         echo 'ssh-ed25519 AAAA me' > ~/.ssh/id_ed25519.pub && echo secret > ~/.ssh/id_ed25519 && \
         printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\\n' > ~/notes/keep-this.txt",
    );
    let src_serial = env.cert_serial("src").unwrap();

    // Refused, nothing made.
    env.ok(&["new", "--name", "taken"]);
    env.wait("taken connected", WAIT, || env.connected("taken"));
    for (args, says) in [
        (vec!["clone", "src", "--name", "taken"], "already exists"),
        (vec!["clone", "nowhere"], "no VM or session named"),
        (
            vec!["clone", "src", "--num-replicas", "0"],
            "--pool must be between",
        ),
    ] {
        let err = env.fails(&args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    env.ok(&["stop", "taken"]);
    let err = env.fails(&["clone", "taken"]);
    assert!(err.contains("must be running"), "{err}");
    assert_eq!(env.list().len(), 2);

    let out = env.ok(&["clone", "src", "--num-replicas", "3", "--json"]);
    let made: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = made.iter().map(|v| v["vm"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["src-clone-1", "src-clone-2", "src-clone-3"],
        "{out}"
    );
    let mut serials = HashSet::new();
    serials.insert(src_serial.clone());
    for vm in &names {
        assert!(env.connected(vm), "{vm}");
        assert!(
            serials.insert(env.cert_serial(vm).unwrap()),
            "{vm} shares a certificate"
        );
        assert_eq!(
            on(
                &env,
                vm,
                "cat ~/work/readme.md ~/.ssh/id_ed25519.pub; \
                 for f in ~/.ssh/id_ed25519 ~/notes/keep-this.txt; do \
                 test -e $f && echo \"$f is here\"; done; true"
            ),
            "hello\nssh-ed25519 AAAA me\n",
            "{vm}"
        );
    }
    // The source is untouched and still connected as itself.
    assert!(env.connected("src"));
    assert_eq!(env.cert_serial("src").unwrap(), src_serial);
    assert_eq!(on(&env, "src", "cat ~/.ssh/id_ed25519"), "secret\n");
    assert!(!env.home().join("clones").read_dir().unwrap().any(|_| true));

    // A clone that presents the source's certificate is refused.
    env.ok(&["stop", "src-clone-1"]);
    for file in ["agent.key", "agent.crt"] {
        std::fs::copy(
            env.vm_dir("src").join("state").join(file),
            env.vm_dir("src-clone-1").join("state").join(file),
        )
        .unwrap();
    }
    // Its agent would not present another VM's certificate under its own
    // name: it is told it is src, as a copy of src's disk would say.
    let config = env.vm_dir("src-clone-1").join("agent.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("name = \"src-clone-1\"", "name = \"src\""),
    )
    .unwrap();
    env.ok(&["start", "src-clone-1", "--no-wait"]);
    env.wait("the refusal", WAIT, || {
        env.daemon_log()
            .contains("certificate not valid for name \"src-clone-1.agents.fleet.azlin\"")
    });
    assert!(!env.connected("src-clone-1"));
    assert!(env.connected("src"));
}

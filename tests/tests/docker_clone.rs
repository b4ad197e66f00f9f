//! `azlin clone` on docker VMs (systemd containers with the real agent
//! and cloud-init): three clones of a VM come up in parallel from its
//! image (a change made to SRC's system is in them), each connected with
//! a certificate of its own, new SSH host keys, a new machine id and its
//! own name, with SRC's home less its secrets; SRC keeps its connection
//! throughout and its own certificate; and the images the clone made are
//! gone with the clones.

use std::{collections::HashSet, time::Duration};

use azlin_e2e::docker::{DockerEnv, docker_ok, image};

const WAIT: Duration = Duration::from_secs(180);

fn on(env: &DockerEnv, vm: &str, script: &str) -> String {
    env.ok(&["exec", "--vm", vm, "--", script])
}

#[test]
fn docker_clones_are_new_identities_from_the_source_image_without_its_secrets() {
    let Some(image) = image() else {
        return;
    };
    let env = DockerEnv::new(&image);
    env.ok(&["new", "--provider", "docker", "--name", "src"]);
    env.wait("connected", WAIT, || env.connected("src"));
    on(
        &env,
        "src",
        "mkdir -p ~/.ssh ~/work ~/notes && echo hello > ~/work/readme.md && \
         echo secret > ~/.ssh/id_ed25519 && \
         printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\\n' > ~/notes/keep-this.txt",
    );
    env.exec("src", "echo from-src > /opt/marker");
    let src_keys = env.exec("src", "cat /etc/ssh/ssh_host_ed25519_key.pub");
    let src_machine = env.exec("src", "cat /etc/machine-id");
    let src_serial = env.cert_serial("src").unwrap();
    let links = || env.links("src");
    assert_eq!(links(), 1);

    let out = env.ok(&["clone", "src", "--num-replicas", "3", "--json"]);
    let made: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = made.iter().map(|v| v["vm"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["src-clone-1", "src-clone-2", "src-clone-3"],
        "{out}"
    );
    let mut serials = HashSet::from([src_serial.clone()]);
    let mut machines = HashSet::from([src_machine.clone()]);
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
                "hostname; cat ~/work/readme.md /opt/marker; \
                 for f in ~/.ssh/id_ed25519 ~/notes/keep-this.txt; do \
                 test -e $f && echo \"$f is here\"; done; true"
            ),
            format!("{vm}\nhello\nfrom-src\n"),
            "{vm}"
        );
        let keys = env.exec(vm, "cat /etc/ssh/ssh_host_ed25519_key.pub");
        assert!(
            keys.starts_with("ssh-ed25519 ") && keys != src_keys,
            "{vm}: {keys}"
        );
        let machine = env.exec(vm, "cat /etc/machine-id");
        assert!(
            machines.insert(machine.clone()),
            "{vm}: {machine:?} {machines:?}"
        );
    }
    // SRC ran throughout, on the same link, as itself.
    assert!(env.running("src") && env.connected("src"));
    assert_eq!(links(), 1);
    assert_eq!(env.cert_serial("src").unwrap(), src_serial);
    assert_eq!(on(&env, "src", "cat ~/.ssh/id_ed25519"), "secret\n");
    // The shared clone images are gone; each clone has its own tag.
    let tags = docker_ok(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "azlin-clone",
    ]);
    let ours: Vec<&str> = tags
        .lines()
        .filter(|t| t.contains("-src-") && !t.contains("-src-clone-"))
        .collect();
    assert!(ours.is_empty(), "{tags}");
    for vm in &names {
        env.ok(&["kill", vm]);
    }
    let tags = docker_ok(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        "azlin-clone",
    ]);
    assert!(
        !names
            .iter()
            .any(|vm| tags.lines().any(|t| t.ends_with(&format!("-{vm}")))),
        "{tags}"
    );
}

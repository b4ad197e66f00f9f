//! The docker provider with the real image: cloud-init's own schema check
//! on the user-data azlin renders, the install scripts inside the image,
//! and a fleet of containers created, stopped, started and deleted through
//! `azlin`. The image comes from `deploy/vm-image/build.sh` (`tests/run-all`
//! builds it); see `azlin_e2e::docker`.

use std::time::Duration;

use azlin_cloud_init::{AgentConnect, INSTALL_AGENT, INSTALL_DEV_TOOLS, UserData, render};
use azlin_e2e::docker::{DockerEnv, docker, docker_ok, image};
use azlin_protocol::enroll::JoinToken;

fn user_data(connect: AgentConnect, dev_tools: bool, shared_home: Option<&str>) -> String {
    render(&UserData {
        name: "schema-check".into(),
        user: "azureuser".into(),
        ssh_public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkDCp9fFoZy/4mfYvYNmJRrgMZ2wP5XzJzX6qzbM0Yz azlin@test".into(),
        agent_url: "https://example.invalid/azlin-agent".into(),
        agent_sha256: "0".repeat(64),
        ca_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        join_token: JoinToken::generate().unwrap(),
        connect,
        dev_tools,
        shared_home: shared_home.map(str::to_string),
        extra: None,
    })
    .unwrap()
}

/// `cloud-init schema` of the image (the real one) on a file.
fn schema(image: &str, text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("user-data");
    std::fs::write(&file, text).unwrap();
    let mount = format!("{}:/user-data:ro", file.display());
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount,
        "--entrypoint",
        "cloud-init",
        image,
        "schema",
        "--config-file",
        "/user-data",
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn cloud_init_schema_accepts_the_rendered_user_data() {
    let Some(image) = image() else { return };
    for (connect, tools, home) in [
        (AgentConnect::Listen { port: 47800 }, true, None),
        (AgentConnect::Listen { port: 47800 }, false, None),
        (
            AgentConnect::Dial {
                controller: "203.0.113.5:47801".into(),
            },
            true,
            None,
        ),
        // A home on shared storage: the user gets a fixed uid.
        (
            AgentConnect::Listen { port: 47800 },
            false,
            Some("team.file.core.windows.net:/team/home"),
        ),
    ] {
        let text = user_data(connect, tools, home);
        let (ok, out) = schema(&image, &text);
        assert!(ok, "cloud-init schema refused it: {out}\n{text}");
        assert!(out.contains("Valid cloud-config"), "{out}");
        println!(
            "{} bytes (limit {})",
            text.len(),
            azlin_cloud_init::MAX_CUSTOM_DATA
        );
    }
    // The check can fail: a wrong type for a key it knows is refused.
    let broken = user_data(AgentConnect::Listen { port: 47800 }, false, None)
        .replace("ssh_pwauth: false", "ssh_pwauth: [1, 2]");
    let (ok, out) = schema(&image, &broken);
    assert!(!ok, "a broken document passed: {out}");

    // The user's cloud-config merged after azlin's parts (as JSON after
    // the #cloud-config line) is a valid document too.
    let with_extra = render(&UserData {
        extra: Some(EXTRA.into()),
        ..plain_data()
    })
    .unwrap();
    let (ok, out) = schema(&image, &with_extra);
    assert!(
        ok,
        "cloud-init schema refused the merged user-data: {out}\n{with_extra}"
    );
    assert!(out.contains("Valid cloud-config"), "{out}");
    // And a user part with a wrong type is caught by the same check.
    let wrong = render(&UserData {
        extra: Some("#cloud-config\nssh_deletekeys: [1]\n".into()),
        ..plain_data()
    })
    .unwrap();
    let (ok, out) = schema(&image, &wrong);
    assert!(!ok, "a wrong extra passed: {out}");
}

/// A user's cloud-config: a package, a file and a command after azlin's.
const EXTRA: &str = "#cloud-config
packages: [tree]
write_files:
  - path: /etc/motd.d/team
    content: welcome to the team VM
runcmd:
  - [sh, -c, 'echo extra > /var/tmp/extra-ran']
timezone: Etc/UTC
";

fn plain_data() -> UserData {
    UserData {
        name: "schema-check".into(),
        user: "azureuser".into(),
        ssh_public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkDCp9fFoZy/4mfYvYNmJRrgMZ2wP5XzJzX6qzbM0Yz azlin@test".into(),
        agent_url: "https://example.invalid/azlin-agent".into(),
        agent_sha256: "0".repeat(64),
        ca_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        join_token: JoinToken::generate().unwrap(),
        connect: AgentConnect::Listen { port: 47800 },
        dev_tools: false,
        shared_home: None,
        extra: None,
    }
}

#[test]
fn install_agent_refuses_a_binary_with_the_wrong_hash() {
    let Some(image) = image() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("install-agent");
    std::fs::write(&script, INSTALL_AGENT).unwrap();
    let binary = dir.path().join("azlin-agent");
    std::fs::write(&binary, b"#!/bin/sh\necho pretend agent\n").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(
            azlin_controller::provider::docker::agent_download::AgentDownload::start(
                "127.0.0.1".parse().unwrap(),
                binary,
            ),
        )
        .unwrap();
    let _enter = runtime.enter();
    let mount = format!("{}:/install-agent:ro", script.display());
    let run = |sha: &str| {
        let cmd = format!(
            "sh /install-agent '{}' {sha}; rc=$?; test -e /usr/local/bin/azlin-agent && echo INSTALLED; exit $rc",
            server.url
        );
        docker(&[
            "run",
            "--rm",
            "--network",
            "host",
            "-v",
            &mount,
            "--entrypoint",
            "sh",
            &image,
            "-c",
            &cmd,
        ])
    };
    let wrong = "f".repeat(64);
    let out = run(&wrong);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "has sha256 {}, expected {wrong}; not installed",
            server.sha256
        )),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("INSTALLED"));
    // With the right hash the binary is installed; this container has no
    // systemd, so starting the unit is what fails.
    let out = run(&server.sha256);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("INSTALLED"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);
}

#[test]
fn each_dev_tools_section_fails_alone_and_is_reported() {
    let Some(image) = image() else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("install-dev-tools");
    std::fs::write(&script, INSTALL_DEV_TOOLS).unwrap();
    let mount = format!("{}:/install-dev-tools:ro", script.display());
    // No network: every section fails, and every one still runs.
    let out = docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount,
        "--entrypoint",
        "bash",
        &image,
        "-c",
        "useradd -m dev; bash /install-dev-tools dev 2>/dev/null; echo rc=$?; cat /var/lib/azlin/dev-tools.status; test -s /var/log/azlin/dev-tools.log && echo LOGGED",
    ]);
    assert!(out.contains("rc=1"), "{out}");
    for section in [
        "apt-base",
        "docker",
        "python",
        "node",
        "rust",
        "github-cli",
        "azure-cli",
    ] {
        assert!(
            out.contains(&format!("{section} failed\n")),
            "{section}: {out}"
        );
    }
    assert!(out.contains("LOGGED"));
}

#[test]
fn docker_vms_are_created_stopped_started_and_deleted() {
    let Some(image) = image() else { return };
    let env = DockerEnv::new(&image);
    let out = env.ok(&[
        "new",
        "--provider",
        "docker",
        "--name",
        "box",
        "--pool",
        "2",
    ]);
    println!("{out}");
    let list = env.list();
    assert_eq!(list.len(), 2);
    for vm in &list {
        assert_eq!(vm["provider"], "docker");
        assert_eq!(vm["state"], "running");
        assert_eq!(vm["connected"], true, "{vm}");
        assert!(
            vm["address"].as_str().unwrap().starts_with("10.214."),
            "{vm}"
        );
    }
    // cloud-init made the user, installed the agent as a systemd unit and
    // wrote its config private; the agent burnt the one-time token file
    // once enrolled, and runs commands as that user.
    let who = env.ok(&[
        "exec",
        "--vm",
        "box-1",
        "--",
        "id -un; hostname; sudo -n true && echo SUDO",
    ]);
    assert_eq!(who, "azureuser\nbox-1\nSUDO\n");
    let c = env.container("box-1");
    let mode = env.exec("box-1", "stat -c %a /etc/azlin/agent.toml");
    assert_eq!(mode.trim(), "600");
    let token = env.exec(
        "box-1",
        "test -e /etc/azlin/join-token && echo LEFT || echo GONE",
    );
    assert_eq!(token.trim(), "GONE");
    assert_eq!(
        env.exec("box-1", "systemctl is-active azlin-agent").trim(),
        "active"
    );
    let status = env.exec(
        "box-1",
        "cloud-init status --wait >/dev/null; cloud-init status",
    );
    assert!(status.contains("done"), "{status}");
    let keys = |vm: &str| env.exec(vm, "cat /etc/ssh/ssh_host_ed25519_key.pub");
    assert_ne!(keys("box-1"), keys("box-2"), "host keys are made per VM");
    let key = std::fs::read_to_string(env.home().join("ssh/id_ed25519.pub")).unwrap();
    let authorized = env.exec("box-1", "cat /home/azureuser/.ssh/authorized_keys");
    assert!(authorized.contains(key.trim()), "azlin's key is authorized");
    let issued = env.daemon_status()["certificates_issued"].clone();
    assert_eq!(issued, 2);

    // A container has no allocation to keep and no size: refused by name,
    // with the VM untouched.
    let err = env.fails(&["stop", "--no-deallocate", "box-1"]);
    assert!(
        err.contains("docker VMs have no allocation: --no-deallocate"),
        "{err}"
    );
    let err = env.fails(&["resize", "box-1", "Standard_B2s"]);
    assert!(err.contains("docker VMs have no size"), "{err}");
    assert!(env.connected("box-1"));
    env.ok(&["stop", "box-1"]);
    assert!(!env.running("box-1"));
    assert_eq!(env.vm("box-1")["state"], "stopped");
    assert_eq!(env.vm("box-2")["connected"], true);
    env.ok(&["start", "box-1"]);
    let back = env.wait("box-1 to reconnect", Duration::from_secs(90), || {
        env.connected("box-1")
    });
    println!("box-1 back {back:?} after docker start");
    assert_eq!(
        env.daemon_status()["certificates_issued"],
        issued,
        "no re-enrollment after a restart"
    );
    assert_eq!(
        env.ok(&["exec", "--vm", "box-1", "--", "id -un"]),
        "azureuser\n"
    );

    env.ok(&["kill", "box-1"]);
    assert!(
        docker(&["inspect", &c]).status.code() != Some(0),
        "container removed"
    );
    assert!(!env.home().join("docker/box-1").exists(), "seed removed");
    assert_eq!(env.list().len(), 1);
    env.ok(&["killall", "--yes"]);
    assert!(env.containers().is_empty());
}

#[test]
fn a_failed_docker_create_leaves_nothing_behind() {
    let Some(image) = image() else { return };
    let env = DockerEnv::new(&image);
    // An image that is not there: docker refuses, azlin says so and keeps
    // no VM, token or container.
    std::fs::write(
        env.home().join("config.toml"),
        format!(
            "[docker]\nimage = \"azlin-vm:missing-{}\"\nnetwork = \"{}\"\nsubnet = \"{}\"\ndev_tools = false\n",
            std::process::id(),
            azlin_e2e::docker::TEST_NETWORK,
            azlin_e2e::docker::TEST_SUBNET
        ),
    )
    .unwrap();
    let before = env.fleet_fingerprint();
    let err = env.fails(&["new", "--provider", "docker", "--name", "ghost"]);
    assert!(err.contains("cannot start a container for ghost"), "{err}");
    assert_eq!(env.fleet_fingerprint(), before);
    assert!(env.list().is_empty());
    assert!(env.containers().is_empty());
    assert!(!env.home().join("docker/ghost").exists());
    // Dial mode cannot work from a container to a loopback daemon address:
    // refused before anything is made.
    let mut config = std::fs::read_to_string(env.home().join("config.toml")).unwrap();
    config = config.replace(&format!("azlin-vm:missing-{}", std::process::id()), &image);
    config.push_str(&format!(
        "[daemon]\nlisten = \"{}\"\n",
        azlin_e2e::free_udp()
    ));
    std::fs::write(env.home().join("config.toml"), config).unwrap();
    env.ok(&["daemon", "stop"]);
    let err = env.fails(&["new", "--provider", "docker", "--name", "ghost", "--dial"]);
    assert!(err.contains("containers cannot reach the daemon"), "{err}");
    assert!(env.list().is_empty() && env.containers().is_empty());
}

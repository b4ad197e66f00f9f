//! The agent binary refuses bad configs with a clear message and exit code 2.

use std::process::Command;

fn agent(config: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_azlin-agent"))
        .args(["run", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn bad_configs_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = agent(&dir.path().join("nope.toml"));
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read agent config"));

    let p = dir.path().join("agent.toml");
    std::fs::write(&p, "name = 'vm-1'\nstate_dir = 'x'\n").unwrap();
    let out = agent(&p);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ca_cert"), "{err}");

    std::fs::write(
        &p,
        format!(
            "name = 'vm-1'\nstate_dir = '{}'\nca_cert = '{}'\n",
            dir.path().join("state").display(),
            dir.path().join("ca.crt").display()
        ),
    )
    .unwrap();
    let out = agent(&p);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fleet CA certificate"));
}

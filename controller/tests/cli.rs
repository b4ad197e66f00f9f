//! The CLI's behaviour that needs no fleet: version, help, daemon status
//! and stop when no daemon runs (neither starts one).

use std::process::Command;

fn azlin(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_azlin"))
        .args(args)
        .env("AZLIN_HOME", home)
        .output()
        .unwrap()
}

#[test]
fn daemon_status_and_stop_do_not_start_a_daemon() {
    let home = tempfile::tempdir().unwrap();
    let out = azlin(home.path(), &["daemon", "status"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not running"));
    let out = azlin(home.path(), &["daemon", "stop"]);
    assert!(out.status.success());
    assert!(!home.path().join("daemon.sock").exists());
    let out = azlin(home.path(), &["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn killall_without_yes_is_refused_before_anything_happens() {
    let home = tempfile::tempdir().unwrap();
    let out = azlin(home.path(), &["killall"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(
        !home.path().join("daemon.sock").exists(),
        "no daemon was started"
    );
}

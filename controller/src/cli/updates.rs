//! `azlin os-update` and `azlin update`: shell scripts run on each VM over
//! the exec path, with live output per VM and a long timeout.
//!
//! The scripts are POSIX sh (they run through the VM user's `$SHELL -c`,
//! whatever that shell is) and skip, with a note, what a VM does not have.

/// apt update and upgrade.
pub const OS_UPDATE: &str = include_str!("updates/os-update.sh");
/// The development tools cloud-init installs.
pub const TOOLS_UPDATE: &str = include_str!("updates/tools-update.sh");
/// Default time each VM gets before its update is killed.
pub const DEFAULT_TIMEOUT_SECS: u32 = 3600;

/// The command that runs `script`, simulated when `dry_run`.
pub fn command(script: &str, dry_run: bool) -> String {
    if dry_run {
        format!("DRY_RUN=1\n{script}")
    } else {
        script.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_valid_posix_sh() {
        for script in [OS_UPDATE, TOOLS_UPDATE] {
            let out = std::process::Command::new("sh")
                .args(["-n", "-c", &command(script, true)])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

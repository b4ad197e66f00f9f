//! Snapshots and clones, the parts with no I/O: what a snapshot may be
//! called and what it is called when the user does not say, and the check
//! on the secrets an agent says a clone must leave behind. Taking, restoring and
//! deleting one is the provider's (`provider::snapshots`); keeping the
//! record, `state::snapshots`.

use azlin_protocol::{pki::check_vm_name, stream::MAX_SECRETS};

use crate::provider::snapshots::HomeSecrets;

/// A snapshot's name is a DNS label, as a VM's is (it becomes a docker
/// image tag and an Azure resource name): 1 to 63 of `a-z`, `0-9`, `-`.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    check_vm_name(name).map_err(|_| {
        anyhow::anyhow!(
            "{:?} cannot be a snapshot name: use 1 to 63 lower-case letters, digits and '-', \
             not starting or ending with '-'",
            name
        )
    })
}

/// `VM-YYYYMMDD-HHMMSS` (UTC) for a snapshot taken at `unix` seconds, cut
/// so it stays a DNS label however long the VM's name is.
pub fn default_name(vm: &str, unix: i64) -> String {
    let at = jiff::Timestamp::from_second(unix).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let stamp = at.strftime("%Y%m%d-%H%M%S").to_string();
    let room = 63 - stamp.len() - 1;
    let vm = vm[..vm.len().min(room)].trim_end_matches('-');
    format!("{vm}-{stamp}")
}

/// The secrets an agent listed in its home, checked before they are
/// used as paths: the home absolute, each path relative to it and inside
/// it (no `..`, `.` or empty parts), none with a control character.
pub fn secrets(home: String, paths: Vec<String>) -> anyhow::Result<HomeSecrets> {
    let clean = |p: &str| !p.chars().any(char::is_control);
    if !home.starts_with('/') || !clean(&home) || home.split('/').any(|c| c == "..") {
        anyhow::bail!("the agent named {home:?} as its home: not an absolute path");
    }
    if paths.len() > MAX_SECRETS {
        anyhow::bail!("the agent listed more than {MAX_SECRETS} secrets");
    }
    for p in &paths {
        let inside = !p.is_empty()
            && !p.starts_with('/')
            && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
        if !inside || !clean(p) {
            anyhow::bail!(
                "the agent listed {:?} as a secret in its home: not a path inside it; nothing \
                 cloned",
                p
            );
        }
    }
    Ok(HomeSecrets { home, paths })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_outside_the_home_or_with_controls_are_refused() {
        let ok = secrets(
            "/home/u".into(),
            vec![".ssh/id_rsa".into(), "a b/c.pem".into()],
        );
        assert_eq!(ok.unwrap().paths.len(), 2);
        for bad in [
            "../etc/passwd",
            "/etc/shadow",
            "a/../../x",
            "",
            "a//b",
            "./x",
            "x\n",
        ] {
            assert!(
                secrets("/home/u".into(), vec![bad.into()]).is_err(),
                "{bad:?}"
            );
        }
        assert!(secrets("home/u".into(), vec![]).is_err());
        assert!(secrets("/home/../etc".into(), vec![]).is_err());
    }

    #[test]
    fn names_are_dns_labels_and_the_default_is_one() {
        assert!(check_name("dev-before-upgrade").is_ok());
        for bad in ["", "Dev", "a b", "-x", "x-", "x\u{1b}[2J", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(default_name("dev", 1_796_410_901), "dev-20261204-190141");
        let long = default_name(&"a".repeat(63), 0);
        assert!(check_name(&long).is_ok(), "{long}");
        assert!(long.ends_with("-19700101-000000"));
    }
}

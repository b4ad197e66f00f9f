//! Shared NFS storage, the pure part: what a storage may be called and
//! how big it may be ([`name`]), and how a provider describes one
//! ([`StorageInfo`]).
//!
//! Not here: making, listing or deleting storage (the providers'
//! `SharedStorage` capability), or mounting it on a VM (the agent).

pub mod name;

/// Why `storage delete NAME` must not go ahead, if it must not: VMs have
/// it mounted, or could not be asked, and `--force` was not given.
pub fn delete_refusal(
    name: &str,
    mounted_on: &[String],
    not_asked: &[String],
    force: bool,
) -> Option<String> {
    if force || (mounted_on.is_empty() && not_asked.is_empty()) {
        return None;
    }
    let mut why = Vec::new();
    if !mounted_on.is_empty() {
        why.push(format!(
            "{name} is mounted on {}: unmount it first (`azlin storage unmount {name} --vm VM`)",
            mounted_on.join(", ")
        ));
    }
    if !not_asked.is_empty() {
        why.push(format!(
            "{} could not be asked whether they have it mounted",
            not_asked.join(", ")
        ));
    }
    Some(format!(
        "{}; or delete with --force. Nothing deleted",
        why.join("; ")
    ))
}

use serde::{Deserialize, Serialize};

/// One storage as its provider describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageInfo {
    pub name: String,
    /// Where it is (`resource group azlin-rg, westus2`).
    pub place: String,
    /// The cloud's region, when it has one (for its price).
    pub region: Option<String>,
    /// What a VM mounts: `HOST:/PATH`.
    pub export: String,
    /// Provisioned size, GiB.
    pub size_gib: u32,
    /// Used, bytes, as the provider reports it (`None`: not reported).
    pub used_bytes: Option<u64>,
    /// Root on a client is mapped to nobody.
    pub root_squash: bool,
    /// Who may reach it, in words (`only subnet default of azlin-vnet`).
    pub reachable_from: String,
    /// Things the user should know (a setting not as azlin makes it).
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mounted_storage_is_deleted_only_by_force() {
        let on = vec!["dev-1 at /mnt/team".to_string()];
        let why = delete_refusal("team", &on, &[], false).unwrap();
        assert!(why.contains("mounted on dev-1 at /mnt/team"), "{why}");
        assert!(why.contains("Nothing deleted"), "{why}");
        let why = delete_refusal("team", &[], &["dev-2".into()], false).unwrap();
        assert!(why.contains("dev-2 could not be asked"), "{why}");
        assert_eq!(delete_refusal("team", &on, &[], true), None);
        assert_eq!(delete_refusal("team", &[], &[], false), None);
    }
}

//! A VM's fleet name: its key in `state.db`, the name in its agent
//! certificate and join token, and what `[session_names]` is keyed by.
//! It is the name the VM has in its cloud, unless a VM somewhere else (in
//! another Azure subscription or resource group) had that name in the
//! fleet first: then it is `NAME--XXXXXX`, six hex digits of its place,
//! so the same name in two places is two VMs (#1122) and every fleet name
//! stays a DNS label (certificates name agents by it).
//!
//! Commands take either: a VM is found by its fleet name or by its cloud
//! name where the request looks (`daemon::handlers::resolve`).
//!
//! Not here: which place a VM is in (its provider says).

/// The longest a VM name may be (a DNS label).
const MAX: usize = 63;

/// The fleet name of `name` in `place` when `name` is taken elsewhere.
pub fn qualified(name: &str, place: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, place.to_ascii_lowercase().as_bytes());
    let hex: String = digest.as_ref()[..3]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let room = MAX - 2 - hex.len();
    let base = if name.len() > room {
        name[..room].trim_end_matches('-')
    } else {
        name
    };
    format!("{base}--{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qualified_name_is_a_dns_label_fixed_by_its_place() {
        let a = qualified("dev-1", "sub-a/rg");
        assert_eq!(a, qualified("dev-1", "SUB-A/RG"));
        assert_ne!(a, qualified("dev-1", "sub-b/rg"));
        assert!(
            a.starts_with("dev-1--") && a.len() == "dev-1--".len() + 6,
            "{a}"
        );
        azlin_protocol::pki::check_vm_name(&a).unwrap();
        let long = qualified(&"a".repeat(63), "p");
        assert_eq!(long.len(), 63, "{long}");
        azlin_protocol::pki::check_vm_name(&long).unwrap();
        // A cut that would end in '-' is trimmed.
        let dash = qualified(&format!("{}-xy", "a".repeat(54)), "p");
        assert!(dash.starts_with(&format!("{}--", "a".repeat(54))), "{dash}");
        azlin_protocol::pki::check_vm_name(&dash).unwrap();
    }
}

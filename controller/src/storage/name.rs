//! A shared storage's name and size, checked before anything is asked of
//! a cloud. The name is the storage account's on Azure, so Azure's rules
//! hold everywhere (3-24 lower-case letters and digits; globally unique,
//! which only the cloud can say); a Premium share is at least 100 GiB
//! and at most 100 TiB, and NFS 4.1 needs Premium.
//!
//! Not here: asking the cloud whether a name is free (the provider).

use serde::{Deserialize, Serialize};

/// The smallest Premium file share Azure provisions, GiB.
pub const MIN_GIB: u32 = 100;
/// The largest, GiB.
pub const MAX_GIB: u32 = 102_400;

/// How a storage is billed and served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tier {
    Premium,
    Standard,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NameError {
    #[error(
        "{0:?} cannot name a storage: use 3 to 24 lower-case letters and digits (Azure's \
         storage account rule), such as teamhome1"
    )]
    Name(String),
    #[error("--size {0}: a Premium NFS share is {MIN_GIB} to {MAX_GIB} GiB")]
    Size(u32),
    #[error("--tier {0:?}: write Premium or Standard")]
    Tier(String),
    #[error(
        "NFS 4.1 on Azure Files needs a Premium (FileStorage) account; Standard shares speak \
         SMB only. Leave out --tier (Premium is the default); nothing done"
    )]
    StandardNfs,
}

/// `name` when it may name a storage; otherwise why not (control
/// characters shown escaped, never raw).
pub fn check_name(name: &str) -> Result<&str, NameError> {
    let ok = (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(name)
    } else {
        Err(NameError::Name(name.chars().take(40).collect()))
    }
}

pub fn check_size(gib: u32) -> Result<u32, NameError> {
    if (MIN_GIB..=MAX_GIB).contains(&gib) {
        Ok(gib)
    } else {
        Err(NameError::Size(gib))
    }
}

/// The tier as typed; NFS storage must be Premium.
pub fn nfs_tier(text: &str) -> Result<Tier, NameError> {
    match text.to_ascii_lowercase().as_str() {
        "premium" => Ok(Tier::Premium),
        "standard" => Err(NameError::StandardNfs),
        _ => Err(NameError::Tier(text.chars().take(20).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_storage_account_rule() {
        for good in ["abc", "teamhome1", "a1b2c3d4e5f6g7h8i9j0k1l2"] {
            assert_eq!(check_name(good), Ok(good));
        }
        for bad in [
            "ab",
            "a1b2c3d4e5f6g7h8i9j0k1l2m",
            "Team",
            "team-home",
            "team_home",
            "tëam",
            "team\u{1b}[2J",
            "",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        // The error shows a control character escaped.
        let e = check_name("ab\u{1b}c").unwrap_err().to_string();
        assert!(e.contains("\\u{1b}"), "{e}");
    }

    #[test]
    fn sizes_and_tiers() {
        assert_eq!(check_size(100), Ok(100));
        assert!(check_size(99).is_err() && check_size(102_401).is_err());
        assert_eq!(nfs_tier("Premium"), Ok(Tier::Premium));
        assert_eq!(nfs_tier("standard"), Err(NameError::StandardNfs));
        assert!(matches!(nfs_tier("gold"), Err(NameError::Tier(_))));
    }
}

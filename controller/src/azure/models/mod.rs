//! Typed models of the ARM resources azlin reads and writes, as serde
//! structs. Only the fields azlin uses are named; ARM adds fields freely,
//! so unknown ones are ignored (never `deny_unknown_fields`), and every
//! field a response may leave out is an `Option` or defaults. Every
//! recorded response in `tests/fixtures/azure` parses into these
//! (`tests/tests/arm_fixtures.rs`).
//!
//! Not here: how they are fetched ([`super::client`]).

pub mod compute;
pub mod consumption;
pub mod network;
pub mod resources;
pub mod storage;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A reference to another resource by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubResource {
    pub id: String,
}

impl SubResource {
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

/// One page of a list; `nextLink` points at the next.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(default)]
    pub next_link: Option<String>,
}

/// Resource tags.
pub type Tags = BTreeMap<String, String>;

/// A SKU (public IPs, disks, storage accounts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

/// The body of an `Azure-AsyncOperation` poll.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatus {
    pub status: String,
    #[serde(default)]
    pub error: Option<super::error::ErrorDetail>,
}

/// The resource group named in an ARM id (`…/resourceGroups/{g}/…`).
pub fn group_of(id: &str) -> Option<&str> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourceGroups") {
            return parts.next();
        }
    }
    None
}

/// The last segment of an ARM id: the resource's name.
pub fn name_of(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

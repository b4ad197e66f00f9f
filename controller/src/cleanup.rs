//! Which resources in azlin's resource groups are orphans (`azlin
//! cleanup`): paid for or cluttering, used by nothing, safe to delete.
//! Pure: it reads what ARM listed ([`Listing`]) and decides; the Azure
//! provider lists and deletes (`provider::azure::cleanup`), the daemon
//! prices and asks (`daemon::handlers::cleanup`).
//!
//! An orphan is one of:
//! - a managed disk attached to nothing (no `managedBy`, none sharing it,
//!   its state `Unattached`);
//! - a NIC on no VM, made by no private endpoint or private link service;
//! - a public IP on nothing: no IP configuration (a VM's NIC, a load
//!   balancer's frontend, a bastion, a VPN gateway, a firewall all show
//!   as one) and no NAT gateway;
//! - an NSG on no NIC and no subnet;
//! - azlin's finished deployment record (`azlin-VM`) whose VM is gone;
//! - an agent build in azlin's agent store that no VM needs: not the
//!   build new VMs get now, and uploaded more than [`AGENT_BLOB_MIN_AGE_SECS`]
//!   ago (a VM handed a download URL for it may still be fetching it;
//!   once installed, a VM never downloads its build again).
//!
//! A public IP or NSG used only by an orphan NIC goes with it (deleting
//! the NIC first frees them), so one run clears a whole abandoned VM.
//!
//! Never listed ([`Passed`] says how many of each and why): anything in
//! use; anything not tagged `managed-by=azlin` unless the user says so
//! (deployment records are azlin's by their `azlin-` name); anything made
//! less than [`MIN_AGE_SECS`] ago (it may be mid-creation), or whose age
//! ARM does not say; anything younger than `--older-than`.
//!
//! Not here: prices, prompts, deleting (see above).

use std::collections::{BTreeMap, BTreeSet};

use crate::azure::models::{
    Tags,
    compute::{Disk, VirtualMachine},
    group_of, name_of,
    network::{NetworkInterface, NetworkSecurityGroup, PublicIpAddress},
    resources::Deployment,
};
use crate::provider::azure::BLOB_PREFIX;

/// Nothing younger than this is an orphan: ARM makes a VM's NIC, IP and
/// disk one by one, and each is "used by nothing" for a while.
pub const MIN_AGE_SECS: i64 = 3600;

/// What ARM listed in the groups looked at.
#[derive(Debug, Default)]
pub struct Listing {
    pub vms: Vec<VirtualMachine>,
    pub disks: Vec<Disk>,
    pub nics: Vec<NetworkInterface>,
    pub ips: Vec<PublicIpAddress>,
    pub nsgs: Vec<NetworkSecurityGroup>,
    pub deployments: Vec<Deployment>,
    /// Lower-case resource id → when it was made (unix seconds), from the
    /// groups' resource lists.
    pub created: BTreeMap<String, i64>,
    /// The blobs in the agent stores' containers.
    pub agent_blobs: Vec<AgentBlob>,
    /// The blob name of the build new VMs get now; `None` if this machine
    /// has no agent build to say (then no agent blob is an orphan).
    pub current_agent_blob: Option<String>,
}

/// One blob in an agent store's container, as List Blobs gave it.
#[derive(Debug, Clone)]
pub struct AgentBlob {
    /// `{storage account id}/blobServices/default/containers/{c}/blobs/{name}`.
    pub id: String,
    pub name: String,
    /// Unix seconds.
    pub created: Option<i64>,
    pub bytes: Option<u64>,
    /// The storage account's region.
    pub location: Option<String>,
}

/// No agent build uploaded more recently than this is an orphan: the
/// longest a VM's download URL for it lives (`azure::sas::MAX_LIFETIME`).
pub const AGENT_BLOB_MIN_AGE_SECS: i64 = 2 * 3600;

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub now: i64,
    /// Only what is at least this old (on top of [`MIN_AGE_SECS`]).
    pub older_than_secs: i64,
    pub include_untagged: bool,
}

/// The kinds of orphan, in the order they are deleted: a NIC before the
/// IP and NSG it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Nic,
    PublicIp,
    Nsg,
    Disk,
    Deployment,
    AgentBlob,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Nic => "nic",
            Kind::PublicIp => "public-ip",
            Kind::Nsg => "nsg",
            Kind::Disk => "disk",
            Kind::Deployment => "deployment",
            Kind::AgentBlob => "agent-blob",
        }
    }
}

/// One resource to delete.
#[derive(Debug, Clone, PartialEq)]
pub struct Orphan {
    pub id: String,
    pub kind: Kind,
    pub name: String,
    /// When it was made (unix seconds).
    pub created: i64,
    /// Why it is an orphan, in words.
    pub why: String,
    /// What decides its price: a disk's SKU, tier and size; a public
    /// IP's SKU and allocation.
    pub billing: Billing,
    pub location: Option<String>,
}

/// What an orphan is billed by.
#[derive(Debug, Clone, PartialEq)]
pub enum Billing {
    /// Azure bills nothing for it (NICs, NSGs, deployment records).
    Free,
    Disk {
        sku: Option<String>,
        tier: Option<String>,
        size_gb: Option<u32>,
    },
    PublicIp {
        sku: Option<String>,
        allocation: Option<String>,
    },
    /// A block blob in a Standard LRS account's hot tier, by its size.
    Blob { bytes: Option<u64> },
}

/// What was looked at and left, by reason (each with how many).
pub type Passed = BTreeMap<String, usize>;

const UNTAGGED: &str = "not tagged managed-by=azlin (--include-untagged lists them)";
const YOUNG: &str = "made less than an hour ago (may be mid-creation)";
const AGE_UNKNOWN: &str = "ARM does not say when it was made";
const NOT_OLD_ENOUGH: &str = "younger than --older-than";

const AGENT_YOUNG: &str =
    "agent build uploaded less than two hours ago (a new VM may be downloading it)";

/// `created` (unix seconds) if it is known and at least `min_age` and
/// `--older-than` old; else why not (`young` when under `min_age`).
fn old_enough(
    rules: Rules,
    created: Option<i64>,
    min_age: i64,
    young: &str,
) -> Result<i64, String> {
    let Some(created) = created else {
        return Err(AGE_UNKNOWN.into());
    };
    let age = rules.now - created;
    if age < min_age {
        return Err(young.into());
    }
    if age < rules.older_than_secs {
        return Err(NOT_OLD_ENOUGH.into());
    }
    Ok(created)
}

fn lower(id: &str) -> String {
    id.to_ascii_lowercase()
}

fn azlin_tagged(tags: &Tags) -> bool {
    tags.get("managed-by").map(String::as_str) == Some("azlin")
}

/// An RFC 3339 time as unix seconds.
pub fn unix_of(time: &str) -> Option<i64> {
    time.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// What uses a public IP, in words, from the id of its IP configuration
/// (`…/loadBalancers/lb/frontendIPConfigurations/f` → "load balancer lb").
fn user_of_configuration(config: &str) -> String {
    let parts: Vec<&str> = config.split('/').collect();
    let after = |key: &str| {
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case(key))
            .and_then(|i| parts.get(i + 1))
            .copied()
    };
    for (kind, words) in [
        ("loadBalancers", "load balancer"),
        ("bastionHosts", "bastion"),
        ("virtualNetworkGateways", "VPN gateway"),
        ("azureFirewalls", "firewall"),
        ("applicationGateways", "application gateway"),
        ("networkInterfaces", "NIC"),
    ] {
        if let Some(name) = after(kind) {
            return format!("{words} {name}");
        }
    }
    "a resource".to_string()
}

/// The NIC an IP configuration id belongs to (lower case), if a NIC's.
fn nic_of_configuration(config: &str) -> Option<String> {
    let l = lower(config);
    l.find("/ipconfigurations/")
        .filter(|_| l.contains("/microsoft.network/networkinterfaces/"))
        .map(|i| l[..i].to_string())
}

/// Whether anything uses the public IP: an IP configuration (a NIC, a
/// load balancer's frontend, a bastion, a gateway) or a NAT gateway.
pub fn public_ip_used(ip: &PublicIpAddress) -> bool {
    ip.properties.ip_configuration.is_some() || ip.properties.nat_gateway.is_some()
}

/// What uses the disk, in words, or `None`: a VM, VMs sharing it, or a
/// state other than `Unattached` (Reserved: a deallocated VM's;
/// ActiveSAS: being exported; ReadyToUpload/ActiveUpload: being filled).
pub fn disk_user(disk: &Disk) -> Option<String> {
    if let Some(vm) = &disk.managed_by {
        return Some(format!("disk of VM {}", name_of(vm)));
    }
    if !disk.managed_by_extended.is_empty() {
        return Some("shared disk attached to VMs".into());
    }
    let state = disk
        .properties
        .disk_state
        .as_deref()
        .unwrap_or("Unattached");
    (!state.eq_ignore_ascii_case("Unattached")).then(|| format!("disk {state}"))
}

/// The orphans of `listing` under `rules`, NICs first, and what was left
/// and why.
pub fn orphans(listing: &Listing, rules: Rules) -> (Vec<Orphan>, Passed) {
    let mut out = Vec::new();
    let mut passed = Passed::new();
    let mut pass = |why: String| *passed.entry(why).or_default() += 1;

    // Age and ownership, the same for every kind.
    let judge = |tagged: bool, created: Option<i64>| -> Result<i64, String> {
        if !tagged && !rules.include_untagged {
            return Err(UNTAGGED.into());
        }
        old_enough(rules, created, MIN_AGE_SECS, YOUNG)
    };
    let created_of = |id: &str| listing.created.get(&lower(id)).copied();

    // NICs first: the IPs and NSGs of orphan NICs go with them.
    let mut orphan_nics: BTreeSet<String> = BTreeSet::new();
    for nic in &listing.nics {
        let (Some(id), Some(name)) = (&nic.id, &nic.name) else {
            continue;
        };
        let p = &nic.properties;
        if let Some(vm) = &p.virtual_machine {
            pass(format!("in use: NIC on VM {}", name_of(&vm.id)));
            continue;
        }
        if p.private_endpoint.is_some() {
            pass("in use: NIC of a private endpoint".into());
            continue;
        }
        if p.private_link_service.is_some() {
            pass("in use: NIC of a private link service".into());
            continue;
        }
        match judge(azlin_tagged(&nic.tags), created_of(id)) {
            Ok(created) => {
                orphan_nics.insert(lower(id));
                out.push(Orphan {
                    id: id.clone(),
                    kind: Kind::Nic,
                    name: name.clone(),
                    created,
                    why: "a NIC on no VM".into(),
                    billing: Billing::Free,
                    location: nic.location.clone(),
                });
            }
            Err(why) => pass(why),
        }
    }

    for ip in &listing.ips {
        let (Some(id), Some(name)) = (&ip.id, &ip.name) else {
            continue;
        };
        let p = &ip.properties;
        if let Some(nat) = &p.nat_gateway {
            pass(format!(
                "in use: public IP of NAT gateway {}",
                name_of(&nat.id)
            ));
            continue;
        }
        let why = match &p.ip_configuration {
            Some(config) => match nic_of_configuration(&config.id) {
                Some(nic) if orphan_nics.contains(&nic) => {
                    format!("a public IP only on orphan NIC {}", name_of(&nic))
                }
                _ => {
                    pass(format!(
                        "in use: public IP of {}",
                        user_of_configuration(&config.id)
                    ));
                    continue;
                }
            },
            None => "a public IP on nothing".into(),
        };
        match judge(azlin_tagged(&ip.tags), created_of(id)) {
            Ok(created) => out.push(Orphan {
                id: id.clone(),
                kind: Kind::PublicIp,
                name: name.clone(),
                created,
                why,
                billing: Billing::PublicIp {
                    sku: ip.sku.as_ref().map(|s| s.name.clone()),
                    allocation: p.allocation_method.clone(),
                },
                location: ip.location.clone(),
            }),
            Err(reason) => pass(reason),
        }
    }

    for nsg in &listing.nsgs {
        let (Some(id), Some(name)) = (&nsg.id, &nsg.name) else {
            continue;
        };
        let p = &nsg.properties;
        if !p.subnets.is_empty() {
            pass("in use: NSG of a subnet".into());
            continue;
        }
        let live_nics = p
            .network_interfaces
            .iter()
            .filter(|n| !orphan_nics.contains(&lower(&n.id)))
            .count();
        if live_nics > 0 {
            pass("in use: NSG of a NIC".into());
            continue;
        }
        let why = if p.network_interfaces.is_empty() {
            "an NSG on no NIC and no subnet".to_string()
        } else {
            "an NSG only on orphan NICs".to_string()
        };
        match judge(azlin_tagged(&nsg.tags), created_of(id)) {
            Ok(created) => out.push(Orphan {
                id: id.clone(),
                kind: Kind::Nsg,
                name: name.clone(),
                created,
                why,
                billing: Billing::Free,
                location: nsg.location.clone(),
            }),
            Err(reason) => pass(reason),
        }
    }

    for disk in &listing.disks {
        let (Some(id), Some(name)) = (&disk.id, &disk.name) else {
            continue;
        };
        let p = &disk.properties;
        if let Some(user) = disk_user(disk) {
            pass(format!("in use: {user}"));
            continue;
        }
        let created = p
            .time_created
            .as_deref()
            .and_then(unix_of)
            .or_else(|| created_of(id));
        match judge(azlin_tagged(&disk.tags), created) {
            Ok(created) => out.push(Orphan {
                id: id.clone(),
                kind: Kind::Disk,
                name: name.clone(),
                created,
                why: "a disk attached to no VM".into(),
                billing: Billing::Disk {
                    sku: disk.sku.as_ref().map(|s| s.name.clone()),
                    tier: p.tier.clone(),
                    size_gb: p.disk_size_gb,
                },
                location: Some(disk.location.clone()),
            }),
            Err(reason) => pass(reason),
        }
    }

    // Deployment records: azlin's by name, one per VM it made.
    let vms: BTreeSet<(String, String)> = listing
        .vms
        .iter()
        .filter_map(|v| {
            let id = v.id.as_deref()?;
            Some((lower(group_of(id)?), lower(v.name.as_deref()?)))
        })
        .collect();
    for d in &listing.deployments {
        let (Some(id), Some(name)) = (&d.id, &d.name) else {
            continue;
        };
        let Some(vm) = name.strip_prefix("azlin-") else {
            continue;
        };
        let group = group_of(id).map(lower).unwrap_or_default();
        if vms.contains(&(group, lower(vm))) {
            pass("in use: deployment record of a VM that exists".into());
            continue;
        }
        let state = d.properties.provisioning_state.as_deref().unwrap_or("");
        if !["Succeeded", "Failed", "Canceled"]
            .iter()
            .any(|s| s.eq_ignore_ascii_case(state))
        {
            pass("in use: deployment still running".into());
            continue;
        }
        let created = d.properties.timestamp.as_deref().and_then(unix_of);
        match judge(true, created) {
            Ok(created) => out.push(Orphan {
                id: id.clone(),
                kind: Kind::Deployment,
                name: name.clone(),
                created,
                why: format!("azlin's deployment record of VM {vm}, which is gone"),
                billing: Billing::Free,
                location: None,
            }),
            Err(reason) => pass(reason),
        }
    }
    for blob in &listing.agent_blobs {
        let build = blob
            .name
            .strip_prefix(BLOB_PREFIX)
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if !build {
            pass("not an agent build azlin uploaded (in its agent store)".into());
            continue;
        }
        let Some(current) = &listing.current_agent_blob else {
            pass("agent build: this machine has no azlin-agent to say which one VMs get".into());
            continue;
        };
        if blob.name.eq_ignore_ascii_case(current) {
            pass("in use: the agent build new VMs get".into());
            continue;
        }
        let created = match old_enough(rules, blob.created, AGENT_BLOB_MIN_AGE_SECS, AGENT_YOUNG) {
            Ok(created) => created,
            Err(why) => {
                pass(why);
                continue;
            }
        };
        out.push(Orphan {
            id: blob.id.clone(),
            kind: Kind::AgentBlob,
            name: blob.name.clone(),
            created,
            why: "an agent build no VM needs (VMs download theirs once, at first boot)".into(),
            billing: Billing::Blob { bytes: blob.bytes },
            location: blob.location.clone(),
        });
    }
    out.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.name.cmp(&b.name)));
    (out, passed)
}

/// The pay-as-you-go tier a managed disk of `size_gb` is billed at:
/// Premium SSD `P`, Standard SSD `E`, Standard HDD `S`, the smallest tier
/// that holds it; `None` for kinds billed otherwise (Ultra, Premium v2)
/// or sizes past the table.
pub fn disk_tier(sku: &str, size_gb: u32) -> Option<String> {
    const TIERS: [(u32, u32); 14] = [
        (4, 1),
        (8, 2),
        (16, 3),
        (32, 4),
        (64, 6),
        (128, 10),
        (256, 15),
        (512, 20),
        (1024, 30),
        (2048, 40),
        (4096, 50),
        (8192, 60),
        (16384, 70),
        (32767, 80),
    ];
    let letter = match sku.split('_').next()? {
        "Premium" => 'P',
        "StandardSSD" => 'E',
        "Standard" => 'S',
        _ => return None,
    };
    let (_, n) = TIERS.iter().find(|(gb, _)| size_gb <= *gb)?;
    // Standard HDD starts at S4 (32 GiB): smaller disks bill as S4.
    let n = if letter == 'S' { (*n).max(4) } else { *n };
    Some(format!("{letter}{n}"))
}

/// The redundancy part of a disk SKU (`Premium_ZRS` → `ZRS`).
pub fn disk_redundancy(sku: &str) -> &str {
    sku.rsplit('_').next().unwrap_or("LRS")
}

#[cfg(test)]
mod tests;

//! What uses a network resource or disk, as ARM works it out, and the
//! refusals ARM gives when what is in use is deleted: a public IP named by
//! a NIC's IP configuration, a load balancer's frontend or a NAT gateway
//! (`PublicIPAddressInUse`); a NIC a VM names or a private endpoint owns;
//! an NSG a NIC or subnet names; a disk a VM holds. Also a resource
//! group's resource list (`{group}/resources`), which with
//! `$expand=createdTime` carries when each resource was made.
//!
//! Not here: keeping resources (the emulator itself).

use std::collections::BTreeMap;

use serde_json::{Value, json};

fn names(r: &Value, pointer: &str, id: &str) -> bool {
    r.pointer(pointer)
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case(id))
}

/// Fill in a public IP's back-references ARM keeps: the NAT gateway and
/// the load-balancer frontend that name it.
pub fn show_ip(resources: &BTreeMap<String, Value>, key: &str, v: &mut Value) {
    for (k, r) in resources {
        if k.contains("/microsoft.network/natgateways/")
            && r["properties"]["publicIpAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|p| names(p, "/id", key)))
        {
            v["properties"]["natGateway"] = json!({ "id": r["id"] });
        }
        if k.contains("/microsoft.network/loadbalancers/") {
            for fe in r["properties"]["frontendIPConfigurations"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if names(fe, "/properties/publicIPAddress/id", key) {
                    let id = format!(
                        "{}/frontendIPConfigurations/{}",
                        r["id"].as_str().unwrap_or_default(),
                        fe["name"].as_str().unwrap_or_default()
                    );
                    v["properties"]["ipConfiguration"] = json!({ "id": id });
                }
            }
        }
    }
}

/// The VM whose network profile names NIC `key`.
pub fn vm_of_nic(resources: &BTreeMap<String, Value>, key: &str) -> Option<Value> {
    resources.iter().find_map(|(k, r)| {
        let named = k.contains("/microsoft.compute/virtualmachines/")
            && r["properties"]["networkProfile"]["networkInterfaces"]
                .as_array()
                .is_some_and(|a| a.iter().any(|n| names(n, "/id", key)));
        named.then(|| r["id"].clone())
    })
}

/// Why ARM refuses to delete `key` (shown as `v`, back-references filled
/// in) now: `(status, code, message)`.
pub fn refusal(
    resources: &BTreeMap<String, Value>,
    key: &str,
    v: &Value,
) -> Option<(u16, &'static str, String)> {
    let name = v["name"].as_str().unwrap_or_default();
    if key.contains("/microsoft.network/publicipaddresses/") {
        let user = v["properties"]["ipConfiguration"]["id"]
            .as_str()
            .or_else(|| v["properties"]["natGateway"]["id"].as_str())?;
        return Some((
            400,
            "PublicIPAddressInUse",
            format!(
                "Public IP address {key} can not be deleted since it is still allocated to resource {user}."
            ),
        ));
    }
    if key.contains("/microsoft.network/networkinterfaces/") {
        if let Some(vm) = vm_of_nic(resources, key) {
            return Some((
                400,
                "NicInUse",
                format!("Network Interface {key} is used by existing resource {vm}."),
            ));
        }
        let pe = v["properties"]["privateEndpoint"]["id"].as_str()?;
        return Some((
            400,
            "CannotDeleteNicOwnedByPrivateEndpoint",
            format!("Network interface {name} is owned by private endpoint {pe}."),
        ));
    }
    if key.contains("/microsoft.network/networksecuritygroups/") && !key.contains("/securityrules/")
    {
        let used = resources.iter().any(|(k, r)| {
            (k.contains("/networkinterfaces/") || k.contains("/subnets/"))
                && names(r, "/properties/networkSecurityGroup/id", key)
        });
        return used.then(|| {
            (
                400,
                "InUseNetworkSecurityGroupCannotBeDeleted",
                format!("Network security group {key} cannot be deleted because it is in use."),
            )
        });
    }
    if key.contains("/microsoft.compute/disks/") {
        let vm = v["managedBy"].as_str().filter(|m| !m.is_empty())?;
        return Some((
            409,
            "OperationNotAllowed",
            format!("Disk {name} is attached to VM {vm}."),
        ));
    }
    None
}

/// `{group}/resources`: the group's resources (not their children), each
/// with its type, and when made under `$expand=createdTime`.
pub fn group_list(
    resources: &BTreeMap<String, Value>,
    created: &BTreeMap<String, String>,
    group: &str,
    query: &str,
) -> Value {
    let expand = query.to_ascii_lowercase().contains("createdtime");
    let prefix = format!("{group}/providers/");
    let value: Vec<Value> = resources
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(&prefix)
                .is_some_and(|rest| rest.split('/').count() == 3)
        })
        .map(|(k, r)| {
            let id = r["id"].as_str().unwrap_or_default();
            let parts: Vec<&str> = id.split('/').collect();
            let kind = parts
                .iter()
                .position(|p| p.eq_ignore_ascii_case("providers"))
                .map(|i| parts[i + 1..parts.len() - 1].join("/"))
                .unwrap_or_default();
            let mut out = json!({"id": id, "name": r["name"], "type": kind,
                                 "location": r["location"], "tags": r["tags"]});
            if expand && let Some(t) = created.get(k) {
                out["createdTime"] = json!(t);
            }
            out
        })
        .collect();
    json!({ "value": value })
}

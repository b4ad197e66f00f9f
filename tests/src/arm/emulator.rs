//! What the fake ARM does with requests no recording covers: it keeps the
//! resources a client PUTs and answers in the shapes the recordings show —
//! a network or compute PUT is `201` with `Azure-AsyncOperation`, whose
//! status reads `InProgress` and then `Succeeded`, and a final GET returns
//! the resource with `provisioningState: Succeeded`; VM actions and DELETE
//! are `202` with `Azure-AsyncOperation` and `Location`; a missing resource
//! is `404 ResourceNotFound`. It also lists a group's resources of a type,
//! answers a VM's `instanceView`, keeps tags through the Tags API
//! (`…/providers/Microsoft.Resources/tags/default`) and runs template
//! deployments ([`deployment`]). Storage accounts answer as Storage does
//! (`202` with only `Location`, polled to the account), get keys that
//! `listKeys` returns and, with a [`FakeBlob`], a blob endpoint there;
//! their containers are made in it. Lists at subscription scope
//! (`/subscriptions/{s}/providers/{ns}/{type}`) span every group. Public
//! IPs get loopback addresses
//! (127.B.0.N, B random per emulator), so a test can "boot" a VM's agent
//! there ([`VmHooks`]).

use std::collections::BTreeMap;

pub mod cost;
mod deployment;
pub mod disks;
mod in_use;
pub mod storage;

use serde_json::{Value, json};

use super::blob::FakeBlob;

/// What a test does when a VM is created, powered or deleted.
pub trait VmHooks: Send {
    /// A VM was created: its name, its custom data (base64) and its public
    /// address.
    fn created(&mut self, vm: &str, custom_data: &str, public_ip: &str);
    /// The VM stops running (`deallocate`, `powerOff`) or runs again.
    fn power(&mut self, vm: &str, running: bool);
    fn deleted(&mut self, vm: &str);
    /// Run Command on `vm`: run `script` (one command a line) there, and
    /// give its stdout and stderr; `None`: nothing stands in for that VM.
    fn run_command(&mut self, _vm: &str, _script: &[String]) -> Option<(String, String)> {
        None
    }
    /// An incremental snapshot `snapshot` was taken of the disk `disk`;
    /// `vm`: the VM it is the OS disk of, if any.
    fn snapshot_taken(&mut self, _vm: Option<&str>, _disk: &str, _snapshot: &str) {}
    /// The disk `disk` was made as a copy of the snapshot `snapshot`.
    fn disk_copied(&mut self, _snapshot: &str, _disk: &str) {}
    /// A VM was made that boots the OS disk `os_disk` it attached (made
    /// already, as a clone's), with the public address `public_ip`; the
    /// address the stand-in booted at instead, if another.
    fn attached(&mut self, _vm: &str, _os_disk: &str, _public_ip: &str) -> Option<String> {
        None
    }
}

#[derive(Default)]
pub struct Emulator {
    /// Lower-case resource path → resource.
    resources: BTreeMap<String, Value>,
    /// Operation id → how it goes.
    operations: BTreeMap<String, Operation>,
    /// Resource name → the error ARM gives when asked to make it.
    refusals: BTreeMap<String, Value>,
    next_ip: u8,
    /// 127.N.0.0/16 for this emulator's public IPs, so runs never share one.
    ip_block: u8,
    next_op: u64,
    /// How many `InProgress` answers an operation gives first.
    pub polls_per_operation: u32,
    pub hooks: Option<Box<dyn VmHooks>>,
    /// Where storage accounts keep their blobs.
    blob: Option<FakeBlob>,
    /// Storage account path → its key (base64).
    storage_keys: BTreeMap<String, String>,
    /// The Resource SKUs list (see [`default_skus`]).
    pub skus: Vec<Value>,
    /// (lower-case region, quota name) → limit; a quota not here is 100.
    pub quota_limits: BTreeMap<(String, String), i64>,
    /// (lower-case region, quota name) → vCPUs used by VMs the emulator
    /// does not hold (added to what its VMs use).
    pub quota_used: BTreeMap<(String, String), i64>,
    /// The Retail Prices API's items (see [`default_prices`]).
    pub prices: Vec<Value>,
    /// How many price requests answer `429` before one is served.
    pub prices_throttled: u32,
    /// Price requests served (pages, throttled ones included).
    pub price_requests: u32,
    /// The Cost Management Query API's rows and what it was asked.
    pub cost: cost::CostData,
    /// Azure Files: names taken elsewhere, shares' usage.
    pub files: storage::FilesData,
    /// Incremental snapshots made of each disk.
    pub disks: disks::DiskData,
    /// Resource name → the error ARM gives when asked to delete it.
    pub delete_refusals: BTreeMap<String, Value>,
    /// Lower-case subscription id → its display name and tenant, for
    /// `GET /subscriptions/{id}` (see [`Emulator::add_subscription`]).
    pub subscriptions: BTreeMap<String, (String, String)>,
    /// Bearer token → the tenant it was issued in. Empty: any token is
    /// good everywhere (as every test before tenants assumed); else a
    /// request in a registered subscription needs a token of its tenant.
    pub grants: BTreeMap<String, String>,
    /// Lower-case VM path → the name its hooks know it by (see
    /// [`Emulator::hook_name`]).
    hook_names: BTreeMap<String, String>,
    /// Lower-case resource path → when it was made (RFC 3339), as the
    /// group's resource list shows with `$expand=createdTime`.
    created: BTreeMap<String, String>,
}

/// The sizes the emulator offers: D2s v5 and D4s v5 (family
/// `standardDSv5Family`) and B2s (`standardBSFamily`) in westus2 and
/// eastus, in the Resource SKUs API's shape.
pub fn default_skus() -> Vec<Value> {
    let sku = |name: &str, family: &str, vcpus: u32| {
        json!({
            "resourceType": "virtualMachines", "name": name, "tier": "Standard",
            "size": name.trim_start_matches("Standard_"), "family": family,
            "locations": ["westus2"], "locationInfo": [{"location": "westus2", "zones": ["1", "2", "3"]}],
            "capabilities": [{"name": "vCPUs", "value": vcpus.to_string()}, {"name": "MemoryGB", "value": (vcpus * 4).to_string()}],
            "restrictions": []
        })
    };
    let mut out = Vec::new();
    for region in ["westus2", "eastus"] {
        for (name, family, vcpus) in [
            ("Standard_D2s_v5", "standardDSv5Family", 2),
            ("Standard_D4s_v5", "standardDSv5Family", 4),
            ("Standard_B2s", "standardBSFamily", 2),
        ] {
            let mut s = sku(name, family, vcpus);
            s["locations"] = json!([region]);
            s["locationInfo"][0]["location"] = json!(region);
            out.push(s);
        }
    }
    out
}

/// The Retail Prices API's items: the documented ones in the fixtures
/// (Spot, Windows, reservations, DevTest; no pay-as-you-go Linux meter),
/// and, built from that documented shape, pay-as-you-go meters of D2s v5
/// and D4s v5 in westus2 (Linux 0.096 and 0.192 USD an hour) with their
/// Windows, Spot and Low Priority siblings. B2s has none.
pub fn default_prices() -> Vec<Value> {
    let dir = super::fixtures_dir().join("specs-examples/retail-prices");
    let mut items = Vec::new();
    for f in [
        "retail_prices_page1_usd.json",
        "retail_prices_last_page_eur.json",
    ] {
        let page: Value = serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap();
        items.extend(page["Items"].as_array().unwrap().iter().cloned());
    }
    let meter = |size: &str, product: &str, sku: &str, price: f64| {
        json!({
            "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price, "unitPrice": price,
            "armRegionName": "westus2", "location": "US West 2",
            "effectiveStartDate": "2021-11-01T00:00:00Z", "meterId": format!("meter-{sku}"),
            "meterName": sku, "productId": "DZH318Z0CSHR", "skuId": "DZH318Z0CSHR/0017",
            "productName": product, "skuName": sku, "serviceName": "Virtual Machines",
            "serviceId": "DZH313Z7MMC8", "serviceFamily": "Compute", "unitOfMeasure": "1 Hour",
            "type": "Consumption", "isPrimaryMeterRegion": true, "armSkuName": size
        })
    };
    for (size, short, linux) in [
        ("Standard_D2s_v5", "D2s v5", 0.096),
        ("Standard_D4s_v5", "D4s v5", 0.192),
    ] {
        items.push(meter(
            size,
            "Virtual Machines Dsv5 Series Windows",
            short,
            linux * 1.9,
        ));
        items.push(meter(
            size,
            "Virtual Machines Dsv5 Series",
            &format!("{short} Spot"),
            linux / 5.0,
        ));
        items.push(meter(
            size,
            "Virtual Machines Dsv5 Series",
            &format!("{short} Low Priority"),
            linux / 5.0,
        ));
        items.push(meter(size, "Virtual Machines Dsv5 Series", short, linux));
    }
    // A P10 (128 GiB Premium SSD) disk and a Standard static public IP in
    // westus2, in the documented shape (a disk by the month, an address by
    // the hour), with a sibling meter each that must not be taken.
    for (product, sku, meter, unit, price) in [
        (
            "Premium SSD Managed Disks",
            "P10 LRS",
            "P10 LRS Disk",
            "1/Month",
            19.71,
        ),
        (
            "Premium SSD Managed Disks",
            "P10 LRS",
            "P10 LRS Disk Mount",
            "1/Month",
            1.0,
        ),
        (
            "IP Addresses",
            "Standard",
            "Standard IPv4 Static Public IP",
            "1 Hour",
            0.005,
        ),
        (
            "IP Addresses",
            "Basic",
            "Basic IPv4 Dynamic Public IP",
            "1 Hour",
            0.004,
        ),
    ] {
        let service = if product == "IP Addresses" {
            "Virtual Network"
        } else {
            "Storage"
        };
        items.push(json!({
            "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price,
            "unitPrice": price, "armRegionName": "westus2", "location": "US West 2",
            "meterName": meter, "productName": product, "skuName": sku,
            "serviceName": service, "unitOfMeasure": unit,
            "type": "Consumption", "isPrimaryMeterRegion": true, "armSkuName": ""
        }));
    }
    // Hot LRS block blob storage in westus2: the first tier of its
    // data-stored meter, a later tier and a write-operations meter.
    for (meter, unit, min, price) in [
        ("Hot LRS Data Stored", "1 GB/Month", 0.0, 0.0184),
        ("Hot LRS Data Stored", "1 GB/Month", 51200.0, 0.0177),
        ("Hot LRS Write Operations", "10K", 0.0, 0.055),
    ] {
        items.push(json!({
            "currencyCode": "USD", "tierMinimumUnits": min, "retailPrice": price,
            "unitPrice": price, "armRegionName": "westus2", "location": "US West 2",
            "meterName": meter, "productName": "General Block Blob v2", "skuName": "Hot LRS",
            "serviceName": "Storage", "serviceFamily": "Storage", "unitOfMeasure": unit,
            "type": "Consumption", "isPrimaryMeterRegion": true, "armSkuName": ""
        }));
    }
    // Premium Files in westus2: the provisioned meter and its snapshots'.
    for (meter, price) in [
        ("Premium LRS Provisioned", 0.16),
        ("Premium LRS Snapshots", 0.136),
    ] {
        items.push(json!({
            "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price,
            "unitPrice": price, "armRegionName": "westus2", "location": "US West 2",
            "meterName": meter, "productName": "Premium Files", "skuName": "Premium LRS",
            "serviceName": "Storage", "serviceFamily": "Storage", "unitOfMeasure": "1 GB/Month",
            "type": "Consumption", "isPrimaryMeterRegion": true, "armSkuName": ""
        }));
    }
    items
}

/// An operation in flight: `InProgress` polls left, then its end.
struct Operation {
    left: u32,
    /// `None`: it succeeds.
    error: Option<Value>,
    /// What the last poll of a `Location` operation returns.
    result: Option<Value>,
}

/// Whether `key` is a storage account itself (not one of its children).
fn is_storage_account(key: &str) -> bool {
    key.rsplit_once("/providers/microsoft.storage/storageaccounts/")
        .is_some_and(|(_, name)| !name.contains('/'))
}

/// The resource provider whose operations a resource's answers name.
fn provider_of(key: &str) -> &'static str {
    if key.contains("/microsoft.compute/") {
        "Microsoft.Compute"
    } else {
        "Microsoft.Network"
    }
}

fn instance_view(power: &str) -> Value {
    json!({"statuses": [
        {"code": "ProvisioningState/succeeded", "displayStatus": "Provisioning succeeded"},
        {"code": format!("PowerState/{power}"), "displayStatus": format!("VM {power}")}
    ]})
}

/// An answer: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, String);

/// An ARM error answer: `status` with `{"error": {"code", "message"}}`.
fn arm_error(status: u16, code: &str, message: &str) -> Answer {
    (
        status,
        vec![],
        json!({"error": {"code": code, "message": message}}).to_string(),
    )
}

fn not_found(path: &str) -> Answer {
    arm_error(
        404,
        "ResourceNotFound",
        &format!("The Resource '{path}' was not found."),
    )
}

impl Emulator {
    /// Operations that answer `InProgress` `polls` times first; `hooks`
    /// hear of VMs made, powered and deleted.
    pub fn new(polls: u32, hooks: Option<Box<dyn VmHooks>>) -> Self {
        let ip_block = 2
            + (std::process::id() as u64
                ^ std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos() as u64))
                % 250;
        Self {
            polls_per_operation: polls,
            hooks,
            ip_block: ip_block as u8,
            skus: default_skus(),
            prices: default_prices(),
            ..Self::default()
        }
    }

    /// The name the hooks know the VM at `key` (a lower-case path) by: its
    /// own, or, when a VM of that name elsewhere (another subscription or
    /// resource group) had it first, `NAME~N`, so each stands in once.
    fn hook_name(&mut self, key: &str, name: &str) -> String {
        if let Some(n) = self.hook_names.get(key) {
            return n.clone();
        }
        let taken = |n: &str| self.hook_names.values().any(|v| v == n);
        let mut chosen = name.to_string();
        let mut i = 2;
        while taken(&chosen) {
            chosen = format!("{name}~{i}");
            i += 1;
        }
        self.hook_names.insert(key.to_string(), chosen.clone());
        chosen
    }

    /// A subscription `GET /subscriptions/{id}` describes, in `tenant`.
    pub fn add_subscription(&mut self, id: &str, display_name: &str, tenant: &str) {
        self.subscriptions.insert(
            id.to_ascii_lowercase(),
            (display_name.to_string(), tenant.to_string()),
        );
    }

    /// ARM's refusal of a request whose token is not of the tenant of the
    /// registered subscription it is in (401 InvalidAuthenticationTokenTenant,
    /// as ARM answers a token from another tenant); `None`: it may go on.
    pub fn refuse_subscription(&self, path: &str, authorization: Option<&str>) -> Option<Answer> {
        if self.grants.is_empty() {
            return None;
        }
        let sub = path
            .to_ascii_lowercase()
            .strip_prefix("/subscriptions/")?
            .split('/')
            .next()?
            .to_string();
        let (_, tenant) = self.subscriptions.get(&sub)?;
        let token = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");
        match self.grants.get(token) {
            Some(t) if t == tenant => None,
            _ => Some(arm_error(
                401,
                "InvalidAuthenticationTokenTenant",
                &format!(
                    "The access token is from the wrong issuer. It must match the tenant \
                     'https://sts.windows.net/{tenant}/' associated with this subscription."
                ),
            )),
        }
    }

    /// Storage accounts get their blob endpoint in `blob`.
    pub fn with_blob(mut self, blob: FakeBlob) -> Self {
        self.blob = Some(blob);
        self
    }

    /// Every resource path held now.
    pub fn paths(&self) -> Vec<String> {
        self.resources.keys().cloned().collect()
    }

    pub fn resource(&self, path: &str) -> Option<Value> {
        self.resources.get(&path.to_ascii_lowercase()).cloned()
    }

    /// Make a VM the way the portal or `az` would, behind azlin's back (no
    /// hooks run; nothing boots): in `group` (an ARM path,
    /// `/subscriptions/{s}/resourceGroups/{g}`), with its NIC `{name}-nic`,
    /// a public IP `{name}-ip` when `public_ip`, the NSG `nsg` on its NIC
    /// (made if missing, so several VMs can share one), and its OS disk.
    pub fn plant_vm(&mut self, group: &str, name: &str, size: &str, nsg: &str, public_ip: bool) {
        let put = |s: &mut Self, path: String, value: Value| {
            s.store(&path.to_ascii_lowercase(), &path, value);
        };
        let nsg_path = format!("{group}/providers/Microsoft.Network/networkSecurityGroups/{nsg}");
        if self.resource(&nsg_path).is_none() {
            put(
                self,
                nsg_path.clone(),
                json!({"location": "westus2", "properties": {"securityRules": []}}),
            );
        }
        let mut ip_config = json!({"name": "ipconfig1", "properties": {
            "subnet": {"id": format!("{group}/providers/Microsoft.Network/virtualNetworks/theirs/subnets/default")}}});
        if public_ip {
            let ip_path =
                format!("{group}/providers/Microsoft.Network/publicIPAddresses/{name}-ip");
            put(
                self,
                ip_path.clone(),
                json!({"location": "westus2", "sku": {"name": "Standard"},
                "properties": {"publicIPAllocationMethod": "Static"}}),
            );
            ip_config["properties"]["publicIPAddress"] = json!({"id": ip_path});
        }
        let nic_path = format!("{group}/providers/Microsoft.Network/networkInterfaces/{name}-nic");
        put(
            self,
            nic_path.clone(),
            json!({"location": "westus2", "properties": {
            "ipConfigurations": [ip_config], "networkSecurityGroup": {"id": nsg_path}}}),
        );
        let vm_path = format!("{group}/providers/Microsoft.Compute/virtualMachines/{name}");
        let hooks = self.hooks.take();
        put(
            self,
            vm_path,
            json!({"location": "westus2", "tags": {"owner": "someone-else"}, "properties": {
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {"osDisk": {"name": format!("{name}_OsDisk_1"), "createOption": "FromImage", "deleteOption": "Detach"}},
            "osProfile": {"computerName": name, "adminUsername": "them"},
            "networkProfile": {"networkInterfaces": [{"id": nic_path, "properties": {"primary": true}}]}}}),
        );
        self.hooks = hooks;
    }

    /// Say `path` was made at `time` (RFC 3339), as the group's resource
    /// list will show.
    pub fn set_created(&mut self, path: &str, time: &str) {
        self.created
            .insert(path.to_ascii_lowercase(), time.to_string());
    }

    /// Hold `value` at `path` as if it had been made there.
    pub fn plant(&mut self, path: &str, value: Value) {
        self.store(&path.to_ascii_lowercase(), path, value);
    }

    /// Give `group`'s VNet `theirs` (the one [`Emulator::plant_vm`]'s NICs
    /// name) a subnet `default` that uses the NSG `nsg` (made if missing).
    pub fn plant_subnet_nsg(&mut self, group: &str, nsg: &str) {
        let nsg_path = format!("{group}/providers/Microsoft.Network/networkSecurityGroups/{nsg}");
        if self.resource(&nsg_path).is_none() {
            self.store(
                &nsg_path.to_ascii_lowercase(),
                &nsg_path,
                json!({"location": "westus2", "properties": {}}),
            );
        }
        let vnet = format!("{group}/providers/Microsoft.Network/virtualNetworks/theirs");
        let body = json!({"location": "westus2", "properties": {
            "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
            "subnets": [{"name": "default", "properties": {"addressPrefix": "10.9.0.0/24",
                "networkSecurityGroup": {"id": nsg_path}}}]}});
        self.store(&vnet.to_ascii_lowercase(), &vnet, body);
    }

    /// Change a resource in place, behind azlin's back.
    pub fn edit(&mut self, path: &str, f: impl FnOnce(&mut Value)) {
        if let Some(r) = self.resources.get_mut(&path.to_ascii_lowercase()) {
            f(r);
        }
    }

    /// Give a public IP (an ARM path) this address, as if Azure had
    /// assigned it (so a test can point it at a stand-in VM).
    pub fn set_public_ip(&mut self, ip_path: &str, address: &str) {
        if let Some(ip) = self.resources.get_mut(&ip_path.to_ascii_lowercase()) {
            ip["properties"]["ipAddress"] = json!(address);
        }
    }

    /// Change a VM's power state behind azlin's back, as the portal or
    /// Azure itself would (no hooks run: the VM's agent is not told).
    pub fn set_power(&mut self, vm_path: &str, state: &str) {
        if let Some(vm) = self.resources.get_mut(&vm_path.to_ascii_lowercase()) {
            vm["powerState"] = json!(state);
        }
    }

    /// From now on, making a resource named `name` fails with `error` (an
    /// ARM error object: `{"code", "message"}`): a PUT of it answers 409, a
    /// deployment holding it fails there, as ARM reports a resource's
    /// failure inside a deployment.
    pub fn refuse(&mut self, name: &str, error: Value) {
        self.refusals.insert(name.to_ascii_lowercase(), error);
    }

    pub fn handle(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: &str,
        base: &str,
    ) -> Answer {
        let key = path.to_ascii_lowercase();
        if key == "/api/retail/prices" {
            return self.retail_prices(query, base);
        }
        if method == "GET"
            && let Some(sub) = key.strip_prefix("/subscriptions/")
            && !sub.contains('/')
        {
            return match self.subscriptions.get(sub) {
                Some((name, tenant)) => (
                    200,
                    vec![],
                    json!({
                        "id": format!("/subscriptions/{sub}"), "subscriptionId": sub,
                        "tenantId": tenant, "displayName": name, "state": "Enabled",
                        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                            "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
                        "authorizationSource": "RoleBased"
                    })
                    .to_string(),
                ),
                None => arm_error(
                    404,
                    "SubscriptionNotFound",
                    &format!("The subscription '{sub}' could not be found."),
                ),
            };
        }
        if method == "POST" && key.ends_with("/providers/microsoft.costmanagement/forecast") {
            return self.cost.forecast(query, body);
        }
        if method == "POST"
            && let Some(scope) = key.strip_suffix("/providers/microsoft.costmanagement/query")
        {
            let scope = &path[..scope.len()];
            return self.cost.query(scope, query, body, base);
        }
        if method == "POST" && key.ends_with("/providers/microsoft.storage/checknameavailability") {
            return match self.files.name_availability(&self.resources, body) {
                Ok(answer) => (200, vec![], answer.to_string()),
                Err((status, code, message)) => arm_error(status, code, &message),
            };
        }
        if method == "GET" && key.ends_with("/providers/microsoft.compute/skus") {
            return (
                200,
                vec![],
                json!({ "value": self.skus_in(query) }).to_string(),
            );
        }
        if method == "GET"
            && let Some(region) = key
                .strip_suffix("/usages")
                .and_then(|k| k.split("/providers/microsoft.compute/locations/").nth(1))
        {
            return (
                200,
                vec![],
                json!({ "value": self.usages(region) }).to_string(),
            );
        }
        if key.contains("/operations/") || key.contains("/operationstatuses/") {
            return self.poll(&key);
        }
        if key.contains("/asyncoperations/") {
            return self.poll_location(&key, path, base);
        }
        if let Some(owner) = key.strip_suffix("/providers/microsoft.resources/tags/default") {
            return self.tags(method, owner, path, body);
        }
        match method {
            "PUT" => self.put(&key, path, body, base),
            "GET" => self.get(&key, path, query),
            "POST" => self.action(&key, body, base),
            "DELETE" => self.delete(&key, base),
            _ => (405, vec![], String::new()),
        }
    }

    /// The SKUs in the region a `$filter=location eq '…'` names (all
    /// without one).
    fn skus_in(&self, query: &str) -> Vec<Value> {
        let filter = super::parse_query(query)
            .remove("$filter")
            .unwrap_or_default();
        let region = filter_value(&filter, "location");
        self.skus
            .iter()
            .filter(|s| {
                region.as_ref().is_none_or(|r| {
                    s["locations"].as_array().is_some_and(|l| {
                        l.iter()
                            .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(r)))
                    })
                })
            })
            .cloned()
            .collect()
    }

    /// A region's quotas: `cores` and each SKU family, used by the
    /// allocated VMs held (and what a test adds) out of the limits set.
    fn usages(&self, region: &str) -> Vec<Value> {
        let sku = |size: &str| {
            self.skus.iter().find(|s| {
                s["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(size))
            })
        };
        let mut used: BTreeMap<String, i64> = BTreeMap::new();
        used.insert("cores".into(), 0);
        for s in &self.skus {
            if let Some(f) = s["family"].as_str() {
                used.entry(f.to_string()).or_insert(0);
            }
        }
        for (k, vm) in &self.resources {
            if !k.contains("/microsoft.compute/virtualmachines/") || k.matches('/').count() != 8 {
                continue;
            }
            let here = vm["location"]
                .as_str()
                .is_some_and(|l| l.eq_ignore_ascii_case(region));
            let allocated = vm["powerState"].as_str() != Some("deallocated");
            let size = vm["properties"]["hardwareProfile"]["vmSize"]
                .as_str()
                .unwrap_or("");
            if let (true, true, Some(s)) = (here, allocated, sku(size)) {
                let vcpus: i64 = s["capabilities"]
                    .as_array()
                    .and_then(|c| c.iter().find(|c| c["name"] == "vCPUs"))
                    .and_then(|c| c["value"].as_str())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                *used.entry("cores".into()).or_default() += vcpus;
                if let Some(f) = s["family"].as_str() {
                    *used.entry(f.to_string()).or_default() += vcpus;
                }
            }
        }
        used.into_iter()
            .map(|(name, n)| {
                let key = (region.to_string(), name.clone());
                let extra = self.quota_used.get(&key).copied().unwrap_or(0);
                let limit = self.quota_limits.get(&key).copied().unwrap_or(100);
                let shown = if name == "cores" {
                    "Total Regional vCPUs".to_string()
                } else {
                    name.clone()
                };
                json!({"limit": limit, "unit": "Count", "currentValue": n + extra,
                       "name": {"value": name, "localizedValue": shown}})
            })
            .collect()
    }

    /// The Retail Prices API: filtered, paged two items at a time.
    fn retail_prices(&mut self, query: &str, base: &str) -> Answer {
        self.price_requests += 1;
        if self.prices_throttled > 0 {
            self.prices_throttled -= 1;
            return (
                429,
                vec![("retry-after".into(), "1".into())],
                json!({"Error": {"Code": "TooManyRequests"}}).to_string(),
            );
        }
        let q = super::parse_query(query);
        let filter = q.get("$filter").cloned().unwrap_or_default();
        let skip: usize = q.get("$skip").and_then(|s| s.parse().ok()).unwrap_or(0);
        let matching: Vec<&Value> = self
            .prices
            .iter()
            .filter(|item| {
                [
                    "serviceName",
                    "armRegionName",
                    "armSkuName",
                    "productName",
                    "skuName",
                    "priceType",
                ]
                .iter()
                .all(|field| match filter_value(&filter, field) {
                    None => true,
                    Some(want) => {
                        let have = if *field == "priceType" {
                            &item["type"]
                        } else {
                            &item[*field]
                        };
                        have.as_str().is_some_and(|h| h.eq_ignore_ascii_case(&want))
                    }
                })
            })
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(skip)
            .take(2)
            .map(|v| (*v).clone())
            .collect();
        let next = (skip + 2 < matching.len()).then(|| {
            format!(
                "{base}/api/retail/prices?$filter={}&$skip={}",
                azlin_controller::azure::sas::encode(&filter),
                skip + 2
            )
        });
        (
            200,
            vec![],
            json!({"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
                   "Items": page, "NextPageLink": next, "Count": page.len()})
            .to_string(),
        )
    }

    fn operation(&mut self, base: &str, provider: &str) -> (String, String) {
        let id = self.begin(None, None);
        let url = format!(
            "{base}/subscriptions/00000000-0000-0000-0000-000000000000/providers/{provider}/locations/westus2/operations/{id}?api-version=1"
        );
        (id, url)
    }

    fn begin(&mut self, error: Option<Value>, result: Option<Value>) -> String {
        self.next_op += 1;
        let id = format!("op{:08}", self.next_op);
        let left = self.polls_per_operation;
        self.operations.insert(
            id.clone(),
            Operation {
                left,
                error,
                result,
            },
        );
        id
    }

    /// A Storage `Location` poll: `202` while it runs, then `200` with
    /// the resource.
    fn poll_location(&mut self, key: &str, path: &str, base: &str) -> Answer {
        let id = key.rsplit('/').next().unwrap_or_default().to_string();
        match self.operations.get_mut(&id) {
            Some(Operation {
                left: 0, result, ..
            }) => (200, vec![], result.clone().unwrap_or(json!({})).to_string()),
            Some(op) => {
                op.left -= 1;
                (
                    202,
                    vec![
                        ("location".into(), format!("{base}{path}?monitor=true")),
                        ("retry-after".into(), "0".into()),
                    ],
                    String::new(),
                )
            }
            None => not_found(key),
        }
    }

    fn poll(&mut self, key: &str) -> Answer {
        let id = key.rsplit('/').next().unwrap_or_default().to_string();
        match self.operations.get_mut(&id) {
            Some(Operation {
                left: 0,
                error: Some(e),
                ..
            }) => (
                200,
                vec![],
                json!({"status": "Failed", "error": e}).to_string(),
            ),
            Some(Operation { left: 0, .. }) => {
                (200, vec![], json!({"status": "Succeeded"}).to_string())
            }
            Some(op) => {
                op.left -= 1;
                (200, vec![], json!({"status": "InProgress"}).to_string())
            }
            None => not_found(key),
        }
    }

    fn put(&mut self, key: &str, path: &str, body: &str, base: &str) -> Answer {
        let value: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return arm_error(400, "InvalidRequestContent", &e.to_string()),
        };
        let name = path.rsplit('/').next().unwrap_or_default();
        if let Some(error) = self.refusals.get(&name.to_ascii_lowercase()) {
            return (409, vec![], json!({ "error": error }).to_string());
        }
        if key.contains("/microsoft.resources/deployments/") {
            return self.deploy(key, path, value, base);
        }
        if key.contains("/providers/microsoft.devtestlab/schedules/") {
            if let Err(why) = cost::check_auto_shutdown(&self.resources, name, &value) {
                return arm_error(400, "BadRequest", &why);
            }
            let value = self.store(key, path, value);
            return (201, vec![], value.to_string());
        }
        if key.contains("/providers/microsoft.consumption/budgets/") {
            if let Err(why) = cost::check_budget(&value) {
                return arm_error(400, "BadRequest", &why);
            }
            let value = self.store(key, path, value);
            return (201, vec![], value.to_string());
        }
        let mut time_created = None;
        if key.contains("/providers/microsoft.compute/snapshots/") {
            match self.disks.check_snapshot(&self.resources, &value) {
                Ok(at) => time_created = Some(at),
                Err((status, code, message)) => return arm_error(status, code, &message),
            }
        }
        if key.contains("/providers/microsoft.compute/disks/") {
            if let Err((status, code, message)) =
                disks::DiskData::check_disk(&self.resources, &value)
            {
                return arm_error(status, code, &message);
            }
            time_created = Some(disks::rfc3339(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64,
            ));
        }
        if key.contains("/providers/microsoft.compute/virtualmachines/")
            && key.split('/').count() == 9
            && !self.resources.contains_key(key)
            && let Err((status, code, message)) =
                disks::DiskData::check_new_vm(&self.resources, &value)
        {
            return arm_error(status, code, &message);
        }
        if key.contains("/providers/microsoft.compute/virtualmachines/")
            && key.split('/').count() == 9
            && let Some(existing) = self.resources.get(key).cloned()
            && let Err((status, code, message)) =
                disks::DiskData::check_swap(&mut self.resources, path, &existing, &value)
        {
            return arm_error(status, code, &message);
        }
        if is_storage_account(key)
            && let Err((status, code, message)) =
                storage::FilesData::check_account(&self.resources, &value)
        {
            return arm_error(status, code, &message);
        }
        let share_of = storage::account_of_share(key).map(str::to_string);
        if let Some(account) = &share_of
            && let Err((status, code, message)) =
                storage::FilesData::check_share(&self.resources, account, &value)
        {
            return arm_error(status, code, &message);
        }
        if share_of.is_some() {
            let squash = value["properties"]["rootSquash"].as_str().unwrap_or("-");
            self.files.squashes.push(squash.to_string());
        }
        let group_only = key.split('/').filter(|s| !s.is_empty()).count() == 4;
        let mut value = value;
        if let Some(at) = time_created {
            value["properties"]["timeCreated"] = json!(at);
            if key.contains("/disks/") {
                value["properties"]["diskState"] = json!("Unattached");
            }
        }
        let value = self.store(key, path, value);
        self.disk_hooks(key, &value);
        if group_only || key.contains("/blobservices/default/containers/") || share_of.is_some() {
            return (201, vec![], value.to_string());
        }
        if is_storage_account(key) {
            let id = self.begin(None, Some(value));
            let sub = key.split('/').nth(2).unwrap_or_default();
            let location = format!(
                "{base}/subscriptions/{sub}/providers/Microsoft.Storage/locations/westus2/asyncoperations/{id}?monitor=true"
            );
            return (
                202,
                vec![
                    ("location".into(), location),
                    ("retry-after".into(), "0".into()),
                ],
                String::new(),
            );
        }
        let (_, ao) = self.operation(base, provider_of(key));
        let mut pending = value;
        pending["properties"]["provisioningState"] = json!("Updating");
        (
            201,
            vec![("azure-asyncoperation".into(), ao)],
            pending.to_string(),
        )
    }

    /// Keep a resource as ARM would after making it; what ARM returns.
    fn store(&mut self, key: &str, path: &str, mut value: Value) -> Value {
        let name = path.rsplit('/').next().unwrap_or_default();
        value["id"] = json!(path);
        value["name"] = json!(name);
        self.created
            .entry(key.to_string())
            .or_insert_with(|| jiff::Timestamp::now().to_string());
        if key.contains("/microsoft.network/privateendpoints/") {
            // ARM makes the endpoint's NIC, owned by it.
            let group = &path[..path.to_ascii_lowercase().find("/providers/").unwrap_or(0)];
            let nic = format!("{group}/providers/Microsoft.Network/networkInterfaces/{name}.nic.0");
            let body = json!({"location": value["location"], "properties": {
                "ipConfigurations": [], "privateEndpoint": {"id": path}}});
            self.store(&nic.to_ascii_lowercase(), &nic, body);
            value["properties"]["networkInterfaces"] = json!([{ "id": nic }]);
        }
        let group_only = key.split('/').filter(|s| !s.is_empty()).count() == 4;
        if group_only {
            value["properties"] = json!({"provisioningState": "Succeeded"});
            self.resources.insert(key.to_string(), value.clone());
            return value;
        }
        if value.get("properties").is_none() {
            value["properties"] = json!({});
        }
        value["properties"]["provisioningState"] = json!("Succeeded");
        if key.contains("/virtualnetworks/")
            && let Some(subnets) = value["properties"]["subnets"].as_array_mut()
        {
            for s in subnets {
                let sub = format!("{path}/subnets/{}", s["name"].as_str().unwrap_or(""));
                s["id"] = json!(sub);
                s["properties"]["provisioningState"] = json!("Succeeded");
                self.resources.insert(sub.to_ascii_lowercase(), s.clone());
            }
        }
        if is_storage_account(key) {
            let existing = self.storage_keys.get(key).cloned();
            let account_key = existing.unwrap_or_else(|| match &self.blob {
                Some(b) => b.add_account(name),
                None => {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD.encode(name.repeat(3))
                }
            });
            self.storage_keys.insert(key.to_string(), account_key);
            let endpoint = match &self.blob {
                Some(b) => format!("{}/{name}/", b.base()),
                None => format!("https://{name}.blob.core.windows.net/"),
            };
            value["properties"]["primaryEndpoints"] = json!({ "blob": endpoint });
        }
        if let Some((account, container)) = key
            .split_once("/providers/microsoft.storage/storageaccounts/")
            .and_then(|(_, rest)| rest.split_once("/blobservices/default/containers/"))
            && let Some(blob) = &self.blob
        {
            blob.add_container(account, container);
        }
        if key.contains("/publicipaddresses/") {
            self.next_ip += 1;
            value["properties"]["ipAddress"] =
                json!(format!("127.{}.0.{}", self.ip_block, self.next_ip));
        }
        if key.contains("/networkinterfaces/")
            && let Some(configs) = value["properties"]["ipConfigurations"].as_array_mut()
        {
            for c in configs {
                c["properties"]["privateIPAddress"] =
                    json!(format!("10.42.0.{}", self.next_ip + 3));
                // ARM links a public IP back to the configuration using it.
                let config_id = format!(
                    "{path}/ipConfigurations/{}",
                    c["name"].as_str().unwrap_or("ipconfig1")
                );
                if let Some(ip) = c["properties"]["publicIPAddress"]["id"].as_str()
                    && let Some(ip) = self.resources.get_mut(&ip.to_ascii_lowercase())
                {
                    ip["properties"]["ipConfiguration"] = json!({ "id": config_id });
                }
            }
        }
        let mut created_vm = None;
        if key.contains("/virtualmachines/")
            && let Some(existing) = self.resources.get(key)
        {
            // An update (resize, tags): the VM keeps running as it was.
            value["powerState"] = existing["powerState"].clone();
        } else if key.contains("/virtualmachines/") {
            value["powerState"] = json!("running");
            let storage = &mut value["properties"]["storageProfile"];
            let attach = storage["osDisk"]["createOption"] == "Attach";
            let mut disks: Vec<String> = storage["dataDisks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["createOption"] == "Attach")
                .filter_map(|d| d["managedDisk"]["id"].as_str().map(str::to_ascii_lowercase))
                .collect();
            if attach {
                let id = storage["osDisk"]["managedDisk"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let name = self.resources.get(&id).map(|d| d["name"].clone());
                storage["osDisk"]["name"] = name.unwrap_or_default();
                disks.push(id);
            } else {
                let disk = storage["osDisk"]["name"]
                    .as_str()
                    .unwrap_or("osdisk")
                    .to_string();
                let group = &path[..path.to_ascii_lowercase().find("/providers/").unwrap_or(0)];
                let disk_path = format!("{group}/providers/Microsoft.Compute/disks/{disk}");
                // ARM names the managed disk it made in the VM.
                storage["osDisk"]["managedDisk"]["id"] = json!(disk_path);
                self.resources.insert(
                    disk_path.to_ascii_lowercase(),
                    json!({"id": disk_path, "name": disk, "location": value["location"],
                           "managedBy": path,
                           "properties": {"provisioningState": "Succeeded", "diskState": "Attached"}}),
                );
            }
            for id in disks {
                if let Some(d) = self.resources.get_mut(&id) {
                    d["managedBy"] = json!(path);
                    d["properties"]["diskState"] = json!("Attached");
                }
            }
            let custom = value["properties"]["osProfile"]["customData"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            // ARM never returns custom data.
            if let Some(o) = value["properties"]
                .get_mut("osProfile")
                .and_then(Value::as_object_mut)
            {
                o.remove("customData");
            }
            let hook = self.hook_name(key, name);
            let os_disk = attach.then(|| {
                value["properties"]["storageProfile"]["osDisk"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            });
            created_vm = Some((hook, custom, self.public_ip_of(&value), os_disk));
        }
        self.resources.insert(key.to_string(), value.clone());
        if let (Some((vm, custom, ip, os_disk)), Some(hooks)) = (created_vm, self.hooks.as_mut()) {
            let ip = ip.unwrap_or_default();
            let moved = match os_disk {
                None => {
                    hooks.created(&vm, &custom, &ip);
                    None
                }
                Some(disk) => hooks.attached(&vm, &disk, &ip),
            };
            if let Some(address) = moved {
                self.readdress(&value, &address);
            }
        }
        value
    }

    /// Give the public IP of a VM body's NIC another address (the one its
    /// stand-in booted at).
    fn readdress(&mut self, vm: &Value, address: &str) {
        let Some(nic) = vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"].as_str()
        else {
            return;
        };
        let ip = self.resources.get(&nic.to_ascii_lowercase()).and_then(|n| {
            n["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"]["id"]
                .as_str()
                .map(str::to_ascii_lowercase)
        });
        if let Some(ip) = ip.and_then(|ip| self.resources.get_mut(&ip)) {
            ip["properties"]["ipAddress"] = json!(address);
        }
    }

    /// Tell the hooks of a snapshot or a disk copied from one, once made.
    fn disk_hooks(&mut self, key: &str, value: &Value) {
        let name = value["name"].as_str().unwrap_or_default().to_string();
        let source = value["properties"]["creationData"]["sourceResourceId"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if key.contains("/providers/microsoft.compute/snapshots/") {
            let disk = self.resources.get(&source).cloned().unwrap_or_default();
            let vm_key = disk["managedBy"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let os_of = self.resources.get(&vm_key).filter(|vm| {
                vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(&source))
            });
            let vm = os_of
                .map(|vm| vm["name"].as_str().unwrap_or_default().to_string())
                .map(|n| self.hook_name(&vm_key, &n));
            let disk_name = disk["name"].as_str().unwrap_or_default().to_string();
            if let Some(h) = self.hooks.as_mut() {
                h.snapshot_taken(vm.as_deref(), &disk_name, &name);
            }
        } else if key.contains("/providers/microsoft.compute/disks/")
            && value["properties"]["creationData"]["createOption"] == "Copy"
        {
            let snapshot = source.rsplit('/').next().unwrap_or_default().to_string();
            if let Some(h) = self.hooks.as_mut() {
                h.disk_copied(&snapshot, &name);
            }
        }
    }

    /// The public address of a VM body's NIC.
    fn public_ip_of(&self, vm: &Value) -> Option<String> {
        let nic = vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"].as_str()?;
        let nic = self.resources.get(&nic.to_ascii_lowercase())?;
        let ip = nic["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"]["id"]
            .as_str()?;
        self.resources.get(&ip.to_ascii_lowercase())?["properties"]["ipAddress"]
            .as_str()
            .map(String::from)
    }

    /// The Tags API on a resource: GET reads its tags, PUT replaces them.
    fn tags(&mut self, method: &str, owner: &str, path: &str, body: &str) -> Answer {
        let Some(resource) = self.resources.get_mut(owner) else {
            return not_found(owner);
        };
        match method {
            "GET" => {}
            "PUT" => {
                let Ok(v) = serde_json::from_str::<Value>(body) else {
                    return arm_error(400, "InvalidRequestContent", "not JSON");
                };
                resource["tags"] = v["properties"]["tags"].clone();
            }
            _ => return (405, vec![], String::new()),
        }
        let tags = resource.get("tags").cloned().unwrap_or(json!({}));
        (
            200,
            vec![],
            json!({"id": path, "name": "default", "type": "Microsoft.Resources/tags", "properties": {"tags": tags}}).to_string(),
        )
    }

    /// `…/{type}`: the resources of that type in the group (or, at
    /// subscription scope, in every group), as a page.
    fn list(&self, key: &str, query: &str) -> Option<Answer> {
        let (scope, after) = key.split_once("/providers/")?;
        if after.split('/').count() != 2 {
            return None;
        }
        if !scope.contains("/resourcegroups/") {
            let value: Vec<Value> = self
                .resources
                .iter()
                .filter(|(k, _)| {
                    k.starts_with(&format!("{scope}/resourcegroups/"))
                        && k.rsplit_once('/').is_some_and(|(parent, _)| {
                            parent.ends_with(&format!("/providers/{after}"))
                        })
                })
                .map(|(k, v)| self.shown(k, v, query))
                .collect();
            return Some((200, vec![], json!({ "value": value }).to_string()));
        }
        let prefix = format!("{key}/");
        let value: Vec<Value> = self
            .resources
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
            .map(|(k, v)| self.shown(k, v, ""))
            .collect();
        Some((200, vec![], json!({ "value": value }).to_string()))
    }

    /// A resource as GET shows it (a VM's power state only in its
    /// instance view).
    fn shown(&self, key: &str, v: &Value, query: &str) -> Value {
        let mut v = v.clone();
        if key.contains("/networksecuritygroups/") && !key.contains("/securityrules/") {
            // What uses it, as ARM fills in: NICs and subnets naming it.
            let uses = |kind: &str| -> Vec<Value> {
                self.resources
                    .iter()
                    .filter(|(k, r)| {
                        k.contains(kind)
                            && r["properties"]["networkSecurityGroup"]["id"]
                                .as_str()
                                .is_some_and(|id| id.eq_ignore_ascii_case(key))
                    })
                    .map(|(_, r)| json!({"id": r["id"]}))
                    .collect()
            };
            v["properties"]["networkInterfaces"] = json!(uses("/networkinterfaces/"));
            v["properties"]["subnets"] = json!(uses("/subnets/"));
        }
        if key.contains("/microsoft.network/publicipaddresses/") {
            in_use::show_ip(&self.resources, key, &mut v);
        }
        if key.contains("/microsoft.network/networkinterfaces/")
            && let Some(vm) = in_use::vm_of_nic(&self.resources, key)
        {
            v["properties"]["virtualMachine"] = json!({ "id": vm });
        }
        if key.contains("/virtualmachines/") {
            let power = v["powerState"].as_str().unwrap_or("running").to_string();
            v.as_object_mut().map(|o| o.remove("powerState"));
            let q = query.to_ascii_lowercase();
            if q.contains("instanceview") || q.contains("statusonly=true") {
                v["properties"]["instanceView"] = instance_view(&power);
            }
        }
        v
    }

    fn get(&self, key: &str, path: &str, query: &str) -> Answer {
        if let Some(vm) = key.strip_suffix("/instanceview")
            && let Some(v) = self.resources.get(vm)
        {
            let power = v["powerState"].as_str().unwrap_or("running");
            return (200, vec![], instance_view(power).to_string());
        }
        if let Some(group) = key.strip_suffix("/resources")
            && group.split('/').filter(|p| !p.is_empty()).count() == 4
        {
            if !self.resources.contains_key(group) {
                return not_found(&path[..group.len()]);
            }
            let list = in_use::group_list(&self.resources, &self.created, group, query);
            return (200, vec![], list.to_string());
        }
        let Some(v) = self.resources.get(key) else {
            return self.list(key, query).unwrap_or_else(|| not_found(path));
        };
        let mut v = self.shown(key, v, query);
        if storage::account_of_share(key).is_some() {
            self.files.shown(key, &mut v, query);
        }
        (200, vec![], v.to_string())
    }

    /// Run Command: the script goes to the test's stand-in for the VM
    /// (hooks); the answer is `202` with a `Location` that ends in the
    /// REST specs' result shape (a StdOut and a StdErr status).
    fn run_command(&mut self, vm_key: &str, body: &str, base: &str) -> Answer {
        let Some(vm) = self.resources.get(vm_key) else {
            return not_found(vm_key);
        };
        let name = vm["name"].as_str().unwrap_or_default().to_string();
        let power = vm["powerState"].as_str().unwrap_or("running").to_string();
        let hook = self.hook_name(vm_key, &name);
        if power != "running" {
            return arm_error(
                409,
                "OperationNotAllowed",
                &format!("Cannot run command on VM {name}: it is {power}."),
            );
        }
        let input: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return arm_error(400, "InvalidRequestContent", &e.to_string()),
        };
        if input["commandId"] != "RunShellScript" {
            return arm_error(400, "InvalidParameter", "commandId");
        }
        let script: Vec<String> = input["script"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let (out, err) = self
            .hooks
            .as_mut()
            .and_then(|h| h.run_command(&hook, &script))
            .unwrap_or_else(|| {
                (
                    String::new(),
                    format!("no stand-in runs commands on {name}"),
                )
            });
        let result = json!({"value": [
            {"code": "ComponentStatus/StdOut/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded", "message": out},
            {"code": "ComponentStatus/StdErr/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded", "message": err}
        ]});
        let id = self.begin(None, Some(result));
        let sub = vm_key.split('/').nth(2).unwrap_or_default();
        (
            202,
            vec![(
                "location".into(),
                format!(
                    "{base}/subscriptions/{sub}/providers/Microsoft.Compute/locations/westus2/asyncoperations/{id}?monitor=true"
                ),
            )],
            String::new(),
        )
    }

    fn action(&mut self, key: &str, body: &str, base: &str) -> Answer {
        let Some((vm_key, verb)) = key.rsplit_once('/') else {
            return not_found(key);
        };
        if verb == "runcommand" {
            return self.run_command(vm_key, body, base);
        }
        if verb == "listkeys" && is_storage_account(vm_key) {
            let Some(k) = self.storage_keys.get(vm_key) else {
                return not_found(vm_key);
            };
            return (
                200,
                vec![],
                json!({"keys": [
                    {"keyName": "key1", "value": k, "permissions": "FULL"},
                ]})
                .to_string(),
            );
        }
        let Some(vm) = self.resources.get_mut(vm_key) else {
            return not_found(vm_key);
        };
        let state = match verb {
            "start" | "restart" => "running",
            "deallocate" => "deallocated",
            "poweroff" => "stopped",
            _ => {
                return arm_error(400, "InvalidAction", verb);
            }
        };
        vm["powerState"] = json!(state);
        let name = vm["name"].as_str().unwrap_or_default().to_string();
        let name = self.hook_name(vm_key, &name);
        if let Some(h) = self.hooks.as_mut() {
            if verb == "restart" {
                h.power(&name, false);
            }
            h.power(&name, state == "running");
        }
        self.accepted(base, "Microsoft.Compute")
    }

    fn delete(&mut self, key: &str, base: &str) -> Answer {
        let Some(v) = self.resources.get(key) else {
            return (204, vec![], String::new());
        };
        if let Some(error) = v["name"].as_str().and_then(|n| self.delete_refusals.get(n)) {
            let status = error["status"].as_u64().unwrap_or(400) as u16;
            return (
                status,
                vec![],
                json!({ "error": error["error"] }).to_string(),
            );
        }
        if let Some((status, code, message)) =
            in_use::refusal(&self.resources, key, &self.shown(key, v, ""))
        {
            return arm_error(status, code, &message);
        }
        let v = self.resources.remove(key).expect("held");
        self.created.remove(key);
        if key.contains("/microsoft.network/networkinterfaces/") {
            // Its public IPs are on nothing now.
            let inside = format!("{key}/ipconfigurations/");
            for r in self.resources.values_mut() {
                if r["properties"]["ipConfiguration"]["id"]
                    .as_str()
                    .is_some_and(|c| c.to_ascii_lowercase().starts_with(&inside))
                {
                    r["properties"]
                        .as_object_mut()
                        .map(|p| p.remove("ipConfiguration"));
                }
            }
        }
        if is_storage_account(key) {
            // Its shares go with it.
            let inside = format!("{key}/");
            self.resources.retain(|k, _| !k.starts_with(&inside));
            self.storage_keys.remove(key);
        }
        if key.contains("/virtualmachines/") {
            let os = &v["properties"]["storageProfile"]["osDisk"];
            if os["deleteOption"] == "Delete" {
                let disk = match os["managedDisk"]["id"].as_str() {
                    Some(id) => id.to_ascii_lowercase(),
                    None => {
                        let group = &key[..key.find("/providers/").unwrap_or(0)];
                        format!(
                            "{group}/providers/microsoft.compute/disks/{}",
                            os["name"].as_str().unwrap_or_default().to_ascii_lowercase()
                        )
                    }
                };
                self.resources.remove(&disk);
            }
            for d in v["properties"]["storageProfile"]["dataDisks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["deleteOption"] == "Delete")
            {
                if let Some(id) = d["managedDisk"]["id"].as_str() {
                    self.resources.remove(&id.to_ascii_lowercase());
                }
            }
            // Disks it kept go on, attached to nothing.
            for d in self.resources.values_mut() {
                if d["managedBy"]
                    .as_str()
                    .is_some_and(|m| m.eq_ignore_ascii_case(key))
                {
                    d["managedBy"] = Value::Null;
                    d["properties"]["diskState"] = json!("Unattached");
                }
            }
            let hook = self.hook_name(key, v["name"].as_str().unwrap_or_default());
            self.hook_names.remove(key);
            if let Some(h) = self.hooks.as_mut() {
                h.deleted(&hook);
            }
        }
        self.accepted(base, provider_of(key))
    }

    /// `202 Accepted` with both async headers, as compute actions and
    /// deletes answer in the recordings.
    fn accepted(&mut self, base: &str, provider: &str) -> Answer {
        let (_, ao) = self.operation(base, provider);
        let location = format!("{ao}&monitor=true");
        (
            202,
            vec![
                ("azure-asyncoperation".into(), ao),
                ("location".into(), location),
            ],
            String::new(),
        )
    }
}

/// The value of `field eq 'value'` in an OData `$filter` of `and`s.
fn filter_value(filter: &str, field: &str) -> Option<String> {
    filter.split(" and ").find_map(|clause| {
        let (f, rest) = clause.trim().split_once(" eq ")?;
        f.trim()
            .eq_ignore_ascii_case(field)
            .then(|| rest.trim().trim_matches('\'').to_string())
    })
}

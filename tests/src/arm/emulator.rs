//! What the fake ARM does with requests no recording covers: it keeps the
//! resources a client PUTs and answers in the shapes the recordings show —
//! a network or compute PUT is `201` with `Azure-AsyncOperation`, whose
//! status reads `InProgress` and then `Succeeded`, and a final GET returns
//! the resource with `provisioningState: Succeeded`; VM actions and DELETE
//! are `202` with `Azure-AsyncOperation` and `Location`; a missing resource
//! is `404 ResourceNotFound`. It also lists a group's resources of a type,
//! answers a VM's `instanceView`, keeps tags through the Tags API
//! (`…/providers/Microsoft.Resources/tags/default`) and runs template
//! deployments ([`deployment`]). Public IPs get loopback addresses
//! (127.B.0.N, B random per emulator), so a test can "boot" a VM's agent
//! there ([`VmHooks`]).

use std::collections::BTreeMap;

mod deployment;

use serde_json::{Value, json};

/// What a test does when a VM is created, powered or deleted.
pub trait VmHooks: Send {
    /// A VM was created: its name, its custom data (base64) and its public
    /// address.
    fn created(&mut self, vm: &str, custom_data: &str, public_ip: &str);
    /// The VM stops running (`deallocate`, `powerOff`) or runs again.
    fn power(&mut self, vm: &str, running: bool);
    fn deleted(&mut self, vm: &str);
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
}

/// An operation in flight: `InProgress` polls left, then its end.
struct Operation {
    left: u32,
    /// `None`: it succeeds.
    error: Option<Value>,
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

fn not_found(path: &str) -> Answer {
    (
        404,
        vec![],
        json!({"error": {"code": "ResourceNotFound", "message": format!("The Resource '{path}' was not found.")}})
            .to_string(),
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
            ..Self::default()
        }
    }

    /// Every resource path held now.
    pub fn paths(&self) -> Vec<String> {
        self.resources.keys().cloned().collect()
    }

    pub fn resource(&self, path: &str) -> Option<Value> {
        self.resources.get(&path.to_ascii_lowercase()).cloned()
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
        if key.contains("/operations/") || key.contains("/operationstatuses/") {
            return self.poll(&key);
        }
        if let Some(owner) = key.strip_suffix("/providers/microsoft.resources/tags/default") {
            return self.tags(method, owner, path, body);
        }
        match method {
            "PUT" => self.put(&key, path, body, base),
            "GET" => self.get(&key, path, query),
            "POST" => self.action(&key, base),
            "DELETE" => self.delete(&key, base),
            _ => (405, vec![], String::new()),
        }
    }

    fn operation(&mut self, base: &str, provider: &str) -> (String, String) {
        let id = self.begin(None);
        let url = format!(
            "{base}/subscriptions/00000000-0000-0000-0000-000000000000/providers/{provider}/locations/westus2/operations/{id}?api-version=1"
        );
        (id, url)
    }

    fn begin(&mut self, error: Option<Value>) -> String {
        self.next_op += 1;
        let id = format!("op{:08}", self.next_op);
        let left = self.polls_per_operation;
        self.operations
            .insert(id.clone(), Operation { left, error });
        id
    }

    fn poll(&mut self, key: &str) -> Answer {
        let id = key.rsplit('/').next().unwrap_or_default().to_string();
        match self.operations.get_mut(&id) {
            Some(Operation {
                left: 0,
                error: Some(e),
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
            Err(e) => {
                return (
                    400,
                    vec![],
                    json!({"error": {"code": "InvalidRequestContent", "message": e.to_string()}})
                        .to_string(),
                );
            }
        };
        let name = path.rsplit('/').next().unwrap_or_default();
        if let Some(error) = self.refusals.get(&name.to_ascii_lowercase()) {
            return (409, vec![], json!({ "error": error }).to_string());
        }
        if key.contains("/microsoft.resources/deployments/") {
            return self.deploy(key, path, value, base);
        }
        let group_only = key.split('/').filter(|s| !s.is_empty()).count() == 4;
        let value = self.store(key, path, value);
        if group_only {
            return (201, vec![], value.to_string());
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
            let disk = value["properties"]["storageProfile"]["osDisk"]["name"]
                .as_str()
                .unwrap_or("osdisk")
                .to_string();
            let group = &path[..path.to_ascii_lowercase().find("/providers/").unwrap_or(0)];
            let disk_path = format!("{group}/providers/Microsoft.Compute/disks/{disk}");
            self.resources.insert(
                disk_path.to_ascii_lowercase(),
                json!({"id": disk_path, "name": disk, "location": value["location"], "properties": {"provisioningState": "Succeeded"}}),
            );
            let custom = value["properties"]["osProfile"]["customData"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            // ARM never returns custom data.
            value["properties"]["osProfile"]
                .as_object_mut()
                .map(|o| o.remove("customData"));
            created_vm = Some((name.to_string(), custom, self.public_ip_of(&value)));
        }
        self.resources.insert(key.to_string(), value.clone());
        if let (Some((vm, custom, ip)), Some(hooks)) = (created_vm, self.hooks.as_mut()) {
            hooks.created(&vm, &custom, &ip.unwrap_or_default());
        }
        value
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
                    return (
                        400,
                        vec![],
                        json!({"error": {"code": "InvalidRequestContent", "message": "not JSON"}})
                            .to_string(),
                    );
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

    /// `…/{type}`: the resources of that type in the group, as a page.
    fn list(&self, key: &str) -> Option<Answer> {
        let after = key.split("/providers/").nth(1)?;
        if after.split('/').count() != 2 {
            return None;
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
        if key.contains("/virtualmachines/") {
            let power = v["powerState"].as_str().unwrap_or("running").to_string();
            v.as_object_mut().map(|o| o.remove("powerState"));
            if query.to_ascii_lowercase().contains("instanceview") {
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
        let Some(v) = self.resources.get(key) else {
            return self.list(key).unwrap_or_else(|| not_found(path));
        };
        let v = self.shown(key, v, query);
        (200, vec![], v.to_string())
    }

    fn action(&mut self, key: &str, base: &str) -> Answer {
        let Some((vm_key, verb)) = key.rsplit_once('/') else {
            return not_found(key);
        };
        let Some(vm) = self.resources.get_mut(vm_key) else {
            return not_found(vm_key);
        };
        let state = match verb {
            "start" | "restart" => "running",
            "deallocate" => "deallocated",
            "poweroff" => "stopped",
            _ => {
                return (
                    400,
                    vec![],
                    json!({"error": {"code": "InvalidAction", "message": verb}}).to_string(),
                );
            }
        };
        vm["powerState"] = json!(state);
        let name = vm["name"].as_str().unwrap_or_default().to_string();
        if let Some(h) = self.hooks.as_mut() {
            if verb == "restart" {
                h.power(&name, false);
            }
            h.power(&name, state == "running");
        }
        self.accepted(base, "Microsoft.Compute")
    }

    fn delete(&mut self, key: &str, base: &str) -> Answer {
        let Some(v) = self.resources.remove(key) else {
            return (204, vec![], String::new());
        };
        if key.contains("/virtualmachines/") {
            if v["properties"]["storageProfile"]["osDisk"]["deleteOption"] == "Delete" {
                let disk = v["properties"]["storageProfile"]["osDisk"]["name"]
                    .as_str()
                    .unwrap_or_default();
                let group = &key[..key.find("/providers/").unwrap_or(0)];
                self.resources.remove(&format!(
                    "{group}/providers/microsoft.compute/disks/{}",
                    disk.to_ascii_lowercase()
                ));
            }
            if let Some(h) = self.hooks.as_mut() {
                h.deleted(v["name"].as_str().unwrap_or_default());
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

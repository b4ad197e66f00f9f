//! Template deployments in the emulator, as ARM runs the literal templates
//! azlin sends: each resource of `template.resources` is made in order
//! (azlin lists them in dependency order), `[[` unescaped to `[`, and the
//! outputs' `[reference('ID').a.b[0].c]` expressions evaluated against what
//! was made. A refused resource fails the deployment there, with the
//! resource's error nested as ARM nests it (`DeploymentFailed` → a JSON
//! operation status in a detail's message → the resource's error); what
//! was made before it stays, as on Azure. Any other expression is refused
//! as `InvalidTemplate`, so the emulator never silently accepts what it
//! cannot evaluate.

use serde_json::{Value, json};

use super::{Answer, Emulator};

impl Emulator {
    pub(super) fn deploy(&mut self, key: &str, path: &str, body: Value, base: &str) -> Answer {
        let template = &body["properties"]["template"];
        let Some(resources) = template["resources"].as_array() else {
            return invalid("the template has no resources");
        };
        let group = &path[..path.to_ascii_lowercase().find("/providers/").unwrap_or(0)];
        let mut error = None;
        for r in resources {
            let (Some(kind), Some(name)) = (r["type"].as_str(), r["name"].as_str()) else {
                return invalid("a resource without type or name");
            };
            if let Some(e) = find_expression(r) {
                return invalid(&format!("{name}: expression {e} is not supported here"));
            }
            if let Some(e) = self.refusals.get(&name.to_ascii_lowercase()) {
                error = Some(deployment_failed(e));
                break;
            }
            let mut resource = r.clone();
            let o = resource.as_object_mut().unwrap();
            for field in ["type", "name", "apiVersion", "dependsOn"] {
                o.remove(field);
            }
            unescape(&mut resource);
            let rpath = format!("{group}/providers/{kind}/{name}");
            let key = rpath.to_ascii_lowercase();
            if kind.eq_ignore_ascii_case("Microsoft.Compute/virtualMachines")
                && !self.resources.contains_key(&key)
                && let Err((_, code, message)) =
                    super::disks::DiskData::check_new_vm(&self.resources, &resource)
            {
                error = Some(deployment_failed(
                    &json!({"code": code, "message": message}),
                ));
                break;
            }
            self.store(&key, &rpath, resource);
        }
        let mut outputs = json!({});
        if error.is_none()
            && let Some(declared) = template["outputs"].as_object()
        {
            for (name, o) in declared {
                let expr = o["value"].as_str().unwrap_or_default();
                match self.reference(expr) {
                    Some(v) => outputs[name] = json!({"type": "String", "value": v}),
                    None => return invalid(&format!("output {name}: cannot evaluate {expr}")),
                }
            }
        }
        let name = path.rsplit('/').next().unwrap_or_default();
        let state = if error.is_some() {
            "Failed"
        } else {
            "Succeeded"
        };
        let mut deployment = json!({
            "id": path,
            "name": name,
            "type": "Microsoft.Resources/deployments",
            "properties": {"mode": "Incremental", "provisioningState": state, "outputs": outputs},
        });
        if let Some(e) = &error {
            deployment["properties"]["error"] = e.clone();
        }
        self.resources.insert(key.to_string(), deployment.clone());
        let id = self.begin(error, None);
        let status = format!("{base}{path}/operationStatuses/{id}?api-version=2022-09-01");
        deployment["properties"]["provisioningState"] = json!("Accepted");
        deployment["properties"]
            .as_object_mut()
            .unwrap()
            .remove("outputs");
        (
            201,
            vec![("azure-asyncoperation".into(), status)],
            deployment.to_string(),
        )
    }

    /// `[reference('ID').a.b[0].c]`: the path into the resource's
    /// properties.
    fn reference(&self, expr: &str) -> Option<Value> {
        let rest = expr.strip_prefix("[reference('")?.strip_suffix(']')?;
        let (id, mut walk) = rest.split_once("')")?;
        let mut v = &self.resources.get(&id.to_ascii_lowercase())?["properties"];
        while let Some(step) = walk.strip_prefix('.') {
            let end = step.find(['.', '[']).unwrap_or(step.len());
            v = v.get(&step[..end])?;
            walk = &step[end..];
            while let Some(index) = walk.strip_prefix('[') {
                let (n, after) = index.split_once(']')?;
                v = v.get(n.parse::<usize>().ok()?)?;
                walk = after;
            }
        }
        walk.is_empty().then(|| v.clone())
    }
}

fn invalid(message: &str) -> Answer {
    (
        400,
        vec![],
        json!({"error": {"code": "InvalidTemplate", "message": message}}).to_string(),
    )
}

/// A string ARM would evaluate: `[…]` not escaped as `[[…]`.
fn find_expression(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.starts_with('[') && !s.starts_with("[[") && s.ends_with(']') => {
            Some(s.clone())
        }
        Value::Array(items) => items.iter().find_map(find_expression),
        Value::Object(map) => map.values().find_map(find_expression),
        _ => None,
    }
}

fn unescape(v: &mut Value) {
    match v {
        Value::String(s) if s.starts_with("[[") => {
            s.remove(0);
        }
        Value::Array(items) => items.iter_mut().for_each(unescape),
        Value::Object(map) => map.values_mut().for_each(unescape),
        _ => {}
    }
}

/// How ARM reports a resource's failure inside a deployment.
fn deployment_failed(resource_error: &Value) -> Value {
    let inner = json!({
        "status": "Failed",
        "error": {
            "code": "ResourceDeploymentFailure",
            "message": "The resource operation completed with terminal provisioning state 'Failed'.",
            "details": [resource_error],
        },
    });
    json!({
        "code": "DeploymentFailed",
        "message": "At least one resource deployment operation failed. Please list deployment operations for details.",
        "details": [{"code": "Conflict", "message": inner.to_string()}],
    })
}

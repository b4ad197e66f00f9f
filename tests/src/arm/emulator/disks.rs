//! Managed disks and snapshots as Azure answers them, strictly: a
//! snapshot is `Copy` of a disk that exists, incremental, in the disk's
//! region, and a disk has at most 7 incremental snapshots in 5 minutes
//! (`409 OperationNotAllowed` past that); a disk made by `Copy` names a
//! snapshot that exists; a VM's OS disk is swapped only while the VM is
//! deallocated (`409 OperationNotAllowed` otherwise), for a disk that
//! exists and is not attached elsewhere. A VM made by attaching its OS
//! disk (`createOption: Attach`, a clone's) names a disk that exists in
//! its region and is attached nowhere, says its `osType`, and has no OS
//! profile and no image (Azure refuses both with an attached OS disk);
//! so must each data disk it attaches.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// An ARM refusal: status, code, message.
pub type Refusal = (u16, &'static str, String);

/// Snapshots made, by lower-case source disk: unix seconds each.
#[derive(Default)]
pub struct DiskData {
    pub snapshots_of: BTreeMap<String, Vec<i64>>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// RFC 3339 for unix seconds, as ARM writes `timeCreated`.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.0000000+00:00",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

impl DiskData {
    /// Check a snapshot PUT and count it; the `timeCreated` to store.
    pub fn check_snapshot(
        &mut self,
        resources: &BTreeMap<String, Value>,
        body: &Value,
    ) -> Result<String, Refusal> {
        let creation = &body["properties"]["creationData"];
        if creation["createOption"] != "Copy" {
            return Err((400, "InvalidParameter", "createOption must be Copy".into()));
        }
        let Some(source) = creation["sourceResourceId"].as_str() else {
            return Err((
                400,
                "InvalidParameter",
                "sourceResourceId is required".into(),
            ));
        };
        let Some(disk) = resources.get(&source.to_ascii_lowercase()) else {
            return Err((404, "ResourceNotFound", format!("disk {source} not found")));
        };
        if body["properties"]["incremental"] != true {
            return Err((
                400,
                "InvalidParameter",
                "only incremental snapshots here".into(),
            ));
        }
        if body["location"] != disk["location"] {
            return Err((
                400,
                "InvalidParameter",
                "a snapshot must be in its disk's region".into(),
            ));
        }
        let at = now();
        let times = self
            .snapshots_of
            .entry(source.to_ascii_lowercase())
            .or_default();
        times.retain(|t| at - t < 300);
        if times.len() >= 7 {
            return Err((
                409,
                "OperationNotAllowed",
                "a disk may have 7 incremental snapshots in 5 minutes".into(),
            ));
        }
        times.push(at);
        Ok(rfc3339(at))
    }

    /// Check a disk PUT that copies a snapshot.
    pub fn check_disk(resources: &BTreeMap<String, Value>, body: &Value) -> Result<(), Refusal> {
        let creation = &body["properties"]["creationData"];
        if creation["createOption"] == "Copy" {
            let source = creation["sourceResourceId"].as_str().unwrap_or_default();
            if !source
                .to_ascii_lowercase()
                .contains("/microsoft.compute/snapshots/")
                || !resources.contains_key(&source.to_ascii_lowercase())
            {
                return Err((
                    404,
                    "ResourceNotFound",
                    format!("snapshot {source} not found"),
                ));
            }
        }
        Ok(())
    }

    /// Check a new VM's disks (see the module's doc).
    pub fn check_new_vm(resources: &BTreeMap<String, Value>, body: &Value) -> Result<(), Refusal> {
        let storage = &body["properties"]["storageProfile"];
        let os = &storage["osDisk"];
        let mut attached = Vec::new();
        if os["createOption"] == "Attach" {
            if body["properties"].get("osProfile").is_some() {
                return Err((
                    400,
                    "InvalidParameter",
                    "Parameter 'osProfile' is not allowed.".into(),
                ));
            }
            if storage.get("imageReference").is_some() {
                return Err((
                    400,
                    "InvalidParameter",
                    "Cannot specify an image reference with an attached OS disk.".into(),
                ));
            }
            if !os["osType"].is_string() {
                return Err((
                    400,
                    "InvalidParameter",
                    "Required parameter 'osDisk.osType' is missing (null).".into(),
                ));
            }
            attached.push(&os["managedDisk"]["id"]);
        }
        let mut luns = Vec::new();
        for d in storage["dataDisks"].as_array().into_iter().flatten() {
            let lun = d["lun"].as_i64().unwrap_or(-1);
            if luns.contains(&lun) || !(0..64).contains(&lun) {
                return Err((
                    400,
                    "InvalidParameter",
                    format!("bad or repeated LUN {lun}"),
                ));
            }
            luns.push(lun);
            if d["createOption"] == "Attach" {
                attached.push(&d["managedDisk"]["id"]);
            }
        }
        for id in attached {
            let Some(id) = id.as_str() else {
                return Err((
                    400,
                    "InvalidParameter",
                    "an attached disk needs managedDisk.id".into(),
                ));
            };
            match resources.get(&id.to_ascii_lowercase()) {
                None => return Err((404, "NotFound", format!("disk {id} not found"))),
                Some(d) if d["managedBy"].as_str().is_some_and(|m| !m.is_empty()) => {
                    return Err((
                        409,
                        "OperationNotAllowed",
                        format!("disk {id} is attached to {}", d["managedBy"]),
                    ));
                }
                Some(d) if d["location"] != body["location"] => {
                    return Err((
                        400,
                        "InvalidParameter",
                        format!("disk {id} is in another region than the VM"),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Check a VM update against the VM as it is: a new OS disk only
    /// while deallocated. Then each disk's `managedBy` follows.
    pub fn check_swap(
        resources: &mut BTreeMap<String, Value>,
        vm_path: &str,
        existing: &Value,
        body: &Value,
    ) -> Result<(), Refusal> {
        let id = |v: &Value| {
            v["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
                .as_str()
                .map(str::to_ascii_lowercase)
        };
        let (old, new) = (id(existing), id(body));
        if old == new || new.is_none() {
            return Ok(());
        }
        if existing["powerState"] != "deallocated" {
            return Err((
                409,
                "OperationNotAllowed",
                "the OS disk can be swapped only while the VM is deallocated".into(),
            ));
        }
        let new = new.unwrap_or_default();
        match resources.get(&new) {
            None => return Err((404, "ResourceNotFound", format!("disk {new} not found"))),
            Some(d) if d["managedBy"].as_str().is_some_and(|m| !m.is_empty()) => {
                return Err((
                    409,
                    "OperationNotAllowed",
                    format!("disk {new} is attached"),
                ));
            }
            Some(_) => {}
        }
        if let Some(d) = resources.get_mut(&new) {
            d["managedBy"] = json!(vm_path);
            d["properties"]["diskState"] = json!("Reserved");
        }
        if let Some(d) = old.and_then(|o| resources.get_mut(&o)) {
            d["managedBy"] = Value::Null;
            d["properties"]["diskState"] = json!("Unattached");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_written_as_arm_writes_them() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.0000000+00:00");
        assert_eq!(
            super::rfc3339(1_796_410_901),
            "2026-12-04T19:01:41.0000000+00:00"
        );
    }
}

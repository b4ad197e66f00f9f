//! The user's own cloud-config (`--cloud-init-extra FILE`, a template's
//! `cloud_init_extra`), merged after azlin's parts: its `bootcmd`,
//! `runcmd`, `write_files`, `packages` and `users` run (or are written)
//! after azlin's, and keys azlin does not set are added. A key azlin sets
//! otherwise (`hostname`, …) is refused rather than silently replaced,
//! since azlin's VM depends on it; so is anything not a `#cloud-config`
//! YAML mapping.
//!
//! The merged document is written as JSON after the `#cloud-config` line
//! (YAML reads JSON), so what the user wrote cannot change how azlin's
//! part reads.

use serde_json::{Map, Value};

/// Keys whose lists the user's part extends.
pub const APPENDED: &[&str] = &["bootcmd", "runcmd", "write_files", "packages", "users"];

/// Keys azlin sets for the VM itself, which the user's part may not set.
pub const OWN: &[&str] = &["hostname", "preserve_hostname", "ssh_pwauth"];

/// Largest extra part taken.
pub const MAX_EXTRA: usize = 32 * 1024;

/// Why an extra part is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExtraError {
    #[error("it is {0} bytes; at most {MAX_EXTRA} are taken")]
    TooLarge(usize),
    #[error("it must begin with the line #cloud-config (only cloud-config is merged)")]
    NotCloudConfig,
    #[error("it is not YAML: {0}")]
    Yaml(String),
    #[error("it must be a mapping of cloud-config keys")]
    NotMapping,
    #[error("{0:?} must be a list, to be added after azlin's")]
    NotList(String),
    #[error("it sets {0:?}, which azlin sets for the VM itself; leave it out")]
    Conflict(String),
}

/// The user's part, checked: a mapping of cloud-config keys.
pub fn parse(text: &str) -> Result<Map<String, Value>, ExtraError> {
    if text.len() > MAX_EXTRA {
        return Err(ExtraError::TooLarge(text.len()));
    }
    if text.lines().next().map(str::trim_end) != Some("#cloud-config") {
        return Err(ExtraError::NotCloudConfig);
    }
    let value: Value = serde_saphyr::from_str(text).map_err(|e| ExtraError::Yaml(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(ExtraError::NotMapping);
    };
    if let Some(key) = map.keys().find(|k| OWN.contains(&k.as_str())) {
        return Err(ExtraError::Conflict(key.clone()));
    }
    for key in APPENDED {
        if let Some(v) = map.get(*key)
            && !v.is_array()
        {
            return Err(ExtraError::NotList(key.to_string()));
        }
    }
    Ok(map)
}

/// azlin's rendered document with `extra` merged after it.
pub fn merge(rendered: &str, extra: &str) -> Result<String, ExtraError> {
    let theirs = parse(extra)?;
    let ours: Value = serde_saphyr::from_str(rendered)
        .map_err(|e| ExtraError::Yaml(format!("azlin's own part: {e}")))?;
    let Value::Object(mut ours) = ours else {
        return Err(ExtraError::NotMapping);
    };
    for (key, value) in theirs {
        match (ours.get_mut(&key), value) {
            (None, value) => {
                ours.insert(key, value);
            }
            (Some(Value::Array(mine)), Value::Array(more)) if APPENDED.contains(&key.as_str()) => {
                mine.extend(more);
            }
            (Some(_), _) => return Err(ExtraError::Conflict(key)),
        }
    }
    let json = serde_json::to_string_pretty(&Value::Object(ours))
        .map_err(|e| ExtraError::Yaml(e.to_string()))?;
    Ok(format!(
        "#cloud-config\n# rendered by azlin, with the user's cloud-config merged after its parts\n{json}\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str =
        "#cloud-config\nhostname: dev\nruncmd:\n  - [a]\nwrite_files:\n  - path: /x\n";

    #[test]
    fn lists_are_extended_after_azlins_and_new_keys_added() {
        let extra = "#cloud-config\nruncmd:\n  - echo mine\npackages: [htop]\ntimezone: UTC\n";
        let merged = merge(OURS, extra).unwrap();
        assert!(merged.starts_with("#cloud-config\n"));
        let v: Value = serde_saphyr::from_str(&merged).unwrap();
        assert_eq!(v["runcmd"], serde_json::json!([["a"], "echo mine"]));
        assert_eq!(v["packages"], serde_json::json!(["htop"]));
        assert_eq!(v["timezone"], "UTC");
        assert_eq!(v["hostname"], "dev");
    }

    #[test]
    fn what_azlin_sets_and_what_is_not_cloud_config_are_refused() {
        for (extra, err) in [
            (
                "#cloud-config\nhostname: other\n",
                ExtraError::Conflict("hostname".into()),
            ),
            ("#!/bin/sh\necho hi\n", ExtraError::NotCloudConfig),
            ("#cloud-config\n- a\n- b\n", ExtraError::NotMapping),
            (
                "#cloud-config\nruncmd: echo\n",
                ExtraError::NotList("runcmd".into()),
            ),
        ] {
            assert_eq!(merge(OURS, extra).unwrap_err(), err, "{extra}");
        }
        assert!(matches!(
            merge(OURS, "#cloud-config\nruncmd: [\n"),
            Err(ExtraError::Yaml(_))
        ));
        // Every key azlin's own part sets is one or the other.
        let ours: Value = serde_saphyr::from_str(OURS).unwrap();
        for key in ours.as_object().unwrap().keys() {
            assert!(
                OWN.contains(&key.as_str()) || APPENDED.contains(&key.as_str()),
                "{key}"
            );
        }
        let big = format!("#cloud-config\n#{}\n", "x".repeat(MAX_EXTRA));
        assert!(matches!(merge(OURS, &big), Err(ExtraError::TooLarge(_))));
    }
}

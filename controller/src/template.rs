//! VM templates: named sets of `azlin new` choices kept as TOML files in
//! `~/.azlin/templates/NAME.toml`, so `new --template NAME` makes the same
//! VM each time (flags given with it win). What a template holds is
//! checked when it is made and again when it is read: a file broken by
//! hand is reported as `FILE:LINE:COLUMN`, an unknown key included. A
//! template's cloud-init extra is kept in it (the file it came from may
//! change or go) and checked as `new` would merge it.
//!
//! Not here: making the VM (the daemon's `new`), the commands
//! (`cli::template`).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::home::Home;

/// What a template chooses; what it leaves out, `new` decides as usual.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_size: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_dev_tools: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs_storage: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The user's `#cloud-config`, merged after azlin's parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init_extra: Option<String>,
}

/// A template's name: 1 to 63 of `a-z`, `0-9`, `-` (it is a file name).
pub fn check_name(name: &str) -> Result<()> {
    azlin_protocol::pki::check_vm_name(name).map_err(|_| {
        anyhow::anyhow!(
            "{name:?} cannot be a template name: use 1 to 63 lower-case letters, digits and '-', \
             not starting or ending with '-'"
        )
    })
}

/// Where template `name` is kept.
pub fn path(home: &Home, name: &str) -> Result<PathBuf> {
    check_name(name)?;
    Ok(home.root().join("templates").join(format!("{name}.toml")))
}

impl Template {
    /// Check what is in it, as `new` would: tags, the cloud-init extra.
    pub fn check(&self) -> Result<()> {
        for (k, v) in &self.tags {
            crate::state::tags::parse_tag(&format!("{k}={v}"))?;
        }
        if let Some(extra) = &self.cloud_init_extra {
            azlin_cloud_init::extra::parse(extra)
                .map_err(|e| anyhow::anyhow!("the cloud-init extra is refused: {e}"))?;
        }
        Ok(())
    }

    /// The template in `text` (read from `file`), checked; errors name
    /// `FILE:LINE:COLUMN` where the TOML says.
    pub fn parse(file: &Path, text: &str) -> Result<Template> {
        let template: Template = toml::from_str(text).map_err(|e| {
            let (line, column) =
                crate::text_position::line_column(text, e.span().map_or(0, |s| s.start));
            anyhow::anyhow!(
                "{}:{line}:{column}: {}; fix it or delete it (azlin template delete)",
                file.display(),
                e.message()
            )
        })?;
        template
            .check()
            .with_context(|| format!("{} does not check", file.display()))?;
        Ok(template)
    }

    /// Template `name` from `home`.
    pub fn load(home: &Home, name: &str) -> Result<Template> {
        let file = path(home, name)?;
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let there = list(home).unwrap_or_default();
                bail!(
                    "no template named {name}{}: `azlin template create {name} …` makes one",
                    if there.is_empty() {
                        String::new()
                    } else {
                        format!(" (there are: {})", there.join(", "))
                    }
                );
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        Template::parse(&file, &text)
    }

    /// The TOML written for it.
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

/// The names of the templates there are, sorted.
pub fn list(home: &Home) -> Result<Vec<String>> {
    let dir = home.root().join("templates");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".toml")?.to_string();
            check_name(&stem).is_ok().then_some(stem)
        })
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_round_trips_and_a_broken_one_is_placed() {
        let t = Template {
            provider: Some("docker".into()),
            no_dev_tools: true,
            tags: BTreeMap::from([("team".into(), "web".into())]),
            cloud_init_extra: Some("#cloud-config\nruncmd:\n  - echo hi\n".into()),
            ..Default::default()
        };
        let text = t.to_toml().unwrap();
        assert_eq!(Template::parse(Path::new("t.toml"), &text).unwrap(), t);
        let err = Template::parse(Path::new("t.toml"), "size = \"a\"\ncolour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.toml:2:1: unknown field `colour`"),
            "{err}"
        );
        let err = Template::parse(Path::new("t.toml"), "disk_size = \"big\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.toml:1:13:"), "{err}");
        let bad = "cloud_init_extra = \"#!/bin/sh\\necho\"\n";
        let err = format!(
            "{:#}",
            Template::parse(Path::new("t.toml"), bad).unwrap_err()
        );
        assert!(err.contains("#cloud-config"), "{err}");
        assert!(check_name("../x").is_err() && check_name("web-1").is_ok());
    }
}

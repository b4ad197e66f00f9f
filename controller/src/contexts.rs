//! Named Azure contexts (kubectl-style), kept in `~/.azlin/contexts.toml`:
//! each names a subscription and, optionally, the tenant to sign in to,
//! the resource group and the region azlin works in there. One may be the
//! current one; `--context NAME` chooses another for one command.
//!
//! A context is where a command works when no `--subscription` /
//! `--resource-group` is given: new VMs go there, and the commands that
//! act on VMs see only the Azure VMs there (VMs of other providers belong
//! to no context and are always seen). Without any context, everything is
//! as before: `config.toml`'s `[azure]` decides.
//!
//! The file is checked whole when read (a broken one is reported as
//! `FILE:LINE:COLUMN`) and replaced atomically when written, so a command
//! never sees half of it.
//!
//! Not here: proving a subscription reachable (`context use` asks the
//! daemon, which asks ARM once) or the commands (`cli::context`).

use std::{collections::BTreeMap, path::Path, sync::OnceLock};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::{azure::subscription::is_guid, home::Home};

/// One context as written in the file. Every field is always serialized
/// (requests carry it as postcard, which cannot skip fields); TOML leaves
/// out the `None`s on its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub subscription: String,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub resource_group: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contexts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contexts: BTreeMap<String, Context>,
}

/// A context chosen for a command, as the request carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chosen {
    pub name: String,
    pub context: Context,
}

/// A context's name: 1 to 63 of letters, digits, `.`, `_`, `-`, starting
/// with a letter or digit (it is shown in prompts and typed in flags).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        bail!(
            "{name:?} cannot be a context name: use 1 to 63 letters, digits, '.', '_' and '-', \
             starting with a letter or digit"
        );
    }
    Ok(())
}

impl Context {
    /// Check every field: a subscription id (GUID), a tenant (GUID or
    /// domain), a resource group and a region as Azure names them.
    pub fn check(&self) -> Result<()> {
        if !is_guid(&self.subscription) {
            bail!(
                "subscription {:?} is not a subscription id (a GUID; `az account list -o table` \
                 shows yours)",
                self.subscription
            );
        }
        if let Some(t) = &self.tenant {
            let ok = !t.is_empty()
                && t.len() <= 253
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
            if !ok {
                bail!("tenant {t:?} is not a tenant id (a GUID) or domain");
            }
        }
        if let Some(rg) = &self.resource_group {
            let ok = !rg.is_empty()
                && rg.chars().count() <= 90
                && !rg.ends_with('.')
                && rg
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '(' | ')'));
            if !ok {
                bail!(
                    "resource group {rg:?} is not one Azure allows (1 to 90 letters, digits, \
                     '.', '_', '-', '(', ')', not ending with '.')"
                );
            }
        }
        if let Some(r) = &self.region {
            let ok = !r.is_empty()
                && r.len() <= 40
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !ok {
                bail!("region {r:?} is not an Azure region name (such as westus2)");
            }
        }
        Ok(())
    }

    /// "subscription S, resource group R, region X, tenant T", for
    /// messages (what is not set is left out).
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("subscription {}", self.subscription)];
        if let Some(rg) = &self.resource_group {
            parts.push(format!("resource group {rg}"));
        }
        if let Some(r) = &self.region {
            parts.push(format!("region {r}"));
        }
        if let Some(t) = &self.tenant {
            parts.push(format!("tenant {t}"));
        }
        parts.join(", ")
    }
}

impl Contexts {
    /// The contexts in `text` (read from `file`), checked; errors name
    /// `FILE:LINE:COLUMN` where the TOML says.
    pub fn parse(file: &Path, text: &str) -> Result<Contexts> {
        let at = |offset: usize, message: &str| {
            let (line, column) = crate::text_position::line_column(text, offset);
            anyhow!(
                "{}:{line}:{column}: {message}; fix it, or manage contexts with `azlin context`",
                file.display()
            )
        };
        let parsed: Contexts =
            toml::from_str(text).map_err(|e| at(e.span().map_or(0, |s| s.start), e.message()))?;
        // Where a context's table starts, for errors about its values.
        let offset_of = |name: &str| {
            text.find(&format!("[contexts.{name}]"))
                .or_else(|| text.find(&format!("[contexts.\"{name}\"]")))
                .unwrap_or(0)
        };
        for (name, context) in &parsed.contexts {
            check_name(name).map_err(|e| at(offset_of(name), &e.to_string()))?;
            context
                .check()
                .map_err(|e| at(offset_of(name), &format!("context {name}: {e}")))?;
        }
        if let Some(current) = &parsed.current
            && !parsed.contexts.contains_key(current)
        {
            let offset = text.find("current").unwrap_or(0);
            return Err(at(
                offset,
                &format!("current names {current:?}, which is not a context here"),
            ));
        }
        Ok(parsed)
    }

    /// The contexts of `home` (none if it has no file).
    pub fn load(home: &Home) -> Result<Contexts> {
        let file = home.contexts_file();
        match std::fs::read_to_string(&file) {
            Ok(text) => Contexts::parse(&file, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Contexts::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
        }
    }

    /// Replace `home`'s file with these contexts, atomically (0600: it
    /// says which subscriptions and tenants are used).
    pub fn save(&self, home: &Home) -> Result<()> {
        let mut text = String::from(
            "# azlin's Azure contexts; `azlin context --help` says how to change them.\n",
        );
        text.push_str(&toml::to_string_pretty(self)?);
        let file = home.contexts_file();
        azlin_protocol::secret_file::write_atomic(&file, text.as_bytes(), 0o600)
            .with_context(|| format!("cannot write {}", file.display()))
    }

    /// Context `name`, or an error listing the ones there are.
    pub fn get(&self, name: &str) -> Result<&Context> {
        self.contexts.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.contexts.keys().map(String::as_str).collect();
            if names.is_empty() {
                anyhow!(
                    "no context named {name:?}: there are none (`azlin context create` makes one, \
                     `azlin context migrate` turns [azure] in config.toml into one)"
                )
            } else {
                anyhow!(
                    "no context named {name:?} (there are: {})",
                    names.join(", ")
                )
            }
        })
    }

    pub fn create(&mut self, name: &str, context: Context) -> Result<()> {
        check_name(name)?;
        context.check()?;
        if self.contexts.contains_key(name) {
            bail!("a context named {name} exists already; nothing changed");
        }
        self.contexts.insert(name.to_string(), context);
        Ok(())
    }

    /// Delete `name`; whether it was the current one (then none is).
    pub fn delete(&mut self, name: &str) -> Result<bool> {
        self.get(name)?;
        self.contexts.remove(name);
        let was_current = self.current.as_deref() == Some(name);
        if was_current {
            self.current = None;
        }
        Ok(was_current)
    }

    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        let context = self.get(from)?.clone();
        check_name(to)?;
        if self.contexts.contains_key(to) {
            bail!("a context named {to} exists already; nothing changed");
        }
        self.contexts.remove(from);
        self.contexts.insert(to.to_string(), context);
        if self.current.as_deref() == Some(from) {
            self.current = Some(to.to_string());
        }
        Ok(())
    }

    /// The context a command runs in: `flag`'s (which must exist), else
    /// the current one, else none.
    pub fn choose(&self, flag: Option<&str>) -> Result<Option<Chosen>> {
        let Some(name) = flag.or(self.current.as_deref()) else {
            return Ok(None);
        };
        Ok(Some(Chosen {
            name: name.to_string(),
            context: self.get(name)?.clone(),
        }))
    }
}

/// The context this process's command runs in, chosen once at start (the
/// `--context` flag or the current one): every request the CLI sends
/// carries it, and every prompt names it.
static CHOSEN: OnceLock<Option<Chosen>> = OnceLock::new();

/// Set this process's context (once; later calls change nothing).
pub fn set_chosen(chosen: Option<Chosen>) {
    let _ = CHOSEN.set(chosen);
}

/// This process's context, if one was chosen.
pub fn chosen() -> Option<&'static Chosen> {
    CHOSEN.get().and_then(Option::as_ref)
}

#[cfg(test)]
mod tests;

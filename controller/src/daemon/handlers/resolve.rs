//! The one place a VM named in a request becomes that VM: its fleet name,
//! the session name the user gave it or its name in its cloud, then the
//! request's Azure target (the flags, else the context in use). A
//! command naming one VM is refused when that VM is not an Azure VM in
//! the `--subscription` / `--resource-group` given: a name can be reused,
//! and deleting the wrong one cannot be undone. `list`, `status` and
//! `killall` keep to the VMs there ([`in_target`]). An empty target
//! changes nothing.
//!
//! Requests that can act on a cloud VM azlin did not make
//! ([`super::HandleVm::UNMANAGED`]) look for one by name in the cloud when
//! `state.db` has none ([`vm_or_unmanaged`]).
//!
//! Not here: choosing many VMs by selector (`selection`).

use anyhow::{Result, bail};

use super::Ctx;
use crate::{azure::context::Target, daemon::Daemon, provider::Kind, state::VmRow};

/// A VM a request named, found.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub row: VmRow,
    pub kind: Kind,
    /// A cloud VM azlin did not make: `row` is not in `state.db`, and the
    /// VM has no agent.
    pub unmanaged: bool,
}

impl Resolved {
    /// A VM found by other means (a listing), with its provider.
    pub fn of(row: VmRow) -> Result<Self> {
        let kind = Kind::parse(&row.provider)?;
        Ok(Self {
            row,
            kind,
            unmanaged: false,
        })
    }

    /// The VM's own name (not the session name it may have been named by).
    pub fn name(&self) -> &str {
        &self.row.name
    }
}

/// The VM `name` means for this request: found by fleet name, session
/// name or cloud name ([`find`]), and in the request's Azure target.
pub fn vm(cx: &Ctx, name: &str) -> Result<Resolved> {
    let row = find(&cx.d, &cx.azure.target, name)?;
    check_target(&cx.d, &cx.azure.target, &row)?;
    Resolved::of(row)
}

/// [`vm`], or else a cloud VM of that name that azlin did not make, where
/// the request looks (its `--resource-group`, else the configured one).
pub async fn vm_or_unmanaged(cx: &Ctx, name: &str) -> Result<Resolved> {
    let not_in_fleet = match vm(cx, name) {
        Ok(found) => return Ok(found),
        Err(e) => e,
    };
    for kind in Kind::ALL {
        let provider = cx.d.providers.get(kind);
        if !provider.capabilities().azure_target {
            continue;
        }
        if let Some(row) = provider.find_unmanaged(name, &cx.azure).await? {
            return Ok(Resolved {
                row,
                kind,
                unmanaged: true,
            });
        }
    }
    Err(not_in_fleet)
}

/// The row of the VM that `name` means, wherever it is: [`find`] with
/// no target.
pub fn row(d: &Daemon, name: &str) -> Result<VmRow> {
    find(d, &Target::default(), name)
}

/// The row of the VM that `name` means for a request aimed at `target`:
/// a VM's fleet name, a session name the user gave one, or a VM's name in
/// its cloud (`crate::vm_key`: the same name in two places is two VMs).
/// When several answer to it, the one in the target (the context in use,
/// or the flags) is meant; with no target, the one whose fleet name it
/// is. Still several: refused, naming them. None: an error listing the
/// closest names.
pub fn find(d: &Daemon, target: &Target, name: &str) -> Result<VmRow> {
    let rows = d.db.lock().expect("db lock").vms()?;
    let by_session = d.vm_for_session(name);
    let matches: Vec<&VmRow> = rows
        .iter()
        .filter(|r| {
            r.name == name
                || by_session.as_deref() == Some(r.name.as_str())
                || cloud_name(d, r) == name
        })
        .collect();
    let exact = |among: &[&VmRow]| among.iter().find(|r| r.name == name).map(|r| (*r).clone());
    let scoped = !target.is_empty() || target.context.is_some();
    match matches.as_slice() {
        [] => {}
        [one] => return Ok((*one).clone()),
        many => {
            let inside: Vec<&VmRow> = many
                .iter()
                .copied()
                .filter(|r| scoped && in_target(d, target, r))
                .collect();
            if let [one] = inside.as_slice() {
                return Ok((*one).clone());
            }
            let pool = if inside.is_empty() { many } else { &inside };
            if let Some(row) = exact(pool) {
                return Ok(row);
            }
            if inside.is_empty() && scoped {
                // None is in the target: the caller refuses, saying where.
                return Ok(many[0].clone());
            }
            let named: Vec<String> = pool
                .iter()
                .map(|r| {
                    let place = d
                        .providers
                        .of(&r.provider)
                        .map(|p| p.place(r))
                        .unwrap_or_default();
                    format!("{} ({place})", r.name)
                })
                .collect();
            bail!(
                "{name:?} names {} VMs: {}; nothing done (name one by its fleet name, or choose \
                 with --context / --resource-group)",
                pool.len(),
                named.join(", ")
            );
        }
    }
    let mut names: Vec<String> = rows.into_iter().map(|v| v.name).collect();
    names.extend(
        d.session_names
            .read()
            .expect("session names lock")
            .values()
            .cloned(),
    );
    let close = crate::names::closest(name, &names);
    if close.is_empty() {
        bail!("no VM or session named {name:?}; `azlin list` shows the fleet");
    }
    bail!(
        "no VM or session named {name:?}; did you mean {}?",
        close.join(", ")
    )
}

/// The VM's name in its cloud, or its fleet name where the two are one
/// (`crate::vm_key`).
pub fn cloud_name(d: &Daemon, row: &VmRow) -> String {
    d.providers
        .of(&row.provider)
        .ok()
        .and_then(|p| p.cloud_name(row))
        .unwrap_or_else(|| row.name.clone())
}

/// Whether `row` is in `target`: always, with no flags and no context;
/// with only a context, every VM of a provider outside Azure (they
/// belong to no context) and the Azure VMs the context holds; with flags,
/// the Azure VMs there.
pub fn in_target(d: &Daemon, target: &Target, row: &VmRow) -> bool {
    if target.is_empty() && target.context.is_none() {
        return true;
    }
    let Ok(provider) = d.providers.of(&row.provider) else {
        return false;
    };
    if target.is_empty() && !provider.capabilities().azure_target {
        return true;
    }
    provider.in_target(row, target)
}

/// Where `row` is, for the prompts and outputs of what deletes or
/// deallocates: "in resource group R of subscription S, context C" for an
/// Azure VM (the context when one is in use), else its provider.
pub fn place_words(cx: &Ctx, row: &VmRow) -> String {
    let Ok(provider) = cx.d.providers.of(&row.provider) else {
        return format!("{} provider", row.provider);
    };
    if !provider.capabilities().azure_target {
        return format!("{} provider", row.provider);
    }
    match &cx.azure.target.context {
        Some(c) => format!("{}, context {}", provider.place(row), c.name),
        None => provider.place(row),
    }
}

/// Refuse acting on `row` outside `target`.
fn check_target(d: &Daemon, target: &Target, row: &VmRow) -> Result<()> {
    if in_target(d, target, row) {
        return Ok(());
    }
    let where_ = match d.providers.of(&row.provider) {
        Ok(provider) => provider.place(row),
        Err(_) => format!("a {} VM, not in Azure", row.provider),
    };
    if target.is_empty()
        && let Some(c) = &target.context
    {
        bail!(
            "{} is {where_}, not in context {} ({}); nothing done (`azlin --context NAME …` \
             acts in another context, `azlin context list` shows them)",
            row.name,
            c.name,
            c.context.describe()
        );
    }
    bail!(
        "{} is {where_}, not in the --subscription / --resource-group given; nothing done \
         (leave them out, or give the VM's own)",
        row.name
    )
}

//! `--subscription` / `--resource-group` on the commands that act on VMs.
//! A command naming one VM is refused when that VM is not an Azure VM in
//! the given subscription and resource group: a name can be reused, and
//! deleting the wrong one cannot be undone. `list`, `status` and
//! `killall` keep to the VMs there. An empty scope changes nothing.

use anyhow::{Result, bail};

use crate::{
    ipc::Request,
    provider::{
        AZURE,
        azure::{Target, data_of},
    },
    state::VmRow,
};

/// Whether `row` is an Azure VM in `scope` (always, for an empty scope).
pub fn holds(scope: &Target, row: &VmRow) -> bool {
    if scope.subscription.is_none() && scope.resource_group.is_none() {
        return true;
    }
    if row.provider != AZURE {
        return false;
    }
    let Ok(data) = data_of(row) else {
        return false;
    };
    let same = |want: &Option<String>, have: &str| {
        want.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(have))
    };
    same(&scope.subscription, &data.subscription)
        && same(&scope.resource_group, &data.resource_group)
}

/// The VM a request names, if it names one.
pub fn named_vm(request: &Request) -> Option<&str> {
    match request {
        Request::VmStatus { name }
        | Request::Start { name }
        | Request::Stop { name, .. }
        | Request::Kill { name }
        | Request::DestroyPlan { name }
        | Request::Restart { name }
        | Request::Resize { name, .. }
        | Request::Tag { name, .. } => Some(name),
        _ => None,
    }
}

/// Refuse acting on `row` outside `scope`.
pub fn check(scope: &Target, row: &VmRow) -> Result<()> {
    if holds(scope, row) {
        return Ok(());
    }
    let where_ = match data_of(row) {
        Ok(d) if row.provider == AZURE => format!(
            "in resource group {} of subscription {}",
            d.resource_group, d.subscription
        ),
        _ => format!("a {} VM, not in Azure", row.provider),
    };
    bail!(
        "{} is {where_}, not in the --subscription / --resource-group given; nothing done \
         (leave them out, or give the VM's own)",
        row.name
    )
}

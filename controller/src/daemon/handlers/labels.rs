//! `azlin tag` and `azlin session`: what the user calls and labels a VM.
//! Tags are azlin's own (in `state.db`) and, where the provider keeps tags
//! too (Azure), the cloud's; session names live in `config.toml`.

use anyhow::{Result, bail};

use super::{Ctx, HandleVm, list::view_of, resolve::Resolved};
use crate::{
    ipc::{
        Done,
        labels::{Session, Tag},
        vms::VmView,
    },
    state::tags,
};

impl HandleVm for Tag {
    const UNMANAGED: bool = true;

    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<VmView> {
        check_tags(&self.set)?;
        for key in &self.remove {
            tags::check_key(key)?;
        }
        // The cloud first: if it refuses, nothing changes here either.
        cx.provider(&vm)
            .set_tags(&vm.row, &self.set, &self.remove, &cx.azure)
            .await?;
        if vm.unmanaged {
            return Ok(super::cloud_view::unmanaged(cx, &vm).await);
        }
        cx.d.db
            .lock()
            .expect("db lock")
            .update_tags(vm.name(), &self.set, &self.remove)?;
        cx.d.alerts.retarget();
        view_of(&cx.d, &vm.row)
    }
}

/// Refuse tags that are not `KEY=VALUE` as `azlin tag` takes them.
pub fn check_tags(set: &[(String, String)]) -> Result<()> {
    for (k, v) in set {
        tags::parse_tag(&format!("{k}={v}"))?;
    }
    Ok(())
}

impl HandleVm for Session {
    /// Give the VM a session name, or clear it; stored in `config.toml`.
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Done> {
        let d = &cx.d;
        let name = vm.name();
        let session = self.session.as_deref();
        if let Some(s) = session {
            crate::config::check_session_label(s)?;
            if s != name && d.db.lock().expect("db lock").vm(s)?.is_some() {
                bail!("{s:?} is already the name of a VM; pick another session name");
            }
            if let Some(other) = d.vm_for_session(s).filter(|o| o != name) {
                bail!(
                    "{s:?} is already the session name of {other}; clear it there first (`azlin session {other} --clear`)"
                );
            }
        }
        let names =
            crate::config::Config::write_session_name(&d.home.config_file(), name, session)?;
        *d.session_names.write().expect("session names lock") = names;
        d.alerts.retarget();
        let message = match session {
            Some(s) => format!("{name} is now also called {s}"),
            None => format!("{name} has no session name now"),
        };
        Ok(Done { message })
    }
}

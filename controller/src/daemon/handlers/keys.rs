//! `azlin keys rotate`: each chosen VM's SSH endpoint (its host keys
//! pinned from its agent, as `ssh-config` has them), or the refusal of a
//! provider without an sshd of its own (one place:
//! `provider::capability::refusal`).

use anyhow::Result;

use super::{Ctx, Handle, selection, ssh::ssh_endpoint};
use crate::{
    ipc::{SshTarget, keys::KeysRotatePlan},
    provider::capability::Operation,
};

impl Handle for KeysRotatePlan {
    async fn handle(self, cx: &Ctx) -> Result<Vec<SshTarget>> {
        let d = &cx.d;
        let vms = selection::choose(d, &self.selector)?;
        let mut out = Vec::new();
        for vm in vms {
            let row = d.db.lock().expect("db lock").vm(&vm)?;
            let refused = match &row {
                Some(row) => {
                    let provider = d.providers.of(&row.provider)?;
                    d.providers
                        .require(provider, &Operation::KeysRotate)
                        .err()
                        .map(|e| format!("{e:#}"))
                }
                None => Some("no longer in the fleet".into()),
            };
            let result = match refused {
                Some(why) => Err(why),
                None => ssh_endpoint(d, &vm).await.map_err(|e| format!("{e:#}")),
            };
            out.push(SshTarget {
                session_name: d.session_name(&vm),
                vm,
                result,
            });
        }
        Ok(out)
    }
}

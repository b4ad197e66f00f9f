//! `azlin certs list|rotate`: each chosen VM's current certificate from
//! `state.db`, and renewing it now (`agents::renew`), one VM after
//! another; a VM that is not connected is said, not skipped silently.

use anyhow::Result;

use super::{Ctx, Handle, selection};
use crate::{
    daemon::{Daemon, agents::renew, jobs::cert_renewal::due_at},
    ipc::certs::{CertOutcome, CertView, CertsList, CertsRotate},
};

fn view(d: &Daemon, vm: &str, replaced: Option<String>) -> Result<CertView, String> {
    let db = d.db.lock().expect("db lock");
    let serial = db
        .vm(vm)
        .map_err(|e| format!("{e:#}"))?
        .and_then(|r| r.cert_serial)
        .ok_or_else(|| "not enrolled yet".to_string())?;
    let cert = db
        .cert(&serial)
        .map_err(|e| format!("{e:#}"))?
        .ok_or_else(|| format!("certificate {serial} is not recorded"))?;
    Ok(CertView {
        renew_at: due_at(&cert),
        serial,
        replaced,
        issued_at: cert.issued_at,
        not_after: cert.not_after,
    })
}

impl Handle for CertsList {
    async fn handle(self, cx: &Ctx) -> Result<Vec<CertOutcome>> {
        let vms = selection::choose(&cx.d, &self.selector)?;
        Ok(vms
            .into_iter()
            .map(|vm| CertOutcome {
                result: view(&cx.d, &vm, None),
                vm,
            })
            .collect())
    }
}

impl Handle for CertsRotate {
    async fn handle(self, cx: &Ctx) -> Result<Vec<CertOutcome>> {
        let vms = selection::choose(&cx.d, &self.selector)?;
        let mut out = Vec::new();
        for vm in vms {
            cx.progress(&vm, "renewing its certificate");
            let result = match renew::renew(&cx.d, &vm).await {
                Ok(r) => view(&cx.d, &vm, r.old),
                Err(e) => Err(format!("{e:#}")),
            };
            out.push(CertOutcome { vm, result });
        }
        Ok(out)
    }
}

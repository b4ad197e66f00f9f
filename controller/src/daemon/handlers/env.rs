//! `azlin env`: the request checked once here (a bad name or value
//! changes no VM), then asked of each chosen VM's agent at once.

use anyhow::{Result, bail};
use azlin_protocol::{
    env,
    exec::clean_reason,
    stream::{Query, QueryReply},
};

use super::{Ctx, Handle, selection};
use crate::{
    daemon::agents::query::ask,
    ipc::env::{EnvChange, EnvOutcome},
};

impl Handle for EnvChange {
    async fn handle(self, cx: &Ctx) -> Result<Vec<EnvOutcome>> {
        if let Err(e) = env::check(&self.request) {
            bail!("{e}; nothing changed");
        }
        let vms = selection::choose(&cx.d, &self.selector)?;
        let request = self.request;
        Ok(selection::each(&cx.d, vms, |d, vm| {
            let request = request.clone();
            async move {
                let result = match ask(&d, &vm, Query::Env(request)).await {
                    Ok(QueryReply::Env { vars }) => Ok(vars),
                    Ok(QueryReply::Error { reason }) => Err(clean_reason(reason)),
                    Ok(_) => Err(format!("{vm}'s agent answered another question")),
                    Err(e) => Err(format!("{e:#}")),
                };
                EnvOutcome { vm, result }
            }
        })
        .await)
    }
}

//! `azlin ps` (every chosen VM's busiest processes, asked of all agents
//! at once) and the dashboard's detail view (one VM's).

use anyhow::{Result, bail};
use azlin_protocol::{
    exec::clean_reason,
    stream::{ProcessInfo, Query, QueryReply, check_processes},
};

use super::{Ctx, Handle, HandleVm, resolve::Resolved, selection};
use crate::{
    daemon::agents::query::ask,
    ipc::processes::{ProcessTable, ProcessTables, Processes},
};

impl HandleVm for Processes {
    async fn handle(self, cx: &Ctx, vm: Resolved) -> Result<Vec<ProcessInfo>> {
        let name = vm.name();
        let query = Query::Processes {
            sort: self.sort,
            limit: self.limit,
        };
        match ask(&cx.d, name, query).await? {
            QueryReply::Processes(list) => Ok(check_processes(list, self.limit)),
            QueryReply::Error { reason } => bail!(
                "{name} could not list its processes: {}",
                clean_reason(reason)
            ),
            _ => bail!("{name} answered another question than the one asked"),
        }
    }
}

/// Every chosen VM's busiest processes, asked of all agents at once.
impl Handle for ProcessTables {
    async fn handle(self, cx: &Ctx) -> Result<Vec<ProcessTable>> {
        let (d, sort, limit) = (&cx.d, self.sort, self.limit);
        let vms = selection::choose(d, &self.selector)?;
        Ok(selection::each(d, vms, |d, vm| async move {
            let result = match ask(&d, &vm, Query::Processes { sort, limit }).await {
                Ok(QueryReply::Processes(list)) => Ok(check_processes(list, limit)),
                Ok(QueryReply::Error { reason }) => Err(clean_reason(reason)),
                Ok(_) => Err("the agent answered another question".into()),
                Err(e) => Err(format!("{e:#}")),
            };
            let session_name = d.session_name(&vm);
            ProcessTable {
                vm,
                session_name,
                result,
            }
        })
        .await)
    }
}

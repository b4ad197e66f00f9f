//! `azlin health`: each chosen VM's agent asked for its facts at once,
//! the clock skew measured around each question, and the grade
//! (`crate::health`); a VM that cannot be asked is graded unreachable
//! with when it was last heard from (the live store's newest sample,
//! else the history's).

use anyhow::Result;
use azlin_protocol::{
    exec::clean_reason,
    stream::{Query, QueryReply},
};

use super::{Ctx, Handle, selection};
use crate::{
    daemon::{Daemon, agents::query::ask_within},
    health,
    ipc::health::{Health, HealthView},
    state::now_unix,
    telemetry::live::now_ms,
};

/// Longest one VM's facts may take (apt's simulation is the slowest).
const LIMIT: std::time::Duration = std::time::Duration::from_secs(45);

fn last_sample(d: &Daemon, vm: &str) -> Option<i64> {
    d.live
        .latest(vm)
        .map(|l| (l.sample.taken_at_ms / 1000) as i64)
        .or_else(|| {
            d.db.lock()
                .expect("db lock")
                .activity(vm, 0.0)
                .ok()
                .and_then(|(seen, _)| seen)
        })
}

async fn one(d: &Daemon, vm: String) -> HealthView {
    let asked_at = now_ms() as i64;
    let reply = ask_within(d, &vm, Query::Health, LIMIT).await;
    let answered_at = now_ms() as i64;
    let last = last_sample(d, &vm);
    let why = match reply {
        Ok(QueryReply::Health(report)) => {
            let skew_ms = report.now_ms as i64 - (asked_at + answered_at) / 2;
            return HealthView {
                verdict: health::grade(&report, skew_ms, azlin_protocol::SOFTWARE_VERSION),
                report: Some(*report),
                skew_ms: Some(skew_ms),
                last_sample_unix: last,
                vm,
            };
        }
        Ok(QueryReply::Error { reason }) => clean_reason(reason),
        Ok(_) => "its agent answered another question".into(),
        Err(e) => clean_reason(format!("{e:#}")),
    };
    HealthView {
        verdict: health::unreachable(&why, last, now_unix()),
        report: None,
        skew_ms: None,
        last_sample_unix: last,
        vm,
    }
}

impl Handle for Health {
    async fn handle(self, cx: &Ctx) -> Result<Vec<HealthView>> {
        let vms = selection::choose(&cx.d, &self.selector)?;
        Ok(selection::each(&cx.d, vms, |d, vm| async move { one(&d, vm).await }).await)
    }
}

//! The busiest processes on this VM, measured on demand.
//!
//! CPU use is a difference between two readings, so this takes one, waits
//! [`WINDOW`], takes another, and ranks. It runs only when the controller
//! asks (`azlin top`'s detail view), never in the 1 Hz loop, because a full
//! process refresh costs milliseconds.

use std::time::Duration;

use azlin_protocol::stream::{ProcessInfo, ProcessSort};
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

/// How long CPU use is measured over.
pub const WINDOW: Duration = Duration::from_millis(300);
/// Most processes returned for one question.
pub const MAX_LIMIT: u32 = 1000;

/// Measure and rank. Blocking: call from a blocking thread.
pub fn top(sort: ProcessSort, limit: u32) -> Result<Vec<ProcessInfo>, String> {
    let mut system = System::new().map_err(|e| format!("cannot read processes: {e}"))?;
    let kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_user(UpdateKind::OnlyIfNotSet)
        .with_cmd(UpdateKind::OnlyIfNotSet);
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    std::thread::sleep(WINDOW);
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let users = Users::new_with_refreshed_list().ok();
    let mut list: Vec<ProcessInfo> = system
        .processes()
        .values()
        .filter(|p| p.thread_kind().is_none())
        .map(|p| {
            let user = p
                .user_id()
                .and_then(|uid| users.as_ref()?.get_user_by_id(uid))
                .map(|u| u.name().to_string())
                .or_else(|| p.user_id().map(|u| u.to_string()))
                .unwrap_or_default();
            let cmd: Vec<String> = p
                .cmd()
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let command = if cmd.is_empty() {
                format!("[{}]", p.name().to_string_lossy())
            } else {
                cmd.join(" ")
            };
            ProcessInfo {
                pid: p.pid().as_u32(),
                user,
                cpu_percent: p.cpu_usage(),
                memory_bytes: p.memory(),
                command,
            }
        })
        .collect();
    rank(&mut list, sort);
    list.truncate(limit.min(MAX_LIMIT) as usize);
    Ok(list)
}

/// Busiest first; ties by pid so the order is stable.
pub fn rank(list: &mut [ProcessInfo], sort: ProcessSort) {
    match sort {
        ProcessSort::Cpu => list.sort_by(|a, b| {
            b.cpu_percent
                .total_cmp(&a.cpu_percent)
                .then(a.pid.cmp(&b.pid))
        }),
        ProcessSort::Memory => {
            list.sort_by(|a, b| b.memory_bytes.cmp(&a.memory_bytes).then(a.pid.cmp(&b.pid)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_process_tops_the_cpu_list() {
        let mut busy = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let list = top(ProcessSort::Cpu, 5).unwrap();
        let _ = busy.kill();
        let _ = busy.wait();
        assert!(list.len() <= 5 && !list.is_empty());
        assert!(
            list.iter()
                .any(|p| p.pid == busy.id() && p.cpu_percent > 20.0),
            "{list:#?}"
        );
        let by_mem = top(ProcessSort::Memory, 3).unwrap();
        assert!(
            by_mem
                .windows(2)
                .all(|w| w[0].memory_bytes >= w[1].memory_bytes)
        );
        assert!(by_mem.iter().all(|p| !p.user.is_empty()));
    }
}

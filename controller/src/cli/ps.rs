//! `azlin ps`: the busiest processes on each chosen VM, measured by the
//! VM's own agent (no `ps` is run), in one table or as JSON.

use anyhow::Result;
use azlin_protocol::stream::ProcessSort;

use super::{figures, render::aligned};
use crate::ipc::ProcessTable;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PsSort {
    Cpu,
    Mem,
}

impl From<PsSort> for ProcessSort {
    fn from(s: PsSort) -> Self {
        match s {
            PsSort::Cpu => ProcessSort::Cpu,
            PsSort::Mem => ProcessSort::Memory,
        }
    }
}

/// Print the tables; false if some VM could not answer.
pub fn print(tables: &[ProcessTable], json: bool) -> Result<bool> {
    let all_ok = tables.iter().all(|t| t.result.is_ok());
    if json {
        let out: Vec<serde_json::Value> = tables
            .iter()
            .map(|t| match &t.result {
                Ok(list) => serde_json::json!({"vm": t.vm, "processes": list, "error": null}),
                Err(e) => serde_json::json!({"vm": t.vm, "processes": null, "error": e}),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(all_ok);
    }
    let header = ["VM", "PID", "USER", "%CPU", "MEM", "COMMAND"].map(String::from);
    let mut rows = Vec::new();
    for t in tables {
        match &t.result {
            Ok(list) => rows.extend(list.iter().map(|p| {
                [
                    t.vm.clone(),
                    p.pid.to_string(),
                    p.user.clone(),
                    format!("{:.1}", p.cpu_percent),
                    figures::bytes(p.memory_bytes),
                    p.command.clone(),
                ]
            })),
            Err(e) => eprintln!("azlin: {}: {e}", t.vm),
        }
    }
    if !rows.is_empty() {
        print!("{}", aligned(&header, &rows));
    }
    Ok(all_ok)
}

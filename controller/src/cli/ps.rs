//! `azlin ps`: the busiest processes on each chosen VM, measured by the
//! VM's own agent (no `ps` is run), in one table or as JSON. On a terminal
//! each line is cut to its width (command lines are long); elsewhere they
//! stay whole.

use std::io::IsTerminal;

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
                Ok(list) => serde_json::json!({
                    "vm": t.vm, "session_name": t.session_name, "processes": list, "error": null,
                }),
                Err(e) => serde_json::json!({
                    "vm": t.vm, "session_name": t.session_name, "processes": null, "error": e,
                }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(all_ok);
    }
    let header = ["VM", "PID", "USER", "%CPU", "MEM", "COMMAND"].map(String::from);
    let mut rows = Vec::new();
    for t in tables {
        let name = crate::ipc::VmName {
            vm: t.vm.clone(),
            session_name: t.session_name.clone(),
        }
        .labelled();
        match &t.result {
            Ok(list) => rows.extend(list.iter().map(|p| {
                [
                    name.clone(),
                    p.pid.to_string(),
                    p.user.clone(),
                    format!("{:.1}", p.cpu_percent),
                    figures::bytes(p.memory_bytes),
                    p.command.clone(),
                ]
            })),
            Err(e) => eprintln!("azlin: {name}: {e}"),
        }
    }
    if !rows.is_empty() {
        let text = aligned(&header, &rows);
        if std::io::stdout().is_terminal() {
            let cols = usize::from(super::connect::raw::size().cols);
            for line in text.lines() {
                println!("{}", fit(line, cols));
            }
        } else {
            print!("{text}");
        }
    }
    Ok(all_ok)
}

/// `line` cut to `cols` characters, the cut marked with `…`.
fn fit(line: &str, cols: usize) -> String {
    if line.chars().count() <= cols {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(cols.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn long_lines_are_cut_to_the_width_and_marked() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("exactly10!", 10), "exactly10!");
        assert_eq!(fit("a line that is long", 10), "a line th…");
        assert_eq!(fit("ünïcödé wide", 5).chars().count(), 5);
    }
}

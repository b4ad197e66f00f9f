//! `azlin alerts`: the alerts firing now and the recent history, or, with
//! `--follow`, every event as it happens until Ctrl-C.

use anyhow::{Result, bail};

use super::render::aligned;
use crate::{
    alerts::record::AlertRecord,
    home::Home,
    ipc::{AlertsView, Reply, Request, alerts::Alerts, client::Client},
    telemetry::live::now_ms,
};

pub fn show(home: &Home, history: u32, json: bool) -> Result<()> {
    let view = Client::connect_or_start(home)?.call(Alerts { history }, |_, m| {
        eprintln!("{m}");
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&json_view(&view))?);
        return Ok(());
    }
    if let Some(e) = &view.file_error {
        eprintln!("azlin: alert rules file has an error, the last good rules are in force:\n  {e}");
    }
    println!(
        "rules: {} ({} on the agents{}); channels: {}",
        view.file,
        view.rules.len(),
        view.agent_lost_after_ms
            .map(|ms| format!(
                ", agent-lost after {}",
                azlin_protocol::alert::eval::duration(ms)
            ))
            .unwrap_or_default(),
        view.channels.join(", ")
    );
    println!("in force: {}", view.rules.join(", "));
    // As every command shows a VM: `main (dev-1)`.
    let display = |vm: &str| {
        crate::ipc::VmName {
            vm: vm.to_string(),
            session_name: view.session_names.get(vm).cloned(),
        }
        .labelled()
    };
    println!();
    if view.active.is_empty() {
        println!("No active alerts.");
    } else {
        let header = ["VM", "RULE", "SUBJECT", "SEVERITY", "SINCE", "MESSAGE"].map(String::from);
        let rows: Vec<[String; 6]> = view
            .active
            .iter()
            .map(|r| {
                [
                    display(&r.vm),
                    r.rule.clone(),
                    dash(&r.subject),
                    r.severity.name().into(),
                    ago(r.at_ms),
                    r.message.clone(),
                ]
            })
            .collect();
        print!("{}", aligned(&header, &rows));
    }
    if !view.history.is_empty() {
        println!("\nHistory (oldest first):");
        let header = ["TIME (UTC)", "VM", "RULE", "STATE", "SEVERITY", "MESSAGE"].map(String::from);
        let rows: Vec<[String; 6]> = view
            .history
            .iter()
            .map(|r| {
                [
                    clock(r.at_ms),
                    display(&r.vm),
                    rule_and_subject(r),
                    r.transition.name().into(),
                    r.severity.name().into(),
                    r.message.clone(),
                ]
            })
            .collect();
        print!("{}", aligned(&header, &rows));
    }
    Ok(())
}

/// Print every event as it comes; Ctrl-C ends it.
pub fn follow(home: &Home, json: bool) -> Result<()> {
    let mut talk = Client::connect_or_start(home)?.converse(Request::AlertsFollow)?;
    loop {
        match talk.next_reply()? {
            Reply::Alert { record, display } => {
                if json {
                    let mut body = record.webhook_body(None);
                    body["display"] = serde_json::Value::String(display);
                    println!("{body}");
                } else {
                    println!("{} {}", clock(record.at_ms), record.summary(&display));
                }
            }
            Reply::Progress { message, .. } => eprintln!("azlin: {message}"),
            Reply::Err { message, .. } => bail!("{message}"),
            _ => bail!("the daemon answered something else; run `azlin daemon stop` and retry"),
        }
    }
}

fn json_view(v: &AlertsView) -> serde_json::Value {
    let records = |list: &[AlertRecord]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|r| r.webhook_body(v.session_names.get(&r.vm).map(String::as_str)))
            .collect()
    };
    serde_json::json!({
        "file": v.file,
        "file_error": v.file_error,
        "rules": v.rules,
        "agent_lost_after_ms": v.agent_lost_after_ms,
        "channels": v.channels,
        "active": records(&v.active),
        "history": records(&v.history),
    })
}

fn rule_and_subject(r: &AlertRecord) -> String {
    if r.subject.is_empty() {
        r.rule.clone()
    } else {
        format!("{} [{}]", r.rule, r.subject)
    }
}

fn dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.into() }
}

fn ago(at_ms: u64) -> String {
    format!(
        "{} ago",
        super::figures::duration(now_ms().saturating_sub(at_ms) / 1000)
    )
}

/// `2026-11-22 10:04:05.123`, UTC.
pub fn clock(at_ms: u64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
    else {
        return at_ms.to_string();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

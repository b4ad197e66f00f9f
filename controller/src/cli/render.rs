//! Printing VMs for people (tables) and scripts (`--json`).

use anyhow::Result;

use crate::{ipc::VmView, state::now_unix};

fn age(since: Option<i64>) -> String {
    let Some(since) = since else {
        return "-".into();
    };
    let s = (now_unix() - since).max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
    }
}

fn row(v: &VmView) -> [String; 7] {
    [
        v.name.clone(),
        v.provider.clone(),
        v.state.as_str().to_string(),
        if v.connected { "yes" } else { "no" }.to_string(),
        v.address.clone().unwrap_or_else(|| "-".into()),
        v.agent_version.clone().unwrap_or_else(|| "-".into()),
        age(v.agent_started_at.filter(|_| v.connected)),
    ]
}

pub fn vms(vms: &[VmView], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(vms)?);
        return Ok(());
    }
    if vms.is_empty() {
        println!("no VMs; create some with `azlin new --pool 3`");
        return Ok(());
    }
    let header = [
        "NAME",
        "PROVIDER",
        "STATE",
        "CONNECTED",
        "ADDRESS",
        "AGENT",
        "UPTIME",
    ]
    .map(String::from);
    let rows: Vec<[String; 7]> = vms.iter().map(row).collect();
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    for r in std::iter::once(&header).chain(rows.iter()) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}

pub fn vm(v: &VmView, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
        return Ok(());
    }
    println!("name:        {}", v.name);
    println!("provider:    {}", v.provider);
    println!("state:       {}", v.state.as_str());
    println!(
        "connected:   {}{}",
        if v.connected { "yes" } else { "no" },
        if v.connected {
            format!(" (for {})", age(v.connected_since))
        } else {
            String::new()
        }
    );
    println!("address:     {}", v.address.as_deref().unwrap_or("-"));
    println!(
        "dials:       {}",
        match v.connect_mode {
            crate::state::ConnectMode::Listen => "daemon dials the agent",
            crate::state::ConnectMode::Dial => "agent dials the daemon",
        }
    );
    println!("enrolled:    {}", if v.enrolled { "yes" } else { "no" });
    println!("agent:       {}", v.agent_version.as_deref().unwrap_or("-"));
    println!(
        "uptime:      {}",
        age(v.agent_started_at.filter(|_| v.connected))
    );
    println!("reconnects:  {}", v.reconnects);
    if let Some(e) = &v.last_error {
        println!("last error:  {e}");
    }
    Ok(())
}

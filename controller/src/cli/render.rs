//! Printing VMs for people (tables) and scripts (`--json`).

use super::terminal_text::shown;
use std::io::IsTerminal;

use anyhow::Result;
use azlin_protocol::telemetry::{Sample, Tmux};

use super::figures;
use crate::{
    ipc::{JoinInfo, VmView},
    state::now_unix,
    telemetry::live::Freshness,
};

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

/// The live figures only while they mean something: a lost VM's last
/// sample is history, not its CPU now.
fn live_sample(v: &VmView) -> Option<&Sample> {
    v.sample
        .as_ref()
        .filter(|_| v.freshness.is_some_and(|f| f != Freshness::Lost))
}

/// Whether `agent` (an agent's version) is older than this controller's.
pub fn agent_is_older(agent: &str) -> bool {
    let parse = |v: &str| -> Option<Vec<u64>> {
        v.split(['-', '+'])
            .next()?
            .split('.')
            .map(|p| p.parse().ok())
            .collect()
    };
    match (parse(agent), parse(env!("CARGO_PKG_VERSION"))) {
        (Some(a), Some(c)) => a < c,
        _ => false,
    }
}

/// The agent's version, marked when it is older than this azlin.
fn agent_cell(v: &VmView) -> String {
    match &v.agent_version {
        None => "-".into(),
        Some(a) if agent_is_older(a) => format!("{a} (old)"),
        Some(a) => a.clone(),
    }
}

fn row(v: &VmView) -> [String; 12] {
    let s = live_sample(v);
    [
        v.name.clone(),
        v.session_name.clone().unwrap_or_else(|| "-".into()),
        v.provider.clone(),
        v.state.as_str().to_string(),
        if v.no_agent {
            "no agent"
        } else if v.connected {
            "yes"
        } else {
            "no"
        }
        .to_string(),
        s.map_or("-".into(), |s| format!("{:.0}%", s.cpu_percent)),
        s.map_or("-".into(), |s| {
            format!("{:.0}%", figures::percent(s.memory_used, s.memory_total))
        }),
        s.map_or("-".into(), |s| match &s.tmux {
            Tmux::Sessions(list) if !list.is_empty() => list
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            Tmux::Sessions(_) => "-".into(),
            Tmux::Unavailable { .. } => "?".into(),
        }),
        v.address.clone().unwrap_or_else(|| "-".into()),
        age(v.agent_started_at.filter(|_| v.connected)),
        tags(v),
        agent_cell(v),
    ]
}

/// azlin's tags of the VM, `k=v` space-separated, or `-`.
fn tags(v: &VmView) -> String {
    if v.tags.is_empty() {
        return "-".into();
    }
    v.tags
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A header and rows as left-aligned columns two spaces apart, one line
/// each (widths in characters, so non-ASCII names line up).
pub fn aligned<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> String {
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(header).chain(rows) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A VM as machine output shows it: every field, and `vm` (its name)
/// beside `session_name`, as every command's JSON names a VM.
fn vm_json(v: &VmView) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(v)?;
    value["vm"] = serde_json::Value::String(v.name.clone());
    Ok(value)
}

pub fn vms(vms: &[VmView], json: bool) -> Result<()> {
    if json {
        let all = vms.iter().map(vm_json).collect::<Result<Vec<_>>>()?;
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    if vms.is_empty() {
        println!("no VMs; create some with `azlin new --pool 3`");
        return Ok(());
    }
    let header = [
        "NAME",
        "SESSION",
        "PROVIDER",
        "STATE",
        "CONNECTED",
        "CPU",
        "MEM",
        "TMUX",
        "ADDRESS",
        "UPTIME",
        "TAGS",
        "AGENT",
    ]
    .map(String::from);
    let notional = vms
        .iter()
        .any(|v| v.cloud.is_none() && v.notional_per_hour.is_some());
    if vms.iter().all(|v| v.cloud.is_none()) {
        if notional {
            // No cloud, but a notional figure: its column only.
            let header: [String; 13] =
                std::array::from_fn(|i| header.get(i).cloned().unwrap_or_else(|| "$/H".into()));
            let rows: Vec<[String; 13]> = vms
                .iter()
                .map(|v| {
                    let own = row(v);
                    std::array::from_fn(|i| own.get(i).cloned().unwrap_or_else(|| price_cell(v)))
                })
                .collect();
            print!("{}", aligned(&header, &rows));
            println!("{NOTIONAL}");
        } else {
            let rows: Vec<[String; 12]> = vms.iter().map(row).collect();
            print!("{}", aligned(&header, &rows));
        }
        return Ok(());
    }
    // Cloud VMs among them: what their cloud says too.
    let cloud_header = ["POWER", "SIZE", "REGION", "$/H"].map(String::from);
    let header: [String; 16] = std::array::from_fn(|i| {
        header
            .get(i)
            .unwrap_or_else(|| &cloud_header[i - 12])
            .clone()
    });
    let rows: Vec<[String; 16]> = vms
        .iter()
        .map(|v| {
            let (own, cloud) = (row(v), cloud_cells(v));
            std::array::from_fn(|i| own.get(i).unwrap_or_else(|| &cloud[i - 12]).clone())
        })
        .collect();
    print!("{}", aligned(&header, &rows));
    if let Some(line) = fleet_price(vms) {
        println!("{line}");
    }
    if notional {
        println!("{NOTIONAL}");
    }
    for v in vms {
        if let Some(e) = v.cloud.as_ref().and_then(|c| c.error.as_ref()) {
            eprintln!("{}: {e}", v.name);
        }
    }
    Ok(())
}

/// What the running VMs with a price cost together, and how many running
/// VMs have none (which are left out of the sum, not counted as zero).
pub fn fleet_price(vms: &[VmView]) -> Option<String> {
    let clouds = vms.iter().filter_map(|v| v.cloud.as_ref());
    let priced: Vec<&crate::ipc::vms::Price> =
        clouds.clone().filter_map(|c| c.price.as_ref()).collect();
    let unpriced = clouds.filter(|c| c.no_price.is_some()).count();
    let first = priced.first()?;
    let total = crate::ipc::vms::Price {
        per_hour: priced.iter().map(|p| p.per_hour).sum(),
        currency: first.currency.clone(),
        source: first.source.clone(),
    };
    let without = if unpriced > 0 {
        format!("; {unpriced} running VM(s) without a price are not in it")
    } else {
        String::new()
    };
    Some(format!(
        "running VMs with a price: {} together ({}){without}",
        super::new::money(&total, 1),
        total.source
    ))
}

fn cloud_cells(v: &VmView) -> [String; 4] {
    let dash = || "-".to_string();
    match &v.cloud {
        None => [dash(), dash(), dash(), price_cell(v)],
        Some(c) => [
            c.power.clone(),
            c.size.clone().unwrap_or_else(dash),
            c.location.clone().unwrap_or_else(dash),
            price_cell(v),
        ],
    }
}

/// A VM's price per hour as a table cell: `$0.0960`, `no price` (a
/// running VM the Retail Prices API has none for), `0.0500*` (a VM with
/// no bill and `[cost] notional_per_hour` set: see [`NOTIONAL`]), or `-`.
pub fn price_cell(v: &VmView) -> String {
    match v.cloud.as_ref().map(|c| (&c.price, &c.no_price)) {
        Some((Some(p), _)) if p.currency == "USD" => format!("${:.4}", p.per_hour),
        Some((Some(p), _)) => format!("{:.4} {}", p.per_hour, p.currency),
        Some((None, Some(_))) => "no price".into(),
        _ => match v.notional_per_hour {
            Some(n) => format!("{n:.4}*"),
            None => "-".into(),
        },
    }
}

/// What a `*` in the price column means.
pub const NOTIONAL: &str =
    "* notional: [cost] notional_per_hour of config.toml for VMs with no bill, not a price";

pub fn vm(v: &VmView, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&vm_json(v)?)?);
        return Ok(());
    }
    println!("name:        {}", v.name);
    println!("provider:    {}", v.provider);
    if v.no_agent {
        println!(
            "agent:       none (a VM azlin did not make; start, stop, restart, resize, tag and destroy act on it)"
        );
        if let Some(c) = &v.cloud {
            cloud(c);
        }
        return Ok(());
    }
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
    println!(
        "agent:       {}",
        match v.agent_version.as_deref() {
            None => "-".to_string(),
            Some(a) if agent_is_older(a) => format!(
                "{} (older than this azlin, {})",
                shown(a),
                env!("CARGO_PKG_VERSION")
            ),
            Some(a) => shown(a).into_owned(),
        }
    );
    println!(
        "uptime:      {}",
        age(v.agent_started_at.filter(|_| v.connected))
    );
    println!("reconnects:  {}", v.reconnects);
    if let Some(e) = &v.last_error {
        println!("last error:  {}", shown(e));
    }
    if let Some(s) = &v.session_name {
        println!("session:     {s}");
    }
    println!("tags:        {}", tags(v));
    if let Some(h) = &v.home {
        println!("home:        {}", shown(&h.describe()));
    }
    if let Some(c) = &v.cloud {
        cloud(c);
    } else if let Some(n) = v.notional_per_hour {
        println!("price:       {n:.4}/h notional ([cost] notional_per_hour; this VM has no bill)");
    }
    if let Some(s) = &v.sample {
        live(v, s, std::io::stdout().is_terminal());
    }
    Ok(())
}

/// What the cloud says of the VM now.
fn cloud(c: &crate::ipc::CloudView) {
    let or_dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    println!("power:       {} (as the cloud reports it now)", c.power);
    println!("size:        {}", or_dash(&c.size));
    println!("region:      {}", or_dash(&c.location));
    println!(
        "cloud IPs:   public {}, private {}",
        or_dash(&c.public_ip),
        or_dash(&c.private_ip)
    );
    if !c.tags.is_empty() {
        let tags: Vec<String> = c.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("cloud tags:  {}", tags.join(" "));
    }
    match (&c.price, &c.no_price) {
        (Some(p), _) => println!(
            "price:       {} while running, {}",
            super::new::money(p, 1),
            p.source
        ),
        (None, Some(why)) => println!("price:       none: {why}"),
        (None, None) => {}
    }
    if let Some(e) = &c.error {
        println!("cloud error: {e}");
    }
}

/// The newest sample, and the tmux sessions: attached in bold, detached
/// dim (on a terminal; elsewhere marked in words).
fn live(v: &VmView, s: &Sample, tty: bool) {
    let freshness = match v.freshness {
        Some(Freshness::Live) | None => "live",
        Some(Freshness::Stale) => "STALE",
        Some(Freshness::Lost) => "LOST: figures below are the last ones received",
    };
    println!(
        "sample:      {} ago ({freshness})",
        figures::sample_age(v.sample_age_ms.unwrap_or(0))
    );
    let cores: Vec<String> = s.per_core.iter().map(|c| format!("{c:.0}%")).collect();
    println!(
        "cpu:         {:.0}% ({} cores: {})",
        s.cpu_percent,
        s.per_core.len(),
        cores.join(" ")
    );
    println!(
        "load:        {:.2} {:.2} {:.2}",
        s.load[0], s.load[1], s.load[2]
    );
    println!(
        "memory:      {}",
        figures::used_of(s.memory_used, s.memory_total)
    );
    println!(
        "swap:        {}",
        figures::used_of(s.swap_used, s.swap_total)
    );
    for f in &s.filesystems {
        println!(
            "disk:        {} {} ({})",
            f.mount,
            figures::used_of(f.used, f.total),
            f.fs_type
        );
    }
    for i in &s.interfaces {
        println!(
            "network:     {} rx {} tx {}",
            i.name,
            figures::rate(i.rx_bytes_per_sec),
            figures::rate(i.tx_bytes_per_sec)
        );
    }
    println!("vm uptime:   {}", figures::duration(s.uptime_secs));
    println!("users:       {}", s.users);
    println!("processes:   {}", s.processes);
    match &s.tmux {
        Tmux::Unavailable { reason } => println!("tmux:        unavailable ({reason})"),
        Tmux::Sessions(list) if list.is_empty() => println!("tmux:        no sessions"),
        Tmux::Sessions(list) => {
            let shown: Vec<String> = list
                .iter()
                .map(|t| {
                    let text = format!("{} ({} windows)", t.name, t.windows);
                    match (tty, t.attached) {
                        (true, true) => format!("\x1b[1m{text}\x1b[0m"),
                        (true, false) => format!("\x1b[2m{text}\x1b[0m"),
                        (false, true) => format!("{text} [attached]"),
                        (false, false) => text,
                    }
                })
                .collect();
            println!("tmux:        {}", shown.join("  "));
        }
    }
}

/// Registered machines: one `NAME TOKEN` line each on stdout (for scripts),
/// and how to use them on stderr.
pub fn joined(controller: &str, ca_pem: &str, vms: &[JoinInfo], json: bool) -> Result<()> {
    if json {
        let out = serde_json::json!({
            "controller": controller,
            "ca_pem": ca_pem,
            "vms": vms.iter().map(|v| serde_json::json!({"name": v.name, "token": v.token})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for v in vms {
        println!("{}\t{}", v.name, v.token);
    }
    eprintln!(
        "On each machine, run azlin-agent with name = NAME, the fleet CA \
         (pki/ca.crt in the azlin home), the token in join_token_file, and \
         [connect] mode = \"dial\", controller = \"{controller}\" (use an address \
         the machine can reach). Tokens expire; `azlin token NAME` issues a new one."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::agent_is_older;

    #[test]
    fn agents_older_than_this_azlin_are_told_apart() {
        let (major, minor, patch) = (
            env!("CARGO_PKG_VERSION_MAJOR").parse::<u64>().unwrap(),
            env!("CARGO_PKG_VERSION_MINOR").parse::<u64>().unwrap(),
            env!("CARGO_PKG_VERSION_PATCH").parse::<u64>().unwrap(),
        );
        assert!(!agent_is_older(env!("CARGO_PKG_VERSION")));
        assert!(!agent_is_older(&format!("{major}.{minor}.{}", patch + 1)));
        assert!(!agent_is_older(&format!("{}.0.0", major + 1)));
        if minor > 0 || patch > 0 || major > 0 {
            let older = if patch > 0 {
                format!("{major}.{minor}.{}", patch - 1)
            } else if minor > 0 {
                format!("{major}.{}.99", minor - 1)
            } else {
                format!("{}.99.99", major - 1)
            };
            assert!(agent_is_older(&older), "{older}");
            assert!(agent_is_older(&format!("{older}-rc1")), "{older}");
        }
        // What is not a version is not flagged.
        assert!(!agent_is_older("nightly"));
        assert!(!agent_is_older(""));
    }
}

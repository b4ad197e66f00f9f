//! The rows of `azlin top`, sorted and filtered, as plain cells: the same
//! for the full-screen dashboard, `--once` and the tests. Pure.

use crate::{cli::figures, ipc::VmView, state::VmState, telemetry::live::Freshness};

/// What the table is ordered by (busiest first for the figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sort {
    Cpu,
    Memory,
    Disk,
    Name,
}

impl Sort {
    pub fn label(self) -> &'static str {
        match self {
            Sort::Cpu => "cpu",
            Sort::Memory => "memory",
            Sort::Disk => "disk",
            Sort::Name => "name",
        }
    }
}

pub const HEADER: [&str; 10] = [
    "NAME",
    "STATE",
    "CPU",
    "MEMORY",
    "DISK",
    "LOAD",
    "NET RX/TX",
    "TMUX",
    "AGE",
    "$/H",
];

/// How a row should look: a lost VM is not to be mistaken for a live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    Live,
    Stale,
    Lost,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub vm: String,
    pub cells: [String; 10],
    pub look: Look,
}

fn cpu(v: &VmView) -> f32 {
    v.sample.as_ref().map_or(-1.0, |s| s.cpu_percent)
}

fn memory(v: &VmView) -> f64 {
    v.sample
        .as_ref()
        .map_or(-1.0, |s| figures::percent(s.memory_used, s.memory_total))
}

fn disk(v: &VmView) -> f64 {
    v.sample
        .as_ref()
        .and_then(|s| s.main_filesystem())
        .map_or(-1.0, |f| figures::percent(f.used, f.total))
}

/// Filter by a substring of the VM or session name (case-insensitive), then
/// sort.
pub fn select<'a>(vms: &'a [VmView], sort: Sort, filter: &str) -> Vec<&'a VmView> {
    let needle = filter.to_lowercase();
    let mut list: Vec<&VmView> = vms
        .iter()
        .filter(|v| {
            needle.is_empty()
                || v.name.to_lowercase().contains(&needle)
                || v.session_name
                    .as_ref()
                    .is_some_and(|s| s.to_lowercase().contains(&needle))
        })
        .collect();
    // Figures compare as shown (whole percents), so VMs that show the same
    // value keep the name order instead of swapping places on every
    // refresh as the fractions move.
    let shown = |f: f64| f.round() as i64;
    list.sort_by(|a, b| {
        let by = match sort {
            Sort::Cpu => shown(f64::from(cpu(b))).cmp(&shown(f64::from(cpu(a)))),
            Sort::Memory => shown(memory(b)).cmp(&shown(memory(a))),
            Sort::Disk => shown(disk(b)).cmp(&shown(disk(a))),
            Sort::Name => a.display_name().cmp(b.display_name()),
        };
        by.then_with(|| a.display_name().cmp(b.display_name()))
            .then_with(|| a.name.cmp(&b.name))
    });
    list
}

/// How a VM's row should look, without formatting the row.
pub fn look(v: &VmView) -> Look {
    match (v.state, v.freshness) {
        (VmState::Running, Some(Freshness::Live)) => Look::Live,
        (VmState::Running, Some(Freshness::Stale)) => Look::Stale,
        (VmState::Running | VmState::Provisioning, None) if v.connected => Look::Stale,
        _ => Look::Lost,
    }
}

pub fn row(v: &VmView) -> Row {
    let look = look(v);
    let state = match (v.state, v.connected) {
        (VmState::Running, false) => "offline".to_string(),
        (s, _) => s.as_str().to_string(),
    };
    let name = v.labelled_name();
    let age = match (v.sample_age_ms, v.freshness) {
        (None, _) => "-".into(),
        (Some(ms), Some(Freshness::Live)) => figures::sample_age(ms),
        (Some(ms), Some(Freshness::Stale)) => format!("stale {}", figures::sample_age(ms)),
        (Some(ms), _) => format!("LOST {}", figures::sample_age(ms)),
    };
    let price = crate::cli::render::price_cell(v);
    let cells = match &v.sample {
        None => [
            name,
            state,
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            age,
            price,
        ],
        Some(s) => {
            let disk = s
                .main_filesystem()
                .map_or("-".into(), |f| figures::used_of(f.used, f.total));
            let tmux = match &s.tmux {
                azlin_protocol::telemetry::Tmux::Sessions(list) if list.is_empty() => "-".into(),
                azlin_protocol::telemetry::Tmux::Sessions(list) => list
                    .iter()
                    .map(|t| {
                        if t.attached {
                            format!("{}*", t.name)
                        } else {
                            t.name.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                azlin_protocol::telemetry::Tmux::Unavailable { .. } => "unavailable".into(),
            };
            [
                name,
                state,
                format!("{:.0}%", s.cpu_percent),
                figures::used_of(s.memory_used, s.memory_total),
                disk,
                format!("{:.2}", s.load[0]),
                format!(
                    "{} {}",
                    figures::rate(s.rx_bytes_per_sec()),
                    figures::rate(s.tx_bytes_per_sec())
                ),
                tmux,
                age,
                price,
            ]
        }
    };
    Row {
        vm: v.name.clone(),
        cells,
        look,
    }
}

/// The whole table as aligned text (for `--once` and no TTY).
pub fn text(rows: &[Row]) -> String {
    let cells: Vec<[String; 10]> = rows.iter().map(|r| r.cells.clone()).collect();
    crate::cli::render::aligned(&HEADER.map(String::from), &cells)
}

/// One VM as `top --json` prints it.
pub fn json(v: &VmView) -> serde_json::Value {
    let s = v.sample.as_ref();
    let disk = s.and_then(|s| s.main_filesystem());
    serde_json::json!({
        "vm": v.name,
        "session_name": v.session_name,
        "state": v.state,
        "connected": v.connected,
        "freshness": v.freshness,
        "sample_age_ms": v.sample_age_ms,
        "taken_at_ms": s.map(|s| s.taken_at_ms),
        "cpu_percent": s.map(|s| s.cpu_percent),
        "per_core_percent": s.map(|s| &s.per_core),
        "load": s.map(|s| s.load),
        "memory_used": s.map(|s| s.memory_used),
        "memory_total": s.map(|s| s.memory_total),
        "swap_used": s.map(|s| s.swap_used),
        "swap_total": s.map(|s| s.swap_total),
        "disk_used": disk.map(|f| f.used),
        "disk_total": disk.map(|f| f.total),
        "filesystems": s.map(|s| &s.filesystems),
        "rx_bytes_per_sec": s.map(|s| s.rx_bytes_per_sec()),
        "tx_bytes_per_sec": s.map(|s| s.tx_bytes_per_sec()),
        "interfaces": s.map(|s| &s.interfaces),
        "uptime_secs": s.map(|s| s.uptime_secs),
        "users": s.map(|s| s.users),
        "processes": s.map(|s| s.processes),
        "tmux_sessions": s.map(|s| s.tmux_sessions()),
        "price": v.cloud.as_ref().and_then(|c| c.price.as_ref()),
        "tmux_unavailable": s.and_then(|s| match &s.tmux {
            azlin_protocol::telemetry::Tmux::Unavailable { reason } => Some(reason.as_str()),
            _ => None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ConnectMode;
    use azlin_protocol::telemetry::{Filesystem, Sample, Tmux, TmuxSession};

    fn vm(name: &str, cpu: f32, mem: u64, freshness: Option<Freshness>) -> VmView {
        VmView {
            name: name.into(),
            provider: "local".into(),
            state: VmState::Running,
            connect_mode: ConnectMode::Listen,
            connected: freshness != Some(Freshness::Lost),
            address: None,
            enrolled: true,
            agent_version: None,
            agent_started_at: None,
            connected_since: None,
            reconnects: 0,
            last_error: None,
            created_at: 0,
            session_name: None,
            cloud: None,
            no_agent: false,
            notional_per_hour: None,
            home: None,
            tags: Default::default(),
            sample_age_ms: freshness.map(|_| 400),
            freshness,
            sample: freshness.map(|_| Sample {
                taken_at_ms: 0,
                interval_ms: 1000,
                cpu_percent: cpu,
                per_core: vec![cpu],
                load: [0.5, 0.0, 0.0],
                memory_used: mem,
                memory_total: 100,
                swap_used: 0,
                swap_total: 0,
                filesystems: vec![Filesystem {
                    mount: "/".into(),
                    fs_type: "ext4".into(),
                    used: 100 - mem,
                    total: 100,
                }],
                interfaces: vec![],
                uptime_secs: 1,
                users: 0,
                processes: 1,
                tmux: Tmux::Sessions(vec![
                    TmuxSession {
                        name: "main".into(),
                        attached: true,
                        windows: 1,
                        created_unix: 0,
                    },
                    TmuxSession {
                        name: "bg".into(),
                        attached: false,
                        windows: 1,
                        created_unix: 0,
                    },
                ]),
            }),
        }
    }

    fn names(list: Vec<&VmView>) -> Vec<&str> {
        list.into_iter().map(|v| v.name.as_str()).collect()
    }

    #[test]
    fn sorts_filters_and_marks_stale_and_lost() {
        let mut vms = vec![
            vm("web-1", 10.0, 80, Some(Freshness::Live)),
            vm("web-2", 90.0, 20, Some(Freshness::Stale)),
            vm("db", 50.0, 50, Some(Freshness::Lost)),
            vm("new", 0.0, 0, None),
        ];
        vms[2].session_name = Some("database".into());
        assert_eq!(
            names(select(&vms, Sort::Cpu, "")),
            ["web-2", "db", "web-1", "new"]
        );
        assert_eq!(
            names(select(&vms, Sort::Memory, "")),
            ["web-1", "db", "web-2", "new"]
        );
        assert_eq!(
            names(select(&vms, Sort::Disk, "")),
            ["web-2", "db", "web-1", "new"]
        );
        // By what the user sees: db shows as its session name "database".
        assert_eq!(
            names(select(&vms, Sort::Name, "")),
            ["db", "new", "web-1", "web-2"]
        );
        assert_eq!(names(select(&vms, Sort::Name, "WEB")), ["web-1", "web-2"]);
        assert_eq!(names(select(&vms, Sort::Name, "datab")), ["db"]);
        // Values that show the same (whole percents) keep the name order,
        // however the fractions move between refreshes.
        let tied = |a: f32, b: f32| {
            let vms = vec![
                vm("b", a, 10, Some(Freshness::Live)),
                vm("a", b, 10, Some(Freshness::Live)),
            ];
            names(select(&vms, Sort::Cpu, ""))
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(tied(40.2, 40.4), ["a", "b"]);
        assert_eq!(tied(40.4, 40.2), ["a", "b"]);
        assert_eq!(tied(41.0, 40.2), ["b", "a"]);
        let rows: Vec<Row> = vms.iter().map(row).collect();
        assert_eq!(rows[0].look, Look::Live);
        assert_eq!(rows[0].cells[7], "main*,bg");
        assert_eq!(rows[1].look, Look::Stale);
        assert!(rows[1].cells[8].starts_with("stale"));
        assert_eq!(rows[2].look, Look::Lost);
        assert!(rows[2].cells[8].starts_with("LOST"));
        assert_eq!(rows[2].cells[0], "database (db)");
        assert_eq!(rows[2].cells[1], "offline");
        let text = text(&rows);
        assert!(text.starts_with("NAME"));
        assert_eq!(text.lines().count(), 5);
    }
}

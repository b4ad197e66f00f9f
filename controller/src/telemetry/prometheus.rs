//! The Prometheus text exposition (format 0.0.4) of the fleet and of the
//! daemon itself: every VM's newest figures as gauges labelled `vm` (and
//! `core`, `mount`, `interface`), plus the daemon's counters.
//!
//! Pure: the daemon's HTTP endpoint calls [`render`] with a snapshot.

use std::fmt::Write;

use azlin_protocol::telemetry::Sample;

use super::live::Latest;

/// One VM as the exposition sees it.
pub struct VmFigures {
    pub vm: String,
    pub connected: bool,
    pub latest: Option<Latest>,
}

/// The daemon's own figures.
#[derive(Debug, Clone, Default)]
pub struct DaemonFigures {
    pub vms: u64,
    pub connections: u64,
    pub reconnects: u64,
    pub frames_received: u64,
    pub samples_received: u64,
    pub samples_rejected: u64,
    pub samples_clamped: u64,
    pub protocol_errors: u64,
    pub queries: u64,
    pub uptime_secs: u64,
}

/// Builds one metric family at a time, so every series of a metric sits
/// under its own HELP and TYPE lines as the format requires.
struct Out {
    text: String,
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn series(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }
}

/// Label values escape backslash, double quote and newline.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        // Samples are checked on arrival; this is only a backstop.
        "NaN".into()
    }
}

type Gauge = (&'static str, &'static str, fn(&Latest) -> f64);

/// Per-VM gauges with the `vm` label only.
const VM_GAUGES: &[Gauge] = &[
    (
        "azlin_vm_cpu_percent",
        "CPU busy over the whole VM, 0-100.",
        |l| f64::from(l.sample.cpu_percent),
    ),
    ("azlin_vm_load1", "Load average over 1 minute.", |l| {
        f64::from(l.sample.load[0])
    }),
    ("azlin_vm_load5", "Load average over 5 minutes.", |l| {
        f64::from(l.sample.load[1])
    }),
    ("azlin_vm_load15", "Load average over 15 minutes.", |l| {
        f64::from(l.sample.load[2])
    }),
    ("azlin_vm_memory_used_bytes", "Memory in use.", |l| {
        l.sample.memory_used as f64
    }),
    ("azlin_vm_memory_total_bytes", "Memory installed.", |l| {
        l.sample.memory_total as f64
    }),
    ("azlin_vm_swap_used_bytes", "Swap in use.", |l| {
        l.sample.swap_used as f64
    }),
    ("azlin_vm_swap_total_bytes", "Swap configured.", |l| {
        l.sample.swap_total as f64
    }),
    (
        "azlin_vm_uptime_seconds",
        "Seconds since the VM booted.",
        |l| l.sample.uptime_secs as f64,
    ),
    ("azlin_vm_users", "Logged-in user sessions.", |l| {
        f64::from(l.sample.users)
    }),
    ("azlin_vm_processes", "Processes running.", |l| {
        f64::from(l.sample.processes)
    }),
    (
        "azlin_vm_tmux_sessions",
        "tmux sessions of the VM user.",
        |l| l.sample.tmux_sessions().len() as f64,
    ),
    (
        "azlin_vm_tmux_sessions_attached",
        "tmux sessions with a client attached.",
        |l| {
            l.sample
                .tmux_sessions()
                .iter()
                .filter(|s| s.attached)
                .count() as f64
        },
    ),
    (
        "azlin_vm_sample_age_seconds",
        "Seconds since the newest sample arrived.",
        |l| l.age().as_secs_f64(),
    ),
    (
        "azlin_vm_sample_interval_seconds",
        "How often the agent samples.",
        |l| f64::from(l.sample.interval_ms) / 1000.0,
    ),
];

type Labelled = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Sample) -> Vec<(String, f64)>,
);

/// Per-VM gauges with one more label (core, mount, interface): each
/// function gives that label's value and the figure for every series.
const VM_LABELLED: &[Labelled] = &[
    (
        "azlin_vm_cpu_core_percent",
        "CPU busy per core, 0-100.",
        "core",
        |s| {
            s.per_core
                .iter()
                .enumerate()
                .map(|(i, c)| (i.to_string(), f64::from(*c)))
                .collect()
        },
    ),
    (
        "azlin_vm_filesystem_used_bytes",
        "Space used per filesystem.",
        "mount",
        |s| {
            s.filesystems
                .iter()
                .map(|f| (f.mount.clone(), f.used as f64))
                .collect()
        },
    ),
    (
        "azlin_vm_filesystem_size_bytes",
        "Size per filesystem.",
        "mount",
        |s| {
            s.filesystems
                .iter()
                .map(|f| (f.mount.clone(), f.total as f64))
                .collect()
        },
    ),
    (
        "azlin_vm_network_receive_bytes_per_second",
        "Bytes received per second per interface.",
        "interface",
        |s| {
            s.interfaces
                .iter()
                .map(|i| (i.name.clone(), i.rx_bytes_per_sec as f64))
                .collect()
        },
    ),
    (
        "azlin_vm_network_transmit_bytes_per_second",
        "Bytes sent per second per interface.",
        "interface",
        |s| {
            s.interfaces
                .iter()
                .map(|i| (i.name.clone(), i.tx_bytes_per_sec as f64))
                .collect()
        },
    ),
];

pub fn render(vms: &[VmFigures], daemon: &DaemonFigures) -> String {
    let mut out = Out {
        text: String::with_capacity(512 + vms.len() * 2048),
    };
    out.family(
        "azlin_vm_up",
        "gauge",
        "1 when the VM's agent is connected to the daemon.",
    );
    for v in vms {
        out.series(
            "azlin_vm_up",
            &[("vm", &v.vm)],
            if v.connected { 1.0 } else { 0.0 },
        );
    }
    let with: Vec<(&str, &Latest)> = vms
        .iter()
        .filter_map(|v| Some((v.vm.as_str(), v.latest.as_ref()?)))
        .collect();
    for (name, help, get) in VM_GAUGES {
        out.family(name, "gauge", help);
        for (vm, l) in &with {
            out.series(name, &[("vm", vm)], get(l));
        }
    }
    for (name, help, label, series) in VM_LABELLED {
        out.family(name, "gauge", help);
        for (vm, l) in &with {
            for (value, v) in series(&l.sample) {
                out.series(name, &[("vm", vm), (label, &value)], v);
            }
        }
    }
    let d = daemon;
    let own: [(&str, &str, &str, u64); 10] = [
        ("azlin_daemon_vms", "gauge", "VMs in the fleet.", d.vms),
        (
            "azlin_daemon_connections",
            "gauge",
            "Agents connected now.",
            d.connections,
        ),
        (
            "azlin_daemon_reconnects_total",
            "counter",
            "Agent reconnections since the daemon started.",
            d.reconnects,
        ),
        (
            "azlin_daemon_frames_received_total",
            "counter",
            "Frames received on agents' telemetry streams.",
            d.frames_received,
        ),
        (
            "azlin_daemon_samples_received_total",
            "counter",
            "Telemetry samples accepted.",
            d.samples_received,
        ),
        (
            "azlin_daemon_samples_rejected_total",
            "counter",
            "Telemetry samples thrown away (non-finite figures).",
            d.samples_rejected,
        ),
        (
            "azlin_daemon_samples_clamped_total",
            "counter",
            "Telemetry samples with absurd figures clamped.",
            d.samples_clamped,
        ),
        (
            "azlin_daemon_protocol_errors_total",
            "counter",
            "Agent connections ended for a protocol violation.",
            d.protocol_errors,
        ),
        (
            "azlin_daemon_queries_total",
            "counter",
            "Questions asked of agents (process lists).",
            d.queries,
        ),
        (
            "azlin_daemon_uptime_seconds",
            "gauge",
            "Seconds since the daemon started.",
            d.uptime_secs,
        ),
    ];
    for (name, kind, help, value) in own {
        out.family(name, kind, help);
        out.series(name, &[], value as f64);
    }
    out.text
}

#[cfg(test)]
mod tests {
    use super::*;
    use azlin_protocol::telemetry::{Filesystem, Tmux, TmuxSession};

    fn latest() -> Latest {
        Latest {
            sample: Sample {
                taken_at_ms: 0,
                interval_ms: 1000,
                cpu_percent: 42.5,
                per_core: vec![40.0, 45.0],
                load: [0.5, 0.25, 0.125],
                memory_used: 100,
                memory_total: 200,
                swap_used: 0,
                swap_total: 0,
                filesystems: vec![Filesystem {
                    mount: "/odd \"mount\"\\x".into(),
                    fs_type: "ext4".into(),
                    used: 5,
                    total: 10,
                }],
                interfaces: vec![],
                uptime_secs: 7,
                users: 2,
                processes: 99,
                tmux: Tmux::Sessions(vec![TmuxSession {
                    name: "main".into(),
                    attached: true,
                    windows: 1,
                    created_unix: 0,
                }]),
            },
            received: std::time::Instant::now(),
        }
    }

    #[test]
    fn families_are_grouped_and_labels_escaped() {
        let vms = vec![
            VmFigures {
                vm: "a".into(),
                connected: true,
                latest: Some(latest()),
            },
            VmFigures {
                vm: "b".into(),
                connected: false,
                latest: None,
            },
        ];
        let text = render(
            &vms,
            &DaemonFigures {
                connections: 1,
                ..Default::default()
            },
        );
        assert!(
            text.contains("azlin_vm_up{vm=\"a\"} 1\nazlin_vm_up{vm=\"b\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("azlin_vm_cpu_percent{vm=\"a\"} 42.5\n"));
        assert!(
            !text.contains("azlin_vm_cpu_percent{vm=\"b\"}"),
            "no figures for a VM with no sample"
        );
        assert!(text.contains("azlin_vm_cpu_core_percent{vm=\"a\",core=\"1\"} 45\n"));
        assert!(
            text.contains("mount=\"/odd \\\"mount\\\"\\\\x\"} 5\n"),
            "{text}"
        );
        assert!(text.contains("azlin_vm_tmux_sessions_attached{vm=\"a\"} 1\n"));
        assert!(text.contains(
            "# TYPE azlin_daemon_reconnects_total counter\nazlin_daemon_reconnects_total 0\n"
        ));
        // Each family's HELP appears exactly once.
        assert_eq!(text.matches("# HELP azlin_vm_load1 ").count(), 1);
    }
}

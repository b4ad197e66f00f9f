//! `~/.azlin/alerts.toml`: the user's alert rules, the built-in rules
//! (on unless turned off) and the channels. Parsed into a [`RuleBook`];
//! every mistake is reported as `file:line:column: what is wrong`, so the
//! daemon can log it and keep the last good book.
//!
//! ```toml
//! [channels.desktop]
//! command = "notify-send azlin"   # the message is appended as the last
//!                                 # argument (default: config.toml's
//!                                 # notification_command, if set)
//! [channels.webhook]
//! url = "https://hooks.example.com/azlin"
//! retries = 5                     # after the first attempt
//! timeout = "5s"
//!
//! [builtin.agent_lost]            # judged by the daemon
//! after = "5s"                    # no sign of life for this long
//! [builtin.disk_full]
//! threshold = 90                  # percent, every real filesystem
//! [builtin.tmux_session_ended]
//! enabled = true
//! [builtin.process_exited]
//! watch = ["train.py"]            # command-line substrings (default: none)
//! [builtin.idle]
//! cpu_below = 5                   # percent
//! after = "2h"                    # suggests `azlin stop`
//!
//! [[rule]]
//! name = "cpu-high"
//! metric = "cpu"   # cpu memory swap disk load1 net_rx net_tx processes
//! op = ">"         # > >= < <=
//! threshold = 90
//! clear = 80       # default: 5 points (percentages) or 10 % back
//! for = "30s"      # default 0: fire on the first sample over
//! severity = "warning"            # info, warning (default), critical
//! mount = "/data"                 # disk only; default every filesystem
//! vms = ["dev-*"]                 # names, session names, globs; default all
//! tags = { env = "dev" }          # and every tag
//! channels = ["webhook"]          # default: every configured channel
//! ```
//!
//! Every built-in also takes `enabled`, `severity` and `channels`. The
//! daemon's log gets every event whatever the channels say.

use std::{collections::BTreeMap, ops::Range, path::Path};

use azlin_protocol::alert::{self, Metric, Op, Rule, Severity};
use serde::Deserialize;
use toml::Spanned;

use super::book::{AgentLost, BookRule, Channel, Desktop, RuleBook, Webhook};

/// A mistake in the rules file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct RulesError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Names of the built-in rules, as events and `azlin alerts` show them.
pub const AGENT_LOST: &str = "agent-lost";
/// The daemon's budget events (`azlin cost budget`): not a rule of this
/// file, so no rule may take the name.
pub const BUDGET: &str = "budget";
/// The daemon's schedule events (a stop or start missed while it was not
/// running); reserved likewise.
pub const SCHEDULE: &str = "schedule";
/// The daemon's idle autostop warnings and stops; reserved likewise.
pub const AUTOSTOP: &str = "autostop";
/// A scheduled snapshot taken (and what was pruned); reserved likewise.
pub const SNAPSHOT: &str = "snapshot";
/// A scheduled snapshot that failed; reserved likewise.
pub const SNAPSHOT_FAILED: &str = "snapshot-failed";
pub const DISK_FULL: &str = "disk-full";
pub const TMUX_SESSION_ENDED: &str = "tmux-session-ended";
pub const PROCESS_EXITED: &str = "process-exited";
pub const IDLE: &str = "vm-idle";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    channels: Channels,
    #[serde(default)]
    builtin: Builtins,
    #[serde(default)]
    rule: Vec<RuleEntry>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Channels {
    desktop: Option<DesktopEntry>,
    webhook: Option<WebhookEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DesktopEntry {
    command: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookEntry {
    url: Spanned<String>,
    #[serde(default = "default_retries")]
    retries: Spanned<u32>,
    timeout: Option<Spanned<String>>,
}

fn default_retries() -> Spanned<u32> {
    Spanned::new(0..0, 5)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Builtins {
    agent_lost: Option<BuiltinEntry>,
    disk_full: Option<BuiltinEntry>,
    tmux_session_ended: Option<BuiltinEntry>,
    process_exited: Option<BuiltinEntry>,
    idle: Option<BuiltinEntry>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BuiltinEntry {
    enabled: Option<bool>,
    severity: Option<Spanned<String>>,
    channels: Option<Vec<Spanned<String>>>,
    after: Option<Spanned<String>>,
    threshold: Option<Spanned<f64>>,
    cpu_below: Option<Spanned<f64>>,
    watch: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    name: Spanned<String>,
    metric: Spanned<String>,
    op: Spanned<String>,
    threshold: Spanned<f64>,
    clear: Option<Spanned<f64>>,
    #[serde(rename = "for")]
    for_: Option<Spanned<String>>,
    severity: Option<Spanned<String>>,
    mount: Option<Spanned<String>>,
    #[serde(default)]
    vms: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    channels: Option<Vec<Spanned<String>>>,
}

/// How a built-in turns its table into rules.
type MakeRules = dyn Fn(&BuiltinEntry, Severity) -> Result<Vec<Rule>, Located>;

/// Where a mistake is, before it is turned into a line and column.
struct Located {
    span: Range<usize>,
    message: String,
}

fn at<T>(spanned: &Spanned<T>, message: impl Into<String>) -> Located {
    Located {
        span: spanned.span(),
        message: message.into(),
    }
}

/// Read and check the rules file. A missing file is the built-in rules
/// alone. `notification_command` is config.toml's, the original tool's
/// desktop channel, used when the rules file names none.
pub fn load(path: &Path, notification_command: Option<&str>) -> Result<RuleBook, RulesError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path, notification_command),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => parse("", path, notification_command),
        Err(e) => Err(RulesError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read it: {e}"),
        }),
    }
}

pub fn parse(
    text: &str,
    path: &Path,
    notification_command: Option<&str>,
) -> Result<RuleBook, RulesError> {
    let locate = |l: Located| {
        let (line, column) = crate::text_position::line_column(text, l.span.start);
        RulesError {
            file: path.display().to_string(),
            line,
            column,
            message: l.message,
        }
    };
    let file: File = toml::from_str(text).map_err(|e| {
        locate(Located {
            span: e.span().unwrap_or(0..0),
            message: e.message().trim().to_string(),
        })
    })?;
    build(file, notification_command).map_err(locate)
}

fn build(file: File, notification_command: Option<&str>) -> Result<RuleBook, Located> {
    let desktop = match &file.channels.desktop {
        Some(d) => Some(desktop(&d.command)?),
        None => notification_command
            .map(|c| Spanned::new(0..0, c.to_string()))
            .map(|c| desktop(&c))
            .transpose()?,
    };
    let webhook = file.channels.webhook.as_ref().map(webhook).transpose()?;
    let configured: Vec<Channel> = [
        Some(Channel::Log),
        desktop.as_ref().map(|_| Channel::Desktop),
        webhook.as_ref().map(|_| Channel::Webhook),
    ]
    .into_iter()
    .flatten()
    .collect();
    let channels = |list: &Option<Vec<Spanned<String>>>| -> Result<Vec<Channel>, Located> {
        let Some(list) = list else {
            return Ok(configured.clone());
        };
        let mut out = vec![Channel::Log];
        for name in list {
            let channel = match name.get_ref().as_str() {
                "log" => Channel::Log,
                "desktop" => Channel::Desktop,
                "webhook" => Channel::Webhook,
                other => {
                    return Err(at(
                        name,
                        format!("unknown channel {other:?}: use log, desktop or webhook"),
                    ));
                }
            };
            if !configured.contains(&channel) {
                return Err(at(
                    name,
                    format!(
                        "channel {:?} is not configured: add [channels.{}]",
                        name.get_ref(),
                        name.get_ref()
                    ),
                ));
            }
            if !out.contains(&channel) {
                out.push(channel);
            }
        }
        Ok(out)
    };
    let b = &file.builtin;
    let mut rules = Vec::new();
    let agent_lost = match b.agent_lost.as_ref() {
        Some(e) if e.enabled == Some(false) => None,
        e => {
            let e = e.map_or_else(BuiltinEntry::default, clone_entry);
            only(&e, &["after"])?;
            Some(AgentLost {
                after_ms: duration_or(&e.after, 5_000)?.max(1_000),
                severity: severity_or(&e.severity, Severity::Critical)?,
                channels: channels(&e.channels)?,
            })
        }
    };
    let mut builtin = |entry: &Option<BuiltinEntry>,
                       allowed: &[&str],
                       default_on: bool,
                       make: &MakeRules,
                       default_severity: Severity|
     -> Result<(), Located> {
        let e = entry
            .as_ref()
            .map_or_else(BuiltinEntry::default, clone_entry);
        only(&e, allowed)?;
        if !e.enabled.unwrap_or(default_on) {
            return Ok(());
        }
        let severity = severity_or(&e.severity, default_severity)?;
        let chans = channels(&e.channels)?;
        for rule in make(&e, severity)? {
            rules.push(BookRule {
                rule,
                vms: Vec::new(),
                tags: BTreeMap::new(),
                channels: chans.clone(),
            });
        }
        Ok(())
    };
    builtin(
        &b.disk_full,
        &["threshold"],
        true,
        &|e, severity| {
            let threshold = percent(&e.threshold, 90.0)?;
            Ok(vec![Rule {
                name: DISK_FULL.into(),
                metric: Metric::Disk { mount: None },
                op: Op::AtLeast,
                threshold,
                clear: default_clear(&Metric::Disk { mount: None }, Op::AtLeast, threshold),
                for_ms: 0,
                severity,
            }])
        },
        Severity::Warning,
    )?;
    builtin(
        &b.tmux_session_ended,
        &[],
        true,
        &|_, severity| {
            Ok(vec![notice_rule(
                TMUX_SESSION_ENDED,
                Metric::TmuxSessionEnded,
                severity,
            )])
        },
        Severity::Info,
    )?;
    builtin(
        &b.process_exited,
        &["watch"],
        true,
        &|e, severity| {
            let watch = e.watch.clone().unwrap_or_default();
            watch
                .iter()
                .enumerate()
                .map(|(i, pattern)| {
                    let p = pattern.get_ref();
                    if p.is_empty()
                        || p.len() > alert::MAX_PATTERN
                        || p.chars().any(char::is_control)
                    {
                        return Err(at(
                            pattern,
                            "a watched process must be 1-256 printable characters",
                        ));
                    }
                    let name = if i == 0 {
                        PROCESS_EXITED.to_string()
                    } else {
                        format!("{PROCESS_EXITED}-{}", i + 1)
                    };
                    Ok(notice_rule(
                        &name,
                        Metric::ProcessExited { pattern: p.clone() },
                        severity,
                    ))
                })
                .collect()
        },
        Severity::Warning,
    )?;
    builtin(
        &b.idle,
        &["cpu_below", "after"],
        true,
        &|e, severity| {
            let threshold = percent(&e.cpu_below, 5.0)?;
            Ok(vec![Rule {
                name: IDLE.into(),
                metric: Metric::Cpu,
                op: Op::Below,
                threshold,
                clear: default_clear(&Metric::Cpu, Op::Below, threshold),
                for_ms: duration_or(&e.after, 2 * 3600 * 1000)?,
                severity,
            }])
        },
        Severity::Info,
    )?;
    let builtin_names: Vec<String> = rules.iter().map(|r| r.rule.name.clone()).collect();
    for entry in &file.rule {
        let name = entry.name.get_ref();
        alert::check_rule_name(name).map_err(|e| at(&entry.name, e.to_string()))?;
        if builtin_names.iter().any(|b| b == name)
            || [
                AGENT_LOST,
                PROCESS_EXITED,
                BUDGET,
                SCHEDULE,
                AUTOSTOP,
                SNAPSHOT,
                SNAPSHOT_FAILED,
            ]
            .contains(&name.as_str())
            || name.starts_with("process-exited-")
        {
            return Err(at(
                &entry.name,
                format!("{name:?} is the name of a built-in rule"),
            ));
        }
        if rules.iter().any(|r| &r.rule.name == name) {
            return Err(at(
                &entry.name,
                format!("a rule named {name:?} is already defined"),
            ));
        }
        let rule = user_rule(entry)?;
        rules.push(BookRule {
            rule,
            vms: entry.vms.clone(),
            tags: entry.tags.clone(),
            channels: channels(&entry.channels)?,
        });
    }
    if rules.len() > alert::MAX_RULES {
        return Err(Located {
            span: 0..0,
            message: format!(
                "{} rules is more than the {} allowed",
                rules.len(),
                alert::MAX_RULES
            ),
        });
    }
    Ok(RuleBook {
        rules,
        agent_lost,
        desktop,
        webhook,
    })
}

fn clone_entry(e: &BuiltinEntry) -> BuiltinEntry {
    BuiltinEntry {
        enabled: e.enabled,
        severity: e.severity.clone(),
        channels: e.channels.clone(),
        after: e.after.clone(),
        threshold: e.threshold.clone(),
        cpu_below: e.cpu_below.clone(),
        watch: e.watch.clone(),
    }
}

/// A built-in takes `enabled`, `severity`, `channels` and only its own keys.
fn only(e: &BuiltinEntry, allowed: &[&str]) -> Result<(), Located> {
    let keys: [(&str, Option<Range<usize>>); 4] = [
        ("after", e.after.as_ref().map(Spanned::span)),
        ("threshold", e.threshold.as_ref().map(Spanned::span)),
        ("cpu_below", e.cpu_below.as_ref().map(Spanned::span)),
        (
            "watch",
            e.watch.as_ref().and_then(|w| w.first()).map(Spanned::span),
        ),
    ];
    for (key, span) in keys {
        if let Some(span) = span
            && !allowed.contains(&key)
        {
            return Err(Located {
                span,
                message: format!("`{key}` does not apply to this built-in rule"),
            });
        }
    }
    Ok(())
}

fn notice_rule(name: &str, metric: Metric, severity: Severity) -> Rule {
    Rule {
        name: name.into(),
        metric,
        op: Op::AtLeast,
        threshold: 1.0,
        clear: 1.0,
        for_ms: 0,
        severity,
    }
}

fn user_rule(e: &RuleEntry) -> Result<Rule, Located> {
    let metric = match e.metric.get_ref().as_str() {
        "cpu" => Metric::Cpu,
        "memory" => Metric::Memory,
        "swap" => Metric::Swap,
        "disk" => Metric::Disk {
            mount: e.mount.as_ref().map(|m| m.get_ref().clone()),
        },
        "load1" => Metric::Load1,
        "net_rx" => Metric::NetRx,
        "net_tx" => Metric::NetTx,
        "processes" => Metric::Processes,
        other => {
            return Err(at(
                &e.metric,
                format!(
                    "unknown metric {other:?}: use cpu, memory, swap, disk, load1, net_rx, net_tx or processes"
                ),
            ));
        }
    };
    if let Some(mount) = &e.mount {
        if !matches!(metric, Metric::Disk { .. }) {
            return Err(at(mount, "`mount` applies only to metric = \"disk\""));
        }
        if !mount.get_ref().starts_with('/') {
            return Err(at(mount, "`mount` must be an absolute path such as \"/\""));
        }
    }
    let op = match e.op.get_ref().as_str() {
        ">" => Op::Above,
        ">=" => Op::AtLeast,
        "<" => Op::Below,
        "<=" => Op::AtMost,
        other => {
            return Err(at(
                &e.op,
                format!("unknown op {other:?}: use >, >=, < or <="),
            ));
        }
    };
    let threshold = *e.threshold.get_ref();
    if !threshold.is_finite() || (metric.is_percent() && !(0.0..=100.0).contains(&threshold)) {
        return Err(at(
            &e.threshold,
            if metric.is_percent() {
                "a percentage threshold must be between 0 and 100"
            } else {
                "threshold must be a finite number"
            },
        ));
    }
    if threshold < 0.0 {
        return Err(at(&e.threshold, "threshold must not be negative"));
    }
    let clear = match &e.clear {
        None => default_clear(&metric, op, threshold),
        Some(c) => {
            let v = *c.get_ref();
            let wrong = if op.is_upward() {
                v > threshold
            } else {
                v < threshold
            };
            if !v.is_finite() || wrong {
                return Err(at(
                    c,
                    format!(
                        "clear must be {} the threshold ({threshold}), where the alert stops",
                        if op.is_upward() {
                            "at or below"
                        } else {
                            "at or above"
                        }
                    ),
                ));
            }
            v
        }
    };
    Ok(Rule {
        name: e.name.get_ref().clone(),
        metric,
        op,
        threshold,
        clear,
        for_ms: duration_or(&e.for_, 0)?,
        severity: severity_or(&e.severity, Severity::Warning)?,
    })
}

/// Where a firing alert resolves when the file does not say: 5 points
/// back for a percentage, 10 % back otherwise.
pub fn default_clear(metric: &Metric, op: Op, threshold: f64) -> f64 {
    let margin = if metric.is_percent() {
        5.0
    } else {
        threshold.abs() * 0.1
    };
    if op.is_upward() {
        (threshold - margin).max(0.0)
    } else if metric.is_percent() {
        (threshold + margin).min(100.0)
    } else {
        threshold + margin
    }
}

fn percent(v: &Option<Spanned<f64>>, default: f64) -> Result<f64, Located> {
    match v {
        None => Ok(default),
        Some(s) if (0.0..=100.0).contains(s.get_ref()) => Ok(*s.get_ref()),
        Some(s) => Err(at(s, "a percentage must be between 0 and 100")),
    }
}

fn severity_or(v: &Option<Spanned<String>>, default: Severity) -> Result<Severity, Located> {
    match v.as_ref().map(|s| (s, s.get_ref().as_str())) {
        None => Ok(default),
        Some((_, "info")) => Ok(Severity::Info),
        Some((_, "warning")) => Ok(Severity::Warning),
        Some((_, "critical")) => Ok(Severity::Critical),
        Some((s, other)) => Err(at(
            s,
            format!("unknown severity {other:?}: use info, warning or critical"),
        )),
    }
}

fn duration_or(v: &Option<Spanned<String>>, default_ms: u64) -> Result<u64, Located> {
    let Some(s) = v else { return Ok(default_ms) };
    let ms = parse_duration(s.get_ref()).ok_or_else(|| {
        at(
            s,
            format!(
                "cannot read duration {:?}: write it like \"0\", \"500ms\", \"30s\", \"5m\", \"2h\" or \"1h30m\"",
                s.get_ref()
            ),
        )
    })?;
    if ms > alert::MAX_FOR_MS {
        return Err(at(s, "a duration may be at most 7 days"));
    }
    Ok(ms)
}

/// "0", "500ms", "30s", "5m", "2h", "1h30m" → milliseconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "0" {
        return Some(0);
    }
    let mut total: u64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

fn desktop(command: &Spanned<String>) -> Result<Desktop, Located> {
    let argv: Vec<String> = command
        .get_ref()
        .split_whitespace()
        .map(String::from)
        .collect();
    if argv.is_empty() {
        return Err(at(command, "the desktop command is empty"));
    }
    Ok(Desktop { argv })
}

fn webhook(w: &WebhookEntry) -> Result<Webhook, Located> {
    let url = w.url.get_ref();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        return Err(at(
            &w.url,
            "the webhook url must start with http:// or https://",
        ));
    }
    if *w.retries.get_ref() > 20 {
        return Err(at(&w.retries, "retries may be at most 20"));
    }
    let timeout_ms = duration_or(&w.timeout, 5_000)?;
    if timeout_ms == 0 {
        return Err(at(
            w.timeout.as_ref().expect("set"),
            "timeout must be more than 0",
        ));
    }
    Ok(Webhook {
        url: url.clone(),
        retries: *w.retries.get_ref(),
        timeout_ms,
    })
}

#[cfg(test)]
#[path = "rules_file_tests.rs"]
mod tests;

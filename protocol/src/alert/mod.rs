//! Alerts evaluated on the agent: the rules the controller ships, the
//! events the agent pushes back, and the checks each side runs on what the
//! other sent.
//!
//! The controller opens one bidirectional stream per connection with
//! [`crate::stream::Query::Alerts`] carrying the VM's rules. From then on the
//! controller sends [`AlertsDown`] frames (new rules, acknowledgements) and
//! the agent sends [`AlertsUp`] frames (the rules were accepted or refused,
//! events). Every event carries the agent's outbox epoch and a sequence
//! number: the agent keeps it until the controller acknowledges it, and
//! sends it again on the next connection if not, so the controller
//! deduplicates by `(vm, epoch, seq)`: none lost, none twice.
//!
//! - [`eval`]: the rule evaluator, pure: samples in, events out.
//! - [`outbox`]: the agent's queue of unacknowledged events.
//!
//! Not here: the rules file (the controller's), channels, or storage.

pub mod eval;
pub mod outbox;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{message::Tagged, telemetry::clean_text};

/// Capability an agent announces when it evaluates alert rules.
pub const CAP_ALERTS: &str = "alerts/1";
/// Largest frame on the alerts stream.
pub const MAX_ALERT_FRAME: usize = 256 * 1024;
/// Most rules one VM is given.
pub const MAX_RULES: usize = 256;
/// Longest rule name, in bytes.
pub const MAX_RULE_NAME: usize = 64;
/// Longest process pattern, in bytes.
pub const MAX_PATTERN: usize = 256;
/// Longest `for` duration: a week.
pub const MAX_FOR_MS: u64 = 7 * 24 * 3600 * 1000;
/// Longest event message, in bytes.
pub const MAX_MESSAGE: usize = 1024;

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Metric {
    /// CPU busy over the whole machine, percent.
    Cpu,
    /// Memory used, percent.
    Memory,
    /// Swap used, percent (0 when there is no swap).
    Swap,
    /// A filesystem's use, percent; `None`: each real filesystem on its own.
    Disk { mount: Option<String> },
    /// One-minute load average.
    Load1,
    /// Bytes per second received, all interfaces.
    NetRx,
    /// Bytes per second sent, all interfaces.
    NetTx,
    /// Number of processes.
    Processes,
    /// A tmux session of the VM user ended (a notice, never active).
    TmuxSessionEnded,
    /// No process whose command line contains `pattern` runs any more,
    /// after one did (a notice per exit).
    ProcessExited { pattern: String },
}

impl Metric {
    /// The name used in rules files and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
            Metric::Swap => "swap",
            Metric::Disk { .. } => "disk",
            Metric::Load1 => "load1",
            Metric::NetRx => "net_rx",
            Metric::NetTx => "net_tx",
            Metric::Processes => "processes",
            Metric::TmuxSessionEnded => "tmux_session_ended",
            Metric::ProcessExited { .. } => "process_exited",
        }
    }

    /// Whether the figure is a percentage (0-100).
    pub fn is_percent(&self) -> bool {
        matches!(
            self,
            Metric::Cpu | Metric::Memory | Metric::Swap | Metric::Disk { .. }
        )
    }

    /// Whether the rule reports happenings rather than a condition.
    pub fn is_notice(&self) -> bool {
        matches!(
            self,
            Metric::TmuxSessionEnded | Metric::ProcessExited { .. }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Above,
    AtLeast,
    Below,
    AtMost,
}

impl Op {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Above => value > threshold,
            Op::AtLeast => value >= threshold,
            Op::Below => value < threshold,
            Op::AtMost => value <= threshold,
        }
    }

    /// Whether the alert fires on high values.
    pub fn is_upward(self) -> bool {
        matches!(self, Op::Above | Op::AtLeast)
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Above => ">",
            Op::AtLeast => ">=",
            Op::Below => "<",
            Op::AtMost => "<=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One rule as the agent evaluates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub metric: Metric,
    pub op: Op,
    pub threshold: f64,
    /// Where a firing alert resolves: below it for an upward rule, above it
    /// for a downward one. Between the two thresholds nothing changes, so a
    /// value wobbling around the threshold does not flap.
    pub clear: f64,
    /// How long the condition must hold before the alert fires.
    pub for_ms: u64,
    pub severity: Severity,
}

/// Controller → agent, after the opening query. Append only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertsDown {
    /// Replace the rules.
    Rules(Vec<Rule>),
    /// Every event of `epoch` up to and including `seq` is stored.
    Ack { epoch: u64, seq: u64 },
}

impl Tagged for AlertsDown {
    const KNOWN_TYPES: u32 = 2;
}

/// Agent → controller. Append only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AlertsUp {
    /// The rules are in force.
    Accepted {
        rules: u32,
    },
    /// The rules were refused; the previous ones stay in force.
    Refused {
        reason: String,
    },
    Event(AlertEvent),
}

impl Tagged for AlertsUp {
    const KNOWN_TYPES: u32 = 3;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transition {
    Firing,
    Resolved,
    /// Something happened once (a tmux session ended): nothing to resolve.
    Notice,
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Transition::Firing => "firing",
            Transition::Resolved => "resolved",
            Transition::Notice => "notice",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Which outbox numbered it (see the module docs).
    pub epoch: u64,
    pub seq: u64,
    pub rule: String,
    /// What in the VM the event is about: a mount, a tmux session, a
    /// process pattern; empty for a whole-VM figure.
    pub subject: String,
    pub transition: Transition,
    pub severity: Severity,
    pub value: f64,
    pub threshold: f64,
    /// When the agent saw it, milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub message: String,
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum RuleError {
    #[error("{0} rules is more than the {MAX_RULES} a VM may have")]
    TooMany(usize),
    #[error("rule name {0:?} must be 1-{MAX_RULE_NAME} letters, digits, '-', '_' or '.'")]
    BadName(String),
    #[error("two rules are named {0:?}")]
    Duplicate(String),
    #[error("rule {0:?}: threshold and clear must be finite numbers")]
    NotFinite(String),
    #[error("rule {rule:?}: clear {clear} is on the firing side of threshold {threshold}")]
    ClearOnWrongSide {
        rule: String,
        clear: f64,
        threshold: f64,
    },
    #[error("rule {0:?}: `for` may be at most 7 days")]
    TooLong(String),
    #[error("rule {0:?}: the process pattern must be 1-{MAX_PATTERN} printable characters")]
    BadPattern(String),
    #[error("rule {0:?}: the mount must be an absolute path of printable characters")]
    BadMount(String),
}

/// Check a rule set before it is sent (controller) or put in force (agent):
/// a hostile or buggy controller cannot make the agent loop, allocate
/// without bound or compare against NaN.
pub fn check_rules(rules: &[Rule]) -> Result<(), RuleError> {
    if rules.len() > MAX_RULES {
        return Err(RuleError::TooMany(rules.len()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for r in rules {
        check_rule_name(&r.name)?;
        if !seen.insert(r.name.as_str()) {
            return Err(RuleError::Duplicate(r.name.clone()));
        }
        if !r.threshold.is_finite() || !r.clear.is_finite() {
            return Err(RuleError::NotFinite(r.name.clone()));
        }
        let wrong_side = if r.op.is_upward() {
            r.clear > r.threshold
        } else {
            r.clear < r.threshold
        };
        if wrong_side && !r.metric.is_notice() {
            return Err(RuleError::ClearOnWrongSide {
                rule: r.name.clone(),
                clear: r.clear,
                threshold: r.threshold,
            });
        }
        if r.for_ms > MAX_FOR_MS {
            return Err(RuleError::TooLong(r.name.clone()));
        }
        match &r.metric {
            Metric::ProcessExited { pattern }
                if pattern.is_empty()
                    || pattern.len() > MAX_PATTERN
                    || pattern.chars().any(char::is_control) =>
            {
                return Err(RuleError::BadPattern(r.name.clone()));
            }
            Metric::Disk { mount: Some(m) }
                if !m.starts_with('/') || m.len() > 4096 || m.chars().any(char::is_control) =>
            {
                return Err(RuleError::BadMount(r.name.clone()));
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn check_rule_name(name: &str) -> Result<(), RuleError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_RULE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(RuleError::BadName(name.to_string()))
    }
}

/// Make an agent's event safe to store and show: finite figures, bounded
/// text without control characters, no clock from the future. `None`:
/// the event is about a rule this VM was not given, so it is dropped.
pub fn check_event(mut e: AlertEvent, rules: &[Rule], now_ms: u64) -> Option<AlertEvent> {
    let rule = rules.iter().find(|r| r.name == e.rule)?;
    e.severity = rule.severity;
    e.threshold = rule.threshold;
    if !e.value.is_finite() {
        e.value = 0.0;
    }
    e.at_ms = e.at_ms.min(now_ms);
    clean_text(&mut e.subject, crate::telemetry::MAX_NAME);
    clean_text(&mut e.message, MAX_MESSAGE);
    if e.transition == Transition::Notice && !rule.metric.is_notice() {
        return None;
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DecodeError, decode_tagged};

    pub(crate) fn rule(name: &str, metric: Metric, op: Op, threshold: f64, clear: f64) -> Rule {
        Rule {
            name: name.into(),
            metric,
            op,
            threshold,
            clear,
            for_ms: 0,
            severity: Severity::Warning,
        }
    }

    #[test]
    fn hostile_rule_sets_are_refused() {
        let ok = rule("cpu-high", Metric::Cpu, Op::Above, 90.0, 85.0);
        assert_eq!(check_rules(std::slice::from_ref(&ok)), Ok(()));
        let many = vec![ok.clone(); MAX_RULES + 1];
        assert_eq!(check_rules(&many), Err(RuleError::TooMany(MAX_RULES + 1)));
        assert!(matches!(
            check_rules(&[ok.clone(), ok.clone()]),
            Err(RuleError::Duplicate(_))
        ));
        let mut nan = ok.clone();
        nan.threshold = f64::NAN;
        assert!(matches!(check_rules(&[nan]), Err(RuleError::NotFinite(_))));
        let mut bad = ok.clone();
        bad.name = "a\x1b[2J".into();
        assert!(matches!(check_rules(&[bad]), Err(RuleError::BadName(_))));
        let mut wrong = ok.clone();
        wrong.clear = 95.0;
        assert!(matches!(
            check_rules(&[wrong]),
            Err(RuleError::ClearOnWrongSide { .. })
        ));
        let mut long = ok.clone();
        long.for_ms = MAX_FOR_MS + 1;
        assert!(matches!(check_rules(&[long]), Err(RuleError::TooLong(_))));
        let p = rule(
            "p",
            Metric::ProcessExited {
                pattern: String::new(),
            },
            Op::AtLeast,
            1.0,
            1.0,
        );
        assert!(matches!(check_rules(&[p]), Err(RuleError::BadPattern(_))));
        let d = rule(
            "d",
            Metric::Disk {
                mount: Some("relative".into()),
            },
            Op::AtLeast,
            90.0,
            85.0,
        );
        assert!(matches!(check_rules(&[d]), Err(RuleError::BadMount(_))));
    }

    #[test]
    fn hostile_events_are_cleaned_or_dropped() {
        let rules = [rule("cpu-high", Metric::Cpu, Op::Above, 90.0, 85.0)];
        let e = AlertEvent {
            epoch: 1,
            seq: 1,
            rule: "cpu-high".into(),
            subject: "\x1b]0;x\x07".into(),
            transition: Transition::Firing,
            severity: Severity::Info,
            value: f64::INFINITY,
            threshold: 1.0,
            at_ms: u64::MAX,
            message: "m".repeat(5000),
        };
        let got = check_event(e.clone(), &rules, 1000).unwrap();
        assert_eq!(got.severity, Severity::Warning);
        assert_eq!(got.threshold, 90.0);
        assert_eq!(got.value, 0.0);
        assert_eq!(got.at_ms, 1000);
        assert!(!got.subject.contains('\x1b'));
        assert_eq!(got.message.len(), MAX_MESSAGE);
        let mut unknown = e.clone();
        unknown.rule = "not-mine".into();
        assert_eq!(check_event(unknown, &rules, 1000), None);
        let mut notice = e;
        notice.transition = Transition::Notice;
        assert_eq!(check_event(notice, &rules, 1000), None);
    }

    #[test]
    fn frames_round_trip_and_unknown_tags_are_named() {
        let down = AlertsDown::Ack { epoch: 7, seq: 9 };
        let bytes = postcard::to_stdvec(&down).unwrap();
        assert_eq!(decode_tagged::<AlertsDown>(&bytes).unwrap(), down);
        assert_eq!(
            decode_tagged::<AlertsUp>(&[3]).unwrap_err(),
            DecodeError::UnknownType { tag: 3, known: 3 }
        );
    }
}

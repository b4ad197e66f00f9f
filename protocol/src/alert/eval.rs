//! The rule evaluator: one call per sample, events out. Pure and
//! deterministic (time comes from the sample), so hysteresis, `for`
//! durations and rule changes are tested without a clock.
//!
//! An instance is one rule applied to one subject (a rule on every disk has
//! one instance per mount). It is inactive, pending (the condition holds,
//! but not yet for `for`), or firing (until the value crosses `clear`).
//!
//! Not here: numbering and keeping events (see [`super::outbox`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{Metric, Rule, Severity, Transition};
use crate::telemetry::{Sample, Tmux};

/// An event before the outbox numbers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Happening {
    pub rule: String,
    pub subject: String,
    pub transition: Transition,
    pub severity: Severity,
    pub value: f64,
    pub threshold: f64,
    pub at_ms: u64,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Pending { since_ms: u64 },
    Firing,
}

#[derive(Debug, Default)]
pub struct Evaluator {
    rules: Vec<Rule>,
    /// (rule, subject) → state; absent means inactive.
    states: BTreeMap<(String, String), State>,
    /// Per tmux rule: the sessions seen in the previous sample.
    tmux_seen: BTreeMap<String, BTreeSet<String>>,
    /// Per process rule: whether a matching process ran last time.
    process_seen: BTreeMap<String, bool>,
}

impl Evaluator {
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether [`Evaluator::observe`] needs the process command lines.
    pub fn needs_processes(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.metric, Metric::ProcessExited { .. }))
    }

    /// Put new rules in force. A rule kept unchanged keeps its state; a
    /// firing alert whose rule was removed or changed is resolved, so
    /// nothing stays active forever on the controller.
    pub fn set_rules(&mut self, rules: Vec<Rule>, now_ms: u64) -> Vec<Happening> {
        let kept: BTreeSet<&str> = rules
            .iter()
            .filter(|r| self.rules.contains(r))
            .map(|r| r.name.as_str())
            .collect();
        let mut out = Vec::new();
        for ((rule, subject), state) in &self.states {
            if kept.contains(rule.as_str()) || *state != State::Firing {
                continue;
            }
            if let Some(old) = self.rules.iter().find(|r| &r.name == rule) {
                out.push(Happening {
                    rule: rule.clone(),
                    subject: subject.clone(),
                    transition: Transition::Resolved,
                    severity: old.severity,
                    value: 0.0,
                    threshold: old.threshold,
                    at_ms: now_ms,
                    message: format!("rule {rule} was changed or removed"),
                });
            }
        }
        self.states
            .retain(|(rule, _), _| kept.contains(rule.as_str()));
        self.tmux_seen
            .retain(|rule, _| kept.contains(rule.as_str()));
        self.process_seen
            .retain(|rule, _| kept.contains(rule.as_str()));
        self.rules = rules;
        out
    }

    /// Evaluate every rule on one sample. `commands` holds the command
    /// lines of the running processes when [`Evaluator::needs_processes`].
    pub fn observe(&mut self, sample: &Sample, commands: &[String]) -> Vec<Happening> {
        let mut out = Vec::new();
        let now = sample.taken_at_ms;
        for rule in self.rules.clone() {
            match &rule.metric {
                Metric::TmuxSessionEnded => self.tmux(&rule, sample, &mut out),
                Metric::ProcessExited { pattern } => {
                    let running = commands.iter().any(|c| c.contains(pattern.as_str()));
                    let was = self.process_seen.insert(rule.name.clone(), running);
                    if was == Some(true) && !running {
                        out.push(notice(
                            &rule,
                            pattern,
                            now,
                            format!("no process matching {pattern:?} runs any more"),
                        ));
                    }
                }
                _ => {
                    let values = values(&rule.metric, sample);
                    let present: BTreeSet<&str> = values.iter().map(|(s, _)| s.as_str()).collect();
                    // A subject that is gone (a disk unmounted) cannot stay firing.
                    let gone: Vec<String> = self
                        .states
                        .keys()
                        .filter(|(r, s)| *r == rule.name && !present.contains(s.as_str()))
                        .map(|(_, s)| s.clone())
                        .collect();
                    for subject in gone {
                        let key = (rule.name.clone(), subject);
                        if self.states.remove(&key) == Some(State::Firing) {
                            let message =
                                format!("{} is no longer reported", describe(&rule, &key.1));
                            out.push(event(&rule, key.1, Transition::Resolved, 0.0, now, message));
                        }
                    }
                    for (subject, value) in values {
                        self.step(&rule, subject, value, now, &mut out);
                    }
                }
            }
        }
        out
    }

    fn step(
        &mut self,
        rule: &Rule,
        subject: String,
        value: f64,
        now: u64,
        out: &mut Vec<Happening>,
    ) {
        let key = (rule.name.clone(), subject);
        let holds = rule.op.holds(value, rule.threshold);
        let cleared = if rule.op.is_upward() {
            value < rule.clear
        } else {
            value > rule.clear
        };
        let next = match self.states.get(&key).copied() {
            None | Some(State::Pending { .. }) if !holds => None,
            None if rule.for_ms == 0 => Some(State::Firing),
            None => Some(State::Pending { since_ms: now }),
            Some(State::Pending { since_ms }) if now.saturating_sub(since_ms) >= rule.for_ms => {
                Some(State::Firing)
            }
            Some(pending @ State::Pending { .. }) => Some(pending),
            Some(State::Firing) if cleared => None,
            Some(State::Firing) => Some(State::Firing),
        };
        let was_firing = self.states.get(&key) == Some(&State::Firing);
        let what = describe(rule, &key.1);
        match (was_firing, next) {
            (false, Some(State::Firing)) => {
                let held = if rule.for_ms > 0 {
                    format!(" for {}", duration(rule.for_ms))
                } else {
                    String::new()
                };
                let message = format!(
                    "{what} is {} {} {}{held}",
                    figure(&rule.metric, value),
                    rule.op.symbol(),
                    figure(&rule.metric, rule.threshold)
                );
                out.push(event(
                    rule,
                    key.1.clone(),
                    Transition::Firing,
                    value,
                    now,
                    message,
                ));
            }
            (true, None) => {
                let message = format!(
                    "{what} is back to {} (clears {} {})",
                    figure(&rule.metric, value),
                    if rule.op.is_upward() {
                        "below"
                    } else {
                        "above"
                    },
                    figure(&rule.metric, rule.clear)
                );
                out.push(event(
                    rule,
                    key.1.clone(),
                    Transition::Resolved,
                    value,
                    now,
                    message,
                ));
            }
            _ => {}
        }
        match next {
            Some(s) => {
                self.states.insert(key, s);
            }
            None => {
                self.states.remove(&key);
            }
        }
    }

    fn tmux(&mut self, rule: &Rule, sample: &Sample, out: &mut Vec<Happening>) {
        // An unreadable tmux says nothing about sessions ending.
        let Tmux::Sessions(list) = &sample.tmux else {
            return;
        };
        let now: BTreeSet<String> = list.iter().map(|s| s.name.clone()).collect();
        if let Some(before) = self.tmux_seen.get(&rule.name) {
            for ended in before.difference(&now) {
                out.push(notice(
                    rule,
                    ended,
                    sample.taken_at_ms,
                    format!("tmux session {ended:?} ended"),
                ));
            }
        }
        self.tmux_seen.insert(rule.name.clone(), now);
    }
}

fn event(
    rule: &Rule,
    subject: String,
    transition: Transition,
    value: f64,
    at_ms: u64,
    message: String,
) -> Happening {
    Happening {
        rule: rule.name.clone(),
        subject,
        transition,
        severity: rule.severity,
        value,
        threshold: rule.threshold,
        at_ms,
        message,
    }
}

fn notice(rule: &Rule, subject: &str, at_ms: u64, message: String) -> Happening {
    event(
        rule,
        subject.to_string(),
        Transition::Notice,
        0.0,
        at_ms,
        message,
    )
}

/// The figures a rule compares, by subject.
fn values(metric: &Metric, s: &Sample) -> Vec<(String, f64)> {
    let percent = |used: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            used as f64 * 100.0 / total as f64
        }
    };
    let whole = |v: f64| vec![(String::new(), v)];
    match metric {
        Metric::Cpu => whole(f64::from(s.cpu_percent)),
        Metric::Memory => whole(percent(s.memory_used, s.memory_total)),
        Metric::Swap => whole(percent(s.swap_used, s.swap_total)),
        Metric::Load1 => whole(f64::from(s.load[0])),
        Metric::NetRx => whole(s.rx_bytes_per_sec() as f64),
        Metric::NetTx => whole(s.tx_bytes_per_sec() as f64),
        Metric::Processes => whole(f64::from(s.processes)),
        Metric::Disk { mount: Some(m) } => s
            .filesystems
            .iter()
            .filter(|f| &f.mount == m)
            .map(|f| (f.mount.clone(), percent(f.used, f.total)))
            .collect(),
        Metric::Disk { mount: None } => s
            .filesystems
            .iter()
            .map(|f| (f.mount.clone(), percent(f.used, f.total)))
            .collect(),
        Metric::TmuxSessionEnded | Metric::ProcessExited { .. } => Vec::new(),
    }
}

fn describe(rule: &Rule, subject: &str) -> String {
    if subject.is_empty() {
        rule.metric.name().to_string()
    } else {
        format!("{} {subject}", rule.metric.name())
    }
}

/// A figure as a person reads it.
pub fn figure(metric: &Metric, v: f64) -> String {
    match metric {
        m if m.is_percent() => format!("{v:.1}%"),
        Metric::NetRx | Metric::NetTx => {
            let units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
            let mut v = v;
            let mut unit = 0;
            while v >= 1024.0 && unit + 1 < units.len() {
                v /= 1024.0;
                unit += 1;
            }
            format!("{v:.1} {}", units[unit])
        }
        Metric::Processes => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    }
}

/// `90s` → "1m30s", as rules files write durations.
pub fn duration(ms: u64) -> String {
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 || out.is_empty() {
        out += &format!("{s}s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        alert::{Op, tests::rule},
        telemetry::{Filesystem, TmuxSession},
    };

    fn sample(at: u64, cpu: f32) -> Sample {
        Sample {
            taken_at_ms: at,
            interval_ms: 1000,
            cpu_percent: cpu,
            per_core: vec![],
            load: [0.0; 3],
            memory_used: 0,
            memory_total: 0,
            swap_used: 0,
            swap_total: 0,
            filesystems: vec![],
            interfaces: vec![],
            uptime_secs: 0,
            users: 0,
            processes: 0,
            tmux: Tmux::Sessions(vec![]),
        }
    }

    fn run(ev: &mut Evaluator, points: &[(u64, f32)]) -> Vec<(u64, Transition)> {
        points
            .iter()
            .flat_map(|&(at, cpu)| ev.observe(&sample(at, cpu), &[]))
            .map(|h| (h.at_ms, h.transition))
            .collect()
    }

    #[test]
    fn fires_at_once_with_no_for_and_resolves_past_clear() {
        let mut ev = Evaluator::default();
        ev.set_rules(vec![rule("hot", Metric::Cpu, Op::Above, 90.0, 80.0)], 0);
        let got = run(&mut ev, &[(1, 50.0), (2, 95.0), (3, 96.0), (4, 70.0)]);
        assert_eq!(
            got,
            vec![(2, Transition::Firing), (4, Transition::Resolved)]
        );
    }

    #[test]
    fn a_value_wobbling_around_the_threshold_does_not_flap() {
        let mut ev = Evaluator::default();
        ev.set_rules(vec![rule("hot", Metric::Cpu, Op::Above, 90.0, 80.0)], 0);
        let wobble: Vec<(u64, f32)> = (0..100)
            .map(|i| (i, if i % 2 == 0 { 91.0 } else { 89.0 }))
            .collect();
        let got = run(&mut ev, &wobble);
        assert_eq!(got, vec![(0, Transition::Firing)]);
    }

    #[test]
    fn for_duration_must_hold_without_a_break() {
        let mut ev = Evaluator::default();
        let mut r = rule("hot", Metric::Cpu, Op::Above, 90.0, 80.0);
        r.for_ms = 3000;
        ev.set_rules(vec![r], 0);
        // Broken at 2000: the clock starts again at 3000.
        let got = run(
            &mut ev,
            &[
                (0, 95.0),
                (1000, 95.0),
                (2000, 85.0),
                (3000, 95.0),
                (5000, 95.0),
                (6000, 95.0),
            ],
        );
        assert_eq!(got, vec![(6000, Transition::Firing)]);
        let msg = ev.observe(&sample(7000, 10.0), &[]);
        assert!(msg[0].message.contains("back to 10.0%"), "{msg:?}");
    }

    #[test]
    fn downward_rules_fire_on_low_values() {
        let mut ev = Evaluator::default();
        let mut idle = rule("idle", Metric::Cpu, Op::Below, 5.0, 10.0);
        idle.for_ms = 2000;
        ev.set_rules(vec![idle], 0);
        let got = run(
            &mut ev,
            &[
                (0, 1.0),
                (1000, 2.0),
                (2000, 3.0),
                (3000, 8.0),
                (4000, 12.0),
            ],
        );
        assert_eq!(
            got,
            vec![(2000, Transition::Firing), (4000, Transition::Resolved)]
        );
    }

    #[test]
    fn every_disk_is_its_own_instance_and_an_unmounted_one_resolves() {
        let mut ev = Evaluator::default();
        ev.set_rules(
            vec![rule(
                "disk",
                Metric::Disk { mount: None },
                Op::AtLeast,
                90.0,
                85.0,
            )],
            0,
        );
        let fs = |mount: &str, used| Filesystem {
            mount: mount.into(),
            fs_type: "ext4".into(),
            used,
            total: 100,
        };
        let mut s = sample(1, 0.0);
        s.filesystems = vec![fs("/", 95), fs("/data", 50)];
        let got = ev.observe(&s, &[]);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].subject.as_str(), got[0].value), ("/", 95.0));
        s.taken_at_ms = 2;
        s.filesystems = vec![fs("/data", 92)];
        let got: Vec<(String, Transition)> = ev
            .observe(&s, &[])
            .into_iter()
            .map(|h| (h.subject, h.transition))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/".into(), Transition::Resolved),
                ("/data".into(), Transition::Firing)
            ]
        );
    }

    #[test]
    fn ended_tmux_sessions_and_exited_processes_are_notices() {
        let mut ev = Evaluator::default();
        ev.set_rules(
            vec![
                rule("tmux", Metric::TmuxSessionEnded, Op::AtLeast, 1.0, 1.0),
                rule(
                    "train",
                    Metric::ProcessExited {
                        pattern: "train.py".into(),
                    },
                    Op::AtLeast,
                    1.0,
                    1.0,
                ),
            ],
            0,
        );
        assert!(ev.needs_processes());
        let session = |name: &str| TmuxSession {
            name: name.into(),
            attached: false,
            windows: 1,
            created_unix: 0,
        };
        let mut s = sample(1, 0.0);
        s.tmux = Tmux::Sessions(vec![session("a"), session("b")]);
        let procs = vec!["python train.py --lr 3".to_string()];
        assert!(ev.observe(&s, &procs).is_empty());
        // An unreadable tmux is not "every session ended".
        s.tmux = Tmux::Unavailable {
            reason: "no server".into(),
        };
        assert!(ev.observe(&s, &procs).is_empty());
        s.tmux = Tmux::Sessions(vec![session("b")]);
        let got = ev.observe(&s, &[]);
        let got: Vec<(&str, &str, Transition)> = got
            .iter()
            .map(|h| (h.rule.as_str(), h.subject.as_str(), h.transition))
            .collect();
        assert_eq!(
            got,
            vec![
                ("tmux", "a", Transition::Notice),
                ("train", "train.py", Transition::Notice)
            ]
        );
        assert!(ev.observe(&s, &[]).is_empty(), "an exit is told once");
    }

    #[test]
    fn changing_a_rule_resolves_what_it_had_firing_and_keeps_the_others() {
        let mut ev = Evaluator::default();
        let hot = rule("hot", Metric::Cpu, Op::Above, 90.0, 80.0);
        let busy = rule("busy", Metric::Cpu, Op::Above, 50.0, 40.0);
        ev.set_rules(vec![hot.clone(), busy.clone()], 0);
        assert_eq!(ev.observe(&sample(1, 95.0), &[]).len(), 2);
        let mut hotter = hot;
        hotter.threshold = 99.0;
        let got = ev.set_rules(vec![hotter, busy], 2);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].rule.as_str(), got[0].transition),
            ("hot", Transition::Resolved)
        );
        // busy is still firing: no second Firing for it.
        assert!(ev.observe(&sample(3, 95.0), &[]).is_empty());
    }

    #[test]
    fn durations_and_figures_read_well() {
        assert_eq!(duration(90_000), "1m30s");
        assert_eq!(duration(7_200_000), "2h");
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(250), "250ms");
        assert_eq!(figure(&Metric::NetRx, 2048.0), "2.0 KiB/s");
        assert_eq!(figure(&Metric::Cpu, 12.345), "12.3%");
    }
}

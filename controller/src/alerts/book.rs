//! The rules in force, as the daemon uses them: which rules each VM gets,
//! which channels an event goes to, how agent loss is judged.
//!
//! Not here: reading the file (see [`super::rules_file`]).

use std::collections::BTreeMap;

use azlin_protocol::alert::{Rule, Severity};

use crate::selector::glob_match;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleBook {
    /// Evaluated on the agents, built-ins first.
    pub rules: Vec<BookRule>,
    /// Judged by the daemon; `None`: turned off.
    pub agent_lost: Option<AgentLost>,
    pub desktop: Option<Desktop>,
    pub webhook: Option<Webhook>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BookRule {
    pub rule: Rule,
    /// Names, session names or globs; empty: every VM.
    pub vms: Vec<String>,
    /// Tags a VM must all have.
    pub tags: BTreeMap<String, String>,
    pub channels: Vec<Channel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentLost {
    pub after_ms: u64,
    pub severity: Severity,
    pub channels: Vec<Channel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Log,
    Desktop,
    Webhook,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Desktop {
    pub argv: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub url: String,
    pub retries: u32,
    pub timeout_ms: u64,
}

impl BookRule {
    pub fn applies_to(
        &self,
        vm: &str,
        session: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> bool {
        let named = self.vms.is_empty()
            || self
                .vms
                .iter()
                .any(|p| glob_match(p, vm) || session.is_some_and(|s| glob_match(p, s)));
        named && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }
}

impl RuleBook {
    /// The rules one VM's agent evaluates.
    pub fn rules_for(
        &self,
        vm: &str,
        session: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Vec<Rule> {
        self.rules
            .iter()
            .filter(|r| r.applies_to(vm, session, tags))
            .map(|r| r.rule.clone())
            .collect()
    }

    /// Every channel configured (the log always).
    pub fn all_channels(&self) -> Vec<Channel> {
        let mut out = vec![Channel::Log];
        if self.desktop.is_some() {
            out.push(Channel::Desktop);
        }
        if self.webhook.is_some() {
            out.push(Channel::Webhook);
        }
        out
    }

    /// Where an event of `rule` goes; a rule no longer in the book (its
    /// event arrived late) goes to the log only. Budget, schedule and
    /// autostop events (the daemon's own) go to every channel.
    pub fn channels_of(&self, rule: &str) -> Vec<Channel> {
        use super::rules_file::{AUTOSTOP, BUDGET, SCHEDULE};
        if [BUDGET, SCHEDULE, AUTOSTOP].contains(&rule) {
            return self.all_channels();
        }
        if rule == super::rules_file::AGENT_LOST {
            return self
                .agent_lost
                .as_ref()
                .map_or_else(|| vec![Channel::Log], |a| a.channels.clone());
        }
        self.rules
            .iter()
            .find(|r| r.rule.name == rule)
            .map_or_else(|| vec![Channel::Log], |r| r.channels.clone())
    }
}

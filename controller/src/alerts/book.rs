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

impl Webhook {
    /// The URL as shown and logged: a password in it (`user:pass@`) and
    /// its query's values masked, which are where webhook services put
    /// their secrets; scheme, host and path as they are.
    pub fn shown_url(&self) -> String {
        masked_url(&self.url)
    }
}

/// `url` with the password of its user part and the values of its query
/// replaced by `***`.
pub fn masked_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("***@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) => format!("{k}=***"),
                    None => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    if scheme.is_empty() {
        format!("{authority}{tail}")
    } else {
        format!("{scheme}://{authority}{tail}")
    }
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
    /// event arrived late) goes to the log only. Budget, schedule,
    /// autostop and failed snapshot events (the daemon's own) go to every
    /// channel; a scheduled snapshot taken, to the log.
    pub fn channels_of(&self, rule: &str) -> Vec<Channel> {
        use super::rules_file::{AUTOSTOP, BUDGET, SCHEDULE, SNAPSHOT, SNAPSHOT_FAILED};
        if [BUDGET, SCHEDULE, AUTOSTOP, SNAPSHOT_FAILED].contains(&rule) {
            return self.all_channels();
        }
        // A snapshot taken as scheduled is history, not news.
        if rule == SNAPSHOT {
            return vec![Channel::Log];
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

#[cfg(test)]
mod masking_tests {
    use super::masked_url;

    #[test]
    fn passwords_and_query_values_are_masked() {
        assert_eq!(
            masked_url("https://bot:s3cret@hooks.example.com/alerts?token=abc&x=1"),
            "https://bot:***@hooks.example.com/alerts?token=***&x=***"
        );
        assert_eq!(
            masked_url("https://tok@hooks.example.com/a"),
            "https://***@hooks.example.com/a"
        );
        assert_eq!(
            masked_url("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/hook"
        );
        // An @ in the path is not a user part.
        assert_eq!(masked_url("https://h.example/a@b"), "https://h.example/a@b");
    }
}

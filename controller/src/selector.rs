//! Which VMs a fleet command runs on: `--vm NAME`, `--prefix P`, globs
//! (`'test-*'`), `--tag k=v`, `--all`. Pure: the daemon hands in the fleet.
//!
//! A VM is chosen when it matches any of the names, prefix, globs (or
//! `--all`), and every `--tag`; tags alone filter the whole fleet. Names are
//! exact and may be session names; a name that matches nothing is an error
//! that suggests the closest names. Prefixes, globs, tags and `--all` choose
//! only running VMs; a VM named outright is kept whatever its state, so the
//! run can say why it did not run there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selector {
    pub names: Vec<String>,
    pub prefix: Option<String>,
    /// Globs: `*` any run of characters, `?` one character.
    pub globs: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub all: bool,
}

impl Selector {
    pub fn everything() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }

    /// Sort positional arguments into names and globs.
    pub fn add_positional(&mut self, arg: String) {
        if arg.contains(['*', '?']) {
            self.globs.push(arg);
        } else {
            self.names.push(arg);
        }
    }

    fn is_empty(&self) -> bool {
        self.names.is_empty()
            && self.prefix.is_none()
            && self.globs.is_empty()
            && self.tags.is_empty()
            && !self.all
    }
}

/// What selection needs to know about one VM.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    pub session_name: Option<String>,
    pub running: bool,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SelectError {
    #[error("choose the VMs: --vm NAME, --prefix P, a glob such as 'dev-*', --tag k=v, or --all")]
    Nothing,
    #[error("no VM named {name:?}{}", suggest(.suggestions))]
    Unknown {
        name: String,
        suggestions: Vec<String>,
    },
    #[error("no running VM matches {0}; `azlin list` shows the fleet")]
    NoMatch(String),
}

fn suggest(names: &[String]) -> String {
    if names.is_empty() {
        "; `azlin list` shows the fleet".into()
    } else {
        format!("; did you mean {}?", names.join(", "))
    }
}

/// The chosen VMs' names, in fleet order (by name), each once.
pub fn select(sel: &Selector, fleet: &[Candidate]) -> Result<Vec<String>, SelectError> {
    if sel.is_empty() {
        return Err(SelectError::Nothing);
    }
    let mut chosen = vec![false; fleet.len()];
    for name in &sel.names {
        let i = fleet
            .iter()
            .position(|c| c.name == *name || c.session_name.as_deref() == Some(name))
            .ok_or_else(|| SelectError::Unknown {
                name: name.clone(),
                suggestions: crate::names::closest(name, &known_names(fleet)),
            })?;
        chosen[i] = true;
    }
    let by_name_or_session = |c: &Candidate, f: &dyn Fn(&str) -> bool| {
        f(&c.name) || c.session_name.as_deref().is_some_and(f)
    };
    if let Some(prefix) = &sel.prefix {
        mark(fleet, &mut chosen, &format!("--prefix {prefix:?}"), |c| {
            by_name_or_session(c, &|n| n.starts_with(prefix.as_str()))
        })?;
    }
    for glob in &sel.globs {
        mark(fleet, &mut chosen, &format!("{glob:?}"), |c| {
            by_name_or_session(c, &|n| glob_match(glob, n))
        })?;
    }
    let only_tags =
        sel.names.is_empty() && sel.prefix.is_none() && sel.globs.is_empty() && !sel.all;
    if sel.all || only_tags {
        mark(fleet, &mut chosen, "--all", |_| true)?;
    }
    let tagged = |c: &Candidate| {
        sel.tags
            .iter()
            .all(|(k, v)| c.tags.get(k).is_some_and(|have| have == v))
    };
    let names: Vec<String> = fleet
        .iter()
        .zip(&chosen)
        .filter(|(c, chosen)| **chosen && tagged(c))
        .map(|(c, _)| c.name.clone())
        .collect();
    if names.is_empty() {
        let tags: Vec<String> = sel.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(SelectError::NoMatch(format!(
            "--tag {}",
            tags.join(" --tag ")
        )));
    }
    Ok(names)
}

/// Choose the running VMs `matches` accepts; none is an error naming `what`.
fn mark(
    fleet: &[Candidate],
    chosen: &mut [bool],
    what: &str,
    matches: impl Fn(&Candidate) -> bool,
) -> Result<(), SelectError> {
    let mut any = false;
    for (c, chosen) in fleet.iter().zip(chosen.iter_mut()) {
        if c.running && matches(c) {
            *chosen = true;
            any = true;
        }
    }
    if any {
        Ok(())
    } else if what == "--all" {
        Err(SelectError::NoMatch(
            "--all (the fleet has no running VM)".into(),
        ))
    } else {
        Err(SelectError::NoMatch(what.into()))
    }
}

fn known_names(fleet: &[Candidate]) -> Vec<String> {
    fleet
        .iter()
        .flat_map(|c| std::iter::once(c.name.clone()).chain(c.session_name.clone()))
        .collect()
}

/// `*` matches any run of characters (also none), `?` exactly one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Greedy with one backtrack point: linear for patterns of plain `*`s.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(name: &str, session: Option<&str>, running: bool, tags: &[(&str, &str)]) -> Candidate {
        Candidate {
            name: name.into(),
            session_name: session.map(String::from),
            running,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn fleet() -> Vec<Candidate> {
        vec![
            vm("build-1", None, true, &[("team", "infra")]),
            vm("test-1", Some("alpha"), true, &[("team", "web")]),
            vm("test-2", None, true, &[("team", "infra"), ("gpu", "yes")]),
            vm("test-3", None, false, &[("team", "infra")]),
        ]
    }

    fn sel(f: impl FnOnce(&mut Selector)) -> Selector {
        let mut s = Selector::default();
        f(&mut s);
        s
    }

    #[test]
    fn globs() {
        assert!(glob_match("test-*", "test-12"));
        assert!(glob_match("*-1", "build-1"));
        assert!(glob_match("t?st-*2", "test-12"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("test-?", "test-12"));
        assert!(!glob_match("a*b*c", "aXbY"));
        assert!(glob_match("a*b*c", "aXbYc"));
    }

    #[test]
    fn each_selector_chooses_running_vms() {
        let f = fleet();
        let all = select(&Selector::everything(), &f).unwrap();
        assert_eq!(all, ["build-1", "test-1", "test-2"]);
        let glob = select(&sel(|s| s.add_positional("test-*".into())), &f).unwrap();
        assert_eq!(glob, ["test-1", "test-2"]);
        let prefix = select(&sel(|s| s.prefix = Some("build".into())), &f).unwrap();
        assert_eq!(prefix, ["build-1"]);
        let tag = select(&sel(|s| s.tags = vec![("team".into(), "infra".into())]), &f).unwrap();
        assert_eq!(tag, ["build-1", "test-2"]);
        let both = select(
            &sel(|s| {
                s.add_positional("test-*".into());
                s.tags = vec![("team".into(), "infra".into())];
            }),
            &f,
        )
        .unwrap();
        assert_eq!(both, ["test-2"]);
    }

    #[test]
    fn names_and_session_names_are_exact_and_kept_even_when_stopped() {
        let f = fleet();
        let got = select(
            &sel(|s| {
                s.names = vec!["alpha".into(), "test-3".into(), "test-1".into()];
            }),
            &f,
        )
        .unwrap();
        assert_eq!(got, ["test-1", "test-3"]);
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let e = select(&sel(|s| s.names = vec!["test-9".into()]), &fleet()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no VM named \"test-9\"; did you mean test-1, test-2, test-3?"
        );
        let e = select(&sel(|s| s.names = vec!["alpa".into()]), &fleet()).unwrap_err();
        assert!(e.to_string().contains("alpha"), "{e}");
    }

    #[test]
    fn empty_choices_are_errors() {
        assert_eq!(
            select(&Selector::default(), &fleet()),
            Err(SelectError::Nothing)
        );
        let e = select(&sel(|s| s.add_positional("prod-*".into())), &fleet()).unwrap_err();
        assert_eq!(e, SelectError::NoMatch("\"prod-*\"".into()));
        let e = select(
            &sel(|s| s.tags = vec![("team".into(), "x".into())]),
            &fleet(),
        );
        assert!(e.unwrap_err().to_string().contains("--tag team=x"));
        let stopped = vec![vm("a", None, false, &[])];
        assert!(select(&Selector::everything(), &stopped).is_err());
    }
}

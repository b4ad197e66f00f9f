//! The agent's alert state on disk: the rules in force and the outbox,
//! one postcard file written atomically (mode 0600). A missing file starts
//! empty with a new epoch; an unreadable one is set aside, not trusted.

use std::path::Path;

use azlin_protocol::{
    alert::{
        Rule, check_rules,
        outbox::{Outbox, new_epoch},
    },
    secret_file::write_atomic,
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Saved {
    pub rules: Vec<Rule>,
    pub outbox: Outbox,
}

pub fn load(file: &Path) -> Saved {
    let fresh = || Saved {
        rules: Vec::new(),
        outbox: Outbox::new(new_epoch()),
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return fresh(),
        Err(e) => {
            tracing::warn!(
                "cannot read {}: {e}; starting with no alert rules",
                file.display()
            );
            return fresh();
        }
    };
    match postcard::from_bytes::<Saved>(&bytes) {
        Ok(saved) if check_rules(&saved.rules).is_ok() => saved,
        _ => {
            let aside = file.with_extension("state.bad");
            let _ = std::fs::rename(file, &aside);
            tracing::warn!(
                "{} is unreadable; moved it to {} and started with no alert rules until the controller sends them",
                file.display(),
                aside.display()
            );
            fresh()
        }
    }
}

pub fn save(file: &Path, rules: &[Rule], outbox: &Outbox) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct SavedRef<'a> {
        rules: &'a [Rule],
        outbox: &'a Outbox,
    }
    let bytes = postcard::to_stdvec(&SavedRef { rules, outbox })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    write_atomic(file, &bytes, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use azlin_protocol::alert::{Metric, Op, Severity, Transition, eval::Happening};

    #[test]
    fn rules_and_pending_events_survive_a_restart_and_garbage_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alerts.state");
        let first = load(&file);
        assert!(first.rules.is_empty() && first.outbox.is_empty());
        let rules = vec![Rule {
            name: "hot".into(),
            metric: Metric::Cpu,
            op: Op::Above,
            threshold: 90.0,
            clear: 85.0,
            for_ms: 0,
            severity: Severity::Critical,
        }];
        let mut outbox = first.outbox;
        outbox.push(Happening {
            rule: "hot".into(),
            subject: String::new(),
            transition: Transition::Firing,
            severity: Severity::Critical,
            value: 99.0,
            threshold: 90.0,
            at_ms: 5,
            message: "m".into(),
        });
        save(&file, &rules, &outbox).unwrap();
        let again = load(&file);
        assert_eq!(again.rules, rules);
        assert_eq!(again.outbox, outbox);
        std::fs::write(&file, b"\xff\xff garbage").unwrap();
        let fresh = load(&file);
        assert!(fresh.rules.is_empty());
        assert_ne!(fresh.outbox.epoch, outbox.epoch);
        assert!(dir.path().join("alerts.state.bad").exists());
    }
}

//! Alert history and the alerts active now, in `state.db`.
//!
//! Each agent event is stored once: `(vm, epoch, seq)` is unique, so an
//! event the agent sends again (its acknowledgement was lost with the
//! connection) is recognised and not stored or notified twice. The daemon's
//! own events (agent lost) have no sequence number. Storing an event and
//! updating the active set is one transaction.

use anyhow::Result;
use azlin_protocol::alert::{Severity, Transition};
use rusqlite::{OptionalExtension, params};

use super::Db;
use crate::alerts::record::AlertRecord;

/// An event to store; `seq` is `None` for the daemon's own.
pub struct NewAlert<'a> {
    pub vm: &'a str,
    pub epoch: u64,
    pub seq: Option<u64>,
    pub rule: &'a str,
    pub subject: &'a str,
    pub transition: Transition,
    pub severity: Severity,
    pub value: f64,
    pub threshold: f64,
    pub message: &'a str,
    pub at_ms: u64,
    pub received_ms: u64,
}

const COLUMNS: &str = "e.id, e.vm, e.rule, e.subject, e.transition, e.severity, e.value, \
                       e.threshold, e.message, e.at_ms, e.received_ms";

fn transition_of(s: &str) -> Transition {
    match s {
        "firing" => Transition::Firing,
        "resolved" => Transition::Resolved,
        _ => Transition::Notice,
    }
}

fn severity_of(s: &str) -> Severity {
    match s {
        "critical" => Severity::Critical,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRecord> {
    Ok(AlertRecord {
        id: r.get(0)?,
        vm: r.get(1)?,
        rule: r.get(2)?,
        subject: r.get(3)?,
        transition: transition_of(&r.get::<_, String>(4)?),
        severity: severity_of(&r.get::<_, String>(5)?),
        value: r.get(6)?,
        threshold: r.get(7)?,
        message: r.get(8)?,
        at_ms: r.get::<_, i64>(9)? as u64,
        received_ms: r.get::<_, i64>(10)? as u64,
    })
}

impl Db {
    /// Store an event and update the active set; `None` if this agent
    /// event was stored before.
    pub fn record_alert(&mut self, a: &NewAlert<'_>) -> Result<Option<AlertRecord>> {
        let tx = self.conn.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO alert_events
             (vm, epoch, seq, rule, subject, transition, severity, value, threshold, message, at_ms, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                a.vm,
                a.epoch as i64,
                a.seq.map(|s| s as i64),
                a.rule,
                a.subject,
                a.transition.name(),
                a.severity.name(),
                a.value,
                a.threshold,
                a.message,
                a.at_ms as i64,
                a.received_ms as i64
            ],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        let id = tx.last_insert_rowid();
        match a.transition {
            Transition::Firing => {
                tx.execute(
                    "INSERT OR REPLACE INTO alerts_active (vm, rule, subject, event_id) VALUES (?1, ?2, ?3, ?4)",
                    params![a.vm, a.rule, a.subject, id],
                )?;
            }
            Transition::Resolved => {
                tx.execute(
                    "DELETE FROM alerts_active WHERE vm = ?1 AND rule = ?2 AND subject = ?3",
                    params![a.vm, a.rule, a.subject],
                )?;
            }
            Transition::Notice => {}
        }
        let record = tx.query_row(
            &format!("SELECT {COLUMNS} FROM alert_events e WHERE e.id = ?1"),
            [id],
            row,
        )?;
        tx.commit()?;
        Ok(Some(record))
    }

    /// Alerts firing now, most severe first, then oldest first.
    pub fn active_alerts(&self) -> Result<Vec<AlertRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM alerts_active a JOIN alert_events e ON e.id = a.event_id
             ORDER BY e.id"
        ))?;
        let mut list: Vec<AlertRecord> =
            stmt.query_map([], row)?.collect::<rusqlite::Result<_>>()?;
        list.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    /// The newest `limit` events, oldest first.
    pub fn alert_history(&self, limit: u32) -> Result<Vec<AlertRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM alert_events e ORDER BY e.id DESC LIMIT ?1"
        ))?;
        let mut list: Vec<AlertRecord> = stmt
            .query_map([limit], row)?
            .collect::<rusqlite::Result<_>>()?;
        list.reverse();
        Ok(list)
    }

    /// Whether `rule` is firing for `vm` (any subject).
    pub fn alert_active(&self, vm: &str, rule: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM alerts_active WHERE vm = ?1 AND rule = ?2 LIMIT 1",
                params![vm, rule],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Keep the newest `keep` events (and every active one).
    pub fn prune_alerts(&self, keep: u32) -> Result<usize> {
        Ok(self.conn.execute(
            "DELETE FROM alert_events WHERE id <= (SELECT id FROM alert_events ORDER BY id DESC LIMIT 1 OFFSET ?1)
             AND id NOT IN (SELECT event_id FROM alerts_active)",
            [keep],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(seq: Option<u64>, t: Transition) -> NewAlert<'a> {
        NewAlert {
            vm: "vm-1",
            epoch: 9,
            seq,
            rule: "hot",
            subject: "",
            transition: t,
            severity: Severity::Warning,
            value: 95.0,
            threshold: 90.0,
            message: "cpu is 95%",
            at_ms: 1,
            received_ms: 2,
        }
    }

    #[test]
    fn an_event_sent_twice_is_stored_once_and_resolution_clears_it() {
        let mut db = Db::in_memory();
        let first = db
            .record_alert(&event(Some(1), Transition::Firing))
            .unwrap();
        assert!(first.is_some());
        assert!(
            db.record_alert(&event(Some(1), Transition::Firing))
                .unwrap()
                .is_none()
        );
        assert_eq!(db.active_alerts().unwrap().len(), 1);
        assert!(db.alert_active("vm-1", "hot").unwrap());
        db.record_alert(&event(Some(2), Transition::Resolved))
            .unwrap()
            .unwrap();
        assert!(db.active_alerts().unwrap().is_empty());
        // The daemon's own events have no number and are never merged.
        db.record_alert(&event(None, Transition::Notice))
            .unwrap()
            .unwrap();
        db.record_alert(&event(None, Transition::Notice))
            .unwrap()
            .unwrap();
        let history = db.alert_history(10).unwrap();
        let states: Vec<Transition> = history.iter().map(|r| r.transition).collect();
        assert_eq!(
            states,
            vec![
                Transition::Firing,
                Transition::Resolved,
                Transition::Notice,
                Transition::Notice
            ]
        );
    }

    #[test]
    fn pruning_keeps_the_newest_and_the_active() {
        let mut db = Db::in_memory();
        db.record_alert(&event(Some(1), Transition::Firing))
            .unwrap();
        for seq in 2..20 {
            db.record_alert(&event(Some(seq), Transition::Notice))
                .unwrap();
        }
        db.prune_alerts(5).unwrap();
        let history = db.alert_history(100).unwrap();
        assert_eq!(history.len(), 6);
        assert_eq!(history[0].transition, Transition::Firing);
    }
}

//! The agent's outbox: events numbered and kept until the controller says
//! it stored them. Plain data, so the agent can keep it in a file across
//! restarts and tests can check "none lost, none twice" directly.
//!
//! The epoch is chosen at random when an outbox is created; a controller
//! that sees a new epoch from a VM knows the numbering started again (a
//! reinstalled agent) and does not mistake new events for old ones.
//!
//! Not here: deciding when events happen (see [`super::eval`]).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{AlertEvent, eval::Happening};

/// Most events kept unacknowledged; past it the oldest are dropped (and
/// counted), so an agent cut off for weeks cannot fill its disk.
pub const MAX_PENDING: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    pub epoch: u64,
    next_seq: u64,
    pending: VecDeque<AlertEvent>,
    /// Events dropped because the outbox was full.
    pub dropped: u64,
}

/// A fresh random epoch; never 0, which the controller uses for events it
/// raises itself.
pub fn new_epoch() -> u64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    // The system RNG failing is not survivable anyway; fall back to the
    // clock so an outbox can still be made.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        bytes = ns.to_le_bytes();
    }
    u64::from_le_bytes(bytes).max(1)
}

impl Outbox {
    pub fn new(epoch: u64) -> Self {
        Self {
            epoch,
            next_seq: 1,
            pending: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Number and keep an event; returns it as it will be sent.
    pub fn push(&mut self, h: Happening) -> AlertEvent {
        let event = AlertEvent {
            epoch: self.epoch,
            seq: self.next_seq,
            rule: h.rule,
            subject: h.subject,
            transition: h.transition,
            severity: h.severity,
            value: h.value,
            threshold: h.threshold,
            at_ms: h.at_ms,
            message: h.message,
        };
        self.next_seq += 1;
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
            self.dropped += 1;
        }
        self.pending.push_back(event.clone());
        event
    }

    /// Forget everything up to `seq` of our epoch; true if anything went.
    /// An acknowledgement for another epoch (an outbox this agent no
    /// longer has) or for events never sent changes nothing it should not.
    pub fn ack(&mut self, epoch: u64, seq: u64) -> bool {
        if epoch != self.epoch {
            return false;
        }
        let before = self.pending.len();
        while self.pending.front().is_some_and(|e| e.seq <= seq) {
            self.pending.pop_front();
        }
        self.pending.len() != before
    }

    /// Unacknowledged events numbered after `seq`, oldest first.
    pub fn after(&self, seq: u64) -> impl Iterator<Item = &AlertEvent> {
        self.pending.iter().filter(move |e| e.seq > seq)
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Severity, Transition};

    fn happening(n: u64) -> Happening {
        Happening {
            rule: "r".into(),
            subject: String::new(),
            transition: Transition::Firing,
            severity: Severity::Info,
            value: n as f64,
            threshold: 0.0,
            at_ms: n,
            message: String::new(),
        }
    }

    #[test]
    fn events_stay_until_acknowledged_and_are_resent_in_order() {
        let mut o = Outbox::new(42);
        for n in 0..5 {
            o.push(happening(n));
        }
        let seqs: Vec<u64> = o.after(0).map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        assert!(!o.ack(41, 5), "another epoch's ack changes nothing");
        assert!(o.ack(42, 3));
        let seqs: Vec<u64> = o.after(0).map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            vec![4, 5],
            "a reconnect resends only what is unacknowledged"
        );
        assert_eq!(o.after(4).count(), 1);
        assert!(!o.ack(42, 3), "a repeated ack is harmless");
        o.push(happening(9));
        assert_eq!(o.after(5).next().unwrap().seq, 6, "numbers never repeat");
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_counts_them() {
        let mut o = Outbox::new(1);
        for n in 0..(MAX_PENDING as u64 + 3) {
            o.push(happening(n));
        }
        assert_eq!(o.len(), MAX_PENDING);
        assert_eq!(o.dropped, 3);
        assert_eq!(o.after(0).next().unwrap().seq, 4);
    }

    #[test]
    fn survives_a_round_trip_through_its_file_format() {
        let mut o = Outbox::new(7);
        o.push(happening(1));
        let bytes = postcard::to_stdvec(&o).unwrap();
        let back: Outbox = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, o);
    }
}

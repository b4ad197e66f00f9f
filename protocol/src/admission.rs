//! What a peer that has not authenticated yet may hold on a listener (the
//! daemon's for dial-mode agents, an agent's for the controller): a place
//! among at most [`Limits::total`] such connections and
//! [`Limits::per_source`] from one address ([`Gate`]; one over is refused
//! before its handshake), [`PRE_AUTH_WINDOW`] bytes of QUIC receive window
//! (raised once it has authenticated), frames of at most
//! [`MAX_PRE_AUTH_FRAME`] bytes, and [`PRE_AUTH_DEADLINE`] to greet and,
//! without a certificate, to enroll. So a flood of connections that never
//! authenticate costs at most `total × (window + frame)` bytes, and a
//! connection that stalls is dropped.
//!
//! Not here: how a peer authenticates (its certificate, or enrollment).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

/// Bytes a connection may have in flight before it has authenticated.
pub const PRE_AUTH_WINDOW: u32 = 64 * 1024;
/// The largest frame read from a peer before it has authenticated (a
/// greeting, an enrollment request: well under 4 KiB).
pub const MAX_PRE_AUTH_FRAME: usize = 16 * 1024;
/// How long a peer has to greet and, without a certificate, to enroll.
pub const PRE_AUTH_DEADLINE: Duration = Duration::from_secs(10);

/// How many unauthenticated connections a listener holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub total: usize,
    pub per_source: usize,
}

impl Limits {
    /// The daemon's listener: a fleet's agents dialling in at once.
    pub const DAEMON: Limits = Limits {
        total: 256,
        per_source: 32,
    };
    /// An agent's listener: one controller, dialling now and then.
    pub const AGENT: Limits = Limits {
        total: 16,
        per_source: 4,
    };
}

/// Why a connection was refused a place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{0} connections are waiting to authenticate already")]
    Total(usize),
    #[error("{limit} connections from {ip} are waiting to authenticate already")]
    Source { ip: IpAddr, limit: usize },
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// The places on one listener.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    held: Mutex<Held>,
}

/// A place, given back when dropped (the peer authenticated, or went).
#[derive(Debug)]
pub struct Ticket {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Gate {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            held: Mutex::new(Held::default()),
        })
    }

    /// A place for a connection from `ip`, if there is one.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refused> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.total >= self.limits.total {
            return Err(Refused::Total(self.limits.total));
        }
        let from = held.by_source.entry(ip).or_default();
        if *from >= self.limits.per_source {
            return Err(Refused::Source {
                ip,
                limit: self.limits.per_source,
            });
        }
        *from += 1;
        held.total += 1;
        Ok(Ticket {
            gate: self.clone(),
            ip,
        })
    }

    /// A place for `incoming`; without one it is refused now, before its
    /// handshake costs anything, and the reason given back.
    pub fn admit_incoming(
        self: &Arc<Self>,
        incoming: quinn::Incoming,
    ) -> Result<(quinn::Incoming, Ticket), Refused> {
        match self.admit(incoming.remote_address().ip()) {
            Ok(ticket) => Ok((incoming, ticket)),
            Err(why) => {
                incoming.refuse();
                Err(why)
            }
        }
    }

    /// Places held now (total, from `ip`).
    pub fn held(&self, ip: IpAddr) -> (usize, usize) {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        (held.total, held.by_source.get(&ip).copied().unwrap_or(0))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut held = self.gate.held.lock().unwrap_or_else(|p| p.into_inner());
        held.total -= 1;
        if let Some(n) = held.by_source.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                held.by_source.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_in_total_and_per_source_and_given_back() {
        let gate = Gate::new(Limits {
            total: 3,
            per_source: 2,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let a1 = gate.admit(a).unwrap();
        let a2 = gate.admit(a).unwrap();
        assert_eq!(
            gate.admit(a).unwrap_err(),
            Refused::Source { ip: a, limit: 2 }
        );
        let b1 = gate.admit(b).unwrap();
        assert_eq!(gate.admit(c).unwrap_err(), Refused::Total(3));
        assert_eq!(gate.held(a), (3, 2));
        drop(a1);
        assert_eq!(gate.held(a), (2, 1));
        let c1 = gate.admit(c).unwrap();
        drop((a2, b1, c1));
        assert_eq!(gate.held(a), (0, 0));
        assert!(gate.held.lock().unwrap().by_source.is_empty());
    }
}

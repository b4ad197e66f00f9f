//! The fleet's telemetry as the controller holds it: the newest sample of
//! every VM in memory ([`live`]), and the Prometheus text exposition of it
//! ([`prometheus`]). Both are plain data and pure functions; the daemon
//! feeds them from the agents' streams and serves them.
//!
//! Not here: the stored history (see [`crate::state`]'s metrics table) or
//! sockets (see [`crate::daemon`]).

pub mod live;
pub mod prometheus;

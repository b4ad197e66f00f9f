//! The agents' side of the daemon: one QUIC connection per enrolled
//! agent, whichever side dialled, and what travels on it.
//!
//! - [`fleet`]: the live link state of every VM.
//! - [`link`]: dialling listen-mode agents, with backoff.
//! - [`listener`]: accepting dial-mode agents.
//! - [`session`]: one agent connection, either direction.
//! - [`enroll`]: checking tokens and signing agents' CSRs.
//! - [`renew`]: a new certificate for an agent over its live connection.
//! - [`telemetry_stream`]: samples pushed by agents, into the live store.
//! - [`query`]: asking one agent a question on a stream of its own.
//! - [`file_stream`]: one file stream to an agent, opened and checked.
//! - [`manifest_stream`]: local files to an agent by manifest.
//!
//! Not here: what a CLI request makes of these (`handlers`), alert events
//! agents push (`jobs::alerts::stream`, started by [`session`]).

pub mod ca_rotation;
pub mod enroll;
pub mod file_stream;
pub mod fleet;
pub mod link;
pub mod listener;
pub mod manifest_relay;
pub mod manifest_stream;
pub mod query;
pub mod renew;
pub mod session;
pub mod telemetry_stream;

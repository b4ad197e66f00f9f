//! Alerts, the controller's half: the rules file, the events as stored and
//! shown, and the channels that carry them to the developer.
//!
//! - [`rules_file`]: `alerts.toml`, with errors by line and column.
//! - [`book`]: the rules in force: which VM gets which, where events go.
//! - [`record`]: one stored event, and the webhook's JSON body for it.
//! - [`webhook`]: HTTP POST with retries.
//! - [`desktop`]: the notification command.
//!
//! Not here: evaluating rules (the agents do, see `azlin_protocol::alert`)
//! or the daemon's streams and agent-lost judgement (`daemon::jobs::alerts`).

pub mod book;
pub mod desktop;
pub mod record;
pub mod rules_file;
pub mod webhook;

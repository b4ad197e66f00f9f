//! `azlin-agent`: runs on every VM and keeps one mutually authenticated QUIC
//! connection to the azlin controller.
//!
//! - [`config`]: the agent's TOML config.
//! - [`credentials`]: its key (made here, never sent), certificate, fleet CA.
//! - [`renew`]: a renewed certificate taken over the live connection.
//! - [`session`]: what happens on a controller connection: greeting,
//!   enrollment, the live session.
//! - [`endpoint`]: listen for the controller or dial out to it.
//! - [`telemetry`]: sample this VM every interval (metrics, tmux sessions).
//! - [`processes`]: the busiest processes, measured on demand.
//! - [`query`]: answer the controller's questions on their own streams.
//! - [`exec`]: run a command for the controller, streaming its output.
//! - [`files`]: taking files from the controller, safely and atomically.
//! - [`terminal`]: a tmux terminal on a PTY for `azlin connect`.
//! - [`alerts`]: alert rules evaluated on every sample; events kept until
//!   the controller has stored them.
//! - [`account`]: the VM user commands run as, and their environment.
//! - [`env_file`]: the user's variables azlin manages (`azlin env`).
//! - [`health`]: the facts `azlin health` grades.
//! - [`tmux_server`]: the tmux binary and server the agent and commands use.

pub mod account;
pub mod alerts;
pub mod config;
pub mod credentials;
pub mod endpoint;
pub mod env_file;
pub mod exec;
pub mod files;
pub mod health;
pub mod machine;
pub mod mount;
pub mod processes;
pub mod query;
pub mod quiesce;
pub mod renew;
pub mod secrets;
pub mod session;
pub mod telemetry;
pub mod terminal;
pub mod tmux_server;
pub mod upgrade;

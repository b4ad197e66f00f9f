//! What the daemon does on its own, with no CLI request behind it.
//!
//! - [`history`]: the metrics history in `state.db`, downsampled.
//! - [`alerts`]: the alert rules in force, agents' events, agent loss,
//!   and the channels that notify the developer.
//! - [`metrics_http`]: Prometheus `/metrics` on a loopback port.
//! - [`budget_check`]: the cost budgets, checked every hour.
//! - [`schedule_runner`]: the VMs' power schedules.
//! - [`autostop_watch`]: idle VMs deallocated, after a warning.
//! - [`snapshot_runner`]: the VMs' snapshot schedules and retention.
//! - [`config_watch`]: `config.toml` reread when it changes.
//! - [`cert_renewal`]: agents' certificates renewed at two thirds of
//!   their life, over their live connections.
//!
//! Not here: the connections these read from (`agents`), requests
//! (`handlers`).

pub mod alerts;
pub mod autostop_watch;
pub mod budget_check;
pub mod cert_renewal;
pub mod config_watch;
pub mod history;
pub mod metrics_http;
pub mod schedule_runner;
pub mod snapshot_runner;

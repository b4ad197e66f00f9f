//! `azlin`: the controller. In layers:
//!
//! - [`cli`]: the short-lived command line; one module per command, each
//!   asks the daemon over [`ipc`] and prints.
//! - [`ipc`]: the CLI↔daemon types (each request names its reply type) and
//!   the CLI's client; it imports nothing from [`cli`] or [`daemon`].
//! - [`daemon`]: the long-lived process: the agents' connections, the
//!   handlers that answer the CLI, and its own background jobs.
//! - [`provider`]: the providers (local, docker, Azure, external) behind
//!   one trait, with their capabilities; [`azure`] is the ARM client and
//!   models the Azure provider uses, and the explicit Azure context each
//!   request carries.
//! - [`state`]: `state.db`; [`fleet_pki`]: the fleet CA; [`telemetry`]:
//!   the fleet's live figures and their Prometheus form; [`alerts`]: alert
//!   rules and channels; [`files`]: planning and writing copies here.
//! - The rest are small single-purpose modules named for what they do
//!   ([`config`], [`home`], [`selector`], [`names`], [`ssh_key`],
//!   [`log_tail`], [`text_position`]).

pub mod alerts;
pub mod azure;
pub mod cleanup;
pub mod cli;
pub mod config;
pub mod contexts;
pub mod cost;
pub mod daemon;
pub mod files;
pub mod fleet_pki;
pub mod health;
pub mod home;
pub mod ipc;
pub mod log_tail;
pub mod names;
pub mod provider;
pub mod prune;
pub mod selector;
pub mod snapshot;
pub mod ssh_key;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod template;
pub mod text_position;
pub mod vm_key;

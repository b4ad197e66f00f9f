//! `azlin`: the controller. The CLI ([`cli`]) is short-lived and asks the
//! daemon ([`daemon`]) over a Unix socket ([`ipc`]); the daemon holds the
//! agents' connections, the fleet's state ([`state`]), its PKI
//! ([`fleet_pki`]), the providers that create VMs ([`provider`]) and the
//! fleet's live telemetry ([`telemetry`]).

pub mod alerts;
pub mod azure;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod files;
pub mod fleet_pki;
pub mod home;
pub mod ipc;
pub mod log_tail;
pub mod names;
pub mod provider;
pub mod selector;
pub mod ssh_key;
pub mod state;
pub mod telemetry;

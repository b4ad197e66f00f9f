//! The requests that keep the socket open both ways: a command on many
//! VMs ([`ExecSpec`]) and a terminal on one ([`ConnectSpec`]). Their
//! frames are in the module docs of [`super`].

use azlin_protocol::terminal::WindowSize;
use serde::{Deserialize, Serialize};

use crate::selector::Selector;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSpec {
    pub selector: Selector,
    /// Run through each VM user's `$SHELL -c`.
    pub command: String,
    pub timeout_secs: Option<u32>,
    /// Forward the CLI's stdin (honoured only when one VM is chosen).
    pub stdin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectSpec {
    /// VM or session name.
    pub vm: String,
    /// The tmux session; `None`: `connect.tmux_session` from config.toml.
    pub tmux: Option<String>,
    pub term: String,
    pub size: WindowSize,
    /// How long to wait for the VM's agent to be connected.
    pub wait_secs: u32,
}

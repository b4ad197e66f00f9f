//! The daemon itself: its status, stopping it, moving its connections to
//! a new socket.

use serde::{Deserialize, Serialize};

use super::{Call, Done};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonStatus;

impl Call for DaemonStatus {
    type Reply = DaemonInfo;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonInfo {
    pub pid: u32,
    pub version: String,
    pub started_at: i64,
    pub home: String,
    pub vms: usize,
    pub connected: usize,
    pub listen: Option<String>,
    pub certificates_issued: i64,
    /// Why `config.toml` as it is now is not in force (the last good
    /// settings are), if it is not.
    pub config_error: Option<String>,
}

/// Stop the daemon once this is answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shutdown;

impl Call for Shutdown {
    type Reply = Done;
}

/// Move the daemon's QUIC connections to a new local UDP socket, as a
/// laptop's network change would; they migrate without reconnecting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rebind;

impl Call for Rebind {
    type Reply = Done;
}

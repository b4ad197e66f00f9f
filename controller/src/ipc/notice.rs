//! A long command's completion notice (`new`, `os-update`, `update`,
//! `clone`, `cp` past `[notifications] after`), sent by the CLI when it
//! ends and shown through the desktop channel of `alerts.toml` (or
//! `notification_command`).

use serde::{Deserialize, Serialize};

use super::{Call, Done};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notice {
    /// The command as the user typed it (`new --name dev`).
    pub command: String,
    pub ok: bool,
    pub seconds: u64,
    /// Why it failed, in its own words.
    pub error: Option<String>,
}

impl Call for Notice {
    /// Whether a desktop channel took it, in words.
    type Reply = Done;
}

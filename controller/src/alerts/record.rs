//! One alert event as the controller stores, shows and sends it.
//!
//! The webhook body (`Content-Type: application/json`), version 1:
//!
//! ```json
//! {
//!   "version": 1,
//!   "id": 42,                      // unique per daemon's state.db
//!   "vm": "dev-1",
//!   "session_name": "main",        // or null
//!   "rule": "cpu-high",
//!   "subject": "",                 // mount, tmux session, process pattern
//!   "state": "firing",             // firing, resolved or notice
//!   "severity": "warning",         // info, warning or critical
//!   "value": 97.5,
//!   "threshold": 90.0,
//!   "message": "cpu is 97.5% > 90.0%",
//!   "at_ms": 1790000000000,        // when the VM saw it (Unix ms)
//!   "received_ms": 1790000000020   // when the daemon stored it
//! }
//! ```

use azlin_protocol::alert::{Severity, Transition};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub id: i64,
    pub vm: String,
    pub rule: String,
    pub subject: String,
    pub transition: Transition,
    pub severity: Severity,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub at_ms: u64,
    pub received_ms: u64,
}

impl AlertRecord {
    /// One line for the log, the desktop and `azlin alerts --follow`.
    pub fn summary(&self, display: &str) -> String {
        let subject = if self.subject.is_empty() {
            String::new()
        } else {
            format!(" [{}]", self.subject)
        };
        format!(
            "{} {} {display}: {}{subject}: {}",
            self.severity.name().to_uppercase(),
            self.transition.name(),
            self.rule,
            self.message
        )
    }

    pub fn webhook_body(&self, session_name: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "version": 1,
            "id": self.id,
            "vm": self.vm,
            "session_name": session_name,
            "rule": self.rule,
            "subject": self.subject,
            "state": self.transition.name(),
            "severity": self.severity.name(),
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "at_ms": self.at_ms,
            "received_ms": self.received_ms,
        })
    }
}

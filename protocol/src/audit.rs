//! The audit log both ends keep: one JSON line when a command starts (who
//! asked, as whom, what), one when it ends (how, how long), each carrying
//! the controller's id for the run so the agent's log and the daemon's can
//! be joined.
//!
//! Each record is one `write` on a file opened for appending, so records
//! from concurrent commands never interleave and a crash loses at most the
//! record being written; the file is rotated by size (`crate::log_file`).

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Start,
    End,
    Refused,
}

/// One line of the log. Fields that do not apply to an event are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub ts_ms: u64,
    /// The run's id, 16 hex digits.
    pub id: String,
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The account the command ran as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Record {
    /// A record of `event` for run `id`, stamped now; fill in the rest.
    pub fn new(id: u64, event: Event) -> Self {
        Self {
            ts_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            id: format!("{id:016x}"),
            event,
            vm: None,
            by: None,
            user: None,
            command: None,
            outcome: None,
            exit_code: None,
            duration_ms: None,
            reason: None,
        }
    }

    /// Append this record to the log at `path` (created 0600, rotated by
    /// size: see [`crate::log_file`]).
    pub fn append(&self, path: &Path) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        line.push(b'\n');
        crate::log_file::append(
            path,
            &line,
            crate::log_file::MAX_BYTES,
            crate::log_file::KEEP,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_lines_with_the_shared_id() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        let mut start = Record::new(0xab, Event::Start);
        start.command = Some("echo \"hi\"\nrm -rf /tmp/x".into());
        start.append(&log).unwrap();
        let mut end = Record::new(0xab, Event::End);
        end.exit_code = Some(0);
        end.append(&log).unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<Record> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, vec![start, end]);
        assert_eq!(lines[0].id, "00000000000000ab");
        assert!(!text.lines().next().unwrap().contains("exit_code"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

//! What travels on the streams beside the control stream.
//!
//! Each job gets its own QUIC stream so that a slow one never blocks another:
//!
//! - The agent opens a unidirectional stream whose first frame is an
//!   [`AgentStream`] saying what follows. [`AgentStream::Telemetry`] is
//!   followed by one [`crate::telemetry::Sample`] frame per interval; the
//!   agent drops samples it could not send yet, so the newest always wins.
//! - The controller opens a bidirectional stream per question: one [`Query`]
//!   frame, answered by one [`QueryReply`] frame; or, for
//!   [`Query::Exec`], followed by the frames described in [`crate::exec`].
//!
//! Both enums are append-only, like [`crate::message::Control`]: an unknown
//! tag is reported by number, never misread.

use serde::{Deserialize, Serialize};

use crate::message::Tagged;

/// Capability an agent announces when it pushes telemetry.
pub const CAP_TELEMETRY: &str = "telemetry/1";
/// Capability an agent announces when it answers [`Query`].
pub const CAP_QUERY: &str = "query/1";

/// Largest query or reply frame.
pub const MAX_QUERY_FRAME: usize = 4 * 1024 * 1024;

/// First frame of a stream the agent opens. Append only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentStream {
    Telemetry,
}

impl Tagged for AgentStream {
    const KNOWN_TYPES: u32 = 1;
}

/// A question the controller asks an agent. Append only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Query {
    /// The busiest processes, measured over a short window.
    Processes { sort: ProcessSort, limit: u32 },
    /// Run a command; the stream then carries [`crate::exec`] frames.
    Exec(crate::exec::ExecRequest),
    /// Open a terminal; the stream then carries [`crate::terminal`] frames.
    Terminal(crate::terminal::TerminalRequest),
    /// The VM's SSH host keys and port, for a known_hosts file.
    SshHostKeys,
    /// Evaluate these alert rules; the stream then carries
    /// [`crate::alert`] frames both ways for the life of the connection.
    Alerts(Vec<crate::alert::Rule>),
    /// Take files; the stream then carries [`crate::files::wire`] frames.
    Files(crate::files::wire::FilesRequest),
    /// Replace the agent's binary; the stream then carries
    /// [`crate::upgrade::UpgradeChunk`] frames.
    Upgrade(crate::upgrade::UpgradeRequest),
    /// The sha256 of the binary the agent runs.
    AgentBinary,
    /// Mount (or unmount) shared NFS storage.
    Mount(crate::mount::MountRequest),
    /// The NFS mounts the VM has now.
    Mounts,
    /// How the VM user's home on shared storage is doing.
    Home,
    /// Flush the file systems and freeze every process of the VM but the
    /// agent's own (and init and the journal) for at most `hold_ms`, so a
    /// snapshot taken meanwhile is of one moment, while the agent keeps
    /// its connection (see [`QueryReply::Quiesced`]).
    Quiesce { hold_ms: u32 },
    /// Thaw what [`Query::Quiesce`] froze, before its hold runs out.
    Thaw,
    /// The files in the VM user's home that the files security filter
    /// blocks (by name, or by content), so a clone of the VM leaves them
    /// behind.
    Secrets,
    /// A certificate signing request for the agent's own key, to renew its
    /// certificate over this connection (see [`Query::InstallCertificate`]).
    CertificateRequest,
    /// The agent's renewed certificate (DER): checked to be for its VM and
    /// key, kept atomically, and presented from the next handshake on; the
    /// live connection stays.
    InstallCertificate { cert_der: Vec<u8> },
    /// Change the VM user's managed environment variables (or, changing
    /// nothing, read them): see [`crate::env`].
    Env(crate::env::EnvRequest),
    /// The VM's health facts ([`crate::health`]).
    Health,
    /// Trust these fleet CAs (a PEM bundle, [`crate::pki::ca_bundle`])
    /// from the next handshake on, in place of the ones trusted now: the
    /// fleet's CA is being rotated. Kept atomically; the live connection
    /// stays.
    Trust { ca_pem: String },
}

/// Longest a [`Query::Quiesce`] may hold a VM: a controller that never
/// thaws it leaves it frozen no longer than this.
pub const MAX_QUIESCE_MS: u32 = 120_000;

impl Tagged for Query {
    const KNOWN_TYPES: u32 = 19;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessSort {
    Cpu,
    Memory,
}

/// The agent's answer to one [`Query`]. Append only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueryReply {
    Processes(Vec<ProcessInfo>),
    Error {
        reason: String,
    },
    SshHostKeys(SshHostKeys),
    /// The new binary is in place (the previous one's sha256 is kept
    /// beside it); the agent restarts into it now.
    Upgraded {
        previous_sha256: String,
    },
    AgentBinary {
        sha256: String,
    },
    /// The mount or unmount is done: what was done, in words.
    Mounted {
        message: String,
    },
    /// The VM's NFS mounts now.
    Mounts(Vec<crate::mount::Mounted>),
    /// The VM user's home on shared storage.
    Home(crate::mount::HomeState),
    /// The VM's processes are frozen (`processes` of them) and its file
    /// systems flushed; `how` names the mechanism, for the log.
    Quiesced {
        processes: u32,
        how: String,
    },
    /// The processes frozen are running again.
    Thawed {
        processes: u32,
    },
    /// The VM user's home (absolute) and the files in it the security
    /// filter blocks, relative to it (at most [`MAX_SECRETS`]).
    Secrets {
        home: String,
        paths: Vec<String>,
    },
    /// A CSR (DER) for the agent's key, naming its VM.
    CertificateRequest {
        csr_der: Vec<u8>,
    },
    /// The certificate is kept and will be presented next.
    CertificateInstalled {
        serial: String,
    },
    /// The managed variables after the request, in their order.
    Env {
        vars: Vec<(String, String)>,
    },
    Health(Box<crate::health::HealthReport>),
    /// The CAs are kept and trusted from the next handshake on.
    Trusted {
        count: u32,
    },
}

/// Most paths a [`QueryReply::Secrets`] carries: a home with more
/// secrets than this is refused for cloning rather than half cleaned.
pub const MAX_SECRETS: usize = 10_000;

impl Tagged for QueryReply {
    const KNOWN_TYPES: u32 = 16;
}

/// Where the VM's sshd listens and the public host keys it presents, as
/// `known_hosts` lines want them (`ssh-ed25519 AAAA…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshHostKeys {
    pub port: u16,
    pub keys: Vec<String>,
    /// The VM user, whom `azlin connect --ssh` logs in as.
    pub user: String,
}

/// Most host keys taken from one agent.
pub const MAX_HOST_KEYS: usize = 16;

/// Keep only host keys that are one well-formed `TYPE BASE64` pair each,
/// so nothing a hostile agent sends can add options, hosts or lines to a
/// known_hosts file.
pub fn check_host_keys(keys: Vec<String>) -> Vec<String> {
    keys.into_iter()
        .filter_map(|k| {
            let mut words = k.split_ascii_whitespace();
            let (kind, blob) = (words.next()?, words.next()?);
            let kind_ok = kind.len() <= 64
                && (kind.starts_with("ssh-")
                    || kind.starts_with("ecdsa-sha2-")
                    || kind.starts_with("sk-"))
                && kind
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-@.".contains(&b));
            let blob_ok = (16..=16 * 1024).contains(&blob.len())
                && blob
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
            (kind_ok && blob_ok).then(|| format!("{kind} {blob}"))
        })
        .take(MAX_HOST_KEYS)
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub user: String,
    /// Of one core: a process using two cores fully shows 200.
    pub cpu_percent: f32,
    pub memory_bytes: u64,
    pub command: String,
}

/// Longest command line kept from a process list.
pub const MAX_COMMAND: usize = 4096;

/// Make an agent's process list safe to show: at most `limit` entries,
/// finite CPU figures, bounded names without control characters.
pub fn check_processes(mut list: Vec<ProcessInfo>, limit: u32) -> Vec<ProcessInfo> {
    list.truncate(limit as usize);
    for p in &mut list {
        if !p.cpu_percent.is_finite() || p.cpu_percent < 0.0 {
            p.cpu_percent = 0.0;
        }
        crate::telemetry::clean_text(&mut p.user, crate::telemetry::MAX_NAME);
        crate::telemetry::clean_text(&mut p.command, MAX_COMMAND);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DecodeError, decode_tagged};

    #[test]
    fn process_lists_are_bounded_and_cleaned() {
        let p = ProcessInfo {
            pid: 1,
            user: "root\x1b]0;pwned\x07".into(),
            cpu_percent: f32::NAN,
            memory_bytes: 1,
            command: "x".repeat(10_000),
        };
        let got = check_processes(vec![p; 50], 10);
        assert_eq!(got.len(), 10);
        assert_eq!(got[0].user, "root?]0;pwned?");
        assert_eq!(got[0].cpu_percent, 0.0);
        assert_eq!(got[0].command.len(), MAX_COMMAND);
    }

    #[test]
    fn host_keys_are_reduced_to_type_and_key() {
        let blob = "AAAAC3NzaC1lZDI1NTE5AAAAIOkq";
        let got = check_host_keys(vec![
            format!("ssh-ed25519 {blob} root@vm"),
            format!("ssh-ed25519 {blob}\nevil.example ssh-rsa AAAA"),
            format!("@cert-authority * ssh-rsa {blob}"),
            "ssh-rsa".into(),
            format!("ecdsa-sha2-nistp256 {blob}"),
            format!("ssh-rsa {blob}%"),
        ]);
        assert_eq!(
            got,
            vec![
                format!("ssh-ed25519 {blob}"),
                format!("ssh-ed25519 {blob}"),
                format!("ecdsa-sha2-nistp256 {blob}"),
            ]
        );
    }

    #[test]
    fn headers_round_trip_and_unknown_tags_are_named() {
        let q = Query::Processes {
            sort: ProcessSort::Memory,
            limit: 10,
        };
        let bytes = postcard::to_stdvec(&q).unwrap();
        assert_eq!(decode_tagged::<Query>(&bytes).unwrap(), q);
        assert_eq!(
            decode_tagged::<AgentStream>(&[7]).unwrap_err(),
            DecodeError::UnknownType { tag: 7, known: 1 }
        );
        let reply = QueryReply::Error {
            reason: "no".into(),
        };
        let bytes = postcard::to_stdvec(&reply).unwrap();
        assert_eq!(decode_tagged::<QueryReply>(&bytes).unwrap(), reply);
    }
}

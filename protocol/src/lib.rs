//! `azlin-protocol`: everything the agent and the controller must agree on.
//!
//! - [`frame`]: length-prefixed frames with a hard size limit, decoded by a
//!   pure state machine (no I/O), so hostile bytes are tested without sockets.
//! - [`message`] and [`version`]: the greeting that negotiates a protocol
//!   version, and the versioned control messages that follow it.
//! - [`enroll`]: one-time join tokens and the channel-bound proof an agent
//!   sends to get its first certificate.
//! - [`pki`]: the fleet CA, certificate issue from CSRs, peer identities and
//!   the rustls configurations for mutual TLS.
//! - [`telemetry`]: the sample an agent pushes every interval, and the
//!   checks that clamp or reject a hostile one.
//! - [`stream`]: what travels on the streams beside the control stream
//!   (telemetry, queries).
//! - [`exec`]: running a command on the agent: the request, its checks, and
//!   the input and output frames that follow it on the command's stream.
//! - [`terminal`]: a terminal on the agent (`azlin connect`): the request,
//!   its checks, keystrokes and window sizes one way, screen bytes the other.
//! - [`alert`]: alert rules evaluated on the agent, the events it pushes,
//!   and the outbox that keeps them until the controller has stored them.
//! - [`files`]: file streams (`azlin cp`, `sync`): their frames, paths on
//!   the wire, the security filter, and a file's BLAKE3 and secret scan
//!   (in pieces on several threads for a large file).
//! - [`env`]: the VM user's variables azlin manages, and their file.
//! - [`health`]: the facts an agent reports for `azlin health`.
//! - [`audit`]: the JSON-lines record of every command run, on both ends.
//! - [`secret_file`]: atomic, fsynced writes with a mode, for key material.
//! - [`backoff`]: capped exponential backoff with jitter for redials.
//!
//! Everything above is plain data and pure functions, tested without
//! sockets. The thin async shell over quinn is two modules, the only ones
//! that touch connections:
//!
//! - [`endpoint`]: a QUIC endpoint on a UDP socket with room for bursts.
//! - [`transport`]: QUIC transport settings (keep-alive, idle timeout),
//!   endpoint configs, the TLS exporter used by enrollment, and frame I/O
//!   on quinn streams.
//! - [`handshake`]: the greeting exchange on a new connection's control
//!   stream, whichever side dialled.
//!
//! Not here: anything about what a VM is, state storage, or providers; those
//! belong to the binaries.

pub mod admission;
pub mod alert;
pub mod audit;
pub mod backoff;
pub mod endpoint;
pub mod enroll;
pub mod env;
pub mod exec;
pub mod files;
pub mod frame;
pub mod handshake;
pub mod health;
pub mod log_file;
pub mod message;
pub mod mount;
pub mod pki;
pub mod secret_file;
pub mod stream;
pub mod telemetry;
pub mod terminal;
pub mod transport;
pub mod upgrade;
pub mod version;

/// ALPN protocol id spoken on every azlin QUIC connection.
pub const ALPN: &[u8] = b"azlin/1";

/// The UDP port an agent listens on unless its config says otherwise.
pub const DEFAULT_AGENT_PORT: u16 = 47800;

/// The version of this software, carried in the greeting.
pub const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Install the one crypto provider used by the whole workspace (ring).
///
/// Safe to call more than once; the first call wins.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

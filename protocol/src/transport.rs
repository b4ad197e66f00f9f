//! The thin async shell over quinn: transport settings shared by both ends,
//! endpoint configs, and frame I/O on QUIC streams through the pure
//! [`crate::frame::FrameDecoder`].
//!
//! Liveness: keep-alives every second and a 3 s idle timeout. Sending a
//! keep-alive restarts the idle timer once after the last packet received
//! (RFC 9000 §10.1), so a dead peer is noticed 3-4 s after its last packet,
//! inside the 5 s the fleet promises, while two lost keep-alives in a row
//! are still tolerated.

use std::{sync::Arc, time::Duration};

use quinn::{RecvStream, SendStream, VarInt};
use serde::Serialize;
use thiserror::Error;

use crate::{
    enroll::{EXPORTER_LABEL, EXPORTER_LEN},
    frame::{FrameDecoder, FrameError},
    message::{self, Control, DecodeError, EncodeError, Greeting},
};

/// Keep-alive period.
pub const KEEP_ALIVE: Duration = Duration::from_secs(1);
/// No packet for this long and the connection is dead.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3);
/// Give up on one dial attempt after this long; the redial loop tries again.
pub const DIAL_TIMEOUT: Duration = Duration::from_millis(1500);

/// Application close codes, so the peer's log says why.
pub mod close {
    use quinn::VarInt;
    pub const NORMAL: VarInt = VarInt::from_u32(0);
    pub const PROTOCOL: VarInt = VarInt::from_u32(1);
    pub const VERSION: VarInt = VarInt::from_u32(2);
    pub const UNAUTHORIZED: VarInt = VarInt::from_u32(3);
    pub const ENROLL_REFUSED: VarInt = VarInt::from_u32(4);
    pub const REPLACED: VarInt = VarInt::from_u32(5);
    pub const SHUTDOWN: VarInt = VarInt::from_u32(6);
}

/// Stream reset code for a stream closed because of a bad frame.
pub const STREAM_BAD_FRAME: VarInt = VarInt::from_u32(1);

/// Receive window of one stream on an agent: enough for one stream to
/// fill a link of 1 Gbit/s at 128 ms RTT (its bandwidth-delay product is
/// 16 MB).
/// quinn's default (1.25 MB) assumes 100 Mbit/s at 100 ms: a single file
/// over a long fat link waited on it. Only an authenticated peer can use
/// it: a listener's connection window holds anyone else to
/// `admission::PRE_AUTH_WINDOW` whatever the stream's.
pub const STREAM_WINDOW: u32 = 16 << 20;
/// Receive window of a whole connection once its peer has authenticated:
/// four streams at a full window (a copy uses four).
pub const CONNECTION_WINDOW: u32 = 64 << 20;
/// Bytes sent and not yet acknowledged, on one connection.
pub const SEND_WINDOW: u64 = 64 << 20;

/// Receive window of one stream on the controller: quinn's default. The
/// daemon relays what it receives (a command's output) to a CLI that may
/// read slowly, and holds what the window lets in; the files it fetches
/// are few next to what it sends.
pub const RELAY_STREAM_WINDOW: u32 = 1_250_000;

/// Which end a configuration is for: the windows differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Takes files from the controller: a large window per stream.
    Agent,
    /// Relays what it receives: quinn's default window per stream.
    Controller,
}

/// The windows a connection gets on `side`.
fn windows(t: &mut quinn::TransportConfig, side: Side) {
    t.stream_receive_window(
        match side {
            Side::Agent => STREAM_WINDOW,
            Side::Controller => RELAY_STREAM_WINDOW,
        }
        .into(),
    );
    t.send_window(SEND_WINDOW);
}

pub fn transport_config(side: Side) -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    windows(&mut t, side);
    // A dialler's peer is the listener it authenticated in the handshake.
    t.receive_window(CONNECTION_WINDOW.into());
    t.keep_alive_interval(Some(KEEP_ALIVE));
    t.max_idle_timeout(Some(
        IDLE_TIMEOUT.try_into().expect("idle timeout fits a VarInt"),
    ));
    // Loopback and in-region links are fast; a lower first RTT guess makes
    // handshake retransmits quick when a peer has just come back.
    t.initial_rtt(Duration::from_millis(100));
    Arc::new(t)
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("TLS configuration is not usable for QUIC: {0}")]
    Quic(String),
}

pub fn quic_server_config(
    tls: rustls::ServerConfig,
    side: Side,
) -> Result<quinn::ServerConfig, ConfigError> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(Arc::new(tls))
        .map_err(|e| ConfigError::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    // A listener's peers have not authenticated yet: a small window each
    // (`crate::admission`), raised by [`authenticated`].
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(KEEP_ALIVE));
    t.max_idle_timeout(Some(
        IDLE_TIMEOUT.try_into().expect("idle timeout fits a VarInt"),
    ));
    t.initial_rtt(Duration::from_millis(100));
    windows(&mut t, side);
    t.receive_window(crate::admission::PRE_AUTH_WINDOW.into());
    config.transport_config(Arc::new(t));
    Ok(config)
}

/// The peer of `conn` has authenticated: the receive window a listener
/// gave it before (`crate::admission::PRE_AUTH_WINDOW`) grows to
/// [`CONNECTION_WINDOW`].
pub fn authenticated(conn: &quinn::Connection) {
    conn.set_receive_window(CONNECTION_WINDOW.into());
}

pub fn quic_client_config(
    tls: rustls::ClientConfig,
    side: Side,
) -> Result<quinn::ClientConfig, ConfigError> {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(Arc::new(tls))
        .map_err(|e| ConfigError::Quic(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport_config(side));
    Ok(config)
}

#[derive(Debug, Error)]
pub enum StreamError {
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    #[error("bad message: {0}")]
    Decode(#[from] DecodeError),
    #[error("cannot encode: {0}")]
    Encode(#[from] EncodeError),
    #[error("connection lost: {0}")]
    Lost(quinn::ConnectionError),
    #[error("read failed: {0}")]
    Read(quinn::ReadError),
    #[error("write failed: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("stream closed by peer")]
    Closed,
    /// Well-formed frames in an order or amount the protocol forbids.
    #[error("protocol violation: {0}")]
    Protocol(String),
}

impl From<quinn::ReadError> for StreamError {
    fn from(e: quinn::ReadError) -> Self {
        match e {
            quinn::ReadError::ConnectionLost(c) => StreamError::Lost(c),
            other => StreamError::Read(other),
        }
    }
}

impl StreamError {
    /// True when the peer sent bytes we refuse (as opposed to a lost link).
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            StreamError::Frame(_) | StreamError::Decode(_) | StreamError::Protocol(_)
        )
    }
}

/// Reads whole frames from a QUIC receive stream.
pub struct FramedRecv {
    stream: RecvStream,
    decoder: FrameDecoder,
}

impl FramedRecv {
    pub fn new(stream: RecvStream, max: usize) -> Self {
        Self {
            stream,
            decoder: FrameDecoder::new(max),
        }
    }

    /// Enforce `max` from the next frame on.
    pub fn set_max(&mut self, max: usize) {
        self.decoder.set_max(max);
    }

    /// The next frame's payload, or `None` at a clean end of stream.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        self.next_with(<[u8]>::to_vec).await
    }

    /// The next frame's payload lent to `f` (no copy), or `None` at a
    /// clean end of stream.
    pub async fn next_with<R>(
        &mut self,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, StreamError> {
        let mut f = Some(f);
        loop {
            let lent = self
                .decoder
                .next_frame_with(|p| f.take().expect("called once")(p))?;
            if lent.is_some() {
                return Ok(lent);
            }
            // Never past the frame's end, so the decoder has nothing to
            // move up after it.
            let want = self.decoder.wanted();
            match self.stream.read_chunk(want, true).await? {
                Some(chunk) => self.decoder.push(&chunk.bytes)?,
                None => {
                    self.decoder.finish()?;
                    return Ok(None);
                }
            }
        }
    }

    /// Next frame, treating end of stream as an error.
    async fn next_required(&mut self) -> Result<Vec<u8>, StreamError> {
        self.next().await?.ok_or(StreamError::Closed)
    }

    pub async fn greeting(&mut self) -> Result<Greeting, StreamError> {
        Ok(message::decode_greeting(&self.next_required().await?)?)
    }

    pub async fn control(&mut self) -> Result<Option<Control>, StreamError> {
        match self.next().await? {
            Some(payload) => Ok(Some(message::decode_control(&payload)?)),
            None => Ok(None),
        }
    }

    /// The next append-only message, or `None` at a clean end of stream.
    pub async fn tagged<T: message::Tagged>(&mut self) -> Result<Option<T>, StreamError> {
        match self.next().await? {
            Some(payload) => Ok(Some(message::decode_tagged(&payload)?)),
            None => Ok(None),
        }
    }

    /// The next plain message (a struct), or `None` at a clean end of stream.
    pub async fn message<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> Result<Option<T>, StreamError> {
        match self.next().await? {
            Some(payload) => Ok(Some(message::decode_exact(&payload)?)),
            None => Ok(None),
        }
    }

    /// Refuse the rest of this stream: tell the peer to stop sending.
    pub fn reject(&mut self) {
        let _ = self.stream.stop(STREAM_BAD_FRAME);
    }
}

/// Encode `msg` as a frame and write it.
pub async fn send<T: Serialize>(
    stream: &mut SendStream,
    msg: &T,
    max: usize,
) -> Result<(), StreamError> {
    let frame = message::encode_frame(msg, max)?;
    stream.write_all(&frame).await?;
    Ok(())
}

/// The exporter value both ends derive for enrollment's channel binding.
pub fn enrollment_exporter(conn: &quinn::Connection) -> Option<[u8; EXPORTER_LEN]> {
    let mut out = [0u8; EXPORTER_LEN];
    conn.export_keying_material(&mut out, EXPORTER_LABEL, b"")
        .ok()?;
    Some(out)
}

/// The peer's end-entity certificate, if it presented one.
pub fn peer_certificate(conn: &quinn::Connection) -> Option<Vec<u8>> {
    let identity = conn.peer_identity()?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    certs.first().map(|c| c.to_vec())
}

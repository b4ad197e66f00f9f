//! The greeting exchange on a new connection's control stream, the same
//! whichever side dialled: the controller opens the stream and says hello
//! first, the agent answers with its own hello or a refusal.

use crate::admission::MAX_PRE_AUTH_FRAME;
use quinn::{RecvStream, SendStream};
use thiserror::Error;

use crate::{
    frame::MAX_CONTROL_FRAME,
    message::{Greeting, Hello, MAGIC, Role},
    transport::{self, FramedRecv, StreamError},
    version::{self, MAX_VERSION, MIN_VERSION, NoOverlap},
};

#[derive(Debug, Error)]
pub enum HandshakeError {
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Version(#[from] NoOverlap),
    #[error("peer refused us: {0}")]
    Refused(String),
    #[error("peer claims role {got:?}, expected {expected:?}")]
    WrongRole { got: Role, expected: Role },
}

/// A control stream after a successful greeting.
pub struct ControlStream {
    pub send: SendStream,
    pub recv: FramedRecv,
    pub peer: Hello,
    pub version: u16,
}

/// Our hello with this build's version range.
pub fn hello(
    role: Role,
    name: &str,
    capabilities: Vec<String>,
    started: u64,
    enrolled: bool,
) -> Hello {
    Hello {
        magic: MAGIC,
        min_version: MIN_VERSION,
        max_version: MAX_VERSION,
        role,
        name: name.to_string(),
        software: crate::SOFTWARE_VERSION.to_string(),
        capabilities,
        started_at_unix: started,
        enrolled,
    }
}

fn check_peer(peer: &Hello, expected: Role) -> Result<u16, HandshakeError> {
    if peer.role != expected {
        return Err(HandshakeError::WrongRole {
            got: peer.role,
            expected,
        });
    }
    Ok(version::negotiate(
        (MIN_VERSION, MAX_VERSION),
        (peer.min_version, peer.max_version),
    )?)
}

/// Controller side: open the control stream, say hello, read the answer.
pub async fn greet_as_controller(
    conn: &quinn::Connection,
    ours: Hello,
) -> Result<ControlStream, HandshakeError> {
    let (mut send, recv) = conn
        .open_bi()
        .await
        .map_err(|e| StreamError::Write(quinn::WriteError::ConnectionLost(e)))?;
    transport::send(&mut send, &Greeting::Hello(ours), MAX_CONTROL_FRAME).await?;
    // A greeting is small, whoever sends it; a peer that has not
    // authenticated gets no larger frame (`crate::admission`).
    let mut recv = FramedRecv::new(recv, MAX_PRE_AUTH_FRAME);
    let peer = match recv.greeting().await? {
        Greeting::Hello(h) => h,
        Greeting::Refuse { reason } => return Err(HandshakeError::Refused(reason)),
    };
    let version = check_peer(&peer, Role::Agent)?;
    Ok(ControlStream {
        send,
        recv,
        peer,
        version,
    })
}

/// Agent side: take the controller's stream, read its hello, answer.
/// On a version mismatch the agent sends a refusal before failing, so the
/// controller's log shows the reason.
pub async fn greet_as_agent(
    send: SendStream,
    recv: RecvStream,
    ours: Hello,
) -> Result<ControlStream, HandshakeError> {
    let mut send = send;
    let mut recv = FramedRecv::new(recv, MAX_PRE_AUTH_FRAME);
    let greeting = match recv.greeting().await {
        Ok(g) => g,
        Err(e) => {
            recv.reject();
            return Err(e.into());
        }
    };
    let peer = match greeting {
        Greeting::Hello(h) => h,
        Greeting::Refuse { reason } => return Err(HandshakeError::Refused(reason)),
    };
    let version = match check_peer(&peer, Role::Controller) {
        Ok(v) => v,
        Err(e) => {
            let refusal = Greeting::Refuse {
                reason: e.to_string(),
            };
            let _ = transport::send(&mut send, &refusal, MAX_CONTROL_FRAME).await;
            let _ = send.finish();
            // Let the refusal reach the peer before the caller closes.
            let _ =
                tokio::time::timeout(std::time::Duration::from_millis(200), send.stopped()).await;
            return Err(e);
        }
    };
    transport::send(&mut send, &Greeting::Hello(ours), MAX_CONTROL_FRAME).await?;
    // The controller was authenticated by TLS before it could greet.
    recv.set_max(MAX_CONTROL_FRAME);
    Ok(ControlStream {
        send,
        recv,
        peer,
        version,
    })
}

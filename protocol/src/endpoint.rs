//! A QUIC endpoint on a UDP socket whose kernel buffers hold a burst of a
//! long fat link. A socket's default receive buffer (about 208 KiB) is
//! 0.2 ms of 1 Gbit/s: whenever the receiving process is busy for longer
//! (writing files, hashing them), the kernel drops datagrams, QUIC takes
//! each drop for congestion and halves its window, and over 40 ms of RTT
//! it takes many round trips to grow back. Measured across the WAN
//! emulator: 323 datagrams dropped by the agent's socket in one 10,000-file
//! copy, which ran at a third of rsync's rate.
//!
//! Not here: QUIC's own windows (`transport`).

use std::{io, net::SocketAddr};

use nix::sys::socket::{setsockopt, sockopt};

/// Bytes each of the socket's receive and send buffers asks for.
pub const SOCKET_BUFFER: usize = 8 << 20;

/// An endpoint bound to `addr`, accepting connections when given
/// `server` (a client otherwise).
pub fn bind(addr: SocketAddr, server: Option<quinn::ServerConfig>) -> io::Result<quinn::Endpoint> {
    let socket = std::net::UdpSocket::bind(addr)?;
    widen(&socket);
    let runtime = quinn::default_runtime()
        .ok_or_else(|| io::Error::other("no async runtime to run a QUIC endpoint on"))?;
    quinn::Endpoint::new(quinn::EndpointConfig::default(), server, socket, runtime)
}

/// Ask for [`SOCKET_BUFFER`] each way: past the system's ceiling
/// (`net.core.rmem_max`) where the process may (root, as the agent runs),
/// else up to that ceiling. Either way the socket works; a smaller buffer
/// only costs speed.
fn widen(socket: &std::net::UdpSocket) {
    if setsockopt(socket, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &SOCKET_BUFFER);
    }
    if setsockopt(socket, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(socket, sockopt::SndBuf, &SOCKET_BUFFER);
    }
}

#[cfg(test)]
mod tests {
    use nix::sys::socket::getsockopt;

    use super::*;

    #[tokio::test]
    async fn the_socket_asks_for_large_buffers() {
        let endpoint = bind("127.0.0.1:0".parse().unwrap(), None).unwrap();
        assert!(endpoint.local_addr().unwrap().port() > 0);
        // Without the privilege to pass the ceiling, the buffer is the
        // ceiling: check only where it could be passed.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = getsockopt(&socket, sockopt::RcvBuf).unwrap();
        widen(&socket);
        let after = getsockopt(&socket, sockopt::RcvBuf).unwrap();
        if nix::unistd::geteuid().is_root() {
            // Linux reports twice what was asked (its bookkeeping).
            assert!(after >= SOCKET_BUFFER, "{before} -> {after}");
        } else {
            assert!(after >= before);
        }
    }
}

//! Connections that never authenticate, for the hostile test and the
//! flood bench: many idle ones from many source addresses (loopback
//! answers for all of 127.0.0.0/8), or ones that announce a 1 MiB frame on
//! the greeting stream and send most of it. Each is held open (QUIC
//! keep-alives) until the listener drops it or the flood is dropped.

use std::net::{IpAddr, SocketAddr};

use azlin_protocol::{
    pki::{self, ServerAuth},
    transport,
};

/// What a flood got: the connections the listener took (and that are held
/// here), and how many it refused.
pub struct Flood {
    pub held: Vec<quinn::Connection>,
    pub refused: usize,
}

impl Flood {
    /// How many held connections the listener has not closed.
    pub fn open(&self) -> usize {
        self.held
            .iter()
            .filter(|c| c.close_reason().is_none())
            .count()
    }
}

/// `127.0.0.N` for N in 1..=count.
pub fn sources(count: u8) -> Vec<IpAddr> {
    (1..=count).map(|n| IpAddr::from([127, 0, 0, n])).collect()
}

async fn dial_from(
    source: IpAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    addr: SocketAddr,
) -> Result<quinn::Connection, String> {
    azlin_protocol::install_crypto_provider();
    let endpoint =
        quinn::Endpoint::client(SocketAddr::new(source, 0)).map_err(|e| e.to_string())?;
    let tls = pki::client_config(None, std::slice::from_ref(ca), &ServerAuth::Fleet)
        .map_err(|e| e.to_string())?;
    let config = transport::quic_client_config(tls, transport::Side::Controller)
        .map_err(|e| e.to_string())?;
    let connecting = endpoint
        .connect_with(config, addr, pki::CONTROLLER_DNS)
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(std::time::Duration::from_secs(10), connecting).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// `per_source` connections from each of `sources` to `addr`, all at
/// once, with no certificate; `big_frame`: each then announces a 1 MiB
/// frame on the control stream the daemon opens and sends most of it.
pub async fn flood(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    sources: &[IpAddr],
    per_source: usize,
    big_frame: bool,
) -> Flood {
    let mut tasks = tokio::task::JoinSet::new();
    for &source in sources {
        for _ in 0..per_source {
            let ca = ca.clone();
            tasks.spawn(async move {
                let conn = dial_from(source, &ca, addr).await?;
                if big_frame {
                    let c = conn.clone();
                    tokio::spawn(async move {
                        let frame = |n: usize| {
                            let mut f = (1u32 << 20).to_be_bytes().to_vec();
                            f.resize(n, 0);
                            f
                        };
                        // On the greeting stream the daemon opened, and on
                        // a stream of its own it never accepts.
                        if let Ok((mut send, _recv)) = c.accept_bi().await {
                            let _ = send.write_all(&frame((1 << 20) - 4096)).await;
                        }
                        if let Ok(mut send) = c.open_uni().await {
                            let _ = send.write_all(&frame((1 << 20) - 4096)).await;
                        }
                        c.closed().await;
                    });
                }
                Ok::<_, String>(conn)
            });
        }
    }
    let mut held = Vec::new();
    let mut refused = 0;
    for result in tasks.join_all().await {
        match result {
            Ok(c) => held.push(c),
            Err(_) => refused += 1,
        }
    }
    Flood { held, refused }
}

//! QUIC windows sized for a long fat link, for authenticated peers only:
//! before a listener's peer has authenticated, it cannot have more than
//! `PRE_AUTH_WINDOW` bytes unread on the listener; once it has, one
//! stream alone may have far more than quinn's default stream window
//! (1.25 MB) in flight, so one large file fills a link whose
//! bandwidth-delay product is that large. The listener here never reads:
//! what the sender could write is what the windows allowed.

use std::time::Duration;

use azlin_e2e::peer;
use azlin_protocol::{
    admission::PRE_AUTH_WINDOW,
    pki::{self, ClientAuth, ServerAuth},
    transport,
};

/// Bytes a stream takes before its writer blocks, up to `most`.
async fn written_before_blocking(send: &mut quinn::SendStream, most: usize) -> usize {
    let chunk = vec![7u8; 64 * 1024];
    let mut written = 0;
    while written < most {
        // A window update may be on its way: a second to come.
        match tokio::time::timeout(Duration::from_secs(1), send.write(&chunk)).await {
            Ok(Ok(n)) => written += n,
            Ok(Err(e)) => panic!("write failed: {e}"),
            Err(_) => break,
        }
    }
    written
}

async fn pair(authenticate: bool) -> (quinn::Endpoint, quinn::Connection, quinn::Connection) {
    azlin_protocol::install_crypto_provider();
    let (server_creds, ca) = peer::foreign_credentials(None);
    let tls = pki::server_config(
        server_creds,
        std::slice::from_ref(&ca),
        ClientAuth::FleetOrAnonymous,
    )
    .unwrap();
    let server = quinn::Endpoint::server(
        transport::quic_server_config(tls, transport::Side::Agent).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let accepting = server.clone();
    let accepted = tokio::spawn(async move {
        let conn = accepting.accept().await.unwrap().await.unwrap();
        if authenticate {
            transport::authenticated(&conn);
        }
        conn
    });
    let client = peer::dial(None, &ca, ServerAuth::Fleet, addr, pki::CONTROLLER_DNS)
        .await
        .unwrap();
    let server_conn = accepted.await.unwrap();
    (server, client, server_conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stream_of_an_authenticated_peer_may_fill_a_long_fat_link() {
    let (_server, client, _kept) = pair(true).await;
    let (mut send, _recv) = client.open_bi().await.unwrap();
    let most = 12 << 20;
    let written = written_before_blocking(&mut send, most).await;
    assert_eq!(
        written, most,
        "an authenticated peer's stream took only {written} bytes unread"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_has_not_authenticated_keeps_a_small_window() {
    let (_server, client, _kept) = pair(false).await;
    let (mut send, _recv) = client.open_bi().await.unwrap();
    let written = written_before_blocking(&mut send, 4 << 20).await;
    assert!(
        written <= PRE_AUTH_WINDOW as usize + 64 * 1024,
        "{written} bytes taken from a peer that has not authenticated"
    );
}

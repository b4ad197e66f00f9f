//! Hand-crafted QUIC peers for hostile-input tests: a controller or agent
//! impostor that sends whatever bytes a test wants.

use std::{net::SocketAddr, path::Path};

use azlin_agent::credentials::AgentCredentials;
use azlin_protocol::{
    handshake::{self, ControlStream},
    message::{Control, Role},
    pki::{self, CONTROLLER_DNS, ClientAuth, Credentials, FleetCa, KeyPair, ServerAuth},
    transport,
};

/// The controller's real credentials from a home (what a buggy controller
/// build would hold).
pub fn controller_credentials(home: &Path) -> Credentials {
    let pem = std::fs::read_to_string(home.join("pki/controller.crt")).unwrap();
    let key = std::fs::read_to_string(home.join("pki/controller.key")).unwrap();
    Credentials::from_der_and_key_pem(pki::pem_to_der(&pem).unwrap().to_vec(), &key).unwrap()
}

pub fn fleet_ca(home: &Path) -> rustls::pki_types::CertificateDer<'static> {
    pki::pem_to_der(&std::fs::read_to_string(home.join("pki/ca.crt")).unwrap()).unwrap()
}

/// Credentials for `vm` (or the controller, with `None`) from a CA that is
/// not the fleet's.
pub fn foreign_credentials(
    vm: Option<&str>,
) -> (Credentials, rustls::pki_types::CertificateDer<'static>) {
    let (ca, _) = FleetCa::create("some other CA").unwrap();
    let key = KeyPair::generate().unwrap();
    let issued = match vm {
        Some(vm) => {
            let csr = pki::csr_for_agent(&key, vm).unwrap();
            ca.sign_agent_csr(&csr, vm, time::Duration::days(1))
                .unwrap()
        }
        None => ca.issue_controller(&key, time::Duration::days(1)).unwrap(),
    };
    (
        Credentials::from_der_and_key_pem(issued.der, &key.serialize_pem()).unwrap(),
        ca.cert_der().clone(),
    )
}

pub fn client_endpoint() -> quinn::Endpoint {
    azlin_protocol::install_crypto_provider();
    quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// Dial `addr` as a client holding `creds`, trusting `ca`.
pub async fn dial(
    creds: Option<Credentials>,
    ca: &rustls::pki_types::CertificateDer<'static>,
    auth: ServerAuth,
    addr: SocketAddr,
    server_name: &str,
) -> Result<quinn::Connection, String> {
    let endpoint = client_endpoint();
    let tls =
        pki::client_config(creds, std::slice::from_ref(ca), &auth).map_err(|e| e.to_string())?;
    let config = transport::quic_client_config(tls, transport::Side::Controller)
        .map_err(|e| e.to_string())?;
    let connecting = endpoint
        .connect_with(config, addr, server_name)
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(std::time::Duration::from_secs(5), connecting).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// A QUIC server at `addr` presenting `creds`, requiring fleet clients of
/// `ca`, accepting (and then ignoring) every connection.
pub fn server(
    creds: Credentials,
    ca: &rustls::pki_types::CertificateDer<'static>,
    addr: SocketAddr,
) -> quinn::Endpoint {
    azlin_protocol::install_crypto_provider();
    let tls = pki::server_config(
        creds,
        std::slice::from_ref(ca),
        ClientAuth::FleetOrAnonymous,
    )
    .unwrap();
    let endpoint = quinn::Endpoint::server(
        transport::quic_server_config(tls, transport::Side::Controller).unwrap(),
        addr,
    )
    .unwrap();
    let accepting = endpoint.clone();
    tokio::spawn(async move {
        while let Some(incoming) = accepting.accept().await {
            tokio::spawn(async move {
                if let Ok(conn) = incoming.await {
                    conn.closed().await;
                }
            });
        }
    });
    endpoint
}

/// Join the controller at `controller` as the enrolled agent `name`, with
/// that agent's real credentials, announcing `caps`, up to the controller's
/// Ready: a raw agent that a test then drives frame by frame.
pub async fn agent_session(
    creds: &AgentCredentials,
    name: &str,
    caps: Vec<String>,
    controller: SocketAddr,
) -> (quinn::Connection, ControlStream) {
    let conn = dial(
        creds.fleet().unwrap(),
        &creds.ca[0],
        ServerAuth::Fleet,
        controller,
        CONTROLLER_DNS,
    )
    .await
    .expect("a fleet agent may connect");
    let (send, recv) = conn.accept_bi().await.unwrap();
    let hello = handshake::hello(Role::Agent, name, caps, 0, true);
    let mut control = handshake::greet_as_agent(send, recv, hello).await.unwrap();
    assert!(matches!(
        control.recv.control().await,
        Ok(Some(Control::Ready { .. }))
    ));
    (conn, control)
}

/// Wait for the peer to close the connection; its application reason.
pub async fn close_reason(conn: &quinn::Connection) -> String {
    match tokio::time::timeout(std::time::Duration::from_secs(10), conn.closed()).await {
        Ok(quinn::ConnectionError::ApplicationClosed(c)) => {
            String::from_utf8_lossy(&c.reason).into_owned()
        }
        Ok(other) => other.to_string(),
        Err(_) => "peer did not close within 10 s".into(),
    }
}

/// Why a connection attempt was refused: the dial's error, or the close
/// that followed it. TLS 1.3 lets a client finish its handshake before the
/// server has checked the client's certificate, so a refusal can arrive as
/// either.
pub async fn refusal(dialled: Result<quinn::Connection, String>) -> String {
    match dialled {
        Err(e) => e,
        Ok(conn) => close_reason(&conn).await,
    }
}

/// Dial the agent of VM `vm` at `addr` as a hand-crafted controller with
/// the fleet's real controller credentials from `home`, and go as far as
/// `Ready`: a raw controller that a test then drives frame by frame. Keep
/// the control stream alive as long as the session is wanted.
pub async fn controller_session(
    home: &Path,
    vm: &str,
    addr: SocketAddr,
) -> (quinn::Connection, ControlStream) {
    let conn = dial(
        Some(controller_credentials(home)),
        &fleet_ca(home),
        ServerAuth::Fleet,
        addr,
        &pki::agent_dns(vm),
    )
    .await
    .expect("the controller's credentials are accepted");
    let hello = handshake::hello(Role::Controller, "crafted", vec![], 0, true);
    let mut control = handshake::greet_as_controller(&conn, hello).await.unwrap();
    transport::send(
        &mut control.send,
        &Control::Ready { vm: vm.into() },
        azlin_protocol::frame::MAX_CONTROL_FRAME,
    )
    .await
    .unwrap();
    (conn, control)
}

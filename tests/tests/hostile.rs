//! Bad input, each refused with a clear reason while everyone else keeps
//! being served and the fleet's state stays as it was: certificates from
//! another CA, bad join tokens, oversized frames, random bytes, unknown
//! message types, versions with no overlap, a revoked certificate.

use std::time::Duration;

use azlin_e2e::{Env, peer};
use azlin_protocol::{
    enroll::JoinToken,
    frame::MAX_CONTROL_FRAME,
    handshake,
    message::{Control, Greeting, Role},
    pki::{self, KeyPair, ServerAuth},
    transport::{self, FramedRecv},
};

fn addr_of(env: &Env, vm: &str) -> std::net::SocketAddr {
    env.vm(vm)["address"].as_str().unwrap().parse().unwrap()
}

/// The real daemon still holds its connection to `vm`, undisturbed.
fn undisturbed(env: &Env, vm: &str, reconnects: u64) {
    let v = env.vm(vm);
    assert_eq!(v["connected"], true, "{v}");
    assert_eq!(v["reconnects"], reconnects, "{v}");
}

/// Connect to an agent with the real controller certificate and open the
/// control stream, as a (buggy) controller would.
async fn controller_stream(
    env: &Env,
    vm: &str,
) -> (quinn::Connection, quinn::SendStream, quinn::RecvStream) {
    let creds = peer::controller_credentials(env.home());
    let ca = peer::fleet_ca(env.home());
    let conn = peer::dial(
        Some(creds),
        &ca,
        ServerAuth::Fleet,
        addr_of(env, vm),
        &pki::agent_dns(vm),
    )
    .await
    .expect("controller certificate is accepted");
    let (send, recv) = conn.open_bi().await.unwrap();
    (conn, send, recv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_refuses_bad_frames_and_keeps_serving_the_daemon() {
    let env = Env::new();
    env.ok(&["new", "--name", "h"]);
    let before = env.fleet_fingerprint();

    // A frame announcing more than the limit.
    let (conn, mut send, _recv) = controller_stream(&env, "h").await;
    send.write_all(&((MAX_CONTROL_FRAME as u32) + 1).to_be_bytes())
        .await
        .unwrap();
    let reason = peer::close_reason(&conn).await;
    assert!(reason.contains("over the limit"), "{reason}");

    // Random bytes where the greeting should be.
    let (conn, mut send, _recv) = controller_stream(&env, "h").await;
    let mut junk = [0u8; 64];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut junk).unwrap();
    junk[..4].copy_from_slice(&40u32.to_be_bytes());
    send.write_all(&junk).await.unwrap();
    let reason = peer::close_reason(&conn).await;
    assert!(
        reason.contains("malformed") || reason.contains("magic"),
        "{reason}"
    );

    // A proper greeting, then a message type this agent does not know.
    let (conn, mut send, recv) = controller_stream(&env, "h").await;
    let hello = handshake::hello(Role::Controller, "impostor", vec![], 0, true);
    transport::send(&mut send, &Greeting::Hello(hello), MAX_CONTROL_FRAME)
        .await
        .unwrap();
    let mut recv = FramedRecv::new(recv, MAX_CONTROL_FRAME);
    assert!(matches!(recv.greeting().await.unwrap(), Greeting::Hello(_)));
    let unknown = azlin_protocol::frame::encode(&[0xc8, 0x01, 0x00], MAX_CONTROL_FRAME).unwrap();
    send.write_all(&unknown).await.unwrap();
    let reason = peer::close_reason(&conn).await;
    assert!(reason.contains("unknown message type 200"), "{reason}");

    // A version range with no overlap: the agent says why.
    let (conn, mut send, recv) = controller_stream(&env, "h").await;
    let mut hello = handshake::hello(Role::Controller, "future", vec![], 0, true);
    hello.min_version = 90;
    hello.max_version = 99;
    transport::send(&mut send, &Greeting::Hello(hello), MAX_CONTROL_FRAME)
        .await
        .unwrap();
    let mut recv = FramedRecv::new(recv, MAX_CONTROL_FRAME);
    // The refusal arrives as a greeting, or as the close reason if the
    // close overtakes it; either way it names the cause.
    match recv.greeting().await {
        Ok(Greeting::Refuse { reason }) => {
            assert!(reason.contains("no common protocol version"), "{reason}")
        }
        Ok(other) => panic!("expected a refusal, got {other:?}"),
        Err(e) => assert!(e.to_string().contains("no common protocol version"), "{e}"),
    }
    let reason = peer::close_reason(&conn).await;
    assert!(reason.contains("no common protocol version"), "{reason}");

    let log = env.agent_log("h");
    for needle in [
        "over the limit",
        "unknown message type 200",
        "no common protocol version",
    ] {
        assert!(log.contains(needle), "agent log lacks {needle:?}:\n{log}");
    }
    undisturbed(&env, "h", 0);
    assert_eq!(env.fleet_fingerprint(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_from_another_ca_are_refused_both_ways() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "c"]);
    let before = env.fleet_fingerprint();
    let ca = peer::fleet_ca(env.home());

    // A client with another CA's controller certificate, to the agent.
    let (foreign, _) = peer::foreign_credentials(None);
    let err = peer::dial(
        Some(foreign),
        &ca,
        ServerAuth::Fleet,
        addr_of(&env, "c"),
        &pki::agent_dns("c"),
    )
    .await;
    let refusal = peer::refusal(err).await;
    assert!(
        refusal.contains("handshake failed"),
        "foreign client not refused: {refusal}"
    );
    // A client with another CA's agent certificate, to the daemon.
    let (foreign, _) = peer::foreign_credentials(Some("c"));
    let result = dial_daemon(&env, Some(foreign)).await;
    let refusal = peer::refusal(result).await;
    assert!(
        refusal.contains("handshake failed"),
        "foreign agent not refused: {refusal}"
    );
    // The daemon logs the refusal from its own task, maybe just after the
    // peer has seen it.
    env.wait(
        "the daemon logs the unknown issuer",
        Duration::from_secs(10),
        || env.daemon_log().contains("UnknownIssuer"),
    );
    // A server with another CA's certificate where the daemon expects the
    // agent: stop the real agent, put an impostor on its address.
    let address = addr_of(&env, "c");
    env.ok(&["stop", "c"]);
    let (foreign_agent, _) = peer::foreign_credentials(Some("c"));
    let impostor = peer::server(foreign_agent, &ca, address);
    // Not waiting for the agent: the impostor is all there is to reach.
    env.ok(&["start", "--no-wait", "c"]);
    // The real agent cannot bind (the impostor has the port); the daemon
    // dials the impostor and must refuse it.
    // Blocking waits run off the runtime's thread so the impostor's
    // endpoint keeps being driven.
    tokio::task::block_in_place(|| {
        env.wait(
            "the daemon to refuse the impostor",
            Duration::from_secs(20),
            || {
                env.vm("c")["last_error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("UnknownIssuer")
            },
        )
    });
    assert_eq!(env.vm("c")["connected"], false);
    impostor.close(0u32.into(), b"");
    drop(impostor);
    let log = env.agent_log("c");
    assert!(log.contains("refused connection"), "agent log:\n{log}");
    let fp = env.fleet_fingerprint();
    assert_eq!(fp["certs"], before["certs"], "no certificate issued");
}

/// Dial the daemon's listener (dial-mode agents' side) holding `creds`.
async fn dial_daemon(
    env: &Env,
    creds: Option<pki::Credentials>,
) -> Result<quinn::Connection, String> {
    let ca = peer::fleet_ca(env.home());
    peer::dial(
        creds,
        &ca,
        ServerAuth::Fleet,
        env.listen.unwrap(),
        pki::CONTROLLER_DNS,
    )
    .await
}

/// Dial the daemon's listener with no certificate and try to enroll.
async fn try_enroll(
    env: &Env,
    token_id: &str,
    proof_token: &JoinToken,
    vm: &str,
) -> Result<Vec<u8>, String> {
    try_enroll_proving(env, token_id, vm, |exporter, csr| {
        proof_token.proof(exporter, csr)
    })
    .await
}

/// [`try_enroll`] with a proof `prove` makes from the exporter and CSR.
async fn try_enroll_proving(
    env: &Env,
    token_id: &str,
    vm: &str,
    prove: impl Fn(&[u8; 32], &[u8]) -> Vec<u8>,
) -> Result<Vec<u8>, String> {
    let conn = dial_daemon(env, None).await?;
    let (send, recv) = conn.accept_bi().await.map_err(|e| e.to_string())?;
    let hello = handshake::hello(Role::Agent, vm, vec![], 0, false);
    let mut control = handshake::greet_as_agent(send, recv, hello)
        .await
        .map_err(|e| e.to_string())?;
    let key = KeyPair::generate().unwrap();
    let csr = pki::csr_for_agent(&key, vm).unwrap();
    let exporter = transport::enrollment_exporter(&conn).unwrap();
    let request = Control::EnrollRequest {
        token_id: token_id.to_string(),
        proof: prove(&exporter, &csr),
        csr_der: csr,
    };
    transport::send(&mut control.send, &request, MAX_CONTROL_FRAME)
        .await
        .map_err(|e| e.to_string())?;
    match control.recv.control().await {
        Ok(Some(Control::EnrollAccepted { cert_der })) => Ok(cert_der),
        Ok(Some(Control::EnrollRefused { reason })) => Err(reason),
        other => Err(format!("unexpected: {other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_join_tokens_are_refused_and_change_nothing() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "t"]);
    let before = env.fleet_fingerprint();

    // Unknown token.
    let stranger = JoinToken::generate().unwrap();
    let err = try_enroll(&env, &stranger.id_hex(), &stranger, "t")
        .await
        .unwrap_err();
    assert!(err.contains("unknown join token"), "{err}");

    // Right id, wrong secret: the proof does not match.
    let real = JoinToken::parse(env.ok(&["token", "t"]).trim()).unwrap();
    let err = try_enroll(&env, &real.id_hex(), &stranger, "t")
        .await
        .unwrap_err();
    assert!(err.contains("proof does not match"), "{err}");

    // Expired token.
    let short = JoinToken::parse(env.ok(&["token", "t", "--ttl", "1"]).trim()).unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = try_enroll(&env, &short.id_hex(), &short, "t")
        .await
        .unwrap_err();
    assert!(err.contains("expired"), "{err}");
    assert_eq!(env.fleet_fingerprint(), before, "refusals changed nothing");

    // The real token works once (a re-enrollment)…
    let cert = try_enroll(&env, &real.id_hex(), &real, "t")
        .await
        .expect("valid token enrolls");
    assert!(
        matches!(pki::peer_identity(&cert).unwrap(), pki::PeerIdentity::Agent { vm, .. } if vm == "t")
    );
    let after_use = env.fleet_fingerprint();
    assert_eq!(after_use["certs"], 2);
    // …and never again.
    let err = try_enroll(&env, &real.id_hex(), &real, "t")
        .await
        .unwrap_err();
    assert!(err.contains("already used"), "{err}");
    assert_eq!(env.fleet_fingerprint(), after_use);

    let log = env.daemon_log();
    for needle in [
        "unknown join token",
        "proof does not match",
        "expired",
        "already used",
    ] {
        assert!(log.contains(needle), "daemon log lacks {needle:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_refuses_garbage_and_revoked_certificates() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "g", "--pool", "2", "--dial"]);

    // Random bytes instead of a greeting, from an anonymous client.
    let conn = dial_daemon(&env, None).await.unwrap();
    let (mut send, _recv) = conn.accept_bi().await.unwrap();
    send.write_all(&[0, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5])
        .await
        .unwrap();
    let reason = peer::close_reason(&conn).await;
    assert!(reason.contains("greeting"), "{reason}");

    // A removed VM's certificate is refused with the reason.
    let key = std::fs::read_to_string(env.vm_dir("g-1").join("state/agent.key")).unwrap();
    let crt = std::fs::read_to_string(env.vm_dir("g-1").join("state/agent.crt")).unwrap();
    let creds =
        pki::Credentials::from_der_and_key_pem(pki::pem_to_der(&crt).unwrap().to_vec(), &key)
            .unwrap();
    env.ok(&["kill", "g-1"]);
    let before = env.fleet_fingerprint();
    let conn = dial_daemon(&env, Some(creds)).await.unwrap();
    let reason = peer::close_reason(&conn).await;
    assert!(reason.contains("revoked"), "{reason}");
    assert!(env.daemon_log().contains("revoked"));
    assert!(env.connected("g-2"));
    assert_eq!(env.fleet_fingerprint(), before);
}

/// Like ssh's StrictModes: a home whose `pki/` others may write is
/// refused by the real CLI, which names the path and the fix.
#[test]
fn a_home_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.ok(&["list"]);
    let pki = env.home().join("pki");
    std::fs::set_permissions(&pki, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = env.fails(&["list"]);
    assert!(
        err.contains(&format!("{} may be written by others", pki.display())),
        "{err}"
    );
    assert!(err.contains("chmod go-w"), "{err}");
    std::fs::set_permissions(&pki, std::fs::Permissions::from_mode(0o700)).unwrap();
    env.ok(&["list"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_cannot_write_lines_into_the_daemon_log_or_grow_it_without_bound() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::with_listener();
    env.ok(&["new", "--name", "t"]);
    let stranger = JoinToken::generate().unwrap();
    // A newline in a token id would forge a whole log line.
    let forged = "ab\n2026-01-01T00:00:00Z  INFO enrolled agent vm=FORGED";
    let err = try_enroll(&env, forged, &stranger, "t").await.unwrap_err();
    assert!(!err.is_empty());
    // Huge ids, again and again.
    let huge = "x".repeat(900_000);
    for _ in 0..21 {
        let _ = try_enroll(&env, &huge, &stranger, "t").await;
    }
    let log = env.daemon_log();
    assert!(
        !log.lines()
            .any(|l| l.contains("INFO enrolled agent vm=FORGED") && !l.contains("\\n2026")),
        "a forged line: {log}"
    );
    assert!(log.contains("vm=FORGED"), "the attempt is still logged");
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(
        longest <= azlin_protocol::log_file::MAX_RECORD + 64,
        "a line of {longest} bytes"
    );
    let path = env.home().join("logs/daemon.log");
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.len() < 2_000_000, "daemon.log is {} bytes", meta.len());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

/// What an enrollment proof signs, as the protocol builds it.
fn proof_message(exporter: &[u8; 32], csr: &[u8]) -> Vec<u8> {
    let csr_hash = ring::digest::digest(&ring::digest::SHA256, csr);
    [
        &b"azlin enroll proof v2\0"[..],
        exporter.as_slice(),
        csr_hash.as_ref(),
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_state_db_stores_for_a_token_cannot_enrol_and_old_tokens_are_refused() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "t"]);
    let before = env.fleet_fingerprint();
    let token = JoinToken::parse(env.ok(&["token", "t"]).trim()).unwrap();
    // Whoever reads state.db gets the stored verifier: as the old scheme's
    // HMAC key, or as a signing key's seed, it proves nothing.
    let db = azlin_controller::state::Db::open(&env.home().join("state.db")).unwrap();
    let stored = db.token(&token.id_hex()).unwrap().unwrap().verifier;
    assert_eq!(stored.len(), 33);
    let key = stored[1..].to_vec();
    let err = try_enroll_proving(&env, &token.id_hex(), "t", |exporter, csr| {
        let msg = proof_message(exporter, csr);
        ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), &msg)
            .as_ref()
            .to_vec()
    })
    .await
    .unwrap_err();
    assert!(err.contains("proof does not match"), "{err}");
    let err = try_enroll_proving(&env, &token.id_hex(), "t", |exporter, csr| {
        let msg = proof_message(exporter, csr);
        ring::signature::Ed25519KeyPair::from_seed_unchecked(&key)
            .unwrap()
            .sign(&msg)
            .as_ref()
            .to_vec()
    })
    .await
    .unwrap_err();
    assert!(err.contains("proof does not match"), "{err}");
    assert_eq!(env.fleet_fingerprint(), before, "nothing enrolled");
    // The token itself still works.
    try_enroll(&env, &token.id_hex(), &token, "t")
        .await
        .expect("the real token enrolls");

    // A token stored by an older azlin (its verifier was the HMAC key):
    // refused, saying what to do.
    let mut db = db;
    let old = JoinToken::generate().unwrap();
    db.insert_token(&old.id_hex(), "t", &[5u8; 32], 3600)
        .unwrap();
    let err = try_enroll(&env, &old.id_hex(), &old, "t")
        .await
        .unwrap_err();
    assert!(
        err.contains("issue a new one with `azlin token VM`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_authenticate_are_capped_bounded_and_dropped() {
    use azlin_e2e::flood::{flood, sources};
    let env = Env::with_listener();
    env.ok(&["new", "--name", "t"]);
    let ca = peer::fleet_ca(env.home());
    let addr = env.listen.unwrap();
    let limits = azlin_protocol::admission::Limits::DAEMON;
    // From one address: no more than its share; the rest refused before
    // their handshake.
    let one = flood(addr, &ca, &["127.0.0.2".parse().unwrap()], 40, false).await;
    assert_eq!(one.held.len(), limits.per_source, "{} refused", one.refused);
    assert_eq!(one.refused, 40 - limits.per_source);
    // From many: no more than the total, all at once.
    let many: Vec<std::net::IpAddr> = sources(12).into_iter().skip(2).collect();
    let many = flood(addr, &ca, &many, 30, false).await;
    assert!(many.refused > 0, "none refused");
    assert!(
        one.open() + many.open() <= limits.total,
        "{} open",
        one.open() + many.open()
    );
    // The fleet goes on meanwhile.
    assert!(env.list().iter().any(|v| v["name"] == "t"));
    // None greets: each is dropped at the deadline.
    env.wait("the silent ones dropped", Duration::from_secs(40), || {
        one.open() + many.open() == 0
    });
    let reason = peer::close_reason(&one.held[0]).await;
    assert!(reason.contains("no greeting within"), "{reason}");
    // Ones that announce a 1 MiB frame: dropped at its header, long
    // before the deadline (nothing of it is kept).
    let big = flood(addr, &ca, &["127.0.0.30".parse().unwrap()], 8, true).await;
    assert_eq!(big.held.len(), 8);
    env.wait("the big frames refused", Duration::from_secs(20), || {
        big.open() == 0
    });
    let reason = peer::close_reason(&big.held[0]).await;
    assert!(reason.contains("over the limit of 16384 bytes"), "{reason}");
    assert!(env.connected("t"));
}

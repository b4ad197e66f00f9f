//! A buggy or hostile agent asked for a terminal: one that cannot serve
//! terminals is refused with the fix, one that sends an unusable frame ends
//! the session with a clear error and without reattaching, and no escape
//! it puts in a reason reaches the user's terminal raw.

use std::time::Duration;

use azlin_agent::credentials::AgentCredentials;
use azlin_e2e::{Env, peer, pty::Pty, sim};
use azlin_protocol::{
    stream::{MAX_QUERY_FRAME, Query},
    terminal::{CAP_TERMINAL, MAX_TERMINAL_FRAME, TerminalEvent},
    transport::{self, FramedRecv},
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn connect(env: &Env, vm: &str) -> Pty {
    let mut cmd = env.command(&["connect", vm]);
    cmd.env("TERM", "xterm");
    Pty::spawn(cmd, 80, 24)
}

#[test]
fn a_hostile_agent_cannot_hang_or_trick_connect() {
    let env = Env::with_listener();
    let joined: Value = serde_json::from_str(&env.ok(&[
        "new",
        "--provider",
        "external",
        "--name",
        "bad",
        "--json",
    ]))
    .unwrap();
    let controller = joined["controller"].as_str().unwrap().to_string();
    let ca_pem = joined["ca_pem"].as_str().unwrap();
    let token = joined["vms"][0]["token"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let real = sim::start(dir.path(), "bad", token, ca_pem, &controller, 1000).unwrap();
    env.wait("bad enrolled", WAIT, || env.connected("bad"));
    runtime.block_on(real.agent.shutdown("replaced by a raw peer"));
    let creds = AgentCredentials::load_or_create(
        &dir.path().join("bad"),
        &dir.path().join("bad/ca.crt"),
        "bad",
    )
    .unwrap();
    let (next, mut go_on) = tokio::sync::oneshot::channel::<()>();
    let peer = runtime.spawn(async move {
        let controller = controller.parse().unwrap();
        let connect = |caps| peer::agent_session(&creds, "bad", caps, controller);
        // An agent that does not announce terminal/1 is never asked.
        let (old, _control) = connect(Vec::new()).await;
        let _ = (&mut go_on).await;
        old.close(0u32.into(), b"upgrading");
        let (conn, _control) = connect(vec![CAP_TERMINAL.into()]).await;
        // First terminal: a refusal with a terminal escape in its reason.
        let (mut send, recv) = conn.accept_bi().await.unwrap();
        let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
        assert!(matches!(
            recv.tagged::<Query>().await,
            Ok(Some(Query::Terminal(_)))
        ));
        let reason = "nope\x1b]0;owned\x07".to_string();
        transport::send(
            &mut send,
            &TerminalEvent::Failed { reason },
            MAX_TERMINAL_FRAME,
        )
        .await
        .unwrap();
        let _ = send.finish();
        // Second: a screenful, then a frame far over the limit.
        let (mut send, recv) = conn.accept_bi().await.unwrap();
        let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
        assert!(matches!(
            recv.tagged::<Query>().await,
            Ok(Some(Query::Terminal(_)))
        ));
        let screen = TerminalEvent::Screen(b"hello from bad\r\n".to_vec());
        transport::send(&mut send, &screen, MAX_TERMINAL_FRAME)
            .await
            .unwrap();
        send.write_all(&(100u32 << 20).to_be_bytes()).await.unwrap();
        send.write_all(&[0u8; 4096]).await.unwrap();
        conn.closed().await;
    });
    env.wait("the raw peer connected", WAIT, || env.connected("bad"));

    let mut pty = connect(&env, "bad");
    assert_eq!(pty.wait_exit(WAIT).code(), Some(255));
    let screen = pty.screen();
    assert!(
        screen.contains("cannot open terminals: upgrade azlin-agent"),
        "{screen}"
    );

    next.send(()).unwrap();
    let reconnects = env.vm("bad")["reconnects"].as_u64().unwrap();
    env.wait("the raw peer reconnected", WAIT, || {
        env.vm("bad")["reconnects"].as_u64().unwrap() > reconnects && env.connected("bad")
    });
    let mut pty = connect(&env, "bad");
    assert_eq!(pty.wait_exit(WAIT).code(), Some(255));
    let screen = pty.screen();
    assert!(
        screen.contains("bad: nope?]0;owned?"),
        "escape removed: {screen}"
    );
    assert!(!screen.contains('\x07'), "{screen:?}");

    let mut pty = connect(&env, "bad");
    assert_eq!(pty.wait_exit(WAIT).code(), Some(255));
    let screen = pty.screen();
    assert!(screen.contains("hello from bad"), "{screen}");
    assert!(screen.contains("unusable"), "{screen}");
    assert!(!screen.contains("reattaching"), "{screen}");
    peer.abort();
}

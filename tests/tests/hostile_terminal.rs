//! A buggy or hostile agent asked for a terminal: one that cannot serve
//! terminals is refused with the fix, one that sends an unusable frame ends
//! the session with a clear error and without reattaching, and no escape
//! it puts in a reason reaches the user's terminal raw.

use std::time::Duration;

use azlin_e2e::{Env, peer, pty::Pty, sim};
use azlin_protocol::{
    stream::{MAX_QUERY_FRAME, Query},
    terminal::{CAP_TERMINAL, MAX_TERMINAL_FRAME, TerminalEvent},
    transport::{self, FramedRecv},
};

const WAIT: Duration = Duration::from_secs(30);

fn connect(env: &Env, vm: &str) -> Pty {
    let mut cmd = env.command(&["connect", vm]);
    cmd.env("TERM", "xterm");
    Pty::spawn(cmd, 80, 24)
}

#[test]
fn a_hostile_agent_cannot_hang_or_trick_connect() {
    let env = Env::with_listener();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (controller, creds) = sim::enrolled_for_raw_peer(&env, "bad", dir.path(), &runtime);
    let (next, mut go_on) = tokio::sync::oneshot::channel::<()>();
    let peer = runtime.spawn(async move {
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

    // Counted before the peer is told to go (it is back within
    // milliseconds, sometimes before a later count would be read).
    let reconnects = env.vm("bad")["reconnects"].as_u64().unwrap();
    next.send(()).unwrap();
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

/// The agent checks a terminal request itself, whoever sends it: a
/// hand-crafted controller asking for a tmux session name that would be
/// read as a tmux target, or a terminal type with shell syntax, gets a
/// refusal and nothing starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_refuses_hostile_terminal_requests() {
    use azlin_protocol::terminal::{TerminalRequest, WindowSize};
    // h's own server, where a terminal would start a session.
    let tmux = azlin_e2e::tmux::TmuxServer::named("azlin-h");
    let mut env = Env::new();
    env.set_var("TMUX_TMPDIR", tmux.tmpdir().to_string_lossy());
    env.ok(&["new", "--name", "h"]);
    let addr = env.vm("h")["address"].as_str().unwrap().parse().unwrap();
    let (conn, _control) = peer::controller_session(env.home(), "h", addr).await;
    let bad = [
        ("work:0.1", "xterm", 80, 24, "not usable"),
        ("-t", "xterm", 80, 24, "not usable"),
        ("ok", "xterm;reboot", 80, 24, "not a terminal name"),
        ("ok", "xterm", 0, 65535, "out of range"),
    ];
    for (session, term, cols, rows, why) in bad {
        let (mut send, recv) = conn.open_bi().await.unwrap();
        let req = TerminalRequest {
            id: 7,
            session: session.into(),
            term: term.into(),
            size: WindowSize { cols, rows },
            requested_by: "crafted".into(),
        };
        transport::send(&mut send, &Query::Terminal(req), MAX_QUERY_FRAME)
            .await
            .unwrap();
        let mut recv = FramedRecv::new(recv, MAX_TERMINAL_FRAME);
        match recv.tagged::<TerminalEvent>().await {
            Ok(Some(TerminalEvent::Failed { reason })) => {
                assert!(reason.contains(why), "{session:?}: {reason}")
            }
            other => panic!("{session:?} was not refused: {other:?}"),
        }
    }
    let out = tmux.command().arg("list-sessions").output().unwrap();
    assert!(
        !out.status.success() || out.stdout.is_empty(),
        "a tmux session started"
    );
    let audit = std::fs::read_to_string(env.vm_dir("h").join("state/audit.log")).unwrap();
    assert_eq!(audit.matches("\"refused\"").count(), 4, "{audit}");
}

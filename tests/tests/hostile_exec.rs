//! A buggy or hostile agent answering a command: an oversized frame or a
//! terminal escape in its failure reason fails only that VM, with a clear
//! reason; the real VM beside it runs the command and the run ends.

use std::time::Duration;

use azlin_e2e::{Env, peer, sim};
use azlin_protocol::{
    exec::{CAP_EXEC, ExecEvent, MAX_EXEC_FRAME},
    stream::{MAX_QUERY_FRAME, Query},
    transport::{self, FramedRecv},
};
use serde_json::Value;

#[test]
fn a_hostile_agent_fails_only_its_own_vm() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "dev"]);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (controller, creds) = sim::enrolled_for_raw_peer(&env, "bad", dir.path(), &runtime);
    let (next, mut go_on) = tokio::sync::oneshot::channel::<()>();
    let peer = runtime.spawn(async move {
        let connect = |caps| peer::agent_session(&creds, "bad", caps, controller);
        // An agent that does not announce exec/1 is never sent a command.
        let (old, _control) = connect(Vec::new()).await;
        let _ = (&mut go_on).await;
        old.close(0u32.into(), b"upgrading");
        let (conn, _control) = connect(vec![CAP_EXEC.into()]).await;
        // First command: a failure reason with a terminal escape in it.
        let (mut send, recv) = conn.accept_bi().await.unwrap();
        let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
        assert!(matches!(
            recv.tagged::<Query>().await,
            Ok(Some(Query::Exec(_)))
        ));
        let reason = "no\x1b]0;owned\x07".to_string();
        transport::send(&mut send, &ExecEvent::Failed { reason }, MAX_EXEC_FRAME)
            .await
            .unwrap();
        let _ = send.finish();
        // Second command: some output, then a frame far over the limit.
        let (mut send, recv) = conn.accept_bi().await.unwrap();
        let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
        assert!(matches!(
            recv.tagged::<Query>().await,
            Ok(Some(Query::Exec(_)))
        ));
        transport::send(
            &mut send,
            &ExecEvent::Stdout(b"partial\n".to_vec()),
            MAX_EXEC_FRAME,
        )
        .await
        .unwrap();
        send.write_all(&(100u32 << 20).to_be_bytes()).await.unwrap();
        send.write_all(&[0u8; 4096]).await.unwrap();
        // Third command: accepted, never answered, the connection kept up.
        let (_send, _recv) = conn.accept_bi().await.unwrap();
        conn.closed().await;
    });
    env.wait("the raw peer connected", Duration::from_secs(20), || {
        env.connected("bad")
    });
    let out = env.run(&["exec", "--vm", "bad", "--", "true"]);
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot run commands: upgrade azlin-agent"),
        "{err}"
    );
    // Counted before the peer is told to go: it comes back within
    // milliseconds, sometimes before a count taken after would be read.
    let reconnects = env.vm("bad")["reconnects"].as_u64().unwrap();
    next.send(()).unwrap();
    env.wait("the raw peer reconnected", Duration::from_secs(20), || {
        env.vm("bad")["reconnects"].as_u64().unwrap() > reconnects && env.connected("bad")
    });

    let out = env.run(&["exec", "--vm", "bad", "--vm", "dev", "--", "echo", "hi"]);
    assert_eq!(out.status.code(), Some(255));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dev: hi");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad: no?]0;owned?"), "escape removed: {err}");

    let out = env.run(&[
        "exec", "--json", "--vm", "bad", "--vm", "dev", "--", "echo", "hi",
    ]);
    assert_eq!(out.status.code(), Some(255));
    let results: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bad = results.iter().find(|r| r["vm"] == "bad").unwrap();
    assert_eq!(bad["stdout"], "partial\n");
    assert!(bad["error"].as_str().unwrap().contains("unusable"), "{bad}");
    let dev = results.iter().find(|r| r["vm"] == "dev").unwrap();
    assert_eq!(dev["exit_code"], 0);
    assert_eq!(dev["stdout"], "hi\n");
    assert_eq!(env.vm("dev")["connected"], true);

    // An agent that stays connected but never reports: with a timeout the
    // daemon gives up on it (timeout plus a grace), so the run still ends.
    let out = env.run(&["exec", "--vm", "bad", "--timeout", "1", "--", "true"]);
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did not report the end of the command"),
        "{err}"
    );
    peer.abort();
}

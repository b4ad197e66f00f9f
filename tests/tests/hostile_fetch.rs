//! A buggy or hostile agent giving files by manifest (`cp -r VM:… here`):
//! names that climb out of the destination or repeat are refused and
//! nothing is written outside it; a name with a terminal escape is shown
//! harmless; a part past the bounds, data no file was owed and a stream
//! that ends with files owed each end that copy with a clear reason. On
//! to another VM the daemon refuses the same names before the destination
//! sees them, and more data than was asked for ends the relay. The daemon
//! keeps serving: a real VM's copy runs after.

use std::{path::Path, time::Duration};

use azlin_e2e::{Env, peer, sim};
use azlin_protocol::{
    files::{
        manifest::MAX_PART,
        wire::{
            CAP_FILES, CAP_MANIFEST_SEND, FileHeader, FilesOp, Inbound, MAX_FILES_FRAME, Outbound,
        },
    },
    stream::{MAX_QUERY_FRAME, Query},
    transport::{self, FramedRecv},
};

fn h(rel: &str, content: &[u8]) -> FileHeader {
    FileHeader {
        rel: rel.into(),
        size: content.len() as u64,
        mode: 0o644,
        mtime_ms: 1_700_000_000_000,
        hash: *blake3::hash(content).as_bytes(),
    }
}

/// The next copy the daemon asks of the peer: its first shard's stream,
/// opened. The copy's other shards are opened and given nothing.
async fn next_copy(conn: &quinn::Connection) -> (quinn::SendStream, FramedRecv) {
    loop {
        let (mut send, recv) = conn.accept_bi().await.unwrap();
        let mut recv = FramedRecv::new(recv, MAX_QUERY_FRAME);
        let Ok(Some(Query::Files(req))) = recv.tagged::<Query>().await else {
            panic!("expected a file request");
        };
        let FilesOp::SendByManifest {
            recursive: true,
            shard,
            shards: 4,
        } = req.op
        else {
            panic!("expected a copy by manifest in 4 shards, got {:?}", req.op);
        };
        let opened = Outbound::Opened {
            root: "/home/bad".into(),
        };
        transport::send(&mut send, &opened, MAX_FILES_FRAME)
            .await
            .unwrap();
        if shard == 0 {
            return (send, recv);
        }
        put(&mut send, Outbound::End).await;
        let _ = send.finish();
    }
}

async fn put(send: &mut quinn::SendStream, frame: Outbound) {
    let _ = transport::send(send, &frame, MAX_FILES_FRAME).await;
}

async fn wants(recv: &mut FramedRecv) -> Vec<Option<u64>> {
    match recv.tagged::<Inbound>().await {
        Ok(Some(Inbound::Wants(w))) => w,
        other => panic!("expected the answers to a part, got {other:?}"),
    }
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_hostile_agent_giving_files_by_manifest_writes_nothing_outside_and_ends_only_its_copy() {
    let env = Env::with_listener();
    env.ok(&["new", "--name", "dev"]);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let (controller, creds) = sim::enrolled_for_raw_peer(&env, "bad", dir.path(), &runtime);
    let peer = runtime.spawn(async move {
        let caps = vec![CAP_FILES.into(), CAP_MANIFEST_SEND.into()];
        let (conn, _control) = peer::agent_session(&creds, "bad", caps, controller).await;

        // Names that leave the folder or repeat, and one with an escape.
        let (mut send, mut recv) = next_copy(&conn).await;
        let part = vec![
            h("d/ok", b"hello"),
            h("d/../../escape", b"x"),
            h("d/\x1b]0;owned\x07", b"e"),
            h("d/ok", b"again"),
        ];
        put(&mut send, Outbound::Offers(part)).await;
        assert_eq!(wants(&mut recv).await, [Some(0), None, Some(0), None]);
        put(&mut send, Outbound::Data(b"helloe".to_vec())).await;
        put(&mut send, Outbound::End).await;
        let _ = send.finish();

        // A part past the bounds.
        let (mut send, _recv) = next_copy(&conn).await;
        let many = (0..=MAX_PART).map(|i| h(&format!("d/f{i}"), b"")).collect();
        put(&mut send, Outbound::Offers(many)).await;
        let _ = send.finish();

        // More bytes than any file was owed.
        let (mut send, mut recv) = next_copy(&conn).await;
        put(&mut send, Outbound::Offers(vec![h("d/a", b"aaaaa")])).await;
        assert_eq!(wants(&mut recv).await, [Some(0)]);
        put(&mut send, Outbound::Data(b"aaaaaextra".to_vec())).await;
        let _ = send.finish();

        // The end while a file is still owed.
        let (mut send, mut recv) = next_copy(&conn).await;
        let part = vec![h("d/first", b"11111"), h("d/second", b"22222")];
        put(&mut send, Outbound::Offers(part)).await;
        assert_eq!(wants(&mut recv).await, [Some(0), Some(0)]);
        put(&mut send, Outbound::Data(b"11111".to_vec())).await;
        put(&mut send, Outbound::End).await;
        let _ = send.finish();

        // On to another VM: the daemon refuses the escape before the
        // destination sees it, and relays the rest.
        let (mut send, mut recv) = next_copy(&conn).await;
        let part = vec![h("d/../../x", b"x"), h("d/relayed", b"hi there")];
        put(&mut send, Outbound::Offers(part)).await;
        assert_eq!(wants(&mut recv).await, [None, Some(0)]);
        put(&mut send, Outbound::Data(b"hi there".to_vec())).await;
        put(&mut send, Outbound::End).await;
        let _ = send.finish();

        // On to another VM, more than was asked for.
        let (mut send, mut recv) = next_copy(&conn).await;
        put(&mut send, Outbound::Offers(vec![h("d/more", b"12")])).await;
        assert_eq!(wants(&mut recv).await, [Some(0)]);
        put(&mut send, Outbound::Data(b"123".to_vec())).await;
        let _ = send.finish();
        conn.closed().await;
    });
    env.wait("the raw peer connected", Duration::from_secs(20), || {
        env.connected("bad")
    });
    let out = tempfile::tempdir().unwrap();
    let dest = |name: &str| {
        let d = out.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };

    let first = dest("first");
    let err = env.fails(&["cp", "-r", "bad:~/d", first.to_str().unwrap()]);
    assert!(err.contains("leaves its folder"), "{err}");
    assert!(err.contains("named twice"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "a VM's name reached the terminal raw: {err:?}"
    );
    assert_eq!(std::fs::read(first.join("d/ok")).unwrap(), b"hello");
    assert_eq!(
        files_under(out.path()),
        ["first/d/\x1b]0;owned\x07", "first/d/ok"],
        "nothing outside the destination"
    );

    let second = dest("second");
    let err = env.fails(&["cp", "-r", "bad:~/d", second.to_str().unwrap()]);
    assert!(
        err.contains("the VM offered") && err.contains("2049"),
        "{err}"
    );
    assert!(files_under(&second).is_empty());

    let third = dest("third");
    let err = env.fails(&["cp", "-r", "bad:~/d", third.to_str().unwrap()]);
    assert!(err.contains("sent data no file was owed"), "{err}");

    let fourth = dest("fourth");
    let err = env.fails(&["cp", "-r", "bad:~/d", fourth.to_str().unwrap()]);
    assert!(err.contains("stopped sending d/second part way"), "{err}");
    assert!(!fourth.join("d/second").exists());

    // `in` is not there: the folder is copied as `in`, as cp names it.
    let err = env.fails(&["cp", "-r", "bad:~/d", "dev:in"]);
    assert!(err.contains("leaves its folder"), "{err}");
    let home = env.vm_dir("dev").join("home");
    assert_eq!(std::fs::read(home.join("in/relayed")).unwrap(), b"hi there");
    assert!(!home.join("x").exists() && !env.vm_dir("dev").join("x").exists());
    let err = env.fails(&["cp", "-r", "bad:~/d", "dev:in"]);
    assert!(err.contains("bad sent more than it was asked for"), "{err}");
    assert!(!home.join("in/more").exists() && !home.join("in/d/more").exists());

    // The daemon and the peer's link are as they were; a real VM copies.
    assert!(env.connected("bad"));
    env.ok(&[
        "exec",
        "--vm",
        "dev",
        "--",
        "mkdir -p ~/w && echo fine > ~/w/f",
    ]);
    let fifth = dest("fifth");
    env.ok(&["cp", "-r", "dev:~/w", fifth.to_str().unwrap()]);
    assert_eq!(std::fs::read(fifth.join("w/f")).unwrap(), b"fine\n");
    peer.abort();
}

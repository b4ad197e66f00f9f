//! The agent defends the files it takes, whoever sends them: a
//! hand-crafted controller (not the CLI) asks a real agent to write
//! outside the allowed folders, through `..`, through a symlink, over a
//! FIFO, a secret by name and by content, bytes that do not match their
//! hash, more bytes than announced. Each is refused and nothing is
//! written; sound files are stored whole, skipped when already there, and
//! an interrupted one resumes where it stopped.

use std::{os::unix::fs::PermissionsExt, path::Path, time::Duration};

use azlin_e2e::{Env, peer};
use azlin_protocol::{
    files::wire::{CHUNK, FileHeader, FilesOp, FilesRequest, Inbound, MAX_FILES_FRAME, Outbound},
    stream::{MAX_QUERY_FRAME, Query},
    transport::{self, FramedRecv},
};

struct Stream {
    send: quinn::SendStream,
    recv: FramedRecv,
}

impl Stream {
    async fn open(conn: &quinn::Connection, root: &str) -> (Self, Outbound) {
        let (mut send, recv) = conn.open_bi().await.unwrap();
        let req = FilesRequest {
            root: root.into(),
            op: FilesOp::Receive,
            requested_by: "crafted".into(),
        };
        transport::send(&mut send, &Query::Files(req), MAX_QUERY_FRAME)
            .await
            .unwrap();
        let mut s = Self {
            send,
            recv: FramedRecv::new(recv, MAX_FILES_FRAME),
        };
        let first = s.next().await;
        (s, first)
    }

    async fn next(&mut self) -> Outbound {
        tokio::time::timeout(Duration::from_secs(10), self.recv.tagged::<Outbound>())
            .await
            .expect("the agent answers")
            .unwrap()
            .expect("a frame")
    }

    async fn put(&mut self, f: &Inbound) {
        transport::send(&mut self.send, f, MAX_FILES_FRAME)
            .await
            .unwrap();
    }

    /// Announce `rel` with `content`; send it all if asked; the verdict.
    async fn file(&mut self, rel: &str, content: &[u8]) -> Outbound {
        self.put(&Inbound::File(header(rel, content))).await;
        match self.next().await {
            Outbound::SendFrom { offset } => {
                for chunk in content[offset as usize..].chunks(CHUNK) {
                    self.put(&Inbound::Data(chunk.to_vec())).await;
                }
                self.next().await
            }
            other => other,
        }
    }
}

fn header(rel: &str, content: &[u8]) -> FileHeader {
    FileHeader {
        rel: rel.into(),
        size: content.len() as u64,
        mode: 0o640,
        mtime_ms: 1_700_000_000_123,
        hash: *blake3::hash(content).as_bytes(),
    }
}

fn refused(o: &Outbound, blocked: bool, why: &str) {
    match o {
        Outbound::Refused { reason, blocked: b } => {
            assert_eq!(*b, blocked, "{reason}");
            assert!(reason.contains(why), "{reason:?} should say {why:?}");
        }
        other => panic!("expected a refusal ({why}), got {other:?}"),
    }
}

/// Every file under `dir`, partial files included.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.extend(tree(&e.path()).into_iter().map(|n| format!("{name}/{n}")));
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_refuses_hostile_file_requests_and_never_leaves_a_torn_file() {
    let env = Env::new();
    env.ok(&["new", "--name", "f"]);
    let addr = env.vm("f")["address"].as_str().unwrap().parse().unwrap();
    env.wait("connected", Duration::from_secs(20), || env.connected("f"));
    // The real daemon would redial and replace the crafted controller.
    env.ok(&["daemon", "stop"]);
    let (conn, _control) = peer::controller_session(env.home(), "f", addr).await;

    // Roots outside the allowed folders (the user's home and /tmp).
    for root in [
        "/etc",
        "/var/tmp",
        "~/../../etc",
        "relative/dir",
        "/tmp/../etc",
    ] {
        let (_, first) = Stream::open(&conn, root).await;
        assert!(
            matches!(first, Outbound::Failed { .. }),
            "{root}: {first:?}"
        );
    }
    assert!(!Path::new("/etc/azlin-test").exists());

    let outside = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let dest = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let root = dest.path().join("in");
    let (mut s, first) = Stream::open(&conn, root.to_str().unwrap()).await;
    assert_eq!(
        first,
        Outbound::Opened {
            root: root.display().to_string()
        }
    );

    // A sound file: stored whole with its mode and mtime; again: skipped.
    let body = b"hello from the laptop\n".repeat(1000);
    assert_eq!(s.file("src/notes.txt", &body).await, Outbound::Stored);
    let stored = root.join("src/notes.txt");
    assert_eq!(std::fs::read(&stored).unwrap(), body);
    let meta = std::fs::metadata(&stored).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    let mtime = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert_eq!(mtime.as_millis(), 1_700_000_000_123);
    assert_eq!(s.file("src/notes.txt", &body).await, Outbound::Have);

    // Paths that leave the root, by name or through the file system.
    refused(&s.file("../escape", b"x").await, false, "leaves its folder");
    refused(&s.file("/etc/escape", b"x").await, false, "absolute");
    std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
    refused(&s.file("link/planted", b"x").await, false, "symlink");
    std::os::unix::fs::symlink(outside.path().join("target"), root.join("sym")).unwrap();
    refused(&s.file("sym", b"x").await, false, "not a regular file");
    nix::unistd::mkfifo(
        &root.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    refused(&s.file("fifo", b"x").await, false, "not a regular file");
    assert!(tree(outside.path()).is_empty(), "nothing written outside");

    // Secrets, by name and by content (hidden past the first chunk).
    refused(&s.file(".ssh/id_rsa", b"x").await, true, "secret");
    let mut sneaky = vec![b'a'; CHUNK + 10];
    sneaky.extend_from_slice(b"\n-----BEGIN OPENSSH PRIVATE KEY-----\n");
    refused(&s.file("readme.txt", &sneaky).await, true, "private key");

    // Bytes that do not match the announced hash.
    s.put(&Inbound::File(header("bad.bin", b"the real content")))
        .await;
    assert_eq!(s.next().await, Outbound::SendFrom { offset: 0 });
    s.put(&Inbound::Data(b"something else!!".to_vec())).await;
    refused(&s.next().await, false, "BLAKE3");

    // Interrupted half way: the destination name never holds part of it;
    // sent again, it resumes from where it stopped.
    let big: Vec<u8> = (0..3 * CHUNK as u32 + 17)
        .map(|i| (i % 251) as u8)
        .collect();
    s.put(&Inbound::File(header("big.bin", &big))).await;
    assert_eq!(s.next().await, Outbound::SendFrom { offset: 0 });
    s.put(&Inbound::Data(big[..CHUNK].to_vec())).await;
    s.put(&Inbound::Data(big[CHUNK..2 * CHUNK].to_vec())).await;
    // The sender stops mid-file (its stream ends): every byte sent
    // arrived; the agent keeps what it has.
    s.send.finish().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.recv.tagged::<Outbound>()).await;
    drop(s);
    assert!(
        !root.join("big.bin").exists(),
        "no torn file under the real name"
    );
    let (mut s, _) = Stream::open(&conn, root.to_str().unwrap()).await;
    s.put(&Inbound::File(header("big.bin", &big))).await;
    assert_eq!(
        s.next().await,
        Outbound::SendFrom {
            offset: 2 * CHUNK as u64
        }
    );
    for chunk in big[2 * CHUNK..].chunks(CHUNK) {
        s.put(&Inbound::Data(chunk.to_vec())).await;
    }
    assert_eq!(s.next().await, Outbound::Stored);
    assert_eq!(std::fs::read(root.join("big.bin")).unwrap(), big);

    // Mirrored deletions stay inside the root and never follow a symlink.
    std::fs::write(outside.path().join("keep"), b"precious").unwrap();
    s.put(&Inbound::Delete {
        rel: "../escape".into(),
    })
    .await;
    refused(&s.next().await, false, "leaves its folder");
    s.put(&Inbound::Delete {
        rel: "link/keep".into(),
    })
    .await;
    refused(&s.next().await, false, "symlink");
    s.put(&Inbound::Delete { rel: "link".into() }).await;
    assert_eq!(s.next().await, Outbound::Deleted);
    assert!(outside.path().join("keep").exists(), "only the link went");
    std::fs::create_dir_all(root.join("gone/deep")).unwrap();
    std::fs::write(root.join("gone/deep/x"), b"x").unwrap();
    s.put(&Inbound::Delete { rel: "gone".into() }).await;
    assert_eq!(s.next().await, Outbound::Deleted);
    assert!(!root.join("gone").exists());
    s.put(&Inbound::Delete {
        rel: "never-there".into(),
    })
    .await;
    assert_eq!(s.next().await, Outbound::Deleted);

    // More bytes than announced ends the stream.
    s.put(&Inbound::File(header("small", b"abc"))).await;
    assert_eq!(s.next().await, Outbound::SendFrom { offset: 0 });
    s.put(&Inbound::Data(b"abcdef".to_vec())).await;
    assert!(matches!(s.next().await, Outbound::Failed { .. }));

    assert_eq!(
        tree(&root),
        vec!["big.bin", "fifo", "src/notes.txt", "sym"],
        "no partial or refused file is left behind"
    );
}

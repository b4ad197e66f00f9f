//! The agent defends the files it takes by manifest, whoever sends them:
//! a hand-crafted controller (not the CLI) drives a real agent's "files by
//! manifest" receive path frame by frame. It declares a million files,
//! parts over their bounds, a file of 2^63 bytes, a path twice, two paths
//! equal once Unicode is normalised, paths that leave the folder, a file
//! and a folder of one name, secrets, bytes that do not match their hash,
//! more bytes than announced, eager data for files already there or
//! refused, removals outside the folder, and parts whose refusals alone
//! outgrow a frame. Each is refused (the file alone, or the whole stream
//! when the frame itself breaks the protocol) and nothing of it is
//! written; sound files are stored whole however their bytes are cut into
//! frames, a file cut off resumes from its partial, and after every
//! attack the agent still takes a sound file on a fresh stream.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use azlin_e2e::{Env, peer};
use azlin_protocol::{
    files::{
        manifest::{MAX_ENTRIES, MAX_PART, MAX_PART_BYTES},
        wire::{
            Answer, CHUNK, FileHeader, FilesOp, FilesRequest, Inbound, MAX_FILES_FRAME, Outbound,
            Refusal,
        },
    },
    handshake::ControlStream,
    stream::{MAX_QUERY_FRAME, Query},
    transport::{self, FramedRecv},
};

/// A real agent, with a hand-crafted controller connected to it.
struct Vm {
    _env: Env,
    conn: quinn::Connection,
    _control: ControlStream,
    /// Where the files go: `dest/in`; `dest` also holds what must never
    /// be touched from inside.
    dest: tempfile::TempDir,
}

impl Vm {
    async fn start() -> Self {
        let env = Env::new();
        env.ok(&["new", "--name", "m"]);
        let addr = env.vm("m")["address"].as_str().unwrap().parse().unwrap();
        env.wait("connected", Duration::from_secs(20), || env.connected("m"));
        // The real daemon would redial and replace the crafted controller.
        env.ok(&["daemon", "stop"]);
        let (conn, control) = peer::controller_session(env.home(), "m", addr).await;
        let dest = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
        Self {
            _env: env,
            conn,
            _control: control,
            dest,
        }
    }

    fn root(&self) -> PathBuf {
        self.dest.path().join("in")
    }

    async fn stream(&self) -> Stream {
        Stream::open(&self.conn, &self.root()).await
    }

    /// The agent is still up and serving: a fresh stream with a sound
    /// one-file manifest has the file stored whole.
    async fn still_serving(&self, rel: &str) {
        let body = format!("still serving after {rel}\n")
            .repeat(300)
            .into_bytes();
        let mut s = self.stream().await;
        assert_eq!(
            s.manifest(&[header(rel, &body)], false).await,
            vec![Answer::SendFrom(0)]
        );
        s.data(&body).await;
        assert_eq!(s.outcome(0).await, None, "{rel} stored");
        s.end().await;
        assert_eq!(std::fs::read(self.root().join(rel)).unwrap(), body);
    }
}

/// A file stream into a root, taken by manifest.
struct Stream {
    send: quinn::SendStream,
    recv: FramedRecv,
    /// Every file's outcome read so far, by index.
    done: BTreeMap<u32, Option<Refusal>>,
}

impl Stream {
    async fn open(conn: &quinn::Connection, root: &Path) -> Self {
        let (mut send, recv) = conn.open_bi().await.unwrap();
        let req = FilesRequest {
            root: root.display().to_string(),
            op: FilesOp::Receive,
            requested_by: "crafted".into(),
        };
        transport::send(&mut send, &Query::Files(req), MAX_QUERY_FRAME)
            .await
            .unwrap();
        let mut s = Self {
            send,
            recv: FramedRecv::new(recv, MAX_FILES_FRAME),
            done: BTreeMap::new(),
        };
        assert_eq!(
            s.next().await,
            Outbound::Opened {
                root: root.display().to_string()
            }
        );
        s
    }

    async fn next(&mut self) -> Outbound {
        tokio::time::timeout(Duration::from_secs(10), self.recv.tagged::<Outbound>())
            .await
            .expect("the agent answers")
            .unwrap()
            .expect("a frame")
    }

    /// The next frame that is not an outcome (those are kept).
    async fn next_not_done(&mut self) -> Outbound {
        loop {
            match self.next().await {
                Outbound::Done(done) => self.keep(done),
                other => return other,
            }
        }
    }

    fn keep(&mut self, done: Vec<azlin_protocol::files::wire::Done>) {
        assert!(!done.is_empty(), "an empty Done frame");
        for d in done {
            let index = d.index;
            assert!(
                self.done.insert(index, d.refused).is_none(),
                "file {index} has two outcomes"
            );
        }
    }

    async fn put(&mut self, f: &Inbound) {
        transport::send(&mut self.send, f, MAX_FILES_FRAME)
            .await
            .unwrap();
    }

    /// Send a manifest part; its answers.
    async fn manifest(&mut self, files: &[FileHeader], eager: bool) -> Vec<Answer> {
        self.put(&Inbound::Manifest {
            files: files.to_vec(),
            eager,
        })
        .await;
        self.answers(files.len()).await
    }

    /// The answers to a part of `n` files, in as many frames as they come.
    async fn answers(&mut self, n: usize) -> Vec<Answer> {
        let mut all = Vec::new();
        while all.len() < n {
            match self.next_not_done().await {
                Outbound::Answers(a) => all.extend(a),
                other => panic!("expected answers, got {other:?}"),
            }
        }
        assert_eq!(all.len(), n, "one answer per file");
        all
    }

    /// `bytes` in data frames of a chunk each.
    async fn data(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(CHUNK) {
            self.put(&Inbound::Data(chunk.to_vec())).await;
        }
    }

    /// The outcome of file `index`, waiting for it.
    async fn outcome(&mut self, index: u32) -> Option<Refusal> {
        while !self.done.contains_key(&index) {
            match self.next().await {
                Outbound::Done(done) => self.keep(done),
                other => panic!("expected the outcome of file {index}, got {other:?}"),
            }
        }
        self.done[&index].clone()
    }

    /// The stream fails: its reason; the agent then ends the stream.
    async fn failed(&mut self) -> String {
        match self.next_not_done().await {
            Outbound::Failed { reason } => {
                self.finished().await;
                reason
            }
            other => panic!("expected the stream to fail, got {other:?}"),
        }
    }

    /// The agent has finished its side of the stream.
    async fn finished(&mut self) {
        let last = tokio::time::timeout(Duration::from_secs(10), self.recv.tagged::<Outbound>())
            .await
            .expect("the agent ends the stream");
        assert!(matches!(last, Ok(None)), "expected the end, got {last:?}");
    }

    /// End the stream: the outcomes of every file, once the agent has
    /// finished it.
    async fn end(mut self) -> BTreeMap<u32, Option<Refusal>> {
        self.put(&Inbound::End).await;
        loop {
            let frame =
                tokio::time::timeout(Duration::from_secs(10), self.recv.tagged::<Outbound>())
                    .await
                    .expect("the agent finishes the stream")
                    .unwrap();
            match frame {
                Some(Outbound::Done(done)) => self.keep(done),
                None => return self.done,
                Some(other) => panic!("expected outcomes or the end, got {other:?}"),
            }
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

#[track_caller]
fn refused(a: &Answer, why: &[&str]) {
    match a {
        Answer::Refused(Refusal { reason, .. }) => {
            for w in why {
                assert!(reason.contains(w), "{reason:?} should say {w:?}");
            }
        }
        other => panic!("expected a refusal ({why:?}), got {other:?}"),
    }
}

/// Every file under `dir`, partial files included (folders end in `/`).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.push(format!("{name}/"));
            out.extend(tree(&e.path()).into_iter().map(|n| format!("{name}/{n}")));
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_naming_a_million_files_or_parts_over_their_bounds_is_stopped() {
    let vm = Vm::start().await;
    let root = vm.root();

    // A million files of one byte, a part of MAX_PART at a time: every
    // part is answered until the stream passes MAX_ENTRIES, then the
    // stream fails and ends.
    let mut s = vm.stream().await;
    let one = blake3::hash(b"x");
    let mut taken = 0;
    let mut part = 0;
    let reason = loop {
        assert!(part * MAX_PART < 1_000_000, "a million files all taken");
        let files: Vec<_> = (0..MAX_PART)
            .map(|j| FileHeader {
                rel: format!("f{}", part * MAX_PART + j),
                size: 1,
                mode: 0o640,
                mtime_ms: 0,
                hash: *one.as_bytes(),
            })
            .collect();
        part += 1;
        s.put(&Inbound::Manifest {
            files,
            eager: false,
        })
        .await;
        match s.next().await {
            Outbound::Answers(a) => {
                assert_eq!(a.len(), MAX_PART);
                assert!(a.iter().all(|a| *a == Answer::SendFrom(0)), "{part}");
                taken += a.len();
            }
            Outbound::Failed { reason } => break reason,
            other => panic!("part {part}: {other:?}"),
        }
    };
    assert_eq!(taken, MAX_ENTRIES / MAX_PART * MAX_PART);
    assert!(
        reason.contains("more than 100000 files on one stream"),
        "{reason}"
    );
    s.finished().await;
    // The files answered SendFrom got no data: nothing, not even a
    // partial, was made for them.
    assert_eq!(tree(&root), Vec::<String>::new());
    vm.still_serving("after-a-million.txt").await;

    // One part of MAX_PART + 1 files.
    let mut s = vm.stream().await;
    let files: Vec<_> = (0..=MAX_PART)
        .map(|j| header(&format!("g{j}"), b"x"))
        .collect();
    s.put(&Inbound::Manifest {
        files,
        eager: false,
    })
    .await;
    let reason = s.failed().await;
    assert!(
        reason.contains(&format!("{} files; at most {MAX_PART}", MAX_PART + 1)),
        "{reason}"
    );

    // One part with more than MAX_PART_BYTES of paths.
    let mut s = vm.stream().await;
    let files: Vec<_> = (0..=MAX_PART_BYTES / 4000)
        .map(|j| header(&format!("{j:04}{}", "p".repeat(3996)), b"x"))
        .collect();
    s.put(&Inbound::Manifest {
        files,
        eager: false,
    })
    .await;
    let reason = s.failed().await;
    assert!(reason.contains("bytes of paths"), "{reason}");

    // Parts each within their bounds that together name more than the
    // path bytes one stream may hold.
    let mut s = vm.stream().await;
    let mut part = 0;
    let reason = loop {
        assert!(part < 200, "path bytes without a bound");
        let files: Vec<_> = (0..40)
            .map(|j| header(&format!("{:06}{}", part * 40 + j, "q".repeat(3994)), b"x"))
            .collect();
        part += 1;
        s.put(&Inbound::Manifest {
            files,
            eager: false,
        })
        .await;
        match s.next().await {
            // Names longer than the file system takes: each refused.
            Outbound::Answers(a) => assert_eq!(a.len(), 40),
            Outbound::Failed { reason } => break reason,
            other => panic!("part {part}: {other:?}"),
        }
    };
    assert!(reason.contains("bytes of paths on one stream"), "{reason}");
    s.finished().await;

    assert_eq!(tree(&root), vec!["after-a-million.txt"]);
    vm.still_serving("after-the-bounds.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_two_to_the_63_bytes_is_refused_alone() {
    let vm = Vm::start().await;
    let root = vm.root();
    let mut s = vm.stream().await;
    let before = b"before the giant\n".to_vec();
    let after = b"after the giant\n".to_vec();
    let mut giant = header("giant.bin", b"");
    giant.size = 1 << 63;
    // At the bound itself (16 TiB): not over it, but more than the
    // VM's file system has free.
    let mut huge = header("huge.bin", b"");
    huge.size = 1 << 44;
    let answers = s
        .manifest(
            &[
                header("before.txt", &before),
                giant,
                huge,
                header("after.txt", &after),
            ],
            false,
        )
        .await;
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0], Answer::SendFrom(0));
    refused(&answers[1], &["giant.bin", "9223372036854775808"]);
    refused(&answers[2], &["huge.bin", "free"]);
    assert_eq!(answers[3], Answer::SendFrom(0));
    let mut bytes = before.clone();
    bytes.extend_from_slice(&after);
    s.data(&bytes).await;
    assert_eq!(s.outcome(0).await, None);
    assert_eq!(s.outcome(3).await, None);
    let done = s.end().await;
    assert_eq!(done.keys().copied().collect::<Vec<_>>(), vec![0, 3]);
    assert_eq!(read(root.join("before.txt")), before);
    assert_eq!(read(root.join("after.txt")), after);
    assert_eq!(tree(&root), vec!["after.txt", "before.txt"]);
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_named_twice_has_the_second_refused() {
    let vm = Vm::start().await;
    let root = vm.root();
    let mut s = vm.stream().await;
    let first = b"the first a.txt".to_vec();
    let second = b"the second a.txt, longer".to_vec();
    let b = b"b".repeat(1000);
    let answers = s
        .manifest(
            &[
                header("a.txt", &first),
                header("a.txt", &second),
                header("b.txt", &b),
            ],
            false,
        )
        .await;
    assert_eq!(answers[0], Answer::SendFrom(0));
    refused(&answers[1], &["a.txt", "named twice"]);
    assert_eq!(answers[2], Answer::SendFrom(0));
    // Only the files answered SendFrom, in order, back to back.
    let mut bytes = first.clone();
    bytes.extend_from_slice(&b);
    s.data(&bytes).await;
    assert_eq!(s.outcome(0).await, None);
    assert_eq!(s.outcome(2).await, None);
    // Named again in a later part of the same stream: refused too.
    let answers = s.manifest(&[header("a.txt", &second)], false).await;
    refused(&answers[0], &["named twice"]);
    let done = s.end().await;
    assert_eq!(done.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
    assert_eq!(read(root.join("a.txt")), first);
    assert_eq!(read(root.join("b.txt")), b);
    assert_eq!(tree(&root), vec!["a.txt", "b.txt"]);
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_equal_once_unicode_is_normalised_have_the_second_refused() {
    let vm = Vm::start().await;
    let root = vm.root();
    let mut s = vm.stream().await;
    let composed = "caf\u{e9}.txt";
    let decomposed = "cafe\u{301}.txt";
    let one = b"one code point".to_vec();
    let two = b"e and a combining accent".to_vec();
    let answers = s
        .manifest(&[header(composed, &one), header(decomposed, &two)], false)
        .await;
    assert_eq!(answers[0], Answer::SendFrom(0));
    refused(&answers[1], &["normalised", "NFC"]);
    s.data(&one).await;
    assert_eq!(s.outcome(0).await, None);
    // And the other way round, in folders of a later part.
    let answers = s
        .manifest(
            &[
                header(&format!("d/{decomposed}"), &two),
                header(&format!("d/{composed}"), &one),
            ],
            false,
        )
        .await;
    assert_eq!(answers[0], Answer::SendFrom(0));
    refused(&answers[1], &["normalised", "NFC"]);
    s.data(&two).await;
    assert_eq!(s.outcome(2).await, None);
    let done = s.end().await;
    assert_eq!(done.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
    assert_eq!(read(root.join(composed)), one);
    assert_eq!(read(root.join("d").join(decomposed)), two);
    assert_eq!(
        tree(&root),
        vec![composed.to_string(), "d/".into(), format!("d/{decomposed}")],
        "one file on disk for each pair"
    );
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_that_leave_the_folder_are_refused_each_and_nothing_is_written_outside() {
    let vm = Vm::start().await;
    let root = vm.root();
    let outside = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    let mut s = vm.stream().await;
    std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
    let absolute = outside.path().join("evil");
    let ok = b"inside".to_vec();
    let answers = s
        .manifest(
            &[
                header("../evil", b"evil"),
                header(absolute.to_str().unwrap(), b"evil"),
                header("a/../../evil", b"evil"),
                header("link/evil", b"evil"),
                header("ok.txt", &ok),
                header("./evil", b"evil"),
                header("a//evil", b"evil"),
                header("", b"evil"),
            ],
            false,
        )
        .await;
    assert_eq!(answers.len(), 8);
    refused(&answers[0], &["leaves its folder"]);
    refused(&answers[1], &["absolute"]);
    refused(&answers[2], &["leaves its folder"]);
    refused(&answers[3], &["symlink"]);
    assert_eq!(answers[4], Answer::SendFrom(0));
    refused(&answers[5], &["component"]);
    refused(&answers[6], &["component"]);
    refused(&answers[7], &["empty"]);
    s.data(&ok).await;
    assert_eq!(s.outcome(4).await, None);
    let done = s.end().await;
    assert_eq!(done.keys().copied().collect::<Vec<_>>(), vec![4]);
    assert_eq!(read(root.join("ok.txt")), ok);
    assert_eq!(tree(&root), vec!["link", "ok.txt"]);
    assert_eq!(tree(outside.path()), Vec::<String>::new());
    assert_eq!(tree(vm.dest.path()), vec!["in/", "in/link", "in/ok.txt"]);
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_packed_into_frames_however_cut_are_each_stored_whole() {
    let vm = Vm::start().await;
    let root = vm.root();
    let mut s = vm.stream().await;
    let small: [&[u8]; 3] = [b"one", b"two!", b"three, the last"];
    let answers = s
        .manifest(
            &[
                header("p/one", small[0]),
                header("p/two", small[1]),
                header("p/three", small[2]),
                header("p/empty", b""),
            ],
            false,
        )
        .await;
    assert_eq!(answers, vec![Answer::SendFrom(0); 4]);
    // All three in one data frame; the empty file needs none.
    s.put(&Inbound::Data(small.concat())).await;
    for i in 0..4 {
        assert_eq!(s.outcome(i).await, None, "file {i}");
    }

    // A file larger than a chunk between small ones, in frames cut across
    // the files' ends.
    let big: Vec<u8> = (0..2 * CHUNK as u32 + 1001)
        .map(|i| (i % 253) as u8)
        .collect();
    let answers = s
        .manifest(
            &[
                header("q/a", b"aaaa"),
                header("q/big", &big),
                header("q/z", b"zz"),
            ],
            false,
        )
        .await;
    assert_eq!(answers, vec![Answer::SendFrom(0); 3]);
    let mut all = b"aaaa".to_vec();
    all.extend_from_slice(&big);
    all.extend_from_slice(b"zz");
    for cut in [1, 7, CHUNK, CHUNK, 1000, all.len()] {
        let (head, rest) = all.split_at(cut.min(all.len()));
        s.put(&Inbound::Data(head.to_vec())).await;
        all = rest.to_vec();
        if all.is_empty() {
            break;
        }
    }
    for i in 4..7 {
        assert_eq!(s.outcome(i).await, None, "file {i}");
    }
    let done = s.end().await;
    assert_eq!(done.len(), 7);
    assert_eq!(read(root.join("p/one")), small[0]);
    assert_eq!(read(root.join("p/two")), small[1]);
    assert_eq!(read(root.join("p/three")), small[2]);
    assert_eq!(read(root.join("p/empty")), b"");
    assert_eq!(read(root.join("q/a")), b"aaaa");
    assert_eq!(read(root.join("q/big")), big);
    assert_eq!(read(root.join("q/z")), b"zz");
    assert_eq!(
        tree(&root),
        vec![
            "p/", "p/empty", "p/one", "p/three", "p/two", "q/", "q/a", "q/big", "q/z"
        ]
    );
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_refused_once_their_data_came_leave_nothing_and_the_others_are_stored() {
    let vm = Vm::start().await;
    let root = vm.root();
    let mut s = vm.stream().await;
    let good1 = b"good one".to_vec();
    let good2 = b"good two".to_vec();
    let claimed = b"the real content".to_vec();
    let sent = b"something else!!".to_vec();
    assert_eq!(claimed.len(), sent.len());
    let answers = s
        .manifest(
            &[
                header("good1", &good1),
                header("bad", &claimed),
                header("good2", &good2),
            ],
            false,
        )
        .await;
    assert_eq!(answers, vec![Answer::SendFrom(0); 3]);
    s.put(&Inbound::Data([&good1[..], &sent, &good2].concat()))
        .await;
    assert_eq!(s.outcome(0).await, None);
    let bad = s.outcome(1).await.expect("the bad file is refused");
    assert!(bad.reason.contains("BLAKE3"), "{bad:?}");
    assert_eq!(s.outcome(2).await, None);

    // A secret, by name (refused at once) and by content (once its data
    // came, the key past the first chunk), among sound files.
    let mut sneaky = vec![b'a'; CHUNK + 10];
    sneaky.extend_from_slice(b"\n-----BEGIN OPENSSH PRIVATE KEY-----\n");
    let good3 = b"good three".to_vec();
    let answers = s
        .manifest(
            &[
                header(".ssh/id_rsa", b"key"),
                header("readme.txt", &sneaky),
                header("good3", &good3),
            ],
            false,
        )
        .await;
    match &answers[0] {
        Answer::Refused(r) => assert!(r.blocked && r.reason.contains("secret"), "{r:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(answers[1..], [Answer::SendFrom(0), Answer::SendFrom(0)]);
    s.data(&[&sneaky[..], &good3].concat()).await;
    let secret = s.outcome(4).await.expect("the key is refused");
    assert!(
        secret.blocked && secret.reason.contains("private key"),
        "{secret:?}"
    );
    assert_eq!(s.outcome(5).await, None);
    s.end().await;
    assert_eq!(read(root.join("good1")), good1);
    assert_eq!(read(root.join("good2")), good2);
    assert_eq!(read(root.join("good3")), good3);
    assert_eq!(
        tree(&root),
        vec!["good1", "good2", "good3"],
        "no file and no partial is left for the bad ones"
    );
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_and_a_folder_of_the_same_name_have_one_refused() {
    let vm = Vm::start().await;
    let root = vm.root();
    let mut s = vm.stream().await;
    // `x` is judged before `x/y` makes its folder: both are wanted, and
    // `x` cannot be put in place over the folder.
    let answers = s
        .manifest(&[header("x", b"file x"), header("x/y", b"file y")], false)
        .await;
    assert_eq!(answers, vec![Answer::SendFrom(0); 2]);
    s.data(b"file xfile y").await;
    let x = s.outcome(0).await.expect("x is refused");
    assert!(x.reason.contains("put it in place"), "{x:?}");
    assert_eq!(s.outcome(1).await, None);
    // The other way round: the folder is there when the file is judged.
    let answers = s
        .manifest(&[header("z/y", b"file y"), header("z", b"file z")], false)
        .await;
    assert_eq!(answers[0], Answer::SendFrom(0));
    refused(&answers[1], &["not a regular file"]);
    s.data(b"file y").await;
    assert_eq!(s.outcome(2).await, None);
    s.end().await;
    assert_eq!(read(root.join("x/y")), b"file y");
    assert_eq!(read(root.join("z/y")), b"file y");
    assert_eq!(tree(&root), vec!["x/", "x/y", "z/", "z/y"]);
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_that_break_the_protocol_end_the_stream_and_leave_no_partial() {
    let vm = Vm::start().await;
    let root = vm.root();

    // A data frame after every announced byte has come.
    let mut s = vm.stream().await;
    assert_eq!(
        s.manifest(&[header("small", b"abc")], false).await,
        vec![Answer::SendFrom(0)]
    );
    s.data(b"abc").await;
    assert_eq!(s.outcome(0).await, None);
    s.data(b"x").await;
    let reason = s.failed().await;
    assert!(
        reason.contains("more data than the manifests announced"),
        "{reason}"
    );
    assert_eq!(read(root.join("small")), b"abc");

    // One frame holding a file's bytes and more: the stream fails. The
    // file read whole before the surplus is settled as every file read
    // whole is (stored, its outcome sent before the failure); the surplus
    // is written nowhere.
    let mut s = vm.stream().await;
    assert_eq!(
        s.manifest(&[header("over", b"abc")], false).await,
        vec![Answer::SendFrom(0)]
    );
    s.data(b"abcdef").await;
    let reason = s.failed().await;
    assert!(
        reason.contains("more data than the manifests announced"),
        "{reason}"
    );
    assert_eq!(s.done, BTreeMap::from([(0, None)]));
    assert_eq!(read(root.join("over")), b"abc");

    // Data before any manifest.
    let mut s = vm.stream().await;
    s.data(b"abc").await;
    let reason = s.failed().await;
    assert!(reason.contains("before a file header"), "{reason}");

    // A data frame larger than a chunk (within the frame bound).
    let mut s = vm.stream().await;
    let big = vec![7u8; CHUNK + 1];
    assert_eq!(
        s.manifest(&[header("chunky", &big)], false).await,
        vec![Answer::SendFrom(0)]
    );
    s.put(&Inbound::Data(big)).await;
    let reason = s.failed().await;
    assert!(reason.contains("larger than a chunk"), "{reason}");

    // A single file's header on a stream taken by manifest.
    let mut s = vm.stream().await;
    assert_eq!(
        s.manifest(&[header("mixed", b"abc")], false).await,
        vec![Answer::SendFrom(0)]
    );
    s.put(&Inbound::File(header("single", b"abc"))).await;
    let reason = s.failed().await;
    assert!(reason.contains("single file's header"), "{reason}");

    // The end of the stream while a file is half sent and another owed.
    let mut s = vm.stream().await;
    let half = vec![5u8; 10_000];
    assert_eq!(
        s.manifest(&[header("half", &half), header("owed", b"owed")], false)
            .await,
        vec![Answer::SendFrom(0); 2]
    );
    s.data(&half[..4000]).await;
    s.put(&Inbound::End).await;
    let reason = s.failed().await;
    assert!(reason.contains("still owed their data"), "{reason}");

    assert_eq!(
        tree(&root),
        vec!["over", "small"],
        "no partial of a stream that broke the protocol is left"
    );
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eager_part_drops_the_bytes_of_files_not_wanted_and_stays_in_step() {
    let vm = Vm::start().await;
    let root = vm.root();
    let mut s = vm.stream().await;

    // Its data follows at once, without waiting for the answers.
    let a = b"eager a".to_vec();
    let b = b"eager b, a little longer".to_vec();
    s.put(&Inbound::Manifest {
        files: vec![header("e/a", &a), header("e/b", &b)],
        eager: true,
    })
    .await;
    s.put(&Inbound::Data([&a[..], &b].concat())).await;
    assert_eq!(s.answers(2).await, vec![Answer::SendFrom(0); 2]);
    assert_eq!(s.outcome(0).await, None);
    assert_eq!(s.outcome(1).await, None);
    assert_eq!(read(root.join("e/a")), a);
    assert_eq!(read(root.join("e/b")), b);

    let done = s.end().await;
    assert_eq!(done.keys().copied().collect::<Vec<_>>(), vec![0, 1]);

    // On a fresh stream: a file already there (same content and mode),
    // one refused, a file named twice. Every byte is sent anyway, read and
    // dropped; the files after each are still stored with their own bytes.
    let mut s = vm.stream().await;
    let c = b"eager c follows what was dropped".to_vec();
    let d = b"and d, last".to_vec();
    let evil = b"never written".to_vec();
    let again = b"a second e/c".to_vec();
    s.put(&Inbound::Manifest {
        files: vec![
            header("e/a", &a),
            header("e/c", &c),
            header("../evil", &evil),
            header("e/c", &again),
            header("e/d", &d),
        ],
        eager: true,
    })
    .await;
    s.put(&Inbound::Data([&a[..], &c, &evil, &again, &d].concat()))
        .await;
    let answers = s.answers(5).await;
    assert_eq!(answers[0], Answer::Have);
    assert_eq!(answers[1], Answer::SendFrom(0));
    refused(&answers[2], &["leaves its folder"]);
    refused(&answers[3], &["named twice"]);
    assert_eq!(answers[4], Answer::SendFrom(0));
    assert_eq!(s.outcome(1).await, None);
    assert_eq!(s.outcome(4).await, None);

    // And a part after it, not eager, is still in step.
    let f = b"after the eager parts".to_vec();
    assert_eq!(
        s.manifest(&[header("e/f", &f)], false).await,
        vec![Answer::SendFrom(0)]
    );
    s.data(&f).await;
    assert_eq!(s.outcome(5).await, None);
    let done = s.end().await;
    assert_eq!(
        done.keys().copied().collect::<Vec<_>>(),
        vec![1, 4, 5],
        "no outcome for the files whose bytes were dropped"
    );
    assert_eq!(read(root.join("e/a")), a);
    assert_eq!(read(root.join("e/c")), c);
    assert_eq!(read(root.join("e/d")), d);
    assert_eq!(read(root.join("e/f")), f);
    assert_eq!(tree(&root), vec!["e/", "e/a", "e/b", "e/c", "e/d", "e/f"]);
    assert_eq!(
        tree(vm.dest.path()),
        vec![
            "in/", "in/e/", "in/e/a", "in/e/b", "in/e/c", "in/e/d", "in/e/f"
        ],
        "nothing written outside"
    );
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_stay_inside_the_folder_and_answer_one_per_path() {
    let vm = Vm::start().await;
    let root = vm.root();
    let outside = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    std::fs::create_dir_all(root.join("dir/deep")).unwrap();
    std::fs::write(root.join("a.txt"), b"a").unwrap();
    std::fs::write(root.join("dir/deep/x"), b"x").unwrap();
    std::fs::write(root.join("kept.txt"), b"kept").unwrap();
    std::fs::write(vm.dest.path().join("x"), b"precious").unwrap();
    std::fs::write(outside.path().join("keep"), b"precious").unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();

    // A removal as the first frame of a stream.
    let mut s = vm.stream().await;
    let absolute = outside.path().join("keep");
    s.put(&Inbound::Remove(vec![
        "a.txt".into(),
        "dir".into(),
        "never-there".into(),
        "../x".into(),
        absolute.display().to_string(),
        "link/keep".into(),
        "gone/with/its/folder".into(),
    ]))
    .await;
    let removed = match s.next_not_done().await {
        Outbound::Removed(r) => r,
        other => panic!("expected removals, got {other:?}"),
    };
    assert_eq!(removed.len(), 7, "{removed:?}");
    assert_eq!(removed[..3], [None, None, None]);
    let why = |i: usize, w: &str| {
        let reason = removed[i]
            .as_deref()
            .unwrap_or_else(|| panic!("{i} refused"));
        assert!(reason.contains(w), "{reason:?} should say {w:?}");
    };
    why(3, "leaves its folder");
    why(4, "absolute");
    why(5, "symlink");
    assert_eq!(removed[6], None);
    assert_eq!(read(vm.dest.path().join("x")), b"precious");
    assert_eq!(read(outside.path().join("keep")), b"precious");
    assert_eq!(tree(&root), vec!["kept.txt", "link"]);

    // The link itself goes, never what it points to; then a file into
    // the folder just removed is stored (the folder made again).
    s.put(&Inbound::Remove(vec!["link".into()])).await;
    assert_eq!(s.next_not_done().await, Outbound::Removed(vec![None]));
    assert_eq!(read(outside.path().join("keep")), b"precious");
    let again = b"dir again".to_vec();
    assert_eq!(
        s.manifest(&[header("dir/again", &again)], false).await,
        vec![Answer::SendFrom(0)]
    );
    s.data(&again).await;
    assert_eq!(s.outcome(0).await, None);
    s.end().await;
    assert_eq!(read(root.join("dir/again")), again);
    assert_eq!(tree(&root), vec!["dir/", "dir/again", "kept.txt"]);

    // Too many removals in one frame end the stream, removing nothing.
    let mut s = vm.stream().await;
    s.put(&Inbound::Remove(vec!["kept.txt".into(); MAX_PART + 1]))
        .await;
    let reason = s.failed().await;
    assert!(reason.contains("removals in one frame"), "{reason}");
    assert_eq!(read(root.join("kept.txt")), b"kept");
    assert_eq!(tree(outside.path()), vec!["keep"]);
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cut_off_mid_way_resumes_from_its_partial_on_the_next_stream() {
    let vm = Vm::start().await;
    let root = vm.root();
    let big: Vec<u8> = (0..3 * CHUNK as u32 + 17)
        .map(|i| (i % 251) as u8)
        .collect();
    let mut s = vm.stream().await;
    assert_eq!(
        s.manifest(&[header("big.bin", &big)], false).await,
        vec![Answer::SendFrom(0)]
    );
    s.data(&big[..2 * CHUNK]).await;
    // The sender stops mid-file (its stream ends, no End): not a
    // protocol fault, so the agent keeps what it has.
    s.send.finish().unwrap();
    s.finished().await;
    let left = tree(&root);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with(".azlin-partial-"), "{left:?}");
    assert!(!root.join("big.bin").exists(), "no torn file");

    let mut s = vm.stream().await;
    assert_eq!(
        s.manifest(&[header("big.bin", &big)], false).await,
        vec![Answer::SendFrom(2 * CHUNK as u64)]
    );
    s.data(&big[2 * CHUNK..]).await;
    assert_eq!(s.outcome(0).await, None);
    s.end().await;
    assert_eq!(read(root.join("big.bin")), big);
    assert_eq!(tree(&root), vec!["big.bin"]);
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_whose_refusals_quote_escaped_paths_is_still_answered() {
    let vm = Vm::start().await;
    // MAX_PART paths of 80 bytes (MAX_PART_BYTES in all, within the
    // bounds), each leaving the folder and full of control characters,
    // which the refusal quotes escaped, six bytes for one: answers
    // larger than a frame.
    let rel = format!("../{}", "\u{1}".repeat(77));
    assert_eq!(rel.len() * MAX_PART, MAX_PART_BYTES);
    let files: Vec<_> = (0..MAX_PART).map(|_| header(&rel, b"x")).collect();
    let mut s = vm.stream().await;
    s.put(&Inbound::Manifest {
        files,
        eager: false,
    })
    .await;
    answered_or_failed(&mut s, MAX_PART, "leaves its folder").await;
    assert_eq!(tree(&vm.root()), Vec::<String>::new());
    vm.still_serving("sound.txt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_of_names_equal_to_earlier_ones_once_normalised_is_still_answered() {
    let vm = Vm::start().await;
    // MAX_PART names of 78 bytes, then MAX_PART more of 79 (within
    // MAX_PART_BYTES) equal to them once Unicode is normalised: each
    // refusal quotes both names, so the second part's answers are larger
    // than a frame.
    let stem = "\u{e9}".repeat(37);
    let files: Vec<_> = (0..MAX_PART)
        .map(|i| header(&format!("{i:04}{stem}"), b"x"))
        .collect();
    let twins: Vec<_> = files
        .iter()
        .map(|h| header(&h.rel.replacen('\u{e9}', "e\u{301}", 1), b"x"))
        .collect();
    let mut s = vm.stream().await;
    let answers = s.manifest(&files, false).await;
    assert_eq!(answers, vec![Answer::SendFrom(0); MAX_PART]);
    s.put(&Inbound::Manifest {
        files: twins,
        eager: false,
    })
    .await;
    answered_or_failed(&mut s, MAX_PART, "normalised").await;
    assert_eq!(tree(&vm.root()), Vec::<String>::new());
    vm.still_serving("sound.txt").await;
}

/// A part of `n` files each refused: answered with `n` refusals saying
/// `why` (in several frames when they do not fit one), or the stream
/// ended with a reason; never silence.
async fn answered_or_failed(s: &mut Stream, n: usize, why: &str) {
    let mut got = 0;
    let mut frames = 0;
    while got < n {
        let frame = tokio::time::timeout(Duration::from_secs(10), s.recv.tagged::<Outbound>())
            .await
            .expect("the agent answers");
        match frame {
            Ok(Some(Outbound::Answers(a))) => {
                frames += 1;
                got += a.len();
                for a in &a {
                    refused(a, &[why]);
                }
                continue;
            }
            Ok(Some(Outbound::Failed { reason })) if got == 0 => {
                assert!(!reason.is_empty());
                s.finished().await;
                return;
            }
            other => panic!(
                "a manifest part of {n} files got {got} answers in {frames} frame(s), then {other:?}"
            ),
        }
    }
    assert_eq!(got, n, "one answer per file");
}

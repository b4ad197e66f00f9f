//! Where a received file's content goes as it arrives: hashed with
//! BLAKE3, scanned for secrets and written to its partial file. A small
//! file is done in line, on the agent's one async thread. A large one is
//! handed, in blocks, to a thread of its own, so hashing, scanning and
//! the disk run beside the connection instead of between its packets.
//! At most [`THREADS`] large files have threads at once, so the blocks
//! held stay bounded however many arrive together; the others are
//! written in line.
//!
//! A large file is written with O_DIRECT where the file system takes it:
//! its data goes from the block to the disk, not through the page cache,
//! so a GiB neither waits on a GiB of cache pages being found and filled
//! nor leaves them dirty for the commit's fsync to wait on. Direct writes
//! must start, end and sit in memory on block boundaries: every block but
//! the last is sent whole multiples of [`ALIGN`], and the last one's
//! ragged end goes through the page cache.
//!
//! Not here: what the bytes must be ([`super::receive`]), or putting the
//! file in place ([`super::commit`]).

use std::{
    fs::File,
    io::{ErrorKind, Write},
    os::unix::fs::FileExt,
    sync::atomic::{AtomicUsize, Ordering},
};

use azlin_protocol::files::{filter::ContentScan, wire::CHUNK};
use tokio::sync::mpsc;

/// Files with at least this much still to come get a thread of their own.
pub const THREADED_MIN: u64 = 4 << 20;
/// What a block holds before it goes to the writing thread.
const BLOCK: usize = 1 << 20;
/// Blocks on their way to the writing thread; with the one being filled,
/// the one being written and one on its way back, a file holds at most
/// seven blocks (about 9 MiB).
const IN_FLIGHT: usize = 4;
/// Alignment of direct writes: memory, offset and length.
pub const ALIGN: usize = 4096;
/// Large files written by threads of their own at once, across all
/// streams and connections; more are written in line. This bounds the
/// blocks held at about 35 MiB however many large files arrive together.
const THREADS: usize = 4;

/// Threaded sinks alive now.
static THREADED: AtomicUsize = AtomicUsize::new(0);

/// One of [`THREADS`], given back when the sink goes.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        THREADED
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < THREADS).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        THREADED.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A file's content as written so far, and how its writing went.
pub struct Written {
    pub file: File,
    // Boxed: a BLAKE3 hasher keeps its chunk stack inline (~2 KiB).
    pub hasher: Box<blake3::Hasher>,
    pub scan: ContentScan,
    /// The first write that failed; the rest is still hashed and
    /// scanned, so the stream stays in step.
    pub error: Option<String>,
}

impl Written {
    /// Hash and scan `bytes`, which are next in the file.
    fn check(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.scan.feed(bytes);
    }

    fn take(&mut self, bytes: &[u8]) {
        self.check(bytes);
        if self.error.is_none()
            && let Err(e) = self.file.write_all(bytes)
        {
            self.error = Some(e.to_string());
        }
    }
}

pub enum Sink {
    Inline(Written),
    Threaded(Threaded),
}

pub struct Threaded {
    _slot: Slot,
    block: Block,
    blocks: mpsc::Sender<Block>,
    spare: std::sync::mpsc::Receiver<Block>,
    done: tokio::task::JoinHandle<Written>,
}

impl Sink {
    /// Where `left` more bytes go, appended to `w.file` (whose partial
    /// holds `offset` bytes). `direct` opens the same partial with
    /// O_DIRECT, when the file system allows it; it is called only for a
    /// file that gets a thread and starts on a block boundary.
    pub fn new(
        w: Written,
        offset: u64,
        left: u64,
        direct: impl FnOnce(&File) -> Option<File>,
    ) -> Self {
        let slot = if left >= THREADED_MIN {
            Slot::take()
        } else {
            None
        };
        let Some(slot) = slot else {
            return Sink::Inline(w);
        };
        let direct = offset
            .is_multiple_of(ALIGN as u64)
            .then(|| direct(&w.file))
            .flatten();
        let (blocks, rx) = mpsc::channel(IN_FLIGHT);
        let (spare_tx, spare) = std::sync::mpsc::channel();
        let done =
            tokio::task::spawn_blocking(move || write_blocks(w, direct, offset, rx, spare_tx));
        Sink::Threaded(Threaded {
            _slot: slot,
            block: Block::new(),
            blocks,
            spare,
            done,
        })
    }

    /// Take the next bytes (at most [`CHUNK`]); call [`Self::ready`]
    /// before the next.
    pub fn take(&mut self, bytes: &[u8]) {
        match self {
            Sink::Inline(w) => w.take(bytes),
            Sink::Threaded(t) => t.block.push(bytes),
        }
    }

    /// Hand a full block to the writing thread, waiting while it is
    /// [`IN_FLIGHT`] blocks behind.
    pub async fn ready(&mut self) {
        let Sink::Threaded(t) = self else { return };
        if t.block.len < BLOCK {
            return;
        }
        let mut next = t.spare.try_recv().unwrap_or_else(|_| Block::new());
        next.len = 0;
        // The ragged end starts the next block, so this one is aligned.
        let keep = t.block.len % ALIGN;
        next.push(&t.block.data()[t.block.len - keep..]);
        t.block.len -= keep;
        let full = std::mem::replace(&mut t.block, next);
        // A closed channel means the thread is gone; finish says why.
        let _ = t.blocks.send(full).await;
    }

    /// Everything taken, written (or why not).
    pub async fn finish(self) -> Result<Written, String> {
        match self {
            Sink::Inline(w) => Ok(w),
            Sink::Threaded(t) => {
                let _ = t.blocks.send(t.block).await;
                drop(t.blocks);
                t.done
                    .await
                    .map_err(|e| format!("the writing thread failed: {e}"))
            }
        }
    }
}

/// The writing thread: each block hashed, scanned, then written at
/// `pos` (directly where it can be), then given back for reuse.
fn write_blocks(
    mut w: Written,
    mut direct: Option<File>,
    mut pos: u64,
    mut blocks: mpsc::Receiver<Block>,
    spare: std::sync::mpsc::Sender<Block>,
) -> Written {
    while let Some(block) = blocks.blocking_recv() {
        let data = block.data();
        w.check(data);
        if w.error.is_none() {
            let aligned = if direct.is_some() {
                data.len() / ALIGN * ALIGN
            } else {
                0
            };
            let mut done = 0;
            if let Some(d) = direct.as_ref().filter(|_| aligned > 0) {
                match d.write_all_at(&data[..aligned], pos) {
                    Ok(()) => done = aligned,
                    // Direct writes refused after all: the page cache
                    // takes over from the same byte, if nothing of this
                    // block went in.
                    Err(e) if e.kind() == ErrorKind::InvalidInput => {
                        direct = None;
                        if w.file.metadata().map(|m| m.len()).ok() != Some(pos) {
                            w.error = Some(format!("direct write: {e}"));
                        }
                    }
                    Err(e) => w.error = Some(e.to_string()),
                }
            }
            // The partial is open for appending, and holds `pos` bytes.
            if w.error.is_none()
                && let Err(e) = w.file.write_all(&data[done..])
            {
                w.error = Some(e.to_string());
            }
            pos += data.len() as u64;
        }
        let _ = spare.send(block);
    }
    w
}

/// A buffer whose data starts on an [`ALIGN`] boundary in memory.
struct Block {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Block {
    fn new() -> Self {
        // Room for a whole chunk past a full block, and for aligning.
        let buf = vec![0u8; BLOCK + CHUNK + ALIGN];
        let start = buf.as_ptr().align_offset(ALIGN);
        Self { buf, start, len: 0 }
    }

    fn push(&mut self, bytes: &[u8]) {
        let at = self.start + self.len;
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn content(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x1234_5678;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    async fn write_through(len: usize, prefix: usize, direct: bool, step: usize) -> Vec<u8> {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("partial");
        let body = content(len);
        std::fs::write(&path, &body[..prefix]).unwrap();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let direct = direct.then(|| {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::fcntl::OFlag::O_DIRECT.bits())
                .open(&path)
                .ok()
        });
        let mut hasher = Box::new(blake3::Hasher::new());
        hasher.update(&body[..prefix]);
        let w = Written {
            file,
            hasher,
            scan: ContentScan::default(),
            error: None,
        };
        let left = (len - prefix) as u64;
        let mut sink = Sink::new(w, prefix as u64, left, |_| direct.flatten());
        if left < THREADED_MIN {
            assert!(matches!(sink, Sink::Inline(_)));
        }
        for piece in body[prefix..].chunks(step) {
            sink.take(piece);
            sink.ready().await;
        }
        let w = sink.finish().await.unwrap();
        assert_eq!(w.error, None);
        assert_eq!(w.hasher.finalize(), blake3::hash(&body));
        let mut written = Vec::new();
        File::open(&path)
            .unwrap()
            .read_to_end(&mut written)
            .unwrap();
        assert!(
            written == body,
            "{len} bytes after {prefix}: content differs"
        );
        written
    }

    #[tokio::test]
    async fn every_byte_lands_in_order_whichever_way_it_is_written() {
        let big = THREADED_MIN as usize + 3 * BLOCK + 777;
        // Direct where the file system allows it (tmpfs does not: the
        // page cache takes over), ragged chunk sizes, a resumed prefix.
        write_through(big, 0, true, CHUNK).await;
        write_through(big, 0, true, 100_003).await;
        write_through(big, 2 * ALIGN, true, CHUNK).await;
        // A prefix off the alignment is written through the page cache.
        write_through(big, 1000, true, CHUNK).await;
        write_through(big, 0, false, 65_536).await;
        // Small files stay on the caller's thread.
        write_through(1 << 20, 10, true, 4096).await;
    }

    #[tokio::test]
    async fn at_most_a_few_large_files_get_threads_and_the_rest_are_written_in_line() {
        let tmp = tempfile::tempdir().unwrap();
        let sink = |i: usize| {
            let w = Written {
                file: File::create(tmp.path().join(format!("p{i}"))).unwrap(),
                hasher: Box::default(),
                scan: ContentScan::default(),
                error: None,
            };
            Sink::new(w, 0, THREADED_MIN, |_| None)
        };
        let mut sinks: Vec<Sink> = (0..THREADS + 3).map(sink).collect();
        let threaded = sinks
            .iter()
            .filter(|s| matches!(s, Sink::Threaded(_)))
            .count();
        assert!(threaded <= THREADS, "{threaded} threads");
        // Every one of them still takes its bytes.
        for s in &mut sinks {
            s.take(b"data");
            s.ready().await;
        }
        for s in sinks {
            assert_eq!(s.finish().await.unwrap().error, None);
        }
        // The slots came back.
        assert!(matches!(sink(99), Sink::Threaded(_)));
    }

    #[tokio::test]
    async fn a_secret_in_a_large_file_is_still_found() {
        let tmp = tempfile::tempdir().unwrap();
        let file = File::create(tmp.path().join("p")).unwrap();
        let w = Written {
            file,
            hasher: Box::default(),
            scan: ContentScan::default(),
            error: None,
        };
        let mut body = vec![b'x'; THREADED_MIN as usize + BLOCK];
        let key = b"-----BEGIN OPENSSH PRIVATE KEY-----";
        // Across the seam of the first two blocks.
        body[BLOCK - 10..BLOCK - 10 + key.len()].copy_from_slice(key);
        let mut sink = Sink::new(w, 0, body.len() as u64, |_| None);
        for piece in body.chunks(CHUNK) {
            sink.take(piece);
            sink.ready().await;
        }
        let w = sink.finish().await.unwrap();
        assert_eq!(w.scan.found(), Some("contains a private key"));
    }
}

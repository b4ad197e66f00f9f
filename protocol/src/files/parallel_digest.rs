//! A large file's BLAKE3 and secret scan, in pieces on several threads.
//!
//! A file's hash goes in its header, before any of its bytes: from it the
//! agent tells whether it already has the file, or a partial of it to
//! resume. So for one large file this first pass is time in which nothing
//! else happens, and one thread reads, hashes and scans at about 2.5 GB/s
//! here. BLAKE3 is a tree, though: every aligned run of 2^k of its 1 KiB
//! chunks is a subtree whose chaining value can be computed alone
//! ([`blake3::hazmat`]), and the root is those values merged the way the
//! standard tree merges them. The result is `blake3::hash` of the whole
//! file, bit for bit (tested against it).
//!
//! Not here: files under two pieces, read on one thread by
//! [`super::content`].

use std::{
    fs::File,
    io,
    os::unix::fs::FileExt,
    sync::atomic::{AtomicUsize, Ordering},
};

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, left_subtree_len, merge_subtrees_non_root, merge_subtrees_root,
};

use super::{
    filter::{ContentScan, SEAM},
    wire::CHUNK,
};

/// One piece: a power of two of BLAKE3's chunks, so that every piece is a
/// whole subtree of the file's tree.
pub const PIECE: u64 = 16 << 20;

/// More threads than this gain nothing: reading from the page cache is
/// then what limits.
const MOST_THREADS: usize = 4;

/// How many threads a file of `len` bytes is worth; 1 below two pieces.
pub fn threads_for(len: u64) -> usize {
    if len < 2 * PIECE {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MOST_THREADS)
        .min(len.div_ceil(PIECE) as usize)
}

/// BLAKE3 of the first `len` bytes of `file`, hashed in pieces of `piece`
/// bytes by `threads` threads at once, each piece also scanned for
/// secrets when `scan` is given (what is found goes into `scan`, the
/// earliest piece's finding first). `piece` must be a power of two of
/// 1 KiB and `len` more than one piece.
pub fn digest(
    file: &File,
    len: u64,
    piece: u64,
    threads: usize,
    scan: Option<&mut ContentScan>,
) -> io::Result<[u8; 32]> {
    assert!(
        piece.is_power_of_two() && piece >= blake3::CHUNK_LEN as u64 && len > piece,
        "a piece is a power of two of BLAKE3 chunks, and the file more than one"
    );
    let count = len.div_ceil(piece) as usize;
    let next = AtomicUsize::new(0);
    let scanning = scan.is_some();
    let mut done: Vec<(usize, ChainingValue, Option<ContentScan>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.clamp(1, count))
            .map(|_| {
                s.spawn(|| -> io::Result<Vec<_>> {
                    let mut buf = vec![0u8; CHUNK];
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok(mine);
                        }
                        let start = i as u64 * piece;
                        let end = (start + piece).min(len);
                        match one_piece(file, start, end, len, scanning, &mut buf) {
                            Ok((cv, found)) => mine.push((i, cv, found)),
                            Err(e) => {
                                // The others need not read on.
                                next.store(count, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        let mut all = Vec::with_capacity(count);
        for w in workers {
            all.extend(w.join().expect("a hashing thread panicked")?);
        }
        Ok::<_, io::Error>(all)
    })?;
    done.sort_unstable_by_key(|(i, ..)| *i);
    if let Some(scan) = scan {
        for (_, _, found) in &mut done {
            if let Some(found) = found.take() {
                scan.absorb(found);
            }
        }
    }
    let cvs: Vec<ChainingValue> = done.into_iter().map(|(_, cv, _)| cv).collect();
    let left = left_subtree_len(len);
    let k = (left / piece) as usize;
    let root = merge_subtrees_root(
        &subtree(&cvs[..k], left, piece),
        &subtree(&cvs[k..], len - left, piece),
        Mode::Hash,
    );
    Ok(*root.as_bytes())
}

/// The chaining value of `len` bytes made of the pieces `cvs`, merged as
/// BLAKE3's tree does: the left subtree is the largest power of two of
/// chunks that leaves something on the right. Above one piece that is
/// always a whole number of pieces.
fn subtree(cvs: &[ChainingValue], len: u64, piece: u64) -> ChainingValue {
    if cvs.len() == 1 {
        return cvs[0];
    }
    let left = left_subtree_len(len);
    let k = (left / piece) as usize;
    merge_subtrees_non_root(
        &subtree(&cvs[..k], left, piece),
        &subtree(&cvs[k..], len - left, piece),
        Mode::Hash,
    )
}

/// Hash the bytes `start..end` as the subtree they are, and scan them
/// together with the [`SEAM`] bytes after them, so that a secret across
/// the seam with the next piece is seen whole.
fn one_piece(
    file: &File,
    start: u64,
    end: u64,
    len: u64,
    scanning: bool,
    buf: &mut [u8],
) -> io::Result<(ChainingValue, Option<ContentScan>)> {
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(start);
    let mut scan = scanning.then(ContentScan::default);
    let stop = if scanning {
        (end + SEAM as u64).min(len)
    } else {
        end
    };
    let mut at = start;
    while at < stop {
        let want = ((stop - at) as usize).min(buf.len());
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file got shorter while it was read; copy it again",
            ));
        }
        let hashed = (end.saturating_sub(at) as usize).min(n);
        hasher.update(&buf[..hashed]);
        if let Some(scan) = scan.as_mut() {
            scan.feed(&buf[..n]);
        }
        at += n as u64;
    }
    Ok((hasher.finalize_non_root(), scan))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(body: &[u8]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, body).unwrap();
        let f = File::open(&path).unwrap();
        (dir, f)
    }

    fn body(len: usize) -> Vec<u8> {
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

    #[test]
    fn is_blake3_of_the_whole_file_whatever_the_pieces() {
        let k = blake3::CHUNK_LEN;
        // Whole pieces, ragged ends, lengths just past a power of two of
        // pieces (the tree's shape changes there), a last piece of one byte.
        for (piece, len) in [
            (k, 2 * k),
            (k, 2 * k + 1),
            (k, 3 * k),
            (k, 5 * k - 7),
            (4 * k, 8 * k),
            (4 * k, 9 * k + 1),
            (4 * k, 16 * k + 1),
            (4 * k, 17 * k),
            (8 * k, 63 * k + 511),
            (8 * k, 100 * k),
            (2 * k, 333 * k + 333),
        ] {
            let content = body(len);
            let (_dir, f) = file_of(&content);
            for threads in [1, 2, 3, 8] {
                let got = digest(&f, len as u64, piece as u64, threads, None).unwrap();
                assert_eq!(
                    got,
                    *blake3::hash(&content).as_bytes(),
                    "piece {piece}, length {len}, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn finds_a_secret_in_any_piece_and_across_a_seam() {
        let piece = 4 * blake3::CHUNK_LEN;
        let key = b"-----BEGIN OPENSSH PRIVATE KEY-----";
        for at in [
            0,
            piece - 5,      // across the first seam
            3 * piece - 20, // across a later one
            5 * piece + 9,  // inside the last, partial piece
        ] {
            let mut content = body(5 * piece + 100);
            content[at..at + key.len()].copy_from_slice(key);
            let (_dir, f) = file_of(&content);
            let mut scan = ContentScan::default();
            let got = digest(&f, content.len() as u64, piece as u64, 2, Some(&mut scan)).unwrap();
            assert_eq!(scan.found(), Some("contains a private key"), "key at {at}");
            assert_eq!(got, *blake3::hash(&content).as_bytes());
        }
        let content = body(5 * piece + 100);
        let (_dir, f) = file_of(&content);
        let mut scan = ContentScan::default();
        digest(&f, content.len() as u64, piece as u64, 2, Some(&mut scan)).unwrap();
        assert_eq!(scan.found(), None);
    }

    #[test]
    fn a_file_shorter_than_announced_is_an_error() {
        let piece = blake3::CHUNK_LEN;
        let content = body(3 * piece);
        let (_dir, f) = file_of(&content);
        let err = digest(&f, 4 * piece as u64, piece as u64, 2, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("copy it again"), "{err}");
    }

    #[test]
    fn small_files_stay_on_one_thread() {
        assert_eq!(threads_for(0), 1);
        assert_eq!(threads_for(2 * PIECE - 1), 1);
        assert!(threads_for(64 * PIECE) <= MOST_THREADS);
    }
}

//! Reading a file's content for a transfer, on either side: its BLAKE3
//! (and, when asked, the secret scan) in one pass, and the header that
//! announces it. Plain `Read`, no sockets.

use std::{
    fs::{File, Metadata},
    io::{self, Read},
    os::unix::fs::{MetadataExt, PermissionsExt},
};

use super::{
    filter::ContentScan,
    parallel_digest,
    wire::{CHUNK, FileHeader},
};

/// Read `r` to its end, feeding every chunk to `hasher` and to `scan` if
/// given; returns the number of bytes read.
pub fn read_into(
    r: &mut impl Read,
    hasher: &mut blake3::Hasher,
    mut scan: Option<&mut ContentScan>,
) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut len = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(len);
        }
        hasher.update(&buf[..n]);
        if let Some(scan) = scan.as_deref_mut() {
            scan.feed(&buf[..n]);
        }
        len += n as u64;
    }
}

/// The BLAKE3 of everything `r` still holds.
pub fn hash(r: &mut impl Read) -> io::Result<[u8; 32]> {
    let mut hasher = blake3::Hasher::new();
    read_into(r, &mut hasher, None)?;
    Ok(*hasher.finalize().as_bytes())
}

/// The header announcing `file` (with `rel` left empty for the caller),
/// hashing its whole content and scanning it if `scan` is given; a large
/// file in pieces on several threads at once ([`parallel_digest`]).
pub fn header(file: &mut File, scan: Option<&mut ContentScan>) -> io::Result<FileHeader> {
    let meta = file.metadata()?;
    let threads = parallel_digest::threads_for(meta.len());
    let hash = if threads > 1 {
        parallel_digest::digest(file, meta.len(), parallel_digest::PIECE, threads, scan)?
    } else {
        let mut hasher = blake3::Hasher::new();
        read_into(file, &mut hasher, scan)?;
        *hasher.finalize().as_bytes()
    };
    Ok(with_metadata(&meta, meta.len(), hash))
}

/// The header of a file whose whole `content` was read into memory
/// (`meta` is the file's), scanning it if `scan` is given.
pub fn header_of(meta: &Metadata, content: &[u8], scan: Option<&mut ContentScan>) -> FileHeader {
    if let Some(scan) = scan {
        scan.feed(content);
    }
    with_metadata(
        meta,
        content.len() as u64,
        *blake3::hash(content).as_bytes(),
    )
}

fn with_metadata(meta: &Metadata, size: u64, hash: [u8; 32]) -> FileHeader {
    FileHeader {
        rel: String::new(),
        size,
        mode: meta.permissions().mode() & 0o777,
        mtime_ms: meta.mtime() * 1000 + meta.mtime_nsec() / 1_000_000,
        hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_scans_in_one_pass() {
        let mut body = vec![b'x'; 3 * CHUNK + 5];
        body.extend_from_slice(b"-----BEGIN RSA PRIVATE KEY-----");
        let mut hasher = blake3::Hasher::new();
        let mut scan = ContentScan::default();
        let len = read_into(&mut body.as_slice(), &mut hasher, Some(&mut scan)).unwrap();
        assert_eq!(len, body.len() as u64);
        assert_eq!(hasher.finalize(), blake3::hash(&body));
        assert_eq!(scan.found(), Some("contains a private key"));
        assert_eq!(
            hash(&mut body.as_slice()).unwrap(),
            *blake3::hash(&body).as_bytes()
        );
        // Read into memory first: the same header, the same finding.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, &body).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let mut scan = ContentScan::default();
        let in_memory = header_of(&meta, &body, Some(&mut scan));
        assert_eq!(scan.found(), Some("contains a private key"));
        let streamed = header(&mut File::open(&path).unwrap(), None).unwrap();
        assert_eq!(
            (
                in_memory.size,
                in_memory.mode,
                in_memory.mtime_ms,
                in_memory.hash
            ),
            (
                streamed.size,
                streamed.mode,
                streamed.mtime_ms,
                streamed.hash
            )
        );
    }

    #[test]
    fn a_large_file_gets_the_same_header_from_its_pieces() {
        use crate::files::parallel_digest::{PIECE, threads_for};
        let len = 2 * PIECE as usize + 12_345;
        let mut body: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
        let at = PIECE as usize - 9; // across the first seam
        body[at..at + 31].copy_from_slice(b"-----BEGIN RSA PRIVATE KEY-----");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, &body).unwrap();
        assert!(
            threads_for(len as u64) > 1 || std::thread::available_parallelism().unwrap().get() == 1
        );
        let mut scan = ContentScan::default();
        let h = header(&mut File::open(&path).unwrap(), Some(&mut scan)).unwrap();
        assert_eq!(
            (h.size, h.hash),
            (len as u64, *blake3::hash(&body).as_bytes())
        );
        assert_eq!(scan.found(), Some("contains a private key"));
    }
}

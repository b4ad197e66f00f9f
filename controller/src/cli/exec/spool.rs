//! One VM's captured output for `--group` and `--json`: held in memory up
//! to [`IN_MEMORY`], then spilled to an unlinked temporary file, so a VM
//! writing gigabytes costs disk, not memory. Written out again in pieces:
//! raw, or as a JSON string (base64 when the bytes are not UTF-8).

use std::io::{self, Read, Seek, Write};

/// Output kept in memory before spilling to disk.
pub const IN_MEMORY: usize = 256 * 1024;
const PIECE: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct Spool {
    memory: Vec<u8>,
    file: Option<std::fs::File>,
    len: u64,
}

impl Spool {
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.len += bytes.len() as u64;
        if let Some(f) = &mut self.file {
            return f.write_all(bytes);
        }
        if self.memory.len() + bytes.len() <= IN_MEMORY {
            self.memory.extend_from_slice(bytes);
            return Ok(());
        }
        let mut f = tempfile::tempfile()?;
        f.write_all(&self.memory)?;
        f.write_all(bytes)?;
        self.memory = Vec::new();
        self.file = Some(f);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Visit the bytes in order, in pieces.
    pub fn each_piece(&mut self, mut visit: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        match &mut self.file {
            None => visit(&self.memory),
            Some(f) => {
                f.rewind()?;
                let mut buf = vec![0u8; PIECE];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    visit(&buf[..n])?;
                }
            }
        }
    }

    pub fn is_utf8(&mut self) -> io::Result<bool> {
        let mut carry: Vec<u8> = Vec::new();
        let mut valid = true;
        self.each_piece(|piece| {
            if valid {
                carry.extend_from_slice(piece);
                match std::str::from_utf8(&carry) {
                    Ok(_) => carry.clear(),
                    Err(e) if e.error_len().is_none() => {
                        carry.drain(..e.valid_up_to());
                    }
                    Err(_) => valid = false,
                }
            }
            Ok(())
        })?;
        Ok(valid && carry.is_empty())
    }

    /// Write the bytes as a JSON string; for bytes that [`Self::is_utf8`]
    /// accepts (anything else goes out with [`Self::write_base64`]).
    pub fn write_json_string(&mut self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(b"\"")?;
        let mut carry: Vec<u8> = Vec::new();
        self.each_piece(|piece| {
            carry.extend_from_slice(piece);
            let upto = match std::str::from_utf8(&carry) {
                Ok(_) => carry.len(),
                Err(e) => e.valid_up_to(),
            };
            let text = std::str::from_utf8(&carry[..upto]).expect("checked");
            let quoted = serde_json::to_string(text).map_err(io::Error::other)?;
            out.write_all(&quoted.as_bytes()[1..quoted.len() - 1])?;
            carry.drain(..upto);
            Ok(())
        })?;
        out.write_all(b"\"")
    }

    pub fn write_base64(&mut self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(b"\"")?;
        let mut carry: Vec<u8> = Vec::new();
        self.each_piece(|piece| {
            carry.extend_from_slice(piece);
            let whole = carry.len() / 3 * 3;
            out.write_all(base64(&carry[..whole]).as_bytes())?;
            carry.drain(..whole);
            Ok(())
        })?;
        out.write_all(base64(&carry).as_bytes())?;
        out.write_all(b"\"")
    }
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    fn spooled(bytes: &[u8], chunk: usize) -> Spool {
        let mut s = Spool::default();
        for c in bytes.chunks(chunk.max(1)) {
            s.write(c).unwrap();
        }
        s
    }

    #[test]
    fn big_output_spills_to_disk_and_comes_back_whole() {
        let text: String = "héllo wörld ✓\n\"quoted\"\t".repeat(40_000);
        let mut s = spooled(text.as_bytes(), 1000);
        assert!(s.file.is_some(), "spilled");
        assert!(s.memory.is_empty());
        assert!(s.is_utf8().unwrap());
        let mut json = Vec::new();
        s.write_json_string(&mut json).unwrap();
        let back: String = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn binary_output_is_base64() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(IN_MEMORY + 7).collect();
        let mut s = spooled(&bytes, 4096);
        assert!(!s.is_utf8().unwrap());
        let mut out = Vec::new();
        s.write_base64(&mut out).unwrap();
        let encoded: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(encoded, base64(&bytes));
        let mut raw = Vec::new();
        s.each_piece(|p| {
            raw.extend_from_slice(p);
            Ok(())
        })
        .unwrap();
        assert_eq!(raw, bytes);
    }
}

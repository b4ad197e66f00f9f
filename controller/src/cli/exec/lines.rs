//! Cut one VM's output stream into lines for prefixed printing. Pure: bytes
//! in, whole lines out, so chunks that split a line (or a UTF-8 character)
//! anywhere print as if they had arrived whole.
//!
//! A line longer than [`MAX_PARTIAL`] is printed in pieces, each with the
//! prefix, so a command writing a gigabyte without a newline still streams
//! in bounded memory.

/// Longest partial line held back waiting for its newline.
pub const MAX_PARTIAL: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Feed a chunk; `emit` gets each complete line without its newline.
    pub fn push(&mut self, mut chunk: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some(nl) = chunk.iter().position(|b| *b == b'\n') {
            if self.partial.is_empty() {
                emit(&chunk[..nl]);
            } else {
                self.partial.extend_from_slice(&chunk[..nl]);
                emit(&self.partial);
                self.partial.clear();
            }
            chunk = &chunk[nl + 1..];
        }
        self.partial.extend_from_slice(chunk);
        while self.partial.len() >= MAX_PARTIAL {
            let rest = self.partial.split_off(MAX_PARTIAL);
            emit(&self.partial);
            self.partial = rest;
        }
    }

    /// The stream ended: a last line without a newline, if any.
    pub fn finish(&mut self, emit: impl FnOnce(&[u8])) {
        if !self.partial.is_empty() {
            emit(&self.partial);
            self.partial.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |l| out.push(l.to_vec()));
        }
        s.finish(|l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn lines_survive_any_chunking() {
        let text = b"alpha\nbeta gamma\n\ndelta";
        let whole = split(&[text]);
        assert_eq!(
            whole,
            vec![
                b"alpha".to_vec(),
                b"beta gamma".to_vec(),
                vec![],
                b"delta".to_vec()
            ]
        );
        for cut in 0..text.len() {
            assert_eq!(split(&[&text[..cut], &text[cut..]]), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(split(&bytes), whole);
    }

    #[test]
    fn endless_lines_come_out_in_bounded_pieces() {
        let big = vec![b'x'; MAX_PARTIAL * 2 + 10];
        let mut s = LineSplitter::default();
        let mut pieces = Vec::new();
        for c in big.chunks(1000) {
            s.push(c, |l| pieces.push(l.len()));
            assert!(s.partial.len() < MAX_PARTIAL);
        }
        s.finish(|l| pieces.push(l.len()));
        assert_eq!(pieces, vec![MAX_PARTIAL, MAX_PARTIAL, 10]);
    }
}

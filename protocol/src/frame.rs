//! Length-prefixed frames: a 4-byte big-endian length, then that many bytes
//! of postcard payload.
//!
//! The decoder is a pure state machine: push bytes in, take whole frames out.
//! It checks the announced length against a hard limit *before* buffering the
//! payload, so a peer cannot make us allocate more than the limit. A decoder
//! that has returned an error is poisoned: the stream it reads is no longer in
//! sync and must be closed.
//!
//! Not here: what a frame means (see [`crate::message`]) or any I/O.

use thiserror::Error;

/// Bytes in the length prefix.
pub const HEADER_LEN: usize = 4;

/// Hard limit for control-stream frames. Certificates and CSRs are ~1 KiB;
/// the headroom is for fleet listings and process tables.
pub const MAX_CONTROL_FRAME: usize = 1024 * 1024;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {len} bytes is over the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("stream ended in the middle of a frame ({buffered} bytes buffered)")]
    Truncated { buffered: usize },
    #[error("decoder already failed; the stream must be closed")]
    Poisoned,
}

/// Encode one frame: length prefix plus payload.
pub fn encode(payload: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    if payload.len() > max {
        return Err(FrameError::TooLarge {
            len: payload.len(),
            max,
        });
    }
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Incremental frame decoder.
#[derive(Debug)]
pub struct FrameDecoder {
    max: usize,
    buf: Vec<u8>,
    poisoned: bool,
}

impl FrameDecoder {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            buf: Vec::new(),
            poisoned: false,
        }
    }

    /// The limit this decoder enforces.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Enforce `max` from the next frame on (a peer that has
    /// authenticated may send larger frames than one that has not).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// Append received bytes. Returns an error as soon as a header announces
    /// a frame over the limit, without buffering its payload.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if self.poisoned {
            return Err(FrameError::Poisoned);
        }
        self.buf.extend_from_slice(bytes);
        self.check_header()
    }

    /// Take the next whole frame, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        self.next_frame_with(<[u8]>::to_vec)
    }

    /// [`Self::next_frame`], with the payload lent to `f` instead of
    /// copied out: bulk data goes from the decoder's buffer straight to
    /// where it is used.
    pub fn next_frame_with<R>(
        &mut self,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, FrameError> {
        if self.poisoned {
            return Err(FrameError::Poisoned);
        }
        self.check_header()?;
        let Some(len) = self.announced_len() else {
            return Ok(None);
        };
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let r = f(&self.buf[HEADER_LEN..HEADER_LEN + len]);
        self.buf.drain(..HEADER_LEN + len);
        self.check_header()?;
        Ok(Some(r))
    }

    /// Call when the stream has ended: an incomplete frame is an error.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.poisoned {
            return Err(FrameError::Poisoned);
        }
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FrameError::Truncated {
                buffered: self.buf.len(),
            })
        }
    }

    /// How many more bytes the decoder needs before the next frame can be
    /// complete (at least 1). Lets a reader avoid over-reading.
    pub fn wanted(&self) -> usize {
        match self.announced_len() {
            None => HEADER_LEN - self.buf.len(),
            Some(len) => (HEADER_LEN + len).saturating_sub(self.buf.len()).max(1),
        }
    }

    fn announced_len(&self) -> Option<usize> {
        let header: [u8; HEADER_LEN] = self.buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(u32::from_be_bytes(header) as usize)
    }

    fn check_header(&mut self) -> Result<(), FrameError> {
        if let Some(len) = self.announced_len()
            && len > self.max
        {
            self.poisoned = true;
            self.buf = Vec::new();
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_split_anywhere() {
        let a = encode(b"hello", 64).unwrap();
        let b = encode(b"", 64).unwrap();
        let c = encode(&[7u8; 40], 64).unwrap();
        let all: Vec<u8> = [a, b, c].concat();
        for split in 0..all.len() {
            let mut d = FrameDecoder::new(64);
            d.push(&all[..split]).unwrap();
            let mut got = Vec::new();
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
            d.push(&all[split..]).unwrap();
            while let Some(f) = d.next_frame_with(|p| p.to_vec()).unwrap() {
                got.push(f);
            }
            assert_eq!(got, vec![b"hello".to_vec(), vec![], vec![7u8; 40]]);
            d.finish().unwrap();
        }
    }

    #[test]
    fn oversized_header_is_refused_before_payload_arrives() {
        let mut d = FrameDecoder::new(16);
        let err = d.push(&(17u32).to_be_bytes()).unwrap_err();
        assert_eq!(err, FrameError::TooLarge { len: 17, max: 16 });
        assert_eq!(d.push(b"x"), Err(FrameError::Poisoned));
        assert!(encode(&[0; 17], 16).is_err());
    }

    #[test]
    fn truncated_stream_is_reported() {
        let mut d = FrameDecoder::new(16);
        d.push(&[0, 0, 0, 5, 1, 2]).unwrap();
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.wanted(), 3);
        assert_eq!(d.finish(), Err(FrameError::Truncated { buffered: 6 }));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Arbitrary bytes, fed in arbitrary chunks: the decoder never panics,
        /// never yields a frame over the limit, and never buffers more than
        /// one header plus one maximal frame.
        #[test]
        fn arbitrary_bytes_never_break_the_decoder(
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
            chunk in 1usize..300,
            max in 0usize..2048,
        ) {
            let mut d = FrameDecoder::new(max);
            'outer: for piece in bytes.chunks(chunk) {
                if d.push(piece).is_err() { break; }
                prop_assert!(d.buf.len() <= HEADER_LEN + max + chunk);
                loop {
                    match d.next_frame() {
                        Ok(Some(f)) => prop_assert!(f.len() <= max),
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    }
                }
            }
        }

        /// Any sequence of frames under the limit decodes back exactly.
        #[test]
        fn frames_round_trip(
            frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20),
            chunk in 1usize..64,
        ) {
            let wire: Vec<u8> = frames.iter().flat_map(|f| encode(f, 200).unwrap()).collect();
            let mut d = FrameDecoder::new(200);
            let mut got = Vec::new();
            for piece in wire.chunks(chunk) {
                d.push(piece).unwrap();
                while let Some(f) = d.next_frame().unwrap() { got.push(f); }
            }
            d.finish().unwrap();
            prop_assert_eq!(got, frames);
        }
    }
}

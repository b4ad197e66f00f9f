//! The bounds of a manifest (see [`super::wire`]), checked by the agent as
//! each part arrives and kept by the sender when it cuts parts, so that a
//! hostile sender cannot make the agent hold more than a few MiB for one
//! stream, and no two entries of a stream can land on the same file.
//!
//! - At most [`MAX_ENTRIES`] files on one stream, in parts of at most
//!   [`MAX_PART`] files and [`MAX_PART_BYTES`] of paths; a sender with
//!   more files opens more streams. Over a limit, the stream is refused.
//! - At most [`MAX_FILE_SIZE`] bytes in one file (ext4's largest file);
//!   over it, that file is refused and the stream goes on.
//! - Each path once: a path named twice, or two paths that differ only in
//!   Unicode normalisation (`é` as one code point or as `e` and a
//!   combining accent, which a Mac writes and Linux keeps apart), has the
//!   second refused.
//!
//! Not here: what the file system holds (the agent's `files` module).

use std::collections::HashMap;

use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use super::{
    path::check_relative,
    wire::{Answer, FileHeader, Refusal},
};

/// Files on one stream.
pub const MAX_ENTRIES: usize = 100_000;
/// Files in one `Manifest` frame.
pub const MAX_PART: usize = 2048;
/// Path bytes in one `Manifest` frame (its frame holds them and at most
/// 60 bytes more per file, within `MAX_FILES_FRAME`).
pub const MAX_PART_BYTES: usize = 160 * 1024;
/// Path bytes held for one stream, to find names given twice.
pub const MAX_STREAM_BYTES: usize = 16 << 20;
/// Largest file accepted: 16 TiB.
pub const MAX_FILE_SIZE: u64 = 1 << 44;
/// Longest reason given for one refused file, in bytes: a reason quotes
/// the path, which an escaped control character makes six times longer.
pub const MAX_REASON: usize = 1024;
/// Bytes of answers or outcomes put in one frame, within
/// `MAX_FILES_FRAME`: a part whose answers need more gets several
/// `Answers` frames.
pub const FRAME_BUDGET: usize = 256 * 1024;

/// A refusal whose reason is at most [`MAX_REASON`] bytes.
pub fn refusal(reason: String, blocked: bool) -> Refusal {
    let mut reason = reason;
    if reason.len() > MAX_REASON {
        let mut end = MAX_REASON - 3;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push_str("...");
    }
    Refusal { reason, blocked }
}

/// Bytes an answer or outcome takes in a frame, at most.
pub fn weight(refused: Option<&Refusal>) -> usize {
    16 + refused.map_or(0, |r| r.reason.len() + 4)
}

/// A part's answers cut into frames of at most [`FRAME_BUDGET`] bytes.
pub fn answer_frames(answers: Vec<Answer>) -> Vec<Vec<Answer>> {
    let mut frames = vec![Vec::new()];
    let mut bytes = 0;
    for a in answers {
        let w = weight(match &a {
            Answer::Refused(r) => Some(r),
            _ => None,
        });
        if bytes + w > FRAME_BUDGET {
            frames.push(Vec::new());
            bytes = 0;
        }
        bytes += w;
        frames.last_mut().expect("a frame").push(a);
    }
    frames
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ManifestError {
    #[error("a manifest part of {0} files; at most {MAX_PART} in one part")]
    PartTooLong(usize),
    #[error("a manifest part with {0} bytes of paths; at most {MAX_PART_BYTES}")]
    PartTooBig(usize),
    #[error("more than {MAX_ENTRIES} files on one stream; open another stream for the rest")]
    TooManyFiles,
    #[error(
        "more than {MAX_STREAM_BYTES} bytes of paths on one stream; open another stream for the rest"
    )]
    TooManyBytes,
}

/// What one stream's manifests have named so far.
#[derive(Default)]
pub struct Seen {
    /// Paths in normalisation form C, and as they were given.
    names: HashMap<String, String>,
    entries: usize,
    bytes: usize,
}

impl Seen {
    /// Check a part as a whole; on an error the stream must end.
    pub fn part(&mut self, files: &[FileHeader]) -> Result<(), ManifestError> {
        if files.len() > MAX_PART {
            return Err(ManifestError::PartTooLong(files.len()));
        }
        let bytes: usize = files.iter().map(|f| f.rel.len()).sum();
        if bytes > MAX_PART_BYTES {
            return Err(ManifestError::PartTooBig(bytes));
        }
        self.entries += files.len();
        self.bytes += bytes;
        if self.entries > MAX_ENTRIES {
            return Err(ManifestError::TooManyFiles);
        }
        if self.bytes > MAX_STREAM_BYTES {
            return Err(ManifestError::TooManyBytes);
        }
        Ok(())
    }

    /// Check one file of a part already checked; `Err` refuses that file.
    pub fn entry(&mut self, h: &FileHeader) -> Result<(), String> {
        check_relative(&h.rel).map_err(|e| e.to_string())?;
        if h.size > MAX_FILE_SIZE {
            return Err(format!(
                "{} declares {} bytes; the largest file taken is {MAX_FILE_SIZE} bytes (16 TiB)",
                h.rel, h.size
            ));
        }
        let key: String = h.rel.nfc().collect();
        match self.names.get(&key) {
            Some(first) if *first == h.rel => Err(format!(
                "{} is named twice in one copy; only the first is taken",
                h.rel
            )),
            Some(first) => Err(format!(
                "{} names the same file as {} once Unicode is normalised (NFC); \
                 rename one of them",
                h.rel.escape_debug(),
                first.escape_debug()
            )),
            None => {
                self.names.insert(key, h.rel.clone());
                Ok(())
            }
        }
    }
}

/// Whether a part of `count` files and `bytes` of paths has room for one
/// more file named `rel` (for the sender, cutting its parts).
pub fn fits(count: usize, bytes: usize, rel: &str) -> bool {
    count < MAX_PART && bytes + rel.len() <= MAX_PART_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(rel: &str, size: u64) -> FileHeader {
        FileHeader {
            rel: rel.into(),
            size,
            mode: 0o644,
            mtime_ms: 0,
            hash: [0; 32],
        }
    }

    #[test]
    fn each_bound_is_held() {
        let mut seen = Seen::default();
        let many: Vec<_> = (0..=MAX_PART).map(|i| h(&format!("f{i}"), 1)).collect();
        assert_eq!(
            seen.part(&many).unwrap_err(),
            ManifestError::PartTooLong(MAX_PART + 1)
        );
        let long = "a".repeat(4000);
        let fat: Vec<_> = (0..50).map(|_| h(&long, 1)).collect();
        assert!(matches!(
            seen.part(&fat).unwrap_err(),
            ManifestError::PartTooBig(_)
        ));
        let mut seen = Seen::default();
        let part: Vec<_> = (0..MAX_PART).map(|i| h(&format!("f{i}"), 1)).collect();
        for _ in 0..MAX_ENTRIES / MAX_PART {
            seen.part(&part).unwrap();
        }
        assert_eq!(seen.part(&part).unwrap_err(), ManifestError::TooManyFiles);
        let mut seen = Seen::default();
        let part: Vec<_> = (0..40).map(|_| h(&long, 1)).collect();
        let err = (0..200).find_map(|_| seen.part(&part).err()).unwrap();
        assert_eq!(err, ManifestError::TooManyBytes);
    }

    #[test]
    fn a_file_too_big_a_bad_path_or_a_name_given_twice_is_refused_alone() {
        let mut seen = Seen::default();
        seen.entry(&h("a/b", MAX_FILE_SIZE)).unwrap();
        let err = seen.entry(&h("big", 1 << 63)).unwrap_err();
        assert!(err.contains("9223372036854775808 bytes"), "{err}");
        assert!(seen.entry(&h("../x", 1)).unwrap_err().contains("leaves"));
        let err = seen.entry(&h("a/b", 1)).unwrap_err();
        assert!(err.contains("named twice"), "{err}");
        // é as one code point, then as e + combining acute accent.
        seen.entry(&h("caf\u{e9}", 1)).unwrap();
        let err = seen.entry(&h("cafe\u{301}", 1)).unwrap_err();
        assert!(err.contains("normalised"), "{err}");
        // And the other way round.
        let mut seen = Seen::default();
        seen.entry(&h("cafe\u{301}", 1)).unwrap();
        let err = seen.entry(&h("caf\u{e9}", 1)).unwrap_err();
        assert!(err.contains("normalised"), "{err}");
    }

    #[test]
    fn the_largest_part_fits_in_one_frame() {
        let long = "p".repeat(MAX_PART_BYTES / MAX_PART);
        let files: Vec<_> = (0..MAX_PART)
            .map(|_| FileHeader {
                rel: long.clone(),
                size: u64::MAX,
                mode: u32::MAX,
                mtime_ms: i64::MIN,
                hash: [0xff; 32],
            })
            .collect();
        let frame = super::super::wire::Inbound::Manifest { files, eager: true };
        let bytes = postcard::to_stdvec(&frame).unwrap();
        assert!(
            bytes.len() <= super::super::wire::MAX_FILES_FRAME,
            "{}",
            bytes.len()
        );
    }

    #[test]
    fn answers_with_the_longest_reasons_still_fit_their_frames() {
        let long = refusal("\\u{1}".repeat(4096), false);
        assert!(long.reason.len() <= MAX_REASON && long.reason.ends_with("..."));
        // Cut on a character boundary.
        let wide = refusal("é".repeat(MAX_REASON), true);
        assert!(wide.reason.len() <= MAX_REASON && wide.blocked);
        let answers = vec![Answer::Refused(long); MAX_PART];
        let frames = answer_frames(answers);
        assert!(frames.len() > 1);
        assert_eq!(frames.iter().map(Vec::len).sum::<usize>(), MAX_PART);
        for f in frames {
            let bytes = postcard::to_stdvec(&super::super::wire::Outbound::Answers(f)).unwrap();
            assert!(bytes.len() <= super::super::wire::MAX_FILES_FRAME);
        }
        assert_eq!(
            answer_frames(vec![Answer::Have; 3]),
            vec![vec![Answer::Have; 3]]
        );
    }

    #[test]
    fn a_sender_cutting_parts_by_fits_stays_within_them() {
        let (mut count, mut bytes) = (0, 0);
        let rel = "x".repeat(100);
        while fits(count, bytes, &rel) {
            count += 1;
            bytes += rel.len();
        }
        assert!(count <= MAX_PART && bytes <= MAX_PART_BYTES);
    }
}

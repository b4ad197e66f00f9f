//! The frames of a file stream. The controller opens it with
//! [`crate::stream::Query::Files`]; for [`FilesOp::Receive`] it then sends
//! [`Inbound`] frames and the agent answers with [`Outbound`] frames:
//!
//! ```text
//! → Query::Files(Receive at ROOT)      ← Opened { root }
//! → File(header)                       ← SendFrom { offset } | Have | Refused
//! → Data … (size - offset bytes)       ← Stored | Refused
//! → File(next) …                       …
//! → End                                (the agent finishes the stream)
//! ```
//!
//! For [`FilesOp::Send`] the roles turn round:
//!
//! ```text
//! → Query::Files(Send at ROOT)         ← Opened { root }
//!                                      ← Offer(header) | Passed
//! → Want { offset } | Skip             ← Data … (size - offset bytes)
//!                                      ← Offer(next) … End
//! ```
//!
//! `SendFrom { offset > 0 }` is a resumed transfer: an earlier run left a
//! partial file, which the agent keeps under a name derived from the
//! file's hash beside the destination; the final hash covers every byte.
//!
//! That exchange costs a round trip per file per stream. A sender that
//! finds `files/manifest` among the agent's capabilities sends a folder by
//! manifest instead (see [`super::manifest`] for the bounds), in a number
//! of round trips that does not grow with the number of files:
//!
//! ```text
//! → Query::Files(Receive at ROOT)
//! → Manifest { files, eager: false }   ← Opened { root }
//! → Manifest { … } …                   ← Answers (one per file, in order,
//!                                        in as many frames as they need)
//! → Data … (the bytes of every file    ← Answers …
//!   answered SendFrom, from its offset,
//!   back to back; a frame may hold the
//!   end of one file and the start of
//!   the next)
//! → Remove([rel…])                     ← Removed (one per path)
//! → End                                ← Done [(index, outcome)…] per group
//!                                        commit … (the agent finishes)
//! ```
//!
//! A copy from a VM whose agent announces `files/manifest-send` goes the
//! same way turned round ([`FilesOp::SendByManifest`]):
//!
//! ```text
//! → Query::Files(SendByManifest)       ← Opened { root }, Passed …
//!                                      ← Offers([header…])   (a part)
//!                                      ← Offers(…) …         (up to three
//!                                        parts ahead of their answers)
//! → Wants([offset or none…]) per part  ← Data … (every wanted file's
//!                                        bytes from its offset, back to
//!                                        back, as above)
//!                                      ← Offers … End
//! ```
//!
//! The receiver checks each part as the agent checks a manifest (the
//! bounds of [`super::manifest`], over all of a copy's shards). An agent
//! with more files to give than one copy's manifests may name offers them
//! one by one instead.
//!
//! Manifests and data interleave freely: the sender may announce the next
//! files while the data of earlier ones is still on its way, and the
//! agent answers each manifest as it reads it. An `eager` manifest's data
//! follows it without waiting for the answers (every byte of every file
//! in it, from offset 0, whatever the answer): a few small files, where
//! a round trip costs more than sending what might not be needed. Its
//! files that are already there or refused have their bytes read and
//! dropped. `index` counts files across every manifest on the stream.
//! All enums are append-only.

use serde::{Deserialize, Serialize};

use crate::message::Tagged;

/// Capability an agent announces when it takes and gives files.
pub const CAP_FILES: &str = "files/1";
/// Capability an agent announces when it takes files by manifest.
pub const CAP_MANIFEST: &str = "files/manifest";
/// Capability an agent announces when it gives files by manifest
/// ([`FilesOp::SendByManifest`]).
pub const CAP_MANIFEST_SEND: &str = "files/manifest-send";
/// Most streams one copy by manifest is shared across.
pub const MAX_SHARDS: u16 = 16;

/// Largest data chunk in one frame.
pub const CHUNK: usize = 256 * 1024;
/// Largest frame on a file stream.
pub const MAX_FILES_FRAME: usize = CHUNK + 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesRequest {
    /// A folder on the VM: absolute, `~` or `~/…` (the VM user's home).
    pub root: String,
    pub op: FilesOp,
    /// Who asked, for the audit log.
    pub requested_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilesOp {
    /// Take files into `root` (created if missing).
    Receive,
    /// Give the file `root`, or with `recursive` the folder `root` and
    /// everything below it (symlinks, devices and the like are skipped).
    Send { recursive: bool },
    /// As `Send`, offering the files by part (`Offers`), answered by part
    /// (`Wants`): of the files found, in their sorted order, those whose
    /// place modulo `shards` is `shard`, so that several streams share
    /// one copy (each stream's window is the receiver's to bound; the
    /// streams together fill a long link). Shard 0 also says what was
    /// passed over.
    SendByManifest {
        recursive: bool,
        shard: u16,
        shards: u16,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHeader {
    /// Relative to the root, `/` between names (see [`super::path`]).
    pub rel: String,
    pub size: u64,
    /// Permission bits (0o777 at most; set-id bits are never kept).
    pub mode: u32,
    /// Modification time, milliseconds since the Unix epoch.
    pub mtime_ms: i64,
    /// BLAKE3 of the whole content.
    pub hash: [u8; 32],
}

/// Controller → agent. Append only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Inbound {
    File(FileHeader),
    Data(#[serde(with = "serde_bytes")] Vec<u8>),
    End,
    /// For an offered file: send it from this byte on.
    Want {
        offset: u64,
    },
    /// For an offered file: not needed.
    Skip,
    /// [`FilesOp::Receive`]: remove this file or folder (a mirrored
    /// deletion, `sync --watch`); answered with `Deleted` or `Refused`.
    Delete {
        rel: String,
    },
    /// [`FilesOp::Receive`]: the next files, answered with `Answers`
    /// frames holding one answer per file in all.
    Manifest {
        files: Vec<FileHeader>,
        /// The data follows without waiting for the answers.
        eager: bool,
    },
    /// [`FilesOp::Receive`]: remove these files or folders; answered with
    /// one `Removed`.
    Remove(Vec<String>),
    /// [`FilesOp::SendByManifest`]: for each file of the oldest part not
    /// answered yet, in order, the byte to send it from, or `None`: not
    /// needed.
    Wants(Vec<Option<u64>>),
}

impl Tagged for Inbound {
    const KNOWN_TYPES: u32 = 9;
}

/// Why a file was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub reason: String,
    /// By the security filter.
    pub blocked: bool,
}

/// The agent's answer to one file of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// Send it from this byte on (0 for an eager manifest).
    SendFrom(u64),
    /// The destination already holds this content and mode.
    Have,
    Refused(Refusal),
}

/// How one file whose data was sent ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    /// Its place among every manifest's files on the stream.
    pub index: u32,
    /// `None`: written, checked, durable and in place.
    pub refused: Option<Refusal>,
}

/// Agent → controller. Append only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outbound {
    /// The root is usable; here it is as the agent resolved it.
    Opened {
        root: String,
    },
    /// Send the announced file from this byte on.
    SendFrom {
        offset: u64,
    },
    /// The destination already holds this content and mode: skipped.
    Have,
    /// Written, checked and renamed into place.
    Stored,
    /// This file was not taken (the stream goes on); `blocked`: by the
    /// security filter.
    Refused {
        reason: String,
        blocked: bool,
    },
    /// The whole stream failed (bad root, bad frame).
    Failed {
        reason: String,
    },
    /// [`FilesOp::Send`]: here is a file; `rel` is relative to the root's
    /// parent for a folder (`DIR/a/b`), the file's name for a file.
    Offer(FileHeader),
    Data(#[serde(with = "serde_bytes")] Vec<u8>),
    /// [`FilesOp::Send`]: this entry was not offered, and why.
    Passed {
        rel: String,
        reason: String,
    },
    /// [`FilesOp::Send`]: everything was offered.
    End,
    /// The entry named by `Delete` is gone (or was not there).
    Deleted,
    /// Answers to the files of a `Manifest`, in its order; the next
    /// frame of them goes on where this one stops.
    Answers(Vec<Answer>),
    /// Files made durable together (one group commit), or refused once
    /// their data had come.
    Done(Vec<Done>),
    /// One per path of a `Remove`: `None` when it is gone (or was not
    /// there), else why not.
    Removed(Vec<Option<String>>),
    /// [`FilesOp::SendByManifest`]: the next part of the files offered.
    Offers(Vec<FileHeader>),
}

impl Tagged for Outbound {
    const KNOWN_TYPES: u32 = 15;
}

/// The bytes of an `Inbound::Data` frame, read in place (`None` for any
/// other frame, or one not encoded as postcard itself would, which the
/// caller then decodes the ordinary way): a file's content is most of
/// what crosses, and this spares it a copy and an allocation per chunk.
pub fn inbound_data(frame: &[u8]) -> Option<&[u8]> {
    let (tag, rest) = varint(frame)?;
    if tag != INBOUND_DATA {
        return None;
    }
    let (len, bytes) = varint(rest)?;
    (bytes.len() as u64 == len).then_some(bytes)
}

/// The variant index postcard gives `Inbound::Data`.
const INBOUND_DATA: u64 = 1;

/// A canonical LEB128 varint of at most 64 bits and what follows it.
fn varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f).checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            // An overlong form (a final zero byte) is left to postcard.
            return (i == 0 || byte != 0).then_some((value, &b[i + 1..]));
        }
    }
    None
}

/// The header of an `Inbound::Data` frame of `len` bytes, as
/// `transport::send` would frame it; the bytes follow it.
pub fn inbound_data_header(len: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(16);
    put_varint(&mut body, INBOUND_DATA);
    put_varint(&mut body, len as u64);
    let mut out = ((body.len() + len) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Permission bits kept from a sender's mode.
pub fn kept_mode(mode: u32) -> u32 {
    mode & 0o777
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{DecodeError, decode_tagged};

    #[test]
    fn frames_round_trip_and_unknown_tags_are_named() {
        let f = Inbound::Data(vec![1, 2, 3]);
        let bytes = postcard::to_stdvec(&f).unwrap();
        assert_eq!(bytes.len(), 5, "bytes are sent as bytes, not a list");
        assert_eq!(decode_tagged::<Inbound>(&bytes).unwrap(), f);
        assert_eq!(
            decode_tagged::<Outbound>(&[15]).unwrap_err(),
            DecodeError::UnknownType { tag: 15, known: 15 }
        );
        assert_eq!(kept_mode(0o104755), 0o755);
    }

    #[test]
    fn data_read_in_place_is_exactly_what_postcard_decodes() {
        for len in [0usize, 1, 127, 128, 16_383, 16_384, CHUNK] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let inbound = postcard::to_stdvec(&Inbound::Data(bytes.clone())).unwrap();
            assert_eq!(inbound_data(&inbound), Some(&bytes[..]), "{len}");
            // Another message's data is not taken for it.
            let outbound = postcard::to_stdvec(&Outbound::Data(bytes.clone())).unwrap();
            assert_eq!(inbound_data(&outbound), None);
            // The header made here frames the same bytes transport would.
            let framed =
                crate::message::encode_frame(&Inbound::Data(bytes.clone()), MAX_FILES_FRAME)
                    .unwrap();
            let mut made = inbound_data_header(len);
            made.extend_from_slice(&bytes);
            assert_eq!(made, framed, "{len}");
        }
        // Anything else is left to the ordinary decoder.
        let end = postcard::to_stdvec(&Inbound::End).unwrap();
        assert_eq!(inbound_data(&end), None);
        let mut short = postcard::to_stdvec(&Inbound::Data(vec![1, 2, 3])).unwrap();
        short.pop();
        assert_eq!(inbound_data(&short), None);
        let mut long = postcard::to_stdvec(&Inbound::Data(vec![1, 2, 3])).unwrap();
        long.push(0);
        assert_eq!(inbound_data(&long), None);
        // An overlong length (3 as 0x83 0x00) is not taken in place.
        assert_eq!(inbound_data(&[1, 0x83, 0x00, 1, 2, 3]), None);
        assert_eq!(inbound_data(&[]), None);
    }
}

//! Giving files by manifest (`FilesOp::SendByManifest`, see
//! `azlin_protocol::files::wire`): the files found are hashed a part at a
//! time and offered as one `Offers` frame per part, up to [`AHEAD`] parts
//! before their answers; as each part's `Wants` comes, the bytes of every
//! file wanted follow back to back from the offset asked, small files
//! packed into whole frames. So a folder of many files costs a few round
//! trips, not one per file.
//!
//! Not here: finding the files and what may be given (`offer`, which
//! also offers one by one to an older controller).

use std::{
    collections::VecDeque,
    fs::File,
    io::{Read, Seek, SeekFrom},
};

use azlin_protocol::{
    files::{
        manifest,
        wire::{CHUNK, FileHeader, Inbound, MAX_FILES_FRAME, Outbound},
    },
    transport::{self, FramedRecv, StreamError},
};

use super::offer::{Found, describe};

/// Parts offered before the oldest is answered: the controller's answers
/// to the next parts come back while a part's data is on its way.
const AHEAD: usize = 3;
/// Most files in one part.
const PART_FILES: usize = 1024;

/// A part offered: each file open, with the header it was offered by.
type Part = Vec<(File, FileHeader)>;

pub(super) async fn by_manifest(
    found: Vec<Found>,
    send: &mut quinn::SendStream,
    recv: &mut FramedRecv,
) -> Result<(), StreamError> {
    let mut rest = found.into_iter().peekable();
    let mut pending: VecDeque<Part> = VecDeque::new();
    let mut out = Packer::default();
    loop {
        while pending.len() < AHEAD && rest.peek().is_some() {
            let mut batch = Vec::new();
            let mut bytes = 0;
            while let Some(f) = rest.peek() {
                if batch.len() >= PART_FILES || !manifest::fits(batch.len(), bytes, &f.rel) {
                    break;
                }
                bytes += f.rel.len();
                batch.push(rest.next().expect("peeked"));
            }
            let described = tokio::task::spawn_blocking(move || {
                batch
                    .into_iter()
                    .map(|f| {
                        let d = describe(&f.dir, &f.name);
                        (f.rel, d)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| StreamError::Protocol(format!("hashing failed: {e}")))?;
            let mut part = Vec::new();
            for (rel, d) in described {
                match d {
                    Ok((file, mut header)) => {
                        header.rel = rel;
                        part.push((file, header));
                    }
                    Err(reason) => {
                        let passed = Outbound::Passed { rel, reason };
                        transport::send(send, &passed, MAX_FILES_FRAME).await?;
                    }
                }
            }
            if part.is_empty() {
                continue;
            }
            let headers = part.iter().map(|(_, h)| h.clone()).collect();
            transport::send(send, &Outbound::Offers(headers), MAX_FILES_FRAME).await?;
            pending.push_back(part);
        }
        let Some(part) = pending.pop_front() else {
            return Ok(());
        };
        let wants = match recv.tagged::<Inbound>().await? {
            Some(Inbound::Wants(w)) if w.len() == part.len() => w,
            Some(Inbound::Wants(w)) => {
                return Err(StreamError::Protocol(format!(
                    "{} answers for a part of {} files",
                    w.len(),
                    part.len()
                )));
            }
            other => {
                return Err(StreamError::Protocol(format!(
                    "expected the answers to a part, got {other:?}"
                )));
            }
        };
        for ((mut file, h), want) in part.into_iter().zip(wants) {
            let Some(offset) = want else { continue };
            if offset > h.size {
                return Err(StreamError::Protocol(format!(
                    "asked for {} from byte {offset} of {}",
                    h.rel, h.size
                )));
            }
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| StreamError::Protocol(format!("cannot seek {}: {e}", h.rel)))?;
            let mut left = h.size - offset;
            while left > 0 {
                let n = out.fill(&mut file, left);
                if n == 0 {
                    // The file shrank after it was hashed: the bytes owed
                    // cannot be sent, and every later file's would be
                    // out of place.
                    let reason = format!("{} changed while it was sent; copy it again", h.rel);
                    let _ =
                        transport::send(send, &Outbound::Failed { reason }, MAX_FILES_FRAME).await;
                    return Err(StreamError::Closed);
                }
                left -= n as u64;
                if out.full() {
                    out.flush(send).await?;
                }
            }
        }
        out.flush(send).await?;
    }
}

/// Bytes gathered into whole frames.
#[derive(Default)]
struct Packer {
    buf: Vec<u8>,
}

impl Packer {
    /// Read at most `left` bytes of `file` into the frame being made;
    /// how many (0: the file ended).
    fn fill(&mut self, file: &mut File, left: u64) -> usize {
        let start = self.buf.len();
        let room = (CHUNK - start).min(usize::try_from(left).unwrap_or(usize::MAX));
        self.buf.resize(start + room, 0);
        let n = loop {
            match file.read(&mut self.buf[start..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.unwrap_or(0),
            }
        };
        self.buf.truncate(start + n);
        n
    }

    fn full(&self) -> bool {
        self.buf.len() >= CHUNK
    }

    async fn flush(&mut self, send: &mut quinn::SendStream) -> Result<(), StreamError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = Outbound::Data(std::mem::take(&mut self.buf));
        transport::send(send, &data, MAX_FILES_FRAME).await
    }
}

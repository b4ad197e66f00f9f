//! A VM's files by manifest (`FilesOp::SendByManifest`), written into a
//! folder on this machine: each part the VM offers is checked as an agent
//! checks a manifest (the bounds of `azlin_protocol::files::manifest`,
//! then every name), answered from what the folder already holds (have
//! it, resume a partial, or want it whole), and the bytes that follow are
//! cut back into the files wanted, in order, each written as
//! [`super::local_write`] writes one. Files are made durable a batch at a
//! time ([`local_write::commit`]: one flush, the renames, each folder
//! once), and count as written only then.
//!
//! The names come from the VM: a hostile VM cannot make this machine
//! write outside the folder, nor make it hold more than one part's open
//! files per part it is owed.
//!
//! Not here: the stream itself (the daemon's `fetch` handler).

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use anyhow::{Result, bail};
use azlin_protocol::files::{
    manifest::Seen,
    wire::{FileHeader, MAX_FILES_FRAME},
};

use super::local_write::{self, Prepared, Sealed, Writer};
use crate::ipc::files::CopyReport;

/// Files checked and whole that wait for one group commit at most.
const BATCH: usize = 256;

/// One file whose bytes are owed.
struct Owed {
    header: FileHeader,
    writer: Writer,
    left: u64,
    /// Where its bytes started (for the report).
    offset: u64,
    /// A write failed: its remaining bytes are read and dropped.
    failed: Option<String>,
}

/// Receiving one stream's parts into `dir`.
pub struct FetchParts {
    dir: PathBuf,
    rename: Option<String>,
    /// Shared by a copy's shards: names and bounds over all of them.
    seen: Arc<Mutex<Seen>>,
    /// The files owed, oldest part first, in order.
    owed: VecDeque<Owed>,
    /// Checked and whole, waiting for the next group commit.
    sealed: Vec<(FileHeader, u64, Sealed)>,
}

impl FetchParts {
    /// Into `dir`, the first name of each path replaced by `rename`, the
    /// names checked against those `seen` on the copy's other streams.
    pub fn new(dir: &Path, rename: Option<String>, seen: Arc<Mutex<Seen>>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            rename,
            seen,
            owed: VecDeque::new(),
            sealed: Vec::new(),
        }
    }

    /// The folder written into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A name from the VM with its first name replaced, if asked.
    pub fn rename(&self, rel: &str) -> String {
        renamed(rel, self.rename.as_deref())
    }

    /// The answers to a part, in its order: the byte to send each file
    /// from, or `None`. A part past the bounds ends the copy.
    pub async fn answer(
        &mut self,
        files: Vec<FileHeader>,
        report: &mut CopyReport,
    ) -> Result<Vec<Option<u64>>> {
        let mut checked = Vec::with_capacity(files.len());
        {
            let mut seen = self.seen.lock().expect("seen lock");
            if let Err(e) = seen.part(&files) {
                bail!("the VM offered {e}");
            }
            for mut h in files {
                h.rel = renamed(&h.rel, self.rename.as_deref());
                match seen.entry(&h) {
                    Ok(()) => checked.push(Ok(h)),
                    Err(why) => checked.push(Err((h.rel, format!("refused from the VM: {why}")))),
                }
            }
        }
        let dir = self.dir.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            checked
                .into_iter()
                .map(|c| c.map(|h| (local_write::prepare(&dir, &h), h)))
                .collect::<Vec<_>>()
        })
        .await?;
        let mut wants = Vec::with_capacity(prepared.len());
        let mut complete = Vec::new();
        for p in prepared {
            match p {
                Err((rel, why)) => {
                    report.failed.push((rel, why));
                    wants.push(None);
                }
                Ok((Ok(Prepared::Have), _)) => {
                    report.unchanged += 1;
                    wants.push(None);
                }
                Ok((Err(e), h)) => {
                    report.failed.push((h.rel, format!("{e:#}")));
                    wants.push(None);
                }
                Ok((Ok(Prepared::Write(writer)), header)) => {
                    let offset = writer.offset;
                    wants.push(Some(offset));
                    let owed = Owed {
                        left: header.size - offset.min(header.size),
                        header,
                        writer,
                        offset,
                        failed: None,
                    };
                    if owed.left == 0 && self.owed.is_empty() {
                        complete.push(owed);
                    } else {
                        self.owed.push_back(owed);
                    }
                }
            }
        }
        for owed in complete {
            self.finish(owed, report).await?;
        }
        Ok(wants)
    }

    /// Bytes of the files owed, in order.
    pub async fn data(&mut self, mut bytes: &[u8], report: &mut CopyReport) -> Result<()> {
        if bytes.len() > MAX_FILES_FRAME {
            bail!("the VM sent a frame larger than allowed");
        }
        loop {
            // Files with nothing (more) to come are done as they are reached.
            while self.owed.front().is_some_and(|o| o.left == 0) {
                let owed = self.owed.pop_front().expect("checked");
                self.finish(owed, report).await?;
            }
            if bytes.is_empty() {
                return Ok(());
            }
            let Some(owed) = self.owed.front_mut() else {
                bail!("the VM sent data no file was owed");
            };
            let n = usize::try_from(owed.left)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            if owed.failed.is_none()
                && let Err(e) = owed.writer.write(&bytes[..n])
            {
                owed.failed = Some(format!("cannot write: {e:#}"));
            }
            owed.left -= n as u64;
            bytes = &bytes[n..];
        }
    }

    /// The VM said it has sent everything: every file owed must have come.
    pub async fn end(mut self, report: &mut CopyReport) -> Result<()> {
        while self.owed.front().is_some_and(|o| o.left == 0) {
            let owed = self.owed.pop_front().expect("checked");
            self.finish(owed, report).await?;
        }
        if let Some(owed) = self.owed.front() {
            bail!(
                "the VM stopped sending {} part way; run the copy again to resume",
                owed.header.rel
            );
        }
        self.commit(report).await
    }

    async fn finish(&mut self, owed: Owed, report: &mut CopyReport) -> Result<()> {
        if let Some(why) = owed.failed {
            report.failed.push((owed.header.rel, why));
            return Ok(());
        }
        let Owed {
            header,
            writer,
            offset,
            ..
        } = owed;
        // Checking the hash and setting the mode and time are quick; the
        // flush is what waits, once per batch.
        match writer.seal(&header) {
            Ok(sealed) => self.sealed.push((header, offset, sealed)),
            Err(e) => report.failed.push((header.rel, format!("{e:#}"))),
        }
        if self.sealed.len() >= BATCH {
            self.commit(report).await?;
        }
        Ok(())
    }

    /// Make the sealed files durable and put them in place (one group
    /// commit); only then do they count.
    async fn commit(&mut self, report: &mut CopyReport) -> Result<()> {
        let (done, sealed): (Vec<_>, Vec<_>) = std::mem::take(&mut self.sealed)
            .into_iter()
            .map(|(h, offset, s)| ((h, offset), s))
            .unzip();
        let results = tokio::task::spawn_blocking(move || local_write::commit(sealed)).await?;
        for ((h, offset), result) in done.into_iter().zip(results) {
            match result {
                Ok(()) => report.stored(h.size - offset, offset),
                Err(e) => report.failed.push((h.rel, format!("{e:#}"))),
            }
        }
        Ok(())
    }
}

/// `rel` with its first name replaced by `rename`, if given.
pub fn renamed(rel: &str, rename: Option<&str>) -> String {
    match (rename, rel.split_once('/')) {
        (Some(new), Some((_, rest))) => format!("{new}/{rest}"),
        (Some(new), None) => new.to_string(),
        (None, _) => rel.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(rel: &str, content: &[u8]) -> FileHeader {
        FileHeader {
            rel: rel.into(),
            size: content.len() as u64,
            mode: 0o640,
            mtime_ms: 1_700_000_000_000,
            hash: *blake3::hash(content).as_bytes(),
        }
    }

    #[test]
    fn renaming_replaces_the_first_name_only() {
        assert_eq!(renamed("dir/a/b", Some("new")), "new/a/b");
        assert_eq!(renamed("file.txt", Some("other.txt")), "other.txt");
        assert_eq!(renamed("dir/a", None), "dir/a");
    }

    #[tokio::test]
    async fn parts_are_cut_back_into_files_and_bad_names_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let mut report = CopyReport::default();
        let mut parts = FetchParts::new(tmp.path(), None, Default::default());
        let files = vec![
            h("d/a", b"hello"),
            h("d/empty", b""),
            h("d/../../escape", b"x"),
            h("d/b", b"world!"),
            h("d/a", b"again"),
        ];
        let wants = parts.answer(files, &mut report).await.unwrap();
        // The escape and the repeated name are refused, not wanted.
        assert_eq!(wants, [Some(0), Some(0), None, Some(0), None]);
        assert_eq!(report.failed.len(), 2, "{:?}", report.failed);
        // One frame ends `a` and starts `b`; the rest of `b` follows.
        parts.data(b"hellowor", &mut report).await.unwrap();
        parts.data(b"ld!", &mut report).await.unwrap();
        // More than was owed is refused.
        assert!(parts.data(b"extra", &mut report).await.is_err());
        parts.end(&mut report).await.unwrap();
        assert_eq!(std::fs::read(tmp.path().join("d/a")).unwrap(), b"hello");
        assert_eq!(std::fs::read(tmp.path().join("d/b")).unwrap(), b"world!");
        assert_eq!(std::fs::read(tmp.path().join("d/empty")).unwrap(), b"");
        assert_eq!((report.sent, report.bytes), (3, 11));
        assert!(!tmp.path().parent().unwrap().join("escape").exists());
    }

    #[tokio::test]
    async fn a_stream_that_stops_part_way_is_an_error_and_a_bad_hash_a_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let mut report = CopyReport::default();
        let mut parts = FetchParts::new(tmp.path(), None, Default::default());
        let mut lying = h("x", b"truth");
        lying.hash = [0; 32];
        let wants = parts
            .answer(vec![lying, h("y", b"long content")], &mut report)
            .await
            .unwrap();
        assert_eq!(wants, [Some(0), Some(0)]);
        parts.data(b"truthlong", &mut report).await.unwrap();
        let err = parts.end(&mut report).await.unwrap_err();
        assert!(
            err.to_string().contains("stopped sending y part way"),
            "{err}"
        );
        assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
        assert!(report.failed[0].1.contains("BLAKE3"), "{:?}", report.failed);
        assert!(!tmp.path().join("x").exists());
        // A part past the bounds ends the copy.
        let mut parts = FetchParts::new(tmp.path(), None, Default::default());
        let many: Vec<FileHeader> = (0..=azlin_protocol::files::manifest::MAX_PART)
            .map(|i| h(&format!("f{i}"), b""))
            .collect();
        assert!(parts.answer(many, &mut report).await.is_err());
    }
}

//! Group commit of received files. A file whose content is whole and
//! checked waits here, as the partial beside its destination, until its
//! data is on disk; only then is it renamed over its destination, and the
//! folder made durable, and only then is the sender told it is stored.
//!
//! One flush serves every file waiting at that moment: one `syncfs` per
//! file system (the data of all of them; a file alone gets its own fsync)
//! before any rename, then the renames, then one fsync per folder. The
//! destination name still only ever holds a whole file that is on disk,
//! and nothing is acknowledged before it is durable; but files arriving on
//! several streams at once share their flushes instead of paying two
//! journal commits each. While one flush runs, the next files queue up
//! for the next.
//!
//! Not here: receiving, checking and resuming files ([`super::receive`]).

use std::{
    collections::BTreeMap,
    fs::File,
    os::fd::{AsFd, OwnedFd},
    sync::Arc,
};

use nix::{
    fcntl::renameat,
    sys::stat::fstat,
    unistd::{fsync, syncfs},
};
use tokio::sync::{mpsc, oneshot};

/// A received file ready to be put in place.
pub struct Pending {
    pub file: File,
    pub dir: Arc<OwnedFd>,
    pub partial: String,
    pub name: String,
}

type Waiting = (Pending, oneshot::Sender<Result<(), String>>);

/// The flusher of one connection's received files.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::UnboundedSender<Waiting>,
}

impl Committer {
    /// Start the flusher on the current runtime; it ends with the last
    /// clone of the committer.
    pub fn start() -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Waiting>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let (files, answers): (Vec<Pending>, Vec<_>) = batch.into_iter().unzip();
                let count = files.len();
                let results = tokio::task::spawn_blocking(move || flush(files))
                    .await
                    .unwrap_or_else(|e| vec![Err(format!("the flush failed: {e}")); count]);
                for (answer, result) in answers.into_iter().zip(results) {
                    let _ = answer.send(result);
                }
            }
        });
        Self { tx }
    }

    /// Put `p` in place durably; returns once it is (or why it is not).
    pub async fn commit(&self, p: Pending) -> Result<(), String> {
        let (answer, wait) = oneshot::channel();
        self.tx
            .send((p, answer))
            .map_err(|_| "the agent is shutting down".to_string())?;
        wait.await
            .unwrap_or_else(|_| Err("the agent is shutting down".into()))
    }
}

/// Make `files` durable and put them in place; one result each, in order.
fn flush(files: Vec<Pending>) -> Vec<Result<(), String>> {
    // 1. Their data on disk: one syncfs per file system, or the file's own
    // fsync when it is alone there (syncfs would also wait for everybody
    // else's dirty data, which a lone large file should not).
    let devices: Vec<Result<u64, String>> = files
        .iter()
        .map(|p| {
            fstat(p.file.as_fd())
                .map(|st| st.st_dev)
                .map_err(|e| e.to_string())
        })
        .collect();
    let mut per_device: BTreeMap<u64, usize> = BTreeMap::new();
    for dev in devices.iter().flatten() {
        *per_device.entry(*dev).or_default() += 1;
    }
    let mut synced: BTreeMap<u64, Result<(), String>> = BTreeMap::new();
    let mut results: Vec<Result<(), String>> = files
        .iter()
        .zip(&devices)
        .map(|(p, dev)| {
            let dev = dev.clone()?;
            if per_device[&dev] == 1 {
                return fsync(&p.file).map_err(|e| format!("fsync: {e}"));
            }
            synced
                .entry(dev)
                .or_insert_with(|| syncfs(p.file.as_fd()).map_err(|e| format!("syncfs: {e}")))
                .clone()
        })
        .collect();
    // 2. Only then the renames, and 3. each folder once.
    let mut folders: BTreeMap<(u64, u64), Vec<usize>> = BTreeMap::new();
    for (i, p) in files.iter().enumerate() {
        if results[i].is_err() {
            continue;
        }
        let renamed = renameat(&p.dir, p.partial.as_str(), &p.dir, p.name.as_str())
            .map_err(|e| e.to_string())
            .and_then(|()| fstat(p.dir.as_fd()).map_err(|e| e.to_string()));
        match renamed {
            Ok(st) => folders.entry((st.st_dev, st.st_ino)).or_default().push(i),
            Err(e) => results[i] = Err(e),
        }
    }
    for members in folders.values() {
        if let Err(e) = fsync(&files[members[0]].dir) {
            for &i in members {
                results[i] = Err(format!("fsync of the folder: {e}"));
            }
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn pending(dir: &std::path::Path, name: &str, content: &[u8]) -> Pending {
        let partial = format!(".{name}.partial");
        let mut file = File::create(dir.join(&partial)).unwrap();
        file.write_all(content).unwrap();
        Pending {
            file,
            dir: Arc::new(File::open(dir).unwrap().into()),
            partial,
            name: name.into(),
        }
    }

    #[test]
    fn one_flush_puts_every_file_in_place_and_reports_each() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        // A folder where a file should go: that rename fails, alone.
        std::fs::create_dir(b.join("taken")).unwrap();
        std::fs::write(b.join("taken/inside"), b"x").unwrap();
        let results = flush(vec![
            pending(&a, "one", b"1"),
            pending(&b, "taken", b"2"),
            pending(&a, "three", b"3"),
            pending(&b, "four", b"4"),
        ]);
        assert!(results[0].is_ok() && results[2].is_ok() && results[3].is_ok());
        assert!(results[1].is_err(), "{results:?}");
        assert_eq!(std::fs::read(a.join("one")).unwrap(), b"1");
        assert_eq!(std::fs::read(a.join("three")).unwrap(), b"3");
        assert_eq!(std::fs::read(b.join("four")).unwrap(), b"4");
        assert!(a.join(".one.partial").metadata().is_err());
        // The refused one keeps its partial and leaves the folder alone.
        assert!(b.join(".taken.partial").exists());
        assert!(b.join("taken/inside").exists());
    }

    #[tokio::test]
    async fn many_files_committed_at_once_all_land() {
        let tmp = tempfile::tempdir().unwrap();
        let committer = Committer::start();
        let mut commits = tokio::task::JoinSet::new();
        for i in 0..50 {
            let (committer, p) = (
                committer.clone(),
                pending(tmp.path(), &format!("f{i}"), b"data"),
            );
            commits.spawn(async move { committer.commit(p).await });
        }
        for r in commits.join_all().await {
            r.unwrap();
        }
        for i in 0..50 {
            assert_eq!(
                std::fs::read(tmp.path().join(format!("f{i}"))).unwrap(),
                b"data"
            );
        }
    }
}

//! What a batch of file-system events means for a mirror (`sync
//! --watch`): which files to send again and which names to remove on the
//! VMs. Paths are looked at as they are now, so a file written, renamed
//! or deleted several times within one batch is sent or removed once, in
//! its final state.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use azlin_protocol::files::filter::{Filter, Verdict};

use super::plan::{Plan, PlannedFile};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub plan: Plan,
    pub deletes: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.plan.files.is_empty() && self.deletes.is_empty()
    }
}

/// Turn changed `paths` below `root` into sends and deletes for a mirror
/// rooted at `dest` on the VMs.
pub fn changes(
    root: &Path,
    dest: &str,
    paths: impl IntoIterator<Item = PathBuf>,
    filter: &Filter,
) -> Changes {
    let mut out = Changes {
        plan: Plan {
            root: dest.to_string(),
            ..Plan::default()
        },
        deletes: Vec::new(),
    };
    let mut seen = BTreeSet::new();
    for path in paths {
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().into_owned();
        if rel.is_empty() || !seen.insert(rel.clone()) {
            continue;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => match filter.by_name(&rel) {
                Verdict::Send => out.plan.files.push(PlannedFile { local: path, rel }),
                Verdict::Blocked(why) => out.plan.blocked.push((rel, why)),
                Verdict::Skipped(why) => out.plan.skipped.push((rel, why)),
            },
            Ok(m) if m.is_dir() => {
                // A folder moved in or created with files: send what is in it.
                let mut inner = Plan::default();
                if walk_into(&path, &format!("{rel}/"), filter, &mut inner).is_ok() {
                    for f in inner.files {
                        if seen.insert(f.rel.clone()) {
                            out.plan.files.push(f);
                        }
                    }
                    out.plan.blocked.extend(inner.blocked);
                    out.plan.skipped.extend(inner.skipped);
                }
            }
            Ok(_) => {}
            // Gone: removed or renamed away. A secret's name is never sent,
            // not even to delete it (it was never there).
            Err(_) => {
                if matches!(filter.by_name(&rel), Verdict::Send) {
                    out.deletes.push(rel);
                }
            }
        }
    }
    out
}

fn walk_into(dir: &Path, prefix: &str, filter: &Filter, plan: &mut Plan) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let rel = format!("{prefix}{}", e.file_name().to_string_lossy());
        let kind = e.file_type()?;
        if kind.is_dir() {
            walk_into(&e.path(), &format!("{rel}/"), filter, plan)?;
        } else if kind.is_file() {
            match filter.by_name(&rel) {
                Verdict::Send => plan.files.push(PlannedFile {
                    local: e.path(),
                    rel,
                }),
                Verdict::Blocked(why) => plan.blocked.push((rel, why)),
                Verdict::Skipped(why) => plan.skipped.push((rel, why)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_becomes_sends_and_deletes_in_its_final_state() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::create_dir_all(root.join("moved/in")).unwrap();
        std::fs::write(root.join("moved/in/b.txt"), "b").unwrap();
        std::fs::write(root.join("id_rsa.pem"), "k").unwrap();
        let paths = [
            root.join("a.txt"),
            root.join("a.txt"),
            root.join("moved"),
            root.join("gone.txt"),
            root.join("id_rsa.pem"),
            root.join(".env"),
            PathBuf::from("/elsewhere/x"),
        ];
        let c = changes(root, "~/proj", paths, &Filter::default());
        let sends: Vec<&str> = c.plan.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(sends, vec!["a.txt", "moved/in/b.txt"]);
        assert_eq!(c.deletes, vec!["gone.txt"]);
        assert_eq!(c.plan.blocked.len(), 1);
        assert_eq!(c.plan.root, "~/proj");
    }
}

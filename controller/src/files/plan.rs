//! Which local files a copy to a VM sends, and under which names.
//!
//! Destination folder and names follow `cp`/`scp`/rsync habits:
//! - one file to `VM:path` without a trailing `/`: the file is `path`;
//! - files to `VM:dir/` (or several sources): each goes to `dir/NAME`;
//! - `-r DIR`: to `dir/DIR/…`; `-r DIR/` (trailing slash): DIR's contents
//!   to `dir/…`.
//!
//! Symlinks are not followed (a link inside a folder is skipped and
//! reported, as rsync without `-L` would not copy its target); only
//! regular files are sent.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use azlin_protocol::files::filter::{EXCLUDE_FILE, Filter, Verdict};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFile {
    /// Absolute path on this machine.
    pub local: PathBuf,
    /// Relative to the destination folder, `/` between names.
    pub rel: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The destination folder on the VM (absolute or `~`-based).
    pub root: String,
    pub files: Vec<PlannedFile>,
    /// Not sent, and why: (relative name, reason).
    pub blocked: Vec<(String, String)>,
    pub skipped: Vec<(String, String)>,
}

/// Plan sending `sources` (local paths) to `dest` on a VM.
pub fn plan(sources: &[PathBuf], dest: &str, recursive: bool, force: bool) -> Result<Plan> {
    if sources.is_empty() {
        bail!("nothing to copy: give at least one source");
    }
    let single_file = sources.len() == 1 && !dest.ends_with('/') && sources[0].is_file();
    let (root, rename) = if single_file {
        match dest.rsplit_once('/') {
            Some((dir, name)) if !name.is_empty() && name != "~" => (
                if dir.is_empty() {
                    "/".into()
                } else {
                    dir.to_string()
                },
                Some(name.to_string()),
            ),
            _ => (dest.to_string(), None),
        }
    } else {
        (dest.trim_end_matches('/').to_string(), None)
    };
    let root = if root.is_empty() {
        "/".to_string()
    } else {
        root
    };
    let mut p = Plan {
        root,
        ..Plan::default()
    };
    for src in sources {
        let meta = std::fs::symlink_metadata(src)
            .with_context(|| format!("cannot read {}", src.display()))?;
        let abs = std::path::absolute(src)?;
        if meta.is_dir() {
            if !recursive {
                bail!("{} is a folder: use -r to copy folders", src.display());
            }
            let contents_only = src.as_os_str().to_string_lossy().ends_with('/');
            let prefix = if contents_only {
                String::new()
            } else {
                format!("{}/", name_of(&abs)?)
            };
            let mut filter = Filter {
                force,
                ..Filter::default()
            };
            if let Ok(text) = std::fs::read_to_string(abs.join(EXCLUDE_FILE)) {
                filter = filter.with_excludes(&text);
            }
            walk(&abs, &prefix, &filter, &mut p)?;
        } else if meta.is_file() {
            let name = rename.clone().unwrap_or(name_of(&abs)?);
            let filter = Filter {
                force,
                ..Filter::default()
            };
            // A single file is judged by its own name and where it goes.
            let judged = format!("{}/{name}", p.root.trim_start_matches("~/"));
            consider(
                &filter,
                &judged,
                PlannedFile {
                    local: abs,
                    rel: name,
                },
                &mut p,
            );
        } else {
            bail!("{} is not a regular file or folder", src.display());
        }
    }
    Ok(p)
}

fn name_of(path: &Path) -> Result<String> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("a source needs a file or folder name")
}

fn consider(filter: &Filter, judged: &str, file: PlannedFile, p: &mut Plan) {
    match filter.by_name(judged) {
        Verdict::Send => p.files.push(file),
        Verdict::Blocked(why) => p.blocked.push((file.rel, why)),
        Verdict::Skipped(why) => p.skipped.push((file.rel, why)),
    }
}

fn walk(dir: &Path, prefix: &str, filter: &Filter, p: &mut Plan) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read folder {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let kind = e.file_type()?;
        if kind.is_dir() {
            // A skipped folder is reported once, not file by file.
            match filter.by_name(&format!("{rel}/x")) {
                Verdict::Skipped(why) if is_folder_pattern(&why) => {
                    p.skipped.push((format!("{rel}/"), why));
                }
                _ => walk(&e.path(), &format!("{rel}/"), filter, p)?,
            }
        } else if kind.is_file() {
            consider(
                filter,
                &rel,
                PlannedFile {
                    local: e.path(),
                    rel: rel.clone(),
                },
                p,
            );
        } else {
            p.skipped
                .push((rel, "not a regular file (symlink, device or socket)".into()));
        }
    }
    Ok(())
}

fn is_folder_pattern(why: &str) -> bool {
    why.contains("/**")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_cp_and_rsync_habits() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("proj");
        std::fs::create_dir_all(proj.join("src")).unwrap();
        std::fs::create_dir_all(proj.join("node_modules/x")).unwrap();
        std::fs::write(proj.join("src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(proj.join("node_modules/x/i.js"), "x").unwrap();
        std::fs::write(proj.join(".env"), "SECRET=1").unwrap();
        std::fs::write(proj.join("build.log"), "log").unwrap();
        std::fs::write(proj.join(EXCLUDE_FILE), "*.log\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", proj.join("link")).unwrap();

        let p = plan(std::slice::from_ref(&proj), "~/work", true, false).unwrap();
        assert_eq!(p.root, "~/work");
        let rels: Vec<&str> = p.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["proj/.azlin-sync-exclude", "proj/src/main.rs"]);
        assert_eq!(p.blocked.len(), 1);
        assert_eq!(p.blocked[0].0, "proj/.env");
        let skipped: Vec<&str> = p.skipped.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(
            skipped,
            vec!["proj/build.log", "proj/link", "proj/node_modules/"]
        );

        let mut contents = proj.clone().into_os_string();
        contents.push("/");
        let p = plan(&[contents.into()], "~/work/", true, true).unwrap();
        let rels: Vec<&str> = p.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            rels,
            vec![".azlin-sync-exclude", "node_modules/x/i.js", "src/main.rs"]
        );

        let file = proj.join("src/main.rs");
        let p = plan(std::slice::from_ref(&file), "~/renamed.rs", false, false).unwrap();
        assert_eq!(
            (p.root.as_str(), p.files[0].rel.as_str()),
            ("~", "renamed.rs")
        );
        let p = plan(std::slice::from_ref(&file), "/tmp/dir/", false, false).unwrap();
        assert_eq!(
            (p.root.as_str(), p.files[0].rel.as_str()),
            ("/tmp/dir", "main.rs")
        );
        let e = plan(&[proj], "~/x", false, false).unwrap_err();
        assert!(e.to_string().contains("-r"), "{e}");
        let key = dir.path().join("id_rsa.pem");
        std::fs::write(&key, "k").unwrap();
        let p = plan(&[key], "~/", false, true).unwrap();
        assert!(
            p.files.is_empty() && p.blocked.len() == 1,
            "--force never sends secrets"
        );
    }
}

//! Editing `/etc/fstab` text for shared storage, pure: add azlin's line
//! for an export at a folder (idempotent: the same line twice is one
//! line), remove exactly the lines mounting that export at that folder,
//! and leave every other line, comment and blank as it was. A folder that
//! `fstab` already mounts something else at is refused, never replaced.
//!
//! Not here: reading or writing the file (atomic, in `super`).

use azlin_protocol::mount::fstab_line;

/// The `(source, folder)` of an `fstab` line, if it mounts something.
fn fields(line: &str) -> Option<(&str, &str)> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let mut words = trimmed.split_whitespace();
    Some((words.next()?, words.next()?))
}

fn joined(lines: &[&str]) -> String {
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// `text` with azlin's line for `export` at `dir`: `Ok(None)` when it is
/// there already; `Err` naming what `fstab` mounts at `dir` instead.
pub fn with_line(text: &str, export: &str, dir: &str) -> Result<Option<String>, String> {
    let ours = fstab_line(export, dir);
    let mut lines: Vec<&str> = text.lines().collect();
    let mut present = false;
    for line in &lines {
        match fields(line) {
            Some((source, at)) if at == dir && source == export => {
                present |= line.trim() == ours;
                if line.trim() != ours {
                    return Err(format!(
                        "/etc/fstab mounts {export} at {dir} with other options already; \
                         unmount it first"
                    ));
                }
            }
            Some((source, at)) if at == dir => {
                return Err(format!(
                    "/etc/fstab mounts {source} at {dir} already; choose another --path"
                ));
            }
            _ => {}
        }
    }
    if present {
        return Ok(None);
    }
    lines.push(&ours);
    Ok(Some(joined(&lines)))
}

/// `text` without the lines mounting `export` at `dir`, and how many
/// there were.
pub fn without_line(text: &str, export: &str, dir: &str) -> (String, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let kept: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| fields(l) != Some((export, dir)))
        .collect();
    let removed = lines.len() - kept.len();
    (
        if kept.is_empty() {
            String::new()
        } else {
            joined(&kept)
        },
        removed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "# /etc/fstab: static file system information.\n\
        UUID=abc / ext4 defaults 0 1\n\
        \n\
        other:/data /mnt/data nfs4 defaults 0 0\n";

    #[test]
    fn a_line_is_added_once_and_others_are_kept() {
        let once = with_line(BASE, "srv:/home", "/home/dev").unwrap().unwrap();
        assert!(once.starts_with(BASE), "{once}");
        assert!(once.ends_with(&format!("{}\n", fstab_line("srv:/home", "/home/dev"))));
        assert_eq!(with_line(&once, "srv:/home", "/home/dev"), Ok(None));
        // Something else at that folder, or ours with other options: refused.
        assert!(
            with_line(BASE, "srv:/home", "/mnt/data")
                .unwrap_err()
                .contains("other:/data")
        );
        let edited = once.replace("nconnect=4", "nconnect=8");
        assert!(with_line(&edited, "srv:/home", "/home/dev").is_err());
        // A file with no final newline still gets a line of its own.
        let bare = with_line("UUID=abc / ext4 defaults 0 1", "s:/h", "/h")
            .unwrap()
            .unwrap();
        assert_eq!(bare.lines().count(), 2);
    }

    #[test]
    fn removal_takes_exactly_that_export_at_that_folder() {
        let with = with_line(BASE, "srv:/home", "/home/dev").unwrap().unwrap();
        let with = format!("{with}srv:/home /mnt/elsewhere nfs4 defaults 0 0\n");
        let (without, n) = without_line(&with, "srv:/home", "/home/dev");
        assert_eq!(n, 1);
        assert!(without.contains("/mnt/elsewhere"));
        assert!(without.starts_with(BASE));
        assert_eq!(without_line(&without, "srv:/home", "/home/dev").1, 0);
        // A comment that mentions it is not a line that mounts it.
        let commented = format!("# srv:/home /home/dev nfs4\n{BASE}");
        assert_eq!(
            without_line(&commented, "srv:/home", "/home/dev"),
            (commented.clone(), 0)
        );
    }
}

//! Relative paths on the wire: what a file request may name inside the
//! root it works in. Pure string checks; the agent also checks what the
//! file system holds (symlinks, devices) when it opens each component.

use thiserror::Error;

/// Longest relative path accepted, in bytes (Linux's PATH_MAX).
pub const MAX_PATH: usize = 4096;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path is longer than {MAX_PATH} bytes")]
    TooLong,
    #[error("path {0:?} is absolute; give it relative to the destination folder")]
    Absolute(String),
    #[error("path {0:?} leaves its folder (`..`)")]
    Escapes(String),
    #[error("path {0:?} has an empty or `.` component or a NUL byte")]
    Malformed(String),
}

/// Check a `/`-separated relative path: no `..`, no absolute path, no
/// empty or `.` component, no NUL.
pub fn check_relative(rel: &str) -> Result<(), PathError> {
    if rel.is_empty() {
        return Err(PathError::Empty);
    }
    if rel.len() > MAX_PATH {
        return Err(PathError::TooLong);
    }
    if rel.starts_with('/') {
        return Err(PathError::Absolute(rel.into()));
    }
    if rel.contains('\0') {
        return Err(PathError::Malformed(rel.escape_debug().to_string()));
    }
    for c in rel.split('/') {
        match c {
            ".." => return Err(PathError::Escapes(rel.into())),
            "" | "." => return Err(PathError::Malformed(rel.into())),
            _ => {}
        }
    }
    Ok(())
}

/// The name of the partial file kept beside `name` while a file with
/// content `hash` is being written: from both, so a rerun of the same file
/// finds it and a different one does not.
pub fn partial_name(name: &str, hash: &[u8; 32]) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(name.as_bytes());
    digest.update(hash);
    let d = digest.finish();
    format!(".azlin-partial-{}", crate::enroll::hex(&d.as_ref()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        for ok in [
            "a",
            "a/b.txt",
            ".bashrc",
            "dir/.hidden/x",
            "x..y",
            "...",
            "sp ace/ü",
        ] {
            assert_eq!(check_relative(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_relative(""), Err(PathError::Empty));
        assert!(matches!(
            check_relative("/etc/passwd"),
            Err(PathError::Absolute(_))
        ));
        for bad in ["..", "../x", "a/../../x", "a/.."] {
            assert!(
                matches!(check_relative(bad), Err(PathError::Escapes(_))),
                "{bad}"
            );
        }
        for bad in ["a//b", "./a", "a/.", "a/", "a\0b"] {
            assert!(
                matches!(check_relative(bad), Err(PathError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(check_relative(&"a/".repeat(3000)), Err(PathError::TooLong));
    }
}

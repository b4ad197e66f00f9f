//! The last lines of a log file, quoted in error messages so the user sees
//! why a daemon or an agent failed without opening the file.

use std::path::Path;

/// Up to `n` last lines of `path`, oldest first; empty if it is unreadable.
pub fn last_lines(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().rev().take(n).map(String::from).collect();
    lines.reverse();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, "a\nb\nc\n").unwrap();
        assert_eq!(last_lines(&p, 2), ["b", "c"]);
        assert!(last_lines(&dir.path().join("missing"), 2).is_empty());
    }
}

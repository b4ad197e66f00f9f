//! Text that came from a VM or a file system (file names, paths, reasons),
//! made safe to print on a terminal: control characters (newline, carriage
//! return, ESC, BEL, DEL, the C1 range) and the Unicode controls that
//! reorder text (bidirectional overrides and isolates) are shown escaped
//! (`\n`, `\u{1b}`), so a name can neither move the cursor, set the window
//! title, clear the screen, fake another output line nor hide what it
//! says; everything else is kept as it is.
//!
//! Not here: `--json` output, which keeps the exact text (JSON-escaped),
//! and command output (`azlin -- CMD`, `connect`), which is the user's own
//! program talking to their terminal, as over SSH.

use std::borrow::Cow;

fn hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` as it may be printed: unchanged when it is harmless.
pub fn shown(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_could_drive_a_terminal_is_shown_escaped() {
        assert!(matches!(shown("notes/plan (v2).md"), Cow::Borrowed(_)));
        assert_eq!(shown("ünïcödé 名前"), "ünïcödé 名前");
        assert_eq!(
            shown("a\u{1b}]0;owned\u{7}b"),
            "a\\u{1b}]0;owned\\u{7}b",
            "an OSC title"
        );
        assert_eq!(shown("x\u{1b}[2J"), "x\\u{1b}[2J");
        assert_eq!(shown("f\nsent 0 files"), "f\\nsent 0 files", "a faked line");
        assert_eq!(shown("a\rb\u{7f}\u{9b}"), "a\\rb\\u{7f}\\u{9b}");
        assert_eq!(shown("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        for s in ["\u{1b}", "\n", "\u{9b}", "\u{2066}"] {
            assert!(!shown(s).chars().any(hidden), "{s:?}");
        }
    }
}

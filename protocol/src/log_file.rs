//! Log files a peer cannot write into and that cannot grow without bound:
//! the daemon's `daemon.log`, a local agent's `agent.log`, the audit logs.
//!
//! - Each write is one record (tracing writes a whole event at once; an
//!   audit record is one line): every control character in it but the
//!   final newline is escaped (`\n`, `\u{1b}`), so a string from a peer
//!   can neither forge another line nor drive the terminal of whoever
//!   reads the log, and a record longer than [`MAX_RECORD`] bytes is cut,
//!   saying how much was cut.
//! - A file that would pass `max_bytes` is rotated first: `log.1` …
//!   `log.KEEP`, the oldest dropped, so at most `(keep + 1) × max_bytes`.
//! - Files are created 0600, and an existing one is brought to 0600.
//!
//! Not here: what is logged (the callers), or log levels (tracing).

use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

/// The longest record written; the rest is cut.
pub const MAX_RECORD: usize = 16 * 1024;
/// A log's size before it is rotated, unless told otherwise.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Rotated files kept, unless told otherwise.
pub const KEEP: u32 = 5;

/// `record` as it may be written: control characters but a final newline
/// escaped, at most [`MAX_RECORD`] bytes (plus a note of what was cut).
pub fn clean_record(record: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(record);
    let (body, newline) = match text.strip_suffix('\n') {
        Some(body) => (body, true),
        None => (&*text, false),
    };
    let mut out = String::with_capacity(body.len().min(MAX_RECORD) + 32);
    let mut cut = 0usize;
    for (i, c) in body.char_indices() {
        if out.len() >= MAX_RECORD {
            cut = body.len() - i;
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    if cut > 0 {
        out.push_str(&format!(" … [{cut} bytes cut]"));
    }
    if newline {
        out.push('\n');
    }
    out.into_bytes()
}

/// Open `path` for appending, 0600 (an existing file is brought to it).
fn open(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    if file.metadata()?.permissions().mode() & 0o777 != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Shift `path` to `path.1`, `path.1` to `path.2` … dropping `path.keep`.
fn rotate(path: &Path, keep: u32) -> io::Result<()> {
    if keep == 0 {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    for n in (1..keep).rev() {
        match std::fs::rename(numbered(path, n), numbered(path, n + 1)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::rename(path, numbered(path, 1))
}

/// Append one record to the log at `path`, cleaned, rotating it first when
/// it would pass `max_bytes` (for logs written a record at a time by
/// several writers, like the audit log).
pub fn append(path: &Path, record: &[u8], max_bytes: u64, keep: u32) -> io::Result<()> {
    let record = clean_record(record);
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > 0 && size + record.len() as u64 > max_bytes {
        rotate(path, keep)?;
    }
    open(path)?.write_all(&record)
}

struct Inner {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    keep: u32,
    stderr_too: bool,
}

/// A log file one process writes through ([`Write`] takes whole records),
/// rotated as it grows. Clones write to the same file (tracing's
/// `with_writer(move || log.clone())`).
#[derive(Clone)]
pub struct RotatingLog(Arc<Mutex<Inner>>);

impl RotatingLog {
    /// The log at `path`, rotated past `max_bytes`, keeping `keep` old
    /// files. With `stderr_too`, the process's stderr is pointed at the
    /// current file too (now and after each rotation), so what bypasses
    /// the log (a panic's message) lands in it.
    pub fn open(path: &Path, max_bytes: u64, keep: u32, stderr_too: bool) -> io::Result<Self> {
        let file = open(path)?;
        let size = file.metadata()?.len();
        let inner = Inner {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes,
            keep,
            stderr_too,
        };
        inner.point_stderr()?;
        Ok(Self(Arc::new(Mutex::new(inner))))
    }
}

impl Inner {
    fn point_stderr(&self) -> io::Result<()> {
        if self.stderr_too {
            nix::unistd::dup2_stderr(&self.file).map_err(io::Error::from)?;
        }
        Ok(())
    }
}

impl Write for RotatingLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let record = clean_record(buf);
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if inner.size > 0 && inner.size + record.len() as u64 > inner.max_bytes {
            rotate(&inner.path, inner.keep)?;
            inner.file = open(&inner.path)?;
            inner.size = 0;
            inner.point_stderr()?;
        }
        inner.file.write_all(&record)?;
        inner.size += record.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The process's stderr, each record cleaned as a log file's is (for a
/// daemon or agent run in the foreground).
#[derive(Clone, Copy)]
pub struct CleanStderr;

impl Write for CleanStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stderr().write_all(&clean_record(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// The variable that names a process's log file ([`RotatingLog`], with
/// stderr pointed at it); without it, it logs to [`CleanStderr`].
pub const LOG_FILE_ENV: &str = "AZLIN_LOG_FILE";

/// Where a daemon or agent logs: the file [`LOG_FILE_ENV`] names, else
/// stderr; either way cleaned.
#[derive(Clone)]
pub enum LogWriter {
    File(RotatingLog),
    Stderr(CleanStderr),
}

impl LogWriter {
    /// As [`LOG_FILE_ENV`] says (its file rotated at [`MAX_BYTES`],
    /// keeping [`KEEP`], with stderr pointed at it).
    pub fn from_env() -> io::Result<Self> {
        match std::env::var_os(LOG_FILE_ENV) {
            Some(path) if !path.is_empty() => Ok(LogWriter::File(RotatingLog::open(
                Path::new(&path),
                MAX_BYTES,
                KEEP,
                true,
            )?)),
            _ => Ok(LogWriter::Stderr(CleanStderr)),
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            LogWriter::File(f) => f.write(buf),
            LogWriter::Stderr(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            LogWriter::File(f) => f.flush(),
            LogWriter::Stderr(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_cannot_forge_lines_or_drive_a_terminal() {
        assert_eq!(clean_record(b"plain line\n"), b"plain line\n");
        assert_eq!(
            clean_record(b"enrolling token_id=ab\nINFO enrolled agent vm=FORGED\n"),
            b"enrolling token_id=ab\\nINFO enrolled agent vm=FORGED\n"
        );
        assert_eq!(
            clean_record(b"x\x1b]0;title\x07\r\n"),
            b"x\\u{1b}]0;title\\u{7}\\r\n"
        );
        let huge = vec![b'a'; 900_000];
        let cut = clean_record(&huge);
        assert!(cut.len() < MAX_RECORD + 64, "{}", cut.len());
        let text = String::from_utf8(cut).unwrap();
        assert!(text.ends_with(&format!(" … [{} bytes cut]", 900_000 - MAX_RECORD)));
    }

    #[test]
    fn a_log_is_rotated_by_size_keeping_a_bounded_number_of_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        // An older file, readable by all: brought to 0600.
        std::fs::write(&path, b"old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut log = RotatingLog::open(&path, 1000, 2, false).unwrap();
        for i in 0..100 {
            log.write_all(format!("record {i:03} {}\n", "x".repeat(80)).as_bytes())
                .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["daemon.log", "daemon.log.1", "daemon.log.2"]);
        for name in &names {
            let m = std::fs::metadata(dir.path().join(name)).unwrap();
            assert!(m.len() <= 1000, "{name}: {}", m.len());
            assert_eq!(m.permissions().mode() & 0o777, 0o600, "{name}");
        }
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.ends_with(&format!("record 099 {}\n", "x".repeat(80))));
        // The shared appender rotates the same way.
        let audit = dir.path().join("audit.log");
        for i in 0..50 {
            append(&audit, format!("{{\"n\":{i}}}\n").as_bytes(), 100, 1).unwrap();
        }
        assert!(std::fs::metadata(&audit).unwrap().len() <= 100);
        assert!(std::fs::metadata(numbered(&audit, 1)).unwrap().len() <= 100);
        assert!(!numbered(&audit, 2).exists());
    }
}

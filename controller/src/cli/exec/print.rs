//! Printing a fleet command's output, in one of four ways:
//!
//! - [`Mode::Raw`]: one VM; its stdout and stderr pass through byte for
//!   byte, as with ssh.
//! - [`Mode::Prefixed`]: several VMs; each line as it arrives, prefixed
//!   with its VM's name (coloured on a terminal), stderr lines on stderr.
//! - [`Mode::Group`]: each VM's output together when that VM finishes.
//! - [`Mode::Json`]: one JSON object per VM, per line, when it finishes.
//! - [`Mode::Text`]: one VM's text that is not the user's own program
//!   (`azlin logs`): each line as it arrives, control characters shown
//!   escaped (`crate::cli::terminal_text`), so a log line cannot drive
//!   the terminal.
//!
//! Group and JSON output is spooled per VM (see [`super::spool`]), so none
//! of the modes holds more than a bounded amount of output in memory.

use std::io::{self, IsTerminal, Write};

use super::{lines::LineSplitter, spool::Spool, status::VmResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Raw,
    Prefixed,
    Group,
    Json,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

#[derive(Default)]
struct VmOutput {
    out_lines: LineSplitter,
    err_lines: LineSplitter,
    out: Spool,
    err: Spool,
}

pub struct Printer {
    mode: Mode,
    /// How people see each VM (`main (dev-1)`).
    names: Vec<String>,
    /// What machine output says of each.
    ids: Vec<crate::ipc::VmName>,
    width: usize,
    colour_out: bool,
    colour_err: bool,
    vms: Vec<VmOutput>,
    pub results: Vec<Option<VmResult>>,
}

const COLOURS: [&str; 6] = ["36", "33", "35", "32", "34", "31"];

fn colour_wanted(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none()
}

impl Printer {
    pub fn new(mode: Mode, ids: Vec<crate::ipc::VmName>) -> Self {
        let names: Vec<String> = ids.iter().map(crate::ipc::VmName::labelled).collect();
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        Self {
            mode,
            width,
            colour_out: colour_wanted(io::stdout().is_terminal()),
            colour_err: colour_wanted(io::stderr().is_terminal()),
            vms: names.iter().map(|_| VmOutput::default()).collect(),
            results: vec![None; names.len()],
            names,
            ids,
        }
    }

    fn prefix(&self, vm: usize, colour: bool) -> String {
        if self.mode == Mode::Text {
            return String::new();
        }
        let name = format!("{:<width$}", self.names[vm], width = self.width);
        if colour {
            format!("\x1b[{}m{name}\x1b[0m: ", COLOURS[vm % COLOURS.len()])
        } else {
            format!("{name}: ")
        }
    }

    pub fn output(&mut self, vm: usize, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        match self.mode {
            Mode::Raw => match stream {
                Stream::Out => write_flush(&mut io::stdout().lock(), bytes),
                Stream::Err => write_flush(&mut io::stderr().lock(), bytes),
            },
            Mode::Prefixed | Mode::Text => {
                let clean = self.mode == Mode::Text;
                let prefix = match stream {
                    Stream::Out => self.prefix(vm, self.colour_out),
                    Stream::Err => self.prefix(vm, self.colour_err),
                };
                let out = &mut self.vms[vm];
                let (splitter, sink): (_, &mut dyn Write) = match stream {
                    Stream::Out => (&mut out.out_lines, &mut io::stdout().lock()),
                    Stream::Err => (&mut out.err_lines, &mut io::stderr().lock()),
                };
                let mut result = Ok(());
                splitter.push(bytes, |line| {
                    if result.is_ok() {
                        result = write_line(sink, &prefix, line, clean);
                    }
                });
                result?;
                sink.flush()
            }
            Mode::Group | Mode::Json => match stream {
                Stream::Out => self.vms[vm].out.write(bytes),
                Stream::Err => self.vms[vm].err.write(bytes),
            },
        }
    }

    pub fn finished(&mut self, vm: usize, result: VmResult) -> io::Result<()> {
        match self.mode {
            Mode::Raw => {
                if !matches!(
                    result,
                    VmResult::Ran {
                        outcome: azlin_protocol::exec::Outcome::Exited(_),
                        ..
                    }
                ) {
                    eprintln!("azlin: {}: {}", self.names[vm], result.describe());
                }
            }
            Mode::Prefixed | Mode::Text => {
                let clean = self.mode == Mode::Text;
                let (out_prefix, err_prefix) = (
                    self.prefix(vm, self.colour_out),
                    self.prefix(vm, self.colour_err),
                );
                let out = &mut self.vms[vm];
                let mut stdout = io::stdout().lock();
                let mut r = Ok(());
                out.out_lines
                    .finish(|l| r = write_line(&mut stdout, &out_prefix, l, clean));
                r?;
                stdout.flush()?;
                let mut stderr = io::stderr().lock();
                let mut r = Ok(());
                out.err_lines
                    .finish(|l| r = write_line(&mut stderr, &err_prefix, l, clean));
                r?;
                if !result.ok() {
                    writeln!(stderr, "{err_prefix}{}", result.describe())?;
                }
            }
            Mode::Group => self.print_group(vm, &result)?,
            Mode::Json => self.print_json(vm, &result)?,
        }
        self.vms[vm] = VmOutput::default();
        self.results[vm] = Some(result);
        Ok(())
    }

    fn print_group(&mut self, vm: usize, result: &VmResult) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        let took = match result {
            VmResult::Ran { duration_ms, .. } => format!(" · {duration_ms} ms"),
            VmResult::Failed { .. } => String::new(),
        };
        let name = &self.names[vm];
        let header = format!("── {name} ── {}{took}", result.describe());
        if self.colour_out {
            writeln!(stdout, "\x1b[1m{header}\x1b[0m")?;
        } else {
            writeln!(stdout, "{header}")?;
        }
        let out = &mut self.vms[vm];
        out.out.each_piece(|p| stdout.write_all(p))?;
        stdout.flush()?;
        let mut stderr = io::stderr().lock();
        out.err.each_piece(|p| stderr.write_all(p))?;
        stderr.flush()
    }

    fn print_json(&mut self, vm: usize, result: &VmResult) -> io::Result<()> {
        let mut stdout = io::BufWriter::new(io::stdout().lock());
        let head = match result {
            VmResult::Ran {
                outcome,
                duration_ms,
            } => serde_json::json!({
                "vm": self.ids[vm].vm,
                "session_name": self.ids[vm].session_name,
                "exit_code": outcome.exit_code(),
                "outcome": outcome.describe(),
                "duration_ms": duration_ms,
                "error": null,
            }),
            VmResult::Failed { reason } => serde_json::json!({
                "vm": self.ids[vm].vm,
                "session_name": self.ids[vm].session_name,
                "exit_code": null,
                "outcome": "failed",
                "duration_ms": null,
                "error": reason,
            }),
        };
        let head = head.to_string();
        // The object so far, without its closing brace; the output follows.
        stdout.write_all(&head.as_bytes()[..head.len() - 1])?;
        let out = &mut self.vms[vm];
        for (key, spool) in [("stdout", &mut out.out), ("stderr", &mut out.err)] {
            if spool.is_utf8()? {
                write!(stdout, ",\"{key}\":")?;
                spool.write_json_string(&mut stdout)?;
            } else {
                write!(stdout, ",\"{key}\":null,\"{key}_base64\":")?;
                spool.write_base64(&mut stdout)?;
            }
        }
        stdout.write_all(b"}\n")?;
        stdout.flush()
    }

    /// After the run: on several VMs, say which did not succeed.
    pub fn summary(&self) {
        if self.names.len() < 2 || matches!(self.mode, Mode::Json) {
            return;
        }
        let bad: Vec<String> = self
            .results
            .iter()
            .zip(&self.names)
            .filter_map(|(r, n)| match r {
                Some(r) if !r.ok() => Some(format!("{n} ({})", r.describe())),
                Some(_) => None,
                None => Some(format!("{n} (no result)")),
            })
            .collect();
        if !bad.is_empty() {
            eprintln!(
                "azlin: {} of {} VMs did not succeed: {}",
                bad.len(),
                self.names.len(),
                bad.join(", ")
            );
        }
    }
}

fn write_flush(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes)?;
    w.flush()
}

fn write_line(w: &mut dyn Write, prefix: &str, line: &[u8], clean: bool) -> io::Result<()> {
    w.write_all(prefix.as_bytes())?;
    if clean {
        let text = String::from_utf8_lossy(line);
        let text = text.replace('\t', "    ");
        w.write_all(crate::cli::terminal_text::shown(&text).as_bytes())?;
    } else {
        w.write_all(line)?;
    }
    w.write_all(b"\n")
}

//! `azlin connect VM --new-window`: a new terminal window running `azlin
//! connect VM` (this very binary), started detached so this command
//! returns at once. The terminal is `[connect] terminal` in `config.toml`
//! (a command line the connect command is added to, e.g. `"kitty"`,
//! `"wezterm start --"`), else `$TERMINAL` (run with `-e`), else the first
//! of gnome-terminal, konsole and xterm found on `PATH`; on macOS,
//! Terminal through `osascript`. None found is an error listing what was
//! tried.

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

/// The terminals looked for on `PATH`, with how each takes a command.
const KNOWN: [(&str, &[&str]); 3] = [
    ("gnome-terminal", &["--"]),
    ("konsole", &["-e"]),
    ("xterm", &["-e"]),
];

fn on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The argv that opens a window running `command`, and what was tried
/// when there is none.
pub fn launcher(
    configured: Option<&str>,
    terminal_var: Option<&str>,
    command: &[String],
) -> Result<Vec<String>, Vec<String>> {
    let mut tried = Vec::new();
    if let Some(line) = configured.map(str::trim).filter(|l| !l.is_empty()) {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        if on_path(&words[0]).is_some() {
            return Ok(words.into_iter().chain(command.iter().cloned()).collect());
        }
        tried.push(format!("[connect] terminal = {line:?} (not found)"));
    }
    if let Some(t) = terminal_var.map(str::trim).filter(|t| !t.is_empty()) {
        if on_path(t).is_some() {
            return Ok([t.to_string(), "-e".into()]
                .into_iter()
                .chain(command.iter().cloned())
                .collect());
        }
        tried.push(format!("$TERMINAL = {t:?} (not found)"));
    }
    if cfg!(target_os = "macos") {
        let script = format!(
            "tell application \"Terminal\" to do script \"{}\"",
            command
                .iter()
                .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
                .collect::<Vec<_>>()
                .join(" ")
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
        );
        return Ok(vec!["osascript".into(), "-e".into(), script]);
    }
    for (name, args) in KNOWN {
        if on_path(name).is_some() {
            return Ok([name.to_string()]
                .into_iter()
                .chain(args.iter().map(|a| a.to_string()))
                .chain(command.iter().cloned())
                .collect());
        }
        tried.push(format!("{name} (not on PATH)"));
    }
    Err(tried)
}

/// Open the window; returns the terminal's name.
pub fn open(configured: Option<&str>, vm: &str, tmux: Option<&str>) -> Result<String> {
    let me = std::env::current_exe().context("cannot tell where azlin itself is")?;
    let mut command = vec![me.display().to_string(), "connect".into(), vm.to_string()];
    if let Some(t) = tmux {
        command.extend(["--tmux".into(), t.to_string()]);
    }
    let terminal_var = std::env::var("TERMINAL").ok();
    let argv = match launcher(configured, terminal_var.as_deref(), &command) {
        Ok(argv) => argv,
        Err(tried) => bail!(
            "no terminal to open a window in; tried: {}. Set [connect] terminal in config.toml \
             (e.g. terminal = \"kitty\") or $TERMINAL",
            tried.join(", ")
        ),
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    cmd.spawn()
        .with_context(|| format!("cannot start {}", argv[0]))?;
    Ok(argv[0].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> Vec<String> {
        vec!["/x/azlin".into(), "connect".into(), "vm".into()]
    }

    #[test]
    fn the_configured_terminal_comes_first_with_its_own_words() {
        let argv = launcher(Some("/bin/sh -x"), Some("/bin/true"), &cmd()).unwrap();
        assert_eq!(argv, ["/bin/sh", "-x", "/x/azlin", "connect", "vm"]);
        let argv = launcher(None, Some("/bin/true"), &cmd()).unwrap();
        assert_eq!(argv, ["/bin/true", "-e", "/x/azlin", "connect", "vm"]);
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn what_was_tried_is_listed() {
        let got = launcher(Some("/nowhere/term"), Some("/nowhere/other"), &cmd());
        match got {
            Ok(argv) => assert!(KNOWN.iter().any(|(k, _)| *k == argv[0]), "{argv:?}"),
            Err(tried) => {
                assert!(tried[0].contains("/nowhere/term"), "{tried:?}");
                assert!(tried[1].contains("/nowhere/other"), "{tried:?}");
                assert_eq!(tried.len(), 2 + KNOWN.len());
            }
        }
    }
}

//! `azlin sync --watch LOCAL_DIR VM:DIR [VM:DIR…]`: mirror a folder to
//! one or more VMs until stopped. A full copy first, then every change
//! (create, modify, rename, delete), debounced over a few milliseconds and
//! sent to all targets at once, through the same filter and the same
//! whole-file-or-nothing writes as `azlin cp`.

use std::{
    path::PathBuf,
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use azlin_protocol::files::filter::{EXCLUDE_FILE, Filter};
use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use crate::{
    files::{changes::changes, endpoint::Endpoint, plan},
    home::Home,
    ipc::{
        client::Client,
        files::{CopyReport, Push, PushSpec},
    },
};

/// Quiet time per path before a change is sent: short, because the goal
/// is the file on the VM a moment after the save, and a save that comes
/// in several writes is still usually over within it.
const DEBOUNCE: Duration = Duration::from_millis(15);

pub fn run(home: &Home, local: &str, targets: &[String], force: bool) -> Result<u8> {
    let root = std::path::absolute(PathBuf::from(local))?;
    if !root.is_dir() {
        bail!(
            "{} is not a folder; --watch mirrors a folder",
            root.display()
        );
    }
    let mut dests = Vec::new();
    for t in targets {
        match Endpoint::parse(t) {
            Endpoint::Vm { vm, path } => dests.push((vm, path)),
            Endpoint::Local(_) => bail!("{t:?} is not VM:DIR; --watch mirrors to VMs"),
        }
    }
    if dests.is_empty() {
        bail!("give at least one VM:DIR to mirror to");
    }
    let mut filter = Filter {
        force,
        ..Filter::default()
    };
    if let Ok(text) = std::fs::read_to_string(root.join(EXCLUDE_FILE)) {
        filter = filter.with_excludes(&text);
    }
    // Watch first, so nothing changed during the first copy is missed.
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, None, tx).context("cannot watch files")?;
    debouncer
        .watch(&root, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", root.display()))?;
    let mut contents = root.clone().into_os_string();
    contents.push("/");
    let first = std::time::Instant::now();
    for (vm, path) in &dests {
        let plan = plan::plan(&[contents.clone().into()], &format!("{path}/"), true, force)?;
        let report = push(home, vm, plan, Vec::new())?;
        left_out(&report);
        eprintln!(
            "{vm}:{path}: {} file(s) sent, {} unchanged",
            report.sent, report.unchanged
        );
    }
    eprintln!(
        "watching {} (first copy took {} ms); Ctrl-C stops",
        root.display(),
        first.elapsed().as_millis()
    );
    while let Ok(first) = rx.recv() {
        // Everything that changed while the last change was being sent
        // goes as one copy (one manifest), however many batches the
        // watcher cut it into: a `git checkout` of 2,000 files is a few
        // copies, not one per batch.
        let mut events = Vec::new();
        for batch in std::iter::once(first).chain(rx.try_iter()) {
            match batch {
                Ok(batch) => events.extend(batch),
                Err(errors) => {
                    for e in errors {
                        eprintln!("azlin: watching: {e}");
                    }
                }
            }
        }
        if events.is_empty() {
            continue;
        }
        let paths = events.into_iter().flat_map(|e| e.event.paths);
        let started = Instant::now();
        let mut changed = Vec::new();
        for (vm, path) in &dests {
            let c = changes(&root, path, paths.clone(), &filter);
            if c.is_empty() && c.plan.blocked.is_empty() {
                continue;
            }
            let report = push(home, vm, c.plan, c.deletes)?;
            left_out(&report);
            changed.push(format!(
                "{vm}: {} sent, {} removed",
                report.sent, report.deleted
            ));
        }
        if !changed.is_empty() {
            eprintln!(
                "{} ({} ms)",
                changed.join("; "),
                started.elapsed().as_millis()
            );
        }
    }
    Ok(0)
}

fn push(home: &Home, vm: &str, plan: plan::Plan, deletes: Vec<String>) -> Result<CopyReport> {
    let spec = PushSpec {
        vm: vm.to_string(),
        plan,
        requested_by: super::cp::requested_by(),
        deletes,
    };
    Client::connect_or_start(home)?.call(Push(spec), |_, m| eprintln!("{m}"))
}

fn left_out(r: &CopyReport) {
    for (path, why) in &r.blocked {
        eprintln!("blocked {path}: {why}");
    }
    for (path, why) in &r.failed {
        eprintln!("failed  {path}: {why}");
    }
}

//! `azlin cp SRC… DST` and `azlin sync`: copy local files and folders to
//! VMs over their agents' connections. Every file left out is listed with the reason
//! (secret, noise, excluded, failed), never silently.

use super::terminal_text::shown;
use std::{io::IsTerminal, path::PathBuf};

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    files::{endpoint::Endpoint, plan},
    home::Home,
    ipc::{
        Reply,
        client::{Client, Conversation},
        files::{CopyReport, Fetch, FetchDest, FetchSpec, Push, PushSpec, Sync},
    },
};

pub struct CpArgs {
    pub paths: Vec<String>,
    pub recursive: bool,
    pub force: bool,
    pub dry_run: bool,
    pub json: bool,
}

pub fn run(home: &Home, args: CpArgs) -> Result<u8> {
    let Some((dest, sources)) = args.paths.split_last() else {
        bail!("usage: azlin cp [-r] SRC… VM:PATH");
    };
    if sources.is_empty() {
        bail!("give a source and a destination: azlin cp [-r] SRC… VM:PATH");
    }
    let sources: Vec<Endpoint> = sources.iter().map(|s| Endpoint::parse(s)).collect();
    let remote: Vec<(String, String)> = sources
        .iter()
        .filter_map(|s| match s {
            Endpoint::Vm { vm, path } => Some((vm.clone(), path.clone())),
            Endpoint::Local(_) => None,
        })
        .collect();
    if !remote.is_empty() {
        if remote.len() != sources.len() {
            bail!("copy from VMs or from this machine, not both in one command");
        }
        return fetch(home, &args, remote, Endpoint::parse(dest));
    }
    let Endpoint::Vm { vm, path } = Endpoint::parse(dest) else {
        bail!("both sides are on this machine: use cp");
    };
    let local: Vec<PathBuf> = sources
        .into_iter()
        .filter_map(|s| match s {
            Endpoint::Local(p) => Some(p),
            Endpoint::Vm { .. } => None,
        })
        .collect();
    let plan = plan::plan(&local, &path, args.recursive, args.force)?;
    if args.dry_run {
        return print_dry_run(&vm, &plan, args.json);
    }
    let requested_by = requested_by();
    let mut talk = Client::connect_or_start(home)?.converse(
        Push(PushSpec {
            vm: vm.clone(),
            plan,
            requested_by,
            deletes: Vec::new(),
        })
        .into(),
    )?;
    // A bar with rate and ETA on a terminal, from the first figures on;
    // nothing for scripts.
    let on_terminal = !args.json && std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let report = loop {
        match talk.next_reply()? {
            Reply::CopyProgress { done, total, .. } if on_terminal => {
                let bar = bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new(total);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                        )
                        .expect("a valid template"),
                    );
                    bar.set_message(vm.clone());
                    bar
                });
                bar.set_length(total);
                bar.set_position(done);
            }
            Reply::CopyProgress { .. } => {}
            Reply::Progress { message, .. } => eprintln!("{}", shown(&message)),
            Reply::Ok(bytes) => break Conversation::decode::<CopyReport>(&bytes)?,
            Reply::Err { message, .. } => {
                if let Some(bar) = &bar {
                    bar.abandon();
                }
                bail!("{}", shown(&message));
            }
            _ => bail!("the daemon answered something else; run `azlin daemon stop` and retry"),
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    print_report(&vm, &report, args.json)?;
    Ok(if report.failed.is_empty() { 0 } else { 1 })
}

/// Copy from VMs: each source in turn, to a local folder or another VM.
fn fetch(home: &Home, args: &CpArgs, sources: Vec<(String, String)>, dest: Endpoint) -> Result<u8> {
    if args.dry_run {
        bail!("--dry-run lists local files to send; it does not apply to copies from a VM");
    }
    let single = sources.len() == 1;
    let mut failed = false;
    for (vm, path) in sources {
        let (fetch_dest, rename) = match &dest {
            Endpoint::Local(p) => {
                let is_dir = p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/');
                if is_dir {
                    (FetchDest::Local(std::path::absolute(p)?), None)
                } else if single {
                    let abs = std::path::absolute(p)?;
                    let parent = abs
                        .parent()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| "/".into());
                    let name = abs.file_name().map(|n| n.to_string_lossy().into_owned());
                    (FetchDest::Local(parent), name)
                } else {
                    bail!(
                        "{} is not a folder; several sources need a folder to go into",
                        p.display()
                    );
                }
            }
            Endpoint::Vm {
                vm: to,
                path: to_path,
            } => {
                let (root, rename) = if single && !to_path.ends_with('/') && to_path != "~" {
                    match to_path.rsplit_once('/') {
                        Some((dir, name)) => (
                            if dir.is_empty() {
                                "/".into()
                            } else {
                                dir.to_string()
                            },
                            Some(name.to_string()),
                        ),
                        None => ("~".into(), Some(to_path.clone())),
                    }
                } else {
                    (to_path.trim_end_matches('/').to_string(), None)
                };
                let root = if root.is_empty() { "/".into() } else { root };
                (
                    FetchDest::Vm {
                        vm: to.clone(),
                        root,
                        force: args.force,
                    },
                    rename,
                )
            }
        };
        let spec = FetchSpec {
            vm: vm.clone(),
            path,
            recursive: args.recursive,
            dest: fetch_dest,
            rename,
            requested_by: requested_by(),
        };
        let report =
            Client::connect_or_start(home)?.call(Fetch(spec), |_, m| eprintln!("{}", shown(m)))?;
        let shown = match &dest {
            Endpoint::Local(_) => "local".to_string(),
            Endpoint::Vm { vm, .. } => vm.clone(),
        };
        print_report(&shown, &report, args.json)?;
        failed |= !report.failed.is_empty();
    }
    Ok(u8::from(failed))
}

fn print_dry_run(vm: &str, plan: &plan::Plan, json: bool) -> Result<u8> {
    if json {
        let files: Vec<serde_json::Value> = plan
            .files
            .iter()
            .map(|f| serde_json::json!({"local": f.local, "rel": f.rel}))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "dry_run": true, "vm": vm, "root": plan.root, "files": files,
                "blocked": pairs(&plan.blocked), "skipped": pairs(&plan.skipped),
            })
        );
        return Ok(0);
    }
    for f in &plan.files {
        println!(
            "{} → {vm}:{}/{}",
            shown(&f.local.to_string_lossy()),
            shown(&plan.root),
            shown(&f.rel)
        );
    }
    print_left_out(&plan.blocked, &plan.skipped, &[]);
    println!("(dry run: {} file(s) would be sent)", plan.files.len());
    Ok(0)
}

fn pairs(list: &[(String, String)]) -> Vec<serde_json::Value> {
    list.iter()
        .map(|(path, reason)| serde_json::json!({"path": path, "reason": reason}))
        .collect()
}

fn print_report(vm: &str, r: &CopyReport, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "vm": vm, "root": r.root, "sent": r.sent, "bytes": r.bytes,
                "unchanged": r.unchanged, "resumed": r.resumed,
                "blocked": pairs(&r.blocked), "skipped": pairs(&r.skipped), "failed": pairs(&r.failed),
            })
        );
        return Ok(());
    }
    print_left_out(&r.blocked, &r.skipped, &r.failed);
    let resumed = if r.resumed > 0 {
        format!(", {} resumed", r.resumed)
    } else {
        String::new()
    };
    println!(
        "{vm}:{}: {} file(s) sent ({}){resumed}, {} unchanged",
        shown(&r.root),
        r.sent,
        super::figures::bytes(r.bytes),
        r.unchanged
    );
    Ok(())
}

fn print_left_out(
    blocked: &[(String, String)],
    skipped: &[(String, String)],
    failed: &[(String, String)],
) {
    for (path, why) in blocked {
        eprintln!("blocked {}: {}", shown(path), shown(why));
    }
    for (path, why) in skipped {
        eprintln!("skipped {}: {}", shown(path), shown(why));
    }
    for (path, why) in failed {
        eprintln!("failed  {}: {}", shown(path), shown(why));
    }
}

/// `azlin sync [SELECTORS]`: `~/.azlin/home/` to every chosen VM's home,
/// only what changed, all VMs at once.
pub fn sync(
    home: &Home,
    selector: crate::selector::Selector,
    force: bool,
    dry_run: bool,
    json: bool,
) -> Result<u8> {
    let dir = home.sync_home();
    if !dir.is_dir() {
        bail!(
            "{} does not exist: put the dotfiles every VM should have there (for example .bashrc, .gitconfig, .config/nvim/)",
            dir.display()
        );
    }
    let mut contents = dir.into_os_string();
    contents.push("/");
    let plan = plan::plan(&[contents.into()], "~/", true, force)?;
    if dry_run {
        return print_dry_run("<each VM>", &plan, json);
    }
    let results = Client::connect_or_start(home)?.call(
        Sync {
            selector,
            plan,
            requested_by: requested_by(),
        },
        |_, m| eprintln!("{}", shown(m)),
    )?;
    let mut failed = false;
    if json {
        let list: Vec<serde_json::Value> = results
            .iter()
            .map(|r| match &r.result {
                Ok(rep) => serde_json::json!({
                    "vm": r.vm, "sent": rep.sent, "bytes": rep.bytes, "unchanged": rep.unchanged,
                    "blocked": pairs(&rep.blocked), "skipped": pairs(&rep.skipped), "failed": pairs(&rep.failed),
                }),
                Err(e) => serde_json::json!({"vm": r.vm, "error": e}),
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    }
    for (i, r) in results.iter().enumerate() {
        match &r.result {
            Ok(rep) => {
                failed |= !rep.failed.is_empty();
                if !json {
                    // What is left out is the same on every VM: say it once.
                    if i == 0 {
                        print_left_out(&rep.blocked, &rep.skipped, &[]);
                    }
                    print_left_out(&[], &[], &rep.failed);
                    println!(
                        "{}: {} file(s) sent ({}), {} unchanged",
                        r.vm,
                        rep.sent,
                        super::figures::bytes(rep.bytes),
                        rep.unchanged
                    );
                }
            }
            Err(e) => {
                failed = true;
                if !json {
                    eprintln!("{}: failed: {}", r.vm, shown(e));
                }
            }
        }
    }
    Ok(u8::from(failed))
}

pub(super) fn requested_by() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| "unknown".into(), |u| u.name)
}

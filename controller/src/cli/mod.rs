//! The `azlin` command line. Each command asks the daemon (starting it if
//! needed) and prints the answer; only `azlin daemon run` is long-lived.

mod adopt;
mod alerts;
mod args;
mod autostop;
mod ca;
mod certs;
mod cleanup;
mod clone;
mod completions;
mod connect;
mod context;
mod cost;
mod cost_budget;
mod cost_dashboard;
mod cost_recommend;
mod cp;
mod daemon_cmd;
mod destroy;
mod env;
pub mod exec;
pub mod figures;
mod health;
mod keys;
mod logs;
mod new;
mod new_progress;
mod notice;
mod prune;
mod ps;
mod render;
mod repo;
mod schedule;
mod snapshot;
mod ssh;
mod storage;
mod template;
mod terminal_text;
pub mod top;
pub mod updates;
mod usage;
mod watch;

use anyhow::{Result, bail};

use self::args::{Cli, Command};
use crate::{
    config::Config,
    home::Home,
    ipc::{
        Call, Done,
        client::Client,
        labels::{Session, Tag},
        lifecycle::{DestroyPlan, KillAll, Resize, Restart, Start, Stop},
        processes::ProcessTables,
        token::Token,
        vms::{List, VmStatus},
    },
    selector::Selector,
};

pub fn main() -> std::process::ExitCode {
    completions::answer_shell();
    let cli = usage::parse();
    match run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            // Errors carry words from clouds, VMs and files: each line is
            // shown with its control characters escaped.
            let text = format!("{e:#}");
            let lines: Vec<_> = text.split('\n').map(terminal_text::shown).collect();
            eprintln!("azlin: error: {}", lines.join("\n"));
            let exit = e.chain().find_map(|c| {
                if c.downcast_ref::<usage::Usage>().is_some()
                    || c.downcast_ref::<crate::config::Invalid>().is_some()
                {
                    Some(usage::EXIT)
                } else {
                    c.downcast_ref::<crate::ipc::client::DaemonError>()
                        .and_then(|d| d.exit)
                }
            });
            exit.map_or(
                std::process::ExitCode::FAILURE,
                std::process::ExitCode::from,
            )
        }
    }
}

/// The fleet commands run over the exec path; they exit with its status.
fn fleet_command(cli: Cli, home: &Home, config: &Config) -> Result<u8> {
    let Some(command) = cli.command else {
        if cli.run.is_empty() {
            bail!(
                "nothing to do: give a command (`azlin --help`) or `azlin -- CMD` to run CMD on every VM"
            );
        }
        let line = exec::command_line(&cli.run);
        return Ok(exec::run(home, Selector::everything(), line, &cli.output));
    };
    let (selector, line, output) = match command {
        Command::Logs(args) => return logs::run(home, args),
        Command::Exec {
            select,
            output,
            command,
        } => {
            let selector = select.selector(false)?;
            if selector == Selector::default() {
                return Err(usage::Usage(crate::selector::SelectError::Nothing.to_string()).into());
            }
            (selector, exec::command_line(&command), output)
        }
        Command::W { select } => (
            select.selector(true)?,
            "w".to_string(),
            exec::OutputArgs {
                group: true,
                no_stdin: true,
                ..Default::default()
            },
        ),
        Command::OsUpdate {
            select,
            timeout,
            dry_run,
        } => update_run(&select, updates::OS_UPDATE, timeout, dry_run)?,
        Command::Update {
            select,
            timeout,
            dry_run,
        } => update_run(&select, updates::TOOLS_UPDATE, timeout, dry_run)?,
        Command::Ps {
            select,
            sort,
            top,
            json,
        } => {
            let request = ProcessTables {
                selector: select.selector(true)?,
                sort: sort.into(),
                limit: top,
            };
            let tables = ask(home, request)?;
            return Ok(if ps::print(&tables, json)? { 0 } else { 1 });
        }
        Command::Connect {
            vm,
            tmux,
            no_reconnect,
            ssh,
            new_window,
        } => {
            let vm = match vm {
                // Named: the daemon resolves it now, so an unknown name is
                // told as such (with the closest ones), terminal or not.
                Some(vm) => {
                    ask(
                        home,
                        VmStatus {
                            vm: vm.clone(),
                            cloud: false,
                        },
                    )?;
                    vm
                }
                None => only_running_vm(home)?,
            };
            if ssh {
                return ssh::connect(home, config, &vm, tmux);
            }
            if new_window {
                let terminal = connect::new_window::open(
                    config.connect.terminal.as_deref(),
                    &vm,
                    tmux.as_deref(),
                )?;
                println!("opened a {terminal} window connected to {vm}");
                return Ok(0);
            }
            let opts = connect::Options {
                vm,
                tmux,
                reconnect: !no_reconnect,
            };
            return Ok(connect::run(home, opts)?.clamp(0, 255) as u8);
        }
        Command::Cp {
            paths,
            recursive,
            force,
            dry_run,
            json,
        } => {
            let args = cp::CpArgs {
                paths,
                recursive,
                force,
                dry_run,
                json,
            };
            return cp::run(home, args);
        }
        Command::Sync {
            watch: Some(paths),
            force,
            ..
        } => {
            let (local, targets) = paths.split_first().expect("clap requires two");
            return watch::run(home, local, targets, force);
        }
        Command::Sync {
            select,
            force,
            dry_run,
            json,
            watch: None,
        } => return cp::sync(home, select.selector(true)?, force, dry_run, json),
        other => return run_command(home, config, other).map(|()| 0),
    };
    Ok(exec::run(home, selector, line, &output))
}

/// What `os-update` and `update` run: `script` on every chosen VM (all by
/// default), with a long timeout and no stdin.
fn update_run(
    select: &exec::SelectArgs,
    script: &str,
    timeout: u32,
    dry_run: bool,
) -> Result<(Selector, String, exec::OutputArgs)> {
    Ok((
        select.selector(true)?,
        updates::command(script, dry_run),
        exec::OutputArgs {
            timeout: Some(timeout),
            no_stdin: true,
            ..Default::default()
        },
    ))
}

/// `connect` without a name: the fleet's one running VM.
fn only_running_vm(home: &Home) -> Result<String> {
    let vms = ask(home, List { cloud: false })?;
    let running: Vec<&str> = vms
        .iter()
        .filter(|v| v.state == crate::state::VmState::Running)
        .map(|v| v.display_name())
        .collect();
    match running.as_slice() {
        [one] => Ok(one.to_string()),
        [] => bail!("no VM is running: name one (`azlin list`) or create one with `azlin new`"),
        many => bail!(
            "{} VMs are running; name one: {}",
            many.len(),
            many.join(", ")
        ),
    }
}

fn ask<C: Call>(home: &Home, request: C) -> Result<C::Reply> {
    ask_in(home, request, args::AzureScope::default())
}

/// [`ask`] with the `--subscription` / `--resource-group` given: where a
/// new VM goes, or the only VMs a command touches.
fn ask_in<C: Call>(home: &Home, request: C, scope: args::AzureScope) -> Result<C::Reply> {
    Client::connect_or_start(home)?
        .targeting(scope.target())
        .call(request, |vm, message| {
            eprintln!("{vm}: {message}");
        })
}

fn run(cli: Cli) -> Result<u8> {
    let home = Home::from_env()?;
    // A home others may write is refused before any command uses it.
    home.check_owned()?;
    // Every command depends on config.toml (the daemon runs by it), so a
    // broken one is said at once, FILE:LINE:COLUMN, even while a daemon
    // started from the last good one is running. Only stopping the daemon
    // and asking after it need no config.
    let config_free = matches!(
        &cli.command,
        Some(Command::Daemon {
            action: daemon_cmd::DaemonAction::Stop | daemon_cmd::DaemonAction::Status { .. }
        })
    );
    let config = match Config::load(&home.config_file()) {
        Ok(config) => config,
        Err(_) if config_free => Config::default(),
        Err(e) => return Err(e),
    };
    // The context every request carries and every prompt names: chosen
    // once, so a broken contexts.toml or an unknown --context stops the
    // command before anything is asked.
    let contexts = crate::contexts::Contexts::load(&home)?;
    crate::contexts::set_chosen(contexts.choose(cli.context.as_deref())?);
    let notice = notice::Watch::of(&cli);
    let result = fleet_command(cli, &home, &config);
    if let Some(watch) = notice {
        watch.finish(&home, &config, &result);
    }
    result
}

fn run_command(home: &Home, config: &Config, command: Command) -> Result<()> {
    let home = home.clone();
    match command {
        Command::Daemon { action } => daemon_cmd::run(&home, action),
        Command::New(args) => new::run(&home, config, args),
        Command::List { json, scope } => {
            let vms = ask_in(&home, List { cloud: true }, scope.clone())?;
            if vms.is_empty() && !json && !scope.is_empty() {
                let elsewhere = ask(&home, List { cloud: false })?.len();
                if elsewhere > 0 {
                    println!(
                        "no VMs in that subscription / resource group; {elsewhere} VM(s) elsewhere \
                         in the fleet (`azlin list` without --subscription / --resource-group \
                         shows them)"
                    );
                    return Ok(());
                }
            }
            render::vms(&vms, json)
        }
        Command::Status {
            vm: Some(vm),
            json,
            scope,
        } => render::vm(&ask_in(&home, VmStatus { vm, cloud: true }, scope)?, json),
        Command::Status {
            vm: None,
            json,
            scope,
        } => {
            let vms = ask_in(&home, List { cloud: true }, scope)?;
            if json || vms.is_empty() {
                return render::vms(&vms, json);
            }
            for (i, v) in vms.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                render::vm(v, false)?;
            }
            Ok(())
        }
        Command::Top {
            once,
            json,
            sort,
            filter,
        } => top::run(
            &home,
            top::TopArgs {
                once,
                json,
                sort,
                filter,
            },
        ),
        Command::Start { vm, no_wait, scope } => {
            done(ask_in(&home, Start { vm, wait: !no_wait }, scope)?)
        }
        Command::Stop {
            vm,
            no_deallocate,
            scope,
        } => done(ask_in(
            &home,
            Stop {
                vm,
                keep_allocated: no_deallocate,
            },
            scope,
        )?),
        Command::Kill { vm, yes, scope } => destroy::run(&home, vm, yes, scope),
        Command::Agent {
            action:
                args::AgentAction::Upgrade {
                    select,
                    binary,
                    parallel,
                    timeout,
                },
        } => {
            let binary = match binary {
                Some(b) => Some(anyhow::Context::with_context(
                    std::path::absolute(&b),
                    || format!("cannot tell where {} is", b.display()),
                )?),
                None => None,
            };
            let request = crate::ipc::agent_upgrade::AgentUpgrade {
                selector: select.selector(true)?,
                binary,
                parallel,
                timeout_secs: timeout,
            };
            let answer = Client::connect_or_start(&home)?.call(request, |vm, message| {
                eprintln!("{vm}: {message}");
            });
            done(answer?)
        }
        Command::Cost(args) => cost::run(&home, args),
        Command::Schedule(args) => schedule::run(&home, args),
        Command::Storage { action } => storage::run(&home, action),
        Command::Snapshot { action } => snapshot::run(&home, action),
        Command::Template { action } => template::run(&home, action),
        Command::Context { action } => context::run(&home, config, action),
        Command::Cleanup(args) => cleanup::run(&home, args),
        Command::Prune(args) => prune::run(&home, args),
        Command::Clone {
            src,
            name,
            num_replicas,
            json,
        } => clone::run(&home, src, name, num_replicas, json),
        Command::Autostop(args) => autostop::run(&home, args),
        Command::Keepalive { vm, duration } => done(Client::connect_or_start(&home)?.call(
            crate::ipc::autostop::Keepalive { vm, for_: duration },
            |_, _| {},
        )?),
        Command::Adopt {
            vms,
            dry_run,
            scope,
        } => adopt::run(&home, vms, dry_run, scope),
        Command::Token { vm, ttl } => {
            println!("{}", ask(&home, Token { vm, ttl_secs: ttl })?);
            Ok(())
        }
        Command::Killall { yes, scope } => {
            if !yes {
                // No terminal to ask on: refused before anything happens
                // (no daemon is started just to list what would go).
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    bail!(
                        "killall deletes every VM in the fleet; nothing deleted (--yes confirms)"
                    );
                }
                let vms = ask_in(&home, List { cloud: false }, scope.clone())?;
                if vms.is_empty() {
                    println!("no VMs to delete");
                    return Ok(());
                }
                let whole = scope.is_empty();
                let question = format!(
                    "Delete {} VM{}{}: {}? Type yes to confirm: ",
                    vms.len(),
                    if vms.len() == 1 { "" } else { "s" },
                    if whole {
                        ""
                    } else {
                        " in that subscription / resource group"
                    },
                    named(&vms)
                );
                if !confirm(&question)? {
                    bail!(
                        "killall deletes every VM in the fleet; nothing deleted (--yes confirms)"
                    );
                }
            }
            done(ask_in(&home, KillAll, scope)?)
        }
        Command::Destroy {
            vm,
            dry_run: true,
            scope,
            ..
        } => done(ask_in(&home, DestroyPlan { vm }, scope)?),
        Command::Destroy {
            vm,
            dry_run: false,
            yes,
            scope,
        } => destroy::run(&home, vm, yes, scope),
        Command::Restart { vm, scope } => done(ask_in(&home, Restart { vm }, scope)?),
        Command::Resize { vm, size, scope } => done(ask_in(&home, Resize { vm, size }, scope)?),
        Command::Tag {
            vm,
            set,
            remove,
            json,
            scope,
        } => {
            let set = set
                .iter()
                .map(|t| crate::state::tags::parse_tag(t))
                .collect::<Result<Vec<_>>>()?;
            if set.is_empty() && remove.is_empty() {
                bail!("give tags to set (KEY=VALUE) or --remove KEY");
            }
            render::vm(&ask_in(&home, Tag { vm, set, remove }, scope)?, json)
        }
        Command::Session { vm, name, clear: _ } => done(ask(&home, Session { vm, session: name })?),
        Command::SshConfig { select } => ssh::write_config(&home, select.selector(true)?),
        Command::Keys { action } => keys::run(&home, action),
        Command::Certs { action } => certs::run(&home, action),
        Command::Ca { action } => ca::run(&home, action),
        Command::Completions { shell } => completions::print(shell),
        Command::Env { action } => env::run(&home, action),
        Command::Repo { action } => repo::run(&home, action),
        Command::Health { select, json } => health::run(&home, select, json),
        Command::Alerts {
            follow: true, json, ..
        } => alerts::follow(&home, json),
        Command::Alerts { history, json, .. } => alerts::show(&home, history, json),
        Command::Exec { .. }
        | Command::Logs(_)
        | Command::Connect { .. }
        | Command::W { .. }
        | Command::Ps { .. }
        | Command::Cp { .. }
        | Command::Sync { .. }
        | Command::OsUpdate { .. }
        | Command::Update { .. } => unreachable!("fleet commands are run by fleet_command"),
    }
}

fn done(done: Done) -> Result<()> {
    println!("{}", done.message);
    Ok(())
}

/// The VMs by what the user calls them, the first twenty of them.
fn named(vms: &[crate::ipc::VmView]) -> String {
    const SHOWN: usize = 20;
    let mut names: Vec<String> = vms
        .iter()
        .take(SHOWN)
        .map(crate::ipc::VmView::labelled_name)
        .collect();
    if vms.len() > SHOWN {
        names.push(format!("and {} more", vms.len() - SHOWN));
    }
    names.join(", ")
}

/// Show `plan` and ask; no terminal to ask on is a refusal.
pub fn confirm_on_terminal(plan: &str, question: &str) -> Result<()> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!(
            "no terminal to ask on: run with --yes to go ahead, or --dry-run to see what it does"
        );
    }
    println!("{plan}");
    if !confirm(&format!("{question} Type yes to confirm: "))? {
        bail!("nothing done");
    }
    Ok(())
}

/// Ask on the terminal; no terminal means no. The context in use, if
/// any, is named first, so no one confirms in the wrong subscription.
fn confirm(question: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    if let Some(c) = crate::contexts::chosen() {
        eprintln!("[context {}: {}]", c.name, c.context.describe());
    }
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

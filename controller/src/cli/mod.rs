//! The `azlin` command line. Each command asks the daemon (starting it if
//! needed) and prints the answer; only `azlin daemon run` is long-lived.

mod daemon_cmd;
pub mod exec;
pub mod figures;
mod ps;
mod render;
pub mod top;
pub mod updates;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

use crate::{
    home::Home,
    ipc::{NewRequest, Request, Response, client::Client},
    selector::Selector,
    state::ConnectMode,
};

/// azlin: a fleet of Linux development VMs, one agent connection each.
///
/// `azlin -- CMD ARGS…` runs CMD on every running VM (see `azlin exec
/// --help` for the output options and exit status).
#[derive(Parser)]
#[command(name = "azlin", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    output: exec::OutputArgs,
    /// The command to run on every running VM.
    #[arg(last = true, value_name = "CMD")]
    run: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Create VMs and wait until their agents have enrolled.
    New {
        /// Where the VMs run: `local` (agent processes on this machine) or
        /// `external` (machines you run; prints a join token for each).
        #[arg(long, default_value = "local")]
        provider: String,
        /// VM name; with --pool N the VMs are NAME-1 … NAME-N.
        #[arg(long)]
        name: Option<String>,
        /// How many VMs to create.
        #[arg(long, default_value_t = 1)]
        pool: u32,
        /// Agents dial the daemon (needs [daemon] listen in config.toml)
        /// instead of waiting to be dialled.
        #[arg(long)]
        dial: bool,
        /// Label the VMs (repeatable), for `--tag` selection.
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run a command on the chosen VMs, through each VM user's shell.
    ///
    /// Output streams live, each line prefixed with its VM's name; with one
    /// VM it passes through unchanged and stdin is forwarded.
    ///
    /// Exit status: with one VM, the command's own (128+N if killed by
    /// signal N), 124 if it timed out, 130 if cancelled, 255 if it could
    /// not run there. With several: 0 only if every VM ran it and exited 0;
    /// else 130 if cancelled, 255 if some VM could not run it, 124 if some
    /// timed out, 1 if some exited non-zero.
    Exec {
        #[command(flatten)]
        select: exec::SelectArgs,
        #[command(flatten)]
        output: exec::OutputArgs,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Who is logged in on each VM (runs `w`).
    W {
        #[command(flatten)]
        select: exec::SelectArgs,
    },
    /// The busiest processes on each VM, measured by its agent.
    Ps {
        #[command(flatten)]
        select: exec::SelectArgs,
        #[arg(long, value_enum, default_value = "cpu")]
        sort: ps::PsSort,
        /// Processes per VM.
        #[arg(long, default_value_t = 10)]
        top: u32,
        #[arg(long)]
        json: bool,
    },
    /// apt update and upgrade on each VM, with live progress.
    OsUpdate {
        #[command(flatten)]
        select: exec::SelectArgs,
        /// Seconds each VM gets before its update is killed.
        #[arg(long, default_value_t = updates::DEFAULT_TIMEOUT_SECS)]
        timeout: u32,
        /// Update the package lists but only simulate the upgrade.
        #[arg(long)]
        dry_run: bool,
    },
    /// Update the development tools azlin installs on each VM.
    Update {
        #[command(flatten)]
        select: exec::SelectArgs,
        /// Seconds each VM gets before its update is killed.
        #[arg(long, default_value_t = updates::DEFAULT_TIMEOUT_SECS)]
        timeout: u32,
        /// Print the update commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Set or remove a VM's tags.
    Tag {
        vm: String,
        /// Tags to set.
        #[arg(value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Tag keys to remove (repeatable).
        #[arg(long, value_name = "KEY")]
        remove: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the fleet.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one VM, or every VM, with its live figures and tmux sessions.
    Status {
        vm: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Live dashboard of the whole fleet (one table when not on a terminal).
    Top {
        /// Print one table and exit.
        #[arg(long)]
        once: bool,
        /// Print the figures as JSON and exit.
        #[arg(long)]
        json: bool,
        /// Initial order (keys c, m, d, n change it on the dashboard).
        #[arg(long, value_enum, default_value = "cpu")]
        sort: top::Sort,
        /// Only VMs whose name or session name contains this.
        #[arg(long, default_value = "")]
        filter: String,
    },
    /// Start a stopped VM.
    Start { vm: String },
    /// Stop a VM (it stays in the fleet).
    Stop { vm: String },
    /// Delete a VM and revoke its certificate.
    Kill { vm: String },
    /// Delete every VM.
    Killall {
        /// Confirm: delete the whole fleet.
        #[arg(long)]
        yes: bool,
    },
    /// Print a new one-time join token for VM (to re-enroll its agent).
    Token {
        vm: String,
        /// Seconds until the token expires (default: daemon.token_ttl_secs).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Manage the background daemon.
    Daemon {
        #[command(subcommand)]
        action: daemon_cmd::DaemonAction,
    },
}

pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("azlin: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The fleet commands run over the exec path; they exit with its status.
fn fleet_command(cli: Cli, home: &Home) -> Result<u8> {
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
        Command::Exec {
            select,
            output,
            command,
        } => (
            select.selector(false)?,
            exec::command_line(&command),
            output,
        ),
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
        } => (
            select.selector(true)?,
            updates::command(updates::OS_UPDATE, dry_run),
            exec::OutputArgs {
                timeout: Some(timeout),
                no_stdin: true,
                ..Default::default()
            },
        ),
        Command::Update {
            select,
            timeout,
            dry_run,
        } => (
            select.selector(true)?,
            updates::command(updates::TOOLS_UPDATE, dry_run),
            exec::OutputArgs {
                timeout: Some(timeout),
                no_stdin: true,
                ..Default::default()
            },
        ),
        Command::Ps {
            select,
            sort,
            top,
            json,
        } => {
            let request = Request::ProcessTables {
                selector: select.selector(true)?,
                sort: sort.into(),
                limit: top,
            };
            return match ask(home, request)? {
                Response::ProcessTables(tables) => {
                    Ok(if ps::print(&tables, json)? { 0 } else { 1 })
                }
                other => unexpected(other).map(|()| 1),
            };
        }
        other => return run_command(home, other).map(|()| 0),
    };
    Ok(exec::run(home, selector, line, &output))
}

fn ask(home: &Home, request: Request) -> Result<Response> {
    Client::connect_or_start(home)?.call(request, |vm, message| {
        eprintln!("{vm}: {message}");
    })
}

fn run(cli: Cli) -> Result<u8> {
    let home = Home::from_env()?;
    fleet_command(cli, &home)
}

fn run_command(home: &Home, command: Command) -> Result<()> {
    let home = home.clone();
    match command {
        Command::Daemon { action } => daemon_cmd::run(&home, action),
        Command::New {
            provider,
            name,
            pool,
            dial,
            tags,
            json,
        } => {
            let tags = tags
                .iter()
                .map(|t| crate::state::tags::parse_tag(t))
                .collect::<Result<Vec<_>>>()?;
            let request = Request::New(NewRequest {
                tags,
                provider,
                name,
                pool,
                connect: if dial {
                    ConnectMode::Dial
                } else {
                    ConnectMode::Listen
                },
            });
            match ask(&home, request)? {
                Response::Vms(vms) => render::vms(&vms, json),
                Response::Joined {
                    controller,
                    ca_pem,
                    vms,
                } => render::joined(&controller, &ca_pem, &vms, json),
                other => unexpected(other),
            }
        }
        Command::List { json } => match ask(&home, Request::List)? {
            Response::Vms(vms) => render::vms(&vms, json),
            other => unexpected(other),
        },
        Command::Status { vm: Some(vm), json } => {
            match ask(&home, Request::VmStatus { name: vm })? {
                Response::Vm(v) => render::vm(&v, json),
                other => unexpected(other),
            }
        }
        Command::Status { vm: None, json } => match ask(&home, Request::List)? {
            Response::Vms(vms) if json => render::vms(&vms, true),
            Response::Vms(vms) if vms.is_empty() => render::vms(&vms, false),
            Response::Vms(vms) => {
                for (i, v) in vms.iter().enumerate() {
                    if i > 0 {
                        println!();
                    }
                    render::vm(v, false)?;
                }
                Ok(())
            }
            other => unexpected(other),
        },
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
        Command::Start { vm } => done(ask(&home, Request::Start { name: vm })?),
        Command::Stop { vm } => done(ask(&home, Request::Stop { name: vm })?),
        Command::Kill { vm } => done(ask(&home, Request::Kill { name: vm })?),
        Command::Token { vm, ttl } => match ask(
            &home,
            Request::Token {
                name: vm,
                ttl_secs: ttl,
            },
        )? {
            Response::Token { token } => {
                println!("{token}");
                Ok(())
            }
            other => unexpected(other),
        },
        Command::Killall { yes } => {
            if !yes {
                bail!("killall deletes every VM in the fleet; rerun with --yes to confirm");
            }
            done(ask(&home, Request::KillAll)?)
        }
        Command::Tag {
            vm,
            set,
            remove,
            json,
        } => {
            let set = set
                .iter()
                .map(|t| crate::state::tags::parse_tag(t))
                .collect::<Result<Vec<_>>>()?;
            if set.is_empty() && remove.is_empty() {
                bail!("give tags to set (KEY=VALUE) or --remove KEY");
            }
            match ask(
                &home,
                Request::Tag {
                    name: vm,
                    set,
                    remove,
                },
            )? {
                Response::Vm(v) => render::vm(&v, json),
                other => unexpected(other),
            }
        }
        Command::Exec { .. }
        | Command::W { .. }
        | Command::Ps { .. }
        | Command::OsUpdate { .. }
        | Command::Update { .. } => unreachable!("fleet commands are run by fleet_command"),
    }
}

fn done(response: Response) -> Result<()> {
    match response {
        Response::Done { message } => {
            println!("{message}");
            Ok(())
        }
        other => unexpected(other),
    }
}

fn unexpected(response: Response) -> Result<()> {
    bail!("unexpected answer from the daemon: {response:?}")
}

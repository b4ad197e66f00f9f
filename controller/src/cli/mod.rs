//! The `azlin` command line. Each command asks the daemon (starting it if
//! needed) and prints the answer; only `azlin daemon run` is long-lived.

mod daemon_cmd;
pub mod figures;
mod render;
pub mod top;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};

use crate::{
    home::Home,
    ipc::{NewRequest, Request, Response, client::Client},
    state::ConnectMode,
};

/// azlin: a fleet of Linux development VMs, one agent connection each.
#[derive(Parser)]
#[command(name = "azlin", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
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
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("azlin: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn ask(home: &Home, request: Request) -> Result<Response> {
    Client::connect_or_start(home)?.call(request, |vm, message| {
        eprintln!("{vm}: {message}");
    })
}

fn run(cli: Cli) -> Result<()> {
    let home = Home::from_env()?;
    match cli.command {
        Command::Daemon { action } => daemon_cmd::run(&home, action),
        Command::New {
            provider,
            name,
            pool,
            dial,
            json,
        } => {
            let request = Request::New(NewRequest {
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

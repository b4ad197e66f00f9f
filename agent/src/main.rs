use std::{path::PathBuf, sync::Arc};

use anyhow::{Context, Result};
use azlin_agent::{
    config::{AgentConfig, Connect},
    credentials::AgentCredentials,
    endpoint,
    session::Agent,
};
use clap::{Parser, Subcommand};

/// The azlin agent: keeps a mutually authenticated QUIC connection to the
/// azlin controller.
#[derive(Parser)]
#[command(name = "azlin-agent", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent (as the systemd service does).
    Run {
        /// The agent's TOML config file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    // Cleaned and rotated (`azlin_protocol::log_file`): the controller's
    // strings reach this log.
    let log = match azlin_protocol::log_file::LogWriter::from_env() {
        Ok(log) => log,
        Err(e) => {
            eprintln!("azlin-agent: error: cannot open its log file: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AZLIN_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(move || log.clone())
        .with_ansi(false)
        .init();
    azlin_protocol::install_crypto_provider();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => run(config),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("azlin-agent: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Open files allowed at once: as many as the hard limit lets, up to
/// this. systemd starts services with a soft limit of 1,024, and a copy
/// into a tree of folders holds a few hundred files and folders open on
/// each of its streams (see `files::manifest` and `files::place`).
const OPEN_FILES: u64 = 65_536;

fn raise_open_files() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let want = hard.min(OPEN_FILES);
        if want > soft
            && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, want, hard)
        {
            tracing::warn!("cannot raise the open-file limit from {soft} to {want}: {e}");
        }
    }
}

/// A copy of another VM's disk: say why once and connect to nothing,
/// until stopped (SIGTERM's default action ends the process). Exiting
/// would have systemd start the agent again every second, to say the same.
fn park(why: &anyhow::Error) -> ! {
    tracing::error!("{why:#}; waiting to be stopped");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

fn run(config_path: PathBuf) -> Result<()> {
    let config = AgentConfig::load(&config_path)?;
    azlin_agent::upgrade::watch_trial();
    // A hold for a snapshot outlives no agent.
    azlin_agent::quiesce::recover();
    let creds =
        match AgentCredentials::load_or_create(&config.state_dir, &config.ca_cert, &config.name) {
            Ok(creds) => creds,
            Err(e) if e.downcast_ref::<azlin_agent::machine::Copied>().is_some() => park(&e),
            Err(e) => return Err(e),
        };
    raise_open_files();
    // One thread: the agent's work is a few small reads a second, and its
    // footprint on the developer's VM is a goal (see BENCHMARKS.md).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let connect = config.connect.clone();
        let (samples_tx, samples) = tokio::sync::watch::channel(None);
        tokio::spawn(azlin_agent::telemetry::run(
            config.telemetry.clone(),
            config.user.clone(),
            samples_tx,
        ));
        if let Some(export) = config.shared_home.clone() {
            tokio::spawn(azlin_agent::mount::home::settle(
                export,
                config.user.clone(),
            ));
        }
        let agent = Arc::new(Agent::new(config, creds, samples));
        let serve = {
            let agent = agent.clone();
            async move {
                match connect {
                    Connect::Listen { listen } => endpoint::listen(agent, listen).await,
                    Connect::Dial { controller } => endpoint::dial(agent, controller).await,
                }
            }
        };
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = serve => r,
            _ = term.recv() => {
                tracing::info!("SIGTERM: closing the controller session");
                agent.shutdown("agent shutting down").await;
                Ok(())
            }
            _ = tokio::signal::ctrl_c() => {
                agent.shutdown("agent shutting down").await;
                Ok(())
            }
        }
    })
}

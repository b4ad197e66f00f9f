//! `azlin daemon`: one per user. Holds a QUIC connection to every enrolled
//! agent, keeps the fleet's state (in memory and in `state.db`), and answers
//! the CLI on `daemon.sock`. Three layers, each a folder:
//!
//! - [`agents`]: the agents' connections: dialling and accepting them,
//!   enrollment, the live link state of every VM, the streams agents push
//!   (telemetry) and the ones the daemon opens (questions, files).
//! - [`handlers`]: the answer to each CLI request, one module per command,
//!   with the socket that reads them and the one place a VM a request
//!   names is resolved.
//! - [`jobs`]: what the daemon does on its own: metrics history, alerts,
//!   the Prometheus endpoint.
//!
//! This module holds the [`Daemon`] they share and starts them all
//! ([`run`]); [`counters`] are the daemon's own totals.

pub mod agents;
pub mod counters;
pub mod handlers;
pub mod jobs;
pub mod running_commands;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    os::unix::fs::PermissionsExt,
    sync::{Arc, Mutex, RwLock},
};

use anyhow::{Context, Result, bail};
use azlin_protocol::{
    pki::{self, ClientAuth, ServerAuth},
    transport,
};
use nix::fcntl::{Flock, FlockArg};
use tokio::sync::watch;

use self::{
    agents::{fleet, link, listener},
    jobs::{
        alerts, autostop_watch, budget_check, cert_renewal, config_watch, history, metrics_http,
        schedule_runner, snapshot_runner,
    },
};
use crate::{
    config::Config,
    fleet_pki::FleetPki,
    home::Home,
    provider::{
        Providers, azure::AzureProvider, docker::DockerProvider, external::ExternalProvider,
        local::LocalProvider,
    },
    state::{ConnectMode, Db, VmState, now_unix},
    telemetry::live::LiveStore,
};

/// Client TLS configs, built from the PKI in force (again when the
/// fleet's CA is rotated): one that verifies an enrolled agent's
/// certificate, one for dialling an agent that still has to enroll.
#[derive(Clone)]
pub struct ClientTls {
    pub verified: quinn::ClientConfig,
    pub enrolling: quinn::ClientConfig,
}

pub struct Daemon {
    pub home: Home,
    /// `config.toml` as last read without error (see [`jobs::config_watch`]).
    config: std::sync::RwLock<Arc<Config>>,
    /// Why the file as it is now was not taken, if it was not.
    pub config_error: Mutex<Option<String>>,
    /// Where dial-mode agents reach the daemon: `[daemon] listen` as it
    /// was when the daemon started (a change applies at restart).
    pub listening: Option<std::net::SocketAddr>,
    pub db: Mutex<Db>,
    /// The fleet CA, the CAs still trusted and the controller's
    /// certificate in force ([`Daemon::install_pki`] replaces them).
    pki: std::sync::RwLock<Arc<FleetPki>>,
    tls: std::sync::RwLock<ClientTls>,
    pub endpoint: quinn::Endpoint,
    pub fleet: fleet::Fleet,
    pub live: LiveStore,
    pub counters: counters::Counters,
    pub providers: Providers,
    pub started_at: i64,
    pub host_name: String,
    pub shutdown: watch::Sender<bool>,
    /// VM name → session name; `config.toml` holds them, `azlin session`
    /// changes them while the daemon runs.
    pub session_names: RwLock<BTreeMap<String, String>>,
    pub alerts: alerts::AlertsHub,
    /// Bills asked of the cloud in the last minutes (see
    /// [`handlers::cost`]).
    pub cost_cache: handlers::cost::CostCache,
    /// Commands from azlin running on each VM now.
    pub running_commands: running_commands::RunningCommands,
    /// VMs a snapshot is being taken of or restored to now: one at a time
    /// per VM.
    pub snapshotting: Mutex<std::collections::HashSet<String>>,
}

impl Daemon {
    /// The settings in force: `config.toml` as last read without error.
    pub fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    /// The PKI in force.
    pub fn pki(&self) -> Arc<FleetPki> {
        self.pki.read().expect("pki lock").clone()
    }

    /// The client TLS configs in force (for the next dial).
    pub fn tls(&self) -> ClientTls {
        self.tls.read().expect("tls lock").clone()
    }

    /// Put `pki` in force: the next dial and the next handshake on the
    /// listener use it; connections up now stay as they are.
    pub fn install_pki(&self, pki: FleetPki) -> Result<()> {
        let tls = client_tls(&pki)?;
        if self.listening.is_some() {
            self.endpoint.set_server_config(Some(server_tls(&pki)?));
        }
        *self.tls.write().expect("tls lock") = tls;
        *self.pki.write().expect("pki lock") = Arc::new(pki);
        Ok(())
    }

    /// Put `config` in force (a reread `config.toml`).
    pub fn set_config(&self, config: Config) {
        *self.config.write().expect("config lock") = Arc::new(config);
    }

    /// The session name the user gave `vm`, if any.
    pub fn session_name(&self, vm: &str) -> Option<String> {
        self.session_names
            .read()
            .expect("session names lock")
            .get(vm)
            .cloned()
    }

    /// A VM's state as it is now: a VM whose provider can tell its machine
    /// died (a local agent's process) is stopped, whatever the table last
    /// recorded.
    pub fn state_of(&self, row: &crate::state::VmRow) -> VmState {
        let dead = || {
            self.providers
                .of(&row.provider)
                .is_ok_and(|p| p.is_alive(row) == Some(false))
        };
        match row.state {
            VmState::Running if dead() => VmState::Stopped,
            s => s,
        }
    }

    /// The VM whose session name is `name`, if any.
    pub fn vm_for_session(&self, name: &str) -> Option<String> {
        self.session_names
            .read()
            .expect("session names lock")
            .iter()
            .find(|(_, s)| s.as_str() == name)
            .map(|(vm, _)| vm.clone())
    }
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "controller".into())
}

/// Run the daemon in the foreground until `azlin daemon stop` or a signal.
pub fn run(home: Home) -> Result<()> {
    // Everything the daemon writes (state.db, VM folders) is the user's alone.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    home.ensure()?;
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(home.lock_file())
        .with_context(|| format!("cannot open {}", home.lock_file().display()))?;
    let _lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            bail!(
                "another azlin daemon is already running for {}",
                home.root().display()
            )
        }
        Err((_, e)) => bail!("cannot lock {}: {e}", home.lock_file().display()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(home))
}

/// The daemon's client TLS configs from `pki`.
fn client_tls(pki: &FleetPki) -> Result<ClientTls> {
    let controller = pki.controller_credentials()?;
    let trusted = pki.trusted();
    let verified = pki::client_config(Some(controller.clone()), &trusted, &ServerAuth::Fleet)?;
    let enrolling = pki::client_config(Some(controller), &trusted, &ServerAuth::EnrollingAgent)?;
    Ok(ClientTls {
        verified: transport::quic_client_config(verified, transport::Side::Controller)?,
        enrolling: transport::quic_client_config(enrolling, transport::Side::Controller)?,
    })
}

/// The listener's TLS config (dial-mode agents) from `pki`.
fn server_tls(pki: &FleetPki) -> Result<quinn::ServerConfig> {
    let server = pki::server_config(
        pki.controller_credentials()?,
        &pki.trusted(),
        ClientAuth::FleetOrAnonymous,
    )?;
    Ok(transport::quic_server_config(
        server,
        transport::Side::Controller,
    )?)
}

async fn serve(home: Home) -> Result<()> {
    let config = Config::load(&home.config_file())?;
    let db = Db::open(&home.state_db())?;
    let pki = FleetPki::load_or_create(&home)?;
    let tls = client_tls(&pki)?;
    let endpoint = match config.daemon.listen {
        Some(addr) => {
            azlin_protocol::endpoint::bind(addr, Some(server_tls(&pki)?)).with_context(|| {
                format!("cannot listen on UDP {addr} (daemon.listen in config.toml)")
            })?
        }
        None => azlin_protocol::endpoint::bind(SocketAddr::from(([0, 0, 0, 0], 0)), None)
            .context("cannot open a UDP socket")?,
    };
    let providers = Providers {
        local: LocalProvider::new(home.clone())?,
        docker: DockerProvider::new(home.clone(), config.docker.clone()),
        azure: AzureProvider::new(home.clone(), config.azure.clone(), config.other.clone()),
        external: ExternalProvider,
    };
    let (shutdown, mut shutdown_rx) = watch::channel(false);
    let notification_command = config
        .other
        .get("notification_command")
        .and_then(|v| v.as_str())
        .map(String::from);
    let (alerts_hub, alert_events) =
        alerts::AlertsHub::load(home.alerts_file(), notification_command);
    let d = Arc::new(Daemon {
        home: home.clone(),
        db: Mutex::new(db),
        pki: std::sync::RwLock::new(Arc::new(pki)),
        tls: std::sync::RwLock::new(tls),
        endpoint,
        fleet: fleet::Fleet::default(),
        live: LiveStore::default(),
        counters: counters::Counters::default(),
        providers,
        started_at: now_unix(),
        host_name: host_name(),
        shutdown,
        session_names: RwLock::new(config.session_names.clone()),
        alerts: alerts_hub,
        cost_cache: Default::default(),
        running_commands: Default::default(),
        snapshotting: Default::default(),
        listening: config.daemon.listen,
        config: std::sync::RwLock::new(Arc::new(config)),
        config_error: Mutex::new(None),
    });
    alerts::spawn(d.clone(), alert_events);
    if d.listening.is_some() {
        listener::spawn(d.clone());
    }
    if let Some(addr) = d.config().metrics.listen {
        let http = metrics_http::bind(addr).await?;
        tracing::info!(%addr, "serving Prometheus metrics at /metrics");
        tokio::spawn(metrics_http::serve(d.clone(), http));
    }
    history::spawn(d.clone());
    budget_check::spawn(d.clone());
    schedule_runner::spawn(d.clone());
    snapshot_runner::spawn(d.clone());
    cert_renewal::spawn(d.clone());
    autostop_watch::spawn(d.clone());
    config_watch::spawn(d.clone());
    let vms = d.db.lock().expect("db lock").vms()?;
    for vm in vms {
        match (vm.connect_mode, vm.state) {
            (ConnectMode::Listen, VmState::Running | VmState::Provisioning) => {
                link::spawn(d.clone(), vm.name)
            }
            _ => {
                d.fleet.track(&vm.name);
            }
        }
    }
    let socket = home.socket();
    let _ = std::fs::remove_file(&socket);
    let listener = tokio::net::UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
    tracing::info!(
        pid = std::process::id(),
        home = %home.root().display(),
        quic = %d.endpoint.local_addr()?,
        "daemon ready"
    );
    let ipc = tokio::spawn(handlers::socket::serve(d.clone(), listener));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = shutdown_rx.wait_for(|s| *s) => tracing::info!("stop requested"),
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted"),
    }
    ipc.abort();
    let _ = std::fs::remove_file(&socket);
    d.fleet.close_all("controller daemon stopping");
    d.endpoint
        .close(transport::close::SHUTDOWN, b"controller daemon stopping");
    let _ = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        d.endpoint.wait_idle(),
    )
    .await;
    history::flush(&d, now_unix());
    tracing::info!("daemon stopped");
    Ok(())
}

//! One controller connection, whichever side dialled: check the peer is the
//! controller, exchange greetings, then either enroll (no certificate yet) or
//! run the live session until the connection ends.
//!
//! A peer that misbehaves gets a reason in our log and a close code with the
//! reason on its side; the agent keeps serving.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, Result, anyhow, bail};
use azlin_protocol::{
    alert::CAP_ALERTS,
    exec::CAP_EXEC,
    files::wire::{CAP_FILES, CAP_MANIFEST, CAP_MANIFEST_SEND},
    frame::MAX_CONTROL_FRAME,
    handshake::{self, ControlStream},
    message::{Control, Role},
    pki::{self, PeerIdentity},
    stream::{AgentStream, CAP_QUERY, CAP_TELEMETRY},
    telemetry::{MAX_SAMPLE_FRAME, Sample},
    terminal::CAP_TERMINAL,
    transport::{self, close},
};
use tokio::sync::{Mutex, watch};

use crate::{
    alerts::Alerts,
    config::AgentConfig,
    credentials::{AgentCredentials, read_join_token},
    exec::ExecContext,
};

/// How long a controller has to open its control stream.
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);

/// The agent's shared state.
pub struct Agent {
    pub config: AgentConfig,
    pub creds: Mutex<AgentCredentials>,
    pub started_at_unix: u64,
    /// The live controller session; a newer one replaces it.
    current: Mutex<Option<quinn::Connection>>,
    /// Set by the endpoint module once bound, so shutdown can flush closes.
    pub endpoint: std::sync::OnceLock<quinn::Endpoint>,
    /// The newest telemetry sample, pushed to the controller as it changes.
    samples: watch::Receiver<Option<Sample>>,
    exec: Arc<ExecContext>,
    pub alerts: Arc<Alerts>,
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// We got our certificate; reconnect with it.
    Enrolled,
    /// A live session ran and ended.
    SessionEnded,
}

impl Agent {
    /// `samples` carries the newest sample (from [`crate::telemetry::run`],
    /// or any other source, such as the fleet simulator). Starts the alert
    /// evaluator on them, so call it inside a tokio runtime.
    pub fn new(
        config: AgentConfig,
        creds: AgentCredentials,
        samples: watch::Receiver<Option<Sample>>,
    ) -> Self {
        let started_at_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let tmux = crate::tmux_server::TmuxServer::from_config(&config.telemetry);
        let path_first = crate::tmux_server::install_wrapper(&tmux, &config.state_dir)
            .unwrap_or_else(|e| {
                tracing::warn!("cannot write the tmux wrapper in the state folder: {e}");
                None
            });
        let exec = Arc::new(ExecContext {
            user: config.user.clone(),
            audit_log: config.audit_log(),
            tmux,
            home: config.home.clone(),
            path_first,
            ssh: config.ssh.clone(),
            files: config.files.clone(),
            commits: crate::files::commit::Committer::start(),
        });
        let alerts = Arc::new(Alerts::load(&config.state_dir));
        tokio::spawn(crate::alerts::evaluate(alerts.clone(), samples.clone()));
        Self {
            exec,
            alerts,
            config,
            creds: Mutex::new(creds),
            started_at_unix,
            current: Mutex::new(None),
            endpoint: std::sync::OnceLock::new(),
            samples,
        }
    }

    /// Close every connection and let the close frames leave, so the
    /// controller learns at once that this agent stopped.
    pub async fn shutdown(&self, reason: &str) {
        self.current.lock().await.take();
        if let Some(endpoint) = self.endpoint.get() {
            endpoint.close(close::SHUTDOWN, reason.as_bytes());
            let _ = tokio::time::timeout(Duration::from_millis(500), endpoint.wait_idle()).await;
        }
    }
}

/// Serve one connection to completion. Errors are the peer's fault or a lost
/// link; the caller logs them and carries on.
/// `ticket` is the place this agent's listener gave the peer before it
/// authenticated (`azlin_protocol::admission`), given back once it has.
pub async fn serve(
    agent: Arc<Agent>,
    conn: quinn::Connection,
    ticket: Option<azlin_protocol::admission::Ticket>,
) -> Result<Outcome> {
    match run(&agent, &conn, ticket).await {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            let reason = format!("{e:#}");
            let mut short = reason.clone();
            short.truncate(400);
            conn.close(close::PROTOCOL, short.as_bytes());
            Err(e)
        }
    }
}

async fn run(
    agent: &Arc<Agent>,
    conn: &quinn::Connection,
    ticket: Option<azlin_protocol::admission::Ticket>,
) -> Result<Outcome> {
    // In listen mode rustls already required a fleet certificate; here we
    // make sure it is the controller's and not another agent's.
    match transport::peer_certificate(conn).map(|der| pki::peer_identity(&der)) {
        Some(Ok(PeerIdentity::Controller { .. })) => {}
        Some(Ok(other)) => {
            conn.close(close::UNAUTHORIZED, b"only the controller may connect");
            bail!("refused a fleet peer that is not the controller: {other:?}");
        }
        Some(Err(e)) => bail!("peer certificate unreadable: {e}"),
        None => bail!("peer presented no certificate"),
    }
    let (send, recv) = tokio::time::timeout(GREETING_TIMEOUT, conn.accept_bi())
        .await
        .map_err(|_| anyhow!("controller opened no control stream within {GREETING_TIMEOUT:?}"))?
        .context("waiting for the control stream")?;
    let (enrolled, machine_bound) = {
        let creds = agent.creds.lock().await;
        (creds.enrolled(), creds.machine_bound)
    };
    let mut capabilities: Vec<String> = vec![
        CAP_TELEMETRY.into(),
        CAP_QUERY.into(),
        CAP_EXEC.into(),
        CAP_TERMINAL.into(),
        CAP_ALERTS.into(),
        CAP_FILES.into(),
        CAP_MANIFEST.into(),
        CAP_MANIFEST_SEND.into(),
    ];
    if machine_bound {
        capabilities.push(crate::machine::CAP_MACHINE_BOUND.into());
    }
    let ours = handshake::hello(
        Role::Agent,
        &agent.config.name,
        capabilities,
        agent.started_at_unix,
        enrolled,
    );
    let deadline = azlin_protocol::admission::PRE_AUTH_DEADLINE;
    let mut control = tokio::time::timeout(deadline, handshake::greet_as_agent(send, recv, ours))
        .await
        .map_err(|_| anyhow!("no greeting within {deadline:?}"))?
        .context("greeting")?;
    // The controller's certificate was checked above and it has greeted.
    transport::authenticated(conn);
    drop(ticket);
    tracing::debug!(version = control.version, peer = %control.peer.name, "greeted controller");
    if !enrolled {
        enroll(agent, conn, &mut control).await?;
        return Ok(Outcome::Enrolled);
    }
    match control.recv.control().await.context("waiting for Ready")? {
        Some(Control::Ready { vm }) if vm == agent.config.name => {}
        Some(Control::Ready { vm }) => bail!("controller thinks this agent is {vm:?}"),
        Some(Control::Error { reason }) => bail!("controller refused the session: {reason}"),
        Some(other) => bail!("expected Ready, got {other:?}"),
        None => bail!("controller closed the control stream before Ready"),
    }
    // The controller took this binary: an upgrade on trial is committed.
    crate::upgrade::commit();
    if let Some(old) = agent.current.lock().await.replace(conn.clone()) {
        old.close(
            close::REPLACED,
            b"replaced by a newer controller connection",
        );
    }
    tracing::info!(remote = %conn.remote_address(), "controller session established");
    let push = tokio::spawn(push_telemetry(conn.clone(), agent.samples.clone()));
    let result = session_loop(agent, conn, &mut control).await;
    push.abort();
    let mut current = agent.current.lock().await;
    if current
        .as_ref()
        .is_some_and(|c| c.stable_id() == conn.stable_id())
    {
        *current = None;
    }
    result.map(|()| Outcome::SessionEnded)
}

/// Push every new sample on one dedicated stream. The watch channel holds
/// only the newest, so when the link is slow older samples are skipped:
/// the latest always wins.
async fn push_telemetry(conn: quinn::Connection, mut samples: watch::Receiver<Option<Sample>>) {
    let result: Result<()> = async {
        let mut send = conn.open_uni().await?;
        transport::send(&mut send, &AgentStream::Telemetry, MAX_SAMPLE_FRAME).await?;
        samples.mark_changed();
        while samples.changed().await.is_ok() {
            let sample = samples.borrow_and_update().clone();
            if let Some(sample) = sample {
                transport::send(&mut send, &sample, MAX_SAMPLE_FRAME).await?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::debug!("telemetry stream ended: {e:#}");
    }
}

/// Hold the session until it ends, answering the controller's questions on
/// their own streams. Protocol version 1 sends nothing on the control
/// stream after `Ready`, so any message there is either the controller's
/// parting error or a protocol violation; both end the session.
async fn session_loop(
    agent: &Arc<Agent>,
    conn: &quinn::Connection,
    control: &mut ControlStream,
) -> Result<()> {
    let controller: Arc<str> = control.peer.name.as_str().into();
    let questions = async {
        while let Ok((send, recv)) = conn.accept_bi().await {
            let (exec, controller) = (agent.exec.clone(), controller.clone());
            let alerts = agent.alerts.clone();
            let agent = agent.clone();
            tokio::spawn(async move {
                crate::query::answer(&agent, &exec, alerts, &controller, send, recv).await;
            });
        }
        std::future::pending::<()>().await
    };
    let control_msg = tokio::select! {
        msg = control.recv.control() => msg,
        () = questions => unreachable!("the question loop never returns"),
    };
    match control_msg {
        Ok(None) => Ok(()),
        Ok(Some(Control::Error { reason })) => bail!("controller reported: {reason}"),
        Ok(Some(other)) => bail!("unexpected message on the control stream: {other:?}"),
        Err(transport::StreamError::Lost(e)) => {
            tracing::info!("controller session ended: {e}");
            Ok(())
        }
        Err(e) => {
            control.recv.reject();
            Err(e).context("control stream")
        }
    }
}

async fn enroll(
    agent: &Arc<Agent>,
    conn: &quinn::Connection,
    control: &mut ControlStream,
) -> Result<()> {
    let name = &agent.config.name;
    let token = read_join_token(agent.config.join_token_file.as_deref())?;
    let exporter = transport::enrollment_exporter(conn)
        .ok_or_else(|| anyhow!("TLS exporter unavailable on this connection"))?;
    let mut creds = agent.creds.lock().await;
    let csr = pki::csr_for_agent(&creds.key, name)?;
    let request = Control::EnrollRequest {
        token_id: token.id_hex(),
        proof: token.proof(&exporter, &csr),
        csr_der: csr,
    };
    transport::send(&mut control.send, &request, MAX_CONTROL_FRAME).await?;
    match control
        .recv
        .control()
        .await
        .context("waiting for enrollment answer")?
    {
        Some(Control::EnrollAccepted { cert_der }) => {
            creds.store_certificate(cert_der, name)?;
            // The token is spent; remove it so it is not left lying around.
            if let Some(path) = &agent.config.join_token_file {
                let _ = std::fs::remove_file(path);
            }
            tracing::info!(vm = %name, "enrolled: fleet certificate stored");
            conn.close(close::NORMAL, b"enrolled");
            Ok(())
        }
        Some(Control::EnrollRefused { reason }) => bail!("enrollment refused: {reason}"),
        Some(other) => bail!("expected an enrollment answer, got {other:?}"),
        None => bail!("controller closed the stream during enrollment"),
    }
}

//! The agent's side of an upgrade over its connection (see
//! [`azlin_protocol::upgrade`]): take the new binary, check its sha256,
//! keep the running one as `.previous`, write the `.pending` deadline,
//! rename the new one into place, answer, and exit for systemd to start
//! it. At start, a `.pending` deadline means this binary is on trial:
//! [`watch_trial`] exits when the deadline passes unconnected, and
//! [`commit`] (once connected to the controller) ends the trial.
//!
//! Not here: putting the previous binary back. A build that cannot start
//! cannot do that, so the unit's guard script does it before each start.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use azlin_protocol::{
    stream::{MAX_QUERY_FRAME, QueryReply},
    transport::{self, FramedRecv},
    upgrade::{DRAIN_LIMIT, UpgradeChunk, UpgradeRequest, binary_paths},
};

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn exe() -> Result<PathBuf, String> {
    std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("cannot tell where this agent's binary is: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of the running binary.
pub fn running_sha256() -> Result<String, String> {
    let bytes = std::fs::read(exe()?).map_err(|e| format!("cannot read the agent binary: {e}"))?;
    Ok(hex(
        ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref()
    ))
}

/// Serve one upgrade stream; on success the process exits shortly after
/// the answer is sent.
pub async fn serve(
    controller: &str,
    req: UpgradeRequest,
    mut send: quinn::SendStream,
    mut recv: FramedRecv,
) {
    // Named before the rename: once the new binary is in place, this
    // process's own executable reads as "… (deleted)" and cannot be
    // resolved again.
    let pending = exe().map(|exe| binary_paths(&exe).pending);
    let result = take(&req, &mut recv).await;
    let reply = match &result {
        Ok(previous) => QueryReply::Upgraded {
            previous_sha256: previous.clone(),
        },
        Err(reason) => QueryReply::Error {
            reason: reason.clone(),
        },
    };
    let _ = transport::send(&mut send, &reply, MAX_QUERY_FRAME).await;
    let _ = send.finish();
    match result {
        Ok(_) => {
            // Commands running now finish first: an upgrade cuts none off
            // (systemd ends the unit's processes when the agent exits).
            let began = std::time::Instant::now();
            while crate::exec::running() > 0 && began.elapsed() < DRAIN_LIMIT {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // The trial starts now, not while commands were finishing.
            match &pending {
                Ok(pending) => {
                    if let Err(e) = set_deadline(pending, req.commit_within_secs) {
                        tracing::warn!("{e}");
                    }
                }
                Err(e) => tracing::warn!("{e}"),
            }
            tracing::info!(%controller, sha256 = %req.sha256, "agent upgraded; restarting into the new binary");
            // Let the answer leave before the connection goes.
            let _ = send.stopped().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            std::process::exit(0);
        }
        Err(reason) => tracing::warn!(%controller, "upgrade refused: {reason}"),
    }
}

/// Take the binary and put it in place; the previous binary's sha256.
async fn take(req: &UpgradeRequest, recv: &mut FramedRecv) -> Result<String, String> {
    req.check()?;
    // Only systemd (which sets INVOCATION_ID) starts the new binary and
    // runs the guard that can put the old one back.
    if std::env::var_os("INVOCATION_ID").is_none() {
        return Err(
            "this agent is not run by systemd, which would start the new binary and roll it \
             back; upgrade it the way it was installed"
                .into(),
        );
    }
    let exe = exe()?;
    let paths = binary_paths(&exe);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&paths.incoming)
        .map_err(|e| format!("cannot write {}: {e}", paths.incoming.display()))?;
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let mut got: u64 = 0;
    let outcome: Result<(), String> = async {
        while got < req.size {
            let chunk: UpgradeChunk = match recv.message().await {
                Ok(Some(c)) => c,
                Ok(None) => {
                    return Err(format!(
                        "the binary ended after {got} of {} bytes",
                        req.size
                    ));
                }
                Err(e) => return Err(format!("bad upgrade frame: {e}")),
            };
            got += chunk.bytes.len() as u64;
            if got > req.size {
                return Err("more bytes than announced".into());
            }
            hash.update(&chunk.bytes);
            file.write_all(&chunk.bytes)
                .map_err(|e| format!("cannot write the new binary: {e}"))?;
        }
        let sha = hex(hash.finish().as_ref());
        if sha != req.sha256.to_ascii_lowercase() {
            return Err(format!(
                "the binary's sha256 is {sha}, not {}; not installed",
                req.sha256
            ));
        }
        file.sync_all().map_err(|e| e.to_string())?;
        Ok(())
    }
    .await;
    drop(file);
    if let Err(e) = outcome {
        let _ = std::fs::remove_file(&paths.incoming);
        return Err(e);
    }
    install(&exe, req.commit_within_secs).inspect_err(|_| {
        let _ = std::fs::remove_file(&paths.incoming);
    })
}

/// Keep the running binary, set the deadline, rename the new one in.
fn install(exe: &Path, commit_within_secs: u32) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt as _;
    let paths = binary_paths(exe);
    let previous = running_sha256()?;
    std::fs::set_permissions(&paths.incoming, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    std::fs::copy(exe, &paths.previous)
        .and_then(|_| std::fs::File::open(&paths.previous)?.sync_all())
        .map_err(|e| {
            format!(
                "cannot keep the running binary as {}: {e}",
                paths.previous.display()
            )
        })?;
    // Room for running commands to finish; set again when they have.
    set_deadline(
        &paths.pending,
        commit_within_secs.saturating_add(DRAIN_LIMIT.as_secs() as u32),
    )?;
    if let Err(e) = std::fs::rename(&paths.incoming, exe) {
        let _ = std::fs::remove_file(&paths.pending);
        return Err(format!("cannot put the new binary in place: {e}"));
    }
    if let Some(dir) = exe.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(previous)
}

/// Write the trial's deadline, `secs` from now, atomically.
fn set_deadline(pending: &Path, secs: u32) -> Result<(), String> {
    let deadline = now_unix() + u64::from(secs);
    let tmp = pending.with_extension("pending.tmp");
    std::fs::write(&tmp, format!("{deadline}\n"))
        .and_then(|_| std::fs::rename(&tmp, pending))
        .map_err(|e| format!("cannot write {}: {e}", pending.display()))
}

/// At start: if this binary is on trial, exit when its deadline passes
/// before [`commit`] (so the guard puts the previous one back).
pub fn watch_trial() {
    let Ok(exe) = exe() else { return };
    let pending = binary_paths(&exe).pending;
    let Some(deadline) = std::fs::read_to_string(&pending)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    else {
        return;
    };
    tracing::info!(
        deadline,
        "this agent binary is on trial until it reaches the controller"
    );
    std::thread::spawn(move || {
        let wait = deadline.saturating_sub(now_unix());
        std::thread::sleep(Duration::from_secs(wait));
        if pending.exists() {
            tracing::error!(
                "not connected to the controller by the upgrade's deadline; exiting so the \
                 previous agent comes back"
            );
            std::process::exit(1);
        }
    });
}

/// Connected to the controller: the upgrade (if any) is committed.
pub fn commit() {
    let Ok(exe) = exe() else { return };
    let pending = binary_paths(&exe).pending;
    if pending.exists() {
        match std::fs::remove_file(&pending) {
            Ok(()) => tracing::info!("upgrade committed: this binary reached the controller"),
            Err(e) => tracing::warn!("cannot commit the upgrade ({}): {e}", pending.display()),
        }
    }
}

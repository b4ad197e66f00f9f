//! The Docker engine, through the `docker` CLI: the one way every Docker
//! install is reachable, and what a user would type to check by hand.
//! Each call returns stdout, or an error that carries docker's own message.

use std::{ffi::OsStr, process::Stdio};

use anyhow::{Context, Result, bail};

/// Run `docker ARGS…`; stdout on success.
pub async fn docker<I, S>(args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let shown = args
        .iter()
        .take(2)
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let out = tokio::process::Command::new("docker")
        .args(&args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("cannot run docker: install Docker Engine and make sure its daemon is running")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("docker {shown} failed: {}", err.trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Like [`docker`], but "No such …" is `None` rather than an error.
pub async fn docker_maybe<I, S>(args: I) -> Result<Option<String>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    match docker(args).await {
        Ok(out) => Ok(Some(out)),
        Err(e)
            if format!("{e:#}").contains("No such") || format!("{e:#}").contains("not found") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

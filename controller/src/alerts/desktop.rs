//! The desktop notification channel: run the configured command with the
//! alert's one-line summary as its last argument (as the original tool's
//! `notification_command` did), and the details in `AZLIN_ALERT_*`
//! environment variables. No shell is involved, so nothing in an alert can
//! inject a command.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{book::Desktop, record::AlertRecord};

/// How long a notification command may run before it is killed.
const TIMEOUT: Duration = Duration::from_secs(10);

pub async fn notify(d: &Desktop, record: &AlertRecord, display: &str) -> Result<()> {
    let env = [
        ("AZLIN_ALERT_VM", record.vm.as_str()),
        ("AZLIN_ALERT_RULE", record.rule.as_str()),
        ("AZLIN_ALERT_STATE", record.transition.name()),
        ("AZLIN_ALERT_SEVERITY", record.severity.name()),
        ("AZLIN_ALERT_SUBJECT", record.subject.as_str()),
        ("AZLIN_ALERT_MESSAGE", record.message.as_str()),
    ];
    show(d, &record.summary(display), &env).await
}

/// Run the desktop command with `line` as its last argument and `env`
/// set (alerts, and the completion notices of long commands).
pub async fn show(d: &Desktop, line: &str, env: &[(&str, &str)]) -> Result<()> {
    let (program, args) = d.argv.split_first().context("empty desktop command")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .arg(line)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run the desktop notification command {program:?}"))?;
    match tokio::time::timeout(TIMEOUT, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => bail!("desktop notification command {program:?} exited with {status}"),
        Ok(Err(e)) => bail!("desktop notification command {program:?}: {e}"),
        Err(_) => bail!("desktop notification command {program:?} ran over {TIMEOUT:?}; killed"),
    }
}

//! A long command's completion notice, shown through the desktop channel
//! in force (none configured: said, nothing shown). The line and the
//! `AZLIN_NOTICE_*` variables carry only the command's own words,
//! sanitised of control characters.

use anyhow::Result;

use super::{Ctx, Handle};
use crate::{
    alerts::desktop,
    cli::figures,
    ipc::{Done, notice::Notice},
};

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect()
}

impl Handle for Notice {
    async fn handle(self, cx: &Ctx) -> Result<Done> {
        let Some(channel) = cx.d.alerts.book.borrow().desktop.clone() else {
            return Ok(Done {
                message: "no desktop channel in alerts.toml; no notice shown".into(),
            });
        };
        let took = figures::duration(self.seconds);
        let command = clean(&self.command);
        let line = match (&self.ok, &self.error) {
            (true, _) => format!("azlin {command}: done in {took}"),
            (false, Some(e)) => format!("azlin {command}: FAILED after {took}: {}", clean(e)),
            (false, None) => format!("azlin {command}: FAILED after {took}"),
        };
        let seconds = self.seconds.to_string();
        desktop::show(
            &channel,
            &line,
            &[
                ("AZLIN_NOTICE_COMMAND", command.as_str()),
                (
                    "AZLIN_NOTICE_RESULT",
                    if self.ok { "done" } else { "failed" },
                ),
                ("AZLIN_NOTICE_SECONDS", seconds.as_str()),
            ],
        )
        .await?;
        Ok(Done {
            message: "notice shown".into(),
        })
    }
}

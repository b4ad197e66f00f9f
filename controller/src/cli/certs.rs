//! `azlin certs list [SELECTORS] [--json]` and `azlin certs rotate
//! [SELECTORS]`: the agents' certificates, and renewing them now over the
//! live connections (no reconnection, no new enrollment). The daemon
//! renews each by itself at two thirds of its life (`[daemon]
//! agent_cert_secs`).

use anyhow::{Result, bail};

use super::{ask, exec::SelectArgs, render, terminal_text::shown};
use crate::{
    home::Home,
    ipc::certs::{CertOutcome, CertsList, CertsRotate},
};

#[derive(clap::Subcommand, Debug)]
pub enum CertsAction {
    /// Each chosen VM's certificate: serial, expiry, when it is renewed.
    List {
        #[command(flatten)]
        select: SelectArgs,
        #[arg(long)]
        json: bool,
    },
    /// Renew the chosen VMs' certificates now (default: all running).
    Rotate {
        #[command(flatten)]
        select: SelectArgs,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, action: CertsAction) -> Result<()> {
    let (outcomes, json, rotating) = match action {
        CertsAction::List { select, json } => (
            ask(
                home,
                CertsList {
                    selector: select.selector(true)?,
                },
            )?,
            json,
            false,
        ),
        CertsAction::Rotate { select, json } => (
            ask(
                home,
                CertsRotate {
                    selector: select.selector(true)?,
                },
            )?,
            json,
            true,
        ),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        print(&outcomes, rotating);
    }
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    if rotating && failed > 0 {
        bail!("{failed} of {} not renewed (said above)", outcomes.len());
    }
    Ok(())
}

fn utc(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| "?".into())
}

fn print(outcomes: &[CertOutcome], rotating: bool) {
    let mut rows = Vec::new();
    for o in outcomes {
        match &o.result {
            Ok(c) => rows.push([
                shown(&o.vm).into_owned(),
                c.serial.clone(),
                utc(c.not_after),
                utc(c.renew_at),
                match (&c.replaced, rotating) {
                    (Some(old), true) => format!("renewed (was {old})"),
                    _ => String::new(),
                },
            ]),
            Err(why) => eprintln!("azlin: {}: {}", shown(&o.vm), shown(why)),
        }
    }
    if !rows.is_empty() {
        print!(
            "{}",
            render::aligned(
                &["VM", "SERIAL", "EXPIRES (UTC)", "RENEWED AT (UTC)", ""].map(String::from),
                &rows
            )
        );
    }
}

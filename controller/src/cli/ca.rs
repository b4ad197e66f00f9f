//! `azlin ca rotate|show|retire`: the fleet's CA. `rotate` makes a new CA
//! and brings every connected agent and the controller over to it with no
//! connection dropped; VMs offline then are brought over when they next
//! connect, and the old CA is retired after the last one (or by `retire
//! --force`, after which such a VM must enrol again).

use anyhow::{Result, bail};

use super::{ask, done, terminal_text::shown};
use crate::{
    home::Home,
    ipc::ca::{CaRetire, CaRotate, CaShow},
};

#[derive(clap::Subcommand, Debug)]
pub enum CaAction {
    /// Make a new fleet CA and bring every agent and the controller over
    /// to it, over the live connections.
    Rotate {
        #[arg(long)]
        json: bool,
    },
    /// The fleet CA's fingerprint, the replaced CAs still trusted, and the
    /// VMs not yet brought over.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting the CAs a rotation replaced (done by itself once
    /// every VM is brought over).
    Retire {
        /// Even with VMs still on the old CA: they must enrol again.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(home: &Home, action: CaAction) -> Result<()> {
    match action {
        CaAction::Rotate { json } => {
            let r = ask(home, CaRotate {})?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("new fleet CA {}", r.fingerprint);
                for vm in &r.renewed {
                    println!("  {}: on the new CA", shown(vm));
                }
                for (vm, why) in &r.pending {
                    println!(
                        "  {}: brought over when it next connects ({})",
                        shown(vm),
                        shown(why)
                    );
                }
                if r.retired {
                    println!("the old CA is retired");
                } else {
                    println!(
                        "the old CA stays trusted until every VM is brought over (`azlin ca show`)"
                    );
                }
            }
            let refused = r
                .pending
                .iter()
                .filter(|(_, why)| why != "not connected")
                .count();
            if refused > 0 {
                bail!(
                    "{refused} connected VM(s) not brought over (said above); they are tried again"
                );
            }
            Ok(())
        }
        CaAction::Show { json } => {
            let s = ask(home, CaShow {})?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(());
            }
            println!("fleet CA {}", s.fingerprint);
            for old in &s.old {
                println!("still trusted, being replaced: {old}");
            }
            if !s.behind.is_empty() {
                let names: Vec<String> = s.behind.iter().map(|v| shown(v).into_owned()).collect();
                println!("not yet on the fleet CA: {}", names.join(", "));
            }
            Ok(())
        }
        CaAction::Retire { force } => done(ask(home, CaRetire { force })?),
    }
}

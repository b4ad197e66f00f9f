//! `azlin adopt VM…`: ask the daemon to adopt cloud VMs azlin did not
//! make, showing each one's stages as they end; `--dry-run` prints what
//! would change on each and changes nothing.

use anyhow::Result;

use super::{args::AzureScope, new_progress, render};
use crate::{
    home::Home,
    ipc::{
        adopt::{Adopt, AdoptReply},
        client::Client,
    },
};

pub fn run(home: &Home, vms: Vec<String>, dry_run: bool, scope: AzureScope) -> Result<()> {
    let mut progress = new_progress::NewProgress::new();
    let answer = Client::connect_or_start(home)?
        .targeting(scope.target())
        .call(Adopt { vms, dry_run }, |vm, message| {
            progress.stage(vm, message)
        });
    progress.end();
    match answer? {
        AdoptReply::Plan(plans) => {
            for (vm, changes) in plans {
                println!("azlin adopt {vm} would:");
                for c in changes {
                    println!("  {c}");
                }
            }
            println!("(nothing changed: --dry-run)");
            Ok(())
        }
        AdoptReply::Adopted(vms) => render::vms(&vms, false),
    }
}

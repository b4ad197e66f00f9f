//! `azlin destroy VM` and `azlin kill VM`: on a terminal, show what would
//! be deleted and ask; `--yes` skips the question. Without a terminal an
//! Azure VM azlin did not make is refused unless `--yes` (the daemon
//! checks: it is the one that knows), and azlin's own VMs go as asked.

use anyhow::{Result, bail};

use super::{args::AzureScope, ask_in, done};
use crate::{
    home::Home,
    ipc::lifecycle::{DestroyPlan, Kill},
};

pub fn run(home: &Home, vm: String, yes: bool, scope: AzureScope) -> Result<()> {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if !yes && terminal {
        let plan = ask_in(home, DestroyPlan { vm: vm.clone() }, scope.clone())?;
        println!("{}", plan.message);
        if !super::confirm(&format!("Delete {vm}? Type yes to confirm: "))? {
            bail!("nothing deleted");
        }
    }
    let confirmed = yes || terminal;
    done(ask_in(
        home,
        Kill {
            vm,
            unmanaged_ok: confirmed,
        },
        scope,
    )?)
}

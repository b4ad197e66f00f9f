//! `azlin autostop VM --idle 2h [--cpu 5]`, `azlin autostop VM --off` and
//! `azlin autostop list`: ask the daemon, print what it says.

use anyhow::{Result, bail};

use super::args::{AutostopAction, AutostopArgs};
use crate::{
    home::Home,
    ipc::{
        autostop::{AutostopList, AutostopSet},
        client::Client,
    },
};

pub fn run(home: &Home, args: AutostopArgs) -> Result<()> {
    match args.action {
        Some(AutostopAction::List { json }) => {
            let views = Client::connect_or_start(home)?.call(AutostopList, |_, _| {})?;
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else if views.is_empty() {
                println!("no VM has autostop; `azlin autostop VM --idle 2h` sets it");
            } else {
                for v in views {
                    println!(
                        "{}: deallocated after {} s idle (CPU below {}%); idle for {} s{}",
                        v.vm,
                        v.idle_secs,
                        v.cpu_below,
                        v.idle_for_secs.max(0),
                        if v.keepalive_until > 0 {
                            " (a keepalive was given)"
                        } else {
                            ""
                        }
                    );
                }
            }
            Ok(())
        }
        None => {
            let Some(vm) = args.vm else {
                bail!("name the VM: `azlin autostop VM --idle 2h` (or --off)");
            };
            let done = Client::connect_or_start(home)?.call(
                AutostopSet {
                    vm,
                    idle: args.idle,
                    cpu_below: args.cpu,
                    off: args.off,
                },
                |_, _| {},
            )?;
            println!("{}", done.message);
            Ok(())
        }
    }
}

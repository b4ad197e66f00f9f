//! `azlin schedule VM --stop HH:MM [--start HH:MM] [--days D]
//! [--start-days D] [--tz Z]`,
//! `azlin schedule list` and `azlin schedule clear VM`: ask the daemon,
//! print the schedule and what it depends on.

use anyhow::{Result, bail};

use super::args::{ScheduleAction, ScheduleArgs};
use crate::{
    home::Home,
    ipc::{
        client::Client,
        schedule::{ScheduleClear, ScheduleList, ScheduleSet, ScheduleView},
    },
};

pub fn run(home: &Home, args: ScheduleArgs) -> Result<()> {
    match args.action {
        Some(ScheduleAction::List { json }) => {
            let views = Client::connect_or_start(home)?.call(ScheduleList, |_, _| {})?;
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else if views.is_empty() {
                println!("no schedules; `azlin schedule VM --stop 19:00` sets one");
            } else {
                for v in &views {
                    show(v);
                }
            }
            Ok(())
        }
        Some(ScheduleAction::Clear { vm }) => {
            let done = Client::connect_or_start(home)?.call(ScheduleClear { vm }, |_, _| {})?;
            println!("{}", done.message);
            Ok(())
        }
        None => {
            let (Some(vm), Some(stop)) = (args.vm, args.stop) else {
                bail!(
                    "name the VM and its stop time: `azlin schedule VM --stop 19:00 [--start \
                     08:00] [--days Mon-Fri] [--tz Europe/London]`"
                );
            };
            let tz = args.tz.unwrap_or_else(|| {
                jiff::tz::TimeZone::system()
                    .iana_name()
                    .unwrap_or("UTC")
                    .to_string()
            });
            let view = Client::connect_or_start(home)?.call(
                ScheduleSet {
                    vm,
                    stop,
                    start: args.start,
                    days: args.days,
                    start_days: args.start_days,
                    tz,
                },
                |_, _| {},
            )?;
            show(&view);
            for note in &view.notes {
                println!("note: {note}");
            }
            Ok(())
        }
    }
}

fn show(v: &ScheduleView) {
    // With days of its own, each event says its days.
    let (stop_days, start) = match (&v.start, &v.start_days) {
        (Some(s), Some(days)) => (format!(" {}", v.days), format!(", start {s} {days}")),
        (Some(s), None) => (String::new(), format!(", start {s}, {}", v.days)),
        (None, _) => (String::new(), format!(", {}", v.days)),
    };
    println!("{}: stop {}{stop_days}{start} ({})", v.vm, v.stop, v.tz);
    if let Some(id) = &v.auto_shutdown {
        println!("  Azure auto-shutdown: {id}");
    }
}

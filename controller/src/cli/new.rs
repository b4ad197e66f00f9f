//! `azlin new`: ask the daemon what would be made and what it costs
//! (`PlanNew`: for Azure the size is checked in the region and against the
//! quotas, and priced), show that, ask on a terminal when it is more than
//! one VM or over `[azure] confirm_above_per_month` (off a terminal the
//! price is shown and nothing asked), then make them (`New`), showing each
//! VM's stages as they end.

use anyhow::{Context, Result, bail};

use super::{args::NewArgs, new_progress, render};
use crate::{
    config::Config,
    home::Home,
    ipc::{
        client::{Client, DaemonGone},
        new::{Machine, New, NewPlan, NewReply, PlanNew},
        vms::{List, Price, VmView},
    },
    provider::Kind,
    state::ConnectMode,
};

/// `args` with what template `--template` names filled in where no flag
/// was given, and `--cloud-init-extra` read (a flag's file wins).
fn with_template(home: &Home, mut args: NewArgs) -> Result<(NewArgs, Option<String>)> {
    let mut extra = None;
    if let Some(name) = &args.template {
        let t = crate::template::Template::load(home, name)?;
        args.provider = args.provider.or(t.provider);
        args.size = args.size.or(t.size);
        args.region = args.region.or(t.region);
        args.image = args.image.or(t.image);
        args.admin_user = args.admin_user.or(t.admin_user);
        args.disk_size = args.disk_size.or(t.disk_size);
        args.no_dev_tools |= t.no_dev_tools;
        args.nfs_storage = args.nfs_storage.or(t.nfs_storage);
        // The template's tags first: a --tag of the same key wins.
        let mut tags: Vec<String> = t.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        tags.append(&mut args.tags);
        args.tags = tags;
        extra = t.cloud_init_extra;
    }
    if let Some(file) = &args.cloud_init_extra {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        azlin_cloud_init::extra::parse(&text)
            .map_err(|e| anyhow::anyhow!("{} is refused: {e}", file.display()))?;
        extra = Some(text);
    }
    Ok((args, extra))
}

pub fn run(home: &Home, config: &Config, args: NewArgs) -> Result<()> {
    let (args, cloud_init_extra) = with_template(home, args)?;
    // A repository that cannot be cloned is said before any VM is made.
    if let Some(url) = &args.repo {
        super::repo::check(url, None)?;
    }
    let provider = match args.provider {
        Some(p) => p,
        None => {
            // Azure is the default once a subscription is set.
            config.default_provider.clone().unwrap_or_else(|| {
                if config.azure.subscription.is_some() {
                    Kind::Azure.as_str().into()
                } else {
                    Kind::Local.as_str().into()
                }
            })
        }
    };
    let mut tags: Vec<(String, String)> = Vec::new();
    for t in &args.tags {
        let (key, value) = crate::state::tags::parse_tag(t)?;
        tags.retain(|(k, _)| *k != key);
        tags.push((key, value));
    }
    let machine = Machine {
        size: args.size,
        region: args.region,
        image: args.image,
        admin_user: args.admin_user,
        disk_gb: args.disk_size,
    };
    let target = crate::azure::context::Target {
        subscription: args.subscription,
        resource_group: args.resource_group,
        context: None,
    };
    let plan = Client::connect_or_start(home)?
        .targeting(target.clone())
        .call(
            PlanNew {
                provider: provider.clone(),
                pool: args.pool,
                machine: machine.clone(),
            },
            |_, _| {},
        )?;
    if let Some(line) = describe(&plan, args.pool) {
        eprintln!("{line}");
    }
    // Only a terminal is asked; a script gets the price line and goes on.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
    if terminal
        && !args.yes
        && let Some(question) = question(&plan, args.pool, config)
        && !super::confirm(&format!("{question} Type yes to go on: "))?
    {
        bail!("nothing created");
    }
    let request = New {
        tags,
        no_dev_tools: args.no_dev_tools,
        nfs_storage: args.nfs_storage,
        cloud_init_extra,
        provider,
        name: args.name,
        pool: args.pool,
        connect: if args.dial {
            ConnectMode::Dial
        } else {
            ConnectMode::Listen
        },
        machine,
    };
    let mut progress = new_progress::NewProgress::new();
    let since = crate::state::now_unix() - 1;
    let (pool, provider) = (request.pool, request.provider.clone());
    let answer = Client::connect_or_start(home)?
        .targeting(target)
        .call(request, |vm, message| progress.stage(vm, message));
    progress.end();
    let answer = match answer {
        Err(e) if e.downcast_ref::<DaemonGone>().is_some() => {
            return after_daemon_lost(home, &provider, since, pool, args.json, e);
        }
        other => other,
    };
    match answer? {
        NewReply::Created(vms) => {
            render::vms(&vms, args.json)?;
            if let Some(url) = &args.repo {
                let mut failed = 0;
                for vm in &vms {
                    match super::repo::clone(home, &vm.name, url, None) {
                        Ok(done) => eprintln!("{done}"),
                        Err(e) => {
                            failed += 1;
                            eprintln!("azlin: {}: {e:#}", vm.name);
                        }
                    }
                }
                if failed > 0 {
                    bail!(
                        "the VMs are made; {failed} of {} could not clone {url}",
                        vms.len()
                    );
                }
            }
            // As the original tool ends: one new VM, on a terminal, is
            // connected to at once.
            let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stdin())
                && std::io::IsTerminal::is_terminal(&std::io::stdout());
            if let [vm] = vms.as_slice()
                && on_terminal
                && !args.no_connect
                && !args.json
            {
                super::notice::done_now(home, config);
                eprintln!("connecting to {} (--no-connect to stop here)", vm.name);
                super::connect::run(
                    home,
                    super::connect::Options {
                        vm: vm.name.clone(),
                        tmux: None,
                        reconnect: true,
                    },
                )?;
            }
            Ok(())
        }
        NewReply::Joined {
            controller,
            ca_pem,
            vms,
        } => render::joined(&controller, &ca_pem, &vms, args.json),
    }
}

/// The daemon went away while making VMs (stopped, or killed): start it
/// again and say what exists of what this `new` made (the VMs of the
/// provider made since it began), waiting a little for their agents,
/// rather than only that the connection was lost. Success only when all
/// `pool` VMs exist and are connected.
fn after_daemon_lost(
    home: &Home,
    provider: &str,
    since: i64,
    pool: u32,
    json: bool,
    lost: anyhow::Error,
) -> Result<()> {
    tracing::debug!("new: {lost}");
    eprintln!(
        "azlin: the daemon stopped while `new` was running; starting it again to see what was made"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let made = loop {
        // The daemon starting again may itself be in the way of one that
        // another command started meanwhile: asked again until the end.
        let asked =
            Client::connect_or_start(home).and_then(|c| c.call(List { cloud: false }, |_, _| {}));
        let made: Vec<VmView> = match asked {
            Ok(list) => list
                .into_iter()
                .filter(|v| v.provider == provider && v.created_at >= since)
                .collect(),
            Err(e) if std::time::Instant::now() > deadline => return Err(e),
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(500));
                continue;
            }
        };
        let settled = made.len() >= pool as usize && made.iter().all(|v| v.connected);
        if settled || std::time::Instant::now() > deadline {
            break made;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    render::vms(&made, json)?;
    let late: Vec<&str> = made
        .iter()
        .filter(|v| !v.connected)
        .map(|v| v.name.as_str())
        .collect();
    if made.len() >= pool as usize && late.is_empty() {
        eprintln!("azlin: all {pool} VM(s) were made and are connected");
        return Ok(());
    }
    let mut why = format!(
        "the daemon stopped while `new` was running: {} of {pool} VM(s) exist",
        made.len()
    );
    if !late.is_empty() {
        why.push_str(&format!(
            "; not connected: {} (`azlin kill VM` removes a half-made one)",
            late.join(", ")
        ));
    }
    bail!("{why}")
}

/// `$0.0960/h ($70.08/month)`.
pub fn money(price: &Price, times: u32) -> String {
    let symbol = if price.currency == "USD" { "$" } else { "" };
    let suffix = if price.currency == "USD" {
        String::new()
    } else {
        format!(" {}", price.currency)
    };
    let t = f64::from(times);
    format!(
        "{symbol}{:.4}/h{suffix} ({symbol}{:.2}/month{suffix})",
        price.per_hour * t,
        price.per_month() * t
    )
}

/// What would be made and its price, in one line; `None` for providers
/// without sizes.
fn describe(plan: &NewPlan, pool: u32) -> Option<String> {
    if plan.machine.is_empty() {
        return None;
    }
    let price = match (&plan.price, &plan.no_price) {
        (Some(p), _) if pool > 1 => format!(
            "{} each, {} for {pool} ({})",
            money(p, 1),
            money(p, pool),
            p.source
        ),
        (Some(p), _) => format!("{} ({})", money(p, 1), p.source),
        (None, Some(why)) => format!("no price: {why}"),
        (None, None) => "no price".into(),
    };
    Some(format!("{}: {price}", plan.machine))
}

/// The question to ask before making machines that cost money (those with
/// a size), if any: more than one VM, or over `[azure]
/// confirm_above_per_month` (or a price unknown while that is set).
fn question(plan: &NewPlan, pool: u32, config: &Config) -> Option<String> {
    if plan.machine.is_empty() {
        return None;
    }
    let total = plan.price.as_ref().map(|p| p.per_month() * f64::from(pool));
    let over = match (config.azure.confirm_above_per_month, total) {
        (Some(limit), Some(t)) => t > limit,
        (Some(_), None) => !plan.machine.is_empty(),
        (None, _) => false,
    };
    if pool <= 1 && !over {
        return None;
    }
    let what = if pool > 1 {
        format!("Create {pool} VMs")
    } else {
        "Create this VM".to_string()
    };
    Some(match (&plan.price, total) {
        (Some(p), Some(t)) => format!(
            "{what} for {}{t:.2}/month?",
            if p.currency == "USD" { "$" } else { "" }
        ),
        _ if !plan.machine.is_empty() => format!("{what} (no price known)?"),
        _ => format!("{what}?"),
    })
}

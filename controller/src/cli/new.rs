//! `azlin new`: ask the daemon what would be made and what it costs
//! (`PlanNew`: for Azure the size is checked in the region and against the
//! quotas, and priced), show that, ask on a terminal when it is more than
//! one VM or over `[azure] confirm_above_per_month` (off a terminal the
//! price is shown and nothing asked), then make them (`New`), showing each
//! VM's stages as they end.

use anyhow::{Result, bail};

use super::{args::NewArgs, new_progress, render};
use crate::{
    config::Config,
    home::Home,
    ipc::{
        client::Client,
        new::{Machine, New, NewPlan, NewReply, PlanNew},
        vms::Price,
    },
    provider::Kind,
    state::ConnectMode,
};

pub fn run(home: &Home, config: &Config, args: NewArgs) -> Result<()> {
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
    let tags = args
        .tags
        .iter()
        .map(|t| crate::state::tags::parse_tag(t))
        .collect::<Result<Vec<_>>>()?;
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
    let answer = Client::connect_or_start(home)?
        .targeting(target)
        .call(request, |vm, message| progress.stage(vm, message));
    progress.end();
    match answer? {
        NewReply::Created(vms) => render::vms(&vms, args.json),
        NewReply::Joined {
            controller,
            ca_pem,
            vms,
        } => render::joined(&controller, &ca_pem, &vms, args.json),
    }
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

//! `azlin context create|use|list|show|delete|rename|migrate`: the file of
//! `crate::contexts`, read and written here, on this machine. Only `use`
//! asks the daemon: it switches once Azure has answered for the
//! subscription with the context's sign-in, and changes nothing otherwise
//! (#1096: a switch that said "switched" and was not).

use anyhow::{Result, bail};
use serde_json::json;

use super::{args::ContextAction, terminal_text::shown};
use crate::{
    config::Config,
    contexts::{Chosen, Context, Contexts},
    home::Home,
    ipc::{client::Client, context::ContextCheck},
};

pub fn run(home: &Home, config: &Config, action: ContextAction) -> Result<()> {
    let mut contexts = Contexts::load(home)?;
    match action {
        ContextAction::Create {
            name,
            subscription,
            tenant,
            resource_group,
            region,
        } => {
            let context = Context {
                subscription: subscription.trim().to_ascii_lowercase(),
                tenant,
                resource_group,
                region,
            };
            contexts.create(&name, context.clone())?;
            contexts.save(home)?;
            println!(
                "context {name} created ({}); `azlin context use {name}` switches to it",
                context.describe()
            );
        }
        ContextAction::Use { name } => {
            let chosen = Chosen {
                name: name.clone(),
                context: contexts.get(&name)?.clone(),
            };
            let seen = Client::connect_or_start(home)?
                .in_context(Some(chosen.clone()))
                .call(ContextCheck {}, |_, _| {})?;
            // Read again: another command may have changed the file
            // while Azure was asked.
            let mut contexts = Contexts::load(home)?;
            if contexts.get(&name)? != &chosen.context {
                bail!(
                    "context {name} changed while it was checked; nothing switched, run it again"
                );
            }
            contexts.current = Some(name.clone());
            contexts.save(home)?;
            let display = seen
                .display_name
                .as_deref()
                .map(|n| format!("{} ", shown(n)))
                .unwrap_or_default();
            println!(
                "switched to context {name}: subscription {display}({}){}, reachable with your \
                 sign-in",
                seen.id,
                chosen
                    .context
                    .resource_group
                    .as_deref()
                    .map(|rg| format!(", resource group {rg}"))
                    .unwrap_or_default()
            );
        }
        ContextAction::List { json } => {
            let current = contexts.current.as_deref();
            if json {
                let rows: Vec<_> = contexts
                    .contexts
                    .iter()
                    .map(|(name, c)| view(name, c, current == Some(name.as_str())))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            if contexts.contexts.is_empty() {
                println!(
                    "no contexts: `azlin context create NAME --subscription ID` makes one, \
                     `azlin context migrate` turns [azure] in config.toml into one"
                );
                return Ok(());
            }
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let header = [
                "".to_string(),
                "NAME".into(),
                "SUBSCRIPTION".into(),
                "RESOURCE GROUP".into(),
                "REGION".into(),
                "TENANT".into(),
            ];
            let mut rows = Vec::new();
            for (name, c) in &contexts.contexts {
                rows.push([
                    if current == Some(name.as_str()) {
                        "*".into()
                    } else {
                        " ".into()
                    },
                    name.clone(),
                    c.subscription.clone(),
                    dash(&c.resource_group),
                    dash(&c.region),
                    dash(&c.tenant),
                ]);
            }
            print!("{}", super::render::aligned(&header, &rows));
        }
        ContextAction::Show { name, json } => {
            let name = match name.or_else(|| crate::contexts::chosen().map(|c| c.name.clone())) {
                Some(n) => n,
                None => {
                    println!(
                        "no context in use: Azure commands work where [azure] in config.toml \
                         says (`azlin context list` shows the contexts)"
                    );
                    return Ok(());
                }
            };
            let c = contexts.get(&name)?;
            let current = contexts.current.as_deref() == Some(name.as_str());
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&view(&name, c, current))?
                );
                return Ok(());
            }
            println!("context {name}{}", if current { " (current)" } else { "" });
            println!("  subscription    {}", c.subscription);
            let field = |label: &str, v: &Option<String>| {
                println!(
                    "  {label:<15} {}",
                    v.as_deref()
                        .unwrap_or("- (config.toml's [azure], else azlin's default)")
                );
            };
            field("resource group", &c.resource_group);
            field("region", &c.region);
            println!(
                "  tenant          {}",
                c.tenant.as_deref().unwrap_or("- (your sign-in's default)")
            );
        }
        ContextAction::Delete { name } => {
            let was_current = contexts.delete(&name)?;
            contexts.save(home)?;
            if was_current {
                println!(
                    "context {name} deleted; it was the current one, so none is in use now \
                     ([azure] in config.toml applies)"
                );
            } else {
                println!("context {name} deleted");
            }
        }
        ContextAction::Rename { from, to } => {
            contexts.rename(&from, &to)?;
            contexts.save(home)?;
            println!("context {from} is now {to}");
        }
        ContextAction::Migrate { name } => {
            let azure = &config.azure;
            let Some(subscription) = azure.subscription.clone() else {
                bail!(
                    "config.toml has no [azure] subscription to make a context of; `azlin context \
                     create NAME --subscription ID` makes one"
                );
            };
            let context = Context {
                subscription: subscription.trim().to_ascii_lowercase(),
                tenant: None,
                resource_group: azure.resource_group.clone(),
                region: azure.location.clone(),
            };
            contexts.create(&name, context.clone())?;
            contexts.current = Some(name.clone());
            contexts.save(home)?;
            println!(
                "context {name} made from [azure] in config.toml ({}) and is the current one; \
                 config.toml is unchanged",
                context.describe()
            );
        }
    }
    Ok(())
}

fn view(name: &str, c: &Context, current: bool) -> serde_json::Value {
    json!({
        "name": name,
        "current": current,
        "subscription": c.subscription,
        "tenant": c.tenant,
        "resource_group": c.resource_group,
        "region": c.region,
    })
}

//! `azlin template create|list|show|delete`: the files of
//! `crate::template`, read and written here, on this machine (the daemon
//! has no part in them: `new --template` reads one before it asks the
//! daemon). Written atomically, 0600 (a cloud-init extra may hold what
//! only its owner should read).

use anyhow::{Context, Result, bail};
use azlin_protocol::secret_file::write_atomic;

use super::{args::TemplateAction, terminal_text::shown};
use crate::{
    home::Home,
    provider::Kind,
    template::{Template, list, path},
};

pub fn run(home: &Home, action: TemplateAction) -> Result<()> {
    match action {
        TemplateAction::Create {
            name,
            provider,
            size,
            region,
            image,
            admin_user,
            disk_size,
            tags,
            no_dev_tools,
            nfs_storage,
            cloud_init_extra,
            force,
        } => {
            let file = path(home, &name)?;
            if let Some(p) = &provider {
                Kind::parse(p)?;
            }
            let mut kept = std::collections::BTreeMap::new();
            for t in &tags {
                let (k, v) = crate::state::tags::parse_tag(t)?;
                kept.insert(k, v);
            }
            let extra = match &cloud_init_extra {
                Some(f) => Some(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("cannot read {}", f.display()))?,
                ),
                None => None,
            };
            let template = Template {
                provider,
                size,
                region,
                image,
                admin_user,
                disk_size,
                no_dev_tools,
                nfs_storage,
                tags: kept,
                cloud_init_extra: extra,
            };
            template.check()?;
            if file.exists() && !force {
                bail!(
                    "there is a template named {name} already ({}): --force replaces it",
                    file.display()
                );
            }
            let dir = file.parent().expect("in the templates folder");
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            write_atomic(&file, template.to_toml()?.as_bytes(), 0o600)?;
            println!(
                "template {name} is {}; azlin new --template {name} uses it",
                file.display()
            );
            Ok(())
        }
        TemplateAction::List { json } => {
            let names = list(home)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&names)?);
            } else if names.is_empty() {
                println!("no templates");
            } else {
                for n in names {
                    println!("{n}");
                }
            }
            Ok(())
        }
        TemplateAction::Show { name, json } => {
            let t = Template::load(home, &name)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                print!("{}", shown(&t.to_toml()?));
            }
            Ok(())
        }
        TemplateAction::Delete { name, dry_run, yes } => {
            let file = path(home, &name)?;
            if !file.exists() {
                // Names the ones there are.
                Template::load(home, &name)?;
            }
            let what = format!("template {name} ({})", file.display());
            if dry_run {
                println!("would delete {what}");
                return Ok(());
            }
            if !yes {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    bail!("no terminal to ask on: run with --yes to delete, or --dry-run");
                }
                if !super::confirm(&format!("Delete {what}? Type yes to confirm: "))? {
                    bail!("nothing deleted");
                }
            }
            std::fs::remove_file(&file)
                .with_context(|| format!("cannot delete {}", file.display()))?;
            println!("deleted {what}");
            Ok(())
        }
    }
}

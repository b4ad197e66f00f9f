//! Which subscription azlin works in: `--subscription`, else the context
//! in use, else `[azure] subscription` in config.toml, else
//! `AZURE_SUBSCRIPTION_ID`, else the Azure CLI's default (`az account
//! show`).

use std::process::Stdio;

use super::error::{ArmError, ErrorKind};

/// Where the subscription id came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub from: &'static str,
}

/// Resolve the subscription as the module documents.
/// `context` is the name and subscription of the context in use.
pub async fn resolve(
    flag: Option<&str>,
    context: Option<(&str, &str)>,
    config: Option<&str>,
) -> Result<Subscription, ArmError> {
    let env = std::env::var("AZURE_SUBSCRIPTION_ID").ok();
    for (value, from) in [
        (flag.map(String::from), "--subscription"),
        (context.map(|(_, s)| s.to_string()), "the context in use"),
        (config.map(String::from), "[azure] subscription"),
        (env, "AZURE_SUBSCRIPTION_ID"),
    ] {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            return checked(v.trim(), from);
        }
    }
    let out = tokio::process::Command::new("az")
        .args(["account", "show", "--query", "id", "--output", "tsv"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    match out {
        Ok(o) if o.status.success() => {
            checked(String::from_utf8_lossy(&o.stdout).trim(), "az account show")
        }
        Ok(o) => Err(none(&format!(
            "az account show failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => Err(none(&format!("cannot run az: {e}"))),
    }
}

fn checked(id: &str, from: &'static str) -> Result<Subscription, ArmError> {
    if is_guid(id) {
        Ok(Subscription {
            id: id.to_ascii_lowercase(),
            from,
        })
    } else {
        Err(ArmError {
            status: 0,
            code: "BadSubscription".into(),
            message: format!("{id:?} (from {from}) is not a subscription id (a GUID)"),
            kind: ErrorKind::Other,
            request: "subscription".into(),
        })
    }
}

fn none(why: &str) -> ArmError {
    ArmError {
        status: 0,
        code: "NoSubscription".into(),
        message: format!(
            "no Azure subscription: pass --subscription, set [azure] subscription in \
             config.toml, or run `az login` ({why})"
        ),
        kind: ErrorKind::Authentication,
        request: "subscription".into(),
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_flag_wins_then_the_context_then_the_config_and_bad_ids_are_refused() {
        let a = "00000000-0000-0000-0000-000000000001";
        let b = "00000000-0000-0000-0000-000000000002";
        let c = "00000000-0000-0000-0000-000000000003";
        let s = resolve(Some(a), Some(("work", c)), Some(b)).await.unwrap();
        assert_eq!((s.id.as_str(), s.from), (a, "--subscription"));
        let s = resolve(None, Some(("work", c)), Some(b)).await.unwrap();
        assert_eq!((s.id.as_str(), s.from), (c, "the context in use"));
        let s = resolve(None, None, Some(b)).await.unwrap();
        assert_eq!((s.id.as_str(), s.from), (b, "[azure] subscription"));
        let e = resolve(Some("my-sub"), None, None).await.unwrap_err();
        assert!(e.to_string().contains("not a subscription id"), "{e}");
        assert!(is_guid("0b1f6471-1bf0-4dda-aec3-cb9272f09590"));
        assert!(!is_guid("0b1f6471-1bf0-4dda-aec3-cb9272f0959"));
    }
}

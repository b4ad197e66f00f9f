//! Which ARM server and token a request uses: `AZLIN_ARM_ENDPOINT` and
//! `AZLIN_ARM_TOKEN` as the CLI that sent the request has them, not as
//! the daemon had them when it started (a daemon outlives many shells).
//! The CLI sends its values in each request's envelope; the daemon runs
//! the request inside [`ArmAccess::scope`], and the Azure provider asks
//! [`ArmAccess::current`] for its client. Work the daemon does on its own
//! uses the daemon's environment.

use std::future::Future;

use serde::{Deserialize, Serialize};

tokio::task_local! {
    static ACCESS: ArmAccess;
}

/// An ARM endpoint override and a static token; `None`: Azure itself, and
/// the sign-in chain of [`super::credentials`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArmAccess {
    pub endpoint: Option<String>,
    pub token: Option<String>,
}

impl ArmAccess {
    /// This process's `AZLIN_ARM_ENDPOINT` and `AZLIN_ARM_TOKEN`.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            endpoint: var("AZLIN_ARM_ENDPOINT"),
            token: var("AZLIN_ARM_TOKEN"),
        }
    }

    /// The access of the request being served, else this process's own.
    pub fn current() -> Self {
        ACCESS
            .try_with(Clone::clone)
            .unwrap_or_else(|_| Self::from_env())
    }

    /// Run `f` (and what it awaits, not what it spawns) with this access.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        ACCESS.scope(self, f).await
    }
}

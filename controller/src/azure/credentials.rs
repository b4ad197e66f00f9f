//! Where the bearer token for ARM comes from, in this order:
//!
//! 1. `AZLIN_ARM_TOKEN`: a static token, used as it is (with
//!    `AZLIN_ARM_ENDPOINT`, any ARM-compatible server; how azlin is tested).
//! 2. The Azure CLI's login (`az login`), through `az account
//!    get-access-token`.
//! 3. Managed identity, when running on Azure: App Service and friends set
//!    `IDENTITY_ENDPOINT`/`MSI_ENDPOINT`; on a VM set
//!    `AZLIN_MANAGED_IDENTITY=1`. It is not probed otherwise, because the
//!    probe (the instance metadata address) costs seconds off Azure.
//! 4. A service principal from the environment: `AZURE_TENANT_ID`,
//!    `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`.
//!
//! The first that gives a token is kept for the rest of the run. When none
//! does, the error says to run `az login` and lists why each failed.

use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientSecretCredential,
    ManagedIdentityCredential,
};
use tokio::sync::Mutex;

use super::error::{ArmError, ErrorKind};

/// The scope of an ARM token.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

pub enum Credentials {
    /// A token used as it is.
    Static(String),
    /// Azure's credential sources, tried in order.
    Chain(Chain),
}

pub struct Chain {
    sources: Vec<(&'static str, Arc<dyn TokenCredential>)>,
    /// Index of the source that worked.
    chosen: Mutex<Option<usize>>,
}

impl Credentials {
    /// From the environment, as the module documents.
    pub fn from_env() -> Result<Self, ArmError> {
        Self::with_token(super::context::ArmAccess::from_env().token, None)
    }

    /// `token` if there is one (a request's `AZLIN_ARM_TOKEN`), else the
    /// sign-in sources 2-4 from this process's environment, signing in to
    /// `tenant` when one is given (a context's): the Azure CLI is asked
    /// for a token of that tenant, a service principal signs in there;
    /// managed identity has only its own.
    pub fn with_token(token: Option<String>, tenant: Option<String>) -> Result<Self, ArmError> {
        if let Some(t) = token.filter(|t| !t.trim().is_empty()) {
            return Ok(Self::Static(t.trim().to_string()));
        }
        let mut sources: Vec<(&'static str, Arc<dyn TokenCredential>)> = Vec::new();
        let mut unusable = Vec::new();
        let cli_options = AzureCliCredentialOptions {
            tenant_id: tenant.clone(),
            ..Default::default()
        };
        match AzureCliCredential::new(Some(cli_options)) {
            Ok(c) => sources.push(("Azure CLI (az login)", c)),
            Err(e) => unusable.push(format!("Azure CLI: {e}")),
        }
        let on_azure = ["IDENTITY_ENDPOINT", "MSI_ENDPOINT"]
            .iter()
            .any(|v| std::env::var_os(v).is_some())
            || std::env::var("AZLIN_MANAGED_IDENTITY").as_deref() == Ok("1");
        if on_azure && tenant.is_none() {
            match ManagedIdentityCredential::new(None) {
                Ok(c) => sources.push(("managed identity", c)),
                Err(e) => unusable.push(format!("managed identity: {e}")),
            }
        }
        let sp = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"]
            .map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()));
        if let [Some(env_tenant), Some(client), Some(secret)] = sp {
            let tenant = tenant.as_deref().unwrap_or(&env_tenant);
            match ClientSecretCredential::new(tenant, client, Secret::new(secret), None) {
                Ok(c) => sources.push(("service principal (AZURE_CLIENT_ID)", c)),
                Err(e) => unusable.push(format!("service principal: {e}")),
            }
        }
        if sources.is_empty() {
            return Err(signed_out(&unusable));
        }
        Ok(Self::Chain(Chain {
            sources,
            chosen: Mutex::new(None),
        }))
    }

    pub async fn token(&self) -> Result<String, ArmError> {
        match self {
            Self::Static(t) => Ok(t.clone()),
            Self::Chain(chain) => chain.token().await,
        }
    }
}

impl Chain {
    async fn token(&self) -> Result<String, ArmError> {
        let mut chosen = self.chosen.lock().await;
        if let Some(i) = *chosen {
            let (name, source) = &self.sources[i];
            return source
                .get_token(&[ARM_SCOPE], None)
                .await
                .map(|t| t.token.secret().to_string())
                .map_err(|e| signed_out(&[format!("{name}: {}", first_line(&e))]));
        }
        let mut why = Vec::new();
        for (i, (name, source)) in self.sources.iter().enumerate() {
            match source.get_token(&[ARM_SCOPE], None).await {
                Ok(t) => {
                    tracing::info!(source = name, "signed in to Azure");
                    *chosen = Some(i);
                    return Ok(t.token.secret().to_string());
                }
                Err(e) => why.push(format!("{name}: {}", first_line(&e))),
            }
        }
        Err(signed_out(&why))
    }
}

fn first_line(e: &azure_core::Error) -> String {
    let text = e.to_string();
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

fn signed_out(why: &[String]) -> ArmError {
    ArmError {
        status: 0,
        code: "NoCredentials".into(),
        message: format!(
            "no Azure sign-in works ({})",
            if why.is_empty() {
                "no source configured".to_string()
            } else {
                why.join("; ")
            }
        ),
        kind: ErrorKind::Authentication,
        request: "Azure sign-in".into(),
    }
}

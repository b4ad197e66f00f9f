//! Signing in to Azure: a static token, the Azure CLI's login (a stand-in
//! `az` on PATH, run by azure_identity exactly as it runs the real one), a
//! signed-out CLI reported as "run az login", and a service principal from
//! the environment, whose secret azure_identity trades for a token at a
//! stand-in Entra endpoint over real HTTPS. One test: it changes this
//! process's environment.

use std::{os::unix::fs::PermissionsExt, time::Duration};

use azlin_controller::azure::{
    client::ArmClient, credentials::Credentials, error::ErrorKind, models::resources::ResourceGroup,
};
use azlin_e2e::arm::fake::FakeArm;

fn fake_az(dir: &std::path::Path, script: &str) {
    let az = dir.join("az");
    std::fs::write(&az, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn tokens_come_from_the_documented_sources_in_order() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = FakeArm::start(Vec::new());
    fake.can(
        "GET",
        "/subscriptions/s/resourcegroups/rg?api-version=1",
        vec![(200, vec![], r#"{"location":"westus"}"#)],
    );
    let rg = "/subscriptions/s/resourcegroups/rg";
    let bin = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    // SAFETY: this binary has one test and no other threads reading the
    // environment while it changes.
    unsafe {
        std::env::set_var("PATH", &path);
        for v in [
            "AZLIN_ARM_TOKEN",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "IDENTITY_ENDPOINT",
            "MSI_ENDPOINT",
            "AZLIN_MANAGED_IDENTITY",
        ] {
            std::env::remove_var(v);
        }
    }

    // 1. The Azure CLI's login.
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        + Duration::from_secs(3600);
    fake_az(
        bin.path(),
        &format!(
            r#"[ "$1 $2" = "account get-access-token" ] || exit 2
echo '{{"accessToken":"token-from-az","expires_on":{},"tokenType":"Bearer"}}'"#,
            expires.as_secs()
        ),
    );
    let arm = ArmClient::new(&fake.base(), Credentials::from_env().unwrap()).unwrap();
    let got: ResourceGroup = rt.block_on(arm.get(rg, "1")).unwrap();
    assert_eq!(got.location, "westus");
    assert_eq!(
        fake.seen().last().unwrap().authorization.as_deref(),
        Some("Bearer token-from-az")
    );

    // 2. Signed out: the CLI's own complaint, and what to do.
    fake_az(
        bin.path(),
        "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1",
    );
    let arm = ArmClient::new(&fake.base(), Credentials::from_env().unwrap()).unwrap();
    let before = fake.seen().len();
    let err = rt.block_on(arm.get::<ResourceGroup>(rg, "1")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    let text = err.to_string();
    assert!(text.contains("run `az login`"), "{text}");
    assert!(text.contains("Azure CLI"), "{text}");
    assert_eq!(fake.seen().len(), before, "nothing is sent without a token");

    // 3. With the CLI signed out, a service principal from the
    // environment: azure_identity posts its secret to the tenant's token
    // endpoint, and the token it gets is what ARM sees.
    let entra = azlin_e2e::entra::TokenServer::start("sp-secret", "token-from-sp");
    unsafe {
        std::env::set_var("SSL_CERT_FILE", &entra.ca_file);
        std::env::set_var("AZURE_AUTHORITY_HOST", entra.authority());
        std::env::set_var("AZURE_TENANT_ID", "11111111-2222-3333-4444-555555555555");
        std::env::set_var("AZURE_CLIENT_ID", "sp-app");
        std::env::set_var("AZURE_CLIENT_SECRET", "sp-secret");
    }
    let arm = ArmClient::new(&fake.base(), Credentials::from_env().unwrap()).unwrap();
    rt.block_on(arm.get::<ResourceGroup>(rg, "1")).unwrap();
    assert_eq!(
        fake.seen().last().unwrap().authorization.as_deref(),
        Some("Bearer token-from-sp")
    );
    let (path, form) = entra.requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        path,
        "/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token"
    );
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "sp-app");
    assert_eq!(form["scope"], "https://management.azure.com/.default");
    // A wrong secret: Entra's reason, and what to do.
    unsafe { std::env::set_var("AZURE_CLIENT_SECRET", "wrong") };
    let arm = ArmClient::new(&fake.base(), Credentials::from_env().unwrap()).unwrap();
    let err = rt.block_on(arm.get::<ResourceGroup>(rg, "1")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Authentication);
    let text = err.to_string();
    assert!(text.contains("service principal"), "{text}");
    assert!(text.contains("AADSTS7000215"), "{text}");

    // 4. A static token wins over everything.
    unsafe { std::env::set_var("AZLIN_ARM_TOKEN", "static-token") };
    let arm = ArmClient::new(&fake.base(), Credentials::from_env().unwrap()).unwrap();
    rt.block_on(arm.get::<ResourceGroup>(rg, "1")).unwrap();
    assert_eq!(
        fake.seen().last().unwrap().authorization.as_deref(),
        Some("Bearer static-token")
    );
}

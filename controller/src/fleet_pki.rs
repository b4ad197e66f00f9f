//! The controller's PKI on disk (`pki/` in the home): the fleet CA and the
//! controller's own certificate, created on first use. Private keys are
//! written 0600 and never leave this machine.

use anyhow::{Context, Result};
use azlin_protocol::{
    pki::{self, Credentials, FleetCa, KeyPair},
    secret_file::write_atomic,
};
use rustls::pki_types::CertificateDer;
use time::Duration;

use crate::home::Home;

/// Validity of the controller's and agents' certificates.
pub const LEAF_VALIDITY: Duration = Duration::days(365);

pub struct FleetPki {
    pub ca: FleetCa,
    controller_cert_der: Vec<u8>,
    controller_key_pem: String,
}

impl FleetPki {
    pub fn load_or_create(home: &Home) -> Result<Self> {
        let dir = home.pki_dir();
        let (ca_crt, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
        let ca = if ca_crt.exists() && ca_key.exists() {
            let cert = std::fs::read_to_string(&ca_crt)
                .with_context(|| format!("cannot read {}", ca_crt.display()))?;
            let key = std::fs::read_to_string(&ca_key)
                .with_context(|| format!("cannot read {}", ca_key.display()))?;
            FleetCa::from_pem(&cert, &key)
                .with_context(|| format!("fleet CA in {} is unreadable", dir.display()))?
        } else {
            let (ca, key_pem) = FleetCa::create("azlin fleet CA")?;
            write_atomic(&ca_key, key_pem.as_bytes(), 0o600)?;
            write_atomic(&ca_crt, ca.cert_pem().as_bytes(), 0o644)?;
            tracing::info!(path = %dir.display(), "created fleet CA");
            ca
        };
        let (c_crt, c_key) = (dir.join("controller.crt"), dir.join("controller.key"));
        let (controller_cert_der, controller_key_pem) = if c_crt.exists() && c_key.exists() {
            let pem = std::fs::read_to_string(&c_crt)?;
            let key = std::fs::read_to_string(&c_key)?;
            (pki::pem_to_der(&pem)?.to_vec(), key)
        } else {
            let key = KeyPair::generate()?;
            let issued = ca.issue_controller(&key, LEAF_VALIDITY)?;
            let key_pem = key.serialize_pem();
            write_atomic(&c_key, key_pem.as_bytes(), 0o600)?;
            write_atomic(&c_crt, issued.pem.as_bytes(), 0o644)?;
            (issued.der, key_pem)
        };
        Ok(Self {
            ca,
            controller_cert_der,
            controller_key_pem,
        })
    }

    pub fn ca_der(&self) -> &CertificateDer<'static> {
        self.ca.cert_der()
    }

    pub fn controller_credentials(&self) -> Result<Credentials> {
        Ok(Credentials::from_der_and_key_pem(
            self.controller_cert_der.clone(),
            &self.controller_key_pem,
        )?)
    }
}

//! The fleet's PKI: one CA per controller, certificates issued from CSRs,
//! identities carried in certificates, and the rustls configurations that
//! make every connection mutual TLS against that CA.
//!
//! Private keys are generated where they are used ([`new_key`]) and only ever
//! leave this module as PEM for the caller to write to a 0600 file.

mod ca;
mod identity;
mod tls;

pub use ca::{
    FleetCa, IssuedCert, MAX_TRUSTED_CAS, bootstrap_certificate, ca_bundle,
    certificate_matches_key, csr_for_agent, der_to_pem, issued_by, new_key, pem_to_der,
};
pub use identity::{CONTROLLER_DNS, PeerIdentity, agent_dns, check_vm_name, peer_identity};
pub use rcgen::KeyPair;
pub use tls::{ClientAuth, Credentials, ServerAuth, client_config, server_config};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("could not build certificate verifier: {0}")]
    Verifier(String),
    #[error("could not parse PEM: {0}")]
    Pem(String),
    #[error("certificate could not be parsed: {0}")]
    BadCertificate(String),
    #[error("invalid VM name {name:?}: {why}")]
    BadName { name: String, why: &'static str },
}

//! The agent's key material in its state folder: `agent.key` (made here on
//! first start, mode 0600, never sent anywhere), `agent.crt` (the fleet
//! certificate, once enrolled), and the fleet CAs it trusts: the config's
//! `ca_cert` as installed, until the controller rotates the fleet's CA and
//! sends the CAs to trust instead (`trust.pem` in the state folder, which
//! then wins).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use azlin_protocol::{
    enroll::JoinToken,
    pki::{self, Credentials, KeyPair, PeerIdentity},
    secret_file::write_atomic,
};
use rustls::pki_types::CertificateDer;

pub struct AgentCredentials {
    pub key: KeyPair,
    key_pem: String,
    pub cert_der: Option<Vec<u8>>,
    /// The fleet CAs trusted (two while the fleet's CA is rotated).
    pub ca: Vec<CertificateDer<'static>>,
    cert_path: PathBuf,
    trust_path: PathBuf,
    /// The key is bound to this machine (`crate::machine`).
    pub machine_bound: bool,
}

impl AgentCredentials {
    /// Load the key (creating it on first start), the certificate if any,
    /// and the fleet CA. A key made on another machine is refused with
    /// [`crate::machine::Copied`], before anything is made or read.
    pub fn load_or_create(state_dir: &Path, ca_path: &Path, vm: &str) -> Result<Self> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("cannot create state folder {}", state_dir.display()))?;
        let machine_bound = crate::machine::bind(state_dir, crate::machine::current().as_deref())?;
        let key_path = state_dir.join("agent.key");
        let key_pem = if key_path.exists() {
            std::fs::read_to_string(&key_path)
                .with_context(|| format!("cannot read {}", key_path.display()))?
        } else {
            let pem = pki::new_key()?.serialize_pem();
            write_atomic(&key_path, pem.as_bytes(), 0o600)
                .with_context(|| format!("cannot write {}", key_path.display()))?;
            tracing::info!(path = %key_path.display(), "generated agent key");
            pem
        };
        let key = KeyPair::from_pem(&key_pem)
            .with_context(|| format!("{} is not a valid private key", key_path.display()))?;
        let trust_path = state_dir.join("trust.pem");
        let ca_path = if trust_path.exists() {
            trust_path.as_path()
        } else {
            ca_path
        };
        let ca_pem = std::fs::read_to_string(ca_path)
            .with_context(|| format!("cannot read fleet CA certificate {}", ca_path.display()))?;
        let ca = pki::ca_bundle(&ca_pem)
            .with_context(|| format!("{} is not a fleet CA bundle", ca_path.display()))?;
        let cert_path = state_dir.join("agent.crt");
        let cert_der = if cert_path.exists() {
            let pem = std::fs::read_to_string(&cert_path)
                .with_context(|| format!("cannot read {}", cert_path.display()))?;
            let der = pki::pem_to_der(&pem)?.to_vec();
            match pki::peer_identity(&der) {
                Ok(PeerIdentity::Agent { vm: name, .. }) if name == vm => {}
                _ => bail!(
                    "{} is not a certificate for VM {vm}; remove it to enroll again",
                    cert_path.display()
                ),
            }
            if !pki::certificate_matches_key(&der, &key) {
                bail!(
                    "{} does not match agent.key; remove it to enroll again",
                    cert_path.display()
                );
            }
            Some(der)
        } else {
            None
        };
        Ok(Self {
            key,
            key_pem,
            cert_der,
            ca,
            cert_path,
            trust_path,
            machine_bound,
        })
    }

    /// Trust the CAs of `pem` (a bundle) from now on, kept atomically.
    /// Refused, changing nothing, unless every one is a CA and one of them
    /// issued this agent's certificate (else the agent would lock itself
    /// out of the fleet).
    pub fn store_trust(&mut self, pem: &str) -> Result<usize> {
        let cas = pki::ca_bundle(pem).context("not a fleet CA bundle")?;
        if let Some(cert) = &self.cert_der
            && !cas.iter().any(|ca| pki::issued_by(cert, ca))
        {
            bail!("none of these CAs issued this agent's certificate; trust left as it was");
        }
        let text: String = cas.iter().map(|c| pki::der_to_pem(c)).collect();
        write_atomic(&self.trust_path, text.as_bytes(), 0o644)
            .with_context(|| format!("cannot write {}", self.trust_path.display()))?;
        let n = cas.len();
        self.ca = cas;
        Ok(n)
    }

    pub fn enrolled(&self) -> bool {
        self.cert_der.is_some()
    }

    /// The fleet credentials, once enrolled.
    pub fn fleet(&self) -> Result<Option<Credentials>> {
        self.cert_der
            .as_ref()
            .map(|der| {
                Ok(Credentials::from_der_and_key_pem(
                    der.clone(),
                    &self.key_pem,
                )?)
            })
            .transpose()
    }

    /// Self-signed credentials used only while waiting for enrollment.
    pub fn bootstrap(&self, vm: &str) -> Result<Credentials> {
        let der = pki::bootstrap_certificate(&self.key, vm)?;
        Ok(Credentials::from_der_and_key_pem(der, &self.key_pem)?)
    }

    /// Check and persist the certificate the controller issued.
    pub fn store_certificate(&mut self, der: Vec<u8>, vm: &str) -> Result<()> {
        match pki::peer_identity(&der) {
            Ok(PeerIdentity::Agent { vm: name, .. }) if name == vm => {}
            other => bail!("controller sent a certificate that is not for {vm}: {other:?}"),
        }
        if !pki::certificate_matches_key(&der, &self.key) {
            bail!("controller sent a certificate for a different key");
        }
        let pem = pki::der_to_pem(&der);
        write_atomic(&self.cert_path, pem.as_bytes(), 0o644)
            .with_context(|| format!("cannot write {}", self.cert_path.display()))?;
        self.cert_der = Some(der);
        Ok(())
    }
}

/// Read the join token, if the config names a file and it is there.
pub fn read_join_token(path: Option<&Path>) -> Result<JoinToken> {
    let Some(path) = path else {
        bail!("not enrolled and no join_token_file in the config");
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read join token {}", path.display()))?;
    JoinToken::parse(&text).with_context(|| format!("join token in {}", path.display()))
}

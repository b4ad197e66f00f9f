//! The controller's PKI on disk (`pki/` in the home): the fleet CA and the
//! controller's own certificate, created on first use, and while the
//! fleet's CA is rotated (`azlin ca rotate`) the CAs it replaces, still
//! trusted (`trusted-old.pem`) until every agent holds a certificate of
//! the new one. Private keys are written 0600 and never leave this
//! machine; a replaced CA's key is kept in `retired/` (0600), never used
//! again.
//!
//! A rotation is written as complete `*.new` files first and then renamed
//! over the old ones; a daemon that stopped half-way finishes the renames
//! when it next loads, so the CA and controller certificate on disk always
//! belong together.

use anyhow::{Context, Result, bail};
use azlin_protocol::{
    pki::{self, Credentials, FleetCa, KeyPair},
    secret_file::write_atomic,
};
use rustls::pki_types::CertificateDer;
use time::Duration;

use crate::home::Home;

/// The CA certificates of a bundle file (none if it is not there).
fn read_bundle(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>> {
    match std::fs::read_to_string(path) {
        Ok(pem) => {
            pki::ca_bundle(&pem).with_context(|| format!("{} is unreadable", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// A certificate's SHA-256 fingerprint, hex, as `openssl x509
/// -fingerprint -sha256` shows it (without the colons).
pub fn fingerprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Validity of the controller's and agents' certificates.
pub const LEAF_VALIDITY: Duration = Duration::days(365);

pub struct FleetPki {
    pub ca: FleetCa,
    /// CAs replaced by a rotation and still trusted (oldest first).
    old: Vec<CertificateDer<'static>>,
    /// While they are: each CA after the first of `old` and the current
    /// one, signed by the one before it (newest first), presented after
    /// the controller's certificate so an agent trusting only an old CA
    /// reaches it.
    cross: Vec<CertificateDer<'static>>,
    controller_cert_der: Vec<u8>,
    controller_key_pem: String,
}

/// The files a rotation replaces, in the order they are renamed.
const ROTATED: [&str; 4] = ["ca.key", "ca.crt", "controller.key", "controller.crt"];

impl FleetPki {
    pub fn load_or_create(home: &Home) -> Result<Self> {
        let dir = home.pki_dir();
        // A rotation stopped half-way: its files are all written; finish.
        if dir.join("controller.crt.new").exists() {
            for f in ROTATED {
                let new = dir.join(format!("{f}.new"));
                if new.exists() {
                    std::fs::rename(&new, dir.join(f))
                        .with_context(|| format!("cannot finish the CA rotation ({f})"))?;
                }
            }
            tracing::warn!("finished a fleet CA rotation a stopped daemon had begun");
        }
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
        let old = read_bundle(&dir.join("trusted-old.pem"))?;
        // Cross-signed CAs serve only while old ones are trusted.
        let cross = if old.is_empty() {
            Vec::new()
        } else {
            read_bundle(&dir.join("cross.pem"))?
        };
        Ok(Self {
            ca,
            old,
            cross,
            controller_cert_der,
            controller_key_pem,
        })
    }

    pub fn ca_der(&self) -> &CertificateDer<'static> {
        self.ca.cert_der()
    }

    /// Every CA trusted now: the fleet's, and the ones a rotation is
    /// replacing.
    pub fn trusted(&self) -> Vec<CertificateDer<'static>> {
        let mut all = self.old.clone();
        all.push(self.ca.cert_der().clone());
        all
    }

    /// [`Self::trusted`] as one PEM bundle (what agents are sent).
    pub fn trusted_pem(&self) -> String {
        self.trusted().iter().map(|c| pki::der_to_pem(c)).collect()
    }

    /// The CAs a rotation is replacing, still trusted (oldest first).
    pub fn old(&self) -> &[CertificateDer<'static>] {
        &self.old
    }

    /// Whether a rotation is still replacing an old CA.
    pub fn overlapping(&self) -> bool {
        !self.old.is_empty()
    }

    /// Make `new` (with its key) the fleet CA, trusting the current one on
    /// as an old one, with a controller certificate of the new CA; the
    /// replaced CA's key goes to `retired/`. Returns the PKI now in force.
    pub fn install_rotation(&self, home: &Home, new: &FleetCa, new_key_pem: &str) -> Result<Self> {
        let dir = home.pki_dir();
        let mut old = self.old.clone();
        old.push(self.ca.cert_der().clone());
        if old.len() >= pki::MAX_TRUSTED_CAS {
            bail!(
                "{} CAs are still trusted from earlier rotations; wait until every VM has a \
                 certificate of the current CA (`azlin ca show`), or retire them with `azlin \
                 ca retire`",
                self.old.len()
            );
        }
        let retired = dir.join("retired");
        std::fs::create_dir_all(&retired)
            .with_context(|| format!("cannot make {}", retired.display()))?;
        let stamp = crate::state::now_unix();
        std::fs::copy(dir.join("ca.key"), retired.join(format!("ca-{stamp}.key")))
            .context("cannot keep the replaced CA's key")?;
        std::fs::copy(dir.join("ca.crt"), retired.join(format!("ca-{stamp}.crt")))
            .context("cannot keep the replaced CA's certificate")?;
        let mut cross = vec![CertificateDer::from(
            self.ca
                .cross_sign(new.cert_pem(), new_key_pem)
                .context("cannot cross-sign the new CA")?,
        )];
        cross.extend(self.cross.iter().cloned());
        let cross_pem: String = cross.iter().map(|c| pki::der_to_pem(c)).collect();
        write_atomic(&dir.join("cross.pem"), cross_pem.as_bytes(), 0o644)?;
        let old_pem: String = old.iter().map(|c| pki::der_to_pem(c)).collect();
        write_atomic(&dir.join("trusted-old.pem"), old_pem.as_bytes(), 0o644)?;
        let key = KeyPair::generate()?;
        let issued = new.issue_controller(&key, LEAF_VALIDITY)?;
        let controller_key_pem = key.serialize_pem();
        for (f, text, mode) in [
            ("ca.key", new_key_pem, 0o600),
            ("ca.crt", new.cert_pem(), 0o644),
            ("controller.key", controller_key_pem.as_str(), 0o600),
            ("controller.crt", issued.pem.as_str(), 0o644),
        ] {
            write_atomic(&dir.join(format!("{f}.new")), text.as_bytes(), mode)?;
        }
        for f in ROTATED {
            std::fs::rename(dir.join(format!("{f}.new")), dir.join(f))
                .with_context(|| format!("cannot install the new {f}"))?;
        }
        Ok(Self {
            ca: FleetCa::from_pem(new.cert_pem(), new_key_pem)?,
            old,
            cross,
            controller_cert_der: issued.der,
            controller_key_pem,
        })
    }

    /// Stop trusting the CAs a rotation replaced. Returns the PKI now in
    /// force.
    pub fn retire_old(&self, home: &Home) -> Result<Self> {
        for name in ["trusted-old.pem", "cross.pem"] {
            let file = home.pki_dir().join(name);
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot remove {}", file.display()));
                }
            }
        }
        Ok(Self {
            ca: FleetCa::from_pem(self.ca.cert_pem(), &self.ca_key_pem(home)?)?,
            old: Vec::new(),
            cross: Vec::new(),
            controller_cert_der: self.controller_cert_der.clone(),
            controller_key_pem: self.controller_key_pem.clone(),
        })
    }

    fn ca_key_pem(&self, home: &Home) -> Result<String> {
        let path = home.pki_dir().join("ca.key");
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    }

    /// The controller's certificate and key, with the cross-signed CAs of
    /// a rotation under way after it.
    pub fn controller_credentials(&self) -> Result<Credentials> {
        Ok(Credentials::from_der_and_key_pem(
            self.controller_cert_der.clone(),
            &self.controller_key_pem,
        )?
        .with_intermediates(&self.cross))
    }
}

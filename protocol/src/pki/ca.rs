//! The fleet CA: create it, load it, and sign certificates with it.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::SecureRandom;
use rustls::pki_types::{CertificateDer, CertificateSigningRequestDer};
use time::{Duration, OffsetDateTime};

use super::{PkiError, identity};

/// How long the CA is valid.
const CA_VALIDITY: Duration = Duration::days(3650);

/// A fleet CA with its signing key.
pub struct FleetCa {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate the CA issued.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub der: Vec<u8>,
    pub pem: String,
    /// Serial number in lower-case hex, as [`super::peer_identity`] reports it.
    pub serial: String,
    pub not_after_unix: i64,
}

/// A fresh ECDSA P-256 key pair, made here and kept here.
pub fn new_key() -> Result<KeyPair, PkiError> {
    Ok(KeyPair::generate()?)
}

fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Verifier("no randomness for serial number".into()))?;
    // Positive, and no leading zero byte that DER would strip.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn leaf_params(dns: String, validity: Duration) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, dns.clone());
    params.subject_alt_names = vec![SanType::DnsName(dns.try_into()?)];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Either end may dial, so every fleet certificate can serve and connect.
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + validity;
    params.serial_number = Some(random_serial()?);
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// A fleet CA's certificate: its name, no CA below it, signing
/// certificates and CRLs.
fn ca_params(
    common_name: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

fn issued(cert: rcgen::Certificate, params: &CertificateParams) -> IssuedCert {
    let serial = params
        .serial_number
        .as_ref()
        .map(|s| crate::enroll::hex(&s.to_bytes()))
        .unwrap_or_default();
    IssuedCert {
        der: cert.der().to_vec(),
        pem: cert.pem(),
        serial,
        not_after_unix: params.not_after.unix_timestamp(),
    }
}

impl FleetCa {
    /// Create a new CA. Returns it with its private key as PEM, for the
    /// caller to store with mode 0600.
    pub fn create(common_name: &str) -> Result<(Self, String), PkiError> {
        let key = new_key()?;
        let key_pem = key.serialize_pem();
        let now = OffsetDateTime::now_utc();
        let params = ca_params(common_name, now - Duration::minutes(5), now + CA_VALIDITY)?;
        let cert = params.self_signed(&key)?;
        let ca = Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        };
        Ok((ca, key_pem))
    }

    /// Load a CA from its certificate and key PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        let cert_der = pem_to_der(cert_pem)?;
        Ok(Self {
            cert_pem: cert_pem.to_string(),
            cert_der,
            issuer,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// A certificate of the CA `ca_pem` (with its key `ca_key_pem`) signed
    /// by this CA: its name, key and constraints, this CA as issuer. While
    /// the fleet's CA is rotated, the controller presents it after its own
    /// certificate, so an agent that trusts only this (old) CA still
    /// reaches the controller's certificate of the new one.
    pub fn cross_sign(&self, ca_pem: &str, ca_key_pem: &str) -> Result<Vec<u8>, PkiError> {
        let key = KeyPair::from_pem(ca_key_pem)?;
        let der = pem_to_der(ca_pem)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        let name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .ok_or_else(|| PkiError::BadCertificate("the CA has no common name".into()))?
            .to_string();
        let validity = cert.validity();
        let mut params = ca_params(
            &name,
            validity.not_before.to_datetime(),
            validity.not_after.to_datetime(),
        )?;
        params.use_authority_key_identifier_extension = true;
        let cross = params.signed_by(&key, &self.issuer)?;
        Ok(cross.der().to_vec())
    }

    /// Certificate for the controller's own key.
    pub fn issue_controller(
        &self,
        key: &KeyPair,
        validity: Duration,
    ) -> Result<IssuedCert, PkiError> {
        let params = leaf_params(identity::CONTROLLER_DNS.to_string(), validity)?;
        let cert = params.signed_by(key, &self.issuer)?;
        Ok(issued(cert, &params))
    }

    /// Sign an agent's CSR for VM `vm`. Only the CSR's public key (after its
    /// self-signature is checked) is used; names, usages and validity are
    /// ours, so a CSR cannot ask for a CA bit or another VM's name.
    pub fn sign_agent_csr(
        &self,
        csr_der: &[u8],
        vm: &str,
        validity: Duration,
    ) -> Result<IssuedCert, PkiError> {
        identity::check_vm_name(vm)?;
        let csr = CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(
            csr_der,
        ))?;
        let params = leaf_params(identity::agent_dns(vm), validity)?;
        let cert = params.signed_by(&csr.public_key, &self.issuer)?;
        Ok(issued(cert, &params))
    }
}

/// A CSR for an agent's key. The names in it are informational only.
pub fn csr_for_agent(key: &KeyPair, vm: &str) -> Result<Vec<u8>, PkiError> {
    let params = CertificateParams::new(vec![identity::agent_dns(vm)])?;
    Ok(params.serialize_request(key)?.der().to_vec())
}

/// A self-signed certificate for an agent that has not enrolled yet: TLS
/// needs a server certificate, and the enrollment proof, not this
/// certificate, is what authenticates the agent.
pub fn bootstrap_certificate(key: &KeyPair, vm: &str) -> Result<Vec<u8>, PkiError> {
    let params = leaf_params(format!("bootstrap-{vm}.fleet.azlin"), Duration::days(30))?;
    Ok(params.self_signed(key)?.der().to_vec())
}

/// Whether a certificate carries `key`'s public key: an agent checks the
/// certificate it was sent before it stores it.
pub fn certificate_matches_key(cert_der: &[u8], key: &KeyPair) -> bool {
    use rcgen::PublicKeyData;
    use x509_parser::prelude::{FromDer, X509Certificate};
    X509Certificate::from_der(cert_der)
        .map(|(_, c)| c.public_key().raw == key.subject_public_key_info().as_slice())
        .unwrap_or(false)
}

/// A DER certificate as PEM text.
pub fn der_to_pem(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()))
}

/// The first certificate in a PEM text.
pub fn pem_to_der(pem: &str) -> Result<CertificateDer<'static>, PkiError> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| PkiError::Pem(e.to_string()))
}

/// The most CAs a trust bundle holds: the fleet's and, while it is
/// rotated, its predecessor (a few more for rotations in a row).
pub const MAX_TRUSTED_CAS: usize = 4;

/// Every certificate of a fleet CA trust bundle (PEM, one or more): each
/// must parse and be a CA certificate; none, more than
/// [`MAX_TRUSTED_CAS`], or anything else in it is refused.
pub fn ca_bundle(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    use rustls::pki_types::pem::PemObject;
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let der = item.map_err(|e| PkiError::Pem(e.to_string()))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        if !cert.is_ca() {
            return Err(PkiError::BadCertificate(format!(
                "{} is not a CA certificate",
                cert.subject()
            )));
        }
        out.push(der);
    }
    if out.is_empty() {
        return Err(PkiError::Pem("no certificate in the CA bundle".into()));
    }
    if out.len() > MAX_TRUSTED_CAS {
        return Err(PkiError::Pem(format!(
            "{} certificates in the CA bundle; at most {MAX_TRUSTED_CAS}",
            out.len()
        )));
    }
    Ok(out)
}

/// Whether `issuer` signed `cert` (both DER).
pub fn issued_by(cert: &[u8], issuer: &[u8]) -> bool {
    let (Ok((_, cert)), Ok((_, issuer))) = (
        x509_parser::parse_x509_certificate(cert),
        x509_parser::parse_x509_certificate(issuer),
    ) else {
        return false;
    };
    cert.issuer() == issuer.subject() && cert.verify_signature(Some(issuer.public_key())).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{PeerIdentity, peer_identity};

    #[test]
    fn signs_csr_with_our_names_not_the_csrs() {
        let (ca, key_pem) = FleetCa::create("test fleet").unwrap();
        let again = FleetCa::from_pem(ca.cert_pem(), &key_pem).unwrap();
        let agent_key = new_key().unwrap();
        // The CSR asks for the controller's name; it must not get it.
        let params = CertificateParams::new(vec![identity::CONTROLLER_DNS.to_string()]).unwrap();
        let csr = params.serialize_request(&agent_key).unwrap().der().to_vec();
        let cert = again
            .sign_agent_csr(&csr, "vm-1", Duration::days(1))
            .unwrap();
        match peer_identity(&cert.der).unwrap() {
            PeerIdentity::Agent { vm, serial } => {
                assert_eq!(vm, "vm-1");
                assert_eq!(serial, cert.serial);
            }
            other => panic!("got {other:?}"),
        }
    }

    #[test]
    fn a_ca_bundle_holds_only_ca_certificates_and_issuers_are_told_apart() {
        let (old, _) = FleetCa::create("old").unwrap();
        let (new, _) = FleetCa::create("new").unwrap();
        let bundle = format!("{}{}", old.cert_pem(), new.cert_pem());
        let cas = ca_bundle(&bundle).unwrap();
        assert_eq!(cas.len(), 2);
        assert_eq!(&cas[1], new.cert_der());
        let key = new_key().unwrap();
        let leaf = new.issue_controller(&key, Duration::days(1)).unwrap();
        assert!(issued_by(&leaf.der, new.cert_der()));
        assert!(!issued_by(&leaf.der, old.cert_der()));
        // A leaf is no CA; nothing, junk or too many are refused.
        assert!(ca_bundle(&leaf.pem).is_err());
        assert!(ca_bundle("").is_err());
        assert!(
            ca_bundle("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
        );
        assert!(ca_bundle(&old.cert_pem().repeat(MAX_TRUSTED_CAS + 1)).is_err());
    }

    #[test]
    fn a_cross_signed_ca_has_the_new_cas_name_and_key_and_the_old_as_issuer() {
        let (old, _) = FleetCa::create("azlin fleet CA").unwrap();
        let (new, new_key) = FleetCa::create("azlin fleet CA 2026-12-05T00:00:00Z").unwrap();
        let cross = old.cross_sign(new.cert_pem(), &new_key).unwrap();
        assert!(issued_by(&cross, old.cert_der()));
        assert!(!issued_by(&cross, new.cert_der()));
        let (_, c) = x509_parser::parse_x509_certificate(&cross).unwrap();
        let (_, n) = x509_parser::parse_x509_certificate(new.cert_der()).unwrap();
        assert_eq!(c.subject(), n.subject());
        assert_eq!(c.public_key().raw, n.public_key().raw);
        assert!(c.is_ca());
        // A leaf of the new CA checks against the cross-signed one too.
        let key = new_key_pair();
        let leaf = new.issue_controller(&key, Duration::days(1)).unwrap();
        assert!(issued_by(&leaf.der, &cross));
    }

    fn new_key_pair() -> KeyPair {
        new_key().unwrap()
    }

    #[test]
    fn refuses_tampered_csr_and_bad_names() {
        let (ca, _) = FleetCa::create("test fleet").unwrap();
        let key = new_key().unwrap();
        let mut csr = csr_for_agent(&key, "vm-1").unwrap();
        assert!(
            ca.sign_agent_csr(&csr, "Bad Name", Duration::days(1))
                .is_err()
        );
        let n = csr.len();
        csr[n - 3] ^= 0xff;
        assert!(ca.sign_agent_csr(&csr, "vm-1", Duration::days(1)).is_err());
        assert!(
            ca.sign_agent_csr(b"junk", "vm-1", Duration::days(1))
                .is_err()
        );
    }
}

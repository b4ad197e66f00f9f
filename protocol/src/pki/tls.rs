//! rustls configurations for the fleet's mutual TLS (TLS 1.3 only, as QUIC
//! requires; ALPN `azlin/1`; the ring provider).
//!
//! The normal case verifies the peer against the fleet CA in both directions.
//! Two narrow exceptions exist for enrollment, and only for it:
//! - [`ServerAuth::EnrollingAgent`]: the controller dials an agent that has no
//!   certificate yet. The agent's bootstrap certificate is not trusted; the
//!   agent is authenticated by its channel-bound token proof instead, and the
//!   agent still verifies the controller's client certificate.
//! - [`ClientAuth::FleetOrAnonymous`]: the controller's listener admits a
//!   client without a certificate, which it then only lets enroll. A client
//!   that presents a certificate must present a fleet one.

use std::sync::Arc;

use rustls::{
    DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{CryptoProvider, WebPkiSupportedAlgorithms},
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime},
    server::WebPkiClientVerifier,
};

use super::PkiError;
use crate::ALPN;

/// A certificate chain and its private key.
#[derive(Debug)]
pub struct Credentials {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Credentials {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Credentials {
    /// From a DER certificate and a PEM private key.
    pub fn from_der_and_key_pem(cert_der: Vec<u8>, key_pem: &str) -> Result<Self, PkiError> {
        use rustls::pki_types::pem::PemObject;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| PkiError::Pem(e.to_string()))?;
        Ok(Self {
            chain: vec![CertificateDer::from(cert_der)],
            key,
        })
    }

    /// The same, presenting `intermediates` after the certificate.
    pub fn with_intermediates(mut self, intermediates: &[CertificateDer<'static>]) -> Self {
        self.chain.extend(intermediates.iter().cloned());
        self
    }
}

/// How a server treats client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A fleet certificate is required.
    Fleet,
    /// A fleet certificate, or none at all (enrollment only).
    FleetOrAnonymous,
}

/// How a client treats the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAuth {
    /// Must be a fleet certificate for the name given when connecting.
    Fleet,
    /// An unenrolled agent's bootstrap certificate (see module docs).
    EnrollingAgent,
}

/// ring, with AES-128-GCM preferred over ring's first choice,
/// AES-256-GCM: both are TLS 1.3's own, 128-bit security is the fleet's
/// bar (its keys are P-256), and ten AES rounds instead of fourteen make
/// every byte a file copy sends cheaper to seal and to open.
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites
        .sort_by_key(|s| s.suite() != TLS13_AES_128_GCM_SHA256.suite());
    Arc::new(p)
}

/// The fleet CAs trusted: one, or two while the fleet's CA is rotated
/// (the old and the new, so either's certificates are accepted).
fn roots(cas: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>, PkiError> {
    if cas.is_empty() {
        return Err(PkiError::Verifier("no fleet CA to trust".into()));
    }
    let mut store = RootCertStore::empty();
    for ca in cas {
        store.add(ca.clone())?;
    }
    Ok(Arc::new(store))
}

/// Server side: present `creds`, verify clients per `auth` against the
/// fleet CAs `cas`.
pub fn server_config(
    creds: Credentials,
    cas: &[CertificateDer<'static>],
    auth: ClientAuth,
) -> Result<rustls::ServerConfig, PkiError> {
    let provider = provider();
    let mut builder = WebPkiClientVerifier::builder_with_provider(roots(cas)?, provider.clone());
    if auth == ClientAuth::FleetOrAnonymous {
        builder = builder.allow_unauthenticated();
    }
    let verifier = builder
        .build()
        .map_err(|e| PkiError::Verifier(e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(creds.chain, creds.key)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// Client side: present `creds` if any, verify the server per `auth`
/// against the fleet CAs `cas`.
pub fn client_config(
    creds: Option<Credentials>,
    cas: &[CertificateDer<'static>],
    auth: &ServerAuth,
) -> Result<rustls::ClientConfig, PkiError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match auth {
        ServerAuth::Fleet => builder.with_root_certificates(roots(cas)?),
        ServerAuth::EnrollingAgent => {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(BootstrapServerVerifier {
                    algorithms: provider.signature_verification_algorithms,
                }))
        }
    };
    let mut config = match creds {
        Some(c) => builder.with_client_auth_cert(c.chain, c.key)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// Accepts any server certificate but still checks that the server holds its
/// key (handshake signatures), for the enrollment connection only.
#[derive(Debug)]
struct BootstrapServerVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for BootstrapServerVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use rustls::crypto::ring::cipher_suite::{
        TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
    };

    #[test]
    fn aes_128_gcm_comes_first_and_the_other_suites_stay() {
        let p = super::provider();
        let suites: Vec<_> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(suites[0], TLS13_AES_128_GCM_SHA256.suite());
        for s in [TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256] {
            assert!(suites.contains(&s.suite()));
        }
        assert_eq!(
            suites.len(),
            rustls::crypto::ring::default_provider().cipher_suites.len()
        );
    }
}

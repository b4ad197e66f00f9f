//! Enrollment: one-time join tokens and the channel-bound proof of holding one.
//!
//! A join token is `azj1.<id>.<secret>`: an 8-byte public id the controller
//! looks the token up by, and a 256-bit secret. The controller stores only a
//! verifier, a SHA-256 of the secret, never the token. The agent proves it
//! holds the token with an HMAC keyed by that verifier over the TLS exporter
//! value of *this* connection (RFC 5705 / RFC 9266 style channel binding) and
//! over the CSR it sends, so a proof cannot be replayed on another connection
//! or attached to another key. The secret itself never crosses the wire.
//!
//! Not here: token storage, expiry bookkeeping or signing; see the controller.

use ring::{digest, hmac, rand::SecureRandom};
use std::fmt;
use thiserror::Error;

/// TLS exporter label for the enrollment binding.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-azlin-enroll-v1";
/// Bytes of exporter output used.
pub const EXPORTER_LEN: usize = 32;

const TOKEN_PREFIX: &str = "azj1";
const VERIFIER_DOMAIN: &[u8] = b"azlin join token verifier v1\0";
const PROOF_DOMAIN: &[u8] = b"azlin enroll proof v1\0";

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    #[error("join token is malformed: expected azj1.<16 hex>.<64 hex>")]
    Malformed,
    #[error("no randomness available from the operating system")]
    Rng,
}

/// A one-time join token (id and secret).
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    id: [u8; 8],
    secret: [u8; 32],
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinToken({}, <secret>)", self.id_hex())
    }
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TOKEN_PREFIX}.{}.{}", hex(&self.id), hex(&self.secret))
    }
}

impl JoinToken {
    /// A fresh random token from the OS's CSPRNG.
    pub fn generate() -> Result<Self, TokenError> {
        let rng = ring::rand::SystemRandom::new();
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        rng.fill(&mut id).map_err(|_| TokenError::Rng)?;
        rng.fill(&mut secret).map_err(|_| TokenError::Rng)?;
        Ok(Self { id, secret })
    }

    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let mut parts = text.trim().split('.');
        let (Some(TOKEN_PREFIX), Some(id), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        Ok(Self {
            id: unhex(id).ok_or(TokenError::Malformed)?,
            secret: unhex(secret).ok_or(TokenError::Malformed)?,
        })
    }

    /// The public id, in hex, used to look the token up.
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    /// What the controller stores instead of the token.
    pub fn verifier(&self) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(VERIFIER_DOMAIN);
        ctx.update(&self.secret);
        ctx.finish()
            .as_ref()
            .try_into()
            .expect("sha256 is 32 bytes")
    }

    /// The agent's proof for this connection and CSR.
    pub fn proof(&self, exporter: &[u8; EXPORTER_LEN], csr_der: &[u8]) -> Vec<u8> {
        proof_with_verifier(&self.verifier(), exporter, csr_der)
    }
}

fn proof_message(exporter: &[u8; EXPORTER_LEN], csr_der: &[u8]) -> Vec<u8> {
    let csr_hash = digest::digest(&digest::SHA256, csr_der);
    [PROOF_DOMAIN, exporter.as_slice(), csr_hash.as_ref()].concat()
}

fn proof_with_verifier(verifier: &[u8; 32], exporter: &[u8; EXPORTER_LEN], csr: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, verifier);
    hmac::sign(&key, &proof_message(exporter, csr))
        .as_ref()
        .to_vec()
}

/// Check an agent's proof in constant time against a stored verifier.
pub fn verify_proof(
    verifier: &[u8; 32],
    exporter: &[u8; EXPORTER_LEN],
    csr_der: &[u8],
    proof: &[u8],
) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, verifier);
    hmac::verify(&key, &proof_message(exporter, csr_der), proof).is_ok()
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse exactly `N` bytes of hex.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_text_round_trips_and_hides_secret_in_debug() {
        let t = JoinToken::generate().unwrap();
        let text = t.to_string();
        assert_eq!(text.len(), 4 + 1 + 16 + 1 + 64);
        assert_eq!(JoinToken::parse(&text).unwrap(), t);
        assert!(!format!("{t:?}").contains(&hex(&t.secret)));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "azj1",
            "azj2.0011223344556677.00",
            "azj1.00112233445566.aa",
            "azj1.001122334455667g.0000000000000000000000000000000000000000000000000000000000000000",
            "azj1.0011223344556677.0000000000000000000000000000000000000000000000000000000000000000.x",
        ] {
            assert_eq!(JoinToken::parse(bad), Err(TokenError::Malformed), "{bad}");
        }
    }

    #[test]
    fn proof_binds_token_channel_and_csr() {
        let t = JoinToken::generate().unwrap();
        let other = JoinToken::generate().unwrap();
        let ekm = [7u8; 32];
        let p = t.proof(&ekm, b"csr");
        assert!(verify_proof(&t.verifier(), &ekm, b"csr", &p));
        assert!(
            !verify_proof(&other.verifier(), &ekm, b"csr", &p),
            "wrong token"
        );
        assert!(
            !verify_proof(&t.verifier(), &[8u8; 32], b"csr", &p),
            "other channel"
        );
        assert!(!verify_proof(&t.verifier(), &ekm, b"csr2", &p), "other CSR");
        assert!(
            !verify_proof(&t.verifier(), &ekm, b"csr", &p[..31]),
            "truncated"
        );
    }
}

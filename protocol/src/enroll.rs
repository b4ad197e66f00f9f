//! Enrollment: one-time join tokens and the channel-bound proof of holding one.
//!
//! A join token is `azj1.<id>.<secret>`: an 8-byte public id the controller
//! looks the token up by, and a 256-bit secret, the seed of an Ed25519 key.
//! The controller stores only a [`Verifier`]: that key's public half, which
//! is not enough to enrol (whoever reads `state.db` learns nothing that
//! signs). The agent proves it holds the token by signing, with that key,
//! the TLS exporter value of *this* connection (RFC 5705 / RFC 9266 style
//! channel binding) and the hash of the CSR it sends, so a proof cannot be
//! replayed on another connection or attached to another key. The secret
//! itself never crosses the wire.
//!
//! Tokens issued before this scheme were stored as a SHA-256 of the secret
//! that was also the proof's HMAC key, so the stored value was as good as
//! the token; such a stored verifier is refused ([`ProofError::Legacy`]),
//! saying to issue a new token.
//!
//! Not here: token storage, expiry bookkeeping or signing; see the controller.

use ring::{
    digest,
    rand::SecureRandom,
    signature::{self, KeyPair},
};
use std::fmt;
use thiserror::Error;

/// TLS exporter label for the enrollment binding.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-azlin-enroll-v1";
/// Bytes of exporter output used.
pub const EXPORTER_LEN: usize = 32;
/// Announced by an agent whose key is bound to its machine's hardware
/// UUID: a copy of its disk booted on another machine does not use the
/// key (the agent's `machine`). The controller copies the disk of no
/// other (`azlin clone` on a cloud, whose clones boot from such a copy).
pub const CAP_MACHINE_BOUND: &str = "identity/machine";

const TOKEN_PREFIX: &str = "azj1";
const SEED_DOMAIN: &[u8] = b"azlin join token ed25519 seed v2\0";
const PROOF_DOMAIN: &[u8] = b"azlin enroll proof v2\0";
/// The first byte of a stored Ed25519 verifier (a legacy one has none:
/// it is 32 bytes).
const ED25519_TAG: u8 = 2;

/// What the controller stores for a token: enough to check a proof, not
/// to make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verifier {
    /// The token key's Ed25519 public half.
    Ed25519([u8; 32]),
    /// A token of the old scheme, whose stored verifier was its HMAC key:
    /// refused.
    Legacy,
}

impl Verifier {
    /// As `state.db` keeps it: a tag byte and the public key.
    pub fn to_stored(&self) -> Vec<u8> {
        match self {
            Verifier::Ed25519(key) => [&[ED25519_TAG][..], key].concat(),
            Verifier::Legacy => Vec::new(),
        }
    }

    /// From `state.db`: 33 bytes with the Ed25519 tag; anything else
    /// (the old 32-byte verifiers) is [`Verifier::Legacy`].
    pub fn from_stored(bytes: &[u8]) -> Self {
        match bytes {
            [ED25519_TAG, key @ ..] if key.len() == 32 => {
                Verifier::Ed25519(key.try_into().expect("32 bytes"))
            }
            _ => Verifier::Legacy,
        }
    }
}

/// Why a proof is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProofError {
    #[error(
        "this join token was issued by an older azlin, whose stored verifier could enrol an agent \
         by itself; it is no longer accepted: issue a new one with `azlin token VM`"
    )]
    Legacy,
    #[error("token proof does not match: wrong token secret, or the connection is relayed")]
    Mismatch,
}

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

    /// The token's Ed25519 key, from its secret.
    fn key(&self) -> signature::Ed25519KeyPair {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(SEED_DOMAIN);
        ctx.update(&self.secret);
        signature::Ed25519KeyPair::from_seed_unchecked(ctx.finish().as_ref())
            .expect("a 32-byte seed always makes a key")
    }

    /// What the controller stores instead of the token.
    pub fn verifier(&self) -> Verifier {
        Verifier::Ed25519(
            self.key()
                .public_key()
                .as_ref()
                .try_into()
                .expect("an Ed25519 public key is 32 bytes"),
        )
    }

    /// The agent's proof for this connection and CSR: a signature.
    pub fn proof(&self, exporter: &[u8; EXPORTER_LEN], csr_der: &[u8]) -> Vec<u8> {
        self.key()
            .sign(&proof_message(exporter, csr_der))
            .as_ref()
            .to_vec()
    }
}

fn proof_message(exporter: &[u8; EXPORTER_LEN], csr_der: &[u8]) -> Vec<u8> {
    let csr_hash = digest::digest(&digest::SHA256, csr_der);
    [PROOF_DOMAIN, exporter.as_slice(), csr_hash.as_ref()].concat()
}

/// Check an agent's proof against a stored verifier.
pub fn verify_proof(
    verifier: &Verifier,
    exporter: &[u8; EXPORTER_LEN],
    csr_der: &[u8],
    proof: &[u8],
) -> Result<(), ProofError> {
    let Verifier::Ed25519(key) = verifier else {
        return Err(ProofError::Legacy);
    };
    signature::UnparsedPublicKey::new(&signature::ED25519, key)
        .verify(&proof_message(exporter, csr_der), proof)
        .map_err(|_| ProofError::Mismatch)
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
        let v = t.verifier();
        assert_eq!(verify_proof(&v, &ekm, b"csr", &p), Ok(()));
        let mismatch = Err(ProofError::Mismatch);
        assert_eq!(
            verify_proof(&other.verifier(), &ekm, b"csr", &p),
            mismatch,
            "wrong token"
        );
        assert_eq!(
            verify_proof(&v, &[8u8; 32], b"csr", &p),
            mismatch,
            "other channel"
        );
        assert_eq!(verify_proof(&v, &ekm, b"csr2", &p), mismatch, "other CSR");
        assert_eq!(verify_proof(&v, &ekm, b"csr", &p[..63]), mismatch, "cut");
    }

    #[test]
    fn what_is_stored_cannot_make_a_proof() {
        let t = JoinToken::generate().unwrap();
        let ekm = [7u8; 32];
        let stored = t.verifier().to_stored();
        assert_eq!(stored.len(), 33);
        assert_eq!(Verifier::from_stored(&stored), t.verifier());
        // The stored bytes, tried as the old scheme did (as an HMAC key),
        // and as a key seed: neither proves anything.
        let as_hmac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &stored[1..]),
            &proof_message(&ekm, b"csr"),
        );
        let v = t.verifier();
        assert!(verify_proof(&v, &ekm, b"csr", as_hmac.as_ref()).is_err());
        let as_seed = signature::Ed25519KeyPair::from_seed_unchecked(&stored[1..]).unwrap();
        let forged = as_seed.sign(&proof_message(&ekm, b"csr"));
        assert!(verify_proof(&v, &ekm, b"csr", forged.as_ref()).is_err());
        // The secret is not in what is stored.
        assert!(!hex(&stored).contains(&hex(&t.secret)));
    }

    #[test]
    fn a_token_of_the_old_scheme_is_refused_saying_what_to_do() {
        let legacy = Verifier::from_stored(&[9u8; 32]);
        assert_eq!(legacy, Verifier::Legacy);
        let t = JoinToken::generate().unwrap();
        let err = verify_proof(&legacy, &[7; 32], b"csr", &t.proof(&[7; 32], b"csr"));
        assert_eq!(err, Err(ProofError::Legacy));
        assert!(
            ProofError::Legacy
                .to_string()
                .contains("issue a new one with `azlin token VM`")
        );
        assert_eq!(Verifier::from_stored(&[]), Verifier::Legacy);
        assert_eq!(Verifier::from_stored(&[2u8; 10]), Verifier::Legacy);
    }
}

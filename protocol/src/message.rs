//! The messages on a connection's control stream.
//!
//! Each side's first frame is a [`Greeting`]. Its layout is frozen across all
//! protocol versions so that peers of any age can read each other's version
//! range, or the reason they were refused. Everything after the greeting is a
//! [`Control`] message of the negotiated version; new variants are only ever
//! appended, because postcard encodes a variant as its index.
//!
//! Not here: framing (see [`crate::frame`]) or what a side does with a message.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use thiserror::Error;

use crate::frame::{self, FrameError};

/// Marks an azlin greeting, so a stray client is told apart from a peer
/// speaking an unknown future layout.
pub const MAGIC: [u8; 4] = *b"AZLN";

/// Which end of the connection a peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Controller,
    Agent,
}

/// First frame in each direction. Frozen: never change or reorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Greeting {
    Hello(Hello),
    Refuse { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub magic: [u8; 4],
    pub min_version: u16,
    pub max_version: u16,
    pub role: Role,
    /// The VM name for an agent, the controller's host name for a controller.
    pub name: String,
    /// Software version, e.g. "0.1.0".
    pub software: String,
    /// Optional features this peer offers, by name.
    pub capabilities: Vec<String>,
    /// When this process started, in seconds since the Unix epoch.
    pub started_at_unix: u64,
    /// For an agent: whether it already holds a fleet certificate.
    pub enrolled: bool,
}

/// Control messages of protocol version 1. Append only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Control {
    /// Agent → controller: "sign this CSR; here is proof I hold the token".
    EnrollRequest {
        token_id: String,
        csr_der: Vec<u8>,
        proof: Vec<u8>,
    },
    /// Controller → agent: the signed certificate (DER).
    EnrollAccepted { cert_der: Vec<u8> },
    /// Controller → agent: enrollment refused, and why.
    EnrollRefused { reason: String },
    /// Controller → agent: the session is established for this VM.
    Ready { vm: String },
    /// Either side, just before closing: what went wrong.
    Error { reason: String },
}

/// An append-only enum sent on the wire: postcard writes its variant index
/// first, so a tag past the ones this build knows is a newer peer's message.
pub trait Tagged: DeserializeOwned {
    /// Number of variants this build knows; a larger tag is an unknown type.
    const KNOWN_TYPES: u32;
}

impl Tagged for Control {
    const KNOWN_TYPES: u32 = 5;
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("unknown message type {tag} (this build knows {known}); is the peer newer?")]
    UnknownType { tag: u32, known: u32 },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("message has {0} unexpected trailing bytes")]
    Trailing(usize),
    #[error("not an azlin greeting (bad magic)")]
    BadMagic,
}

#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("cannot encode message: {0}")]
    Postcard(#[from] postcard::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// Serialize a message and wrap it in a frame.
pub fn encode_frame<T: Serialize>(msg: &T, max: usize) -> Result<Vec<u8>, EncodeError> {
    let payload = postcard::to_stdvec(msg)?;
    Ok(frame::encode(&payload, max)?)
}

/// Decode one whole message; trailing bytes are an error.
pub fn decode_exact<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes::<T>(payload)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::Trailing(rest.len()))
    }
}

/// Decode a greeting and check its magic.
pub fn decode_greeting(payload: &[u8]) -> Result<Greeting, DecodeError> {
    let greeting: Greeting = decode_exact(payload)?;
    if let Greeting::Hello(h) = &greeting
        && h.magic != MAGIC
    {
        return Err(DecodeError::BadMagic);
    }
    Ok(greeting)
}

/// Decode a version-1 control message, naming an unknown type by its tag.
pub fn decode_control(payload: &[u8]) -> Result<Control, DecodeError> {
    decode_tagged(payload)
}

/// Decode an append-only enum, naming an unknown type by its tag.
pub fn decode_tagged<T: Tagged>(payload: &[u8]) -> Result<T, DecodeError> {
    if let Some(tag) = leading_varint(payload)
        && tag >= T::KNOWN_TYPES
    {
        return Err(DecodeError::UnknownType {
            tag,
            known: T::KNOWN_TYPES,
        });
    }
    decode_exact(payload)
}

/// postcard writes an enum tag as an unsigned LEB128 varint.
fn leading_varint(bytes: &[u8]) -> Option<u32> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().take(5).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(value).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameDecoder, MAX_CONTROL_FRAME};

    fn hello() -> Hello {
        Hello {
            magic: MAGIC,
            min_version: 1,
            max_version: 1,
            role: Role::Agent,
            name: "vm-1".into(),
            software: "0.1.0".into(),
            capabilities: vec!["enroll".into()],
            started_at_unix: 1_700_000_000,
            enrolled: false,
        }
    }

    fn payload_of(frame: &[u8]) -> Vec<u8> {
        let mut d = FrameDecoder::new(MAX_CONTROL_FRAME);
        d.push(frame).unwrap();
        d.next_frame().unwrap().unwrap()
    }

    #[test]
    fn greeting_and_control_round_trip() {
        let g = Greeting::Hello(hello());
        let f = encode_frame(&g, MAX_CONTROL_FRAME).unwrap();
        assert_eq!(decode_greeting(&payload_of(&f)).unwrap(), g);
        let c = Control::EnrollRequest {
            token_id: "00ff".into(),
            csr_der: vec![1, 2, 3],
            proof: vec![9; 32],
        };
        let f = encode_frame(&c, MAX_CONTROL_FRAME).unwrap();
        assert_eq!(decode_control(&payload_of(&f)).unwrap(), c);
    }

    #[test]
    fn every_known_variant_is_counted() {
        let last = Control::Error { reason: "x".into() };
        let bytes = postcard::to_stdvec(&last).unwrap();
        assert_eq!(leading_varint(&bytes), Some(Control::KNOWN_TYPES - 1));
    }

    #[test]
    fn unknown_type_is_named() {
        let err = decode_control(&[0xc8, 0x01, 0, 0]).unwrap_err();
        assert_eq!(err, DecodeError::UnknownType { tag: 200, known: 5 });
    }

    #[test]
    fn garbage_and_trailing_bytes_are_refused() {
        assert!(matches!(
            decode_control(&[0x00, 0xff, 0xff, 0xff]),
            Err(DecodeError::Malformed(_))
        ));
        let mut bytes = postcard::to_stdvec(&Control::Ready { vm: "a".into() }).unwrap();
        bytes.push(0);
        assert_eq!(decode_control(&bytes), Err(DecodeError::Trailing(1)));
        let mut h = hello();
        h.magic = *b"SSH-";
        let bytes = postcard::to_stdvec(&Greeting::Hello(h)).unwrap();
        assert_eq!(decode_greeting(&bytes), Err(DecodeError::BadMagic));
    }
}

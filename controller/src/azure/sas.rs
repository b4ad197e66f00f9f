//! Service shared access signatures for one blob or one container, signed with a storage
//! account key: pure logic (the string to sign, the HMAC, the query
//! string), no I/O. The key comes from ARM's `listKeys`, so only the
//! Contributor role is needed.
//!
//! The layout is the one Azure Storage documents for service SAS versions
//! 2020-12-06 and later ("Create a service SAS"); a test in `tests/`
//! compares this signer with Microsoft's `azure-storage-blob` SDK on the
//! same inputs, so the two cannot share one mistake unnoticed.
//!
//! Not here: account SAS, user-delegation SAS, or sending requests
//! ([`super::blob`] does that).

use base64::Engine as _;
use time::OffsetDateTime;

/// The storage service version azlin signs with and sends.
pub const VERSION: &str = "2024-11-04";

/// The longest a SAS azlin hands out may live.
pub const MAX_LIFETIME: time::Duration = time::Duration::hours(2);

/// What a SAS allows, in the order Azure requires (`racwdl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions {
    pub read: bool,
    pub add: bool,
    pub create: bool,
    pub write: bool,
    pub delete: bool,
    /// List the container's blobs (a container SAS only).
    pub list: bool,
}

impl Permissions {
    pub const READ: Self = Self {
        read: true,
        add: false,
        create: false,
        write: false,
        delete: false,
        list: false,
    };
    /// Create the blob and write its blocks and block list.
    pub const CREATE_WRITE: Self = Self {
        read: false,
        add: false,
        create: true,
        write: true,
        delete: false,
        list: false,
    };
    pub const DELETE: Self = Self {
        read: false,
        add: false,
        create: false,
        write: false,
        delete: true,
        list: false,
    };
    pub const LIST: Self = Self {
        read: false,
        add: false,
        create: false,
        write: false,
        delete: false,
        list: true,
    };

    pub fn as_str(&self) -> String {
        [
            (self.read, 'r'),
            (self.add, 'a'),
            (self.create, 'c'),
            (self.write, 'w'),
            (self.delete, 'd'),
            (self.list, 'l'),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, c)| *c)
        .collect()
    }
}

/// One blob's or one container's SAS, before signing.
#[derive(Debug, Clone)]
pub struct BlobSas<'a> {
    pub account: &'a str,
    pub container: &'a str,
    /// `None`: the SAS is for the container (`sr=c`): listing it, and
    /// any blob in it.
    pub blob: Option<&'a str>,
    pub permissions: Permissions,
    pub start: OffsetDateTime,
    pub expiry: OffsetDateTime,
    /// Whether only HTTPS may use it (always, against Azure; a local test
    /// server speaks HTTP).
    pub https_only: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SasError {
    #[error("the storage account key is not base64: {0}")]
    Key(String),
    #[error("a SAS must expire after it starts and live at most {MAX_LIFETIME}; asked for {0}")]
    Lifetime(time::Duration),
    #[error(
        "{0:?} is not a blob or container name azlin signs for (letters, digits, '-', '.', '_')"
    )]
    Name(String),
}

/// `YYYY-MM-DDThh:mm:ssZ`, the form Azure documents and the SDKs send.
pub fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl BlobSas<'_> {
    fn protocol(&self) -> &'static str {
        if self.https_only {
            "https"
        } else {
            "https,http"
        }
    }

    /// `b` for a blob, `c` for a container.
    fn resource(&self) -> &'static str {
        if self.blob.is_some() { "b" } else { "c" }
    }

    /// The string Azure signs, field by field, newline-separated.
    pub fn string_to_sign(&self) -> String {
        let resource = match self.blob {
            Some(blob) => format!("/blob/{}/{}/{blob}", self.account, self.container),
            None => format!("/blob/{}/{}", self.account, self.container),
        };
        let fields = [
            self.permissions.as_str(),
            timestamp(self.start),
            timestamp(self.expiry),
            resource,
            String::new(), // signedIdentifier (no stored access policy)
            String::new(), // signedIP
            self.protocol().into(),
            VERSION.into(),
            self.resource().into(),
            String::new(), // signedSnapshotTime
            String::new(), // signedEncryptionScope
            String::new(), // rscc
            String::new(), // rscd
            String::new(), // rsce
            String::new(), // rscl
            String::new(), // rsct
        ];
        fields.join("\n")
    }

    /// The SAS query string (no leading `?`), signed with `key_base64`.
    pub fn query(&self, key_base64: &str) -> Result<String, SasError> {
        let lifetime = self.expiry - self.start;
        if lifetime <= time::Duration::ZERO || lifetime > MAX_LIFETIME {
            return Err(SasError::Lifetime(lifetime));
        }
        for name in [Some(self.container), self.blob].into_iter().flatten() {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
            if !ok {
                return Err(SasError::Name(name.into()));
            }
        }
        let key = base64::engine::general_purpose::STANDARD
            .decode(key_base64)
            .map_err(|e| SasError::Key(e.to_string()))?;
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            self.string_to_sign().as_bytes(),
        );
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.as_ref());
        let pairs = [
            ("sv", VERSION.to_string()),
            ("st", timestamp(self.start)),
            ("se", timestamp(self.expiry)),
            ("sr", self.resource().into()),
            ("sp", self.permissions.as_str()),
            ("spr", self.protocol().into()),
            ("sig", sig),
        ];
        Ok(pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&"))
    }
}

/// Percent-encoding for a query value: everything but unreserved
/// characters.
pub fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;

//! The Blob service's data plane, as far as azlin uses it: whether a blob
//! exists (Get Blob Properties), uploading one as blocks (Put Block, Put
//! Block List), listing a container's blobs (List Blobs, every page) and
//! deleting one (Delete Blob), each request authorised by a SAS query
//! string ([`super::sas`]) and retried as [`super::retry`] says.
//!
//! Not here: making storage accounts or containers (ARM does that, through
//! [`super::client`]), or deciding what to upload.

use std::time::Duration;

use base64::Engine as _;

use super::{
    retry::{self, Outcome},
    sas,
};

/// Each Put Block carries at most this much.
pub const BLOCK_SIZE: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("{what} {url}: {detail}")]
pub struct BlobError {
    /// What azlin was doing ("uploading block 3 of", "checking").
    pub what: String,
    /// The blob's URL without its SAS (never logged with it).
    pub url: String,
    pub status: Option<u16>,
    pub detail: String,
}

pub struct BlobClient {
    http: reqwest::Client,
}

/// A blob's (or a container's) URL and the SAS that lets azlin at it,
/// kept apart so errors and logs name the blob without the signature.
pub struct SignedBlob {
    pub url: String,
    pub sas: String,
}

impl SignedBlob {
    fn with(&self, extra: &str) -> String {
        if extra.is_empty() {
            format!("{}?{}", self.url, self.sas)
        } else {
            format!("{}?{extra}&{}", self.url, self.sas)
        }
    }
}

/// One blob as List Blobs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobItem {
    pub name: String,
    /// When it was made (unix seconds), if the service said.
    pub created: Option<i64>,
    pub bytes: Option<u64>,
}

/// The blobs of one List Blobs page and the marker of the next, from its
/// XML (`EnumerationResults`); `None` if it is not that document.
pub fn parse_list(xml: &str) -> Option<(Vec<BlobItem>, Option<String>)> {
    let results = between(xml, "<EnumerationResults", "</EnumerationResults>")?;
    let mut items = Vec::new();
    let mut rest = results;
    while let Some(start) = rest.find("<Blob>") {
        let after = &rest[start + "<Blob>".len()..];
        let end = after.find("</Blob>")?;
        let blob = &after[..end];
        let name = unescape(between(blob, "<Name>", "</Name>")?);
        let created = between(blob, "<Creation-Time>", "</Creation-Time>")
            .and_then(|t| jiff::fmt::rfc2822::parse(t.trim()).ok())
            .map(|z| z.timestamp().as_second());
        let bytes = between(blob, "<Content-Length>", "</Content-Length>")
            .and_then(|n| n.trim().parse().ok());
        items.push(BlobItem {
            name,
            created,
            bytes,
        });
        rest = &after[end..];
    }
    let next = between(results, "<NextMarker>", "</NextMarker>")
        .map(unescape)
        .filter(|m| !m.is_empty());
    Some((items, next))
}

/// XML's five predefined entities, as List Blobs escapes names.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The most pages one listing reads: a container of azlin's holds a few
/// agent builds, so more is a service misbehaving (a marker that never
/// ends), not a big container.
const MAX_PAGES: usize = 1000;

impl BlobClient {
    pub fn new() -> Result<Self, BlobError> {
        azlin_protocol::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| BlobError {
                what: "starting the HTTP client for".into(),
                url: "blob storage".into(),
                status: None,
                detail: e.to_string(),
            })?;
        Ok(Self { http })
    }

    /// Whether the blob is there (HEAD: 200 yes, 404 no).
    pub async fn exists(&self, blob: &SignedBlob) -> Result<bool, BlobError> {
        let status = self
            .send("checking", blob, reqwest::Method::HEAD, String::new(), None)
            .await;
        match status {
            Ok(_) => Ok(true),
            Err(e) if e.status == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every blob in the container `container` (its URL and a SAS with
    /// list permission) whose name starts with `prefix`, all pages.
    pub async fn list(
        &self,
        container: &SignedBlob,
        prefix: &str,
    ) -> Result<Vec<BlobItem>, BlobError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = format!("restype=container&comp=list&prefix={}", sas::encode(prefix));
            if let Some(m) = &marker {
                query.push_str(&format!("&marker={}", sas::encode(m)));
            }
            let body = self
                .send("listing", container, reqwest::Method::GET, query, None)
                .await?;
            let Some((items, next)) = parse_list(&body) else {
                return Err(BlobError {
                    what: "listing".into(),
                    url: container.url.clone(),
                    status: None,
                    detail: "the answer is not a List Blobs document".into(),
                });
            };
            out.extend(items);
            match next {
                Some(m) => marker = Some(m),
                None => return Ok(out),
            }
        }
        Err(BlobError {
            what: "listing".into(),
            url: container.url.clone(),
            status: None,
            detail: format!("still more pages after {MAX_PAGES}; azlin stopped"),
        })
    }

    /// Delete the blob (already gone: done).
    pub async fn delete(&self, blob: &SignedBlob) -> Result<(), BlobError> {
        match self
            .send(
                "deleting",
                blob,
                reqwest::Method::DELETE,
                String::new(),
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Upload `bytes` as the blob: blocks of [`BLOCK_SIZE`], then the block
    /// list that commits them (until then readers see no blob, or the old
    /// one, never a part).
    pub async fn upload(&self, blob: &SignedBlob, bytes: &[u8]) -> Result<(), BlobError> {
        let chunks: Vec<&[u8]> = bytes.chunks(BLOCK_SIZE).collect();
        let mut ids = Vec::with_capacity(chunks.len());
        for (i, chunk) in chunks.iter().enumerate() {
            // Block ids are base64 of equal-length strings, as Azure requires.
            let id = base64::engine::general_purpose::STANDARD.encode(format!("block-{i:06}"));
            let what = format!("uploading block {} of {} to", i + 1, chunks.len());
            let query = format!("comp=block&blockid={}", sas::encode(&id));
            self.send(
                &what,
                blob,
                reqwest::Method::PUT,
                query,
                Some(chunk.to_vec()),
            )
            .await?;
            ids.push(id);
        }
        let mut list = String::from(r#"<?xml version="1.0" encoding="utf-8"?><BlockList>"#);
        for id in &ids {
            list.push_str(&format!("<Latest>{id}</Latest>"));
        }
        list.push_str("</BlockList>");
        self.send(
            "committing the blocks of",
            blob,
            reqwest::Method::PUT,
            "comp=blocklist".into(),
            Some(list.into_bytes()),
        )
        .await?;
        Ok(())
    }

    async fn send(
        &self,
        what: &str,
        blob: &SignedBlob,
        method: reqwest::Method,
        query: String,
        body: Option<Vec<u8>>,
    ) -> Result<String, BlobError> {
        let url = blob.with(&query);
        let error = |status: Option<u16>, detail: String| BlobError {
            what: what.into(),
            url: blob.url.clone(),
            status,
            detail,
        };
        let mut attempt = 1;
        loop {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("x-ms-version", sas::VERSION);
            if let Some(b) = &body {
                req = req.body(b.clone());
            } else if method == reqwest::Method::PUT {
                req = req.header("content-length", "0");
            }
            let (outcome, failure) = match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    return resp.text().await.map_err(|e| {
                        error(None, format!("reading the answer: {}", e.without_url()))
                    });
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let code = resp
                        .headers()
                        .get("x-ms-error-code")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let text = resp.text().await.unwrap_or_default();
                    let message = between(&text, "<Message>", "</Message>").unwrap_or_default();
                    // Azure's words reach the terminal: no control characters.
                    let detail: String = format!("{status} {code} {message}")
                        .trim()
                        .chars()
                        .map(|c| if c.is_control() { '?' } else { c })
                        .take(500)
                        .collect();
                    (Outcome::Status(status), error(Some(status), detail))
                }
                // Without the URL: reqwest's error text would carry the SAS.
                Err(e) => (
                    Outcome::NoResponse,
                    error(None, e.without_url().to_string()),
                ),
            };
            match retry::delay(attempt, outcome, None, retry::jitter()) {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => return Err(failure),
            }
        }
    }
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

#[cfg(test)]
mod tests;

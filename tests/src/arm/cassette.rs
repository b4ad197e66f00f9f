//! Azure CLI recordings (vcrpy cassettes): each interaction's request
//! (method, URI) and response (status, headers, body). Both the 2023 block
//! style and the 2017 flow style load; header names are lower-cased.

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct Interaction {
    pub method: String,
    pub uri: String,
    pub status: u16,
    /// Lower-case name → values.
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: String,
}

impl Interaction {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The URI's path, without scheme, host or query.
    pub fn path(&self) -> &str {
        let rest = self.uri.split_once("://").map_or(&*self.uri, |(_, r)| r);
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        path.split('?').next().unwrap_or(path)
    }
}

#[derive(Deserialize)]
struct File {
    interactions: Vec<Raw>,
}

#[derive(Deserialize)]
struct Raw {
    request: RawRequest,
    response: RawResponse,
}

#[derive(Deserialize)]
struct RawRequest {
    method: String,
    uri: String,
}

#[derive(Deserialize)]
struct RawResponse {
    #[serde(default)]
    body: Option<RawBody>,
    #[serde(default)]
    headers: BTreeMap<String, Vec<String>>,
    status: RawStatus,
}

#[derive(Deserialize)]
struct RawBody {
    #[serde(default)]
    string: Option<String>,
}

#[derive(Deserialize)]
struct RawStatus {
    code: u16,
}

/// Every interaction of one cassette, in recorded order.
pub fn load(path: &Path) -> Vec<Interaction> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file: File = serde_saphyr::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a cassette: {e}", path.display()));
    file.interactions
        .into_iter()
        .map(|raw| Interaction {
            method: raw.request.method.to_ascii_uppercase(),
            uri: raw.request.uri,
            status: raw.response.status.code,
            headers: raw
                .response
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body: raw.response.body.and_then(|b| b.string).unwrap_or_default(),
        })
        .collect()
}

/// Every cassette under the fixtures' `recordings/`.
pub fn all() -> Vec<(String, Vec<Interaction>)> {
    let root = super::fixtures_dir().join("recordings");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(&root).unwrap().display().to_string();
            let interactions = load(&p);
            (name, interactions)
        })
        .collect()
}

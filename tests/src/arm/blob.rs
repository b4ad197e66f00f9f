//! A fake Azure Blob endpoint, strict about shared access signatures:
//! path-style URLs (`/{account}/{container}/{blob}`, as Azurite serves
//! them), Get Blob, Get Blob Properties (HEAD), Put Block, Put Block
//! List, Delete Blob and List Blobs (paged [`LIST_PAGE`] at a time, so a
//! client must follow `NextMarker`). Every request must carry a service
//! SAS for that blob or its container (List Blobs: the container's only);
//! the fake checks it the way Azure documents, written here independently
//! of azlin's signer: the signature over the account key, the start and
//! expiry, the protocol (this server is HTTP, so an HTTPS-only SAS is
//! refused), the resource type and the permission the operation needs.
//! Refusals answer 403 with Azure's error codes.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{Arc, Mutex},
};

use base64::Engine as _;

/// A request the fake saw (its SAS signature left out).
#[derive(Debug, Clone)]
pub struct BlobSeen {
    pub method: String,
    pub path: String,
    /// The query's parameter names and values, `sig` removed.
    pub params: BTreeMap<String, String>,
    pub status: u16,
    /// Azure's `x-ms-error-code`, on a refusal.
    pub code: Option<String>,
}

/// List Blobs answers this many blobs a page.
pub const LIST_PAGE: usize = 2;

/// A committed blob.
struct Stored {
    bytes: Vec<u8>,
    /// Unix seconds.
    created: i64,
}

#[derive(Default)]
struct State {
    /// Account name → key.
    keys: BTreeMap<String, Vec<u8>>,
    containers: BTreeSet<(String, String)>,
    blobs: BTreeMap<(String, String, String), Stored>,
    /// Uncommitted blocks by blob and block id.
    blocks: BTreeMap<(String, String, String, String), Vec<u8>>,
    seen: Vec<BlobSeen>,
}

#[derive(Clone)]
pub struct FakeBlob {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn refuse(status: u16, code: &str, message: &str) -> Answer {
    (
        status,
        vec![("x-ms-error-code".into(), code.into())],
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        )
        .into_bytes(),
    )
}

impl FakeBlob {
    pub fn start() -> Self {
        Self::start_on("127.0.0.1")
    }

    /// Listen on `ip` (a docker network's gateway, for containers).
    pub fn start_on(ip: &str) -> Self {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        Self { addr, state }
    }

    /// `http://127.0.0.1:PORT`; an account's endpoint is this and
    /// `/{account}/`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new account with a random key; the key (base64).
    pub fn add_account(&self, name: &str) -> String {
        let mut key = [0u8; 64];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key).unwrap();
        self.state
            .lock()
            .unwrap()
            .keys
            .insert(name.to_ascii_lowercase(), key.to_vec());
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    pub fn add_container(&self, account: &str, container: &str) {
        self.state
            .lock()
            .unwrap()
            .containers
            .insert((account.to_ascii_lowercase(), container.to_string()));
    }

    /// A committed blob's bytes.
    pub fn blob(&self, account: &str, container: &str, name: &str) -> Option<Vec<u8>> {
        self.state
            .lock()
            .unwrap()
            .blobs
            .get(&(
                account.to_ascii_lowercase(),
                container.to_string(),
                name.to_string(),
            ))
            .map(|b| b.bytes.clone())
    }

    /// Put a blob there as if uploaded at `created` (unix seconds), for a
    /// test to start from.
    pub fn plant(&self, account: &str, container: &str, name: &str, bytes: &[u8], created: i64) {
        self.state.lock().unwrap().blobs.insert(
            (
                account.to_ascii_lowercase(),
                container.to_string(),
                name.to_string(),
            ),
            Stored {
                bytes: bytes.to_vec(),
                created,
            },
        );
    }

    /// The blob names in one container.
    pub fn names_in(&self, account: &str, container: &str) -> Vec<String> {
        let account = account.to_ascii_lowercase();
        self.state
            .lock()
            .unwrap()
            .blobs
            .keys()
            .filter(|(a, c, _)| *a == account && c == container)
            .map(|(_, _, n)| n.clone())
            .collect()
    }

    /// Every committed blob: (account, container, name).
    pub fn blobs(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().blobs.keys().cloned().collect()
    }

    pub fn seen(&self) -> Vec<BlobSeen> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let request = super::http::read(&stream)?;
    let method = request.method;
    let target = request.target;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params = super::parse_query(query);
    let (status, headers, out) = answer(state, &method, path, &params, request.body);
    let code = headers
        .iter()
        .find(|(k, _)| k == "x-ms-error-code")
        .map(|(_, v)| v.clone());
    let mut shown = params.clone();
    shown.remove("sig");
    state.lock().unwrap().seen.push(BlobSeen {
        method: method.clone(),
        path: path.to_string(),
        params: shown,
        status,
        code,
    });
    super::http::answer(stream, status, &headers, &out, method != "HEAD")
}

/// `YYYY-MM-DDThh:mm:ssZ` as seconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let month = time::Month::try_from(n(5..7)? as u8).ok()?;
    let date = time::Date::from_calendar_date(n(0..4)? as i32, month, n(8..10)? as u8).ok()?;
    let t = date
        .with_hms(n(11..13)? as u8, n(14..16)? as u8, n(17..19)? as u8)
        .ok()?;
    Some(t.assume_utc().unix_timestamp())
}

/// What an operation needs of the SAS's `sp`.
#[derive(Clone, Copy)]
enum Need {
    Read,
    Write,
    Delete,
    List,
}

/// Check the request's SAS for `/{account}/{container}/{blob}`, or for
/// the container itself when `blob` is `None`. A container SAS (`sr=c`)
/// serves the container and every blob in it; a blob SAS (`sr=b`) only
/// its blob.
fn check_sas(
    key: &[u8],
    account: &str,
    container: &str,
    blob: Option<&str>,
    q: &BTreeMap<String, String>,
    need: Need,
) -> Result<(), Answer> {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let auth = |m: &str| Err(refuse(403, "AuthenticationFailed", m));
    for k in ["sv", "sr", "sp", "se", "sig"] {
        if !q.contains_key(k) {
            return auth(&format!("no {k} in the SAS"));
        }
    }
    if get("sv").as_str() < "2020-12-06" {
        return auth("this fake checks SAS versions 2020-12-06 and later");
    }
    let resource = match (get("sr").as_str(), blob) {
        ("c", _) => format!("/blob/{account}/{container}"),
        ("b", Some(blob)) => format!("/blob/{account}/{container}/{blob}"),
        _ => {
            return Err(refuse(
                403,
                "AuthorizationResourceTypeMismatch",
                "this SAS is not for this kind of resource",
            ));
        }
    };
    // The service SAS string to sign, in the documented order.
    let string_to_sign = [
        get("sp"),
        get("st"),
        get("se"),
        resource,
        get("si"),
        get("sip"),
        get("spr"),
        get("sv"),
        get("sr"),
        get("sst"),
        get("ses"),
        get("rscc"),
        get("rscd"),
        get("rsce"),
        get("rscl"),
        get("rsct"),
    ]
    .join("\n");
    let expected = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
        string_to_sign.as_bytes(),
    );
    let given = base64::engine::general_purpose::STANDARD
        .decode(get("sig"))
        .unwrap_or_default();
    // Signatures are public in the fake; a plain comparison is enough.
    if expected.as_ref() != given.as_slice() {
        return auth("Signature did not match");
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let Some(expiry) = parse_time(&get("se")) else {
        return auth("se is not a time");
    };
    if expiry <= now {
        return auth("Signed expiry time has to be after the current time");
    }
    if let Some(st) = q.get("st") {
        match parse_time(st) {
            Some(start) if start <= now => {}
            _ => return auth("Signed start time is not yet reached or is not a time"),
        }
    }
    if !get("spr").split(',').any(|p| p == "http") {
        return Err(refuse(
            403,
            "AuthorizationProtocolMismatch",
            "this request is not authorized to be made over HTTP",
        ));
    }
    let sp = get("sp");
    let ok = match need {
        Need::Read => sp.contains('r'),
        Need::Write => sp.contains('w'),
        Need::Delete => sp.contains('d'),
        Need::List => sp.contains('l'),
    };
    if !ok {
        return Err(refuse(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        ));
    }
    Ok(())
}

fn answer(
    state: &Mutex<State>,
    method: &str,
    path: &str,
    q: &BTreeMap<String, String>,
    body: Vec<u8>,
) -> Answer {
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .splitn(3, '/')
        .map(super::percent_decode)
        .collect();
    let (account, container, blob) = match segs.as_slice() {
        [a, c, b] => (a, c, Some(b.as_str())),
        [a, c] => (a, c, None),
        _ => {
            return refuse(
                400,
                "InvalidUri",
                "expected /{account}/{container}[/{blob}]",
            );
        }
    };
    let account = account.to_ascii_lowercase();
    let mut s = state.lock().unwrap();
    let Some(key) = s.keys.get(&account).cloned() else {
        return refuse(400, "InvalidUri", "no such account");
    };
    let Some(blob) = blob else {
        // The container itself: only List Blobs.
        let list = method == "GET"
            && q.get("restype").map(String::as_str) == Some("container")
            && q.get("comp").map(String::as_str) == Some("list");
        if !list {
            return refuse(
                400,
                "UnsupportedHttpVerb",
                "this fake serves List Blobs on a container, nothing else",
            );
        }
        if let Err(refusal) = check_sas(&key, &account, container, None, q, Need::List)
            .and_then(|()| container_exists(&s, &account, container))
        {
            return refusal;
        }
        return list_page(&s, &account, container, q);
    };
    let blob = blob.to_string();
    let need = match method {
        "GET" | "HEAD" => Need::Read,
        "DELETE" => Need::Delete,
        _ => Need::Write,
    };
    if let Err(refusal) = check_sas(&key, &account, container, Some(&blob), q, need)
        .and_then(|()| container_exists(&s, &account, container))
    {
        return refusal;
    }
    let id = (account.clone(), container.clone(), blob.clone());
    match (method, q.get("comp").map(String::as_str)) {
        ("GET" | "HEAD", None) => match s.blobs.get(&id) {
            Some(stored) => (
                200,
                vec![
                    ("x-ms-blob-type".into(), "BlockBlob".into()),
                    ("content-type".into(), "application/octet-stream".into()),
                ],
                // HEAD's length is the blob's; `serve` sends no body.
                stored.bytes.clone(),
            ),
            None => refuse(404, "BlobNotFound", "The specified blob does not exist."),
        },
        ("DELETE", None) => match s.blobs.remove(&id) {
            Some(_) => (202, vec![], Vec::new()),
            None => refuse(404, "BlobNotFound", "The specified blob does not exist."),
        },
        ("PUT", Some("block")) => {
            let Some(block) = q.get("blockid") else {
                return refuse(400, "MissingRequiredQueryParameter", "blockid");
            };
            if base64::engine::general_purpose::STANDARD
                .decode(block)
                .is_err()
            {
                return refuse(400, "InvalidQueryParameterValue", "blockid is not base64");
            }
            s.blocks.insert(
                (account, container.clone(), blob.clone(), block.clone()),
                body,
            );
            (201, vec![], Vec::new())
        }
        ("PUT", Some("blocklist")) => {
            let text = String::from_utf8_lossy(&body).into_owned();
            let mut bytes = Vec::new();
            let mut rest = text.as_str();
            let mut any = false;
            while let Some(start) = rest.find("<Latest>") {
                let after = &rest[start + 8..];
                let Some(end) = after.find("</Latest>") else {
                    return refuse(400, "InvalidXmlDocument", "unclosed <Latest>");
                };
                let block = &after[..end];
                let Some(b) = s.blocks.get(&(
                    account.clone(),
                    container.clone(),
                    blob.clone(),
                    block.to_string(),
                )) else {
                    return refuse(400, "InvalidBlockList", "a listed block was never put");
                };
                bytes.extend_from_slice(b);
                any = true;
                rest = &after[end..];
            }
            if !any {
                return refuse(400, "InvalidXmlDocument", "no <Latest> blocks");
            }
            s.blocks
                .retain(|(a, c, b, _), _| !(a == &account && c == container && b == &blob));
            // Overwriting a blob keeps its creation time, as Azure does.
            let created = s
                .blobs
                .get(&id)
                .map(|b| b.created)
                .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
            s.blobs.insert(id, Stored { bytes, created });
            (201, vec![], Vec::new())
        }
        _ => refuse(
            400,
            "UnsupportedHttpVerb",
            "this fake serves Get Blob, Get Blob Properties, Put Block, Put Block List, Delete \
             Blob and List Blobs",
        ),
    }
}

/// Azure's answer when the container is not there.
fn container_exists(s: &State, account: &str, container: &str) -> Result<(), Answer> {
    if s.containers
        .contains(&(account.to_string(), container.to_string()))
    {
        Ok(())
    } else {
        Err(refuse(
            404,
            "ContainerNotFound",
            "The specified container does not exist.",
        ))
    }
}

/// One page of List Blobs: [`LIST_PAGE`] blobs after `marker` (the last
/// name of the page before), in name order, with `prefix`.
fn list_page(s: &State, account: &str, container: &str, q: &BTreeMap<String, String>) -> Answer {
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let marker = q.get("marker").cloned().unwrap_or_default();
    let names: Vec<(&String, &Stored)> = s
        .blobs
        .iter()
        .filter(|((a, c, n), _)| {
            a == account && c == container && n.starts_with(&prefix) && *n > marker
        })
        .map(|((_, _, n), b)| (n, b))
        .collect();
    let page = &names[..names.len().min(LIST_PAGE)];
    let next = if names.len() > LIST_PAGE {
        page.last().map(|(n, _)| escape(n)).unwrap_or_default()
    } else {
        String::new()
    };
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults \
         ServiceEndpoint=\"http://fake/{account}/\" ContainerName=\"{container}\">\
         <Prefix>{}</Prefix><MaxResults>{LIST_PAGE}</MaxResults><Blobs>",
        escape(&prefix)
    );
    for (name, b) in page {
        let created = time::OffsetDateTime::from_unix_timestamp(b.created)
            .unwrap()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap()
            .replace("+0000", "GMT");
        xml.push_str(&format!(
            "<Blob><Name>{}</Name><Properties><Creation-Time>{created}</Creation-Time>\
             <Last-Modified>{created}</Last-Modified><Content-Length>{}</Content-Length>\
             <BlobType>BlockBlob</BlobType></Properties></Blob>",
            escape(name),
            b.bytes.len()
        ));
    }
    xml.push_str(&format!(
        "</Blobs><NextMarker>{next}</NextMarker></EnumerationResults>"
    ));
    (
        200,
        vec![("content-type".into(), "application/xml".into())],
        xml.into_bytes(),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

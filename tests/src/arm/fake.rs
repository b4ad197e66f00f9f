//! A local HTTP server that speaks ARM by replaying recorded traffic:
//! each request is matched (method, path, query as a set; case-insensitive;
//! scrubbed subscription ids and deployment names normalised) to the
//! recorded interactions with the same key, served in recorded order (a
//! poll recorded three times answers three times, then keeps giving the
//! last). Absolute URLs in headers and bodies are rewritten to this
//! server, so the client polls here. Faults can be queued for a path:
//! a status with `Retry-After`, an operation stuck in progress, a delay.
//! Every request is logged with its time, for assertions on pacing.

use std::{
    collections::{BTreeMap, VecDeque},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{cassette::Interaction, emulator::Emulator};

const RECORDED_HOST: &str = "https://management.azure.com";

/// A fault served instead of the recording, for requests whose path
/// contains `path`.
#[derive(Debug, Clone)]
pub enum Fault {
    /// This status (with a JSON error body), and `Retry-After` if given.
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// This status with this body (an Azure error body, say).
    Body { status: u16, body: String },
    /// An async-operation status that never finishes.
    Stuck,
    /// Wait this long before answering (a timeout, for a short client
    /// timeout).
    Delay(Duration),
}

/// A request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub at: Instant,
    pub status: u16,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
}

/// A canned response: status, headers, body.
type Canned = (u16, Vec<(String, String)>, String);

/// A canned response as a test writes it.
pub type CannedRef<'a> = (u16, Vec<(&'a str, &'a str)>, &'a str);

#[derive(Default)]
struct State {
    /// Key → responses left, in order, and the last one served.
    recorded: BTreeMap<String, (VecDeque<Interaction>, Option<Interaction>)>,
    faults: Vec<(String, VecDeque<Fault>)>,
    seen: Vec<Seen>,
    /// Extra synthetic responses: key → (status, headers, body).
    canned: BTreeMap<String, VecDeque<Canned>>,
    /// Keeps what is PUT when no recording answers (see `emulator`).
    emulator: Option<Emulator>,
}

pub struct FakeArm {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeArm {
    /// An ARM that keeps the resources clients make (no recordings),
    /// answering in the recorded shapes; faults still apply first.
    pub fn emulating(emulator: Emulator) -> Self {
        let fake = Self::start(Vec::new());
        fake.state.lock().unwrap().emulator = Some(emulator);
        fake
    }

    /// Look at or change the emulator's resources.
    pub fn emulator<T>(&self, f: impl FnOnce(&mut Emulator) -> T) -> T {
        f(self
            .state
            .lock()
            .unwrap()
            .emulator
            .as_mut()
            .expect("started with FakeArm::emulating"))
    }

    /// Serve these interactions (from one or more cassettes).
    pub fn start(interactions: Vec<Interaction>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut state = State::default();
        for x in interactions {
            let k = key(&x.method, &x.uri);
            state.recorded.entry(k).or_default().0.push_back(x);
        }
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state, addr);
                });
            }
        });
        Self { addr, state }
    }

    /// The base URL, for `AZLIN_ARM_ENDPOINT` or the client.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serve `faults` (in order, one per request) to requests whose path
    /// contains `path_part`, before any recording.
    pub fn inject(&self, path_part: &str, faults: Vec<Fault>) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((path_part.to_ascii_lowercase(), faults.into()));
    }

    /// Answer `method url` with these responses, in order (the last
    /// repeats).
    pub fn can(&self, method: &str, uri: &str, responses: Vec<CannedRef>) {
        let list = responses
            .into_iter()
            .map(|(s, h, b)| {
                (
                    s,
                    h.into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    b.to_string(),
                )
            })
            .collect();
        self.state
            .lock()
            .unwrap()
            .canned
            .insert(key(method, uri), list);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

/// Method, lower-case path and the query as a sorted set, with scrubbed
/// names made equal.
fn key(method: &str, uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let path_q = if uri.contains("://") {
        rest.find('/').map_or("/", |i| &rest[i..])
    } else {
        rest
    };
    let (path, query) = path_q.split_once('?').unwrap_or((path_q, ""));
    let path = normalise(&path.to_ascii_lowercase());
    let mut q: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.to_ascii_lowercase())
        .collect();
    q.sort();
    format!("{} {path}?{}", method.to_ascii_uppercase(), q.join("&"))
}

fn normalise(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    let mut out = Vec::with_capacity(segs.len());
    let mut i = 0;
    while i < segs.len() {
        out.push(segs[i].to_string());
        if segs[i] == "subscriptions" && i + 1 < segs.len() {
            out.push("00000000-0000-0000-0000-000000000000".into());
            i += 2;
            continue;
        }
        if segs[i] == "deployments" && i + 1 < segs.len() {
            out.push("mock-deployment".into());
            i += 2;
            continue;
        }
        i += 1;
    }
    out.join("/")
}

fn serve(stream: TcpStream, state: &Mutex<State>, addr: SocketAddr) -> std::io::Result<()> {
    let super::http::Request {
        method,
        target,
        authorization,
        body,
    } = super::http::read(&stream)?;
    let k = key(&method, &target);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let base = format!("http://{addr}");
    let request = Request {
        method: &method,
        authorization: authorization.as_deref(),
        path,
        query,
        body: &String::from_utf8_lossy(&body),
        key: &k,
        base: &base,
    };
    let (status, headers, text, delay) = answer(state, &request);
    if let Some(d) = delay {
        std::thread::sleep(d);
    }
    state.lock().unwrap().seen.push(Seen {
        method: method.clone(),
        path: path.to_string(),
        query: query.to_string(),
        at: Instant::now(),
        status,
        authorization,
    });
    super::http::answer(stream, status, &headers, text.as_bytes(), true)
}

type Answer = (u16, Vec<(String, String)>, String, Option<Duration>);

struct Request<'a> {
    method: &'a str,
    authorization: Option<&'a str>,
    path: &'a str,
    query: &'a str,
    body: &'a str,
    key: &'a str,
    base: &'a str,
}

fn answer(state: &Mutex<State>, r: &Request) -> Answer {
    let (path, k, base) = (r.path, r.key, r.base);
    let mut s = state.lock().unwrap();
    let lower = path.to_ascii_lowercase();
    if let Some((_, faults)) = s
        .faults
        .iter_mut()
        .find(|(p, f)| lower.contains(p.as_str()) && !f.is_empty())
    {
        match faults.pop_front().expect("not empty") {
            Fault::Status {
                status,
                retry_after,
            } => {
                let mut h = Vec::new();
                if let Some(r) = retry_after {
                    h.push(("retry-after".to_string(), r.to_string()));
                }
                let body = format!(
                    r#"{{"error":{{"code":"Injected{status}","message":"injected fault {status}"}}}}"#
                );
                return (status, h, body, None);
            }
            Fault::Body { status, body } => return (status, vec![], body, None),
            Fault::Stuck => {
                faults.push_front(Fault::Stuck);
                return (200, vec![], r#"{"status":"InProgress"}"#.into(), None);
            }
            Fault::Delay(d) => {
                drop(s);
                let (st, h, b, _) = answer(state, r);
                return (st, h, b, Some(d));
            }
        }
    }
    if let Some(list) = s.canned.get_mut(k) {
        let next = if list.len() > 1 {
            list.pop_front().expect("not empty")
        } else {
            list.front().cloned().expect("not empty")
        };
        return (next.0, next.1, next.2, None);
    }
    if !s.recorded.contains_key(k)
        && let Some(emulator) = s.emulator.as_mut()
    {
        if let Some(refusal) = emulator.refuse_subscription(path, r.authorization) {
            return (refusal.0, refusal.1, refusal.2, None);
        }
        let (st, h, b) = emulator.handle(r.method, path, r.query, r.body, base);
        return (st, h, b, None);
    }
    let Some((left, last)) = s.recorded.get_mut(k) else {
        return (
            404,
            vec![],
            format!(
                r#"{{"error":{{"code":"NotRecorded","message":"the fake ARM has no recording for {k}"}}}}"#
            ),
            None,
        );
    };
    let x = match left.pop_front() {
        Some(x) => {
            *last = Some(x.clone());
            x
        }
        None => last.clone().expect("a key has at least one recording"),
    };
    let headers = x
        .headers
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "content-length" | "transfer-encoding" | "connection" | "content-encoding"
            )
        })
        .flat_map(|(k, vs)| {
            vs.iter()
                .map(move |v| (k.clone(), v.replace(RECORDED_HOST, base)))
        })
        .collect();
    (x.status, headers, x.body.replace(RECORDED_HOST, base), None)
}

//! The ARM HTTP client: one base URL (Azure's, or any server that speaks
//! ARM, for tests), a bearer token, and the protocol's rules on top of
//! plain requests: retries of throttling and server errors that honour
//! `Retry-After` ([`super::retry`]), long-running operations followed to
//! their end ([`super::lro`]), `nextLink` paging, and a cap on writes per
//! second so a large `--pool` never trips ARM's own throttling.
//!
//! Not here: which resources to make ([`super::models`] are the shapes;
//! the provider decides).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::Mutex;

use super::{
    credentials::Credentials,
    error::{ArmError, ErrorKind},
    lro::{self, Lro, Step},
    models::Page,
    retry::{self, Outcome},
};

/// Azure's public management endpoint.
pub const AZURE_ENDPOINT: &str = "https://management.azure.com";

/// How long one long-running operation may take before azlin gives up.
pub const DEFAULT_LRO_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Requests sent, by kind, for the benchmark and the logs.
#[derive(Debug, Default)]
pub struct RequestCounts {
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub polls: AtomicU64,
    pub retries: AtomicU64,
}

pub struct ArmClient {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    writes: WriteCap,
    lro_timeout: Duration,
    pub counts: Arc<RequestCounts>,
}

/// One response, read whole (ARM bodies are small).
pub struct Reply {
    pub status: u16,
    headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }
}

impl ArmClient {
    /// A client for `base` (no trailing slash needed).
    pub fn new(base: &str, credentials: Credentials) -> Result<Self, ArmError> {
        azlin_protocol::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| transport_error("client", &e))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            credentials,
            writes: WriteCap::new(10.0),
            lro_timeout: DEFAULT_LRO_TIMEOUT,
            counts: Arc::default(),
        })
    }

    /// Give up on one request (and try it again) after `timeout`.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Result<Self, ArmError> {
        self.http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .build()
            .map_err(|e| transport_error("client", &e))?;
        Ok(self)
    }

    /// Writes (PUT, PATCH, POST, DELETE) refilled at `per_second`, after
    /// a burst of 200.
    pub fn with_write_cap(mut self, per_second: f64) -> Self {
        self.writes = WriteCap::new(per_second);
        self
    }

    pub fn with_lro_timeout(mut self, timeout: Duration) -> Self {
        self.lro_timeout = timeout;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str, api_version: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}api-version={api_version}", self.base)
    }

    /// GET a resource.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, api: &str) -> Result<T, ArmError> {
        let url = self.url(path, api);
        let reply = self.read(&url).await?;
        decode(&reply.body, &url)
    }

    /// GET `url`; any status but 2xx is Azure's error.
    async fn read(&self, url: &str) -> Result<Reply, ArmError> {
        let reply = self.send(reqwest::Method::GET, url, None).await?;
        if (200..300).contains(&reply.status) {
            Ok(reply)
        } else {
            Err(ArmError::from_response(
                reply.status,
                &reply.body,
                request("GET", url),
            ))
        }
    }

    /// GET a resource that may not exist.
    pub async fn get_opt<T: DeserializeOwned>(
        &self,
        path: &str,
        api: &str,
    ) -> Result<Option<T>, ArmError> {
        match self.get(path, api).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every item of a list, following `nextLink`.
    pub async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        api: &str,
    ) -> Result<Vec<T>, ArmError> {
        let mut url = self.url(path, api);
        let mut items = Vec::new();
        for _ in 0..1000 {
            let reply = self.read(&url).await?;
            let page: Page<T> = decode(&reply.body, &url)?;
            items.extend(page.value);
            match page.next_link {
                Some(next) if !next.is_empty() => url = next,
                _ => return Ok(items),
            }
        }
        Err(protocol_error(
            &url,
            "more than 1000 pages; the server keeps sending nextLink",
        ))
    }

    /// PUT a resource and follow the operation to its end: the resource
    /// as ARM has it then.
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        api: &str,
        body: &B,
    ) -> Result<T, ArmError> {
        let url = self.url(path, api);
        let body = serde_json::to_vec(body).expect("models always serialize");
        let out = self.operation(lro::Method::Put, &url, Some(body)).await?;
        decode(&out, &url)
    }

    /// POST an action (`powerOff`, `start`, `deallocate`…) and wait for it.
    pub async fn action(&self, path: &str, api: &str) -> Result<(), ArmError> {
        let url = self.url(path, api);
        self.operation(lro::Method::Post, &url, None)
            .await
            .map(|_| ())
    }

    /// POST an action that answers with a body (`listKeys`, `runCommand`)
    /// and wait for it: the body at its end.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        api: &str,
        body: Option<&B>,
    ) -> Result<T, ArmError> {
        let url = self.url(path, api);
        let body = body.map(|b| serde_json::to_vec(b).expect("models always serialize"));
        let out = self.operation(lro::Method::Post, &url, body).await?;
        decode(&out, &url)
    }

    /// POST a query and every page of its answer: a page's `nextLink`
    /// (which `next` reads) is POSTed the same body, as the Cost
    /// Management Query API pages.
    pub async fn query_pages<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        api: &str,
        body: &B,
        next: impl Fn(&T) -> Option<String>,
    ) -> Result<Vec<T>, ArmError> {
        let body = serde_json::to_vec(body).expect("models always serialize");
        let mut url = self.url(path, api);
        let mut pages = Vec::new();
        for _ in 0..1000 {
            let reply = self
                .send(reqwest::Method::POST, &url, Some(body.clone()))
                .await?;
            if !(200..300).contains(&reply.status) {
                return Err(ArmError::from_response(
                    reply.status,
                    &reply.body,
                    request("POST", &url),
                ));
            }
            // 204: nothing in the range.
            let body: &[u8] = if reply.body.is_empty() {
                b"{}"
            } else {
                &reply.body
            };
            let page: T = decode(body, &url)?;
            let link = next(&page);
            pages.push(page);
            match link {
                Some(link) if !link.is_empty() => url = link,
                _ => return Ok(pages),
            }
        }
        Err(protocol_error(
            &url,
            "more than 1000 pages; the server keeps sending nextLink",
        ))
    }

    /// DELETE a resource and wait until it is gone; one already gone is
    /// fine.
    pub async fn delete(&self, path: &str, api: &str) -> Result<(), ArmError> {
        let url = self.url(path, api);
        match self.operation(lro::Method::Delete, &url, None).await {
            Err(e) if e.kind == ErrorKind::NotFound && e.status == 404 => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn operation(
        &self,
        method: lro::Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, ArmError> {
        let http_method = match method {
            lro::Method::Put => reqwest::Method::PUT,
            lro::Method::Patch => reqwest::Method::PATCH,
            lro::Method::Post => reqwest::Method::POST,
            lro::Method::Delete => reqwest::Method::DELETE,
        };
        let first = self.send(http_method, url, body).await?;
        let (mut lro, mut step) = with_reply(&first, |r| Lro::start(method, url, r));
        let deadline = Instant::now() + self.lro_timeout;
        loop {
            match step {
                Step::Done(body) => return Ok(body),
                Step::Failed(e) => return Err(e),
                Step::Poll { url: poll, after } => {
                    let Some(state) = lro.as_mut() else {
                        return Err(protocol_error(url, "asked to poll with no operation"));
                    };
                    if Instant::now() + after > deadline {
                        return Err(ArmError {
                            status: 0,
                            code: "OperationTimedOut".into(),
                            message: format!(
                                "still running after {:?}; it may yet finish: check it in the \
                                 Azure portal, or run the command again later",
                                self.lro_timeout
                            ),
                            kind: ErrorKind::OperationFailed,
                            request: request(&format!("{method:?}").to_uppercase(), url),
                        });
                    }
                    tokio::time::sleep(after).await;
                    self.counts.polls.fetch_add(1, Ordering::Relaxed);
                    let reply = self.send(reqwest::Method::GET, &poll, None).await?;
                    step = with_reply(&reply, |r| state.next(r));
                }
            }
        }
    }

    /// One request, retried as [`retry`] says.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, ArmError> {
        let write = method != reqwest::Method::GET && method != reqwest::Method::HEAD;
        let mut attempt = 1;
        loop {
            if write {
                self.writes.wait().await;
                self.counts.writes.fetch_add(1, Ordering::Relaxed);
            } else {
                self.counts.reads.fetch_add(1, Ordering::Relaxed);
            }
            let token = self.credentials.token().await?;
            let mut req = self
                .http
                .request(method.clone(), url)
                .bearer_auth(token)
                .header("accept", "application/json");
            if let Some(b) = &body {
                req = req
                    .header("content-type", "application/json")
                    .body(b.clone());
            }
            let result = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(body) => Ok(Reply {
                            status,
                            headers,
                            body: body.to_vec(),
                        }),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let (outcome, retry_after) = match &result {
                Ok(r) => (
                    Outcome::Status(r.status),
                    retry::retry_after(
                        r.headers
                            .iter()
                            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
                    ),
                ),
                Err(_) => (Outcome::NoResponse, None),
            };
            let Some(wait) = retry::delay(attempt, outcome, retry_after, retry::jitter()) else {
                return result.map_err(|e| transport_error(url, &e));
            };
            if let Ok(r) = &result
                && !(r.status == 408 || r.status == 429 || r.status >= 500)
            {
                return result.map_err(|e| transport_error(url, &e));
            }
            tracing::debug!(%url, attempt, ?wait, "ARM request will be tried again");
            self.counts.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

fn with_reply<T>(reply: &Reply, f: impl FnOnce(&lro::Response) -> T) -> T {
    let lookup = |name: &str| reply.header(name);
    f(&lro::Response {
        status: reply.status,
        header: &lookup,
        body: &reply.body,
    })
}

fn decode<T: DeserializeOwned>(body: &[u8], url: &str) -> Result<T, ArmError> {
    serde_json::from_slice(body)
        .map_err(|e| protocol_error(url, &format!("the response is not what ARM sends: {e}")))
}

fn request(method: &str, url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    format!("{method} {}", path.split('?').next().unwrap_or(path))
}

fn protocol_error(url: &str, message: &str) -> ArmError {
    ArmError {
        status: 0,
        code: "UnexpectedResponse".into(),
        message: message.to_string(),
        kind: ErrorKind::Other,
        request: request("GET", url),
    }
}

fn transport_error(url: &str, e: &reqwest::Error) -> ArmError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    ArmError {
        status: 0,
        code: "ConnectionFailed".into(),
        message: format!("{what}: {e}; check the network (or AZLIN_ARM_ENDPOINT if it is set)"),
        kind: ErrorKind::Other,
        request: request("", url).trim().to_string(),
    }
}

/// ARM's own write throttling is a token bucket per subscription and
/// region (a burst of 200, refilled at 10 a second); azlin keeps under it
/// the same way, so a pool's burst goes out at once and a long run is
/// paced.
struct WriteCap {
    per_second: f64,
    burst: f64,
    bucket: Mutex<(f64, tokio::time::Instant)>,
}

impl WriteCap {
    fn new(per_second: f64) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            10.0
        };
        let burst = 200.0;
        Self {
            per_second,
            burst,
            bucket: Mutex::new((burst, tokio::time::Instant::now())),
        }
    }

    async fn wait(&self) {
        let wait = {
            let mut b = self.bucket.lock().await;
            let now = tokio::time::Instant::now();
            let refilled = (b.0 + (now - b.1).as_secs_f64() * self.per_second).min(self.burst);
            // Take a token now; a negative balance is the wait.
            *b = (refilled - 1.0, now);
            if b.0 >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-b.0 / self.per_second)
            }
        };
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn writes_burst_then_are_paced() {
        let cap = WriteCap::new(10.0);
        let start = tokio::time::Instant::now();
        for _ in 0..200 {
            cap.wait().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(10),
            "the burst goes at once"
        );
        for _ in 0..10 {
            cap.wait().await;
        }
        let paced = start.elapsed();
        assert!(
            paced >= Duration::from_millis(900) && paced <= Duration::from_millis(1100),
            "{paced:?}"
        );
    }
}

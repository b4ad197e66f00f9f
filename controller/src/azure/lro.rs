//! Following ARM long-running operations, as plain state: [`Lro::start`]
//! reads the first response, [`Lro::next`] each poll's, and each says what
//! to do next ([`Step`]). No I/O here; [`super::client`] does the requests
//! and the waiting.
//!
//! The rules (ARM's async operation contract):
//! - `Azure-AsyncOperation` wins: poll it until its `status` is
//!   `Succeeded` (then a final GET: the resource for PUT/PATCH, the
//!   `Location` for POST when there is one), `Failed` or `Canceled`.
//! - Else `Location`: poll it while it answers 202; any 200/201/204 ends it
//!   with that body.
//! - Else a PUT/PATCH answered 200/201 whose body's `provisioningState` is
//!   not terminal: poll the resource itself.
//! - Waits honour `Retry-After`; without one, 1 s.

use std::time::Duration;

use super::{
    error::{ArmError, ErrorDetail, ErrorKind},
    models::OperationStatus,
};

/// Poll interval when the server gives no `Retry-After`.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Put,
    Patch,
    Post,
    Delete,
}

/// What the caller does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Wait, then GET this URL and pass the response to [`Lro::next`].
    Poll {
        url: String,
        after: Duration,
    },
    /// The operation ended; this is the result's body (may be empty).
    Done(Vec<u8>),
    Failed(ArmError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    AsyncOperation(String),
    Location(String),
    Resource,
    /// The final GET after an async operation succeeded.
    Final,
}

/// One long-running operation in flight.
#[derive(Debug, Clone)]
pub struct Lro {
    method: Method,
    resource_url: String,
    location: Option<String>,
    stage: Stage,
    request: String,
}

/// A response, as the state machine needs it.
pub struct Response<'a> {
    pub status: u16,
    /// Header lookup, case-insensitive.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    pub body: &'a [u8],
}

impl Lro {
    /// The first response of `method` on `resource_url`: either the
    /// operation is already over, or the first poll.
    pub fn start(method: Method, resource_url: &str, r: &Response) -> (Option<Self>, Step) {
        let request = format!(
            "{} {}",
            format!("{method:?}").to_uppercase(),
            path_of(resource_url)
        );
        if !(200..300).contains(&r.status) {
            return (
                None,
                Step::Failed(ArmError::from_response(r.status, r.body, request)),
            );
        }
        let async_op = (r.header)("azure-asyncoperation");
        let location = (r.header)("location");
        let after = retry_after(r.header);
        let mut lro = Self {
            method,
            resource_url: resource_url.to_string(),
            location: location.clone(),
            stage: Stage::Resource,
            request,
        };
        if let Some(url) = async_op {
            lro.stage = Stage::AsyncOperation(url.clone());
            return (Some(lro), Step::Poll { url, after });
        }
        if let Some(url) = location.filter(|_| r.status == 202) {
            lro.stage = Stage::Location(url.clone());
            return (Some(lro), Step::Poll { url, after });
        }
        let pending = matches!(method, Method::Put | Method::Patch)
            && (r.status == 201 || r.status == 200)
            && provisioning_state(r.body).is_some_and(|s| !is_terminal(&s));
        if pending {
            let url = lro.resource_url.clone();
            return (Some(lro), Step::Poll { url, after });
        }
        (None, Step::Done(r.body.to_vec()))
    }

    /// The response to the poll [`Step::Poll`] asked for.
    pub fn next(&mut self, r: &Response) -> Step {
        let after = retry_after(r.header);
        match self.stage.clone() {
            Stage::AsyncOperation(url) => {
                if !(200..300).contains(&r.status) {
                    return self.failed(r);
                }
                let status = match serde_json::from_slice::<OperationStatus>(r.body) {
                    Ok(s) => s,
                    Err(e) => {
                        return Step::Failed(self.error(
                            r.status,
                            "BadOperationStatus",
                            format!("the operation status is not what ARM sends: {e}"),
                        ));
                    }
                };
                match status.status.to_ascii_lowercase().as_str() {
                    "succeeded" => self.after_success(),
                    "failed" | "canceled" | "cancelled" => {
                        let detail = status.error.unwrap_or_else(|| ErrorDetail {
                            code: status.status.clone(),
                            message: format!("the operation ended {}", status.status),
                            ..ErrorDetail::default()
                        });
                        let mut e = ArmError::from_detail(0, detail, self.request.clone());
                        if e.kind == ErrorKind::Other {
                            e.kind = ErrorKind::OperationFailed;
                        }
                        Step::Failed(e)
                    }
                    _ => Step::Poll { url, after },
                }
            }
            Stage::Location(url) => match r.status {
                202 => Step::Poll {
                    url: (r.header)("location").unwrap_or(url),
                    after,
                },
                200..=299 => Step::Done(r.body.to_vec()),
                _ => self.failed(r),
            },
            Stage::Resource => {
                if !(200..300).contains(&r.status) {
                    return self.failed(r);
                }
                match provisioning_state(r.body) {
                    Some(s)
                        if s.eq_ignore_ascii_case("failed")
                            || s.eq_ignore_ascii_case("canceled") =>
                    {
                        Step::Failed(self.error(
                            0,
                            "ProvisioningFailed",
                            format!("the resource's provisioning state is {s}"),
                        ))
                    }
                    Some(s) if !is_terminal(&s) => Step::Poll {
                        url: self.resource_url.clone(),
                        after,
                    },
                    _ => Step::Done(r.body.to_vec()),
                }
            }
            Stage::Final => {
                if (200..300).contains(&r.status) {
                    Step::Done(r.body.to_vec())
                } else {
                    self.failed(r)
                }
            }
        }
    }

    fn after_success(&mut self) -> Step {
        let url = match self.method {
            Method::Put | Method::Patch => Some(self.resource_url.clone()),
            Method::Post => self.location.clone(),
            Method::Delete => None,
        };
        match url {
            Some(url) => {
                self.stage = Stage::Final;
                Step::Poll {
                    url,
                    after: Duration::ZERO,
                }
            }
            None => Step::Done(Vec::new()),
        }
    }

    fn failed(&self, r: &Response) -> Step {
        Step::Failed(ArmError::from_response(
            r.status,
            r.body,
            self.request.clone(),
        ))
    }

    fn error(&self, status: u16, code: &str, message: String) -> ArmError {
        ArmError {
            status,
            code: code.into(),
            message,
            kind: ErrorKind::OperationFailed,
            request: self.request.clone(),
        }
    }
}

/// `Retry-After` in seconds (an HTTP date is taken as the default).
pub fn retry_after(header: &dyn Fn(&str) -> Option<String>) -> Duration {
    header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(600)))
        .unwrap_or(DEFAULT_POLL)
}

fn provisioning_state(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.pointer("/properties/provisioningState")?
        .as_str()
        .map(String::from)
}

fn is_terminal(state: &str) -> bool {
    ["succeeded", "failed", "canceled"]
        .iter()
        .any(|t| state.eq_ignore_ascii_case(t))
}

fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split('?').next().unwrap_or(path)
}

#[cfg(test)]
mod tests;

//! The webhook channel: POST the event's JSON body (see [`super::record`])
//! to the configured URL. Connection failures, timeouts, 408, 429 and 5xx
//! are retried with exponential backoff, honouring `Retry-After`; any other
//! answer is final. Events go out one at a time, in order.

use std::time::Duration;

use anyhow::{Result, bail};

use super::book::Webhook;

/// First retry delay; doubles each time up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// The longest `Retry-After` honoured; a server asking for more is
/// asking for the event to be dropped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

pub struct Sender {
    client: reqwest::Client,
    hook: Webhook,
}

/// What one attempt's outcome means.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    Retry { after: Option<Duration> },
    Failed(String),
}

/// Judge an HTTP status and its `Retry-After` header (seconds).
pub fn judge(status: u16, retry_after: Option<&str>) -> Verdict {
    let after = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
    match status {
        200..=299 => Verdict::Delivered,
        408 | 429 | 500..=599 => Verdict::Retry { after },
        other => Verdict::Failed(format!("the webhook answered HTTP {other}")),
    }
}

/// The delay before retry number `attempt` (0-based).
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exp = FIRST_DELAY
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_DELAY);
    retry_after.unwrap_or(exp)
}

impl Sender {
    pub fn new(hook: Webhook) -> Result<Self> {
        azlin_protocol::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(hook.timeout_ms))
            .user_agent(concat!("azlin/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, hook })
    }

    /// The URL as logs may show it ([`Webhook::shown_url`]).
    pub fn shown_url(&self) -> String {
        self.hook.shown_url()
    }

    /// Deliver one body, retrying as the module docs say.
    pub async fn post(&self, body: &serde_json::Value) -> Result<()> {
        let mut attempt = 0;
        loop {
            let verdict = match self.client.post(&self.hook.url).json(body).send().await {
                Ok(resp) => judge(
                    resp.status().as_u16(),
                    resp.headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()),
                ),
                Err(e) => Verdict::Retry { after: None }.noting(&e),
            };
            match verdict {
                Verdict::Delivered => return Ok(()),
                Verdict::Failed(why) => bail!("{why}; not retried"),
                Verdict::Retry { after } if attempt < self.hook.retries => {
                    tokio::time::sleep(backoff(attempt, after)).await;
                    attempt += 1;
                }
                Verdict::Retry { .. } => {
                    bail!("gave up after {} attempts", attempt + 1)
                }
            }
        }
    }
}

/// `text` with anything that looks like a URL masked.
fn masked_url_in(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.contains("://") {
                // Punctuation after the URL is not part of it.
                let core = w.trim_end_matches([')', ']', ',', '.', ';', ':']);
                format!("{}{}", super::book::masked_url(core), &w[core.len()..])
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Verdict {
    fn noting(self, e: &reqwest::Error) -> Self {
        // Not the URL: it may hold a secret (see `Webhook::shown_url`).
        tracing::debug!("webhook attempt failed: {}", masked_url_in(&e.to_string()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_an_error_are_masked() {
        assert_eq!(
            masked_url_in("error sending request for url (https://u:pw@h.example/x?k=v)"),
            "error sending request for url (https://u:***@h.example/x?k=***)"
        );
    }

    #[test]
    fn statuses_are_judged_as_a_webhook_sender_should() {
        assert_eq!(judge(204, None), Verdict::Delivered);
        assert_eq!(judge(503, None), Verdict::Retry { after: None });
        assert_eq!(
            judge(429, Some("3")),
            Verdict::Retry {
                after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(
            judge(429, Some("99999")),
            Verdict::Retry {
                after: Some(MAX_RETRY_AFTER)
            }
        );
        assert!(matches!(judge(404, None), Verdict::Failed(_)));
        assert_eq!(backoff(0, None), FIRST_DELAY);
        assert_eq!(backoff(3, None), FIRST_DELAY * 8);
        assert_eq!(backoff(30, None), MAX_DELAY);
        assert_eq!(
            backoff(0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }
}

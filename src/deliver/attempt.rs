//! One delivery attempt: a signed POST of the stored body to one target,
//! classified into a small fixed set of outcomes.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{HeaderValue, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::Client;

use super::policy::parse_retry_after;
use crate::config::Target;
use crate::ids::EventId;
use crate::redact::{error_chain, mask, mask_url};
use crate::sign::signature_header;

/// How much of a receiver's response is kept with the attempt.
const RESPONSE_PREVIEW_BYTES: usize = 1024;

/// The outcome codes used in logs and in the attempt history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Ok,
    Timeout,
    Connect,
    Tls,
    Redirect,
    Status,
}

#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    /// Masked description of what went wrong; `None` on success.
    pub error: Option<String>,
    pub response_body: Option<String>,
    /// The receiver's `Retry-After`, as a delay from the response.
    pub retry_after: Option<Duration>,
    pub duration: Duration,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Ok => "ok",
            AttemptOutcome::Timeout => "timeout",
            AttemptOutcome::Connect => "connect",
            AttemptOutcome::Tls => "tls",
            AttemptOutcome::Redirect => "redirect",
            AttemptOutcome::Status => "status",
        }
    }
}

/// Builds the HTTP client for deliveries, which never follows redirects.
pub fn delivery_client() -> Client {
    Client::builder()
        .user_agent(concat!("pollhook/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the TLS backend is compiled in")
}

/// Sends `body` to `target`, signed with a timestamp taken now.
pub async fn send(
    client: &Client,
    target: &Target,
    event_id: &EventId,
    body: &[u8],
    timeout: Duration,
) -> AttemptResult {
    let timestamp = Utc::now().timestamp();
    let mut request = client
        .post(&target.url)
        .timeout(timeout)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("webhook-id", event_id.as_str())
        .header("webhook-timestamp", timestamp.to_string());
    if !target.secrets.is_empty() {
        request = request.header(
            "webhook-signature",
            signature_header(&target.secrets, event_id.as_str(), timestamp, body),
        );
    }
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }

    let started = Instant::now();
    let response = request.body(body.to_vec()).send().await;
    let mut result = match response {
        Ok(response) => classify_response(response).await,
        Err(error) => classify_error(&error, timeout),
    };
    result.duration = started.elapsed();
    result
}

async fn classify_response(response: reqwest::Response) -> AttemptResult {
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(mask_url);
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, Utc::now()));
    let preview = read_preview(response).await;

    let (outcome, error) = if status.is_success() {
        (AttemptOutcome::Ok, None)
    } else if status.is_redirection() {
        let location = location.unwrap_or_else(|| "(no location header)".to_owned());
        let error = format!("receiver answered HTTP {status} redirecting to {location}: redirects are not followed, put that URL in the target's url");
        (AttemptOutcome::Redirect, Some(error))
    } else {
        (
            AttemptOutcome::Status,
            Some(format!("receiver answered HTTP {status}")),
        )
    };
    AttemptResult {
        outcome,
        status: Some(status.as_u16()),
        error,
        response_body: preview,
        retry_after,
        duration: Duration::ZERO,
    }
}

fn classify_error(error: &reqwest::Error, timeout: Duration) -> AttemptResult {
    let detail = error_chain(error);
    let outcome = if error.is_timeout() {
        AttemptOutcome::Timeout
    } else if is_tls_failure(&detail) {
        AttemptOutcome::Tls
    } else {
        AttemptOutcome::Connect
    };
    let error = match outcome {
        AttemptOutcome::Timeout => {
            format!("timed out after {}", humantime::format_duration(timeout))
        }
        _ => detail,
    };
    AttemptResult {
        outcome,
        status: None,
        error: Some(error),
        response_body: None,
        retry_after: None,
        duration: Duration::ZERO,
    }
}

// NOTE: reqwest does not expose TLS failures as a kind of its own, so they are
// recognised by the words rustls uses in its messages. A TLS failure worded
// otherwise is reported as `connect`.
fn is_tls_failure(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    ["certificate", "tls", "handshake"]
        .iter()
        .any(|word| lower.contains(word))
}

async fn read_preview(mut response: reqwest::Response) -> Option<String> {
    let mut body = Vec::new();
    while body.len() < RESPONSE_PREVIEW_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    if body.is_empty() {
        return None;
    }
    body.truncate(RESPONSE_PREVIEW_BYTES);
    Some(mask(&String::from_utf8_lossy(&body)).into_owned())
}

//! `pollhook listen`: a local webhook receiver for trying bridges out. It prints
//! each request and whether its signature verifies. It must not store, forward or
//! act on what it receives.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Local, Utc};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::sign::{check_timestamp, verify, VerifyError, WebhookSecret};

/// Destination of the printed requests, usually standard output. Each request is
/// written as one block while the lock is held, so blocks never interleave.
pub type OutputSink = Arc<Mutex<dyn Write + Send>>;

/// Maximum distance of `webhook-timestamp` from the receiver's clock, in seconds.
/// The Go and Python reference libraries of Standard Webhooks use the same.
pub const TIMESTAMP_TOLERANCE_SECS: u64 = 5 * 60;

/// Largest request body accepted, in bytes. An event carries whole items taken
/// from a source response, which may be up to 32 MiB by default, so axum's
/// default limit of 2 MB would reject legitimate events.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Result of checking one request's signature.
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    Valid,
    Invalid(VerifyError),
    NotChecked,
}

struct Receiver {
    secrets: Vec<WebhookSecret>,
    out: OutputSink,
}

/// Receives webhooks on `listener` until `shutdown` is cancelled, then finishes
/// the requests in progress and returns.
///
/// Every POST, on any path, is printed to `out`. The response is 200 when its
/// signature is valid or not checked (`secrets` is empty), and 401 when it is
/// invalid, so that the sender retries as it would against a real receiver.
/// Other methods get 405.
pub async fn serve(
    listener: TcpListener,
    secrets: Vec<WebhookSecret>,
    out: OutputSink,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let address = listener.local_addr()?;
    let checking = if secrets.is_empty() {
        "signatures not checked (no --secret)".to_string()
    } else {
        format!("checking signatures with {} secret(s)", secrets.len())
    };
    write_block(
        &out,
        &format!("listening on http://{address}, {checking}\n\n"),
    );

    let receiver = Arc::new(Receiver { secrets, out });
    let app = Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(receiver);

    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Checks a request's Standard Webhooks headers against `secrets`, and its
/// timestamp against `now_unix` with [`TIMESTAMP_TOLERANCE_SECS`].
pub fn check_request(
    secrets: &[WebhookSecret],
    headers: &HeaderMap,
    body: &[u8],
    now_unix: i64,
) -> SignatureCheck {
    if secrets.is_empty() {
        return SignatureCheck::NotChecked;
    }

    let webhook_id = header_text(headers, "webhook-id");
    let timestamp = header_text(headers, "webhook-timestamp");
    let signature = header_text(headers, "webhook-signature");
    let result = verify(secrets, &webhook_id, &timestamp, body, &signature)
        .and_then(|()| check_timestamp(&timestamp, now_unix, TIMESTAMP_TOLERANCE_SECS));

    match result {
        Ok(_) => SignatureCheck::Valid,
        Err(error) => SignatureCheck::Invalid(error),
    }
}

/// Formats one received request as the block that `listen` prints: time, path,
/// `webhook-id`, event type, signature result, then the body, pretty-printed
/// when it is JSON.
pub fn format_request(
    received_at: DateTime<Local>,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    check: &SignatureCheck,
) -> String {
    let json = serde_json::from_slice::<serde_json::Value>(body).ok();
    let event_type = match json.as_ref().and_then(|value| value.get("type")) {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => "(missing)".to_string(),
    };
    let webhook_id = match header_text(headers, "webhook-id") {
        id if id.is_empty() => Cow::Borrowed("(missing)"),
        id => id,
    };

    let mut block = format!(
        "=== webhook received {}\npath: {path}\nwebhook-id: {webhook_id}\ntype: {event_type}\n",
        received_at.format("%Y-%m-%d %H:%M:%S %:z"),
    );
    block.push_str(&format!("signature: {}\n", describe_check(check)));
    block.push_str(&format_body(json.as_ref(), body));
    block.push_str("\n\n");
    block
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        let message = "pollhook listen accepts only POST requests\n";
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            message,
        )
            .into_response();
    }

    let check = check_request(&receiver.secrets, &headers, &body, Utc::now().timestamp());
    let path = uri
        .path_and_query()
        .map_or(uri.path(), |path| path.as_str());
    let block = format_request(Local::now(), path, &headers, &body, &check);
    write_block(&receiver.out, &block);

    match check {
        SignatureCheck::Invalid(error) => (
            StatusCode::UNAUTHORIZED,
            format!("invalid signature: {error}\n"),
        )
            .into_response(),
        SignatureCheck::Valid | SignatureCheck::NotChecked => {
            (StatusCode::OK, "ok\n").into_response()
        }
    }
}

fn describe_check(check: &SignatureCheck) -> String {
    match check {
        SignatureCheck::Valid => "valid".to_string(),
        SignatureCheck::Invalid(error) => format!("INVALID ({error})"),
        SignatureCheck::NotChecked => "not checked (no --secret)".to_string(),
    }
}

fn format_body(json: Option<&serde_json::Value>, body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_string();
    }
    match json.map(serde_json::to_string_pretty) {
        Some(Ok(pretty)) => pretty,
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

/// Returns a header's value, or an empty string when it is absent. Bytes that are
/// not UTF-8 are replaced, so that verification reports the value as malformed.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Cow<'a, str> {
    headers.get(name).map_or(Cow::Borrowed(""), |value| {
        String::from_utf8_lossy(value.as_bytes())
    })
}

fn write_block(out: &OutputSink, block: &str) {
    // A panic while printing leaves the buffer usable, so a poisoned lock is
    // taken over rather than stopping every later request.
    let mut writer = out.lock().unwrap_or_else(PoisonError::into_inner);
    let result = writer
        .write_all(block.as_bytes())
        .and_then(|()| writer.flush());
    if let Err(error) = result {
        tracing::warn!(%error, "failed to write a received webhook to the output");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::signature_header;
    use tokio::task::JoinHandle;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const OTHER_SECRET: &str = "whsec_3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=";
    const BODY: &str = r#"{"type":"item.updated","timestamp":"2026-12-04T19:30:00Z","data":{"bridge":"orders","id":"A-1001","after":{"status":"paid"}}}"#;

    struct RunningListener {
        url: String,
        output: Arc<Mutex<Vec<u8>>>,
        shutdown: CancellationToken,
        task: JoinHandle<io::Result<()>>,
    }

    impl RunningListener {
        async fn start(secrets: &[&str]) -> Self {
            let secrets = secrets
                .iter()
                .map(|text| WebhookSecret::parse(text).expect("test secret is valid"))
                .collect();
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
            let url = format!("http://{}", listener.local_addr().expect("local address"));
            let output = Arc::new(Mutex::new(Vec::new()));
            let sink: OutputSink = output.clone();
            let shutdown = CancellationToken::new();
            let task = tokio::spawn(serve(listener, secrets, sink, shutdown.clone()));
            Self {
                url,
                output,
                shutdown,
                task,
            }
        }

        fn output(&self) -> String {
            let bytes = self.output.lock().expect("output lock").clone();
            String::from_utf8(bytes).expect("output is UTF-8")
        }

        async fn stop(self) -> String {
            self.shutdown.cancel();
            let result = self.task.await.expect("serve task did not panic");
            assert!(result.is_ok(), "serve returned {result:?}");
            String::from_utf8(self.output.lock().expect("output lock").clone())
                .expect("output is UTF-8")
        }
    }

    /// Posts `body` to `url` with Standard Webhooks headers. `signature` of `None`
    /// leaves the signature header out.
    async fn post(
        url: &str,
        timestamp: i64,
        body: &str,
        signature: Option<String>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", "msg_test_1")
            .header("webhook-timestamp", timestamp.to_string())
            .body(body.to_string());
        if let Some(signature) = signature {
            request = request.header("webhook-signature", signature);
        }
        request.send().await.expect("request to the listener")
    }

    fn signed_by(secret: &str, timestamp: i64, body: &str) -> String {
        let secret = WebhookSecret::parse(secret).expect("test secret is valid");
        signature_header(&[secret], "msg_test_1", timestamp, body.as_bytes())
    }

    #[tokio::test]
    async fn signed_request_is_accepted_and_printed() {
        let listener = RunningListener::start(&[SECRET]).await;
        let now = Utc::now().timestamp();

        let url = format!("{}/hooks/orders", listener.url);
        let response = post(&url, now, BODY, Some(signed_by(SECRET, now, BODY))).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);

        let output = listener.stop().await;
        assert!(
            output.contains("checking signatures with 1 secret(s)"),
            "{output}"
        );
        assert!(output.contains("=== webhook received "), "{output}");
        assert!(output.contains("path: /hooks/orders\n"), "{output}");
        assert!(output.contains("webhook-id: msg_test_1\n"), "{output}");
        assert!(output.contains("type: item.updated\n"), "{output}");
        assert!(output.contains("signature: valid\n"), "{output}");
        assert!(
            output.contains("\n  \"data\": {\n    \"bridge\": \"orders\",\n"),
            "{output}"
        );
    }

    #[tokio::test]
    async fn rotated_secret_is_accepted() {
        let listener = RunningListener::start(&[OTHER_SECRET, SECRET]).await;
        let now = Utc::now().timestamp();

        let response = post(&listener.url, now, BODY, Some(signed_by(SECRET, now, BODY))).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);

        let output = listener.stop().await;
        assert!(output.contains("signature: valid\n"), "{output}");
    }

    #[tokio::test]
    async fn wrong_signature_gets_401() {
        let listener = RunningListener::start(&[SECRET]).await;
        let now = Utc::now().timestamp();

        let signature = signed_by(OTHER_SECRET, now, BODY);
        let response = post(&listener.url, now, BODY, Some(signature)).await;
        assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
        let response_text = response.text().await.expect("response body");
        assert!(
            response_text.starts_with("invalid signature: no signature matches"),
            "{response_text}"
        );

        let output = listener.stop().await;
        assert!(
            output.contains("signature: INVALID (no signature matches"),
            "{output}"
        );
        assert!(output.contains("type: item.updated\n"), "{output}");
    }

    #[tokio::test]
    async fn missing_signature_gets_401() {
        let listener = RunningListener::start(&[SECRET]).await;

        let response = post(&listener.url, Utc::now().timestamp(), BODY, None).await;
        assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);

        let output = listener.stop().await;
        assert!(
            output.contains("signature: INVALID (webhook-signature header is missing or empty)"),
            "{output}"
        );
    }

    #[tokio::test]
    async fn stale_timestamp_gets_401() {
        let listener = RunningListener::start(&[SECRET]).await;
        let stale = Utc::now().timestamp() - 3600;

        let response = post(
            &listener.url,
            stale,
            BODY,
            Some(signed_by(SECRET, stale, BODY)),
        )
        .await;
        assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);

        let output = listener.stop().await;
        assert!(
            output.contains("signature: INVALID (webhook-timestamp "),
            "{output}"
        );
        assert!(output.contains("more than the 300 s tolerance"), "{output}");
    }

    #[tokio::test]
    async fn without_secret_accepts_unchecked() {
        let listener = RunningListener::start(&[]).await;

        let response = post(&listener.url, 0, BODY, Some("v1,bm9wZQ==".to_string())).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);

        let output = listener.stop().await;
        assert!(
            output.contains("signatures not checked (no --secret)"),
            "{output}"
        );
        assert!(
            output.contains("signature: not checked (no --secret)\n"),
            "{output}"
        );
    }

    #[tokio::test]
    async fn non_json_body_is_printed_raw() {
        let listener = RunningListener::start(&[]).await;

        let response = post(&listener.url, 0, "plain text, not JSON", None).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);

        let output = listener.stop().await;
        assert!(output.contains("type: (missing)\n"), "{output}");
        assert!(output.contains("\nplain text, not JSON\n"), "{output}");
    }

    #[tokio::test]
    async fn get_request_gets_405() {
        let listener = RunningListener::start(&[]).await;

        let response = reqwest::get(&listener.url)
            .await
            .expect("request to the listener");
        assert_eq!(response.status(), reqwest::StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            response
                .headers()
                .get("allow")
                .map(|value| value.as_bytes()),
            Some(&b"POST"[..])
        );

        let output = listener.stop().await;
        assert!(!output.contains("=== webhook received"), "{output}");
    }

    #[tokio::test]
    async fn output_is_written_before_response() {
        let listener = RunningListener::start(&[]).await;

        post(&listener.url, 0, BODY, None).await;
        assert!(listener.output().contains("type: item.updated\n"));

        listener.stop().await;
    }

    #[test]
    fn format_request_marks_missing_id() {
        let block = format_request(
            Local::now(),
            "/",
            &HeaderMap::new(),
            b"",
            &SignatureCheck::NotChecked,
        );
        assert!(block.contains("webhook-id: (missing)\n"), "{block}");
        assert!(block.contains("type: (missing)\n"), "{block}");
        assert!(block.contains("(empty body)"), "{block}");
    }
}

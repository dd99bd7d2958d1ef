//! One HTTP request to a source, with the body read under a size limit.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use thiserror::Error;

use super::decode::utf8_body;
use crate::config::SourceConfig;
use crate::redact::{error_chain, mask, mask_url};

/// How many redirects a source request follows.
const MAX_REDIRECTS: usize = 10;
/// How much of a body an error message shows.
const BODY_PREVIEW_CHARS: usize = 80;

#[derive(Debug, Error)]
pub enum FetchError {
    #[error("{request} timed out after {}", humantime::format_duration(*.after))]
    Timeout { request: String, after: Duration },
    #[error("{request} failed: {detail}")]
    Request { request: String, detail: String },
    #[error("{request} returned HTTP {status} (body starts with {body_start})")]
    Status {
        request: String,
        status: StatusCode,
        body_start: String,
    },
    #[error("{request} failed while reading the body: {detail}")]
    Body { request: String, detail: String },
    #[error("{request} returned a body larger than source.max_body_size ({limit} bytes): raise the limit or select less data")]
    TooLarge { request: String, limit: u64 },
    #[error("{request} returned invalid JSON ({detail} at line {line} column {column}): content type {content_type}, body starts with {body_start}")]
    Json {
        request: String,
        detail: String,
        line: usize,
        column: usize,
        content_type: String,
        body_start: String,
    },
}

/// Builds the HTTP client for sources: rustls, redirects followed up to ten.
pub fn source_client() -> Client {
    Client::builder()
        .user_agent(concat!("pollhook/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .build()
        .expect("the TLS backend is compiled in")
}

/// Requests the source and parses its body as JSON, whatever the content type.
pub async fn fetch(client: &Client, source: &SourceConfig) -> Result<Value, FetchError> {
    let request = format!("{} {}", source.method, mask_url(&source.url));
    let mut builder = client
        .request(source.method.clone(), &source.url)
        .timeout(source.timeout);
    for (name, value) in &source.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = &source.body {
        builder = builder.body(body.clone());
    }

    let response = builder
        .send()
        .await
        .map_err(|error| request_error(&request, source.timeout, error))?;
    let status = response.status();
    let content_type = content_type(&response);
    let body = read_body(response, source, &request).await?;

    if !status.is_success() {
        return Err(FetchError::Status {
            request,
            status,
            body_start: preview(&body),
        });
    }
    parse_json(&body, &request, content_type)
}

async fn read_body(
    mut response: Response,
    source: &SourceConfig,
    request: &str,
) -> Result<Vec<u8>, FetchError> {
    let limit = source.max_body_size;
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(FetchError::TooLarge {
            request: request.to_owned(),
            limit,
        });
    }
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| body_error(request, source.timeout, error))?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(FetchError::TooLarge {
                request: request.to_owned(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
}

fn parse_json(body: &[u8], request: &str, content_type: String) -> Result<Value, FetchError> {
    let text = utf8_body(body, &content_type);
    serde_json::from_slice(&text).map_err(|error| {
        let message = error.to_string();
        let detail = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        FetchError::Json {
            request: request.to_owned(),
            detail,
            line: error.line(),
            column: error.column(),
            content_type,
            body_start: preview(&text),
        }
    })
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map_or_else(|| "(none)".to_owned(), str::to_owned)
}

/// Quotes the start of a body for error messages.
fn preview(body: &[u8]) -> String {
    if body.is_empty() {
        return "nothing (empty body)".to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let mut start: String = text.chars().take(BODY_PREVIEW_CHARS).collect();
    if text.chars().count() > BODY_PREVIEW_CHARS {
        start.push('…');
    }
    format!("{:?}", mask(&start))
}

fn request_error(request: &str, timeout: Duration, error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        return FetchError::Timeout {
            request: request.to_owned(),
            after: timeout,
        };
    }
    FetchError::Request {
        request: request.to_owned(),
        detail: error_chain(&error),
    }
}

fn body_error(request: &str, timeout: Duration, error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        return FetchError::Timeout {
            request: request.to_owned(),
            after: timeout,
        };
    }
    FetchError::Body {
        request: request.to_owned(),
        detail: error_chain(&error),
    }
}

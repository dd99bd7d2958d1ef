//! One HTTP request to a source, with the body read under a size limit, and
//! the parsing of a body by the source's format.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, CONTENT_TYPE, LINK};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use thiserror::Error;

use super::auth::AuthError;
use super::decode::{utf8_body, xml_text};
use super::feed::feed_to_json;
use super::pagination::PaginationError;
use super::xml::xml_to_json;
use crate::config::SourceConfig;
use crate::redact::{error_chain, mask};

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
    #[error("{request} returned HTTP {status} and asked to wait: the bridge's next request waits until {until} (body starts with {body_start})")]
    RateLimited {
        request: String,
        status: StatusCode,
        until: DateTime<Utc>,
        body_start: String,
    },
    #[error("{request} returned 304 Not Modified to a request without validators: the server must answer a plain request with the document, or set source.conditional = false")]
    UnexpectedNotModified { request: String },
    #[error("{request} failed while reading the body: {detail}")]
    Body { request: String, detail: String },
    #[error("{request} returned a body that does not match its Content-Encoding header (gzip, br or deflate): {detail}")]
    ContentEncoding { request: String, detail: String },
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
    #[error("{request} returned invalid XML ({detail}): content type {content_type}, body starts with {body_start}")]
    Xml {
        request: String,
        detail: String,
        content_type: String,
        body_start: String,
    },
    #[error("{request} returned no feed that can be read as RSS, Atom or JSON Feed ({detail}): content type {content_type}, body starts with {body_start}")]
    Feed {
        request: String,
        detail: String,
        content_type: String,
        body_start: String,
    },
    #[error("{request} returned a body that is not valid {encoding}, the encoding it declares (UTF-8 when it declares none): correct the server's charset or the document's encoding declaration")]
    Charset {
        request: String,
        encoding: &'static str,
    },
    #[error("{request}: {error}")]
    Pagination {
        request: String,
        error: PaginationError,
    },
    #[error("{request} needs another page, but the source's rate limit allows the next request only at {until}: the poll stops and the bridge waits until then")]
    RateLimitedBetweenPages {
        request: String,
        until: DateTime<Utc>,
    },
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl FetchError {
    /// Returns the time before which the source asked not to be requested
    /// again, when the error came from a rate limit.
    pub fn postpone_until(&self) -> Option<DateTime<Utc>> {
        match self {
            FetchError::RateLimited { until, .. }
            | FetchError::RateLimitedBetweenPages { until, .. } => Some(*until),
            _ => None,
        }
    }
}

/// The body format of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    /// RSS, Atom or JSON Feed, mapped by `feed.rs`.
    Feed,
    /// Any XML document, mapped by `xml.rs`.
    Xml,
}

/// A response whose body was read in full.
#[derive(Debug)]
pub struct RawResponse {
    /// The method and masked URL, for messages.
    pub request: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn content_type(&self) -> String {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map_or_else(|| "(none)".to_owned(), str::to_owned)
    }

    /// Returns the values of every `Link` header.
    pub fn link_headers(&self) -> Vec<String> {
        self.headers
            .get_all(LINK)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(str::to_owned)
            .collect()
    }

    /// Returns the error for a response whose status is not a success.
    pub fn status_error(&self, postpone_until: Option<DateTime<Utc>>) -> FetchError {
        let body_start = preview(&self.body);
        match postpone_until {
            Some(until)
                if matches!(
                    self.status,
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                ) =>
            {
                FetchError::RateLimited {
                    request: self.request.clone(),
                    status: self.status,
                    until,
                    body_start,
                }
            }
            _ => FetchError::Status {
                request: self.request.clone(),
                status: self.status,
                body_start,
            },
        }
    }

    /// Parses the body by `format`.
    pub fn parse(&self, format: Format) -> Result<Value, FetchError> {
        let content_type = self.content_type();
        match format {
            Format::Json => parse_json(&self.body, &self.request, content_type),
            Format::Xml => {
                let text = self.xml_text(&content_type)?;
                xml_to_json(&text).map_err(|error| FetchError::Xml {
                    request: self.request.clone(),
                    detail: error.to_string(),
                    content_type,
                    body_start: preview(text.as_bytes()),
                })
            }
            Format::Feed => {
                let text = if is_json_object(&self.body) {
                    utf8_body(&self.body, &content_type).into_owned()
                } else {
                    self.xml_text(&content_type)?.into_bytes()
                };
                feed_to_json(&text).map_err(|error| FetchError::Feed {
                    request: self.request.clone(),
                    detail: error.to_string(),
                    content_type,
                    body_start: preview(&text),
                })
            }
        }
    }

    fn xml_text(&self, content_type: &str) -> Result<String, FetchError> {
        xml_text(&self.body, content_type).map_err(|encoding| FetchError::Charset {
            request: self.request.clone(),
            encoding,
        })
    }
}

/// Tells a JSON Feed from an XML feed: true when the first character after
/// an optional UTF-8 byte order mark and whitespace is `{`.
fn is_json_object(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{')
}

/// Builds the HTTP client for sources: rustls, redirects followed up to ten.
pub fn source_client() -> Client {
    Client::builder()
        .user_agent(concat!("pollhook/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        // The Referer header would carry the query string, which may hold a key.
        .referer(false)
        .build()
        .expect("the TLS backend is compiled in")
}

/// Returns the client for sources that authenticate with a custom header.
///
/// reqwest drops `Authorization` and cookies on a redirect to another host,
/// but not other headers, so this client follows redirects only within one
/// host and port, and fails on any other.
pub fn same_host_client() -> &'static Client {
    static CLIENT: std::sync::OnceLock<Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let first = &attempt.previous()[0];
            let next = attempt.url();
            if next.host_str() != first.host_str()
                || next.port_or_known_default() != first.port_or_known_default()
            {
                let target = crate::redact::mask_url(next.as_str());
                return attempt.error(format!("redirect to another host ({target}) refused, because the source's credentials or custom headers would be sent there too: put the redirect's target in source.url"));
            }
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error("too many redirects");
            }
            attempt.follow()
        });
        Client::builder()
            .user_agent(concat!("pollhook/", env!("CARGO_PKG_VERSION")))
            .redirect(policy)
            .referer(false)
            .build()
            .expect("the TLS backend is compiled in")
    })
}

/// Sends one request and reads its whole body, whatever the status.
pub async fn send(
    builder: RequestBuilder,
    request: String,
    source: &SourceConfig,
) -> Result<RawResponse, FetchError> {
    let response = builder
        .send()
        .await
        .map_err(|error| request_error(&request, source.timeout, error))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_body(response, source, &request).await?;
    Ok(RawResponse {
        request,
        status,
        headers,
        body,
    })
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
    if error.is_decode() {
        return FetchError::ContentEncoding {
            request: request.to_owned(),
            detail: error_chain(&error),
        };
    }
    FetchError::Body {
        request: request.to_owned(),
        detail: error_chain(&error),
    }
}

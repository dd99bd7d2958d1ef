//! Every request of one poll: the query values of this poll, conditional
//! headers, authentication with one retry after a 401, pagination, and the
//! upstream's rate limit between pages.
//!
//! The decisions are made by the pure modules (`pagination`, `rate_limit`,
//! `template`); this loop only sends requests and hands responses to them.

use chrono::{DateTime, Utc};
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use super::auth::Auth;
use super::fetch::{same_host_client, send, FetchError, Format, RawResponse};
use super::pagination::{with_query_param, PageResponse, Paginator};
use super::rate_limit::postponement;
use super::template::TemplateValues;
use super::xml::items_as_list;
use crate::config::SourceConfig;
use crate::jsonpath::JsonPath;
use crate::redact::mask_url;
use crate::store::{SourceState, Validators};

/// The result of a poll's requests.
#[derive(Debug)]
pub struct Fetched {
    pub outcome: Outcome,
    /// The source asked that its next request wait until then.
    pub postpone_until: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub enum Outcome {
    /// A 304 to a conditional request: the document did not change.
    NotModified,
    /// Every page's body, parsed, in order.
    Pages {
        pages: Vec<Value>,
        /// The validators to store for the next conditional request.
        validators: Option<Validators>,
    },
}

/// Requests every page of `source`. `items_path` counts the items of each
/// page for `page` and `offset` pagination.
pub async fn fetch_source(
    client: &Client,
    source: &SourceConfig,
    items_path: Option<&JsonPath>,
    state: &SourceState,
) -> Result<Fetched, FetchError> {
    let values = TemplateValues {
        last_success: state
            .last_success_at
            .and_then(DateTime::from_timestamp_millis),
    };
    let base = base_url(source, &values)?;
    let conditional = source.conditional && source.pagination.is_none();
    let request_key = conditional.then(|| request_key(source, &base));
    let stored = state
        .validators
        .as_ref()
        .filter(|validators| Some(&validators.request) == request_key.as_ref());

    let mut paginator = source
        .pagination
        .as_ref()
        .map(|pagination| Paginator::new(pagination, base.clone()));
    let mut url = match paginator.as_mut() {
        Some(paginator) => paginator.first_url(),
        None => base.clone(),
    };
    let mut pages = Vec::new();
    loop {
        let sent_validators = if pages.is_empty() { stored } else { None };
        let response = send_authenticated(client, source, &base, &url, sent_validators).await?;
        let postpone_until = postponement(response.status, &response.headers, Utc::now());

        if response.status == StatusCode::NOT_MODIFIED {
            if sent_validators.is_none() {
                return Err(FetchError::UnexpectedNotModified {
                    request: response.request,
                });
            }
            return Ok(Fetched {
                outcome: Outcome::NotModified,
                postpone_until,
            });
        }
        if !response.status.is_success() {
            return Err(response.status_error(postpone_until));
        }

        let mut page = response.parse(source.format)?;
        if let (Format::Xml, Some(path)) = (source.format, items_path) {
            items_as_list(&mut page, path);
        }
        let next = match paginator.as_mut() {
            Some(paginator) => next_page(paginator, &response, &url, &page, items_path)?,
            None => None,
        };
        pages.push(page);
        let Some(next) = next else {
            let validators = request_key.map(|request| validators_of(&response, request));
            return Ok(Fetched {
                outcome: Outcome::Pages {
                    pages,
                    validators: validators.flatten(),
                },
                postpone_until,
            });
        };
        if let Some(until) = postpone_until {
            wait_between_pages(until, source, &response.request).await?;
        }
        url = next;
    }
}

/// Returns the configured URL with this poll's query values. A value whose
/// placeholder has no value yet (before the first successful poll) is left
/// out.
fn base_url(source: &SourceConfig, values: &TemplateValues) -> Result<Url, FetchError> {
    let mut url = Url::parse(&source.url).map_err(|error| FetchError::Request {
        request: format!("{} {}", source.method, mask_url(&source.url)),
        detail: format!("invalid URL: {error}"),
    })?;
    for (name, template) in &source.query {
        if let Some(value) = template.render(values) {
            url = with_query_param(&url, name, &value);
        }
    }
    Ok(url)
}

/// Sends one request with the source's headers, body and credentials. A 401
/// to a request with an OAuth2 token is retried once with a new token.
async fn send_authenticated(
    client: &Client,
    source: &SourceConfig,
    base: &Url,
    url: &Url,
    validators: Option<&Validators>,
) -> Result<RawResponse, FetchError> {
    // Credentials go only to the configured origin, never to another host
    // that a next-page link points to.
    let auth = source
        .auth
        .as_ref()
        .filter(|_| url.origin() == base.origin());
    // reqwest forwards custom headers on a redirect to another host, so a
    // source that sends any (an API key, say) follows redirects within its
    // host only.
    let client = match auth {
        Some(Auth::Header { .. }) => same_host_client(),
        _ if has_custom_headers(source) => same_host_client(),
        _ => client,
    };
    let mut retried = false;
    loop {
        let request_url = auth.map_or_else(|| url.clone(), |auth| auth.apply_to_url(url));
        let request = format!("{} {}", source.method, mask_url(request_url.as_str()));
        let mut builder = client
            .request(source.method.clone(), request_url)
            .timeout(source.timeout);
        for (name, value) in &source.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &source.body {
            // Most POST APIs (GraphQL among them) expect JSON bodies and
            // reject requests without a content type.
            let has_content_type = source
                .headers
                .iter()
                .any(|(name, _)| name == reqwest::header::CONTENT_TYPE);
            if !has_content_type {
                builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json");
            }
            builder = builder.body(body.clone());
        }
        if let Some(validators) = validators {
            if let Some(etag) = &validators.etag {
                builder = builder.header(IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &validators.last_modified {
                builder = builder.header(IF_MODIFIED_SINCE, last_modified);
            }
        }
        if let Some(auth) = auth {
            builder = auth.apply(client, source.timeout, builder).await?;
        }

        let response = send(builder, request, source).await?;
        if response.status == StatusCode::UNAUTHORIZED && !retried {
            if let Some(auth) = auth {
                if auth.reject_token().await {
                    tracing::debug!(request = %response.request, "source rejected the access token: requesting a new one");
                    retried = true;
                    continue;
                }
            }
        }
        return Ok(response);
    }
}

fn next_page(
    paginator: &mut Paginator<'_>,
    response: &RawResponse,
    url: &Url,
    page: &Value,
    items_path: Option<&JsonPath>,
) -> Result<Option<Url>, FetchError> {
    let link_headers = response.link_headers();
    let items = items_path.map_or(0, |path| path.select(page).len());
    paginator
        .next_url(&PageResponse {
            url,
            link_headers: &link_headers,
            body: page,
            items,
        })
        .map_err(|error| FetchError::Pagination {
            request: response.request.clone(),
            error,
        })
}

/// Waits for an exhausted rate limit to reset before the next page, when
/// that is within the source's timeout; else the poll fails.
async fn wait_between_pages(
    until: DateTime<Utc>,
    source: &SourceConfig,
    request: &str,
) -> Result<(), FetchError> {
    let wait = (until - Utc::now()).to_std().unwrap_or_default();
    if wait > source.timeout {
        return Err(FetchError::RateLimitedBetweenPages {
            request: request.to_owned(),
            until,
        });
    }
    tracing::debug!(request, wait = %humantime::format_duration(wait), "rate limit exhausted: waiting before the next page");
    tokio::time::sleep(wait).await;
    Ok(())
}

/// Identifies a request by a hash of its method, URL and body, so that
/// validators are sent only to the request they came from and no URL
/// secret is stored.
fn request_key(source: &SourceConfig, url: &Url) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.method.as_str());
    hasher.update(b"\n");
    hasher.update(url.as_str());
    hasher.update(b"\n");
    hasher.update(source.body.as_deref().unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn validators_of(response: &RawResponse, request: String) -> Option<Validators> {
    let header = |name| {
        response
            .headers
            .get(name)
            .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
            .map(str::to_owned)
    };
    let etag = header(ETAG);
    let last_modified = header(LAST_MODIFIED);
    (etag.is_some() || last_modified.is_some()).then_some(Validators {
        request,
        etag,
        last_modified,
    })
}

/// True when the source sends a header beyond the content negotiation ones,
/// which could be a credential.
fn has_custom_headers(source: &SourceConfig) -> bool {
    const HARMLESS: [&str; 4] = ["accept", "accept-language", "content-type", "user-agent"];
    source
        .headers
        .iter()
        .any(|(name, _)| !HARMLESS.contains(&name.as_str()))
}

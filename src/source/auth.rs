//! Authentication of source requests: static credentials, and OAuth 2.0
//! client credentials with a cached access token.
//!
//! Secrets never reach `Debug` output: the types print only their kind. The
//! access token is cached per bridge, refreshed shortly before it expires,
//! and once more when the source answers 401.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Client, RequestBuilder};
use serde_json::Value;
use thiserror::Error;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::redact::{error_chain, mask, mask_url};

/// How a source's requests are authenticated.
#[derive(Clone)]
pub enum Auth {
    Bearer {
        token: String,
    },
    Basic {
        username: String,
        password: String,
    },
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    /// A query parameter set on every request, such as `api_key`.
    Query {
        name: String,
        value: String,
    },
    OAuth2(std::sync::Arc<OAuth2>),
}

/// OAuth 2.0 client credentials (RFC 6749, section 4.4).
pub struct OAuth2 {
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub client_auth: ClientAuth,
    cache: Mutex<Option<CachedToken>>,
}

/// Where the client id and secret go in the token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic authentication, which every server must accept.
    Basic,
    /// `client_id` and `client_secret` form fields, for servers that want them.
    Body,
}

struct CachedToken {
    access_token: String,
    /// When to fetch a new token; `None` when the server gave no lifetime.
    refresh_at: Option<Instant>,
}

/// A token is refreshed when this share of its lifetime is left, but never
/// more than [`MAX_REFRESH_MARGIN`] early.
const REFRESH_MARGIN_DIVISOR: u32 = 10;
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum AuthError {
    #[error("oauth2 token request to {url} failed: {detail}")]
    Request { url: String, detail: String },
    #[error("oauth2 token request to {url} returned HTTP {status}{detail}: check source.auth.client_id, client_secret and scopes")]
    Status {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("oauth2 token response from {url} has no access_token: {detail}")]
    InvalidResponse { url: String, detail: String },
}

impl Auth {
    /// Returns `url` with the credentials of query authentication set.
    pub fn apply_to_url(&self, url: &Url) -> Url {
        match self {
            Auth::Query { name, value } => super::pagination::with_query_param(url, name, value),
            _ => url.clone(),
        }
    }

    /// Adds the credentials that travel in headers to a request.
    pub async fn apply(
        &self,
        client: &Client,
        timeout: Duration,
        builder: RequestBuilder,
    ) -> Result<RequestBuilder, AuthError> {
        Ok(match self {
            Auth::Bearer { token } => builder.bearer_auth(token),
            Auth::Basic { username, password } => builder.basic_auth(username, Some(password)),
            Auth::Header { name, value } => builder.header(name.clone(), value.clone()),
            Auth::Query { .. } => builder,
            Auth::OAuth2(oauth2) => builder.bearer_auth(oauth2.token(client, timeout).await?),
        })
    }

    /// Drops a cached token after the source rejected it; returns true when
    /// a new token can be fetched, so that the request is worth one retry.
    pub async fn reject_token(&self) -> bool {
        match self {
            Auth::OAuth2(oauth2) => {
                *oauth2.cache.lock().await = None;
                true
            }
            _ => false,
        }
    }
}

impl OAuth2 {
    pub fn new(
        token_url: Url,
        client_id: String,
        client_secret: String,
        scopes: Vec<String>,
        client_auth: ClientAuth,
    ) -> OAuth2 {
        OAuth2 {
            token_url,
            client_id,
            client_secret,
            scopes,
            client_auth,
            cache: Mutex::new(None),
        }
    }

    /// Returns the cached access token, fetching a new one when there is
    /// none or it is about to expire.
    async fn token(&self, client: &Client, timeout: Duration) -> Result<String, AuthError> {
        // The lock is held while fetching, so concurrent requests of one
        // bridge wait for one token request instead of each sending one.
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref() {
            if cached.refresh_at.is_none_or(|at| Instant::now() < at) {
                return Ok(cached.access_token.clone());
            }
        }
        let fetched = self.fetch_token(client, timeout).await?;
        let token = fetched.access_token.clone();
        // The token is a credential too; each renewal replaces the last.
        let slot = format!("oauth2 {} {}", self.token_url, self.client_id);
        crate::redact::register_in_slot(&slot, &token);
        *cache = Some(fetched);
        Ok(token)
    }

    async fn fetch_token(
        &self,
        client: &Client,
        timeout: Duration,
    ) -> Result<CachedToken, AuthError> {
        let url = mask_url(self.token_url.as_str());
        let mut request = client
            .post(self.token_url.clone())
            .timeout(timeout)
            .header("accept", "application/json");
        if self.client_auth == ClientAuth::Basic {
            // RFC 6749 section 2.3.1 form-encodes both before Basic encoding.
            let encode = |text: &str| {
                url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
            };
            request =
                request.basic_auth(encode(&self.client_id), Some(encode(&self.client_secret)));
        }
        let requested_at = Instant::now();
        let response = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(self.token_request_body())
            .send()
            .await
            .map_err(|error| AuthError::Request {
                url: url.clone(),
                detail: error_chain(&error),
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|error| AuthError::Request {
            url: url.clone(),
            detail: error_chain(&error),
        })?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        if !status.is_success() {
            return Err(AuthError::Status {
                url,
                status: status.as_u16(),
                detail: oauth_error_detail(json.as_ref()),
            });
        }
        parse_token(json.as_ref(), requested_at).ok_or_else(|| AuthError::InvalidResponse {
            url,
            detail: describe_body(&body),
        })
    }
}

impl OAuth2 {
    fn token_request_body(&self) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if !self.scopes.is_empty() {
            form.append_pair("scope", &self.scopes.join(" "));
        }
        if self.client_auth == ClientAuth::Body {
            form.append_pair("client_id", &self.client_id);
            form.append_pair("client_secret", &self.client_secret);
        }
        form.finish()
    }
}

/// Reads `access_token` and `expires_in` (seconds, a number or a string).
fn parse_token(json: Option<&Value>, requested_at: Instant) -> Option<CachedToken> {
    let json = json?;
    let access_token = json.get("access_token")?.as_str()?.to_owned();
    let lifetime = match json.get("expires_in") {
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    };
    let refresh_at = lifetime.map(|seconds| {
        let lifetime = Duration::from_secs(seconds);
        let margin = (lifetime / REFRESH_MARGIN_DIVISOR).min(MAX_REFRESH_MARGIN);
        requested_at + (lifetime - margin)
    });
    Some(CachedToken {
        access_token,
        refresh_at,
    })
}

/// Formats the `error` and `error_description` of an OAuth error response.
fn oauth_error_detail(json: Option<&Value>) -> String {
    let field = |name: &str| json.and_then(|json| json.get(name)).and_then(Value::as_str);
    match (field("error"), field("error_description")) {
        (Some(error), Some(description)) => format!(" ({error}: {})", mask(description)),
        (Some(error), None) => format!(" ({error})"),
        _ => String::new(),
    }
}

fn describe_body(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body).chars().take(80).collect();
    // The body may hold a token under another name, so show only its keys.
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => format!(
            "the response has the keys {}",
            map.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        _ => format!("the response is not a JSON object ({} bytes)", body.len()),
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Auth::Bearer { .. } => "bearer",
            Auth::Basic { .. } => "basic",
            Auth::Header { .. } => "header",
            Auth::Query { .. } => "query",
            Auth::OAuth2(_) => "oauth2",
        };
        write!(formatter, "Auth({kind})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn token_is_refreshed_before_it_expires() {
        let now = Instant::now();
        let token =
            parse_token(Some(&json!({"access_token": "t", "expires_in": 3600})), now).unwrap();
        assert_eq!(token.refresh_at, Some(now + Duration::from_secs(3540)));
        let short = parse_token(
            Some(&json!({"access_token": "t", "expires_in": "100"})),
            now,
        )
        .unwrap();
        assert_eq!(short.refresh_at, Some(now + Duration::from_secs(90)));
    }

    #[test]
    fn token_without_lifetime_is_kept() {
        let token = parse_token(Some(&json!({"access_token": "t"})), Instant::now()).unwrap();
        assert_eq!(token.refresh_at, None);
    }

    #[test]
    fn response_without_token_is_rejected() {
        assert!(parse_token(Some(&json!({"token": "t"})), Instant::now()).is_none());
        assert_eq!(
            describe_body(br#"{"token": "secret-value"}"#),
            "the response has the keys token"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let auth = Auth::Bearer {
            token: "very-secret".into(),
        };
        assert_eq!(format!("{auth:?}"), "Auth(bearer)");
    }
}

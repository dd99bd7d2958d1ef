//! Checks of the source and items options that real-world APIs need: item
//! modes, formats, pagination, authentication and per-poll query values.
//!
//! Kept apart from `bridge.rs` so that each option's rules and messages sit
//! together. Like the rest of `config`, nothing here does I/O.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};

use super::error::ConfigError;
use super::raw::{RawAuth, RawItems, RawPagination};
use crate::extract::ItemsMode;
use crate::jsonpath::JsonPath;
use crate::redact;
use crate::source::pagination::{
    Counter, CounterUnit, Pagination, PaginationKind, DEFAULT_MAX_PAGES,
};
use crate::source::{Auth, ClientAuth, Format, OAuth2, Template};

/// How long a feed remembers the ids of entries that left it.
pub const DEFAULT_FEED_FORGET_AFTER: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// The items path of a feed, as `source/feed.rs` maps it.
pub const FEED_ITEMS_PATH: &str = "$.items[*]";
pub const FEED_ITEM_ID: &str = "$.id";

/// Checks `source.format`.
pub fn check_format(file: &Path, raw: Option<&str>, errors: &mut Vec<ConfigError>) -> Format {
    match raw.unwrap_or("json") {
        "json" => Format::Json,
        "feed" => Format::Feed,
        "xml" => Format::Xml,
        other => {
            errors.push(ConfigError::key(
                file,
                "source.format",
                format!("unknown format {other:?}: use \"json\", \"feed\" (RSS, Atom or JSON Feed) or \"xml\""),
            ));
            Format::Json
        }
    }
}

/// Checks `source.query`, whose values may hold `{{ last_success }}`.
pub fn check_query(
    file: &Path,
    raw: &BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Vec<(String, Template)> {
    let mut query = Vec::new();
    for (name, text) in raw {
        match Template::parse(text) {
            Ok(template) => query.push((name.clone(), template)),
            Err(message) => {
                errors.push(ConfigError::key(
                    file,
                    format!("source.query.{name}"),
                    message,
                ));
            }
        }
    }
    query
}

/// Checks `[source.pagination]`.
pub fn check_pagination(
    file: &Path,
    raw: &RawPagination,
    errors: &mut Vec<ConfigError>,
) -> Option<Pagination> {
    let before = errors.len();
    let mut allowed = |keys: &[&str]| {
        let set_keys = [
            ("next", raw.next.is_some()),
            ("cursor", raw.cursor.is_some()),
            ("param", raw.param.is_some()),
            ("start", raw.start.is_some()),
            ("size_param", raw.size_param.is_some()),
            ("size", raw.size.is_some()),
            ("total", raw.total.is_some()),
        ];
        for (key, _) in set_keys
            .iter()
            .filter(|(key, set)| *set && !keys.contains(key))
        {
            errors.push(ConfigError::key(
                file,
                format!("source.pagination.{key}"),
                format!("{key} does not apply to type = {:?}: remove it", raw.kind),
            ));
        }
    };
    let kind = match raw.kind.as_str() {
        "link" => {
            allowed(&[]);
            Some(PaginationKind::Link)
        }
        "next_url" => {
            allowed(&["next"]);
            let next = required_path(
                file,
                "source.pagination.next",
                raw.next.as_deref(),
                "$.links.next",
                errors,
            );
            next.map(|next| PaginationKind::NextUrl { next })
        }
        "cursor" => {
            allowed(&["cursor", "param"]);
            let cursor = required_path(
                file,
                "source.pagination.cursor",
                raw.cursor.as_deref(),
                "$.meta.next_cursor",
                errors,
            );
            let param = raw.param.clone().unwrap_or_else(|| "cursor".to_owned());
            cursor.map(|cursor| PaginationKind::Cursor { cursor, param })
        }
        "page" | "offset" => {
            allowed(&["param", "start", "size_param", "size", "total"]);
            check_counter(file, raw, errors).map(PaginationKind::Counter)
        }
        other => {
            errors.push(ConfigError::key(
                file,
                "source.pagination.type",
                format!("unknown pagination type {other:?}: use \"link\", \"next_url\", \"cursor\", \"page\" or \"offset\""),
            ));
            None
        }
    };
    let max_pages = raw.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
    if max_pages == 0 {
        errors.push(ConfigError::key(
            file,
            "source.pagination.max_pages",
            "must be at least 1",
        ));
    }
    if errors.len() > before {
        return None;
    }
    Some(Pagination {
        kind: kind?,
        max_pages,
    })
}

fn check_counter(
    file: &Path,
    raw: &RawPagination,
    errors: &mut Vec<ConfigError>,
) -> Option<Counter> {
    let unit = if raw.kind == "page" {
        CounterUnit::Page
    } else {
        CounterUnit::Offset
    };
    let default_param = if unit == CounterUnit::Page {
        "page"
    } else {
        "offset"
    };
    let size = match (&raw.size_param, raw.size) {
        (Some(param), Some(size)) if size > 0 => Some((param.clone(), size)),
        (None, None) => None,
        _ => {
            errors.push(ConfigError::key(
                file,
                "source.pagination.size",
                "set size_param and size together, such as size_param = \"per_page\" and size = 100 (at least 1)",
            ));
            None
        }
    };
    let total = match &raw.total {
        Some(text) => Some(compile(file, "source.pagination.total", text, errors)?),
        None => None,
    };
    Some(Counter {
        unit,
        param: raw
            .param
            .clone()
            .unwrap_or_else(|| default_param.to_owned()),
        start: raw
            .start
            .unwrap_or(if unit == CounterUnit::Page { 1 } else { 0 }),
        size,
        total,
    })
}

/// Checks `[source.auth]`. Every credential is registered as a secret, even
/// when written in the file itself, so that it is masked in all output.
pub fn check_auth(file: &Path, raw: &RawAuth, errors: &mut Vec<ConfigError>) -> Option<Auth> {
    for secret in [&raw.token, &raw.password, &raw.value, &raw.client_secret]
        .into_iter()
        .flatten()
    {
        redact::register(secret);
    }
    let before = errors.len();
    let mut need = |key: &str, value: &Option<String>| -> String {
        match value {
            Some(value) if !value.is_empty() => value.clone(),
            _ => {
                errors.push(ConfigError::key(
                    file,
                    format!("source.auth.{key}"),
                    format!("missing {key}: type = {:?} needs it", raw.kind),
                ));
                String::new()
            }
        }
    };
    let (auth, keys): (Option<Auth>, &[&str]) = match raw.kind.as_str() {
        "bearer" => (
            Some(Auth::Bearer {
                token: need("token", &raw.token),
            }),
            &["token"],
        ),
        "basic" => {
            let username = need("username", &raw.username);
            let password = need("password", &raw.password);
            redact::register_basic_credentials(&username, &password);
            (
                Some(Auth::Basic { username, password }),
                &["username", "password"],
            )
        }
        "header" | "query" => {
            let name = need("name", &raw.name);
            let value = need("value", &raw.value);
            let auth = if raw.kind == "query" {
                Some(Auth::Query { name, value })
            } else {
                header_auth(file, &name, &value, errors)
            };
            (auth, &["name", "value"])
        }
        "oauth2" => {
            let token_url = need("token_url", &raw.token_url);
            let client_id = need("client_id", &raw.client_id);
            let client_secret = need("client_secret", &raw.client_secret);
            let auth = oauth2_auth(file, raw, token_url, client_id, client_secret, errors);
            (
                auth,
                &[
                    "token_url",
                    "client_id",
                    "client_secret",
                    "scopes",
                    "client_auth",
                ],
            )
        }
        other => {
            errors.push(ConfigError::key(
                file,
                "source.auth.type",
                format!("unknown auth type {other:?}: use \"bearer\", \"basic\", \"header\", \"query\" or \"oauth2\""),
            ));
            return None;
        }
    };
    let set_keys = [
        ("token", raw.token.is_some()),
        ("username", raw.username.is_some()),
        ("password", raw.password.is_some()),
        ("name", raw.name.is_some()),
        ("value", raw.value.is_some()),
        ("token_url", raw.token_url.is_some()),
        ("client_id", raw.client_id.is_some()),
        ("client_secret", raw.client_secret.is_some()),
        ("scopes", raw.scopes.is_some()),
        ("client_auth", raw.client_auth.is_some()),
    ];
    for (key, _) in set_keys
        .iter()
        .filter(|(key, set)| *set && !keys.contains(key))
    {
        errors.push(ConfigError::key(
            file,
            format!("source.auth.{key}"),
            format!("{key} does not apply to type = {:?}: remove it", raw.kind),
        ));
    }
    if errors.len() > before {
        return None;
    }
    auth
}

fn header_auth(
    file: &Path,
    name: &str,
    value: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Auth> {
    let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
        errors.push(ConfigError::key(
            file,
            "source.auth.name",
            format!("invalid header name {name:?}: use letters, digits and dashes"),
        ));
        return None;
    };
    let Ok(mut value) = HeaderValue::from_str(value) else {
        errors.push(ConfigError::key(
            file,
            "source.auth.value",
            "invalid header value: it must be visible ASCII without line breaks",
        ));
        return None;
    };
    value.set_sensitive(true);
    Some(Auth::Header { name, value })
}

fn oauth2_auth(
    file: &Path,
    raw: &RawAuth,
    token_url: String,
    client_id: String,
    client_secret: String,
    errors: &mut Vec<ConfigError>,
) -> Option<Auth> {
    let url = match url::Url::parse(&token_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => {
            errors.push(ConfigError::key(
                file,
                "source.auth.token_url",
                format!(
                    "invalid URL {}: use the http:// or https:// URL of the token endpoint",
                    redact::mask_url(&token_url)
                ),
            ));
            return None;
        }
    };
    let client_auth = match raw.client_auth.as_deref().unwrap_or("basic") {
        "basic" => ClientAuth::Basic,
        "body" => ClientAuth::Body,
        other => {
            errors.push(ConfigError::key(
                file,
                "source.auth.client_auth",
                format!("unknown value {other:?}: use \"basic\" (HTTP Basic, the default) or \"body\" (client_id and client_secret form fields)"),
            ));
            return None;
        }
    };
    let scopes = raw
        .scopes
        .clone()
        .map(|scopes| scopes.0)
        .unwrap_or_default();
    Some(Auth::OAuth2(Arc::new(OAuth2::new(
        url,
        client_id,
        client_secret,
        scopes,
        client_auth,
    ))))
}

fn required_path(
    file: &Path,
    key: &str,
    text: Option<&str>,
    example: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<JsonPath> {
    match text {
        Some(text) => compile(file, key, text, errors),
        None => {
            errors.push(ConfigError::key(
                file,
                key,
                format!("missing: this pagination type needs a JSONPath, such as {example:?}"),
            ));
            None
        }
    }
}

fn compile(file: &Path, key: &str, text: &str, errors: &mut Vec<ConfigError>) -> Option<JsonPath> {
    match JsonPath::parse(text) {
        Ok(path) => Some(path),
        Err(error) => {
            errors.push(ConfigError::key(
                file,
                key,
                format!("invalid JSONPath {text:?}: {error}"),
            ));
            None
        }
    }
}

/// Checks `items.mode` and `items.forget_after`. A feed is incremental by
/// default and remembers ids for [`DEFAULT_FEED_FORGET_AFTER`].
pub fn check_items_mode(
    file: &Path,
    raw: &RawItems,
    feed: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<ItemsMode> {
    let mut forget_after = raw.forget_after.map(|duration| duration.0);
    if feed {
        forget_after = forget_after.or(Some(DEFAULT_FEED_FORGET_AFTER));
        if raw.mode.as_deref() == Some("full") {
            errors.push(ConfigError::key(
                file,
                "items.mode",
                "a feed is a sliding window, so an entry leaving it is not a deletion: remove mode, or use format = \"xml\" to treat the document as a full list",
            ));
            return None;
        }
    }
    let default_mode = if feed { "incremental" } else { "full" };
    match raw.mode.as_deref().unwrap_or(default_mode) {
        "full" => {
            if forget_after.is_some() {
                errors.push(ConfigError::key(
                    file,
                    "items.forget_after",
                    "forget_after applies only to mode = \"incremental\" and feeds: in full mode an absent item is deleted",
                ));
                return None;
            }
            Some(ItemsMode::Full)
        }
        "incremental" => Some(ItemsMode::Incremental { forget_after }),
        other => {
            errors.push(ConfigError::key(
                file,
                "items.mode",
                format!("unknown mode {other:?}: use \"full\" (absent items are deleted) or \"incremental\" (absent items are kept)"),
            ));
            None
        }
    }
}

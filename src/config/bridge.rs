//! A bridge as the rest of pollhook uses it: checked, with every JSONPath,
//! cron expression, URL, header and secret already parsed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;

use super::error::ConfigError;
use super::options::{
    check_auth, check_format, check_items_mode, check_pagination, check_query, FEED_ITEMS_PATH,
    FEED_ITEM_ID,
};
use super::raw::{RawBridge, RawEmit, RawItems, RawSchedule, RawSource, RawTarget};
use crate::deliver::RateLimit;
use crate::diff::DeletePolicy;
use crate::extract::{DocumentSpec, ItemsSpec};
use crate::ids::BridgeName;
use crate::jsonpath::JsonPath;
use crate::redact;
use crate::schedule::{CronSchedule, Schedule, ScheduleError};
use crate::sign::WebhookSecret;
use crate::source::pagination::Pagination;
use crate::source::{Auth, Format, Template};

const DEFAULT_SOURCE_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_BODY_SIZE: u64 = 32 << 20;
const DEFAULT_FAILING_AFTER: u32 = 3;
/// Parallel requests to one target unless `max_in_flight` sets another number.
const DEFAULT_MAX_IN_FLIGHT: usize = 4;

#[derive(Debug, Clone)]
pub struct Bridge {
    pub name: BridgeName,
    pub file: PathBuf,
    pub schedule: Schedule,
    pub jitter: Duration,
    pub source: SourceConfig,
    pub selection: Selection,
    pub emit: EmitConfig,
    pub targets: Vec<Target>,
    /// SHA-256 of the file's values after `${NAME}` interpolation, in hex: a
    /// reload restarts the bridge only when this changes.
    pub fingerprint: String,
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub url: String,
    pub method: Method,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<String>,
    pub timeout: Duration,
    pub max_body_size: u64,
    pub format: Format,
    /// Send the stored validators; never true for a paginated source.
    pub conditional: bool,
    /// Query parameters set per poll; placeholders are filled in then.
    pub query: Vec<(String, Template)>,
    pub pagination: Option<Pagination>,
    pub auth: Option<Auth>,
}

/// The watched data: a list of items, or one document.
#[derive(Debug, Clone)]
pub enum Selection {
    Items(ItemsSpec),
    Document(DocumentSpec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPoll {
    /// Store the first poll's items and send nothing.
    Baseline,
    /// Send `item.created` for every item of the first poll.
    Emit,
}

#[derive(Debug, Clone)]
pub struct EmitConfig {
    pub created: bool,
    pub updated: bool,
    pub deleted: bool,
    pub first_poll: FirstPoll,
    pub delete_policy: DeletePolicy,
    pub health: HealthPolicy,
}

/// When a bridge sends `bridge.failing` and `bridge.recovered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    pub enabled: bool,
    /// Consecutive failed polls that make a bridge failing.
    pub failing_after: u32,
}

/// A receiver of a bridge's events.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    /// The URL with query values and secrets masked: how the target is named
    /// in logs and in the database.
    pub key: String,
    pub secrets: Vec<WebhookSecret>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Requests per unit of time, spaced evenly; `None` means unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Requests in flight at once to this target, across bridges.
    pub max_in_flight: usize,
    /// SHA-256 of the URL, headers and secrets: a changed configuration
    /// enables a target that a 410 Gone disabled.
    pub fingerprint: String,
}

/// Checks a deserialized bridge file, collecting every problem.
pub fn validate(file: &Path, name: BridgeName, raw: RawBridge) -> Result<Bridge, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let schedule = check_schedule(file, &raw.schedule, &mut errors);
    let source = check_source(file, &raw.source, &mut errors);
    let selection = check_selection(file, &raw, &mut errors);
    let emit = check_emit(file, &raw.emit, &mut errors);
    let targets = check_targets(file, &raw.targets, &mut errors);

    match (schedule, source, selection, emit, errors.is_empty()) {
        (Some(schedule), Some(source), Some(selection), Some(emit), true) => Ok(Bridge {
            name,
            file: file.to_owned(),
            schedule,
            jitter: raw
                .schedule
                .jitter
                .map_or(Duration::ZERO, |jitter| jitter.0),
            source,
            selection,
            emit,
            targets,
            fingerprint: String::new(),
        }),
        _ => Err(errors),
    }
}

fn check_schedule(
    file: &Path,
    raw: &RawSchedule,
    errors: &mut Vec<ConfigError>,
) -> Option<Schedule> {
    match (&raw.every, &raw.cron) {
        (Some(_), Some(_)) => {
            errors.push(ConfigError::key(
                file,
                "schedule",
                "set either every or cron, not both",
            ));
            None
        }
        (None, None) => {
            errors.push(ConfigError::key(
                file,
                "schedule",
                "missing schedule: set every = \"30s\" (an interval) or cron = \"*/5 * * * *\"",
            ));
            None
        }
        (Some(every), None) => {
            if raw.timezone.is_some() {
                errors.push(ConfigError::key(
                    file,
                    "schedule.timezone",
                    "timezone applies only to cron schedules: remove it or use cron",
                ));
            }
            if every.0.is_zero() {
                errors.push(ConfigError::key(
                    file,
                    "schedule.every",
                    "must be longer than 0s",
                ));
                return None;
            }
            Some(Schedule::Every(every.0))
        }
        (None, Some(pattern)) => match CronSchedule::parse(pattern, raw.timezone.as_deref()) {
            Ok(cron) => Some(Schedule::Cron(cron)),
            Err(error) => {
                let key = match error {
                    ScheduleError::UnknownTimeZone { .. } => "schedule.timezone",
                    _ => "schedule.cron",
                };
                errors.push(ConfigError::key(file, key, error.to_string()));
                None
            }
        },
    }
}

fn check_source(
    file: &Path,
    raw: &RawSource,
    errors: &mut Vec<ConfigError>,
) -> Option<SourceConfig> {
    let before = errors.len();
    check_http_url(file, "source.url", &raw.url, errors);
    let method_text = raw.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let method = Method::from_bytes(method_text.as_bytes()).ok();
    if method.is_none() {
        errors.push(ConfigError::key(
            file,
            "source.method",
            format!(
                "invalid HTTP method {method_text:?}: use GET, POST, PUT or another method name"
            ),
        ));
    }
    let headers = check_headers(file, "source.headers", &raw.headers, errors);

    let format = check_format(file, raw.format.as_deref(), errors);
    let query = check_query(file, &raw.query, errors);
    let pagination = raw
        .pagination
        .as_ref()
        .and_then(|pagination| check_pagination(file, pagination, errors));
    let auth = raw
        .auth
        .as_ref()
        .and_then(|auth| check_auth(file, auth, errors));
    if raw.conditional == Some(true) && raw.pagination.is_some() {
        errors.push(ConfigError::key(
            file,
            "source.conditional",
            "conditional requests apply only to unpaginated sources, because a 304 for the first page says nothing about the others: remove conditional",
        ));
    }

    let timeout = raw
        .timeout
        .map_or(DEFAULT_SOURCE_TIMEOUT, |timeout| timeout.0);
    if timeout.is_zero() {
        errors.push(ConfigError::key(
            file,
            "source.timeout",
            "must be longer than 0s",
        ));
    }
    if errors.len() > before {
        return None;
    }
    Some(SourceConfig {
        url: raw.url.clone(),
        method: method?,
        headers,
        body: raw.body.clone(),
        timeout,
        max_body_size: raw
            .max_body_size
            .map_or(DEFAULT_MAX_BODY_SIZE, |size| size.0),
        format,
        conditional: raw.conditional.unwrap_or(true) && raw.pagination.is_none(),
        query,
        pagination,
        auth,
    })
}

fn check_selection(
    file: &Path,
    raw: &RawBridge,
    errors: &mut Vec<ConfigError>,
) -> Option<Selection> {
    let feed = raw.source.format.as_deref() == Some("feed");
    let selection = match (&raw.items, &raw.document) {
        (Some(_), Some(_)) => {
            errors.push(ConfigError::file(file, "set either [items] (one event per item) or [document] (one event per change of the whole document), not both"));
            return None;
        }
        (Some(items), None) => check_items(file, items, feed, errors).map(Selection::Items),
        (None, None) if feed => {
            check_items(file, &RawItems::default(), feed, errors).map(Selection::Items)
        }
        (None, document) => {
            let path_text = document
                .as_ref()
                .and_then(|document| document.path.as_deref())
                .unwrap_or("$");
            let ignore_texts = document
                .as_ref()
                .map(|document| document.ignore.as_slice())
                .unwrap_or_default();
            let path = compile_path(file, "document.path", path_text, errors);
            let ignore = compile_paths(file, "document.ignore", ignore_texts, errors);
            Some(Selection::Document(DocumentSpec {
                path: path?,
                ignore: ignore?,
            }))
        }
    };
    if raw.source.pagination.is_some() && matches!(selection, Some(Selection::Document(_))) {
        errors.push(ConfigError::key(
            file,
            "source.pagination",
            "pagination joins the items of every page, so it needs [items] with path and id",
        ));
    }
    selection
}

fn check_items(
    file: &Path,
    raw: &RawItems,
    feed: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<ItemsSpec> {
    let path = required_items_path(
        file,
        "items.path",
        raw.path.as_deref(),
        feed.then_some(FEED_ITEMS_PATH),
        errors,
    );
    let id = required_items_path(
        file,
        "items.id",
        raw.id.as_deref(),
        feed.then_some(FEED_ITEM_ID),
        errors,
    );
    let ignore = compile_paths(file, "items.ignore", &raw.ignore, errors);
    let include = compile_paths(file, "items.include", &raw.include, errors);
    let unordered = compile_paths(file, "items.unordered", &raw.unordered, errors);
    let mode = check_items_mode(file, raw, feed, errors);
    Some(ItemsSpec {
        path: path?,
        id: id?,
        ignore: ignore?,
        include: include?,
        unordered: unordered?,
        mode: mode?,
    })
}

fn required_items_path(
    file: &Path,
    key: &str,
    text: Option<&str>,
    default: Option<&str>,
    errors: &mut Vec<ConfigError>,
) -> Option<JsonPath> {
    match text.or(default) {
        Some(text) => compile_path(file, key, text, errors),
        None => {
            errors.push(ConfigError::key(
                file,
                key,
                "missing: [items] needs path (the JSONPath of the items) and id (the JSONPath of an item's id)",
            ));
            None
        }
    }
}

fn check_emit(file: &Path, raw: &RawEmit, errors: &mut Vec<ConfigError>) -> Option<EmitConfig> {
    let before = errors.len();
    let kinds = raw
        .events
        .clone()
        .unwrap_or_else(|| vec!["created".into(), "updated".into(), "deleted".into()]);
    if kinds.is_empty() {
        errors.push(ConfigError::key(file, "emit.events", "empty list: name at least one of \"created\", \"updated\" and \"deleted\", or remove the key to send all three"));
    }
    for kind in &kinds {
        if !["created", "updated", "deleted"].contains(&kind.as_str()) {
            errors.push(ConfigError::key(file, "emit.events", format!("unknown event kind {kind:?}: allowed are \"created\", \"updated\" and \"deleted\"")));
        }
    }
    let first_poll = match raw.first_poll.as_deref().unwrap_or("baseline") {
        "baseline" => FirstPoll::Baseline,
        "emit" => FirstPoll::Emit,
        other => {
            errors.push(ConfigError::key(file, "emit.first_poll", format!("unknown value {other:?}: use \"baseline\" (store silently) or \"emit\" (send item.created for each item)")));
            FirstPoll::Baseline
        }
    };
    let delete_after = raw.delete_after.unwrap_or(1);
    if delete_after == 0 {
        errors.push(ConfigError::key(
            file,
            "emit.delete_after",
            "must be at least 1 (the number of successful polls that must lack an item)",
        ));
    }
    let failing_after = raw.failing_after.unwrap_or(DEFAULT_FAILING_AFTER);
    if failing_after == 0 {
        errors.push(ConfigError::key(
            file,
            "emit.failing_after",
            "must be at least 1 (the number of consecutive failed polls before bridge.failing is sent)",
        ));
    }
    if errors.len() > before {
        return None;
    }
    let has = |kind: &str| kinds.iter().any(|k| k == kind);
    Some(EmitConfig {
        created: has("created"),
        updated: has("updated"),
        deleted: has("deleted"),
        first_poll,
        delete_policy: DeletePolicy {
            guard: raw.delete_guard.unwrap_or(true),
            delete_after,
        },
        health: HealthPolicy {
            enabled: raw.health_events.unwrap_or(true),
            failing_after,
        },
    })
}

fn check_targets(file: &Path, raw: &[RawTarget], errors: &mut Vec<ConfigError>) -> Vec<Target> {
    if raw.is_empty() {
        errors.push(ConfigError::file(
            file,
            "no targets: add a [[targets]] block with the url of a receiver",
        ));
    }
    let mut targets = Vec::new();
    for (index, target) in raw.iter().enumerate() {
        let prefix = format!("targets[{index}]");
        let before = errors.len();
        check_http_url(file, &format!("{prefix}.url"), &target.url, errors);
        let headers = check_headers(file, &format!("{prefix}.headers"), &target.headers, errors);
        let mut secrets = Vec::new();
        for text in &target.secret.0 {
            redact::register(text);
            match text.parse::<WebhookSecret>() {
                Ok(secret) => secrets.push(secret),
                Err(error) => errors.push(ConfigError::key(
                    file,
                    format!("{prefix}.secret"),
                    error.to_string(),
                )),
            }
        }
        let rate_limit =
            target
                .rate_limit
                .as_deref()
                .and_then(|text| match text.parse::<RateLimit>() {
                    Ok(limit) => Some(limit),
                    Err(message) => {
                        errors.push(ConfigError::key(
                            file,
                            format!("{prefix}.rate_limit"),
                            message,
                        ));
                        None
                    }
                });
        let max_in_flight = target.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
        if max_in_flight == 0 {
            errors.push(ConfigError::key(
                file,
                format!("{prefix}.max_in_flight"),
                "must be at least 1",
            ));
        }
        let key = redact::target_key(&target.url);
        if targets.iter().any(|other: &Target| other.key == key) {
            errors.push(ConfigError::key(
                file,
                format!("{prefix}.url"),
                format!("target {key} is listed twice"),
            ));
        }
        if errors.len() == before {
            targets.push(Target {
                url: target.url.clone(),
                key,
                secrets,
                headers,
                rate_limit,
                max_in_flight,
                fingerprint: fingerprint(target),
            });
        }
    }
    targets
}

/// Hashes what identifies a target's configuration, secrets included, so that
/// the stored hash reveals none of them.
fn fingerprint(target: &RawTarget) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(target.url.as_bytes());
    for (name, value) in &target.headers {
        hasher.update(b"\0");
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
    }
    for secret in &target.secret.0 {
        hasher.update(b"\0secret=");
        hasher.update(secret.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn check_http_url(file: &Path, key: &str, text: &str, errors: &mut Vec<ConfigError>) {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            // User info in a URL travels as HTTP Basic credentials.
            if let Some(password) = url.password() {
                let decode = |part: &str| percent_decode(part);
                redact::register_basic_credentials(&decode(url.username()), &decode(password));
            }
        }
        Ok(_) => errors.push(ConfigError::key(file, key, format!("invalid URL {}: use an http:// or https:// URL", redact::mask_url(text)))),
        Err(error) => errors.push(ConfigError::key(file, key, format!("invalid URL {} ({error}): write a full URL such as https://api.example.com/v1/items", redact::mask(text)))),
    }
}

/// Decodes `%XX` escapes as user info carries them. Form decoding would also
/// turn `+` into a space, so `+` is escaped first.
fn percent_decode(text: &str) -> String {
    let escaped = text.replace('+', "%2B");
    url::form_urlencoded::parse(format!("x={escaped}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| text.to_owned())
}

fn check_headers(
    file: &Path,
    key: &str,
    raw: &std::collections::BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::new();
    for (name, value) in raw {
        let parsed_name = HeaderName::from_bytes(name.as_bytes());
        let parsed_value = HeaderValue::from_str(value);
        match (parsed_name, parsed_value) {
            (Ok(name), Ok(mut value)) => {
                value.set_sensitive(true);
                headers.push((name, value));
            }
            (Err(_), _) => errors.push(ConfigError::key(
                file,
                format!("{key}.{name}"),
                format!("invalid header name {name:?}: use letters, digits and dashes"),
            )),
            (_, Err(_)) => errors.push(ConfigError::key(
                file,
                format!("{key}.{name}"),
                "invalid header value: it contains a line break or another control character",
            )),
        }
    }
    headers
}

fn compile_path(
    file: &Path,
    key: &str,
    text: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<JsonPath> {
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

fn compile_paths(
    file: &Path,
    key: &str,
    texts: &[String],
    errors: &mut Vec<ConfigError>,
) -> Option<Vec<JsonPath>> {
    let compiled: Vec<Option<JsonPath>> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| compile_path(file, &format!("{key}[{index}]"), text, errors))
        .collect();
    compiled.into_iter().collect()
}

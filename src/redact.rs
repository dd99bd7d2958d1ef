//! Masking of secrets in text that leaves the process: logs, error messages and
//! stored records.
//!
//! Values interpolated from the environment or from credential files are
//! registered here when the configuration loads. Every log line passes through
//! [`mask`], and URLs are shown with [`mask_url`], which also hides query values
//! and user info. This module must never log or store anything itself.

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

/// The replacement text of a masked value.
pub const MASK: &str = "***";

/// Shortest value that is registered as a secret. Shorter values (a port, a
/// flag) would mask unrelated text everywhere and protect nothing.
const MIN_SECRET_LEN: usize = 4;

fn registry() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Registers a value that must never appear in output.
pub fn register(secret: &str) {
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let mut secrets = registry()
        .write()
        .unwrap_or_else(|poison| poison.into_inner());
    if !secrets.iter().any(|known| known == secret) {
        secrets.push(secret.to_owned());
        // Longer secrets first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
    }
}

/// Registers the forms in which HTTP Basic credentials travel: the password
/// itself and the base64 of `user:password` in the `Authorization` header.
pub fn register_basic_credentials(username: &str, password: &str) {
    use base64::Engine;
    register(password);
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    register(&encoded);
}

/// Registers `secret` under `slot`, replacing the value the slot had. For
/// secrets that are renewed (access tokens), so that the registry does not
/// grow with every renewal.
pub fn register_in_slot(slot: &str, secret: &str) {
    let previous = {
        let mut slots = slots().lock().unwrap_or_else(|poison| poison.into_inner());
        slots.insert(slot.to_owned(), secret.to_owned())
    };
    let mut secrets = registry()
        .write()
        .unwrap_or_else(|poison| poison.into_inner());
    if let Some(previous) = previous.filter(|previous| previous != secret) {
        secrets.retain(|known| *known != previous);
    }
    drop(secrets);
    register(secret);
}

fn slots() -> &'static std::sync::Mutex<std::collections::HashMap<String, String>> {
    static SLOTS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        OnceLock::new();
    SLOTS.get_or_init(Default::default)
}

/// Replaces every registered secret in `text` with [`MASK`].
pub fn mask(text: &str) -> Cow<'_, str> {
    let secrets = registry()
        .read()
        .unwrap_or_else(|poison| poison.into_inner());
    let mut masked = Cow::Borrowed(text);
    for secret in secrets.iter() {
        if masked.contains(secret.as_str()) {
            masked = Cow::Owned(masked.replace(secret.as_str(), MASK));
        }
    }
    masked
}

/// Formats a URL for output: user info and query values are replaced with
/// [`MASK`], and registered secrets anywhere else in it are masked too.
pub fn mask_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return mask(url).into_owned();
    };
    if !parsed.username().is_empty() {
        let _ = parsed.set_username(MASK);
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    }
    if parsed.query().is_some() {
        let names: Vec<String> = parsed
            .query_pairs()
            .map(|(name, _)| name.into_owned())
            .collect();
        let query = names
            .iter()
            .map(|name| format!("{name}={MASK}"))
            .collect::<Vec<_>>()
            .join("&");
        parsed.set_query(Some(&query));
    }
    mask(parsed.as_str()).into_owned()
}

/// Describes an HTTP client error with its causes, URLs and secrets masked.
pub fn error_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = current {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    let joined = parts.join(": ");
    let without_url = match error.url() {
        Some(url) => joined
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), &mask_url(url.as_str())),
        None => joined,
    };
    mask(&without_url).into_owned()
}

/// Names a target in logs and in the database: its URL as [`mask_url`] shows
/// it, plus a short hash of the whole URL when masking hid anything. Two URLs
/// that differ only in a secret query value thus stay two targets.
pub fn target_key(url: &str) -> String {
    use sha2::{Digest, Sha256};
    let masked = mask_url(url);
    let normalized =
        url::Url::parse(url).map_or_else(|_| url.to_owned(), |parsed| parsed.to_string());
    if masked == normalized {
        return masked;
    }
    let digest = Sha256::digest(url.as_bytes());
    let hash: String = digest[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{masked} #{hash}")
}

/// Turns a target as an operator names it into its key: a key copied from
/// `pollhook targets` (it contains [`MASK`]) is taken as it is, a URL is
/// turned into its key.
pub fn resolve_target(argument: &str) -> String {
    if argument.contains(MASK) {
        argument.to_owned()
    } else {
        target_key(argument)
    }
}

/// A log writer that masks registered secrets in every line it writes.
pub struct MaskingWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for MaskingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(mask(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secret_is_masked() {
        register("s3cr3t-token-value");
        assert_eq!(mask("Bearer s3cr3t-token-value"), "Bearer ***");
    }

    #[test]
    fn basic_credentials_are_masked_encoded_too() {
        register_basic_credentials("reporting", "pa55-word-1");
        assert_eq!(mask("Basic cmVwb3J0aW5nOnBhNTUtd29yZC0x"), "Basic ***");
        assert_eq!(mask("pw pa55-word-1"), "pw ***");
    }

    #[test]
    fn slot_keeps_only_the_latest_secret() {
        register_in_slot("token-test", "first-token-value");
        register_in_slot("token-test", "second-token-value");
        assert_eq!(mask("Bearer second-token-value"), "Bearer ***");
        assert_eq!(mask("Bearer first-token-value"), "Bearer first-token-value");
    }

    #[test]
    fn short_values_are_not_registered() {
        register("abc");
        assert_eq!(mask("abc def"), "abc def");
    }

    #[test]
    fn url_query_values_and_user_info_are_masked() {
        let masked = mask_url("https://user:pw@api.example.com/v1/items?api_key=k1&page=2");
        assert_eq!(
            masked,
            "https://***:***@api.example.com/v1/items?api_key=***&page=***"
        );
    }

    #[test]
    fn target_keys_tell_secret_queries_apart() {
        let first = target_key("https://hooks.example.net/in?token=AAA");
        let second = target_key("https://hooks.example.net/in?token=BBB");
        assert_ne!(first, second);
        assert!(
            first.starts_with("https://hooks.example.net/in?token=*** #"),
            "{first}"
        );
        assert!(!first.contains("AAA"));
        assert_eq!(
            target_key("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(resolve_target(&first), first);
        assert_eq!(
            resolve_target("https://hooks.example.net/in?token=AAA"),
            first
        );
    }

    #[test]
    fn url_without_query_is_unchanged() {
        assert_eq!(
            mask_url("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/hook"
        );
    }
}

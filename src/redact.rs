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
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
    }
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
    fn url_without_query_is_unchanged() {
        assert_eq!(
            mask_url("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/hook"
        );
    }
}

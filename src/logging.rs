//! Log setup: tracing to stderr, human-readable or JSON, with every line
//! passed through the secret mask.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::redact::MaskingWriter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Installs the global subscriber. `level` (from `--log-level`) wins over
/// `RUST_LOG`; without either, pollhook logs at `info`. An invalid
/// `--log-level` is an error; an invalid `RUST_LOG` gives a warning and `info`.
pub fn init(format: LogFormat, level: Option<&str>) -> Result<(), String> {
    let filter = match level {
        Some(level) => parse_filter(level).ok_or_else(|| {
            format!("invalid --log-level {level:?}: use error, warn, info, debug or trace, or a filter such as pollhook=debug")
        })?,
        None => match std::env::var("RUST_LOG") {
            Ok(text) if !text.trim().is_empty() => parse_filter(&text).unwrap_or_else(|| {
                eprintln!("warning: invalid RUST_LOG {text:?}: logging at info; use error, warn, info, debug or trace");
                EnvFilter::new("info")
            }),
            _ => EnvFilter::new("info"),
        },
    };
    let writer = || MaskingWriter(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (in tests) keeps the first subscriber, which is fine.
    drop(result);
    Ok(())
}

/// Parses a level or filter; `None` for words that are no level, such as
/// `warning`, which `EnvFilter` would take as a target name and so log nothing.
fn parse_filter(text: &str) -> Option<EnvFilter> {
    const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];
    let directives_valid = text.split(',').all(|directive| {
        let level = directive
            .rsplit('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        directive.contains('=') || LEVELS.contains(&level.as_str())
    });
    if !directives_valid {
        return None;
    }
    EnvFilter::try_new(text).ok()
}

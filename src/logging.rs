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
/// `RUST_LOG`; without either, pollhook logs at `info`.
pub fn init(format: LogFormat, level: Option<&str>) {
    let filter = match level {
        Some(level) => EnvFilter::new(level),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
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
}

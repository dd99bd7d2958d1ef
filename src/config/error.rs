//! Configuration errors: each names the file and the key, and states what is
//! allowed, so that `pollhook check` can list all of them at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// Dotted key path such as `items.path`; `None` for file-level problems.
    pub key: Option<String>,
    pub message: String,
}

/// Every problem found while loading the configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigError {
    pub fn file(file: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_owned(),
            key: None,
            message: message.into(),
        }
    }

    pub fn key(file: &Path, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_owned(),
            key: Some(key.into()),
            message: message.into(),
        }
    }

    /// Converts figment's deserialization error, which carries the key path.
    pub fn from_figment(file: &Path, error: figment::Error) -> Vec<ConfigError> {
        error
            .into_iter()
            .map(|error| {
                let key = (!error.path.is_empty()).then(|| error.path.join("."));
                ConfigError {
                    file: file.to_owned(),
                    key,
                    message: crate::redact::mask(&error.kind.to_string()).into_owned(),
                }
            })
            .collect()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(
                formatter,
                "{}: {key}: {}",
                self.file.display(),
                self.message
            ),
            None => write!(formatter, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
impl std::error::Error for ConfigErrors {}

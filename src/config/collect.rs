//! Deserialization that keeps going after an unknown or invalid key, so that
//! one file's errors are all reported at once.
//!
//! serde stops at the first problem. Each time it does, the offending key is
//! recorded as an error, removed from the value tree, and deserialization runs
//! again. Errors that only follow from a removal (a now missing required
//! field) are not reported, because the removed key's own error already is.

use std::path::Path;

use figment::providers::Serialized;
use figment::value::Value;
use figment::Figment;
use serde::de::DeserializeOwned;

use super::error::ConfigError;

/// Upper bound on retries, so that a pathological file cannot loop for long.
const MAX_PASSES: usize = 64;

/// The result of deserializing with error collection.
pub struct Collected<T> {
    pub value: Option<T>,
    pub errors: Vec<ConfigError>,
    /// Dotted paths of keys removed after an error.
    pub removed: Vec<String>,
}

/// Deserializes `tree` into `T`, collecting one error per bad key.
pub fn deserialize_collecting<T: DeserializeOwned>(file: &Path, mut tree: Value) -> Collected<T> {
    let mut errors = Vec::new();
    let mut removed: Vec<Vec<String>> = Vec::new();
    for _ in 0..MAX_PASSES {
        let error = match Figment::from(Serialized::defaults(&tree)).extract::<T>() {
            Ok(value) => return finish(Some(value), errors, removed),
            Err(error) => error,
        };
        if follows_from_removal(&error, &removed) {
            return finish(None, errors, removed);
        }
        errors.extend(ConfigError::from_figment(file, error.clone()));
        if error.path.is_empty() || !remove_path(&mut tree, &error.path) {
            return finish(None, errors, removed);
        }
        removed.push(error.path.clone());
    }
    finish(None, errors, removed)
}

/// True when `key` is a removed key or a section that contains one.
pub fn is_affected_by_removal(key: &str, removed: &[String]) -> bool {
    removed
        .iter()
        .any(|path| path == key || path.starts_with(&format!("{key}.")))
}

fn finish<T>(
    value: Option<T>,
    errors: Vec<ConfigError>,
    removed: Vec<Vec<String>>,
) -> Collected<T> {
    Collected {
        value,
        errors,
        removed: removed.iter().map(|path| path.join(".")).collect(),
    }
}

/// Tells whether `error` is a missing field inside a section from which a key
/// was removed.
fn follows_from_removal(error: &figment::Error, removed: &[Vec<String>]) -> bool {
    matches!(error.kind, figment::error::Kind::MissingField(_))
        && removed
            .iter()
            .any(|path| path.len() > error.path.len() && path.starts_with(&error.path))
}

/// Removes the node at `path` (dictionary keys and array indices).
fn remove_path(tree: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = tree;
    for step in parents {
        node = match node {
            Value::Dict(_, dict) => match dict.get_mut(step) {
                Some(child) => child,
                None => return false,
            },
            Value::Array(_, items) => match step
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get_mut(index))
            {
                Some(child) => child,
                None => return false,
            },
            _ => return false,
        };
    }
    match node {
        Value::Dict(_, dict) => dict.remove(last).is_some(),
        Value::Array(_, items) => match last.parse::<usize>() {
            Ok(index) if index < items.len() => {
                items.remove(index);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

//! Loading and checking the configuration: the global file and one file per
//! bridge, each read on its own with figment.
//!
//! Loading never stops at the first problem: every error of every file is
//! collected, so that `pollhook check` can print them all. Nothing here polls
//! or touches the database.

mod bridge;
mod collect;
mod error;
mod global;
mod interpolate;
mod options;
mod raw;
mod schema;
mod units;

use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::Figment;

pub use bridge::{Bridge, EmitConfig, FirstPoll, HealthPolicy, Selection, SourceConfig, Target};
pub use error::{ConfigError, ConfigErrors};
pub use global::{
    load_global, AdminConfig, DeliveryConfig, GlobalConfig, Overrides, DEFAULT_CONFIG_FILE,
};
pub use schema::bridge_schema;
pub use units::{ByteSize, HumanDuration};

use crate::ids::BridgeName;
use interpolate::{interpolate_tree, resolve_reference};
use raw::RawBridge;

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub global: GlobalConfig,
    pub bridges: Vec<Bridge>,
}

impl Config {
    pub fn bridge(&self, name: &str) -> Option<&Bridge> {
        self.bridges
            .iter()
            .find(|bridge| bridge.name.as_str() == name)
    }
}

/// Loads the global file and every bridge file, collecting all errors.
pub fn load(overrides: &Overrides) -> Result<Config, ConfigErrors> {
    let global = load_global(overrides)?;
    let bridges = load_bridges(&global.bridges)?;
    Ok(Config { global, bridges })
}

/// Loads every `*.toml` file in `dir`, in name order.
pub fn load_bridges(dir: &Path) -> Result<Vec<Bridge>, ConfigErrors> {
    let files = bridge_files(dir).map_err(|error| ConfigErrors(vec![error]))?;
    if files.is_empty() {
        return Err(ConfigErrors(vec![ConfigError::file(
            dir,
            "no bridge files (*.toml) found: add one file per bridge, or point --bridges at the right directory",
        )]));
    }

    let mut bridges = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match load_bridge_file(&file) {
            Ok(bridge) => bridges.push(bridge),
            Err(file_errors) => errors.extend(file_errors),
        }
    }
    if errors.is_empty() {
        Ok(bridges)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Loads and checks one bridge file; its name is the file stem.
pub fn load_bridge_file(file: &Path) -> Result<Bridge, Vec<ConfigError>> {
    let stem = file
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or_default();
    let name = BridgeName::parse(stem).map_err(|message| vec![ConfigError::file(file, message)])?;

    let mut value: figment::value::Value = Figment::from(Toml::file_exact(file))
        .extract()
        .map_err(|error| ConfigError::from_figment(file, error))?;

    let mut unresolved = Vec::new();
    interpolate_tree(
        &mut value,
        "",
        &|reference| resolve_reference(reference, &|variable| std::env::var(variable).ok()),
        &mut unresolved,
    );
    let mut errors: Vec<ConfigError> = unresolved
        .into_iter()
        .map(|problem| ConfigError::key(file, problem.key, problem.message))
        .collect();

    let fingerprint = fingerprint(&value);
    let collected = collect::deserialize_collecting::<RawBridge>(file, value);
    errors.extend(collected.errors);
    let Some(raw) = collected.value else {
        return Err(errors);
    };
    match bridge::validate(file, name, raw) {
        Ok(bridge) if errors.is_empty() => Ok(Bridge {
            fingerprint,
            ..bridge
        }),
        Ok(_) => Err(errors),
        Err(validation) => {
            // A key removed after an error would also show up as missing here.
            errors.extend(validation.into_iter().filter(|error| {
                !error
                    .key
                    .as_deref()
                    .is_some_and(|key| collect::is_affected_by_removal(key, &collected.removed))
            }));
            Err(errors)
        }
    }
}

/// Hashes the interpolated values of a bridge file. A change of layout or
/// comments keeps the hash, and a changed environment value or secret changes
/// it, which comparing the checked `Bridge` could miss because its `Debug`
/// masks secrets and sensitive headers.
fn fingerprint(value: &figment::value::Value) -> String {
    use sha2::{Digest, Sha256};

    let json = serde_json::to_vec(value).unwrap_or_default();
    Sha256::digest(&json)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn bridge_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|error| {
        ConfigError::file(
            dir,
            format!("cannot read the bridges directory ({error}): create it, or set bridges in pollhook.toml or --bridges"),
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests;

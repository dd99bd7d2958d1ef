//! The global file `pollhook.toml`: where state and bridges live, and how
//! deliveries are timed. Every key has a default, and environment variables
//! (`POLLHOOK_DELIVERY__TIMEOUT=5s`) and CLI flags override the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use super::error::{ConfigError, ConfigErrors};
use super::interpolate::{interpolate_tree, resolve_reference};
use super::units::HumanDuration;

/// The default path of the global file, relative to the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "pollhook.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// SQLite file with snapshots and the delivery queue.
    pub state: PathBuf,
    /// Directory of bridge files.
    pub bridges: PathBuf,
    pub max_concurrent_polls: usize,
    pub delivery: DeliveryConfig,
    pub admin: AdminConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Limit of one delivery attempt.
    pub timeout: HumanDuration,
    /// Delays before attempts 2, 3, …; after the last attempt the event fails.
    pub retry_schedule: Vec<HumanDuration>,
    pub max_retry_after: HumanDuration,
    pub retention: HumanDuration,
    pub failed_retention: HumanDuration,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    pub listen: Option<String>,
}

/// Command-line flags that override the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// An explicit global file, which must exist.
    pub config: Option<PathBuf>,
    pub bridges: Option<PathBuf>,
    pub state: Option<PathBuf>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            state: PathBuf::from("pollhook.db"),
            bridges: PathBuf::from("bridges"),
            max_concurrent_polls: 32,
            delivery: DeliveryConfig::default(),
            admin: AdminConfig::default(),
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        let schedule = ["5s", "5m", "30m", "2h", "5h", "10h", "10h"];
        DeliveryConfig {
            timeout: HumanDuration(Duration::from_secs(15)),
            retry_schedule: schedule
                .iter()
                .map(|text| HumanDuration(humantime::parse_duration(text).expect("valid default")))
                .collect(),
            max_retry_after: HumanDuration(Duration::from_secs(3600)),
            retention: HumanDuration(Duration::from_secs(7 * 86_400)),
            failed_retention: HumanDuration(Duration::from_secs(30 * 86_400)),
        }
    }
}

/// Loads the global configuration: defaults, then the file, then `POLLHOOK_…`
/// variables, then `overrides`.
pub fn load_global(overrides: &Overrides) -> Result<GlobalConfig, ConfigErrors> {
    let file = overrides
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
    let mut figment = Figment::from(Serialized::defaults(GlobalConfig::default()));

    if file.exists() {
        figment = figment.merge(Serialized::defaults(read_file(&file)?));
    } else if overrides.config.is_some() {
        return Err(ConfigErrors(vec![ConfigError::file(
            &file,
            "file not found: check the --config path",
        )]));
    }

    figment = figment.merge(environment());
    if let Some(bridges) = &overrides.bridges {
        figment = figment.merge(Serialized::default("bridges", bridges));
    }
    if let Some(state) = &overrides.state {
        figment = figment.merge(Serialized::default("state", state));
    }

    let config: GlobalConfig = figment
        .extract()
        .map_err(|error| ConfigErrors(ConfigError::from_figment(&file, error)))?;
    validate(&file, &config)?;
    Ok(config)
}

fn read_file(file: &Path) -> Result<figment::value::Value, ConfigErrors> {
    let mut value: figment::value::Value = Figment::from(Toml::file_exact(file))
        .extract()
        .map_err(|error| ConfigErrors(ConfigError::from_figment(file, error)))?;
    let mut unresolved = Vec::new();
    interpolate_tree(
        &mut value,
        "",
        &|reference| resolve_reference(reference, &|name| std::env::var(name).ok()),
        &mut unresolved,
    );
    if unresolved.is_empty() {
        return Ok(value);
    }
    Err(ConfigErrors(
        unresolved
            .into_iter()
            .map(|problem| ConfigError::key(file, problem.key, problem.message))
            .collect(),
    ))
}

/// `POLLHOOK_…` variables for the known top-level keys only, so that
/// variables meant for `${NAME}` interpolation never count as unknown keys.
/// The filter runs after `split`, so nested keys arrive joined with dots.
fn environment() -> Env {
    const KEYS: [&str; 5] = [
        "state",
        "bridges",
        "max_concurrent_polls",
        "delivery",
        "admin",
    ];
    Env::prefixed("POLLHOOK_").split("__").filter(|key| {
        let name = key.as_str().to_ascii_lowercase();
        KEYS.iter()
            .any(|known| name == *known || name.starts_with(&format!("{known}.")))
    })
}

fn validate(file: &Path, config: &GlobalConfig) -> Result<(), ConfigErrors> {
    let mut errors = Vec::new();
    if config.max_concurrent_polls == 0 {
        errors.push(ConfigError::key(
            file,
            "max_concurrent_polls",
            "must be at least 1",
        ));
    }
    if config.delivery.timeout.0.is_zero() {
        errors.push(ConfigError::key(
            file,
            "delivery.timeout",
            "must be longer than 0s",
        ));
    }
    if let Some(listen) = &config.admin.listen {
        if listen.parse::<std::net::SocketAddr>().is_err() {
            errors.push(ConfigError::key(
                file,
                "admin.listen",
                format!("invalid address {listen:?}: write IP:PORT, such as \"127.0.0.1:9464\""),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

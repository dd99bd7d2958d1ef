//! `pollhook run`: one scheduled task per bridge, the delivery worker, a
//! reload of the configuration on request, and a clean stop on SIGINT or
//! SIGTERM.
//!
//! Shutdown is a [`CancellationToken`] passed in, never a global. A poll in
//! progress when the token is cancelled is abandoned before it writes. Its
//! commit is one transaction, so it is either complete or absent.

mod bridges;

use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::{Bridge, Config, ConfigErrors, GlobalConfig};
use crate::deliver::{delivery_client, run_worker, Deliverer};
use crate::metrics::Metrics;
use crate::poll::{PollError, PollReport};
use crate::source::source_client;
use crate::store::Store;

pub use bridges::ReloadSummary;
use bridges::{BridgeSet, Shared};

/// Optional parts of the daemon, for `pollhook run` and `pollhook demo`.
#[derive(Default)]
pub struct Services {
    /// Reloads the configuration on every message.
    pub reload: Option<Reload>,
    /// Receives the running bridges after the start and after every reload.
    pub live: Option<Arc<LiveBridges>>,
    /// Counts polls, events and delivery attempts.
    pub metrics: Option<Arc<Metrics>>,
}

/// The source of reload requests and the function that reads the
/// configuration again.
pub struct Reload {
    pub requests: mpsc::Receiver<()>,
    pub load: Box<dyn Fn() -> Result<Config, ConfigErrors> + Send>,
}

/// The bridges the daemon runs right now, shared with the admin server.
#[derive(Debug, Default)]
pub struct LiveBridges {
    bridges: RwLock<Option<Vec<Arc<Bridge>>>>,
}

impl LiveBridges {
    /// Returns the running bridges, or `None` before the daemon started them.
    pub fn get(&self) -> Option<Vec<Arc<Bridge>>> {
        self.bridges
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    fn set(&self, bridges: Vec<Arc<Bridge>>) {
        *self
            .bridges
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = Some(bridges);
    }
}

/// Runs every bridge and the delivery worker until `shutdown` is cancelled.
pub async fn run(config: Config, store: Arc<Store>, shutdown: CancellationToken) {
    run_with(config, store, Services::default(), shutdown).await;
}

/// Runs like [`run`], and reloads the configuration on every request from
/// `services.reload`.
pub async fn run_with(
    config: Config,
    store: Arc<Store>,
    mut services: Services,
    shutdown: CancellationToken,
) {
    let wake = Arc::new(Notify::new());
    let initial: Vec<Arc<Bridge>> = config.bridges.iter().cloned().map(Arc::new).collect();
    let mut deliverer = Deliverer::new(
        delivery_client(),
        store.clone(),
        &initial,
        &config.global.delivery,
    );
    if let Some(metrics) = &services.metrics {
        deliverer = deliverer.with_attempt_hook(metrics.attempt_hook());
    }
    let deliverer = Arc::new(deliverer);
    let worker = tokio::spawn(run_worker(
        deliverer.clone(),
        wake.clone(),
        shutdown.clone(),
    ));

    let shared = Arc::new(Shared {
        client: source_client(),
        store: store.clone(),
        wake,
        polls: Arc::new(Semaphore::new(config.global.max_concurrent_polls)),
        shutdown: shutdown.clone(),
        metrics: services.metrics.clone(),
    });
    let mut set = BridgeSet::new(shared);
    set.start_all(config.bridges);
    publish(&services, &set);
    crate::systemd::notify_ready(set.bridges().len());

    let mut global = config.global;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            request = next_reload(&mut services.reload) => {
                if request.is_none() {
                    services.reload = None;
                    continue;
                }
                crate::systemd::notify_reloading();
                if let Some(reload) = &services.reload {
                    reload_config(reload, &mut set, &deliverer, &mut global);
                    // A target that a 410 disabled and whose configuration
                    // changed is enabled again, as at start-up.
                    deliverer.review_disabled_targets().await;
                }
                publish(&services, &set);
                crate::systemd::notify_ready(set.bridges().len());
            }
        }
    }

    crate::systemd::notify_stopping();
    set.join_all().await;
    if let Err(error) = worker.await {
        tracing::error!(%error, "the delivery worker panicked");
    }
    tracing::info!("stopped");
}

/// Waits for the next reload request; never resolves without a reload source.
async fn next_reload(reload: &mut Option<Reload>) -> Option<()> {
    match reload {
        Some(reload) => reload.requests.recv().await,
        None => std::future::pending().await,
    }
}

fn publish(services: &Services, set: &BridgeSet) {
    if let Some(live) = &services.live {
        live.set(set.bridges());
    }
}

/// Reads every file again and applies the result, or keeps the running
/// configuration when the new one is invalid.
fn reload_config(
    reload: &Reload,
    set: &mut BridgeSet,
    deliverer: &Deliverer,
    global: &mut GlobalConfig,
) {
    tracing::info!("reloading the configuration");
    let config = match (reload.load)() {
        Ok(config) => config,
        Err(errors) => {
            for error in &errors.0 {
                tracing::error!(%error, "invalid configuration");
            }
            tracing::error!(
                errors = errors.0.len(),
                "reload rejected: the previous configuration stays in force; fix the errors (pollhook check lists them) and reload again"
            );
            return;
        }
    };

    warn_about_restart_keys(global, &config.global);
    global.bridges = config.global.bridges.clone();
    let summary = set.apply(config.bridges);
    deliverer.replace_targets(&set.bridges());
    tracing::info!(
        added = summary.added.len(),
        changed = summary.changed.len(),
        removed = summary.removed.len(),
        unchanged = summary.unchanged.len(),
        "configuration reloaded"
    );
}

/// Warns about global keys whose new values only a restart applies.
fn warn_about_restart_keys(running: &GlobalConfig, loaded: &GlobalConfig) {
    let changed_keys = [
        ("state", differs(&running.state, &loaded.state)),
        (
            "max_concurrent_polls",
            differs(&running.max_concurrent_polls, &loaded.max_concurrent_polls),
        ),
        ("delivery", differs(&running.delivery, &loaded.delivery)),
        ("admin", differs(&running.admin, &loaded.admin)),
    ];
    for (key, changed) in changed_keys {
        if changed {
            tracing::warn!(key, "this key of the global file changed, but a reload does not apply it: restart pollhook to apply it");
        }
    }
}

fn differs<T: serde::Serialize>(running: &T, loaded: &T) -> bool {
    serde_json::to_value(running).ok() != serde_json::to_value(loaded).ok()
}

/// Logs a poll's result: DEBUG for a quiet poll, INFO when it found changes,
/// WARN for a failure (pollhook retries at the next scheduled run).
pub fn log_poll(bridge: &Bridge, result: &Result<PollReport, PollError>) {
    match result {
        Ok(report) => log_report(bridge, report),
        Err(error) => {
            tracing::warn!(bridge = %bridge.name, error = %error, "poll failed: the snapshot is unchanged and the next scheduled poll runs as usual");
        }
    }
}

/// Logs what a successful poll found, with a warning for each duplicate id
/// and for deletions held back by the guard.
pub fn log_report(bridge: &Bridge, report: &PollReport) {
    if report.postponed_until.is_some() {
        // The skipped run was logged where the postponement was found.
        return;
    }
    if let Some(first) = report.duplicates.first() {
        // One line per poll, however many duplicates: the first names where.
        tracing::warn!(bridge = %bridge.name, duplicates = report.duplicates.len(), id = %first.id, first_index = first.first_index, index = first.index, "duplicate item ids in the response: the first occurrence of each id is kept");
    }
    if report.held > 0 {
        tracing::warn!(bridge = %bridge.name, held = report.held, "deletion guard held back deletions: they are sent if the next successful poll still lacks these items");
    }
    if report.baseline && report.events.is_empty() {
        tracing::info!(bridge = %bridge.name, items = report.items, "first poll of this bridge: its items are the baseline");
    } else if report.baseline {
        tracing::info!(bridge = %bridge.name, items = report.items, events = report.events.len(), "first poll of this bridge: every item is announced as created (first_poll = \"emit\")");
    } else if report.events.is_empty() {
        tracing::debug!(bridge = %bridge.name, items = report.items, "poll found no changes");
    } else {
        tracing::info!(bridge = %bridge.name, items = report.items, events = report.events.len(), "poll found changes");
    }
}

//! `pollhook run`: one scheduled task per bridge, the delivery worker, and a
//! clean stop on SIGINT or SIGTERM.
//!
//! Shutdown is a [`CancellationToken`] passed in, never a global. A poll in
//! progress when the token is cancelled is abandoned before it writes. Its
//! commit is one transaction, so it is either complete or absent.

use std::sync::Arc;

use reqwest::Client;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::{Bridge, Config};
use crate::deliver::{delivery_client, run_worker, Deliverer};
use crate::poll::{poll_with_health, PollError, PollMode, PollReport};
use crate::schedule::{run_loop, Schedule};
use crate::source::source_client;
use crate::store::Store;

/// Runs every bridge and the delivery worker until `shutdown` is cancelled.
pub async fn run(config: Config, store: Arc<Store>, shutdown: CancellationToken) {
    let bridges: Vec<Arc<Bridge>> = config.bridges.into_iter().map(Arc::new).collect();
    let wake = Arc::new(Notify::new());
    let polls = Arc::new(Semaphore::new(config.global.max_concurrent_polls));
    let client = source_client();

    let mut tasks = JoinSet::new();
    let deliverer = Arc::new(Deliverer::new(
        delivery_client(),
        store.clone(),
        &bridges,
        &config.global.delivery,
    ));
    tasks.spawn(run_worker(deliverer, wake.clone(), shutdown.clone()));

    for bridge in bridges {
        tracing::info!(bridge = %bridge.name, file = %bridge.file.display(), targets = bridge.targets.len(), "bridge loaded");
        let context = PollContext {
            bridge,
            client: client.clone(),
            store: store.clone(),
            wake: wake.clone(),
            polls: polls.clone(),
            shutdown: shutdown.clone(),
        };
        tasks.spawn(run_bridge(context));
    }

    while tasks.join_next().await.is_some() {}
    tracing::info!("stopped");
}

struct PollContext {
    bridge: Arc<Bridge>,
    client: Client,
    store: Arc<Store>,
    wake: Arc<Notify>,
    polls: Arc<Semaphore>,
    shutdown: CancellationToken,
}

async fn run_bridge(context: PollContext) {
    let schedule = context.bridge.schedule.clone();
    if let Schedule::Cron(cron) = &schedule {
        if let Some(error) = cron.time_zone_fallback() {
            tracing::warn!(bridge = %context.bridge.name, %error, "system time zone not found, so cron runs in UTC: set schedule.timezone");
        }
    }
    let span = tracing::info_span!("bridge", bridge = %context.bridge.name);
    let jitter = context.bridge.jitter;
    let shutdown = context.shutdown.clone();
    let context = Arc::new(context);
    run_loop(schedule, jitter, shutdown, || {
        let context = context.clone();
        async move { poll_scheduled(&context).await }
    })
    .instrument(span)
    .await;
}

async fn poll_scheduled(context: &PollContext) {
    let Ok(_permit) = context.polls.acquire().await else {
        return;
    };
    let poll = poll_with_health(
        context.bridge.clone(),
        &context.client,
        context.store.clone(),
        PollMode::Record,
    );
    let outcome = tokio::select! {
        _ = context.shutdown.cancelled() => {
            tracing::info!(bridge = %context.bridge.name, "poll abandoned for shutdown");
            return;
        }
        outcome = poll => outcome,
    };
    log_poll(&context.bridge, &outcome.result);
    let queued = outcome.health_event.is_some()
        || outcome.result.is_ok_and(|report| !report.events.is_empty());
    if queued {
        context.wake.notify_one();
    }
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
    for duplicate in &report.duplicates {
        tracing::warn!(bridge = %bridge.name, id = %duplicate.id, first_index = duplicate.first_index, index = duplicate.index, "duplicate item id in the response: the first occurrence is kept");
    }
    if report.held > 0 {
        tracing::warn!(bridge = %bridge.name, held = report.held, "deletion guard held back deletions: they are sent if the next successful poll still lacks these items");
    }
    if report.baseline {
        tracing::info!(bridge = %bridge.name, items = report.items, events = report.events.len(), "first poll stored as the baseline");
    } else if report.events.is_empty() {
        tracing::debug!(bridge = %bridge.name, items = report.items, "poll found no changes");
    } else {
        tracing::info!(bridge = %bridge.name, items = report.items, events = report.events.len(), "poll found changes");
    }
}

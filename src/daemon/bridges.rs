//! The running bridges: one scheduled task per bridge, each with its own
//! cancellation token, started, replaced and stopped as the configuration
//! changes.
//!
//! A bridge's token is a child of the daemon's shutdown token. Cancelling
//! only the bridge's token (on reload) stops its schedule but lets a poll in
//! progress finish, so that a replaced bridge never polls at the same time as
//! its successor. Cancelling the shutdown token abandons the poll in
//! progress before it writes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Client;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::log_poll;
use crate::config::{Bridge, Selection};
use crate::ids::BridgeName;
use crate::metrics::Metrics;
use crate::poll::{poll_with_health, PollMode, PollOutcome};
use crate::schedule::{next_interval_slot, run_loop, Schedule};
use crate::store::{unix_millis, Store};

/// The client, store and limits that every bridge task shares.
pub struct Shared {
    pub client: Client,
    pub store: Arc<Store>,
    /// Wakes the delivery worker when a poll queued events.
    pub wake: Arc<Notify>,
    pub polls: Arc<Semaphore>,
    pub shutdown: CancellationToken,
    pub metrics: Option<Arc<Metrics>>,
}

/// The bridges a reload added, changed, removed and left alone.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub added: Vec<BridgeName>,
    pub changed: Vec<BridgeName>,
    pub removed: Vec<BridgeName>,
    pub unchanged: Vec<BridgeName>,
}

/// The bridges the daemon runs, by name.
pub struct BridgeSet {
    shared: Arc<Shared>,
    running: BTreeMap<BridgeName, RunningBridge>,
    /// Tasks of removed bridges that may still finish a poll.
    stopping: Vec<JoinHandle<()>>,
}

struct RunningBridge {
    bridge: Arc<Bridge>,
    token: CancellationToken,
    task: JoinHandle<()>,
}

/// The task a changed bridge's new task waits for before it starts.
struct Predecessor {
    task: JoinHandle<()>,
    /// True when the items or id path changed, so the snapshot is dropped.
    rebaseline: bool,
}

struct PollContext {
    bridge: Arc<Bridge>,
    shared: Arc<Shared>,
}

impl BridgeSet {
    pub fn new(shared: Arc<Shared>) -> BridgeSet {
        BridgeSet {
            shared,
            running: BTreeMap::new(),
            stopping: Vec::new(),
        }
    }

    /// Returns the running bridges in name order.
    pub fn bridges(&self) -> Vec<Arc<Bridge>> {
        self.running
            .values()
            .map(|running| running.bridge.clone())
            .collect()
    }

    /// Starts a task for every bridge of a freshly started daemon.
    pub fn start_all(&mut self, bridges: Vec<Bridge>) {
        for bridge in bridges {
            self.start(Arc::new(bridge), None);
        }
    }

    /// Moves the running bridges to `bridges`: unchanged ones keep running
    /// untouched, changed ones restart with their snapshot, removed ones stop
    /// and new ones start.
    pub fn apply(&mut self, bridges: Vec<Bridge>) -> ReloadSummary {
        let mut summary = ReloadSummary::default();
        let wanted: Vec<BridgeName> = bridges.iter().map(|bridge| bridge.name.clone()).collect();
        let removed: Vec<BridgeName> = self
            .running
            .keys()
            .filter(|name| !wanted.contains(name))
            .cloned()
            .collect();
        for name in removed {
            if let Some(running) = self.running.remove(&name) {
                tracing::info!(bridge = %name, "bridge removed: it stops after any poll in progress");
                running.token.cancel();
                self.stopping.push(running.task);
            }
            summary.removed.push(name);
        }

        for bridge in bridges {
            let name = bridge.name.clone();
            match self.running.remove(&name) {
                None => {
                    self.start(Arc::new(bridge), None);
                    summary.added.push(name);
                }
                Some(running) if running.bridge.fingerprint == bridge.fingerprint => {
                    self.running.insert(name.clone(), running);
                    summary.unchanged.push(name);
                }
                Some(running) => {
                    let rebaseline = selection_paths(&running.bridge.selection)
                        != selection_paths(&bridge.selection);
                    running.token.cancel();
                    let predecessor = Predecessor {
                        task: running.task,
                        rebaseline,
                    };
                    self.start(Arc::new(bridge), Some(predecessor));
                    summary.changed.push(name);
                }
            }
        }
        summary
    }

    /// Waits for every bridge task to end, after the shutdown token was
    /// cancelled.
    pub async fn join_all(self) {
        let tasks = self
            .running
            .into_values()
            .map(|running| running.task)
            .chain(self.stopping);
        for task in tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a bridge task panicked");
            }
        }
    }

    fn start(&mut self, bridge: Arc<Bridge>, predecessor: Option<Predecessor>) {
        tracing::info!(bridge = %bridge.name, file = %bridge.file.display(), targets = bridge.targets.len(), "bridge loaded");
        let token = self.shared.shutdown.child_token();
        let context = Arc::new(PollContext {
            bridge: bridge.clone(),
            shared: self.shared.clone(),
        });
        let span = tracing::info_span!("bridge", bridge = %bridge.name);
        let task = tokio::spawn(run_bridge(context, token.clone(), predecessor).instrument(span));
        self.stopping.retain(|task| !task.is_finished());
        self.running.insert(
            bridge.name.clone(),
            RunningBridge {
                bridge,
                token,
                task,
            },
        );
    }
}

/// Returns the paths that decide which item is which. When they change, the
/// stored item ids no longer match the new ones, so the snapshot is rebuilt.
fn selection_paths(selection: &Selection) -> (&'static str, String, String) {
    match selection {
        Selection::Items(spec) => ("items", spec.path.to_string(), spec.id.to_string()),
        Selection::Document(spec) => ("document", spec.path.to_string(), String::new()),
    }
}

async fn run_bridge(
    context: Arc<PollContext>,
    token: CancellationToken,
    predecessor: Option<Predecessor>,
) {
    if let Some(predecessor) = predecessor {
        // The old task finishes the poll it may be running; only then may
        // this one read the snapshot.
        if let Err(error) = predecessor.task.await {
            tracing::error!(%error, "the bridge's previous task panicked");
        }
        if predecessor.rebaseline && !token.is_cancelled() {
            rebaseline(&context).await;
        }
    }
    if token.is_cancelled() {
        return;
    }

    let schedule = context.bridge.schedule.clone();
    if let Schedule::Cron(cron) = &schedule {
        if let Some(error) = cron.time_zone_fallback() {
            tracing::warn!(bridge = %context.bridge.name, %error, "system time zone not found, so cron runs in UTC: set schedule.timezone");
        }
    }
    let anchor = Instant::now();
    record_next_poll(&context, next_poll(&schedule, anchor, true)).await;
    run_loop(schedule.clone(), context.bridge.jitter, token, || {
        let context = context.clone();
        let schedule = schedule.clone();
        async move {
            poll_scheduled(&context).await;
            record_next_poll(&context, next_poll(&schedule, anchor, false)).await;
        }
    })
    .await;
    record_next_poll(&context, None).await;
}

async fn rebaseline(context: &PollContext) {
    let store = context.shared.store.clone();
    let name = context.bridge.name.clone();
    let result = tokio::task::spawn_blocking(move || store.reset_baseline(&name)).await;
    match result {
        Ok(Ok(())) => {
            tracing::warn!(bridge = %context.bridge.name, "items path or id path changed: the snapshot was dropped and the next poll is a silent baseline");
        }
        Ok(Err(error)) => {
            tracing::error!(bridge = %context.bridge.name, %error, "failed to drop the snapshot after the items path or id path changed: the next poll compares against the old snapshot");
        }
        Err(error) => {
            tracing::error!(bridge = %context.bridge.name, %error, "failed to drop the snapshot after the items path or id path changed");
        }
    }
}

async fn poll_scheduled(context: &PollContext) {
    let shared = &context.shared;
    let Ok(_permit) = shared.polls.acquire().await else {
        return;
    };
    let poll = poll_with_health(
        context.bridge.clone(),
        &shared.client,
        shared.store.clone(),
        PollMode::Record,
    );
    let started = Instant::now();
    let outcome = tokio::select! {
        _ = shared.shutdown.cancelled() => {
            tracing::info!(bridge = %context.bridge.name, "poll abandoned for shutdown");
            return;
        }
        outcome = poll => outcome,
    };
    log_poll(&context.bridge, &outcome.result);
    if let Some(metrics) = &shared.metrics {
        record_metrics(metrics, &context.bridge, &outcome, started.elapsed());
    }
    let queued = outcome.health_event.is_some()
        || outcome
            .result
            .as_ref()
            .is_ok_and(|report| !report.events.is_empty());
    if queued {
        shared.wake.notify_one();
    }
}

fn record_metrics(metrics: &Metrics, bridge: &Bridge, outcome: &PollOutcome, took: Duration) {
    let name = bridge.name.as_str();
    metrics.record_poll(name, outcome.result.is_ok(), took.as_secs_f64());
    let events = outcome.result.iter().flat_map(|report| &report.events);
    for event in events.chain(&outcome.health_event) {
        metrics.record_event(name, event.kind);
    }
}

/// Returns when the schedule runs next, without jitter. The interval grid is
/// anchored where the scheduling loop started, so `first` is the start itself.
fn next_poll(schedule: &Schedule, anchor: Instant, first: bool) -> Option<DateTime<Utc>> {
    let now = Utc::now();
    match schedule {
        Schedule::Every(_) if first => Some(now),
        Schedule::Every(every) => {
            let current = Instant::now();
            let slot = next_interval_slot(anchor, *every, current)?;
            let wait = slot.saturating_duration_since(current);
            Some(now + chrono::TimeDelta::from_std(wait).unwrap_or_default())
        }
        Schedule::Cron(cron) => cron.next_after(now),
    }
}

/// Stores the next poll for `pollhook status`; a failure is only logged,
/// because polling goes on without it.
async fn record_next_poll(context: &PollContext, at: Option<DateTime<Utc>>) {
    let store = context.shared.store.clone();
    let name = context.bridge.name.clone();
    let result =
        tokio::task::spawn_blocking(move || store.set_next_poll(&name, at.map(unix_millis))).await;
    if let Ok(Err(error)) = result {
        tracing::warn!(bridge = %context.bridge.name, %error, "failed to record the next poll time");
    }
}

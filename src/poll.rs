//! One poll of one bridge: request the source, select the items, compare them
//! with the snapshot and commit the new snapshot with its events.
//!
//! A poll that fails at any step writes nothing but its failure record: no
//! item events, and the snapshot stays as it was. The failure record may
//! queue one `bridge.failing` event, and the first successful poll after it
//! one `bridge.recovered` event, each in the transaction of its poll.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde_json::Value;
use thiserror::Error;

use crate::config::{Bridge, FirstPoll, Selection};
use crate::diff::{diff_document, diff_items, Change};
use crate::event::{bridge_failing_event, bridge_recovered_event, new_event};
use crate::extract::{extract_items, select_document, DuplicateId, ExtractError};
use crate::source::{fetch, FetchError};
use crate::store::{
    unix_millis, FailureStreak, NewEvent, PlannedCommit, PollFailure, Snapshot, Store, StoreError,
};

/// Whether a poll writes its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    Record,
    /// Compute the events but write and send nothing.
    DryRun,
}

/// The result of a successful poll.
#[derive(Debug, Default)]
pub struct PollReport {
    pub events: Vec<NewEvent>,
    /// True when this poll stored the first snapshot silently.
    pub baseline: bool,
    pub items: usize,
    /// Deletions held back by the deletion guard.
    pub held: usize,
    pub duplicates: Vec<DuplicateId>,
    /// The `bridge.recovered` event queued by this poll, if it ended a run of
    /// failures that had been reported.
    pub recovered: Option<NewEvent>,
}

#[derive(Debug, Error)]
pub enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the poll task stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A poll's result together with the health event it queued, if any.
#[derive(Debug)]
pub struct PollOutcome {
    pub result: Result<PollReport, PollError>,
    /// A `bridge.failing` event queued by a failed poll, or a
    /// `bridge.recovered` event queued by a successful one.
    pub health_event: Option<NewEvent>,
}

/// Polls `bridge` once and, in [`PollMode::Record`], commits the result.
///
/// A failure counts toward the bridge's failure streak but never queues
/// `bridge.failing`: that event describes the daemon's scheduled polls, and
/// a person running `pollhook poll` by hand (often on a bridge the daemon
/// does not run yet) gets the error on the terminal. A success that ends a
/// reported outage still queues `bridge.recovered`.
pub async fn poll_once(
    bridge: Arc<Bridge>,
    client: &Client,
    store: Arc<Store>,
    mode: PollMode,
) -> Result<PollReport, PollError> {
    poll_recording_health(bridge, client, store, mode, false)
        .await
        .result
}

/// Polls `bridge` once like [`poll_once`], for the daemon's schedule: a
/// failure may also queue `bridge.failing`. Returns the health event that
/// the poll queued, if any.
pub async fn poll_with_health(
    bridge: Arc<Bridge>,
    client: &Client,
    store: Arc<Store>,
    mode: PollMode,
) -> PollOutcome {
    poll_recording_health(bridge, client, store, mode, true).await
}

async fn poll_recording_health(
    bridge: Arc<Bridge>,
    client: &Client,
    store: Arc<Store>,
    mode: PollMode,
    may_report_failing: bool,
) -> PollOutcome {
    let started_at = Utc::now();
    let fetched = fetch(client, &bridge.source).await;

    let task_bridge = bridge.clone();
    let task_store = store.clone();
    let mut result = match fetched {
        Ok(document) => tokio::task::spawn_blocking(move || {
            apply_response(&task_bridge, &task_store, document, mode, started_at)
        })
        .await
        .map_err(PollError::from)
        .and_then(|result| result),
        Err(error) => Err(error.into()),
    };

    let health_event = match &mut result {
        Ok(report) if mode == PollMode::Record => report.recovered.take(),
        Ok(report) => {
            // A dry run writes nothing, so it queued no event either.
            report.recovered = None;
            None
        }
        Err(error) if mode == PollMode::Record && !matches!(error, PollError::Store(_)) => {
            record_failure(&bridge, &store, error, started_at, may_report_failing).await
        }
        Err(_) => None,
    };
    if let Some(event) = &health_event {
        log_health_event(&bridge, event);
    }
    PollOutcome {
        result,
        health_event,
    }
}

/// Records a failed poll and, when `may_report_failing` is set, queues
/// `bridge.failing` if this failure reaches the bridge's `failing_after`.
async fn record_failure(
    bridge: &Arc<Bridge>,
    store: &Arc<Store>,
    error: &PollError,
    started_at: DateTime<Utc>,
    may_report_failing: bool,
) -> Option<NewEvent> {
    let message = crate::redact::mask(&error.to_string()).into_owned();
    let task_bridge = bridge.clone();
    let task_store = store.clone();
    let recorded = tokio::task::spawn_blocking(move || {
        let targets = target_keys(&task_bridge);
        let failure = PollFailure {
            bridge: &task_bridge.name,
            error: &message,
            polled_at: unix_millis(started_at),
            targets: &targets,
        };
        task_store.record_poll_failure(&failure, |streak| {
            if !may_report_failing {
                return None;
            }
            failing_event(&task_bridge, &message, streak, started_at)
        })
    })
    .await;
    match recorded {
        Ok(Ok(event)) => event,
        Ok(Err(store_error)) => {
            tracing::error!(bridge = %bridge.name, error = %store_error, "cannot record the failed poll");
            None
        }
        Err(join_error) => {
            tracing::error!(bridge = %bridge.name, error = %join_error, "cannot record the failed poll");
            None
        }
    }
}

/// Builds `bridge.failing` once per run of failures, when the run reaches
/// the bridge's `failing_after`.
fn failing_event(
    bridge: &Bridge,
    message: &str,
    streak: &FailureStreak,
    now: DateTime<Utc>,
) -> Option<NewEvent> {
    let health = bridge.emit.health;
    if !health.enabled || streak.reported || streak.failed_polls < health.failing_after {
        return None;
    }
    let since = DateTime::from_timestamp_millis(streak.since).unwrap_or(now);
    Some(bridge_failing_event(
        &bridge.name,
        message,
        streak.failed_polls,
        since,
        now,
    ))
}

/// Builds `bridge.recovered` when the run of failures that just ended had
/// sent `bridge.failing`.
fn recovered_event(
    bridge: &Bridge,
    streak: &FailureStreak,
    now: DateTime<Utc>,
) -> Option<NewEvent> {
    if !bridge.emit.health.enabled || !streak.reported {
        return None;
    }
    let since = DateTime::from_timestamp_millis(streak.since).unwrap_or(now);
    Some(bridge_recovered_event(
        &bridge.name,
        streak.failed_polls,
        since,
        now,
    ))
}

fn log_health_event(bridge: &Bridge, event: &NewEvent) {
    if event.kind == "bridge.failing" {
        tracing::error!(bridge = %bridge.name, event_id = %event.event_id, failing_after = bridge.emit.health.failing_after, "bridge is failing: bridge.failing event queued");
    } else {
        tracing::info!(bridge = %bridge.name, event_id = %event.event_id, "bridge recovered: bridge.recovered event queued");
    }
}

fn target_keys(bridge: &Bridge) -> Vec<String> {
    bridge
        .targets
        .iter()
        .map(|target| target.key.clone())
        .collect()
}

/// Compares a parsed response with the snapshot and, in record mode, commits
/// the new snapshot and the events in one transaction.
pub fn apply_response(
    bridge: &Bridge,
    store: &Store,
    document: Value,
    mode: PollMode,
    started_at: DateTime<Utc>,
) -> Result<PollReport, PollError> {
    match mode {
        PollMode::DryRun => {
            let snapshot = store.load_snapshot(&bridge.name)?;
            plan_poll(bridge, &snapshot, &document, started_at).map(|(_, report)| report)
        }
        PollMode::Record => store.commit_poll_with(&bridge.name, |snapshot| {
            plan_poll(bridge, snapshot, &document, started_at)
        }),
    }
}

/// Compares a parsed response with `snapshot` and decides what to write.
/// Pure: the caller reads the snapshot and commits the plan.
fn plan_poll(
    bridge: &Bridge,
    snapshot: &Snapshot,
    document: &Value,
    started_at: DateTime<Utc>,
) -> Result<(PlannedCommit, PollReport), PollError> {
    let mut report = PollReport {
        baseline: !snapshot.baselined,
        ..PollReport::default()
    };

    let (changes, writes, watched) = match &bridge.selection {
        Selection::Items(spec) => {
            let extraction = extract_items(document, spec)?;
            let diff = diff_items(
                &snapshot.items,
                &extraction.items,
                &spec.ignore,
                bridge.emit.delete_policy,
            );
            report.items = extraction.items.len();
            report.held = diff.held;
            report.duplicates = extraction.duplicates;
            (diff.changes, diff.writes, None)
        }
        Selection::Document(spec) => {
            let watched = select_document(document, spec)?;
            let change = diff_document(snapshot.document.as_ref(), &watched, &spec.ignore);
            report.items = 1;
            (change.into_iter().collect(), Vec::new(), Some(watched))
        }
    };

    let announce = !report.baseline || bridge.emit.first_poll == FirstPoll::Emit;
    if announce {
        report.events = changes
            .iter()
            .filter(|change| wanted(bridge, change))
            .map(|change| new_event(&bridge.name, change, started_at))
            .collect();
    }

    // Ending a reported outage queues bridge.recovered in the same commit.
    report.recovered = recovered_event(bridge, &snapshot.streak, started_at);
    let mut events = report.events.clone();
    events.extend(report.recovered.clone());
    let planned = PlannedCommit {
        writes,
        document: watched,
        events,
        targets: target_keys(bridge),
        polled_at: unix_millis(started_at),
    };
    Ok((planned, report))
}

fn wanted(bridge: &Bridge, change: &Change) -> bool {
    match change {
        Change::Created { .. } => bridge.emit.created,
        Change::Updated { .. } => bridge.emit.updated,
        Change::Deleted { .. } => bridge.emit.deleted,
        Change::DocumentChanged { .. } => true,
    }
}

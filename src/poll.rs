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
use crate::diff::{diff_document, diff_items_with, AbsentItems, Change};
use crate::event::{bridge_failing_event, bridge_recovered_event, new_event};
use crate::extract::{extract_pages, select_document, DuplicateId, ExtractError, ItemsMode};
use crate::source::{fetch_source, FetchError, Outcome};
use crate::store::{
    unix_millis, FailureStreak, NewEvent, PlannedCommit, PollFailure, Snapshot, SourceState, Store,
    StoreError, Validators,
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
    /// True when the source returned 304 Not Modified.
    pub not_modified: bool,
    /// Set when no request was sent because the source's rate limit asked
    /// to wait until then.
    pub postponed_until: Option<DateTime<Utc>>,
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

/// The result of the source's requests, ready to be compared and committed.
#[derive(Debug)]
pub struct Response {
    /// The parsed body of every page; empty for a 304.
    pub pages: Vec<Value>,
    pub not_modified: bool,
    pub validators: Option<Validators>,
}

/// The cause of a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// A scheduled run, which honours the source's rate limit.
    Schedule,
    /// An operator's `pollhook poll`, which requests the source regardless.
    Operator,
}

/// A poll's result together with the health event it queued, if any.
#[derive(Debug)]
pub struct PollOutcome {
    pub result: Result<PollReport, PollError>,
    /// A `bridge.failing` event queued by a failed poll, or a
    /// `bridge.recovered` event queued by a successful one.
    pub health_event: Option<NewEvent>,
}

/// Polls `bridge` once for its schedule and returns the result. A bridge
/// whose source asked to wait (a rate limit) sends no request until then:
/// the poll returns at once with `postponed_until` set.
pub async fn poll_once(
    bridge: Arc<Bridge>,
    client: &Client,
    store: Arc<Store>,
    mode: PollMode,
) -> Result<PollReport, PollError> {
    poll(bridge, client, store, mode, Trigger::Schedule)
        .await
        .result
}

/// Polls `bridge` once for the daemon's schedule, as [`poll_once`] does; a
/// failure may also queue `bridge.failing`. Returns the health event that the
/// poll queued, if any.
pub async fn poll_with_health(
    bridge: Arc<Bridge>,
    client: &Client,
    store: Arc<Store>,
    mode: PollMode,
) -> PollOutcome {
    poll(bridge, client, store, mode, Trigger::Schedule).await
}

/// Polls `bridge` once on an operator's request (`pollhook poll`), even
/// during a rate-limit postponement; a postponement in the response is still
/// stored for the scheduled runs.
///
/// A failure counts toward the bridge's failure streak but never queues
/// `bridge.failing`: that event describes the daemon's scheduled polls, and
/// the person running the command sees the error on the terminal. A success
/// that ends a reported outage still queues `bridge.recovered`.
pub async fn poll_now(
    bridge: Arc<Bridge>,
    client: &Client,
    store: Arc<Store>,
    mode: PollMode,
) -> Result<PollReport, PollError> {
    poll(bridge, client, store, mode, Trigger::Operator)
        .await
        .result
}

async fn poll(
    bridge: Arc<Bridge>,
    client: &Client,
    store: Arc<Store>,
    mode: PollMode,
    trigger: Trigger,
) -> PollOutcome {
    let started_at = Utc::now();
    let mut result = request_and_apply(&bridge, client, &store, mode, trigger, started_at).await;

    let health_event = match &mut result {
        Ok(report) if mode == PollMode::Record => report.recovered.take(),
        Ok(report) => {
            // A dry run writes nothing, so it queued no event either.
            report.recovered = None;
            None
        }
        Err(error) if mode == PollMode::Record && !matches!(error, PollError::Store(_)) => {
            let may_report_failing = trigger == Trigger::Schedule;
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

/// Requests the source (unless a rate limit postpones it) and compares and
/// commits the response.
async fn request_and_apply(
    bridge: &Arc<Bridge>,
    client: &Client,
    store: &Arc<Store>,
    mode: PollMode,
    trigger: Trigger,
    started_at: DateTime<Utc>,
) -> Result<PollReport, PollError> {
    let state = blocking(store, {
        let name = bridge.name.clone();
        move |store| Ok(store.load_source_state(&name)?)
    })
    .await?;
    let postponed_until = postponed(&state, started_at).filter(|_| trigger == Trigger::Schedule);
    if let Some(until) = postponed_until {
        tracing::debug!(bridge = %bridge.name, until = %until, "run skipped: the source's rate limit asked to wait");
        return Ok(PollReport {
            postponed_until: Some(until),
            ..PollReport::default()
        });
    }

    let items_path = match &bridge.selection {
        Selection::Items(spec) => Some(&spec.path),
        Selection::Document(_) => None,
    };
    let fetched = fetch_source(client, &bridge.source, items_path, &state).await;
    let postpone_until = match &fetched {
        Ok(fetched) => fetched.postpone_until,
        Err(error) => error.postpone_until(),
    };
    if let (Some(until), PollMode::Record) = (postpone_until, mode) {
        postpone(bridge, store, until).await;
    }

    let response = match fetched?.outcome {
        Outcome::NotModified => Response {
            pages: Vec::new(),
            not_modified: true,
            validators: None,
        },
        Outcome::Pages { pages, validators } => Response {
            pages,
            not_modified: false,
            validators,
        },
    };
    let task_bridge = bridge.clone();
    blocking(store, move |store| {
        apply_pages(&task_bridge, store, response, mode, started_at)
    })
    .await
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
    let response = Response {
        pages: vec![document],
        not_modified: false,
        validators: None,
    };
    apply_pages(bridge, store, response, mode, started_at)
}

/// Compares the items of every page with the snapshot and, in record mode,
/// commits the new snapshot, the events and the source's validators in one
/// transaction. A 304 commits only that the poll succeeded.
pub fn apply_pages(
    bridge: &Bridge,
    store: &Store,
    response: Response,
    mode: PollMode,
    started_at: DateTime<Utc>,
) -> Result<PollReport, PollError> {
    if response.not_modified {
        tracing::debug!(bridge = %bridge.name, "source returned 304 Not Modified: nothing changed");
    }
    match mode {
        PollMode::DryRun => {
            let snapshot = store.load_snapshot(&bridge.name)?;
            plan_poll(bridge, &snapshot, &response, started_at).map(|(_, report)| report)
        }
        PollMode::Record => store.commit_poll_with(&bridge.name, |snapshot| {
            plan_poll(bridge, snapshot, &response, started_at)
        }),
    }
}

/// Compares the response with `snapshot` and decides what to write. Pure:
/// the caller reads the snapshot and commits the plan, in record mode inside
/// one transaction, so that two processes never announce one change twice.
fn plan_poll(
    bridge: &Bridge,
    snapshot: &Snapshot,
    response: &Response,
    started_at: DateTime<Utc>,
) -> Result<(PlannedCommit, PollReport), PollError> {
    let polled_at = unix_millis(started_at);
    if response.not_modified {
        return Ok(plan_not_modified(bridge, snapshot, started_at));
    }
    let mut report = PollReport {
        baseline: !snapshot.baselined,
        ..PollReport::default()
    };

    let mut seen = Vec::new();
    let (changes, writes, watched) = match &bridge.selection {
        Selection::Items(spec) => {
            let extraction = extract_pages(&response.pages, spec)?;
            let absent_items = match spec.mode {
                ItemsMode::Full => AbsentItems::Delete(bridge.emit.delete_policy),
                ItemsMode::Incremental { .. } => AbsentItems::Keep,
            };
            let diff = diff_items_with(
                &snapshot.items,
                &extraction.items,
                spec.comparison(),
                absent_items,
            );
            if matches!(spec.mode, ItemsMode::Incremental { .. }) {
                seen = extraction
                    .items
                    .iter()
                    .map(|item| item.id.clone())
                    .collect();
            }
            report.items = extraction.items.len();
            report.held = diff.held;
            report.duplicates = extraction.duplicates;
            (diff.changes, diff.writes, None)
        }
        Selection::Document(spec) => {
            let document = response.pages.first().unwrap_or(&Value::Null);
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
        polled_at,
        validators: response.validators.clone(),
        keep_validators: false,
        seen,
        forget_before: forget_before(bridge, polled_at),
    };
    Ok((planned, report))
}

/// Plans a 304 Not Modified: nothing changes, the stored validators stay,
/// and a reported outage ends.
fn plan_not_modified(
    bridge: &Bridge,
    snapshot: &Snapshot,
    started_at: DateTime<Utc>,
) -> (PlannedCommit, PollReport) {
    let recovered = recovered_event(bridge, &snapshot.streak, started_at);
    let planned = PlannedCommit {
        events: recovered.iter().cloned().collect(),
        targets: target_keys(bridge),
        polled_at: unix_millis(started_at),
        keep_validators: true,
        ..PlannedCommit::default()
    };
    let report = PollReport {
        not_modified: true,
        recovered,
        ..PollReport::default()
    };
    (planned, report)
}

/// Returns the time until which the source asked to wait, if that is later
/// than `now`.
fn postponed(state: &SourceState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let until = DateTime::from_timestamp_millis(state.postponed_until?)?;
    (until > now).then_some(until)
}

/// Stores a postponement and logs it once; the runs it skips log at DEBUG.
async fn postpone(bridge: &Arc<Bridge>, store: &Arc<Store>, until: DateTime<Utc>) {
    tracing::warn!(bridge = %bridge.name, until = %until, "source rate limit reached: requests of this bridge wait until then, and runs due before are skipped");
    let name = bridge.name.clone();
    let stored = blocking(store, move |store| {
        store
            .postpone_source(&name, unix_millis(until))
            .map_err(PollError::from)
    })
    .await;
    if let Err(error) = stored {
        tracing::error!(bridge = %bridge.name, %error, "cannot store the rate-limit postponement");
    }
}

/// Runs a database call on the blocking thread pool.
async fn blocking<T, F>(store: &Arc<Store>, call: F) -> Result<T, PollError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, PollError> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(&store)).await?
}

/// Returns the time before which unseen items are forgotten, for an
/// incremental bridge with `forget_after`.
fn forget_before(bridge: &Bridge, polled_at: i64) -> Option<i64> {
    let Selection::Items(spec) = &bridge.selection else {
        return None;
    };
    let ItemsMode::Incremental {
        forget_after: Some(forget_after),
    } = spec.mode
    else {
        return None;
    };
    let millis = i64::try_from(forget_after.as_millis()).unwrap_or(i64::MAX);
    Some(polled_at.saturating_sub(millis))
}

fn wanted(bridge: &Bridge, change: &Change) -> bool {
    match change {
        Change::Created { .. } => bridge.emit.created,
        Change::Updated { .. } => bridge.emit.updated,
        Change::Deleted { .. } => bridge.emit.deleted,
        Change::DocumentChanged { .. } => true,
    }
}

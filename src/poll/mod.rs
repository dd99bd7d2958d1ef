//! One poll of one bridge: request the source, select the items, compare them
//! with the snapshot and commit the new snapshot with its events.
//!
//! A poll that fails at any step writes nothing but its failure record: no
//! item events, and the snapshot stays as it was. The failure record may
//! queue one `bridge.failing` event, and the first successful poll after it
//! one `bridge.recovered` event, each in the transaction of its poll.

mod health;
mod plan;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde_json::Value;
use thiserror::Error;

use crate::config::{Bridge, Selection};
use crate::extract::{DuplicateId, ExtractError};
use crate::source::{fetch_source, FetchError, Outcome};
use crate::store::{unix_millis, NewEvent, SourceState, Store, StoreError, Validators};
use health::{log_health_event, record_failure};
use plan::plan_poll;

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
/// the person running the command gets the error on the terminal. A success
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

pub(crate) fn target_keys(bridge: &Bridge) -> Vec<String> {
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

//! One poll of one bridge: request the source, select the items, compare them
//! with the snapshot and commit the new snapshot with its events.
//!
//! A poll that fails at any step writes nothing but its failure record: no
//! events, and the snapshot stays as it was.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde_json::Value;
use thiserror::Error;

use crate::config::{Bridge, FirstPoll, Selection};
use crate::diff::{diff_document, diff_items_with, AbsentItems, Change};
use crate::event::new_event;
use crate::extract::{extract_items, select_document, DuplicateId, ExtractError, ItemsMode};
use crate::source::{fetch, FetchError};
use crate::store::{unix_millis, NewEvent, PollCommit, SourceCommit, Store, StoreError};

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

/// Polls `bridge` once and, in [`PollMode::Record`], commits the result.
pub async fn poll_once(
    bridge: Arc<Bridge>,
    client: &Client,
    store: Arc<Store>,
    mode: PollMode,
) -> Result<PollReport, PollError> {
    let started_at = Utc::now();
    let fetched = fetch(client, &bridge.source).await;

    let task_bridge = bridge.clone();
    let task_store = store.clone();
    let result = match fetched {
        Ok(document) => tokio::task::spawn_blocking(move || {
            apply_response(&task_bridge, &task_store, document, mode, started_at)
        })
        .await
        .map_err(PollError::from)
        .and_then(|result| result),
        Err(error) => Err(error.into()),
    };

    if let Err(error) = &result {
        if mode == PollMode::Record && !matches!(error, PollError::Store(_)) {
            let message = crate::redact::mask(&error.to_string()).into_owned();
            let name = bridge.name.clone();
            let recorded = tokio::task::spawn_blocking(move || {
                store.record_poll_failure(&name, &message, unix_millis(started_at))
            })
            .await;
            if let Ok(Err(store_error)) = recorded {
                tracing::error!(bridge = %bridge.name, error = %store_error, "cannot record the failed poll");
            }
        }
    }
    result
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
    let snapshot = store.load_snapshot(&bridge.name)?;
    let mut report = PollReport {
        baseline: !snapshot.baselined,
        ..PollReport::default()
    };

    let mut seen = Vec::new();
    let (changes, writes, watched) = match &bridge.selection {
        Selection::Items(spec) => {
            let extraction = extract_items(&document, spec)?;
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
            let watched = select_document(&document, spec)?;
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

    if mode == PollMode::Record {
        let targets: Vec<String> = bridge
            .targets
            .iter()
            .map(|target| target.key.clone())
            .collect();
        let polled_at = unix_millis(started_at);
        let source = SourceCommit {
            seen: &seen,
            forget_before: forget_before(bridge, polled_at),
            ..SourceCommit::default()
        };
        store.commit_poll_with_source(
            &PollCommit {
                bridge: &bridge.name,
                writes: &writes,
                document: watched.as_ref(),
                events: &report.events,
                targets: &targets,
                polled_at,
            },
            &source,
        )?;
    }
    Ok(report)
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

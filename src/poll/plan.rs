//! The pure part of a poll: the parsed response and the stored snapshot in,
//! the snapshot writes, the events and the report out. No I/O.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::health::recovered_event;
use super::{target_keys, PollError, PollReport, Response};
use crate::config::{Bridge, FirstPoll, Selection};
use crate::diff::{diff_document, diff_items_with, AbsentItems, Change};
use crate::event::new_event;
use crate::extract::{extract_pages, select_document, ItemsMode};
use crate::store::{unix_millis, PlannedCommit, Snapshot};

/// Compares the response with `snapshot` and decides what to write. Pure:
/// the caller reads the snapshot and commits the plan, in record mode inside
/// one transaction, so that two processes never announce one change twice.
pub(super) fn plan_poll(
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

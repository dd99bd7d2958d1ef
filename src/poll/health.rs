//! Bridge health events: `bridge.failing` once a run of failed polls reaches
//! `failing_after`, and `bridge.recovered` when a poll succeeds after one was
//! sent. Each is queued in the transaction of the poll that caused it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{target_keys, PollError};
use crate::config::Bridge;
use crate::event::{bridge_failing_event, bridge_recovered_event};
use crate::store::{unix_millis, FailureStreak, NewEvent, PollFailure, Store};

/// Records a failed poll and, when `may_report_failing` is set, queues
/// `bridge.failing` if this failure reaches the bridge's `failing_after`.
pub(super) async fn record_failure(
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
pub(super) fn recovered_event(
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

pub(super) fn log_health_event(bridge: &Bridge, event: &NewEvent) {
    if event.kind == "bridge.failing" {
        tracing::error!(bridge = %bridge.name, event_id = %event.event_id, failing_after = bridge.emit.health.failing_after, "bridge is failing: bridge.failing event queued");
    } else {
        tracing::info!(bridge = %bridge.name, event_id = %event.event_id, "bridge recovered: bridge.recovered event queued");
    }
}

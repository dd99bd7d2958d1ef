//! The delivery outbox: one row per event and target, sent in `seq` order
//! within each lane (one bridge to one target).

use rusqlite::{params, Row, Transaction};

use super::{Store, StoreError};
use crate::ids::{BridgeName, EventId, ItemId};

/// An event ready to be queued; `body` is the exact bytes every attempt sends.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: EventId,
    pub kind: &'static str,
    pub item_id: Option<ItemId>,
    pub body: Vec<u8>,
}

/// The oldest pending delivery of one lane.
#[derive(Debug, Clone)]
pub struct PendingDelivery {
    pub delivery_id: i64,
    /// Queue position of the event; lanes deliver in this order.
    pub event_seq: i64,
    pub bridge: String,
    pub target: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Unix milliseconds.
    pub next_attempt_at: i64,
    pub event_id: EventId,
    pub body: Vec<u8>,
}

/// One attempt's result, as stored.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempted_at: i64,
    pub duration_ms: i64,
    /// One of `ok`, `timeout`, `connect`, `tls`, `redirect`, `status`.
    pub outcome: &'static str,
    pub status_code: Option<u16>,
    /// The masked error text.
    pub error: Option<String>,
    /// The start of the response body.
    pub response_body: Option<String>,
}

/// The state of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Delivered,
    /// Try again at this Unix millisecond.
    Retry {
        at: i64,
    },
    Failed,
}

const HEAD_COLUMNS: &str =
    "d.id, d.event_seq, d.bridge, d.target, d.attempts, d.next_attempt_at, e.event_id, e.body";

/// Queues `events` for every target, in the given order.
pub(super) fn insert_events(
    transaction: &Transaction<'_>,
    bridge: &BridgeName,
    events: &[NewEvent],
    targets: &[String],
    now: i64,
) -> Result<(), StoreError> {
    let mut insert_event = transaction.prepare_cached(
        "INSERT INTO events (event_id, bridge, type, item_id, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut insert_lane = transaction
        .prepare_cached("INSERT OR IGNORE INTO lanes (bridge, target) VALUES (?1, ?2)")?;
    for target in targets {
        insert_lane.execute(params![bridge.as_str(), target])?;
    }
    let mut insert_delivery = transaction.prepare_cached(
        "INSERT INTO deliveries (event_seq, bridge, target, status, next_attempt_at, updated_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?4)",
    )?;
    for event in events {
        insert_event.execute(params![
            event.event_id.as_str(),
            bridge.as_str(),
            event.kind,
            event.item_id.as_ref().map(ItemId::as_str),
            event.body,
            now
        ])?;
        let seq = transaction.last_insert_rowid();
        for target in targets {
            insert_delivery.execute(params![seq, bridge.as_str(), target, now])?;
        }
    }
    Ok(())
}

impl Store {
    /// Returns the oldest pending delivery of every lane whose target is not
    /// disabled, due or not, optionally for one bridge only.
    ///
    /// Each lane's head is found through the lane index, so the cost depends
    /// on the number of lanes, not on the length of the queue.
    pub fn lane_heads(&self, bridge: Option<&str>) -> Result<Vec<PendingDelivery>, StoreError> {
        let connection = self.lock();
        let sql = format!(
            "SELECT {HEAD_COLUMNS} FROM lanes l
             JOIN deliveries d ON d.id = (
                 SELECT id FROM deliveries
                 WHERE bridge = l.bridge AND target = l.target AND status = 'pending'
                 ORDER BY event_seq LIMIT 1)
             JOIN events e ON e.seq = d.event_seq
             WHERE (?1 IS NULL OR l.bridge = ?1)
               AND l.target NOT IN (SELECT target FROM disabled_targets)
             ORDER BY d.next_attempt_at, d.event_seq"
        );
        let mut statement = connection.prepare_cached(&sql)?;
        let heads = statement
            .query_map([bridge], read_head)?
            .collect::<Result<_, _>>()?;
        Ok(heads)
    }

    /// Returns up to `limit` pending deliveries of one lane after queue
    /// position `after_seq`, in queue order.
    pub fn pending_in_lane(
        &self,
        bridge: &str,
        target: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<PendingDelivery>, StoreError> {
        let connection = self.lock();
        let sql = format!(
            "SELECT {HEAD_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
             WHERE d.bridge = ?1 AND d.target = ?2 AND d.status = 'pending' AND d.event_seq > ?3
             ORDER BY d.event_seq LIMIT ?4"
        );
        let mut statement = connection.prepare_cached(&sql)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement
            .query_map(params![bridge, target, after_seq, limit], read_head)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Returns the lanes that have pending deliveries and an enabled target.
    pub fn lanes_with_pending(&self) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT l.bridge, l.target FROM lanes l
             WHERE l.target NOT IN (SELECT target FROM disabled_targets)
               AND EXISTS (SELECT 1 FROM deliveries d
                           WHERE d.bridge = l.bridge AND d.target = l.target AND d.status = 'pending')",
        )?;
        let lanes = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(lanes)
    }

    /// Records an attempt and moves the delivery to `state`.
    pub fn record_attempt(
        &self,
        delivery_id: i64,
        attempt: &AttemptRecord,
        state: DeliveryState,
    ) -> Result<(), StoreError> {
        self.record_attempts(&[(delivery_id, attempt.clone(), state)])
    }

    /// Records several attempts in one transaction.
    ///
    /// A delivery moves to its new state only while it is pending and no
    /// operator changed it after the attempt started, with `redeliver` or
    /// `targets move`. Any other attempt stays in the history but changes
    /// nothing. So a stale lane can neither mark a moved event failed nor flip
    /// a delivered one back.
    pub fn record_attempts(
        &self,
        attempts: &[(i64, AttemptRecord, DeliveryState)],
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        {
            let mut insert = transaction.prepare_cached(
                "INSERT INTO attempts (delivery_id, attempted_at, duration_ms, outcome, status_code, error, response_body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut update = transaction.prepare_cached(
                "UPDATE deliveries SET status = ?2, attempts = attempts + 1,
                     next_attempt_at = COALESCE(?3, next_attempt_at), last_error = ?4, updated_at = ?5
                 WHERE id = ?1 AND status = 'pending' AND updated_at <= ?5",
            )?;
            for (delivery_id, attempt, state) in attempts {
                insert.execute(params![
                    delivery_id,
                    attempt.attempted_at,
                    attempt.duration_ms,
                    attempt.outcome,
                    attempt.status_code,
                    attempt.error,
                    attempt.response_body
                ])?;
                let (status, next_attempt_at) = match state {
                    DeliveryState::Delivered => ("delivered", None),
                    DeliveryState::Retry { at } => ("pending", Some(*at)),
                    DeliveryState::Failed => ("failed", None),
                };
                update.execute(params![
                    delivery_id,
                    status,
                    next_attempt_at,
                    attempt.error,
                    attempt.attempted_at
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// Counts deliveries by status, for summaries.
    pub fn count_deliveries(&self, status: &str) -> Result<u64, StoreError> {
        let count = self.lock().query_row(
            "SELECT COUNT(*) FROM deliveries WHERE status = ?1",
            [status],
            |row| row.get(0),
        )?;
        Ok(count)
    }
}

fn read_head(row: &Row<'_>) -> rusqlite::Result<PendingDelivery> {
    Ok(PendingDelivery {
        delivery_id: row.get(0)?,
        event_seq: row.get(1)?,
        bridge: row.get(2)?,
        target: row.get(3)?,
        attempts: row.get(4)?,
        next_attempt_at: row.get(5)?,
        event_id: EventId::from_stored(row.get(6)?),
        body: row.get(7)?,
    })
}

//! Read and requeue operations for operators: listing deliveries, showing one
//! event with its attempts, and queueing events again under their webhook-id.

use rusqlite::{params, Row};
use serde::Serialize;
use serde_json::Value;

use super::{Store, StoreError};

/// The filter of `pollhook deliveries`.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub bridge: Option<String>,
    pub target: Option<String>,
    /// `pending`, `failed` or `delivered`.
    pub status: Option<String>,
    pub limit: usize,
}

/// One event and target, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRow {
    pub delivery_id: i64,
    pub event_id: String,
    pub bridge: String,
    pub target: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub item_id: Option<String>,
    pub status: String,
    pub attempts: u32,
    /// Unix milliseconds when the event was queued.
    pub queued_at: i64,
    /// Unix milliseconds of the next attempt, for pending deliveries.
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
}

/// One recorded attempt.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRow {
    pub attempted_at: i64,
    pub duration_ms: i64,
    pub outcome: String,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// An event with every delivery of it and their attempts.
#[derive(Debug, Clone, Serialize)]
pub struct EventDetail {
    pub event_id: String,
    pub body: Value,
    pub deliveries: Vec<DeliveryDetail>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryRow,
    /// Every recorded attempt, oldest first (`attempts` is their count).
    pub history: Vec<AttemptRow>,
}

const ROW_COLUMNS: &str =
    "d.id, e.event_id, d.bridge, d.target, e.type, e.item_id, d.status, d.attempts,
    e.created_at, CASE WHEN d.status = 'pending' THEN d.next_attempt_at END, d.last_error";

impl Store {
    /// Lists deliveries, newest first.
    pub fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRow>, StoreError> {
        let connection = self.lock();
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
             WHERE (?1 IS NULL OR d.bridge = ?1) AND (?2 IS NULL OR d.target = ?2) AND (?3 IS NULL OR d.status = ?3)
             ORDER BY d.id DESC LIMIT ?4"
        );
        let mut statement = connection.prepare(&sql)?;
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let rows = statement
            .query_map(
                params![filter.bridge, filter.target, filter.status, limit],
                read_row,
            )?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Finds an event by its event id (`evt_…`) or by the numeric id of one of
    /// its deliveries.
    pub fn event_detail(&self, id: &str) -> Result<Option<EventDetail>, StoreError> {
        let connection = self.lock();
        let seq: Option<i64> = connection
            .query_row(
                "SELECT seq FROM events WHERE event_id = ?1
                 UNION ALL SELECT event_seq FROM deliveries WHERE CAST(id AS TEXT) = ?1 LIMIT 1",
                [id],
                |row| row.get(0),
            )
            .ok();
        let Some(seq) = seq else {
            return Ok(None);
        };

        let (event_id, body): (String, Vec<u8>) = connection.query_row(
            "SELECT event_id, body FROM events WHERE seq = ?1",
            [seq],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.event_seq = ?1 ORDER BY d.id"
        );
        let mut statement = connection.prepare(&sql)?;
        let rows: Vec<DeliveryRow> = statement
            .query_map([seq], read_row)?
            .collect::<Result<_, _>>()?;

        let mut attempts_of = connection.prepare(
            "SELECT attempted_at, duration_ms, outcome, status_code, error, response_body
             FROM attempts WHERE delivery_id = ?1 ORDER BY attempted_at, rowid",
        )?;
        let mut deliveries = Vec::new();
        for delivery in rows {
            let attempts = attempts_of
                .query_map([delivery.delivery_id], read_attempt)?
                .collect::<Result<_, _>>()?;
            deliveries.push(DeliveryDetail {
                delivery,
                history: attempts,
            });
        }
        Ok(Some(EventDetail {
            event_id,
            body: serde_json::from_slice(&body)?,
            deliveries,
        }))
    }

    /// Queues the deliveries of the given events (event ids or delivery ids)
    /// again, with a fresh retry schedule. Returns the ids that matched nothing.
    pub fn redeliver(&self, ids: &[String], now: i64) -> Result<(usize, Vec<String>), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let mut requeued = 0;
        let mut unknown = Vec::new();
        for id in ids {
            let changed = transaction.execute(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?2, last_error = NULL, updated_at = ?2
                 WHERE CAST(id AS TEXT) = ?1 OR event_seq = (SELECT seq FROM events WHERE event_id = ?1)",
                params![id, now],
            )?;
            if changed == 0 {
                unknown.push(id.clone());
            }
            requeued += changed;
        }
        transaction.commit()?;
        Ok((requeued, unknown))
    }

    /// Queues every failed delivery again, optionally of one bridge or target.
    pub fn redeliver_failed(
        &self,
        bridge: Option<&str>,
        target: Option<&str>,
        now: i64,
    ) -> Result<usize, StoreError> {
        let changed = self.lock().execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?3, last_error = NULL, updated_at = ?3
             WHERE status = 'failed' AND (?1 IS NULL OR bridge = ?1) AND (?2 IS NULL OR target = ?2)",
            params![bridge, target, now],
        )?;
        Ok(changed)
    }
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        delivery_id: row.get(0)?,
        event_id: row.get(1)?,
        bridge: row.get(2)?,
        target: row.get(3)?,
        kind: row.get(4)?,
        item_id: row.get(5)?,
        status: row.get(6)?,
        attempts: row.get(7)?,
        queued_at: row.get(8)?,
        next_attempt_at: row.get(9)?,
        last_error: row.get(10)?,
    })
}

fn read_attempt(row: &Row<'_>) -> rusqlite::Result<AttemptRow> {
    Ok(AttemptRow {
        attempted_at: row.get(0)?,
        duration_ms: row.get(1)?,
        outcome: row.get(2)?,
        status_code: row.get(3)?,
        error: row.get(4)?,
        response_body: row.get(5)?,
    })
}

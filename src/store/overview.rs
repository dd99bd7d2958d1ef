//! Summaries of each bridge's state for `pollhook status`, the admin API and
//! metrics, plus the daemon's record of each bridge's next poll.

use rusqlite::{params, Row};

use super::{Store, StoreError};
use crate::ids::BridgeName;

/// The stored state of one bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgeOverview {
    pub bridge: String,
    /// Unix milliseconds of the last poll, failed or not.
    pub last_poll_at: Option<i64>,
    pub last_success_at: Option<i64>,
    /// The masked error of the last poll, when it failed.
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// Unix milliseconds of the next scheduled poll, while a daemon runs it.
    pub next_poll_at: Option<i64>,
    /// Items in the snapshot; 1 for a watched document.
    pub items: u64,
    pub pending_deliveries: u64,
    pub failed_deliveries: u64,
}

const OVERVIEW_SQL: &str = "
WITH names AS (
    SELECT bridge FROM bridge_state
    UNION SELECT bridge FROM snapshot_items
    UNION SELECT bridge FROM deliveries
)
SELECT n.bridge, s.last_poll_at, s.last_success_at, s.last_error,
       COALESCE(s.consecutive_failures, 0),
       -- A source's rate limit postpones the next request past the next slot.
       CASE WHEN s.next_poll_at IS NULL THEN NULL
            ELSE MAX(s.next_poll_at, COALESCE(s.postponed_until, 0)) END,
       CASE WHEN s.document IS NOT NULL THEN 1
            ELSE (SELECT COUNT(*) FROM snapshot_items i WHERE i.bridge = n.bridge) END,
       (SELECT COUNT(*) FROM deliveries d WHERE d.bridge = n.bridge AND d.status = 'pending'),
       (SELECT COUNT(*) FROM deliveries d WHERE d.bridge = n.bridge AND d.status = 'failed')
FROM names n LEFT JOIN bridge_state s ON s.bridge = n.bridge
ORDER BY n.bridge";

impl Store {
    /// Returns every bridge the database has a record of, in name order.
    pub fn bridge_overviews(&self) -> Result<Vec<BridgeOverview>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(OVERVIEW_SQL)?;
        let overviews = statement
            .query_map([], read_overview)?
            .collect::<Result<_, _>>()?;
        Ok(overviews)
    }

    /// Records when the daemon polls `bridge` next; `None` while it does not
    /// run the bridge.
    pub fn set_next_poll(&self, bridge: &BridgeName, at: Option<i64>) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO bridge_state (bridge, next_poll_at) VALUES (?1, ?2)
             ON CONFLICT (bridge) DO UPDATE SET next_poll_at = excluded.next_poll_at",
            params![bridge.as_str(), at],
        )?;
        Ok(())
    }

    /// Forgets every recorded next poll, when the daemon stops.
    pub fn clear_next_polls(&self) -> Result<(), StoreError> {
        self.lock()
            .execute("UPDATE bridge_state SET next_poll_at = NULL", [])?;
        Ok(())
    }

    /// Takes the write lock and releases it without writing, to prove that
    /// the database accepts writes.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        let connection = self.lock();
        connection.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
        Ok(())
    }
}

fn read_overview(row: &Row<'_>) -> rusqlite::Result<BridgeOverview> {
    Ok(BridgeOverview {
        bridge: row.get(0)?,
        last_poll_at: row.get(1)?,
        last_success_at: row.get(2)?,
        last_error: row.get(3)?,
        consecutive_failures: row.get(4)?,
        next_poll_at: row.get(5)?,
        items: row.get(6)?,
        pending_deliveries: row.get(7)?,
        failed_deliveries: row.get(8)?,
    })
}

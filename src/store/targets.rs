//! Targets that a receiver's 410 Gone disabled, and per-target queue counts.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// A target that gets no attempts until it is enabled again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledTarget {
    pub target: String,
    /// Unix milliseconds.
    pub disabled_at: i64,
    pub reason: String,
    /// Hash of the target's configuration when it was disabled; a different
    /// configuration enables it again.
    pub config_hash: String,
}

/// Queue counts of one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetQueue {
    pub pending: u64,
    pub failed: u64,
    /// Queue time of the oldest pending event, in Unix milliseconds.
    pub oldest_pending_at: Option<i64>,
}

impl Store {
    /// Disables `target`; a second call keeps the first record.
    pub fn disable_target(
        &self,
        target: &str,
        reason: &str,
        config_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR IGNORE INTO disabled_targets (target, disabled_at, reason, config_hash) VALUES (?1, ?2, ?3, ?4)",
            params![target, now, reason, config_hash],
        )?;
        Ok(())
    }

    /// Enables `target` again; returns false when it was not disabled.
    pub fn enable_target(&self, target: &str) -> Result<bool, StoreError> {
        let removed = self
            .lock()
            .execute("DELETE FROM disabled_targets WHERE target = ?1", [target])?;
        Ok(removed > 0)
    }

    pub fn disabled_target(&self, target: &str) -> Result<Option<DisabledTarget>, StoreError> {
        let found = self
            .lock()
            .query_row(
                "SELECT target, disabled_at, reason, config_hash FROM disabled_targets WHERE target = ?1",
                [target],
                |row| {
                    Ok(DisabledTarget {
                        target: row.get(0)?,
                        disabled_at: row.get(1)?,
                        reason: row.get(2)?,
                        config_hash: row.get(3)?,
                    })
                },
            )
            .optional()?;
        Ok(found)
    }

    /// Moves the pending and failed deliveries of target `from` to target
    /// `to` as pending, with a fresh retry schedule, keeping their queue order
    /// and webhook-ids. When `to` already has a delivery of the same event,
    /// that one is kept and the moved copy dropped.
    /// Returns how many deliveries now go to `to`.
    pub fn move_target(&self, from: &str, to: &str, now: i64) -> Result<usize, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        transaction.execute(
            "INSERT OR IGNORE INTO lanes (bridge, target)
             SELECT DISTINCT bridge, ?2 FROM deliveries WHERE target = ?1 AND status IN ('pending', 'failed')",
            params![from, to],
        )?;
        let moved = transaction.execute(
            "UPDATE OR IGNORE deliveries
             SET target = ?2, status = 'pending', attempts = 0, next_attempt_at = ?3, last_error = NULL, updated_at = ?3
             WHERE target = ?1 AND status IN ('pending', 'failed')",
            params![from, to, now],
        )?;
        transaction.execute(
            "DELETE FROM deliveries WHERE target = ?1 AND status IN ('pending', 'failed')",
            [from],
        )?;
        transaction.commit()?;
        Ok(moved)
    }

    /// Returns the pending and failed counts of every target with queued events.
    pub fn target_queues(&self) -> Result<HashMap<String, TargetQueue>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT d.target,
                    SUM(d.status = 'pending'),
                    SUM(d.status = 'failed'),
                    MIN(CASE WHEN d.status = 'pending' THEN e.created_at END)
             FROM deliveries d JOIN events e ON e.seq = d.event_seq
             WHERE d.status IN ('pending', 'failed')
             GROUP BY d.target",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                TargetQueue {
                    pending: row.get(1)?,
                    failed: row.get(2)?,
                    oldest_pending_at: row.get(3)?,
                },
            ))
        })?;
        let queues = rows.collect::<Result<_, _>>()?;
        Ok(queues)
    }
}

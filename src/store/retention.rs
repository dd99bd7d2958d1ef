//! Removal of old delivered and failed events, so that the database stays
//! bounded under a steady stream of changes.

use rusqlite::params;

use super::{Store, StoreError};

/// How many rows one pruning pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: usize,
    pub events: usize,
}

impl Store {
    /// Removes delivered deliveries last updated before `delivered_before` and
    /// failed ones last updated before `failed_before` (Unix milliseconds),
    /// with their attempts, then every event left without deliveries.
    pub fn prune(&self, delivered_before: i64, failed_before: i64) -> Result<Pruned, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let deliveries = transaction.execute(
            "DELETE FROM deliveries
             WHERE (status = 'delivered' AND updated_at < ?1) OR (status = 'failed' AND updated_at < ?2)",
            params![delivered_before, failed_before],
        )?;
        let events = transaction.execute(
            "DELETE FROM events WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq)",
            [],
        )?;
        transaction.execute(
            "DELETE FROM lanes WHERE NOT EXISTS (
                 SELECT 1 FROM deliveries d WHERE d.bridge = lanes.bridge AND d.target = lanes.target)",
            [],
        )?;
        transaction.commit()?;
        Ok(Pruned { deliveries, events })
    }
}

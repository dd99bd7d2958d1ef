//! Reading a bridge's snapshot and committing a poll's result.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::Value;

use super::outbox::{insert_events, NewEvent};
use super::source_state::{write_source_state, SourceCommit, Validators};
use super::{Store, StoreError};
use crate::diff::{SnapshotWrite, StoredItem};
use crate::ids::{BridgeName, ItemId};

/// The stored state of a bridge after its last successful poll.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// False until the first successful poll, even one that found no items.
    pub baselined: bool,
    pub items: HashMap<ItemId, StoredItem>,
    /// The watched document, in whole-document mode.
    pub document: Option<Value>,
    /// The failed polls since the last successful one. A successful commit
    /// ends the streak.
    pub streak: FailureStreak,
}

/// The owned writes of one poll, planned for [`Store::commit_poll_with`].
#[derive(Debug, Default)]
pub struct PlannedCommit {
    pub writes: Vec<SnapshotWrite>,
    pub document: Option<Value>,
    pub events: Vec<NewEvent>,
    pub targets: Vec<String>,
    pub polled_at: i64,
    /// Validators of the response, for the next conditional request.
    pub validators: Option<Validators>,
    /// Keep the stored validators (a 304 response carries none of its own).
    pub keep_validators: bool,
    /// Items the response contained, for `forget_after`.
    pub seen: Vec<ItemId>,
    /// Forget snapshot items last seen before this time (Unix milliseconds).
    pub forget_before: Option<i64>,
}

/// Everything one successful poll writes, in one transaction.
pub struct PollCommit<'a> {
    pub bridge: &'a BridgeName,
    pub writes: &'a [SnapshotWrite],
    /// The new document, in whole-document mode.
    pub document: Option<&'a Value>,
    pub events: &'a [NewEvent],
    /// Target keys that receive every event.
    pub targets: &'a [String],
    /// When the poll started, in Unix milliseconds.
    pub polled_at: i64,
}

/// A failed poll, as recorded.
pub struct PollFailure<'a> {
    pub bridge: &'a BridgeName,
    /// The masked error message.
    pub error: &'a str,
    /// When the poll started, in Unix milliseconds.
    pub polled_at: i64,
    /// Target keys that receive a health event.
    pub targets: &'a [String],
}

/// A bridge's current run of consecutive failed polls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureStreak {
    pub failed_polls: u32,
    /// When the first failed poll of the run started, in Unix milliseconds.
    pub since: i64,
    /// True once the run's `bridge.failing` event was queued.
    pub reported: bool,
}

impl Store {
    /// Loads the snapshot of `bridge`; an unknown bridge has an empty one.
    pub fn load_snapshot(&self, bridge: &BridgeName) -> Result<Snapshot, StoreError> {
        read_snapshot(&self.lock(), bridge)
    }

    /// Reads the snapshot of `bridge` and commits what `plan`
    /// makes of it, in one transaction that holds the database's write lock
    /// from the read on.
    ///
    /// Two processes that poll the same bridge at once are thereby put in
    /// order: the second compares with the snapshot the first committed, so a
    /// change is announced once.
    pub fn commit_poll_with<T, E: From<StoreError>>(
        &self,
        bridge: &BridgeName,
        plan: impl FnOnce(&Snapshot) -> Result<(PlannedCommit, T), E>,
    ) -> Result<T, E> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let snapshot = read_snapshot(&transaction, bridge)?;
        let (planned, output) = plan(&snapshot)?;
        let commit = PollCommit {
            bridge,
            writes: &planned.writes,
            document: planned.document.as_ref(),
            events: &planned.events,
            targets: &planned.targets,
            polled_at: planned.polled_at,
        };
        let source = SourceCommit {
            validators: planned.validators.as_ref(),
            keep_validators: planned.keep_validators,
            seen: &planned.seen,
            forget_before: planned.forget_before,
        };
        write_commit(&transaction, &commit, &source)?;
        transaction.commit().map_err(StoreError::from)?;
        Ok(output)
    }

    /// Writes a successful poll: snapshot changes, events and their deliveries.
    pub fn commit_poll(&self, commit: &PollCommit<'_>) -> Result<(), StoreError> {
        self.commit_poll_with_source(commit, &SourceCommit::default())
    }

    /// Writes a successful poll as [`Store::commit_poll`] does, together with
    /// the source's state in the same transaction.
    pub fn commit_poll_with_source(
        &self,
        commit: &PollCommit<'_>,
        source: &SourceCommit<'_>,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        write_commit(&transaction, commit, source)?;
        transaction.commit()?;
        Ok(())
    }

    /// Records a failed poll; the snapshot stays as it is. `failing_event` is
    /// called with the failure streak, this poll included, and the event it
    /// returns is queued in the same transaction, marked as reported, and
    /// returned.
    pub fn record_poll_failure(
        &self,
        failure: &PollFailure<'_>,
        failing_event: impl FnOnce(&FailureStreak) -> Option<NewEvent>,
    ) -> Result<Option<NewEvent>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        transaction.execute(
            "INSERT INTO bridge_state (bridge, last_poll_at, last_error, consecutive_failures, failing_since)
             VALUES (?1, ?2, ?3, 1, ?2)
             ON CONFLICT (bridge) DO UPDATE SET
                 last_poll_at = excluded.last_poll_at,
                 last_error = excluded.last_error,
                 consecutive_failures = consecutive_failures + 1,
                 failing_since = COALESCE(failing_since, excluded.failing_since)",
            params![failure.bridge.as_str(), failure.polled_at, failure.error],
        )?;
        let streak = read_streak(&transaction, failure.bridge)?.unwrap_or_default();
        let event = failing_event(&streak);
        if let Some(event) = &event {
            insert_events(
                &transaction,
                failure.bridge,
                std::slice::from_ref(event),
                failure.targets,
                failure.polled_at,
            )?;
            transaction.execute(
                "UPDATE bridge_state SET failing_reported = 1 WHERE bridge = ?1",
                [failure.bridge.as_str()],
            )?;
        }
        transaction.commit()?;
        Ok(event)
    }

    /// Clears the snapshot of `bridge`, so that its next poll is a silent
    /// baseline. Queued events stay queued.
    pub fn reset_baseline(&self, bridge: &BridgeName) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        transaction.execute(
            "DELETE FROM snapshot_items WHERE bridge = ?1",
            [bridge.as_str()],
        )?;
        transaction.execute(
            "UPDATE bridge_state SET baselined_at = NULL, document = NULL WHERE bridge = ?1",
            [bridge.as_str()],
        )?;
        transaction.commit()?;
        Ok(())
    }
}

fn read_streak(
    connection: &rusqlite::Connection,
    bridge: &BridgeName,
) -> Result<Option<FailureStreak>, StoreError> {
    let streak = connection
        .query_row(
            "SELECT consecutive_failures, failing_since, failing_reported FROM bridge_state WHERE bridge = ?1",
            [bridge.as_str()],
            |row| {
                Ok(FailureStreak {
                    failed_polls: row.get(0)?,
                    since: row.get::<_, Option<i64>>(1)?.unwrap_or_default(),
                    reported: row.get(2)?,
                })
            },
        )
        .optional()?;
    Ok(streak)
}

fn read_snapshot(
    connection: &rusqlite::Connection,
    bridge: &BridgeName,
) -> Result<Snapshot, StoreError> {
    let state: Option<(Option<i64>, Option<String>)> = connection
        .query_row(
            "SELECT baselined_at, document FROM bridge_state WHERE bridge = ?1",
            [bridge.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (baselined_at, document) = state.unwrap_or_default();

    let mut statement = connection.prepare_cached(
        "SELECT item_id, item, missing_polls, held FROM snapshot_items WHERE bridge = ?1",
    )?;
    let rows = statement.query_map([bridge.as_str()], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, u32>(2)?,
            row.get::<_, bool>(3)?,
        ))
    })?;
    let mut items = HashMap::new();
    for row in rows {
        let (id, item, missing_polls, held) = row?;
        let item = serde_json::from_str(&item)?;
        items.insert(
            ItemId::new(id),
            StoredItem {
                item,
                missing_polls,
                held,
            },
        );
    }

    Ok(Snapshot {
        baselined: baselined_at.is_some(),
        items,
        document: document
            .map(|text| serde_json::from_str(&text))
            .transpose()?,
        streak: read_streak(connection, bridge)?.unwrap_or_default(),
    })
}

fn write_commit(
    transaction: &Transaction<'_>,
    commit: &PollCommit<'_>,
    source: &SourceCommit<'_>,
) -> Result<(), StoreError> {
    mark_success(transaction, commit)?;
    apply_writes(transaction, commit.bridge, commit.writes)?;
    write_source_state(transaction, commit.bridge, source, commit.polled_at)?;
    insert_events(
        transaction,
        commit.bridge,
        commit.events,
        commit.targets,
        commit.polled_at,
    )
}

fn mark_success(transaction: &Transaction<'_>, commit: &PollCommit<'_>) -> Result<(), StoreError> {
    let document = commit.document.map(serde_json::to_string).transpose()?;
    transaction.execute(
        "INSERT INTO bridge_state (bridge, baselined_at, document, last_poll_at, last_success_at, consecutive_failures)
         VALUES (?1, ?2, ?3, ?2, ?2, 0)
         ON CONFLICT (bridge) DO UPDATE SET
             baselined_at = COALESCE(baselined_at, excluded.baselined_at),
             document = COALESCE(excluded.document, document),
             last_poll_at = excluded.last_poll_at,
             last_success_at = excluded.last_success_at,
             last_error = NULL,
             consecutive_failures = 0,
             failing_since = NULL,
             failing_reported = 0",
        params![commit.bridge.as_str(), commit.polled_at, document],
    )?;
    Ok(())
}

fn apply_writes(
    transaction: &Transaction<'_>,
    bridge: &BridgeName,
    writes: &[SnapshotWrite],
) -> Result<(), StoreError> {
    let mut put = transaction.prepare_cached(
        "INSERT INTO snapshot_items (bridge, item_id, item, missing_polls, held) VALUES (?1, ?2, ?3, 0, 0)
         ON CONFLICT (bridge, item_id) DO UPDATE SET item = excluded.item, missing_polls = 0, held = 0",
    )?;
    let mut absent = transaction.prepare_cached(
        "UPDATE snapshot_items SET missing_polls = ?3, held = ?4 WHERE bridge = ?1 AND item_id = ?2",
    )?;
    let mut remove = transaction
        .prepare_cached("DELETE FROM snapshot_items WHERE bridge = ?1 AND item_id = ?2")?;

    for write in writes {
        match write {
            SnapshotWrite::Put { id, item } => {
                put.execute(params![
                    bridge.as_str(),
                    id.as_str(),
                    serde_json::to_string(item)?
                ])?;
            }
            SnapshotWrite::Absent {
                id,
                missing_polls,
                held,
            } => {
                absent.execute(params![bridge.as_str(), id.as_str(), missing_polls, held])?;
            }
            SnapshotWrite::Remove { id } => {
                remove.execute(params![bridge.as_str(), id.as_str()])?;
            }
        }
    }
    Ok(())
}

//! The state a bridge's source keeps between polls: the validators of the
//! last response (ETag, Last-Modified), when an upstream rate limit allows
//! the next request, when the last successful poll started, and when each
//! item was last seen.
//!
//! Validators are written only inside a poll's commit, so that a crash
//! between the response and the commit cannot leave validators that claim a
//! snapshot which was never stored.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{Store, StoreError};
use crate::ids::{BridgeName, ItemId};

/// The stored state that shapes the next request of a bridge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceState {
    /// Start of the last successful poll, in Unix milliseconds.
    pub last_success_at: Option<i64>,
    pub validators: Option<Validators>,
    /// No request before this time, in Unix milliseconds.
    pub postponed_until: Option<i64>,
}

/// The validators of a response, for conditional requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Validators {
    /// A hash of the request the validators belong to, so that a request
    /// with a changed URL or body never carries another request's validators.
    pub request: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The source state that a successful poll writes with its snapshot.
#[derive(Debug, Default)]
pub struct SourceCommit<'a> {
    /// New validators; `None` clears the stored ones.
    pub validators: Option<&'a Validators>,
    /// Keep the stored validators (a 304 response carries none of its own).
    pub keep_validators: bool,
    /// Items that the response contained, marked as seen at the poll's time.
    pub seen: &'a [ItemId],
    /// Remove snapshot items last seen before this time (Unix milliseconds),
    /// silently: they fell out of an incremental source's window long ago.
    pub forget_before: Option<i64>,
}

impl Store {
    /// Loads the source state of `bridge`; an unknown bridge has none.
    pub fn load_source_state(&self, bridge: &BridgeName) -> Result<SourceState, StoreError> {
        let connection = self.lock();
        let row = connection
            .query_row(
                "SELECT last_success_at, validators_for, etag, last_modified, postponed_until
                 FROM bridge_state WHERE bridge = ?1",
                [bridge.as_str()],
                |row| {
                    let request: Option<String> = row.get(1)?;
                    let validators = request.map(|request| Validators {
                        request,
                        etag: row.get(2).ok().flatten(),
                        last_modified: row.get(3).ok().flatten(),
                    });
                    Ok(SourceState {
                        last_success_at: row.get(0)?,
                        validators,
                        postponed_until: row.get(4)?,
                    })
                },
            )
            .optional()?;
        Ok(row.unwrap_or_default())
    }

    /// Forbids requests of `bridge` before `until` (Unix milliseconds).
    pub fn postpone_source(&self, bridge: &BridgeName, until: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO bridge_state (bridge, postponed_until) VALUES (?1, ?2)
             ON CONFLICT (bridge) DO UPDATE SET postponed_until = excluded.postponed_until",
            params![bridge.as_str(), until],
        )?;
        Ok(())
    }
}

/// Writes the source state of a successful poll inside its transaction.
pub(super) fn write_source_state(
    transaction: &Transaction<'_>,
    bridge: &BridgeName,
    source: &SourceCommit<'_>,
    polled_at: i64,
) -> Result<(), StoreError> {
    if !source.keep_validators {
        let validators = source.validators;
        transaction.execute(
            "UPDATE bridge_state SET validators_for = ?2, etag = ?3, last_modified = ?4 WHERE bridge = ?1",
            params![
                bridge.as_str(),
                validators.map(|validators| validators.request.as_str()),
                validators.and_then(|validators| validators.etag.as_deref()),
                validators.and_then(|validators| validators.last_modified.as_deref()),
            ],
        )?;
    }

    let mut touch = transaction.prepare_cached(
        "UPDATE snapshot_items SET last_seen_at = ?3 WHERE bridge = ?1 AND item_id = ?2",
    )?;
    for id in source.seen {
        touch.execute(params![bridge.as_str(), id.as_str(), polled_at])?;
    }
    if let Some(cutoff) = source.forget_before {
        transaction.execute(
            "DELETE FROM snapshot_items WHERE bridge = ?1 AND last_seen_at < ?2",
            params![bridge.as_str(), cutoff],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::SnapshotWrite;
    use crate::store::PollCommit;
    use serde_json::json;

    fn bridge() -> BridgeName {
        BridgeName::parse("feed").unwrap()
    }

    fn commit(store: &Store, writes: &[SnapshotWrite], polled_at: i64, source: &SourceCommit<'_>) {
        store
            .commit_poll_with_source(
                &PollCommit {
                    bridge: &bridge(),
                    writes,
                    document: None,
                    events: &[],
                    targets: &[],
                    polled_at,
                },
                source,
            )
            .unwrap();
    }

    fn put(id: &str) -> SnapshotWrite {
        SnapshotWrite::Put {
            id: ItemId::new(id),
            item: json!({"id": id}),
        }
    }

    #[test]
    fn validators_are_stored_with_the_commit() {
        let store = Store::open(std::path::Path::new(":memory:")).unwrap();
        assert_eq!(
            store.load_source_state(&bridge()).unwrap(),
            SourceState::default()
        );
        let validators = Validators {
            request: "r1".into(),
            etag: Some("\"v1\"".into()),
            last_modified: None,
        };
        commit(
            &store,
            &[],
            1_000,
            &SourceCommit {
                validators: Some(&validators),
                ..SourceCommit::default()
            },
        );
        let state = store.load_source_state(&bridge()).unwrap();
        assert_eq!(state.validators, Some(validators.clone()));
        assert_eq!(state.last_success_at, Some(1_000));

        let keep = SourceCommit {
            keep_validators: true,
            ..SourceCommit::default()
        };
        commit(&store, &[], 2_000, &keep);
        assert_eq!(
            store.load_source_state(&bridge()).unwrap().validators,
            Some(validators)
        );

        commit(&store, &[], 3_000, &SourceCommit::default());
        assert_eq!(store.load_source_state(&bridge()).unwrap().validators, None);
    }

    #[test]
    fn items_not_seen_since_cutoff_are_forgotten() {
        let store = Store::open(std::path::Path::new(":memory:")).unwrap();
        let seen = [ItemId::new("a"), ItemId::new("b")];
        commit(
            &store,
            &[put("a"), put("b")],
            1_000,
            &SourceCommit {
                seen: &seen,
                ..SourceCommit::default()
            },
        );
        let later = [ItemId::new("b")];
        commit(
            &store,
            &[],
            5_000,
            &SourceCommit {
                seen: &later,
                forget_before: Some(2_000),
                ..SourceCommit::default()
            },
        );
        let snapshot = store.load_snapshot(&bridge()).unwrap();
        assert!(!snapshot.items.contains_key(&ItemId::new("a")));
        assert!(snapshot.items.contains_key(&ItemId::new("b")));
    }

    #[test]
    fn postponement_survives_a_commit() {
        let store = Store::open(std::path::Path::new(":memory:")).unwrap();
        store.postpone_source(&bridge(), 9_000).unwrap();
        commit(&store, &[], 1_000, &SourceCommit::default());
        assert_eq!(
            store.load_source_state(&bridge()).unwrap().postponed_until,
            Some(9_000)
        );
    }
}

//! The SQLite state: snapshots of every bridge and the delivery outbox.
//!
//! One connection behind a mutex is the only writer in the process. A poll's
//! snapshot changes and its events are written in one transaction, so a crash
//! leaves either the old snapshot and no events, or the new snapshot and all of
//! them. Other processes (`pollhook poll` while the daemon runs) wait for the
//! lock through SQLite's busy timeout.

mod inspect;
mod lock;
mod outbox;
mod overview;
mod retention;
mod schema;
mod snapshot;
mod source_state;
mod targets;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;
use thiserror::Error;

pub use inspect::{AttemptRow, DeliveryDetail, DeliveryFilter, DeliveryRow, EventDetail};
pub use lock::{lock_path, DeliveryLock};
pub use outbox::{AttemptRecord, DeliveryState, NewEvent, PendingDelivery};
pub use overview::BridgeOverview;
pub use retention::Pruned;
pub use snapshot::{FailureStreak, PlannedCommit, PollCommit, PollFailure, Snapshot};
pub use source_state::{SourceCommit, SourceState, Validators};
pub use targets::{DisabledTarget, TargetQueue};

/// How long a write waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open the state database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("state database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored JSON is invalid")]
    Json(#[from] serde_json::Error),
    #[error("a database task stopped unexpectedly")]
    Task(#[from] tokio::task::JoinError),
    #[error("the state database was written by a newer pollhook (schema version {found}, this one knows up to {known}): upgrade pollhook")]
    NewerSchema { found: i64, known: i64 },
}

pub struct Store {
    connection: Mutex<Connection>,
}

impl Store {
    /// Opens (or creates) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            // A missing directory surfaces as the open error below.
            let _ = std::fs::create_dir_all(parent);
        }
        let mut connection = Connection::open(path).map_err(open_error)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut connection)?;
        Ok(Store {
            connection: Mutex::new(connection),
        })
    }

    /// Runs `call` on tokio's blocking thread pool, because every SQLite
    /// call blocks its thread.
    pub async fn run_blocking<T, F>(self: &Arc<Self>, call: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || call(&store)).await?
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction behind
        // (rusqlite rolls back on drop), so the connection is still usable.
        self.connection
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Milliseconds since the Unix epoch, the time unit of every stored instant.
pub fn unix_millis(time: chrono::DateTime<chrono::Utc>) -> i64 {
    time.timestamp_millis()
}

#[cfg(test)]
mod tests;

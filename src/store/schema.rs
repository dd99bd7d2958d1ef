//! Schema migrations, applied in order and counted in `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Each entry moves the schema from version N to N + 1. Never edit a released
/// entry: add a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE bridge_state (
    bridge TEXT PRIMARY KEY,
    baselined_at INTEGER,
    document TEXT,
    last_poll_at INTEGER,
    last_success_at INTEGER,
    last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE snapshot_items (
    bridge TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item TEXT NOT NULL,
    missing_polls INTEGER NOT NULL DEFAULT 0,
    held INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bridge, item_id)
) WITHOUT ROWID;
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    bridge TEXT NOT NULL,
    type TEXT NOT NULL,
    item_id TEXT,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    bridge TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    updated_at INTEGER NOT NULL,
    UNIQUE (event_seq, target)
);
CREATE INDEX deliveries_by_lane ON deliveries (bridge, target, status, event_seq);
CREATE TABLE attempts (
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempted_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    response_body TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id);
"#,
    r#"
CREATE TABLE lanes (
    bridge TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY (bridge, target)
) WITHOUT ROWID;
INSERT OR IGNORE INTO lanes (bridge, target) SELECT DISTINCT bridge, target FROM deliveries;
CREATE TABLE disabled_targets (
    target TEXT PRIMARY KEY,
    disabled_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    config_hash TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_by_event ON deliveries (event_seq);
"#,
    // Source state: when each item was last in a response (for forget_after),
    // the validators of the last response for conditional requests, and the
    // time before which an upstream rate limit forbids the next request.
    r#"
ALTER TABLE snapshot_items ADD COLUMN last_seen_at INTEGER;
UPDATE snapshot_items SET last_seen_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
ALTER TABLE bridge_state ADD COLUMN etag TEXT;
ALTER TABLE bridge_state ADD COLUMN last_modified TEXT;
ALTER TABLE bridge_state ADD COLUMN validators_for TEXT;
ALTER TABLE bridge_state ADD COLUMN postponed_until INTEGER;
"#,
    // Bridge health: when the current run of failed polls began, whether its
    // `bridge.failing` event was queued, and when the daemon polls next (for
    // `pollhook status`, which reads the database while the daemon runs).
    r#"
ALTER TABLE bridge_state ADD COLUMN failing_since INTEGER;
ALTER TABLE bridge_state ADD COLUMN failing_reported INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bridge_state ADD COLUMN next_poll_at INTEGER;
"#,
];

/// Applies every migration the database has not seen yet, each in its own
/// transaction.
///
/// Each step takes the write lock before it reads the schema version, so
/// that two processes opening a new database at once apply it only once.
pub fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    loop {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if current > known {
            return Err(StoreError::NewerSchema {
                found: current,
                known,
            });
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(());
        };
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", current + 1)?;
        transaction.commit()?;
    }
}

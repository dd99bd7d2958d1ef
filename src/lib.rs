//! pollhook turns HTTP APIs that offer no webhooks into webhook sources: it
//! polls each configured API, compares the items with the last snapshot in
//! SQLite, and sends a signed webhook for every created, updated or deleted
//! item.
//!
//! The crate follows the pipeline, one module per stage:
//!
//! - [`config`]: the global file and the bridge files, checked and compiled
//! - [`schedule`]: when each bridge polls (interval grid or DST-correct cron)
//! - [`source`]: the HTTP request and JSON parsing
//! - [`extract`], [`jsonpath`], [`canonical`]: items, ids and their comparison form
//! - [`diff`]: snapshot and new items to changes, with the deletion guard
//! - [`event`]: the event body
//! - [`store`]: SQLite snapshot, outbox and attempt history
//! - [`deliver`] and [`sign`]: signed delivery with retries
//! - [`poll`] and [`daemon`]: one poll, and `pollhook run`
//! - [`admin`], [`metrics`], [`status`], [`systemd`]: running as a service
//! - [`demo`]: `pollhook demo`, everything on one machine
//! - [`cli`], [`listen`], [`logging`], [`redact`], [`ids`]: the command line and shared pieces
//!
//! ARCHITECTURE.md has the codemap and the invariants.

pub mod admin;
pub mod canonical;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod demo;
pub mod diff;
pub mod event;
pub mod extract;
pub mod ids;
pub mod jsonpath;
pub mod listen;
pub mod logging;
pub mod metrics;
pub mod poll;
pub mod redact;
pub mod schedule;
pub mod sign;
pub mod source;
pub mod status;
pub mod store;
pub mod systemd;

//! pollhook turns HTTP APIs that offer no webhooks into webhook sources.

pub mod schedule;

//! pollhook turns HTTP APIs that offer no webhooks into webhook sources.

//! `pollhook run`: the daemon.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Overrides};
use crate::daemon;
use crate::store::{lock_path, DeliveryLock, Store};

pub async fn run(overrides: &Overrides) -> anyhow::Result<ExitCode> {
    // Listen for signals first, so that a stop request during start-up is
    // handled as a clean stop.
    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    let stop_signal = super::stop_signal();
    tokio::spawn(async move {
        stop_signal.await;
        tracing::info!(
            "stop signal received: finishing attempts in flight (send it again to stop at once)"
        );
        let second_signal = super::stop_signal();
        stopper.cancel();
        second_signal.await;
        tracing::warn!("second stop signal: stopping at once; attempts in flight are sent again at the next start");
        std::process::exit(130);
    });

    let config = match config::load(overrides) {
        Ok(config) => config,
        Err(errors) => {
            for error in &errors.0 {
                tracing::error!(%error, "invalid configuration");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let state = config.global.state.clone();
    let Some(_lock) = acquire_delivery_lock(&state, &shutdown).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let store = Store::open(&state)
        .with_context(|| format!("failed to open the state database {}", state.display()))?;
    tracing::info!(state = %state.display(), bridges = config.bridges.len(), version = env!("CARGO_PKG_VERSION"), "pollhook started");

    daemon::run(config, Arc::new(store), shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// How long `run` waits for the delivery lock, which a `pollhook poll` holds
/// only while it delivers.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Takes the delivery lock of `state`, waiting briefly for a `pollhook poll`
/// to finish. Logs and returns `None` when another daemon holds it.
async fn acquire_delivery_lock(
    state: &std::path::Path,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<DeliveryLock>> {
    let started = tokio::time::Instant::now();
    loop {
        let holder = match DeliveryLock::try_acquire(state, "run").with_context(|| {
            format!(
                "failed to open the lock file {}",
                lock_path(state).display()
            )
        })? {
            Ok(lock) => return Ok(Some(lock)),
            Err(holder) => holder,
        };
        // A `pollhook poll` holds the lock for a moment; another daemon for good.
        if holder.starts_with("run") || started.elapsed() >= LOCK_WAIT || shutdown.is_cancelled() {
            tracing::error!(lock = %lock_path(state).display(), %holder, "another pollhook process delivers from this state database: stop it, or give this one its own --state");
            return Ok(None);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

//! `pollhook run`: the daemon.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Overrides};
use crate::daemon;
use crate::store::Store;

pub async fn run(overrides: &Overrides) -> anyhow::Result<ExitCode> {
    // Listen for signals first, so that a stop request during start-up is
    // handled as a clean stop.
    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    let stop_signal = super::stop_signal();
    tokio::spawn(async move {
        stop_signal.await;
        tracing::info!("stop signal received: finishing attempts in flight");
        stopper.cancel();
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
    let store = Store::open(&state)
        .with_context(|| format!("failed to open the state database {}", state.display()))?;
    tracing::info!(state = %state.display(), bridges = config.bridges.len(), version = env!("CARGO_PKG_VERSION"), "pollhook started");

    daemon::run(config, Arc::new(store), shutdown).await;
    Ok(ExitCode::SUCCESS)
}

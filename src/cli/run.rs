//! `pollhook run`: the daemon, with SIGHUP to reload the configuration.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Overrides};
use crate::daemon::{self, Reload, Services};
use crate::store::Store;

pub async fn run(overrides: &Overrides) -> anyhow::Result<ExitCode> {
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

    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        super::stop_signal().await;
        tracing::info!("stop signal received: finishing attempts in flight");
        stopper.cancel();
    });
    tokio::spawn(crate::systemd::run_watchdog(shutdown.clone()));

    let reload_overrides = overrides.clone();
    let services = Services {
        reload: Some(Reload {
            requests: reload_requests()?,
            load: Box::new(move || config::load(&reload_overrides)),
        }),
        ..Services::default()
    };
    daemon::run_with(config, Arc::new(store), services, shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// Returns a channel that receives one message per SIGHUP.
#[cfg(unix)]
fn reload_requests() -> anyhow::Result<mpsc::Receiver<()>> {
    use tokio::signal::unix::{signal, SignalKind};

    let mut hangups = signal(SignalKind::hangup()).context("failed to listen for SIGHUP")?;
    // One pending request is enough: a reload reads every file anyway.
    let (sender, receiver) = mpsc::channel(1);
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP received");
            let _ = sender.try_send(());
        }
    });
    Ok(receiver)
}

/// Returns a closed channel: without SIGHUP there is nothing to reload on.
#[cfg(not(unix))]
fn reload_requests() -> anyhow::Result<mpsc::Receiver<()>> {
    let (_sender, receiver) = mpsc::channel(1);
    Ok(receiver)
}

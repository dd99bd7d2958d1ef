//! `pollhook run`: the daemon, with SIGHUP to reload the configuration.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::admin::AdminState;
use crate::config::{self, Overrides};
use crate::daemon::{self, LiveBridges, Reload, Services};
use crate::metrics::Metrics;
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

    let store = Arc::new(store);
    let live = Arc::new(LiveBridges::default());
    let metrics = Arc::new(Metrics::new(store.clone(), live.clone()));
    if let Some(address) = &config.global.admin.listen {
        let state = AdminState {
            store: store.clone(),
            live: live.clone(),
            metrics: metrics.clone(),
        };
        start_admin(address, state, shutdown.clone()).await?;
    }

    let reload_overrides = overrides.clone();
    let services = Services {
        reload: Some(Reload {
            requests: reload_requests()?,
            load: Box::new(move || config::load(&reload_overrides)),
        }),
        live: Some(live),
        metrics: Some(metrics),
    };
    daemon::run_with(config, store, services, shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// Binds the admin server before the daemon reports itself ready, so that a
/// taken port stops the start instead of going unnoticed.
async fn start_admin(
    address: &str,
    state: AdminState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("failed to listen on admin.listen {address}: choose a free address or remove admin.listen"))?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "admin server listening: /healthz /readyz /metrics /api/bridges");
    tokio::spawn(async move {
        if let Err(error) = crate::admin::serve(listener, state, shutdown).await {
            tracing::error!(%error, "the admin server stopped");
        }
    });
    Ok(())
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

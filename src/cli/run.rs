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
use crate::store::{lock_path, DeliveryLock, Store};

pub async fn run(overrides: &Overrides) -> anyhow::Result<ExitCode> {
    // Listen for signals first, so that a stop request during start-up is
    // handled as a clean stop, and an early SIGHUP does not end the process
    // (its default action).
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
    let reload_requests = reload_requests()?;

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
            requests: reload_requests,
            load: Box::new(move || config::load(&reload_overrides)),
        }),
        live: Some(live),
        metrics: Some(metrics),
    };
    daemon::run_with(config, store, services, shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// How long `run` waits for the delivery lock, which a `pollhook poll` holds
/// only while it delivers.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Takes the delivery lock of `state`, waiting briefly for a `pollhook poll`
/// to finish. Logs and returns `None` when another daemon has it.
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

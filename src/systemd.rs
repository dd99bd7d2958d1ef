//! systemd's notification protocol for `Type=notify` services: READY when the
//! bridges run, RELOADING and READY around a reload, STOPPING at shutdown,
//! and WATCHDOG pings while the runtime is responsive.
//!
//! Every function does nothing when `NOTIFY_SOCKET` is unset, that is when
//! pollhook does not run under systemd. A failure to notify is logged and
//! never stops pollhook.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

/// Tells systemd that pollhook runs `bridges` bridges and is ready.
pub fn notify_ready(bridges: usize) {
    let status = format!("running {bridges} bridge(s)");
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// Tells systemd that a reload started; [`notify_ready`] ends it.
pub fn notify_reloading() {
    // systemd matches RELOADING=1 to the reload request by this timestamp.
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Tells systemd that pollhook is stopping.
pub fn notify_stopping() {
    send(&[NotifyState::Stopping]);
}

/// Sends WATCHDOG=1 at half the interval systemd asked for (`WatchdogSec=`)
/// until `shutdown` is cancelled. Returns at once when no watchdog is set.
///
/// The pings come from a tokio task, so they stop when the runtime hangs and
/// systemd then restarts pollhook.
pub async fn run_watchdog(shutdown: CancellationToken) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let period = (interval / 2).max(Duration::from_millis(100));
    tracing::info!(interval = %humantime::format_duration(interval), "systemd watchdog enabled");
    let mut ticks = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => send(&[NotifyState::Watchdog]),
        }
    }
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "failed to notify systemd");
    }
}

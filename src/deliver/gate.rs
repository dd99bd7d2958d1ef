//! Per-target admission: at most `max_in_flight` requests at once, spaced by
//! the rate limit, and none while the target rests after an overload answer.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::deliverer::TargetLimits;
use super::pacing::Pacer;

/// Shared by every lane that sends to one target.
pub(super) struct TargetGate {
    permits: Semaphore,
    pacer: Option<Mutex<Pacer>>,
    paused_until: Mutex<Option<Instant>>,
}

impl TargetGate {
    pub fn new(limits: &TargetLimits) -> TargetGate {
        TargetGate {
            permits: Semaphore::new(limits.max_in_flight.max(1)),
            pacer: limits.rate_limit.map(|limit| Mutex::new(Pacer::new(limit))),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits until a request may start; `None` when `shutdown` came first.
    pub async fn admit(&self, shutdown: &CancellationToken) -> Option<SemaphorePermit<'_>> {
        loop {
            let paused = *self
                .paused_until
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            match paused {
                Some(until) if until > Instant::now() => sleep_until(until, shutdown).await?,
                _ => break,
            }
        }
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return None,
            permit = self.permits.acquire() => permit.ok()?,
        };
        if let Some(pacer) = &self.pacer {
            loop {
                let wait = pacer
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .try_acquire(Instant::now());
                match wait {
                    Ok(()) => break,
                    Err(delay) => sleep_until(Instant::now() + delay, shutdown).await?,
                }
            }
        }
        Some(permit)
    }

    /// Keeps every lane of this target from sending for `delay`.
    pub fn pause(&self, delay: Duration) {
        let until = Instant::now() + delay;
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }
}

/// Sleeps until `deadline`; `None` when `shutdown` came first.
pub(super) async fn sleep_until(deadline: Instant, shutdown: &CancellationToken) -> Option<()> {
    tokio::select! {
        _ = shutdown.cancelled() => None,
        _ = tokio::time::sleep_until(deadline) => Some(()),
    }
}

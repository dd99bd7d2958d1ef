//! The outbox worker: finds the oldest pending delivery of every lane, sends
//! those that are due while respecting each target's rate limit, parallelism
//! and pauses, records each attempt, and sleeps until something is due or a
//! poll queues new events.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use reqwest::Client;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::attempt::{send, AttemptResult};
use super::pacing::{Pacer, RateLimit};
use super::policy::{decide, AttemptFacts, RetryPolicy, Verdict};
use crate::config::{Bridge, DeliveryConfig, Target};
use crate::store::{AttemptRecord, DeliveryState, PendingDelivery, Store, StoreError};

/// Lanes sent to at the same time, across all bridges and targets.
const MAX_PARALLEL_LANES: usize = 64;
/// How long the worker waits at most before reading the outbox again, so that
/// `pollhook redeliver` and `pollhook targets enable` take effect soon.
const IDLE_WAIT: Duration = Duration::from_secs(5);
/// How long the worker waits before reading the outbox again after an error.
const STORE_RETRY_WAIT: Duration = Duration::from_secs(5);
/// How often old delivered and failed events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// One bridge's events to one target, delivered in queue order.
type Lane = (String, String);

/// The limits of one target, merged across the bridges that use it.
#[derive(Debug, Clone)]
struct TargetLimits {
    rate_limit: Option<RateLimit>,
    max_in_flight: usize,
    fingerprint: String,
}

/// What the worker tracks per target between attempts.
#[derive(Debug, Default)]
struct TargetState {
    in_flight: usize,
    pacer: Option<Pacer>,
    paused_until: Option<Instant>,
}

/// The client, the store and the current targets that deliveries use.
pub struct Deliverer {
    client: Client,
    store: Arc<Store>,
    lanes: HashMap<Lane, Target>,
    limits: HashMap<String, TargetLimits>,
    timeout: Duration,
    policy: RetryPolicy,
    retention: Duration,
    failed_retention: Duration,
}

/// How one attempt ended, as the worker loop needs it.
struct Finished {
    lane: Lane,
    verdict: Option<Verdict>,
}

impl Deliverer {
    pub fn new(
        client: Client,
        store: Arc<Store>,
        bridges: &[Arc<Bridge>],
        delivery: &DeliveryConfig,
    ) -> Deliverer {
        let mut lanes = HashMap::new();
        let mut limits: HashMap<String, TargetLimits> = HashMap::new();
        for bridge in bridges {
            for target in &bridge.targets {
                lanes.insert(
                    (bridge.name.to_string(), target.key.clone()),
                    target.clone(),
                );
                merge_limits(&mut limits, target);
            }
        }
        Deliverer {
            client,
            store,
            lanes,
            limits,
            timeout: delivery.timeout.0,
            policy: RetryPolicy {
                schedule: delivery
                    .retry_schedule
                    .iter()
                    .map(|delay| delay.0)
                    .collect(),
                max_retry_after: delivery.max_retry_after.0,
            },
            retention: delivery.retention.0,
            failed_retention: delivery.failed_retention.0,
        }
    }

    /// Makes one attempt for `head`, records it, and returns the result and
    /// what follows from it.
    async fn deliver(
        &self,
        head: &PendingDelivery,
        target: &Target,
    ) -> Result<(AttemptResult, Verdict), StoreError> {
        let attempted_at = Utc::now().timestamp_millis();
        let result = send(
            &self.client,
            target,
            &head.event_id,
            &head.body,
            self.timeout,
        )
        .await;
        let attempts_made = head.attempts + 1;
        let facts = AttemptFacts {
            outcome: result.outcome,
            status: result.status,
            retry_after: result.retry_after,
        };
        let now = Utc::now().timestamp_millis();
        let verdict = decide(
            &self.policy,
            attempts_made,
            facts,
            now,
            rand::rng().random_range(-1.0..=1.0),
        );
        let state = match verdict {
            Verdict::Delivered => DeliveryState::Delivered,
            Verdict::Retry { at, .. } => DeliveryState::Retry { at },
            Verdict::Failed => DeliveryState::Failed,
            Verdict::DisableTarget => DeliveryState::Retry { at: now },
        };
        let record = AttemptRecord {
            attempted_at,
            duration_ms: i64::try_from(result.duration.as_millis()).unwrap_or(i64::MAX),
            outcome: result.outcome.as_str(),
            status_code: result.status,
            error: result.error.clone(),
            response_body: result.response_body.clone(),
        };

        let store = self.store.clone();
        let delivery_id = head.delivery_id;
        let disable = (verdict == Verdict::DisableTarget)
            .then(|| (head.target.clone(), target.fingerprint.clone()));
        tokio::task::spawn_blocking(move || {
            store.record_attempt(delivery_id, &record, state)?;
            if let Some((key, fingerprint)) = disable {
                let reason = "receiver answered 410 Gone";
                store.disable_target(&key, reason, &fingerprint, now)?;
            }
            Ok::<_, StoreError>(())
        })
        .await
        .expect("recording an attempt does not panic")?;
        log_outcome(head, attempts_made, &result, verdict);
        Ok((result, verdict))
    }

    fn target_of(&self, head: &PendingDelivery) -> Option<Target> {
        self.lanes
            .get(&(head.bridge.clone(), head.target.clone()))
            .cloned()
    }

    async fn lane_heads(&self, bridge: Option<String>) -> Result<Vec<PendingDelivery>, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.lane_heads(bridge.as_deref()))
            .await
            .expect("reading the outbox does not panic")
    }

    /// Enables targets that a 410 disabled but whose configuration changed
    /// since, and reminds the operator of those still disabled.
    async fn review_disabled_targets(&self) {
        for (key, limits) in &self.limits {
            let store = self.store.clone();
            let lookup_key = key.clone();
            let found =
                tokio::task::spawn_blocking(move || store.disabled_target(&lookup_key)).await;
            let Ok(Ok(Some(disabled))) = found else {
                continue;
            };
            if disabled.config_hash != limits.fingerprint {
                let store = self.store.clone();
                let enable_key = key.clone();
                if let Ok(Ok(true)) =
                    tokio::task::spawn_blocking(move || store.enable_target(&enable_key)).await
                {
                    tracing::info!(target = %key, "target enabled again because its configuration changed");
                }
            } else {
                tracing::error!(target = %key, reason = %disabled.reason, "target is disabled and gets no deliveries: fix the receiver, then run `pollhook targets enable {key}`");
            }
        }
    }

    async fn prune(&self) {
        let now = Utc::now().timestamp_millis();
        let before =
            |age: Duration| now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        let (delivered_before, failed_before) =
            (before(self.retention), before(self.failed_retention));
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.prune(delivered_before, failed_before))
            .await
        {
            Ok(Ok(pruned)) if pruned.deliveries > 0 => {
                tracing::info!(
                    deliveries = pruned.deliveries,
                    events = pruned.events,
                    "removed old delivered and failed events"
                );
            }
            Ok(Err(error)) => tracing::error!(%error, "cannot remove old events"),
            _ => {}
        }
    }
}

/// Drains the outbox until `shutdown` is cancelled; attempts in flight then
/// finish (each within the delivery timeout) and are recorded.
pub async fn run_worker(deliverer: Arc<Deliverer>, wake: Arc<Notify>, shutdown: CancellationToken) {
    deliverer.review_disabled_targets().await;
    deliverer.prune().await;
    let mut last_prune = Instant::now();
    let mut worker = WorkerState::default();

    while !shutdown.is_cancelled() {
        if last_prune.elapsed() >= PRUNE_EVERY {
            deliverer.prune().await;
            last_prune = Instant::now();
        }
        let wait = match deliverer.lane_heads(None).await {
            Ok(heads) => worker.start_due(&deliverer, heads),
            Err(error) => {
                tracing::error!(%error, "cannot read the delivery queue");
                STORE_RETRY_WAIT
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            Some(finished) = worker.attempts.join_next(), if !worker.attempts.is_empty() => {
                worker.finish(finished);
            }
        }
    }

    while let Some(finished) = worker.attempts.join_next().await {
        worker.finish(finished);
    }
}

#[derive(Default)]
struct WorkerState {
    in_flight: HashSet<Lane>,
    targets: HashMap<String, TargetState>,
    attempts: JoinSet<Finished>,
    warned_lanes: HashSet<Lane>,
}

impl WorkerState {
    /// Starts an attempt for every lane head that is due and allowed, and
    /// returns how long to wait until the next one could be.
    fn start_due(&mut self, deliverer: &Arc<Deliverer>, heads: Vec<PendingDelivery>) -> Duration {
        let now_millis = Utc::now().timestamp_millis();
        let now = Instant::now();
        let mut wait = IDLE_WAIT;
        for head in heads {
            let lane = (head.bridge.clone(), head.target.clone());
            if self.in_flight.contains(&lane) {
                continue;
            }
            let Some(target) = deliverer.target_of(&head) else {
                if self.warned_lanes.insert(lane) {
                    tracing::warn!(bridge = %head.bridge, target = %head.target, "events are queued for a target that is no longer configured: they stay queued until it is configured again");
                }
                continue;
            };
            if head.next_attempt_at > now_millis {
                wait = wait.min(Duration::from_millis(
                    u64::try_from(head.next_attempt_at - now_millis).unwrap_or(0),
                ));
                continue;
            }
            if self.in_flight.len() >= MAX_PARALLEL_LANES {
                break;
            }
            match self.reserve(deliverer, &head.target, now) {
                Ok(()) => self.spawn(deliverer, head, target, lane),
                Err(Some(delay)) => wait = wait.min(delay),
                Err(None) => {}
            }
        }
        wait
    }

    /// Takes a request slot of `key`. `Err(Some(delay))` means a slot frees
    /// up after `delay`; `Err(None)` means one frees up when an attempt ends.
    fn reserve(
        &mut self,
        deliverer: &Deliverer,
        key: &str,
        now: Instant,
    ) -> Result<(), Option<Duration>> {
        let limits = deliverer.limits.get(key);
        let state = self.targets.entry(key.to_owned()).or_default();
        if let Some(until) = state.paused_until.filter(|until| *until > now) {
            return Err(Some(until - now));
        }
        if state.in_flight >= limits.map_or(1, |limits| limits.max_in_flight) {
            return Err(None);
        }
        if let Some(limit) = limits.and_then(|limits| limits.rate_limit) {
            let pacer = state.pacer.get_or_insert_with(|| Pacer::new(limit));
            pacer.try_acquire(now).map_err(Some)?;
        }
        state.in_flight += 1;
        Ok(())
    }

    fn spawn(
        &mut self,
        deliverer: &Arc<Deliverer>,
        head: PendingDelivery,
        target: Target,
        lane: Lane,
    ) {
        self.in_flight.insert(lane.clone());
        let deliverer = deliverer.clone();
        self.attempts.spawn(async move {
            let verdict = match deliverer.deliver(&head, &target).await {
                Ok((_, verdict)) => Some(verdict),
                Err(error) => {
                    tracing::error!(bridge = %head.bridge, target = %head.target, event_id = %head.event_id, %error, "cannot record a delivery attempt");
                    None
                }
            };
            Finished { lane, verdict }
        });
    }

    fn finish(&mut self, finished: Result<Finished, tokio::task::JoinError>) {
        let Ok(Finished { lane, verdict }) = finished else {
            return;
        };
        self.in_flight.remove(&lane);
        let state = self.targets.entry(lane.1.clone()).or_default();
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some(Verdict::Retry {
            pause_until: Some(until),
            ..
        }) = verdict
        {
            let delay = u64::try_from(until - Utc::now().timestamp_millis()).unwrap_or(0);
            state.paused_until = Some(Instant::now() + Duration::from_millis(delay));
        }
    }
}

/// Makes one attempt for every queued event of `bridge`, due or not, in lane
/// order. A lane stops at its first failure, so that order is kept, and rate
/// limits are respected by waiting.
pub async fn deliver_pending_once(
    deliverer: &Deliverer,
    bridge: &str,
) -> Result<(usize, usize), StoreError> {
    let mut stopped: HashSet<Lane> = HashSet::new();
    let mut pacers: HashMap<String, Pacer> = HashMap::new();
    let (mut delivered, mut failed) = (0, 0);
    loop {
        let heads = deliverer.lane_heads(Some(bridge.to_owned())).await?;
        let open: Vec<_> = heads
            .into_iter()
            .filter(|head| !stopped.contains(&(head.bridge.clone(), head.target.clone())))
            .filter_map(|head| deliverer.target_of(&head).map(|target| (head, target)))
            .collect();
        if open.is_empty() {
            return Ok((delivered, failed));
        }
        for (head, target) in open {
            if let Some(limit) = target.rate_limit {
                let pacer = pacers
                    .entry(head.target.clone())
                    .or_insert_with(|| Pacer::new(limit));
                while let Err(delay) = pacer.try_acquire(Instant::now()) {
                    tokio::time::sleep(delay).await;
                }
            }
            let (_, verdict) = deliverer.deliver(&head, &target).await?;
            if verdict == Verdict::Delivered {
                delivered += 1;
            } else {
                failed += 1;
                stopped.insert((head.bridge.clone(), head.target.clone()));
            }
        }
    }
}

/// Keeps the strictest limits when bridges configure one target differently.
fn merge_limits(limits: &mut HashMap<String, TargetLimits>, target: &Target) {
    let entry = limits
        .entry(target.key.clone())
        .or_insert_with(|| TargetLimits {
            rate_limit: target.rate_limit,
            max_in_flight: target.max_in_flight,
            fingerprint: target.fingerprint.clone(),
        });
    entry.max_in_flight = entry.max_in_flight.min(target.max_in_flight);
    entry.rate_limit = match (entry.rate_limit, target.rate_limit) {
        (Some(a), Some(b)) => Some(if a.interval() >= b.interval() { a } else { b }),
        (a, b) => a.or(b),
    };
}

fn log_outcome(head: &PendingDelivery, attempt: u32, result: &AttemptResult, verdict: Verdict) {
    let outcome = result.outcome.as_str();
    let error = result.error.as_deref().unwrap_or("");
    match verdict {
        Verdict::Delivered => {
            tracing::info!(bridge = %head.bridge, target = %head.target, event_id = %head.event_id, attempt, status = result.status, "delivered");
        }
        Verdict::Retry { at, .. } => {
            let seconds = u64::try_from(at - Utc::now().timestamp_millis()).unwrap_or(0) / 1000;
            let retry_in = humantime::format_duration(Duration::from_secs(seconds));
            tracing::warn!(bridge = %head.bridge, target = %head.target, event_id = %head.event_id, attempt, outcome, error, %retry_in, "delivery failed, will retry");
        }
        Verdict::Failed => {
            tracing::error!(bridge = %head.bridge, target = %head.target, event_id = %head.event_id, attempt, outcome, error, "delivery failed after the last retry: the event is marked failed, requeue it with `pollhook redeliver`");
        }
        Verdict::DisableTarget => {
            tracing::error!(bridge = %head.bridge, target = %head.target, event_id = %head.event_id, attempt, "receiver answered 410 Gone: the target is disabled and its events stay queued; run `pollhook targets enable` once it accepts events again");
        }
    }
}

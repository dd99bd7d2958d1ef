//! The outbox worker: finds the oldest pending delivery of every lane, sends
//! those that are due, records each attempt, and sleeps until the next one is
//! due or a poll queues new events.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use reqwest::Client;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::attempt::{send, AttemptOutcome, AttemptResult};
use super::retry::next_state;
use crate::config::{Bridge, DeliveryConfig, Target};
use crate::store::{AttemptRecord, DeliveryState, PendingDelivery, Store, StoreError};

/// Lanes sent to at the same time, across all bridges and targets.
const MAX_PARALLEL_LANES: usize = 32;
/// How long the worker sleeps when nothing is queued; a poll wakes it sooner.
const IDLE_WAIT: Duration = Duration::from_secs(60);
/// How long the worker waits before reading the outbox again after an error.
const STORE_RETRY_WAIT: Duration = Duration::from_secs(5);

type Lane = (String, String);

/// Called after every delivery attempt with the target key and the outcome,
/// such as to count attempts for metrics.
pub type AttemptHook = Arc<dyn Fn(&str, AttemptOutcome) + Send + Sync>;

/// The client, the store and the current targets that deliveries use.
pub struct Deliverer {
    client: Client,
    store: Arc<Store>,
    /// Replaced as a whole when the daemon reloads its configuration.
    targets: RwLock<HashMap<Lane, Target>>,
    timeout: Duration,
    retry_schedule: Vec<Duration>,
    on_attempt: Option<AttemptHook>,
}

impl Deliverer {
    pub fn new(
        client: Client,
        store: Arc<Store>,
        bridges: &[Arc<Bridge>],
        delivery: &DeliveryConfig,
    ) -> Deliverer {
        Deliverer {
            client,
            store,
            targets: RwLock::new(target_map(bridges)),
            timeout: delivery.timeout.0,
            retry_schedule: delivery
                .retry_schedule
                .iter()
                .map(|delay| delay.0)
                .collect(),
            on_attempt: None,
        }
    }

    /// Calls `hook` after every attempt.
    pub fn with_attempt_hook(mut self, hook: AttemptHook) -> Deliverer {
        self.on_attempt = Some(hook);
        self
    }

    /// Makes one attempt for `head`, records it, and returns its result.
    async fn deliver(
        &self,
        head: &PendingDelivery,
        target: &Target,
    ) -> Result<AttemptResult, StoreError> {
        let attempted_at = Utc::now().timestamp_millis();
        let result = send(
            &self.client,
            target,
            &head.event_id,
            &head.body,
            self.timeout,
        )
        .await;
        if let Some(hook) = &self.on_attempt {
            hook(&head.target, result.outcome);
        }
        let attempts_made = head.attempts + 1;
        let state = match result.outcome {
            AttemptOutcome::Ok => DeliveryState::Delivered,
            _ => next_state(
                attempts_made,
                &self.retry_schedule,
                Utc::now().timestamp_millis(),
            ),
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
        tokio::task::spawn_blocking(move || store.record_attempt(delivery_id, &record, state))
            .await
            .expect("recording an attempt does not panic")?;
        log_outcome(head, attempts_made, &result, state);
        Ok(result)
    }

    /// Replaces the targets with those of `bridges`, for a reload. Attempts in
    /// flight finish with the target they started with.
    pub fn replace_targets(&self, bridges: &[Arc<Bridge>]) {
        let targets = target_map(bridges);
        *self
            .targets
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = targets;
    }

    fn target_of(&self, head: &PendingDelivery) -> Option<Target> {
        self.targets
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(&(head.bridge.clone(), head.target.clone()))
            .cloned()
    }

    async fn lane_heads(&self, bridge: Option<String>) -> Result<Vec<PendingDelivery>, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.lane_heads(bridge.as_deref()))
            .await
            .expect("reading the outbox does not panic")
    }
}

fn target_map(bridges: &[Arc<Bridge>]) -> HashMap<Lane, Target> {
    bridges
        .iter()
        .flat_map(|bridge| {
            bridge.targets.iter().map(|target| {
                (
                    (bridge.name.to_string(), target.key.clone()),
                    target.clone(),
                )
            })
        })
        .collect()
}

/// Drains the outbox until `shutdown` is cancelled; attempts in flight then
/// finish (each within the delivery timeout) and are recorded.
pub async fn run_worker(deliverer: Arc<Deliverer>, wake: Arc<Notify>, shutdown: CancellationToken) {
    let mut in_flight: HashSet<Lane> = HashSet::new();
    let mut attempts: JoinSet<Lane> = JoinSet::new();
    let mut warned_lanes: HashSet<Lane> = HashSet::new();

    while !shutdown.is_cancelled() {
        let wait = match deliverer.lane_heads(None).await {
            Ok(heads) => start_due(
                &deliverer,
                heads,
                &mut in_flight,
                &mut attempts,
                &mut warned_lanes,
            ),
            Err(error) => {
                tracing::error!(%error, "cannot read the delivery queue");
                STORE_RETRY_WAIT
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            Some(finished) = attempts.join_next(), if !attempts.is_empty() => {
                if let Ok(lane) = finished {
                    in_flight.remove(&lane);
                }
            }
        }
    }

    while let Some(finished) = attempts.join_next().await {
        if let Ok(lane) = finished {
            in_flight.remove(&lane);
        }
    }
}

/// Starts an attempt for every due lane head and returns how long to wait
/// until the next one is due.
fn start_due(
    deliverer: &Arc<Deliverer>,
    heads: Vec<PendingDelivery>,
    in_flight: &mut HashSet<Lane>,
    attempts: &mut JoinSet<Lane>,
    warned_lanes: &mut HashSet<Lane>,
) -> Duration {
    let now = Utc::now().timestamp_millis();
    let mut next_due: Option<i64> = None;
    for head in heads {
        let lane = (head.bridge.clone(), head.target.clone());
        if in_flight.contains(&lane) {
            continue;
        }
        let Some(target) = deliverer.target_of(&head) else {
            if warned_lanes.insert(lane) {
                tracing::warn!(bridge = %head.bridge, target = %head.target, "events are queued for a target that is no longer configured: they stay queued until it is configured again");
            }
            continue;
        };
        if head.next_attempt_at > now || in_flight.len() >= MAX_PARALLEL_LANES {
            next_due =
                Some(next_due.map_or(head.next_attempt_at, |due| due.min(head.next_attempt_at)));
            continue;
        }
        in_flight.insert(lane.clone());
        let deliverer = deliverer.clone();
        attempts.spawn(async move {
            if let Err(error) = deliverer.deliver(&head, &target).await {
                tracing::error!(bridge = %head.bridge, target = %head.target, event_id = %head.event_id, %error, "cannot record a delivery attempt");
            }
            lane
        });
    }
    next_due.map_or(IDLE_WAIT, |due| {
        Duration::from_millis(u64::try_from(due - now).unwrap_or(0)).min(IDLE_WAIT)
    })
}

/// Makes one attempt for every queued event of `bridge`, due or not, in lane
/// order. A lane stops at its first failure, so that order is kept.
pub async fn deliver_pending_once(
    deliverer: &Deliverer,
    bridge: &str,
) -> Result<(usize, usize), StoreError> {
    let mut stopped: HashSet<Lane> = HashSet::new();
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
            let result = deliverer.deliver(&head, &target).await?;
            if result.outcome == AttemptOutcome::Ok {
                delivered += 1;
            } else {
                failed += 1;
                stopped.insert((head.bridge.clone(), head.target.clone()));
            }
        }
    }
}

fn log_outcome(head: &PendingDelivery, attempt: u32, result: &AttemptResult, state: DeliveryState) {
    let outcome = result.outcome.as_str();
    let error = result.error.as_deref().unwrap_or("");
    match state {
        DeliveryState::Delivered => {
            tracing::info!(bridge = %head.bridge, target = %head.target, event_id = %head.event_id, attempt, status = result.status, "delivered");
        }
        DeliveryState::Retry { at } => {
            let retry_in = Duration::from_millis(
                u64::try_from(at - Utc::now().timestamp_millis()).unwrap_or(0),
            );
            tracing::warn!(bridge = %head.bridge, target = %head.target, event_id = %head.event_id, attempt, outcome, error, retry_in = %humantime::format_duration(Duration::from_secs(retry_in.as_secs())), "delivery failed, will retry");
        }
        DeliveryState::Failed => {
            tracing::error!(bridge = %head.bridge, target = %head.target, event_id = %head.event_id, attempt, outcome, error, "delivery failed after the last retry: the event is marked failed");
        }
    }
}

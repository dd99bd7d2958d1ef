//! The delivery context (HTTP client, store, configured targets and retry
//! policy) and one attempt from request to verdict.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use reqwest::Client;

use super::attempt::{send, AttemptOutcome, AttemptResult};
use super::pacing::RateLimit;
use super::policy::{decide, AttemptFacts, RetryPolicy, Verdict};
use crate::config::{Bridge, DeliveryConfig, Target};
use crate::store::{AttemptRecord, DeliveryState, PendingDelivery, Store, StoreError};

/// One bridge's events to one target, delivered in queue order.
pub(super) type Lane = (String, String);

/// The limits of one target, merged across the bridges that use it.
#[derive(Debug, Clone)]
pub(super) struct TargetLimits {
    pub rate_limit: Option<RateLimit>,
    pub max_in_flight: usize,
    pub fingerprint: String,
}

/// Called after every delivery attempt with the target key and the outcome,
/// such as to count attempts for metrics.
pub type AttemptHook = Arc<dyn Fn(&str, AttemptOutcome) + Send + Sync>;

/// The client, the store and the current targets that deliveries use.
pub struct Deliverer {
    pub(super) client: Client,
    pub(super) store: Arc<Store>,
    /// Replaced as a whole when the daemon reloads its configuration.
    lanes: RwLock<HashMap<Lane, Target>>,
    limits: RwLock<HashMap<String, TargetLimits>>,
    timeout: Duration,
    policy: RetryPolicy,
    retention: Duration,
    failed_retention: Duration,
    on_attempt: Option<AttemptHook>,
}

/// One finished attempt, ready to be recorded.
pub(super) struct Attempt {
    pub verdict: Verdict,
    pub record: AttemptRecord,
    pub state: DeliveryState,
    /// Set when a 410 disabled the target: its key and configuration hash.
    pub disable: Option<(String, String)>,
}

impl Deliverer {
    pub fn new(
        client: Client,
        store: Arc<Store>,
        bridges: &[Arc<Bridge>],
        delivery: &DeliveryConfig,
    ) -> Deliverer {
        let (lanes, limits) = lanes_and_limits(bridges);
        Deliverer {
            client,
            store,
            lanes: RwLock::new(lanes),
            limits: RwLock::new(limits),
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
            on_attempt: None,
        }
    }

    /// Calls `hook` after every attempt.
    pub fn with_attempt_hook(mut self, hook: AttemptHook) -> Deliverer {
        self.on_attempt = Some(hook);
        self
    }

    /// Replaces the targets with those of `bridges`, for a reload. Attempts in
    /// flight finish with the target they started with.
    pub fn replace_targets(&self, bridges: &[Arc<Bridge>]) {
        let (lanes, limits) = lanes_and_limits(bridges);
        *self
            .lanes
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = lanes;
        *self
            .limits
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = limits;
    }

    /// Returns the current limits of every target.
    pub(super) fn limits(&self) -> HashMap<String, TargetLimits> {
        self.limits
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Sends `head` to `target` once and decides what follows; records nothing.
    pub(super) async fn attempt(&self, head: &PendingDelivery, target: &Target) -> Attempt {
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
        let facts = AttemptFacts {
            outcome: result.outcome,
            status: result.status,
            retry_after: result.retry_after,
        };
        let now = Utc::now().timestamp_millis();
        let jitter = rand::rng().random_range(-1.0..=1.0);
        let verdict = decide(&self.policy, head.attempts + 1, facts, now, jitter);
        let state = match verdict {
            Verdict::Delivered => DeliveryState::Delivered,
            Verdict::Retry { at, .. } => DeliveryState::Retry { at },
            Verdict::Failed => DeliveryState::Failed,
            // The event stays queued for when the target is enabled again.
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
        let disable = (verdict == Verdict::DisableTarget)
            .then(|| (head.target.clone(), target.fingerprint.clone()));
        log_outcome(head, head.attempts + 1, &result, verdict);
        Attempt {
            verdict,
            record,
            state,
            disable,
        }
    }

    /// Makes one attempt and records it before returning.
    pub(super) async fn deliver_and_record(
        &self,
        head: &PendingDelivery,
        target: &Target,
    ) -> Result<Verdict, StoreError> {
        let attempt = self.attempt(head, target).await;
        let delivery_id = head.delivery_id;
        let verdict = attempt.verdict;
        self.store
            .run_blocking(move |store| {
                store.record_attempt(delivery_id, &attempt.record, attempt.state)?;
                if let Some((key, fingerprint)) = attempt.disable {
                    store.disable_target(
                        &key,
                        DISABLE_REASON,
                        &fingerprint,
                        attempt.record.attempted_at,
                    )?;
                }
                Ok(())
            })
            .await?;
        Ok(verdict)
    }

    pub(super) fn target_of(&self, bridge: &str, target: &str) -> Option<Target> {
        self.lanes
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(&(bridge.to_owned(), target.to_owned()))
            .cloned()
    }

    /// Enables targets that a 410 disabled but whose configuration changed
    /// since, and reminds the operator of those still disabled.
    pub async fn review_disabled_targets(&self) {
        for (key, limits) in &self.limits() {
            let lookup_key = key.clone();
            let found = self
                .store
                .run_blocking(move |store| store.disabled_target(&lookup_key))
                .await;
            let disabled = match found {
                Ok(Some(disabled)) => disabled,
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(target = %key, %error, "cannot read whether the target is disabled");
                    continue;
                }
            };
            if disabled.config_hash != limits.fingerprint {
                let enable_key = key.clone();
                let enabled = self
                    .store
                    .run_blocking(move |store| store.enable_target(&enable_key))
                    .await;
                if let Err(error) = &enabled {
                    tracing::error!(target = %key, %error, "cannot enable the target again");
                }
                if let Ok(true) = enabled {
                    tracing::info!(target = %key, "target enabled again because its configuration changed");
                }
            } else {
                tracing::error!(target = %key, reason = %disabled.reason, "target is disabled and gets no deliveries: fix the receiver, then run `pollhook targets enable {key}`");
            }
        }
    }

    /// Removes delivered and failed events older than their retention.
    pub(super) async fn prune(&self) {
        let now = Utc::now().timestamp_millis();
        let before =
            |age: Duration| now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        let (delivered_before, failed_before) =
            (before(self.retention), before(self.failed_retention));
        let pruned = self
            .store
            .run_blocking(move |store| store.prune(delivered_before, failed_before))
            .await;
        match pruned {
            Ok(pruned) if pruned.deliveries > 0 => {
                tracing::info!(
                    deliveries = pruned.deliveries,
                    events = pruned.events,
                    "removed old delivered and failed events"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "cannot remove old events"),
        }
    }
}

/// The stored and listed reason of a target that a 410 disabled.
pub(super) const DISABLE_REASON: &str = "receiver answered 410 Gone";

/// Maps every lane of `bridges` to its target, and every target key to its
/// limits.
fn lanes_and_limits(
    bridges: &[Arc<Bridge>],
) -> (HashMap<Lane, Target>, HashMap<String, TargetLimits>) {
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
    (lanes, limits)
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
            let seconds = u64::try_from(at - Utc::now().timestamp_millis())
                .unwrap_or(0)
                .div_ceil(1000);
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

//! Prometheus metrics for the admin server's `/metrics`.
//!
//! Counters and the poll duration histogram live in memory and are updated
//! by the daemon. Gauges that describe stored state (items, last successful
//! poll, queue depth and the age of the oldest pending event) are read from
//! SQLite at every scrape, so they are right even for work done by another
//! process such as `pollhook poll`.
//!
//! The text is OpenMetrics 1.0, which Prometheus, VictoriaMetrics and the
//! OpenTelemetry collector all scrape. Counters end in `_total`.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::Utc;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::daemon::LiveBridges;
use crate::deliver::{AttemptHook, AttemptOutcome};
use crate::store::Store;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric pollhook exports, in one registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    polls: Family<PollLabels, Counter>,
    poll_duration: Family<BridgeLabels, Histogram, fn() -> Histogram>,
    events: Family<EventLabels, Counter>,
    attempts: Family<AttemptLabels, Counter>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    bridge: String,
    /// `ok` or `failed`.
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BridgeLabels {
    bridge: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    bridge: String,
    r#type: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    target: String,
    outcome: &'static str,
}

impl Metrics {
    /// Creates the registry. `store` and `live` feed the gauges that are read
    /// at scrape time.
    pub fn new(store: Arc<Store>, live: Arc<LiveBridges>) -> Metrics {
        let mut registry = Registry::with_prefix("pollhook");
        let polls = Family::<PollLabels, Counter>::default();
        registry.register(
            "polls",
            "Polls by bridge and result (ok or failed)",
            polls.clone(),
        );
        let poll_duration: Family<BridgeLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(poll_histogram);
        registry.register_with_unit(
            "poll_duration",
            "Time from the request to the committed snapshot, or to the failure",
            Unit::Seconds,
            poll_duration.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "events",
            "Events queued, by bridge and type (item.created, bridge.failing, ...)",
            events.clone(),
        );
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Delivery attempts by target and outcome (ok, timeout, connect, tls, redirect, status)",
            attempts.clone(),
        );
        registry.register_collector(Box::new(StateCollector { store, live }));
        Metrics {
            registry,
            polls,
            poll_duration,
            events,
            attempts,
        }
    }

    /// Counts one finished poll and its duration.
    pub fn record_poll(&self, bridge: &str, ok: bool, seconds: f64) {
        let result = if ok { "ok" } else { "failed" };
        self.polls
            .get_or_create(&PollLabels {
                bridge: bridge.to_owned(),
                result,
            })
            .inc();
        self.poll_duration
            .get_or_create(&BridgeLabels {
                bridge: bridge.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts one queued event of type `kind`.
    pub fn record_event(&self, bridge: &str, kind: &'static str) {
        self.events
            .get_or_create(&EventLabels {
                bridge: bridge.to_owned(),
                r#type: kind,
            })
            .inc();
    }

    /// Returns a hook for the delivery worker that counts attempts.
    pub fn attempt_hook(self: &Arc<Self>) -> AttemptHook {
        let metrics = Arc::clone(self);
        Arc::new(move |target: &str, outcome: AttemptOutcome| {
            metrics
                .attempts
                .get_or_create(&AttemptLabels {
                    target: target.to_owned(),
                    outcome: outcome.as_str(),
                })
                .inc();
        })
    }

    /// Renders every metric as OpenMetrics text. It reads the database, so
    /// call it from a blocking thread.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Buckets from 10 ms to about 80 s, doubling: a poll spans a quick local
/// API to a slow paginated one.
fn poll_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 14))
}

/// The gauges read from the database at scrape time.
struct StateCollector {
    store: Arc<Store>,
    live: Arc<LiveBridges>,
}

impl std::fmt::Debug for StateCollector {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StateCollector")
            .finish_non_exhaustive()
    }
}

type LabeledGauge = Family<Vec<(String, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>;

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let configured: Vec<String> = self
            .live
            .get()
            .unwrap_or_default()
            .iter()
            .map(|bridge| bridge.name.to_string())
            .collect();
        let now = Utc::now().timestamp_millis();

        let items = LabeledGauge::default();
        let last_success = LabeledGauge::default();
        let failures = LabeledGauge::default();
        match self.store.bridge_overviews() {
            Ok(overviews) => {
                for overview in overviews
                    .iter()
                    .filter(|overview| configured.contains(&overview.bridge))
                {
                    let labels = vec![("bridge".to_owned(), overview.bridge.clone())];
                    items.get_or_create(&labels).set(overview.items as f64);
                    failures
                        .get_or_create(&labels)
                        .set(f64::from(overview.consecutive_failures));
                    if let Some(at) = overview.last_success_at {
                        last_success.get_or_create(&labels).set(at as f64 / 1000.0);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "failed to read bridge state for /metrics"),
        }

        let depth = LabeledGauge::default();
        let oldest = LabeledGauge::default();
        // Every configured target has a depth, 0 when nothing is pending, so
        // that alerts on it see the target before its first backlog.
        for bridge in self.live.get().unwrap_or_default().iter() {
            for target in &bridge.targets {
                let labels = vec![("target".to_owned(), target.key.clone())];
                depth.get_or_create(&labels).set(0.0);
                oldest.get_or_create(&labels).set(0.0);
            }
        }
        match self.store.target_queues() {
            Ok(queues) => {
                for (target, queue) in queues {
                    let Some(oldest_at) = queue.oldest_pending_at else {
                        continue;
                    };
                    let labels = vec![("target".to_owned(), target)];
                    depth.get_or_create(&labels).set(queue.pending as f64);
                    let age = (now - oldest_at).max(0) as f64 / 1000.0;
                    oldest.get_or_create(&labels).set(age);
                }
            }
            Err(error) => tracing::warn!(%error, "failed to read the delivery queue for /metrics"),
        }

        let gauges = [
            (
                "bridge_items",
                "Items in the bridge's snapshot (1 for a watched document)",
                None,
                &items,
            ),
            (
                "bridge_consecutive_failures",
                "Failed polls since the bridge's last successful one",
                None,
                &failures,
            ),
            (
                "last_success_timestamp",
                "Unix time of the bridge's last successful poll",
                Some(Unit::Seconds),
                &last_success,
            ),
            ("queue_depth", "Pending deliveries per target", None, &depth),
            (
                "queue_oldest_age",
                "Age of the oldest pending event per target",
                Some(Unit::Seconds),
                &oldest,
            ),
        ];
        for (name, help, unit, family) in gauges {
            let metric =
                encoder.encode_descriptor(name, help, unit.as_ref(), family.metric_type())?;
            family.encode(metric)?;
        }
        Ok(())
    }
}

/// Returns the value of the sample `name{labels}` in OpenMetrics `text`, for
/// tests and scripts that check one value. `labels` is written as in the
/// text, such as `bridge="orders",result="ok"`.
pub fn sample_value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let mut prefix = String::new();
    let _ = write!(prefix, "{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.split(' ').next())
        .and_then(|value| value.parse().ok())
}

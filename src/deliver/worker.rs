//! The outbox worker: one task per lane (one bridge to one target) with
//! pending events. Each lane reads its queue in batches, sends one event at a
//! time in queue order through its target's gate, and hands the attempt
//! records to the group-commit writer. A supervisor starts lanes as events
//! appear and prunes old events.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::deliverer::{Deliverer, Lane, TargetLimits};
use super::gate::{sleep_until, TargetGate};
use super::policy::Verdict;
use super::recorder::{Message, Recorder};
use crate::store::PendingDelivery;

/// Events a lane reads from the database at once. Bounds memory whatever the
/// length of the queue.
const PREFETCH: usize = 64;
/// How long the supervisor waits at most before looking for new lanes, so that
/// `pollhook redeliver` and `pollhook targets enable` take effect soon.
const IDLE_WAIT: Duration = Duration::from_secs(5);
/// How often old delivered and failed events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Drains the outbox until `shutdown` is cancelled; attempts in flight then
/// finish (each within the delivery timeout) and are recorded.
pub async fn run_worker(deliverer: Arc<Deliverer>, wake: Arc<Notify>, shutdown: CancellationToken) {
    deliverer.review_disabled_targets().await;
    deliverer.prune().await;
    let (recorder, writer) = Recorder::start(deliverer.store.clone());
    let mut gates: HashMap<String, (String, Arc<TargetGate>)> = HashMap::new();

    let mut running: HashSet<Lane> = HashSet::new();
    let mut lanes: JoinSet<Lane> = JoinSet::new();
    let mut warned: HashSet<Lane> = HashSet::new();
    let mut last_prune = Instant::now();
    while !shutdown.is_cancelled() {
        if last_prune.elapsed() >= PRUNE_EVERY {
            deliverer.prune().await;
            last_prune = Instant::now();
        }
        // Limits change on a reload; read them once per round.
        let limits = deliverer.limits();
        for lane in pending_lanes(&deliverer).await {
            if running.contains(&lane) {
                continue;
            }
            let configured = deliverer.target_of(&lane.0, &lane.1).is_some();
            let (true, Some(gate)) = (configured, gate_for(&mut gates, &limits, &lane.1)) else {
                if warned.insert(lane.clone()) {
                    tracing::warn!(bridge = %lane.0, target = %lane.1, "events are queued for a target that is no longer configured: they stay queued until it is configured again, or `pollhook targets move OLD NEW` sends them to its new URL");
                }
                continue;
            };
            running.insert(lane.clone());
            let context = LaneContext {
                deliverer: deliverer.clone(),
                gate,
                recorder: recorder.clone(),
                shutdown: shutdown.clone(),
            };
            lanes.spawn(run_lane(lane, context));
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(IDLE_WAIT) => {}
            Some(Ok(lane)) = lanes.join_next(), if !lanes.is_empty() => {
                running.remove(&lane);
            }
        }
    }

    while lanes.join_next().await.is_some() {}
    drop(recorder);
    if let Err(error) = writer.await {
        tracing::error!(%error, "the attempt writer stopped unexpectedly");
    }
}

/// Returns the gate of target `key`, made anew when the target is new or its
/// configuration changed since the gate was made. Lanes already running keep
/// the gate they started with.
fn gate_for(
    gates: &mut HashMap<String, (String, Arc<TargetGate>)>,
    limits: &HashMap<String, TargetLimits>,
    key: &str,
) -> Option<Arc<TargetGate>> {
    let limits = limits.get(key)?;
    let current = gates
        .get(key)
        .filter(|(fingerprint, _)| *fingerprint == limits.fingerprint);
    if let Some((_, gate)) = current {
        return Some(gate.clone());
    }
    let gate = Arc::new(TargetGate::new(limits));
    gates.insert(key.to_owned(), (limits.fingerprint.clone(), gate.clone()));
    Some(gate)
}

async fn pending_lanes(deliverer: &Deliverer) -> Vec<Lane> {
    match deliverer
        .store
        .run_blocking(|store| store.lanes_with_pending())
        .await
    {
        Ok(lanes) => lanes,
        Err(error) => {
            tracing::error!(%error, "cannot read the delivery queue");
            Vec::new()
        }
    }
}

/// The shared pieces one lane task works with.
struct LaneContext {
    deliverer: Arc<Deliverer>,
    gate: Arc<TargetGate>,
    recorder: Recorder,
    shutdown: CancellationToken,
}

/// Delivers one lane's events in order until the lane is empty, its target
/// is disabled, or shutdown. Returns the lane so the supervisor can restart
/// it when new events arrive.
async fn run_lane(lane: Lane, context: LaneContext) -> Lane {
    let mut buffer: VecDeque<PendingDelivery> = VecDeque::new();
    let mut read_up_to = 0;
    while !context.shutdown.is_cancelled() {
        if buffer.is_empty() {
            let batch = read_batch(&context.deliverer, &lane, read_up_to).await;
            let Some(last) = batch.last() else {
                break;
            };
            read_up_to = last.event_seq;
            buffer.extend(batch);
        }
        let Some(head) = buffer.front_mut() else {
            break;
        };
        if wait_until_due(head, &context.shutdown).await.is_none() {
            break;
        }
        // A reload may have removed or changed the target since the lane began.
        let Some(target) = context.deliverer.target_of(&lane.0, &lane.1) else {
            break;
        };
        let Some(permit) = context.gate.admit(&context.shutdown).await else {
            break;
        };
        let attempt = context.deliverer.attempt(head, &target).await;
        drop(permit);

        context.recorder.record(Message::Record {
            delivery_id: head.delivery_id,
            record: attempt.record,
            state: attempt.state,
            disable: attempt.disable,
        });
        match attempt.verdict {
            Verdict::Delivered | Verdict::Failed => {
                buffer.pop_front();
            }
            Verdict::Retry { at, pause_until } => {
                head.attempts += 1;
                head.next_attempt_at = at;
                if let Some(until) = pause_until {
                    let delay = u64::try_from(until - Utc::now().timestamp_millis()).unwrap_or(0);
                    context.gate.pause(Duration::from_millis(delay));
                }
            }
            Verdict::DisableTarget => break,
        }
    }
    // Written records keep the supervisor from reading this lane's delivered
    // events back as pending when it restarts the lane.
    context.recorder.flush().await;
    lane
}

async fn read_batch(deliverer: &Deliverer, lane: &Lane, after_seq: i64) -> Vec<PendingDelivery> {
    let (bridge, target) = lane.clone();
    let batch = deliverer
        .store
        .run_blocking(move |store| store.pending_in_lane(&bridge, &target, after_seq, PREFETCH))
        .await;
    match batch {
        Ok(batch) => batch,
        Err(error) => {
            tracing::error!(bridge = %lane.0, target = %lane.1, %error, "cannot read the delivery queue");
            Vec::new()
        }
    }
}

/// Sleeps until the head's next attempt is due; `None` on shutdown.
async fn wait_until_due(head: &PendingDelivery, shutdown: &CancellationToken) -> Option<()> {
    let now = Utc::now().timestamp_millis();
    if head.next_attempt_at <= now {
        return Some(());
    }
    let delay = Duration::from_millis(u64::try_from(head.next_attempt_at - now).unwrap_or(0));
    sleep_until(Instant::now() + delay, shutdown).await
}

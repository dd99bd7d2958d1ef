//! Delivery throughput and memory, measured in one process against a local
//! receiver that answers 200 at once. Run with `cargo bench --bench deliver`.
//!
//! 1. Deliveries per second through the outbox worker (signing on), against a
//!    bare reqwest loop that sends the same bodies to the same receiver, with
//!    the same parallelism, in the same run.
//! 2. Draining a queue of 100,000 events: time and peak resident memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use pollhook::config::{load_bridge_file, Bridge, DeliveryConfig};
use pollhook::deliver::{delivery_client, run_worker, Deliverer};
use pollhook::diff::Change;
use pollhook::event::new_event;
use pollhook::ids::ItemId;
use pollhook::store::{PollCommit, Store};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::main]
async fn main() {
    let receiver = start_receiver().await;
    let lanes = 8;
    let throughput_events = 4_000;
    println!("receiver at {receiver}; {lanes} lanes (bridges) to one target, signing on");

    let (bare_rate, bare_total) = bare_loop(&receiver, throughput_events, lanes).await;
    let (worker_rate, _) = drain(&receiver, throughput_events, lanes).await;
    println!("bare reqwest loop: {bare_rate:.0} requests/s ({bare_total} requests)");
    println!("outbox worker:     {worker_rate:.0} deliveries/s ({throughput_events} events)");
    println!("ratio worker/bare: {:.2}", worker_rate / bare_rate);

    let rss_before = peak_rss_kib();
    let (drain_rate, drain_time) = drain(&receiver, 100_000, lanes).await;
    println!(
        "drain of 100000 events: {:.1} s ({drain_rate:.0}/s), peak RSS {} MiB (before the drain: {} MiB)",
        drain_time.as_secs_f64(),
        peak_rss_kib() / 1024,
        rss_before / 1024
    );
}

async fn start_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new().route("/hook", post(|| async { "" }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/hook")
}

/// Sends `events` bodies, `lanes` requests at a time, with a bare client.
async fn bare_loop(receiver: &str, events: usize, lanes: usize) -> (f64, usize) {
    let client = reqwest::Client::new();
    let body = sample_body();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..lanes {
        let (client, body, receiver) = (client.clone(), body.clone(), receiver.to_owned());
        let per_lane = events / lanes;
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_lane {
                let response = client
                    .post(&receiver)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let sent = events / lanes * lanes;
    (sent as f64 / started.elapsed().as_secs_f64(), sent)
}

/// Queues `events` across `lanes` bridges, runs the worker until the queue is
/// empty, and returns deliveries per second and the time taken.
async fn drain(receiver: &str, events: usize, lanes: usize) -> (f64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("state.db")).unwrap());
    let bridges: Vec<Arc<Bridge>> = (0..lanes)
        .map(|lane| Arc::new(bridge(dir.path(), lane, receiver)))
        .collect();
    for (lane, bridge) in bridges.iter().enumerate() {
        queue(&store, bridge, events / lanes, lane);
    }

    let delivery = DeliveryConfig {
        max_retry_after: DeliveryConfig::default().max_retry_after,
        ..DeliveryConfig::default()
    };
    let deliverer = Arc::new(Deliverer::new(
        delivery_client(),
        store.clone(),
        &bridges,
        &delivery,
    ));
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let worker = tokio::spawn(run_worker(
        deliverer,
        Arc::new(Notify::new()),
        shutdown.clone(),
    ));
    while store.count_deliveries("pending").unwrap() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    worker.await.unwrap();
    assert_eq!(
        store.count_deliveries("delivered").unwrap() as usize,
        events / lanes * lanes
    );
    (
        (events / lanes * lanes) as f64 / elapsed.as_secs_f64(),
        elapsed,
    )
}

fn bridge(dir: &std::path::Path, lane: usize, receiver: &str) -> Bridge {
    let file = dir.join(format!("lane{lane}.toml"));
    let text = format!(
        "[schedule]\nevery = \"1h\"\n[source]\nurl = \"http://127.0.0.1:9/\"\n[items]\npath = \"$[*]\"\nid = \"$.id\"\n[[targets]]\nurl = \"{receiver}\"\nsecret = \"{SECRET}\"\nmax_in_flight = 64\n"
    );
    std::fs::write(&file, text).unwrap();
    load_bridge_file(&file).unwrap()
}

/// Queues `count` events in batches, as polls would.
fn queue(store: &Store, bridge: &Bridge, count: usize, lane: usize) {
    let targets = vec![bridge.targets[0].key.clone()];
    let now = chrono::Utc::now();
    for batch in 0..count.div_ceil(1000) {
        let events: Vec<_> = (batch * 1000..((batch + 1) * 1000).min(count))
            .map(|index| {
                let after = serde_json::json!({"id": format!("{lane}-{index}"), "status": "paid", "total": 12.5, "customer": "Zürich – Ost"});
                new_event(&bridge.name, &Change::Created { id: ItemId::new(format!("{lane}-{index}")), after }, now)
            })
            .collect();
        store
            .commit_poll(&PollCommit {
                bridge: &bridge.name,
                writes: &[],
                document: None,
                events: &events,
                targets: &targets,
                polled_at: now.timestamp_millis(),
            })
            .unwrap();
    }
}

fn sample_body() -> Vec<u8> {
    let bridge = pollhook::ids::BridgeName::parse("lane0").unwrap();
    let after = serde_json::json!({"id": "0-0", "status": "paid", "total": 12.5, "customer": "Zürich – Ost"});
    new_event(
        &bridge,
        &Change::Created {
            id: ItemId::new("0-0"),
            after,
        },
        chrono::Utc::now(),
    )
    .body
}

/// Peak resident set size of this process, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|value| value.parse().ok())
        })
        .unwrap_or(0)
}

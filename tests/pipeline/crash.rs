//! Crash safety: `pollhook run` is killed with SIGKILL at seeded random
//! moments, during polls and during deliveries, and restarted each time. At
//! the end every queued event has reached the receiver at least once, every
//! copy of an event carries the same webhook-id and body, and each item's
//! changes arrived in order.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::support::{run, serve, Workspace, DAEMON_DEADLINE};

const KILLS: usize = 24;
const SEED: u64 = 0x5eed_2026;
const ITEMS: u64 = 3;

/// An upstream whose items change on every request while `changing` is set.
#[derive(Default)]
struct Upstream {
    requests: AtomicU64,
    frozen_at: Mutex<Option<u64>>,
}

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Delivery {
    webhook_id: String,
    body: Bytes,
}

#[derive(Default)]
struct Receiver {
    deliveries: Mutex<Vec<Delivery>>,
}

async fn items(State(upstream): State<Arc<Upstream>>) -> impl IntoResponse {
    let count = upstream.requests.fetch_add(1, Ordering::SeqCst);
    let version = upstream.frozen_at.lock().unwrap().unwrap_or(count);
    let items: Vec<Value> = (0..ITEMS)
        .map(|index| json!({ "id": format!("item-{index}"), "version": version }))
        .collect();
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "data": items }).to_string(),
    )
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    // A short pause keeps deliveries in flight long enough to be interrupted.
    tokio::time::sleep(Duration::from_millis(3)).await;
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    receiver
        .deliveries
        .lock()
        .unwrap()
        .push(Delivery { webhook_id, body });
    StatusCode::OK
}

/// A small deterministic generator, so that a failing run can be repeated.
struct Lcg(u64);

impl Lcg {
    fn next_below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn sigkill_loses_and_reorders_nothing() {
    let upstream = Arc::new(Upstream::default());
    let receiver = Arc::new(Receiver::default());
    let (upstream_url, _upstream_stop) = serve(
        Router::new()
            .route("/items", get(items))
            .with_state(upstream.clone()),
    );
    let (receiver_url, _receiver_stop) = serve(
        Router::new()
            .route("/hook", post(receive))
            .with_state(receiver.clone()),
    );

    let workspace = Workspace::new();
    workspace.write_global("state = \"state.db\"\n[delivery]\ntimeout = \"2s\"\nretry_schedule = [\"100ms\", \"100ms\", \"100ms\", \"100ms\", \"100ms\"]\n");
    workspace.write_bridge(
        "changing",
        &format!(
            "[schedule]\nevery = \"150ms\"\n\n[source]\nurl = \"{upstream_url}/items\"\ntimeout = \"2s\"\n\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n\n[emit]\nfirst_poll = \"emit\"\n\n[[targets]]\nurl = \"{receiver_url}/hook\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n"
        ),
    );

    let mut random = Lcg(SEED);
    for _ in 0..KILLS {
        let mut daemon = workspace.start_daemon();
        std::thread::sleep(Duration::from_millis(60 + random.next_below(400)));
        daemon.kill();
    }

    *upstream.frozen_at.lock().unwrap() = Some(u64::MAX);
    let mut daemon = workspace.start_daemon();
    wait_for_final_versions(&receiver, &|| daemon.log());
    wait_until_drained(&workspace, &daemon.log());
    assert!(
        daemon.terminate(DAEMON_DEADLINE).success(),
        "{}",
        daemon.log()
    );

    let queued = queued_event_ids(&workspace);
    let deliveries = receiver.deliveries.lock().unwrap().clone();
    assert!(
        queued.len() > KILLS,
        "the run queued only {} events: the test exercised too little",
        queued.len()
    );
    eprintln!(
        "crash test: {} events queued, {} POSTs received over {KILLS} kills",
        queued.len(),
        deliveries.len()
    );
    check_all_received(&queued, &deliveries);
    check_duplicates_identical(&deliveries);
    check_order_per_item(&deliveries);
    check_integrity(&workspace);
}

/// Waits until the receiver has the last version of every item, which shows
/// that the final daemon is up, has polled and has delivered.
fn wait_for_final_versions(receiver: &Receiver, log: &dyn Fn() -> String) {
    let started = Instant::now();
    loop {
        let finished: HashSet<String> = receiver
            .deliveries
            .lock()
            .unwrap()
            .iter()
            .filter_map(|delivery| {
                let body: Value = serde_json::from_slice(&delivery.body).ok()?;
                (body["data"]["after"]["version"].as_u64() == Some(u64::MAX))
                    .then(|| body["data"]["id"].to_string())
            })
            .collect();
        if finished.len() as u64 == ITEMS {
            return;
        }
        assert!(
            started.elapsed() < DAEMON_DEADLINE,
            "the last versions did not arrive within {DAEMON_DEADLINE:?}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until no delivery is pending, with a bounded deadline.
fn wait_until_drained(workspace: &Workspace, log: &str) {
    let started = Instant::now();
    loop {
        let output = run(workspace.command(&[
            "deliveries",
            "--status",
            "pending",
            "--json",
            "--limit",
            "1",
        ]));
        assert!(output.status.success(), "{output}");
        if output.stdout.trim() == "[]" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "deliveries still pending after 60 s:\n{output}\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn queued_event_ids(workspace: &Workspace) -> HashSet<String> {
    let output = run(workspace.command(&["deliveries", "--json", "--limit", "1000000"]));
    assert!(output.status.success(), "{output}");
    let rows: Vec<Value> = serde_json::from_str(&output.stdout).unwrap();
    for row in &rows {
        assert_eq!(
            row["status"], "delivered",
            "every event ends delivered: {row}"
        );
    }
    rows.iter()
        .map(|row| row["event_id"].as_str().unwrap().to_owned())
        .collect()
}

fn check_all_received(queued: &HashSet<String>, deliveries: &[Delivery]) {
    let received: HashSet<&str> = deliveries
        .iter()
        .map(|delivery| delivery.webhook_id.as_str())
        .collect();
    let missing: Vec<&String> = queued
        .iter()
        .filter(|id| !received.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} queued events never reached the receiver: {missing:?}",
        missing.len()
    );
}

fn check_duplicates_identical(deliveries: &[Delivery]) {
    let mut first_body: HashMap<&str, &Bytes> = HashMap::new();
    for delivery in deliveries {
        let first = first_body
            .entry(&delivery.webhook_id)
            .or_insert(&delivery.body);
        assert_eq!(
            *first, &delivery.body,
            "two copies of {} differ",
            delivery.webhook_id
        );
    }
}

fn check_order_per_item(deliveries: &[Delivery]) {
    let mut seen = HashSet::new();
    let mut last_version: HashMap<String, u64> = HashMap::new();
    for delivery in deliveries {
        if !seen.insert(delivery.webhook_id.clone()) {
            continue;
        }
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        let item = body["data"]["id"].as_str().unwrap().to_owned();
        let version = body["data"]["after"]["version"].as_u64().unwrap();
        if let Some(previous) = last_version.insert(item.clone(), version) {
            assert!(
                version > previous,
                "{item}: version {version} arrived after {previous}"
            );
        }
    }
    assert_eq!(last_version.len() as u64, ITEMS, "every item was announced");
}

fn check_integrity(workspace: &Workspace) {
    let connection = rusqlite::Connection::open(workspace.path().join("state.db")).unwrap();
    let result: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(result, "ok");
}

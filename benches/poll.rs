//! Cost of one poll of a 10,000-item response, stage by stage, against the
//! cost of parsing the same body with serde_json (the baseline every poll
//! pays anyway). Run with `cargo bench --bench poll`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

use pollhook::config::{load_bridge_file, Bridge, Selection};
use pollhook::diff::{diff_items, StoredItem};
use pollhook::extract::extract_items;
use pollhook::poll::{apply_response, PollMode};
use pollhook::store::Store;

const ITEMS: usize = 10_000;

/// Builds a response of `ITEMS` orders. `version` changes the status of every
/// hundredth one, so two versions differ in 1% of the items.
fn response(version: u64) -> Vec<u8> {
    let items: Vec<Value> = (0..ITEMS)
        .map(|index| {
            let status = if index % 100 == 0 {
                format!("v{version}")
            } else {
                "open".to_owned()
            };
            json!({
                "id": format!("order-{index}"),
                "status": status,
                "total": index as f64 * 1.5,
                "customer": {"name": format!("Customer {index}"), "country": "NZ"},
                "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}],
                "updated_at": format!("2026-12-04T10:{:02}:00Z", index % 60),
            })
        })
        .collect();
    serde_json::to_vec(&json!({"data": items})).unwrap()
}

fn bridge(dir: &std::path::Path) -> Bridge {
    let file = dir.join("orders.toml");
    std::fs::write(
        &file,
        r#"
[schedule]
every = "1m"
[source]
url = "http://127.0.0.1:9/orders"
[items]
path = "$.data[*]"
id = "$.id"
ignore = ["$.updated_at"]
[[targets]]
url = "http://127.0.0.1:9/hook"
"#,
    )
    .unwrap();
    load_bridge_file(&file).unwrap()
}

fn bench_poll(criterion: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let bridge = Arc::new(bridge(dir.path()));
    let Selection::Items(spec) = &bridge.selection else {
        unreachable!()
    };
    let (body_a, body_b) = (response(1), response(2));
    let document_a: Value = serde_json::from_slice(&body_a).unwrap();
    let document_b: Value = serde_json::from_slice(&body_b).unwrap();
    let snapshot: std::collections::HashMap<_, _> = extract_items(&document_a, spec)
        .unwrap()
        .items
        .into_iter()
        .map(|item| {
            (
                item.id,
                StoredItem {
                    item: item.item,
                    missing_polls: 0,
                    held: false,
                },
            )
        })
        .collect();

    let mut group = criterion.benchmark_group("poll_10000_items");
    group.sample_size(20);
    group.bench_function("baseline_parse_json", |b| {
        b.iter(|| serde_json::from_slice::<Value>(&body_b).unwrap())
    });
    group.bench_function("extract", |b| {
        b.iter(|| extract_items(&document_b, spec).unwrap())
    });
    group.bench_function("extract_and_diff", |b| {
        b.iter(|| {
            let extraction = extract_items(&document_b, spec).unwrap();
            diff_items(
                &snapshot,
                &extraction.items,
                &spec.ignore,
                bridge.emit.delete_policy,
            )
        })
    });

    let store = Store::open(&dir.path().join("state.db")).unwrap();
    let started = chrono::Utc::now();
    apply_response(
        &bridge,
        &store,
        document_a.clone(),
        PollMode::Record,
        started,
    )
    .unwrap();
    let mut flip = false;
    group.bench_function("parse_extract_diff_commit", |b| {
        b.iter(|| {
            flip = !flip;
            let body = if flip { &body_b } else { &body_a };
            let document: Value = serde_json::from_slice(body).unwrap();
            let report =
                apply_response(&bridge, &store, document, PollMode::Record, started).unwrap();
            assert_eq!(report.events.len(), ITEMS / 100);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_poll);
criterion_main!(benches);

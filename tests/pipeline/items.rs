//! Per-item mode: the events of a poll, their order and data, the webhook
//! headers, and the first poll.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::support::{data, items_bridge, kinds_and_ids, Receiver, Reply, Upstream, Workspace};

fn order(id: &str, status: &str, updated_at: &str) -> Value {
    json!({ "id": id, "status": status, "total": 12, "updated_at": updated_at })
}

/// Returns a JSON Patch sorted by path, so that the comparison does not depend
/// on the order in which the diff lists independent operations.
fn sorted_patch(changes: &Value) -> Vec<Value> {
    let mut operations = changes
        .as_array()
        .unwrap_or_else(|| panic!("changes is not an array: {changes}"))
        .clone();
    operations.sort_by_key(|operation| operation["path"].as_str().unwrap_or("").to_owned());
    operations
}

#[test]
fn poll_reports_created_updated_and_deleted_items() {
    let baseline = [
        order("A-2", "open", "t1"),
        order("A-5", "open", "t1"),
        order("A-1", "open", "t1"),
        order("A-3", "open", "t1"),
        order("A-4", "open", "t1"),
    ];
    let upstream = Upstream::start(Reply::json(&data(&baseline)));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(&upstream.url("/orders"), &receiver.url(), ""),
    );
    let baseline_events = workspace.poll("orders").expect_success();
    assert_eq!(baseline_events, Vec::<Value>::new());

    // A-1 and A-2 disappear (2 of 5, under the deletion guard's threshold),
    // A-3 changes, A-5 changes only its ignored field, A-6 and A-7 are new.
    // A-4 comes with its keys reordered and its total as 12.0, which is equal.
    let mut paid = order("A-3", "paid", "t2");
    paid["note"] = json!("gift");
    let reordered_a4 = r#"{"updated_at": "t1", "total": 12.0, "status": "open", "id": "A-4"}"#;
    let second_response = format!(
        r#"{{"data": [{}, {}, {}, {}, {reordered_a4}]}}"#,
        order("A-7", "open", "t2"),
        paid,
        order("A-6", "open", "t2"),
        order("A-5", "open", "t2"),
    );
    upstream.reply_with(Reply::raw(200, "application/json", &second_response));
    let run = workspace.poll("orders");
    let events = run.expect_success();

    let expected_order = [
        ("item.created", "A-7"),
        ("item.updated", "A-3"),
        ("item.created", "A-6"),
        ("item.deleted", "A-1"),
        ("item.deleted", "A-2"),
    ];
    let expected_order: Vec<(String, String)> = expected_order
        .iter()
        .map(|(kind, id)| (kind.to_string(), id.to_string()))
        .collect();
    assert_eq!(kinds_and_ids(&events), expected_order, "{run}");

    let created = &events[0]["data"];
    assert_eq!(created["bridge"], "orders");
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"], order("A-7", "open", "t2"));
    assert!(
        created.get("changes").is_none(),
        "created has changes: {created}"
    );

    let updated = &events[1]["data"];
    assert_eq!(updated["before"], order("A-3", "open", "t1"));
    assert_eq!(updated["after"], paid);
    assert_eq!(
        sorted_patch(&updated["changes"]),
        vec![
            json!({ "op": "add", "path": "/note", "value": "gift" }),
            json!({ "op": "replace", "path": "/status", "value": "paid" }),
        ],
        "the ignored updated_at must stay out of changes"
    );

    let deleted = &events[3]["data"];
    assert_eq!(deleted["before"], order("A-1", "open", "t1"));
    assert_eq!(deleted["after"], Value::Null);
    assert!(
        deleted.get("changes").is_none(),
        "deleted has changes: {deleted}"
    );

    let delivered: Vec<Value> = receiver
        .requests()
        .iter()
        .map(|request| request.json())
        .collect();
    let printed: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut body = event.clone();
            body.as_object_mut()
                .expect("event is an object")
                .remove("webhook_id");
            body
        })
        .collect();
    assert_eq!(
        delivered, printed,
        "receiver must get the printed events in order"
    );
}

#[test]
fn webhook_carries_standard_headers() {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let upstream = Upstream::start(Reply::json(&data(&[order("A-1", "open", "t1")])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(
            &upstream.url("/orders"),
            &receiver.url(),
            "[emit]\nfirst_poll = \"emit\"",
        ),
    );

    let events = workspace.poll("orders").expect_success();
    let requests = receiver.requests();
    assert_eq!(events.len(), 1);
    assert_eq!(requests.len(), 1);
    let request = &requests[0];

    assert_eq!(request.header("content-type"), "application/json");
    assert_eq!(
        request.header("user-agent"),
        format!("pollhook/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(request.header("webhook-id"), events[0]["webhook_id"]);
    assert!(
        !request.header("webhook-id").is_empty(),
        "webhook-id is empty"
    );
    let timestamp: u64 = request
        .header("webhook-timestamp")
        .parse()
        .expect("webhook-timestamp is an integer");
    assert!(
        timestamp + 1 >= started && timestamp <= started + 60,
        "webhook-timestamp {timestamp} is not close to the test's start {started}"
    );
    assert!(
        request.headers.get("webhook-signature").is_none(),
        "a target without a secret must get no webhook-signature"
    );

    let body = request.json();
    let detected = body["timestamp"].as_str().expect("timestamp is a string");
    assert!(detected.ends_with('Z'), "timestamp {detected} is not UTC");
    let detected: DateTime<Utc> = detected.parse().expect("timestamp is RFC 3339");
    assert!(
        (detected.timestamp() - started as i64).abs() <= 60,
        "timestamp {detected} is not close to the test's start {started}"
    );
}

#[test]
fn first_poll_is_silent_baseline() {
    let upstream = Upstream::start(Reply::json(&data(&[
        order("A-1", "open", "t1"),
        order("A-2", "open", "t1"),
    ])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(&upstream.url("/orders"), &receiver.url(), ""),
    );

    let first = workspace.poll("orders").expect_success();
    let second = workspace.poll("orders").expect_success();

    assert_eq!(first, Vec::<Value>::new());
    assert_eq!(second, Vec::<Value>::new());
    assert_eq!(receiver.requests().len(), 0);
    assert_eq!(upstream.requests().len(), 2);
}

#[test]
fn first_poll_emit_sends_created_for_each_item() {
    let items = [order("B-9", "open", "t1"), order("B-1", "paid", "t1")];
    let upstream = Upstream::start(Reply::json(&data(&items)));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(
            &upstream.url("/orders"),
            &receiver.url(),
            "[emit]\nfirst_poll = \"emit\"",
        ),
    );

    let events = workspace.poll("orders").expect_success();

    let expected = vec![
        ("item.created".to_owned(), "B-9".to_owned()),
        ("item.created".to_owned(), "B-1".to_owned()),
    ];
    assert_eq!(kinds_and_ids(&events), expected);
    assert_eq!(events[0]["data"]["after"], items[0]);
    assert_eq!(events[1]["data"]["after"], items[1]);
    let received: Vec<Value> = receiver
        .requests()
        .iter()
        .map(|request| request.json()["data"]["id"].clone())
        .collect();
    assert_eq!(received, vec![json!("B-9"), json!("B-1")]);

    let again = workspace.poll("orders").expect_success();
    assert_eq!(
        again,
        Vec::<Value>::new(),
        "an unchanged second poll sends nothing"
    );
    assert_eq!(receiver.requests().len(), 2);
}

#[test]
fn duplicate_id_keeps_first_occurrence() {
    let upstream = Upstream::start(Reply::json(&data(&[
        order("A-1", "open", "t1"),
        order("A-2", "open", "t1"),
        order("A-1", "paid", "t1"),
    ])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(
            &upstream.url("/orders"),
            &receiver.url(),
            "[emit]\nfirst_poll = \"emit\"",
        ),
    );

    let run = workspace.poll("orders");
    let events = run.expect_success();

    assert_eq!(
        kinds_and_ids(&events),
        vec![
            ("item.created".to_owned(), "A-1".to_owned()),
            ("item.created".to_owned(), "A-2".to_owned()),
        ]
    );
    assert_eq!(events[0]["data"]["after"], order("A-1", "open", "t1"));
    assert!(
        run.stderr.contains("A-1"),
        "a warning must name the duplicate id: {run}"
    );
}

#[test]
fn body_with_byte_order_mark_parses() {
    let body = format!("\u{feff}{}", data(&[order("A-1", "open", "t1")]));
    let upstream = Upstream::start(Reply::raw(200, "application/json", &body));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(
            &upstream.url("/orders"),
            &receiver.url(),
            "[emit]\nfirst_poll = \"emit\"",
        ),
    );

    let events = workspace.poll("orders").expect_success();

    assert_eq!(
        kinds_and_ids(&events),
        vec![("item.created".to_owned(), "A-1".to_owned())]
    );
}

#[test]
fn integer_ids_become_decimal_text() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": 42, "name": "answer" })])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(
            &upstream.url("/orders"),
            &receiver.url(),
            "[emit]\nfirst_poll = \"emit\"",
        ),
    );

    let events = workspace.poll("orders").expect_success();

    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["id"], json!("42"));
    assert_eq!(events[0]["data"]["after"]["id"], json!(42));
}

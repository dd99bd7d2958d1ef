//! Incremental polling: `{{ last_success }}` in the query, and absent items
//! kept.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::support::{events, json_reply, Recorded, Server, TestBridge};

#[tokio::test]
async fn last_success_in_query_keeps_absent() {
    let second = Arc::new(AtomicBool::new(false));
    let server_second = second.clone();
    let server = Server::start(move |_: &Recorded| {
        if server_second.load(Ordering::SeqCst) {
            json_reply(&json!({"data": [{"id": "b", "status": "paid"}]}))
        } else {
            json_reply(
                &json!({"data": [{"id": "a", "status": "open"}, {"id": "b", "status": "open"}]}),
            )
        }
    })
    .await;
    let bridge = TestBridge::load(&format!(
        "[source]\nurl = \"{}\"\nquery = {{ updated_since = \"{{{{ last_success }}}}\", status = \"any\" }}\n\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\nmode = \"incremental\"\n",
        server.url("/orders")
    ));

    let before_first = Utc::now();
    bridge.poll_ok().await;
    second.store(true, Ordering::SeqCst);
    let report = bridge.poll_ok().await;

    let requests = server.requests();
    assert_eq!(
        requests[0].query("updated_since"),
        None,
        "no successful poll yet"
    );
    assert_eq!(requests[0].query("status").as_deref(), Some("any"));
    let since = requests[1]
        .query("updated_since")
        .expect("updated_since on the second poll");
    let since: DateTime<Utc> = since.parse().expect("RFC 3339");
    assert!(since <= Utc::now());
    assert!(
        since.timestamp() >= before_first.timestamp(),
        "{since} vs {before_first}"
    );
    assert_eq!(events(&report), ["item.updated b"]);
    assert_eq!(bridge.snapshot_ids(), ["a", "b"], "absent a is not deleted");
}

#[tokio::test]
async fn include_and_unordered_suppress_noise() {
    let second = Arc::new(AtomicBool::new(false));
    let server_second = second.clone();
    let server = Server::start(move |_: &Recorded| {
        if server_second.load(Ordering::SeqCst) {
            json_reply(
                &json!({"data": [{"id": 1, "status": "open", "views": 9, "tags": ["y", "x"]}]}),
            )
        } else {
            json_reply(
                &json!({"data": [{"id": 1, "status": "open", "views": 1, "tags": ["x", "y"]}]}),
            )
        }
    })
    .await;
    let bridge = TestBridge::load(&format!(
        "[source]\nurl = \"{}\"\n\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\ninclude = [\"$.status\", \"$.tags\"]\nunordered = [\"$.tags\"]\n",
        server.url("/orders")
    ));
    bridge.poll_ok().await;
    second.store(true, Ordering::SeqCst);

    let report = bridge.poll_ok().await;

    assert!(report.events.is_empty(), "{:?}", events(&report));
}

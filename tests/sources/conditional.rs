//! Conditional requests: validators are stored with the poll's commit, sent
//! on the next request, and a 304 means unchanged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::support::{events, reply, Recorded, Server, TestBridge};

const ETAG: &str = "\"v1\"";
const LAST_MODIFIED: &str = "Fri, 04 Dec 2026 10:00:00 GMT";

fn body() -> String {
    json!({"data": [{"id": "a"}, {"id": "b"}]}).to_string()
}

/// Responds with 304 to a request carrying the current validators, else 200 with
/// both validators.
async fn conditional_server() -> Server {
    Server::start(|request: &Recorded| {
        if request.header("if-none-match") == Some(ETAG) {
            return reply(304, &[("etag", ETAG)], "");
        }
        reply(
            200,
            &[
                ("content-type", "application/json"),
                ("etag", ETAG),
                ("last-modified", LAST_MODIFIED),
            ],
            body(),
        )
    })
    .await
}

fn bridge(url: &str, extra: &str) -> TestBridge {
    TestBridge::load(&format!(
        "[source]\nurl = \"{url}\"\n{extra}\n\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n"
    ))
}

#[tokio::test]
async fn stored_validators_turn_into_304_unchanged() {
    let server = conditional_server().await;
    let bridge = bridge(&server.url("/items"), "");

    bridge.poll_ok().await;
    let report = bridge.poll_ok().await;

    let requests = server.requests();
    assert_eq!(
        requests[0].header("if-none-match"),
        None,
        "no validator stored yet"
    );
    assert_eq!(requests[1].header("if-none-match"), Some(ETAG));
    assert_eq!(requests[1].header("if-modified-since"), Some(LAST_MODIFIED));
    assert!(report.not_modified);
    assert!(report.events.is_empty());
    assert_eq!(bridge.snapshot_ids(), ["a", "b"], "a 304 deletes nothing");
}

#[tokio::test]
async fn unrequested_304_fails_the_poll() {
    let server = Server::start(|_: &Recorded| reply(304, &[], "")).await;
    let bridge = bridge(&server.url("/items"), "");

    let error = bridge.poll().await.unwrap_err().to_string();

    assert!(
        error.contains("304 Not Modified to a request without validators"),
        "{error}"
    );
}

#[tokio::test]
async fn conditional_false_sends_no_validators() {
    let server = conditional_server().await;
    let bridge = bridge(&server.url("/items"), "conditional = false");

    bridge.poll_ok().await;
    let report = bridge.poll_ok().await;

    assert_eq!(server.requests()[1].header("if-none-match"), None);
    assert!(!report.not_modified);
}

#[tokio::test]
async fn failed_poll_stores_no_validators() {
    let broken = Arc::new(AtomicBool::new(true));
    let server_broken = broken.clone();
    let server = Server::start(move |request: &Recorded| {
        if request.header("if-none-match") == Some(ETAG) {
            return reply(304, &[], "");
        }
        // The first response has validators but no items collection, so
        // the poll fails after the response arrived.
        let body = if server_broken.load(Ordering::SeqCst) {
            json!({"error": "maintenance"}).to_string()
        } else {
            body()
        };
        reply(200, &[("etag", ETAG)], body)
    })
    .await;
    let bridge = bridge(&server.url("/items"), "");

    assert!(bridge.poll().await.is_err());
    broken.store(false, Ordering::SeqCst);
    let report = bridge.poll_ok().await;

    assert_eq!(server.requests()[1].header("if-none-match"), None);
    assert!(!report.not_modified);
    assert_eq!(bridge.snapshot_ids(), ["a", "b"]);
}

#[tokio::test]
async fn changed_document_after_validators_is_compared() {
    let version = Arc::new(AtomicBool::new(false));
    let server_version = version.clone();
    let server = Server::start(move |request: &Recorded| {
        let changed = server_version.load(Ordering::SeqCst);
        let etag = if changed { "\"v2\"" } else { ETAG };
        if request.header("if-none-match") == Some(etag) {
            return reply(304, &[], "");
        }
        let ids = if changed {
            json!([{"id": "a"}])
        } else {
            json!([{"id": "a"}, {"id": "b"}])
        };
        reply(200, &[("etag", etag)], json!({"data": ids}).to_string())
    })
    .await;
    let bridge = bridge(&server.url("/items"), "");
    bridge.poll_ok().await;
    version.store(true, Ordering::SeqCst);

    let report = bridge.poll_ok().await;

    assert_eq!(events(&report), ["item.deleted b"]);
}

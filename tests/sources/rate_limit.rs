//! Upstream rate limits: Retry-After in both forms and an exhausted
//! X-RateLimit budget postpone the bridge's next request; the runs due in
//! between send nothing.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use serde_json::json;

use crate::support::{json_reply, reply, Recorded, Server, TestBridge};

fn bridge(url: &str, pagination: &str) -> TestBridge {
    TestBridge::load(&format!(
        "[source]\nurl = \"{url}\"\n{pagination}\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n"
    ))
}

fn ok_body() -> serde_json::Value {
    json!({"data": [{"id": "a"}]})
}

/// Asserts that `until` is within a few seconds of now + `expected`.
fn assert_near(until: chrono::DateTime<Utc>, expected: TimeDelta) {
    let offset = until - (Utc::now() + expected);
    assert!(
        offset.num_seconds().abs() <= 5,
        "postponed until {until}, expected about now + {expected}"
    );
}

#[tokio::test]
async fn retry_after_seconds_skips_runs_until_then() {
    let server =
        Server::start(|_: &Recorded| reply(429, &[("retry-after", "120")], "slow down")).await;
    let bridge = bridge(&server.url("/items"), "");

    let error = bridge.poll().await.unwrap_err().to_string();
    let skipped = bridge.poll_ok().await;
    let skipped_again = bridge.poll_ok().await;

    assert!(
        error.contains("returned HTTP 429 Too Many Requests and asked to wait"),
        "{error}"
    );
    assert_near(skipped.postponed_until.unwrap(), TimeDelta::seconds(120));
    assert_eq!(skipped.postponed_until, skipped_again.postponed_until);
    assert_eq!(server.requests().len(), 1, "skipped runs send no request");
}

#[tokio::test]
async fn operator_poll_requests_despite_postponement() {
    let server =
        Server::start(|_: &Recorded| reply(429, &[("retry-after", "120")], "slow down")).await;
    let bridge = bridge(&server.url("/items"), "");
    assert!(bridge.poll().await.is_err());

    let error = bridge.poll_now().await.unwrap_err().to_string();

    assert!(error.contains("429"), "{error}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn retry_after_http_date_postpones() {
    let retry_at = Utc::now() + TimeDelta::seconds(300);
    let date = httpdate::fmt_http_date(retry_at.into());
    let server = Server::start(move |_: &Recorded| reply(503, &[("retry-after", &date)], "")).await;
    let bridge = bridge(&server.url("/items"), "");

    assert!(bridge.poll().await.is_err());
    let skipped = bridge.poll_ok().await;

    assert_near(skipped.postponed_until.unwrap(), TimeDelta::seconds(300));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn schedule_resumes_when_postponement_passed() {
    let server = Server::start(|_: &Recorded| json_reply(&ok_body())).await;
    let bridge = bridge(&server.url("/items"), "");
    let past = (Utc::now() - TimeDelta::seconds(1)).timestamp_millis();
    bridge
        .store
        .postpone_source(&bridge.bridge.name, past)
        .unwrap();

    let report = bridge.poll_ok().await;

    assert_eq!(report.postponed_until, None);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn exhausted_budget_commits_then_postpones() {
    let reset = (Utc::now() + TimeDelta::seconds(600))
        .timestamp()
        .to_string();
    let server = Server::start(move |_: &Recorded| {
        reply(
            200,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ],
            ok_body().to_string(),
        )
    })
    .await;
    let bridge = bridge(&server.url("/items"), "");

    bridge.poll_ok().await;
    let skipped = bridge.poll_ok().await;

    assert_eq!(bridge.snapshot_ids(), ["a"], "the response itself counts");
    assert_near(skipped.postponed_until.unwrap(), TimeDelta::seconds(600));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn exhausted_budget_between_pages_waits_for_reset() {
    let requests = Arc::new(AtomicU32::new(0));
    let counter = requests.clone();
    let server = Server::start(move |request: &Recorded| {
        counter.fetch_add(1, Ordering::SeqCst);
        match request.query("page").as_deref() {
            Some("1") => reply(
                200,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1")],
                json!({"data": [{"id": "a"}]}).to_string(),
            ),
            _ => json_reply(&json!({"data": []})),
        }
    })
    .await;
    let bridge = bridge(
        &server.url("/items"),
        "[source.pagination]\ntype = \"page\"\n",
    );

    let started = Instant::now();
    bridge.poll_ok().await;

    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn reset_beyond_timeout_between_pages_fails_and_postpones() {
    let server = Server::start(
        |request: &Recorded| match request.query("page").as_deref() {
            Some("1") => reply(
                200,
                &[("ratelimit-remaining", "0"), ("ratelimit-reset", "3600")],
                json!({"data": [{"id": "a"}]}).to_string(),
            ),
            _ => json_reply(&json!({"data": []})),
        },
    )
    .await;
    let bridge = bridge(
        &server.url("/items"),
        "[source.pagination]\ntype = \"page\"\n",
    );

    let error = bridge.poll().await.unwrap_err().to_string();
    let skipped = bridge.poll_ok().await;

    assert!(
        error.contains("rate limit allows the next request only at"),
        "{error}"
    );
    assert!(bridge.snapshot_ids().is_empty());
    assert_near(skipped.postponed_until.unwrap(), TimeDelta::seconds(3600));
}

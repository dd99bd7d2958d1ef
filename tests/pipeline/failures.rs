//! Failed polls: each one exits non-zero, sends nothing and leaves the
//! snapshot as it was, so the next good poll reports only real changes.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{data, kinds_and_ids, Receiver, Reply, Upstream, Workspace};

/// Returns a bridge file whose source times out after one second.
fn impatient_bridge(source_url: &str, target_url: &str) -> String {
    format!(
        r#"[schedule]
every = "1h"

[source]
url = "{source_url}"
timeout = "1s"

[items]
path = "$.data[*]"
id = "$.id"

[[targets]]
url = "{target_url}"
"#
    )
}

/// Returns a response with items A-1 and A-2, A-1 at `version`.
fn good_response(version: u64) -> Value {
    data(&[
        json!({ "id": "A-1", "version": version }),
        json!({ "id": "A-2", "version": 1 }),
    ])
}

/// A failing upstream response and the text its error must contain.
struct FailureCase {
    name: &'static str,
    reply: Reply,
    error_mentions: &'static str,
}

fn failure_cases() -> Vec<FailureCase> {
    vec![
        FailureCase {
            name: "server error",
            reply: Reply::raw(500, "application/json", r#"{"error": "database down"}"#),
            error_mentions: "500",
        },
        FailureCase {
            name: "HTML page with status 200",
            reply: Reply::raw(
                200,
                "text/html; charset=utf-8",
                "<!doctype html><html><body>Maintenance</body></html>",
            ),
            error_mentions: "text/html",
        },
        FailureCase {
            name: "truncated JSON",
            reply: Reply::raw(200, "application/json", r#"{"data": [{"id": "A-1", "vers"#),
            error_mentions: "JSON",
        },
        FailureCase {
            name: "missing container",
            reply: Reply::json(&json!({ "items": [] })),
            error_mentions: "$.data",
        },
        FailureCase {
            name: "item without an id",
            reply: Reply::json(&data(&[
                json!({ "id": "A-1", "version": 1 }),
                json!({ "name": "no id" }),
            ])),
            error_mentions: "$.id",
        },
        FailureCase {
            name: "timeout",
            reply: Reply::json(&good_response(1)).delayed(Duration::from_secs(4)),
            error_mentions: "timed out",
        },
    ]
}

#[test]
fn failed_polls_change_nothing() {
    let upstream = Upstream::start(Reply::json(&good_response(1)));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &impatient_bridge(&upstream.url("/orders"), &receiver.url()),
    );
    let baseline = workspace.poll("orders").expect_success();
    assert_eq!(baseline, Vec::<Value>::new());

    let mut version = 1;
    for case in failure_cases() {
        upstream.reply_with(case.reply);
        let failed = workspace.poll("orders");
        failed.expect_failure();
        assert!(
            failed.stderr.contains("orders"),
            "{}: the error must name the bridge: {failed}",
            case.name
        );
        assert!(
            failed.stderr.contains(case.error_mentions),
            "{}: the error must mention {:?}: {failed}",
            case.name,
            case.error_mentions
        );
        assert_eq!(
            receiver.requests().len(),
            version - 1,
            "{}: a failed poll sent a webhook",
            case.name
        );

        version += 1;
        upstream.reply_json(&good_response(version as u64));
        let recovered = workspace.poll("orders");
        let events = recovered.expect_success();
        assert_eq!(
            kinds_and_ids(&events),
            vec![("item.updated".to_owned(), "A-1".to_owned())],
            "{}: the poll after the failure must report only the real change: {recovered}",
            case.name
        );
        assert_eq!(
            events[0]["data"]["changes"],
            json!([{ "op": "replace", "path": "/version", "value": version }]),
            "{}",
            case.name
        );
    }
    assert_eq!(receiver.requests().len(), version - 1);
}

#[test]
fn failed_first_poll_sets_no_baseline() {
    let upstream = Upstream::start(Reply::raw(503, "text/plain", "starting up"));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &impatient_bridge(&upstream.url("/orders"), &receiver.url()),
    );

    workspace.poll("orders").expect_failure();
    upstream.reply_json(&good_response(1));
    let first_good = workspace.poll("orders").expect_success();
    upstream.reply_json(&data(&[json!({ "id": "A-2", "version": 1 })]));
    let second_good = workspace.poll("orders").expect_success();

    assert_eq!(
        first_good,
        Vec::<Value>::new(),
        "the first successful poll is the silent baseline"
    );
    assert_eq!(
        kinds_and_ids(&second_good),
        vec![("item.deleted".to_owned(), "A-1".to_owned())]
    );
}

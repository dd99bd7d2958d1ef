//! Whole-document mode: a bridge without `[items]` watches the response as
//! one document and sends `document.changed` when it changes.

use serde_json::{json, Value};

use crate::support::{Receiver, Reply, Upstream, Workspace};

fn status_page(database: &str, generated_at: &str) -> Value {
    json!({
        "status": "operational",
        "generated_at": generated_at,
        "components": { "api": "up", "database": database },
    })
}

fn document_bridge(source_url: &str, target_url: &str) -> String {
    format!(
        r#"[schedule]
every = "1h"

[source]
url = "{source_url}"

[document]
ignore = ["$.generated_at"]

[[targets]]
url = "{target_url}"
"#
    )
}

#[test]
fn document_change_sends_one_event() {
    let upstream = Upstream::start(Reply::json(&status_page("up", "10:00")));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "status",
        &document_bridge(&upstream.url("/status.json"), &receiver.url()),
    );
    let baseline = workspace.poll("status").expect_success();
    assert_eq!(baseline, Vec::<Value>::new());

    let degraded = status_page("down", "10:02");
    upstream.reply_json(&degraded);
    let run = workspace.poll("status");
    let events = run.expect_success();

    assert_eq!(events.len(), 1, "{run}");
    let event = &events[0];
    assert_eq!(event["type"], "document.changed");
    assert_eq!(event["data"]["bridge"], "status");
    assert_eq!(event["data"]["before"], status_page("up", "10:00"));
    assert_eq!(event["data"]["after"], degraded);
    assert_eq!(
        event["data"]["changes"],
        json!([{ "op": "replace", "path": "/components/database", "value": "down" }]),
        "the ignored generated_at must stay out of changes"
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].json()["type"], "document.changed");
}

#[test]
fn ignored_document_change_sends_nothing() {
    let upstream = Upstream::start(Reply::json(&status_page("up", "10:00")));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "status",
        &document_bridge(&upstream.url("/status.json"), &receiver.url()),
    );
    workspace.poll("status").expect_success();

    upstream.reply_json(&status_page("up", "10:01"));
    let events = workspace.poll("status").expect_success();

    assert_eq!(events, Vec::<Value>::new());
    assert_eq!(receiver.requests().len(), 0);
}

//! Delivery: retries keep the webhook id, signatures verify over the raw body,
//! and events queued while the receiver was down survive a restart.

use pollhook::sign::{verify, VerifyError, WebhookSecret};
use serde_json::{json, Value};

use crate::support::{
    data, items_bridge, kinds_and_ids, Receiver, Reply, Upstream, Workspace, DAEMON_DEADLINE,
};

const SECRET: &str = "whsec_ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";
const OTHER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn emitting_bridge(upstream: &Upstream, receiver: &Receiver) -> String {
    items_bridge(
        &upstream.url("/orders"),
        &receiver.url(),
        "[emit]\nfirst_poll = \"emit\"",
    )
}

#[test]
fn retry_reuses_webhook_id() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    receiver.script(&[503]);
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &emitting_bridge(&upstream, &receiver));

    let first = workspace.poll("orders").expect_success();
    let second = workspace.poll("orders").expect_success();
    let third = workspace.poll("orders").expect_success();

    assert_eq!(first.len(), 1);
    assert_eq!(second, Vec::<Value>::new(), "nothing changed upstream");
    assert_eq!(third, Vec::<Value>::new(), "nothing changed upstream");
    let requests = receiver.requests();
    assert_eq!(
        requests.len(),
        2,
        "one failed attempt, one retry, and nothing after the receiver accepted"
    );
    assert_eq!(requests[0].response_status, 503);
    assert_eq!(requests[1].response_status, 200);
    assert_eq!(requests[0].header("webhook-id"), first[0]["webhook_id"]);
    assert_eq!(
        requests[1].header("webhook-id"),
        requests[0].header("webhook-id")
    );
    assert_eq!(
        requests[1].body, requests[0].body,
        "a retry sends the same body"
    );
}

#[test]
fn failed_event_blocks_later_events_of_its_target() {
    let upstream = Upstream::start(Reply::json(&data(&[
        json!({ "id": "A-1" }),
        json!({ "id": "A-2" }),
    ])));
    let receiver = Receiver::start();
    receiver.script(&[503]);
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &emitting_bridge(&upstream, &receiver));

    let first = workspace.poll("orders").expect_success();
    let after_first_run = receiver.requests().len();
    workspace.poll("orders").expect_success();

    assert_eq!(first.len(), 2);
    assert_eq!(
        after_first_run, 1,
        "A-2 must wait while A-1 is not accepted"
    );
    let bodies: Vec<Value> = receiver
        .requests()
        .iter()
        .map(|request| request.json())
        .collect();
    assert_eq!(
        kinds_and_ids(&bodies),
        vec![
            ("item.created".to_owned(), "A-1".to_owned()),
            ("item.created".to_owned(), "A-1".to_owned()),
            ("item.created".to_owned(), "A-2".to_owned()),
        ]
    );
}

#[test]
fn signature_verifies_over_raw_body() {
    let upstream = Upstream::start(Reply::json(&data(&[
        json!({ "id": "A-1", "name": "caf\u{e9} \u{1f600}", "price": 1.50 }),
    ])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &format!(
            r#"[schedule]
every = "1h"

[source]
url = "{}"

[items]
path = "$.data[*]"
id = "$.id"

[emit]
first_poll = "emit"

[[targets]]
url = "{}"
secret = "{SECRET}"
"#,
            upstream.url("/orders"),
            receiver.url()
        ),
    );

    workspace.poll("orders").expect_success();

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let id = request.header("webhook-id");
    let timestamp = request.header("webhook-timestamp");
    let signature = request.header("webhook-signature");
    assert!(
        signature.starts_with("v1,"),
        "signature {signature:?} lacks the v1 prefix"
    );
    let secret = WebhookSecret::parse(SECRET).expect("test secret is valid");
    assert_eq!(
        verify(
            std::slice::from_ref(&secret),
            id,
            timestamp,
            &request.body,
            signature
        ),
        Ok(())
    );

    let other = WebhookSecret::parse(OTHER_SECRET).expect("test secret is valid");
    assert_eq!(
        verify(&[other], id, timestamp, &request.body, signature),
        Err(VerifyError::NoMatch),
        "another secret must not verify"
    );
    let mut altered = request.body.to_vec();
    altered.push(b' ');
    assert_eq!(
        verify(&[secret], id, timestamp, &altered, signature),
        Err(VerifyError::NoMatch),
        "an altered body must not verify"
    );
}

#[test]
fn daemon_delivers_events_queued_while_receiver_was_down() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    receiver.respond_with(500);
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &emitting_bridge(&upstream, &receiver));
    let queued = workspace.poll("orders").expect_success();
    assert_eq!(queued.len(), 1);
    assert_eq!(receiver.requests().len(), 1);

    // The daemon polls once at start and finds A-2, queued after the event
    // that is still waiting for its retry.
    upstream.reply_json(&data(&[json!({ "id": "A-1" }), json!({ "id": "A-2" })]));
    receiver.respond_with(200);
    let mut daemon = workspace.start_daemon();
    receiver.wait_for(3, DAEMON_DEADLINE, || {
        format!("pollhook run log:\n{}", daemon.log())
    });
    let status = daemon.terminate(DAEMON_DEADLINE);

    let requests = receiver.requests();
    let log = daemon.log();
    assert!(
        status.success(),
        "pollhook run exited with {status}; log:\n{log}"
    );
    assert_eq!(requests.len(), 3, "log:\n{log}");
    assert_eq!(requests[0].response_status, 500);
    assert_eq!(requests[1].header("webhook-id"), queued[0]["webhook_id"]);
    assert_eq!(requests[1].body, requests[0].body);
    let bodies: Vec<Value> = requests.iter().map(|request| request.json()).collect();
    assert_eq!(
        kinds_and_ids(&bodies[1..]),
        vec![
            ("item.created".to_owned(), "A-1".to_owned()),
            ("item.created".to_owned(), "A-2".to_owned()),
        ],
        "queued events arrive in queue order"
    );
    assert_ne!(
        requests[2].header("webhook-id"),
        requests[1].header("webhook-id")
    );
}

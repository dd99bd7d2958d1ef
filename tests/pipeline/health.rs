//! Bridge health events: one `bridge.failing` after `failing_after`
//! consecutive failed polls, one `bridge.recovered` when a poll succeeds
//! again, and none at all when `health_events = false`.

use serde_json::json;

use crate::support::{
    data, items_bridge, wait_until, Receiver, Reply, Upstream, Workspace, DAEMON_DEADLINE,
};

/// Returns a bridge that polls every 100 ms, so that a test gets many polls
/// quickly.
fn fast_bridge(upstream: &Upstream, receiver: &Receiver, emit: &str) -> String {
    items_bridge(&upstream.url("/orders"), &receiver.url(), emit)
        .replace("every = \"1h\"", "every = \"100ms\"")
}

#[test]
fn failing_and_recovered_are_sent_once() {
    let upstream = Upstream::start(Reply::raw(503, "text/plain", "down for maintenance"));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &fast_bridge(&upstream, &receiver, "[emit]\nfailing_after = 2"),
    );
    let mut daemon = workspace.start_daemon();

    receiver.wait_for(1, DAEMON_DEADLINE, || daemon.log());
    let polls_at_failing = upstream.requests().len();
    wait_until(
        "three more failed polls",
        DAEMON_DEADLINE,
        || upstream.requests().len() >= polls_at_failing + 3,
        || daemon.log(),
    );
    let failing_count = receiver.requests().len();

    upstream.reply_json(&data(&[json!({ "id": "A-1" })]));
    receiver.wait_for(2, DAEMON_DEADLINE, || daemon.log());
    let polls_at_recovered = upstream.requests().len();
    wait_until(
        "three more successful polls",
        DAEMON_DEADLINE,
        || upstream.requests().len() >= polls_at_recovered + 3,
        || daemon.log(),
    );
    daemon.terminate(DAEMON_DEADLINE);

    assert_eq!(
        failing_count, 1,
        "failed polls after the second send nothing more"
    );
    let bodies: Vec<_> = receiver
        .requests()
        .iter()
        .map(|request| request.json())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:#?}");
    let failing = &bodies[0];
    assert_eq!(failing["type"], "bridge.failing");
    assert_eq!(failing["data"]["bridge"], "orders");
    assert_eq!(failing["data"]["consecutive_failures"], 2);
    assert!(
        failing["data"]["error"].as_str().unwrap().contains("503"),
        "{failing}"
    );
    assert!(failing["data"]["since"].is_string(), "{failing}");
    let recovered = &bodies[1];
    assert_eq!(recovered["type"], "bridge.recovered");
    assert_eq!(recovered["data"]["since"], failing["data"]["since"]);
    assert!(
        recovered["data"]["failed_polls"].as_u64().unwrap() >= 5,
        "{recovered}"
    );
}

#[test]
fn health_events_can_be_turned_off() {
    let upstream = Upstream::start(Reply::raw(503, "text/plain", "down"));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &fast_bridge(
            &upstream,
            &receiver,
            "[emit]\nfailing_after = 1\nhealth_events = false",
        ),
    );
    let mut daemon = workspace.start_daemon();

    wait_until(
        "five failed polls",
        DAEMON_DEADLINE,
        || upstream.requests().len() >= 5,
        || daemon.log(),
    );
    upstream.reply_json(&data(&[]));
    let polls = upstream.requests().len();
    wait_until(
        "three successful polls",
        DAEMON_DEADLINE,
        || upstream.requests().len() >= polls + 3,
        || daemon.log(),
    );
    daemon.terminate(DAEMON_DEADLINE);

    assert_eq!(receiver.requests().len(), 0, "{}", daemon.log());
}

#[test]
fn manual_polls_send_no_failing() {
    let upstream = Upstream::start(Reply::raw(503, "text/plain", "down"));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &fast_bridge(&upstream, &receiver, "[emit]\nfailing_after = 2"),
    );

    for _ in 0..4 {
        workspace.poll("orders").expect_failure();
    }
    upstream.reply_json(&data(&[json!({ "id": "A-1" })]));
    let events = workspace.poll("orders").expect_success();

    assert_eq!(
        events.len(),
        0,
        "the first successful poll is a silent baseline"
    );
    assert_eq!(
        receiver.requests().len(),
        0,
        "no outage was reported, so no recovery either"
    );
}

#[test]
fn manual_poll_ends_reported_outage() {
    let upstream = Upstream::start(Reply::raw(503, "text/plain", "down"));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &fast_bridge(&upstream, &receiver, "[emit]\nfailing_after = 2"),
    );
    let mut daemon = workspace.start_daemon();
    receiver.wait_for(1, DAEMON_DEADLINE, || daemon.log());
    daemon.terminate(DAEMON_DEADLINE);

    upstream.reply_json(&data(&[]));
    workspace.poll("orders").expect_success();

    let kinds: Vec<_> = receiver
        .requests()
        .iter()
        .map(|request| request.json()["type"].clone())
        .collect();
    assert_eq!(kinds, [json!("bridge.failing"), json!("bridge.recovered")]);
}

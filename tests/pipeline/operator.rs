//! Operator commands and delivery policy seen from outside: listing and
//! showing deliveries, redelivering failed ones, a 410 that disables a target,
//! the minute of rest after an overload response, and per-target rate limits.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{
    data, items_bridge, run, Receiver, Reply, Upstream, Workspace, DAEMON_DEADLINE,
};

fn emitting_bridge(upstream: &Upstream, target: &str) -> String {
    items_bridge(
        &upstream.url("/orders"),
        target,
        "[emit]\nfirst_poll = \"emit\"",
    )
}

fn json_output(workspace: &Workspace, args: &[&str]) -> Value {
    let output = run(workspace.command(args));
    assert!(output.status.success(), "{args:?} failed: {output}");
    serde_json::from_str(&output.stdout)
        .unwrap_or_else(|error| panic!("{args:?} printed no JSON ({error}): {output}"))
}

#[test]
fn deliveries_list_and_show_attempts() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    receiver.respond_with(500);
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &emitting_bridge(&upstream, &receiver.url()));
    let events = workspace.poll("orders").expect_success();
    let event_id = events[0]["webhook_id"].as_str().unwrap().to_owned();

    let listed = json_output(&workspace, &["deliveries", "--status", "pending", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");
    assert_eq!(listed[0]["event_id"], event_id.as_str());
    assert_eq!(listed[0]["status"], "pending");
    assert_eq!(listed[0]["attempts"], 1);
    assert_eq!(
        listed[0]["last_error"],
        "receiver answered HTTP 500 Internal Server Error"
    );
    let none_failed = json_output(&workspace, &["deliveries", "--status", "failed", "--json"]);
    assert_eq!(none_failed, json!([]));

    let shown = json_output(&workspace, &["deliveries", "show", &event_id, "--json"]);
    assert_eq!(shown["body"]["type"], "item.created");
    assert_eq!(
        shown["deliveries"][0]["attempts"], 1,
        "the count of attempts"
    );
    let attempts = &shown["deliveries"][0]["history"];
    assert_eq!(attempts[0]["outcome"], "status");
    assert_eq!(attempts[0]["status_code"], 500);

    let table = run(workspace.command(&["deliveries"]));
    assert!(table.stdout.starts_with("ID"), "{table}");
    assert!(table.stdout.contains(&event_id), "{table}");
}

#[test]
fn unknown_delivery_id_is_an_error() {
    let upstream = Upstream::start(Reply::json(&data(&[])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &emitting_bridge(&upstream, &receiver.url()));
    workspace.poll("orders").expect_success();

    let shown = run(workspace.command(&["deliveries", "show", "evt_nope"]));
    assert!(!shown.status.success());
    assert!(
        shown
            .stderr
            .contains("no event or delivery with id \"evt_nope\""),
        "{shown}"
    );
    let redelivered = run(workspace.command(&["redeliver", "evt_nope"]));
    assert!(!redelivered.status.success());
    assert!(redelivered.stderr.contains("evt_nope"), "{redelivered}");
}

#[test]
fn redeliver_failed_keeps_webhook_id() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    receiver.respond_with(500);
    let workspace = Workspace::new();
    workspace
        .write_global("state = \"state.db\"\n[delivery]\ntimeout = \"5s\"\nretry_schedule = []\n");
    workspace.write_bridge("orders", &emitting_bridge(&upstream, &receiver.url()));
    workspace.poll("orders").expect_success();
    let failed = json_output(&workspace, &["deliveries", "--status", "failed", "--json"]);
    assert_eq!(
        failed.as_array().unwrap().len(),
        1,
        "no retries configured, so one attempt fails it"
    );

    let redelivered = run(workspace.command(&["redeliver", "--failed", "--bridge", "orders"]));
    assert!(redelivered.status.success(), "{redelivered}");
    assert!(
        redelivered
            .stdout
            .contains("queued 1 failed deliveries again"),
        "{redelivered}"
    );
    receiver.respond_with(200);
    workspace.poll("orders").expect_success();

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].response_status, 200);
    assert_eq!(
        requests[1].header("webhook-id"),
        requests[0].header("webhook-id")
    );
    let delivered = json_output(
        &workspace,
        &["deliveries", "--status", "delivered", "--json"],
    );
    assert_eq!(delivered.as_array().unwrap().len(), 1);
}

#[test]
fn gone_disables_target_until_enabled() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    receiver.script(&[410]);
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &emitting_bridge(&upstream, &receiver.url()));
    workspace.poll("orders").expect_success();

    let targets = json_output(&workspace, &["targets", "--json"]);
    assert!(
        targets[0]["state"]
            .as_str()
            .unwrap()
            .starts_with("disabled since"),
        "{targets:#}"
    );
    assert_eq!(targets[0]["pending"], 1);

    upstream.reply_json(&data(&[json!({ "id": "A-1" }), json!({ "id": "A-2" })]));
    workspace.poll("orders").expect_success();
    assert_eq!(
        receiver.requests().len(),
        1,
        "a disabled target gets no attempts"
    );

    let enabled = run(workspace.command(&["targets", "enable", &receiver.url()]));
    assert!(enabled.status.success(), "{enabled}");
    workspace.poll("orders").expect_success();
    let requests = receiver.requests();
    assert_eq!(
        requests.len(),
        3,
        "both queued events go out once the target is enabled"
    );
    assert_eq!(
        requests[1].header("webhook-id"),
        requests[0].header("webhook-id")
    );
    assert_eq!(requests[2].json()["data"]["id"], "A-2");

    let again = run(workspace.command(&["targets", "enable", &receiver.url()]));
    assert!(
        !again.status.success(),
        "enabling an enabled target is reported: {again}"
    );
}

#[test]
fn overloaded_receiver_rests_a_minute() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    receiver.respond_with(503);
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &emitting_bridge(&upstream, &receiver.url()));
    workspace.poll("orders").expect_success();

    let shown = json_output(&workspace, &["deliveries", "--json"]);
    let next = shown[0]["next_attempt_at"].as_i64().unwrap();
    let detail = json_output(
        &workspace,
        &[
            "deliveries",
            "show",
            shown[0]["event_id"].as_str().unwrap(),
            "--json",
        ],
    );
    let attempted = detail["deliveries"][0]["history"][0]["attempted_at"]
        .as_i64()
        .unwrap();
    assert!(
        next - attempted >= 60_000,
        "a 503 must delay the next attempt by a minute, got {} ms",
        next - attempted
    );
}

#[test]
fn rate_limit_spaces_a_backlog() {
    let items: Vec<Value> = (0..8)
        .map(|index| json!({ "id": format!("A-{index}") }))
        .collect();
    let upstream = Upstream::start(Reply::json(&data(&items)));
    let receiver = Receiver::start();
    receiver.script(&[500]);
    let workspace = Workspace::new();
    let bridge = emitting_bridge(&upstream, &receiver.url()).replace(
        &format!("url = \"{}\"", receiver.url()),
        &format!("url = \"{}\"\nrate_limit = \"20/s\"", receiver.url()),
    );
    workspace.write_bridge("orders", &bridge);
    workspace.poll("orders").expect_success();
    assert_eq!(
        receiver.requests().len(),
        1,
        "the lane stops at its first failure"
    );

    let mut daemon = workspace.start_daemon();
    receiver.wait_for(9, DAEMON_DEADLINE, || daemon.log());
    let requests = receiver.requests();
    for pair in requests[1..].windows(2) {
        let gap = pair[1].arrived_at - pair[0].arrived_at;
        assert!(
            gap >= Duration::from_millis(45),
            "20/s allows one request per 50 ms, got a gap of {gap:?}"
        );
    }
    let ids: Vec<String> = requests[1..]
        .iter()
        .map(|request| request.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..8).map(|index| format!("A-{index}")).collect();
    assert_eq!(ids, expected, "one lane delivers in queue order");
    assert!(daemon.terminate(DAEMON_DEADLINE).success());
}

#[test]
fn moved_target_gets_queued_events() {
    let upstream = Upstream::start(Reply::json(&data(&[
        json!({ "id": "A-1" }),
        json!({ "id": "A-2" }),
    ])));
    let old_receiver = Receiver::start();
    old_receiver.respond_with(500);
    let new_receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &emitting_bridge(&upstream, &old_receiver.url()));
    let events = workspace.poll("orders").expect_success();
    assert_eq!(events.len(), 2);

    workspace.write_bridge("orders", &emitting_bridge(&upstream, &new_receiver.url()));
    let moved =
        run(workspace.command(&["targets", "move", &old_receiver.url(), &new_receiver.url()]));
    assert!(moved.status.success(), "{moved}");
    assert!(
        moved
            .stdout
            .contains("moved 2 pending or failed deliveries"),
        "{moved}"
    );
    workspace.poll("orders").expect_success();

    let requests = new_receiver.requests();
    assert_eq!(requests.len(), 2, "both queued events reach the new URL");
    assert_eq!(
        requests[0].header("webhook-id"),
        events[0]["webhook_id"].as_str().unwrap()
    );
    assert_eq!(
        requests[1].header("webhook-id"),
        events[1]["webhook_id"].as_str().unwrap()
    );
    assert_eq!(
        old_receiver.requests().len(),
        1,
        "the old URL got only the first, failed attempt"
    );
}

//! `pollhook status` reads the database while the daemon runs.

use serde_json::{json, Value};

use crate::support::{
    data, items_bridge, run, Receiver, Reply, Upstream, Workspace, DAEMON_DEADLINE,
};

#[test]
fn status_table_while_daemon_runs() {
    let healthy = Upstream::start(Reply::json(&data(&[
        json!({ "id": "A-1" }),
        json!({ "id": "A-2" }),
    ])));
    let broken = Upstream::start(Reply::raw(500, "text/plain", "boom"));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(&healthy.url("/orders"), &receiver.url(), ""),
    );
    workspace.write_bridge(
        "tickets",
        &items_bridge(&broken.url("/tickets"), &receiver.url(), ""),
    );
    let mut daemon = workspace.start_daemon();
    daemon.wait_for_log("first poll of this bridge: its items are the baseline", 1);
    daemon.wait_for_log("poll failed", 1);

    let table = run(workspace.command(&["status"]));
    let listed = run(workspace.command(&["status", "--json"]));
    daemon.terminate(DAEMON_DEADLINE);
    let stopped = run(workspace.command(&["status", "--json"]));

    assert!(table.status.success(), "{table}");
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("BRIDGE   SCHEDULE  LAST POLL"),
        "{table}"
    );
    let orders = lines[1];
    assert!(orders.starts_with("orders   every 1h"), "{table}");
    assert!(orders.contains(" ago     ok "), "{table}");
    assert!(orders.contains(" in 59m "), "{table}");
    let tickets = lines[2];
    assert!(tickets.contains(" failed (1x): GET http://"), "{table}");

    let statuses: Value = serde_json::from_str(&listed.stdout).expect("status --json prints JSON");
    assert_eq!(statuses[0]["name"], "orders");
    assert_eq!(statuses[0]["items"], 2);
    assert_eq!(statuses[0]["last_result"], "ok");
    assert!(statuses[0]["next_poll_at"].is_string(), "{statuses:#}");
    assert_eq!(statuses[1]["last_result"], "failed");
    assert_eq!(statuses[1]["consecutive_failures"], 1);
    let error = statuses[1]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("HTTP 500"), "{statuses:#}");

    let after: Value = serde_json::from_str(&stopped.stdout).expect("status --json prints JSON");
    assert_eq!(
        after[0]["next_poll_at"],
        Value::Null,
        "no daemon, no next poll"
    );
}

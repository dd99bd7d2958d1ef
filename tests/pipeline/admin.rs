//! The admin server: health, readiness, Prometheus metrics after known
//! polls, and the bridges API.

use pollhook::metrics::sample_value;
use serde_json::{json, Value};

use crate::support::{
    data, http_get, items_bridge, wait_until, Daemon, Receiver, Reply, Upstream, Workspace,
    DAEMON_DEADLINE,
};

/// Starts the daemon with the admin server on a free port and returns its
/// base URL, read from the log.
fn start_with_admin(workspace: &Workspace) -> (Daemon, String) {
    workspace.append_global("\n[admin]\nlisten = \"127.0.0.1:0\"\n");
    let daemon = workspace.start_daemon();
    daemon.wait_for_log("admin server listening", 1);
    let log = daemon.log();
    let address = log
        .split("address=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in the log:\n{log}"))
        .to_owned();
    (daemon, format!("http://{address}"))
}

#[test]
fn health_and_readiness_answer() {
    let upstream = Upstream::start(Reply::json(&data(&[])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(&upstream.url("/orders"), &receiver.url(), ""),
    );
    let (mut daemon, admin) = start_with_admin(&workspace);

    let health = http_get(&format!("{admin}/healthz"));
    wait_until(
        "/readyz to answer 200",
        DAEMON_DEADLINE,
        || http_get(&format!("{admin}/readyz")).status == 200,
        || daemon.log(),
    );
    let ready = http_get(&format!("{admin}/readyz"));
    let missing = http_get(&format!("{admin}/nothing"));
    daemon.terminate(DAEMON_DEADLINE);

    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.body, "ok\n");
    assert_eq!(ready.status, 200, "{ready:?}");
    assert_eq!(ready.body, "ready\n");
    assert_eq!(missing.status, 404);
}

#[test]
fn metrics_count_known_polls() {
    let orders = Upstream::start(Reply::json(&data(&[
        json!({ "id": "A-1" }),
        json!({ "id": "A-2" }),
    ])));
    let tickets = Upstream::start(Reply::raw(500, "text/plain", "boom"));
    let accepting = Receiver::start();
    let rejecting = Receiver::start();
    rejecting.respond_with(503);
    let workspace = Workspace::new();
    workspace.write_global("state = \"state.db\"\n[delivery]\nretry_schedule = [\"1h\"]\n");
    let two_targets = items_bridge(
        &orders.url("/orders"),
        &accepting.url(),
        "[emit]\nfirst_poll = \"emit\"",
    ) + &format!("\n[[targets]]\nurl = \"{}/rejecting\"\n", rejecting.url());
    workspace.write_bridge("orders", &two_targets);
    workspace.write_bridge(
        "tickets",
        &items_bridge(&tickets.url("/tickets"), &accepting.url(), ""),
    );
    let (mut daemon, admin) = start_with_admin(&workspace);
    accepting.wait_for(2, DAEMON_DEADLINE, || daemon.log());
    rejecting.wait_for(1, DAEMON_DEADLINE, || daemon.log());
    daemon.wait_for_log("poll failed", 1);
    daemon.wait_for_log("delivery failed, will retry", 1);

    let scrape = http_get(&format!("{admin}/metrics"));
    daemon.terminate(DAEMON_DEADLINE);

    assert_eq!(scrape.status, 200);
    assert!(
        scrape
            .content_type
            .starts_with("application/openmetrics-text"),
        "{}",
        scrape.content_type
    );
    let text = &scrape.body;
    let value = |name: &str, labels: &str| {
        sample_value(text, name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{{{labels}}} in:\n{text}"))
    };
    assert_eq!(
        value("pollhook_polls_total", r#"bridge="orders",result="ok""#),
        1.0
    );
    assert_eq!(
        value(
            "pollhook_polls_total",
            r#"bridge="tickets",result="failed""#
        ),
        1.0
    );
    assert_eq!(
        value("pollhook_poll_duration_seconds_count", r#"bridge="orders""#),
        1.0
    );
    assert_eq!(
        value(
            "pollhook_events_total",
            r#"bridge="orders",type="item.created""#
        ),
        2.0
    );
    assert_eq!(value("pollhook_bridge_items", r#"bridge="orders""#), 2.0);
    assert_eq!(
        value(
            "pollhook_bridge_consecutive_failures",
            r#"bridge="tickets""#
        ),
        1.0
    );
    let accepting_target = format!(r#"target="{}",outcome="ok""#, accepting.url());
    assert_eq!(
        value("pollhook_delivery_attempts_total", &accepting_target),
        2.0
    );
    let rejecting_url = format!("{}/rejecting", rejecting.url());
    let rejected = format!(r#"target="{rejecting_url}",outcome="status""#);
    assert_eq!(value("pollhook_delivery_attempts_total", &rejected), 1.0);
    let queue = format!(r#"target="{rejecting_url}""#);
    assert_eq!(
        value("pollhook_queue_depth", &queue),
        2.0,
        "both events wait in the lane"
    );
    let oldest = value("pollhook_queue_oldest_age_seconds", &queue);
    assert!((0.0..60.0).contains(&oldest), "{oldest}");
    let last_success = value(
        "pollhook_last_success_timestamp_seconds",
        r#"bridge="orders""#,
    );
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    assert!(
        (now - 60.0..=now).contains(&last_success),
        "{last_success} vs {now}"
    );
    assert!(sample_value(
        text,
        "pollhook_last_success_timestamp_seconds",
        r#"bridge="tickets""#
    )
    .is_none());
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[test]
fn bridges_api_lists_running_bridges() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(&upstream.url("/orders"), &receiver.url(), ""),
    );
    let (mut daemon, admin) = start_with_admin(&workspace);
    daemon.wait_for_log("first poll of this bridge: its items are the baseline", 1);

    let response = http_get(&format!("{admin}/api/bridges"));
    daemon.terminate(DAEMON_DEADLINE);

    assert_eq!(response.status, 200);
    assert!(
        response.content_type.starts_with("application/json"),
        "{response:?}"
    );
    let bridges: Value = serde_json::from_str(&response.body).expect("JSON body");
    assert_eq!(bridges.as_array().map(Vec::len), Some(1), "{bridges:#}");
    let orders = &bridges[0];
    assert_eq!(orders["name"], "orders");
    assert_eq!(orders["configured"], true);
    assert_eq!(orders["schedule"], "every 1h");
    assert_eq!(orders["targets"], json!([receiver.url()]));
    assert_eq!(orders["items"], 1);
    assert_eq!(orders["last_result"], "ok");
}

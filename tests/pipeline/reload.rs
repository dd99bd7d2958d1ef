//! Reloading on SIGHUP: unchanged bridges keep their schedule, changed ones
//! restart with their snapshot, removed ones stop, added ones start, and an
//! invalid configuration leaves the running one in force.

use serde_json::json;

use crate::support::{
    data, items_bridge, kinds_and_ids, wait_until, Receiver, Reply, Upstream, Workspace,
    DAEMON_DEADLINE,
};

const RELOADED: &str = "configuration reloaded";

/// Returns a bridge that polls `upstream` at the interval `every`.
fn bridge_every(every: &str, upstream: &Upstream, receiver: &Receiver, extra: &str) -> String {
    items_bridge(&upstream.url("/orders"), &receiver.url(), extra)
        .replace("every = \"1h\"", &format!("every = \"{every}\""))
}

fn wait_for_requests(upstream: &Upstream, count: usize, log: impl Fn() -> String) {
    wait_until(
        &format!("{count} upstream requests"),
        DAEMON_DEADLINE,
        || upstream.requests().len() >= count,
        log,
    );
}

#[test]
fn reload_adds_and_removes_bridges() {
    let kept = Upstream::start(Reply::json(&data(&[])));
    let removed = Upstream::start(Reply::json(&data(&[])));
    let added = Upstream::start(Reply::json(&data(&[])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge("kept", &bridge_every("1h", &kept, &receiver, ""));
    workspace.write_bridge("removed", &bridge_every("100ms", &removed, &receiver, ""));
    let mut daemon = workspace.start_daemon();
    wait_for_requests(&kept, 1, || daemon.log());
    wait_for_requests(&removed, 2, || daemon.log());

    workspace.remove_bridge("removed");
    workspace.write_bridge("added", &bridge_every("100ms", &added, &receiver, ""));
    daemon.reload();
    daemon.wait_for_log(RELOADED, 1);
    wait_for_requests(&added, 2, || daemon.log());
    let removed_polls = removed.requests().len();
    wait_for_requests(&added, 6, || daemon.log());
    daemon.terminate(DAEMON_DEADLINE);

    let log = daemon.log();
    assert_eq!(
        removed.requests().len(),
        removed_polls,
        "a removed bridge polled again:\n{log}"
    );
    assert_eq!(
        kept.requests().len(),
        1,
        "an unchanged hourly bridge keeps its schedule instead of polling again:\n{log}"
    );
    assert!(
        log.contains("added=1 changed=0 removed=1 unchanged=1"),
        "{log}"
    );
}

#[test]
fn changed_bridge_keeps_snapshot() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &bridge_every("1h", &upstream, &receiver, ""));
    let mut daemon = workspace.start_daemon();
    daemon.wait_for_log("first poll of this bridge: its items are the baseline", 1);

    upstream.reply_json(&data(&[json!({ "id": "A-1" }), json!({ "id": "A-2" })]));
    workspace.write_bridge(
        "orders",
        &bridge_every("1h", &upstream, &receiver, "[emit]\ndelete_after = 2"),
    );
    daemon.reload();
    receiver.wait_for(1, DAEMON_DEADLINE, || daemon.log());
    daemon.terminate(DAEMON_DEADLINE);

    let log = daemon.log();
    assert!(log.contains("added=0 changed=1 removed=0"), "{log}");
    assert_eq!(
        upstream.requests().len(),
        2,
        "one poll before and one after the restart"
    );
    let events: Vec<_> = receiver
        .requests()
        .iter()
        .map(|request| request.json())
        .collect();
    assert_eq!(
        kinds_and_ids(&events),
        [("item.created".to_owned(), "A-2".to_owned())],
        "the restarted bridge compares against its old snapshot"
    );
}

#[test]
fn changed_id_path_rebaselines() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1", "key": "k1" })])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &bridge_every("1h", &upstream, &receiver, ""));
    let mut daemon = workspace.start_daemon();
    daemon.wait_for_log("first poll of this bridge: its items are the baseline", 1);

    let by_key =
        bridge_every("1h", &upstream, &receiver, "").replace("id = \"$.id\"", "id = \"$.key\"");
    workspace.write_bridge("orders", &by_key);
    daemon.reload();
    daemon.wait_for_log("first poll of this bridge: its items are the baseline", 2);
    daemon.terminate(DAEMON_DEADLINE);

    let log = daemon.log();
    assert!(log.contains("the next poll is a silent baseline"), "{log}");
    assert_eq!(receiver.requests().len(), 0, "a re-baseline sends nothing");
}

#[test]
fn invalid_reload_keeps_running_config() {
    let upstream = Upstream::start(Reply::json(&data(&[])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &bridge_every("100ms", &upstream, &receiver, ""));
    let mut daemon = workspace.start_daemon();
    wait_for_requests(&upstream, 1, || daemon.log());

    workspace.write_bridge(
        "orders",
        &bridge_every(
            "100ms",
            &upstream,
            &receiver,
            "[emit]\nfirst_pol = \"emit\"",
        ),
    );
    daemon.reload();
    daemon.wait_for_log("reload rejected", 1);
    let polls = upstream.requests().len();
    wait_for_requests(&upstream, polls + 3, || daemon.log());
    daemon.terminate(DAEMON_DEADLINE);

    let log = daemon.log();
    assert!(
        log.contains("first_pol"),
        "the error names the bad key:\n{log}"
    );
    assert!(!log.contains(RELOADED), "{log}");
}

#[test]
fn added_bridge_delivers_to_new_target() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let first = Receiver::start();
    let added = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge("orders", &bridge_every("1h", &upstream, &first, ""));
    let mut daemon = workspace.start_daemon();
    daemon.wait_for_log("first poll of this bridge: its items are the baseline", 1);

    let emitting = bridge_every("1h", &upstream, &added, "[emit]\nfirst_poll = \"emit\"");
    workspace.write_bridge("tickets", &emitting);
    daemon.reload();
    added.wait_for(1, DAEMON_DEADLINE, || daemon.log());
    daemon.terminate(DAEMON_DEADLINE);

    let events: Vec<_> = added
        .requests()
        .iter()
        .map(|request| request.json())
        .collect();
    assert_eq!(
        kinds_and_ids(&events),
        [("item.created".to_owned(), "A-1".to_owned())]
    );
    assert_eq!(first.requests().len(), 0);
}

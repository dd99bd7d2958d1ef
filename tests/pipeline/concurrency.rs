//! Several pollhook processes on one state database: concurrent polls of one
//! bridge announce each change once, and a second daemon is refused.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    data, items_bridge, run, Receiver, Reply, Upstream, Workspace, DAEMON_DEADLINE,
};

#[test]
fn concurrent_polls_announce_once() {
    let items = data(&[json!({ "id": "A-1" }), json!({ "id": "A-2" })]);
    let upstream = Upstream::start(Reply::json(&items).delayed(Duration::from_millis(400)));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(
            &upstream.url("/orders"),
            &receiver.url(),
            "[emit]\nfirst_poll = \"emit\"",
        ),
    );

    let children: Vec<_> = (0..3)
        .map(|_| {
            workspace
                .command(&["poll", "orders"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start pollhook poll")
        })
        .collect();
    let mut printed = 0;
    for child in children {
        let output = child.wait_with_output().expect("wait for pollhook poll");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        printed += String::from_utf8_lossy(&output.stdout).lines().count();
    }
    assert_eq!(
        printed, 2,
        "three polls of one response announce its two items once"
    );

    let events = run(workspace.command(&["deliveries", "--json"]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&events.stdout).unwrap();
    assert_eq!(rows.len(), 2, "{events}");
}

#[test]
fn second_daemon_is_refused() {
    let upstream = Upstream::start(Reply::json(&data(&[])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(&upstream.url("/orders"), &receiver.url(), ""),
    );
    let mut first = workspace.start_daemon();
    let started = std::time::Instant::now();
    while !first.log().contains("pollhook started") {
        assert!(
            started.elapsed() < DAEMON_DEADLINE,
            "the first daemon did not start: {}",
            first.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let second = run(workspace.command(&["run"]));
    assert!(!second.status.success(), "{second}");
    assert!(
        second
            .stderr
            .contains("another pollhook process delivers from this state database"),
        "{second}"
    );
    assert!(first.terminate(DAEMON_DEADLINE).success());
}

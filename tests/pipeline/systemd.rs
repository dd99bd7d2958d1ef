//! systemd's notification protocol, spoken to a socket that plays systemd:
//! READY=1 after the start, RELOADING=1 and READY=1 around a SIGHUP reload,
//! WATCHDOG=1 pings, and STOPPING=1 at SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{data, items_bridge, Receiver, Reply, Upstream, Workspace, DAEMON_DEADLINE};

/// Reads datagrams until one contains `line` as a whole line, and returns
/// every message read.
fn wait_for_message(socket: &UnixDatagram, line: &str, log: impl Fn() -> String) -> Vec<String> {
    let started = Instant::now();
    let mut messages = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if started.elapsed() > DAEMON_DEADLINE {
            panic!(
                "no {line:?} within {DAEMON_DEADLINE:?}; got {messages:?}\n{}",
                log()
            );
        }
        let Ok(length) = socket.recv(&mut buffer) else {
            continue;
        };
        let message = String::from_utf8_lossy(&buffer[..length]).into_owned();
        let found = message.lines().any(|candidate| candidate == line);
        messages.push(message);
        if found {
            return messages;
        }
    }
}

#[test]
fn daemon_notifies_systemd() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(&upstream.url("/orders"), &receiver.url(), ""),
    );
    let socket_path = workspace.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind the notification socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("set a read timeout");
    let socket_env = socket_path.to_str().expect("UTF-8 path");
    let mut daemon = workspace
        .start_daemon_with_env(&[("NOTIFY_SOCKET", socket_env), ("WATCHDOG_USEC", "400000")]);

    let started = wait_for_message(&socket, "READY=1", || daemon.log());
    wait_for_message(&socket, "WATCHDOG=1", || daemon.log());
    daemon.reload();
    let reloading = wait_for_message(&socket, "RELOADING=1", || daemon.log());
    let reloaded = wait_for_message(&socket, "READY=1", || daemon.log());
    let status = daemon.terminate(DAEMON_DEADLINE);
    let stopping = wait_for_message(&socket, "STOPPING=1", || daemon.log());

    assert!(status.success(), "{}", daemon.log());
    assert!(
        started
            .last()
            .unwrap()
            .contains("STATUS=running 1 bridge(s)"),
        "{started:?}"
    );
    let reload_message = reloading.last().unwrap();
    assert!(
        reload_message.contains("MONOTONIC_USEC="),
        "{reload_message}"
    );
    assert!(
        reloaded
            .last()
            .unwrap()
            .contains("STATUS=running 1 bridge(s)"),
        "{reloaded:?}"
    );
    assert!(!stopping.is_empty());
}

//! `pollhook demo` shows signed events arriving with no network and no
//! configuration, stops cleanly on Ctrl-C (SIGINT) and keeps its files.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The API changes every 3 s and the bridge polls every 2 s, so an update
/// arrives within about 8 s; the rest is slack for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(40);

#[test]
fn demo_shows_signed_events_and_stops() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let demo_dir = dir.path().join("demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pollhook"))
        .args(["demo", "--dir"])
        .arg(&demo_dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pollhook demo");
    let output = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let collected = output.clone();
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stdout.read(&mut buffer) {
            if read == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buffer[..read]);
            collected.lock().expect("output lock").push_str(&text);
        }
    });
    let printed = || output.lock().expect("output lock").clone();

    let started = Instant::now();
    while !printed().contains("type: item.updated") {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("no item.updated within {DEADLINE:?}:\n{}", printed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let status = child.wait().expect("wait for pollhook demo");
    reader.join().expect("join the reader");
    let text = printed();

    assert!(status.success(), "exit {status}:\n{text}");
    assert!(
        text.contains("type: item.created\nsignature: valid\n"),
        "{text}"
    );
    assert!(
        text.contains("type: item.updated\nsignature: valid\n"),
        "{text}"
    );
    assert!(!text.contains("INVALID"), "{text}");
    assert!(
        text.contains("demo stopped. Its files are kept in"),
        "{text}"
    );
    for file in ["pollhook.toml", "bridges/shop.toml", "state.db"] {
        assert!(demo_dir.join(file).is_file(), "{file} missing");
    }

    let status_output = Command::new(env!("CARGO_BIN_EXE_pollhook"))
        .arg("--config")
        .arg(demo_dir.join("pollhook.toml"))
        .arg("status")
        .output()
        .expect("run pollhook status");
    let table = String::from_utf8_lossy(&status_output.stdout);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|row| row.starts_with("shop ")),
        "{table}"
    );
}

//! The files pollhook generates from its own definitions: the bridge file's
//! JSON Schema, shell completions and man pages.

use std::process::Command;

fn pollhook(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_pollhook"))
        .args(args)
        .output()
        .expect("run pollhook");
    assert!(
        output.status.success(),
        "pollhook {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

#[test]
fn schema_describes_bridge_file() {
    let schema: serde_json::Value =
        serde_json::from_str(&pollhook(&["schema"])).expect("schema is JSON");

    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["title"], "pollhook bridge file");
    let emit = &schema["properties"]["emit"]["properties"];
    assert_eq!(
        emit["first_poll"]["enum"],
        serde_json::json!(["baseline", "emit"])
    );
    assert_eq!(emit["failing_after"]["type"], "integer");
    let target = &schema["properties"]["targets"]["items"];
    assert_eq!(target["required"], serde_json::json!(["url"]));
}

#[test]
fn completions_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = pollhook(&["completions", shell]);
        for command in ["run", "check", "poll", "listen", "status", "schema", "demo"] {
            assert!(
                script.contains(command),
                "{shell} completions lack {command}"
            );
        }
    }
}

#[test]
fn man_pages_are_written_per_command() {
    let page = pollhook(&["man"]);
    let dir = tempfile::tempdir().expect("temporary directory");
    pollhook(&["man", "--dir", dir.path().to_str().expect("UTF-8 path")]);

    assert!(page.starts_with(".ie"), "{page}");
    assert!(page.contains(".TH pollhook 1"), "{page}");
    for name in ["pollhook.1", "pollhook-run.1", "pollhook-status.1"] {
        assert!(dir.path().join(name).is_file(), "{name} missing");
    }
}

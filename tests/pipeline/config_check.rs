//! `pollhook check`: every error in every file, each naming its file, key and
//! value.

use crate::support::{run, Workspace};

/// Returns a valid bridge file with `source_extra` appended to `[source]` and
/// `schedule` and `items_path` in place. No test sends it any request.
fn bridge_file(schedule: &str, source_extra: &str, items_path: &str) -> String {
    format!(
        r#"[schedule]
{schedule}

[source]
url = "http://127.0.0.1:9/orders"
{source_extra}

[items]
path = "{items_path}"
id = "$.id"

[[targets]]
url = "http://127.0.0.1:9/hooks"
"#
    )
}

fn valid_bridge() -> String {
    bridge_file(r#"every = "30s""#, "", "$.data[*]")
}

/// A broken bridge file and what its error line must contain.
struct BrokenFile {
    name: &'static str,
    contents: String,
    key: &'static str,
    value: &'static str,
}

fn broken_files() -> Vec<BrokenFile> {
    vec![
        BrokenFile {
            name: "typo",
            contents: bridge_file(r#"every = "30s""#, "retries = 3", "$.data[*]"),
            key: "source",
            value: "retries",
        },
        BrokenFile {
            name: "bad-path",
            contents: bridge_file(r#"every = "30s""#, "", "$.data["),
            key: "items.path",
            value: "$.data[",
        },
        BrokenFile {
            name: "bad-cron",
            contents: bridge_file(r#"cron = "61 * * * *""#, "", "$.data[*]"),
            key: "schedule.cron",
            value: "61 * * * *",
        },
        BrokenFile {
            name: "bad-duration",
            contents: bridge_file(r#"every = "soon""#, "", "$.data[*]"),
            key: "schedule.every",
            value: "soon",
        },
        BrokenFile {
            name: "missing-var",
            contents: bridge_file(
                r#"every = "30s""#,
                r#"headers = { Authorization = "Bearer ${POLLHOOK_E2E_UNSET}" }"#,
                "$.data[*]",
            ),
            key: "source.headers.Authorization",
            value: "POLLHOOK_E2E_UNSET",
        },
    ]
}

#[test]
fn check_names_every_broken_file_and_key() {
    let workspace = Workspace::new();
    workspace.write_bridge("good", &valid_bridge());
    let broken = broken_files();
    for file in &broken {
        workspace.write_bridge(file.name, &file.contents);
    }

    let check = run(workspace.command(&["check"]));

    assert!(
        !check.status.success(),
        "check accepted broken files: {check}"
    );
    for file in &broken {
        let file_name = format!("{}.toml", file.name);
        let lines: Vec<&str> = check
            .stderr
            .lines()
            .filter(|line| line.contains(&file_name))
            .collect();
        assert!(!lines.is_empty(), "no error names {file_name}: {check}");
        assert!(
            lines.iter().any(|line| line.contains(file.key)),
            "no error for {file_name} names the key {}: {lines:#?}",
            file.key
        );
        assert!(
            lines.iter().any(|line| line.contains(file.value)),
            "no error for {file_name} shows {:?}: {lines:#?}",
            file.value
        );
    }
    assert!(
        !check.stderr.contains("good.toml"),
        "the valid file was reported: {check}"
    );
}

#[test]
fn check_reports_every_error_in_one_file() {
    let workspace = Workspace::new();
    workspace.write_bridge(
        "several",
        &bridge_file(r#"cron = "61 * * * *""#, "retries = 3", "$.data["),
    );

    let check = run(workspace.command(&["check"]));

    assert!(
        !check.status.success(),
        "check accepted a broken file: {check}"
    );
    for key in ["retries", "schedule.cron", "items.path"] {
        assert!(
            check
                .stderr
                .lines()
                .any(|line| line.contains("several.toml") && line.contains(key)),
            "no error for several.toml names {key}: {check}"
        );
    }
}

#[test]
fn check_accepts_valid_setup() {
    let workspace = Workspace::new();
    workspace.write_bridge("good", &valid_bridge());
    workspace.write_bridge(
        "hourly",
        &bridge_file(r#"cron = "0 * * * *""#, r#"timeout = "10s""#, "$.data[*]"),
    );

    let check = run(workspace.command(&["check"]));

    assert!(
        check.status.success(),
        "check rejected a valid setup: {check}"
    );
    assert!(check.stdout.contains("good"), "{check}");
    assert!(check.stdout.contains("hourly"), "{check}");
}

#[test]
fn invalid_log_level_is_an_error() {
    let workspace = Workspace::new();
    for level in ["warning", "verbose"] {
        let output = run(workspace.command(&["--log-level", level, "check"]));
        assert_eq!(output.status.code(), Some(2), "{output}");
        assert!(output.stderr.contains("invalid --log-level"), "{output}");
    }
    let valid = run(workspace.command(&["--log-level", "pollhook=debug", "check"]));
    assert_ne!(valid.status.code(), Some(2), "{valid}");
}

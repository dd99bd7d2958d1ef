use super::*;

const VALID: &str = r#"
[schedule]
every = "30s"

[source]
url = "https://api.example.com/v1/orders?status=open"
headers = { Authorization = "Bearer ${POLLHOOK_TEST_TOKEN}" }

[items]
path = "$.data[*]"
id = "$.id"
ignore = ["$.updated_at"]

[[targets]]
url = "https://hooks.example.net/orders"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"#;

fn write_bridge(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn messages(errors: &[ConfigError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn valid_bridge_loads() {
    std::env::set_var("POLLHOOK_TEST_TOKEN", "secret-token-1");
    let dir = tempfile::tempdir().unwrap();
    let file = write_bridge(dir.path(), "orders", VALID);
    let bridge = load_bridge_file(&file).unwrap();
    assert_eq!(bridge.name.as_str(), "orders");
    assert_eq!(bridge.targets.len(), 1);
    assert_eq!(bridge.source.headers[0].1, "Bearer secret-token-1");
    assert!(matches!(bridge.selection, Selection::Items(_)));
}

#[test]
fn unknown_key_names_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID.replace("every = \"30s\"", "every = \"30s\"\nevry = \"1m\"");
    let file = write_bridge(dir.path(), "orders", &text);
    std::env::set_var("POLLHOOK_TEST_TOKEN", "secret-token-1");
    let errors = messages(&load_bridge_file(&file).unwrap_err());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("orders.toml"), "{errors:?}");
    assert!(errors[0].contains("evry"), "{errors:?}");
}

#[test]
fn every_invalid_value_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID
        .replace("$.data[*]", "$.data[")
        .replace("\"$.id\"", "\"id\"")
        .replace("https://hooks.example.net/orders", "ftp://hooks")
        .replace("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "not-a-secret")
        .replace("${POLLHOOK_TEST_TOKEN}", "${POLLHOOK_TEST_UNSET_VARIABLE}");
    let file = write_bridge(dir.path(), "orders", &text);
    let errors = messages(&load_bridge_file(&file).unwrap_err());
    let expect = [
        "items.path: invalid JSONPath \"$.data[\"",
        "items.id: invalid JSONPath \"id\"",
        "targets[0].url: invalid URL ftp://hooks",
        "targets[0].secret:",
        "source.headers.Authorization: environment variable POLLHOOK_TEST_UNSET_VARIABLE is not set",
    ];
    for wanted in expect {
        assert!(
            errors.iter().any(|error| error.contains(wanted)),
            "missing {wanted:?} in {errors:#?}"
        );
    }
}

#[test]
fn bad_duration_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("POLLHOOK_TEST_TOKEN", "secret-token-1");
    let file = write_bridge(
        dir.path(),
        "orders",
        &VALID.replace("\"30s\"", "\"30 seconds please\""),
    );
    let errors = messages(&load_bridge_file(&file).unwrap_err());
    assert!(errors[0].contains("schedule.every"), "{errors:?}");
    assert!(errors[0].contains("invalid duration"), "{errors:?}");
}

#[test]
fn schedule_needs_exactly_one_kind() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("POLLHOOK_TEST_TOKEN", "secret-token-1");
    let both = VALID.replace("every = \"30s\"", "every = \"30s\"\ncron = \"* * * * *\"");
    let errors = messages(&load_bridge_file(&write_bridge(dir.path(), "both", &both)).unwrap_err());
    assert!(errors[0].contains("not both"), "{errors:?}");
    let none = VALID.replace("every = \"30s\"", "");
    let errors = messages(&load_bridge_file(&write_bridge(dir.path(), "none", &none)).unwrap_err());
    assert!(errors[0].contains("missing schedule"), "{errors:?}");
}

#[test]
fn invalid_file_name_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_bridge(dir.path(), "My Orders", VALID);
    let errors = messages(&load_bridge_file(&file).unwrap_err());
    assert!(errors[0].contains("invalid bridge name"), "{errors:?}");
}

#[test]
fn toml_syntax_error_names_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_bridge(dir.path(), "broken", "[schedule\nevery = 1");
    let errors = messages(&load_bridge_file(&file).unwrap_err());
    assert!(errors[0].contains("broken.toml"), "{errors:?}");
}

#[test]
fn literal_dollar_brace_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("POLLHOOK_TEST_TOKEN", "secret-token-1");
    let text = VALID.replace("status=open", "status=$${literal}");
    let bridge = load_bridge_file(&write_bridge(dir.path(), "orders", &text)).unwrap();
    assert!(bridge.source.url.ends_with("status=${literal}"));
}

#[test]
fn all_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    write_bridge(dir.path(), "a", "[schedule]\nevery = \"x\"");
    write_bridge(dir.path(), "b", "nonsense = 1");
    let errors = load_bridges(dir.path()).unwrap_err();
    let text = errors.to_string();
    assert!(text.contains("a.toml"), "{text}");
    assert!(text.contains("b.toml"), "{text}");
}

#[test]
fn missing_bridges_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let errors = load_bridges(&dir.path().join("nope")).unwrap_err();
    assert!(
        errors
            .to_string()
            .contains("cannot read the bridges directory"),
        "{errors}"
    );
}

#[test]
fn explicit_global_file_must_exist() {
    let overrides = Overrides {
        config: Some(PathBuf::from("/nonexistent/pollhook.toml")),
        ..Overrides::default()
    };
    let errors = load_global(&overrides).unwrap_err();
    assert!(errors.to_string().contains("file not found"), "{errors}");
}

#[test]
fn global_file_and_flags_layer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pollhook.toml");
    std::fs::write(
        &file,
        "state = \"from-file.db\"\n[delivery]\ntimeout = \"5s\"\nretry_schedule = [\"1s\"]\n",
    )
    .unwrap();
    let overrides = Overrides {
        config: Some(file.clone()),
        state: Some(PathBuf::from("flag.db")),
        ..Overrides::default()
    };
    let global = load_global(&overrides).unwrap();
    assert_eq!(global.state, PathBuf::from("flag.db"));
    assert_eq!(global.delivery.timeout.0, std::time::Duration::from_secs(5));
    assert_eq!(global.delivery.retry_schedule.len(), 1);
    assert_eq!(global.bridges, PathBuf::from("bridges"));
}

#[test]
fn global_unknown_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pollhook.toml");
    std::fs::write(&file, "[delivery]\ntimeot = \"5s\"\n").unwrap();
    let overrides = Overrides {
        config: Some(file),
        ..Overrides::default()
    };
    let errors = load_global(&overrides).unwrap_err().to_string();
    assert!(errors.contains("timeot"), "{errors}");
}

#[test]
fn errors_after_a_bad_key_are_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("POLLHOOK_TEST_TOKEN", "secret-token-1");
    let text = VALID
        .replace("every = \"30s\"", "every = \"soon\"")
        .replace("[items]", "[items]\nfilter = \"x\"")
        .replace("$.data[*]", "$.data[");
    let errors =
        messages(&load_bridge_file(&write_bridge(dir.path(), "orders", &text)).unwrap_err());
    for wanted in ["schedule.every", "items.filter", "items.path"] {
        assert!(
            errors.iter().any(|error| error.contains(wanted)),
            "missing {wanted:?} in {errors:#?}"
        );
    }
    assert!(
        !errors
            .iter()
            .any(|error| error.contains("missing schedule")),
        "{errors:#?}"
    );
}

#[test]
fn malformed_references_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("POLLHOOK_TEST_TOKEN", "secret-token-1");
    let text = VALID.replace("status=open", "status=${}").replace(
        "https://hooks.example.net/orders",
        "https://hooks.example.net/${UNCLOSED",
    );
    let errors =
        messages(&load_bridge_file(&write_bridge(dir.path(), "orders", &text)).unwrap_err());
    assert!(
        errors
            .iter()
            .any(|error| error.contains("source.url: empty ${}")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|error| error.contains("targets[0].url: unclosed ${")),
        "{errors:#?}"
    );
}

#[test]
fn empty_event_list_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("POLLHOOK_TEST_TOKEN", "secret-token-1");
    let text = format!("{VALID}\n[emit]\nevents = []\n");
    let errors =
        messages(&load_bridge_file(&write_bridge(dir.path(), "orders", &text)).unwrap_err());
    assert!(
        errors
            .iter()
            .any(|error| error.contains("emit.events: empty list")),
        "{errors:#?}"
    );
}

#[test]
fn unknown_time_zone_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("POLLHOOK_TEST_TOKEN", "secret-token-1");
    let text = VALID.replace(
        "every = \"30s\"",
        "cron = \"0 * * * *\"\ntimezone = \"Europe/Berln\"",
    );
    let errors =
        messages(&load_bridge_file(&write_bridge(dir.path(), "orders", &text)).unwrap_err());
    assert!(
        errors
            .iter()
            .any(|error| error.contains("schedule.timezone: unknown time zone")),
        "{errors:#?}"
    );
}

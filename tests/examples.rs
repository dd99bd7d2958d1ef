//! Every example bridge in bridges/ must pass `pollhook check`, so that the
//! files a new user copies are valid.

use std::process::Command;

#[test]
fn example_bridges_pass_check() {
    let root = env!("CARGO_MANIFEST_DIR");
    let state = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pollhook"))
        .current_dir(state.path())
        .arg("--bridges")
        .arg(format!("{root}/bridges"))
        .arg("check")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pollhook check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("configuration is valid"), "{stdout}");
}

#[test]
fn examples_cover_three_public_apis() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bridges");
    let count = std::fs::read_dir(root)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|ext| ext == "toml")
        })
        .count();
    assert!(
        count >= 3,
        "expected at least three example bridges, found {count}"
    );
}

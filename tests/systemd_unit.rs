//! The shipped unit file passes `systemd-analyze verify`, when systemd's
//! tools are installed.

use std::path::Path;
use std::process::Command;

#[test]
fn unit_file_passes_systemd_analyze() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "systemd-analyze not found: skipping the unit file check (install systemd to run it)"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("contrib/systemd/pollhook.service"))
        .expect("read the unit file");
    let dir = tempfile::tempdir().expect("temporary directory");

    // verify checks that ExecStart= names an executable and that the
    // Documentation= man page exists, so both point at this build.
    let binary = env!("CARGO_BIN_EXE_pollhook");
    let unit = unit.replace("=pollhook ", &format!("={binary} "));
    let unit_path = dir.path().join("pollhook.service");
    std::fs::write(&unit_path, unit).expect("write the unit file");
    let man_dir = dir.path().join("man");
    let pages = Command::new(binary)
        .args(["man", "--dir"])
        .arg(man_dir.join("man1"))
        .output()
        .expect("run pollhook man");
    assert!(pages.status.success(), "{pages:?}");

    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_path)
        .env("MANPATH", &man_dir)
        .output()
        .expect("run systemd-analyze verify");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    assert_eq!(stderr.trim(), "", "systemd-analyze verify warned");
}

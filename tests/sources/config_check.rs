//! `pollhook check` reports mistakes in the source options with the file,
//! the key and what is allowed.

use std::process::Command;

use crate::support::config_errors;

fn assert_error(toml: &str, expected: &str) {
    let errors = config_errors(toml);
    assert!(
        errors.iter().any(|error| error.contains(expected)),
        "expected an error containing {expected:?}, got {errors:#?}"
    );
}

const ITEMS: &str = "[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n";

#[test]
fn pagination_mistakes_name_the_key() {
    assert_error(
        &format!("[source]\nurl = \"http://127.0.0.1:9/\"\n[source.pagination]\ntype = \"pages\"\n{ITEMS}"),
        "source.pagination.type: unknown pagination type \"pages\"",
    );
    assert_error(
        &format!("[source]\nurl = \"http://127.0.0.1:9/\"\n[source.pagination]\ntype = \"cursor\"\n{ITEMS}"),
        "source.pagination.cursor: missing",
    );
    assert_error(
        &format!("[source]\nurl = \"http://127.0.0.1:9/\"\n[source.pagination]\ntype = \"link\"\ncursor = \"$.c\"\n{ITEMS}"),
        "source.pagination.cursor: cursor does not apply to type = \"link\"",
    );
    assert_error(
        &format!("[source]\nurl = \"http://127.0.0.1:9/\"\nconditional = true\n[source.pagination]\ntype = \"link\"\n{ITEMS}"),
        "source.conditional: conditional requests apply only to unpaginated sources",
    );
    assert_error(
        "[source]\nurl = \"http://127.0.0.1:9/\"\n[source.pagination]\ntype = \"link\"\n",
        "source.pagination: pagination joins the items of every page, so it needs [items]",
    );
}

#[test]
fn auth_mistakes_name_the_key() {
    assert_error(
        &format!(
            "[source]\nurl = \"http://127.0.0.1:9/\"\n[source.auth]\ntype = \"bearer\"\n{ITEMS}"
        ),
        "source.auth.token: missing token",
    );
    assert_error(
        &format!("[source]\nurl = \"http://127.0.0.1:9/\"\n[source.auth]\ntype = \"oauth2\"\ntoken_url = \"not a url\"\nclient_id = \"a\"\nclient_secret = \"b\"\n{ITEMS}"),
        "source.auth.token_url: invalid URL",
    );
    assert_error(
        &format!(
            "[source]\nurl = \"http://127.0.0.1:9/\"\n[source.auth]\ntype = \"digest\"\n{ITEMS}"
        ),
        "source.auth.type: unknown auth type \"digest\"",
    );
}

#[test]
fn format_and_items_mistakes_name_the_key() {
    assert_error(
        &format!("[source]\nurl = \"http://127.0.0.1:9/\"\nformat = \"csv\"\n{ITEMS}"),
        "source.format: unknown format \"csv\"",
    );
    assert_error(
        "[source]\nurl = \"http://127.0.0.1:9/\"\nformat = \"feed\"\n[items]\nmode = \"full\"\n",
        "items.mode: a feed is a sliding window",
    );
    assert_error(
        &format!("[source]\nurl = \"http://127.0.0.1:9/\"\nquery = {{ since = \"{{{{ now }}}}\" }}\n{ITEMS}"),
        "source.query.since: unknown placeholder {{ now }}",
    );
    assert_error(
        "[source]\nurl = \"http://127.0.0.1:9/\"\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\nforget_after = \"1d\"\n",
        "items.forget_after: forget_after applies only to mode = \"incremental\"",
    );
    assert_error(
        "[source]\nurl = \"http://127.0.0.1:9/\"\n[items]\nid = \"$.id\"\n",
        "items.path: missing",
    );
}

#[test]
fn feed_without_items_section_is_valid() {
    let errors = config_errors("[source]\nurl = \"http://127.0.0.1:9/feed\"\nformat = \"feed\"\n");
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn check_command_reports_missing_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    let bridges = dir.path().join("bridges");
    std::fs::create_dir(&bridges).unwrap();
    std::fs::write(
        bridges.join("orders.toml"),
        "[schedule]\nevery = \"1m\"\n[source]\nurl = \"http://127.0.0.1:9/\"\n[source.auth]\ntype = \"bearer\"\ntoken = \"${file:/nonexistent/orders-token}\"\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n[[targets]]\nurl = \"http://127.0.0.1:9/hook\"\n",
    )
    .unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_pollhook"))
        .current_dir(dir.path())
        .args(["check", "--bridges", "bridges"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(
            "orders.toml: source.auth.token: cannot read the secret file /nonexistent/orders-token"
        ),
        "{stderr}"
    );
}

//! Secrets stay out of everything pollhook writes: stdout, stderr and the
//! state database, even when a failing upstream echoes the request back.

use serde_json::json;

use crate::support::{data, run, PollRun, Receiver, Reply, Upstream, Workspace};

const API_KEY: &str = "e2e-api-key-5b1f0c93d7";
const HOOK_SECRET: &str = "whsec_ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";
/// The key part of `HOOK_SECRET`, which must not leak on its own either.
const HOOK_SECRET_KEY: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM";
const TARGET_TOKEN: &str = "e2e-target-token-8a27e4";

fn poll_with_key(workspace: &Workspace) -> PollRun {
    let mut command = workspace.command(&["--log-level", "debug", "poll", "orders"]);
    command.env("POLLHOOK_E2E_KEY", API_KEY);
    run(command)
}

/// Fails when `text` contains a secret, showing the text around it.
fn assert_no_secret(place: &str, text: &str) {
    for secret in [API_KEY, HOOK_SECRET_KEY, TARGET_TOKEN] {
        if let Some(position) = text.find(secret) {
            let start = position.saturating_sub(200);
            let end = (position + secret.len() + 200).min(text.len());
            let context = String::from_utf8_lossy(&text.as_bytes()[start..end]);
            panic!("{place} contains the secret {secret:?}: ...{context}...");
        }
    }
}

#[test]
fn secrets_stay_out_of_output_and_state() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    receiver.respond_with(500);
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &format!(
            r#"[schedule]
every = "1h"

[source]
url = "{}?api_key=${{POLLHOOK_E2E_KEY}}"

[items]
path = "$.data[*]"
id = "$.id"

[emit]
first_poll = "emit"

[[targets]]
url = "{}?token={TARGET_TOKEN}"
secret = "{HOOK_SECRET}"
"#,
            upstream.url("/orders"),
            receiver.url()
        ),
    );

    // A good poll whose delivery fails stores an event and a failed attempt.
    let good = poll_with_key(&workspace);
    good.expect_success();
    assert_eq!(receiver.requests().len(), 1, "{good}");

    // The failing upstream echoes the request, key included, in its error body.
    upstream.reply_with(Reply::raw(
        500,
        "text/plain",
        &format!("invalid request /orders?api_key={API_KEY}"),
    ));
    let failed = poll_with_key(&workspace);
    failed.expect_failure();

    let requests = upstream.requests();
    assert_eq!(
        requests.last().map(String::as_str),
        Some(format!("/orders?api_key={API_KEY}").as_str()),
        "the key must reach the upstream"
    );
    assert!(
        failed.stderr.contains("api_key=***"),
        "the error must show the masked query: {failed}"
    );
    for (name, run) in [("good poll", &good), ("failed poll", &failed)] {
        assert_no_secret(&format!("{name} stdout"), &run.stdout);
        assert_no_secret(&format!("{name} stderr"), &run.stderr);
    }
    let state_files = workspace.state_bytes();
    assert!(!state_files.is_empty(), "no state database was written");
    for (path, bytes) in &state_files {
        let text = String::from_utf8_lossy(bytes);
        assert_no_secret(&path.display().to_string(), &text);
    }

    // The failure is stored with the masked URL, which shows that the bytes
    // searched above are the ones pollhook wrote its records to.
    let stored_mask = state_files
        .iter()
        .any(|(_, bytes)| String::from_utf8_lossy(bytes).contains("api_key=***"));
    assert!(stored_mask, "no state file contains the masked source URL");
}

/// Starts an upstream on another port (so another host for redirects) that
/// records the headers of every request it gets.
fn recording_upstream() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<axum::http::HeaderMap>>>,
    tokio_util::sync::DropGuard,
) {
    use axum::http::header;
    use axum::response::IntoResponse;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let recorded = recorded.clone();
        async move {
            recorded.lock().unwrap().push(headers);
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"data": [{"id": "A-1"}]}"#,
            )
                .into_response()
        }
    });
    let (url, guard) = crate::support::serve(app);
    (url, seen, guard)
}

/// Starts an upstream that redirects every request to `location`.
fn redirecting_upstream(location: String) -> (String, tokio_util::sync::DropGuard) {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, location)]).into_response() }
    });
    crate::support::serve(app)
}

#[test]
fn redirect_to_other_host_carries_no_secret() {
    let (other_url, seen, _other) = recording_upstream();
    let (first_url, _first) = redirecting_upstream(format!("{other_url}/moved"));
    let receiver = Receiver::start();
    let workspace = Workspace::new();

    workspace.write_bridge(
        "keyed",
        &format!(
            "[schedule]\nevery = \"1h\"\n[source]\nurl = \"{first_url}/orders\"\nheaders = {{ X-Api-Key = \"${{POLLHOOK_E2E_KEY}}\" }}\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n[[targets]]\nurl = \"{}\"\n",
            receiver.url()
        ),
    );
    let mut command = workspace.command(&["poll", "keyed"]);
    command.env("POLLHOOK_E2E_KEY", API_KEY);
    let keyed = run(command);
    assert!(
        !keyed.status.success(),
        "a redirect to another host with a custom header must fail: {keyed}"
    );
    assert!(keyed.stderr.contains("redirect to another host"), "{keyed}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "the other host got a request carrying the key"
    );

    workspace.write_bridge(
        "query",
        &format!(
            "[schedule]\nevery = \"1h\"\n[source]\nurl = \"{first_url}/orders?api_key=${{POLLHOOK_E2E_KEY}}\"\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n[[targets]]\nurl = \"{}\"\n",
            receiver.url()
        ),
    );
    let mut command = workspace.command(&["poll", "query"]);
    command.env("POLLHOOK_E2E_KEY", API_KEY);
    let query = run(command);
    assert!(
        query.status.success(),
        "a plain redirect is followed: {query}"
    );
    let requests = seen.lock().unwrap();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].get("referer").is_none(),
        "the Referer would carry the key: {:?}",
        requests[0]
    );
    for (name, value) in requests[0].iter() {
        assert!(
            !value.to_str().unwrap_or("").contains(API_KEY),
            "header {name} carries the key"
        );
    }
}

/// Starts an upstream that responds 400 and echoes the request's
/// Authorization header, as some APIs do in their error bodies.
fn echoing_upstream() -> (String, tokio_util::sync::DropGuard) {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(|headers: HeaderMap| async move {
        let auth = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (
            StatusCode::BAD_REQUEST,
            format!("{{\"error\": \"bad request\", \"auth\": \"{auth}\"}}"),
        )
            .into_response()
    });
    crate::support::serve(app)
}

#[test]
fn basic_credentials_are_masked_in_errors() {
    let (upstream, _guard) = echoing_upstream();
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    let with_auth = format!(
        "[schedule]\nevery = \"1h\"\n[source]\nurl = \"{upstream}/orders\"\n[source.auth]\ntype = \"basic\"\nusername = \"reporting\"\npassword = \"${{POLLHOOK_E2E_KEY}}\"\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n[[targets]]\nurl = \"{}\"\n",
        receiver.url()
    );
    let host_port = upstream.trim_start_matches("http://");
    let in_url = format!(
        "[schedule]\nevery = \"1h\"\n[source]\nurl = \"http://reporting:${{POLLHOOK_E2E_KEY}}@{host_port}/orders\"\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n[[targets]]\nurl = \"{}\"\n",
        receiver.url()
    );
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("reporting:{API_KEY}"));
    for (name, bridge) in [("auth", with_auth), ("userinfo", in_url)] {
        workspace.write_bridge(name, &bridge);
        let output = poll_named(&workspace, name);
        assert!(!output.status.success(), "{output}");
        assert!(output.stderr.contains("400"), "{output}");
        assert!(
            !output.stderr.contains(&encoded),
            "{name}: the Basic credentials leaked: {output}"
        );
        assert_no_secret(&format!("{name} stderr"), &output.stderr);
        for (path, bytes) in workspace.state_bytes() {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&encoded),
                "{name}: {} holds the Basic credentials",
                path.display()
            );
        }
    }
}

fn poll_named(workspace: &Workspace, name: &str) -> PollRun {
    let mut command = workspace.command(&["poll", name]);
    command.env("POLLHOOK_E2E_KEY", API_KEY);
    run(command)
}

#[test]
fn targets_with_different_tokens_stay_apart() {
    let upstream = Upstream::start(Reply::json(&data(&[json!({ "id": "A-1" })])));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &format!(
            "[schedule]\nevery = \"1h\"\n[source]\nurl = \"{}\"\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n[emit]\nfirst_poll = \"emit\"\n[[targets]]\nurl = \"{}?customer=one\"\n[[targets]]\nurl = \"{}?customer=two\"\n",
            upstream.url("/orders"),
            receiver.url(),
            receiver.url()
        ),
    );
    let output = workspace.poll("orders");
    assert!(output.status.success(), "{output}");
    assert_eq!(receiver.requests().len(), 2, "one delivery per target");
    assert!(!output.stderr.contains("customer=one"), "{output}");
}

//! Source authentication: static credentials, OAuth2 client credentials with
//! a cached token refreshed once after a 401, and masking in errors.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::support::{json_reply, reply, Recorded, Server, TestBridge};

fn ok_body() -> serde_json::Value {
    json!({"data": [{"id": "a"}]})
}

fn bridge(url: &str, auth: &str) -> TestBridge {
    TestBridge::load(&format!(
        "[source]\nurl = \"{url}\"\n\n[source.auth]\n{auth}\n\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n"
    ))
}

#[tokio::test]
async fn static_credentials_are_sent() {
    let cases = [
        (
            "type = \"bearer\"\ntoken = \"tok-static-1\"",
            "authorization",
            "Bearer tok-static-1",
        ),
        // "ana:pa55word" in base64.
        (
            "type = \"basic\"\nusername = \"ana\"\npassword = \"pa55word\"",
            "authorization",
            "Basic YW5hOnBhNTV3b3Jk",
        ),
        (
            "type = \"header\"\nname = \"X-Api-Key\"\nvalue = \"key-static-2\"",
            "x-api-key",
            "key-static-2",
        ),
    ];
    for (auth, header, expected) in cases {
        let server = Server::start(|_: &Recorded| json_reply(&ok_body())).await;
        let bridge = bridge(&server.url("/items"), auth);

        bridge.poll_ok().await;

        assert_eq!(
            server.requests()[0].header(header),
            Some(expected),
            "{auth}"
        );
    }
}

#[tokio::test]
async fn query_credential_is_sent_and_masked_in_errors() {
    let server = Server::start(|request: &Recorded| {
        assert_eq!(request.query("api_key").as_deref(), Some("key-query-3"));
        reply(500, &[], "upstream failed")
    })
    .await;
    let bridge = bridge(
        &server.url("/items?status=open"),
        "type = \"query\"\nname = \"api_key\"\nvalue = \"key-query-3\"",
    );

    let error = bridge.poll().await.unwrap_err().to_string();

    assert!(error.contains("api_key=***"), "{error}");
    assert!(!error.contains("key-query-3"), "{error}");
    assert_eq!(
        server.requests()[0].query("status").as_deref(),
        Some("open")
    );
}

#[tokio::test]
async fn credentials_stay_with_the_configured_origin() {
    let other = Server::start(|_: &Recorded| json_reply(&json!({"data": [{"id": "b"}]}))).await;
    let next = other.url("/more");
    let server = Server::start(move |_: &Recorded| {
        json_reply(&json!({"data": [{"id": "a"}], "next": next}))
    })
    .await;
    let bridge = TestBridge::load(&format!(
        "[source]\nurl = \"{}\"\n[source.pagination]\ntype = \"next_url\"\nnext = \"$.next\"\n[source.auth]\ntype = \"bearer\"\ntoken = \"tok-origin-4\"\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n",
        server.url("/items")
    ));

    bridge.poll_ok().await;

    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer tok-origin-4")
    );
    assert_eq!(other.requests()[0].header("authorization"), None);
    assert_eq!(bridge.snapshot_ids(), ["a", "b"]);
}

#[tokio::test]
async fn header_credential_never_follows_redirect_to_other_host() {
    let other = Server::start(|_: &Recorded| json_reply(&ok_body())).await;
    let target = other.url("/items");
    let server = Server::start(move |request: &Recorded| match request.uri.as_str() {
        "/old" => reply(301, &[("location", "/items")], ""),
        _ => reply(302, &[("location", target.as_str())], ""),
    })
    .await;
    let bridge = bridge(
        &server.url("/old"),
        "type = \"header\"\nname = \"X-Api-Key\"\nvalue = \"key-redirect-8\"",
    );

    let error = bridge.poll().await.unwrap_err().to_string();

    assert!(error.contains("redirect to another host"), "{error}");
    assert_eq!(
        server.requests().len(),
        2,
        "the same-host redirect is followed"
    );
    assert!(other.requests().is_empty());
}

/// A token endpoint that issues `tok-1`, `tok-2`, … and an API that accepts
/// only the newest token.
struct OAuthServers {
    token_server: Server,
    api: Server,
    issued: Arc<AtomicU32>,
}

async fn oauth_servers() -> OAuthServers {
    let issued = Arc::new(AtomicU32::new(0));
    let counter = issued.clone();
    let token_server = Server::start(move |request: &Recorded| {
        assert_eq!(request.method, "POST");
        assert!(request.body.contains("grant_type=client_credentials"), "{}", request.body);
        assert!(request.body.contains("scope=orders%3Aread+customers"), "{}", request.body);
        // "client-a:secret-oauth-5" in base64.
        assert_eq!(
            request.header("authorization"),
            Some("Basic Y2xpZW50LWE6c2VjcmV0LW9hdXRoLTU=")
        );
        let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
        json_reply(&json!({"access_token": format!("tok-{number}"), "token_type": "Bearer", "expires_in": 3600}))
    })
    .await;
    let newest = issued.clone();
    let api = Server::start(move |request: &Recorded| {
        let expected = format!("Bearer tok-{}", newest.load(Ordering::SeqCst));
        if request.header("authorization") == Some(expected.as_str()) {
            json_reply(&ok_body())
        } else {
            reply(401, &[], "token expired")
        }
    })
    .await;
    OAuthServers {
        token_server,
        api,
        issued,
    }
}

fn oauth_bridge(servers: &OAuthServers) -> TestBridge {
    bridge(
        &servers.api.url("/items"),
        &format!(
            "type = \"oauth2\"\ntoken_url = \"{}\"\nclient_id = \"client-a\"\nclient_secret = \"secret-oauth-5\"\nscopes = [\"orders:read\", \"customers\"]",
            servers.token_server.url("/token")
        ),
    )
}

#[tokio::test]
async fn oauth2_token_is_cached_between_polls() {
    let servers = oauth_servers().await;
    let bridge = oauth_bridge(&servers);

    bridge.poll_ok().await;
    bridge.poll_ok().await;

    assert_eq!(servers.token_server.requests().len(), 1);
    assert_eq!(servers.api.requests().len(), 2);
}

#[tokio::test]
async fn oauth2_refreshes_once_after_401() {
    let servers = oauth_servers().await;
    let bridge = oauth_bridge(&servers);
    bridge.poll_ok().await;
    // The server revokes tok-1 by issuing a newer token elsewhere.
    servers.issued.fetch_add(1, Ordering::SeqCst);
    servers.api.clear();

    bridge.poll_ok().await;

    let api_requests = servers.api.requests();
    assert_eq!(api_requests.len(), 2, "one 401, then one retry");
    assert_eq!(
        api_requests[1].header("authorization"),
        Some("Bearer tok-3")
    );
    assert_eq!(servers.token_server.requests().len(), 2);
}

#[tokio::test]
async fn oauth2_401_after_refresh_fails_without_loop() {
    let token_server = Server::start(|_: &Recorded| {
        json_reply(&json!({"access_token": "tok-x", "expires_in": 3600}))
    })
    .await;
    let api = Server::start(|_: &Recorded| reply(401, &[], "no")).await;
    let bridge = bridge(
        &api.url("/items"),
        &format!(
            "type = \"oauth2\"\ntoken_url = \"{}\"\nclient_id = \"c\"\nclient_secret = \"secret-oauth-6\"",
            token_server.url("/token")
        ),
    );

    let error = bridge.poll().await.unwrap_err().to_string();

    assert!(error.contains("401"), "{error}");
    assert_eq!(api.requests().len(), 2);
    assert_eq!(token_server.requests().len(), 2);
}

#[tokio::test]
async fn oauth2_token_error_names_the_endpoint_response() {
    let token_server = Server::start(|_: &Recorded| {
        reply(
            400,
            &[("content-type", "application/json")],
            json!({"error": "invalid_client", "error_description": "unknown client"}).to_string(),
        )
    })
    .await;
    let api = Server::start(|_: &Recorded| json_reply(&ok_body())).await;
    let bridge = bridge(
        &api.url("/items"),
        &format!(
            "type = \"oauth2\"\ntoken_url = \"{}\"\nclient_id = \"c\"\nclient_secret = \"secret-oauth-7\"\nclient_auth = \"body\"",
            token_server.url("/token")
        ),
    );

    let error = bridge.poll().await.unwrap_err().to_string();

    assert!(
        error.contains("HTTP 400 (invalid_client: unknown client)"),
        "{error}"
    );
    assert!(token_server.requests()[0]
        .body
        .contains("client_secret=secret-oauth-7"));
    assert!(api.requests().is_empty());
}

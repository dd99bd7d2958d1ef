//! Every pagination type joins the items of all pages; a failing page or a
//! repeating cursor fails the whole poll and deletes nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::support::{events, json_reply, reply, Recorded, Server, TestBridge};

fn items(ids: &[&str]) -> serde_json::Value {
    json!(ids
        .iter()
        .map(|id| json!({"id": id, "status": "open"}))
        .collect::<Vec<_>>())
}

fn bridge(url: &str, pagination: &str) -> TestBridge {
    TestBridge::load(&format!(
        "[source]\nurl = \"{url}\"\n\n[source.pagination]\n{pagination}\n\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n"
    ))
}

#[tokio::test]
async fn link_header_pages_are_joined() {
    let server = Server::start(
        |request: &Recorded| match request.query("page").as_deref() {
            None => reply(
                200,
                &[(
                    "link",
                    "</items?page=0>; rel=\"first\", </items?page=2>; rel=\"next\"",
                )],
                json!({"data": items(&["a", "b"])}).to_string(),
            ),
            Some("2") => reply(
                200,
                &[("link", "<http://127.0.0.1:9/items?page=0>; rel=\"first\"")],
                json!({"data": items(&["c"])}).to_string(),
            ),
            Some(other) => panic!("unexpected page {other}"),
        },
    )
    .await;
    let bridge = bridge(&server.url("/items"), "type = \"link\"");

    let report = bridge.poll_ok().await;

    assert_eq!(report.items, 3);
    assert_eq!(bridge.snapshot_ids(), ["a", "b", "c"]);
    let uris: Vec<String> = server.requests().iter().map(|r| r.uri.clone()).collect();
    assert_eq!(uris, ["/items", "/items?page=2"]);
}

#[tokio::test]
async fn next_url_pages_are_joined() {
    let server = Server::start(
        |request: &Recorded| match request.query("after").as_deref() {
            None => json_reply(&json!({"data": items(&["a"]), "links": {"next": "items?after=a"}})),
            Some("a") => json_reply(&json!({"data": items(&["b"]), "links": {"next": null}})),
            Some(other) => panic!("unexpected cursor {other}"),
        },
    )
    .await;
    let bridge = bridge(
        &server.url("/v1/items"),
        "type = \"next_url\"\nnext = \"$.links.next\"",
    );

    bridge.poll_ok().await;

    assert_eq!(bridge.snapshot_ids(), ["a", "b"]);
    assert_eq!(server.requests()[1].uri, "/v1/items?after=a");
}

#[tokio::test]
async fn cursor_pages_are_joined() {
    let server = Server::start(
        |request: &Recorded| match request.query("cursor").as_deref() {
            None => json_reply(&json!({"data": items(&["a"]), "meta": {"next_cursor": "c2"}})),
            Some("c2") => {
                json_reply(&json!({"data": items(&["b"]), "meta": {"next_cursor": "c3"}}))
            }
            Some("c3") => json_reply(&json!({"data": [], "meta": {"next_cursor": null}})),
            Some(other) => panic!("unexpected cursor {other}"),
        },
    )
    .await;
    let bridge = bridge(
        &server.url("/items?limit=1"),
        "type = \"cursor\"\ncursor = \"$.meta.next_cursor\"\nparam = \"cursor\"",
    );

    bridge.poll_ok().await;

    assert_eq!(bridge.snapshot_ids(), ["a", "b"]);
    let uris: Vec<String> = server.requests().iter().map(|r| r.uri.clone()).collect();
    assert_eq!(
        uris,
        [
            "/items?limit=1",
            "/items?limit=1&cursor=c2",
            "/items?limit=1&cursor=c3"
        ]
    );
}

#[tokio::test]
async fn repeating_cursor_fails_and_deletes_nothing() {
    let looping = Arc::new(AtomicBool::new(false));
    let server_looping = looping.clone();
    let server = Server::start(move |request: &Recorded| {
        let cursor = request.query("cursor");
        match (cursor.as_deref(), server_looping.load(Ordering::SeqCst)) {
            (None, _) => json_reply(&json!({"data": items(&["a"]), "next": "c2"})),
            // The broken upstream hands out the same cursor again.
            (Some("c2"), true) => json_reply(&json!({"data": items(&["b"]), "next": "c2"})),
            (Some("c2"), false) => json_reply(&json!({"data": items(&["b"]), "next": null})),
            (Some(other), _) => panic!("unexpected cursor {other}"),
        }
    })
    .await;
    let bridge = bridge(
        &server.url("/items"),
        "type = \"cursor\"\ncursor = \"$.next\"",
    );
    bridge.poll_ok().await;
    looping.store(true, Ordering::SeqCst);

    let error = bridge.poll().await.unwrap_err().to_string();

    assert!(error.contains("cursor c2 a second time"), "{error}");
    assert_eq!(bridge.snapshot_ids(), ["a", "b"]);
    assert_eq!(server.requests().len(), 4, "the loop stops at the repeat");
}

#[tokio::test]
async fn failing_second_page_deletes_nothing() {
    let broken = Arc::new(AtomicBool::new(false));
    let server_broken = broken.clone();
    let server = Server::start(
        move |request: &Recorded| match request.query("page").as_deref() {
            Some("1") => json_reply(&json!({"data": items(&["a", "b"])})),
            Some("2") if server_broken.load(Ordering::SeqCst) => reply(502, &[], "bad gateway"),
            Some("2") => json_reply(&json!({"data": items(&["c", "d"])})),
            Some(_) => json_reply(&json!({"data": []})),
            None => panic!("page parameter missing"),
        },
    )
    .await;
    let bridge = bridge(&server.url("/items"), "type = \"page\"");
    bridge.poll_ok().await;
    assert_eq!(bridge.snapshot_ids(), ["a", "b", "c", "d"]);
    broken.store(true, Ordering::SeqCst);

    let error = bridge.poll().await.unwrap_err().to_string();

    assert!(error.contains("returned HTTP 502"), "{error}");
    assert_eq!(bridge.snapshot_ids(), ["a", "b", "c", "d"]);

    broken.store(false, Ordering::SeqCst);
    let report = bridge.poll_ok().await;
    assert!(events(&report).is_empty(), "{:?}", events(&report));
}

#[tokio::test]
async fn page_counter_stops_on_empty_page() {
    let server = Server::start(|request: &Recorded| {
        assert_eq!(request.query("per_page").as_deref(), Some("2"));
        match request.query("page").as_deref() {
            Some("1") => json_reply(&json!({"data": items(&["a", "b"])})),
            Some("2") => json_reply(&json!({"data": items(&["c"])})),
            _ => json_reply(&json!({"data": []})),
        }
    })
    .await;
    let bridge = bridge(
        &server.url("/items"),
        "type = \"page\"\nsize_param = \"per_page\"\nsize = 2",
    );

    bridge.poll_ok().await;

    assert_eq!(bridge.snapshot_ids(), ["a", "b", "c"]);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn offset_counter_stops_at_total() {
    let server = Server::start(
        |request: &Recorded| match request.query("skip").as_deref() {
            Some("0") => json_reply(&json!({"data": items(&["a", "b"]), "meta": {"total": 3}})),
            Some("2") => json_reply(&json!({"data": items(&["c"]), "meta": {"total": 3}})),
            other => panic!("unexpected offset {other:?}"),
        },
    )
    .await;
    let bridge = bridge(
        &server.url("/items"),
        "type = \"offset\"\nparam = \"skip\"\ntotal = \"$.meta.total\"",
    );

    bridge.poll_ok().await;

    assert_eq!(bridge.snapshot_ids(), ["a", "b", "c"]);
    assert_eq!(server.requests().len(), 2, "no request after the total");
}

#[tokio::test]
async fn more_pages_than_max_pages_fails() {
    let server = Server::start(|request: &Recorded| {
        let page: u32 = request.query("page").unwrap().parse().unwrap();
        json_reply(&json!({"data": items(&[&format!("item-{page}")])}))
    })
    .await;
    let bridge = bridge(&server.url("/items"), "type = \"page\"\nmax_pages = 3");

    let error = bridge.poll().await.unwrap_err().to_string();

    assert!(error.contains("max_pages (3)"), "{error}");
    assert_eq!(server.requests().len(), 3);
    assert!(bridge.snapshot_ids().is_empty());
}

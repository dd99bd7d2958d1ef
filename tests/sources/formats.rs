//! format = "feed" and format = "xml": the mapping to JSON, the feed's
//! sliding window, and the charset a document declares.

use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::support::{event_data, events, reply, Recorded, Server, TestBridge};

/// Serves the bytes in `body` (which a test may replace) with `content_type`.
async fn document_server(content_type: &'static str, body: Arc<Mutex<Vec<u8>>>) -> Server {
    Server::start(move |_: &Recorded| {
        reply(
            200,
            &[("content-type", content_type)],
            body.lock().unwrap().clone(),
        )
    })
    .await
}

fn latin1(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1 text"))
        .collect()
}

#[tokio::test]
async fn iso_8859_1_rss_gives_correct_text() {
    let rss = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n\
        <rss version=\"2.0\"><channel><title>Gemeinde Zürich</title><link>https://example.org/</link>\n\
        <item><guid isPermaLink=\"false\">bau-17</guid><title>Straßensperrung Müllerstraße</title>\
        <link>https://example.org/bau/17</link><pubDate>Fri, 04 Dec 2026 08:30:00 +0100</pubDate>\
        <description>Wegen Bauarbeiten gesperrt – bis März</description><category>Verkehr</category></item>\n\
        </channel></rss>";
    // The en dash is not Latin-1; the feed writes it as a character reference.
    let body = Arc::new(Mutex::new(latin1(&rss.replace('–', "&#8211;"))));
    let server = document_server("application/rss+xml", body).await;
    let bridge = TestBridge::load(&format!(
        "[source]\nurl = \"{}\"\nformat = \"feed\"\n\n[emit]\nfirst_poll = \"emit\"\n",
        server.url("/feed.rss")
    ));

    let report = bridge.poll_ok().await;

    assert_eq!(events(&report), ["item.created bau-17"]);
    let item = &event_data(&report, "bau-17")["after"];
    assert_eq!(
        *item,
        json!({
            "id": "bau-17",
            "title": "Straßensperrung Müllerstraße",
            "link": "https://example.org/bau/17",
            "published": "2026-12-04T07:30:00Z",
            // feed-rs 3 also fills an RSS item's updated time from pubDate.
            "updated": "2026-12-04T07:30:00Z",
            "summary": "Wegen Bauarbeiten gesperrt – bis März",
            "categories": ["Verkehr"]
        })
    );
}

fn atom(entries: &[(&str, &str)]) -> Vec<u8> {
    let entries: String = entries
        .iter()
        .map(|(id, title)| {
            format!("<entry><id>urn:change:{id}</id><title>{title}</title><updated>2026-12-04T10:00:00Z</updated><link href=\"https://example.org/c/{id}\"/></entry>")
        })
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Changes</title><id>urn:changes</id><updated>2026-12-04T10:00:00Z</updated>{entries}</feed>").into_bytes()
}

#[tokio::test]
async fn atom_feed_slides_without_deletions_or_repeats() {
    let body = Arc::new(Mutex::new(atom(&[
        ("1", "One"),
        ("2", "Two"),
        ("3", "Three"),
    ])));
    let server = document_server("application/atom+xml", body.clone()).await;
    let bridge = TestBridge::load(&format!(
        "[source]\nurl = \"{}\"\nformat = \"feed\"\n",
        server.url("/atom")
    ));
    bridge.poll_ok().await;

    *body.lock().unwrap() = atom(&[("2", "Two"), ("3", "Three (edited)"), ("4", "Four")]);
    let slid = bridge.poll_ok().await;
    *body.lock().unwrap() = atom(&[("1", "One"), ("2", "Two"), ("3", "Three (edited)")]);
    let returned = bridge.poll_ok().await;

    assert_eq!(
        events(&slid),
        ["item.updated urn:change:3", "item.created urn:change:4"]
    );
    assert!(events(&returned).is_empty(), "{:?}", events(&returned));
    assert_eq!(
        bridge.snapshot_ids().len(),
        4,
        "entries that left are remembered"
    );
}

#[tokio::test]
async fn feed_forgets_ids_after_forget_after() {
    let body = Arc::new(Mutex::new(atom(&[("1", "One")])));
    let server = document_server("application/atom+xml", body.clone()).await;
    let bridge = TestBridge::load(&format!(
        "[source]\nurl = \"{}\"\nformat = \"feed\"\n\n[items]\nforget_after = \"1ms\"\n",
        server.url("/atom")
    ));
    bridge.poll_ok().await;

    *body.lock().unwrap() = atom(&[("2", "Two")]);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    bridge.poll_ok().await;

    assert_eq!(bridge.snapshot_ids(), ["urn:change:2"]);
}

#[tokio::test]
async fn xml_attributes_and_repeated_elements_are_items() {
    let body = Arc::new(Mutex::new(
        br#"<?xml version="1.0"?>
        <export generated="2026-12-04">
          <order id="A-1" status="open"><total currency="EUR">12.50</total><line sku="X">2</line><line sku="Y">1</line></order>
          <order id="A-2" status="open"><total currency="EUR">3.00</total><line sku="Z">5</line></order>
        </export>"#
            .to_vec(),
    ));
    let server = document_server("application/xml", body.clone()).await;
    let bridge = TestBridge::load(&format!(
        "[source]\nurl = \"{}\"\nformat = \"xml\"\n\n[items]\npath = \"$.export.order[*]\"\nid = \"$['@id']\"\n",
        server.url("/export.xml")
    ));
    bridge.poll_ok().await;
    let snapshot = bridge.store.load_snapshot(&bridge.bridge.name).unwrap();
    let first = &snapshot.items[&pollhook::ids::ItemId::new("A-1")].item;
    assert_eq!(
        *first,
        json!({"@id": "A-1", "@status": "open", "total": {"@currency": "EUR", "#text": "12.50"},
               "line": [{"@sku": "X", "#text": "2"}, {"@sku": "Y", "#text": "1"}]})
    );

    *body.lock().unwrap() = br#"<export generated="2026-12-05">
          <order id="A-1" status="paid"><total currency="EUR">12.50</total><line sku="X">2</line><line sku="Y">1</line></order>
          <order id="A-2" status="open"><total currency="EUR">3.00</total><line sku="Z">5</line></order>
        </export>"#
        .to_vec();
    let report = bridge.poll_ok().await;

    assert_eq!(events(&report), ["item.updated A-1"]);
    assert_eq!(
        event_data(&report, "A-1")["changes"],
        json!([{"op": "replace", "path": "/@status", "value": "paid"}])
    );
}

#[tokio::test]
async fn xml_with_one_item_element_gives_one_item() {
    let body = Arc::new(Mutex::new(
        br#"<export><order id="A-1" status="open"><total>1</total></order></export>"#.to_vec(),
    ));
    let server = document_server("application/xml", body).await;
    let bridge = TestBridge::load(&format!(
        "[source]\nurl = \"{}\"\nformat = \"xml\"\n\n[items]\npath = \"$.export.order[*]\"\nid = \"$['@id']\"\n",
        server.url("/export.xml")
    ));

    bridge.poll_ok().await;

    assert_eq!(bridge.snapshot_ids(), ["A-1"]);
}

#[tokio::test]
async fn html_instead_of_xml_fails_with_position() {
    let body = Arc::new(Mutex::new(
        b"<html><body><p>Login<br></body></html>".to_vec(),
    ));
    let server = document_server("text/html", body).await;
    let bridge = TestBridge::load(&format!(
        "[source]\nurl = \"{}\"\nformat = \"xml\"\n\n[items]\npath = \"$.export.order[*]\"\nid = \"$['@id']\"\n",
        server.url("/export.xml")
    ));

    let error = bridge.poll().await.unwrap_err().to_string();

    assert!(error.contains("returned invalid XML"), "{error}");
    assert!(error.contains("line 1"), "{error}");
    assert!(error.contains("text/html"), "{error}");
}

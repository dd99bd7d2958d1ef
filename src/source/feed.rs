//! The mapping of an RSS, Atom or JSON Feed document to JSON for
//! `format = "feed"`, with the same field names for every feed format.
//!
//! The result is `{"title", "link", "items": [...]}`, each item with `id`,
//! `title`, `link`, `published`, `updated`, `summary`, `content`, `authors`
//! (names) and `categories` (terms); absent fields are left out, times are
//! RFC 3339 in UTC. An item's `id` is the entry's guid or id, else its link;
//! an entry with neither has no `id`, which fails the poll when items are
//! keyed by `$.id`. Pure: no I/O.

use chrono::SecondsFormat;
use feed_rs::model::{Entry, Feed, Link, Text};
use serde_json::{Map, Value};
use thiserror::Error;

/// A document that is not a feed that feed-rs can read.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct FeedError(String);

/// Parses `body` (UTF-8 text, see [`super::decode::xml_text`]) as a feed and
/// maps it to JSON.
pub fn feed_to_json(body: &[u8]) -> Result<Value, FeedError> {
    // feed-rs makes up an id (a hash or a random UUID) for entries without
    // one; an entry's link is the only stable fallback, so use it or nothing.
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|links, _title, _uri| {
            links
                .first()
                .map(|link| link.href.clone())
                .unwrap_or_default()
        })
        .build();
    let feed = parser
        .parse(body)
        .map_err(|error| FeedError(error.to_string()))?;
    Ok(feed_value(&feed))
}

fn feed_value(feed: &Feed) -> Value {
    let mut object = Map::new();
    insert_text(&mut object, "title", feed.title.as_ref());
    insert_link(&mut object, &feed.links);
    let items = feed.entries.iter().map(entry_value).collect();
    object.insert("items".to_owned(), Value::Array(items));
    Value::Object(object)
}

fn entry_value(entry: &Entry) -> Value {
    let mut object = Map::new();
    if !entry.id.is_empty() {
        object.insert("id".to_owned(), Value::String(entry.id.clone()));
    }
    insert_text(&mut object, "title", entry.title.as_ref());
    insert_link(&mut object, &entry.links);
    let times = [("published", entry.published), ("updated", entry.updated)];
    for (key, time) in times {
        if let Some(time) = time {
            let text = time.to_rfc3339_opts(SecondsFormat::Secs, true);
            object.insert(key.to_owned(), Value::String(text));
        }
    }
    insert_text(&mut object, "summary", entry.summary.as_ref());
    let content = entry.content.as_ref().and_then(|content| {
        content
            .body
            .clone()
            .or_else(|| content.src.as_ref().map(|link| link.href.clone()))
    });
    if let Some(content) = content {
        object.insert("content".to_owned(), Value::String(content));
    }
    let authors: Vec<Value> = entry
        .authors
        .iter()
        .filter_map(|person| person.name.clone())
        .map(Value::String)
        .collect();
    if !authors.is_empty() {
        object.insert("authors".to_owned(), Value::Array(authors));
    }
    let categories: Vec<Value> = entry
        .categories
        .iter()
        .map(|category| Value::String(category.term.clone()))
        .collect();
    if !categories.is_empty() {
        object.insert("categories".to_owned(), Value::Array(categories));
    }
    Value::Object(object)
}

fn insert_text(object: &mut Map<String, Value>, key: &str, text: Option<&Text>) {
    if let Some(text) = text {
        object.insert(
            key.to_owned(),
            Value::String(text.content.trim().to_owned()),
        );
    }
}

/// Inserts the `alternate` link (the page of the entry), else the first one.
fn insert_link(object: &mut Map<String, Value>, links: &[Link]) {
    let alternate = links
        .iter()
        .find(|link| link.rel.as_deref().is_none_or(|rel| rel == "alternate"))
        .or_else(|| links.first());
    if let Some(link) = alternate {
        object.insert("link".to_owned(), Value::String(link.href.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rss_items_use_guid_else_link() {
        let rss = r#"<?xml version="1.0" encoding="UTF-8"?>
            <rss version="2.0"><channel><title>Notices</title><link>https://example.org/</link>
              <item><guid>n-1</guid><title>First</title><link>https://example.org/1</link>
                <pubDate>Fri, 04 Dec 2026 10:00:00 GMT</pubDate><description>One</description>
                <category>roads</category><author>ana@example.org (Ana)</author></item>
              <item><title>Second</title><link>https://example.org/2</link></item>
            </channel></rss>"#;
        let value = feed_to_json(rss.as_bytes()).unwrap();
        assert_eq!(value["title"], "Notices");
        assert_eq!(value["link"], "https://example.org/");
        let first = &value["items"][0];
        assert_eq!(first["id"], "n-1");
        assert_eq!(first["title"], "First");
        assert_eq!(first["link"], "https://example.org/1");
        assert_eq!(first["published"], "2026-12-04T10:00:00Z");
        assert_eq!(first["summary"], "One");
        assert_eq!(first["categories"], json!(["roads"]));
        assert_eq!(value["items"][1]["id"], "https://example.org/2");
    }

    #[test]
    fn atom_entries_map_to_the_same_fields() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>Changes</title><id>urn:f</id>
            <updated>2026-12-04T10:00:00Z</updated>
            <entry><id>urn:e:1</id><title>Fix</title><updated>2026-12-04T09:00:00+01:00</updated>
              <link rel="alternate" href="https://example.org/e/1"/><author><name>Bo</name></author>
              <content type="text">Body</content></entry></feed>"#;
        let value = feed_to_json(atom.as_bytes()).unwrap();
        let entry = &value["items"][0];
        assert_eq!(entry["id"], "urn:e:1");
        assert_eq!(entry["updated"], "2026-12-04T08:00:00Z");
        assert_eq!(entry["link"], "https://example.org/e/1");
        assert_eq!(entry["authors"], json!(["Bo"]));
        assert_eq!(entry["content"], "Body");
        assert!(entry.get("published").is_none());
    }

    #[test]
    fn json_feed_is_read() {
        let feed = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "J",
            "items": [{"id": "7", "content_text": "hi", "url": "https://example.org/7"}]}"#;
        let value = feed_to_json(feed.as_bytes()).unwrap();
        assert_eq!(value["items"][0]["id"], "7");
        assert_eq!(value["items"][0]["link"], "https://example.org/7");
    }

    #[test]
    fn entry_without_guid_or_link_has_no_id() {
        let rss = r#"<rss version="2.0"><channel><title>T</title><item><title>X</title></item></channel></rss>"#;
        let value = feed_to_json(rss.as_bytes()).unwrap();
        assert!(value["items"][0].get("id").is_none());
    }

    #[test]
    fn html_page_is_not_a_feed() {
        assert!(feed_to_json(b"<html><body>login</body></html>").is_err());
    }
}

//! Compressed bodies are decoded, and a body that does not match its
//! Content-Encoding fails the poll with a clear error instead of hanging.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use crate::support::{reply, Recorded, Server, TestBridge};

fn body() -> String {
    json!({"data": [{"id": "a"}, {"id": "b"}]}).to_string()
}

fn bridge(url: &str) -> TestBridge {
    TestBridge::load(&format!(
        "[source]\nurl = \"{url}\"\ntimeout = \"5s\"\n\n[items]\npath = \"$.data[*]\"\nid = \"$.id\"\n"
    ))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut output = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut output, 4096, 5, 22);
        writer.write_all(bytes).unwrap();
    }
    output
}

#[tokio::test]
async fn gzip_and_brotli_bodies_are_decoded() {
    for (encoding, encoded) in [
        ("gzip", gzip(body().as_bytes())),
        ("br", brotli(body().as_bytes())),
    ] {
        let server = Server::start(move |request: &Recorded| {
            let accepted = request.header("accept-encoding").unwrap_or_default();
            assert!(accepted.contains(encoding), "accept-encoding: {accepted}");
            reply(200, &[("content-encoding", encoding)], encoded.clone())
        })
        .await;
        let bridge = bridge(&server.url("/items"));

        bridge.poll_ok().await;

        assert_eq!(bridge.snapshot_ids(), ["a", "b"], "{encoding}");
    }
}

#[tokio::test]
async fn body_not_matching_content_encoding_fails_clearly() {
    for encoding in ["gzip", "br"] {
        let server = Server::start(move |_: &Recorded| {
            reply(200, &[("content-encoding", encoding)], body())
        })
        .await;
        let bridge = bridge(&server.url("/items"));

        let result = tokio::time::timeout(Duration::from_secs(10), bridge.poll())
            .await
            .expect("the poll must not hang");

        let error = result.unwrap_err().to_string();
        assert!(
            error.contains("does not match its Content-Encoding"),
            "{encoding}: {error}"
        );
        assert!(bridge.snapshot_ids().is_empty());
    }
}

//! Checks pollhook's signatures with an independent implementation: Python's
//! standard library (`hmac`, `hashlib`, `base64`). It must not use pollhook's own
//! verifier, because a round trip through the same code would hide a shared bug.

use std::io::Write;
use std::process::{Command, Stdio};

use pollhook::sign::{sign, WebhookSecret};

/// Reads the body from standard input as raw bytes, so that no text decoding
/// happens between Rust and the HMAC. Exits 0 when the signature matches.
const PYTHON_VERIFIER: &str = r#"
import base64, hashlib, hmac, sys

secret, webhook_id, timestamp, signature = sys.argv[1:5]
key = base64.b64decode(secret[len("whsec_"):], validate=True)
body = sys.stdin.buffer.read()
content = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
expected = "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
print(expected)
sys.exit(0 if hmac.compare_digest(expected, signature) else 1)
"#;

const SECRET: &str = "whsec_3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=";
const WEBHOOK_ID: &str = "0193a4c2-7b1e-7c3d-9f00-5a1b2c3d4e5f";
const TIMESTAMP: i64 = 1_796_412_600;

struct PythonResult {
    matched: bool,
    expected_signature: String,
}

fn verify_with_python(signature: &str, body: &[u8]) -> PythonResult {
    let spawned = Command::new("python3")
        .arg("-c")
        .arg(PYTHON_VERIFIER)
        .args([SECRET, WEBHOOK_ID, &TIMESTAMP.to_string(), signature])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => panic!(
            "failed to run python3 ({error}); this test needs python3 on PATH to check \
             signatures with an independent implementation, so install it"
        ),
    };

    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(body)
        .expect("write the body to python3");
    let output = child.wait_with_output().expect("wait for python3");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "python3 failed with {}: {stderr}",
        output.status
    );

    PythonResult {
        matched: output.status.success(),
        expected_signature: String::from_utf8_lossy(&output.stdout).trim().to_string(),
    }
}

#[test]
fn python_verifies_non_ascii_body() {
    let secret = WebhookSecret::parse(SECRET).expect("test secret is valid");
    let body = r#"{"type":"item.created","data":{"name":"Grüße aus Köln","city":"東京","note":"naïve café ✓ 🚀"}}"#;
    assert!(!body.is_ascii());

    let signature = sign(&secret, WEBHOOK_ID, TIMESTAMP, body.as_bytes());
    let result = verify_with_python(&signature, body.as_bytes());

    assert_eq!(result.expected_signature, signature);
    assert!(result.matched, "python3 rejected {signature}");
}

#[test]
fn python_rejects_tampered_body() {
    let secret = WebhookSecret::parse(SECRET).expect("test secret is valid");
    let body = r#"{"name":"Grüße"}"#;
    let signature = sign(&secret, WEBHOOK_ID, TIMESTAMP, body.as_bytes());

    let result = verify_with_python(&signature, r#"{"name":"Grüsse"}"#.as_bytes());

    assert!(
        !result.matched,
        "python3 accepted a signature for another body"
    );
}

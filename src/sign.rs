//! Standard Webhooks signatures: parses `whsec_` secrets, signs and verifies
//! `webhook-signature` headers. Pure functions only: no I/O, no clock, no logging.
//!
//! A signature is `v1,` followed by the base64 HMAC-SHA256 of
//! `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded bytes
//! after `whsec_`. A header carries one signature per secret, separated by spaces,
//! so that a receiver keeps accepting requests while secrets are rotated.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, DecodeError, Engine as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix that marks a Standard Webhooks symmetric secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Minimum key length in bytes that the Standard Webhooks specification
/// recommends for HMAC-SHA256 secrets (192 bits).
pub const RECOMMENDED_MIN_KEY_BYTES: usize = 24;

/// Signature version for HMAC-SHA256 in the `webhook-signature` header.
const VERSION_V1: &str = "v1";

/// Shell command that prints a fresh secret, shown in every secret error.
const GENERATE_HINT: &str = r#"generate one with: echo "whsec_$(openssl rand -base64 32)""#;

/// Decoder for the key part of a secret. It accepts the key with or without its
/// trailing `=` padding, because secrets are often copied with the padding cut off.
const KEY_DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

type HmacSha256 = Hmac<Sha256>;

/// HMAC key of a webhook target, parsed from `whsec_<base64>`.
///
/// `Debug` masks the key and there is no `Display`, so that a secret cannot end up
/// in a log line or an error message by accident.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

/// Error from parsing a webhook secret. No variant contains any part of the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("webhook secret must start with `whsec_` followed by base64; {GENERATE_HINT}")]
    MissingPrefix,

    #[error("webhook secret has no key after `whsec_`; {GENERATE_HINT}")]
    EmptyKey,

    #[error(
        "webhook secret contains whitespace; remove it (a secret read from a file often \
         ends with a newline), or {GENERATE_HINT}"
    )]
    Whitespace,

    #[error("webhook secret is not valid base64 after `whsec_` ({problem}); {GENERATE_HINT}")]
    InvalidBase64 { problem: String },
}

/// Error from verifying a signed request, or from checking its timestamp.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("no secret to verify the signature with")]
    NoSecrets,

    #[error("webhook-id header is missing or empty")]
    MissingId,

    #[error("webhook-timestamp header is missing or empty")]
    MissingTimestamp,

    #[error("webhook-timestamp header {value:?} is not an integer Unix time in seconds")]
    MalformedTimestamp { value: String },

    #[error("webhook-signature header is missing or empty")]
    MissingSignature,

    #[error(
        "webhook-signature entry {entry:?} is malformed; expected `v1,` followed by a \
         base64 HMAC-SHA256"
    )]
    MalformedSignature { entry: String },

    #[error("webhook-signature version {version:?} is not supported; only `v1` (HMAC-SHA256) is")]
    UnsupportedVersion { version: String },

    #[error(
        "no signature matches the configured secrets; check that sender and receiver \
         use the same secret and that the body was not modified in between"
    )]
    NoMatch,

    #[error(
        "webhook-timestamp {timestamp} is {age_secs} s older than now ({now}), more \
         than the {tolerance_secs} s tolerance"
    )]
    TimestampTooOld {
        timestamp: i64,
        now: i64,
        age_secs: u64,
        tolerance_secs: u64,
    },

    #[error(
        "webhook-timestamp {timestamp} is {ahead_secs} s ahead of now ({now}), more \
         than the {tolerance_secs} s tolerance; check the sender's clock"
    )]
    TimestampInFuture {
        timestamp: i64,
        now: i64,
        ahead_secs: u64,
        tolerance_secs: u64,
    },
}

impl WebhookSecret {
    /// Parses a `whsec_<base64>` secret. The key must not be empty, but any other
    /// length is accepted (see [`WebhookSecret::key_len`]).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let Some(encoded) = text.strip_prefix(SECRET_PREFIX) else {
            return Err(SecretError::MissingPrefix);
        };
        if encoded.is_empty() {
            return Err(SecretError::EmptyKey);
        }
        if encoded.chars().any(char::is_whitespace) {
            return Err(SecretError::Whitespace);
        }

        let key = KEY_DECODER
            .decode(encoded)
            .map_err(|error| SecretError::InvalidBase64 {
                problem: describe_decode_error(&error),
            })?;
        if key.is_empty() {
            return Err(SecretError::EmptyKey);
        }
        Ok(Self { key })
    }

    /// Returns the length of the decoded key in bytes, so that callers can warn
    /// when it is below [`RECOMMENDED_MIN_KEY_BYTES`]. Parsing accepts short keys
    /// because receivers choose their secrets and may already use shorter ones.
    pub fn key_len(&self) -> usize {
        self.key.len()
    }
}

impl FromStr for WebhookSecret {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("WebhookSecret(whsec_***)")
    }
}

/// Signs one request with one secret and returns `v1,<base64 signature>`.
pub fn sign(secret: &WebhookSecret, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = signed_content_mac(secret, webhook_id, timestamp, body)
        .finalize()
        .into_bytes();
    format!("{VERSION_V1},{}", STANDARD.encode(tag))
}

/// Builds the `webhook-signature` header value: one signature per secret, in the
/// order given, separated by single spaces. Returns an empty string when `secrets`
/// is empty, in which case the caller must not send the header.
pub fn signature_header(
    secrets: &[WebhookSecret],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| sign(secret, webhook_id, timestamp, body))
        .collect();
    signatures.join(" ")
}

/// Verifies a request's `webhook-signature` header. It succeeds when any `v1`
/// signature in the header matches any of `secrets`. Entries of other versions
/// are skipped, because the specification allows several schemes in one header.
///
/// The comparison is constant-time. This function does not check the age of the
/// timestamp, so call [`check_timestamp`] for that.
pub fn verify(
    secrets: &[WebhookSecret],
    webhook_id: &str,
    timestamp_header: &str,
    body: &[u8],
    signature_header: &str,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    if webhook_id.is_empty() {
        return Err(VerifyError::MissingId);
    }
    let timestamp = parse_timestamp(timestamp_header)?;
    if signature_header.trim().is_empty() {
        return Err(VerifyError::MissingSignature);
    }

    // Compute each secret's MAC once; every candidate signature is checked
    // against a clone, because `verify_slice` consumes the MAC.
    let macs: Vec<HmacSha256> = secrets
        .iter()
        .map(|secret| signed_content_mac(secret, webhook_id, timestamp, body))
        .collect();

    let mut first_failure = None;
    for entry in signature_header.split_ascii_whitespace() {
        let failure = match decode_v1_signature(entry) {
            Ok(signature) if matches_any(&macs, &signature) => return Ok(()),
            Ok(_) => VerifyError::NoMatch,
            Err(error) => error,
        };
        first_failure = Some(more_relevant(first_failure, failure));
    }
    Err(first_failure.unwrap_or(VerifyError::MissingSignature))
}

/// Checks that a `webhook-timestamp` header is an integer within
/// `tolerance_secs` of `now_unix`, in either direction, and returns it.
/// The Go and Python reference libraries of Standard Webhooks use 5 minutes.
pub fn check_timestamp(
    timestamp_header: &str,
    now_unix: i64,
    tolerance_secs: u64,
) -> Result<i64, VerifyError> {
    let timestamp = parse_timestamp(timestamp_header)?;
    let distance = now_unix.abs_diff(timestamp);
    if distance <= tolerance_secs {
        return Ok(timestamp);
    }

    if timestamp < now_unix {
        Err(VerifyError::TimestampTooOld {
            timestamp,
            now: now_unix,
            age_secs: distance,
            tolerance_secs,
        })
    } else {
        Err(VerifyError::TimestampInFuture {
            timestamp,
            now: now_unix,
            ahead_secs: distance,
            tolerance_secs,
        })
    }
}

/// Returns the MAC state after feeding it `{webhook_id}.{timestamp}.{body}`.
fn signed_content_mac(
    secret: &WebhookSecret,
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> HmacSha256 {
    // HMAC hashes keys longer than the block size and pads shorter ones, so
    // `new_from_slice` of `Hmac` (hmac 0.12) always returns `Ok`.
    let mut mac = HmacSha256::new_from_slice(&secret.key).expect("HMAC accepts keys of any length");
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn parse_timestamp(header: &str) -> Result<i64, VerifyError> {
    let trimmed = header.trim();
    if trimmed.is_empty() {
        return Err(VerifyError::MissingTimestamp);
    }
    trimmed
        .parse::<i64>()
        .map_err(|_| VerifyError::MalformedTimestamp {
            value: header.to_string(),
        })
}

/// Splits one `version,signature` entry and decodes a `v1` signature.
fn decode_v1_signature(entry: &str) -> Result<Vec<u8>, VerifyError> {
    let malformed = || VerifyError::MalformedSignature {
        entry: entry.to_string(),
    };
    let (version, encoded) = entry.split_once(',').ok_or_else(malformed)?;
    if version != VERSION_V1 {
        return Err(VerifyError::UnsupportedVersion {
            version: version.to_string(),
        });
    }
    STANDARD.decode(encoded).map_err(|_| malformed())
}

fn matches_any(macs: &[HmacSha256], signature: &[u8]) -> bool {
    macs.iter()
        .any(|mac| mac.clone().verify_slice(signature).is_ok())
}

/// Picks the failure to report when no entry verifies. A `v1` signature that did
/// not match is the most useful to report, then a malformed entry, then an entry
/// of another version.
fn more_relevant(current: Option<VerifyError>, candidate: VerifyError) -> VerifyError {
    fn rank(error: &VerifyError) -> u8 {
        match error {
            VerifyError::NoMatch => 3,
            VerifyError::MalformedSignature { .. } => 2,
            VerifyError::UnsupportedVersion { .. } => 1,
            _ => 0,
        }
    }
    match current {
        Some(current) if rank(&current) >= rank(&candidate) => current,
        _ => candidate,
    }
}

/// Describes a base64 error without the offending character, which is part of
/// the secret.
fn describe_decode_error(error: &DecodeError) -> String {
    match error {
        DecodeError::InvalidByte(offset, _) => {
            format!("invalid character at position {}", offset + 1)
        }
        DecodeError::InvalidLength(length) => format!("invalid length {length}"),
        DecodeError::InvalidLastSymbol(offset, _) => {
            format!("invalid last character at position {}", offset + 1)
        }
        DecodeError::InvalidPadding => "invalid padding".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test vector of the Standard Webhooks reference libraries
    /// (`libraries/go/webhook_test.go`, `TestWebhookSign`, in
    /// github.com/standard-webhooks/standard-webhooks).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    /// Base64 of 32 bytes, as `openssl rand -base64 32` prints it.
    const OTHER_SECRET: &str = "whsec_3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=";

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).expect("test secret is valid")
    }

    #[test]
    fn sign_reproduces_spec_test_vector() {
        let signature = sign(&secret(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        assert_eq!(signature, SPEC_SIGNATURE);
    }

    #[test]
    fn verify_accepts_spec_test_vector() {
        let result = verify(
            &[secret(SPEC_SECRET)],
            SPEC_ID,
            "1614265330",
            SPEC_BODY,
            SPEC_SIGNATURE,
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn signature_header_has_one_signature_per_secret() {
        let secrets = [secret(SPEC_SECRET), secret(OTHER_SECRET)];
        let header = signature_header(&secrets, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);

        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], SPEC_SIGNATURE);
        assert_eq!(
            entries[1],
            sign(&secrets[1], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
        );
    }

    #[test]
    fn signature_header_without_secrets_is_empty() {
        assert_eq!(
            signature_header(&[], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY),
            ""
        );
    }

    #[test]
    fn rotation_either_secret_verifies() {
        let old = secret(SPEC_SECRET);
        let new = secret(OTHER_SECRET);
        let header = signature_header(
            &[new.clone(), old.clone()],
            SPEC_ID,
            SPEC_TIMESTAMP,
            SPEC_BODY,
        );

        for receiver_secret in [old, new] {
            let result = verify(
                &[receiver_secret],
                SPEC_ID,
                "1614265330",
                SPEC_BODY,
                &header,
            );
            assert_eq!(result, Ok(()));
        }
    }

    #[test]
    fn rotation_receiver_with_two_secrets_accepts_either() {
        let receiver = [secret(SPEC_SECRET), secret(OTHER_SECRET)];
        for sender in &receiver {
            let header = sign(sender, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
            let result = verify(&receiver, SPEC_ID, "1614265330", SPEC_BODY, &header);
            assert_eq!(result, Ok(()));
        }
    }

    #[test]
    fn tampered_body_fails() {
        let result = verify(
            &[secret(SPEC_SECRET)],
            SPEC_ID,
            "1614265330",
            br#"{"test": 2432232315}"#,
            SPEC_SIGNATURE,
        );
        assert_eq!(result, Err(VerifyError::NoMatch));
    }

    #[test]
    fn tampered_id_fails() {
        let result = verify(
            &[secret(SPEC_SECRET)],
            "msg_p5jXN8AQM9LWM0D4loKWxJel",
            "1614265330",
            SPEC_BODY,
            SPEC_SIGNATURE,
        );
        assert_eq!(result, Err(VerifyError::NoMatch));
    }

    #[test]
    fn tampered_timestamp_fails() {
        let result = verify(
            &[secret(SPEC_SECRET)],
            SPEC_ID,
            "1614265331",
            SPEC_BODY,
            SPEC_SIGNATURE,
        );
        assert_eq!(result, Err(VerifyError::NoMatch));
    }

    #[test]
    fn wrong_secret_fails() {
        let result = verify(
            &[secret(OTHER_SECRET)],
            SPEC_ID,
            "1614265330",
            SPEC_BODY,
            SPEC_SIGNATURE,
        );
        assert_eq!(result, Err(VerifyError::NoMatch));
    }

    #[test]
    fn verify_skips_other_versions_and_bad_entries() {
        let header = format!(
            "v1a,AAAA v1,%%% v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SPEC_SIGNATURE}"
        );
        let result = verify(
            &[secret(SPEC_SECRET)],
            SPEC_ID,
            "1614265330",
            SPEC_BODY,
            &header,
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn verify_reports_header_problems() {
        let secrets = [secret(SPEC_SECRET)];
        let cases: [(&str, &str, &str, VerifyError); 8] = [
            ("", "1614265330", SPEC_SIGNATURE, VerifyError::MissingId),
            (SPEC_ID, "", SPEC_SIGNATURE, VerifyError::MissingTimestamp),
            (
                SPEC_ID,
                "yesterday",
                SPEC_SIGNATURE,
                VerifyError::MalformedTimestamp {
                    value: "yesterday".to_string(),
                },
            ),
            (SPEC_ID, "1614265330", "", VerifyError::MissingSignature),
            (SPEC_ID, "1614265330", "   ", VerifyError::MissingSignature),
            (
                SPEC_ID,
                "1614265330",
                "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                VerifyError::MalformedSignature {
                    entry: "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_string(),
                },
            ),
            (
                SPEC_ID,
                "1614265330",
                "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                VerifyError::UnsupportedVersion {
                    version: "v2".to_string(),
                },
            ),
            (
                SPEC_ID,
                "1614265330",
                "v2,AAAA v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= x",
                VerifyError::NoMatch,
            ),
        ];

        for (id, timestamp, header, expected) in cases {
            let result = verify(&secrets, id, timestamp, SPEC_BODY, header);
            assert_eq!(result, Err(expected), "header {header:?}");
        }
    }

    #[test]
    fn verify_without_secrets_fails() {
        let result = verify(&[], SPEC_ID, "1614265330", SPEC_BODY, SPEC_SIGNATURE);
        assert_eq!(result, Err(VerifyError::NoSecrets));
    }

    #[test]
    fn check_timestamp_accepts_within_tolerance() {
        assert_eq!(check_timestamp("1000", 1300, 300), Ok(1000));
        assert_eq!(check_timestamp("1600", 1300, 300), Ok(1600));
        assert_eq!(check_timestamp(" 1300 ", 1300, 0), Ok(1300));
    }

    #[test]
    fn check_timestamp_rejects_outside_tolerance() {
        assert_eq!(
            check_timestamp("999", 1300, 300),
            Err(VerifyError::TimestampTooOld {
                timestamp: 999,
                now: 1300,
                age_secs: 301,
                tolerance_secs: 300,
            })
        );
        assert_eq!(
            check_timestamp("1601", 1300, 300),
            Err(VerifyError::TimestampInFuture {
                timestamp: 1601,
                now: 1300,
                ahead_secs: 301,
                tolerance_secs: 300,
            })
        );
    }

    #[test]
    fn check_timestamp_handles_extreme_values() {
        let result = check_timestamp(&i64::MIN.to_string(), i64::MAX, 300);
        assert!(matches!(result, Err(VerifyError::TimestampTooOld { .. })));
    }

    #[test]
    fn check_timestamp_rejects_non_integers() {
        for header in ["", "1.5", "abc", "99999999999999999999"] {
            let result = check_timestamp(header, 1300, 300);
            assert!(result.is_err(), "header {header:?} should be rejected");
        }
    }

    #[test]
    fn secret_parse_rejects_bad_strings() {
        let cases = [
            ("", SecretError::MissingPrefix),
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                SecretError::MissingPrefix,
            ),
            (
                "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                SecretError::MissingPrefix,
            ),
            (
                "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                SecretError::MissingPrefix,
            ),
            ("whsec_", SecretError::EmptyKey),
            (
                "whsec_====",
                SecretError::InvalidBase64 {
                    problem: "invalid character at position 1".to_string(),
                },
            ),
            (
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
                SecretError::Whitespace,
            ),
            (
                " whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                SecretError::MissingPrefix,
            ),
            ("whsec_MfKQ9r8G KYqrTwjU", SecretError::Whitespace),
        ];

        for (text, expected) in cases {
            let result = WebhookSecret::parse(text).map(|_| ());
            assert_eq!(result, Err(expected), "secret {text:?}");
        }
    }

    #[test]
    fn secret_parse_rejects_invalid_base64() {
        for text in ["whsec_not*base64", "whsec_abcde", "whsec_-_-_"] {
            let result = WebhookSecret::parse(text);
            assert!(
                matches!(result, Err(SecretError::InvalidBase64 { .. })),
                "secret {text:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn secret_parse_accepts_missing_padding() {
        let padded = secret(OTHER_SECRET);
        let unpadded = secret(OTHER_SECRET.trim_end_matches('='));
        assert_eq!(padded.key, unpadded.key);
        assert_eq!(padded.key_len(), 32);
    }

    #[test]
    fn secret_errors_leave_out_the_secret() {
        let secret_text = "whsec_Zm9v*YmFy";
        let error = WebhookSecret::parse(secret_text).expect_err("invalid base64");
        let message = error.to_string();

        assert!(!message.contains("Zm9v"), "message {message:?}");
        assert!(!message.contains('*'), "message {message:?}");
        assert!(
            message.contains("whsec_$(openssl rand -base64 32)"),
            "message {message:?}"
        );
    }

    #[test]
    fn secret_error_shows_generate_command() {
        let message = SecretError::MissingPrefix.to_string();
        assert_eq!(
            message,
            r#"webhook secret must start with `whsec_` followed by base64; generate one with: echo "whsec_$(openssl rand -base64 32)""#
        );
    }

    #[test]
    fn secret_debug_masks_key() {
        let debug = format!("{:?}", secret(SPEC_SECRET));
        assert_eq!(debug, "WebhookSecret(whsec_***)");
        assert!(!debug.contains("MfKQ9r8G"));
    }

    #[test]
    fn secret_from_str_matches_parse() {
        let parsed: WebhookSecret = SPEC_SECRET.parse().expect("valid secret");
        assert_eq!(parsed.key, secret(SPEC_SECRET).key);
        assert_eq!(parsed.key_len(), 24);
    }
}

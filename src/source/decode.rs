//! Turning a response body into UTF-8 text for the JSON parser.
//!
//! JSON is UTF-8 by its specification, but some older systems send UTF-16
//! with a byte order mark, or Latin-1 with a declared charset. Valid UTF-8 is
//! always taken as it is (after its byte order mark is removed), whatever the
//! headers claim. Pure: no I/O.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Returns `body` as UTF-8 bytes, decoding it when it is not UTF-8 already.
///
/// The order is: a UTF-8 byte order mark is removed, valid UTF-8 is kept, a
/// UTF-16 byte order mark selects UTF-16, and otherwise the `charset` of
/// `content_type` is used when it names an encoding other than UTF-8. Bytes
/// that fit none of these are returned unchanged, so that the JSON parser
/// reports where they are.
pub fn utf8_body<'a>(body: &'a [u8], content_type: &str) -> Cow<'a, [u8]> {
    if let Some(rest) = body.strip_prefix(UTF8_BOM) {
        return Cow::Borrowed(rest);
    }
    if std::str::from_utf8(body).is_ok() {
        return Cow::Borrowed(body);
    }
    let encoding = match body {
        [0xFF, 0xFE, ..] => Some(UTF_16LE),
        [0xFE, 0xFF, ..] => Some(UTF_16BE),
        _ => declared_charset(content_type),
    };
    match encoding.filter(|encoding| *encoding != UTF_8) {
        Some(encoding) => {
            let (text, _, _) = encoding.decode(body);
            Cow::Owned(text.into_owned().into_bytes())
        }
        None => Cow::Borrowed(body),
    }
}

fn declared_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        Encoding::for_label(value.trim().trim_matches('"').as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_bom_loses_bom() {
        assert_eq!(&*utf8_body(b"\xEF\xBB\xBF{}", "application/json"), b"{}");
    }

    #[test]
    fn valid_utf8_ignores_wrong_charset() {
        let body = "{\"name\":\"Zürich\"}".as_bytes();
        assert_eq!(
            &*utf8_body(body, "application/json; charset=iso-8859-1"),
            body
        );
    }

    #[test]
    fn latin1_with_declared_charset_is_decoded() {
        let body = b"{\"name\":\"Z\xFCrich\"}";
        let decoded = utf8_body(body, "application/json; charset=ISO-8859-1");
        assert_eq!(
            std::str::from_utf8(&decoded).unwrap(),
            "{\"name\":\"Zürich\"}"
        );
    }

    #[test]
    fn utf16_with_bom_is_decoded() {
        let mut body = vec![0xFF, 0xFE];
        for unit in "{\"a\":1}".encode_utf16() {
            body.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(&*utf8_body(&body, "application/json"), b"{\"a\":1}");
    }

    #[test]
    fn undeclared_invalid_bytes_are_kept() {
        let body = b"{\"name\":\"Z\xFCrich\"}";
        assert_eq!(&*utf8_body(body, "application/json"), body);
    }
}

//! Turning a response body into UTF-8 text for the JSON and XML parsers.
//!
//! JSON is UTF-8 by its specification, but some older systems send UTF-16
//! with a byte order mark, or Latin-1 with a declared charset. Valid UTF-8 is
//! always taken as it is (after its byte order mark is removed), whatever the
//! headers claim. XML documents declare their own encoding, and that
//! declaration wins over the HTTP charset. Pure: no I/O.

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

/// Decodes an XML document to UTF-8 text whose declaration, if any, says
/// UTF-8, so that a parser reading the declaration does not decode twice.
///
/// The encoding is taken from, in order: a byte order mark, the `encoding`
/// of the XML declaration, the `charset` of `content_type`, else UTF-8.
/// Returns the encoding's name when the bytes are not valid in it.
pub fn xml_text(body: &[u8], content_type: &str) -> Result<String, &'static str> {
    let (encoding, rest) = match Encoding::for_bom(body) {
        Some((encoding, bom_length)) => (encoding, &body[bom_length..]),
        None => {
            let declared = declared_xml_encoding(body)
                .and_then(|label| Encoding::for_label(label.as_bytes()))
                .or_else(|| declared_charset(content_type));
            (declared.unwrap_or(UTF_8), body)
        }
    };
    let (text, had_errors) = encoding.decode_without_bom_handling(rest);
    if had_errors {
        return Err(encoding.name());
    }
    Ok(with_utf8_declaration(&text))
}

/// Reads `encoding="..."` from the XML declaration at the start of `body`.
/// The declaration is ASCII in every ASCII-compatible encoding.
fn declared_xml_encoding(body: &[u8]) -> Option<String> {
    let start = body.iter().position(|byte| !byte.is_ascii_whitespace())?;
    let rest = body[start..].strip_prefix(b"<?xml")?;
    let end = rest.windows(2).position(|pair| pair == b"?>")?;
    let declaration = std::str::from_utf8(&rest[..end]).ok()?;
    let after = declaration.split_once("encoding")?.1.trim_start();
    let value = after.strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &value[1..];
    Some(value[..value.find(quote)?].to_owned())
}

/// Rewrites the declared encoding of decoded text to UTF-8.
fn with_utf8_declaration(text: &str) -> String {
    let Some(declared) = declared_xml_encoding(text.as_bytes()) else {
        return text.to_owned();
    };
    let Some(end) = text.find("?>") else {
        return text.to_owned();
    };
    let (declaration, rest) = text.split_at(end);
    let rewritten = declaration
        .replacen(&format!("\"{declared}\""), "\"UTF-8\"", 1)
        .replacen(&format!("'{declared}'"), "'UTF-8'", 1);
    format!("{rewritten}{rest}")
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
    fn xml_declaration_selects_encoding() {
        let body = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>Z\xFCrich</a>";
        assert_eq!(
            xml_text(body, "application/xml").unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>Zürich</a>"
        );
    }

    #[test]
    fn xml_declaration_wins_over_http_charset() {
        let body = "<?xml version='1.0' encoding='utf-8'?><a>Zürich</a>".as_bytes();
        let text = xml_text(body, "text/xml; charset=iso-8859-1").unwrap();
        assert!(text.contains("Zürich"), "{text}");
    }

    #[test]
    fn xml_without_declaration_uses_http_charset() {
        let text = xml_text(b"<a>Z\xFCrich</a>", "text/xml; charset=ISO-8859-1").unwrap();
        assert_eq!(text, "<a>Zürich</a>");
    }

    #[test]
    fn xml_invalid_utf8_is_an_error() {
        assert_eq!(xml_text(b"<a>Z\xFCrich</a>", "text/xml"), Err("UTF-8"));
    }

    #[test]
    fn undeclared_invalid_bytes_are_kept() {
        let body = b"{\"name\":\"Z\xFCrich\"}";
        assert_eq!(&*utf8_body(body, "application/json"), body);
    }
}

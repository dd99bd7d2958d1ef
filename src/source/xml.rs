//! The mapping of an XML document to JSON for `format = "xml"`, so that
//! JSONPath can select items in it.
//!
//! The mapping is fixed, because every path in every bridge file depends on
//! it:
//!
//! - The document becomes an object with one key, the root element's name.
//! - An element without attributes and without child elements becomes its
//!   text, a string (an empty element becomes `""`).
//! - Any other element becomes an object: each attribute as `@name`, each
//!   child element under its name, and its text, if any, as `#text`.
//! - A child name that occurs more than once in an element becomes an array
//!   of the children in document order. A name that occurs once does not.
//! - Text is trimmed; the text pieces around child elements are trimmed and
//!   joined with one space. Values stay strings: `<qty>2</qty>` is `"2"`.
//! - Names keep the prefix they were written with (`dc:creator`). Namespace
//!   declarations, comments and processing instructions are left out.
//!
//! A name that occurs once is an object, not an array, so the collection that
//! a bridge's items path iterates is made a list by [`items_as_list`]: one
//! `<order>` is then one item, as two are two.
//!
//! Pure: no I/O.

use serde_json::{Map, Value};
use thiserror::Error;

use crate::jsonpath::{node_at_mut, JsonPath};

/// An XML document that could not be parsed.
#[derive(Debug, Error, PartialEq)]
#[error("{message} at line {line} column {column}")]
pub struct XmlError {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// Parses `text` as XML and maps it to JSON.
pub fn xml_to_json(text: &str) -> Result<Value, XmlError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let document = roxmltree::Document::parse_with_options(text, options).map_err(|error| {
        let position = error.pos();
        XmlError {
            message: error.to_string(),
            line: position.row,
            column: position.col,
        }
    })?;
    let root = document.root_element();
    let mut object = Map::new();
    object.insert(element_name(root), element_value(root));
    Ok(Value::Object(object))
}

/// Wraps the collection that `items_path` iterates (`$.export.order` for
/// `$.export.order[*]`) in an array when it is a single element's object.
pub fn items_as_list(document: &mut Value, items_path: &JsonPath) {
    let Some(collection) = items_path.collection() else {
        return;
    };
    for steps in collection.locate(document) {
        if let Some(node) = node_at_mut(document, &steps) {
            if node.is_object() {
                let single = node.take();
                *node = Value::Array(vec![single]);
            }
        }
    }
}

fn element_value(element: roxmltree::Node<'_, '_>) -> Value {
    let text = element_text(element);
    let has_children = element.children().any(|child| child.is_element());
    if !has_children && element.attributes().len() == 0 {
        return Value::String(text);
    }

    let mut object = Map::new();
    for attribute in element.attributes() {
        let name = match attribute
            .namespace()
            .and_then(|namespace| element.lookup_prefix(namespace))
        {
            Some(prefix) => format!("@{prefix}:{}", attribute.name()),
            None => format!("@{}", attribute.name()),
        };
        object.insert(name, Value::String(attribute.value().to_owned()));
    }
    for child in element.children().filter(|child| child.is_element()) {
        let name = element_name(child);
        let value = element_value(child);
        match object.get_mut(&name) {
            None => {
                object.insert(name, value);
            }
            // Element values are never arrays, so an array is a repeated name.
            Some(Value::Array(repeated)) => repeated.push(value),
            Some(first) => {
                let first = first.take();
                object.insert(name, Value::Array(vec![first, value]));
            }
        }
    }
    if !text.is_empty() {
        object.insert("#text".to_owned(), Value::String(text));
    }
    Value::Object(object)
}

fn element_text(element: roxmltree::Node<'_, '_>) -> String {
    let pieces: Vec<&str> = element
        .children()
        .filter(|child| child.is_text())
        .filter_map(|child| child.text())
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .collect();
    pieces.join(" ")
}

fn element_name(element: roxmltree::Node<'_, '_>) -> String {
    let tag = element.tag_name();
    match tag
        .namespace()
        .and_then(|namespace| element.lookup_prefix(namespace))
        .filter(|prefix| !prefix.is_empty())
    {
        Some(prefix) => format!("{prefix}:{}", tag.name()),
        None => tag.name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_repeated_elements_and_text() {
        let xml = r#"<?xml version="1.0"?>
            <orders count="2">
              <order id="A-1" status="open"><total currency="EUR">12.50</total><note>gift</note></order>
              <order id="A-2" status="paid"><total currency="EUR">3</total><note/></order>
            </orders>"#;
        assert_eq!(
            xml_to_json(xml).unwrap(),
            json!({"orders": {
                "@count": "2",
                "order": [
                    {"@id": "A-1", "@status": "open", "total": {"@currency": "EUR", "#text": "12.50"}, "note": "gift"},
                    {"@id": "A-2", "@status": "paid", "total": {"@currency": "EUR", "#text": "3"}, "note": ""}
                ]
            }})
        );
    }

    #[test]
    fn single_child_is_not_an_array() {
        let value = xml_to_json("<list><item>a</item></list>").unwrap();
        assert_eq!(value, json!({"list": {"item": "a"}}));
    }

    #[test]
    fn three_repeats_stay_one_flat_array() {
        let value = xml_to_json("<l><i>1</i><i>2</i><i>3</i></l>").unwrap();
        assert_eq!(value, json!({"l": {"i": ["1", "2", "3"]}}));
    }

    #[test]
    fn repeated_elements_interleaved_with_others_keep_order() {
        let value = xml_to_json("<l><i>1</i><j>x</j><i>2</i></l>").unwrap();
        assert_eq!(value, json!({"l": {"i": ["1", "2"], "j": "x"}}));
    }

    #[test]
    fn mixed_text_is_trimmed_and_joined() {
        let value = xml_to_json("<p>\n  Hello <b>world</b>  again \n</p>").unwrap();
        assert_eq!(value, json!({"p": {"b": "world", "#text": "Hello again"}}));
    }

    #[test]
    fn entities_and_cdata_become_text() {
        let value = xml_to_json("<a>Fish &amp; chips <![CDATA[<raw>]]> &#233;</a>").unwrap();
        assert_eq!(value, json!({"a": "Fish & chips <raw> é"}));
    }

    #[test]
    fn prefixes_are_kept_and_declarations_left_out() {
        let xml = r#"<feed xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator xml:lang="en">Ana</dc:creator></feed>"#;
        assert_eq!(
            xml_to_json(xml).unwrap(),
            json!({"feed": {"dc:creator": {"@xml:lang": "en", "#text": "Ana"}}})
        );
    }

    #[test]
    fn single_item_element_becomes_a_list() {
        let path = JsonPath::parse("$.export.order[*]").unwrap();
        let mut one = xml_to_json(r#"<export><order id="1"/></export>"#).unwrap();
        items_as_list(&mut one, &path);
        assert_eq!(one, json!({"export": {"order": [{"@id": "1"}]}}));

        let mut two = xml_to_json(r#"<export><order id="1"/><order id="2"/></export>"#).unwrap();
        items_as_list(&mut two, &path);
        assert_eq!(two["export"]["order"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn malformed_document_names_position() {
        let error = xml_to_json("<a>\n<b></a>").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.to_string().contains("line 2"), "{error}");
    }
}

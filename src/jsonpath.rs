//! Compiled RFC 9535 JSONPath expressions, as used by the items, id and ignore
//! settings of a bridge.
//!
//! Expressions are parsed once when the configuration loads, so a bad one is a
//! configuration error and never a failure at poll time. This module has no
//! notion of bridges or polls.

use std::fmt;

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

/// A parsed JSONPath expression together with the text it came from.
#[derive(Clone)]
pub struct JsonPath {
    text: String,
    query: JpQuery,
}

/// One step from a node to a child, as found in a normalized path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

impl JsonPath {
    /// Parses `text`; the error is the parser's own description.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let trimmed = text.trim();
        if !trimmed.starts_with('$') {
            return Err("a JSONPath must start with `$`".to_owned());
        }
        let query = parse_json_path(trimmed).map_err(|error| error.to_string())?;
        Ok(JsonPath {
            text: trimmed.to_owned(),
            query,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for `$` alone, which selects the node it is applied to.
    pub fn is_root(&self) -> bool {
        self.query.segments.is_empty()
    }

    /// Returns the nodes that the expression selects in `value`, in document order.
    pub fn select<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        match js_path_process(&self.query, value) {
            Ok(found) => found.into_iter().map(|node| node.val).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Returns the locations of the selected nodes as steps from `value`.
    pub fn locate(&self, value: &Value) -> Vec<Vec<PathStep>> {
        let Ok(found) = js_path_process(&self.query, value) else {
            return Vec::new();
        };
        found
            .into_iter()
            .filter_map(|node| normalized_steps(&node.path))
            .collect()
    }

    /// Splits a path that ends in a selector of many nodes (`[*]`, a slice, a
    /// filter or `..`) into the path of the collection it iterates.
    ///
    /// Returns `None` when the last step selects a single named or indexed node.
    pub fn collection(&self) -> Option<JsonPath> {
        let (last, parent) = self.query.segments.split_last()?;
        if !selects_many(last) {
            return None;
        }
        let query = JpQuery::new(parent.to_vec());
        Some(JsonPath {
            text: segments_text(parent),
            query,
        })
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "JsonPath({})", self.text)
    }
}

/// Returns the node at `steps` in `value`, if it is there.
pub fn node_at_mut<'a>(value: &'a mut Value, steps: &[PathStep]) -> Option<&'a mut Value> {
    let mut node = value;
    for step in steps {
        node = match (step, node) {
            (PathStep::Key(key), Value::Object(map)) => map.get_mut(key)?,
            (PathStep::Index(index), Value::Array(items)) => items.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Removes the node at `steps` from `value`, if it is there.
pub fn remove_at(value: &mut Value, steps: &[PathStep]) {
    let Some((last, parent_steps)) = steps.split_last() else {
        return;
    };
    let mut parent = value;
    for step in parent_steps {
        let child = match (step, parent) {
            (PathStep::Key(key), Value::Object(map)) => map.get_mut(key),
            (PathStep::Index(index), Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        match child {
            Some(child) => parent = child,
            None => return,
        }
    }
    match (last, parent) {
        (PathStep::Key(key), Value::Object(map)) => {
            map.shift_remove(key);
        }
        (PathStep::Index(index), Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
        }
        _ => {}
    }
}

/// Writes segments as a JSONPath in dot notation where names allow it. The
/// query engine's own formatting drops the dot (`$data`).
fn segments_text(segments: &[Segment]) -> String {
    let mut text = String::from("$");
    for segment in segments {
        match segment {
            Segment::Selector(Selector::Name(name))
                if name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_alphanumeric() || c == '_') =>
            {
                text.push('.');
                text.push_str(name);
            }
            Segment::Selector(Selector::Name(name)) => {
                text.push_str(&format!("[{}]", serde_json::Value::from(name.as_str())));
            }
            Segment::Selector(Selector::Index(index)) => text.push_str(&format!("[{index}]")),
            Segment::Selector(Selector::Wildcard) => text.push_str("[*]"),
            other => text.push_str(&other.to_string()),
        }
    }
    text
}

fn selects_many(segment: &Segment) -> bool {
    match segment {
        Segment::Descendant(_) => true,
        Segment::Selector(selector) => selector_selects_many(selector),
        Segment::Selectors(selectors) => {
            selectors.len() > 1 || selectors.iter().any(selector_selects_many)
        }
    }
}

fn selector_selects_many(selector: &Selector) -> bool {
    matches!(
        selector,
        Selector::Wildcard | Selector::Slice(..) | Selector::Filter(_)
    )
}

/// Converts a normalized path (`$['a'][0]`), as the query engine reports it,
/// into steps.
fn normalized_steps(path: &str) -> Option<Vec<PathStep>> {
    let query = parse_json_path(path).ok()?;
    query
        .segments
        .into_iter()
        .map(|segment| match segment {
            Segment::Selector(Selector::Name(name)) => Some(PathStep::Key(name)),
            Segment::Selector(Selector::Index(index)) => {
                usize::try_from(index).ok().map(PathStep::Index)
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_rejects_path_without_root() {
        assert!(JsonPath::parse("data[*]").is_err());
        assert!(JsonPath::parse("$.data[").is_err());
    }

    #[test]
    fn collection_of_wildcard_path() {
        let path = JsonPath::parse("$.data.items[*]").unwrap();
        let collection = path.collection().unwrap();
        let doc = json!({"data": {"items": [1, 2]}});
        assert_eq!(collection.select(&doc), vec![&json!([1, 2])]);
    }

    #[test]
    fn collection_text_keeps_dots() {
        let path = JsonPath::parse("$.data.items[*]").unwrap();
        assert_eq!(path.collection().unwrap().to_string(), "$.data.items");
        let odd = JsonPath::parse("$['a b'][0][*]").unwrap();
        assert_eq!(odd.collection().unwrap().to_string(), "$[\"a b\"][0]");
    }

    #[test]
    fn collection_of_single_node_path_is_none() {
        assert!(JsonPath::parse("$.data").unwrap().collection().is_none());
        assert!(JsonPath::parse("$").unwrap().collection().is_none());
    }

    #[test]
    fn locate_and_remove_nested_key() {
        let path = JsonPath::parse("$.items[*].stats").unwrap();
        let mut doc = json!({"items": [{"id": 1, "stats": 3}, {"id": 2, "stats": 4}]});
        for steps in path.locate(&doc.clone()) {
            remove_at(&mut doc, &steps);
        }
        assert_eq!(doc, json!({"items": [{"id": 1}, {"id": 2}]}));
    }

    #[test]
    fn locate_key_with_quote() {
        let path = JsonPath::parse("$['it''s']")
            .unwrap_or_else(|_| JsonPath::parse("$[\"it's\"]").unwrap());
        let doc = json!({"it's": 1});
        assert_eq!(path.locate(&doc), vec![vec![PathStep::Key("it's".into())]]);
    }
}

//! Selection of items (or the watched document) from a parsed response, their
//! ids, and the comparison form with ignored fields removed.
//!
//! Pure: takes a `Value` and the compiled paths, does no I/O and no logging.
//! Anything suspicious is returned to the caller, which decides how to report it.

use serde_json::Value;
use thiserror::Error;

use crate::canonical::canonical;
use crate::ids::ItemId;
use crate::jsonpath::{remove_at, JsonPath};

/// The location of the items and of each item's id.
#[derive(Debug, Clone)]
pub struct ItemsSpec {
    pub path: JsonPath,
    pub id: JsonPath,
    pub ignore: Vec<JsonPath>,
}

/// The node watched as one document.
#[derive(Debug, Clone)]
pub struct DocumentSpec {
    pub path: JsonPath,
    pub ignore: Vec<JsonPath>,
}

/// One item of a response, keyed by its id.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractedItem {
    pub id: ItemId,
    pub item: Value,
}

/// A second item with an id seen earlier in the same response; it was dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateId {
    pub id: ItemId,
    pub first_index: usize,
    pub index: usize,
}

/// The items of one response, in response order, with duplicates removed.
#[derive(Debug, Default)]
pub struct Extraction {
    pub items: Vec<ExtractedItem>,
    pub duplicates: Vec<DuplicateId>,
}

#[derive(Debug, Error, PartialEq)]
pub enum ExtractError {
    #[error("items path {path} found nothing: {collection} is missing from the response (an empty list must still be present as [])")]
    CollectionMissing { path: String, collection: String },
    #[error("items path {path} expects {collection} to be an array or object, but it is {found}")]
    CollectionNotIterable {
        path: String,
        collection: String,
        found: &'static str,
    },
    #[error("items path {path} matched nothing in the response")]
    NothingMatched { path: String },
    #[error(
        "items path {path} selected {found} at item {index}, not an object: check [items] path"
    )]
    ItemNotObject {
        path: String,
        index: usize,
        found: &'static str,
    },
    #[error("item {index}: id path {id_path} matched nothing")]
    IdMissing { index: usize, id_path: String },
    #[error("item {index}: id path {id_path} gave {found}, but an id must be a non-empty string or an integer")]
    IdInvalid {
        index: usize,
        id_path: String,
        found: String,
    },
    #[error("document path {path} matched nothing in the response")]
    DocumentMissing { path: String },
}

/// Selects the items of `document` and keys them by id.
///
/// The collection that the items path iterates must exist; an existing empty
/// one is a valid, empty list. When an id repeats, the first item is kept.
pub fn extract_items(document: &Value, spec: &ItemsSpec) -> Result<Extraction, ExtractError> {
    check_collection(document, &spec.path)?;
    let nodes = spec.path.select(document);
    if nodes.is_empty() && spec.path.collection().is_none() {
        return Err(ExtractError::NothingMatched {
            path: spec.path.to_string(),
        });
    }

    let mut extraction = Extraction::default();
    let mut first_index = std::collections::HashMap::new();
    for (index, node) in nodes.into_iter().enumerate() {
        if !spec.id.is_root() && !node.is_object() && !node.is_array() {
            return Err(ExtractError::ItemNotObject {
                path: spec.path.to_string(),
                index,
                found: kind_of(node),
            });
        }
        let id = item_id(node, &spec.id, index)?;
        if let Some(&first) = first_index.get(&id) {
            extraction.duplicates.push(DuplicateId {
                id,
                first_index: first,
                index,
            });
            continue;
        }
        first_index.insert(id.clone(), index);
        extraction.items.push(ExtractedItem {
            id,
            item: node.clone(),
        });
    }
    Ok(extraction)
}

/// Selects the watched document: the single node at `spec.path`.
pub fn select_document(document: &Value, spec: &DocumentSpec) -> Result<Value, ExtractError> {
    match spec.path.select(document).first() {
        Some(node) => Ok((*node).clone()),
        None => Err(ExtractError::DocumentMissing {
            path: spec.path.to_string(),
        }),
    }
}

/// Returns the form of `value` that is compared between polls: the `ignore`
/// paths removed, object keys sorted and numbers normalized.
pub fn comparable(value: &Value, ignore: &[JsonPath]) -> Value {
    if ignore.is_empty() {
        return canonical(value);
    }
    let mut stripped = value.clone();
    let mut locations: Vec<_> = ignore.iter().flat_map(|path| path.locate(value)).collect();
    // Later array indices first, so that removing one does not shift the next.
    locations.sort();
    locations.dedup();
    for steps in locations.iter().rev() {
        remove_at(&mut stripped, steps);
    }
    canonical(&stripped)
}

fn check_collection(document: &Value, path: &JsonPath) -> Result<(), ExtractError> {
    let Some(collection) = path.collection() else {
        return Ok(());
    };
    let nodes = collection.select(document);
    if nodes.is_empty() {
        return Err(ExtractError::CollectionMissing {
            path: path.to_string(),
            collection: collection.to_string(),
        });
    }
    match nodes
        .iter()
        .find(|node| !node.is_array() && !node.is_object())
    {
        Some(node) => Err(ExtractError::CollectionNotIterable {
            path: path.to_string(),
            collection: collection.to_string(),
            found: kind_of(node),
        }),
        None => Ok(()),
    }
}

fn item_id(item: &Value, id_path: &JsonPath, index: usize) -> Result<ItemId, ExtractError> {
    let Some(node) = id_path.select(item).into_iter().next() else {
        return Err(ExtractError::IdMissing {
            index,
            id_path: id_path.to_string(),
        });
    };
    let invalid = || ExtractError::IdInvalid {
        index,
        id_path: id_path.to_string(),
        found: describe(node),
    };
    match node {
        Value::String(text) if !text.is_empty() => Ok(ItemId::new(text.clone())),
        Value::Number(number) if number.is_i64() || number.is_u64() => {
            Ok(ItemId::new(number.to_string()))
        }
        _ => Err(invalid()),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(text) if text.is_empty() => "an empty string".to_owned(),
        Value::Number(number) => format!("the number {number}"),
        other => kind_of(other).to_owned(),
    }
}

#[cfg(test)]
mod tests;

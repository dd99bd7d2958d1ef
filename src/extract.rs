//! Selection of items (or the watched document) from a parsed response, their
//! ids, and the comparison form with ignored fields removed.
//!
//! Pure: takes a `Value` and the compiled paths, does no I/O and no logging.
//! Anything suspicious is returned to the caller, which decides how to report it.

use serde_json::Value;
use thiserror::Error;

use crate::canonical::canonical;
use crate::ids::ItemId;
use crate::jsonpath::{node_at_mut, remove_at, JsonPath, PathStep};

/// The location of the items and of each item's id, and how they are
/// compared and tracked between polls.
#[derive(Debug, Clone)]
pub struct ItemsSpec {
    pub path: JsonPath,
    pub id: JsonPath,
    pub ignore: Vec<JsonPath>,
    /// Paths compared when not empty; everything else in an item is left out.
    pub include: Vec<JsonPath>,
    /// Paths of arrays compared as multisets, without their order.
    pub unordered: Vec<JsonPath>,
    pub mode: ItemsMode,
}

/// The meaning of an item that is absent from a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemsMode {
    /// The response is the whole list: an absent item was deleted.
    Full,
    /// The response holds only some items (changed ones, or a feed's latest
    /// entries): an absent item is kept and never announced as deleted.
    /// `forget_after` removes items from the snapshot, silently, once no
    /// response has contained them for that long.
    Incremental {
        forget_after: Option<std::time::Duration>,
    },
}

/// The parts of an item that are compared between polls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Comparison<'a> {
    /// When not empty, only these paths are compared.
    pub include: &'a [JsonPath],
    /// Paths removed before comparing, after `include` selected its paths.
    pub ignore: &'a [JsonPath],
    /// Arrays whose element order does not matter.
    pub unordered: &'a [JsonPath],
}

impl<'a> Comparison<'a> {
    /// Compares everything but `ignore`, with array order significant.
    pub fn ignoring(ignore: &'a [JsonPath]) -> Comparison<'a> {
        Comparison {
            ignore,
            ..Comparison::default()
        }
    }
}

impl ItemsSpec {
    pub fn comparison(&self) -> Comparison<'_> {
        Comparison {
            include: &self.include,
            ignore: &self.ignore,
            unordered: &self.unordered,
        }
    }
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
        "items path {path} selected an array as one item: write {path}[*] to select its elements"
    )]
    ArraySelected { path: String },
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
    extract_pages(std::slice::from_ref(document), spec)
}

/// Selects the items of every page and keys them as one list, in page order.
///
/// Each page is checked as [`extract_items`] checks a document. Item indices
/// in errors and duplicates count across pages.
pub fn extract_pages(pages: &[Value], spec: &ItemsSpec) -> Result<Extraction, ExtractError> {
    let mut nodes = Vec::new();
    for page in pages {
        nodes.extend(select_items(page, &spec.path)?);
    }

    let mut extraction = Extraction::default();
    let mut first_index = std::collections::HashMap::new();
    for (index, node) in nodes.into_iter().enumerate() {
        // `$.data` where `$.data[*]` was meant selects the whole array as
        // one item, whose id then matches nothing.
        if node.is_array() && spec.path.collection().is_none() && !spec.id.is_root() {
            return Err(ExtractError::ArraySelected {
                path: spec.path.to_string(),
            });
        }
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

/// Selects the item nodes of one document, checking that the collection the
/// items path iterates exists.
pub fn select_items<'a>(
    document: &'a Value,
    path: &JsonPath,
) -> Result<Vec<&'a Value>, ExtractError> {
    check_collection(document, path)?;
    let nodes = path.select(document);
    if nodes.is_empty() && path.collection().is_none() {
        return Err(ExtractError::NothingMatched {
            path: path.to_string(),
        });
    }
    Ok(nodes)
}

/// Returns the form of `value` that is compared between polls: the `ignore`
/// paths removed, object keys sorted and numbers normalized.
pub fn comparable(value: &Value, ignore: &[JsonPath]) -> Value {
    comparable_with(value, Comparison::ignoring(ignore))
}

/// Returns the form of `value` that is compared between polls: only the
/// `include` paths (all when empty), without the `ignore` paths, object keys
/// sorted, numbers normalized and `unordered` arrays sorted.
pub fn comparable_with(value: &Value, comparison: Comparison<'_>) -> Value {
    let mut form = if comparison.include.is_empty() && comparison.ignore.is_empty() {
        canonical(value)
    } else {
        let selected = if comparison.include.is_empty() {
            value.clone()
        } else {
            include_only(value, comparison.include)
        };
        canonical(&without(selected, comparison.ignore))
    };
    sort_unordered(&mut form, comparison.unordered);
    form
}

/// Keeps only the nodes that `include` selects, at their places. Arrays keep
/// the elements that contain a selected node, in their order.
fn include_only(value: &Value, include: &[JsonPath]) -> Value {
    let locations: Vec<Vec<PathStep>> =
        include.iter().flat_map(|path| path.locate(value)).collect();
    let steps: Vec<&[PathStep]> = locations.iter().map(Vec::as_slice).collect();
    project(value, &steps)
}

fn project(value: &Value, locations: &[&[PathStep]]) -> Value {
    if locations.iter().any(|steps| steps.is_empty()) {
        return value.clone();
    }
    let below = |wanted: &PathStep| -> Vec<&[PathStep]> {
        locations
            .iter()
            .filter_map(|steps| match steps.split_first() {
                Some((step, rest)) if step == wanted => Some(rest),
                _ => None,
            })
            .collect()
    };
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter_map(|(key, child)| {
                    let rest = below(&PathStep::Key(key.clone()));
                    (!rest.is_empty()).then(|| (key.clone(), project(child, &rest)))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .filter_map(|(index, child)| {
                    let rest = below(&PathStep::Index(index));
                    (!rest.is_empty()).then(|| project(child, &rest))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn without(mut value: Value, ignore: &[JsonPath]) -> Value {
    let mut locations: Vec<_> = ignore.iter().flat_map(|path| path.locate(&value)).collect();
    // Later array indices first, so that removing one does not shift the next.
    locations.sort();
    locations.dedup();
    for steps in locations.iter().rev() {
        remove_at(&mut value, steps);
    }
    value
}

/// Sorts the arrays at `unordered` by their elements' JSON text, so that two
/// arrays with the same elements in another order are equal.
fn sort_unordered(form: &mut Value, unordered: &[JsonPath]) {
    if unordered.is_empty() {
        return;
    }
    let mut locations: Vec<_> = unordered
        .iter()
        .flat_map(|path| path.locate(form))
        .collect();
    // Inner arrays first: sorting an outer array moves the inner ones.
    locations.sort_by_key(|steps| std::cmp::Reverse(steps.len()));
    for steps in &locations {
        if let Some(Value::Array(items)) = node_at_mut(form, steps) {
            items.sort_by_cached_key(Value::to_string);
        }
    }
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

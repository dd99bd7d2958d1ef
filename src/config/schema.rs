//! The JSON Schema of a bridge file, for TOML editors that complete and check
//! keys from a schema (Taplo and the Even Better TOML extension, for example).
//!
//! The structure comes from the serde structs in `raw.rs` through schemars,
//! so a new key appears in the schema without further work. This file adds
//! what the structs do not carry: descriptions, allowed words, and the
//! removal of `null`, which TOML does not have.

use serde_json::{json, Map, Value};

use super::raw::RawBridge;

/// Descriptions and allowed values of the bridge file's keys, by dotted path
/// (`[]` steps into an array's items).
const KEYS: &[(&str, &str)] = &[
    (
        "schedule",
        "When the bridge polls: set either every or cron",
    ),
    (
        "schedule.every",
        "Fixed interval; runs stay on the grid start, start + every, ...",
    ),
    (
        "schedule.cron",
        "Cron pattern: 5 fields, or 6 with seconds first; @hourly, @daily, ... accepted",
    ),
    (
        "schedule.timezone",
        "IANA time zone for cron, such as \"Europe/Berlin\"; default: the system's zone",
    ),
    (
        "schedule.jitter",
        "Random delay added to each run, up to this much",
    ),
    ("source", "The HTTP request that reads the API"),
    ("source.url", "http:// or https:// URL of the API"),
    ("source.method", "HTTP method; default GET"),
    (
        "source.headers",
        "Request headers; values are masked in logs",
    ),
    ("source.body", "Request body, sent as is"),
    (
        "source.timeout",
        "Limit for the whole request, body included; default 30s",
    ),
    (
        "source.max_body_size",
        "Larger bodies fail the poll; default 32MiB",
    ),
    ("source.format", "Format of the response body"),
    (
        "items",
        "Per-item mode: one event per created, updated or deleted item",
    ),
    (
        "items.path",
        "RFC 9535 JSONPath selecting the items, such as \"$.data[*]\"",
    ),
    (
        "items.id",
        "JSONPath inside each item giving its id (a string or an integer)",
    ),
    (
        "items.ignore",
        "JSONPaths inside each item left out of the comparison",
    ),
    (
        "document",
        "Whole-document mode: one document.changed event per change",
    ),
    (
        "document.path",
        "JSONPath of the watched node; default \"$\"",
    ),
    (
        "document.ignore",
        "JSONPaths from the document's root left out of the comparison",
    ),
    ("emit", "Which events the bridge sends"),
    (
        "emit.events",
        "Kinds of item event to send; default all three",
    ),
    (
        "emit.first_poll",
        "baseline: store the first poll silently; emit: send item.created for each item",
    ),
    (
        "emit.delete_guard",
        "Hold back mass deletions for one poll; default true",
    ),
    (
        "emit.delete_after",
        "Successful polls that must lack an item before it counts as deleted; default 1",
    ),
    (
        "emit.health_events",
        "Send bridge.failing and bridge.recovered; default true",
    ),
    (
        "emit.failing_after",
        "Consecutive failed polls before bridge.failing is sent; default 3",
    ),
    ("targets", "Receivers of the bridge's events"),
    (
        "targets[].url",
        "The receiver's URL; redirects are not followed",
    ),
    (
        "targets[].secret",
        "whsec_ + base64 key, or a list of them to rotate; requests are then signed",
    ),
    ("targets[].headers", "Extra request headers"),
];

/// Allowed words of string keys, by dotted path.
const WORDS: &[(&str, &[&str])] = &[
    ("emit.first_poll", &["baseline", "emit"]),
    ("emit.events[]", &["created", "updated", "deleted"]),
];

/// Returns the JSON Schema (draft 7, which most editors read) of a bridge file.
pub fn bridge_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<RawBridge>().to_value();
    remove_null(&mut schema);

    if let Value::Object(root) = &mut schema {
        root.insert("title".into(), json!("pollhook bridge file"));
        root.insert(
            "description".into(),
            json!("One bridge: which API to poll, how to find its items, and where to send the events. Strings may contain ${NAME} environment references."),
        );
    }
    for (path, description) in KEYS {
        if let Some(Value::Object(node)) = node_mut(&mut schema, path) {
            node.insert("description".into(), json!(description));
        }
    }
    for (path, words) in WORDS {
        if let Some(Value::Object(node)) = node_mut(&mut schema, path) {
            node.insert("enum".into(), json!(words));
        }
    }
    schema
}

/// Finds the schema of the key at `path`, stepping through `properties`,
/// array `items`, and the first object alternative of an `anyOf`.
fn node_mut<'a>(schema: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut node = schema;
    for step in path.split('.') {
        let (name, into_items) = match step.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (step, false),
        };
        node = object_schema(node)?.get_mut("properties")?.get_mut(name)?;
        if into_items {
            node = node.get_mut("items")?;
        }
    }
    Some(node)
}

fn object_schema(node: &mut Value) -> Option<&mut Map<String, Value>> {
    if node.get("properties").is_some() {
        return node.as_object_mut();
    }
    let alternatives = node.get_mut("anyOf")?.as_array_mut()?;
    alternatives
        .iter_mut()
        .find(|alternative| alternative.get("properties").is_some())?
        .as_object_mut()
}

/// Removes `null` from types and alternatives, since TOML has no null: an
/// optional key is simply left out.
fn remove_null(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|kind| kind != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(alternatives)) = map.get_mut("anyOf") {
                alternatives.retain(|alternative| alternative != &json!({ "type": "null" }));
                if alternatives.len() == 1 {
                    let only = alternatives.remove(0);
                    map.remove("anyOf");
                    if let Value::Object(only) = only {
                        map.extend(only);
                    }
                }
            }
            map.values_mut().for_each(remove_null);
        }
        Value::Array(items) => items.iter_mut().for_each(remove_null),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_keys_exist() {
        let mut schema = bridge_schema();
        for (path, _) in KEYS {
            assert!(
                node_mut(&mut schema, path).is_some(),
                "{path} is not in the schema"
            );
        }
        for (path, _) in WORDS {
            assert!(
                node_mut(&mut schema, path).is_some(),
                "{path} is not in the schema"
            );
        }
    }

    #[test]
    fn schema_rejects_unknown_keys() {
        let schema = bridge_schema();
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["properties"]["source"]["additionalProperties"],
            false
        );
        assert_eq!(schema["required"], json!(["schedule", "source"]));
    }

    #[test]
    fn schema_has_no_null() {
        let text = bridge_schema().to_string();
        assert!(!text.contains("null"), "{text}");
    }

    #[test]
    fn example_bridges_use_known_keys() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bridges");
        let schema = bridge_schema();
        for entry in std::fs::read_dir(root).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let value = parse_toml(&text);
            check_keys(&schema, &value, &path.display().to_string());
        }
    }

    fn parse_toml(text: &str) -> Value {
        use figment::providers::{Format, Toml};
        figment::Figment::from(Toml::string(text))
            .extract()
            .expect("example bridge is valid TOML")
    }

    fn check_keys(schema: &Value, value: &Value, at: &str) {
        match value {
            Value::Object(map) => {
                // Free-form tables such as headers accept any key.
                if schema.get("additionalProperties") != Some(&json!(false)) {
                    return;
                }
                let properties = schema
                    .get("properties")
                    .unwrap_or_else(|| panic!("{at} is not a table in the schema"));
                for (key, child) in map {
                    let child_schema = properties
                        .get(key)
                        .unwrap_or_else(|| panic!("{at}.{key} is not in the schema"));
                    check_keys(child_schema, child, &format!("{at}.{key}"));
                }
            }
            Value::Array(items) => {
                if let Some(items_schema) = schema.get("items") {
                    for item in items {
                        check_keys(items_schema, item, &format!("{at}[]"));
                    }
                }
            }
            _ => {}
        }
    }
}

//! The bridge file as written: serde structs that mirror the TOML keys.
//!
//! Unknown keys are errors, so a typo never falls back to a default. Values
//! are checked and compiled afterwards, in `bridge.rs`.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::units::{ByteSize, HumanDuration};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBridge {
    pub schedule: RawSchedule,
    pub source: RawSource,
    pub items: Option<RawItems>,
    pub document: Option<RawDocument>,
    #[serde(default)]
    pub emit: RawEmit,
    #[serde(default)]
    pub targets: Vec<RawTarget>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub every: Option<HumanDuration>,
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub jitter: Option<HumanDuration>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub url: String,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub timeout: Option<HumanDuration>,
    pub max_body_size: Option<ByteSize>,
    pub format: Option<String>,
    pub conditional: Option<bool>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    pub pagination: Option<RawPagination>,
    pub auth: Option<RawAuth>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawItems {
    pub path: Option<String>,
    pub id: Option<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub unordered: Vec<String>,
    pub mode: Option<String>,
    pub forget_after: Option<HumanDuration>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDocument {
    pub path: Option<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEmit {
    pub events: Option<Vec<String>>,
    pub first_poll: Option<String>,
    pub delete_guard: Option<bool>,
    pub delete_after: Option<u32>,
    pub health_events: Option<bool>,
    pub failing_after: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub url: String,
    #[serde(default)]
    pub secret: OneOrMany,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub rate_limit: Option<String>,
    pub max_in_flight: Option<usize>,
}

/// `[source.pagination]`: the keys of every type, checked per type later.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPagination {
    #[serde(rename = "type")]
    pub kind: String,
    pub next: Option<String>,
    pub cursor: Option<String>,
    pub param: Option<String>,
    pub start: Option<u64>,
    pub size_param: Option<String>,
    pub size: Option<u64>,
    pub total: Option<String>,
    pub max_pages: Option<u32>,
}

/// `[source.auth]`: the keys of every type, checked per type later.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    #[serde(rename = "type")]
    pub kind: String,
    pub token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub name: Option<String>,
    pub value: Option<String>,
    pub token_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<OneOrMany>,
    pub client_auth: Option<String>,
}

/// A key that takes one string or a list of strings, such as `secret`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;

        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![text.to_owned()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element::<String>()? {
                    values.push(value);
                }
                Ok(OneOrMany(values))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

impl JsonSchema for OneOrMany {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OneOrMany".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } }
            ]
        })
    }
}

//! Newtypes for the names and ids that pass between pipeline stages, so that a
//! bridge name is never mistaken for an item id or an event id.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A bridge's name: the stem of its file, matching `[a-z0-9][a-z0-9_-]*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BridgeName(String);

/// An item's id as text: strings as they are, integers in decimal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(String);

/// The unique id of one event, sent as `webhook-id` on every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(String);

impl BridgeName {
    /// Checks `name` against the allowed pattern.
    pub fn parse(name: &str) -> Result<BridgeName, String> {
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok {
            Ok(BridgeName(name.to_owned()))
        } else {
            Err(format!(
                "invalid bridge name {name:?}: rename the file so that its name matches [a-z0-9][a-z0-9_-]*"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ItemId {
    pub fn new(id: impl Into<String>) -> ItemId {
        ItemId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl EventId {
    /// Creates a new, time-ordered event id.
    pub fn generate() -> EventId {
        EventId(format!("evt_{}", uuid::Uuid::now_v7().simple()))
    }

    pub fn from_stored(id: String) -> EventId {
        EventId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_str {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    )*};
}

display_as_str!(BridgeName, ItemId, EventId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_name_pattern() {
        assert!(BridgeName::parse("orders").is_ok());
        assert!(BridgeName::parse("0rders_v2-eu").is_ok());
        assert!(BridgeName::parse("Orders").is_err());
        assert!(BridgeName::parse("-orders").is_err());
        assert!(BridgeName::parse("").is_err());
        assert!(BridgeName::parse("or ders").is_err());
    }

    #[test]
    fn event_ids_are_unique() {
        assert_ne!(EventId::generate(), EventId::generate());
    }
}

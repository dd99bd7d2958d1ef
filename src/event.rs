//! The event body that receivers get, built once when a change is detected
//! or when a bridge starts or stops failing.
//!
//! The body is serialized here and stored as bytes. Every attempt sends and
//! signs exactly those bytes, so the signature always covers what is on the
//! wire.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::diff::Change;
use crate::ids::{BridgeName, EventId};
use crate::store::NewEvent;

/// Builds the queued event for `change`, detected at `detected_at`.
pub fn new_event(bridge: &BridgeName, change: &Change, detected_at: DateTime<Utc>) -> NewEvent {
    let (kind, item_id, data) = match change {
        Change::Created { id, after } => (
            "item.created",
            Some(id),
            item_data(bridge, id.as_str(), &Value::Null, after, None),
        ),
        Change::Updated {
            id,
            before,
            after,
            changes,
        } => {
            let changes = serde_json::to_value(changes).unwrap_or(Value::Array(Vec::new()));
            (
                "item.updated",
                Some(id),
                item_data(bridge, id.as_str(), before, after, Some(changes)),
            )
        }
        Change::Deleted { id, before } => (
            "item.deleted",
            Some(id),
            item_data(bridge, id.as_str(), before, &Value::Null, None),
        ),
        Change::DocumentChanged {
            before,
            after,
            changes,
        } => {
            let mut data = Map::new();
            data.insert("bridge".into(), json!(bridge.as_str()));
            data.insert("before".into(), before.clone().unwrap_or(Value::Null));
            data.insert("after".into(), after.clone());
            data.insert(
                "changes".into(),
                serde_json::to_value(changes).unwrap_or(Value::Array(Vec::new())),
            );
            ("document.changed", None, data)
        }
    };
    let body = json!({
        "type": kind,
        "timestamp": detected_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "data": Value::Object(data),
    });
    NewEvent {
        event_id: EventId::generate(),
        kind,
        item_id: item_id.cloned(),
        body: serde_json::to_vec(&body).expect("a JSON value always serializes"),
    }
}

/// Builds the `bridge.failing` event, sent once when a bridge has failed
/// `consecutive_failures` polls in a row since `since`. `error` must already
/// be masked.
pub fn bridge_failing_event(
    bridge: &BridgeName,
    error: &str,
    consecutive_failures: u32,
    since: DateTime<Utc>,
    detected_at: DateTime<Utc>,
) -> NewEvent {
    let data = json!({
        "bridge": bridge.as_str(),
        "error": error,
        "consecutive_failures": consecutive_failures,
        "since": rfc3339(since),
    });
    health_event("bridge.failing", data, detected_at)
}

/// Builds the `bridge.recovered` event, sent by the first successful poll
/// after a `bridge.failing` event.
pub fn bridge_recovered_event(
    bridge: &BridgeName,
    failed_polls: u32,
    since: DateTime<Utc>,
    detected_at: DateTime<Utc>,
) -> NewEvent {
    let data = json!({
        "bridge": bridge.as_str(),
        "failed_polls": failed_polls,
        "since": rfc3339(since),
    });
    health_event("bridge.recovered", data, detected_at)
}

fn health_event(kind: &'static str, data: Value, detected_at: DateTime<Utc>) -> NewEvent {
    let body = json!({
        "type": kind,
        "timestamp": rfc3339(detected_at),
        "data": data,
    });
    NewEvent {
        event_id: EventId::generate(),
        kind,
        item_id: None,
        body: serde_json::to_vec(&body).expect("a JSON value always serializes"),
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn item_data(
    bridge: &BridgeName,
    id: &str,
    before: &Value,
    after: &Value,
    changes: Option<Value>,
) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("bridge".into(), json!(bridge.as_str()));
    data.insert("id".into(), json!(id));
    data.insert("before".into(), before.clone());
    data.insert("after".into(), after.clone());
    if let Some(changes) = changes {
        data.insert("changes".into(), changes);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ItemId;

    fn bridge() -> BridgeName {
        BridgeName::parse("orders").unwrap()
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T19:30:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn updated_event_body_matches_contract() {
        let before = json!({"id": "A-1001", "status": "open"});
        let after = json!({"id": "A-1001", "status": "paid"});
        let changes = json_patch::diff(&before, &after);
        let change = Change::Updated {
            id: ItemId::new("A-1001"),
            before: before.clone(),
            after: after.clone(),
            changes,
        };
        let event = new_event(&bridge(), &change, at());
        let body: Value = serde_json::from_slice(&event.body).unwrap();
        assert_eq!(event.kind, "item.updated");
        assert_eq!(
            body,
            json!({
                "type": "item.updated",
                "timestamp": "2026-12-04T19:30:00Z",
                "data": {
                    "bridge": "orders", "id": "A-1001", "before": before, "after": after,
                    "changes": [{"op": "replace", "path": "/status", "value": "paid"}]
                }
            })
        );
    }

    #[test]
    fn created_has_null_before_and_no_changes() {
        let change = Change::Created {
            id: ItemId::new("7"),
            after: json!({"id": 7}),
        };
        let body: Value =
            serde_json::from_slice(&new_event(&bridge(), &change, at()).body).unwrap();
        assert_eq!(body["data"]["before"], Value::Null);
        assert!(body["data"].get("changes").is_none());
        assert_eq!(body["data"]["id"], "7");
    }

    #[test]
    fn failing_event_body_matches_contract() {
        let since = at() - chrono::TimeDelta::minutes(2);
        let event = bridge_failing_event(&bridge(), "HTTP 503", 3, since, at());
        let body: Value = serde_json::from_slice(&event.body).unwrap();
        assert_eq!(event.kind, "bridge.failing");
        assert_eq!(event.item_id, None);
        assert_eq!(
            body,
            json!({
                "type": "bridge.failing",
                "timestamp": "2026-12-04T19:30:00Z",
                "data": {
                    "bridge": "orders", "error": "HTTP 503",
                    "consecutive_failures": 3, "since": "2026-12-04T19:28:00Z"
                }
            })
        );
    }

    #[test]
    fn recovered_event_counts_failed_polls() {
        let event = bridge_recovered_event(&bridge(), 4, at(), at());
        let body: Value = serde_json::from_slice(&event.body).unwrap();
        assert_eq!(body["type"], "bridge.recovered");
        assert_eq!(body["data"]["failed_polls"], 4);
        assert_eq!(body["data"]["since"], "2026-12-04T19:30:00Z");
    }

    #[test]
    fn deleted_has_null_after() {
        let change = Change::Deleted {
            id: ItemId::new("7"),
            before: json!({"id": 7}),
        };
        let event = new_event(&bridge(), &change, at());
        let body: Value = serde_json::from_slice(&event.body).unwrap();
        assert_eq!(body["type"], "item.deleted");
        assert_eq!(body["data"]["after"], Value::Null);
    }
}

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn item(id: &str, value: Value) -> ExtractedItem {
    ExtractedItem {
        id: ItemId::new(id),
        item: value,
    }
}

fn stored(value: Value) -> StoredItem {
    StoredItem {
        item: value,
        missing_polls: 0,
        held: false,
    }
}

fn snapshot(items: &[(&str, Value)]) -> HashMap<ItemId, StoredItem> {
    items
        .iter()
        .map(|(id, value)| (ItemId::new(*id), stored(value.clone())))
        .collect()
}

const DEFAULT_POLICY: DeletePolicy = DeletePolicy {
    guard: true,
    delete_after: 1,
};

fn kinds(diff: &ItemsDiff) -> Vec<String> {
    diff.changes
        .iter()
        .map(|change| match change {
            Change::Created { id, .. } => format!("created {id}"),
            Change::Updated { id, .. } => format!("updated {id}"),
            Change::Deleted { id, .. } => format!("deleted {id}"),
            Change::DocumentChanged { .. } => "document".to_owned(),
        })
        .collect()
}

#[test]
fn reordered_items_give_no_changes() {
    let old = snapshot(&[("a", json!({"id": "a"})), ("b", json!({"id": "b"}))]);
    let new = [item("b", json!({"id": "b"})), item("a", json!({"id": "a"}))];
    let diff = diff_items(&old, &new, &[], DEFAULT_POLICY);
    assert!(diff.changes.is_empty());
    assert!(diff.writes.is_empty());
}

#[test]
fn changes_in_response_order_then_deletions_by_id() {
    let old = snapshot(&[
        ("1", json!({"v": 1})),
        ("10", json!({"v": 1})),
        ("9", json!({"v": 1})),
        ("2", json!({"v": 1})),
        ("3", json!({"v": 1})),
        ("4", json!({"v": 1})),
    ]);
    let new = [
        item("4", json!({"v": 2})),
        item("new", json!({"v": 1})),
        item("3", json!({"v": 2})),
        item("2", json!({"v": 1})),
    ];
    let diff = diff_items(&old, &new, &[], DEFAULT_POLICY);
    assert_eq!(
        kinds(&diff),
        [
            "updated 4",
            "created new",
            "updated 3",
            "deleted 1",
            "deleted 9",
            "deleted 10"
        ]
    );
}

#[test]
fn update_carries_patch_without_ignored_fields() {
    let old = snapshot(&[("a", json!({"status": "open", "views": 1}))]);
    let new = [item("a", json!({"status": "paid", "views": 2}))];
    let ignore = [JsonPath::parse("$.views").unwrap()];
    let diff = diff_items(&old, &new, &ignore, DEFAULT_POLICY);
    let Change::Updated {
        before,
        after,
        changes,
        ..
    } = &diff.changes[0]
    else {
        panic!("expected an update, got {:?}", diff.changes);
    };
    assert_eq!(before["views"], 1);
    assert_eq!(after["views"], 2);
    assert_eq!(
        serde_json::to_value(changes).unwrap(),
        json!([{"op": "replace", "path": "/status", "value": "paid"}])
    );
}

#[test]
fn ignored_change_stores_item_silently() {
    let old = snapshot(&[("a", json!({"title": "x", "views": 1}))]);
    let new = [item("a", json!({"title": "x", "views": 2}))];
    let ignore = [JsonPath::parse("$.views").unwrap()];
    let diff = diff_items(&old, &new, &ignore, DEFAULT_POLICY);
    assert!(diff.changes.is_empty());
    assert_eq!(
        diff.writes,
        [SnapshotWrite::Put {
            id: ItemId::new("a"),
            item: json!({"title": "x", "views": 2})
        }]
    );
}

#[test]
fn integral_float_equals_integer() {
    let old = snapshot(&[("a", serde_json::from_str(r#"{"price": 10}"#).unwrap())]);
    let new = [item(
        "a",
        serde_json::from_str(r#"{"price": 10.0}"#).unwrap(),
    )];
    assert!(diff_items(&old, &new, &[], DEFAULT_POLICY)
        .changes
        .is_empty());
}

#[test]
fn guard_holds_deletion_of_everything() {
    let old = snapshot(&[("a", json!(1))]);
    let diff = diff_items(&old, &[], &[], DEFAULT_POLICY);
    assert!(diff.changes.is_empty());
    assert_eq!(diff.held, 1);
    assert_eq!(
        diff.writes,
        [SnapshotWrite::Absent {
            id: ItemId::new("a"),
            missing_polls: 1,
            held: true
        }]
    );
}

#[test]
fn held_deletion_is_sent_on_next_poll_without_item() {
    let mut old = snapshot(&[("a", json!(1))]);
    old.get_mut(&ItemId::new("a")).unwrap().missing_polls = 1;
    old.get_mut(&ItemId::new("a")).unwrap().held = true;
    let diff = diff_items(&old, &[], &[], DEFAULT_POLICY);
    assert_eq!(kinds(&diff), ["deleted a"]);
    assert_eq!(diff.held, 0);
}

#[test]
fn guard_holds_more_than_half_of_four() {
    let old = snapshot(&[
        ("a", json!(1)),
        ("b", json!(1)),
        ("c", json!(1)),
        ("d", json!(1)),
    ]);
    let diff = diff_items(&old, &[item("a", json!(1))], &[], DEFAULT_POLICY);
    assert!(diff.changes.is_empty());
    assert_eq!(diff.held, 3);
}

#[test]
fn guard_allows_half_of_four() {
    let old = snapshot(&[
        ("a", json!(1)),
        ("b", json!(1)),
        ("c", json!(1)),
        ("d", json!(1)),
    ]);
    let new = [item("a", json!(1)), item("b", json!(1))];
    let diff = diff_items(&old, &new, &[], DEFAULT_POLICY);
    assert_eq!(kinds(&diff), ["deleted c", "deleted d"]);
}

#[test]
fn guard_allows_one_of_three() {
    let old = snapshot(&[("a", json!(1)), ("b", json!(1)), ("c", json!(1))]);
    let new = [item("a", json!(1)), item("b", json!(1))];
    assert_eq!(
        kinds(&diff_items(&old, &new, &[], DEFAULT_POLICY)),
        ["deleted c"]
    );
}

#[test]
fn guard_off_deletes_everything() {
    let old = snapshot(&[("a", json!(1)), ("b", json!(1))]);
    let policy = DeletePolicy {
        guard: false,
        delete_after: 1,
    };
    assert_eq!(
        kinds(&diff_items(&old, &[], &[], policy)),
        ["deleted a", "deleted b"]
    );
}

#[test]
fn delete_after_waits_for_consecutive_polls() {
    let policy = DeletePolicy {
        guard: false,
        delete_after: 3,
    };
    let mut old = snapshot(&[("a", json!(1)), ("b", json!(1))]);
    let present = [item("a", json!(1))];
    for expected_missing in 1..=2 {
        let diff = diff_items(&old, &present, &[], policy);
        assert!(diff.changes.is_empty());
        assert_eq!(
            diff.writes,
            [SnapshotWrite::Absent {
                id: ItemId::new("b"),
                missing_polls: expected_missing,
                held: false
            }]
        );
        old.get_mut(&ItemId::new("b")).unwrap().missing_polls = expected_missing;
    }
    assert_eq!(
        kinds(&diff_items(&old, &present, &[], policy)),
        ["deleted b"]
    );
}

#[test]
fn returning_item_resets_absence() {
    let mut old = snapshot(&[("a", json!(1))]);
    old.get_mut(&ItemId::new("a")).unwrap().missing_polls = 1;
    let diff = diff_items(&old, &[item("a", json!(1))], &[], DEFAULT_POLICY);
    assert!(diff.changes.is_empty());
    assert_eq!(
        diff.writes,
        [SnapshotWrite::Put {
            id: ItemId::new("a"),
            item: json!(1)
        }]
    );
}

#[test]
fn document_change_detected_once() {
    let before = json!({"status": "ok", "generated": 1});
    let after = json!({"generated": 2, "status": "down"});
    let ignore = [JsonPath::parse("$.generated").unwrap()];
    assert!(diff_document(
        Some(&before),
        &json!({"status": "ok", "generated": 5}),
        &ignore
    )
    .is_none());
    let Some(Change::DocumentChanged { changes, .. }) =
        diff_document(Some(&before), &after, &ignore)
    else {
        panic!("expected a document change");
    };
    assert_eq!(
        serde_json::to_value(changes).unwrap(),
        json!([{"op": "replace", "path": "/status", "value": "down"}])
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        (-1000.0f64..1000.0).prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn item_list() -> impl Strategy<Value = Vec<ExtractedItem>> {
    prop::collection::btree_map("[a-f]", json_value(), 0..6).prop_map(|map| {
        map.into_iter()
            .map(|(id, value)| item(&id, value))
            .collect()
    })
}

proptest! {
    #[test]
    fn snapshot_against_itself_gives_nothing(items in item_list()) {
        let old: HashMap<_, _> = items.iter().map(|i| (i.id.clone(), stored(i.item.clone()))).collect();
        let diff = diff_items(&old, &items, &[], DEFAULT_POLICY);
        prop_assert!(diff.changes.is_empty());
        prop_assert!(diff.writes.is_empty());
    }

    #[test]
    fn patch_turns_before_into_after(before in json_value(), after in json_value()) {
        let ignore = [JsonPath::parse("$.a").unwrap()];
        let wrap = |v: &Value| json!({"a": 1, "v": v});
        let old = snapshot(&[("x", wrap(&before))]);
        let diff = diff_items(&old, &[item("x", wrap(&after))], &ignore, DEFAULT_POLICY);
        for change in diff.changes {
            let Change::Updated { before, after, changes, .. } = change else {
                return Err(TestCaseError::fail("expected only updates"));
            };
            let mut patched = comparable(&before, &ignore);
            json_patch::patch(&mut patched, &changes).unwrap();
            prop_assert_eq!(patched, comparable(&after, &ignore));
        }
    }

    #[test]
    fn every_id_ends_in_one_write_or_none(old_items in item_list(), new_items in item_list()) {
        let old: HashMap<_, _> = old_items.iter().map(|i| (i.id.clone(), stored(i.item.clone()))).collect();
        let diff = diff_items(&old, &new_items, &[], DeletePolicy { guard: false, delete_after: 1 });
        let mut seen = HashSet::new();
        for write in &diff.writes {
            let id = match write {
                SnapshotWrite::Put { id, .. } | SnapshotWrite::Absent { id, .. } | SnapshotWrite::Remove { id } => id,
            };
            prop_assert!(seen.insert(id.clone()), "two writes for {}", id);
        }
    }
}

#[test]
fn kept_absent_items_are_neither_deleted_nor_counted() {
    let old = snapshot(&[("a", json!(1)), ("b", json!(2))]);
    let diff = diff_items_with(
        &old,
        &[item("a", json!(5))],
        Comparison::default(),
        AbsentItems::Keep,
    );
    assert_eq!(kinds(&diff), ["updated a"]);
    assert_eq!(diff.writes.len(), 1, "only the updated item is written");
    assert_eq!(diff.held, 0);
}

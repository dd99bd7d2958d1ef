use super::*;
use serde_json::json;

fn spec(path: &str, id: &str, ignore: &[&str]) -> ItemsSpec {
    ItemsSpec {
        path: JsonPath::parse(path).unwrap(),
        id: JsonPath::parse(id).unwrap(),
        ignore: ignore.iter().map(|p| JsonPath::parse(p).unwrap()).collect(),
        include: Vec::new(),
        unordered: Vec::new(),
        mode: ItemsMode::Full,
    }
}

fn ids(extraction: &Extraction) -> Vec<&str> {
    extraction
        .items
        .iter()
        .map(|item| item.id.as_str())
        .collect()
}

#[test]
fn items_keyed_in_response_order() {
    let doc = json!({"data": [{"id": "b"}, {"id": 7}, {"id": "a"}]});
    let extraction = extract_items(&doc, &spec("$.data[*]", "$.id", &[])).unwrap();
    assert_eq!(ids(&extraction), ["b", "7", "a"]);
}

#[test]
fn integer_id_beyond_i64_is_text() {
    let doc: Value = serde_json::from_str(r#"{"data": [{"id": 18446744073709551615}]}"#).unwrap();
    let extraction = extract_items(&doc, &spec("$.data[*]", "$.id", &[])).unwrap();
    assert_eq!(ids(&extraction), ["18446744073709551615"]);
}

#[test]
fn empty_array_is_valid_empty_list() {
    let doc = json!({"data": []});
    let extraction = extract_items(&doc, &spec("$.data[*]", "$.id", &[])).unwrap();
    assert!(extraction.items.is_empty());
}

#[test]
fn missing_collection_fails() {
    let doc = json!({"other": []});
    let error = extract_items(&doc, &spec("$.data[*]", "$.id", &[])).unwrap_err();
    assert!(matches!(error, ExtractError::CollectionMissing { .. }));
    assert!(error.to_string().contains("$.data"));
}

#[test]
fn scalar_collection_fails() {
    let doc = json!({"data": "maintenance"});
    let error = extract_items(&doc, &spec("$.data[*]", "$.id", &[])).unwrap_err();
    assert!(matches!(
        error,
        ExtractError::CollectionNotIterable {
            found: "a string",
            ..
        }
    ));
}

#[test]
fn object_collection_of_scalars_fails() {
    let doc = json!({"results": {"id": "r-2", "v": 2}});
    let error = extract_items(&doc, &spec("$.results[*]", "$.id", &[])).unwrap_err();
    assert!(matches!(
        error,
        ExtractError::ItemNotObject { index: 0, .. }
    ));
    assert!(error.to_string().contains("items path $.results[*]"));
}

#[test]
fn scalar_items_with_root_id() {
    let doc = json!({"names": ["x", "y"]});
    let extraction = extract_items(&doc, &spec("$.names[*]", "$", &[])).unwrap();
    assert_eq!(ids(&extraction), ["x", "y"]);
}

#[test]
fn bad_ids_name_index_and_path() {
    let cases = [
        json!({"items": [{"uid": "u-1"}, {"name": "no id"}]}),
        json!({"items": [{"uid": "u-1"}, {"uid": null}]}),
        json!({"items": [{"uid": "u-1"}, {"uid": true}]}),
        json!({"items": [{"uid": "u-1"}, {"uid": ""}]}),
        json!({"items": [{"uid": "u-1"}, {"uid": 1.5}]}),
    ];
    for doc in cases {
        let error = extract_items(&doc, &spec("$.items[*]", "$.uid", &[])).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("item 1:"), "{message}");
        assert!(message.contains("$.uid"), "{message}");
    }
}

#[test]
fn duplicate_id_keeps_first() {
    let doc = json!({"items": [{"id": "d", "v": 1}, {"id": "e"}, {"id": "d", "v": 2}]});
    let extraction = extract_items(&doc, &spec("$.items[*]", "$.id", &[])).unwrap();
    assert_eq!(ids(&extraction), ["d", "e"]);
    assert_eq!(extraction.items[0].item["v"], 1);
    assert_eq!(
        extraction.duplicates,
        [DuplicateId {
            id: ItemId::new("d"),
            first_index: 0,
            index: 2
        }]
    );
}

#[test]
fn single_node_path_must_match() {
    let doc = json!({"data": []});
    let error = extract_items(&doc, &spec("$.missing", "$.id", &[])).unwrap_err();
    assert!(matches!(error, ExtractError::NothingMatched { .. }));
}

#[test]
fn filter_path_may_select_nothing() {
    let doc = json!({"data": [{"id": 1, "active": false}]});
    let extraction = extract_items(&doc, &spec("$.data[?@.active == true]", "$.id", &[])).unwrap();
    assert!(extraction.items.is_empty());
}

#[test]
fn comparable_removes_ignored_paths() {
    let item = json!({"id": 1, "title": "a", "stats": {"views": 3, "likes": 1}});
    let ignore = [JsonPath::parse("$.stats.views").unwrap()];
    assert_eq!(
        comparable(&item, &ignore),
        json!({"id": 1, "stats": {"likes": 1}, "title": "a"})
    );
}

#[test]
fn comparable_removes_wildcard_paths() {
    let doc = json!({"generated_at": "t", "items": [{"id": 1, "stats": 1}, {"id": 2, "stats": 2}]});
    let ignore = [
        JsonPath::parse("$.generated_at").unwrap(),
        JsonPath::parse("$.items[*].stats").unwrap(),
    ];
    assert_eq!(
        comparable(&doc, &ignore),
        json!({"items": [{"id": 1}, {"id": 2}]})
    );
}

#[test]
fn comparable_removes_several_array_elements() {
    let doc = json!({"tags": ["a", "b", "c"]});
    let ignore = [JsonPath::parse("$.tags[0,2]").unwrap()];
    assert_eq!(comparable(&doc, &ignore), json!({"tags": ["b"]}));
}

#[test]
fn document_path_selects_node() {
    let doc = json!({"status": {"ok": true}});
    let spec = DocumentSpec {
        path: JsonPath::parse("$.status").unwrap(),
        ignore: vec![],
    };
    assert_eq!(select_document(&doc, &spec).unwrap(), json!({"ok": true}));
    let missing = DocumentSpec {
        path: JsonPath::parse("$.nope").unwrap(),
        ignore: vec![],
    };
    assert!(select_document(&doc, &missing).is_err());
}

fn paths(texts: &[&str]) -> Vec<JsonPath> {
    texts
        .iter()
        .map(|text| JsonPath::parse(text).unwrap())
        .collect()
}

#[test]
fn include_compares_only_selected_paths() {
    let include = paths(&["$.status", "$.lines[*].qty"]);
    let comparison = Comparison {
        include: &include,
        ..Comparison::default()
    };
    let before = json!({"id": 1, "status": "open", "views": 3, "lines": [{"sku": "a", "qty": 1}]});
    let after = json!({"id": 1, "status": "open", "views": 9, "lines": [{"sku": "b", "qty": 1}]});
    assert_eq!(
        comparable_with(&before, comparison),
        json!({"status": "open", "lines": [{"qty": 1}]})
    );
    assert_eq!(
        comparable_with(&before, comparison),
        comparable_with(&after, comparison)
    );
}

#[test]
fn include_then_ignore_removes_inside_selection() {
    let include = paths(&["$.customer"]);
    let ignore = paths(&["$.customer.last_seen"]);
    let comparison = Comparison {
        include: &include,
        ignore: &ignore,
        ..Comparison::default()
    };
    let item = json!({"id": 1, "customer": {"name": "Ana", "last_seen": "t1"}, "total": 3});
    assert_eq!(
        comparable_with(&item, comparison),
        json!({"customer": {"name": "Ana"}})
    );
}

#[test]
fn include_matching_nothing_gives_empty_object() {
    let include = paths(&["$.status"]);
    let comparison = Comparison {
        include: &include,
        ..Comparison::default()
    };
    assert_eq!(comparable_with(&json!({"id": 1}), comparison), json!({}));
}

#[test]
fn unordered_arrays_compare_as_multisets() {
    let unordered = paths(&["$.tags", "$.groups", "$.groups[*].members"]);
    let comparison = Comparison {
        unordered: &unordered,
        ..Comparison::default()
    };
    let before =
        json!({"tags": ["b", "a", "a"], "groups": [{"members": [2, 1]}, {"members": [3]}]});
    let after = json!({"tags": ["a", "b", "a"], "groups": [{"members": [3]}, {"members": [1, 2]}]});
    assert_eq!(
        comparable_with(&before, comparison),
        comparable_with(&after, comparison)
    );
    let fewer = json!({"tags": ["a", "b"], "groups": [{"members": [3]}, {"members": [1, 2]}]});
    assert_ne!(
        comparable_with(&before, comparison),
        comparable_with(&fewer, comparison),
        "a multiset counts repeated elements"
    );
}

#[test]
fn ordered_arrays_still_compare_by_order() {
    let unordered = paths(&["$.tags"]);
    let comparison = Comparison {
        unordered: &unordered,
        ..Comparison::default()
    };
    assert_ne!(
        comparable_with(&json!({"lines": [1, 2]}), comparison),
        comparable_with(&json!({"lines": [2, 1]}), comparison)
    );
}

#[test]
fn pages_form_one_list_with_running_indices() {
    let pages = [
        json!({"data": [{"id": "a"}, {"id": "b"}]}),
        json!({"data": [{"id": "c"}, {"id": "a"}]}),
    ];
    let extraction = extract_pages(&pages, &spec("$.data[*]", "$.id", &[])).unwrap();
    assert_eq!(ids(&extraction), ["a", "b", "c"]);
    assert_eq!(extraction.duplicates[0].index, 3);
}

#[test]
fn page_without_collection_fails() {
    let pages = [json!({"data": [{"id": "a"}]}), json!({"error": "busy"})];
    let error = extract_pages(&pages, &spec("$.data[*]", "$.id", &[])).unwrap_err();
    assert!(matches!(error, ExtractError::CollectionMissing { .. }));
}

#[test]
fn array_selected_as_item_suggests_wildcard() {
    let doc = json!({"data": [{"id": 1}]});
    let error = extract_items(&doc, &spec("$.data", "$.id", &[])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "items path $.data selected an array as one item: write $.data[*] to select its elements"
    );
}

//! The deletion guard: a poll that would delete every item, or more than half
//! of at least 4, holds its deletions until the next successful poll.

use serde_json::{json, Value};

use crate::support::{data, items_bridge, kinds_and_ids, Receiver, Reply, Upstream, Workspace};

fn item(id: &str) -> Value {
    json!({ "id": id, "name": format!("item {id}") })
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(kind, id)| (kind.to_string(), id.to_string()))
        .collect()
}

fn start(items: &[Value]) -> (Upstream, Receiver, Workspace) {
    let upstream = Upstream::start(Reply::json(&data(items)));
    let receiver = Receiver::start();
    let workspace = Workspace::new();
    workspace.write_bridge(
        "orders",
        &items_bridge(&upstream.url("/orders"), &receiver.url(), ""),
    );
    let baseline = workspace.poll("orders").expect_success();
    assert_eq!(baseline, Vec::<Value>::new());
    (upstream, receiver, workspace)
}

#[test]
fn emptied_list_holds_deletions_for_one_poll() {
    let (upstream, receiver, workspace) = start(&[item("A-3"), item("A-1"), item("A-2")]);
    upstream.reply_json(&data(&[]));

    let first_empty = workspace.poll("orders");
    let first_empty_events = first_empty.expect_success();
    let sent = workspace.poll("orders").expect_success();
    let after = workspace.poll("orders").expect_success();

    assert_eq!(first_empty_events, Vec::<Value>::new(), "{first_empty}");
    assert!(
        first_empty.stderr.contains("held"),
        "a warning must say deletions were held: {first_empty}"
    );
    assert_eq!(
        kinds_and_ids(&sent),
        pairs(&[
            ("item.deleted", "A-1"),
            ("item.deleted", "A-2"),
            ("item.deleted", "A-3"),
        ])
    );
    assert_eq!(sent[0]["data"]["before"], item("A-1"));
    assert_eq!(after, Vec::<Value>::new(), "deleted items are gone");
    assert_eq!(receiver.requests().len(), 3);
}

#[test]
fn mass_deletion_is_held_but_creations_go_out() {
    let (upstream, receiver, workspace) =
        start(&[item("A-1"), item("A-2"), item("A-3"), item("A-4")]);
    upstream.reply_json(&data(&[item("A-4"), item("A-9")]));

    let guarded_events = workspace.poll("orders").expect_success();
    let sent = workspace.poll("orders").expect_success();

    assert_eq!(
        kinds_and_ids(&guarded_events),
        pairs(&[("item.created", "A-9")])
    );
    assert_eq!(
        kinds_and_ids(&sent),
        pairs(&[
            ("item.deleted", "A-1"),
            ("item.deleted", "A-2"),
            ("item.deleted", "A-3"),
        ])
    );
    assert_eq!(receiver.requests().len(), 4);
}

#[test]
fn held_items_that_return_send_nothing() {
    let (upstream, receiver, workspace) = start(&[item("A-1"), item("A-2")]);
    upstream.reply_json(&data(&[]));
    let emptied_events = workspace.poll("orders").expect_success();
    upstream.reply_json(&data(&[item("A-1"), item("A-2")]));

    let returned = workspace.poll("orders").expect_success();
    upstream.reply_json(&data(&[]));
    let emptied_again = workspace.poll("orders").expect_success();

    assert_eq!(emptied_events, Vec::<Value>::new());
    assert_eq!(
        returned,
        Vec::<Value>::new(),
        "held items came back unchanged"
    );
    assert_eq!(
        emptied_again,
        Vec::<Value>::new(),
        "items that came back start a new hold instead of being deleted at once"
    );
    assert_eq!(receiver.requests().len(), 0);
}

use serde_json::json;

use super::*;
use crate::diff::SnapshotWrite;
use crate::ids::{BridgeName, EventId, ItemId};

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db")).unwrap();
    (dir, store)
}

fn event(id: &str) -> NewEvent {
    NewEvent {
        event_id: EventId::from_stored(format!("evt_{id}")),
        kind: "item.created",
        item_id: Some(ItemId::new(id)),
        body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
    }
}

#[test]
fn new_bridge_has_empty_snapshot() {
    let (_dir, store) = open();
    let snapshot = store
        .load_snapshot(&BridgeName::parse("orders").unwrap())
        .unwrap();
    assert!(!snapshot.baselined);
    assert!(snapshot.items.is_empty());
}

#[test]
fn empty_poll_still_marks_baseline() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &[],
            document: None,
            events: &[],
            targets: &[],
            polled_at: 1,
        })
        .unwrap();
    assert!(store.load_snapshot(&bridge).unwrap().baselined);
}

#[test]
fn snapshot_round_trips_with_large_ids() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    let big = ItemId::new("18446744073709551615");
    let writes = [
        SnapshotWrite::Put {
            id: big.clone(),
            item: json!({"n": 1}),
        },
        SnapshotWrite::Put {
            id: ItemId::new("b"),
            item: json!(2),
        },
    ];
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &writes,
            document: None,
            events: &[],
            targets: &[],
            polled_at: 1,
        })
        .unwrap();
    let absent = [SnapshotWrite::Absent {
        id: ItemId::new("b"),
        missing_polls: 1,
        held: true,
    }];
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &absent,
            document: None,
            events: &[],
            targets: &[],
            polled_at: 2,
        })
        .unwrap();

    let snapshot = store.load_snapshot(&bridge).unwrap();
    assert_eq!(snapshot.items[&big].item, json!({"n": 1}));
    assert_eq!(snapshot.items[&ItemId::new("b")].missing_polls, 1);
    assert!(snapshot.items[&ItemId::new("b")].held);
}

#[test]
fn lanes_deliver_in_order() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    let targets = ["http://a/".to_owned(), "http://b/".to_owned()];
    let events = [event("1"), event("2")];
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &[],
            document: None,
            events: &events,
            targets: &targets,
            polled_at: 5,
        })
        .unwrap();

    let heads = store.lane_heads(None).unwrap();
    assert_eq!(heads.len(), 2);
    assert!(heads.iter().all(|head| head.event_id.as_str() == "evt_1"));

    let attempt = AttemptRecord {
        attempted_at: 6,
        duration_ms: 1,
        outcome: "ok",
        status_code: Some(200),
        error: None,
        response_body: None,
    };
    store
        .record_attempt(heads[0].delivery_id, &attempt, DeliveryState::Delivered)
        .unwrap();
    let heads = store.lane_heads(None).unwrap();
    let ids: Vec<_> = heads.iter().map(|head| head.event_id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"evt_2"), "{ids:?}");
    assert!(ids.contains(&"evt_1"), "{ids:?}");
}

#[test]
fn retry_keeps_delivery_pending() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    let targets = ["http://a/".to_owned()];
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &[],
            document: None,
            events: &[event("1")],
            targets: &targets,
            polled_at: 5,
        })
        .unwrap();
    let head = &store.lane_heads(Some("orders")).unwrap()[0];
    let attempt = AttemptRecord {
        attempted_at: 6,
        duration_ms: 1,
        outcome: "status",
        status_code: Some(500),
        error: Some("HTTP 500".into()),
        response_body: None,
    };
    store
        .record_attempt(head.delivery_id, &attempt, DeliveryState::Retry { at: 99 })
        .unwrap();
    let head = &store.lane_heads(Some("orders")).unwrap()[0];
    assert_eq!(head.attempts, 1);
    assert_eq!(head.next_attempt_at, 99);
    assert!(store.lane_heads(Some("other")).unwrap().is_empty());
}

#[test]
fn reopen_keeps_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let bridge = BridgeName::parse("orders").unwrap();
    {
        let store = Store::open(&path).unwrap();
        let targets = ["http://a/".to_owned()];
        store
            .commit_poll(&PollCommit {
                bridge: &bridge,
                writes: &[],
                document: None,
                events: &[event("1")],
                targets: &targets,
                polled_at: 5,
            })
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.lane_heads(None).unwrap().len(), 1);
    assert_eq!(store.count_deliveries("pending").unwrap(), 1);
}

fn fail(store: &Store, bridge: &BridgeName, at: i64, report_from: u32) -> Option<NewEvent> {
    let targets = ["http://a/".to_owned()];
    let failure = PollFailure {
        bridge,
        error: "HTTP 503",
        polled_at: at,
        targets: &targets,
    };
    store
        .record_poll_failure(&failure, |streak| {
            (!streak.reported && streak.failed_polls >= report_from)
                .then(|| event(&format!("failing_{at}")))
        })
        .unwrap()
}

#[test]
fn failure_streak_reports_once() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();

    let queued: Vec<bool> = (1..=5)
        .map(|at| fail(&store, &bridge, at, 3).is_some())
        .collect();

    assert_eq!(queued, [false, false, true, false, false]);
    let heads = store.lane_heads(Some("orders")).unwrap();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].event_id.as_str(), "evt_failing_3");
}

#[test]
fn success_ends_reported_streak() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    fail(&store, &bridge, 10, 1);
    fail(&store, &bridge, 20, 1);

    let before = store.load_snapshot(&bridge).unwrap().streak;
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &[],
            document: None,
            events: &[],
            targets: &[],
            polled_at: 30,
        })
        .unwrap();
    let after = store.load_snapshot(&bridge).unwrap().streak;

    assert_eq!(
        before,
        FailureStreak {
            failed_polls: 2,
            since: 10,
            reported: true
        }
    );
    assert_eq!(after, FailureStreak::default());
}

#[test]
fn reset_baseline_clears_snapshot() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    let writes = [SnapshotWrite::Put {
        id: ItemId::new("a"),
        item: json!(1),
    }];
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &writes,
            document: None,
            events: &[],
            targets: &[],
            polled_at: 1,
        })
        .unwrap();

    store.reset_baseline(&bridge).unwrap();

    let snapshot = store.load_snapshot(&bridge).unwrap();
    assert!(!snapshot.baselined);
    assert!(snapshot.items.is_empty());
}

#[test]
fn prune_removes_old_finished_deliveries() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    let targets = ["http://a/".to_owned()];
    let events = [event("1"), event("2"), event("3")];
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &[],
            document: None,
            events: &events,
            targets: &targets,
            polled_at: 5,
        })
        .unwrap();
    let heads = store.pending_in_lane("orders", "http://a/", 0, 10).unwrap();
    let attempt = |at| AttemptRecord {
        attempted_at: at,
        duration_ms: 1,
        outcome: "ok",
        status_code: Some(200),
        error: None,
        response_body: None,
    };
    store
        .record_attempt(
            heads[0].delivery_id,
            &attempt(100),
            DeliveryState::Delivered,
        )
        .unwrap();
    store
        .record_attempt(heads[1].delivery_id, &attempt(100), DeliveryState::Failed)
        .unwrap();

    let kept = store.prune(50, 50).unwrap();
    assert_eq!(kept, Pruned::default(), "nothing is older than the cut-off");
    let pruned = store.prune(200, 50).unwrap();
    assert_eq!(
        pruned,
        Pruned {
            deliveries: 1,
            events: 1
        },
        "only the delivered one is past its retention"
    );
    let pruned = store.prune(200, 200).unwrap();
    assert_eq!(
        pruned,
        Pruned {
            deliveries: 1,
            events: 1
        }
    );
    assert_eq!(
        store.count_deliveries("pending").unwrap(),
        1,
        "pending deliveries are never pruned"
    );
    let attempts: i64 = store
        .lock()
        .query_row("SELECT COUNT(*) FROM attempts", [], |row| row.get(0))
        .unwrap();
    assert_eq!(attempts, 0, "attempts go with their deliveries");
}

#[test]
fn stale_attempt_changes_no_moved_delivery() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    let targets = ["http://old/".to_owned()];
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &[],
            document: None,
            events: &[event("1")],
            targets: &targets,
            polled_at: 5,
        })
        .unwrap();
    let head = store
        .pending_in_lane("orders", "http://old/", 0, 1)
        .unwrap()
        .remove(0);

    assert_eq!(
        store
            .move_target("http://old/", "http://new/", 100)
            .unwrap(),
        1
    );
    let stale = AttemptRecord {
        attempted_at: 50,
        duration_ms: 1,
        outcome: "status",
        status_code: Some(500),
        error: Some("HTTP 500".into()),
        response_body: None,
    };
    store
        .record_attempt(head.delivery_id, &stale, DeliveryState::Failed)
        .unwrap();

    let moved = store
        .pending_in_lane("orders", "http://new/", 0, 1)
        .unwrap();
    assert_eq!(
        moved.len(),
        1,
        "the attempt that started before the move leaves the moved delivery pending"
    );
    assert_eq!(moved[0].attempts, 0);
}

#[test]
fn delivered_stays_delivered() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    let targets = ["http://a/".to_owned()];
    store
        .commit_poll(&PollCommit {
            bridge: &bridge,
            writes: &[],
            document: None,
            events: &[event("1")],
            targets: &targets,
            polled_at: 5,
        })
        .unwrap();
    let head = store
        .pending_in_lane("orders", "http://a/", 0, 1)
        .unwrap()
        .remove(0);
    let ok = AttemptRecord {
        attempted_at: 10,
        duration_ms: 1,
        outcome: "ok",
        status_code: Some(200),
        error: None,
        response_body: None,
    };
    store
        .record_attempt(head.delivery_id, &ok, DeliveryState::Delivered)
        .unwrap();
    let late = AttemptRecord {
        attempted_at: 20,
        duration_ms: 1,
        outcome: "status",
        status_code: Some(500),
        error: None,
        response_body: None,
    };
    store
        .record_attempt(head.delivery_id, &late, DeliveryState::Retry { at: 30 })
        .unwrap();
    assert_eq!(store.count_deliveries("delivered").unwrap(), 1);
    assert_eq!(store.count_deliveries("pending").unwrap(), 0);
}

#[test]
fn next_poll_waits_for_rate_limit() {
    let (_dir, store) = open();
    let bridge = BridgeName::parse("orders").unwrap();
    store.set_next_poll(&bridge, Some(100)).unwrap();
    assert_eq!(store.bridge_overviews().unwrap()[0].next_poll_at, Some(100));
    store.postpone_source(&bridge, 500).unwrap();
    assert_eq!(store.bridge_overviews().unwrap()[0].next_poll_at, Some(500));
    store.clear_next_polls().unwrap();
    assert_eq!(
        store.bridge_overviews().unwrap()[0].next_poll_at,
        None,
        "no daemon, no next poll"
    );
}

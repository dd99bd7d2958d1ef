//! Comparison of a new poll's items with the stored snapshot.
//!
//! Pure: the caller loads the snapshot, passes the extracted items, and gets
//! back the changes to announce and the writes that bring the snapshot up to
//! date. This is also where the deletion guard and `delete_after` are applied,
//! because both decide which absent items count as deleted.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use json_patch::Patch;
use serde_json::Value;

use crate::extract::{comparable, comparable_with, Comparison, ExtractedItem};
use crate::ids::ItemId;
use crate::jsonpath::JsonPath;

/// An item as the snapshot stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    /// The full item of the last poll that contained it, ignored fields included.
    pub item: Value,
    /// Consecutive successful polls that lacked the item.
    pub missing_polls: u32,
    /// True when the deletion guard held back this item's deletion.
    pub held: bool,
}

/// When an absent item counts as deleted.
#[derive(Debug, Clone, Copy)]
pub struct DeletePolicy {
    /// Hold mass deletions back for one poll.
    pub guard: bool,
    /// Consecutive successful polls that must lack an item before it is deleted.
    pub delete_after: u32,
}

/// The treatment of snapshot items that a poll lacks.
#[derive(Debug, Clone, Copy)]
pub enum AbsentItems {
    /// They count as deleted under this policy.
    Delete(DeletePolicy),
    /// They stay in the snapshot unchanged and are never announced.
    Keep,
}

/// One detected change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Created {
        id: ItemId,
        after: Value,
    },
    Updated {
        id: ItemId,
        before: Value,
        after: Value,
        changes: Patch,
    },
    Deleted {
        id: ItemId,
        before: Value,
    },
    DocumentChanged {
        before: Option<Value>,
        after: Value,
        changes: Patch,
    },
}

/// A change to the stored snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotWrite {
    /// Store the item as it is now and reset its absence count.
    Put {
        id: ItemId,
        item: Value,
    },
    /// Keep the item, counting one more poll without it.
    Absent {
        id: ItemId,
        missing_polls: u32,
        held: bool,
    },
    Remove {
        id: ItemId,
    },
}

/// The changes and snapshot writes of one poll.
#[derive(Debug, Default)]
pub struct ItemsDiff {
    pub changes: Vec<Change>,
    pub writes: Vec<SnapshotWrite>,
    /// Deletions that the guard held back in this poll.
    pub held: usize,
}

/// Compares `items` with `snapshot`.
///
/// Created and updated changes follow the order of `items`; deletions follow,
/// in id order. An item whose raw JSON changed only in ignored fields gives no
/// change but is stored anew, so that a later event's `before` is current.
pub fn diff_items(
    snapshot: &HashMap<ItemId, StoredItem>,
    items: &[ExtractedItem],
    ignore: &[JsonPath],
    policy: DeletePolicy,
) -> ItemsDiff {
    diff_items_with(
        snapshot,
        items,
        Comparison::ignoring(ignore),
        AbsentItems::Delete(policy),
    )
}

/// Compares `items` with `snapshot` as [`diff_items`] does, with the full
/// comparison options and a choice of what absent items mean.
pub fn diff_items_with(
    snapshot: &HashMap<ItemId, StoredItem>,
    items: &[ExtractedItem],
    comparison: Comparison<'_>,
    absent_items: AbsentItems,
) -> ItemsDiff {
    let mut diff = ItemsDiff::default();
    let mut present = HashSet::with_capacity(items.len());

    for ExtractedItem { id, item } in items {
        present.insert(id);
        match snapshot.get(id) {
            None => {
                diff.changes.push(Change::Created {
                    id: id.clone(),
                    after: item.clone(),
                });
                diff.writes.push(put(id, item));
            }
            Some(stored) => compare_present(&mut diff, id, stored, item, comparison),
        }
    }

    let AbsentItems::Delete(policy) = absent_items else {
        return diff;
    };

    let mut absent: Vec<(&ItemId, &StoredItem)> = snapshot
        .iter()
        .filter(|(id, _)| !present.contains(id))
        .collect();
    absent.sort_by(|(a, _), (b, _)| compare_ids(a, b));
    apply_deletions(&mut diff, &absent, snapshot.len(), policy);
    diff
}

/// Compares the watched document with its stored version.
///
/// Returns `None` when they are equal once `ignore` paths are removed.
pub fn diff_document(before: Option<&Value>, after: &Value, ignore: &[JsonPath]) -> Option<Change> {
    let after_form = comparable(after, ignore);
    let before_form = before.map(|value| comparable(value, ignore));
    if before_form.as_ref() == Some(&after_form) {
        return None;
    }
    let changes = json_patch::diff(before_form.as_ref().unwrap_or(&Value::Null), &after_form);
    Some(Change::DocumentChanged {
        before: before.cloned(),
        after: after.clone(),
        changes,
    })
}

/// Orders ids as numbers when both are decimal integers, else as text.
pub fn compare_ids(a: &ItemId, b: &ItemId) -> Ordering {
    let (a, b) = (a.as_str(), b.as_str());
    let integer = |text: &str| {
        let digits = text.strip_prefix('-').unwrap_or(text);
        !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
    };
    if integer(a) && integer(b) && !a.starts_with('-') && !b.starts_with('-') {
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

fn compare_present(
    diff: &mut ItemsDiff,
    id: &ItemId,
    stored: &StoredItem,
    item: &Value,
    comparison: Comparison<'_>,
) {
    // Most items are unchanged, and equal raw JSON (serde_json ignores key
    // order) is equal in comparison form too, so that work is skipped.
    if stored.item == *item {
        if stored.missing_polls > 0 {
            diff.writes.push(put(id, item));
        }
        return;
    }
    let before_form = comparable_with(&stored.item, comparison);
    let after_form = comparable_with(item, comparison);
    if before_form != after_form {
        diff.changes.push(Change::Updated {
            id: id.clone(),
            before: stored.item.clone(),
            after: item.clone(),
            changes: json_patch::diff(&before_form, &after_form),
        });
        diff.writes.push(put(id, item));
    } else if stored.item != *item || stored.missing_polls > 0 {
        diff.writes.push(put(id, item));
    }
}

fn apply_deletions(
    diff: &mut ItemsDiff,
    absent: &[(&ItemId, &StoredItem)],
    snapshot_len: usize,
    policy: DeletePolicy,
) {
    let missing_polls = |stored: &StoredItem| stored.missing_polls.saturating_add(1);
    let due: Vec<_> = absent
        .iter()
        .filter(|(_, stored)| missing_polls(stored) >= policy.delete_after.max(1))
        .collect();
    let hold = policy.guard && is_mass_deletion(due.len(), snapshot_len);

    for (id, stored) in absent {
        let is_due = missing_polls(stored) >= policy.delete_after.max(1);
        // A deletion the guard held last time goes out now; a new one waits
        // when this poll looks like a mass deletion.
        let release = !hold || stored.held;
        if is_due && release {
            diff.changes.push(Change::Deleted {
                id: (*id).clone(),
                before: stored.item.clone(),
            });
            diff.writes
                .push(SnapshotWrite::Remove { id: (*id).clone() });
            continue;
        }
        let held = is_due && hold;
        diff.held += usize::from(held);
        diff.writes.push(SnapshotWrite::Absent {
            id: (*id).clone(),
            missing_polls: missing_polls(stored),
            held,
        });
    }
}

/// Applies the guard's rule: every item of a non-empty snapshot, or more than
/// half of a snapshot of at least four items, counts as a mass deletion.
fn is_mass_deletion(deletions: usize, snapshot_len: usize) -> bool {
    (snapshot_len > 0 && deletions == snapshot_len)
        || (snapshot_len >= 4 && deletions * 2 > snapshot_len)
}

fn put(id: &ItemId, item: &Value) -> SnapshotWrite {
    SnapshotWrite::Put {
        id: id.clone(),
        item: item.clone(),
    }
}

#[cfg(test)]
mod tests;

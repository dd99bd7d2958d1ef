//! One pass over a bridge's queue for `pollhook poll`: one attempt per
//! queued event, in lane order, recorded before the command exits.

use std::collections::{HashMap, HashSet};

use tokio::time::Instant;

use super::deliverer::{Deliverer, Lane};
use super::pacing::Pacer;
use super::policy::Verdict;
use crate::store::StoreError;

/// Makes one attempt for every queued event of `bridge`, due or not, in lane
/// order. A lane stops at its first failure, so that order is kept, and rate
/// limits are respected by waiting. Returns the delivered and failed counts.
pub async fn deliver_pending_once(
    deliverer: &Deliverer,
    bridge: &str,
) -> Result<(usize, usize), StoreError> {
    let mut stopped: HashSet<Lane> = HashSet::new();
    let mut pacers: HashMap<String, Pacer> = HashMap::new();
    let (mut delivered, mut failed) = (0, 0);
    loop {
        let name = bridge.to_owned();
        let heads = deliverer
            .store
            .run_blocking(move |store| store.lane_heads(Some(&name)))
            .await?;
        let open: Vec<_> = heads
            .into_iter()
            .filter(|head| !stopped.contains(&(head.bridge.clone(), head.target.clone())))
            .filter_map(|head| {
                deliverer
                    .target_of(&head.bridge, &head.target)
                    .map(|target| (head, target))
            })
            .collect();
        if open.is_empty() {
            return Ok((delivered, failed));
        }
        for (head, target) in open {
            if let Some(limit) = target.rate_limit {
                let pacer = pacers
                    .entry(head.target.clone())
                    .or_insert_with(|| Pacer::new(limit));
                while let Err(delay) = pacer.try_acquire(Instant::now()) {
                    tokio::time::sleep(delay).await;
                }
            }
            if deliverer.deliver_and_record(&head, &target).await? == Verdict::Delivered {
                delivered += 1;
            } else {
                failed += 1;
                stopped.insert((head.bridge.clone(), head.target.clone()));
            }
        }
    }
}

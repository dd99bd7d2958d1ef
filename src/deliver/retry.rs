//! The retry schedule: when the next attempt runs, or whether the event has
//! failed for good. Pure, so it takes `now` as a parameter.

use std::time::Duration;

use crate::store::DeliveryState;

/// Returns the state of a delivery after a failed attempt.
///
/// `attempts_made` counts the attempt that just failed. `schedule[n - 1]` is
/// the delay before attempt `n + 1`, so a schedule of seven delays allows
/// eight attempts in all.
pub fn next_state(attempts_made: u32, schedule: &[Duration], now_millis: i64) -> DeliveryState {
    let index = attempts_made.saturating_sub(1) as usize;
    match schedule.get(index) {
        Some(delay) => DeliveryState::Retry {
            at: now_millis.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
        },
        None => DeliveryState::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seconds(values: &[u64]) -> Vec<Duration> {
        values
            .iter()
            .map(|value| Duration::from_secs(*value))
            .collect()
    }

    #[test]
    fn delays_follow_schedule() {
        let schedule = seconds(&[5, 300]);
        assert_eq!(
            next_state(1, &schedule, 1_000),
            DeliveryState::Retry { at: 6_000 }
        );
        assert_eq!(
            next_state(2, &schedule, 1_000),
            DeliveryState::Retry { at: 301_000 }
        );
        assert_eq!(next_state(3, &schedule, 1_000), DeliveryState::Failed);
    }

    #[test]
    fn empty_schedule_fails_after_first_attempt() {
        assert_eq!(next_state(1, &[], 0), DeliveryState::Failed);
    }

    proptest! {
        #[test]
        fn attempts_are_bounded_by_schedule(len in 0usize..10, attempts in 1u32..20) {
            let schedule = vec![Duration::from_secs(1); len];
            let state = next_state(attempts, &schedule, 0);
            prop_assert_eq!(state == DeliveryState::Failed, attempts as usize > len);
        }

        #[test]
        fn retry_is_never_in_the_past(delay in 0u64..1_000_000, now in 0i64..1_000_000_000) {
            let state = next_state(1, &[Duration::from_millis(delay)], now);
            prop_assert_eq!(state, DeliveryState::Retry { at: now + delay as i64 });
        }
    }
}

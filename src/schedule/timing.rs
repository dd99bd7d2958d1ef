//! Pure timing rules for interval schedules and jitter: the next slot on the interval
//! grid and a random extra delay.
//!
//! Everything here takes the current time and the random number generator as
//! parameters. It must not read the clock or sleep.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// Returns the first slot of the grid `anchor + k × every` (k ≥ 1) that is strictly
/// after `now`, so slots that passed while a poll was running are skipped instead of
/// run back to back.
///
/// Returns None when `every` is zero or the slot is too far in the future for
/// [`Instant`].
pub fn next_interval_slot(anchor: Instant, every: Duration, now: Instant) -> Option<Instant> {
    if every.is_zero() {
        return None;
    }

    // Slots up to and including `now` have passed. The quotient counts those after the
    // anchor, which is itself slot 0.
    let elapsed = now.saturating_duration_since(anchor);
    let periods = elapsed.as_nanos() / every.as_nanos() + 1;
    let offset = duration_from_nanos(periods.checked_mul(every.as_nanos())?)?;
    anchor.checked_add(offset)
}

/// Returns a random delay uniformly distributed in `[0, max]`.
pub fn jitter_delay<R: Rng + ?Sized>(max: Duration, rng: &mut R) -> Duration {
    rng.random_range(Duration::ZERO..=max)
}

/// Counts the grid slots strictly between `ran`, the slot that last ran, and `next`.
pub(super) fn skipped_slots(ran: Instant, next: Instant, every: Duration) -> u64 {
    if every.is_zero() {
        return 0;
    }
    let periods = next.saturating_duration_since(ran).as_nanos() / every.as_nanos();
    u64::try_from(periods.saturating_sub(1)).unwrap_or(u64::MAX)
}

fn duration_from_nanos(nanos: u128) -> Option<Duration> {
    const NANOS_PER_SECOND: u128 = 1_000_000_000;
    let seconds = u64::try_from(nanos / NANOS_PER_SECOND).ok()?;
    let subsecond_nanos = u32::try_from(nanos % NANOS_PER_SECOND).ok()?;
    Some(Duration::new(seconds, subsecond_nanos))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn slot_within_first_period_is_anchor_plus_every() {
        let anchor = Instant::now();

        let next = next_interval_slot(anchor, 10 * SECOND, anchor + 3 * SECOND);

        assert_eq!(next, Some(anchor + 10 * SECOND));
    }

    #[test]
    fn slot_at_anchor_is_anchor_plus_every() {
        let anchor = Instant::now();

        let next = next_interval_slot(anchor, 10 * SECOND, anchor);

        assert_eq!(next, Some(anchor + 10 * SECOND));
    }

    #[test]
    fn slot_exactly_on_grid_moves_to_following_slot() {
        let anchor = Instant::now();

        let next = next_interval_slot(anchor, 10 * SECOND, anchor + 20 * SECOND);

        assert_eq!(next, Some(anchor + 30 * SECOND));
    }

    #[test]
    fn missed_slots_are_skipped() {
        let anchor = Instant::now();

        let next = next_interval_slot(anchor, 10 * SECOND, anchor + 25 * SECOND);

        assert_eq!(next, Some(anchor + 30 * SECOND));
    }

    #[test]
    fn now_before_anchor_gives_first_slot() {
        let now = Instant::now();
        let anchor = now + 5 * SECOND;

        let next = next_interval_slot(anchor, 10 * SECOND, now);

        assert_eq!(next, Some(anchor + 10 * SECOND));
    }

    #[test]
    fn zero_interval_has_no_slot() {
        let anchor = Instant::now();

        assert_eq!(next_interval_slot(anchor, Duration::ZERO, anchor), None);
    }

    #[test]
    fn skipped_slots_counts_slots_between() {
        let ran = Instant::now();
        let every = 10 * SECOND;

        assert_eq!(skipped_slots(ran, ran + every, every), 0);
        assert_eq!(skipped_slots(ran, ran + 3 * every, every), 2);
        assert_eq!(skipped_slots(ran, ran + 3 * every, Duration::ZERO), 0);
    }

    #[test]
    fn jitter_of_zero_is_zero() {
        let mut rng = StdRng::seed_from_u64(7);

        assert_eq!(jitter_delay(Duration::ZERO, &mut rng), Duration::ZERO);
    }

    #[test]
    fn jitter_covers_whole_range() {
        let mut rng = StdRng::seed_from_u64(7);
        let max = 10 * SECOND;

        let delays: Vec<Duration> = (0..1000).map(|_| jitter_delay(max, &mut rng)).collect();

        assert!(delays.iter().all(|delay| *delay <= max));
        assert!(delays.iter().any(|delay| *delay < SECOND));
        assert!(delays.iter().any(|delay| *delay > 9 * SECOND));
    }

    proptest! {
        #[test]
        fn slot_is_first_grid_point_after_now(
            anchor_offset_ms in 0u64..1_000_000,
            every_ms in 1u64..100_000,
            now_offset_ms in 0u64..10_000_000,
        ) {
            let base = Instant::now();
            let anchor = base + Duration::from_millis(anchor_offset_ms);
            let every = Duration::from_millis(every_ms);
            let now = base + Duration::from_millis(now_offset_ms);

            let next = next_interval_slot(anchor, every, now).expect("slot in range");

            let from_anchor = next.duration_since(anchor);
            prop_assert!(next > now);
            prop_assert!(from_anchor >= every);
            prop_assert_eq!(from_anchor.as_nanos() % every.as_nanos(), 0);
            let previous = next - every;
            prop_assert!(previous <= now || previous == anchor);
        }
    }
}

//! The decision after an attempt: delivered, retried later, failed for good,
//! or the target disabled. Pure: `now` and the jitter sample are parameters.

use std::time::Duration;

use super::attempt::AttemptOutcome;

/// Shortest wait before the next attempt to a target that timed out or
/// answered 429, 502, 503 or 504: the receiver is overloaded or down, and
/// retrying sooner would only add load.
pub const OVERLOAD_WAIT: Duration = Duration::from_secs(60);
/// Each scheduled delay is stretched or shrunk by up to this fraction, so that
/// retries of many events do not arrive together.
pub const JITTER_FRACTION: f64 = 0.2;

/// The retry settings of `[delivery]`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delays before attempts 2, 3, …
    pub schedule: Vec<Duration>,
    /// Upper bound on a receiver's `Retry-After`.
    pub max_retry_after: Duration,
}

/// The facts of one attempt that the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct AttemptFacts {
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    /// The receiver's `Retry-After`, already turned into a delay.
    pub retry_after: Option<Duration>,
}

/// The decision after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again at `at`; no attempt to the same target before `pause_until`.
    Retry {
        at: i64,
        pause_until: Option<i64>,
    },
    /// The retry schedule is used up.
    Failed,
    /// The receiver answered 410 Gone: stop sending to this target until an
    /// operator enables it again or its configuration changes.
    DisableTarget,
}

/// Decides what follows an attempt.
///
/// `attempts_made` counts this attempt. `jitter` is a sample in [-1, 1] that
/// scales [`JITTER_FRACTION`]. Times are Unix milliseconds.
pub fn decide(
    policy: &RetryPolicy,
    attempts_made: u32,
    facts: AttemptFacts,
    now: i64,
    jitter: f64,
) -> Verdict {
    if facts.outcome == AttemptOutcome::Ok {
        return Verdict::Delivered;
    }
    if facts.status == Some(410) {
        return Verdict::DisableTarget;
    }
    let Some(scheduled) = policy
        .schedule
        .get(attempts_made.saturating_sub(1) as usize)
    else {
        return Verdict::Failed;
    };

    let jittered = scheduled.mul_f64(1.0 + JITTER_FRACTION * jitter.clamp(-1.0, 1.0));
    let retry_after = facts
        .retry_after
        .map(|delay| delay.min(policy.max_retry_after));
    let overloaded = is_overload(facts);
    let floor = match (overloaded, retry_after) {
        (true, Some(delay)) => Some(delay.max(OVERLOAD_WAIT)),
        (true, None) => Some(OVERLOAD_WAIT),
        (false, delay) => delay,
    };
    let delay = floor.map_or(jittered, |floor| jittered.max(floor));
    Verdict::Retry {
        at: now.saturating_add(millis(delay)),
        pause_until: floor.map(|floor| now.saturating_add(millis(floor))),
    }
}

/// Tells whether the attempt timed out or got a status that means the
/// receiver is overloaded or down.
fn is_overload(facts: AttemptFacts) -> bool {
    facts.outcome == AttemptOutcome::Timeout || matches!(facts.status, Some(429 | 502 | 503 | 504))
}

/// Reads a `Retry-After` value: delay seconds, or an HTTP date.
///
/// A date in the past gives a zero delay; anything unreadable gives `None`.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delay = date.with_timezone(&chrono::Utc) - now;
    Some(delay.to_std().unwrap_or(Duration::ZERO))
}

fn millis(delay: Duration) -> i64 {
    i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(seconds: &[u64]) -> RetryPolicy {
        RetryPolicy {
            schedule: seconds
                .iter()
                .map(|value| Duration::from_secs(*value))
                .collect(),
            max_retry_after: Duration::from_secs(3600),
        }
    }

    fn status(code: u16) -> AttemptFacts {
        AttemptFacts {
            outcome: AttemptOutcome::Status,
            status: Some(code),
            retry_after: None,
        }
    }

    #[test]
    fn success_is_delivered() {
        let facts = AttemptFacts {
            outcome: AttemptOutcome::Ok,
            status: Some(204),
            retry_after: None,
        };
        assert_eq!(decide(&policy(&[5]), 1, facts, 0, 0.0), Verdict::Delivered);
    }

    #[test]
    fn plain_error_follows_schedule() {
        assert_eq!(
            decide(&policy(&[5, 300]), 1, status(500), 1_000, 0.0),
            Verdict::Retry {
                at: 6_000,
                pause_until: None
            }
        );
        assert_eq!(
            decide(&policy(&[5, 300]), 2, status(404), 1_000, 0.0),
            Verdict::Retry {
                at: 301_000,
                pause_until: None
            }
        );
    }

    #[test]
    fn schedule_used_up_fails() {
        assert_eq!(
            decide(&policy(&[5]), 2, status(500), 0, 0.0),
            Verdict::Failed
        );
        assert_eq!(
            decide(&policy(&[]), 1, status(500), 0, 0.0),
            Verdict::Failed
        );
    }

    #[test]
    fn gone_disables_target() {
        assert_eq!(
            decide(&policy(&[5]), 1, status(410), 0, 0.0),
            Verdict::DisableTarget
        );
    }

    #[test]
    fn overload_waits_a_minute() {
        for facts in [
            status(429),
            status(502),
            status(503),
            status(504),
            AttemptFacts {
                outcome: AttemptOutcome::Timeout,
                status: None,
                retry_after: None,
            },
        ] {
            assert_eq!(
                decide(&policy(&[5]), 1, facts, 0, 0.0),
                Verdict::Retry {
                    at: 60_000,
                    pause_until: Some(60_000)
                }
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_and_clamped() {
        let mut facts = status(503);
        facts.retry_after = Some(Duration::from_secs(120));
        assert_eq!(
            decide(&policy(&[5]), 1, facts, 0, 0.0),
            Verdict::Retry {
                at: 120_000,
                pause_until: Some(120_000)
            }
        );
        facts.retry_after = Some(Duration::from_secs(86_400));
        assert_eq!(
            decide(&policy(&[5]), 1, facts, 0, 0.0),
            Verdict::Retry {
                at: 3_600_000,
                pause_until: Some(3_600_000)
            }
        );
    }

    #[test]
    fn short_retry_after_on_plain_error_keeps_schedule() {
        let mut facts = status(500);
        facts.retry_after = Some(Duration::from_secs(1));
        assert_eq!(
            decide(&policy(&[5]), 1, facts, 0, 0.0),
            Verdict::Retry {
                at: 5_000,
                pause_until: Some(1_000)
            }
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Fri, 04 Dec 2026 10:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Fri, 04 Dec 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    proptest! {
        #[test]
        fn jitter_stays_within_twenty_percent(seconds in 1u64..100_000, jitter in -1.0f64..=1.0) {
            let Verdict::Retry { at, .. } = decide(&policy(&[seconds]), 1, status(500), 0, jitter) else {
                return Err(TestCaseError::fail("expected a retry"));
            };
            let scheduled = (seconds * 1000) as f64;
            prop_assert!(at as f64 >= scheduled * 0.8 - 1.0);
            prop_assert!(at as f64 <= scheduled * 1.2 + 1.0);
        }

        #[test]
        fn attempts_are_bounded_by_schedule(len in 0usize..10, attempts in 1u32..20) {
            let schedule = vec![1; len];
            let verdict = decide(&policy(&schedule), attempts, status(500), 0, 0.0);
            prop_assert_eq!(verdict == Verdict::Failed, attempts as usize > len);
        }
    }
}

//! Reading an upstream's rate-limit headers: until when the next request of
//! a bridge must wait.
//!
//! A 429 or 503 with `Retry-After` (seconds or an HTTP date), and any
//! response with `X-RateLimit-Remaining: 0` (or `RateLimit-Remaining: 0`)
//! and a reset time, postpone the bridge. Pure: the current time is passed in.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

/// The longest an upstream can postpone a bridge. A longer `Retry-After` is
/// cut to this, so that a wrong header cannot stop a bridge for days.
pub const MAX_POSTPONEMENT: Duration = Duration::from_secs(24 * 60 * 60);

/// A reset value at or above this is a Unix time; below, a number of seconds.
/// GitHub sends Unix times, the IETF RateLimit draft and others send seconds.
const UNIX_TIME_THRESHOLD: i64 = 1_000_000_000;

/// Returns the time before which the next request must not be sent, if the
/// response asks for a pause.
pub fn postponement(
    status: StatusCode,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let until = if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        retry_after(headers, now).or_else(|| exhausted_until(headers, now))
    } else {
        exhausted_until(headers, now)
    }?;
    let latest = now + TimeDelta::from_std(MAX_POSTPONEMENT).unwrap_or(TimeDelta::MAX);
    (until > now).then_some(until.min(latest))
}

/// Reads `Retry-After` as delay seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return now.checked_add_signed(TimeDelta::seconds(i64::try_from(seconds).ok()?));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(DateTime::<Utc>::from(date))
}

/// Reads the reset time when the remaining request count is 0.
fn exhausted_until(headers: &HeaderMap, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let header = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    let (remaining, reset) = match header("x-ratelimit-remaining") {
        Some(remaining) => (remaining, header("x-ratelimit-reset")?),
        None => (header("ratelimit-remaining")?, header("ratelimit-reset")?),
    };
    if remaining.parse::<f64>().ok()? > 0.0 {
        return None;
    }
    let reset: i64 = reset.parse::<f64>().ok()?.ceil() as i64;
    if reset >= UNIX_TIME_THRESHOLD {
        DateTime::from_timestamp(reset, 0)
    } else {
        now.checked_add_signed(TimeDelta::seconds(reset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_seconds() {
        let until = postponement(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "120")]),
            now(),
        );
        assert_eq!(until, Some(now() + TimeDelta::seconds(120)));
    }

    #[test]
    fn retry_after_http_date() {
        let until = postponement(
            StatusCode::SERVICE_UNAVAILABLE,
            &headers(&[("retry-after", "Fri, 04 Dec 2026 10:05:00 GMT")]),
            now(),
        );
        assert_eq!(until, Some(now() + TimeDelta::minutes(5)));
    }

    #[test]
    fn retry_after_on_other_status_is_ignored() {
        let until = postponement(
            StatusCode::INTERNAL_SERVER_ERROR,
            &headers(&[("retry-after", "120")]),
            now(),
        );
        assert_eq!(until, None);
    }

    #[test]
    fn past_or_invalid_retry_after_is_ignored() {
        let past = headers(&[("retry-after", "Fri, 04 Dec 2026 09:00:00 GMT")]);
        assert_eq!(
            postponement(StatusCode::TOO_MANY_REQUESTS, &past, now()),
            None
        );
        let invalid = headers(&[("retry-after", "soon")]);
        assert_eq!(
            postponement(StatusCode::TOO_MANY_REQUESTS, &invalid, now()),
            None
        );
    }

    #[test]
    fn exhausted_limit_with_unix_reset() {
        let reset = (now() + TimeDelta::seconds(90)).timestamp().to_string();
        let map = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ]);
        assert_eq!(
            postponement(StatusCode::OK, &map, now()),
            Some(now() + TimeDelta::seconds(90))
        );
    }

    #[test]
    fn exhausted_limit_with_delta_reset() {
        let map = headers(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "30")]);
        assert_eq!(
            postponement(StatusCode::OK, &map, now()),
            Some(now() + TimeDelta::seconds(30))
        );
    }

    #[test]
    fn remaining_requests_do_not_postpone() {
        let map = headers(&[("x-ratelimit-remaining", "3"), ("x-ratelimit-reset", "30")]);
        assert_eq!(postponement(StatusCode::OK, &map, now()), None);
    }

    #[test]
    fn long_postponement_is_capped() {
        let map = headers(&[("retry-after", "9999999")]);
        let until = postponement(StatusCode::TOO_MANY_REQUESTS, &map, now()).unwrap();
        assert_eq!(until, now() + TimeDelta::hours(24));
    }
}

//! Per-target rate limits (`rate_limit = "10/s"`): requests are spaced evenly,
//! so a backlog drains at the configured rate and never in a burst. Pure.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A request rate such as `10/s`, `600/m` or `5000/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

impl RateLimit {
    /// Returns the even spacing between two requests.
    pub fn interval(&self) -> Duration {
        self.per / self.requests
    }
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<RateLimit, String> {
        let invalid = || {
            format!("invalid rate {text:?}: write requests per unit, such as \"10/s\", \"600/m\" or \"5000/h\"")
        };
        let (count, unit) = text.trim().split_once('/').ok_or_else(invalid)?;
        let requests: u32 = count.trim().parse().map_err(|_| invalid())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(invalid()),
        };
        if requests == 0 {
            return Err(format!(
                "invalid rate {text:?}: the number of requests must be at least 1"
            ));
        }
        Ok(RateLimit { requests, per })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(formatter, "{}/{unit}", self.requests)
    }
}

/// Even spacing of requests: the earliest time the next one may start.
#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Duration,
    next_free: Option<tokio::time::Instant>,
}

impl Pacer {
    pub fn new(limit: RateLimit) -> Pacer {
        Pacer {
            interval: limit.interval(),
            next_free: None,
        }
    }

    /// Takes a slot at `now` if one is free; otherwise returns how long to wait.
    pub fn try_acquire(&mut self, now: tokio::time::Instant) -> Result<(), Duration> {
        match self.next_free {
            Some(next) if next > now => Err(next - now),
            _ => {
                self.next_free = Some(now + self.interval);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[test]
    fn rates_parse() {
        assert_eq!(
            "10/s".parse::<RateLimit>().unwrap().interval(),
            Duration::from_millis(100)
        );
        assert_eq!(
            "600/m".parse::<RateLimit>().unwrap().interval(),
            Duration::from_millis(100)
        );
        assert_eq!(
            " 2 / h ".parse::<RateLimit>().unwrap().interval(),
            Duration::from_secs(1800)
        );
    }

    #[test]
    fn bad_rates_are_rejected() {
        for text in ["10", "x/s", "10/d", "0/s", "-1/s", ""] {
            assert!(text.parse::<RateLimit>().is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn pacer_spaces_requests_evenly() {
        let mut pacer = Pacer::new("4/s".parse().unwrap());
        let start = Instant::now();
        assert_eq!(pacer.try_acquire(start), Ok(()));
        assert_eq!(pacer.try_acquire(start), Err(Duration::from_millis(250)));
        assert_eq!(
            pacer.try_acquire(start + Duration::from_millis(100)),
            Err(Duration::from_millis(150))
        );
        assert_eq!(
            pacer.try_acquire(start + Duration::from_millis(250)),
            Ok(())
        );
    }

    #[test]
    fn idle_pacer_does_not_save_up_a_burst() {
        let mut pacer = Pacer::new("10/s".parse().unwrap());
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(pacer.try_acquire(later), Ok(()));
        assert!(pacer.try_acquire(later).is_err());
    }
}

//! Decides when each bridge polls: fixed intervals on a grid, or cron patterns in a
//! time zone with its daylight-saving rules, plus random jitter, one tokio task per
//! bridge, and no overlapping runs.
//!
//! This module only decides when a poll is due. It must not poll, touch the database
//! or send anything: the caller passes the work as the `on_due` closure of
//! [`run_loop`].

mod cron;
mod run_loop;
mod timing;
mod zone;

use std::time::Duration;

pub use cron::CronSchedule;
pub use run_loop::run_loop;
pub use timing::{jitter_delay, next_interval_slot};
pub use zone::SystemTimeZoneError;

/// When a bridge polls: the `every` or the `cron` key of its `[schedule]` table.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Runs at start, then at start + k × interval. Slots missed because a poll was
    /// still running are skipped.
    Every(Duration),
    /// Runs at the firings of a cron pattern in a time zone.
    Cron(CronSchedule),
}

impl Schedule {
    /// Creates an interval schedule, rejecting a zero interval, which would never advance.
    pub fn every(interval: Duration) -> Result<Self, ScheduleError> {
        if interval.is_zero() {
            return Err(ScheduleError::ZeroInterval);
        }
        Ok(Self::Every(interval))
    }
}

/// Invalid schedule settings. The messages name the value and what is allowed.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("interval \"0s\" is not allowed: use a positive duration such as \"30s\"")]
    ZeroInterval,

    #[error(
        "unknown cron shortcut \"{pattern}\": use @yearly, @annually, @monthly, @weekly, \
         @daily, @midnight or @hourly"
    )]
    UnknownShortcut { pattern: String },

    #[error(
        "cron pattern \"{pattern}\" has {count} fields: use 5 fields (minute hour \
         day-of-month month day-of-week) or 6 fields with seconds first"
    )]
    WrongFieldCount { pattern: String, count: usize },

    #[error(
        "invalid cron pattern \"{pattern}\": allowed values are second 0-59, minute 0-59, \
         hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-7 or SUN-SAT"
    )]
    InvalidPattern {
        pattern: String,
        #[source]
        source: croner::errors::CronError,
    },

    #[error(
        "cron pattern \"{pattern}\" never matches a date: check the day of month against \
         the month (February has no 30th)"
    )]
    NeverFires { pattern: String },

    #[error("unknown time zone \"{name}\": use an IANA name such as \"Europe/Berlin\"")]
    UnknownTimeZone { name: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejects_zero_interval() {
        let result = Schedule::every(Duration::ZERO);

        assert!(matches!(result, Err(ScheduleError::ZeroInterval)));
    }

    #[test]
    fn every_accepts_positive_interval() {
        let result = Schedule::every(Duration::from_secs(30));

        assert!(
            matches!(result, Ok(Schedule::Every(interval)) if interval == Duration::from_secs(30))
        );
    }
}

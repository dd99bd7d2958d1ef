//! Cron patterns in a time zone: parsing, and the next firing as a UTC instant under
//! the zone's daylight-saving rules.
//!
//! croner matches the pattern against wall-clock times on a clock without DST. This
//! module then maps each matching wall time to an instant itself, because croner's own
//! DST handling (3.0.1) repeats wall times in a fall-back and can return a time before
//! the start. This module only computes times. It must not sleep, poll or log.

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use super::zone::{resolve_zone, ResolvedZone};
use super::{ScheduleError, SystemTimeZoneError};

/// A parsed cron pattern and the time zone its wall-clock times are read in.
///
/// Daylight-saving rules, applied to every pattern:
/// - A wall time that does not exist that day (in a spring-forward gap) fires once, at
///   the first instant after the gap.
/// - A wall time that occurs twice (in a fall-back) fires once, at its first occurrence.
///   Wall times of the repeated hour do not fire again in its second pass.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    pattern: String,
    // Boxed because a croner pattern takes several hundred bytes, and `Schedule`
    // contains this struct next to a 16-byte duration.
    cron: Box<Cron>,
    time_zone: Tz,
    time_zone_fallback: Option<SystemTimeZoneError>,
}

/// Shortcuts and the 5-field patterns they stand for. croner 3.0.1 does not know
/// `@midnight`, so all of them are expanded here.
const SHORTCUTS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Maximum length of a DST gap that [`end_of_gap`] searches. The tz database has gaps
/// of a whole day (Samoa skipped 2011-12-30), so this allows twice that.
const MAX_GAP_MINUTES: u32 = 48 * 60;

impl CronSchedule {
    /// Parses a cron pattern and the IANA name of the zone it runs in.
    ///
    /// Accepts 5 fields (minute precision, firing at second 0), 6 fields with seconds
    /// first, and the shortcuts `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
    /// `@midnight` and `@hourly`. When `timezone` is None the system's local zone is
    /// used, or UTC if that cannot be determined: see [`Self::time_zone_fallback`].
    pub fn parse(pattern: &str, timezone: Option<&str>) -> Result<Self, ScheduleError> {
        let cron = parse_pattern(pattern)?;
        let ResolvedZone { zone, fallback } = resolve_zone(timezone, iana_time_zone::get_timezone)?;

        Ok(Self {
            pattern: pattern.to_owned(),
            cron,
            time_zone: zone,
            time_zone_fallback: fallback,
        })
    }

    /// Returns the first firing strictly after `after`, or None when the pattern has no
    /// firing before the year 5000 (croner's search limit).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut cursor = after
            .with_timezone(&self.time_zone)
            .naive_local()
            .with_nanosecond(0)?;

        // Each pass moves `cursor` to a later wall time, so the loop ends. It repeats only
        // when `after` lies in the second pass of a repeated hour: the wall times found
        // there first occurred before `after`, so they were due in the first pass.
        loop {
            let wall_time = self.next_wall_time(cursor)?;
            if wall_time <= cursor {
                return None;
            }

            let instant = first_instant_at(self.time_zone, wall_time)?;
            if instant > after {
                return Some(instant);
            }
            cursor = wall_time;
        }
    }

    /// Returns the pattern as written in the configuration.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Returns the zone whose wall-clock times the pattern matches.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// Returns why UTC replaced the system's local zone, when no zone was configured
    /// and the system zone was unusable. The caller should log it as a warning.
    pub fn time_zone_fallback(&self) -> Option<&SystemTimeZoneError> {
        self.time_zone_fallback.as_ref()
    }

    /// Finds the first wall time after `cursor` that matches the pattern. The search
    /// runs on UTC, which has no DST, so that every wall time exists exactly once.
    fn next_wall_time(&self, cursor: NaiveDateTime) -> Option<NaiveDateTime> {
        let found = self
            .cron
            .find_next_occurrence(&cursor.and_utc(), false)
            .ok()?;
        Some(found.naive_utc())
    }
}

/// Checks the shape of `pattern`, expands shortcuts, and parses it with croner.
fn parse_pattern(pattern: &str) -> Result<Box<Cron>, ScheduleError> {
    let expanded = expand_shortcut(pattern.trim())?;

    let count = expanded.split_whitespace().count();
    if count != 5 && count != 6 {
        return Err(ScheduleError::WrongFieldCount {
            pattern: pattern.to_owned(),
            count,
        });
    }

    // With seconds optional, croner sets the seconds of a 5-field pattern to 0, so it
    // fires once a minute and not every second. A year field is not part of our syntax.
    let parser = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build();
    let cron = parser
        .parse(expanded)
        .map_err(|source| ScheduleError::InvalidPattern {
            pattern: pattern.to_owned(),
            source,
        })?;

    // Without a year field a pattern repeats at least every 400 years, so a pattern
    // with no firing after 1970 never fires at all (for example `0 0 30 2 *`).
    let reference = DateTime::<Utc>::UNIX_EPOCH;
    if cron.find_next_occurrence(&reference, false).is_err() {
        return Err(ScheduleError::NeverFires {
            pattern: pattern.to_owned(),
        });
    }
    Ok(Box::new(cron))
}

/// Returns the 5-field pattern of a shortcut, or `pattern` itself when it is not a
/// shortcut.
fn expand_shortcut(pattern: &str) -> Result<&str, ScheduleError> {
    if !pattern.starts_with('@') {
        return Ok(pattern);
    }
    SHORTCUTS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(pattern))
        .map(|(_, expansion)| *expansion)
        .ok_or_else(|| ScheduleError::UnknownShortcut {
            pattern: pattern.to_owned(),
        })
}

/// Maps a wall time to the instant it fires at: its only occurrence, the first of two
/// in a fall-back, or the end of the gap when the wall time does not exist.
fn first_instant_at(zone: Tz, wall_time: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&wall_time).earliest() {
        Some(instant) => Some(instant.to_utc()),
        None => end_of_gap(zone, wall_time),
    }
}

/// Finds the instant at which the clocks jump over the gap that contains `wall_time`,
/// which is the first instant whose wall time is later than `wall_time`.
fn end_of_gap(zone: Tz, wall_time: NaiveDateTime) -> Option<DateTime<Utc>> {
    // Probe a minute at a time for a wall time that exists after the gap.
    let mut probe = wall_time;
    let mut instant = None;
    for _ in 0..MAX_GAP_MINUTES {
        probe = probe.checked_add_signed(TimeDelta::minutes(1))?;
        if let Some(found) = zone.from_local_datetime(&probe).earliest() {
            instant = Some(found.to_utc());
            break;
        }
    }
    let mut instant = instant?;

    // The probe can overshoot by under a minute when the gap does not end on a whole
    // minute, as with historical offsets that have seconds (local mean time). So walk
    // back to the jump a second at a time.
    for _ in 0..60 {
        let earlier = instant.checked_sub_signed(TimeDelta::seconds(1))?;
        if earlier.with_timezone(&zone).naive_local() < wall_time {
            break;
        }
        instant = earlier;
    }
    Some(instant)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, hour, minute, second)
            .single()
            .expect("valid UTC date")
    }

    fn schedule(pattern: &str, zone: &str) -> CronSchedule {
        CronSchedule::parse(pattern, Some(zone)).expect("valid pattern and zone")
    }

    /// Returns the next `count` firings after `start`, each found from the previous one.
    fn firings(schedule: &CronSchedule, start: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut found = Vec::new();
        let mut after = start;
        while found.len() < count {
            let next = schedule.next_after(after).expect("a next firing");
            found.push(next);
            after = next;
        }
        found
    }

    #[test]
    fn five_field_pattern_fires_on_whole_minutes() {
        let every_minute = schedule("* * * * *", "UTC");

        let found = firings(&every_minute, utc(2026, 1, 1, 10, 0, 20), 3);

        assert_eq!(
            found,
            [
                utc(2026, 1, 1, 10, 1, 0),
                utc(2026, 1, 1, 10, 2, 0),
                utc(2026, 1, 1, 10, 3, 0)
            ]
        );
    }

    #[test]
    fn six_field_pattern_reads_seconds_first() {
        let every_ten_seconds = schedule("*/10 * * * * *", "UTC");

        let found = firings(&every_ten_seconds, utc(2026, 1, 1, 10, 0, 5), 3);

        assert_eq!(
            found,
            [
                utc(2026, 1, 1, 10, 0, 10),
                utc(2026, 1, 1, 10, 0, 20),
                utc(2026, 1, 1, 10, 0, 30)
            ]
        );
    }

    #[test]
    fn shortcuts_expand_to_their_patterns() {
        let after = utc(2026, 5, 13, 10, 30, 0);
        let cases = [
            ("@yearly", utc(2027, 1, 1, 0, 0, 0)),
            ("@annually", utc(2027, 1, 1, 0, 0, 0)),
            ("@monthly", utc(2026, 6, 1, 0, 0, 0)),
            ("@weekly", utc(2026, 5, 17, 0, 0, 0)),
            ("@daily", utc(2026, 5, 14, 0, 0, 0)),
            ("@midnight", utc(2026, 5, 14, 0, 0, 0)),
            ("@hourly", utc(2026, 5, 13, 11, 0, 0)),
            ("@HOURLY", utc(2026, 5, 13, 11, 0, 0)),
        ];

        for (shortcut, expected) in cases {
            let next = schedule(shortcut, "UTC").next_after(after);
            assert_eq!(next, Some(expected), "shortcut {shortcut}");
        }
    }

    #[test]
    fn unknown_shortcut_is_rejected() {
        let error = CronSchedule::parse("@fortnightly", Some("UTC")).expect_err("unknown shortcut");

        assert!(matches!(error, ScheduleError::UnknownShortcut { .. }));
        assert!(error
            .to_string()
            .starts_with("unknown cron shortcut \"@fortnightly\""));
    }

    #[test]
    fn wrong_field_count_is_rejected() {
        for (pattern, count) in [("* * * *", 4), ("0 0 0 1 1 * 2030", 7), ("", 0)] {
            let error = CronSchedule::parse(pattern, Some("UTC")).expect_err("wrong field count");

            assert!(
                matches!(error, ScheduleError::WrongFieldCount { count: found, .. } if found == count),
                "pattern {pattern:?} gave {error:?}"
            );
        }
    }

    #[test]
    fn out_of_range_field_is_rejected() {
        let error = CronSchedule::parse("61 * * * *", Some("UTC")).expect_err("minute 61");

        assert!(matches!(error, ScheduleError::InvalidPattern { .. }));
        assert!(error
            .to_string()
            .starts_with("invalid cron pattern \"61 * * * *\""));
    }

    #[test]
    fn never_matching_pattern_is_rejected() {
        let error = CronSchedule::parse("0 0 30 2 *", Some("UTC")).expect_err("February 30");

        assert!(matches!(error, ScheduleError::NeverFires { .. }));
    }

    #[test]
    fn leap_day_pattern_is_accepted() {
        let leap_day = schedule("0 0 29 2 *", "UTC");

        assert_eq!(
            leap_day.next_after(utc(2026, 1, 1, 0, 0, 0)),
            Some(utc(2028, 2, 29, 0, 0, 0))
        );
    }

    #[test]
    fn next_after_is_strictly_after() {
        let hourly = schedule("@hourly", "UTC");

        let next = hourly.next_after(utc(2026, 1, 1, 10, 0, 0));

        assert_eq!(next, Some(utc(2026, 1, 1, 11, 0, 0)));
    }

    #[test]
    fn next_after_drops_fractional_seconds() {
        let hourly = schedule("@hourly", "UTC");
        let just_after_ten = utc(2026, 1, 1, 10, 0, 0) + TimeDelta::milliseconds(500);
        let just_before_eleven = utc(2026, 1, 1, 10, 59, 59) + TimeDelta::milliseconds(500);

        assert_eq!(
            hourly.next_after(just_after_ten),
            Some(utc(2026, 1, 1, 11, 0, 0))
        );
        assert_eq!(
            hourly.next_after(just_before_eleven),
            Some(utc(2026, 1, 1, 11, 0, 0))
        );
    }

    #[test]
    fn nonexistent_time_runs_once_after_gap_berlin() {
        // On 2026-03-29 Berlin jumps from 02:00 CET to 03:00 CEST (01:00 UTC).
        let half_past_two = schedule("30 2 * * *", "Europe/Berlin");

        let found = firings(&half_past_two, utc(2026, 3, 28, 12, 0, 0), 3);

        assert_eq!(
            found,
            [
                utc(2026, 3, 29, 1, 0, 0),
                utc(2026, 3, 30, 0, 30, 0),
                utc(2026, 3, 31, 0, 30, 0)
            ]
        );
    }

    #[test]
    fn nonexistent_time_runs_once_after_gap_new_york() {
        // On 2026-03-08 New York jumps from 02:00 EST to 03:00 EDT (07:00 UTC).
        let half_past_two = schedule("30 2 * * *", "America/New_York");

        let found = firings(&half_past_two, utc(2026, 3, 7, 0, 0, 0), 3);

        assert_eq!(
            found,
            [
                utc(2026, 3, 7, 7, 30, 0),
                utc(2026, 3, 8, 7, 0, 0),
                utc(2026, 3, 9, 6, 30, 0)
            ]
        );
    }

    #[test]
    fn nonexistent_wildcard_time_runs_at_end_of_gap() {
        let half_past_every_hour = schedule("30 * * * *", "Europe/Berlin");

        let found = firings(&half_past_every_hour, utc(2026, 3, 28, 23, 45, 0), 3);

        // 01:30 CET, then 02:30 moved to 03:00 CEST, then 03:30 CEST.
        assert_eq!(
            found,
            [
                utc(2026, 3, 29, 0, 30, 0),
                utc(2026, 3, 29, 1, 0, 0),
                utc(2026, 3, 29, 1, 30, 0)
            ]
        );
    }

    #[test]
    fn repeated_time_runs_once_berlin() {
        // On 2026-10-25 Berlin goes back from 03:00 CEST to 02:00 CET (01:00 UTC), so
        // 02:30 occurs at 00:30 UTC and again at 01:30 UTC.
        let half_past_two = schedule("30 2 * * *", "Europe/Berlin");

        let found = firings(&half_past_two, utc(2026, 10, 24, 12, 0, 0), 3);

        assert_eq!(
            found,
            [
                utc(2026, 10, 25, 0, 30, 0),
                utc(2026, 10, 26, 1, 30, 0),
                utc(2026, 10, 27, 1, 30, 0)
            ]
        );
    }

    #[test]
    fn repeated_time_runs_once_new_york() {
        // On 2026-11-01 New York goes back from 02:00 EDT to 01:00 EST (06:00 UTC), so
        // 01:30 occurs at 05:30 UTC and again at 06:30 UTC.
        let half_past_one = schedule("30 1 * * *", "America/New_York");

        let found = firings(&half_past_one, utc(2026, 10, 31, 0, 0, 0), 3);

        assert_eq!(
            found,
            [
                utc(2026, 10, 31, 5, 30, 0),
                utc(2026, 11, 1, 5, 30, 0),
                utc(2026, 11, 2, 6, 30, 0)
            ]
        );
    }

    #[test]
    fn hourly_across_spring_forward_berlin() {
        let hourly = schedule("@hourly", "Europe/Berlin");

        let found = firings(&hourly, utc(2026, 3, 28, 23, 30, 0), 4);

        // 01:00 CET, 03:00 CEST, 04:00 CEST, 05:00 CEST: local 02:00 does not exist.
        assert_eq!(
            found,
            [
                utc(2026, 3, 29, 0, 0, 0),
                utc(2026, 3, 29, 1, 0, 0),
                utc(2026, 3, 29, 2, 0, 0),
                utc(2026, 3, 29, 3, 0, 0)
            ]
        );
    }

    #[test]
    fn hourly_across_fall_back_berlin() {
        let hourly = schedule("@hourly", "Europe/Berlin");

        let found = firings(&hourly, utc(2026, 10, 24, 22, 30, 0), 4);

        // 01:00 CEST, 02:00 CEST, 03:00 CET, 04:00 CET: 02:00 CET repeats 02:00 CEST.
        assert_eq!(
            found,
            [
                utc(2026, 10, 24, 23, 0, 0),
                utc(2026, 10, 25, 0, 0, 0),
                utc(2026, 10, 25, 2, 0, 0),
                utc(2026, 10, 25, 3, 0, 0)
            ]
        );
    }

    #[test]
    fn hourly_across_both_changes_new_york() {
        let hourly = schedule("@hourly", "America/New_York");

        let spring = firings(&hourly, utc(2026, 3, 8, 5, 30, 0), 3);
        let fall = firings(&hourly, utc(2026, 11, 1, 4, 30, 0), 3);

        // 01:00 EST, 03:00 EDT, 04:00 EDT.
        assert_eq!(
            spring,
            [
                utc(2026, 3, 8, 6, 0, 0),
                utc(2026, 3, 8, 7, 0, 0),
                utc(2026, 3, 8, 8, 0, 0)
            ]
        );
        // 01:00 EDT, 02:00 EST, 03:00 EST: 01:00 EST repeats 01:00 EDT.
        assert_eq!(
            fall,
            [
                utc(2026, 11, 1, 5, 0, 0),
                utc(2026, 11, 1, 7, 0, 0),
                utc(2026, 11, 1, 8, 0, 0)
            ]
        );
    }

    #[test]
    fn later_firings_use_new_offset() {
        let nine_am = schedule("0 9 * * *", "Europe/Berlin");

        let spring = firings(&nine_am, utc(2026, 3, 27, 0, 0, 0), 4);
        let fall = firings(&nine_am, utc(2026, 10, 24, 0, 0, 0), 3);

        // 09:00 CET is 08:00 UTC, and 09:00 CEST is 07:00 UTC.
        assert_eq!(
            spring,
            [
                utc(2026, 3, 27, 8, 0, 0),
                utc(2026, 3, 28, 8, 0, 0),
                utc(2026, 3, 29, 7, 0, 0),
                utc(2026, 3, 30, 7, 0, 0)
            ]
        );
        assert_eq!(
            fall,
            [
                utc(2026, 10, 24, 7, 0, 0),
                utc(2026, 10, 25, 8, 0, 0),
                utc(2026, 10, 26, 8, 0, 0)
            ]
        );
    }

    #[test]
    fn croner_iterator_repeats_wall_time_in_fall_back() {
        // This is the croner 3.0.1 behaviour that `next_after` works around: its iterator
        // returns 02:00 twice, and out of order in UTC (00:00, 01:00, 00:20).
        let parser = CronParser::builder().seconds(Seconds::Optional).build();
        let cron = parser.parse("*/20 * * * *").expect("valid pattern");
        let start = utc(2026, 10, 24, 23, 50, 0).with_timezone(&Tz::Europe__Berlin);

        let from_croner: Vec<_> = cron.iter_after(start).take(3).map(|t| t.to_utc()).collect();

        assert_eq!(
            from_croner,
            [
                utc(2026, 10, 25, 0, 0, 0),
                utc(2026, 10, 25, 1, 0, 0),
                utc(2026, 10, 25, 0, 20, 0)
            ]
        );
    }

    #[test]
    fn repeated_hour_wall_times_fire_once() {
        let every_twenty_minutes = schedule("*/20 * * * *", "Europe/Berlin");

        let found = firings(&every_twenty_minutes, utc(2026, 10, 24, 23, 50, 0), 4);

        // 02:00, 02:20 and 02:40 CEST, then 03:00 CET: the second pass of 02:xx is skipped.
        assert_eq!(
            found,
            [
                utc(2026, 10, 25, 0, 0, 0),
                utc(2026, 10, 25, 0, 20, 0),
                utc(2026, 10, 25, 0, 40, 0),
                utc(2026, 10, 25, 2, 0, 0)
            ]
        );
    }

    #[test]
    fn second_pass_start_skips_repeated_hour() {
        // 01:10 UTC is 02:10 CET, in the second pass of the repeated hour. croner 3.0.1
        // returns 00:20 UTC (02:20 CEST) from here, which is before the start.
        let inside_second_pass = utc(2026, 10, 25, 1, 10, 0);
        let every_twenty_minutes = schedule("*/20 * * * *", "Europe/Berlin");
        let half_past_two = schedule("30 2 * * *", "Europe/Berlin");

        assert_eq!(
            every_twenty_minutes.next_after(inside_second_pass),
            Some(utc(2026, 10, 25, 2, 0, 0))
        );
        assert_eq!(
            half_past_two.next_after(inside_second_pass),
            Some(utc(2026, 10, 26, 1, 30, 0))
        );
    }

    #[test]
    fn every_second_pattern_leaves_repeated_hour_quickly() {
        let every_second = schedule("* * * * * *", "Europe/Berlin");
        let started = Instant::now();

        let next = every_second.next_after(utc(2026, 10, 25, 1, 0, 0));

        // All 3,600 wall times of the second pass are skipped one by one.
        assert_eq!(next, Some(utc(2026, 10, 25, 2, 0, 0)));
        assert!(
            started.elapsed().as_secs() < 5,
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn gap_of_a_whole_day_is_crossed() {
        // Samoa skipped 2011-12-30 when it moved west of the date line.
        let noon = schedule("0 12 * * *", "Pacific/Apia");

        let found = firings(&noon, utc(2011, 12, 29, 0, 0, 0), 2);

        // Noon of 12-29 was 22:00 UTC at UTC-10. The clocks then jumped from 12-29 24:00
        // to 12-31 00:00 (10:00 UTC of 12-30, at UTC+14), so the noon of 12-30 fires then.
        assert_eq!(
            found,
            [utc(2011, 12, 29, 22, 0, 0), utc(2011, 12, 30, 10, 0, 0)]
        );
    }

    #[test]
    fn system_zone_is_used_without_timezone() {
        let parsed = CronSchedule::parse("@hourly", None).expect("falls back rather than failing");

        let system_zone = iana_time_zone::get_timezone()
            .ok()
            .and_then(|name| name.parse::<Tz>().ok());
        match system_zone {
            Some(zone) => {
                assert_eq!(parsed.time_zone(), zone);
                assert!(parsed.time_zone_fallback().is_none());
            }
            None => {
                assert_eq!(parsed.time_zone(), Tz::UTC);
                assert!(parsed.time_zone_fallback().is_some());
            }
        }
    }
}

//! The state of every bridge as operators see it: `pollhook status` prints it
//! as a table and the admin server's `/api/bridges` returns it as JSON.
//!
//! Everything comes from the configuration and the database, so a second
//! process can read it while the daemon runs. This module reads nothing
//! itself: callers pass the bridges and the stored overviews in.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Bridge;
use crate::schedule::Schedule;
use crate::store::BridgeOverview;

/// One bridge's configuration and stored state.
#[derive(Debug, Clone, Serialize)]
pub struct BridgeStatus {
    pub name: String,
    /// False for a bridge that has stored state but no bridge file.
    pub configured: bool,
    pub schedule: Option<String>,
    /// The masked target URLs.
    pub targets: Vec<String>,
    pub last_poll_at: Option<DateTime<Utc>>,
    /// `ok` or `failed`; `None` before the first poll.
    pub last_result: Option<&'static str>,
    /// The masked error of the last poll, when it failed.
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub last_success_at: Option<DateTime<Utc>>,
    /// When a running daemon polls next; `None` while no daemon runs the bridge.
    pub next_poll_at: Option<DateTime<Utc>>,
    pub items: u64,
    pub pending_deliveries: u64,
    pub failed_deliveries: u64,
}

/// Joins the configured bridges with the stored overviews: every configured
/// bridge in name order, then every stored bridge that no file configures.
pub fn bridge_statuses(bridges: &[Arc<Bridge>], overviews: &[BridgeOverview]) -> Vec<BridgeStatus> {
    let mut statuses: Vec<BridgeStatus> = bridges
        .iter()
        .map(|bridge| {
            let overview = overviews
                .iter()
                .find(|overview| overview.bridge == bridge.name.as_str());
            let mut status = from_overview(bridge.name.as_str(), overview);
            status.configured = true;
            status.schedule = Some(describe_schedule(&bridge.schedule));
            status.targets = bridge
                .targets
                .iter()
                .map(|target| target.key.clone())
                .collect();
            status
        })
        .collect();
    statuses.sort_by(|a, b| a.name.cmp(&b.name));

    for overview in overviews {
        if !bridges
            .iter()
            .any(|bridge| bridge.name.as_str() == overview.bridge)
        {
            statuses.push(from_overview(&overview.bridge, Some(overview)));
        }
    }
    statuses
}

/// Describes a schedule as `every 30s` or `cron */5 * * * * (Europe/Berlin)`.
pub fn describe_schedule(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Every(every) => format!("every {}", humantime::format_duration(*every)),
        Schedule::Cron(cron) => format!("cron {} ({})", cron.pattern(), cron.time_zone()),
    }
}

/// Renders `statuses` as an aligned text table, with times relative to `now`.
pub fn render_table(statuses: &[BridgeStatus], now: DateTime<Utc>) -> String {
    const HEADER: [&str; 8] = [
        "BRIDGE",
        "SCHEDULE",
        "LAST POLL",
        "RESULT",
        "NEXT POLL",
        "ITEMS",
        "PENDING",
        "FAILED",
    ];
    let rows: Vec<[String; 8]> = statuses
        .iter()
        .map(|status| table_row(status, now))
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut table = String::new();
    let header = HEADER.map(str::to_owned);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            let _ = write!(line, "{cell:<width$}");
        }
        table.push_str(line.trim_end());
        table.push('\n');
    }
    table
}

fn from_overview(name: &str, overview: Option<&BridgeOverview>) -> BridgeStatus {
    let overview = overview.cloned().unwrap_or_default();
    let last_result = overview.last_poll_at.map(|_| {
        if overview.last_error.is_some() {
            "failed"
        } else {
            "ok"
        }
    });
    BridgeStatus {
        name: name.to_owned(),
        configured: false,
        schedule: None,
        targets: Vec::new(),
        last_poll_at: overview
            .last_poll_at
            .and_then(DateTime::from_timestamp_millis),
        last_result,
        last_error: overview.last_error,
        consecutive_failures: overview.consecutive_failures,
        last_success_at: overview
            .last_success_at
            .and_then(DateTime::from_timestamp_millis),
        next_poll_at: overview
            .next_poll_at
            .and_then(DateTime::from_timestamp_millis),
        items: overview.items,
        pending_deliveries: overview.pending_deliveries,
        failed_deliveries: overview.failed_deliveries,
    }
}

/// The maximum length of an error in a table cell, in characters.
const MAX_ERROR_CHARS: usize = 60;

fn table_row(status: &BridgeStatus, now: DateTime<Utc>) -> [String; 8] {
    let schedule = status
        .schedule
        .clone()
        .unwrap_or_else(|| "(not configured)".to_owned());
    let last_poll = status
        .last_poll_at
        .map_or_else(|| "never".to_owned(), |at| format!("{} ago", age(now - at)));
    let result = match (status.last_result, &status.last_error) {
        (Some("failed"), Some(error)) => {
            let mut shown: String = error.chars().take(MAX_ERROR_CHARS).collect();
            if shown.len() < error.len() {
                shown.push('…');
            }
            format!("failed ({}x): {shown}", status.consecutive_failures)
        }
        (Some(result), _) => result.to_owned(),
        (None, _) => "-".to_owned(),
    };
    let next_poll = match status.next_poll_at {
        Some(at) if at > now => format!("in {}", age(at - now)),
        Some(_) => "due".to_owned(),
        None => "-".to_owned(),
    };
    [
        status.name.clone(),
        schedule,
        last_poll,
        result,
        next_poll,
        status.items.to_string(),
        status.pending_deliveries.to_string(),
        status.failed_deliveries.to_string(),
    ]
}

/// Formats a time span compactly in its largest unit and the next one:
/// `12s`, `5m 3s`, `2h 10m`, `3d 4h`.
fn age(span: chrono::TimeDelta) -> String {
    let seconds = span.to_std().unwrap_or(Duration::ZERO).as_secs();
    if seconds == 0 {
        return "0s".to_owned();
    }
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (size, unit) in units {
        let count = rest / size;
        if count > 0 {
            parts.push(format!("{count}{unit}"));
            rest %= size;
        } else if !parts.is_empty() {
            break;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn age_uses_two_largest_units() {
        let cases = [
            (0, "0s"),
            (12, "12s"),
            (303, "5m 3s"),
            (3_600, "1h"),
            (7_800, "2h 10m"),
            (273_600, "3d 4h"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(
                age(chrono::TimeDelta::seconds(seconds)),
                expected,
                "{seconds}s"
            );
        }
    }

    #[test]
    fn table_shows_failure_and_next_poll() {
        let overview = BridgeOverview {
            bridge: "orders".into(),
            last_poll_at: Some(at(1_000).timestamp_millis()),
            last_error: Some("HTTP 503".into()),
            consecutive_failures: 2,
            next_poll_at: Some(at(1_030).timestamp_millis()),
            items: 4,
            pending_deliveries: 1,
            ..BridgeOverview::default()
        };
        let statuses = bridge_statuses(&[], &[overview]);

        let table = render_table(&statuses, at(1_010));

        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table}");
        assert!(lines[0].starts_with("BRIDGE  "), "{table}");
        assert!(lines[1].contains("(not configured)"), "{table}");
        assert!(lines[1].contains("10s ago"), "{table}");
        assert!(lines[1].contains("failed (2x): HTTP 503"), "{table}");
        assert!(lines[1].contains("in 20s"), "{table}");
    }

    #[test]
    fn unknown_bridge_has_no_result() {
        let statuses = bridge_statuses(
            &[],
            &[BridgeOverview {
                bridge: "new".into(),
                ..BridgeOverview::default()
            }],
        );
        let table = render_table(&statuses, at(0));
        assert!(table.lines().nth(1).unwrap().contains("never"), "{table}");
    }
}

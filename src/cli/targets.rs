//! `pollhook targets` and `pollhook targets enable URL`: target state.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Serialize;

use super::open_store;
use super::table::{render, time};
use crate::config::{self, Overrides};
use crate::redact::resolve_target;

/// One target as listed.
#[derive(Debug, Serialize)]
struct TargetRow {
    target: String,
    bridges: Vec<String>,
    state: String,
    rate_limit: Option<String>,
    max_in_flight: Option<usize>,
    pending: u64,
    failed: u64,
    oldest_pending_at: Option<i64>,
    disabled_reason: Option<String>,
}

pub fn list(overrides: &Overrides, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(overrides)?;
    let mut rows: BTreeMap<String, TargetRow> = BTreeMap::new();
    match config::load(overrides) {
        Ok(config) => {
            for bridge in &config.bridges {
                for target in &bridge.targets {
                    let row = rows.entry(target.key.clone()).or_insert_with(|| empty_row(&target.key));
                    row.bridges.push(bridge.name.to_string());
                    row.rate_limit = target.rate_limit.map(|limit| limit.to_string());
                    row.max_in_flight = Some(target.max_in_flight);
                }
            }
        }
        Err(errors) => eprintln!("warning: the configuration has errors, so only targets with queued events are listed:\n{errors}"),
    }
    for (key, queue) in store.target_queues()? {
        let row = rows.entry(key.clone()).or_insert_with(|| empty_row(&key));
        row.pending = queue.pending;
        row.failed = queue.failed;
        row.oldest_pending_at = queue.oldest_pending_at;
    }
    for row in rows.values_mut() {
        if let Some(disabled) = store.disabled_target(&row.target)? {
            row.state = format!("disabled since {}", time(disabled.disabled_at));
            row.disabled_reason = Some(disabled.reason);
        }
        if row.bridges.is_empty() && row.state == "enabled" {
            row.state = "not configured".to_owned();
        }
    }

    let rows: Vec<TargetRow> = rows.into_values().collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let cells: Vec<Vec<String>> = rows.iter().map(cells).collect();
    print!(
        "{}",
        render(
            &[
                "TARGET",
                "BRIDGES",
                "STATE",
                "RATE",
                "MAX IN FLIGHT",
                "PENDING",
                "FAILED",
                "OLDEST PENDING"
            ],
            &cells
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub fn move_queue(overrides: &Overrides, from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let store = open_store(overrides)?;
    let (from_key, to_key) = (resolve_target(from), resolve_target(to));
    if from_key == to_key {
        eprintln!("error: {from_key} and {to_key} are the same target");
        return Ok(ExitCode::FAILURE);
    }
    let moved = store.move_target(&from_key, &to_key, chrono::Utc::now().timestamp_millis())?;
    println!("moved {moved} pending or failed deliveries from {from_key} to {to_key}, with their webhook-ids");
    Ok(ExitCode::SUCCESS)
}

pub fn enable(overrides: &Overrides, target: &str) -> anyhow::Result<ExitCode> {
    let store = open_store(overrides)?;
    let key = resolve_target(target);
    if store.enable_target(&key)? {
        println!("enabled {key}: its queued events are delivered again");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: target {key} is not disabled: list targets and their state with `pollhook targets`");
        Ok(ExitCode::FAILURE)
    }
}

fn empty_row(key: &str) -> TargetRow {
    TargetRow {
        target: key.to_owned(),
        bridges: Vec::new(),
        state: "enabled".to_owned(),
        rate_limit: None,
        max_in_flight: None,
        pending: 0,
        failed: 0,
        oldest_pending_at: None,
        disabled_reason: None,
    }
}

fn cells(row: &TargetRow) -> Vec<String> {
    vec![
        row.target.clone(),
        row.bridges.join(","),
        row.state.clone(),
        row.rate_limit.clone().unwrap_or_else(|| "-".to_owned()),
        row.max_in_flight
            .map_or_else(|| "-".to_owned(), |value| value.to_string()),
        row.pending.to_string(),
        row.failed.to_string(),
        row.oldest_pending_at.map(time).unwrap_or_default(),
    ]
}

//! `pollhook deliveries`, `pollhook deliveries show ID` and `pollhook
//! redeliver`: inspecting the outbox and queueing events again.

use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;

use super::table::{render, shorten, time};
use super::{open_store, DeliveryStatus};
use crate::config::Overrides;
use crate::store::{DeliveryDetail, DeliveryFilter, DeliveryRow, EventDetail};

/// Options of `pollhook deliveries`.
pub struct ListOptions {
    pub bridge: Option<String>,
    pub target: Option<String>,
    pub status: Option<DeliveryStatus>,
    pub limit: usize,
    pub json: bool,
}

pub fn list(overrides: &Overrides, options: ListOptions) -> anyhow::Result<ExitCode> {
    let store = open_store(overrides)?;
    let filter = DeliveryFilter {
        bridge: options.bridge,
        target: options
            .target
            .map(|target| crate::redact::resolve_target(&target)),
        status: options.status.map(|status| status.as_str().to_owned()),
        limit: options.limit,
    };
    let rows = store.list_deliveries(&filter)?;
    if options.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no deliveries match");
        return Ok(ExitCode::SUCCESS);
    }
    print!(
        "{}",
        render(
            &LIST_HEADERS,
            &rows.iter().map(list_cells).collect::<Vec<_>>()
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub fn show(overrides: &Overrides, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_store(overrides)?;
    let Some(detail) = store.event_detail(id)? else {
        eprintln!(
            "error: no event or delivery with id {id:?}: list them with `pollhook deliveries`"
        );
        return Ok(ExitCode::FAILURE);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&detail)?);
    } else {
        print!("{}", describe(&detail));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn redeliver(
    overrides: &Overrides,
    ids: &[String],
    failed: bool,
    bridge: Option<&str>,
    target: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let store = open_store(overrides)?;
    let now = Utc::now().timestamp_millis();
    if failed {
        let target = target.map(crate::redact::resolve_target);
        let count = store.redeliver_failed(bridge, target.as_deref(), now)?;
        println!("queued {count} failed deliveries again");
        return Ok(ExitCode::SUCCESS);
    }
    if ids.is_empty() {
        eprintln!(
            "error: name the events to deliver again (event or delivery ids), or use --failed"
        );
        return Ok(ExitCode::FAILURE);
    }
    let mut unique: Vec<String> = Vec::new();
    for id in ids {
        if !unique.contains(id) {
            unique.push(id.clone());
        }
    }
    let (count, unknown) = store
        .redeliver(&unique, now)
        .context("failed to queue the deliveries again")?;
    println!("queued {count} deliveries again, with their original webhook-id");
    for id in &unknown {
        eprintln!("error: no event or delivery with id {id:?}");
    }
    Ok(if unknown.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

const LIST_HEADERS: [&str; 9] = [
    "ID",
    "EVENT",
    "BRIDGE",
    "TARGET",
    "TYPE",
    "ITEM",
    "STATUS",
    "ATTEMPTS",
    "NEXT OR LAST ERROR",
];

fn list_cells(row: &DeliveryRow) -> Vec<String> {
    let detail = match (&row.next_attempt_at, &row.last_error) {
        (Some(next), Some(error)) => format!("next {} ({})", time(*next), shorten(error, 40)),
        (Some(next), None) => format!("next {}", time(*next)),
        (None, Some(error)) => shorten(error, 60),
        (None, None) => String::new(),
    };
    vec![
        row.delivery_id.to_string(),
        row.event_id.clone(),
        row.bridge.clone(),
        row.target.clone(),
        row.kind.clone(),
        row.item_id.clone().unwrap_or_default(),
        row.status.clone(),
        row.attempts.to_string(),
        detail,
    ]
}

fn describe(detail: &EventDetail) -> String {
    let mut text = format!("event {}\n", detail.event_id);
    let body = serde_json::to_string_pretty(&detail.body).unwrap_or_default();
    text.push_str(&body);
    text.push('\n');
    for DeliveryDetail {
        delivery,
        history: attempts,
    } in &detail.deliveries
    {
        text.push_str(&format!(
            "\ndelivery {} to {} ({}): {}, {} attempt(s)\n",
            delivery.delivery_id,
            delivery.target,
            delivery.bridge,
            delivery.status,
            delivery.attempts
        ));
        if let Some(next) = delivery.next_attempt_at {
            text.push_str(&format!("next attempt: {}\n", time(next)));
        }
        let rows: Vec<Vec<String>> = attempts
            .iter()
            .map(|attempt| {
                vec![
                    time(attempt.attempted_at),
                    format!("{} ms", attempt.duration_ms),
                    attempt.outcome.clone(),
                    attempt
                        .status_code
                        .map(|code| code.to_string())
                        .unwrap_or_default(),
                    shorten(attempt.error.as_deref().unwrap_or(""), 60),
                    shorten(attempt.response_body.as_deref().unwrap_or(""), 40),
                ]
            })
            .collect();
        if !rows.is_empty() {
            text.push_str(&render(
                &["TIME", "DURATION", "OUTCOME", "STATUS", "ERROR", "RESPONSE"],
                &rows,
            ));
        }
    }
    text
}

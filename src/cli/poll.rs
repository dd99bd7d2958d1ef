//! `pollhook poll NAME [--dry-run]`: one poll now, its events printed as JSON
//! lines on stdout, then one delivery attempt for every queued event of the
//! bridge.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::Value;

use crate::config::{self, load_global, Bridge, GlobalConfig, Overrides};
use crate::daemon::log_report;
use crate::deliver::{deliver_pending_once, delivery_client, Deliverer};
use crate::poll::{poll_once, PollMode};
use crate::source::source_client;
use crate::store::{lock_path, DeliveryLock, NewEvent, Store};

pub async fn poll(overrides: &Overrides, name: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    let global = match load_global(overrides) {
        Ok(global) => global,
        Err(errors) => return Ok(report_config_errors(&errors.0)),
    };
    let file = global.bridges.join(format!("{name}.toml"));
    if !file.is_file() {
        eprintln!(
            "error: no bridge named {name:?}: expected the file {}",
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let bridge = match config::load_bridge_file(&file) {
        Ok(bridge) => Arc::new(bridge),
        Err(errors) => return Ok(report_config_errors(&errors)),
    };

    let store = if dry_run && !global.state.exists() {
        Store::open(std::path::Path::new(":memory:"))
    } else {
        Store::open(&global.state)
    }
    .with_context(|| {
        format!(
            "failed to open the state database {}",
            global.state.display()
        )
    })?;
    let store = Arc::new(store);

    let mode = if dry_run {
        PollMode::DryRun
    } else {
        PollMode::Record
    };
    let result = poll_once(bridge.clone(), &source_client(), store.clone(), mode).await;
    let report = match result {
        Ok(report) => {
            log_report(&bridge, &report);
            report
        }
        Err(error) => {
            eprintln!(
                "error: bridge {name}: poll failed: {}",
                crate::redact::mask(&error.to_string())
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    print_events(&report.events)?;

    if !dry_run {
        deliver_queued(&global, store, bridge, name).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Makes one attempt for every queued event of the bridge, unless a running
/// daemon holds the delivery lock and so delivers them itself.
async fn deliver_queued(
    global: &GlobalConfig,
    store: Arc<Store>,
    bridge: Arc<Bridge>,
    name: &str,
) -> anyhow::Result<()> {
    let lock = DeliveryLock::try_acquire(&global.state, "poll").with_context(|| {
        format!(
            "failed to open the lock file {}",
            lock_path(&global.state).display()
        )
    })?;
    let Ok(_lock) = lock else {
        tracing::info!(bridge = name, "another pollhook process delivers from this state database, so this poll leaves the queued events to it");
        return Ok(());
    };
    let deliverer = Deliverer::new(delivery_client(), store, &[bridge], &global.delivery);
    let (delivered, failed) = deliver_pending_once(&deliverer, name).await?;
    if delivered + failed > 0 {
        tracing::info!(bridge = name, delivered, failed, "made one delivery attempt per queued event; events that failed are retried later or marked failed");
    }
    Ok(())
}

fn print_events(events: &[NewEvent]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for event in events {
        let mut line = serde_json::Map::new();
        line.insert("webhook_id".into(), Value::from(event.event_id.as_str()));
        if let Value::Object(body) = serde_json::from_slice(&event.body)? {
            line.extend(body);
        }
        writeln!(stdout, "{}", Value::Object(line))?;
    }
    stdout.flush()?;
    Ok(())
}

fn report_config_errors(errors: &[config::ConfigError]) -> ExitCode {
    for error in errors {
        eprintln!("error: {error}");
    }
    ExitCode::FAILURE
}

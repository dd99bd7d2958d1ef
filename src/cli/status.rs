//! `pollhook status`: a table of every bridge, read from the configuration
//! and the database, so that it works while the daemon runs.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::config::{self, load_global, Overrides};
use crate::status::{bridge_statuses, render_table};
use crate::store::Store;

pub fn status(overrides: &Overrides, json: bool) -> anyhow::Result<ExitCode> {
    let global = match load_global(overrides) {
        Ok(global) => global,
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("error: {error}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let bridges = match config::load_bridges(&global.bridges) {
        Ok(bridges) => bridges.into_iter().map(Arc::new).collect(),
        Err(errors) => {
            eprintln!(
                "warning: the bridge files have {} error(s), so only the database is shown: run pollhook check to list them",
                errors.0.len()
            );
            Vec::new()
        }
    };

    let overviews = if global.state.exists() {
        let store = Store::open(&global.state).with_context(|| {
            format!(
                "failed to open the state database {}",
                global.state.display()
            )
        })?;
        store
            .bridge_overviews()
            .context("failed to read the bridges' state")?
    } else {
        eprintln!(
            "note: no state database at {} yet: no bridge has been polled",
            global.state.display()
        );
        Vec::new()
    };

    let statuses = bridge_statuses(&bridges, &overviews);
    if json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
    } else {
        print!("{}", render_table(&statuses, chrono::Utc::now()));
    }
    Ok(ExitCode::SUCCESS)
}

//! `pollhook check`: loads every file and prints every error.

use std::process::ExitCode;

use crate::config::{self, Overrides};

pub fn check(overrides: &Overrides) -> anyhow::Result<ExitCode> {
    match config::load(overrides) {
        Ok(config) => {
            let names: Vec<&str> = config
                .bridges
                .iter()
                .map(|bridge| bridge.name.as_str())
                .collect();
            println!(
                "configuration is valid: {} bridge(s): {}",
                names.len(),
                names.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("error: {error}");
            }
            eprintln!(
                "{} error(s) found: fix them and run pollhook check again",
                errors.0.len()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

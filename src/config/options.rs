//! Checks of the source and items options that real-world APIs need: item
//! modes, formats, pagination, authentication and per-poll query values.
//!
//! Kept apart from `bridge.rs` so that each option's rules and messages sit
//! together. Like the rest of `config`, nothing here does I/O.

use std::path::Path;

use super::error::ConfigError;
use super::raw::RawItems;
use crate::extract::ItemsMode;

/// Checks `items.mode` and `items.forget_after`.
pub fn check_items_mode(
    file: &Path,
    raw: &RawItems,
    errors: &mut Vec<ConfigError>,
) -> Option<ItemsMode> {
    let forget_after = raw.forget_after.map(|duration| duration.0);
    match raw.mode.as_deref().unwrap_or("full") {
        "full" => {
            if forget_after.is_some() {
                errors.push(ConfigError::key(
                    file,
                    "items.forget_after",
                    "forget_after applies only to mode = \"incremental\" and feeds: in full mode an absent item is deleted",
                ));
                return None;
            }
            Some(ItemsMode::Full)
        }
        "incremental" => Some(ItemsMode::Incremental { forget_after }),
        other => {
            errors.push(ConfigError::key(
                file,
                "items.mode",
                format!("unknown mode {other:?}: use \"full\" (absent items are deleted) or \"incremental\" (absent items are kept)"),
            ));
            None
        }
    }
}

//! Requesting a bridge's source and parsing its response into JSON.
//!
//! A response counts only when it is a 2xx whose whole body, within the size
//! limit, parses as JSON; anything else is a [`FetchError`] that says what
//! failed. This module never touches the snapshot.

mod fetch;

pub use fetch::{fetch, source_client, FetchError};

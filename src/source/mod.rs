//! Requesting a bridge's source and parsing its response into JSON.
//!
//! A response counts only when it is a 2xx whose whole body, within the size
//! limit, parses as JSON. Anything else is a [`FetchError`] that describes
//! what failed. This module never touches the snapshot.

mod decode;
mod fetch;

pub use fetch::{fetch, source_client, FetchError};

//! Requesting a bridge's source and parsing its responses into JSON.
//!
//! A poll's response counts only when every page is a 2xx whose whole body,
//! within the size limit, parses in the source's format (JSON, a feed or
//! XML), or when a conditional request is answered 304. Anything else is a
//! [`FetchError`] that describes what failed. This module never touches the
//! snapshot; the caller stores validators and rate-limit postponements.

mod auth;
mod decode;
mod feed;
mod fetch;
mod pages;
pub mod pagination;
mod rate_limit;
mod template;
mod xml;

pub use auth::{Auth, AuthError, ClientAuth, OAuth2};
pub use fetch::{source_client, FetchError, Format};
pub use pages::{fetch_source, Fetched, Outcome};
pub use rate_limit::MAX_POSTPONEMENT;
pub use template::{Template, PLACEHOLDER_NAMES};
pub use xml::xml_to_json;

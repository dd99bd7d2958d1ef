//! Source tests: pagination, conditional requests, rate limits,
//! authentication, feeds, XML and incremental polling, each against a local
//! HTTP server on 127.0.0.1 and a bridge file written as the README shows.

mod auth;
mod conditional;
mod config_check;
mod formats;
mod hygiene;
mod incremental;
mod pagination;
mod rate_limit;
mod support;

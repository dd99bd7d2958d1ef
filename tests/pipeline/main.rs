//! End-to-end tests of pollhook: the real binary polls a real local HTTP API
//! and delivers to a real local receiver, both on 127.0.0.1.

mod admin;
mod concurrency;
mod config_check;
mod crash;
mod deletion_guard;
mod delivery;
mod document;
mod failures;
mod health;
mod items;
mod operator;
mod reload;
mod secrets;
mod status;
mod support;
mod systemd;

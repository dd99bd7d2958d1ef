//! Delivery of queued events to targets: signing, one attempt per request,
//! the retry schedule, and the worker that drains the outbox.
//!
//! Only this module signs requests. Within a lane (one bridge to one target)
//! events go out in queue order: the next waits until the previous one is
//! accepted or has failed for good.

mod attempt;
mod retry;
mod worker;

pub use attempt::{delivery_client, send, AttemptOutcome, AttemptResult};
pub use retry::next_state;
pub use worker::{deliver_pending_once, run_worker, AttemptHook, Deliverer};

//! Delivery of queued events to targets: signing, one attempt per request,
//! the retry policy, per-target pacing, and the worker that drains the outbox.
//!
//! Only this module signs requests. Within a lane (one bridge to one target)
//! events go out in queue order: the next waits until the previous one is
//! accepted or has failed for good.

mod attempt;
mod pacing;
mod policy;
mod worker;

pub use attempt::{delivery_client, send, AttemptOutcome, AttemptResult};
pub use pacing::{Pacer, RateLimit};
pub use policy::{decide, parse_retry_after, AttemptFacts, RetryPolicy, Verdict, OVERLOAD_WAIT};
pub use worker::{deliver_pending_once, run_worker, Deliverer};

//! Delivery of queued events to targets: signing, one attempt per request,
//! the retry policy, per-target admission, and the worker that drains the
//! outbox.
//!
//! Only this module signs requests. Within a lane (one bridge to one target)
//! events go out in queue order: the next waits until the previous one is
//! accepted or has failed for good.

mod attempt;
mod deliverer;
mod gate;
mod once;
mod pacing;
mod policy;
mod recorder;
mod worker;

pub use attempt::{delivery_client, send, AttemptOutcome, AttemptResult};
pub use deliverer::{AttemptHook, Deliverer};
pub use once::deliver_pending_once;
pub use pacing::{Pacer, RateLimit};
pub use policy::{decide, parse_retry_after, AttemptFacts, RetryPolicy, Verdict, OVERLOAD_WAIT};
pub use worker::run_worker;

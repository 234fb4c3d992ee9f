//! Declarative apply: desired state → minimal ordered operations with explicit placements →
//! run, re-read after each step, roll back on failure.
//!
//! - [`desired`](DesiredGpu): what each GPU should hold;
//! - [`plan`]: the operations (pure: current and desired state in, operations out);
//! - [`apply`]: runs them under the host's lock ([`lock`]), re-reading after each, rolling back
//!   on failure.

mod desired;
mod lock;
mod plan;
mod run;

pub use desired::{DesiredGpu, DesiredInstance, desired_from_plan};
pub use lock::{ApplyLock, DEFAULT_LOCK_WAIT, lock};
pub(crate) use plan::unplaceable_reason;
pub use plan::{Changes, Op, plan};
pub use run::{ApplyOptions, ApplyReport, apply};

//! The rolling upgrade of one cluster as a pure planner: from what every node reported (lk_info),
//! the inventory order, the recorded plan if any and the parameters, the whole plan as data.
//! It runs no command, reads no clock and touches no file; lk_plan (src/modules/plan.rs) is the
//! module around it.
//!
//! - `facts`: what the nodes reported, and what stops a cluster before anything changes (a node
//!   not seen, a peer LifeKeeper lists that the inventory lacks).
//! - `waves`: who goes when (wave k = the k-th node), the nodes at the target, witnesses; gates.
//! - `targets`: where a hierarchy goes when its node stands by (one rule, shared with
//!   lk_resource).
//! - `plan`: every node's steps and every switchover, in order: the check-mode prediction.
//! - `record`: the persisted plan and its resume rules.
//! - `summary`: after the run, each cluster's status, placement, switchovers and the printed
//!   lines (summary.json), from what every node recorded (lk_plan's `summary` mode).

pub mod facts;
pub mod plan;
pub mod record;
pub mod rehearsal;
pub mod summary;
pub mod targets;
pub mod waves;

#[cfg(test)]
mod tests;

pub use facts::{Cluster, NodeFacts, Params, Refusal};
pub use plan::{plan, Plan, Step, Switchover};
pub use record::Record;

//! lkops: idempotent, Ansible-style modules that upgrade SIOS LifeKeeper for Linux clusters.
//!
//! - `runtime`: what every module shares (input, validation, check/diff mode, results, running
//!   commands, atomic files).
//! - `lifekeeper`: knowledge of the product (status display, versions, the defaults file).
//! - `procedure`: the rolling upgrade of a cluster as a pure planner (lk_plan exposes it).
//! - `modules`: one file per module; each binary in `src/bin/` is one line.

pub mod lifekeeper;
pub mod modules;
pub mod procedure;
pub mod runtime;

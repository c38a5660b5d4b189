#![recursion_limit = "256"]
//! Contract tests: each module binary against the simulator (lksim), through its JSON contracts
//! (Ansible args file, JSON on stdin), plus the properties and source checks that need no
//! outside tool. One test binary (`cargo test --test contract`); filter by module with its name,
//! e.g. `cargo test --test contract -- upgrade::`. Shared helpers: tests/common/.

#[path = "../common/mod.rs"]
mod common;

mod backup;
mod capture;
mod check_mode_safety;
mod datakeeper;
mod defaults_merge;
mod defects;
mod defects_outage;
mod defects_upgrade;
mod docs;
mod docs_drift;
mod fault_matrix;
mod human_cli;
mod info;
mod issue28_sec;
mod lease;
mod plan;
mod preflight;
mod properties;
mod reports;
mod resource;
mod role_layout;
mod secure_defaults;
mod security;
mod upgrade;
mod upgrade_menu;
mod upgrade_rollback;

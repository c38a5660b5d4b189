//! Knowledge of LifeKeeper itself, shared by the modules (one home each).

pub mod backup_store;
pub mod capture;
pub mod defaults_file;
pub mod defaults_merge;
pub mod defaults_reapply;
pub mod media;
pub mod mirrors;
pub mod node;
pub mod node_lock;
pub mod node_lock_remote;
pub mod packages;
pub mod ports;
pub mod remote;
pub mod setup;
pub mod status;
pub mod version;

//! Knowledge of LifeKeeper itself, shared by the modules.

pub mod backup_store;
pub mod defaults_file;
pub mod ports;
pub mod status;
pub mod version;

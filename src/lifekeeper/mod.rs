//! Knowledge of LifeKeeper itself, shared by the modules.

pub mod defaults_file;
pub mod mirrors;
pub mod status;
pub mod version;

//! Knowledge of LifeKeeper itself, shared by the modules.

pub mod capture;
pub mod defaults_file;
pub mod status;
pub mod version;

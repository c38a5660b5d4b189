//! One file per module: its declared parameters, its typed `Params`, and its logic.

pub mod backup;
pub mod capture;
pub mod defaults_merge;
pub mod preflight;
pub mod resource;
pub mod upgrade;

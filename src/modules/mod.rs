//! One file per module: its declared parameters, its typed `Params`, and its logic.

pub mod backup;
pub mod defaults_merge;
pub mod preflight;
pub mod resource;
pub mod upgrade;

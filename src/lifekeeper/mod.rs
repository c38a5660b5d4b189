//! Knowledge of LifeKeeper itself, shared by the modules.

//! The `/etc/default/LifeKeeper` shell KEY=VALUE format. Owner: lk_defaults_merge.

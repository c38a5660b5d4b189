//! lkops: shared runtime and LifeKeeper knowledge for the lk_* modules.

//! lk_upgrade (not yet implemented).

use crate::runtime::{Ctx, Failure, Module, ModuleSpec, Outcome, Support, LKROOT};
use serde::Deserialize;

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_upgrade",
    short: "not yet implemented",
    description: &["Not yet implemented."],
    params: &[LKROOT],
    check_mode: (Support::None, "Not yet implemented."),
    diff_mode: (Support::None, "Not yet implemented."),
    notes: &[],
    examples: "",
    returns: &[],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[allow(dead_code)]
    lkroot: std::path::PathBuf,
}

pub struct Upgrade;

impl Module for Upgrade {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(_p: Params, _ctx: &Ctx) -> Result<Outcome, Failure> {
        Err(Failure::new("lk_upgrade is not implemented yet"))
    }
}

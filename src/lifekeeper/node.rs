//! This node's LifeKeeper name: the rules the modules use to tell which node they run on.
//!
//! `name` (lk_backup's default host, lk_upgrade's journal and file names) is `uname -n` (resolved on PATH, so on the simulator, where several nodes share
//! one machine, each node's stand-in answers with its own name), else the kernel's hostname.
//! Field evidence says LifeKeeper itself takes its name from `lcduname` / `$LKROOT/config/UNAME`;
//! where that differs from `uname -n` (a host renamed after install) this rule is wrong.
//! UNCONFIRMED which one LifeKeeper uses on every release; lk_backup's `host` parameter
//! overrides it. `in_status` (lk_resource) reads the name LifeKeeper itself shows, the LOCAL
//! column of `lcdstatus -q`, and needs LifeKeeper running.

use crate::lifekeeper::status;
use crate::runtime::{Cmd, Failure, Runner};
use std::fs;
use std::path::Path;

/// The node name LifeKeeper knows this node by: `uname -n`, else `/proc/sys/kernel/hostname`.
pub fn name(runner: &Runner) -> Result<String, String> {
    if let Ok(out) = runner.run(&Cmd::new("uname").arg("-n")) {
        let n = out.stdout.trim();
        if out.ok() && !n.is_empty() {
            return Ok(n.to_string());
        }
    }
    let n = fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| format!("cannot tell the node name (uname -n failed, /proc/sys/kernel/hostname: {e}); pass host"))?;
    Ok(n.trim().to_string())
}

/// This node's name as LifeKeeper shows it: the LOCAL column of `lcdstatus -q` (`None` when it
/// lists no resource, in which case no name is needed).
pub fn in_status(runner: &Runner, lkroot: &Path) -> Result<Option<String>, Failure> {
    let out = runner.run_ok(
        &Cmd::lk(lkroot, "lcdstatus").arg("-q"),
        "reading this node's name",
    )?;
    let st = status::parse(&out.stdout)
        .map_err(|e| Failure::new(format!("cannot parse `lcdstatus -q`: {e}")))?;
    Ok(st.resources.first().and_then(|r| r.backup.clone()))
}

/// Whether a node name can be part of a file name (journal, saved defaults, setup logs): not
/// empty, no leading `.`, no `/`, line break, NUL or blank.
pub fn file_safe(h: &str) -> Result<(), String> {
    if h.is_empty() || h.starts_with('.') || h.contains(['/', '\n', '\0', ' ']) {
        return Err(format!("the node name '{h}' cannot be used in a file name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_file_names_are_refused() {
        assert!(file_safe("node-a").is_ok());
        assert!(file_safe("node_a.example.com").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", "a\nb"] {
            assert!(file_safe(bad).is_err(), "{bad:?}");
        }
    }
}

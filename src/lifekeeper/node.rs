//! This node's LifeKeeper name: the one rule every module uses to tell which node it runs on
//! (lk_capture and lk_info report it, lk_backup takes it as its default `host`, lk_upgrade keys
//! its journal and file names on it), and the one rule for a name that becomes part of a file name.
//!
//! The name is read in LifeKeeper's own order (field evidence: LifeKeeper takes its name from
//! `lcduname` / `$LKROOT/config/UNAME`): `lcduname`, `$LKROOT/config/UNAME`, the LOCAL column of
//! `lcdstatus -q` (where the caller has read it), then `uname -n` (resolved on PATH, so on the
//! simulator, where several nodes share one machine, each node's stand-in answers with its own
//! name), else the kernel's hostname. lksim has neither lcduname nor config/UNAME.
//! UNCONFIRMED: `rmlk` deletes `$LKROOT` with config/UNAME, so on a host renamed after install
//! (LifeKeeper's name differs from `uname -n`) a rerun of an interrupted reinstall between `rmlk`
//! and the restore would read `uname -n`; lk_backup's `host` parameter overrides the name.
//! `in_status` (lk_resource) reads the name LifeKeeper itself shows, the LOCAL column of
//! `lcdstatus -q`, and needs LifeKeeper running.

use crate::lifekeeper::status;
use crate::runtime::{Cmd, Failure, Runner};
use std::fs;
use std::path::Path;

/// Where the name came from when LifeKeeper's own record had none.
pub const FROM_UNAME: &str = "uname -n";

/// The warning of a caller that expected LifeKeeper to name the node (it is installed) and fell
/// back to `uname -n`.
pub const NOT_RECORDED: &str =
    "the LifeKeeper node name could not be read (lcduname, config/UNAME, lcdstatus -q); uname -n used";

/// A node name and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub source: String,
}

/// The node name by the one rule: LifeKeeper's own record ([`recorded`], running `lcduname`;
/// `q_text` is the output of `lcdstatus -q` where the caller has it, else empty), else the
/// kernel's name ([`from_uname`]).
pub fn name(runner: &Runner, lkroot: &Path, q_text: &str) -> Result<Named, String> {
    let (rc, out) = match runner.run(&Cmd::lk(lkroot, "lcduname")) {
        Ok(o) => (o.rc, o.stdout),
        Err(_) => (127, String::new()),
    };
    if let Some(n) = recorded(rc, &out, lkroot, q_text) {
        return Ok(n);
    }
    let (rc, out) = match runner.run(&Cmd::new("uname").arg("-n")) {
        Ok(o) => (o.rc, o.stdout),
        Err(_) => (127, String::new()),
    };
    Ok(Named {
        name: from_uname(rc, &out)?,
        source: FROM_UNAME.into(),
    })
}

/// LifeKeeper's own record of the node name, in its order: `lcduname`'s run (exit code and
/// output), `$LKROOT/config/UNAME`, then the LOCAL column of `lcdstatus -q` (its output, empty
/// when not run). `None` when none of them names it.
pub fn recorded(
    lcduname_rc: i32,
    lcduname_out: &str,
    lkroot: &Path,
    q_text: &str,
) -> Option<Named> {
    let named = |name: &str, source: String| Named {
        name: name.to_string(),
        source,
    };
    let uname_file = lkroot.join("config/UNAME");
    if lcduname_rc == 0 && !lcduname_out.trim().is_empty() {
        Some(named(lcduname_out.trim(), "lcduname".into()))
    } else if let Some(n) = fs::read_to_string(&uname_file)
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        Some(named(n.trim(), uname_file.display().to_string()))
    } else {
        local_in_q(q_text).map(|n| named(&n, "lcdstatus -q (LOCAL column)".into()))
    }
}

/// The kernel's name of this node from a run of `uname -n` (exit code and output), else
/// `/proc/sys/kernel/hostname`.
pub fn from_uname(rc: i32, out: &str) -> Result<String, String> {
    let n = out.trim();
    if rc == 0 && !n.is_empty() {
        return Ok(n.to_string());
    }
    let n = fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| format!("cannot tell the node name (uname -n failed, /proc/sys/kernel/hostname: {e}); pass host"))?;
    Ok(n.trim().to_string())
}

/// The LOCAL column of an `lcdstatus -q` display: the first resource line's first word (`None`
/// when it lists no resource, e.g. a witness, or cannot be parsed).
pub fn local_in_q(text: &str) -> Option<String> {
    let st = status::parse(text).ok()?;
    st.resources.first().and_then(|r| r.backup.clone())
}

/// This node's name as LifeKeeper shows it: the LOCAL column of `lcdstatus -q` (`None` when it
/// lists no resource, in which case no name is needed).
pub fn in_status(runner: &Runner, lkroot: &Path) -> Result<Option<String>, Failure> {
    let out = runner.run_ok(
        &Cmd::lk(lkroot, "lcdstatus").arg("-q"),
        "reading this node's name",
    )?;
    status::parse(&out.stdout)
        .map_err(|e| Failure::new(format!("cannot parse `lcdstatus -q`: {e}")))?;
    Ok(local_in_q(&out.stdout))
}

/// Whether a node name can be part of a file name (lk_backup's archives, lk_upgrade's journal,
/// saved defaults and setup logs, lk_capture's DEST/<node>): the one path-name rule,
/// [`crate::runtime::fs::is_path_name`].
pub fn check(h: &str) -> Result<(), String> {
    if crate::runtime::fs::is_path_name(h) {
        Ok(())
    } else {
        Err(format!(
            "the node name {h:?} cannot be part of a file name (letters, digits, '-', '.', '_'; not starting with '-' or '.')"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_file_names_are_refused() {
        assert!(check("node-a").is_ok());
        assert!(check("node_a.example.com").is_ok());
        assert!(check("n1.example.com").is_ok());
        for bad in ["", ".hidden", "-x", "a/b", "a b", "a\nb", "a\0b", "é"] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        assert!(check(&"a".repeat(254)).is_err());
    }

    /// Regression: a witness node (no resources) was named "Communication" after the next
    /// section's title.
    #[test]
    fn node_name_is_not_read_from_a_q_display_without_resources() {
        let q = "Resource Hierarchy Information\n\nLOCAL    TAG  ID   STATE     PRIO  PRIMARY\n\nCommunication Status Information\n\nMACHINE  NETWORK ADDRESSES/DEVICE  STATE  PRIO\nnode-a   TCP  10.0.0.3/10.0.0.1  ALIVE  1\n";
        assert_eq!(local_in_q(q), None);
        let q = "Resource Hierarchy Information\n\nLOCAL    TAG  ID   STATE     PRIO  PRIMARY\nnode-a   ip   IP   ISP  1  node-a\n";
        assert_eq!(local_in_q(q).as_deref(), Some("node-a"));
    }

    /// The stopped sentence and the header-only display (field evidence [MH]) name no node.
    #[test]
    fn node_name_is_not_read_from_a_stopped_or_empty_q_display() {
        assert_eq!(
            local_in_q("LifeKeeper does not appear to be running.\n"),
            None
        );
        assert_eq!(
            local_in_q("LOCAL      TAG   ID    STATE     PRIO  PRIMARY\n"),
            None
        );
    }

    #[test]
    fn lifekeepers_record_comes_before_uname() {
        let d = std::env::temp_dir().join(format!("lkops-node-{}", std::process::id()));
        fs::create_dir_all(d.join("config")).unwrap();
        let q = "Resource Hierarchy Information\n\nLOCAL    TAG  ID   STATE     PRIO  PRIMARY\nq-name   ip   IP   ISP  1  q-name\n";
        let n = recorded(0, "lcd-name\n", &d, q).unwrap();
        assert_eq!(
            (n.name.as_str(), n.source.as_str()),
            ("lcd-name", "lcduname")
        );
        assert_eq!(recorded(127, "", &d, q).unwrap().name, "q-name");
        fs::write(d.join("config/UNAME"), "file-name\n").unwrap();
        assert_eq!(recorded(1, "x", &d, q).unwrap().name, "file-name");
        fs::remove_dir_all(&d).unwrap();
        assert_eq!(recorded(127, "", &d, ""), None);
        assert_eq!(from_uname(0, "k-name\n").unwrap(), "k-name");
    }
}

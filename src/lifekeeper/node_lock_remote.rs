//! The node lock of ANOTHER node, taken through LifeKeeper's own remote channel (issue 28 O1).
//!
//! lk_upgrade holds its node's lock (`node_lock`) from before its plan to its last step, setup
//! included, and setup stops LifeKeeper on that node. A switchover started on a peer
//! (`lk_resource state=standby` there) restores hierarchies on the target with
//! `lcdremexec -d TARGET -- perform_action ...`: it took no lock on the target, so it could bring
//! every hierarchy into service on a node whose setup was about to stop LifeKeeper — every
//! hierarchy out of service on every node. So a switchover onto a node runs its remote
//! `perform_action` while holding THAT node's lock, in the shell lcdremexec runs on the far side:
//!
//! - held by another lkops module there (an lk_upgrade in progress, whoever started it): the
//!   restore does not start, nothing moves ([`HELD`]);
//! - free: the restore runs holding it, so an lk_upgrade started there meanwhile waits for it and
//!   then plans from what it left (its require_standby check sees the hierarchies and refuses).
//!
//! Why a lock and not a marker file: checking a marker and then restoring leaves a window in
//! which the upgrade starts between the two; only mutual exclusion closes it. Why this way: no
//! lkops binary is installed on the nodes (modules are copied per call), so the far side uses
//! what every LifeKeeper node has: a POSIX shell, `flock(1)` (util-linux), `readlink -f`,
//! `sha256sum` and `cut` (coreutils). The script finds the lock file exactly as `node_lock::path`
//! does (the first usable of /run/lkops, /var/lock/lkops, `${TMPDIR:-/tmp}/lkops-locks-<uid>`,
//! then the first 16 hex digits of the sha256 of the canonical lkroot), holds it on descriptor 9
//! and closes that descriptor for perform_action, so an application it starts cannot keep the
//! lock. UNCONFIRMED: that the real lcdremexec returns the remote shell's exit code as is (the
//! field evidence says it returns the remote command's).

use super::remote::sh_quote;
use crate::runtime::{Cmd, Failure};
use std::path::Path;

/// Exit code of the remote script: another lkops module holds the target's node lock.
pub const HELD: i32 = 75;
/// Exit code of the remote script: no directory for the lock file could be used there.
pub const NO_DIR: i32 = 76;
/// Exit code of the remote script: `flock` is not installed there.
pub const NO_FLOCK: i32 = 77;

/// The shell lines that set `L` to the lock file of `lkroot` (quoted), as `node_lock::path` finds
/// it; `create`: make the directory like `node_lock` does (a real run), else only look (check).
fn find_lock(lkroot_q: &str, create: bool) -> String {
    let mk = if create {
        "mkdir -p -m 700 \"$d\" 2>/dev/null; "
    } else {
        ""
    };
    format!(
        "command -v flock >/dev/null 2>&1 || {{ echo 'flock (util-linux) is not installed' >&2; exit {NO_FLOCK}; }}; \
         L=; for d in /run/lkops /var/lock/lkops \"${{TMPDIR:-/tmp}}/lkops-locks-$(id -u)\"; do \
         {mk}if [ -d \"$d\" ] && [ ! -h \"$d\" ] && [ -O \"$d\" ]; then \
         L=\"$d/$(printf %s \"$(readlink -f {lkroot_q} 2>/dev/null || echo {lkroot_q})\" | sha256sum | cut -c1-16).lock\"; break; fi; done; "
    )
}

/// `lcdremexec -e -d NODE -- '<script>'`: the whole script is one word; lcdremexec joins its
/// words and the far side runs the line with a shell (field evidence).
fn remote(lkroot: &Path, node: &str, script: String) -> Cmd {
    Cmd::lk(lkroot, "lcdremexec")
        .args(["-e", "-d", node, "--"])
        .arg(script)
}

/// Run `words` (each quoted here) on `node` holding `node`'s lkops node lock (of
/// `remote_lkroot`): the script exits [`HELD`] without running them when another lkops module
/// holds it. `param` names the parameter a word that cannot be quoted came from.
pub fn run_holding<S: AsRef<str>>(
    lkroot: &Path,
    remote_lkroot: &Path,
    node: &str,
    words: &[S],
    param: &str,
) -> Result<Cmd, Failure> {
    let q = |w: &str| sh_quote(w).map_err(|why| Failure::param(param, format!("{param}: {why}")));
    let root = q(&remote_lkroot.to_string_lossy())?;
    let mut line = vec![];
    for w in words {
        line.push(q(w.as_ref())?);
    }
    let script = format!(
        "{}[ -n \"$L\" ] || {{ echo 'no usable directory for the lkops node lock' >&2; exit {NO_DIR}; }}; \
         exec 9>>\"$L\" || exit {NO_DIR}; \
         flock -n 9 || {{ echo \"lkops node lock $L is held\" >&2; exit {HELD}; }}; \
         {} 9>&-",
        find_lock(&root, true),
        line.join(" ")
    );
    Ok(remote(lkroot, node, script))
}

/// Read-only: does another lkops module hold `node`'s node lock now? Exits 0 when free (or when
/// no lock file exists there: no lkops module ever locked that node), [`HELD`] when held. Opens
/// the lock file for reading only and creates nothing (check mode runs it too).
pub fn probe(lkroot: &Path, remote_lkroot: &Path, node: &str) -> Result<Cmd, Failure> {
    let root = sh_quote(&remote_lkroot.to_string_lossy())
        .map_err(|why| Failure::param("remote_lkroot", format!("remote_lkroot: {why}")))?;
    let script = format!(
        "{}[ -n \"$L\" ] && [ -f \"$L\" ] || exit 0; exec 9<\"$L\" || exit 0; \
         flock -n 9 || {{ echo \"lkops node lock $L is held\" >&2; exit {HELD}; }}; exit 0",
        find_lock(&root, false)
    );
    Ok(remote(lkroot, node, script))
}

/// The refusal when `node`'s lock is held: why the switchover cannot go there now.
pub fn held_message(what: &str, node: &str) -> String {
    format!(
        "refusing to switch {what} over to {node}: another lkops module is changing {node} (its node lock is held), such as an lk_upgrade whose setup stops LifeKeeper there, which would leave {what} in service on no node; nothing was moved there. Rerun when it has finished, or choose another node with switch_to"
    )
}

/// Why the remote script refused, for exit codes other than [`HELD`]; None for any other code
/// (the remote command's own).
pub fn other_refusal(rc: i32, node: &str) -> Option<String> {
    match rc {
        NO_FLOCK => Some(format!(
            "flock (util-linux) is not installed on {node}: lkops needs it there to make sure no upgrade is in progress on {node} before switching a hierarchy onto it; nothing was moved there"
        )),
        NO_DIR => Some(format!(
            "no usable directory for the lkops node lock on {node} (/run/lkops, /var/lock/lkops, the temp dir); nothing was moved there"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Runner;

    /// The far side's script finds the very lock file `node_lock` takes, and honours it: while a
    /// module holds the node lock the command does not run and the script exits HELD; once free
    /// it runs (holding the lock) and the probe says free. Run through `sh -c` as the far side of
    /// lcdremexec does (the Cmd's last word is the line).
    #[test]
    fn the_remote_script_honours_the_node_lock_of_that_lkroot() {
        let dir = std::env::temp_dir().join(format!("lkops-rlock-{}", std::process::id()));
        let lkroot = dir.join("opt/LifeKeeper");
        std::fs::create_dir_all(&lkroot).unwrap();
        let ran = dir.join("ran");
        let touch = ["touch".to_string(), ran.display().to_string()];
        let line = |c: &Cmd| c.display().last().unwrap().clone();
        let sh = |script: String| {
            Runner::default()
                .run(&Cmd::new("sh").arg("-c").arg(script))
                .unwrap()
        };
        let held =
            super::super::node_lock::take(&lkroot, "lk_upgrade", std::time::Duration::from_secs(1))
                .unwrap();
        let c = run_holding(Path::new("/x"), &lkroot, "node-b", &touch, "tags").unwrap();
        assert_eq!(
            &c.display()[..5],
            ["/x/bin/lcdremexec", "-e", "-d", "node-b", "--"]
        );
        let out = sh(line(&c));
        assert_eq!(out.rc, HELD, "{out:?}");
        assert!(
            !ran.exists(),
            "the command ran while the node lock was held"
        );
        let p = probe(Path::new("/x"), &lkroot, "node-b").unwrap();
        assert_eq!(sh(line(&p)).rc, HELD);
        drop(held);
        assert_eq!(sh(line(&p)).rc, 0);
        let out = sh(line(&c));
        assert_eq!(out.rc, 0, "{out:?}");
        assert!(ran.exists());
        // A word that cannot be quoted is refused naming the parameter.
        let e = run_holding(Path::new("/x"), &lkroot, "n", &["a\nb"], "tags").unwrap_err();
        assert_eq!(e.data["invalid_parameter"], "tags");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

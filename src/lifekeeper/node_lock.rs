//! The node-wide lock: one exclusive flock per LifeKeeper installation (per lkroot) that every
//! module that changes the node takes (lk_upgrade, lk_resource, lk_backup present/restored,
//! lk_defaults_merge), so two of them never change one node at once (issue 22 defects 5, 8).
//!
//! Where: `/run/lkops/<sha256 of the canonical lkroot, 16 hex>.lock` — a fixed place that does
//! not depend on any module's state_dir, backup_dir or dest (a lock keyed on those let two
//! lk_upgrade runs that differed only in state_dir run setup at once). /run is a tmpfs: a lock
//! left by a crash is released by the kernel (flock dies with its holder) and the file is gone at
//! boot. When /run/lkops cannot be created (not root), `/var/lock/lkops`, then the temp dir's
//! `lkops-locks-<uid>` are tried in that order; runs by one user always pick the same one.

use crate::runtime::{fs as rfs, Failure};
use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The directories tried for the lock file, in order.
fn dirs() -> Vec<PathBuf> {
    vec![
        PathBuf::from("/run/lkops"),
        PathBuf::from("/var/lock/lkops"),
        std::env::temp_dir().join(format!("lkops-locks-{}", nix::unistd::geteuid())),
    ]
}

/// The lock file's name for `lkroot` (its canonical path when it exists, so `/opt/LifeKeeper`
/// and a symlink to it share one lock).
pub fn file_name(lkroot: &Path) -> String {
    let canon = fs::canonicalize(lkroot).unwrap_or_else(|_| lkroot.to_path_buf());
    let h = Sha256::digest(canon.as_os_str().as_encoded_bytes());
    let hex: String = h.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{hex}.lock")
}

/// A usable lock directory: a real directory (not a symbolic link) owned by us, mode 0700.
fn usable(dir: &Path) -> bool {
    let _ = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir);
    fs::symlink_metadata(dir)
        .is_ok_and(|m| m.file_type().is_dir() && m.uid() == nix::unistd::geteuid().as_raw())
}

/// Where the lock of `lkroot` is.
pub fn path(lkroot: &Path) -> Result<PathBuf, Failure> {
    dirs()
        .into_iter()
        .find(|d| usable(d))
        .map(|d| d.join(file_name(lkroot)))
        .ok_or_else(|| Failure::new("cannot create a directory for the node lock (/run/lkops, /var/lock/lkops or the temp dir)"))
}

/// Take the node lock of `lkroot`, waiting up to `wait` for another module to finish.
pub fn take(lkroot: &Path, module: &str, wait: Duration) -> Result<rfs::Lock, Failure> {
    let path = path(lkroot)?;
    rfs::lock(&path, wait).map_err(|e| {
        let why = rfs::lock_failure(&e, &path, || {
            format!(
                "another lkops module is changing this node ({} held for more than {} s): {e}; rerun when it has finished",
                path.display(),
                wait.as_secs()
            )
        });
        Failure::new(format!("{module}: {why}"))
    })
}

/// Read-only: does some process hold the node lock of `lkroot` now? Opens an existing lock file
/// for reading and tries a non-blocking shared flock (released at once); creates nothing, so a
/// read-only module (lk_info) can ask. No lock file: nobody ever locked this node (false).
pub fn held(lkroot: &Path) -> bool {
    use nix::fcntl::{Flock, FlockArg};
    let Some(file) = dirs()
        .into_iter()
        .map(|d| d.join(file_name(lkroot)))
        .find(|p| p.is_file())
        .and_then(|p| fs::File::open(p).ok())
    else {
        return false;
    };
    Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_lock_depends_only_on_lkroot_and_excludes_a_second_holder() {
        let a = path(Path::new("/opt/LifeKeeper-test-node-lock")).unwrap();
        assert_eq!(
            a,
            path(Path::new("/opt/LifeKeeper-test-node-lock")).unwrap()
        );
        assert_ne!(
            a,
            path(Path::new("/opt/LifeKeeper-test-node-lock-2")).unwrap()
        );
        let root = Path::new("/opt/LifeKeeper-test-node-lock-excl");
        let l = take(root, "t", Duration::from_secs(1)).unwrap();
        assert!(held(root), "held() sees the lock");
        let e = take(root, "t", Duration::from_millis(50)).unwrap_err();
        assert!(e.msg.contains("another lkops module"), "{}", e.msg);
        drop(l);
        assert!(!held(root));
        take(root, "t", Duration::from_millis(50)).unwrap();
    }
}

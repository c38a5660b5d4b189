//! The upgrade journal: what has been done so far, so a rerun resumes at the first step not done.
//! One JSON file per node (`upgrade-journal.<node>.json` in backup_dir, else state_dir), written
//! atomically after every step that changes the node.

use crate::lifekeeper::backup_store;
use crate::lifekeeper::version::Path as UpPath;
use crate::runtime::{fs as rfs, Failure};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// What has been done so far.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Journal {
    pub format: u32,
    pub host: String,
    pub target: String,
    pub previous_version: Option<String>,
    pub path: String,
    pub stepping: Option<String>,
    /// Whether LifeKeeper ran before the first step (start_after=auto restores that).
    pub was_running: bool,
    pub started: String,
    /// The names of the steps done, in order.
    pub done: Vec<String>,
    pub packages_before: Vec<String>,
    pub saved_defaults: Option<String>,
    pub setup_logs: Vec<String>,
    pub finished: bool,
    /// The verified lk_backup archive the reinstall restores (absent in journals of older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The fresh release's defaults file, kept across the restore (which brings back the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh_defaults: Option<String>,
    /// What the target media's `setup --help` printed when it was probed (before any change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_usage: Option<String>,
    /// Files under lkroot no package owns, saved before rmlk (`site_files` archive in backup_dir).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_reinstall: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_files_archive: Option<String>,
    /// `/etc/machine-id` of the node that started it: how a rerun after rmlk (which removes
    /// LifeKeeper's record of the node name) knows the journal is its own by something other
    /// than a name (absent in journals of older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
}

impl Journal {
    /// The path the journal records; `Err` for a name this version does not know.
    pub fn recorded_path(&self) -> Result<UpPath, String> {
        match self.path.as_str() {
            "direct" => Ok(UpPath::Direct),
            "stepwise" => Ok(UpPath::Stepwise),
            "reinstall" => Ok(UpPath::Reinstall),
            "rollback" => Ok(UpPath::Rollback),
            other => Err(format!("the journal records an unknown path '{other}'")),
        }
    }
    pub fn is_done(&self, step: &str) -> bool {
        self.done.iter().any(|d| d == step)
    }
}

/// Where the journal of `host` is kept.
pub fn path(dir: &Path, host: &str) -> PathBuf {
    dir.join(backup_store::journal_name(host))
}

/// The one unfinished journal in `dir` (any node's name) started on the machine `machine_id`,
/// with its path; `None` when there is none or more than one.
pub fn only_unfinished(
    dir: &Path,
    machine_id: &str,
) -> Result<Option<(PathBuf, Journal)>, Failure> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(_) => return Ok(None),
    };
    let mut found = vec![];
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if backup_store::journal_host(&name).is_none() {
            continue;
        }
        let Ok(Some(j)) = read(&e.path()) else {
            continue;
        };
        if !j.finished && j.machine_id.as_deref() == Some(machine_id) {
            found.push((e.path(), j));
        }
    }
    Ok(if found.len() == 1 { found.pop() } else { None })
}

/// The journal at `path`; `None` when there is none.
pub fn read(path: &Path) -> Result<Option<Journal>, Failure> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::new(format!(
                "cannot read the journal {}: {e}",
                path.display()
            )))
        }
    };
    let j: Journal = serde_json::from_str(&text).map_err(|e| {
        Failure::new(format!(
            "{} is not an lk_upgrade journal ({e}); move it away if it is stale",
            path.display()
        ))
    })?;
    if j.format != 1 {
        return Err(Failure::new(format!(
            "{} has journal format {}, expected 1",
            path.display(),
            j.format
        )));
    }
    Ok(Some(j))
}

/// The journal's text as written.
pub fn render(j: &Journal) -> String {
    serde_json::to_string_pretty(j).expect("journal serialises") + "\n"
}

pub fn write(path: &Path, j: &Journal) -> Result<(), Failure> {
    let text = render(j);
    rfs::write_atomic(path, text.as_bytes(), 0o600)
        .map_err(|e| Failure::new(format!("cannot write the journal {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(host: &str, machine_id: Option<&str>, finished: bool) -> Journal {
        serde_json::from_value(serde_json::json!({
            "format": 1, "host": host, "target": "9.6.1", "previous_version": "9.3.2",
            "path": "reinstall", "stepping": null, "was_running": true,
            "started": "2026-12-01T08:00:00Z", "done": ["uninstall LifeKeeper"],
            "packages_before": [], "saved_defaults": null, "setup_logs": [],
            "finished": finished, "machine_id": machine_id
        }))
        .unwrap()
    }

    /// Regression: rmlk removes LifeKeeper's record of the node name, so on a host renamed since
    /// LifeKeeper was installed the rerun looked for `upgrade-journal.<new name>.json`, found
    /// none and would have started over on an uninstalled node. It takes the one unfinished
    /// journal this machine started, and never another machine's (a shared backup_dir).
    #[test]
    fn renamed_host_after_rmlk_loses_its_unfinished_reinstall() {
        let dir = std::env::temp_dir().join(format!("lkops-journal-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        write(&path(&dir, "old-a"), &journal("old-a", Some("m1"), false)).unwrap();
        write(&path(&dir, "node-b"), &journal("node-b", Some("m2"), false)).unwrap();
        write(&path(&dir, "old-x"), &journal("old-x", Some("m1"), true)).unwrap();
        let (p, j) = only_unfinished(&dir, "m1").unwrap().unwrap();
        assert_eq!((p, j.host.as_str()), (path(&dir, "old-a"), "old-a"));
        assert!(only_unfinished(&dir, "m3").unwrap().is_none());
        // Two of this machine's: none can be told to be the one.
        write(&path(&dir, "old-c"), &journal("old-c", Some("m1"), false)).unwrap();
        assert!(only_unfinished(&dir, "m1").unwrap().is_none());
        // Journals of older runs record no machine: never taken.
        assert!(only_unfinished(&dir, "").unwrap().is_none());
        let _ = fs::remove_dir_all(&dir);
    }
}

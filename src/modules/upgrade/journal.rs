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
}

impl Journal {
    /// The path the journal records; `Err` for a name this version does not know.
    pub fn recorded_path(&self) -> Result<UpPath, String> {
        match self.path.as_str() {
            "direct" => Ok(UpPath::Direct),
            "stepwise" => Ok(UpPath::Stepwise),
            "reinstall" => Ok(UpPath::Reinstall),
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

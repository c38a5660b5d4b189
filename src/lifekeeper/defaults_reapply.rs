//! Re-applying a node's saved site parameters to the defaults file on disk (lk_upgrade after a
//! reinstall): read the saved copy, the new file and the optional pristine base, run the pure
//! three-way merge (`defaults_merge::merge`), keep a backup copy of the new file and write the
//! result atomically, under the same lock lk_defaults_merge takes on that file. `apply` is the
//! one merge of files on disk that lk_defaults_merge runs too.

use super::defaults_merge::{self, Input, Merged, Options};
use crate::runtime::{fs, Failure};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the re-apply did.
#[derive(Debug)]
pub struct Reapplied {
    pub changed: bool,
    /// The copy of dest taken before it was rewritten.
    pub backup_file: Option<PathBuf>,
    pub merged: Merged,
}

impl Reapplied {
    /// Keys carried from the saved file, with the value written, as a JSON object.
    pub fn carried(&self) -> Value {
        Value::Object(
            self.merged
                .carried
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        )
    }
    pub fn warnings(&self) -> Vec<String> {
        self.merged.warnings()
    }
}

/// The lock lk_defaults_merge holds while it rewrites `dest` (one per file, in the temp dir), so
/// the two modules never write the same defaults file at once.
pub fn lock(dest: &Path) -> Result<fs::Lock, Failure> {
    let id = fs::sha256_bytes(dest.display().to_string().as_bytes());
    let path = std::env::temp_dir().join(format!(".lkops-defaults-merge-{}.lock", &id[..16]));
    fs::lock(&path, std::time::Duration::from_secs(120))
        .map_err(|e| Failure::new(format!("cannot lock {}: {e}", dest.display())))
}

/// The three files of a merge: the saved site file, the file to rewrite, the optional pristine
/// defaults of the old release.
#[derive(Debug, Clone, Copy)]
pub struct Files<'a> {
    pub src: &'a Path,
    pub dest: &'a Path,
    pub base: Option<&'a Path>,
}

/// What a merge of the files found, and did when it wrote.
#[derive(Debug)]
pub struct Applied {
    pub changed: bool,
    /// dest as it was read.
    pub before: String,
    /// The copy of dest taken before it was rewritten.
    pub backup_file: Option<PathBuf>,
    pub merged: Merged,
}

/// The one merge of files on disk, for lk_defaults_merge and lk_upgrade alike: read the three
/// files, run the pure merge, and when `write` and something changes, keep a backup copy of dest
/// (`backup`) and write it atomically, under the per-file lock. Errors name the input as
/// lk_defaults_merge's parameters do (`src`, `defaults_file`, `base`), with the file and line.
pub fn apply(f: Files, opts: &Options, write: bool, backup: bool) -> Result<Applied, Failure> {
    if let Err(e) = fs::check_regular_target(f.dest) {
        return Err(Failure::param(
            "defaults_file",
            format!("defaults_file: {e}"),
        ));
    }
    // Serialise with a concurrent run on the same file; a check run only reads.
    let _lock = if write { Some(lock(f.dest)?) } else { None };
    let read =
        |param: &str, path: &Path| fs::read_text(path, param).map_err(|e| Failure::param(param, e));
    let src_text = read("src", f.src)?;
    let before = read("defaults_file", f.dest)?;
    let base_text = f.base.map(|b| read("base", b)).transpose()?;
    let merged =
        defaults_merge::merge(&src_text, &before, base_text.as_deref(), opts).map_err(|e| {
            let param = e.input.name();
            match e.line {
                // A file that cannot be parsed: name the file and the line.
                Some(line) => {
                    let path = match e.input {
                        Input::Src => f.src,
                        Input::Base => f.base.unwrap_or(f.src),
                        _ => f.dest,
                    };
                    Failure::param(
                        param,
                        format!(
                            "{param} {} line {line}: {}; nothing was changed",
                            path.display(),
                            e.msg
                        ),
                    )
                    .with("line", line)
                }
                None => Failure::param(param, e.msg),
            }
        })?;
    let mut backup_file = None;
    if merged.changed && write {
        clean_stale_temps(f.dest);
        if backup {
            backup_file = Some(fs::backup_copy(f.dest).map_err(|e| {
                Failure::new(format!(
                    "cannot back up {}: {e}; dest left untouched",
                    f.dest.display()
                ))
            })?);
        }
        fs::write_atomic(f.dest, merged.after.as_bytes(), 0o644).map_err(|e| {
            Failure::new(format!(
                "cannot write {}: {e}; dest left untouched",
                f.dest.display()
            ))
        })?;
    }
    Ok(Applied {
        changed: merged.changed,
        before,
        backup_file,
        merged,
    })
}

/// Merge `src` (the saved old file) into `dest` (three-way with `base`), keeping a backup copy
/// of dest when it changes: lk_upgrade's re-apply after a reinstall.
pub fn reapply(src: &Path, dest: &Path, base: Option<&Path>) -> Result<Reapplied, Failure> {
    let set = BTreeMap::new();
    let src_name = src.display().to_string();
    let opts = Options {
        drop: &[],
        keep_new: &[],
        set: &set,
        src_name: &src_name,
    };
    let a = apply(Files { src, dest, base }, &opts, true, true)?;
    Ok(Reapplied {
        changed: a.changed,
        backup_file: a.backup_file,
        merged: a.merged,
    })
}

/// Remove the temp files an interrupted earlier run left beside dest: dest's own and those of
/// its timestamped backup copies (`.<dest>.<pid>.<stamp>~.lkops-tmp.<pid>`), which
/// `fs::clean_stale_temps(dest)` alone does not match. Writers still alive are left alone.
fn clean_stale_temps(dest: &Path) {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut targets = std::collections::BTreeSet::from([dest.to_path_buf()]);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if let Some((target, _pid)) = n
            .strip_prefix('.')
            .and_then(|s| s.split_once(".lkops-tmp."))
        {
            if target.starts_with(&format!("{name}.")) && target.ends_with('~') {
                targets.insert(dir.join(target));
            }
        }
    }
    for t in targets {
        let _ = fs::clean_stale_temps(&t);
    }
}

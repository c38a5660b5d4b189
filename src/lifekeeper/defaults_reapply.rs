//! Re-applying a node's saved site parameters to the defaults file on disk (lk_upgrade after a
//! reinstall): read the saved copy, the new file and the optional pristine base, run the pure
//! three-way merge (`defaults_merge::merge`), keep a backup copy of the new file and write the
//! result atomically, under the same lock lk_defaults_merge takes on that file.

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

/// Merge `src` (the saved old file) into `dest` (three-way with `base`), keeping a backup copy
/// of dest when it changes. Errors name the input as lk_defaults_merge's parameters do.
pub fn reapply(src: &Path, dest: &Path, base: Option<&Path>) -> Result<Reapplied, Failure> {
    let set = BTreeMap::new();
    let src_name = src.display().to_string();
    let opts = Options {
        drop: &[],
        keep_new: &[],
        set: &set,
        src_name: &src_name,
    };
    if let Err(e) = fs::check_regular_target(dest) {
        return Err(Failure::param("dest", format!("dest: {e}")));
    }
    let _lock = lock(dest)?;
    let read =
        |param: &str, path: &Path| fs::read_text(path, param).map_err(|e| Failure::param(param, e));
    let src_text = read("src", src)?;
    let before = read("dest", dest)?;
    let base_text = base.map(|b| read("base", b)).transpose()?;
    let merged =
        defaults_merge::merge(&src_text, &before, base_text.as_deref(), &opts).map_err(|e| {
            let param = e.input.name();
            match e.line {
                Some(line) => {
                    let path = match e.input {
                        Input::Src => src,
                        Input::Base => base.unwrap_or(src),
                        _ => dest,
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
    if merged.changed {
        let _ = fs::clean_stale_temps(dest);
        backup_file = Some(fs::backup_copy(dest).map_err(|e| {
            Failure::new(format!(
                "cannot back up {}: {e}; dest left untouched",
                dest.display()
            ))
        })?);
        fs::write_atomic(dest, merged.after.as_bytes(), 0o644).map_err(|e| {
            Failure::new(format!(
                "cannot write {}: {e}; dest left untouched",
                dest.display()
            ))
        })?;
    }
    Ok(Reapplied {
        changed: merged.changed,
        backup_file,
        merged,
    })
}

//! Re-applying a node's saved site parameters to the defaults file on disk (lk_upgrade after a
//! reinstall): read the saved copy, the new file and the optional pristine base, run the pure
//! three-way merge (`defaults_merge::merge`), keep a backup copy of the new file and write the
//! result atomically, under the same lock lk_defaults_merge takes on that file. `apply` is the
//! one merge of files on disk that lk_defaults_merge runs too.
//!
//! Backup copies are bounded (issue 22 defect 9: every re-apply left another
//! `<dest>.<pid>.<stamp>~`, so they accumulated beside `/etc/default/LifeKeeper`): each change
//! keeps one copy of dest as it was before it (mode 0600 at most, its path returned as
//! `backup_file`), and the [`BACKUPS_KEPT`] newest of lkops's copies of that file are kept; older
//! ones are removed after the new file is written and named in the warnings. lkops's copies are
//! told by name (`<dest name>.<digits>.<YYYY-MM-DD@HH:MM:SS>~`, Ansible's `backup: yes`
//! naming) and by mode (a regular file with no group or other permission bits, which every copy
//! lkops makes has); a copy with any group/other bit (Ansible's copies keep the original's
//! mode, typically 0644) or a symbolic link is never removed.

use super::defaults_merge::{self, Input, Merged, Options};
use crate::runtime::{fs, Failure};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How many of lkops's backup copies of a defaults file are kept beside it (the newest, the
/// one just taken included).
pub const BACKUPS_KEPT: usize = 3;

/// What the re-apply did.
#[derive(Debug)]
pub struct Reapplied {
    pub changed: bool,
    /// The copy of dest taken before it was rewritten.
    pub backup_file: Option<PathBuf>,
    /// Older backup copies removed to keep [`BACKUPS_KEPT`].
    pub pruned: Vec<PathBuf>,
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
        let mut w = self.merged.warnings();
        w.extend(pruned_warning(&self.pruned));
        w
    }
}

/// The lock lk_defaults_merge holds while it rewrites `dest` (one per file, in the temp dir), so
/// the two modules never write the same defaults file at once.
pub fn lock(dest: &Path) -> Result<fs::Lock, Failure> {
    let id = fs::sha256_bytes(dest.display().to_string().as_bytes());
    let path = std::env::temp_dir().join(format!(".lkops-defaults-merge-{}.lock", &id[..16]));
    fs::lock(&path, std::time::Duration::from_secs(120)).map_err(|e| {
        Failure::new(fs::lock_failure(&e, &path, || {
            format!("cannot lock {}: {e}", dest.display())
        }))
    })
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
    /// Older backup copies removed to keep [`BACKUPS_KEPT`] (see the module notes).
    pub pruned: Vec<PathBuf>,
    pub merged: Merged,
}

/// The warning that names the backup copies a run removed, if any.
pub fn pruned_warning(pruned: &[PathBuf]) -> Option<String> {
    (!pruned.is_empty()).then(|| {
        format!(
            "removed {} older backup cop{} of the defaults file (the {BACKUPS_KEPT} newest are kept): {}",
            pruned.len(),
            if pruned.len() == 1 { "y" } else { "ies" },
            pruned
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
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
    // Serialise with a concurrent run on the same file; a check run only reads. A real run
    // removes the temps killed runs left beside dest, whether or not it changes dest.
    let _lock = if write { Some(lock(f.dest)?) } else { None };
    if write {
        clean_stale_temps(f.dest);
    }
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
    let mut pruned = vec![];
    if merged.changed && write {
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
        if backup_file.is_some() {
            pruned = prune_backups(f.dest, BACKUPS_KEPT);
        }
    }
    Ok(Applied {
        changed: merged.changed,
        before,
        backup_file,
        pruned,
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
        pruned: a.pruned,
        merged: a.merged,
    })
}

/// dest's file name and the directory it is in (`.` for a bare name).
fn name_and_dir(dest: &Path) -> (String, &Path) {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    (name, dir)
}

/// The backup stamp of `file` when it names one of lkops's backup copies of the file called
/// `name` (`<name>.<digits>.<YYYY-MM-DD@HH:MM:SS>~`).
fn backup_stamp<'a>(name: &str, file: &'a str) -> Option<&'a str> {
    let rest = file
        .strip_prefix(name)?
        .strip_prefix('.')?
        .strip_suffix('~')?;
    let (pid, stamp) = rest.split_once('.')?;
    let b = stamp.as_bytes();
    let shape = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'@',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    (!pid.is_empty() && pid.bytes().all(|c| c.is_ascii_digit()) && shape).then_some(stamp)
}

/// Remove lkops's backup copies of `dest` beyond the `keep` newest (by stamp, then name); see
/// the module notes for which files count. Returns what was removed; a file that cannot be
/// removed is left (the next run tries again).
pub fn prune_backups(dest: &Path, keep: usize) -> Vec<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let (name, dir) = name_and_dir(dest);
    let mut ours: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let stamp = backup_stamp(&name, &n)?.to_string();
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            (m.is_file() && m.permissions().mode() & 0o077 == 0).then(|| (stamp + &n, e.path()))
        })
        .collect();
    ours.sort();
    let excess = ours.len().saturating_sub(keep);
    ours.into_iter()
        .take(excess)
        .filter(|(_, p)| std::fs::remove_file(p).is_ok())
        .map(|(_, p)| p)
        .collect()
}

/// Remove the temp files an interrupted earlier run left beside dest: dest's own and those of
/// its timestamped backup copies (`.<dest>.<pid>.<stamp>~.lkops-tmp.<pid>`), which
/// `fs::clean_stale_temps(dest)` alone does not match. Writers still alive are left alone.
pub fn clean_stale_temps(dest: &Path) -> Vec<String> {
    let (name, dir) = name_and_dir(dest);
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
    let mut removed = vec![];
    for t in targets {
        if let Ok(gone) = fs::clean_stale_temps(&t) {
            removed.extend(gone.iter().map(|p| p.display().to_string()));
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn backup_copies_are_bounded_and_only_lkops_copies_are_pruned() {
        let d = std::env::temp_dir().join(format!("lkops-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let dest = d.join("LifeKeeper");
        std::fs::write(&dest, "A=1\n").unwrap();
        let mk = |n: &str, mode: u32| {
            let p = d.join(n);
            std::fs::write(&p, "x").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        for (i, pid) in [(1, 40), (2, 7), (3, 99), (4, 5)] {
            mk(&format!("LifeKeeper.{pid}.2026-01-0{i}@00:00:00~"), 0o600);
        }
        // not lkops's: another tool's copy (mode kept from the original), other shapes
        mk("LifeKeeper.1.2025-01-01@00:00:00~", 0o644);
        mk("LifeKeeper.x.2025-01-01@00:00:00~", 0o600);
        mk("LifeKeeper.1.2025-01-01~", 0o600);
        mk("LifeKeeper.old~", 0o600);
        mk("Other.1.2025-01-01@00:00:00~", 0o600);
        let gone = prune_backups(&dest, 3);
        assert_eq!(gone, [d.join("LifeKeeper.40.2026-01-01@00:00:00~")]);
        let mut left: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "LifeKeeper",
                "LifeKeeper.1.2025-01-01@00:00:00~",
                "LifeKeeper.1.2025-01-01~",
                "LifeKeeper.5.2026-01-04@00:00:00~",
                "LifeKeeper.7.2026-01-02@00:00:00~",
                "LifeKeeper.99.2026-01-03@00:00:00~",
                "LifeKeeper.old~",
                "LifeKeeper.x.2025-01-01@00:00:00~",
                "Other.1.2025-01-01@00:00:00~",
            ]
        );
        assert!(prune_backups(&dest, 3).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }
}

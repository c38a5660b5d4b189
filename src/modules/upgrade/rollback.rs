//! The rollback path of lk_upgrade (`allow_downgrade`): back to the release a node ran before an
//! upgrade. It is the reinstall's machinery run towards an older release — the same node lock,
//! journal, media probe, media and setup steps, post-conditions on a rerun — with two differences
//! decided here: the backup restored is the one lk_backup took of this node AT the older release
//! (before the upgrade), and after `lkbackup -x` the defaults file lk_backup saved with that
//! backup is put back as it was (no merge: the older release's own file, byte for byte).
//!
//! Why not separate playbook steps: a hand-written rmlk + setup had no probe, no override, no
//! timeout and no journal, so a run interrupted after setup counted the empty, stopped node as
//! rolled back (issue 28, O3). Here every step is journaled and a rerun resumes.

use super::facts::Facts;
use super::journal::Journal;
use super::plan::{Action, Refusal, Step};
use super::Params;
use crate::lifekeeper::backup_store::{self, BackupEntry};
use crate::lifekeeper::version::{Path as UpPath, Version};
use crate::runtime::Failure;
use std::path::{Path, PathBuf};

/// The step that writes the older release's defaults file back (after the restore).
pub const PUT_BACK_DEFAULTS: &str = "put back defaults";

/// Whether this run is (or resumes) a rollback: an unfinished journal that records one, or, with
/// none, `allow_downgrade` and a newer release installed than `version`.
pub fn wanted(
    p: &Params,
    installed: Option<Version>,
    target: Version,
    pending: Option<&Journal>,
) -> bool {
    match pending {
        Some(j) => j.path == UpPath::Rollback.name(),
        None => p.allow_downgrade && installed.is_some_and(|i| i > target),
    }
}

/// The path of a first run: a downgrade (`upgrade_path` says Unsupported with a newer release
/// installed) is the rollback path when allowed; anything else is left as it is.
pub fn path(p: &Params, installed: Option<Version>, target: Version, path: UpPath) -> UpPath {
    match (path, installed) {
        (UpPath::Unsupported, Some(i)) if i > target && p.allow_downgrade => UpPath::Rollback,
        _ => path,
    }
}

/// The backup a rollback restores, read-only: the archive an unfinished journal recorded (`None`
/// when it no longer verifies), else the newest backup of `host` recorded at release `target`.
/// Never an older one when that one does not verify: it would silently lose what was configured
/// between the two (the same rule as the reinstall's, issue 22 defect 1).
pub fn find_backup(
    dir: &Path,
    host: &str,
    target: Version,
    recorded: Option<&str>,
) -> Result<Option<BackupEntry>, String> {
    let m = backup_store::read_manifest(dir)?;
    let sums = backup_store::read_sums(dir)?.unwrap_or_default();
    let release = target.to_string();
    let chosen = match recorded {
        Some(a) => m.backups.iter().find(|e| e.host == host && e.archive == a),
        None => m
            .backups
            .iter()
            .filter(|e| e.host == host && e.lifekeeper_version.as_deref() == Some(&release))
            .max_by(|a, b| (a.timestamp, &a.archive).cmp(&(b.timestamp, &b.archive))),
    };
    match chosen {
        None => Ok(None),
        Some(e) if backup_store::entry_ok(dir, e, &sums) => Ok(Some(e.clone())),
        Some(_) if recorded.is_some() => Ok(None),
        Some(e) => Err(format!(
            "the newest backup of {host} taken at {release} in {}, {}, does not verify (a file is missing, damaged or not recorded in {}); an older backup is never used instead. Put back the good copy (e.g. from the controller), then rerun; nothing was changed",
            dir.display(),
            e.archive,
            backup_store::SUMS
        )),
    }
}

/// What the rollback restores, as the plan found it.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackBackup {
    pub archive: PathBuf,
    /// lk_backup's copy of the defaults file taken with the archive (`None`: the backup has
    /// none; the file `lkbackup -x` brings back then stands).
    pub defaults_copy: Option<(PathBuf, String)>,
    /// The configuration fingerprint lk_backup recorded: after the restore the node should have it.
    pub fingerprint: String,
}

/// The rollback's refusals before anything is touched, and what it restores (or, check mode
/// only, why there is no backup yet).
pub fn backup(
    p: &Params,
    target: Version,
    f: &Facts,
    pending: Option<&Journal>,
    check_mode: bool,
) -> Result<(Option<RollbackBackup>, Option<String>), Refusal> {
    let host = f.host.as_str();
    let Some(dir) = &p.backup_dir else {
        return Err(Failure::param(
            "backup_dir",
            format!("the rollback path needs backup_dir holding the verified lk_backup taken of {host} at {target} before the upgrade; nothing was changed"),
        ));
    };
    let found = match &f.backup_entry {
        Some(r) => r.clone().map_err(|e| Failure::param("backup_dir", e))?,
        None => None,
    };
    let recorded = pending.and_then(|j| j.backup.clone());
    match (found, recorded) {
        (Some(e), _) if e.lifekeeper_version.as_deref() != Some(&target.to_string()) => {
            Err(Failure::param(
                "backup_dir",
                format!(
                    "the backup {} of {host} was taken at release {}, not at version {target}: a rollback restores only a backup of the release it returns to; nothing was changed",
                    e.archive,
                    e.lifekeeper_version.as_deref().unwrap_or("unknown")
                ),
            ))
        }
        (Some(e), _) => Ok((
            Some(RollbackBackup {
                archive: dir.join(&e.archive),
                defaults_copy: e
                    .defaults_copy
                    .as_ref()
                    .zip(e.defaults_sha256.as_ref())
                    .map(|(c, s)| (dir.join(c), s.clone())),
                fingerprint: e.fingerprint.clone(),
            }),
            None,
        )),
        (None, Some(a)) => Err(Failure::param(
            "backup_dir",
            format!("the backup {a} in {} that this unfinished rollback of {host} relies on no longer verifies (checksum and host); restore it from your copy, then rerun", dir.display()),
        )),
        (None, None) if check_mode => Ok((
            None,
            Some(format!(
                "no verified backup of {host} taken at {target} in {}: the real run refuses unless one exists (lk_backup takes it before the upgrade)",
                dir.display()
            )),
        )),
        (None, None) => Err(Failure::param(
            "backup_dir",
            format!("{} holds no verified backup of {host} taken at {target} (lk_backup takes one before the upgrade); the rollback restores it, so it refuses before any change", dir.display()),
        )),
    }
}

/// The reinstall's step list made into the rollback's: the media opened (mounted or extracted)
/// before lkstop, so that a media that cannot be opened stops the run while the node is
/// untouched; the restore and the put-back of the older release's defaults file instead of the
/// re-apply. The media and setup steps themselves are the reinstall's, so both paths run setup
/// the same way.
pub fn adjust_steps(
    steps: &mut Vec<Step>,
    p: &Params,
    host: &str,
    target: Version,
    b: Option<&RollbackBackup>,
) {
    if let (Some(m), Some(stop)) = (
        steps
            .iter()
            .position(|s| matches!(s.action, Action::Media(_))),
        steps.iter().position(|s| s.action == Action::Stop),
    ) {
        if m > stop {
            let media = steps.remove(m);
            steps.insert(stop, media);
        }
    }
    let lkroot = p.lkroot.display();
    let archive = b
        .map(|b| b.archive.display().to_string())
        .unwrap_or_else(|| format!("ARCHIVE (the verified lk_backup of {host} at {target})"));
    for s in steps.iter_mut() {
        match s.action {
            Action::VerifyBackup if b.is_some() => {
                s.detail = format!(
                    "{archive} verifies (checksum and host of {host}) and was taken at {target}"
                )
            }
            Action::SaveDefaults => {
                s.detail = format!(
                    "{} (the newer release's file, kept so nothing is lost)",
                    s.detail
                )
            }
            Action::Restore => {
                s.detail = format!(
                    "{lkroot}/bin/lkbackup -x -f {archive} (the {target} configuration: resource hierarchies, comm paths)"
                )
            }
            Action::Reapply => {
                s.name = PUT_BACK_DEFAULTS.into();
                s.action = Action::PutBackDefaults;
                s.detail = match b.map(|b| &b.defaults_copy) {
                    Some(Some((copy, _))) => format!(
                        "write {} (lk_backup's copy taken with the backup, sha256 checked) to {}",
                        copy.display(),
                        p.defaults_file.display()
                    ),
                    Some(None) => format!(
                        "the backup holds no separate copy of {}: the one lkbackup -x restored stands",
                        p.defaults_file.display()
                    ),
                    None => format!(
                        "write lk_backup's copy of {} taken with the backup back",
                        p.defaults_file.display()
                    ),
                }
            }
            _ => {}
        }
    }
}

//! `state=present`: facts (manifest, checksums, fingerprint of the current configuration) →
//! `decide` (take a backup or not, what retention prunes) → apply (lkbackup -c, verified copies,
//! records first, deletions second).

use super::{archive_members, Params};
use crate::lifekeeper::backup_store::{
    check_outside_lkroot, copy_verified, create_dest, dest_exists, entries_json, entry_ok,
    fingerprint, listing, lock_dest, new_names, newest_of, orphans, read_manifest, read_sums,
    select_prune, unfinished_upgrades, write_records, BackupEntry, DestDir, Manifest, LOCK,
};
use crate::lifekeeper::packages;
use crate::runtime::{diff, time, Cmd, Ctx, Failure, Outcome};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub(super) fn present(p: &Params, ctx: &Ctx) -> Result<Outcome, Failure> {
    let dest = p
        .dest
        .as_deref()
        .ok_or_else(|| Failure::param("backup_dir", "backup_dir is required with state=present"))?;
    check_outside_lkroot(dest, &p.lkroot)?;
    if p.keep < 1 {
        return Err(Failure::param(
            "keep",
            format!(
                "keep must be at least 1 (the newest backup is never pruned), got: {}",
                p.keep
            ),
        ));
    }
    let host = match &p.host {
        Some(h) => h.clone(),
        None => {
            crate::lifekeeper::node::name(&ctx.runner, &p.lkroot, "")
                .map_err(|e| Failure::param("host", e))?
                .name
        }
    };
    crate::lifekeeper::node::check(&host).map_err(|e| Failure::param("host", e))?;
    if p.include_defaults && !p.defaults_file.is_file() {
        return Err(Failure::param(
            "defaults_file",
            format!(
                "defaults_file {} does not exist (set include_defaults: false to back up without it)",
                p.defaults_file.display()
            ),
        ));
    }
    let exists = dest_exists(dest)?;
    let mut warnings = vec![];
    if !ctx.check_mode {
        if !exists {
            create_dest(dest)?;
        } else if fs::metadata(dest).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            warnings.push(format!(
                "backup_dir {} is accessible to other users; the backups hold the cluster configuration (new ones are created 0700)",
                dest.display()
            ));
        }
    }
    // A real run opens dest once, here (issue 22 defect 17): the lock, the removal of what
    // interrupted runs left and every write below are relative to this descriptor.
    let store = if ctx.check_mode {
        None
    } else {
        Some(DestDir::open(dest)?)
    };
    let _lock = match &store {
        Some(d) => Some(
            d.lock(LOCK, std::time::Duration::from_secs(120))
                .map_err(|e| {
                    let path = dest.join(LOCK);
                    Failure::new(crate::runtime::fs::lock_failure(&e, &path, || {
                        format!("cannot lock {}: {e}", path.display())
                    }))
                })?,
        ),
        None if exists => lock_dest(dest, false)?,
        None => None,
    };
    if let Some(d) = &store {
        for t in d.clean_temps() {
            warnings.push(format!("removed a temp file an interrupted run left: {t}"));
        }
    }

    let manifest = read_manifest(dest).map_err(|e| Failure::param("backup_dir", e))?;
    let sums = read_sums(dest)
        .map_err(|e| Failure::param("backup_dir", e))?
        .unwrap_or_default();
    if let Some(d) = &store {
        for o in orphans(dest, &manifest, &sums, &host) {
            match d.remove(&o) {
                Ok(()) => warnings.push(format!(
                    "removed {o}: an interrupted run copied it into backup_dir but never recorded it"
                )),
                Err(e) => warnings.push(format!("cannot remove the unrecorded copy {o}: {e}")),
            }
        }
    }
    let fp = fingerprint(&p.lkroot, &p.defaults_file).map_err(Failure::new)?;
    let newest = newest_of(&manifest, &host);

    // Facts first, then the decision as a plain function of them.
    let newest_intact = newest.is_some_and(|e| entry_ok(dest, e, &sums));
    let Decision {
        reason,
        warning,
        prune,
    } = decide(
        p.force,
        p.keep as usize,
        &host,
        dest,
        &manifest,
        &fp,
        newest_intact,
    );
    warnings.extend(warning);
    // Never prune what an unfinished upgrade restores (issue 22 defect 2): its rerun would
    // refuse and leave the node without hierarchies. An unreadable journal pins all of its host.
    let unfinished = unfinished_upgrades(dest);
    let prune: Vec<BackupEntry> = prune
        .into_iter()
        .filter(|e| {
            let pinned = unfinished
                .iter()
                .any(|u| u.host == e.host && u.archive.as_deref().is_none_or(|a| a == e.archive));
            if pinned {
                warnings.push(format!(
                    "kept {} beyond keep: an unfinished upgrade of {} restores it",
                    e.archive, e.host
                ));
            }
            !pinned
        })
        .collect();
    for u in unfinished.iter().filter(|u| u.host == host) {
        warnings.push(format!(
            "an upgrade of {host} is unfinished ({} in {}): a backup taken now is of the half-upgraded node; the upgrade restores {} when it resumes",
            u.journal,
            dest.display(),
            u.archive.as_deref().unwrap_or("the archive its journal names")
        ));
    }
    let take = reason.is_some();

    let now = time::now_secs();
    let (arch_name, def_name) = new_names(dest, &manifest, &host, now);
    let mut after = manifest.clone();
    after.backups.retain(|e| !prune.contains(e));
    let pruned_names: Vec<String> = prune
        .iter()
        .flat_map(|e| e.files().into_iter().map(|(n, _)| n.to_string()))
        .collect();

    let mut out;
    let mut predicted = false;
    if !take && prune.is_empty() {
        let e = newest.expect("no backup needed means there is one");
        out = Outcome::new(
            false,
            format!(
                "the newest backup of {host} ({}) holds the current configuration",
                e.archive
            ),
        );
        out = with_entry(out, dest, e);
    } else if ctx.check_mode {
        let mut msg = vec![];
        if let Some(r) = &reason {
            msg.push(format!("would take a new backup ({r})"));
            // What the real run will record; its checksum and size are known only after it.
            after.backups.push(BackupEntry {
                host: host.clone(),
                time: time::iso8601(now),
                timestamp: now,
                // rpm -q is read-only, so check mode can tell the version it will record.
                lifekeeper_version: packages::installed(&ctx.runner)
                    .ok()
                    .flatten()
                    .map(|v| v.to_string()),
                fingerprint: fp.clone(),
                archive: arch_name.clone(),
                sha256: String::new(),
                size: 0,
                defaults_copy: p.include_defaults.then(|| def_name.clone()),
                defaults_sha256: p.include_defaults.then(String::new),
                source: String::new(),
            });
            predicted = true;
            out = Outcome::new(true, "")
                .with("archive", dest.join(&arch_name).display().to_string())
                .with("sha256", Value::Null)
                .with("size", Value::Null)
                .with(
                    "defaults_copy",
                    p.include_defaults
                        .then(|| dest.join(&def_name).display().to_string()),
                );
        } else {
            out = with_entry(Outcome::new(true, ""), dest, newest.expect("kept"));
        }
        if !pruned_names.is_empty() {
            msg.push(format!("would prune {}", pruned_names.join(", ")));
        }
        out.msg = msg.join("; ");
    } else {
        let mut msg = vec![];
        // Opened once, at the start: every write below is relative to this descriptor (issue
        // 22 defect 17).
        let dir = store.as_ref().expect("a real run opened dest");
        if let Some(r) = &reason {
            ctx.progress(&format!("taking a backup: {r}"));
            let entry = take_backup(
                p,
                ctx,
                dir,
                &host,
                &fp,
                now,
                &arch_name,
                &def_name,
                &mut warnings,
            )?;
            msg.push(format!("took backup {} ({r})", entry.archive));
            after.backups.push(entry.clone());
            out = with_entry(Outcome::new(true, ""), dest, &entry);
        } else {
            out = with_entry(Outcome::new(true, ""), dest, newest.expect("kept"));
        }
        // Record first, delete second: a crash in between leaves unrecorded files (harmless),
        // never records that point at deleted files.
        write_records(dir, &after, &sums, &pruned_names)?;
        for n in &pruned_names {
            match dir.remove(n) {
                Ok(()) => {}
                Err(e) => warnings.push(format!(
                    "pruned {n} from the records but could not delete it: {e}"
                )),
            }
        }
        if !pruned_names.is_empty() {
            msg.push(format!("pruned {}", pruned_names.join(", ")));
        }
        out.msg = msg.join("; ");
        if !dir.still_at_path() {
            return Err(Failure::new(format!(
                "backup_dir {} was replaced during the run (moved away, or swapped for a symbolic link): the backup was written into the directory backup_dir was when the run began, which is no longer at that path; nothing was written where backup_dir points now. Check who changes backup_dir, then rerun",
                dest.display()
            ))
            .changed(true));
        }
    }
    for w in warnings {
        out.warn(w);
    }
    let mut backups = entries_json(&after);
    if predicted {
        // The entry check mode predicts: what only the real run can know is null.
        if let Some(Value::Object(e)) = backups.as_array_mut().and_then(|a| a.last_mut()) {
            for k in ["sha256", "size", "source"] {
                e.insert(k.into(), Value::Null);
            }
            if p.include_defaults {
                e.insert("defaults_sha256".into(), Value::Null);
            }
        }
    }
    let before_list = listing(&manifest);
    let after_list = listing(&after);
    Ok(out
        .with("host", host)
        .with("fingerprint", fp)
        .with("pruned", pruned_names)
        .with("backups", backups)
        .diff(Some(diff::text(
            &format!("{} backups", dest.display()),
            &before_list,
            &after_list,
        ))))
}

pub(super) fn with_entry(o: Outcome, dest: &Path, e: &BackupEntry) -> Outcome {
    o.with("archive", dest.join(&e.archive).display().to_string())
        .with("sha256", e.sha256.clone())
        .with("size", e.size)
        .with(
            "defaults_copy",
            e.defaults_copy
                .as_ref()
                .map(|d| dest.join(d).display().to_string()),
        )
}

pub(super) fn list_archives(config: &Path) -> BTreeSet<PathBuf> {
    fs::read_dir(config)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with("archive.") && n.ends_with(".tar.gz")
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// The archive path lkbackup announced (`Creating archive <path>`).
pub(super) fn announced_archive(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Creating archive "))
        .map(|p| PathBuf::from(p.trim()))
        .filter(|p| !p.as_os_str().is_empty())
}

/// Only lkbackup's own archives in `<lkroot>/config` are ever deleted by this module.
pub(super) fn is_lkbackup_archive(path: &Path, lkroot: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.parent() == Some(lkroot.join("config").as_path())
        && name.starts_with("archive.")
        && name.ends_with(".tar.gz")
}

/// Run `lkbackup -c` and find its archive. A failure removes the partial archive this call left.
pub(super) fn run_lkbackup(p: &Params, ctx: &Ctx) -> Result<PathBuf, Failure> {
    let config = p.lkroot.join("config");
    let before = list_archives(&config);
    let cmd = Cmd::lk(&p.lkroot, "lkbackup").arg("-c");
    let out = ctx.runner.run(&cmd)?;
    if !out.ok() {
        // Whatever it half-wrote is not a backup; leave no archive that could be mistaken for one.
        let mut removed = vec![];
        for a in list_archives(&config).difference(&before) {
            if fs::remove_file(a).is_ok() {
                removed.push(a.display().to_string());
            }
        }
        return Err(out
            .failure("lkbackup could not create the archive; nothing was written to backup_dir and the previous backups are untouched")
            .with("partial_archives_removed", removed));
    }
    if let Some(a) = announced_archive(&out.stdout) {
        let a = if a.is_relative() { config.join(a) } else { a };
        if a.is_file() {
            return Ok(a);
        }
    }
    // lkbackup did not say where (or said something we cannot find): the newest archive.
    list_archives(&config)
        .into_iter()
        .filter_map(|a| Some((fs::metadata(&a).ok()?.modified().ok()?, a)))
        .max()
        .map(|(_, a)| a)
        .ok_or_else(|| {
            Failure::new(format!(
                "lkbackup -c succeeded but no archive was found (no 'Creating archive' line, no archive.*.tar.gz in {})",
                config.display()
            ))
            .with("stdout", out.stdout.clone())
        })
}

/// `tar -tzf`: the archive is a complete gzip tar (a truncated one fails), and its members.
/// What `state=present` decides, from the facts alone: whether a new backup is taken (and why)
/// and which backups retention removes.
#[derive(Debug, PartialEq)]
pub(super) struct Decision {
    /// Why a new backup is taken; `None`: the newest one holds the current configuration.
    pub(super) reason: Option<String>,
    /// A warning for the user besides the reason.
    pub(super) warning: Option<String>,
    /// The entries of `host` retention removes, oldest first.
    pub(super) prune: Vec<BackupEntry>,
}

/// A backup is needed unless the newest one of `host` is of this very configuration (`fp`) and
/// intact (`newest_intact`: its files exist and match the manifest and SHA256SUMS). Retention
/// keeps `keep` backups of `host`, counting the one about to be taken.
pub(super) fn decide(
    force: bool,
    keep: usize,
    host: &str,
    dest: &Path,
    manifest: &Manifest,
    fp: &str,
    newest_intact: bool,
) -> Decision {
    let mut warning = None;
    let reason = match newest_of(manifest, host) {
        _ if force => Some("force: a new backup was requested".to_string()),
        None => Some(format!("no backup of {host} in {}", dest.display())),
        Some(e) if e.fingerprint != fp => Some(format!(
            "the configuration changed since the newest backup {}",
            e.archive
        )),
        Some(e) if !newest_intact => {
            let why = format!(
                "the newest backup {} does not match its checksum or is missing",
                e.archive
            );
            warning = Some(format!("{why}; taking a new one"));
            Some(why)
        }
        Some(_) => None,
    };
    let retain = keep - usize::from(reason.is_some());
    let prune = select_prune(manifest, host, retain);
    Decision {
        reason,
        warning,
        prune,
    }
}

#[allow(clippy::too_many_arguments)]
fn take_backup(
    p: &Params,
    ctx: &Ctx,
    dest: &DestDir,
    host: &str,
    fp: &str,
    now: i64,
    arch_name: &str,
    def_name: &str,
    warnings: &mut Vec<String>,
) -> Result<BackupEntry, Failure> {
    let lk_version = match packages::installed(&ctx.runner) {
        Ok(v) => v.map(|v| v.to_string()),
        Err(e) => {
            warnings.push(format!("LifeKeeper version not recorded: {e}"));
            None
        }
    };
    let src = run_lkbackup(p, ctx)?;
    archive_members(ctx, &src).map_err(|f| {
        let mut f = f.with("source", src.display().to_string());
        f.msg = format!(
            "lkbackup wrote {}, but {}; nothing was written to backup_dir",
            src.display(),
            f.msg
        );
        f
    })?;
    let (sha, size) = copy_verified(&src, dest, arch_name)?;
    let (defaults_copy, defaults_sha256) = if p.include_defaults {
        match copy_verified(&p.defaults_file, dest, def_name) {
            Ok((s, _)) => (Some(def_name.to_string()), Some(s)),
            Err(f) => {
                let _ = dest.remove(arch_name);
                return Err(f);
            }
        }
    } else {
        (None, None)
    };
    if !p.keep_source {
        if is_lkbackup_archive(&src, &p.lkroot) {
            if let Err(e) = fs::remove_file(&src) {
                warnings.push(format!(
                    "could not remove lkbackup's archive {}: {e}",
                    src.display()
                ));
            }
        } else {
            warnings.push(format!(
                "lkbackup's archive {} is not an archive.*.tar.gz in {}/config; left it in place",
                src.display(),
                p.lkroot.display()
            ));
        }
    }
    Ok(BackupEntry {
        host: host.to_string(),
        time: time::iso8601(now),
        timestamp: now,
        lifekeeper_version: lk_version,
        fingerprint: fp.to_string(),
        archive: arch_name.to_string(),
        sha256: sha,
        size,
        defaults_copy,
        defaults_sha256,
        source: src.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_archive_is_parsed_from_lkbackup_output() {
        assert_eq!(
            announced_archive(
                "Creating archive /opt/LifeKeeper/config/archive.1909191105.tar.gz\n"
            ),
            Some(PathBuf::from(
                "/opt/LifeKeeper/config/archive.1909191105.tar.gz"
            ))
        );
        assert_eq!(announced_archive("done\n"), None);
        let lk = Path::new("/opt/LifeKeeper");
        assert!(is_lkbackup_archive(
            Path::new("/opt/LifeKeeper/config/archive.1.tar.gz"),
            lk
        ));
        assert!(!is_lkbackup_archive(Path::new("/etc/passwd"), lk));
        assert!(!is_lkbackup_archive(
            Path::new("/opt/LifeKeeper/config/hierarchy.json"),
            lk
        ));
    }

    fn entry(ts: i64, fp: &str) -> BackupEntry {
        BackupEntry {
            host: "node-a".into(),
            time: time::iso8601(ts),
            timestamp: ts,
            lifekeeper_version: None,
            fingerprint: fp.into(),
            archive: format!("node-a.lkbackup.{ts}.tar.gz"),
            sha256: "0".repeat(64),
            size: 1,
            defaults_copy: None,
            defaults_sha256: None,
            source: String::new(),
        }
    }

    fn manifest(entries: Vec<BackupEntry>) -> Manifest {
        Manifest {
            format: 1,
            backups: entries,
        }
    }

    #[test]
    fn decide_takes_a_backup_exactly_when_none_is_current_and_intact() {
        let d = Path::new("/b");
        let m = manifest(vec![entry(10, "old"), entry(20, "fp")]);
        // current and intact: nothing taken, nothing pruned with keep 2
        let x = decide(false, 2, "node-a", d, &m, "fp", true);
        assert_eq!((x.reason, x.warning, x.prune.len()), (None, None, 0));
        // keep 1 prunes the older one only, never the newest
        let x = decide(false, 1, "node-a", d, &m, "fp", true);
        assert_eq!(
            x.prune.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
            [10]
        );
        // changed configuration: taken, and the new one counts towards keep
        let x = decide(false, 2, "node-a", d, &m, "new", true);
        assert!(x.reason.unwrap().contains("configuration changed"));
        assert_eq!(
            x.prune.iter().map(|e| e.timestamp).collect::<Vec<_>>(),
            [10]
        );
        // damaged newest: taken, with a warning
        let x = decide(false, 5, "node-a", d, &m, "fp", false);
        assert!(x.reason.unwrap().contains("does not match its checksum"));
        assert!(x.warning.unwrap().ends_with("taking a new one"));
        // force, and no backup of this host at all
        let x = decide(true, 5, "node-a", d, &m, "fp", true);
        assert_eq!(
            x.reason.as_deref(),
            Some("force: a new backup was requested")
        );
        let x = decide(false, 5, "node-b", d, &m, "fp", true);
        assert_eq!(x.reason.as_deref(), Some("no backup of node-b in /b"));
        assert!(x.prune.is_empty());
    }
}

//! lk_backup: LifeKeeper configuration backups that survive the uninstall.
//!
//! `lkbackup -c` writes its archive into `$LKROOT/config`, which `rmlk` deletes. This module copies
//! that archive (and a copy of `/etc/default/LifeKeeper`) into a directory outside lkroot, verifies
//! the copy, and records it in two places: `SHA256SUMS` (so an admin can check backups with
//! `sha256sum -c`, no lkops needed) and `lkops-backups.json` (host, LifeKeeper version, time and a
//! fingerprint of the configuration that was backed up, so a second run can tell "nothing changed").
//!
//! The layout of `dest` and everything about its files (manifest, SHA256SUMS, names, lock,
//! fingerprint, retention) is `lifekeeper::backup_store`; this module decides and runs lkbackup.
//!
//! Which node a backup belongs to is its `host`: by default `uname -n`, the node name LifeKeeper
//! itself uses (lcdstatus' LOCAL/MACHINE columns are `uname -n`). `uname` is resolved on PATH, so
//! on the simulator, where several nodes share one machine, the node's own stand-in answers with
//! the node name; `/proc/sys/kernel/hostname` is only the fallback when uname cannot run.
//! `lk_upgrade` asks `backup_store::find_verified(dest, host)` for "a verified backup of this node" and compares
//! `fingerprint(lkroot, defaults_file)` to know whether it is still current.

use crate::lifekeeper::backup_store::{
    changed_files, check_host, check_outside_lkroot, clean_temps, config_files, copy_verified,
    create_dest, dest_exists, entries_json, entry_ok, fingerprint_of, lexical, listing, lock_dest,
    new_names, newest_of, read_manifest, read_sums, select_prune, sum_of, unrecorded,
    write_records, Check, SumLine, DEFAULTS_LABEL,
};
use crate::lifekeeper::packages;
use crate::runtime::{
    check_abs_path, diff, fs as rfs, time, Cmd, Ctx, Failure, Kind, Module, ModuleSpec, Outcome,
    Param, Ret, Support, LKROOT,
};
// tests/backup.rs reaches these through this module; they live in the backup store.
pub use crate::lifekeeper::backup_store::{
    find_verified, find_verified_archive, fingerprint, BackupEntry, MANIFEST, SUMS,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

crate::choice_enum! {
    /// What lk_backup makes true (the `state` parameter).
    pub enum State {
        Present = "present",
        Verified = "verified",
        Restored = "restored",
    }
}

const PARAMS: &[Param] = &[
    Param::new(
        "state",
        Kind::Str,
        "C(present): a backup of the node's current configuration exists in O(dest) (taken with C(lkbackup -c) when the configuration changed since the newest backup). C(verified): read-only; every backup recorded in O(dest) matches its checksum. C(restored): the configuration in O(archive) is restored with C(lkbackup -x -f).",
    )
    .choices(State::NAMES)
    .default("\"present\""),
    Param::new(
        "dest",
        Kind::AbsPath,
        "Absolute path of the directory that holds the backups; required for C(present) and C(verified). Must be outside O(lkroot): the uninstaller (rmlk) deletes C(/opt/LifeKeeper/config) and every backup in it. Created with mode 0700; files in it are 0600. A symbolic link is refused. With C(restored), a relative O(archive) is looked up here.",
    ),
    Param::new(
        "include_defaults",
        Kind::Bool,
        "Store a copy of O(defaults_file) beside each archive (recorded in SHA256SUMS too).",
    )
    .default("true"),
    Param::new(
        "defaults_file",
        Kind::AbsPath,
        "The LifeKeeper defaults file. It is part of the configuration fingerprint.",
    )
    .default("\"/etc/default/LifeKeeper\""),
    Param::new(
        "keep",
        Kind::Int,
        "How many backups of this host to keep (at least 1). Only backups recorded in the manifest by this module are pruned, oldest first, never the newest; other files in O(dest) are never touched.",
    )
    .default("5")
    .range(1, 1000),
    Param::new(
        "force",
        Kind::Bool,
        "Take a new backup even when the configuration fingerprint equals the newest backup's.",
    )
    .default("false"),
    Param::new(
        "keep_source",
        Kind::Bool,
        "Leave lkbackup's own archive in C(<lkroot>/config) after it was copied and verified (by default it is removed: it would be deleted by the uninstaller anyway and it fills the config directory).",
    )
    .default("false"),
    Param::new(
        "host",
        Kind::Str,
        "The node name the backup is recorded under (file names and manifest). Default: C(uname -n), the name LifeKeeper uses for this node.",
    ),
    Param::new(
        "archive",
        Kind::Path,
        "For C(restored): the archive to restore, an absolute path or a file name in O(dest).",
    ),
    Param::new(
        "sha256",
        Kind::Str,
        "For C(restored): the expected sha256 of O(archive) (64 hex digits). Without it, the archive's entry in the SHA256SUMS beside it is used; without either the restore is refused.",
    ),
    Param::new(
        "timeout",
        Kind::Int,
        "Seconds allowed for each command the module runs (C(lkbackup -c), C(lkbackup -x), C(tar), C(rpm)); a command still running then is killed with its process group and the module fails naming it.",
    )
    .default("600")
    .range(1, 86400),
    LKROOT,
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_backup",
    short: "LifeKeeper configuration backups outside lkroot, with checksums, retention, verify and restore",
    description: &[
        "Takes a LifeKeeper configuration backup with C(lkbackup -c), copies it (and C(/etc/default/LifeKeeper)) into a directory outside lkroot, verifies the copy by sha256 and records it in C(SHA256SUMS) and a JSON manifest.",
        "Idempotent: a read-only fingerprint of C(<lkroot>/config) and the defaults file is compared with the newest backup's; when equal nothing is taken.",
        "C(state=verified) checks every recorded backup against its checksum; C(state=restored) restores an archive with C(lkbackup -x -f) after verifying its checksum.",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Read-only: the fingerprint, manifest and checksums are read, nothing is written or run except C(rpm -q), C(uname -n) and C(tar -tzf). The result (changed, pruned, diff) is what a real run reports; the new file name carries the time of the run, so its stamp differs by the seconds between the two runs.",
    ),
    diff_mode: (
        Support::Full,
        "C(present): the list of backup files in O(dest) before and after, one file name per line. C(restored): the configuration fingerprint and the defaults file before and after.",
    ),
    notes: &[
        "Never put O(dest) under lkroot: C(rmlk) removes C(/opt/LifeKeeper/config), backups included. Such a O(dest) is refused.",
        "The configuration fingerprint is sha256 over the sorted relative paths and contents of the files under C(<lkroot>/config) (lkbackup's C(archive.*.tar.gz) files, lkops temp files, C(*.pid) and C(*.lock) excluded) plus the defaults file.",
        "Verify backups without lkops: C(cd DEST && sha256sum -c SHA256SUMS).",
        "lkbackup refuses to restore while LifeKeeper runs; stop it (lkstop) first.",
    ],
    examples: "- name: Back up the LifeKeeper configuration before the upgrade\n  lk_backup:\n    dest: /var/backups/lifekeeper\n    keep: 5\n\n- name: Check every backup against SHA256SUMS\n  lk_backup:\n    state: verified\n    dest: /var/backups/lifekeeper\n\n- name: Restore a backup (LifeKeeper stopped)\n  lk_backup:\n    state: restored\n    dest: /var/backups/lifekeeper\n    archive: node-a.lkbackup.20261125T154202Z.tar.gz\n",
    returns: &[
        Ret::new("archive", "str", "success", "The backup archive in dest (present: the new or the current newest one; restored: the archive restored).")
            .sample("\"/var/backups/lifekeeper/node-a.lkbackup.20261125T154202Z.tar.gz\""),
        Ret::new("sha256", "str", "success", "sha256 of the archive (null in check mode when a new backup would be taken).")
            .sample("\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\""),
        Ret::new("size", "int", "success", "Size of the archive in bytes (null in check mode when a new backup would be taken).").sample("10240"),
        Ret::new("defaults_copy", "str", "state=present", "The copy of the defaults file in dest, or null.")
            .sample("\"/var/backups/lifekeeper/node-a.LifeKeeper.defaults.20261125T154202Z\""),
        Ret::new("pruned", "list", "state=present", "File names removed by retention.").sample("[]"),
        Ret::new("backups", "list", "success", "Manifest entries in dest after the run (every host), oldest first."),
        Ret::new("host", "str", "state=present", "The node name the backup is recorded under.").sample("\"node-a\""),
        Ret::new("fingerprint", "str", "state=present or restored", "The configuration fingerprint (present: of the current configuration; restored: after the restore)."),
        Ret::new("corrupt", "list", "state=verified", "Files whose sha256 does not match SHA256SUMS or the manifest."),
        Ret::new("missing", "list", "state=verified", "Files listed in SHA256SUMS or the manifest that do not exist."),
        Ret::new("restored_files", "list", "state=restored, real run", "Configuration files (relative to lkroot, or the defaults file) whose content changed."),
        Ret::new("would_restore", "list", "state=restored", "Members of the archive (tar -tzf)."),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub state: State,
    pub dest: Option<PathBuf>,
    pub include_defaults: bool,
    pub defaults_file: PathBuf,
    pub keep: i64,
    pub force: bool,
    pub keep_source: bool,
    pub host: Option<String>,
    pub archive: Option<PathBuf>,
    pub sha256: Option<String>,
    pub timeout: i64,
    pub lkroot: PathBuf,
}

pub struct Backup;

impl Module for Backup {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        // Every command this module runs is bounded by `timeout` (a hung lkbackup must not hang
        // the play).
        let ctx = &ctx.bounded("timeout", p.timeout)?;
        // lkroot, defaults_file and dest are absolute (Kind::AbsPath, checked by the runtime).
        match p.state {
            State::Present => present(&p, ctx),
            State::Verified => verified(&p),
            State::Restored => restored(&p, ctx),
        }
    }
}

// ---- state=present -----------------------------------------------------------------------------

fn present(p: &Params, ctx: &Ctx) -> Result<Outcome, Failure> {
    let dest = p
        .dest
        .as_deref()
        .ok_or_else(|| Failure::param("dest", "dest is required with state=present"))?;
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
            crate::lifekeeper::node::name(&ctx.runner).map_err(|e| Failure::param("host", e))?
        }
    };
    check_host(&host).map_err(|e| Failure::param("host", e))?;
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
                "dest {} is accessible to other users; the backups hold the cluster configuration (new dests are created 0700)",
                dest.display()
            ));
        }
    }
    let _lock = if exists || !ctx.check_mode {
        lock_dest(dest, !ctx.check_mode)?
    } else {
        None
    };
    if !ctx.check_mode {
        for t in clean_temps(dest)? {
            warnings.push(format!("removed a temp file an interrupted run left: {t}"));
        }
    }

    let manifest = read_manifest(dest).map_err(|e| Failure::param("dest", e))?;
    let sums = read_sums(dest)
        .map_err(|e| Failure::param("dest", e))?
        .unwrap_or_default();
    let fp = fingerprint(&p.lkroot, &p.defaults_file).map_err(Failure::new)?;
    let newest = newest_of(&manifest, &host);

    // Decide: a backup is needed unless the newest one is of this very configuration and intact.
    let reason = match newest {
        _ if p.force => Some("force: a new backup was requested".to_string()),
        None => Some(format!("no backup of {host} in {}", dest.display())),
        Some(e) if e.fingerprint != fp => Some(format!(
            "the configuration changed since the newest backup {}",
            e.archive
        )),
        Some(e) if !entry_ok(dest, e, &sums) => {
            let why = format!(
                "the newest backup {} does not match its checksum or is missing",
                e.archive
            );
            warnings.push(format!("{why}; taking a new one"));
            Some(why)
        }
        Some(_) => None,
    };
    let take = reason.is_some();
    let retain = p.keep as usize - usize::from(take);
    let prune = select_prune(&manifest, &host, retain);

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
        if let Some(r) = &reason {
            ctx.progress(&format!("taking a backup: {r}"));
            let entry = take_backup(
                p,
                ctx,
                dest,
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
        write_records(dest, &after, &sums, &pruned_names)?;
        for n in &pruned_names {
            match fs::remove_file(dest.join(n)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => warnings.push(format!(
                    "pruned {n} from the records but could not delete it: {e}"
                )),
            }
        }
        if !pruned_names.is_empty() {
            msg.push(format!("pruned {}", pruned_names.join(", ")));
        }
        out.msg = msg.join("; ");
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

fn with_entry(o: Outcome, dest: &Path, e: &BackupEntry) -> Outcome {
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

fn list_archives(config: &Path) -> BTreeSet<PathBuf> {
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
fn announced_archive(stdout: &str) -> Option<PathBuf> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Creating archive "))
        .map(|p| PathBuf::from(p.trim()))
        .filter(|p| !p.as_os_str().is_empty())
}

/// Only lkbackup's own archives in `<lkroot>/config` are ever deleted by this module.
fn is_lkbackup_archive(path: &Path, lkroot: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.parent() == Some(lkroot.join("config").as_path())
        && name.starts_with("archive.")
        && name.ends_with(".tar.gz")
}

/// Run `lkbackup -c` and find its archive. A failure removes the partial archive this call left.
fn run_lkbackup(p: &Params, ctx: &Ctx) -> Result<PathBuf, Failure> {
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
            .failure("lkbackup could not create the archive; nothing was written to dest and the previous backups are untouched")
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
fn archive_members(ctx: &Ctx, archive: &Path) -> Result<Vec<String>, Failure> {
    let out = ctx.runner.run_ok(
        &Cmd::new("tar").arg("-tzf").arg(archive),
        "the archive is not a readable gzip tar",
    )?;
    Ok(out.stdout.lines().map(String::from).collect())
}

#[allow(clippy::too_many_arguments)]
fn take_backup(
    p: &Params,
    ctx: &Ctx,
    dest: &Path,
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
            "lkbackup wrote {}, but {}; nothing was written to dest",
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
                let _ = fs::remove_file(dest.join(arch_name));
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

// ---- state=verified ----------------------------------------------------------------------------

fn verified(p: &Params) -> Result<Outcome, Failure> {
    let dest = p
        .dest
        .as_deref()
        .ok_or_else(|| Failure::param("dest", "dest is required with state=verified"))?;
    if !dest_exists(dest)? {
        return Err(Failure::param(
            "dest",
            format!("dest {} does not exist", dest.display()),
        ));
    }
    let _lock = lock_dest(dest, false)?;
    let manifest = read_manifest(dest).map_err(|e| Failure::param("dest", e))?;
    let Some(sums) = read_sums(dest).map_err(|e| Failure::param("dest", e))? else {
        return Err(Failure::param(
            "dest",
            format!(
                "{} has no {SUMS}: nothing to verify (is dest the right directory?)",
                dest.display()
            ),
        ));
    };
    let mut check = Check::default();
    let mut listed = BTreeSet::new();
    for l in &sums {
        if let SumLine::Entry { sha256, name } = l {
            if listed.insert(name.clone()) {
                check.file(dest, name, sum_of(&sums, name).unwrap_or(sha256));
            }
        }
    }
    // The manifest must agree with SHA256SUMS: a file recorded with another checksum (or not in
    // SHA256SUMS at all) is as suspect as a corrupt one.
    let mut disagree = vec![];
    for e in &manifest.backups {
        for (name, sha) in e.files() {
            if sum_of(&sums, name) != Some(sha) {
                disagree.push(name.to_string());
                if !dest.join(name).exists() {
                    check.missing.push(name.to_string());
                } else if !check.corrupt.iter().any(|c| c == name) {
                    check.corrupt.push(name.to_string());
                }
            }
        }
    }
    check.missing.sort();
    check.missing.dedup();
    let out_data = |o: Outcome| {
        o.with("checked", check.checked.clone())
            .with("corrupt", check.corrupt.clone())
            .with("missing", check.missing.clone())
            .with("backups", entries_json(&manifest))
    };
    if check.ok() {
        let mut o = out_data(Outcome::new(
            false,
            format!(
                "all {} files in {} match {SUMS}",
                check.checked.len(),
                dest.display()
            ),
        ));
        for u in unrecorded(dest, &listed) {
            o.warn(format!(
                "{u} looks like a backup but is not listed in {SUMS}"
            ));
        }
        return Ok(o);
    }
    let mut f = Failure::new(format!(
        "backups in {} failed verification: corrupt: [{}]; missing: [{}]",
        dest.display(),
        check.corrupt.join(", "),
        check.missing.join(", ")
    ))
    .with("checked", check.checked.clone())
    .with("corrupt", check.corrupt.clone())
    .with("missing", check.missing.clone())
    .with("backups", entries_json(&manifest));
    if !disagree.is_empty() {
        f = f.with("manifest_disagrees", disagree);
    }
    Err(f)
}

// ---- state=restored ----------------------------------------------------------------------------

fn restored(p: &Params, ctx: &Ctx) -> Result<Outcome, Failure> {
    let given = p
        .archive
        .as_deref()
        .ok_or_else(|| Failure::param("archive", "archive is required with state=restored"))?;
    let archive =
        if given.is_absolute() {
            given.to_path_buf()
        } else {
            match &p.dest {
                Some(d) => d.join(given),
                None => return Err(Failure::param(
                    "archive",
                    "archive must be an absolute path (or a file name in dest, with dest given)",
                )),
            }
        };
    check_abs_path("archive", &archive.to_string_lossy())?;
    let archive = lexical(&archive);
    if !archive.is_file() {
        return Err(Failure::param(
            "archive",
            format!(
                "archive {} does not exist or is not a file",
                archive.display()
            ),
        ));
    }
    let dir = archive.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expected_param = match &p.sha256 {
        Some(s) => {
            let s = s.trim().to_ascii_lowercase();
            if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Failure::param("sha256", "sha256 must be 64 hex digits"));
            }
            Some(s)
        }
        None => None,
    };
    let sums = read_sums(&dir).map_err(Failure::new)?.unwrap_or_default();
    let expected_sums = sum_of(&sums, &name).map(String::from);
    let actual = rfs::sha256_file(&archive).map_err(|e| {
        Failure::param("archive", format!("cannot read {}: {e}", archive.display()))
    })?;
    let mut checked_against = vec![];
    for (what, exp) in [("sha256", &expected_param), (SUMS, &expected_sums)] {
        if let Some(exp) = exp {
            if *exp != actual {
                return Err(Failure::param(
                    "archive",
                    format!(
                        "refusing to restore {}: its sha256 is {actual}, but {what} says {exp}; the archive is corrupt or not the one you meant",
                        archive.display()
                    ),
                )
                .with("expected_sha256", exp.clone())
                .with("actual_sha256", actual.clone()));
            }
            checked_against.push(what);
        }
    }
    if checked_against.is_empty() {
        return Err(Failure::param(
            "sha256",
            format!(
                "refusing to restore {} unverified: there is no {SUMS} entry for it beside it; pass sha256 (e.g. from `sha256sum`)",
                archive.display()
            ),
        ));
    }
    let members = archive_members(ctx, &archive)?;

    // What the manifest beside it knows: the fingerprint it was taken of, the defaults copy.
    let manifest = read_manifest(&dir).unwrap_or_default();
    let entry = manifest.backups.iter().find(|e| e.archive == name).cloned();
    let recorded_defaults = entry.as_ref().and_then(|e| {
        let (f, s) = (e.defaults_copy.as_ref()?, e.defaults_sha256.as_ref()?);
        let data = fs::read(dir.join(f)).ok()?;
        (rfs::sha256_bytes(&data) == *s).then(|| String::from_utf8_lossy(&data).into_owned())
    });

    let before_files = config_files(&p.lkroot, &p.defaults_file).map_err(Failure::new)?;
    let fp_before = fingerprint_of(&before_files);
    let defaults_before = fs::read_to_string(&p.defaults_file).unwrap_or_default();
    let base = |o: Outcome| {
        o.with("archive", archive.display().to_string())
            .with("sha256", actual.clone())
            .with("size", fs::metadata(&archive).map(|m| m.len()).unwrap_or(0))
            .with("checked_against", json!(checked_against))
            .with("would_restore", members.clone())
            .with("backups", entries_json(&manifest))
    };

    if let Some(e) = &entry {
        if e.fingerprint == fp_before {
            return Ok(base(Outcome::new(
                false,
                format!("the configuration already is the one in {name} (fingerprint {fp_before})"),
            ))
            .with("fingerprint", fp_before));
        }
    }
    let fp_diff = |after: &str| {
        diff::text(
            &format!("configuration fingerprint of {}/config", p.lkroot.display()),
            &format!("{fp_before}\n"),
            &format!("{after}\n"),
        )
    };
    let defaults_diff = |after: &str| {
        (after != defaults_before).then(|| {
            diff::text(
                &p.defaults_file.display().to_string(),
                &defaults_before,
                after,
            )
        })
    };
    let mut warnings = vec![];
    if entry.is_none() {
        warnings.push(format!(
            "{name} is not in a manifest beside it: its configuration fingerprint is unknown, so it is restored every run"
        ));
    }

    if ctx.check_mode {
        let predicted_fp = entry
            .as_ref()
            .map(|e| e.fingerprint.clone())
            .unwrap_or_else(|| "unknown".into());
        let mut d = vec![fp_diff(&predicted_fp)];
        d.extend(recorded_defaults.as_deref().and_then(defaults_diff));
        let mut o = base(Outcome::new(
            true,
            format!(
                "would restore {} with lkbackup -x -f ({} members)",
                archive.display(),
                members.len()
            ),
        ))
        .with("fingerprint", predicted_fp)
        .diff(Some(Value::Array(d)));
        for w in warnings {
            o.warn(w);
        }
        return Ok(o);
    }

    let cmd = Cmd::lk(&p.lkroot, "lkbackup")
        .arg("-x")
        .arg("-f")
        .arg(&archive);
    if let Err(f) = ctx
        .runner
        .run_ok(&cmd, "lkbackup could not restore the archive")
    {
        // lkbackup may have got part-way: say "changed" exactly when the configuration moved.
        let now = fingerprint(&p.lkroot, &p.defaults_file).unwrap_or_default();
        return Err(f.changed(now != fp_before).with("fingerprint", now));
    }
    let after_files = config_files(&p.lkroot, &p.defaults_file).map_err(Failure::new)?;
    let fp_after = fingerprint_of(&after_files);
    let restored_files: Vec<String> = changed_files(&before_files, &after_files)
        .into_iter()
        .map(|f| {
            if f == DEFAULTS_LABEL {
                p.defaults_file.display().to_string()
            } else {
                f
            }
        })
        .collect();
    if let Some(e) = &entry {
        if e.fingerprint != fp_after {
            warnings.push(format!(
                "after the restore the configuration fingerprint is {fp_after}, not the {} recorded for {name}",
                e.fingerprint
            ));
        }
    }
    let defaults_after = fs::read_to_string(&p.defaults_file).unwrap_or_default();
    let mut d = vec![fp_diff(&fp_after)];
    d.extend(defaults_diff(&defaults_after));
    let mut o = base(Outcome::new(
        true,
        format!(
            "restored {} ({} configuration files changed)",
            archive.display(),
            restored_files.len()
        ),
    ))
    .with("fingerprint", fp_after)
    .with("restored_files", restored_files)
    .diff(Some(Value::Array(d)));
    for w in warnings {
        o.warn(w);
    }
    Ok(o)
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
}

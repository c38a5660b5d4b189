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
//! Which node a backup belongs to is its `host`: by default `lifekeeper::node::name` (lcduname,
//! config/UNAME, then `uname -n`).
//! `lk_upgrade` asks `backup_store::find_verified(dest, host)` for "a verified backup of this
//! node" and compares `backup_store::fingerprint(lkroot, defaults_file)` to know whether it is
//! still current.
//!
//! Reading order: parameters (here), then one file per state: `present.rs`, `verified.rs`,
//! `restored.rs`.

mod present;
mod restored;
mod verified;

use crate::runtime::{
    Cmd, Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support, LKROOT,
};
// tests/backup.rs reaches these through this module; they live in the backup store.
pub use crate::lifekeeper::backup_store::{
    find_verified, find_verified_archive, fingerprint, BackupEntry, MANIFEST, SUMS,
};
use serde::Deserialize;
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
        "C(present): a backup of the node's current configuration exists in O(backup_dir) (taken with C(lkbackup -c) when the configuration changed since the newest backup). C(verified): read-only; every backup recorded in O(backup_dir) matches its checksum. C(restored): the configuration in O(archive) is restored with C(lkbackup -x -f).",
    )
    .choices(State::NAMES)
    .default("\"present\""),
    Param::new(
        "backup_dir",
        Kind::AbsPath,
        "Absolute path of the directory that holds the backups (the same O(backup_dir) as lk_preflight's and lk_upgrade's; the old name C(dest) is an alias); required for C(present) and C(verified). Must be outside O(lkroot): the uninstaller (rmlk) deletes C(/opt/LifeKeeper/config) and every backup in it. Created with mode 0700; files in it are 0600. A symbolic link is refused. With C(restored), a relative O(archive) is looked up here.",
    )
    .aliases(&["dest"]),
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
        "How many backups of this host to keep (at least 1). Only backups recorded in the manifest by this module are pruned, oldest first, never the newest; other files in O(backup_dir) are never touched.",
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
        "For C(restored): the archive to restore, an absolute path or a file name in O(backup_dir).",
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
        "Idempotent: a read-only fingerprint of C(<lkroot>/config), the resources' configuration files and the defaults file (what C(lkbackup -c) archives) is compared with the newest backup's; when equal nothing is taken.",
        "C(state=verified) checks every recorded backup against its checksum; C(state=restored) restores an archive with C(lkbackup -x -f) after verifying its checksum.",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Read-only: the fingerprint, manifest and checksums are read, nothing is written or run except C(rpm -q), C(uname -n) and C(tar -tzf). The result (changed, pruned, diff) is what a real run reports; the new file name carries the time of the run, so its stamp differs by the seconds between the two runs.",
    ),
    diff_mode: (
        Support::Full,
        "C(present): the list of backup files in O(backup_dir) before and after, one file name per line. C(restored): the configuration fingerprint and the defaults file before and after.",
    ),
    notes: &[
        "Never put O(backup_dir) under lkroot: C(rmlk) removes C(/opt/LifeKeeper/config), backups included. Such a O(backup_dir) is refused.",
        "The configuration fingerprint is sha256 over the sorted relative paths and contents of the files under C(<lkroot>/config) (lkbackup's C(archive.*.tar.gz) files, lkops temp files, C(*.pid), C(*.lock) and the runtime marker C(LK_INITDONE) excluded), of the resources' configuration files C(<lkroot>/subsys/*/resources/*/*.conf), plus the defaults file.",
        "Verify backups without lkops: C(cd DEST && sha256sum -c SHA256SUMS).",
        "C(state=restored) refuses while LifeKeeper runs (C($LKROOT/bin/lktest) exits 0; where lktest is missing, while C(lcdstatus -e) reads a status), in check mode too: switch the hierarchies away and stop LifeKeeper first, or use C(playbooks/restore.yml), which switches over, stops, restores, starts LifeKeeper again and waits for C($LKROOT/config/LK_INITDONE).",
        "After C(lkbackup -x) the restore counts as done only when every file the archive lists is on disk (C(opt/LifeKeeper/...) under lkroot, C(etc/default/LifeKeeper) at defaults_file); the archive holds the resources' configuration files too (field evidence), so they appear in C(would_restore). UNCONFIRMED: the member paths of a real lkbackup archive (lksim: relative to /, under the standard C(/opt/LifeKeeper)).",
    ],
    examples: "- name: Back up the LifeKeeper configuration before the upgrade\n  lk_backup:\n    backup_dir: /var/backups/lifekeeper\n    keep: 5\n\n- name: Check every backup against SHA256SUMS\n  lk_backup:\n    state: verified\n    backup_dir: /var/backups/lifekeeper\n\n- name: Restore a backup (LifeKeeper stopped)\n  lk_backup:\n    state: restored\n    backup_dir: /var/backups/lifekeeper\n    archive: node-a.lkbackup.20261125T154202Z.tar.gz\n",
    returns: &[
        Ret::new("archive", "str", "success", "The backup archive in backup_dir (present: the new or the current newest one; restored: the archive restored).")
            .sample("\"/var/backups/lifekeeper/node-a.lkbackup.20261125T154202Z.tar.gz\""),
        Ret::new("sha256", "str", "success", "sha256 of the archive (null in check mode when a new backup would be taken).")
            .sample("\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\""),
        Ret::new("size", "int", "success", "Size of the archive in bytes (null in check mode when a new backup would be taken).").sample("10240"),
        Ret::new("defaults_copy", "str", "state=present", "The copy of the defaults file in backup_dir, or null.")
            .sample("\"/var/backups/lifekeeper/node-a.LifeKeeper.defaults.20261125T154202Z\""),
        Ret::new("pruned", "list", "state=present", "File names removed by retention.").sample("[]"),
        Ret::new("backups", "list", "success", "Manifest entries in backup_dir after the run (every host), oldest first."),
        Ret::new("host", "str", "state=present", "The node name the backup is recorded under.").sample("\"node-a\""),
        Ret::new("fingerprint", "str", "state=present or restored", "The configuration fingerprint (present: of the current configuration; restored: after the restore)."),
        Ret::new("corrupt", "list", "state=verified", "Files whose sha256 does not match SHA256SUMS or the manifest."),
        Ret::new("missing", "list", "state=verified", "Files listed in SHA256SUMS or the manifest that do not exist."),
        Ret::new("not_recorded", "list", "state=verified", "Files of a manifest entry whose content matches the manifest but that SHA256SUMS does not list (intact, not corrupt; still a verification failure)."),
        Ret::new("restored_files", "list", "state=restored, real run", "Configuration files (relative to lkroot, or the defaults file) whose content changed."),
        Ret::new("would_restore", "list", "state=restored", "Members of the archive (tar -tzf)."),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub state: State,
    /// The parameter `backup_dir` (alias `dest`).
    #[serde(rename = "backup_dir")]
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
        // The node lock (issue 22 defects 5, 8): a backup or a restore never runs while another
        // lkops module (lk_upgrade between rmlk and its restore) changes this node.
        let _node_lock = if p.state == State::Verified || ctx.check_mode {
            None
        } else {
            Some(crate::lifekeeper::node_lock::take(
                &p.lkroot,
                "lk_backup",
                std::time::Duration::from_secs(p.timeout.max(1) as u64),
            )?)
        };
        match p.state {
            State::Present => present::present(&p, ctx),
            State::Verified => verified::verified(&p),
            State::Restored => restored::restored(&p, ctx),
        }
    }
}

/// `tar -tzf`: the archive is a complete gzip tar (a truncated one fails), and its members.
fn archive_members(ctx: &Ctx, archive: &Path) -> Result<Vec<String>, Failure> {
    let out = ctx.runner.run_ok(
        &Cmd::new("tar").arg("-tzf").arg(archive),
        "the archive is not a readable gzip tar",
    )?;
    Ok(out.stdout.lines().map(String::from).collect())
}

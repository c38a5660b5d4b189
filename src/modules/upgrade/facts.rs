//! The gather step of lk_upgrade: every command and file read that informs a decision, run once
//! up front and returned as plain data (`Facts`) for the pure plan.

use super::journal::{self, Journal};
use super::plan::at_target;
use super::Params;
use crate::lifekeeper::media::{self, MediaSrc};
use crate::lifekeeper::status::{self, Probe};
use crate::lifekeeper::version::Version;
use crate::lifekeeper::{backup_store, node, packages};
use crate::runtime::{fs as rfs, time, Ctx, Failure};
use std::fs;
use std::path::PathBuf;

/// A media parameter and what the read-only probe found (release, packages, setup's usage
/// text), or why it was refused.
#[derive(Debug, Clone)]
pub struct MediaFact {
    pub src: MediaSrc,
    pub probe: Result<media::Probed, media::ProbeError>,
}

impl MediaFact {
    /// The release, when the probe could tell it (and the media passed).
    pub fn version(&self) -> Option<Version> {
        self.probe.as_ref().ok().map(|p| p.version)
    }
}

/// What the node, the media and the backup directory look like before anything is done.
#[derive(Debug, Clone)]
pub struct Facts {
    /// This node's LifeKeeper name.
    pub host: String,
    /// Where this node's journal is (read into the `journal` beside these facts).
    pub journal_path: PathBuf,
    /// `rpm -q steeleye-lk`.
    pub installed: Option<Version>,
    /// `lcdstatus -e`.
    pub node: Probe,
    /// The installed LifeKeeper packages (`rpm -qa`), as name-version-release.arch.
    pub packages: Result<Vec<String>, String>,
    /// stepping_media in order, with their releases. Media facts are read only when an upgrade
    /// may be needed (not when the node is at the target with no unfinished journal).
    pub stepping: Vec<MediaFact>,
    /// media_dir (a directory) or media (an image).
    pub target_media: Option<MediaFact>,
    /// Check mode: the packages on the target media, for the predicted package diff.
    pub media_packages: Vec<String>,
    /// With backup_dir: the verified archive of this node (the one an unfinished journal
    /// records, else the newest), `None` when none verifies; `Err` when the directory is unreadable.
    pub backup: Option<Result<Option<PathBuf>, String>>,
    /// Warnings about that backup (allow_stale_backup: it predates a configuration change).
    pub backup_warnings: Vec<String>,
    /// The rollback path only (`rollback::find_backup`): the manifest entry of the backup taken
    /// at the target release (the journal's when resuming), `None` when none verifies; `Err`
    /// when the newest of that release does not verify or the directory is unreadable.
    pub backup_entry: Option<Result<Option<backup_store::BackupEntry>, String>>,
    pub setup_config_is_file: bool,
    /// The given setup_config's text (empty when unreadable), for the predicted packages.
    pub setup_config_text: String,
    pub defaults_base_is_file: bool,
    pub license_files_exist: bool,
    /// defaults_file / defaults_base that the defaults parser refuses (parameter, message), read
    /// only when an upgrade may be needed: the reinstall would only find out after setup.
    pub defaults_problems: Vec<(&'static str, String)>,
    /// ISO 8601 time of this run, recorded as the journal's start.
    pub now: String,
    /// `/etc/machine-id`, recorded in a new journal.
    pub machine_id: Option<String>,
}

/// Gather the facts. Fails only where nothing can be decided without the answer (the node's
/// name, the journal, the installed version); every other answer is data for the plan.
pub fn gather(p: &Params, ctx: &Ctx, target: Version) -> Result<(Facts, Option<Journal>), Failure> {
    let runner = &ctx.runner;
    let named = node::name(runner, &p.lkroot, "").map_err(Failure::new)?;
    let mut host = named.name;
    node::check(&host).map_err(Failure::new)?;
    let journal_dir = p.backup_dir.as_deref().unwrap_or(&p.state_dir);
    let mut journal_path = journal::path(journal_dir, &host);
    let mut journal = journal::read(&journal_path)?;
    let mut name_warnings = vec![];
    // rmlk deletes LifeKeeper's record of the node name ($LKROOT/config/UNAME), so a rerun after
    // it falls back to `uname -n`. On a host renamed since LifeKeeper was installed that name
    // differs, and the interrupted reinstall's journal would not be found: the node would stay
    // uninstalled. The one unfinished journal in the directory that this machine started
    // (/etc/machine-id, recorded in the journal) is then this node's.
    let machine_id = fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let (None, true, Some(id)) = (&journal, named.source == node::FROM_UNAME, &machine_id) {
        if let Some((other, j)) = journal::only_unfinished(journal_dir, id)? {
            name_warnings.push(format!(
                "LifeKeeper's record of the node name is gone (rmlk removes it) and uname -n says {host}; resuming the one unfinished upgrade in {}, recorded for {}",
                journal_dir.display(),
                j.host
            ));
            host = j.host.clone();
            // It names files too: the same rule as for a name LifeKeeper reports.
            node::check(&host).map_err(Failure::new)?;
            journal_path = other;
            journal = Some(j);
        }
    }
    let installed = packages::installed(runner).map_err(Failure::new)?;
    let pending = journal.as_ref().filter(|j| !j.finished);
    let upgrading = !at_target(installed, target, pending);
    // The probe is read-only (check mode runs it too) and comes before anything is changed.
    let given = p
        .media_version
        .as_deref()
        .map(Version::parse)
        .transpose()
        .map_err(|e| Failure::param("media_version", e))?;
    let read = |src: MediaSrc, given: Option<Version>| MediaFact {
        probe: media::probe(runner, &src, given, &p.setup_args),
        src,
    };
    let (stepping, target_media) = if upgrading {
        (
            p.stepping_media
                .iter()
                .map(|m| read(MediaSrc::of(m), None))
                .collect(),
            p.media_dir
                .as_ref()
                .map(|d| MediaSrc::Dir(d.clone()))
                .or_else(|| p.media.as_ref().map(|m| MediaSrc::Image(m.clone())))
                .map(|m| read(m, given)),
        )
    } else {
        (vec![], None)
    };
    let media_packages = match &target_media {
        Some(m) if ctx.check_mode && m.version() == Some(target) => m
            .probe
            .as_ref()
            .map(|p| p.packages.clone())
            .unwrap_or_default(),
        _ => vec![],
    };
    let mut defaults_problems = vec![];
    if upgrading {
        for (name, file) in [
            ("defaults_file", Some(&p.defaults_file)),
            ("defaults_base", p.defaults_base.as_ref()),
        ] {
            let Some(f) = file else { continue };
            let parsed = rfs::read_text(f, name).and_then(|text| {
                crate::lifekeeper::defaults_file::parse(&text)
                    .map(|_| ())
                    .map_err(|(line, msg)| {
                        format!(
                            "{name} {} line {line}: {msg}; nothing was changed",
                            f.display()
                        )
                    })
            });
            if let Err(e) = parsed {
                defaults_problems.push((name, e));
            }
        }
    }
    // A resumed run restores the archive the first run relied on, never a newer backup that
    // may have been taken of the half-reinstalled node in between. A first run takes the newest
    // backup of this host or nothing (issue 22 defect 1): never an older one when the newest is
    // damaged, and never one that no longer matches the configuration it would replace.
    let mut backup_warnings = name_warnings;
    let rolling_back = super::rollback::wanted(p, installed, target, pending);
    let backup_entry = match &p.backup_dir {
        Some(dir) if upgrading && rolling_back => Some(super::rollback::find_backup(
            dir,
            &host,
            target,
            pending.and_then(|j| j.backup.as_deref()),
        )),
        _ => None,
    };
    let backup = match &p.backup_dir {
        Some(dir) if upgrading && !rolling_back => {
            Some(match pending.and_then(|j| j.backup.as_deref()) {
                Some(a) => backup_store::find_verified_archive(dir, &host, a)
                    .map(|e| e.map(|e| dir.join(e.archive))),
                None => backup_store::find_verified(dir, &host).and_then(|e| match e {
                    None => Ok(None),
                    Some(e) => {
                        // Before the first step the configuration is still the one to keep; after
                        // one (lkstop, rmlk) it differs by design.
                        // A defaults file the merge refuses is refused first (the plan names defaults_file).
                        let untouched = pending.is_none_or(|j| j.done.is_empty())
                            && defaults_problems.is_empty();
                        match stale_backup(p, &e, untouched) {
                            Ok(None) => Ok(Some(dir.join(e.archive))),
                            Ok(Some(w)) => {
                                backup_warnings.push(w);
                                Ok(Some(dir.join(e.archive)))
                            }
                            Err(msg) => Err(msg),
                        }
                    }
                }),
            })
        }
        _ => None,
    };
    let facts = Facts {
        defaults_problems,
        backup_warnings,
        node: status::probe(runner, &p.lkroot),
        packages: packages::packages(runner),
        stepping,
        target_media,
        media_packages,
        backup,
        backup_entry,
        setup_config_is_file: p.setup_config.as_ref().is_some_and(|c| c.is_file()),
        setup_config_text: p
            .setup_config
            .as_ref()
            .and_then(|c| std::fs::read_to_string(c).ok())
            .unwrap_or_default(),
        defaults_base_is_file: p.defaults_base.as_ref().is_some_and(|b| b.is_file()),
        license_files_exist: p.license_files.iter().all(|l| l.is_file()),
        now: time::iso8601(time::now_secs()),
        machine_id,
        host,
        journal_path,
        installed,
    };
    Ok((facts, journal))
}

/// Compare the configuration now with the one `e` recorded (`backup_store::fingerprint`, the same
/// function lk_backup records it with). `Err`: refuse (changed, allow_stale_backup false);
/// `Ok(Some)`: the warning when allowed; `Ok(None)`: current, or not comparable any more.
fn stale_backup(
    p: &Params,
    e: &backup_store::BackupEntry,
    untouched: bool,
) -> Result<Option<String>, String> {
    if !untouched {
        return Ok(None);
    }
    let now = backup_store::fingerprint(&p.lkroot, &p.defaults_file)?;
    if now == e.fingerprint {
        return Ok(None);
    }
    let why = format!(
        "the configuration of this node (under {}/config and {}) changed after the newest backup {} was taken ({}): restoring it would lose those changes",
        p.lkroot.display(),
        p.defaults_file.display(),
        e.archive,
        e.time
    );
    if p.allow_stale_backup {
        Ok(Some(format!(
            "{why}; restoring it anyway (allow_stale_backup: true)"
        )))
    } else {
        Err(format!(
            "{why}. Take a new backup with lk_backup, or set allow_stale_backup: true to restore it anyway"
        ))
    }
}

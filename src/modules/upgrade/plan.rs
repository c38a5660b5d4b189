//! The pure plan of lk_upgrade: from (params, facts, journal) to the path (direct, stepwise,
//! reinstall), every refusal and its message, and the steps — including whether rmlk runs. No
//! command runs here; check mode prints what this returns.

use super::facts::{Facts, MediaFact};
use super::journal::Journal;
use super::{Params, StartAfter};
use crate::lifekeeper::backup_store;
use crate::lifekeeper::media::{self, MediaSrc, Mode};
use crate::lifekeeper::setup::Mode as SetupMode;
use crate::lifekeeper::status::{Probe, Status};
use crate::lifekeeper::version::{self, Path as UpPath, Version};
use crate::runtime::Failure;
use std::path::{Path, PathBuf};

/// Why the run stops before touching anything: the failed result, naming the parameter to
/// change where one would help.
pub type Refusal = Failure;

/// What a step does when it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    VerifyBackup,
    SaveDefaults,
    Stop,
    /// rmlk: removes LifeKeeper with the resource hierarchies and comm paths.
    Uninstall,
    ErasePackages,
    /// Open the media `Plan::media[i]`.
    Media(usize),
    /// setup_mode menu: start setup from the opened media `Plan::media[i]`, read its title and
    /// main menu, leave through Done, No (before anything is changed).
    ProbeMenu(usize),
    /// setup from the media `Plan::media[i]`; `usize::MAX`: done by an earlier run, media not given.
    Setup(usize),
    Restore,
    Reapply,
    /// Rollback: the older release's defaults file lk_backup saved, written back.
    PutBackDefaults,
    Start,
    Verify,
}

crate::choice_enum! {
    /// A step's status in the result.
    pub enum StepStatus {
        Planned = "planned",
        Done = "done",
        Skipped = "skipped",
        Failed = "failed",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub detail: String,
    pub action: Action,
    pub status: StepStatus,
}

/// The decision.
#[derive(Debug)]
pub enum Plan {
    /// The target is installed and no upgrade is unfinished: nothing to do, no media touched.
    AtTarget(AtTarget),
    Upgrade(Box<Upgrade>),
}

#[derive(Debug)]
pub struct AtTarget {
    pub host: String,
    pub target: Version,
    pub running: bool,
    pub packages: Vec<String>,
}

/// An upgrade to run (or resume): the path and its steps.
#[derive(Debug)]
pub struct Upgrade {
    pub host: String,
    pub target: Version,
    pub previous: Option<Version>,
    pub path: UpPath,
    pub stepping: Option<Version>,
    /// The media setup runs from, in order (the stepping release first).
    pub media: Vec<(MediaSrc, Version)>,
    pub steps: Vec<Step>,
    /// The journal to write (the unfinished one when resuming, else a new one).
    pub journal: Journal,
    /// Whether the journal already existed (resuming).
    pub resuming: bool,
    pub saved_defaults: Option<PathBuf>,
    pub backup_archive: Option<PathBuf>,
    /// Check mode only: no verified backup yet; the real run refuses (the plan says so).
    pub backup_missing: Option<String>,
    pub running_now: bool,
    /// Whether LifeKeeper must run at the end (`None`: start_after=never, either is fine).
    pub expect_running: Option<bool>,
    /// What `setup --help` of the target media printed (the probe before anything changes).
    pub setup_usage: Option<String>,
    /// The rollback path: the backup taken at the target release and its defaults copy.
    pub rollback: Option<super::rollback::RollbackBackup>,
}

/// What the node looks like now, for the post-conditions of a rerun.
#[derive(Debug, Clone, Copy)]
pub struct NodeNow {
    /// `rpm -q steeleye-lk`.
    pub installed: Option<Version>,
    /// `lktest`.
    pub running: bool,
    /// How many steeleye-*/HADR-* packages are installed.
    pub packages_left: usize,
}

/// Whether a step's effect is already there, judged by its post-condition (never by a message):
/// stop — LifeKeeper does not run (on the reinstall path, before anything was reinstalled);
/// uninstall — steeleye-lk is not installed, or a setup already installed a release after it;
/// removing old packages — none is left; a setup — its release is installed (the stepping
/// release: it or later). Steps without a post-condition here (saving the defaults, restoring,
/// re-applying, starting, verifying) are judged by the journal and their own run.
pub fn post_condition_met(
    a: &Action,
    media: &[(MediaSrc, Version)],
    target: Version,
    path: UpPath,
    now: &NodeNow,
) -> bool {
    let fresh =
        matches!(path, UpPath::Reinstall | UpPath::Rollback) && now.installed == Some(target);
    match a {
        Action::Stop => !now.running || now.installed.is_none() || fresh,
        Action::Uninstall => now.installed.is_none() || fresh,
        Action::ErasePackages => now.packages_left == 0 || fresh,
        Action::Setup(i) => match media.get(*i) {
            Some((_, v)) if *v == target => now.installed == Some(target),
            Some((_, v)) => now.installed.is_some_and(|inst| inst >= *v),
            None => now.installed == Some(target),
        },
        _ => false,
    }
}

/// The node is at the target with nothing unfinished: the one rule for "nothing to do" (the
/// gather step also uses it, to leave the media alone then).
pub fn at_target(installed: Option<Version>, target: Version, pending: Option<&Journal>) -> bool {
    installed == Some(target) && pending.is_none()
}

/// The resources in service on this node, as `TAG (STATE)`: what the refusal and the final
/// verification name.
pub fn in_service(st: Option<&Status>) -> Vec<String> {
    st.iter()
        .flat_map(|s| s.in_service())
        .map(|r| format!("{} ({})", r.tag, r.state))
        .collect()
}

fn media_refusal(param: &str, src: &MediaSrc, why: &str) -> Refusal {
    Failure::param(param, format!("{param}: {}: {why}", src.path().display()))
}

/// The refusal for a media the probe did not pass: the media's own parameter, or `setup_args`
/// when its `setup --help` does not name the options lk_upgrade would pass.
fn probe_refusal(param: &str, m: &MediaFact) -> Option<Refusal> {
    match &m.probe {
        Ok(_) => None,
        Err(media::ProbeError::Media(why)) => Some(media_refusal(param, &m.src, why)),
        Err(media::ProbeError::SetupArgs(why)) => Some(
            Failure::param(
                "setup_args",
                format!("{}: {why}; nothing was changed", m.src.path().display()),
            )
            .with("param_media", param),
        ),
    }
}

fn parse_recorded(v: &Option<String>) -> Result<Option<Version>, Refusal> {
    v.as_deref()
        .map(Version::parse)
        .transpose()
        .map_err(Failure::new)
}

/// Decide. Refusals come before anything is touched; their order is the order the checks are
/// written in.
pub fn plan(
    p: &Params,
    target: Version,
    f: &Facts,
    journal: Option<&Journal>,
    check_mode: bool,
) -> Result<Plan, Refusal> {
    let host = f.host.as_str();
    let pending = journal.filter(|j| !j.finished);
    if let Some(j) = pending {
        if j.target != target.to_string() {
            return Err(Failure::param(
                "version",
                format!(
                    "an unfinished upgrade of {host} to {} is recorded in {}; rerun with version {} to finish it, or remove the journal if the node was repaired by hand",
                    j.target,
                    f.journal_path.display(),
                    j.target
                ),
            ));
        }
    }
    // A finished upgrade is recognised first, before any media is looked at.
    if at_target(f.installed, target, pending) {
        return Ok(Plan::AtTarget(AtTarget {
            host: host.to_string(),
            target,
            running: f.node.is_up(),
            packages: f.packages.clone().unwrap_or_default(),
        }));
    }
    let st = match &f.node {
        Probe::Failed(e) => return Err(e.clone()),
        other => other.status(),
    };
    let running_now = st.is_some();
    // The path is chosen once; a resumed run follows the journal, because the installed version
    // changes part-way (9.4.3 after the first stepwise setup, nothing after rmlk).
    let (path, stepping, previous, was_running) = match pending {
        Some(j) => (
            j.recorded_path().map_err(Failure::new)?,
            parse_recorded(&j.stepping)?,
            parse_recorded(&j.previous_version)?,
            j.was_running,
        ),
        None => {
            let mut stepping_versions = vec![];
            for m in &f.stepping {
                if let Some(r) = probe_refusal("stepping_media", m) {
                    return Err(r);
                }
                stepping_versions.extend(m.version());
            }
            let (path, step) =
                version::upgrade_path(f.installed.as_ref(), &target, &stepping_versions);
            let path = super::rollback::path(p, f.installed, target, path);
            (path, step, f.installed, running_now)
        }
    };
    match path {
        UpPath::Unsupported => {
            return Err(match f.installed {
                None => Failure::new(format!(
                    "LifeKeeper is not installed on {host} (rpm -q steeleye-lk); lk_upgrade upgrades an existing installation"
                )),
                Some(i) => Failure::param("allow_downgrade", format!("installed {i} is newer than version {target}; downgrade is not supported without allow_downgrade: true (the rollback path: the {target} media and backup_dir holding the backup lk_backup took of {host} at {target} before the upgrade)")),
            })
        }
        UpPath::None => {
            return Err(Failure::new(format!(
                "internal error: no upgrade path to {target} although one is needed"
            )))
        }
        _ => {}
    }
    // The guard protects what stops LifeKeeper (lkstop, rmlk, setup). Once the target's setup
    // is done only the start and the checks are left, and hierarchies in service here then came
    // from LifeKeeper itself (a peer that died failed over to this node, the one survivor): a
    // refusal would strand the rerun on a node that is already upgraded.
    let target_setup_done = pending.is_some_and(|j| j.is_done(&format!("setup {target}")));
    if p.require_standby && !target_setup_done {
        let busy = in_service(st);
        if !busy.is_empty() {
            return Err(Failure::new(format!(
                "resources are in service on {host}: {}; move them to another node first (lk_resource), or set require_standby: false",
                busy.join(", ")
            ))
            .with("in_service", busy));
        }
    }
    let mut rollback = None;
    let (backup_archive, backup_missing) = match path {
        UpPath::Reinstall => reinstall_backup(p, target, f, pending, previous, check_mode)?,
        UpPath::Rollback => {
            let (b, missing) = super::rollback::backup(p, target, f, pending, check_mode)?;
            rollback = b;
            (rollback.as_ref().map(|b| b.archive.clone()), missing)
        }
        _ => (None, None),
    };
    let mut media: Vec<(MediaSrc, Version)> = vec![];
    if path == UpPath::Stepwise {
        let s = stepping.expect("stepwise has a stepping version");
        let src = f
            .stepping
            .iter()
            .find(|m| m.version() == Some(s))
            .map(|m| m.src.clone())
            .ok_or_else(|| {
                Failure::param(
                    "stepping_media",
                    format!("the journal's stepping release {s} is not among stepping_media"),
                )
            })?;
        media.push((src, s));
    }
    let done = pending.map(|j| j.done.clone()).unwrap_or_default();
    match &f.target_media {
        Some(m) => {
            // Wrong media is refused even when its setup is done: the arguments must be the same.
            let param = if p.media_dir.is_some() {
                "media_dir"
            } else {
                "media"
            };
            if let Some(r) = probe_refusal(param, m) {
                return Err(r);
            }
            let src = &m.src;
            let v = m
                .version()
                .expect("a media that passed the probe has a version");
            if v != target {
                return Err(Failure::param(
                    param,
                    format!(
                        "{} is release {v}, not version {target}",
                        src.path().display()
                    ),
                ));
            }
            media.push((src.clone(), target));
        }
        None if target_setup_done => {}
        None => {
            return Err(Failure::param(
                "media",
                format!(
                    "media (the {target} ISO image) or media_dir is required to upgrade {host}"
                ),
            ))
        }
    }
    // The menu upgrades what is installed with Done straight away (vendor guide §4); a fresh
    // install (reinstall) needs the admin's saved configuration, loaded through Load.
    let menu = p.setup_mode == SetupMode::Menu;
    if (!menu || matches!(path, UpPath::Reinstall | UpPath::Rollback))
        && p.setup_config.is_none()
        && !p.generate_setup_config
    {
        return Err(Failure::param(
            "setup_config",
            format!(
                "setup_config is required{}: save the setup configuration of {host} once with the real setup menu's Save button and give that file; or set generate_setup_config: true to generate one (its {} names are UNCONFIRMED, a guess of the simulator). Nothing was changed",
                if menu { " for a fresh install (the reinstall path), loaded through the menu's Load" } else { "" },
                if menu { "symbol" } else { "LKCONF_* key" }
            ),
        ));
    }
    if menu
        && matches!(path, UpPath::Reinstall | UpPath::Rollback)
        && p.setup_config.is_none()
        && p.generate_setup_config
    {
        let installed = match pending {
            Some(j) => j.packages_before.clone(),
            None => f.packages.clone().unwrap_or_default(),
        };
        crate::lifekeeper::setup::config::refuse_removal(
            &super::generated_conf(p, &installed),
            &installed,
        )
        .map_err(|e| Failure::param("recovery_kits", e))?;
    }
    if let Some(c) = &p.setup_config {
        if !f.setup_config_is_file {
            return Err(Failure::param(
                "setup_config",
                format!("setup_config {} is not a file", c.display()),
            ));
        }
    }
    if let Some(b) = &p.defaults_base {
        if !f.defaults_base_is_file {
            return Err(Failure::param(
                "defaults_base",
                format!("defaults_base {} is not a file", b.display()),
            ));
        }
    }
    if !f.license_files_exist {
        return Err(Failure::param(
            "license_files",
            "license_files: a license file does not exist",
        ));
    }

    // The reinstall re-applies the site's defaults after setup: a file that merge would refuse
    // (a line sh would run, CRLF line endings, a byte order mark) must stop the run here, before
    // lkstop, not after the new release is installed.
    if path == UpPath::Reinstall && pending.is_none() {
        if let Some((name, why)) = f.defaults_problems.first() {
            return Err(Failure::param(name, why.clone()));
        }
    }

    let saved_defaults = match (path, &p.backup_dir) {
        (UpPath::Reinstall | UpPath::Rollback, Some(dir)) => Some(
            pending
                .and_then(|j| j.saved_defaults.as_ref().map(PathBuf::from))
                .unwrap_or_else(|| {
                    backup_store::saved_defaults_path(
                        dir,
                        host,
                        previous.map(|v| v.to_string()).as_deref(),
                    )
                }),
        ),
        _ => None,
    };
    let expect_running = match p.start_after {
        StartAfter::Always => Some(true),
        StartAfter::Never => None,
        StartAfter::Auto => Some(was_running),
    };
    let ctx = StepsCtx {
        p,
        host,
        target,
        path,
        previous,
        media: &media,
        backup_archive: backup_archive.as_deref(),
        backup_missing: backup_missing.as_deref(),
        saved_defaults: saved_defaults.as_deref(),
        target_setup_done: target_setup_done && f.target_media.is_none(),
        expect_running,
    };
    let mut steps = ctx.steps();
    if path == UpPath::Rollback {
        super::rollback::adjust_steps(&mut steps, p, host, target, rollback.as_ref());
    }
    mark_done(&mut steps, &done);
    if pending.is_some() {
        // A rerun judges every step by its post-condition too: a step killed after its effect
        // but before its journal entry is done (issue 22, defect 3).
        let now = NodeNow {
            installed: f.installed,
            running: running_now,
            packages_left: f.packages.as_ref().map(|v| v.len()).unwrap_or(1),
        };
        for s in steps.iter_mut() {
            if s.status == StepStatus::Planned
                && post_condition_met(&s.action, &media, target, path, &now)
            {
                s.status = StepStatus::Done;
            }
        }
        mark_done(&mut steps, &[]);
    }
    let setup_usage = f
        .target_media
        .iter()
        .chain(f.stepping.iter())
        .find_map(|m| m.probe.as_ref().ok().map(|p| p.usage.clone()));
    let journal = match pending {
        Some(j) => j.clone(),
        None => Journal {
            format: 1,
            host: host.to_string(),
            target: target.to_string(),
            previous_version: previous.map(|v| v.to_string()),
            path: path.name().to_string(),
            stepping: stepping.map(|v| v.to_string()),
            was_running,
            started: f.now.clone(),
            done: vec![],
            packages_before: f.packages.clone().map_err(Failure::new)?,
            saved_defaults: saved_defaults.as_ref().map(|s| s.display().to_string()),
            setup_logs: vec![],
            finished: false,
            backup: backup_archive
                .as_ref()
                .and_then(|a| a.file_name())
                .map(|a| a.to_string_lossy().into_owned()),
            fresh_defaults: None,
            setup_usage: None,
            to_reinstall: vec![],
            site_files_archive: None,
            machine_id: f.machine_id.clone(),
        },
    };
    Ok(Plan::Upgrade(Box::new(Upgrade {
        host: host.to_string(),
        target,
        previous,
        path,
        stepping,
        media,
        steps,
        journal,
        resuming: pending.is_some(),
        saved_defaults,
        backup_archive,
        backup_missing,
        running_now,
        expect_running,
        setup_usage,
        rollback,
    })))
}

/// The reinstall's refusals (rmlk only runs when asked for, and only with a verified backup of
/// this node); the archive it restores, or (check mode) why there is none yet.
fn reinstall_backup(
    p: &Params,
    target: Version,
    f: &Facts,
    pending: Option<&Journal>,
    previous: Option<Version>,
    check_mode: bool,
) -> Result<(Option<PathBuf>, Option<String>), Refusal> {
    let host = f.host.as_str();
    let prev = previous
        .map(|v| v.to_string())
        .unwrap_or_else(|| "?".into());
    if !p.allow_reinstall {
        return Err(Failure::param(
            "allow_reinstall",
            format!(
                "{prev} cannot be upgraded in place to {target}{}; the only path is a reinstall (rmlk removes the resource hierarchies; they are restored from the lk_backup archive afterwards). Set allow_reinstall: true with backup_dir holding a verified lk_backup of {host}, or give stepping_media (a 9.4.x image) to upgrade stepwise",
                if p.stepping_media.is_empty() { " and no stepping_media was given" } else { " and no stepping_media fits" }
            ),
        )
        .with("path", "reinstall"));
    }
    let Some(dir) = &p.backup_dir else {
        return Err(Failure::param(
            "backup_dir",
            "the reinstall path needs backup_dir holding a verified lk_backup of this node",
        ));
    };
    let found = match &f.backup {
        Some(r) => r.clone().map_err(|e| Failure::param("backup_dir", e))?,
        None => None,
    };
    let recorded = pending.and_then(|j| j.backup.clone());
    match (found, recorded) {
        (Some(a), _) => Ok((Some(a), None)),
        (None, Some(a)) => Err(Failure::param(
            "backup_dir",
            format!("the backup {a} in {} that this unfinished upgrade of {host} relies on no longer verifies (checksum and host); restore it from your copy, then rerun", dir.display()),
        )),
        (None, None) if check_mode => Ok((
            None,
            Some(format!(
                "no verified backup of {host} in {} yet: the real run refuses unless one exists (take it with lk_backup first)",
                dir.display()
            )),
        )),
        (None, None) => Err(Failure::param(
            "backup_dir",
            format!("{} holds no backup of {host} that verifies (checksum and host); run lk_backup dest={} first", dir.display(), dir.display()),
        )),
    }
}

/// What the step list is built from.
struct StepsCtx<'a> {
    p: &'a Params,
    host: &'a str,
    target: Version,
    path: UpPath,
    previous: Option<Version>,
    media: &'a [(MediaSrc, Version)],
    backup_archive: Option<&'a Path>,
    backup_missing: Option<&'a str>,
    saved_defaults: Option<&'a Path>,
    /// The target's setup is done by an earlier run and no target media was given.
    target_setup_done: bool,
    expect_running: Option<bool>,
}

impl StepsCtx<'_> {
    fn steps(&self) -> Vec<Step> {
        let (p, host, target) = (self.p, self.host, self.target);
        let lkroot = p.lkroot.display();
        let mut steps = vec![];
        let mut push = |name: String, detail: String, action: Action| {
            steps.push(Step {
                name,
                detail,
                action,
                status: StepStatus::Planned,
            })
        };
        // The rollback runs the reinstall's steps (rollback::adjust_steps renames some).
        let reinstall = matches!(self.path, UpPath::Reinstall | UpPath::Rollback);
        // Every media is opened whole (and, in menu mode, its setup probed) before the first
        // step that changes the node: a media that cannot be opened (no room in work_dir, issue
        // 28 O4) or whose setup shows no menu or another release stops the run untouched.
        let open_media = |push: &mut dyn FnMut(String, String, Action)| {
            for (i, (src, v)) in self.media.iter().enumerate() {
                let (name, detail) = media_step(p, src, *v);
                push(name, detail, Action::Media(i));
                if p.setup_mode == SetupMode::Menu {
                    push(
                        format!("probe setup menu {v}"),
                        format!(
                            "start setup from the root of the {v} media on a terminal, read the release in the menu's title bar (SIOS Protection Suite for Linux {v}-BUILD setup) and the main menu, leave through < Done >, < No > (setup will abort); before anything is changed"
                        ),
                        Action::ProbeMenu(i),
                    );
                }
            }
        };
        if reinstall {
            push(
                "verify backup".into(),
                match (self.backup_archive, self.backup_missing) {
                    (Some(a), _) => {
                        format!("{} verifies (checksum and host of {host})", a.display())
                    }
                    (None, Some(why)) => why.to_string(),
                    (None, None) => "no verified backup".into(),
                },
                Action::VerifyBackup,
            );
            open_media(&mut push);
            push(
                "save defaults".into(),
                format!(
                    "copy {} to {}",
                    p.defaults_file.display(),
                    self.saved_defaults
                        .map(|s| s.display().to_string())
                        .unwrap_or_default()
                ),
                Action::SaveDefaults,
            );
            push(
                "stop LifeKeeper".into(),
                format!("{lkroot}/bin/lkstop"),
                Action::Stop,
            );
            push(
                "uninstall LifeKeeper".into(),
                format!(
                    "{lkroot}/bin/rmlk (answering {:?}); the resource hierarchies and everything under {lkroot} are removed",
                    p.rmlk_answer
                ),
                Action::Uninstall,
            );
            if self.previous.is_some_and(|v| v < Version::new(7, 5, 0)) {
                push(
                    "remove old packages".into(),
                    "rpm -e every remaining steeleye-*/HADR-* package (installed release older than 7.5)".into(),
                    Action::ErasePackages,
                );
            }
        }
        if !reinstall {
            open_media(&mut push);
        }
        for (i, (_, v)) in self.media.iter().enumerate() {
            let conf = p
                .setup_config
                .as_ref()
                .map(|c| c.display().to_string())
                .unwrap_or_else(|| {
                    if p.generated_config_fd {
                        "/dev/fd/N (generated, in memory)".to_string()
                    } else {
                        format!("{}/setup-PID.conf (generated)", p.work_dir.display())
                    }
                });
            let detail = match p.setup_mode {
                SetupMode::Args => format!(
                    "setup {}",
                    crate::lifekeeper::setup::expand_args(&p.setup_args, Path::new(&conf))
                        .join(" ")
                ),
                SetupMode::Menu => format!(
                    "./setup from the media root on a terminal: check the release in the title bar{}, < Done >, < Yes > at \"Would you like to start installing SPS for Linux with the current settings?\", follow the console to its end",
                    if reinstall && (p.setup_config.is_some() || p.generate_setup_config) {
                        format!(", < Load > {}", if p.setup_config.is_some() { conf } else { format!("{}/setup-PID.config (generated)", p.work_dir.display()) })
                    } else {
                        String::new()
                    }
                ),
            };
            push(format!("setup {v}"), detail, Action::Setup(i));
        }
        if self.target_setup_done {
            push(
                format!("setup {target}"),
                "done by an earlier run".into(),
                Action::Setup(usize::MAX),
            );
        }
        if reinstall && (p.restore_config || self.path == UpPath::Rollback) {
            push(
                "restore configuration".into(),
                format!(
                    "{lkroot}/bin/lkbackup -x -f {} (resource hierarchies, comm paths); the {target} {} is kept and the saved parameters re-applied next",
                    self.backup_archive
                        .map(|a| a.display().to_string())
                        .unwrap_or_else(|| "ARCHIVE (the verified lk_backup, once taken)".into()),
                    p.defaults_file.display()
                ),
                Action::Restore,
            );
        }
        if reinstall {
            push(
                "re-apply defaults".into(),
                format!(
                    "merge {} into {}{}",
                    self.saved_defaults
                        .map(|s| s.display().to_string())
                        .unwrap_or_default(),
                    p.defaults_file.display(),
                    p.defaults_base
                        .as_ref()
                        .map(|b| format!(" (three-way, base {})", b.display()))
                        .unwrap_or_default()
                ),
                Action::Reapply,
            );
        }
        if self.expect_running == Some(true) {
            push(
                "start LifeKeeper".into(),
                format!(
                    "{lkroot}/bin/lkstart unless already running (start_after={}{})",
                    p.start_after.as_str(),
                    if p.start_after == StartAfter::Auto {
                        ", LifeKeeper was running before"
                    } else {
                        ""
                    }
                ),
                Action::Start,
            );
        }
        push(
            "verify".into(),
            format!(
                "{target} installed{}; resources in service on {host} are reported",
                match self.expect_running {
                    Some(true) => ", LifeKeeper running",
                    Some(false) => ", LifeKeeper stopped",
                    None => "",
                }
            ),
            Action::Verify,
        );
        steps
    }
}

/// Steps the journal records as done are done; a media step is only needed for a setup not
/// done yet.
fn mark_done(steps: &mut [Step], done: &[String]) {
    for s in steps.iter_mut() {
        if done.contains(&s.name) {
            s.status = StepStatus::Done;
        }
    }
    let setup_done: Vec<usize> = steps
        .iter()
        .filter_map(|s| match s.action {
            Action::Setup(i) if s.status == StepStatus::Done => Some(i),
            _ => None,
        })
        .collect();
    for s in steps.iter_mut() {
        if let Action::Media(i) | Action::ProbeMenu(i) = s.action {
            if setup_done.contains(&i) {
                s.status = StepStatus::Done;
            }
        }
    }
}

fn media_step(p: &Params, src: &MediaSrc, v: Version) -> (String, String) {
    let temp = media::temp_dir(&p.work_dir, v, "PID");
    match src {
        MediaSrc::Dir(d) => (
            format!("use media {v}"),
            format!("setup from {}", d.display()),
        ),
        MediaSrc::Image(f) if p.media_mode == Mode::Extract => (
            format!("extract media {v}"),
            format!(
                "xorriso -osirrox on -indev {} -extract / {}",
                f.display(),
                temp.display()
            ),
        ),
        MediaSrc::Image(f) => (
            format!("mount media {v}"),
            format!(
                "mount -o loop,ro -t iso9660 {} {}{}",
                f.display(),
                temp.display(),
                if p.media_mode == Mode::Auto {
                    " (extracted with xorriso where mounting is not permitted)"
                } else {
                    ""
                }
            ),
        ),
    }
}

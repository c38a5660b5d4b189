//! Apply: run the plan's steps in order, journaling each one that changes the node, and on a
//! failure say what state the node is in and how to resume.

use super::journal;
use super::outcome::steps_json;
use super::plan::{in_service, Action, StepStatus, Upgrade};
use super::Params;
use crate::lifekeeper::backup_store::{self, DestDir};
use crate::lifekeeper::media::{self, OpenMedia};
use crate::lifekeeper::setup;
use crate::lifekeeper::version::Path as UpPath;
use crate::lifekeeper::{defaults_reapply, packages, status};
use crate::runtime::{fs as rfs, Cmd, Ctx, Failure, Outcome};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod setup_step;

struct Run<'a> {
    p: &'a Params,
    ctx: &'a Ctx,
    plan: Upgrade,
    journal_path: &'a Path,
    warnings: Vec<String>,
    /// The media opened so far (index in the plan's media, what was opened): all are opened
    /// before the first destructive step, closed at the end.
    open: Vec<(usize, OpenMedia)>,
    /// setup_mode menu: the last session's transcript and last screen (files in the journal's
    /// directory).
    setup_transcript: Option<String>,
    setup_screen: Option<String>,
    changed_now: bool,
    log_dir: PathBuf,
    /// backup_dir, opened once (issue 22 defect 17).
    store: Option<DestDir>,
    /// The journal is in backup_dir (written through `store`), not in state_dir.
    journal_in_store: bool,
}

/// The last component of a path this module composed (a file in backup_dir).
fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn make_work_dir(dir: &Path) -> Result<(), Failure> {
    if !dir.is_dir() {
        fs::create_dir_all(dir).map_err(|e| {
            Failure::param(
                "work_dir",
                format!("cannot create work_dir {}: {e}", dir.display()),
            )
        })?;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// What killed earlier runs left, removed at the start of every real run (whatever the plan;
/// issue 22 defect 9): temp files of dead writers in backup_dir, state_dir and work_dir and
/// beside the defaults file (and its backup copies), media directories and generated setup
/// configurations of dead runs in work_dir, setup probe directories of dead runs in TMPDIR, and
/// the site-files archive a killed run copied into backup_dir but never recorded. The
/// warnings say what was removed. Writers still alive are left alone.
pub fn clean_stale(p: &Params, ctx: &Ctx, host: &str) -> Vec<String> {
    let mut removed = vec![];
    if let Some(d) = p.backup_dir.as_deref().filter(|d| d.is_dir()) {
        if let Ok(store) = DestDir::open_as(d, "backup_dir") {
            removed.extend(store.clean_temps());
            let recorded = store
                .read(backup_store::SUMS)
                .ok()
                .flatten()
                .map(|b| backup_store::parse_sums(&String::from_utf8_lossy(&b)))
                .unwrap_or_default();
            let prefix = format!("{host}.lksite.");
            for n in store.names() {
                if n.starts_with(&prefix)
                    && n.ends_with(".tar.gz")
                    && backup_store::sum_of(&recorded, &n).is_none()
                    && store.remove(&n).is_ok()
                {
                    removed.push(format!(
                        "{} (an interrupted run copied it but never recorded it)",
                        d.join(&n).display()
                    ));
                }
            }
        }
    }
    for d in [&p.state_dir, &p.work_dir] {
        if let Ok(t) = backup_store::clean_temps(d) {
            removed.extend(t);
        }
    }
    removed.extend(defaults_reapply::clean_stale_temps(&p.defaults_file));
    removed.extend(media::clean_stale(&ctx.runner, &p.work_dir));
    removed.extend(media::clean_stale_probes());
    removed
        .into_iter()
        .map(|r| format!("removed what an interrupted run left: {r}"))
        .collect()
}

/// LifeKeeper's status now; `None` when it is not running or not installed.
fn current_status(ctx: &Ctx, lkroot: &Path) -> Result<Option<status::Status>, Failure> {
    status::probe(&ctx.runner, lkroot).into_result()
}

pub fn execute(
    p: &Params,
    ctx: &Ctx,
    plan: Upgrade,
    journal_path: &Path,
) -> Result<Outcome, Failure> {
    // backup_dir opened once (O_DIRECTORY|O_NOFOLLOW): every file this run writes there is
    // written relative to that descriptor, and each step first checks that the path still names
    // it, so backup_dir swapped for a symbolic link during the run (into lkroot/config, which
    // rmlk deletes) can neither receive the journal, the saved defaults or the setup log nor
    // make a step read from the wrong place (issue 22 defect 17).
    let store = match &p.backup_dir {
        Some(d) => {
            if !d.is_dir() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(d)
                    .map_err(|e| {
                        Failure::param(
                            "backup_dir",
                            format!("cannot create backup_dir {}: {e}", d.display()),
                        )
                    })?;
            }
            Some(DestDir::open_as(d, "backup_dir")?)
        }
        None => None,
    };
    let in_store = store.is_some() && journal_path.parent() == p.backup_dir.as_deref();
    if !in_store {
        if let Some(dir) = journal_path.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    let lock_path = journal_path.with_extension("lock");
    let locked = match (&store, in_store) {
        (Some(d), true) => d.lock(&file_name(&lock_path), Duration::from_secs(5)),
        _ => rfs::lock(&lock_path, Duration::from_secs(5)),
    };
    let _lock = locked.map_err(|e| {
        Failure::new(rfs::lock_failure(&e, &lock_path, || {
            format!("another lk_upgrade run holds {}: {e}", lock_path.display())
        }))
    })?;
    make_work_dir(&p.work_dir)?;
    let log_dir = p.backup_dir.clone().unwrap_or_else(|| p.work_dir.clone());
    let mut run = Run {
        p,
        ctx,
        plan,
        journal_path,
        warnings: vec![],
        open: vec![],
        setup_transcript: None,
        setup_screen: None,
        changed_now: false,
        log_dir,
        store,
        journal_in_store: in_store,
    };
    if run.plan.setup_usage.is_some() && run.plan.journal.setup_usage != run.plan.setup_usage {
        run.plan.journal.setup_usage = run.plan.setup_usage.clone();
        run.write_journal()?;
    } else if !run.plan.resuming {
        run.write_journal()?;
    }
    let n = run.plan.steps.len();
    for i in 0..n {
        if run.plan.steps[i].status == StepStatus::Done {
            ctx.progress(&format!(
                "{}: done by an earlier run",
                run.plan.steps[i].name
            ));
            continue;
        }
        ctx.progress(&format!("{} ...", run.plan.steps[i].name));
        match run.store_unchanged().and_then(|()| run.step(i)) {
            Ok(status) => {
                run.plan.steps[i].status = status;
                ctx.progress(&format!("{}: {}", run.plan.steps[i].name, status.as_str()));
            }
            Err(e) => {
                run.plan.steps[i].status = StepStatus::Failed;
                ctx.progress(&format!("{}: failed", run.plan.steps[i].name));
                for (_, mut m) in std::mem::take(&mut run.open) {
                    if let Err(w) = m.cleanup() {
                        run.warnings.push(w);
                    }
                }
                return Err(run.failure(i, e));
            }
        }
    }
    run.finish()
}

impl Run<'_> {
    fn timeout(&self) -> Duration {
        Duration::from_secs(self.p.timeout as u64)
    }

    fn mark_done(&mut self, i: usize) -> Result<(), Failure> {
        self.changed_now = true;
        let name = self.plan.steps[i].name.clone();
        if !self.plan.journal.done.contains(&name) {
            self.plan.journal.done.push(name);
        }
        self.write_journal()
    }

    /// The journal, atomically: through the backup_dir descriptor when it is kept there.
    fn write_journal(&self) -> Result<(), Failure> {
        match (&self.store, self.journal_in_store) {
            (Some(d), true) => d
                .put_bytes(
                    &file_name(self.journal_path),
                    journal::render(&self.plan.journal).as_bytes(),
                    0o600,
                )
                .map(|_| ())
                .map_err(|e| {
                    Failure::new(format!(
                        "cannot write the journal {}: {e}",
                        self.journal_path.display()
                    ))
                }),
            _ => journal::write(self.journal_path, &self.plan.journal),
        }
    }

    /// backup_dir's path still names the directory opened at the start; else the run stops
    /// before its next step (what it wrote is in the directory it opened).
    fn store_unchanged(&self) -> Result<(), Failure> {
        match &self.store {
            Some(d) if !d.still_at_path() => Err(Failure::param(
                "backup_dir",
                format!(
                    "backup_dir {} was replaced while the run was going on (by a symbolic link or another directory); stopped before the next step. What this run wrote is in the directory backup_dir was when the run started: put it back, then rerun",
                    d.path.display()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Write `data` as `name` in backup_dir (through its descriptor); the sha256.
    fn store_put(&self, name: &str, data: &[u8]) -> Result<String, Failure> {
        let d = self.store.as_ref().expect("backup_dir");
        d.put_bytes(name, data, 0o600)
            .map_err(|e| Failure::new(format!("cannot write {}: {e}", d.path.join(name).display())))
    }

    /// Copy `src` into backup_dir as `name` (through its descriptor, 0600); the sha256.
    fn store_copy(&self, src: &Path, name: &str) -> Result<String, Failure> {
        let d = self.store.as_ref().expect("backup_dir");
        d.copy_in(src, name, 0o600).map_err(|e| {
            Failure::new(format!(
                "cannot copy {} to {}: {e}",
                src.display(),
                d.path.join(name).display()
            ))
        })
    }

    /// Run step `i`; its status on success.
    fn step(&mut self, i: usize) -> Result<StepStatus, Failure> {
        let lkroot = self.p.lkroot.clone();
        let t = self.timeout();
        if matches!(
            self.plan.steps[i].action,
            Action::Stop | Action::Uninstall | Action::Setup(_)
        ) {
            super::recheck_standby(self.p, self.ctx)?;
        }
        match self.plan.steps[i].action.clone() {
            // Verified while gathering (before anything was touched); not journaled, so every
            // run checks it again.
            Action::VerifyBackup => {}
            Action::Restore if self.plan.path == UpPath::Rollback => {
                self.restore_rollback(i)?;
                self.mark_done(i)?;
            }
            Action::Restore => {
                self.restore(i)?;
                self.mark_done(i)?;
            }
            Action::PutBackDefaults => {
                self.put_back_defaults(i)?;
                self.mark_done(i)?;
            }
            Action::SaveDefaults => {
                let dest = self.plan.saved_defaults.clone().expect("reinstall");
                // 0600 like every file beside the backups (the dir is lk_backup's, 0700).
                let sha = self.store_copy(&self.p.defaults_file, &file_name(&dest))?;
                self.plan.steps[i].detail = format!(
                    "saved {} as {} (sha256 {sha})",
                    self.p.defaults_file.display(),
                    dest.display()
                );
                self.mark_done(i)?;
            }
            Action::Stop => {
                self.ctx.runner.run_ok(
                    &Cmd::lk(&lkroot, "lkstop").timeout(t).outlives_caller(),
                    "lkstop",
                )?;
                self.mark_done(i)?;
            }
            Action::Uninstall => {
                let rmlk = lkroot.join("bin/rmlk");
                let out = if rmlk.is_file() {
                    self.save_site_files()?;
                    self.ctx.runner.run(
                        &Cmd::lk(&lkroot, "rmlk")
                            .stdin(format!("{}\n", self.p.rmlk_answer))
                            .timeout(t),
                    )?
                } else {
                    // An rmlk killed half-way (by us dying with it) deleted lkroot, itself
                    // included, but left packages installed: finish the removal with rpm -e, so
                    // a rerun converges instead of failing for ever on a missing rmlk.
                    let left = packages::packages(&self.ctx.runner).map_err(Failure::new)?;
                    self.warnings.push(format!(
                        "{} is gone but LifeKeeper packages are still installed (an earlier rmlk was interrupted); removed them with rpm -e: {}",
                        rmlk.display(),
                        left.join(" ")
                    ));
                    self.ctx.runner.run(
                        &Cmd::new("rpm")
                            .args(["-e", "--nodeps"])
                            .args(&left)
                            .timeout(t),
                    )?
                };
                // Done only when steeleye-lk is gone, whatever rmlk printed or returned.
                match packages::installed(&self.ctx.runner).map_err(Failure::new)? {
                    None if out.ok() => {}
                    None => self.warnings.push(format!(
                        "rmlk exited {} but steeleye-lk is no longer installed; judged done",
                        out.rc
                    )),
                    Some(v) => {
                        return Err(Failure::new(format!(
                            "rmlk did not uninstall LifeKeeper: steeleye-lk {v} is still installed ({}); check rmlk_answer",
                            out.failure("rmlk").msg
                        )))
                    }
                }
                self.mark_done(i)?;
            }
            Action::ErasePackages => {
                let left = packages::packages(&self.ctx.runner).map_err(Failure::new)?;
                if left.is_empty() {
                    self.plan.steps[i].detail =
                        "no steeleye-*/HADR-* package was left by rmlk".into();
                    self.mark_done(i)?;
                    return Ok(StepStatus::Skipped);
                }
                self.ctx.runner.run_ok(
                    &Cmd::new("rpm").arg("-e").args(&left).timeout(t),
                    "removing the old packages",
                )?;
                self.plan.steps[i].detail = format!("rpm -e {}", left.join(" "));
                self.mark_done(i)?;
            }
            Action::Media(m) => {
                let (src, v) = self.plan.media[m].clone();
                if let Some(k) = self.open.iter().position(|(j, _)| *j == m) {
                    let (_, mut old) = self.open.remove(k);
                    old.cleanup().map_err(Failure::new)?;
                }
                let mut w = vec![];
                let opened = match &src {
                    media::MediaSrc::Image(_) => make_work_dir(&self.p.work_dir).map_err(|f| f.msg),
                    media::MediaSrc::Dir(_) => Ok(()),
                }
                .and_then(|()| {
                    media::open(
                        &self.ctx.runner,
                        &src,
                        v,
                        &self.p.work_dir,
                        self.p.media_mode,
                        t,
                        &mut w,
                    )
                });
                self.warnings.extend(w);
                let opened =
                    opened.map_err(|e| Failure::new(format!("cannot open the {v} media: {e}")))?;
                if !opened.dir.join("setup").is_file() {
                    return Err(Failure::new(format!(
                        "{} has no setup: not LifeKeeper media",
                        src.path().display()
                    )));
                }
                self.plan.steps[i].detail = opened.how.clone();
                self.open.push((m, opened));
                // Transient: not journaled; a resumed run opens the media again.
            }
            Action::ProbeMenu(m) => self.probe_menu(i, m)?,
            Action::Setup(m) => {
                self.setup(i, m)?;
                self.mark_done(i)?;
            }
            Action::Reapply => {
                let saved = self.plan.saved_defaults.clone().expect("reinstall");
                let r = defaults_reapply::reapply(
                    &saved,
                    &self.p.defaults_file,
                    self.p.defaults_base.as_deref(),
                )?;
                self.warnings.extend(r.warnings());
                self.plan.steps[i].detail = format!(
                    "merged {} into {}: carried {}{}",
                    saved.display(),
                    self.p.defaults_file.display(),
                    r.carried(),
                    r.backup_file
                        .as_ref()
                        .map(|b| format!("; previous file kept as {}", b.display()))
                        .unwrap_or_default()
                );
                self.mark_done(i)?;
            }
            Action::Start => {
                if current_status(self.ctx, &lkroot)?.is_some() {
                    self.plan.steps[i].detail = "LifeKeeper is already running".into();
                    self.mark_done(i)?;
                    return Ok(StepStatus::Skipped);
                }
                self.ctx.runner.run_ok(
                    &Cmd::lk(&lkroot, "lkstart").timeout(t).outlives_caller(),
                    "starting LifeKeeper (lkstart)",
                )?;
                self.wait_started()?;
                self.mark_done(i)?;
            }
            Action::Verify => self.verify(i)?,
        }
        Ok(StepStatus::Done)
    }

    /// Before rmlk (which deletes all of lkroot): save every file under lkroot that no installed
    /// package owns (kits shipped apart, site scripts) beside the verified backup, as its own
    /// archive listed in SHA256SUMS; the result lists them as to_reinstall.
    fn save_site_files(&mut self) -> Result<(), Failure> {
        if self.plan.journal.site_files_archive.is_some() {
            return Ok(());
        }
        let dir = self.p.backup_dir.clone().expect("reinstall has backup_dir");
        let lkroot = self.p.lkroot.clone();
        // Relative to lkroot for tar -C; what lkbackup holds (config/, resource configs) is
        // left to the backup itself.
        let files = packages::site_files(&self.ctx.runner, &lkroot).map(|fs| {
            fs.iter()
                .filter_map(|f| f.strip_prefix(&lkroot).ok())
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
        });
        let files = files.map_err(|e| {
            Failure::new(format!(
                "cannot tell which files under {} no package owns (rmlk would delete them): {e}",
                lkroot.display()
            ))
        })?;
        if files.is_empty() {
            return Ok(());
        }
        let name = backup_store::site_files_name(&self.plan.host, crate::runtime::time::now_secs());
        // tar writes by path: into work_dir first (a temp the next run cleans if this one is
        // killed), then copied into backup_dir through its descriptor and recorded.
        let tmp = self.p.work_dir.join(format!(
            ".{name}{}{}",
            backup_store::TMP_MARK,
            std::process::id()
        ));
        let _ = fs::remove_file(&tmp);
        let out = self.ctx.runner.run(
            &Cmd::new("tar")
                .arg("-czf")
                .arg(&tmp)
                .arg("-C")
                .arg(&lkroot)
                .arg("--")
                .args(&files)
                .timeout(self.timeout()),
        )?;
        let store = self.store.as_ref().expect("reinstall has backup_dir");
        let saved = if out.ok() {
            store
                .copy_in(&tmp, &name, 0o600)
                .map_err(|e| e.to_string())
                .and_then(|_| store.record_sum(&name))
        } else {
            Err(out.failure("archiving the files no package owns (tar)").msg)
        };
        let _ = fs::remove_file(&tmp);
        if let Err(e) = saved {
            let _ = store.remove(&name);
            return Err(Failure::new(format!(
                "cannot save the files under {} that no package owns before rmlk: {e}",
                lkroot.display()
            )));
        }
        self.warnings.push(format!(
            "{} file(s) under {} belong to no package (kits shipped apart, site scripts); rmlk deletes them: saved in {} — reinstall them after the upgrade (to_reinstall)",
            files.len(),
            lkroot.display(),
            dir.join(&name).display()
        ));
        self.plan.journal.to_reinstall = files;
        self.plan.journal.site_files_archive = Some(dir.join(&name).display().to_string());
        self.write_journal()
    }

    /// After a start: wait for LK_INITDONE (start_timeout) before reading lcdstatus.
    fn wait_started(&self) -> Result<(), Failure> {
        let progress = |m: &str| self.ctx.progress(m);
        status::wait_initdone(
            &self.p.lkroot,
            Duration::from_secs(self.p.start_timeout as u64),
            &progress,
        )
        .map_err(|e| Failure::new(format!("LifeKeeper did not finish starting: {e}")))
    }

    /// Where the media `m` was opened (its root, holding setup).
    fn media_root(&self, m: usize) -> PathBuf {
        self.open
            .iter()
            .find(|(j, _)| *j == m)
            .map(|(_, o)| o.dir.clone())
            .expect("media opened before setup")
    }

    fn setup(&mut self, i: usize, m: usize) -> Result<(), Failure> {
        if self.p.setup_mode == crate::lifekeeper::setup::Mode::Menu {
            return self.setup_menu(i, m);
        }
        let v = self.plan.media[m].1;
        let dir = self.media_root(m);
        // The generated configuration names the no_log license files: by default a memory file
        // setup inherits (nothing on disk, nothing left by a kill, issue 22 defect 9); else a
        // 0600 file in work_dir, removed right after setup (and by the next run if killed).
        let mut secret = None;
        let mut file = None;
        let conf = match &self.p.setup_config {
            Some(c) => c.clone(),
            None => {
                let text =
                    super::generated_conf(self.p, &self.plan.journal.packages_before).render();
                if self.p.generated_config_fd {
                    let s = rfs::InheritedSecret::new(
                        &self.p.work_dir,
                        &setup::conf_name(),
                        text.as_bytes(),
                    )
                        .map_err(|e| {
                            Failure::new(format!(
                                "cannot create the unlinked setup configuration in {}: {e} (generated_config_fd: false writes a named file in work_dir instead)",
                                self.p.work_dir.display()
                            ))
                        })?;
                    let path = s.path();
                    secret = Some(s);
                    path
                } else {
                    let c = setup::conf_path(&self.p.work_dir);
                    rfs::write_atomic(&c, text.as_bytes(), 0o600)
                        .map_err(|e| Failure::new(format!("cannot write {}: {e}", c.display())))?;
                    let _ = fs::set_permissions(&c, fs::Permissions::from_mode(0o600));
                    file = Some(c.clone());
                    c
                }
            }
        };
        let out = setup::run(
            &self.ctx.runner,
            &dir,
            &self.p.setup_args,
            &conf,
            self.timeout(),
        );
        drop(secret);
        if let Some(f) = file {
            let _ = fs::remove_file(&f);
        }
        let out = out?;
        self.judge_setup(i, v, &out, &out.cmd.join(" "))
    }

    /// After a setup run: its log kept (backup_dir, else work_dir) and recorded, then judged by
    /// its results (the target installed), and a (re)started LifeKeeper waited for.
    fn judge_setup(
        &mut self,
        i: usize,
        v: crate::lifekeeper::version::Version,
        out: &crate::runtime::CmdOutput,
        shown_cmd: &str,
    ) -> Result<(), Failure> {
        let log_name = backup_store::setup_log_name(&self.plan.host, &v.to_string());
        let log = self.log_dir.join(&log_name);
        let text = setup::log_text(out);
        if self.store.is_some() {
            self.store_put(&log_name, text.as_bytes()).map(|_| ())
        } else {
            backup_store::save_file(&log, text.as_bytes()).map_err(|e| {
                Failure::new(format!("cannot write the setup log {}: {e}", log.display()))
            })
        }?;
        let shown = log.display().to_string();
        self.plan.journal.setup_logs.retain(|l| *l != shown);
        self.plan.journal.setup_logs.push(shown.clone());
        self.write_journal()?;
        let re = setup::success_regex(&self.p.setup_success_regex)
            .map_err(|e| Failure::param("setup_success_regex", e))?;
        let installed = packages::installed(&self.ctx.runner).map_err(Failure::new)?;
        match setup::judge(out, installed, v, &re) {
            Ok(None) => {}
            Ok(Some(w)) => self.warnings.push(format!("setup {v}: {w}")),
            Err(why) => {
                return Err(Failure::new(format!("setup {v} failed: {why}"))
                    .with("rc", out.rc)
                    .with("stderr_tail", out.tail()))
            }
        }
        // A setup that (re)started LifeKeeper: wait until its start-up has finished.
        if status::lktest(&self.ctx.runner, &self.p.lkroot) == Some(true) {
            self.wait_started()?;
        }
        self.plan.steps[i].detail = format!("{shown_cmd} (log {shown})");
        Ok(())
    }

    /// Restore the hierarchies and comm paths from the verified archive (`lkbackup -x -f`).
    /// lkbackup also brings back the old release's defaults file: the fresh one is copied to
    /// backup_dir first (recorded in the journal, so a run resumed after a failed restore still
    /// has it) and written back afterwards; the re-apply step carries the site's values into it.
    fn restore(&mut self, i: usize) -> Result<(), Failure> {
        let archive = self.plan.backup_archive.clone().expect("reinstall");
        let lkroot = self.p.lkroot.clone();
        let defaults = self.p.defaults_file.clone();
        let fresh = match &self.plan.journal.fresh_defaults {
            Some(f) => PathBuf::from(f),
            None => {
                let dir = self.p.backup_dir.clone().expect("reinstall");
                let f = backup_store::fresh_defaults_path(
                    &dir,
                    &self.plan.host,
                    &self.plan.target.to_string(),
                );
                self.store_copy(&defaults, &file_name(&f)).map_err(|e| {
                    Failure::new(format!(
                        "cannot keep the new {}: {}",
                        defaults.display(),
                        e.msg
                    ))
                })?;
                self.plan.journal.fresh_defaults = Some(f.display().to_string());
                self.write_journal()?;
                f
            }
        };
        let mode = fs::metadata(&defaults)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        self.lkbackup_extract(&archive)?;
        rfs::copy_atomic(&fresh, &defaults, mode).map_err(|e| {
            Failure::new(format!(
                "the configuration is restored, but writing the new {} back from {} failed: {e}",
                defaults.display(),
                fresh.display()
            ))
        })?;
        self.plan.steps[i].detail = format!(
            "{}/bin/lkbackup -x -f {}: resource hierarchies and comm paths restored; kept the {} {} (the restored old one replaced)",
            lkroot.display(),
            archive.display(),
            self.plan.target,
            defaults.display()
        );
        Ok(())
    }

    fn verify(&mut self, i: usize) -> Result<(), Failure> {
        let inst = packages::installed(&self.ctx.runner).map_err(Failure::new)?;
        let mut problems = vec![];
        if inst != Some(self.plan.target) {
            problems.push(format!(
                "the installed version is {} instead of {}",
                inst.map(|v| v.to_string()).unwrap_or_else(|| "none".into()),
                self.plan.target
            ));
        }
        let st = current_status(self.ctx, &self.p.lkroot)?;
        match self.plan.expect_running {
            Some(true) if st.is_none() => problems.push("LifeKeeper is not running".into()),
            Some(false) if st.is_some() => self.warnings.push(
                "LifeKeeper is running although it was not running before (setup started it)"
                    .into(),
            ),
            _ => {}
        }
        // lk_upgrade never brings a resource into service; LifeKeeper does, when a peer dies and
        // this node is the survivor (molecule node_failure). That is HA working, not a failed
        // upgrade: it is reported, and failing here would stop a rerun on an upgraded node.
        let busy = in_service(st.as_ref());
        if !busy.is_empty() {
            self.warnings.push(format!(
                "resources came into service on this node after the upgrade (LifeKeeper restored them here, e.g. failed over from a peer): {}",
                busy.join(", ")
            ));
        }
        if !problems.is_empty() {
            return Err(Failure::new(format!(
                "verification failed: {}",
                problems.join("; ")
            )));
        }
        let res = st.map(|s| s.resources.len()).unwrap_or(0);
        self.plan.steps[i].detail = format!(
            "{} installed; LifeKeeper {}; {res} resource(s) on {}, {}",
            self.plan.target,
            if self.plan.expect_running == Some(true) || self.plan.running_now {
                "running"
            } else {
                "as expected"
            },
            self.plan.host,
            if busy.is_empty() {
                "none in service".to_string()
            } else {
                format!("{} in service", busy.len())
            }
        );
        Ok(())
    }

    /// What state the node is in after step `i` failed, and what to do next.
    fn failure(&mut self, i: usize, e: Failure) -> Failure {
        let step = self.plan.steps[i].clone();
        let j = &self.plan.journal;
        let uninstalled = j.is_done("uninstall LifeKeeper");
        let saved = self
            .plan
            .saved_defaults
            .as_ref()
            .map(|s| s.display().to_string());
        let backup = self
            .plan
            .backup_archive
            .as_ref()
            .map(|b| b.display().to_string());
        let installed = packages::installed(&self.ctx.runner).ok().flatten();
        let mut state = match installed {
            Some(v) => format!("LifeKeeper {v} is installed"),
            None => "LifeKeeper is not installed".into(),
        };
        if uninstalled || step.action == Action::Uninstall {
            state = format!(
                "{} failed {} uninstall; {state}",
                step.name,
                if uninstalled { "after" } else { "during" }
            );
        } else {
            state = format!("{} failed; {state}", step.name);
        }
        let mut parts = vec![format!("{}: {}", state, e.msg)];
        if let Some(s) = &saved {
            if j.is_done("save defaults") {
                parts.push(format!("the saved defaults are at {s}"));
            }
        }
        if let Some(b) = &backup {
            parts.push(format!("the backup at {b} is verified"));
        }
        if let Some(l) = j.setup_logs.last() {
            if matches!(step.action, Action::Setup(_)) {
                parts.push(format!("the setup output is in {l}"));
            }
        }
        parts.push("rerun with the same arguments to resume".into());
        let mut f = Failure::new(parts.join("; ")).changed(self.changed_now);
        for (k, v) in e.data {
            f = f.with(&k, v);
        }
        let pkgs = packages::packages(&self.ctx.runner).unwrap_or_default();
        let mut f = f
            .with("failed_step", step.name)
            .with("path", self.plan.path.name())
            .with(
                "previous_version",
                self.plan.previous.map(|v| v.to_string()),
            )
            .with("version", installed.map(|v| v.to_string()))
            .with("steps", steps_json(&self.plan.steps))
            .with("setup_log", j.setup_logs.last().cloned())
            .with("setup_logs", j.setup_logs.clone())
            .with("packages", pkgs)
            .with("journal", self.journal_path.display().to_string());
        if let Some(s) = saved {
            f = f.with("saved_defaults", s);
        }
        if let Some(t) = &self.setup_transcript {
            f = f.with("setup_transcript", t.clone());
        }
        if let Some(t) = &self.setup_screen {
            f = f.with("setup_screen", t.clone());
        }
        if let Some(b) = backup {
            f = f.with("backup", b);
        }
        if !self.warnings.is_empty() {
            f = f.with("warnings", self.warnings.clone());
        }
        f
    }

    fn finish(mut self) -> Result<Outcome, Failure> {
        for (_, mut m) in std::mem::take(&mut self.open) {
            if let Err(w) = m.cleanup() {
                self.warnings.push(w);
            }
        }
        self.plan.journal.finished = true;
        self.write_journal()?;
        if let Some(f) = &self.plan.journal.fresh_defaults {
            // Only needed while the restore could be resumed.
            match &self.store {
                Some(d) => {
                    let _ = d.remove(&file_name(Path::new(f)));
                }
                None => {
                    let _ = fs::remove_file(f);
                }
            }
        }
        let after = packages::packages(&self.ctx.runner).map_err(Failure::new)?;
        let running = current_status(self.ctx, &self.p.lkroot)?.is_some();
        let plan = &self.plan;
        let headline = if plan.path == UpPath::Rollback {
            plan.headline("finished rolling back", "rolled back")
        } else {
            plan.headline("finished upgrading", "upgraded")
        };
        let mut o = plan.outcome(headline, running, &after, self.journal_path);
        if let Some(t) = self.setup_transcript {
            o.set("setup_transcript", t);
        }
        if let Some(t) = self.setup_screen {
            o.set("setup_screen", t);
        }
        for w in self.warnings {
            o.warn(w);
        }
        Ok(o)
    }
}

// ---- the rollback path's own steps (see rollback.rs) ----------------------------------------------

impl Run<'_> {
    /// `lkbackup -x -f ARCHIVE`, LifeKeeper stopped first: lkbackup -x refuses while LifeKeeper
    /// runs (a given setup_config may have started it). Shared by the reinstall and the rollback.
    fn lkbackup_extract(&mut self, archive: &Path) -> Result<(), Failure> {
        let lkroot = self.p.lkroot.clone();
        if current_status(self.ctx, &lkroot)?.is_some() {
            self.ctx.runner.run_ok(
                &Cmd::lk(&lkroot, "lkstop")
                    .timeout(self.timeout())
                    .outlives_caller(),
                "stopping LifeKeeper before the restore (lkstop)",
            )?;
            self.warnings.push(
                "LifeKeeper was running after setup; stopped it to restore the configuration"
                    .into(),
            );
        }
        self.ctx
            .runner
            .run_ok(
                &Cmd::lk(&lkroot, "lkbackup")
                    .args(["-x", "-f"])
                    .arg(archive)
                    .timeout(self.timeout()),
                "restoring the configuration (lkbackup -x)",
            )
            .map(|_| ())
    }

    /// Rollback: restore the backup taken at this (older) release before the upgrade. Its
    /// defaults file is the older release's own, so nothing of the newer one is kept; the next
    /// step writes lk_backup's copy back byte for byte.
    fn restore_rollback(&mut self, i: usize) -> Result<(), Failure> {
        let b = self.plan.rollback.clone().expect("rollback backup");
        self.lkbackup_extract(&b.archive)?;
        self.plan.steps[i].detail = format!(
            "{}/bin/lkbackup -x -f {}: the {} resource hierarchies and comm paths restored",
            self.p.lkroot.display(),
            b.archive.display(),
            self.plan.target
        );
        Ok(())
    }

    /// Rollback: write back the defaults file lk_backup saved with the backup (its sha256
    /// checked again), keeping the file's mode; then compare the node's configuration with the
    /// fingerprint lk_backup recorded (a difference is reported, not fatal: the fresh install
    /// may hold files the old one did not).
    fn put_back_defaults(&mut self, i: usize) -> Result<(), Failure> {
        let b = self.plan.rollback.clone().expect("rollback backup");
        let defaults = self.p.defaults_file.clone();
        if let Some((copy, sha)) = &b.defaults_copy {
            // Through the backup_dir descriptor opened at the start (issue 22 defect 17).
            let store = self.store.as_ref().expect("rollback has backup_dir");
            let data = store
                .read(&file_name(copy))
                .map_err(|e| e.to_string())
                .and_then(|d| d.ok_or_else(|| "it is gone".to_string()))
                .map_err(|e| Failure::new(format!("cannot read {}: {e}", copy.display())))?;
            let got = rfs::sha256_bytes(&data);
            if got != *sha {
                return Err(Failure::new(format!(
                    "{} has sha256 {got}, but lk_backup recorded {sha}: not written to {}; put back the good copy, then rerun",
                    copy.display(),
                    defaults.display()
                )));
            }
            rfs::write_atomic(&defaults, &data, 0o644)
                .map_err(|e| Failure::new(format!("cannot write {}: {e}", defaults.display())))?;
            self.plan.steps[i].detail = format!(
                "wrote {} (sha256 {sha}) to {}",
                copy.display(),
                defaults.display()
            );
        } else {
            self.plan.steps[i].detail = format!(
                "the backup holds no separate copy of {}: the one lkbackup -x restored stands",
                defaults.display()
            );
        }
        match backup_store::fingerprint(&self.p.lkroot, &defaults) {
            Ok(f) if f == b.fingerprint => {}
            Ok(f) => self.warnings.push(format!(
                "after the rollback the configuration fingerprint is {f}, not the {} lk_backup recorded with {} (files under {}/config differ from the backup's)",
                b.fingerprint,
                b.archive.display(),
                self.p.lkroot.display()
            )),
            Err(e) => self.warnings.push(format!(
                "cannot compare the configuration with the backup's fingerprint: {e}"
            )),
        }
        Ok(())
    }
}

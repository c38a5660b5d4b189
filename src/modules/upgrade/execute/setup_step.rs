//! setup_mode menu, the vendor's documented way: the probe before anything is changed and the
//! real run, both through the menu driver (`lifekeeper::setup::menu`) from the opened media's
//! root. Every session's transcript and last screen are kept in the journal's directory and named
//! in the result (`setup_transcript`, `setup_screen`), so the first real run gives us the real
//! menu as it was drawn.

use super::Run;
use crate::lifekeeper::backup_store;
use crate::lifekeeper::setup::{self, menu};
use crate::lifekeeper::version::Version;
use crate::runtime::{fs as rfs, CmdOutput, Failure};
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

impl Run<'_> {
    fn menu_settings(&self, v: Version) -> menu::Settings {
        menu::Settings {
            target: v,
            step_timeout: Duration::from_secs(self.p.setup_menu_timeout.max(1) as u64),
            total: self.timeout(),
            dialect: menu::Dialect::sios(),
        }
    }

    /// The session's transcript and last screen, written beside the journal (backup_dir through
    /// its descriptor, else state_dir); their paths become the result's setup_transcript and
    /// setup_screen.
    fn keep_session(&mut self, v: Version, kind: &str, ran: &menu::Ran) -> Result<(), Failure> {
        let dir = self
            .journal_path
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| self.p.state_dir.clone());
        let mut paths = vec![];
        for (what, text) in [("transcript", &ran.transcript), ("screen", &ran.screen)] {
            let name = format!("{}.setup-{v}.{kind}.{what}.txt", self.plan.host);
            let path = dir.join(&name);
            if self.journal_in_store {
                self.store_put(&name, text.as_bytes())?;
            } else {
                backup_store::save_file(&path, text.as_bytes())
                    .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
            }
            paths.push(path.display().to_string());
        }
        self.setup_screen = paths.pop();
        self.setup_transcript = paths.pop();
        Ok(())
    }

    /// Start setup from the media, read the title and the main menu, leave through `< Done >`,
    /// `< No >`: a media whose setup shows no menu, or another release, stops the run here,
    /// before lkstop, rmlk or any setup's `< Yes >`.
    pub(super) fn probe_menu(&mut self, i: usize, m: usize) -> Result<(), Failure> {
        let v = self.plan.media[m].1;
        let root = self.media_root(m);
        let ran = menu::drive(
            &root.join("setup"),
            &[],
            &root,
            &menu::Goal::Probe,
            &self.menu_settings(v),
        );
        self.keep_session(v, "probe", &ran)?;
        let shown = self.setup_transcript.clone().unwrap_or_default();
        match ran.result {
            Ok(f) => {
                self.plan.steps[i].detail = format!(
                    "{}/setup shows the main menu of {} in its title bar; left through < Done >, < No > (setup exited rc={}; transcript {shown})",
                    root.display(),
                    f.release,
                    f.rc
                );
                Ok(())
            }
            Err(e) => Err(Failure::new(format!(
                "the {v} media's setup was refused before anything was changed: {} (transcript {shown})",
                e.msg
            ))),
        }
    }

    /// The real run: on the reinstall path Load the admin's (or the generated) configuration,
    /// `< Done >`, `< Yes >`, the console to its end; judged by its results like any setup.
    pub(super) fn setup_menu(&mut self, i: usize, m: usize) -> Result<(), Failure> {
        let v = self.plan.media[m].1;
        let root = self.media_root(m);
        // The generated configuration in the menu's saved-file format: a 0600 file in work_dir
        // for the Load box to read, removed right after (and by the next run if this one is
        // killed: `media::clean_stale` knows the name).
        // Only a fresh install loads a configuration; an upgrade in place goes to Done straight
        // away, the menu pre-filled with what is installed (vendor guide §4).
        let mut generated = None;
        // A rollback installs the older release fresh too, after rmlk.
        let fresh = matches!(
            self.plan.path,
            crate::lifekeeper::version::Path::Reinstall
                | crate::lifekeeper::version::Path::Rollback
        );
        let load = match (&self.p.setup_config, self.p.generate_setup_config) {
            _ if !fresh => None,
            (Some(c), _) => Some(c.clone()),
            (None, true) => {
                let c = setup::conf_path(&self.p.work_dir);
                let text = super::super::generated_conf(self.p, &self.plan.journal.packages_before)
                    .render_menu();
                rfs::write_atomic(&c, text.as_bytes(), 0o600)
                    .map_err(|e| Failure::new(format!("cannot write {}: {e}", c.display())))?;
                generated = Some(c.clone());
                Some(c)
            }
            (None, false) => None,
        };
        let ran = menu::drive(
            &root.join("setup"),
            &[],
            &root,
            &menu::Goal::Install { load: load.clone() },
            &self.menu_settings(v),
        );
        if let Some(g) = generated {
            let _ = fs::remove_file(g);
        }
        self.keep_session(v, "run", &ran)?;
        let shown = self.setup_transcript.clone().unwrap_or_default();
        match ran.result {
            Ok(f) => {
                let out = CmdOutput {
                    cmd: vec![root.join("setup").display().to_string()],
                    rc: f.rc,
                    stdout: f.output,
                    stderr: String::new(),
                    timed_out: false,
                    truncated: false,
                };
                let how = format!(
                    "./setup in {} on a terminal: title {}{}, < Done >, < Yes >; transcript {shown}",
                    root.display(),
                    f.release,
                    load.map(|l| format!(", < Load > {}", l.display()))
                        .unwrap_or_default()
                );
                self.judge_setup(i, v, &out, &how)
            }
            Err(e) if e.before_yes => Err(Failure::new(format!(
                "setup {v} was stopped before < Yes >, so it installed nothing: {} (transcript {shown})",
                e.msg
            ))),
            Err(e) => Err(Failure::new(format!(
                "setup {v} failed after < Yes >: {} (transcript {shown})",
                e.msg
            ))
            .with("timed_out", e.timed_out)),
        }
    }
}

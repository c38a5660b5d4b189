//! The facts lk_preflight gathers: the validated parameters and every probe of the host (each run
//! at most once, and only when a check that needs it runs), as plain data for the checks.

use super::{PackageManager, Params};
use crate::lifekeeper::mirrors::{self, MirrorStatus};
use crate::lifekeeper::ports::{datakeeper_ports, listening_ports, services_ports};
use crate::lifekeeper::status as lcd;
use crate::lifekeeper::version::Version;
use crate::lifekeeper::{node, packages};
use crate::runtime::{Cmd, Ctx, Failure};
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// What `lcdstatus -e` told us (the shared node probe).
pub(super) use lcd::Probe as Lcd;

/// The validated parameters plus lazily run probes (a skipped check runs none of its probes).
pub(super) struct Env<'a> {
    pub(super) p: &'a Params,
    pub(super) ctx: &'a Ctx,
    pub(super) target: Version,
    pub(super) stepping: Vec<Version>,
    pub(super) nodes: Option<Vec<String>>,
    pub(super) packages: Vec<String>,
    pub(super) mirrors: Vec<u16>,
    pub(super) license_files: Vec<PathBuf>,
    pub(super) installed: OnceCell<Result<Option<Version>, String>>,
    pub(super) lk_packages: OnceCell<Result<Vec<String>, String>>,
    pub(super) lcd: OnceCell<Lcd>,
    pub(super) lktest: OnceCell<Option<bool>>,
    pub(super) dk_ports: OnceCell<BTreeMap<u16, u16>>,
    pub(super) site_files: OnceCell<Result<Vec<PathBuf>, String>>,
    pub(super) local_name: OnceCell<Option<String>>,
}

impl Env<'_> {
    /// The installed LifeKeeper version (shared rule: `rpm -q steeleye-lk`).
    pub(super) fn installed(&self) -> &Result<Option<Version>, String> {
        self.installed
            .get_or_init(|| packages::installed(&self.ctx.runner))
    }
    /// Names (without version) of the installed LifeKeeper packages.
    pub(super) fn lk_packages(&self) -> &Result<Vec<String>, String> {
        self.lk_packages.get_or_init(|| {
            packages::packages(&self.ctx.runner)
                .map(|v| v.iter().map(|n| packages::name(n).to_string()).collect())
        })
    }
    /// The lcdstatus probe. Where `lktest` says LifeKeeper runs but lcdstatus prints the stopped
    /// sentence, the status is unreadable, not "stopped": a LifeKeeper still starting or stuck
    /// must not pass the checks that need its status (issue 28 W1), nor count as holding no
    /// resource.
    pub(super) fn lcd(&self) -> &Lcd {
        self.lcd.get_or_init(|| match lcd::probe(&self.ctx.runner, &self.p.lkroot) {
            Lcd::Stopped if self.lktest() == Some(true) => Lcd::Failed(crate::runtime::Failure::new(
                "lktest says LifeKeeper is running, but lcdstatus says it does not appear to be running",
            )),
            other => other,
        })
    }
    /// `lktest` (the vendor's running probe); `None` when it is missing.
    pub(super) fn lktest(&self) -> Option<bool> {
        *self
            .lktest
            .get_or_init(|| lcd::lktest(&self.ctx.runner, &self.p.lkroot))
    }
    /// The files under lkroot that no package owns and no lkbackup holds (the shared
    /// `packages::site_files`, as lk_upgrade saves them before a reinstall).
    pub(super) fn site_files(&self) -> &Result<Vec<PathBuf>, String> {
        self.site_files
            .get_or_init(|| packages::site_files(&self.ctx.runner, &self.p.lkroot))
    }
    /// This node's name as LifeKeeper shows it (`node::in_status`: the LOCAL column of
    /// `lcdstatus -q`); `None` when it cannot be read or no resource shows it.
    pub(super) fn local_name(&self) -> Option<&str> {
        self.local_name
            .get_or_init(|| {
                node::in_status(&self.ctx.runner, &self.p.lkroot)
                    .ok()
                    .flatten()
            })
            .as_deref()
    }
    /// The DataKeeper mirrors among the resources of the node probe's status (netraid in the
    /// detailed `lcdstatus`, `mirrors::detect`), each with its `mirror_status` (run as
    /// mirror_status_cmd, default `<lkroot>/bin/mirror_status`); a status that cannot be read is
    /// an unreadable (unknown) one.
    pub(super) fn mirror_statuses(&self, st: &lcd::Status) -> Result<Vec<MirrorStatus>, Failure> {
        let known: Vec<&str> = st.resources.iter().map(|r| r.tag.as_str()).collect();
        let tags = mirrors::detect(&self.ctx.runner, &self.p.lkroot, &known)?;
        let cmd = self
            .p
            .mirror_status_cmd
            .clone()
            .unwrap_or_else(|| self.p.lkroot.join("bin").join("mirror_status"));
        Ok(tags
            .iter()
            .map(|t| {
                mirrors::read_status(&self.ctx.runner, &cmd, t)
                    .unwrap_or_else(|f| MirrorStatus::unreadable(t, f.msg))
            })
            .collect())
    }
    /// Run a probe; `Err(Some(note))` when the program is missing (→ skip), `Err(None)` never.
    pub(super) fn probe(&self, cmd: Cmd) -> Probe {
        match self.ctx.runner.run(&cmd) {
            Ok(out) => Probe::Ran(out),
            Err(e) if e.not_found => Probe::Missing(format!("{} not found on PATH", e.cmd[0])),
            Err(e) => Probe::Missing(e.msg),
        }
    }
}

pub(super) enum Probe {
    Ran(crate::runtime::CmdOutput),
    Missing(String),
}

pub(super) fn lcd_why(l: &Lcd) -> String {
    match l {
        Lcd::NotInstalled(m) => format!("lcdstatus: {m}"),
        Lcd::Stopped => "LifeKeeper is not running".into(),
        Lcd::Failed(e) => e.msg.clone(),
        Lcd::Up(_) => "LifeKeeper is running".into(),
    }
}

impl Env<'_> {
    /// The DataKeeper ports and the notes on how they were chosen.
    pub(super) fn dk_ports(&self, notes: &mut Vec<String>) -> &BTreeMap<u16, u16> {
        if self.dk_ports.get().is_none() {
            let mut taken = BTreeSet::new();
            if !self.mirrors.is_empty() {
                match std::fs::read_to_string(&self.p.services_file) {
                    Ok(t) => taken.extend(services_ports(&t)),
                    Err(e) => {
                        notes.push(format!("{} not read ({e})", self.p.services_file.display()))
                    }
                }
                match self.probe(Cmd::new("ss").arg("-ltn")) {
                    Probe::Ran(o) if o.ok() => taken.extend(listening_ports(&o.stdout)),
                    Probe::Ran(o) => notes.push(format!(
                        "`ss -ltn` failed, listening ports not checked: {}",
                        o.tail()
                    )),
                    Probe::Missing(m) => notes.push(format!("{m}; listening ports not checked")),
                }
            }
            let _ = self.dk_ports.set(datakeeper_ports(&self.mirrors, &taken));
        }
        self.dk_ports.get().expect("set above")
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum PkgMgr {
    Rpm,
    Dpkg,
}

impl Env<'_> {
    pub(super) fn pkg_mgr(&self) -> Result<PkgMgr, String> {
        match self.p.package_manager {
            PackageManager::Rpm => Ok(PkgMgr::Rpm),
            PackageManager::Dpkg => Ok(PkgMgr::Dpkg),
            PackageManager::Auto => {
                if let Probe::Ran(_) = self.probe(Cmd::new("rpm").arg("--version")) {
                    return Ok(PkgMgr::Rpm);
                }
                match self.probe(Cmd::new("dpkg-query").arg("--version")) {
                    Probe::Ran(_) => Ok(PkgMgr::Dpkg),
                    Probe::Missing(_) => Err("neither rpm nor dpkg-query is on PATH".into()),
                }
            }
        }
    }
    /// Is `pkg` installed? `Err` when the tool is missing.
    pub(super) fn pkg_installed(&self, mgr: PkgMgr, pkg: &str) -> Result<bool, String> {
        let cmd = match mgr {
            PkgMgr::Rpm => Cmd::new("rpm").args(["-q", pkg]),
            PkgMgr::Dpkg => Cmd::new("dpkg-query").args(["-W", "-f=${Status}", pkg]),
        };
        match self.probe(cmd) {
            Probe::Missing(m) => Err(m),
            Probe::Ran(o) => {
                Ok(o.ok() && (mgr == PkgMgr::Rpm || o.stdout.contains("install ok installed")))
            }
        }
    }
}

/// Is LifeKeeper running: `lktest` where it exists (the vendor's probe), else the lcdstatus
/// probe's reading of its error text (a fallback; LK-SERVICE warns when it is used).
pub(super) fn running(env: &Env) -> Option<bool> {
    if let Some(r) = env.lktest() {
        return Some(r);
    }
    match env.lcd.get()? {
        Lcd::Up(_) => Some(true),
        Lcd::Stopped => Some(false),
        _ => None,
    }
}

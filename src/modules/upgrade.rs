//! lk_upgrade: upgrade LifeKeeper on this node to a target release — in place (direct), through
//! an intermediate 9.4.x release (stepwise), or by uninstalling and installing fresh (reinstall).
//!
//! The run is a list of steps decided up front (the plan, which check mode prints in full). Steps
//! that change the node are recorded in a small journal as they finish, so a rerun with the same
//! arguments resumes at the first step not done: a half-finished upgrade never needs hand repair.
//!
//! Media versions are read without side effects (`bsdtar -xOf IMG sps.version`, then the ISO
//! volume id via `xorriso -indev IMG -pvd_info`, then the file name such as `sps_943.img`), so
//! check mode can choose the path without mounting or extracting anything.

use crate::lifekeeper::status::{self, Status};
use crate::lifekeeper::version::{self, Path as UpPath, Version};
use crate::modules::{backup, defaults_merge};
use crate::runtime::{
    diff, fs as rfs, time, Cmd, Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret,
    Runner, Support, LKROOT,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PARAMS: &[Param] = &[
    Param::new("version", Kind::Str, "The target LifeKeeper version, e.g. C(9.6.1).").required(),
    Param::new(
        "media",
        Kind::Path,
        "Absolute path of the target release's ISO image (e.g. C(/srv/sps_961.img)). Mutually exclusive with media_dir.",
    ),
    Param::new(
        "media_dir",
        Kind::Path,
        "Absolute path of the target release's media, already mounted or extracted (holds C(setup)). Not cleaned up.",
    ),
    Param::new(
        "media_mode",
        Kind::Str,
        "How to open an ISO image: C(mount) loop-mounts it read-only; C(extract) copies it out with xorriso (or bsdtar); C(auto) mounts and, where mounting is not permitted (an unprivileged container), extracts. Whatever was mounted or extracted is removed on success and on failure.",
    )
    .choices(&["auto", "mount", "extract"])
    .default("\"auto\""),
    Param::new(
        "stepping_media",
        Kind::List,
        "Absolute paths of intermediate release media (ISO images or media directories, e.g. a 9.4.x image). Their versions are read from the media. Makes the stepwise path possible for installs too old to upgrade directly.",
    ),
    Param::new(
        "setup_config",
        Kind::Path,
        "A saved setup configuration for the non-interactive setup (C(setup -f FILE -q y)). Without it one is generated from recovery_kits, license_files, install_jre and quorum.",
    ),
    Param::new("recovery_kits", Kind::List, "Recovery kits to install (e.g. C(lkIP)), for the generated setup configuration. Installed kits are upgraded anyway."),
    Param::new(
        "license_files",
        Kind::List,
        "Absolute paths of license files to install, for the generated setup configuration.",
    )
    .no_log(),
    Param::new("install_jre", Kind::Bool, "Install the bundled JRE (generated configuration; default true)."),
    Param::new("quorum", Kind::Bool, "Install the quorum/witness kit (generated configuration; default false)."),
    Param::new(
        "start_after",
        Kind::Str,
        "C(auto): start LifeKeeper at the end if it was running before the upgrade; C(always); C(never) (the module does not start it; note that setup itself restarts a LifeKeeper that was running when setup began).",
    )
    .choices(&["auto", "always", "never"])
    .default("\"auto\""),
    Param::new(
        "allow_reinstall",
        Kind::Bool,
        "Allow the reinstall path (uninstall, install fresh, restore the configuration from the lk_backup archive, re-apply saved parameters). rmlk removes the resource hierarchies and comm paths with LifeKeeper, so it runs only when asked for.",
    )
    .default("false"),
    Param::new(
        "restore_config",
        Kind::Bool,
        "On the reinstall path, restore the node's configuration (resource hierarchies, comm paths) from the verified lk_backup archive after the fresh setup and before LifeKeeper starts, as the vendor does (C(lkbackup -x -f ARCHIVE)). The new release's /etc/default/LifeKeeper is kept and the saved site parameters are re-applied to it. With false the hierarchies must be recreated by hand.",
    )
    .default("true"),
    Param::new(
        "backup_dir",
        Kind::Path,
        "lk_backup's directory. Required for the reinstall path, which refuses before touching anything unless it holds a backup of this node that verifies. The saved defaults file, the setup log and the journal go there too.",
    ),
    Param::new(
        "defaults_base",
        Kind::Path,
        "The old release's pristine /etc/default/LifeKeeper. With it, re-applying the saved parameters after a reinstall is a three-way merge (only keys the site changed are carried).",
    ),
    Param::new(
        "require_standby",
        Kind::Bool,
        "Refuse while any resource is in service (ISP/ISU) on this node; rolling upgrades move them away first.",
    )
    .default("true"),
    Param::new("timeout", Kind::Int, "Seconds allowed for each external step (setup, rmlk, lkstop, mount, extraction).").default("1800").range(1, 86400),
    Param::new(
        "work_dir",
        Kind::Path,
        "Where media are mounted or extracted (in a per-run subdirectory that is removed afterwards), the generated setup configuration is written (mode 0600, removed afterwards), and the setup log is kept when there is no backup_dir.",
    )
    .default("\"/var/tmp/lkops-upgrade\""),
    Param::new(
        "state_dir",
        Kind::Path,
        "Where the journal is kept when there is no backup_dir.",
    )
    .default("\"/var/lib/lkops\""),
    Param::new("defaults_file", Kind::Path, "LifeKeeper's defaults file.").default("\"/etc/default/LifeKeeper\""),
    LKROOT,
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_upgrade",
    short: "Upgrade LifeKeeper on this node: direct, stepwise or reinstall, resumable",
    description: &[
        "Upgrades LifeKeeper for Linux on this node to I(version), choosing the path by the same rules as lk_preflight's LK-VERSION-PATH check: C(direct) (setup from the target media upgrades in place), C(stepwise) (setup from a 9.4.x stepping media first, then the target; resource hierarchies kept) or C(reinstall) (verify the lk_backup archive, save /etc/default/LifeKeeper, lkstop, rmlk, rpm -e of steeleye*/HADR* packages when older than 7.5, install fresh, restore the hierarchies and comm paths with C(lkbackup -x -f ARCHIVE) (restore_config), re-apply the saved parameters).",
        "setup always runs non-interactively (C(setup -f CONF -q y)); its output is kept in a log file and must end with C(Setup Complete.).",
        "Steps that change the node are recorded in a journal (C(upgrade-journal.<node>.json) in backup_dir, else state_dir). A failed step stops the run with a message saying what state the node is in; rerunning with the same arguments resumes from the first step not done.",
        "At the end it verifies that the target version is installed, that LifeKeeper runs when expected, and that no resource is in service on this node. It never brings resources into service.",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Returns the whole plan (steps with status planned, or done for steps a journal records) and the predicted package diff. Media versions and package lists are read from the images read-only; nothing is mounted, extracted or written. On the reinstall path with no verified backup in backup_dir yet (in a check-mode play lk_backup writes nothing), the plan is returned with its first step, verify backup, saying so and a warning: the real run refuses before touching anything unless the backup exists.",
    ),
    diff_mode: (
        Support::Full,
        "The installed LifeKeeper packages before and after, one per line.",
    ),
    notes: &[
        "Installed version == version means nothing to do: changed is false and no media is touched.",
        "The journal records the path chosen at the first run; a rerun with a different version is refused while an upgrade is unfinished.",
        "The media version is read from the media's C(sps.version) marker, else the ISO volume id, else a file name such as C(sps_961.img) or C(sps_9.6.1.img). The target media must match version.",
        "The generated setup configuration sets LKCONF_START_LIFEKEEPER=n: LifeKeeper is started by the module's own start step, after the configuration is restored and the saved parameters are re-applied.",
        "C(lkbackup -x) also restores the old release's /etc/default/LifeKeeper; the restore step keeps the fresh release's file (a copy in backup_dir, C(<node>.LifeKeeper.defaults.<version>.fresh), written back atomically after the restore, so a resumed run still has it) and the re-apply step then carries the site's values into it.",
        "The archive a reinstall relies on is recorded in the journal at the first run; a resumed run restores that one (it must still verify), not a newer backup taken of the half-reinstalled node.",
        "The core package set used to predict the package diff in check mode (steeleye-lk, steeleye-lkGUI, steeleye-lkDR) is UNCONFIRMED against real media.",
    ],
    examples: r#"
- name: Upgrade a standby node to 9.6.1 from the ISO image
  lk_upgrade:
    version: 9.6.1
    media: /srv/media/sps_961.img

- name: Upgrade a 9.3 node through 9.4.3, keeping the hierarchies
  lk_upgrade:
    version: 9.6.1
    media: /srv/media/sps_961.img
    stepping_media: [/srv/media/sps_943.img]

- name: Reinstall an old node (hierarchies restored from the lk_backup; parameters re-applied)
  lk_upgrade:
    version: 9.6.1
    media: /srv/media/sps_961.img
    allow_reinstall: true
    backup_dir: /var/backups/lifekeeper
    recovery_kits: [lkIP, lkPGSQL]
    license_files: [/root/licenses/node-a.lic]
"#,
    returns: &[
        Ret::new("path", "str", "always", "none, direct, stepwise or reinstall.").sample("\"direct\""),
        Ret::new("previous_version", "str", "always", "The version installed before the upgrade (from the journal when resuming).").sample("\"9.4.0\""),
        Ret::new("version", "str", "always", "The version installed now (check mode: the target).").sample("\"9.6.1\""),
        Ret::new(
            "steps",
            "list",
            "always",
            "The plan: {name, status, detail}; status is planned (check mode), done, skipped or failed.",
        )
        .sample(r#"[{"name": "mount media 9.6.1", "status": "done", "detail": "..."}, {"name": "setup 9.6.1", "status": "done", "detail": "..."}]"#),
        Ret::new("setup_log", "str", "when setup ran", "The file holding the last setup run's output."),
        Ret::new("setup_logs", "list", "always", "Every setup log of this upgrade, in order."),
        Ret::new("lifekeeper_running", "bool", "always", "Whether LifeKeeper runs at the end (check mode: now)."),
        Ret::new("packages", "list", "always", "Installed LifeKeeper packages at the end (check mode: predicted)."),
        Ret::new("journal", "str", "always", "The journal file (check mode: where it would be)."),
        Ret::new("saved_defaults", "str", "reinstall path", "The copy of the old defaults file in backup_dir."),
        Ret::new("backup", "str", "reinstall path", "The verified lk_backup archive this upgrade relies on."),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub version: String,
    pub media: Option<PathBuf>,
    pub media_dir: Option<PathBuf>,
    pub media_mode: String,
    #[serde(default)]
    pub stepping_media: Vec<PathBuf>,
    pub setup_config: Option<PathBuf>,
    #[serde(default)]
    pub recovery_kits: Vec<String>,
    #[serde(default)]
    pub license_files: Vec<PathBuf>,
    pub install_jre: Option<bool>,
    pub quorum: Option<bool>,
    pub start_after: String,
    pub allow_reinstall: bool,
    pub restore_config: bool,
    pub backup_dir: Option<PathBuf>,
    pub defaults_base: Option<PathBuf>,
    pub require_standby: bool,
    pub timeout: i64,
    pub work_dir: PathBuf,
    pub state_dir: PathBuf,
    pub defaults_file: PathBuf,
    pub lkroot: PathBuf,
}

pub struct Upgrade;

impl Module for Upgrade {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        let target = validate(&p)?;
        let host = backup::node_name(&ctx.runner).map_err(Failure::new)?;
        check_host(&host)?;
        let journal_path = p
            .backup_dir
            .as_deref()
            .unwrap_or(&p.state_dir)
            .join(format!("upgrade-journal.{host}.json"));
        let journal = read_journal(&journal_path)?;
        let installed = version::installed(&ctx.runner).map_err(Failure::new)?;
        let pending = journal.filter(|j| !j.finished);
        if let Some(j) = &pending {
            if j.target != target.to_string() {
                return Err(Failure::param(
                    "version",
                    format!(
                        "an unfinished upgrade of {host} to {} is recorded in {}; rerun with version {} to finish it, or remove the journal if the node was repaired by hand",
                        j.target,
                        journal_path.display(),
                        j.target
                    ),
                ));
            }
        }
        // A finished upgrade is recognised first, before any media is looked at.
        if installed == Some(target) && pending.is_none() {
            return Ok(nothing_to_do(&p, ctx, &host, target, &journal_path));
        }
        let plan = make_plan(&p, ctx, &host, installed, target, pending.as_ref())?;
        if ctx.check_mode {
            return Ok(predicted(&p, ctx, &plan, &journal_path));
        }
        execute(&p, ctx, plan, &journal_path)
    }
}

// ---- parameters ----------------------------------------------------------------------------------

fn literal(name: &str, p: &Path) -> Result<(), Failure> {
    let s = p.to_string_lossy();
    if s.contains(['\n', '\r', '\0']) {
        return Err(Failure::param(
            name,
            format!("{name} must not contain a line break or NUL"),
        ));
    }
    // Absolute paths can never be read as an option by mount, xorriso or setup.
    if !p.is_absolute() {
        return Err(Failure::param(
            name,
            format!("{name} must be an absolute path, got {s}"),
        ));
    }
    Ok(())
}

fn validate(p: &Params) -> Result<Version, Failure> {
    let target = Version::parse(&p.version)
        .map_err(|e| Failure::param("version", format!("version: {e}")))?;
    if p.media.is_some() && p.media_dir.is_some() {
        return Err(Failure::param(
            "media",
            "media and media_dir are mutually exclusive",
        ));
    }
    for (name, v) in [
        ("media", &p.media),
        ("media_dir", &p.media_dir),
        ("setup_config", &p.setup_config),
        ("backup_dir", &p.backup_dir),
        ("defaults_base", &p.defaults_base),
    ] {
        if let Some(v) = v {
            literal(name, v)?;
        }
    }
    for (name, v) in [
        ("work_dir", &p.work_dir),
        ("state_dir", &p.state_dir),
        ("defaults_file", &p.defaults_file),
        ("lkroot", &p.lkroot),
    ] {
        literal(name, v)?;
    }
    for m in &p.stepping_media {
        literal("stepping_media", m)?;
    }
    for l in &p.license_files {
        literal("license_files", l)?;
        // The generated configuration lists them separated by spaces.
        if l.to_string_lossy().contains(|c: char| {
            c.is_whitespace() || c == '"' || c == '\'' || c == '$' || c == '`' || c == '\\'
        }) {
            return Err(Failure::param(
                "license_files",
                "license_files: a path must not contain blanks, quotes, $, ` or \\",
            ));
        }
    }
    if let Some(k) = p
        .recovery_kits
        .iter()
        .find(|k| k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return Err(Failure::param(
            "recovery_kits",
            format!("recovery_kits: '{k}' is not a kit name like lkIP"),
        ));
    }
    if p.setup_config.is_some()
        && (!p.recovery_kits.is_empty()
            || !p.license_files.is_empty()
            || p.install_jre.is_some()
            || p.quorum.is_some())
    {
        return Err(Failure::param(
            "setup_config",
            "setup_config is a complete setup configuration; recovery_kits, license_files, install_jre and quorum only build a generated one, so give one or the other",
        ));
    }
    // Where the module writes: a symbolic link (e.g. one another user planted at the predictable
    // /var/tmp/lkops-upgrade) could point the writes anywhere; lk_backup refuses its dest the same way.
    for (name, dir) in [
        ("backup_dir", p.backup_dir.as_ref()),
        ("work_dir", Some(&p.work_dir)),
        ("state_dir", Some(&p.state_dir)),
    ] {
        if dir.is_some_and(|d| fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_symlink())) {
            return Err(Failure::param(
                name,
                format!(
                    "{name} {} is a symbolic link; refusing it (point {name} at the real directory)",
                    dir.map(|d| d.display().to_string()).unwrap_or_default()
                ),
            ));
        }
    }
    if p.timeout <= 0 {
        return Err(Failure::param(
            "timeout",
            "timeout must be a positive number of seconds",
        ));
    }
    Ok(target)
}

fn check_host(h: &str) -> Result<(), Failure> {
    if h.is_empty() || h.starts_with('.') || h.contains(['/', '\n', '\0', ' ']) {
        return Err(Failure::new(format!(
            "the node name '{h}' cannot be used in a file name"
        )));
    }
    Ok(())
}

// ---- journal ---------------------------------------------------------------------------------------

/// What has been done so far; written atomically after every step that changes the node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Journal {
    format: u32,
    host: String,
    target: String,
    previous_version: Option<String>,
    path: String,
    stepping: Option<String>,
    /// Whether LifeKeeper ran before the first step (start_after=auto restores that).
    was_running: bool,
    started: String,
    done: Vec<String>,
    packages_before: Vec<String>,
    saved_defaults: Option<String>,
    setup_logs: Vec<String>,
    finished: bool,
    /// The verified lk_backup archive the reinstall restores (absent in journals of older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backup: Option<String>,
    /// The fresh release's defaults file, kept across the restore (which brings back the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fresh_defaults: Option<String>,
}

fn read_journal(path: &Path) -> Result<Option<Journal>, Failure> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::new(format!(
                "cannot read the journal {}: {e}",
                path.display()
            )))
        }
    };
    let j: Journal = serde_json::from_str(&text).map_err(|e| {
        Failure::new(format!(
            "{} is not an lk_upgrade journal ({e}); move it away if it is stale",
            path.display()
        ))
    })?;
    if j.format != 1 {
        return Err(Failure::new(format!(
            "{} has journal format {}, expected 1",
            path.display(),
            j.format
        )));
    }
    Ok(Some(j))
}

fn write_journal(path: &Path, j: &Journal) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(j).expect("journal serialises") + "\n";
    rfs::write_atomic(path, text.as_bytes(), 0o600)
        .map_err(|e| Failure::new(format!("cannot write the journal {}: {e}", path.display())))
}

// ---- media -----------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum MediaSrc {
    Image(PathBuf),
    Dir(PathBuf),
}

impl MediaSrc {
    fn of(p: &Path) -> MediaSrc {
        if p.is_dir() {
            MediaSrc::Dir(p.to_path_buf())
        } else {
            MediaSrc::Image(p.to_path_buf())
        }
    }
    fn path(&self) -> &Path {
        match self {
            MediaSrc::Image(p) | MediaSrc::Dir(p) => p,
        }
    }
}

/// A version written in a label: `9.4.3`, `SPS_9_4_3`, `sps_943.img`.
fn version_in_label(label: &str) -> Option<Version> {
    let tokens: Vec<&str> = label
        .split(|c: char| !c.is_ascii_digit() && c != '.' && c != '_')
        .collect();
    for t in tokens {
        let parts: Vec<&str> = t.split(['.', '_']).filter(|s| !s.is_empty()).collect();
        if parts.len() == 3 && parts.iter().all(|s| s.bytes().all(|b| b.is_ascii_digit())) {
            if let Ok(v) = Version::parse(&parts.join(".")) {
                return Some(v);
            }
        }
        // `sps_943`: one digit per part, the vendor's image naming.
        if let Some(d) = parts
            .iter()
            .find(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        {
            let b = d.as_bytes();
            return Some(Version::new(
                (b[0] - b'0') as u32,
                (b[1] - b'0') as u32,
                (b[2] - b'0') as u32,
            ));
        }
    }
    None
}

/// The release on a media, read without side effects.
fn media_version(runner: &Runner, src: &MediaSrc, param: &str) -> Result<Version, Failure> {
    let fail =
        |why: String| Failure::param(param, format!("{param}: {}: {why}", src.path().display()));
    match src {
        MediaSrc::Dir(d) => {
            if let Ok(t) = fs::read_to_string(d.join("sps.version")) {
                return Version::parse(t.trim()).map_err(|e| fail(format!("sps.version: {e}")));
            }
            version_in_label(&d.to_string_lossy()).ok_or_else(|| {
                fail("no sps.version marker and no version in the directory name".into())
            })
        }
        MediaSrc::Image(f) => {
            if !f.is_file() {
                return Err(fail("no such image file".into()));
            }
            let t = Duration::from_secs(120);
            if let Ok(o) = runner.run(
                &Cmd::new("bsdtar")
                    .arg("-xOf")
                    .arg(f)
                    .arg("sps.version")
                    .timeout(t),
            ) {
                if o.ok() {
                    return Version::parse(o.stdout.trim())
                        .map_err(|e| fail(format!("sps.version: {e}")));
                }
            }
            if let Ok(o) = runner.run(
                &Cmd::new("xorriso")
                    .arg("-indev")
                    .arg(f)
                    .arg("-pvd_info")
                    .timeout(t),
            ) {
                if o.ok() {
                    let vol = o.stdout.lines().find_map(|l| {
                        l.strip_prefix("Volume Id")
                            .and_then(|r| r.split_once(':'))
                            .map(|x| x.1.trim().to_string())
                    });
                    if let Some(v) = vol.as_deref().and_then(version_in_label) {
                        return Ok(v);
                    }
                }
            }
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            version_in_label(&name).ok_or_else(|| {
                fail("cannot tell its version (no sps.version marker, no version in the volume id or file name; name it like sps_961.img)".into())
            })
        }
    }
}

/// The package files on a media (`RPMS/*.rpm`), as `name-version-release.arch`, read-only.
fn media_packages(runner: &Runner, src: &MediaSrc) -> Vec<String> {
    let names: Vec<String> = match src {
        MediaSrc::Dir(d) => fs::read_dir(d.join("RPMS"))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default(),
        MediaSrc::Image(f) => runner
            .run(
                &Cmd::new("bsdtar")
                    .arg("-tf")
                    .arg(f)
                    .timeout(Duration::from_secs(120)),
            )
            .ok()
            .filter(|o| o.ok())
            .map(|o| {
                o.stdout
                    .lines()
                    .filter_map(|l| {
                        l.trim_start_matches("./")
                            .strip_prefix("RPMS/")
                            .map(String::from)
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    names
        .iter()
        .filter_map(|n| n.strip_suffix(".rpm").map(String::from))
        .collect()
}

/// The package name of `name-version-release.arch`.
fn pkg_name(nevra: &str) -> &str {
    let rest = nevra.rsplit_once('-').map(|x| x.0).unwrap_or(nevra);
    rest.rsplit_once('-').map(|x| x.0).unwrap_or(rest)
}

/// A media opened for setup; removes what it mounted or extracted when cleaned up or dropped.
struct OpenMedia {
    dir: PathBuf,
    temp: Option<PathBuf>,
    mounted: bool,
    runner: Runner,
    how: String,
}

impl OpenMedia {
    fn cleanup(&mut self) -> Result<(), String> {
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        if self.mounted {
            let out = self
                .runner
                .run(
                    &Cmd::new("umount")
                        .arg(&temp)
                        .timeout(Duration::from_secs(300)),
                )
                .map_err(|e| e.msg)?;
            if !out.ok() {
                return Err(format!(
                    "umount {} failed: {}; unmount it by hand",
                    temp.display(),
                    out.tail()
                ));
            }
            return fs::remove_dir(&temp)
                .map_err(|e| format!("cannot remove {}: {e}", temp.display()));
        }
        remove_tree(&temp)
    }
}

impl Drop for OpenMedia {
    fn drop(&mut self) {
        let _ = self.cleanup();
    }
}

/// Remove an extracted tree; ISO extraction can leave read-only directories, so make them writable.
fn remove_tree(dir: &Path) -> Result<(), String> {
    fn writable(d: &Path) {
        let _ = fs::set_permissions(d, fs::Permissions::from_mode(0o700));
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    writable(&e.path());
                }
            }
        }
    }
    writable(dir);
    fs::remove_dir_all(dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))
}

fn make_work_dir(dir: &Path) -> Result<(), Failure> {
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

/// Remove media directories that a killed earlier run left in work_dir (unmounting them first),
/// and its generated setup configuration (`setup-<pid>.conf`, which names the license files).
fn clean_stale_media(runner: &Runner, work_dir: &Path) {
    let Ok(rd) = fs::read_dir(work_dir) else {
        return;
    };
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("setup-")
            .and_then(|r| r.strip_suffix(".conf"))
        {
            if pid
                .parse::<u32>()
                .is_ok_and(|p| !Path::new(&format!("/proc/{p}")).exists())
            {
                let _ = fs::remove_file(e.path());
            }
            continue;
        }
        let Some(pid) = name
            .strip_prefix("media-")
            .and_then(|r| r.rsplit_once('-'))
            .map(|x| x.1.to_string())
        else {
            continue;
        };
        let alive = pid
            .parse::<u32>()
            .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if alive {
            continue;
        }
        let path = e.path();
        let shown = path.to_string_lossy().into_owned();
        if mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(shown.as_str()))
        {
            let _ = runner.run(&Cmd::new("umount").arg(&path));
        }
        let _ = remove_tree(&path);
    }
}

fn open_media(
    ctx: &Ctx,
    p: &Params,
    src: &MediaSrc,
    v: Version,
    warnings: &mut Vec<String>,
) -> Result<OpenMedia, String> {
    let t = Duration::from_secs(p.timeout as u64);
    let img = match src {
        MediaSrc::Dir(d) => {
            return Ok(OpenMedia {
                dir: d.clone(),
                temp: None,
                mounted: false,
                runner: ctx.runner.clone(),
                how: format!("using {}", d.display()),
            })
        }
        MediaSrc::Image(f) => f,
    };
    make_work_dir(&p.work_dir).map_err(|f| f.msg)?;
    let temp = p.work_dir.join(format!("media-{v}-{}", std::process::id()));
    if temp.exists() {
        remove_tree(&temp)?;
    }
    fs::create_dir(&temp).map_err(|e| format!("cannot create {}: {e}", temp.display()))?;
    let mut m = OpenMedia {
        dir: temp.clone(),
        temp: Some(temp.clone()),
        mounted: false,
        runner: ctx.runner.clone(),
        how: String::new(),
    };
    if p.media_mode != "extract" {
        let cmd = Cmd::new("mount")
            .args(["-o", "loop,ro", "-t", "iso9660"])
            .arg(img)
            .arg(&temp)
            .timeout(t);
        let out = ctx.runner.run(&cmd).map_err(|e| e.msg);
        match out {
            Ok(o) if o.ok() => {
                m.mounted = true;
                m.how = format!("mounted {} read-only on {}", img.display(), temp.display());
                return Ok(m);
            }
            Ok(o) if p.media_mode == "mount" => return Err(o.failure("mounting the media").msg),
            Err(e) if p.media_mode == "mount" => return Err(e),
            Ok(o) => warnings.push(format!(
                "mounting {} was not possible ({}); extracted it instead",
                img.display(),
                o.tail().lines().next().unwrap_or("no reason given")
            )),
            Err(e) => warnings.push(format!(
                "mounting {} was not possible ({e}); extracted it instead",
                img.display()
            )),
        }
    }
    let x = Cmd::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(img)
        .args(["-extract", "/"])
        .arg(&temp)
        .timeout(t);
    let out = match ctx.runner.run(&x) {
        Ok(o) => {
            m.how = format!(
                "extracted {} with xorriso to {}",
                img.display(),
                temp.display()
            );
            o
        }
        Err(e) if e.not_found => {
            m.how = format!(
                "extracted {} with bsdtar to {}",
                img.display(),
                temp.display()
            );
            ctx.runner
                .run(
                    &Cmd::new("bsdtar")
                        .arg("-xf")
                        .arg(img)
                        .arg("-C")
                        .arg(&temp)
                        .timeout(t),
                )
                .map_err(|e| {
                    format!(
                        "neither xorriso nor bsdtar can extract the media: {}",
                        e.msg
                    )
                })?
        }
        Err(e) => return Err(e.msg),
    };
    if !out.ok() {
        return Err(out.failure("extracting the media").msg);
    }
    // An extracted copy may lose the execute bit the ISO's Rock Ridge data would give it.
    let setup = temp.join("setup");
    if let Ok(meta) = fs::metadata(&setup) {
        if meta.permissions().mode() & 0o111 == 0 {
            fs::set_permissions(&setup, fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {}: {e}", setup.display()))?;
        }
    }
    Ok(m)
}

// ---- the plan --------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Action {
    VerifyBackup,
    SaveDefaults,
    Stop,
    Uninstall,
    ErasePackages,
    Media(usize),
    Setup(usize),
    Restore,
    Reapply,
    Start,
    Verify,
}

#[derive(Debug, Clone)]
struct Step {
    name: String,
    detail: String,
    action: Action,
    status: &'static str,
}

#[derive(Debug)]
struct Plan {
    host: String,
    target: Version,
    previous: Option<Version>,
    path: UpPath,
    stepping: Option<Version>,
    media: Vec<(MediaSrc, Version)>,
    steps: Vec<Step>,
    journal: Journal,
    /// Whether the journal already existed (resuming).
    resuming: bool,
    saved_defaults: Option<PathBuf>,
    backup_archive: Option<PathBuf>,
    /// Check mode only: no verified backup yet; the real run refuses (the plan says so).
    backup_missing: Option<String>,
    running_now: bool,
    expect_running: Option<bool>,
}

impl Plan {
    /// "upgraded LifeKeeper on node-a from 9.4.0 to 9.6.1 (direct path)", with the verb for a
    /// resumed or a fresh run.
    fn headline(&self, resuming: &str, fresh: &str) -> String {
        format!(
            "{} LifeKeeper on {} from {} to {} ({} path{})",
            if self.resuming { resuming } else { fresh },
            self.host,
            self.previous
                .map(|v| v.to_string())
                .unwrap_or_else(|| "?".into()),
            self.target,
            self.path.name(),
            self.stepping
                .map(|s| format!(" through {s}"))
                .unwrap_or_default(),
        )
    }

    /// The result keys a check-mode plan and a real run share, so the two cannot drift apart.
    fn outcome(&self, msg: String, running: bool, after: &[String], journal: &Path) -> Outcome {
        let mut o = Outcome::new(true, msg)
            .with("path", self.path.name())
            .with("previous_version", self.previous.map(|v| v.to_string()))
            .with("version", self.target.to_string())
            .with("steps", steps_json(&self.steps))
            .with("setup_log", self.journal.setup_logs.last().cloned())
            .with("setup_logs", self.journal.setup_logs.clone())
            .with("lifekeeper_running", running)
            .with("packages", after.to_vec())
            .with("journal", journal.display().to_string())
            .diff(Some(package_diff(&self.journal.packages_before, after)));
        if let Some(s) = &self.saved_defaults {
            o.set("saved_defaults", s.display().to_string());
        }
        if let Some(b) = &self.backup_archive {
            o.set("backup", b.display().to_string());
        }
        o
    }
}

/// LifeKeeper's status on this node; `None` when it is not running or not installed.
fn current_status(ctx: &Ctx, lkroot: &Path) -> Result<Option<Status>, Failure> {
    if !lkroot.join("bin/lcdstatus").exists() {
        return Ok(None);
    }
    status::read(&ctx.runner, lkroot)
}

fn in_service(st: &Option<Status>) -> Vec<String> {
    st.iter()
        .flat_map(|s| s.resources.iter())
        .filter(|r| r.state == "ISP" || r.state == "ISU")
        .map(|r| format!("{} ({})", r.tag, r.state))
        .collect()
}

fn target_media(p: &Params) -> Option<MediaSrc> {
    p.media_dir
        .as_ref()
        .map(|d| MediaSrc::Dir(d.clone()))
        .or_else(|| p.media.as_ref().map(|m| MediaSrc::Image(m.clone())))
}

fn media_step_name(p: &Params, src: &MediaSrc, v: Version) -> (String, String) {
    match src {
        MediaSrc::Dir(d) => (
            format!("use media {v}"),
            format!("setup from {}", d.display()),
        ),
        MediaSrc::Image(f) if p.media_mode == "extract" => (
            format!("extract media {v}"),
            format!(
                "xorriso -osirrox on -indev {} -extract / {}/media-{v}-PID",
                f.display(),
                p.work_dir.display()
            ),
        ),
        MediaSrc::Image(f) => (
            format!("mount media {v}"),
            format!(
                "mount -o loop,ro -t iso9660 {} {}/media-{v}-PID{}",
                f.display(),
                p.work_dir.display(),
                if p.media_mode == "auto" {
                    " (extracted with xorriso where mounting is not permitted)"
                } else {
                    ""
                }
            ),
        ),
    }
}

fn make_plan(
    p: &Params,
    ctx: &Ctx,
    host: &str,
    installed: Option<Version>,
    target: Version,
    pending: Option<&Journal>,
) -> Result<Plan, Failure> {
    let st = current_status(ctx, &p.lkroot)?;
    let running_now = st.is_some();
    // The path is chosen once; a resumed run follows the journal, because the installed version
    // changes part-way (9.4.3 after the first stepwise setup, nothing after rmlk).
    let (path, stepping, previous, was_running) = match pending {
        Some(j) => (
            match j.path.as_str() {
                "direct" => UpPath::Direct,
                "stepwise" => UpPath::Stepwise,
                "reinstall" => UpPath::Reinstall,
                other => {
                    return Err(Failure::new(format!(
                        "the journal records an unknown path '{other}'"
                    )))
                }
            },
            j.stepping
                .as_deref()
                .map(Version::parse)
                .transpose()
                .map_err(Failure::new)?,
            j.previous_version
                .as_deref()
                .map(Version::parse)
                .transpose()
                .map_err(Failure::new)?,
            j.was_running,
        ),
        None => {
            let mut stepping_versions = vec![];
            for m in &p.stepping_media {
                stepping_versions.push(media_version(
                    &ctx.runner,
                    &MediaSrc::of(m),
                    "stepping_media",
                )?);
            }
            let (path, step) =
                version::upgrade_path(installed.as_ref(), &target, &stepping_versions);
            (path, step, installed, running_now)
        }
    };
    match path {
        UpPath::Unsupported => {
            return Err(match installed {
                None => Failure::new(format!(
                    "LifeKeeper is not installed on {host} (rpm -q steeleye-lk); lk_upgrade upgrades an existing installation"
                )),
                Some(i) => Failure::param("version", format!("installed {i} is newer than version {target}; downgrade is not supported")),
            })
        }
        UpPath::None => unreachable!("handled before planning"),
        _ => {}
    }
    // Refusals come before anything is touched.
    if p.require_standby {
        let busy = in_service(&st);
        if !busy.is_empty() {
            return Err(Failure::new(format!(
                "resources are in service on {host}: {}; move them to another node first (lk_resource), or set require_standby: false",
                busy.join(", ")
            ))
            .with("in_service", busy));
        }
    }
    let mut backup_archive = None;
    let mut backup_missing = None;
    if path == UpPath::Reinstall {
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
        // A resumed run restores the archive the first run relied on, never a newer backup that
        // may have been taken of the half-reinstalled node in between.
        let recorded = pending.and_then(|j| j.backup.clone());
        let found = match &recorded {
            Some(a) => backup::find_verified_archive(dir, host, a),
            None => backup::find_verified(dir, host),
        }
        .map_err(|e| Failure::param("backup_dir", e))?;
        match (found, recorded) {
            (Some(e), _) => backup_archive = Some(dir.join(e.archive)),
            (None, Some(a)) => {
                return Err(Failure::param(
                    "backup_dir",
                    format!("the backup {a} in {} that this unfinished upgrade of {host} relies on no longer verifies (checksum and host); restore it from your copy, then rerun", dir.display()),
                ))
            }
            (None, None) if ctx.check_mode => {
                backup_missing = Some(format!(
                    "no verified backup of {host} in {} yet: the real run refuses unless one exists (take it with lk_backup first)",
                    dir.display()
                ));
            }
            (None, None) => {
                return Err(Failure::param(
                    "backup_dir",
                    format!("{} holds no backup of {host} that verifies (checksum and host); run lk_backup dest={} first", dir.display(), dir.display()),
                ))
            }
        }
    }
    let tmedia = target_media(p);
    let mut media: Vec<(MediaSrc, Version)> = vec![];
    if path == UpPath::Stepwise {
        let s = stepping.expect("stepwise has a stepping version");
        let src = p
            .stepping_media
            .iter()
            .map(|m| MediaSrc::of(m))
            .find(|m| media_version(&ctx.runner, m, "stepping_media").ok() == Some(s))
            .ok_or_else(|| {
                Failure::param(
                    "stepping_media",
                    format!("the journal's stepping release {s} is not among stepping_media"),
                )
            })?;
        media.push((src, s));
    }
    let done = pending.map(|j| j.done.clone()).unwrap_or_default();
    let target_setup_done = done.iter().any(|d| *d == format!("setup {target}"));
    match &tmedia {
        Some(src) => {
            // Wrong media is refused even when its setup is done: the arguments must be the same.
            let v = media_version(
                &ctx.runner,
                src,
                if p.media_dir.is_some() {
                    "media_dir"
                } else {
                    "media"
                },
            )?;
            if v != target {
                return Err(Failure::param(
                    if p.media_dir.is_some() {
                        "media_dir"
                    } else {
                        "media"
                    },
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
    if let Some(c) = &p.setup_config {
        if !c.is_file() {
            return Err(Failure::param(
                "setup_config",
                format!("setup_config {} is not a file", c.display()),
            ));
        }
    }
    if let Some(b) = &p.defaults_base {
        if !b.is_file() {
            return Err(Failure::param(
                "defaults_base",
                format!("defaults_base {} is not a file", b.display()),
            ));
        }
    }
    for l in &p.license_files {
        if !l.is_file() {
            return Err(Failure::param(
                "license_files",
                "license_files: a license file does not exist",
            ));
        }
    }
    // The reinstall re-applies the site's defaults after setup: a file that merge would refuse
    // (a line sh would run, CRLF line endings, a byte order mark) must stop the run here, before
    // lkstop, not after the new release is installed.
    if path == UpPath::Reinstall && pending.is_none() {
        for (name, file) in [
            ("defaults_file", Some(&p.defaults_file)),
            ("defaults_base", p.defaults_base.as_ref()),
        ] {
            let Some(f) = file else { continue };
            let text = rfs::read_text(f, name).map_err(|e| Failure::param(name, e))?;
            crate::lifekeeper::defaults_file::parse(&text).map_err(|(line, msg)| {
                Failure::param(
                    name,
                    format!(
                        "{name} {} line {line}: {msg}; nothing was changed",
                        f.display()
                    ),
                )
            })?;
        }
    }

    let saved_defaults = match (path, &p.backup_dir) {
        (UpPath::Reinstall, Some(dir)) => Some(
            pending
                .and_then(|j| j.saved_defaults.as_ref().map(PathBuf::from))
                .unwrap_or_else(|| {
                    dir.join(format!(
                        "{host}.LifeKeeper.defaults.{}.saved",
                        previous
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "unknown".into())
                    ))
                }),
        ),
        _ => None,
    };
    let expect_running = match p.start_after.as_str() {
        "always" => Some(true),
        "never" => None,
        _ => Some(was_running),
    };

    let mut steps = vec![];
    let mut push = |name: String, detail: String, action: Action| {
        steps.push(Step {
            name,
            detail,
            action,
            status: "planned",
        })
    };
    if path == UpPath::Reinstall {
        push(
            "verify backup".into(),
            match (&backup_archive, &backup_missing) {
                (Some(a), _) => format!("{} verifies (checksum and host of {host})", a.display()),
                (None, Some(why)) => why.clone(),
                (None, None) => unreachable!("reinstall refused without a backup"),
            },
            Action::VerifyBackup,
        );
        let saved = saved_defaults.as_ref().expect("reinstall has backup_dir");
        push(
            "save defaults".into(),
            format!("copy {} to {}", p.defaults_file.display(), saved.display()),
            Action::SaveDefaults,
        );
        push(
            "stop LifeKeeper".into(),
            format!("{}/bin/lkstop", p.lkroot.display()),
            Action::Stop,
        );
        push(
            "uninstall LifeKeeper".into(),
            format!(
                "{}/bin/rmlk (answering y); the resource hierarchies are removed",
                p.lkroot.display()
            ),
            Action::Uninstall,
        );
        if previous.is_some_and(|v| v < Version::new(7, 5, 0)) {
            push(
                "remove old packages".into(),
                "rpm -e every remaining steeleye-*/HADR-* package (installed release older than 7.5)".into(),
                Action::ErasePackages,
            );
        }
    }
    for (i, (src, v)) in media.iter().enumerate() {
        let (name, detail) = media_step_name(p, src, *v);
        push(name, detail, Action::Media(i));
        let conf = p
            .setup_config
            .as_ref()
            .map(|c| c.display().to_string())
            .unwrap_or_else(|| format!("{}/setup-PID.conf (generated)", p.work_dir.display()));
        push(
            format!("setup {v}"),
            format!("setup -f {conf} -q y"),
            Action::Setup(i),
        );
    }
    if target_setup_done && tmedia.is_none() {
        push(
            format!("setup {target}"),
            "done by an earlier run".into(),
            Action::Setup(usize::MAX),
        );
    }
    if path == UpPath::Reinstall && p.restore_config {
        push(
            "restore configuration".into(),
            format!(
                "{}/bin/lkbackup -x -f {} (resource hierarchies, comm paths); the {target} {} is kept and the saved parameters re-applied next",
                p.lkroot.display(),
                backup_archive
                    .as_ref()
                    .map(|a| a.display().to_string())
                    .unwrap_or_else(|| "ARCHIVE (the verified lk_backup, once taken)".into()),
                p.defaults_file.display()
            ),
            Action::Restore,
        );
    }
    if path == UpPath::Reinstall {
        push(
            "re-apply defaults".into(),
            format!(
                "merge {} into {}{}",
                saved_defaults.as_ref().expect("reinstall").display(),
                p.defaults_file.display(),
                p.defaults_base
                    .as_ref()
                    .map(|b| format!(" (three-way, base {})", b.display()))
                    .unwrap_or_default()
            ),
            Action::Reapply,
        );
    }
    if expect_running == Some(true) {
        push(
            "start LifeKeeper".into(),
            format!(
                "{}/bin/lkstart unless already running (start_after={}{})",
                p.lkroot.display(),
                p.start_after,
                if p.start_after == "auto" {
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
            "{target} installed{}; no resource in service on {host}",
            match expect_running {
                Some(true) => ", LifeKeeper running",
                Some(false) => ", LifeKeeper stopped",
                None => "",
            }
        ),
        Action::Verify,
    );
    for s in steps.iter_mut() {
        if done.contains(&s.name) {
            s.status = "done";
        }
    }
    // A media step is only needed for a setup not done yet.
    let setup_done: Vec<usize> = steps
        .iter()
        .filter_map(|s| match s.action {
            Action::Setup(i) if s.status == "done" => Some(i),
            _ => None,
        })
        .collect();
    for s in steps.iter_mut() {
        if let Action::Media(i) = s.action {
            if setup_done.contains(&i) {
                s.status = "done";
            }
        }
    }
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
            started: time::iso8601(time::now_secs()),
            done: vec![],
            packages_before: version::packages(&ctx.runner).map_err(Failure::new)?,
            saved_defaults: saved_defaults.as_ref().map(|s| s.display().to_string()),
            setup_logs: vec![],
            finished: false,
            backup: backup_archive
                .as_ref()
                .and_then(|a| a.file_name())
                .map(|a| a.to_string_lossy().into_owned()),
            fresh_defaults: None,
        },
    };
    Ok(Plan {
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
    })
}

fn steps_json(steps: &[Step]) -> Value {
    Value::Array(
        steps
            .iter()
            .map(|s| json!({"name": s.name, "status": s.status, "detail": s.detail}))
            .collect(),
    )
}

// ---- outcomes --------------------------------------------------------------------------------------

fn nothing_to_do(p: &Params, ctx: &Ctx, host: &str, target: Version, journal: &Path) -> Outcome {
    let running = current_status(ctx, &p.lkroot)
        .map(|s| s.is_some())
        .unwrap_or(false);
    let pkgs = version::packages(&ctx.runner).unwrap_or_default();
    Outcome::new(
        false,
        format!("LifeKeeper {target} is already installed on {host}"),
    )
    .with("path", "none")
    .with("previous_version", target.to_string())
    .with("version", target.to_string())
    .with("steps", json!([]))
    .with("setup_log", Value::Null)
    .with("setup_logs", json!([]))
    .with("lifekeeper_running", running)
    .with("packages", pkgs)
    .with("journal", journal.display().to_string())
}

/// The packages the plan would leave installed: every LifeKeeper package kept (in place) or the
/// core set (reinstall), plus the kits asked for, each at the version on the target media.
fn predict_packages(p: &Plan, params: &Params, runner: &Runner) -> Vec<String> {
    let (kits, quorum) = match &params.setup_config {
        Some(c) => {
            let text = fs::read_to_string(c).unwrap_or_default();
            let get = |k: &str| {
                text.lines()
                    .rev()
                    .find_map(|l| {
                        l.trim()
                            .strip_prefix("export ")
                            .unwrap_or(l.trim())
                            .strip_prefix(&format!("{k}="))
                            .map(String::from)
                    })
                    .map(|v| v.trim_matches(['"', '\'']).to_string())
            };
            (
                get("LKCONF_RECOVERY_KITS")
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>(),
                get("LKCONF_QUORUM").as_deref() == Some("y"),
            )
        }
        None => (params.recovery_kits.clone(), params.quorum.unwrap_or(false)),
    };
    let mut names: Vec<String> = ["steeleye-lk", "steeleye-lkGUI", "steeleye-lkDR"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if p.path != UpPath::Reinstall {
        names.extend(
            p.journal
                .packages_before
                .iter()
                .map(|n| pkg_name(n).to_string()),
        );
    }
    names.extend(kits.iter().map(|k| format!("steeleye-{k}")));
    if quorum {
        names.push("steeleye-lkQWK".into());
    }
    names.sort();
    names.dedup();
    let on_media = p
        .media
        .last()
        .filter(|(_, v)| *v == p.target)
        .map(|(src, _)| media_packages(runner, src))
        .unwrap_or_default();
    let mut out: Vec<String> = names
        .iter()
        .map(|n| {
            on_media
                .iter()
                .find(|m| pkg_name(m) == n)
                .cloned()
                .unwrap_or_else(|| format!("{n}-{}", p.target))
        })
        .collect();
    out.sort();
    out
}

fn package_diff(before: &[String], after: &[String]) -> Value {
    let lines = |v: &[String]| v.iter().map(|s| format!("{s}\n")).collect::<String>();
    diff::text("LifeKeeper packages", &lines(before), &lines(after))
}

fn predicted(p: &Params, ctx: &Ctx, plan: &Plan, journal: &Path) -> Outcome {
    let after = predict_packages(plan, p, &ctx.runner);
    let todo = plan
        .steps
        .iter()
        .filter(|s| s.status == "planned" && s.action != Action::Verify)
        .count();
    let mut o = plan.outcome(
        format!(
            "would {}: {todo} step(s)",
            plan.headline("resume upgrading", "upgrade")
        ),
        plan.running_now,
        &after,
        journal,
    );
    if let Some(w) = &plan.backup_missing {
        o.warn(w.clone());
    }
    o
}

// ---- execution -------------------------------------------------------------------------------------

struct Run<'a> {
    p: &'a Params,
    ctx: &'a Ctx,
    plan: Plan,
    journal_path: &'a Path,
    warnings: Vec<String>,
    open: Option<OpenMedia>,
    changed_now: bool,
    log_dir: PathBuf,
}

fn execute(p: &Params, ctx: &Ctx, plan: Plan, journal_path: &Path) -> Result<Outcome, Failure> {
    if let Some(dir) = journal_path.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| Failure::new(format!("cannot create {}: {e}", dir.display())))?;
    }
    let lock_path = journal_path.with_extension("lock");
    let _lock = rfs::lock(&lock_path, Duration::from_secs(5)).map_err(|e| {
        Failure::new(format!(
            "another lk_upgrade run holds {}: {e}",
            lock_path.display()
        ))
    })?;
    make_work_dir(&p.work_dir)?;
    clean_stale_media(&ctx.runner, &p.work_dir);
    let log_dir = p.backup_dir.clone().unwrap_or_else(|| p.work_dir.clone());
    if !plan.resuming {
        write_journal(journal_path, &plan.journal)?;
    }
    let mut run = Run {
        p,
        ctx,
        plan,
        journal_path,
        warnings: vec![],
        open: None,
        changed_now: false,
        log_dir,
    };
    let n = run.plan.steps.len();
    for i in 0..n {
        if run.plan.steps[i].status == "done" {
            ctx.progress(&format!(
                "{}: done by an earlier run",
                run.plan.steps[i].name
            ));
            continue;
        }
        ctx.progress(&format!("{} ...", run.plan.steps[i].name));
        match run.step(i) {
            Ok(status) => {
                run.plan.steps[i].status = status;
                ctx.progress(&format!("{}: {status}", run.plan.steps[i].name));
            }
            Err(e) => {
                run.plan.steps[i].status = "failed";
                ctx.progress(&format!("{}: failed", run.plan.steps[i].name));
                if let Some(mut m) = run.open.take() {
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
        write_journal(self.journal_path, &self.plan.journal)
    }

    /// Run step `i`; its status on success.
    fn step(&mut self, i: usize) -> Result<&'static str, Failure> {
        let lkroot = self.p.lkroot.clone();
        let t = self.timeout();
        match self.plan.steps[i].action.clone() {
            // Verified while planning (before anything was touched); not journaled, so every
            // run checks it again.
            Action::VerifyBackup => {}
            Action::Restore => {
                self.restore(i)?;
                self.mark_done(i)?;
            }
            Action::SaveDefaults => {
                let dest = self.plan.saved_defaults.clone().expect("reinstall");
                // 0600 like every file beside the backups (the dir is lk_backup's, 0700).
                let sha = rfs::copy_atomic(&self.p.defaults_file, &dest, 0o600).map_err(|e| {
                    Failure::new(format!(
                        "cannot copy {} to {}: {e}",
                        self.p.defaults_file.display(),
                        dest.display()
                    ))
                })?;
                self.plan.steps[i].detail = format!(
                    "saved {} as {} (sha256 {sha})",
                    self.p.defaults_file.display(),
                    dest.display()
                );
                self.mark_done(i)?;
            }
            Action::Stop => {
                self.ctx
                    .runner
                    .run_ok(&Cmd::lk(&lkroot, "lkstop").timeout(t), "lkstop")?;
                self.mark_done(i)?;
            }
            Action::Uninstall => {
                self.ctx.runner.run_ok(
                    &Cmd::lk(&lkroot, "rmlk").stdin("y\n").timeout(t),
                    "uninstalling LifeKeeper (rmlk)",
                )?;
                self.mark_done(i)?;
            }
            Action::ErasePackages => {
                let left = version::packages(&self.ctx.runner).map_err(Failure::new)?;
                if left.is_empty() {
                    self.plan.steps[i].detail =
                        "no steeleye-*/HADR-* package was left by rmlk".into();
                    self.mark_done(i)?;
                    return Ok("skipped");
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
                if let Some(mut old) = self.open.take() {
                    old.cleanup().map_err(Failure::new)?;
                }
                let mut w = vec![];
                let opened = open_media(self.ctx, self.p, &src, v, &mut w);
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
                self.open = Some(opened);
                // Transient: not journaled; a resumed run opens the media again.
            }
            Action::Setup(m) => {
                self.setup(i, m)?;
                self.mark_done(i)?;
            }
            Action::Reapply => {
                let saved = self.plan.saved_defaults.clone().expect("reinstall");
                let r = defaults_merge::merge_files(
                    &saved,
                    &self.p.defaults_file,
                    self.p.defaults_base.as_deref(),
                    true,
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
                if !r.changed {
                    return Ok("done");
                }
            }
            Action::Start => {
                if current_status(self.ctx, &lkroot)?.is_some() {
                    self.plan.steps[i].detail = "LifeKeeper is already running".into();
                    self.mark_done(i)?;
                    return Ok("skipped");
                }
                self.ctx.runner.run_ok(
                    &Cmd::lk(&lkroot, "lkstart").timeout(t),
                    "starting LifeKeeper (lkstart)",
                )?;
                self.mark_done(i)?;
            }
            Action::Verify => self.verify(i)?,
        }
        Ok("done")
    }

    fn setup(&mut self, i: usize, m: usize) -> Result<(), Failure> {
        let v = self.plan.media[m].1;
        let dir = self
            .open
            .as_ref()
            .map(|o| o.dir.clone())
            .expect("media opened before setup");
        let (conf, generated) = match &self.p.setup_config {
            Some(c) => (c.clone(), false),
            None => {
                let c = self
                    .p
                    .work_dir
                    .join(format!("setup-{}.conf", std::process::id()));
                rfs::write_atomic(&c, generated_conf(self.p).as_bytes(), 0o600)
                    .map_err(|e| Failure::new(format!("cannot write {}: {e}", c.display())))?;
                let _ = fs::set_permissions(&c, fs::Permissions::from_mode(0o600));
                (c, true)
            }
        };
        let cmd = Cmd::new(dir.join("setup"))
            .arg("-f")
            .arg(&conf)
            .args(["-q", "y"])
            .timeout(self.timeout());
        let out = self.ctx.runner.run(&cmd);
        if generated {
            let _ = fs::remove_file(&conf);
        }
        let out = out?;
        let log = self
            .log_dir
            .join(format!("lkops-setup.{}.{v}.log", self.plan.host));
        let text = format!(
            "# {}\n# started by lk_upgrade at {}\n# rc={}{}\n--- stdout ---\n{}--- stderr ---\n{}",
            out.cmd.join(" "),
            time::iso8601(time::now_secs()),
            out.rc,
            if out.timed_out { " (timed out)" } else { "" },
            out.stdout,
            out.stderr
        );
        rfs::write_atomic(&log, text.as_bytes(), 0o600).map_err(|e| {
            Failure::new(format!("cannot write the setup log {}: {e}", log.display()))
        })?;
        let shown = log.display().to_string();
        self.plan.journal.setup_logs.retain(|l| *l != shown);
        self.plan.journal.setup_logs.push(shown.clone());
        write_journal(self.journal_path, &self.plan.journal)?;
        if !out.ok() || !out.stdout.contains("Setup Complete.") {
            let why = if out.ok() {
                "it did not report Setup Complete.".to_string()
            } else {
                out.failure("setup").msg
            };
            return Err(Failure::new(format!("setup {v} failed: {why}"))
                .with("rc", out.rc)
                .with("stderr_tail", out.tail()));
        }
        self.plan.steps[i].detail = format!("{} (log {shown})", out.cmd.join(" "));
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
                let f = dir.join(format!(
                    "{}.LifeKeeper.defaults.{}.fresh",
                    self.plan.host, self.plan.target
                ));
                rfs::copy_atomic(&defaults, &f, 0o600).map_err(|e| {
                    Failure::new(format!(
                        "cannot keep the new {} as {}: {e}",
                        defaults.display(),
                        f.display()
                    ))
                })?;
                self.plan.journal.fresh_defaults = Some(f.display().to_string());
                write_journal(self.journal_path, &self.plan.journal)?;
                f
            }
        };
        let mode = fs::metadata(&defaults)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        // lkbackup -x refuses while LifeKeeper runs (a given setup_config may have started it).
        if current_status(self.ctx, &lkroot)?.is_some() {
            self.ctx.runner.run_ok(
                &Cmd::lk(&lkroot, "lkstop").timeout(self.timeout()),
                "stopping LifeKeeper before the restore (lkstop)",
            )?;
            self.warnings.push(
                "LifeKeeper was running after setup; stopped it to restore the configuration"
                    .into(),
            );
        }
        self.ctx.runner.run_ok(
            &Cmd::lk(&lkroot, "lkbackup")
                .args(["-x", "-f"])
                .arg(&archive)
                .timeout(self.timeout()),
            "restoring the configuration (lkbackup -x)",
        )?;
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
        let inst = version::installed(&self.ctx.runner).map_err(Failure::new)?;
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
        let busy = in_service(&st);
        if !busy.is_empty() {
            problems.push(format!(
                "resources are in service on this node: {}",
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
            "{} installed; LifeKeeper {}; {res} resource(s) on {}, none in service",
            self.plan.target,
            if self.plan.expect_running == Some(true) || self.plan.running_now {
                "running"
            } else {
                "as expected"
            },
            self.plan.host
        );
        Ok(())
    }

    /// What state the node is in after step `i` failed, and what to do next.
    fn failure(&mut self, i: usize, e: Failure) -> Failure {
        let step = self.plan.steps[i].clone();
        let j = &self.plan.journal;
        let uninstalled = j.done.iter().any(|d| d == "uninstall LifeKeeper");
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
        let installed = version::installed(&self.ctx.runner).ok().flatten();
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
            if j.done.iter().any(|d| d == "save defaults") {
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
        let pkgs = version::packages(&self.ctx.runner).unwrap_or_default();
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
        if let Some(b) = backup {
            f = f.with("backup", b);
        }
        if !self.warnings.is_empty() {
            f = f.with("warnings", self.warnings.clone());
        }
        f
    }

    fn finish(mut self) -> Result<Outcome, Failure> {
        if let Some(mut m) = self.open.take() {
            if let Err(w) = m.cleanup() {
                self.warnings.push(w);
            }
        }
        self.plan.journal.finished = true;
        write_journal(self.journal_path, &self.plan.journal)?;
        if let Some(f) = &self.plan.journal.fresh_defaults {
            // Only needed while the restore could be resumed.
            let _ = fs::remove_file(f);
        }
        let after = version::packages(&self.ctx.runner).map_err(Failure::new)?;
        let running = current_status(self.ctx, &self.p.lkroot)?.is_some();
        let plan = &self.plan;
        let mut o = plan.outcome(
            plan.headline("finished upgrading", "upgraded"),
            running,
            &after,
            self.journal_path,
        );
        for w in self.warnings {
            o.warn(w);
        }
        Ok(o)
    }
}

/// The saved setup configuration built from the parameters (LKCONF_* shell assignments).
fn generated_conf(p: &Params) -> String {
    let yn = |b: bool| if b { "y" } else { "n" };
    let lic: Vec<String> = p
        .license_files
        .iter()
        .map(|l| l.display().to_string())
        .collect();
    format!(
        "# Generated by lk_upgrade for a non-interactive setup.\nLKCONF_INSTALL_JRE={}\nLKCONF_RECOVERY_KITS=\"{}\"\nLKCONF_LICENSE_FILES=\"{}\"\nLKCONF_START_LIFEKEEPER=n\nLKCONF_QUORUM={}\n",
        yn(p.install_jre.unwrap_or(true)),
        p.recovery_kits.join(" "),
        lic.join(" "),
        yn(p.quorum.unwrap_or(false))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_media_labels() {
        let v = |s: &str| version_in_label(s).map(|v| v.to_string());
        assert_eq!(v("SPS_9_6_1").as_deref(), Some("9.6.1"));
        assert_eq!(v("sps_943.img").as_deref(), Some("9.4.3"));
        assert_eq!(v("/srv/media/sps_9.4.3.img").as_deref(), Some("9.4.3"));
        assert_eq!(v("SPS-L-9.6.1-x86_64").as_deref(), Some("9.6.1"));
        assert_eq!(v("media.img"), None);
        assert_eq!(v("sps_96.img"), None);
    }

    #[test]
    fn package_names_from_nevra() {
        assert_eq!(pkg_name("steeleye-lk-9.6.1-8580.x86_64"), "steeleye-lk");
        assert_eq!(
            pkg_name("steeleye-lkPGSQL-9.4.0-7963.noarch"),
            "steeleye-lkPGSQL"
        );
        assert_eq!(
            pkg_name("HADR-generic-2.6-7.5.0-1.noarch"),
            "HADR-generic-2.6"
        );
    }

    #[test]
    fn generated_configuration_is_non_interactive_and_never_starts_lifekeeper() {
        let p: Params = serde_json::from_value(json!({
            "version": "9.6.1", "media_mode": "auto", "start_after": "auto", "allow_reinstall": false, "restore_config": true,
            "require_standby": true, "timeout": 10, "work_dir": "/w", "state_dir": "/s",
            "defaults_file": "/etc/default/LifeKeeper", "lkroot": "/opt/LifeKeeper",
            "recovery_kits": ["lkIP", "lkNFS"], "license_files": ["/root/a.lic"], "quorum": true
        }))
        .unwrap();
        assert_eq!(
            generated_conf(&p),
            "# Generated by lk_upgrade for a non-interactive setup.\nLKCONF_INSTALL_JRE=y\nLKCONF_RECOVERY_KITS=\"lkIP lkNFS\"\nLKCONF_LICENSE_FILES=\"/root/a.lic\"\nLKCONF_START_LIFEKEEPER=n\nLKCONF_QUORUM=y\n"
        );
    }
}

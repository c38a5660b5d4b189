//! lk_upgrade: upgrade LifeKeeper on this node to a target release — in place (direct), through
//! an intermediate 9.4.x release (stepwise), or by uninstalling and installing fresh (reinstall).
//! This file owns the parameters and the reading order; then `facts` (gather everything that
//! informs a decision), `plan` (the pure decision: path, refusals, steps), `journal` (what is
//! done, for resuming), `execute` (apply the steps) and `outcome` (the results).
//!
//! The run is a list of steps decided up front (the plan, which check mode prints in full). Steps
//! that change the node are recorded in a small journal as they finish, so a rerun with the same
//! arguments resumes at the first step not done: a half-finished upgrade never needs hand repair.

mod execute;
pub mod facts;
pub mod journal;
pub mod outcome;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod rollback;
#[cfg(test)]
mod rollback_tests;

use crate::lifekeeper::media::Mode as MediaMode;
use crate::lifekeeper::node_lock;
use crate::lifekeeper::setup::Mode as SetupMode;
use crate::lifekeeper::version::Version;
use crate::runtime::{
    check_abs_path, Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support, LKROOT,
};
use serde::Deserialize;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

const PARAMS: &[Param] = &[
    Param::new("version", Kind::Str, "The target LifeKeeper version, e.g. C(9.6.1).").required(),
    Param::new(
        "media",
        Kind::AbsPath,
        "Absolute path of the target release's ISO image (e.g. C(/srv/sps_961.img)). Mutually exclusive with media_dir.",
    ),
    Param::new(
        "media_dir",
        Kind::AbsPath,
        "Absolute path of the target release's media, already mounted or extracted (holds C(setup)). Not cleaned up.",
    ),
    Param::new(
        "media_mode",
        Kind::Str,
        "How to open an ISO image: C(mount) loop-mounts it read-only; C(extract) copies it out with xorriso (or bsdtar); C(auto) mounts and, where mounting is not permitted (an unprivileged container), extracts. Whatever was mounted or extracted is removed on success and on failure.",
    )
    .choices(MediaMode::NAMES)
    .default("\"auto\""),
    Param::new(
        "stepping_media",
        Kind::List,
        "Absolute paths of intermediate release media (ISO images or media directories, e.g. a 9.4.x image). Their versions are read from the media. Makes the stepwise path possible for installs too old to upgrade directly.",
    ),
    Param::new(
        "setup_config",
        Kind::AbsPath,
        "The setup configuration the admin saved once with the real setup menu's Save button. setup_mode menu: loaded through the menu's C(< Load >) on the reinstall path (a fresh install; an upgrade in place goes to C(< Done >) straight away, the menu pre-filled with what is installed). setup_mode args: passed as is through the C({config}) placeholder of setup_args. Where it is needed (reinstall, or args mode) the run refuses up front without it unless generate_setup_config is true.",
    ),
    Param::new(
        "generate_setup_config",
        Kind::Bool,
        "Without setup_config, generate one from recovery_kits, license_files, install_jre and quorum: in menu mode the menu's saved-file format (C(CONFIG_*) symbols), loaded through C(< Load >) on the reinstall path, refused up front when it leaves out an installed Recovery Kit or the quorum/witness package; in args mode C(LKCONF_*) shell keys. UNCONFIRMED: both sets of names are lksim's guess, not the real menu's symbols; only an explicit opt-in (the simulated inventories) uses them.",
    )
    .default("false"),
    Param::new(
        "generated_config_fd",
        Kind::Bool,
        "How the generated setup configuration (it names the license_files) reaches setup. C(true): as a file with no name (created 0600 in work_dir and unlinked at once), inherited by setup and named C(/dev/fd/N) in setup_args' C({config}), so no directory holds it and it cannot outlive the run, even when the module is killed. UNCONFIRMED: that the real setup reads its configuration from such a path (lksim's does); C(false) writes a real file C(work_dir/setup-<pid>.conf) (0600), removed after setup and, if the run was killed, at the start of the next run.",
    )
    .default("true"),
    Param::new(
        "setup_mode",
        Kind::Str,
        "How setup is run. C(menu) (the vendor's documented way): C(cd <media>; ./setup) on a pseudo-terminal, its menu driven from the rendered screen (the release in the title bar checked, the admin's setup_config loaded through C(< Load >) when given, C(< Done >), then C(< Yes >)); before anything is changed the real run starts setup once, reads the title and the main menu and leaves through C(< Done >), C(< No >). C(args): the guessed non-interactive options (setup_args, UNCONFIRMED), probed with C(setup --help).",
    )
    .choices(SetupMode::NAMES)
    .default("\"menu\""),
    Param::new(
        "setup_menu_timeout",
        Kind::Int,
        "setup_mode menu: seconds each screen of the menu may take to appear (the main menu, a dialog). The whole session, the installation included, is bounded by timeout.",
    )
    .default("300")
    .range(1, 86400),
    Param::new(
        "setup_args",
        Kind::List,
        "The arguments of the non-interactive setup; C({config}) is replaced by the configuration file. UNCONFIRMED: the real option letters are not public. Before anything is changed (and in check mode) C(setup --help) is run and the run refuses unless its usage text names every option given here.",
    )
    .default("[\"-f\", \"{config}\", \"-q\", \"y\"]"),
    Param::new(
        "setup_success_regex",
        Kind::Str,
        "The secondary success signal of setup, matched against its output after stripping ANSI escapes. UNCONFIRMED beyond the transcripts (C(Setup complete.) real runs, C(Setup Complete.) the vendor guide). Success itself is exit 0 with the target version installed (C(rpm -q steeleye-lk)); without the text that is a success with a warning.",
    )
    .default("\"(?i)setup complete\\\\.\""),
    Param::new(
        "rmlk_answer",
        Kind::Str,
        "What rmlk is fed on stdin to confirm the removal (UNCONFIRMED). rmlk counts as done only when steeleye-lk is no longer installed.",
    )
    .default("\"y\""),
    Param::new(
        "media_version",
        Kind::Str,
        "The release of the target media (media or media_dir), skipping its detection. Needed for a real C(sps.img) whose version cannot be read from the steeleye-lk package file it holds.",
    ),
    Param::new(
        "start_timeout",
        Kind::Int,
        "Seconds to wait, after lkstart or a setup that (re)started LifeKeeper, for C($LKROOT/config/LK_INITDONE) (start-up finished, as the vendor's scripts wait) before reading lcdstatus or reporting success. Progress goes to stderr.",
    )
    .default("300")
    .range(1, 86400),
    Param::new("recovery_kits", Kind::List, "Recovery kits to install (e.g. C(lkIP)), for the generated setup configuration. Default: the kits installed before the upgrade (a fresh install after rmlk keeps them). A list that leaves out an installed kit is refused before anything changes: loaded into the menu it would remove it."),
    Param::new(
        "license_files",
        Kind::List,
        "Absolute paths of license files to install, for the generated setup configuration.",
    )
    .no_log(),
    Param::new("install_jre", Kind::Bool, "Install the bundled JRE (generated configuration; default true)."),
    Param::new("quorum", Kind::Bool, "Install the quorum/witness kit (generated configuration). Default: as installed before the upgrade; false on a node that has it is refused, as for recovery_kits."),
    Param::new(
        "start_after",
        Kind::Str,
        "C(auto): start LifeKeeper at the end if it was running before the upgrade; C(always); C(never) (the module does not start it; note that setup itself restarts a LifeKeeper that was running when setup began).",
    )
    .choices(StartAfter::NAMES)
    .default("\"auto\""),
    Param::new(
        "allow_reinstall",
        Kind::Bool,
        "Allow the reinstall path (uninstall, install fresh, restore the configuration from the lk_backup archive, re-apply saved parameters). rmlk removes the resource hierarchies and comm paths with LifeKeeper, so it runs only when asked for.",
    )
    .default("false"),
    Param::new(
        "allow_downgrade",
        Kind::Bool,
        "Allow the rollback path: version is OLDER than the installed release (the release the node ran before an upgrade). Needs that release's media (media or media_dir, refused before anything is touched unless it is that release) and backup_dir holding the verified lk_backup taken of this node at that release before the upgrade (its recorded lifekeeper_version must equal version; the newest such backup is used). Steps: verify that backup, save the newer release's defaults file, open the media, lkstop, rmlk, setup of the older release (LifeKeeper not started), restore the backup (C(lkbackup -x -f ARCHIVE)), put back the defaults file lk_backup saved with it, start LifeKeeper (start_after), verify. Journaled and resumable like every path. Without it a downgrade is refused.",
    )
    .default("false"),
    Param::new(
        "restore_config",
        Kind::Bool,
        "On the reinstall path, restore the old release's lk_backup archive (C(lkbackup -x -f ARCHIVE)) onto the fresh release after setup and before LifeKeeper starts. The vendor does NOT restore an old release's lkbackup onto a new release (its update guide uses the lkbackup only to go back to the pre-upgrade release); the vendor's way to keep the hierarchies is the stepwise path through 9.4.x (stepping_media). With false (the default) the hierarchies must be recreated by hand after a reinstall. When true, the new release's /etc/default/LifeKeeper is kept and the saved site parameters are re-applied to it.",
    )
    .default("false"),
    Param::new(
        "backup_dir",
        Kind::AbsPath,
        "lk_backup's directory. Required for the reinstall path, which refuses before touching anything unless it holds a backup of this node that verifies. The saved defaults file, the setup log and the journal go there too.",
    ),
    Param::new(
        "allow_stale_backup",
        Kind::Bool,
        "On the reinstall path, restore the newest backup even when the node's configuration fingerprint (see lk_backup) differs from the one recorded with it (the configuration changed after the backup), with a warning. By default that is refused before anything is touched: the restore would lose the changes.",
    )
    .default("false"),
    Param::new(
        "defaults_base",
        Kind::AbsPath,
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
        "lock_wait",
        Kind::Int,
        "Seconds to wait for the node lock (per lkroot) while another lkops module changes this node; the plan is made after the lock is taken, from what the other run left.",
    )
    .default("3600")
    .range(0, 86400),
    Param::new(
        "work_dir",
        Kind::AbsPath,
        "Where media are mounted or extracted (in a per-run subdirectory that is removed afterwards), the generated setup configuration is written with generated_config_fd: false (mode 0600, removed afterwards), and the setup log is kept when there is no backup_dir.",
    )
    .default("\"/var/tmp/lkops-upgrade\""),
    Param::new(
        "state_dir",
        Kind::AbsPath,
        "Where the journal is kept when there is no backup_dir.",
    )
    .default("\"/var/lib/lkops\""),
    Param::new("defaults_file", Kind::AbsPath, "LifeKeeper's defaults file.").default("\"/etc/default/LifeKeeper\""),
    LKROOT,
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_upgrade",
    short: "Upgrade LifeKeeper on this node: direct, stepwise or reinstall, resumable; roll back with allow_downgrade",
    description: &[
        "Upgrades LifeKeeper for Linux on this node to I(version), choosing the path by the same rules as lk_preflight's LK-VERSION-PATH check: C(direct) (setup from the target media upgrades in place), C(stepwise) (setup from a 9.4.x stepping media first, then the target; resource hierarchies kept) or C(reinstall) (verify the lk_backup archive, save /etc/default/LifeKeeper, lkstop, rmlk, rpm -e of steeleye*/HADR* packages when older than 7.5, install fresh, restore the hierarchies and comm paths with C(lkbackup -x -f ARCHIVE) (restore_config), re-apply the saved parameters).",
        "With allow_downgrade, a I(version) older than the installed release takes the C(rollback) path, back to the release the node ran before an upgrade: verify the backup lk_backup took of this node at I(version) before the upgrade (the newest backup recorded at that release in backup_dir; a backup of another release is refused), save the newer release's /etc/default/LifeKeeper, open the I(version) media (refused before anything is touched unless it is that release), lkstop, rmlk, setup of I(version) (LifeKeeper not started), C(lkbackup -x -f ARCHIVE) of that backup, put back the defaults file lk_backup saved with it (sha256 checked), start LifeKeeper (start_after), verify. The same probes, journal, node lock and setup as the reinstall: a rerun after any step resumes (a node at I(version) whose configuration was not restored yet is not done: issue 28 O3). Without allow_downgrade a downgrade is refused.",
        "setup runs from inside the media, as the vendor documents (C(cd <media>; ./setup)): its working directory is the root of the mounted or wholly extracted image, for every probe and every run. Every media is opened before the first step that changes the node (save defaults, lkstop, rmlk), and an extraction is refused up front when work_dir has no room for it.",
        "setup_mode C(menu) (the default, the vendor's documented way): setup runs on a pseudo-terminal (its own session, TERM=xterm, 40x120) and its menu is read from the rendered screen: the release in the title bar (C(SIOS Protection Suite for Linux 9.6.1-BUILD setup)) must be the target's (else it leaves through C(< Done >), C(< No >) and fails naming both releases); on the reinstall path the admin's setup_config (or, opt-in, a generated one) is loaded through C(< Load >); then C(< Done >) and, at C(Would you like to start installing SPS for Linux with the current settings?), C(< Yes >); the console is followed until setup exits. Buttons are found by their text and highlight and moved to one arrow key at a time; only the documented keys are sent. Any screen it does not recognise stops the run before C(< Yes >) with that screen's text in the message; each screen has setup_menu_timeout, the whole session timeout, and setup's process group is killed on a timeout or an abort.",
        "Probe before destroy, menu mode: before lkstop, rmlk or any setup's C(< Yes >) the real run starts setup from each opened media, reads the title and the main menu and leaves through C(< Done >), C(< No >) (setup will abort): a media whose setup shows no menu, another release or an unexpected screen is refused while the node is untouched. Check mode lists this probe as a planned step and does not start the vendor's installer.",
        "Every menu session's transcript (ANSI escapes removed, followed by each screen the driver read) and last screen are kept beside the journal (backup_dir, else state_dir) and named in the result (setup_transcript, setup_screen).",
        "setup_mode C(args): setup runs non-interactively (setup_args, default C(setup -f CONF -q y), UNCONFIRMED) with stdin /dev/null and no terminal; its process group is killed on timeout. Before anything is changed and in check mode C(setup --help) is run from the media's root (an image is extracted whole into a private temporary directory for it; stdin /dev/null, 30 s) and the run refuses unless the usage text names every option in setup_args; the usage text is returned as setup_usage and kept in the journal.",
        "Either way setup's output is kept in a log file and success is judged by the result: exit 0 and C(rpm -q steeleye-lk) reporting the target; setup_success_regex is a secondary signal. Every media is validated read-only first (setup present and executable, the steeleye-lk package of the release present).",
        "On a rerun every step is judged by its post-condition, not only by the journal: stopping is done when LifeKeeper does not run, the uninstall when steeleye-lk is no longer installed, a setup when its release is installed; a step killed after its effect but before its journal entry is recognised as done.",
        "Before rmlk, every file under lkroot that no installed package owns (kits shipped apart such as C(HANA2-ARK), site scripts under C(lkadm/subsys/gen/app/bin)) is saved beside the verified backup as its own archive, listed in SHA256SUMS; the result lists them as to_reinstall (rmlk deletes them).",
        "Steps that change the node are recorded in a journal (C(upgrade-journal.<node>.json) in backup_dir, else state_dir). A failed step stops the run with a message saying what state the node is in; rerunning with the same arguments resumes from the first step not done.",
        "At the end it verifies that the target version is installed, that LifeKeeper runs when expected, and reports (as a warning) resources in service on this node. It never brings resources into service itself; LifeKeeper may, when a peer dies during the upgrade and this node is the survivor.",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Returns the whole plan (steps with status planned, or done for steps a journal records) and the predicted package diff. Media are probed read-only as in a real run (file list, version from the steeleye-lk package file; with setup_mode args C(setup --help) from the media's root, an image extracted whole into a private temporary directory under TMPDIR for it, and removed); with setup_mode menu the menu probe is a planned step and the vendor's installer is not started; nothing is mounted, nothing written on the node, in work_dir, state_dir or backup_dir. On the reinstall path with no verified backup in backup_dir yet (in a check-mode play lk_backup writes nothing), the plan is returned with its first step, verify backup, saying so and a warning: the real run refuses before touching anything unless the backup exists.",
    ),
    diff_mode: (
        Support::Full,
        "The installed LifeKeeper packages before and after, one per line.",
    ),
    notes: &[
        "Installed version == version means nothing to do: changed is false and no media is touched.",
        "The rollback path (allow_downgrade) restores the older release's own backup with the vendor's stated use of lkbackup (back to the pre-upgrade release); the configuration changes made after the upgrade are lost. A rollback finished once is at the target: a rerun reports changed false. UNCONFIRMED on real hosts: that the older release's setup installs cleanly right after rmlk of the newer one.",
        "The journal records the path chosen at the first run; a rerun with a different version is refused while an upgrade is unfinished.",
        "The media version is read from the steeleye-lk package file the media holds (else lksim's C(sps.version) marker), or taken from media_version. The target media must match version.",
        "The generated setup configuration sets LKCONF_START_LIFEKEEPER=n: LifeKeeper is started by the module's own start step, after the configuration is restored and the saved parameters are re-applied.",
        "C(lkbackup -x) also restores the old release's /etc/default/LifeKeeper; the restore step keeps the fresh release's file (a copy in backup_dir, C(<node>.LifeKeeper.defaults.<version>.fresh), written back atomically after the restore, so a resumed run still has it) and the re-apply step then carries the site's values into it.",
        "The archive a reinstall relies on is recorded in the journal at the first run; a resumed run restores that one (it must still verify), not a newer backup taken of the half-reinstalled node.",
        "The core package set used to predict the package diff in check mode (steeleye-lk, steeleye-lkGUI, steeleye-lkDR) is UNCONFIRMED against real media.",
        "UNCONFIRMED: setup's non-interactive option letters (used only with setup_mode: args; override: setup_args, probed with C(setup --help) first).",
        "UNCONFIRMED: the menu's texts beyond the screenshots (the title bar form, C(Main configuration), the buttons, the confirmation question, the Load box's C(<  Ok  >)); a screen that differs stops the run before C(< Yes >) and is kept in setup_transcript/setup_screen (override: setup_mode: args).",
        "UNCONFIRMED: the menu's saved-file symbol names that generate_setup_config writes in menu mode (C(CONFIG_INSTALL_JRE), C(CONFIG_QUORUM), C(CONFIG_LICENSE_FILES), C(CONFIG_KIT_<KIT>), C(CONFIG_START_LIFEKEEPER); lksim's). A generated configuration never removes anything: one that leaves out an installed Recovery Kit or the quorum/witness package is refused up front (override: setup_config, the file saved with the real menu's Save).",
        "UNCONFIRMED: the saved-configuration format; generated C(LKCONF_*) keys are used only with generate_setup_config: true (override: setup_config, the file saved with the real menu's Save).",
        "UNCONFIRMED: that the real setup reads C(-f /dev/fd/N), the inherited memory file the generated configuration is passed as (it fails if setup closes inherited descriptors or hands the path to a process that does not inherit them); override: generated_config_fd: false (a real 0600 file in work_dir, removed after setup and by the next run when a run was killed).",
        "UNCONFIRMED: setup's success text beyond the transcripts (override: setup_success_regex; the installed version decides).",
        "UNCONFIRMED: rmlk's confirmation answer (override: rmlk_answer).",
        "UNCONFIRMED: where a real media keeps its packages and whether it has a version marker; the version is read from the steeleye-lk package file it holds (override: media_version).",
        "UNCONFIRMED: how long start-up takes until C(LK_INITDONE) appears (override: start_timeout; the vendor's scripts wait about 200 s).",
        "Whether LifeKeeper runs is asked of C($LKROOT/bin/lktest) (exit 0: running), the vendor's own probe; where lktest is missing, lcdstatus's message wording is matched instead, with a warning.",
    ],
    examples: r#"
- name: Upgrade a standby node to 9.6.1 from the ISO image
  lk_upgrade:
    version: 9.6.1
    media: /srv/media/sps_961.img
    setup_config: /root/lifekeeper/setup-node-b.config

- name: Upgrade a 9.3 node through 9.4.3, keeping the hierarchies
  lk_upgrade:
    version: 9.6.1
    media: /srv/media/sps_961.img
    stepping_media: [/srv/media/sps_943.img]
    setup_config: /root/lifekeeper/setup-node-c.config

- name: Reinstall an old node (hierarchies recreated by hand; parameters re-applied; config saved with the menu's Save)
  lk_upgrade:
    version: 9.6.1
    media: /srv/media/sps_961.img
    allow_reinstall: true
    backup_dir: /var/backups/lifekeeper
    setup_config: /root/lifekeeper/setup-node-a.config

- name: Roll a node back to 9.4.0 after an upgrade (the backup lk_backup took at 9.4.0 is restored)
  lk_upgrade:
    version: 9.4.0
    allow_downgrade: true
    media: /srv/media/sps_940.img
    backup_dir: /var/backups/lifekeeper
    setup_config: /root/lifekeeper/setup-940-node-a.config
    start_after: always
"#,
    returns: &[
        Ret::new("path", "str", "always", "none, direct, stepwise, reinstall or rollback.").sample("\"direct\""),
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
        Ret::new("saved_defaults", "str", "reinstall and rollback paths", "The copy of the defaults file found before the first step, in backup_dir."),
        Ret::new("backup", "str", "reinstall and rollback paths", "The verified lk_backup archive this upgrade (or rollback) restores."),
        Ret::new("setup_transcript", "str", "setup_mode menu, when setup was started", "The last menu session's transcript (ANSI escapes removed, then every screen the driver read), kept beside the journal."),
        Ret::new("setup_screen", "str", "setup_mode menu, when setup was started", "The last menu session's last screen as rendered, kept beside the journal."),
        Ret::new("setup_usage", "str", "setup_mode args, when a media was probed", "The usage text C(<media>/setup --help) printed (ANSI escapes removed), which named every option of setup_args."),
        Ret::new("to_reinstall", "list", "reinstall path", "Files under lkroot that no installed package owns (kits shipped apart, site scripts), saved in backup_dir as site_files_archive before rmlk deletes them: reinstall them after the upgrade."),
        Ret::new("site_files_archive", "str", "reinstall path, when such files exist", "The archive in backup_dir (listed in SHA256SUMS) holding the to_reinstall files."),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub version: String,
    pub media: Option<PathBuf>,
    pub media_dir: Option<PathBuf>,
    pub media_mode: MediaMode,
    #[serde(default)]
    pub stepping_media: Vec<PathBuf>,
    pub setup_config: Option<PathBuf>,
    pub generate_setup_config: bool,
    #[serde(default = "yes")]
    pub generated_config_fd: bool,
    pub setup_mode: SetupMode,
    #[serde(default = "default_menu_timeout")]
    pub setup_menu_timeout: i64,
    pub setup_args: Vec<String>,
    pub setup_success_regex: String,
    pub rmlk_answer: String,
    pub media_version: Option<String>,
    pub start_timeout: i64,
    #[serde(default)]
    pub recovery_kits: Vec<String>,
    #[serde(default)]
    pub license_files: Vec<PathBuf>,
    pub install_jre: Option<bool>,
    pub quorum: Option<bool>,
    pub start_after: StartAfter,
    pub allow_reinstall: bool,
    #[serde(default)]
    pub allow_downgrade: bool,
    pub restore_config: bool,
    pub backup_dir: Option<PathBuf>,
    #[serde(default)]
    pub allow_stale_backup: bool,
    pub defaults_base: Option<PathBuf>,
    pub require_standby: bool,
    pub timeout: i64,
    #[serde(default = "default_lock_wait")]
    pub lock_wait: i64,
    pub work_dir: PathBuf,
    pub state_dir: PathBuf,
    pub defaults_file: PathBuf,
    pub lkroot: PathBuf,
}

fn yes() -> bool {
    true
}

fn default_menu_timeout() -> i64 {
    300
}

fn default_lock_wait() -> i64 {
    3600
}

crate::choice_enum! {
    /// When LifeKeeper is started at the end (`start_after`).
    pub enum StartAfter {
        /// If it was running before the upgrade.
        Auto = "auto",
        Always = "always",
        /// The module does not start it.
        Never = "never",
    }
}

pub struct Upgrade;

impl Module for Upgrade {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        let target = validate(&p)?;
        // The node lock before the facts: a run that waited for another one plans from what that
        // one left (issue 22 defect 15), and no other lkops module (lk_resource moving
        // hierarchies here, a second lk_upgrade with another state_dir) changes the node between
        // this plan and its last step (defects 5, 8). Check mode changes nothing: no lock.
        let _node_lock = if ctx.check_mode {
            None
        } else {
            Some(node_lock::take(
                &p.lkroot,
                "lk_upgrade",
                Duration::from_secs(p.lock_wait.max(0) as u64),
            )?)
        };
        let (facts, journal) = facts::gather(&p, ctx, target)?;
        // Whatever killed runs left is removed by every real run, whatever the plan (a run killed
        // after its last effect plans "nothing to do" and never reaches execute).
        let cleaned = if ctx.check_mode {
            vec![]
        } else {
            execute::clean_stale(&p, ctx, &facts.host)
        };
        // Said once, whatever the path: the probe's own warnings and the lktest fallback.
        let mut warnings: Vec<String> = facts
            .target_media
            .iter()
            .chain(facts.stepping.iter())
            .filter_map(|m| m.probe.as_ref().ok())
            .flat_map(|pr| pr.warnings.clone())
            .collect();
        warnings.extend(crate::lifekeeper::status::lktest_missing_warning(&p.lkroot));
        warnings.extend(cleaned);
        let mut o = match plan::plan(&p, target, &facts, journal.as_ref(), ctx.check_mode)? {
            plan::Plan::AtTarget(a) => a.outcome(&facts.journal_path),
            plan::Plan::Upgrade(u) => {
                // The backup's warnings (allow_stale_backup) matter only to a run that upgrades.
                warnings.extend(facts.backup_warnings.iter().cloned());
                if ctx.check_mode {
                    u.predicted(&p, &facts)
                } else {
                    execute::execute(&p, ctx, *u, &facts.journal_path)?
                }
            }
        };
        for w in warnings {
            o.warn(w);
        }
        Ok(o)
    }
}

/// `require_standby` again, right before a step that stops LifeKeeper (lkstop, rmlk, setup): the
/// plan's check may be minutes old (media opened, defaults saved), and a hierarchy brought into
/// service here since then (by hand, or a failover) would be out of service everywhere once
/// LifeKeeper stops (issue 22 defect 5). The node lock keeps lkops modules out; this catches the rest.
fn recheck_standby(p: &Params, ctx: &Ctx) -> Result<(), Failure> {
    if !p.require_standby {
        return Ok(());
    }
    let st = crate::lifekeeper::status::probe(&ctx.runner, &p.lkroot)
        .into_result()
        .map_err(|e| Failure::new(format!("re-checking require_standby: {}", e.msg)))?;
    let busy = plan::in_service(st.as_ref());
    if busy.is_empty() {
        return Ok(());
    }
    Err(Failure::new(format!(
        "resources came into service on this node after the plan was made: {}; stopped before the next destructive step (nothing of it was run). Move them to another node (lk_resource), then rerun",
        busy.join(", ")
    ))
    .with("in_service", busy))
}

/// The configuration generate_setup_config builds from recovery_kits, license_files,
/// install_jre and quorum.
/// The generated setup configuration (generate_setup_config). Without recovery_kits it names
/// the Recovery Kits installed before the upgrade, and without quorum it keeps the quorum package
/// as installed: what the menu, pre-filled with what is installed, would keep, so that a fresh
/// install (reinstall, rollback) removes nothing. An explicit recovery_kits that leaves out an
/// installed kit is refused before anything changes (`config::refuse_removal`).
pub fn generated_conf(p: &Params, installed_before: &[String]) -> crate::lifekeeper::setup::Conf {
    let (kits, quorum) = crate::lifekeeper::setup::config::installed_kits(installed_before);
    crate::lifekeeper::setup::Conf {
        install_jre: p.install_jre.unwrap_or(true),
        recovery_kits: if p.recovery_kits.is_empty() {
            kits
        } else {
            p.recovery_kits.clone()
        },
        license_files: p.license_files.clone(),
        quorum: p.quorum.unwrap_or(quorum),
    }
}

// ---- parameters ----------------------------------------------------------------------------------

fn validate(p: &Params) -> Result<Version, Failure> {
    let target = Version::parse(&p.version)
        .map_err(|e| Failure::param("version", format!("version: {e}")))?;
    if p.media.is_some() && p.media_dir.is_some() {
        return Err(Failure::param(
            "media",
            "media and media_dir are mutually exclusive",
        ));
    }
    // Single paths are Kind::AbsPath (checked by the runtime); list entries are checked here.
    // Absolute paths can never be read as an option by mount, xorriso or setup.
    for m in &p.stepping_media {
        check_abs_path("stepping_media", &m.to_string_lossy())?;
    }
    for l in &p.license_files {
        check_abs_path("license_files", &l.to_string_lossy())?;
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
    if p.setup_args.is_empty() {
        return Err(Failure::param(
            "setup_args",
            "setup_args must not be empty (setup without options opens its interactive menu)",
        ));
    }
    if !p.setup_args.iter().any(|a| a.contains("{config}")) {
        return Err(Failure::param(
            "setup_args",
            "setup_args must pass the configuration file through the {config} placeholder",
        ));
    }
    crate::lifekeeper::setup::success_regex(&p.setup_success_regex)
        .map_err(|e| Failure::param("setup_success_regex", e))?;
    if let Some(v) = &p.media_version {
        Version::parse(v)
            .map_err(|e| Failure::param("media_version", format!("media_version: {e}")))?;
    }
    if p.rmlk_answer.contains('\0') {
        return Err(Failure::param(
            "rmlk_answer",
            "rmlk_answer must not hold a NUL byte",
        ));
    }
    if p.start_timeout <= 0 {
        return Err(Failure::param(
            "start_timeout",
            "start_timeout must be a positive number of seconds",
        ));
    }
    if p.timeout <= 0 {
        return Err(Failure::param(
            "timeout",
            "timeout must be a positive number of seconds",
        ));
    }
    Ok(target)
}

//! lk_preflight: every pre-upgrade requirement of the vendor procedure (seed §3) as a
//! machine-readable report with stable check IDs.
//!
//! The module only reads: it runs probes (`uname`, `rpm`, `getenforce`, `firewall-cmd`, `nft`,
//! `iptables`, `getent`, `df`, `ss`, `lcdstatus -e`) and reads `/etc/services`. Every probe is
//! looked up on PATH, so tests give each simulated node its own stand-ins; a probe that is not
//! installed turns its check into `skip` with a note instead of an error.
//!
//! The check table (`checks!` below) is written once: the report, the `skip` validation and the
//! module documentation all come from it.

//!
//! Reading order: the check table and parameters (here), the facts (`env.rs`), the checks
//! (`checks_host.rs`, `checks_lk.rs`), the report (here). The port and firewall rules are
//! `lifekeeper::ports`.

mod checks_host;
mod checks_lk;
mod env;
mod firewall;
mod kits;
mod mirrors;

use crate::lifekeeper::version::Version;
use crate::runtime::LKROOT;
use crate::runtime::{Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support};
use checks_host::{
    check_arch, check_localhost, check_pkg_deps, check_resolve, check_selinux, check_sg3utils,
};
use checks_lk::{
    check_comm_paths, check_disk, check_license, check_service, check_site_files, check_standby,
    check_version_path, needs_new_license, path_of,
};
use env::{running, Env};
use firewall::check_firewall;
use kits::check_hana_genapp;
use mirrors::check_mirrors;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::cell::OnceCell;
use std::path::PathBuf;

// ---- the check table ------------------------------------------------------------------------

/// One row of the check table.
struct CheckDef {
    id: &'static str,
    title: &'static str,
    severity: &'static str,
    run: fn(&Env) -> Finding,
}

/// Declares the table once and derives the documentation lines from it.
macro_rules! checks {
    ($( $id:literal, $sev:literal, $title:literal => $f:path; )*) => {
        const CHECKS: &[CheckDef] = &[ $( CheckDef { id: $id, title: $title, severity: $sev, run: $f } ),* ];
        const DESCRIPTION: &[&str] = &[
            "Checks every pre-upgrade requirement of the LifeKeeper v9.6.1 update procedure (seed §3) on the node it runs on and returns a report with stable check IDs; it never changes anything.",
            "Each check returns status pass, warn, fail or skip, with severity, expected, actual, msg and remedy. A probe that is missing on the host gives skip with a note.",
            "The module fails when any check reaches the O(fail_on) level; the message lists the failing IDs and their remedies.",
            "Checks (ID [severity] title):",
            $( concat!("C(", $id, ") [", $sev, "] ", $title) ),*
        ];
    };
}

checks! {
    "LK-ARCH-64BIT", "critical", "64-bit OS (uname -m); 32-bit is not supported since v8.2." => check_arch;
    "LK-NET-RESOLVE", "high", "Every cluster node name resolves (getent ahosts, following nsswitch and /etc/hosts)." => check_resolve;
    "LK-NET-LOCALHOST", "medium", "localhost resolves to 127.0.0.1 (the GUI needs it)." => check_localhost;
    "LK-FW-PORTS", "high", "The active firewall (firewalld, nftables or iptables) allows 7365/tcp, 778/tcp (API/SSL between nodes, 9.5+; warns), 81-82/tcp, 1024-65535/tcp and each DataKeeper mirror port 10001+mirror+256*i." => check_firewall;
    "LK-SELINUX", "high", "SELinux disabled; permissive only with tested Recovery Kits and allow_selinux_permissive; enforcing fails." => check_selinux;
    "LK-PKG-DEPS", "high", "The OS packages the installer needs are installed (rpm -q or dpkg-query)." => check_pkg_deps;
    "LK-PKG-SG3UTILS", "medium", "sg3_utils is installed when a multipath Recovery Kit (DMMP, PowerPath, HDLM, SDD, NEC SPS) is." => check_sg3utils;
    "LK-VERSION-PATH", "high", "Upgrade path from the installed version to target_version: none, direct, stepwise, reinstall or unsupported." => check_version_path;
    "LK-LICENSE", "high", "Upgrading from 8.1.x needs new licenses: license_files must be supplied and readable." => check_license;
    "LK-DISK-FREE", "high", "min_free_mb free for each of the installation (lkroot), the media (media_dir) and the backups (backup_dir); requirements add up on a shared filesystem." => check_disk;
    "LK-COMM-PATHS", "high", "Every communication path is ALIVE (a DEAD path warns, all DEAD fails)." => check_comm_paths;
    "LK-STATE-STANDBY", "high", "With require_standby, no resource is ISP or ISU on this node (rolling upgrade)." => check_standby;
    "LK-MIRRORS-SYNCED", "high", "Every DataKeeper mirror (netraid resource) on this node is in sync (mirror_status); with require_standby a mirror resyncing toward this node fails, otherwise not in sync warns." => check_mirrors;
    "LK-SERVICE", "info", "Whether LifeKeeper is running (lktest, the vendor's probe; the lcdstatus wording only where lktest is missing, with a warning), so a playbook knows whether to start it again afterwards." => check_service;
    "LK-KIT-HANA-GENAPP", "critical", "No SAP HANA gen/app based kit (HANA2-ARK under lkroot, or its hana* scripts under lkadm/subsys/gen/app/bin/) when target_version is 9.5.0 or later: it is not supported from 9.5.0 and must first be converted to the built-in SAP HANA Recovery Kit (the vendor's 9.5 upgrading page). How a node shows the kit is UNCONFIRMED; skip the check to override." => check_hana_genapp;
    "LK-SITE-FILES", "medium", "Files under lkroot that no installed package owns and no lkbackup holds (kits shipped apart such as HANA2-ARK, gen/app scripts under lkadm/subsys/gen/app/bin/): rmlk deletes them; warns listing them." => check_site_files;
}

// ---- parameters -----------------------------------------------------------------------------

crate::choice_enum! {
    /// How OS packages are queried (the `package_manager` parameter).
    pub enum PackageManager {
        Auto = "auto",
        Rpm = "rpm",
        Dpkg = "dpkg",
    }
}

crate::choice_enum! {
    /// The check status at which the module fails (the `fail_on` parameter).
    pub enum FailOn {
        Fail = "fail",
        Warn = "warn",
    }
}

const PARAMS: &[Param] = &[
    Param::new("target_version", Kind::Str, "The LifeKeeper version to upgrade to.").default("\"9.6.1\""),
    Param::new("stepping_versions", Kind::List, "Versions of intermediate media you have (e.g. C(9.4.3)). With one that the installed version upgrades to directly, an older installation reports C(stepwise) instead of C(reinstall).").default("[]"),
    Param::new("nodes", Kind::List, "Cluster node names that must resolve. Default: the peers of this node's communication paths (from C(lcdstatus -e)).",),
    Param::new("allow_selinux_permissive", Kind::Bool, "Accept SELinux permissive (as a warning) when every installed Recovery Kit is in the tested list. Without it permissive fails.").default("false"),
    Param::new("required_packages", Kind::List, "OS packages the installer needs. Default: bzip2 cpio gzip iproute iputils lsof patch perl procps-ng psmisc tar util-linux which (rpm), or the Debian names (dpkg). The vendor's dependency list is UNCONFIRMED; override it with the list from your installation guide."),
    Param::new("package_manager", Kind::Str, "How to query OS packages. C(auto) uses rpm when it is on PATH, else dpkg-query; set C(dpkg) on a Debian-family host that also has rpm installed.").choices(PackageManager::NAMES).default("\"auto\""),
    Param::new("datakeeper_mirrors", Kind::IntList, "DataKeeper mirror numbers whose ports (10001 + mirror + 256*i, first free i) must be open. Default: none; mirrors are not detected (their numbering is not visible in lcdstatus), so a node with steeleye-lkDR installed gets a note asking for this list.").range(0, 55534),
    Param::new("services_file", Kind::AbsPath, "The services database consulted when choosing DataKeeper ports (a port listed there is taken).").default("\"/etc/services\""),
    Param::new("min_free_mb", Kind::Int, "Free space (MiB) needed for each of the installation (filesystem of lkroot), the media (media_dir) and the backups (backup_dir); when they share a filesystem the amounts add up.").default("1024").range(0, 1 << 30),
    Param::new("media_dir", Kind::AbsPath, "Where the media image will be copied.").default("\"/tmp\""),
    Param::new("backup_dir", Kind::AbsPath, "Where backups will be written: the O(backup_dir) of lk_backup and lk_upgrade. Not checked when omitted."),
    Param::new("mirror_status_cmd", Kind::AbsPath, "The command that prints a DataKeeper mirror's sync state, run as C(CMD TAG) (LK-MIRRORS-SYNCED). Its output layout is not public (UNCONFIRMED); output the parser does not understand counts as not in sync. Default: C(<lkroot>/bin/mirror_status)."),
    Param::new("require_standby", Kind::Bool, "Require that no resource is in service (ISP/ISU) on this node, as a rolling upgrade does.").default("false"),
    Param::new("license_files", Kind::List, "New license files for an upgrade from 8.1.x. Only their paths are checked (exist, regular, readable); their contents are never read into any output."),
    Param::new("fail_on", Kind::Str, "The check status at which the module fails.").choices(FailOn::NAMES).default("\"fail\""),
    Param::new("skip", Kind::List, "Check IDs not to run (reported as skip).").default("[]"),
    Param::new("timeout", Kind::Int, "Seconds allowed for each probe command (C(lcdstatus), C(rpm), C(df), ...); a probe still running then is killed and its check reports warn (or skip) instead of hanging the run; an lcdstatus that hangs, fails or prints no readable status while LifeKeeper is installed fails LK-COMM-PATHS, LK-STATE-STANDBY and LK-MIRRORS-SYNCED (a stuck LifeKeeper is no state to upgrade from).").default("60").range(1, 86400),
    LKROOT,
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_preflight",
    short: "Pre-upgrade checks for SIOS LifeKeeper with stable check IDs",
    description: DESCRIPTION,
    params: PARAMS,
    check_mode: (
        Support::Full,
        "The module never changes anything; check mode runs the same read-only probes and returns the same report.",
    ),
    diff_mode: (Support::None, "Nothing is changed, so there is no diff."),
    notes: &[
        "Firewall rules are read, not simulated exactly: for nftables and iptables the input chain's rules are evaluated in order by TCP destination port (jumps to other chains are not followed); for firewalld the default zone's C(--list-ports) is used (ports opened through firewalld services are not counted).",
        "A missing 7365/tcp or DataKeeper port fails; missing GUI ports (81, 82, 1024-65535) only warn, because ssh X forwarding is the documented alternative.",
        "A DataKeeper port is free when it is not in O(services_file), not listening (C(ss -ltn)) and not chosen for another mirror.",
        "Upgrade path rules are shared with lk_upgrade (one implementation). C(reinstall) uninstalls, which deletes the resource hierarchies (lk_upgrade restores them from the verified lkbackup archive, O(restore_config)); upgrading via 9.4.x (O(stepping_versions)) keeps them in place.",
    ],
    examples: "- name: Pre-upgrade checks\n  lk_preflight:\n    target_version: 9.6.1\n    backup_dir: /var/backups/lifekeeper\n    require_standby: true\n  register: preflight\n\n- name: Upgrade from 8.1 with new licenses, gating on warnings too\n  lk_preflight:\n    license_files: [/root/licenses/node-a.lic]\n    stepping_versions: [9.4.3]\n    datakeeper_mirrors: [0, 1]\n    fail_on: warn\n    skip: [LK-NET-LOCALHOST]\n",
    returns: &[
        Ret::new("checks", "list", "always", "One entry per check in table order: id, title, status (pass|warn|fail|skip), severity, expected, actual, msg, remedy (null when nothing to do) and, for some checks, details.")
            .sample("[{\"id\": \"LK-ARCH-64BIT\", \"title\": \"64-bit OS\", \"status\": \"pass\", \"severity\": \"critical\", \"expected\": \"64-bit\", \"actual\": \"x86_64\", \"msg\": \"64-bit architecture x86_64\", \"remedy\": null}]"),
        Ret::new("summary", "dict", "always", "Number of checks per status.").sample("{\"pass\": 11, \"warn\": 1, \"fail\": 0, \"skip\": 1}"),
        Ret::new("upgrade_path", "str", "always", "none, direct, stepwise, reinstall or unsupported; null when the installed version cannot be read.").sample("\"direct\""),
        Ret::new("upgrade_via", "str", "when upgrade_path is stepwise", "The intermediate version to upgrade to first.").sample("\"9.4.3\""),
        Ret::new("installed_version", "str", "always", "The installed LifeKeeper version (rpm -q steeleye-lk); null when not installed or unknown.").sample("\"9.4.0\""),
        Ret::new("target_version", "str", "always", "The version checked against.").sample("\"9.6.1\""),
        Ret::new("license_action_required", "bool", "always", "New licenses are needed (upgrade from 8.1.x).").sample("false"),
        Ret::new("lifekeeper_running", "bool", "always", "Whether LifeKeeper is running; null when unknown.").sample("true"),
        Ret::new("datakeeper_ports", "dict", "always", "The port chosen for each DataKeeper mirror (mirror number as key).").sample("{\"0\": 10257}"),
        Ret::new("ansible_facts", "dict", "always", "C(lk_preflight): installed_version, target_version, upgrade_path, upgrade_via, license_action_required, lifekeeper_running, summary, failed (IDs) and warned (IDs).")
            .sample("{\"lk_preflight\": {\"upgrade_path\": \"direct\", \"failed\": [], \"warned\": []}}"),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub target_version: String,
    pub stepping_versions: Vec<String>,
    pub nodes: Option<Vec<String>>,
    pub allow_selinux_permissive: bool,
    pub required_packages: Option<Vec<String>>,
    pub package_manager: PackageManager,
    pub datakeeper_mirrors: Option<Vec<i64>>,
    pub services_file: PathBuf,
    pub min_free_mb: i64,
    pub media_dir: PathBuf,
    pub backup_dir: Option<PathBuf>,
    pub mirror_status_cmd: Option<PathBuf>,
    pub require_standby: bool,
    pub license_files: Option<Vec<String>>,
    pub fail_on: FailOn,
    pub skip: Vec<String>,
    pub timeout: i64,
    pub lkroot: PathBuf,
}

// ---- results --------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// What a check function finds; the runner adds id, title and severity from the table.
#[derive(Debug, Clone)]
struct Finding {
    status: Status,
    expected: String,
    actual: String,
    msg: String,
    remedy: Option<String>,
    details: Option<Value>,
}

impl Finding {
    fn new(
        status: Status,
        expected: impl Into<String>,
        actual: impl Into<String>,
        msg: impl Into<String>,
    ) -> Finding {
        Finding {
            status,
            expected: expected.into(),
            actual: actual.into(),
            msg: msg.into(),
            remedy: None,
            details: None,
        }
    }
    fn pass(
        expected: impl Into<String>,
        actual: impl Into<String>,
        msg: impl Into<String>,
    ) -> Finding {
        Finding::new(Status::Pass, expected, actual, msg)
    }
    fn warn(
        expected: impl Into<String>,
        actual: impl Into<String>,
        msg: impl Into<String>,
    ) -> Finding {
        Finding::new(Status::Warn, expected, actual, msg)
    }
    fn fail(
        expected: impl Into<String>,
        actual: impl Into<String>,
        msg: impl Into<String>,
    ) -> Finding {
        Finding::new(Status::Fail, expected, actual, msg)
    }
    fn skip(expected: impl Into<String>, msg: impl Into<String>) -> Finding {
        Finding::new(Status::Skip, expected, "not checked", msg)
    }
    fn remedy(mut self, r: impl Into<String>) -> Finding {
        self.remedy = Some(r.into());
        self
    }
    fn details(mut self, d: Value) -> Finding {
        self.details = Some(d);
        self
    }
}

#[derive(Debug, Clone, Serialize)]
struct Check {
    id: &'static str,
    title: &'static str,
    status: Status,
    severity: &'static str,
    expected: String,
    actual: String,
    msg: String,
    remedy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Value>,
}

// ---- input validation ---------------------------------------------------------------------------

/// A value passed as one argument to a probe: not empty, not an option, no whitespace/control.
fn plain_word(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.starts_with('-') {
        return Err("starts with '-' and would be read as an option".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or a control character".into());
    }
    Ok(())
}

fn validate<'a>(p: &'a Params, ctx: &'a Ctx) -> Result<Env<'a>, Failure> {
    let target = Version::parse(&p.target_version)
        .map_err(|e| Failure::param("target_version", format!("target_version: {e}")))?;
    let stepping = p
        .stepping_versions
        .iter()
        .map(|s| {
            Version::parse(s)
                .map_err(|e| Failure::param("stepping_versions", format!("stepping_versions: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for id in &p.skip {
        if !CHECKS.iter().any(|c| c.id == id) {
            return Err(Failure::param(
                "skip",
                format!(
                    "skip: unknown check ID '{id}'; valid IDs: {}",
                    CHECKS.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    if let Some(nodes) = &p.nodes {
        for n in nodes {
            plain_word(n).map_err(|e| Failure::param("nodes", format!("nodes: {n:?} {e}")))?;
        }
    }
    let packages = p.required_packages.clone().unwrap_or_default();
    for n in &packages {
        plain_word(n).map_err(|e| {
            Failure::param("required_packages", format!("required_packages: {n:?} {e}"))
        })?;
    }
    let mut mirrors = vec![];
    for m in p.datakeeper_mirrors.iter().flatten() {
        if !(0..=55534).contains(m) {
            return Err(Failure::param("datakeeper_mirrors", format!("datakeeper_mirrors: {m} is not a mirror number (0..55534, so that 10001+mirror is a port)")));
        }
        if !mirrors.contains(&(*m as u16)) {
            mirrors.push(*m as u16);
        }
    }
    if p.min_free_mb < 0 {
        return Err(Failure::param(
            "min_free_mb",
            format!("min_free_mb must be 0 or more, got {}", p.min_free_mb),
        ));
    }
    // Paths reach df and file reads as arguments: lkroot, media_dir, backup_dir and
    // services_file are Kind::AbsPath (absolute, never read as an option, one line).
    let mut license_files = vec![];
    for f in p.license_files.iter().flatten() {
        if f.is_empty() || f.contains('\n') || f.contains('\0') {
            return Err(Failure::param(
                "license_files",
                "license_files: a path is empty or contains a newline/NUL",
            ));
        }
        license_files.push(PathBuf::from(f));
    }
    Ok(Env {
        p,
        ctx,
        target,
        stepping,
        nodes: p.nodes.clone(),
        packages,
        mirrors,
        license_files,
        installed: OnceCell::new(),
        lk_packages: OnceCell::new(),
        lcd: OnceCell::new(),
        lktest: OnceCell::new(),
        dk_ports: OnceCell::new(),
        site_files: OnceCell::new(),
        local_name: OnceCell::new(),
    })
}

// ---- the module ---------------------------------------------------------------------------------

pub struct Preflight;

impl Module for Preflight {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        // Every probe (lcdstatus and rpm included) is bounded by `timeout`: a read-only check
        // must never hang the play.
        let ctx = &ctx.bounded("timeout", p.timeout)?;
        let env = validate(&p, ctx)?;
        let checks = run_checks(&env);
        report(&env, &checks)
    }
}

fn run_checks(env: &Env) -> Vec<Check> {
    CHECKS
        .iter()
        .map(|def| {
            env.ctx.progress(&format!("{} {}", def.id, def.title));
            let f = if env.p.skip.iter().any(|s| s == def.id) {
                Finding::skip("", "skipped by request (skip parameter)")
            } else {
                (def.run)(env)
            };
            Check {
                id: def.id,
                title: def.title,
                status: f.status,
                severity: def.severity,
                expected: f.expected,
                actual: f.actual,
                msg: f.msg,
                remedy: f.remedy,
                details: f.details,
            }
        })
        .collect()
}

fn report(env: &Env, checks: &[Check]) -> Result<Outcome, Failure> {
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let summary = json!({ "pass": count(Status::Pass), "warn": count(Status::Warn), "fail": count(Status::Fail), "skip": count(Status::Skip) });
    let ids = |s: Status| {
        checks
            .iter()
            .filter(|c| c.status == s)
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    let path = path_of(env);
    let installed = env.installed().as_ref().ok().copied().flatten();
    let license_action_required = installed.as_ref().is_some_and(needs_new_license);
    let lk_running = running(env);
    let mut dk_notes = vec![];
    let dk: Map<String, Value> = env
        .dk_ports(&mut dk_notes)
        .iter()
        .map(|(m, p)| (m.to_string(), json!(p)))
        .collect();
    let facts = json!({
        "installed_version": installed.map(|v| v.to_string()),
        "target_version": env.target.to_string(),
        "upgrade_path": path.map(|(p, _)| p.name()),
        "upgrade_via": path.and_then(|(_, v)| v).map(|v| v.to_string()),
        "license_action_required": license_action_required,
        "lifekeeper_running": lk_running,
        "summary": summary,
        "failed": ids(Status::Fail),
        "warned": ids(Status::Warn),
    });
    let data: Vec<(&str, Value)> = vec![
        ("checks", serde_json::to_value(checks).unwrap_or_default()),
        ("summary", summary.clone()),
        ("upgrade_path", json!(path.map(|(p, _)| p.name()))),
        (
            "upgrade_via",
            json!(path.and_then(|(_, v)| v).map(|v| v.to_string())),
        ),
        ("installed_version", json!(installed.map(|v| v.to_string()))),
        ("target_version", json!(env.target.to_string())),
        ("license_action_required", json!(license_action_required)),
        ("lifekeeper_running", json!(lk_running)),
        ("datakeeper_ports", Value::Object(dk)),
        ("ansible_facts", json!({ "lk_preflight": facts })),
    ];
    let level = if env.p.fail_on == FailOn::Warn {
        Status::Warn
    } else {
        Status::Fail
    };
    let failing: Vec<&Check> = checks
        .iter()
        .filter(|c| c.status != Status::Skip && c.status >= level)
        .collect();
    let counts = format!(
        "{} pass, {} warn, {} fail, {} skip",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    );
    if failing.is_empty() {
        let mut o = Outcome::new(false, format!("preflight passed ({counts})"));
        for c in checks.iter().filter(|c| c.status == Status::Warn) {
            o.warn(format!("{}: {}", c.id, c.msg));
        }
        for (k, v) in data {
            o.set(k, v);
        }
        Ok(o)
    } else {
        let parts: Vec<String> = failing
            .iter()
            .map(|c| match &c.remedy {
                Some(r) => format!("{} [{}] {} — remedy: {r}", c.id, c.status.name(), c.msg),
                None => format!("{} [{}] {}", c.id, c.status.name(), c.msg),
            })
            .collect();
        let mut f = Failure::new(format!(
            "preflight failed on {} ({counts}; fail_on={}): {}",
            failing.iter().map(|c| c.id).collect::<Vec<_>>().join(", "),
            env.p.fail_on,
            parts.join(" | ")
        ));
        for (k, v) in data {
            f = f.with(k, v);
        }
        Err(f)
    }
}

// ---- unit tests -----------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ids_are_unique_and_documented() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 16);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 16);
        for c in CHECKS {
            assert!(
                DESCRIPTION
                    .iter()
                    .any(|d| d.starts_with(&format!("C({})", c.id))),
                "{}",
                c.id
            );
        }
    }

    #[test]
    fn plain_word_refuses_options_and_newlines() {
        assert!(plain_word("node-a").is_ok());
        assert!(plain_word("-s").is_err());
        assert!(plain_word("a\nb").is_err());
        assert!(plain_word("").is_err());
    }
}

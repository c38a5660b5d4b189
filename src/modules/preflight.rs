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

use crate::lifekeeper::status as lcd;
use crate::lifekeeper::version::{self, Path as UpPath, Version};
use crate::runtime::LKROOT;
use crate::runtime::{Cmd, Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
    "LK-FW-PORTS", "high", "The active firewall (firewalld, nftables or iptables) allows 7365/tcp, 81-82/tcp, 1024-65535/tcp and each DataKeeper mirror port 10001+mirror+256*i." => check_firewall;
    "LK-SELINUX", "high", "SELinux disabled; permissive only with tested Recovery Kits and allow_selinux_permissive; enforcing fails." => check_selinux;
    "LK-PKG-DEPS", "high", "The OS packages the installer needs are installed (rpm -q or dpkg-query)." => check_pkg_deps;
    "LK-PKG-SG3UTILS", "medium", "sg3_utils is installed when a multipath Recovery Kit (DMMP, PowerPath, HDLM, SDD, NEC SPS) is." => check_sg3utils;
    "LK-VERSION-PATH", "high", "Upgrade path from the installed version to target_version: none, direct, stepwise, reinstall or unsupported." => check_version_path;
    "LK-LICENSE", "high", "Upgrading from 8.1.x needs new licenses: license_files must be supplied and readable." => check_license;
    "LK-DISK-FREE", "high", "min_free_mb free for each of the installation (lkroot), the media (media_dir) and the backups (backup_dir); requirements add up on a shared filesystem." => check_disk;
    "LK-COMM-PATHS", "high", "Every communication path is ALIVE (a DEAD path warns, all DEAD fails)." => check_comm_paths;
    "LK-STATE-STANDBY", "high", "With require_standby, no resource is ISP or ISU on this node (rolling upgrade)." => check_standby;
    "LK-SERVICE", "info", "Whether LifeKeeper is running, so a playbook knows whether to start it again afterwards." => check_service;
}

/// Ports LifeKeeper needs open (seed §3.3): (first, last, what, a closed port fails?).
/// The GUI ports only warn: the GUI is optional and ssh X forwarding is the documented alternative.
const LK_PORTS: &[(u16, u16, &str, bool)] = &[
    (7365, 7365, "communication paths", true),
    (81, 81, "GUI server", false),
    (82, 82, "GUI server", false),
    (1024, 65535, "GUI RMI", false),
];

/// Recovery Kit RPM suffixes (steeleye-lk<KIT>) tested with SELinux permissive (seed §3.4), with
/// the names the procedure uses. FileSystem is part of the core package.
const PERMISSIVE_TESTED_KITS: &[(&str, &str)] = &[
    ("lkSAP", "SAP"),
    ("lkSAPDB", "SAP MaxDB"),
    ("lkSYBASE", "Sybase"),
    ("lkORA", "Oracle"),
    ("lkDB2", "DB2"),
    ("lkNFS", "NFS"),
    ("lkDR", "DataKeeper"),
    ("lkNAS", "NAS"),
    ("lkEC2", "EC2"),
    ("lkIP", "IP"),
    ("lkMQS", "MQ"),
];

/// LifeKeeper packages that are not Recovery Kits (core, GUI, man pages, API, quorum/witness).
/// UNCONFIRMED beyond steeleye-lk and steeleye-lkGUI (reference Gaps 8).
const NOT_KITS: &[&str] = &[
    "steeleye-lk",
    "steeleye-lkGUI",
    "steeleye-lkMAN",
    "steeleye-lkapi",
    "steeleye-lkQWK",
];

/// Multipath Recovery Kits that need sg3_utils (seed §3.5): DMMP, PowerPath, HDLM, SDD, NEC SPS.
const MULTIPATH_KITS: &[&str] = &[
    "steeleye-lkDMMP",
    "steeleye-lkPPATH",
    "steeleye-lkHDLM",
    "steeleye-lkSDD",
    "steeleye-lkSPS",
];

/// Default `required_packages` (the vendor's "Linux Dependencies" list was not retrievable,
/// reference Gaps 10): the tools LifeKeeper's scripts and setup use that a minimal install lacks.
const DEFAULT_RPM_PACKAGES: &[&str] = &[
    "bzip2",
    "cpio",
    "gzip",
    "iproute",
    "iputils",
    "lsof",
    "patch",
    "perl",
    "procps-ng",
    "psmisc",
    "tar",
    "util-linux",
    "which",
];
const DEFAULT_DEB_PACKAGES: &[&str] = &[
    "bzip2",
    "cpio",
    "gzip",
    "iproute2",
    "iputils-ping",
    "lsof",
    "patch",
    "perl",
    "procps",
    "psmisc",
    "tar",
    "util-linux",
    "debianutils",
];

// ---- parameters -----------------------------------------------------------------------------

const PARAMS: &[Param] = &[
    Param::new("target_version", Kind::Str, "The LifeKeeper version to upgrade to.").default("\"9.6.1\""),
    Param::new("stepping_versions", Kind::List, "Versions of intermediate media you have (e.g. C(9.4.3)). With one that the installed version upgrades to directly, an older installation reports C(stepwise) instead of C(reinstall).").default("[]"),
    Param::new("nodes", Kind::List, "Cluster node names that must resolve. Default: the peers of this node's communication paths (from C(lcdstatus -e)).",),
    Param::new("allow_selinux_permissive", Kind::Bool, "Accept SELinux permissive (as a warning) when every installed Recovery Kit is in the tested list. Without it permissive fails.").default("false"),
    Param::new("required_packages", Kind::List, "OS packages the installer needs. Default: bzip2 cpio gzip iproute iputils lsof patch perl procps-ng psmisc tar util-linux which (rpm), or the Debian names (dpkg). The vendor's dependency list is UNCONFIRMED; override it with the list from your installation guide."),
    Param::new("package_manager", Kind::Str, "How to query OS packages. C(auto) uses rpm when it is on PATH, else dpkg-query; set C(dpkg) on a Debian-family host that also has rpm installed.").choices(&["auto", "rpm", "dpkg"]).default("\"auto\""),
    Param::new("datakeeper_mirrors", Kind::IntList, "DataKeeper mirror numbers whose ports (10001 + mirror + 256*i, first free i) must be open. Default: none; mirrors are not detected (their numbering is not visible in lcdstatus), so a node with steeleye-lkDR installed gets a note asking for this list.").range(0, 55534),
    Param::new("services_file", Kind::Path, "The services database consulted when choosing DataKeeper ports (a port listed there is taken).").default("\"/etc/services\""),
    Param::new("min_free_mb", Kind::Int, "Free space (MiB) needed for each of the installation (filesystem of lkroot), the media (media_dir) and the backups (backup_dir); when they share a filesystem the amounts add up.").default("1024").range(0, 1 << 30),
    Param::new("media_dir", Kind::Path, "Where the media image will be copied.").default("\"/tmp\""),
    Param::new("backup_dir", Kind::Path, "Where backups will be written (lk_backup dest). Not checked when omitted."),
    Param::new("require_standby", Kind::Bool, "Require that no resource is in service (ISP/ISU) on this node, as a rolling upgrade does.").default("false"),
    Param::new("license_files", Kind::List, "New license files for an upgrade from 8.1.x. Only their paths are checked (exist, regular, readable); their contents are never read into any output."),
    Param::new("fail_on", Kind::Str, "The check status at which the module fails.").choices(&["fail", "warn"]).default("\"fail\""),
    Param::new("skip", Kind::List, "Check IDs not to run (reported as skip).").default("[]"),
    Param::new("timeout", Kind::Int, "Seconds allowed for each probe command (C(lcdstatus), C(rpm), C(df), ...); a probe still running then is killed and its check reports warn (or skip) instead of hanging the run.").default("60").range(1, 86400),
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
    pub package_manager: String,
    pub datakeeper_mirrors: Option<Vec<i64>>,
    pub services_file: PathBuf,
    pub min_free_mb: i64,
    pub media_dir: PathBuf,
    pub backup_dir: Option<PathBuf>,
    pub require_standby: bool,
    pub license_files: Option<Vec<String>>,
    pub fail_on: String,
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

// ---- probes shared by several checks ----------------------------------------------------------

/// What `lcdstatus -e` told us.
#[derive(Debug, Clone)]
enum Lcd {
    /// lcdstatus is not installed (no LifeKeeper at lkroot).
    Missing(String),
    /// lcdstatus failed saying LifeKeeper is not running.
    Stopped,
    /// lcdstatus failed otherwise, or printed something unparseable.
    Error(String),
    Up(lcd::Status),
}

/// The validated parameters plus lazily run probes (a skipped check runs none of its probes).
struct Env<'a> {
    p: &'a Params,
    ctx: &'a Ctx,
    target: Version,
    stepping: Vec<Version>,
    nodes: Option<Vec<String>>,
    packages: Vec<String>,
    mirrors: Vec<u16>,
    license_files: Vec<PathBuf>,
    installed: OnceCell<Result<Option<Version>, String>>,
    lk_packages: OnceCell<Result<Vec<String>, String>>,
    lcd: OnceCell<Lcd>,
    dk_ports: OnceCell<BTreeMap<u16, u16>>,
}

impl Env<'_> {
    /// The installed LifeKeeper version (shared rule: `rpm -q steeleye-lk`).
    fn installed(&self) -> &Result<Option<Version>, String> {
        self.installed
            .get_or_init(|| version::installed(&self.ctx.runner))
    }
    /// Names (without version) of the installed LifeKeeper packages.
    fn lk_packages(&self) -> &Result<Vec<String>, String> {
        self.lk_packages.get_or_init(|| {
            version::packages(&self.ctx.runner).map(|v| v.iter().map(|n| rpm_name(n)).collect())
        })
    }
    fn lcd(&self) -> &Lcd {
        self.lcd.get_or_init(|| {
            let cmd = Cmd::lk(&self.p.lkroot, "lcdstatus").arg("-e");
            match self.ctx.runner.run(&cmd) {
                Err(e) if e.not_found => Lcd::Missing(e.msg),
                Err(e) => Lcd::Error(e.msg),
                Ok(out) if !out.ok() => {
                    let text = format!("{}\n{}", out.stdout, out.stderr);
                    if !out.timed_out && lcd::says_not_running(&text) {
                        Lcd::Stopped
                    } else {
                        Lcd::Error(out.failure("reading the status").msg)
                    }
                }
                Ok(out) => match lcd::parse(&out.stdout) {
                    Ok(s) => Lcd::Up(s),
                    Err(e) => Lcd::Error(format!("cannot parse `lcdstatus -e`: {e}")),
                },
            }
        })
    }
    /// Run a probe; `Err(Some(note))` when the program is missing (→ skip), `Err(None)` never.
    fn probe(&self, cmd: Cmd) -> Probe {
        match self.ctx.runner.run(&cmd) {
            Ok(out) => Probe::Ran(out),
            Err(e) if e.not_found => Probe::Missing(format!("{} not found on PATH", e.cmd[0])),
            Err(e) => Probe::Missing(e.msg),
        }
    }
}

enum Probe {
    Ran(crate::runtime::CmdOutput),
    Missing(String),
}

/// `steeleye-lkIP-9.4.0-1.noarch` → `steeleye-lkIP` (name-version-release.arch).
fn rpm_name(nevra: &str) -> String {
    let mut parts: Vec<&str> = nevra.rsplitn(3, '-').collect();
    if parts.len() == 3 {
        parts.pop().unwrap_or_default().to_string()
    } else {
        nevra.to_string()
    }
}

// ---- the checks -------------------------------------------------------------------------------

fn check_arch(env: &Env) -> Finding {
    let expected = "64-bit (x86_64, aarch64, ppc64le, s390x)";
    let out = match env.probe(Cmd::new("uname").arg("-m")) {
        Probe::Missing(n) => {
            return Finding::skip(expected, format!("cannot read the architecture: {n}"))
        }
        Probe::Ran(o) => o,
    };
    let arch = out.stdout.trim().to_string();
    if !out.ok() || arch.is_empty() {
        return Finding::warn(
            expected,
            "unknown",
            format!("`uname -m` failed: {}", out.tail()),
        );
    }
    if arch.contains("64") || arch == "s390x" {
        Finding::pass(expected, &arch, format!("64-bit architecture {arch}"))
    } else {
        Finding::fail(
            expected,
            &arch,
            format!("{arch} is 32-bit; LifeKeeper does not support 32-bit since v8.2"),
        )
        .remedy("Move the node to a 64-bit OS before upgrading (seed §3.1).")
    }
}

fn check_resolve(env: &Env) -> Finding {
    let expected = "every cluster node name resolves";
    let (nodes, source) = match &env.nodes {
        Some(n) => (n.clone(), "nodes parameter"),
        None => match env.lcd() {
            Lcd::Up(s) => (s.peers(), "communication paths"),
            other => {
                return Finding::skip(
                    expected,
                    format!("no node names to check: nodes not given and the comm-path peers are unknown ({})", lcd_why(other)),
                )
            }
        },
    };
    if nodes.is_empty() {
        return Finding::skip(
            expected,
            format!("no node names to check (none in the {source})"),
        );
    }
    let mut resolved = vec![];
    let mut failed = vec![];
    for n in &nodes {
        if let Err(e) = plain_word(n) {
            failed.push(format!("{n:?} ({e})"));
            continue;
        }
        match env.probe(Cmd::new("getent").args(["ahosts", n])) {
            Probe::Missing(m) => {
                return Finding::skip(expected, format!("cannot resolve names: {m}"))
            }
            Probe::Ran(o) => match first_address(&o.stdout) {
                Some(a) if o.ok() => resolved.push(format!("{n}={a}")),
                _ => failed.push(n.clone()),
            },
        }
    }
    let actual = resolved
        .iter()
        .cloned()
        .chain(failed.iter().map(|f| format!("{f}=UNRESOLVED")))
        .collect::<Vec<_>>()
        .join(", ");
    if failed.is_empty() {
        Finding::pass(
            expected,
            actual,
            format!("{} node name(s) resolve ({source})", nodes.len()),
        )
    } else {
        Finding::fail(
            expected,
            actual,
            format!("node name(s) do not resolve: {}", failed.join(", ")),
        )
        .remedy("Add every cluster node to DNS or /etc/hosts on every node (seed §3.2).")
    }
}

/// The first address of `getent ahosts` output (`ADDR  STREAM name`).
fn first_address(out: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.split_whitespace().next())
        .map(String::from)
}

fn check_localhost(env: &Env) -> Finding {
    let expected = "localhost resolves to 127.0.0.1";
    let out = match env.probe(Cmd::new("getent").args(["ahosts", "localhost"])) {
        Probe::Missing(m) => return Finding::skip(expected, format!("cannot resolve names: {m}")),
        Probe::Ran(o) => o,
    };
    let addrs: BTreeSet<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    let actual = if addrs.is_empty() {
        "UNRESOLVED".to_string()
    } else {
        addrs.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    if out.ok() && addrs.contains("127.0.0.1") {
        Finding::pass(expected, actual, "localhost resolves to 127.0.0.1")
    } else {
        Finding::fail(
            expected,
            actual,
            "localhost does not resolve to 127.0.0.1 (the GUI needs it)",
        )
        .remedy("Add `127.0.0.1 localhost` to /etc/hosts (seed §3.2).")
    }
}

fn lcd_why(l: &Lcd) -> String {
    match l {
        Lcd::Missing(m) => format!("lcdstatus: {m}"),
        Lcd::Stopped => "LifeKeeper is not running".into(),
        Lcd::Error(e) => e.clone(),
        Lcd::Up(_) => "LifeKeeper is running".into(),
    }
}

// -- firewall --

/// A TCP port range and the verdict of one firewall rule.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    /// `None`: the rule matches every new TCP connection (a catch-all).
    ports: Option<Vec<(u16, u16)>>,
    accept: bool,
}

/// The input filter of the active firewall, reduced to what decides a new TCP connection.
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    name: &'static str,
    rules: Vec<Rule>,
    policy_accept: bool,
}

impl Filter {
    /// First matching rule wins, else the policy.
    fn allows(&self, port: u16) -> bool {
        for r in &self.rules {
            match &r.ports {
                None => return r.accept,
                Some(ranges) if ranges.iter().any(|(a, b)| *a <= port && port <= *b) => {
                    return r.accept
                }
                _ => {}
            }
        }
        self.policy_accept
    }
    /// Filtering at all: a restrictive policy or some rule that drops.
    fn active(&self) -> bool {
        !self.policy_accept || self.rules.iter().any(|r| !r.accept)
    }
}

/// Parse `80`, `1024-65535` (nft), `1024:65535` (iptables), lists `81,82` / `{ 81, 82 }`.
fn parse_ports(spec: &str) -> Vec<(u16, u16)> {
    spec.split([',', ' ', '{', '}'])
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let (a, b) = s.split_once(['-', ':']).unwrap_or((s, s));
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        })
        .collect()
}

/// `firewall-cmd --list-ports` → `7365/tcp 81-82/tcp` (tcp only); firewalld rejects the rest.
fn firewalld_filter(list_ports: &str) -> Filter {
    let ranges = list_ports
        .split_whitespace()
        .filter_map(|t| t.strip_suffix("/tcp"))
        .flat_map(parse_ports)
        .collect();
    Filter {
        name: "firewalld",
        rules: vec![Rule {
            ports: Some(ranges),
            accept: true,
        }],
        policy_accept: false,
    }
}

/// `nft list ruleset`: the chains hooked on input, their rules in order. `None` when no chain
/// filters input (nftables is not active for inbound traffic).
fn nft_filter(ruleset: &str) -> Option<Filter> {
    let mut rules = vec![];
    let mut policy_accept = true;
    let mut found = false;
    let mut in_input = false;
    let mut depth_at_chain = 0usize;
    let mut depth = 0usize;
    for line in ruleset.lines() {
        let l = line.trim();
        if l.starts_with("chain ") && l.ends_with('{') {
            depth_at_chain = depth;
            in_input = false;
        }
        if l.contains("hook input") && l.contains("type filter") {
            in_input = true;
            found = true;
            if l.contains("policy drop") || l.contains("policy reject") {
                policy_accept = false;
            }
        } else if in_input && !l.starts_with("chain ") && !l.is_empty() && l != "}" {
            if let Some(r) = rule_from_words(
                l,
                "tcp dport",
                &["accept"],
                &["drop", "reject"],
                &[
                    "ct state",
                    "iif",
                    "iifname",
                    "icmp",
                    "udp",
                    "meta l4proto",
                    "jump",
                    "goto",
                ],
            ) {
                rules.push(r);
            }
        }
        depth += l.matches('{').count();
        depth = depth.saturating_sub(l.matches('}').count());
        if depth <= depth_at_chain {
            in_input = false;
        }
    }
    found.then_some(Filter {
        name: "nftables",
        rules,
        policy_accept,
    })
}

/// `iptables -S INPUT`: `-P INPUT DROP`, `-A INPUT -p tcp -m tcp --dport 7365 -j ACCEPT`, ...
fn iptables_filter(rules_text: &str) -> Filter {
    let mut rules = vec![];
    let mut policy_accept = true;
    for l in rules_text.lines().map(str::trim) {
        if let Some(p) = l.strip_prefix("-P INPUT ") {
            policy_accept = p.trim() == "ACCEPT";
            continue;
        }
        if !l.starts_with("-A INPUT") {
            continue;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        let target = words
            .iter()
            .position(|w| *w == "-j")
            .and_then(|i| words.get(i + 1))
            .copied()
            .unwrap_or("");
        let accept = match target {
            "ACCEPT" => true,
            "DROP" | "REJECT" => false,
            _ => continue, // jumps to other chains are not followed
        };
        let port_spec = words
            .iter()
            .position(|w| *w == "--dport" || *w == "--dports" || *w == "--destination-port")
            .and_then(|i| words.get(i + 1));
        let proto = words
            .iter()
            .position(|w| *w == "-p")
            .and_then(|i| words.get(i + 1))
            .copied();
        let other_match = ["-i", "--state", "--ctstate", "icmp"]
            .iter()
            .any(|m| words.contains(m));
        match (port_spec, proto) {
            (Some(spec), Some("tcp")) => rules.push(Rule {
                ports: Some(parse_ports(spec)),
                accept,
            }),
            (Some(_), _) => {} // udp ports
            (None, Some(p)) if p != "tcp" => {}
            (None, _) if other_match => {}
            (None, _) => rules.push(Rule {
                ports: None,
                accept,
            }),
        }
    }
    Filter {
        name: "iptables",
        rules,
        policy_accept,
    }
}

/// One nft rule line → Rule: a port rule when it names `tcp dport`, a catch-all when it has a
/// verdict and no other match, ignored otherwise (established traffic, loopback, icmp, jumps).
fn rule_from_words(
    l: &str,
    port_kw: &str,
    accept: &[&str],
    deny: &[&str],
    other: &[&str],
) -> Option<Rule> {
    let words: Vec<&str> = l.split_whitespace().collect();
    let verdict = if words.iter().any(|w| accept.contains(w)) {
        true
    } else if words.iter().any(|w| deny.contains(w)) {
        false
    } else {
        return None;
    };
    if let Some(i) = l.find(port_kw) {
        let rest = &l[i + port_kw.len()..];
        let spec = if let Some(open) = rest.trim_start().strip_prefix('{') {
            open.split('}').next().unwrap_or_default().to_string()
        } else {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        };
        return Some(Rule {
            ports: Some(parse_ports(&spec)),
            accept: verdict,
        });
    }
    if other.iter().any(|o| l.contains(o)) || l.contains("dport") {
        return None;
    }
    Some(Rule {
        ports: None,
        accept: verdict,
    })
}

/// Reads one tool's rules; `None` when it has no input filter.
type FilterParser = fn(&str) -> Option<Filter>;

/// What the firewall probes found.
struct FwProbe {
    /// The active firewall's input filter; `None` when no firewall filters input.
    filter: Option<Filter>,
    notes: Vec<String>,
    /// A probe ran but failed (e.g. not root), so "none active" is not certain.
    inconclusive: bool,
}

/// Find the active firewall: firewalld, else nftables, else iptables.
/// `Err` when no firewall tool exists at all (→ skip).
fn active_filter(env: &Env) -> Result<FwProbe, String> {
    let mut p = FwProbe {
        filter: None,
        notes: vec![],
        inconclusive: false,
    };
    let mut ran_any = false;
    match env.probe(Cmd::new("firewall-cmd").arg("--state")) {
        Probe::Ran(o) => {
            ran_any = true;
            if o.ok() && o.stdout.trim() == "running" {
                return match env.probe(Cmd::new("firewall-cmd").arg("--list-ports")) {
                    Probe::Ran(l) if l.ok() => {
                        p.filter = Some(firewalld_filter(&l.stdout));
                        Ok(p)
                    }
                    Probe::Ran(l) => Err(l.failure("listing firewalld ports").msg),
                    Probe::Missing(m) => Err(m),
                };
            }
            p.notes.push("firewalld is not running".into());
        }
        Probe::Missing(m) => p.notes.push(m),
    }
    let others: [(Cmd, FilterParser); 2] = [
        (Cmd::new("nft").args(["list", "ruleset"]), nft_filter),
        (Cmd::new("iptables").args(["-S", "INPUT"]), |t| {
            Some(iptables_filter(t))
        }),
    ];
    for (cmd, parse) in others {
        let shown = cmd.display().join(" ");
        let name = cmd.display()[0].clone();
        match env.probe(cmd) {
            Probe::Ran(o) if o.ok() => {
                ran_any = true;
                match parse(&o.stdout) {
                    Some(f) if f.active() => {
                        p.filter = Some(f);
                        return Ok(p);
                    }
                    _ => p.notes.push(format!("{name} does not filter input")),
                }
            }
            Probe::Ran(o) => {
                ran_any = true;
                p.inconclusive = true;
                p.notes.push(format!("`{shown}` failed: {}", o.tail()));
            }
            Probe::Missing(m) => p.notes.push(m),
        }
    }
    if ran_any {
        Ok(p)
    } else {
        Err(p.notes.join("; "))
    }
}

/// Ports listed in a services file (`name port/proto [aliases] [# comment]`).
fn services_ports(text: &str) -> BTreeSet<u16> {
    text.lines()
        .filter_map(|l| l.split('#').next())
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|pp| pp.split('/').next()?.parse().ok())
        .collect()
}

/// Listening TCP ports from `ss -ltn` (local address is the 4th column, `addr:port`).
fn listening_ports(ss: &str) -> BTreeSet<u16> {
    ss.lines()
        .filter(|l| !l.starts_with("State"))
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|a| a.rsplit(':').next()?.parse().ok())
        .collect()
}

/// DataKeeper port per mirror (seed §3.3): the first 10001 + m + 256*i that is not in the
/// services file, not listening and not chosen for another mirror.
fn datakeeper_ports(mirrors: &[u16], taken: &BTreeSet<u16>) -> BTreeMap<u16, u16> {
    let mut used: BTreeSet<u16> = BTreeSet::new();
    let mut out = BTreeMap::new();
    for &m in mirrors {
        let mut port = 10001u32 + u32::from(m);
        while port <= 65535 {
            let p = port as u16;
            if !taken.contains(&p) && !used.contains(&p) {
                used.insert(p);
                out.insert(m, p);
                break;
            }
            port += 256;
        }
    }
    out
}

impl Env<'_> {
    /// The DataKeeper ports and the notes on how they were chosen.
    fn dk_ports(&self, notes: &mut Vec<String>) -> &BTreeMap<u16, u16> {
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

fn check_firewall(env: &Env) -> Finding {
    let mut notes: Vec<String> = vec![];
    let dk = env.dk_ports(&mut notes).clone();
    for m in &env.mirrors {
        if !dk.contains_key(m) {
            notes.push(format!("mirror {m}: no free port up to 65535"));
        }
    }
    if env.mirrors.is_empty() {
        if let Ok(pk) = env.lk_packages() {
            if pk.iter().any(|n| n == "steeleye-lkDR") {
                notes.push(
                    "DataKeeper is installed: pass datakeeper_mirrors to check its ports".into(),
                );
            }
        }
    }
    let mut wanted: Vec<(u16, u16, String, bool)> = LK_PORTS
        .iter()
        .map(|(a, b, w, f)| (*a, *b, w.to_string(), *f))
        .collect();
    for (m, p) in &dk {
        wanted.push((*p, *p, format!("DataKeeper mirror {m}"), true));
    }
    let expected = wanted
        .iter()
        .map(|(a, b, w, _)| {
            if a == b {
                format!("{a}/tcp ({w})")
            } else {
                format!("{a}-{b}/tcp ({w})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
        + " allowed";
    let dk_json: Map<String, Value> = dk.iter().map(|(m, p)| (m.to_string(), json!(p))).collect();
    let probe = match active_filter(env) {
        Ok(x) => x,
        Err(e) => {
            return Finding::skip(expected, format!("no firewall tool found: {e}"))
                .details(json!({ "datakeeper_ports": dk_json }))
        }
    };
    notes.extend(probe.notes);
    let Some(f) = probe.filter else {
        if probe.inconclusive {
            return Finding::warn(
                expected,
                "unknown",
                format!(
                    "no active firewall found, but a firewall probe failed ({})",
                    notes.join("; ")
                ),
            )
            .remedy("Run lk_preflight as root (become: true) so the firewall rules can be read.")
            .details(json!({ "firewall": null, "datakeeper_ports": dk_json, "notes": notes }));
        }
        let mut f = Finding::pass(
            expected,
            "no active firewall",
            "no firewall is active; every port is reachable",
        );
        f.msg = format!("{} ({})", f.msg, notes.join("; "));
        return f.details(json!({ "firewall": null, "datakeeper_ports": dk_json, "notes": notes }));
    };
    let mut closed_fail = vec![];
    let mut closed_warn = vec![];
    for (a, b, w, fails) in &wanted {
        let all_open = if a == b {
            f.allows(*a)
        } else {
            (*a..=*b).all(|p| f.allows(p))
        };
        if !all_open {
            let label = if a == b {
                format!("{a}/tcp ({w})")
            } else {
                format!("{a}-{b}/tcp ({w})")
            };
            if *fails {
                closed_fail.push(label)
            } else {
                closed_warn.push(label)
            }
        }
    }
    let closed: Vec<String> = closed_fail
        .iter()
        .chain(closed_warn.iter())
        .cloned()
        .collect();
    let actual = if closed.is_empty() {
        format!("{}: all allowed", f.name)
    } else {
        format!("{}: closed {}", f.name, closed.join(", "))
    };
    let details = json!({ "firewall": f.name, "closed": closed, "datakeeper_ports": dk_json, "notes": notes });
    let port_args: Vec<String> = closed_fail
        .iter()
        .chain(closed_warn.iter())
        .map(|l| l.split('/').next().unwrap_or_default().to_string())
        .collect();
    let remedy = match f.name {
        "firewalld" => format!(
            "{} && firewall-cmd --reload (seed §3.3; for the GUI, ssh X forwarding avoids opening the RMI range)",
            port_args.iter().map(|p| format!("firewall-cmd --permanent --add-port={p}/tcp")).collect::<Vec<_>>().join(" && ")
        ),
        "nftables" => format!(
            "Add an accept rule to the input chain for tcp dport {{ {} }} (seed §3.3)",
            port_args.join(", ")
        ),
        _ => format!(
            "{} and save the rules (seed §3.3)",
            port_args.iter().map(|p| format!("iptables -I INPUT -p tcp --dport {} -j ACCEPT", p.replace('-', ":"))).collect::<Vec<_>>().join("; ")
        ),
    };
    let note = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    if !closed_fail.is_empty() {
        Finding::fail(
            expected,
            actual,
            format!("{} blocks {}{note}", f.name, closed.join(", ")),
        )
        .remedy(remedy)
        .details(details)
    } else if !closed_warn.is_empty() {
        Finding::warn(
            expected,
            actual,
            format!(
                "{} blocks the GUI ports {}{note}",
                f.name,
                closed_warn.join(", ")
            ),
        )
        .remedy(remedy)
        .details(details)
    } else {
        Finding::pass(
            expected,
            actual,
            format!("{} allows every LifeKeeper port{note}", f.name),
        )
        .details(details)
    }
}

// -- SELinux --

fn check_selinux(env: &Env) -> Finding {
    let expected = "Disabled (Permissive only with tested kits and allow_selinux_permissive)";
    let out = match env.probe(Cmd::new("getenforce")) {
        Probe::Missing(m) => {
            return Finding::skip(expected, format!("cannot read the SELinux mode: {m}"))
        }
        Probe::Ran(o) => o,
    };
    let mode = out.stdout.trim().to_string();
    let disable = "Set SELINUX=disabled in /etc/selinux/config and reboot (seed §3.4).";
    match mode.as_str() {
        "Disabled" => Finding::pass(expected, mode, "SELinux is disabled"),
        "Enforcing" => Finding::fail(
            expected,
            mode,
            "SELinux is enforcing; LifeKeeper does not install while SELinux is enforcing",
        )
        .remedy(disable),
        "Permissive" => {
            let kits = match env.lk_packages() {
                Ok(p) => installed_kits(p),
                Err(e) => {
                    return Finding::fail(expected, mode, format!("SELinux is permissive and the installed Recovery Kits cannot be listed ({e})"))
                        .remedy(disable)
                }
            };
            let untested: Vec<String> = kits
                .iter()
                .filter(|k| kit_name(k).is_none())
                .cloned()
                .collect();
            let shown: Vec<String> = kits
                .iter()
                .map(|k| kit_name(k).map(String::from).unwrap_or_else(|| k.clone()))
                .collect();
            let details = json!({ "kits": kits, "untested_kits": untested });
            let kit_text = if shown.is_empty() {
                "no Recovery Kits".to_string()
            } else {
                format!("kits {}", shown.join(", "))
            };
            if !untested.is_empty() {
                Finding::fail(
                    expected,
                    mode,
                    format!(
                        "SELinux is permissive and these Recovery Kits are not tested with it: {}",
                        untested.join(", ")
                    ),
                )
                .remedy(disable)
                .details(details)
            } else if !env.p.allow_selinux_permissive {
                Finding::fail(expected, mode, format!("SELinux is permissive ({kit_text}, all tested); permissive needs allow_selinux_permissive: true"))
                    .remedy(format!("{disable} Or, if permissive is required (e.g. by SAP), set allow_selinux_permissive: true."))
                    .details(details)
            } else {
                Finding::warn(expected, mode, format!("SELinux is permissive, accepted: {kit_text} all tested with permissive (not recommended)"))
                    .remedy(disable)
                    .details(details)
            }
        }
        other => Finding::warn(
            expected,
            other,
            format!("unexpected `getenforce` output {other:?} (rc={})", out.rc),
        ),
    }
}

/// Installed Recovery Kit package names (steeleye-lk<KIT>, minus the core/GUI packages).
fn installed_kits(pkgs: &[String]) -> Vec<String> {
    pkgs.iter()
        .filter(|n| n.starts_with("steeleye-lk") && !NOT_KITS.contains(&n.as_str()))
        .cloned()
        .collect()
}

/// The tested-kit name for a package (`steeleye-lkSAPDB` → SAP MaxDB), `None` if untested.
fn kit_name(pkg: &str) -> Option<&'static str> {
    let suffix = pkg.strip_prefix("steeleye-")?;
    PERMISSIVE_TESTED_KITS
        .iter()
        .find(|(s, _)| *s == suffix)
        .map(|(_, n)| *n)
}

// -- packages --

#[derive(Clone, Copy, PartialEq)]
enum PkgMgr {
    Rpm,
    Dpkg,
}

impl Env<'_> {
    fn pkg_mgr(&self) -> Result<PkgMgr, String> {
        match self.p.package_manager.as_str() {
            "rpm" => Ok(PkgMgr::Rpm),
            "dpkg" => Ok(PkgMgr::Dpkg),
            _ => {
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
    fn pkg_installed(&self, mgr: PkgMgr, pkg: &str) -> Result<bool, String> {
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

fn install_cmd(mgr: PkgMgr, pkgs: &[String]) -> String {
    match mgr {
        PkgMgr::Rpm => format!("yum install -y {}", pkgs.join(" ")),
        PkgMgr::Dpkg => format!("apt-get install -y {}", pkgs.join(" ")),
    }
}

fn check_pkg_deps(env: &Env) -> Finding {
    let mgr = match env.pkg_mgr() {
        Ok(m) => m,
        Err(e) => {
            return Finding::skip(
                "required packages installed",
                format!("cannot query packages: {e}"),
            )
        }
    };
    let list: Vec<String> = match &env.p.required_packages {
        Some(_) => env.packages.clone(),
        None => (if mgr == PkgMgr::Rpm {
            DEFAULT_RPM_PACKAGES
        } else {
            DEFAULT_DEB_PACKAGES
        })
        .iter()
        .map(|s| s.to_string())
        .collect(),
    };
    let expected = format!("installed: {}", list.join(" "));
    let mut missing = vec![];
    for p in &list {
        match env.pkg_installed(mgr, p) {
            Ok(true) => {}
            Ok(false) => missing.push(p.clone()),
            Err(e) => return Finding::skip(expected, format!("cannot query packages: {e}")),
        }
    }
    let tool = if mgr == PkgMgr::Rpm { "rpm" } else { "dpkg" };
    if missing.is_empty() {
        Finding::pass(
            expected,
            "all installed",
            format!(
                "all {} required packages are installed ({tool})",
                list.len()
            ),
        )
    } else {
        Finding::fail(
            expected,
            format!("missing: {}", missing.join(" ")),
            format!("required packages are missing: {}", missing.join(", ")),
        )
        .remedy(format!(
            "{} (seed §3.5; use the distribution's 64-bit packages)",
            install_cmd(mgr, &missing)
        ))
        .details(json!({ "missing": missing }))
    }
}

fn check_sg3utils(env: &Env) -> Finding {
    let expected = "sg3_utils installed when a multipath kit is installed";
    let pkgs = match env.lk_packages() {
        Ok(p) => p,
        Err(e) => {
            return Finding::skip(
                expected,
                format!("cannot list the installed Recovery Kits: {e}"),
            )
        }
    };
    let mp: Vec<&String> = pkgs
        .iter()
        .filter(|p| MULTIPATH_KITS.contains(&p.as_str()))
        .collect();
    if mp.is_empty() {
        return Finding::pass(
            expected,
            "no multipath kit",
            "sg3_utils is not required (no multipath Recovery Kit installed)",
        );
    }
    let kits = mp.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    let mgr = match env.pkg_mgr() {
        Ok(m) => m,
        Err(e) => return Finding::skip(expected, format!("cannot query packages: {e}")),
    };
    let name = if mgr == PkgMgr::Rpm {
        "sg3_utils"
    } else {
        "sg3-utils"
    };
    match env.pkg_installed(mgr, name) {
        Err(e) => Finding::skip(expected, format!("cannot query packages: {e}")),
        Ok(true) => Finding::pass(
            expected,
            format!("{name} installed; {kits}"),
            format!("{name} is installed for {kits}"),
        ),
        Ok(false) => Finding::fail(
            expected,
            format!("{name} missing; {kits}"),
            format!("{name} is not installed but the multipath kit(s) {kits} need it"),
        )
        .remedy(install_cmd(mgr, &[name.to_string()])),
    }
}

// -- versions and licenses --

/// The shared upgrade-path rule applied to this node. `None` when the installed version is
/// unknown (rpm missing or failing).
fn path_of(env: &Env) -> Option<(UpPath, Option<Version>)> {
    match env.installed() {
        Ok(inst) => Some(version::upgrade_path(
            inst.as_ref(),
            &env.target,
            &env.stepping,
        )),
        Err(_) => None,
    }
}

fn check_version_path(env: &Env) -> Finding {
    let t = env.target;
    let expected = format!("an upgrade path to {t} (none, direct or stepwise)");
    let inst = match env.installed() {
        Ok(i) => *i,
        Err(e) => {
            return Finding::skip(expected, format!("cannot read the installed version: {e}"))
        }
    };
    let (path, via) = version::upgrade_path(inst.as_ref(), &t, &env.stepping);
    let shown = inst
        .map(|v| v.to_string())
        .unwrap_or_else(|| "not installed".into());
    let actual = match via {
        Some(v) => format!("{shown}: {} via {v}", path.name()),
        None => format!("{shown}: {}", path.name()),
    };
    match (path, inst) {
        (UpPath::None, _) => Finding::pass(expected, actual, format!("{t} is already installed")),
        (UpPath::Direct, Some(i)) => Finding::pass(
            expected,
            actual,
            format!("{i} upgrades to {t} directly (hierarchies kept)"),
        ),
        (UpPath::Stepwise, Some(i)) => {
            let v = via.map(|v| v.to_string()).unwrap_or_default();
            Finding::pass(
                expected,
                actual,
                format!("{i} upgrades to {v} first, then to {t} (hierarchies kept)"),
            )
            .remedy(format!("Upgrade to {v} with its media, then to {t}."))
        }
        (UpPath::Reinstall, Some(i)) => {
            // Whether an intermediate 9.4.x could keep the hierarchies (same shared rule).
            let step = Version::new(9, 4, 0);
            let steppable = version::direct_from(&i, &step) && version::direct_from(&step, &t);
            let backup = "back up (lkbackup -c, copy /etc/default/LifeKeeper and the archives out of lkroot), then uninstall (rmlk) and install fresh (seed §5)";
            if steppable {
                Finding::warn(
                    expected,
                    actual,
                    format!("{i} cannot be upgraded to {t} in place: uninstall and reinstall deletes the resource hierarchies (lk_upgrade restores them from the verified lkbackup archive); upgrading via 9.4.x first (stepping_versions) keeps them in place"),
                )
                .remedy(format!("Get 9.4.x media and pass its version in stepping_versions for a stepwise upgrade, or {backup}."))
            } else {
                Finding::warn(
                    expected,
                    actual,
                    format!("{i} cannot be upgraded to {t} in place, nor via 9.4.x: uninstall and reinstall deletes the resource hierarchies (lk_upgrade restores them from the verified lkbackup archive)"),
                )
                .remedy(format!("Plan a reinstall: {backup}; recreate the hierarchies afterwards."))
            }
        }
        (_, None) => Finding::fail(
            expected,
            actual,
            "LifeKeeper is not installed (rpm -q steeleye-lk); there is nothing to upgrade",
        )
        .remedy("Install LifeKeeper instead of upgrading, or run on a LifeKeeper node."),
        (_, Some(i)) => Finding::fail(
            expected,
            actual,
            format!("{i} is newer than {t}; a downgrade is not supported"),
        )
        .remedy("Check target_version."),
    }
}

fn needs_new_license(v: &Version) -> bool {
    v.major == 8 && v.minor == 1
}

fn check_license(env: &Env) -> Finding {
    let expected = "new license files supplied when upgrading from 8.1.x";
    // Only metadata is looked at: the contents of a license file never enter this module.
    let bad: Vec<String> = env
        .license_files
        .iter()
        .filter_map(|f| match std::fs::metadata(f) {
            Err(e) => Some(format!("{} ({})", f.display(), io_reason(&e))),
            Ok(m) if !m.is_file() => Some(format!("{} (not a regular file)", f.display())),
            Ok(_) => std::fs::File::open(f)
                .err()
                .map(|e| format!("{} ({})", f.display(), io_reason(&e))),
        })
        .collect();
    let supplied = format!("{} license file(s) supplied", env.license_files.len());
    let inst = match env.installed() {
        Ok(Some(i)) => *i,
        Ok(None) => {
            return Finding::skip(
                expected,
                "LifeKeeper is not installed; licensing is part of the installation",
            )
        }
        Err(e) => {
            return Finding::skip(expected, format!("cannot read the installed version: {e}"))
        }
    };
    if !bad.is_empty() {
        return Finding::fail(
            expected,
            format!("{inst}; unreadable: {}", bad.join(", ")),
            format!("license file(s) missing or unreadable: {}", bad.join(", ")),
        )
        .remedy("Fix the paths in license_files (the files must exist and be readable).");
    }
    if !needs_new_license(&inst) {
        return Finding::pass(
            expected,
            format!("{inst}; {supplied}"),
            format!("{inst} keeps its licenses when upgrading"),
        );
    }
    if env.license_files.is_empty() {
        Finding::fail(expected, format!("{inst}; no license files"), format!("upgrading from {inst} needs new licenses (the license type changed after 8.1.x) and no license_files were given"))
            .remedy("Apply for the upgrade to get an Entitlement ID / Activation ID, generate the new license keys on the SIOS portal, and pass them in license_files (seed §3.7).")
    } else {
        Finding::pass(
            expected,
            format!("{inst}; {supplied}"),
            format!("upgrading from {inst} needs new licenses; {supplied} and readable"),
        )
    }
}

fn io_reason(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not found",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "cannot be opened",
    }
}

// -- disk --

/// `df -Pk PATH` → (mount point, available KiB).
fn parse_df(out: &str) -> Option<(String, u64)> {
    let line = out.lines().nth(1)?;
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 6 {
        return None;
    }
    Some((f[5..].join(" "), f[3].parse().ok()?))
}

/// The path itself or its nearest existing ancestor (lkroot may not exist before a fresh install).
fn existing_ancestor(p: &Path) -> PathBuf {
    let mut cur = p.to_path_buf();
    while !cur.exists() {
        match cur.parent() {
            Some(parent) if parent != cur => cur = parent.to_path_buf(),
            _ => return PathBuf::from("/"),
        }
    }
    cur
}

fn check_disk(env: &Env) -> Finding {
    let mb = env.p.min_free_mb as u64;
    let mut places: Vec<(&str, &Path)> =
        vec![("installation", &env.p.lkroot), ("media", &env.p.media_dir)];
    if let Some(b) = &env.p.backup_dir {
        places.push(("backups", b));
    }
    let expected = format!(
        "{mb} MiB free for each of {}",
        places
            .iter()
            .map(|(w, _)| *w)
            .collect::<Vec<_>>()
            .join(", ")
    );
    // mount point -> (available KiB, purposes)
    let mut fs: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    let mut unknown = vec![];
    for (what, path) in &places {
        let probe_path = existing_ancestor(path);
        match env.probe(Cmd::new("df").arg("-Pk").arg(&probe_path)) {
            Probe::Missing(m) => {
                return Finding::skip(expected, format!("cannot measure free space: {m}"))
            }
            Probe::Ran(o) => match parse_df(&o.stdout).filter(|_| o.ok()) {
                Some((mount, avail)) => fs
                    .entry(mount)
                    .or_insert((avail, vec![]))
                    .1
                    .push(format!("{what} ({})", path.display())),
                None => unknown.push(format!(
                    "{what} ({}): `df -Pk` failed: {}",
                    path.display(),
                    o.tail()
                )),
            },
        }
    }
    let mut short = vec![];
    let mut actual = vec![];
    let mut details = vec![];
    for (mount, (avail, whats)) in &fs {
        let need_kb = mb * 1024 * whats.len() as u64;
        let free_mb = avail / 1024;
        actual.push(format!("{mount}: {free_mb} MiB free"));
        details.push(json!({ "mount": mount, "free_mb": free_mb, "required_mb": mb * whats.len() as u64, "for": whats }));
        if *avail < need_kb {
            short.push(format!(
                "{mount} has {free_mb} MiB free, {} MiB needed for {}",
                mb * whats.len() as u64,
                whats.join(" + ")
            ));
        }
    }
    let actual = actual.join(", ");
    let details = json!(details);
    if !short.is_empty() {
        Finding::fail(expected, actual, format!("not enough free space: {}", short.join("; ")))
            .remedy("Free space on those filesystems, or choose media_dir/backup_dir on a filesystem with room.")
            .details(details)
    } else if !unknown.is_empty() {
        Finding::warn(
            expected,
            actual,
            format!("free space unknown for {}", unknown.join("; ")),
        )
        .details(details)
    } else {
        Finding::pass(expected, actual, "enough free space").details(details)
    }
}

// -- cluster state --

fn check_comm_paths(env: &Env) -> Finding {
    let expected = "every communication path ALIVE";
    let st = match env.lcd() {
        Lcd::Up(s) => s,
        other => {
            return Finding::skip(
                expected,
                format!("comm path states unknown: {}", lcd_why(other)),
            )
        }
    };
    let paths = &st.comm_paths;
    if paths.is_empty() {
        return Finding::warn(
            expected,
            "no comm paths",
            "this node has no communication paths to other nodes",
        )
        .remedy("Create communication paths to every other node before upgrading.");
    }
    let line = |p: &lcd::CommPath| format!("{} {} {} {}", p.machine, p.network, p.address, p.state);
    let dead: Vec<String> = paths
        .iter()
        .filter(|p| p.state != "ALIVE")
        .map(line)
        .collect();
    let actual = paths.iter().map(line).collect::<Vec<_>>().join("; ");
    // A peer whose every path is down cannot take part in a rolling upgrade; name it.
    let unreachable: Vec<String> = st
        .peers()
        .into_iter()
        .filter(|m| {
            paths
                .iter()
                .filter(|p| &p.machine == m)
                .all(|p| p.state != "ALIVE")
        })
        .collect();
    let remedy = "Bring the node(s) and network back so every path is ALIVE (lcdstatus -e) before upgrading.";
    if dead.len() == paths.len() {
        Finding::fail(
            expected,
            actual,
            format!("every communication path is down: {}", dead.join("; ")),
        )
        .remedy(remedy)
    } else if !dead.is_empty() {
        let extra = if unreachable.is_empty() {
            String::new()
        } else {
            format!(" (no path ALIVE to {})", unreachable.join(", "))
        };
        Finding::warn(
            expected,
            actual,
            format!(
                "{} of {} communication paths are down: {}{extra}",
                dead.len(),
                paths.len(),
                dead.join("; ")
            ),
        )
        .remedy(remedy)
    } else {
        Finding::pass(
            expected,
            actual,
            format!("all {} communication paths are ALIVE", paths.len()),
        )
    }
}

fn check_standby(env: &Env) -> Finding {
    let expected = "no resource ISP or ISU on this node";
    if !env.p.require_standby {
        return Finding::skip(expected, "not required (require_standby is false)");
    }
    let st = match env.lcd() {
        Lcd::Up(s) => s,
        Lcd::Stopped => {
            return Finding::pass(
                expected,
                "LifeKeeper stopped",
                "LifeKeeper is not running, so no resource is in service under it",
            )
        }
        other => {
            return Finding::skip(
                expected,
                format!("resource states unknown: {}", lcd_why(other)),
            )
        }
    };
    let active: Vec<String> = st
        .resources
        .iter()
        .filter(|r| r.state == "ISP" || r.state == "ISU")
        .map(|r| format!("{} {}", r.tag, r.state))
        .collect();
    if active.is_empty() {
        Finding::pass(
            expected,
            format!("{} resource(s), none in service", st.resources.len()),
            "every resource is standby on this node",
        )
    } else {
        let roots: Vec<String> = st
            .resources
            .iter()
            .filter(|r| r.parent.is_none() && (r.state == "ISP" || r.state == "ISU"))
            .map(|r| r.tag.clone())
            .collect();
        Finding::fail(expected, active.join(", "), format!("resources in service on this node: {}", active.join(", ")))
            .remedy(format!("Switch these hierarchies to another node first (lk_resource, or perform_action -t <tag> -a restore on the other node): {}", roots.join(", ")))
    }
}

fn check_service(env: &Env) -> Finding {
    let expected = "informational";
    match env.lcd() {
        Lcd::Up(_) => Finding::pass(expected, "running", "LifeKeeper is running"),
        Lcd::Stopped => Finding::pass(
            expected,
            "stopped",
            "LifeKeeper is not running (start it after the upgrade only if it should run)",
        ),
        Lcd::Missing(m) => Finding::skip(expected, format!("LifeKeeper commands not found: {m}")),
        Lcd::Error(e) => Finding::warn(
            expected,
            "unknown",
            format!("cannot tell whether LifeKeeper runs: {e}"),
        ),
    }
}

fn running(env: &Env) -> Option<bool> {
    match env.lcd.get()? {
        Lcd::Up(_) => Some(true),
        Lcd::Stopped => Some(false),
        _ => None,
    }
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
    // Paths reach df and file reads as arguments: absolute (never read as an option), one line.
    for (name, path) in [
        ("lkroot", Some(&p.lkroot)),
        ("media_dir", Some(&p.media_dir)),
        ("backup_dir", p.backup_dir.as_ref()),
        ("services_file", Some(&p.services_file)),
    ] {
        if let Some(path) = path {
            let s = path.to_string_lossy();
            if s.contains(['\n', '\r', '\0']) || !path.is_absolute() {
                return Err(Failure::param(
                    name,
                    format!("{name} must be an absolute path on one line, got {s:?}"),
                ));
            }
        }
    }
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
        dk_ports: OnceCell::new(),
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
    let level = if env.p.fail_on == "warn" {
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
        assert_eq!(ids.len(), 13);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 13);
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
    fn datakeeper_port_skips_services_listening_and_other_mirrors() {
        let taken: BTreeSet<u16> = [10001].into_iter().collect();
        let ports = datakeeper_ports(&[0, 1], &taken);
        assert_eq!(ports[&0], 10257);
        assert_eq!(ports[&1], 10002);
        // mirror 256 would collide with mirror 0's second choice
        let ports = datakeeper_ports(&[0, 256], &taken);
        assert_eq!(ports[&0], 10257);
        assert_eq!(ports[&256], 10513);
    }

    #[test]
    fn services_and_ss_parsing() {
        let s = services_ports("# c\nscp-config 10001/tcp # x\nfoo 22/udp\n\n");
        assert!(s.contains(&10001) && s.contains(&22));
        let l = listening_ports("State Recv-Q Send-Q Local Address:Port Peer Address:Port\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nLISTEN 0 128 [::]:10002 [::]:*\n");
        assert_eq!(l.into_iter().collect::<Vec<_>>(), vec![22, 10002]);
    }

    #[test]
    fn firewall_rules_first_match_then_policy() {
        let f = firewalld_filter("7365/tcp 81-82/tcp 53/udp\n");
        assert!(f.allows(7365) && f.allows(82) && !f.allows(53) && !f.allows(1024));
        let ipt = iptables_filter(
            "-P INPUT ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 7365 -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 81,82,1024:65535 -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\n",
        );
        assert!(ipt.active());
        assert!(ipt.allows(7365) && ipt.allows(81) && ipt.allows(40000) && !ipt.allows(22));
        let open = iptables_filter("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n");
        assert!(!open.active());
        let nft = nft_filter(
            "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t\tiif \"lo\" accept\n\t\ttcp dport { 81, 82, 1024-65535 } accept\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n",
        )
        .unwrap();
        assert!(nft.active() && nft.allows(81) && nft.allows(7365) && !nft.allows(22));
        let nft = nft_filter("table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 22 accept\n\t}\n}\n").unwrap();
        assert!(!nft.allows(7365) && nft.allows(22));
        assert!(nft_filter("").is_none());
    }

    #[test]
    fn df_and_rpm_names() {
        assert_eq!(
            parse_df("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100 50 2048 50% /var lib\n"),
            Some(("/var lib".into(), 2048))
        );
        assert_eq!(
            rpm_name("steeleye-lkSAPDB-9.4.0-6.noarch"),
            "steeleye-lkSAPDB"
        );
        assert_eq!(rpm_name("steeleye-lk-9.4.0-6.x86_64"), "steeleye-lk");
    }

    #[test]
    fn kits_and_tested_names() {
        let pk: Vec<String> = [
            "steeleye-lk",
            "steeleye-lkGUI",
            "steeleye-lkIP",
            "steeleye-lkSAPDB",
            "steeleye-lkAPA",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let kits = installed_kits(&pk);
        assert_eq!(
            kits,
            vec!["steeleye-lkIP", "steeleye-lkSAPDB", "steeleye-lkAPA"]
        );
        assert_eq!(kit_name("steeleye-lkSAPDB"), Some("SAP MaxDB"));
        assert_eq!(kit_name("steeleye-lkAPA"), None);
    }

    #[test]
    fn plain_word_refuses_options_and_newlines() {
        assert!(plain_word("node-a").is_ok());
        assert!(plain_word("-s").is_err());
        assert!(plain_word("a\nb").is_err());
        assert!(plain_word("").is_err());
    }
}

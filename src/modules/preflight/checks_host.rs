//! The checks of the host itself: architecture, name resolution, the firewall, SELinux and the
//! OS packages the installer needs. Each is a function of the gathered facts (`Env`).

use super::env::{lcd_why, Env, Lcd, PkgMgr, Probe};
use super::{plain_word, Finding};
use crate::runtime::Cmd;
use serde_json::json;
use std::collections::BTreeSet;

/// Recovery Kit RPM suffixes (steeleye-lk<KIT>) tested with SELinux permissive (seed §3.4), with
/// the names the procedure uses. FileSystem is part of the core package.
pub(super) const PERMISSIVE_TESTED_KITS: &[(&str, &str)] = &[
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
pub(super) const NOT_KITS: &[&str] = &[
    "steeleye-lk",
    "steeleye-lkGUI",
    "steeleye-lkMAN",
    "steeleye-lkapi",
    "steeleye-lkQWK",
];

/// Multipath Recovery Kits that need sg3_utils (seed §3.5): DMMP, PowerPath, HDLM, SDD, NEC SPS.
pub(super) const MULTIPATH_KITS: &[&str] = &[
    "steeleye-lkDMMP",
    "steeleye-lkPPATH",
    "steeleye-lkHDLM",
    "steeleye-lkSDD",
    "steeleye-lkSPS",
];

/// Default `required_packages` (the vendor's "Linux Dependencies" list was not retrievable,
/// reference Gaps 10): the tools LifeKeeper's scripts and setup use that a minimal install lacks.
pub(super) const DEFAULT_RPM_PACKAGES: &[&str] = &[
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
pub(super) const DEFAULT_DEB_PACKAGES: &[&str] = &[
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

pub(super) fn check_arch(env: &Env) -> Finding {
    judge_arch(env.probe(Cmd::new("uname").arg("-m")))
}

/// LK-ARCH-64BIT from `uname -m`.
pub(super) fn judge_arch(uname_m: Probe) -> Finding {
    let expected = "64-bit (x86_64, aarch64, ppc64le, s390x)";
    let out = match uname_m {
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

pub(super) fn check_resolve(env: &Env) -> Finding {
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
pub(super) fn first_address(out: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.split_whitespace().next())
        .map(String::from)
}

pub(super) fn check_localhost(env: &Env) -> Finding {
    judge_localhost(env.probe(Cmd::new("getent").args(["ahosts", "localhost"])))
}

/// LK-NET-LOCALHOST from `getent ahosts localhost`.
pub(super) fn judge_localhost(getent: Probe) -> Finding {
    let expected = "localhost resolves to 127.0.0.1";
    let out = match getent {
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

// -- SELinux --

pub(super) fn check_selinux(env: &Env) -> Finding {
    let getenforce = env.probe(Cmd::new("getenforce"));
    // The installed kits matter only when SELinux is permissive: list them only then.
    let permissive = matches!(&getenforce, Probe::Ran(o) if o.stdout.trim() == "Permissive");
    let packages = permissive.then(|| env.lk_packages());
    judge_selinux(env.p.allow_selinux_permissive, getenforce, packages)
}

/// LK-SELINUX from `getenforce` and, when permissive, the installed LifeKeeper package names.
pub(super) fn judge_selinux(
    allow_permissive: bool,
    getenforce: Probe,
    packages: Option<&Result<Vec<String>, String>>,
) -> Finding {
    let expected = "Disabled (Permissive only with tested kits and allow_selinux_permissive)";
    let out = match getenforce {
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
            let kits = match packages.expect("gathered when permissive") {
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
            } else if !allow_permissive {
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
pub(super) fn installed_kits(pkgs: &[String]) -> Vec<String> {
    pkgs.iter()
        .filter(|n| n.starts_with("steeleye-lk") && !NOT_KITS.contains(&n.as_str()))
        .cloned()
        .collect()
}

/// The tested-kit name for a package (`steeleye-lkSAPDB` → SAP MaxDB), `None` if untested.
pub(super) fn kit_name(pkg: &str) -> Option<&'static str> {
    let suffix = pkg.strip_prefix("steeleye-")?;
    PERMISSIVE_TESTED_KITS
        .iter()
        .find(|(s, _)| *s == suffix)
        .map(|(_, n)| *n)
}

pub(super) fn install_cmd(mgr: PkgMgr, pkgs: &[String]) -> String {
    match mgr {
        PkgMgr::Rpm => format!("yum install -y {}", pkgs.join(" ")),
        PkgMgr::Dpkg => format!("apt-get install -y {}", pkgs.join(" ")),
    }
}

pub(super) fn check_pkg_deps(env: &Env) -> Finding {
    let mgr = env.pkg_mgr();
    let list = match &mgr {
        Ok(m) => required_list(env.p.required_packages.is_some(), &env.packages, *m),
        Err(_) => vec![],
    };
    // One query per package, stopping at the first that cannot be made (as the judge does).
    let mut queried = vec![];
    if let Ok(m) = mgr {
        for p in &list {
            let r = env.pkg_installed(m, p);
            let stop = r.is_err();
            queried.push(r);
            if stop {
                break;
            }
        }
    }
    judge_pkg_deps(mgr, &list, &queried)
}

/// The packages to look for: the given ones, else the defaults for the package manager.
pub(super) fn required_list(given: bool, packages: &[String], mgr: PkgMgr) -> Vec<String> {
    if given {
        return packages.to_vec();
    }
    (if mgr == PkgMgr::Rpm {
        DEFAULT_RPM_PACKAGES
    } else {
        DEFAULT_DEB_PACKAGES
    })
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// LK-PKG-DEPS from the package manager, the list and each package's query result, in order.
pub(super) fn judge_pkg_deps(
    mgr: Result<PkgMgr, String>,
    list: &[String],
    queried: &[Result<bool, String>],
) -> Finding {
    let mgr = match mgr {
        Ok(m) => m,
        Err(e) => {
            return Finding::skip(
                "required packages installed",
                format!("cannot query packages: {e}"),
            )
        }
    };
    let expected = format!("installed: {}", list.join(" "));
    let mut missing = vec![];
    for (p, r) in list.iter().zip(queried) {
        match r {
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

pub(super) fn check_sg3utils(env: &Env) -> Finding {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    fn ran(stdout: &str, rc: i32) -> Probe {
        Probe::Ran(crate::runtime::CmdOutput {
            cmd: vec!["probe".into()],
            rc,
            stdout: stdout.into(),
            stderr: String::new(),
            timed_out: false,
            truncated: false,
        })
    }

    #[test]
    fn host_checks_judge_probe_output_without_running_anything() {
        assert_eq!(judge_arch(ran("x86_64\n", 0)).status.name(), "pass");
        assert_eq!(judge_arch(ran("i686\n", 0)).status.name(), "fail");
        assert_eq!(judge_arch(ran("", 1)).status.name(), "warn");
        assert_eq!(
            judge_arch(Probe::Missing("uname not found on PATH".into()))
                .status
                .name(),
            "skip"
        );

        let lh = "127.0.0.1       STREAM localhost\n::1 STREAM localhost\n";
        assert_eq!(judge_localhost(ran(lh, 0)).status.name(), "pass");
        assert_eq!(
            judge_localhost(ran("::1 STREAM localhost\n", 0))
                .status
                .name(),
            "fail"
        );
        assert_eq!(judge_localhost(ran("", 2)).actual, "UNRESOLVED");

        let pk = |v: &[&str]| Ok(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            judge_selinux(false, ran("Disabled\n", 0), None)
                .status
                .name(),
            "pass"
        );
        assert_eq!(
            judge_selinux(true, ran("Enforcing\n", 0), None)
                .status
                .name(),
            "fail"
        );
        let tested = pk(&["steeleye-lk", "steeleye-lkSAPDB"]);
        let permissive = || ran("Permissive\n", 0);
        assert_eq!(
            judge_selinux(false, permissive(), Some(&tested))
                .status
                .name(),
            "fail"
        );
        assert_eq!(
            judge_selinux(true, permissive(), Some(&tested))
                .status
                .name(),
            "warn"
        );
        let untested = pk(&["steeleye-lk", "steeleye-lkAPA"]);
        let f = judge_selinux(true, permissive(), Some(&untested));
        assert_eq!(f.status.name(), "fail");
        assert!(f.msg.contains("steeleye-lkAPA"), "{}", f.msg);
    }

    #[test]
    fn package_deps_are_judged_from_the_queries() {
        let list = required_list(false, &[], PkgMgr::Rpm);
        assert!(list.contains(&"procps-ng".to_string()));
        let given = vec!["bzip2".to_string(), "tar".to_string()];
        assert_eq!(required_list(true, &given, PkgMgr::Dpkg), given);
        let f = judge_pkg_deps(Ok(PkgMgr::Rpm), &given, &[Ok(true), Ok(false)]);
        assert_eq!(f.status.name(), "fail");
        assert_eq!(
            f.remedy.as_deref(),
            Some("yum install -y tar (seed §3.5; use the distribution's 64-bit packages)")
        );
        assert_eq!(
            judge_pkg_deps(Ok(PkgMgr::Dpkg), &given, &[Ok(true), Ok(true)])
                .status
                .name(),
            "pass"
        );
        let f = judge_pkg_deps(
            Ok(PkgMgr::Rpm),
            &given,
            &[Err("rpm not found on PATH".into())],
        );
        assert_eq!(f.status.name(), "skip");
        assert_eq!(
            judge_pkg_deps(Err("neither".into()), &[], &[])
                .status
                .name(),
            "skip"
        );
    }
}

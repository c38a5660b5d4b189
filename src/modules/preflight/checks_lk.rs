//! The checks of LifeKeeper on this node: the upgrade path, licenses, disk space, communication
//! paths, standby and whether LifeKeeper runs. Each is a function of the gathered facts (`Env`).

use super::env::{lcd_why, Env, Lcd, Probe};
use super::Finding;
use crate::lifekeeper::status as lcd;
use crate::lifekeeper::version::{self, Path as UpPath, Version};
use crate::runtime::Cmd;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

// -- versions and licenses --

/// The shared upgrade-path rule applied to this node. `None` when the installed version is
/// unknown (rpm missing or failing).
pub(super) fn path_of(env: &Env) -> Option<(UpPath, Option<Version>)> {
    match env.installed() {
        Ok(inst) => Some(version::upgrade_path(
            inst.as_ref(),
            &env.target,
            &env.stepping,
        )),
        Err(_) => None,
    }
}

pub(super) fn check_version_path(env: &Env) -> Finding {
    judge_version_path(env.target, &env.stepping, env.installed())
}

/// LK-VERSION-PATH from the installed version (`Err`: rpm could not tell).
pub(super) fn judge_version_path(
    t: Version,
    stepping: &[Version],
    installed: &Result<Option<Version>, String>,
) -> Finding {
    let expected = format!("an upgrade path to {t} (none, direct or stepwise)");
    let inst = match installed {
        Ok(i) => *i,
        Err(e) => {
            return Finding::skip(expected, format!("cannot read the installed version: {e}"))
        }
    };
    let (path, via) = version::upgrade_path(inst.as_ref(), &t, stepping);
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

pub(super) fn needs_new_license(v: &Version) -> bool {
    v.major == 8 && v.minor == 1
}

pub(super) fn check_license(env: &Env) -> Finding {
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
    judge_license(env.license_files.len(), &bad, env.installed())
}

/// LK-LICENSE from the number of license files given, those that are unreadable (with why) and
/// the installed version.
pub(super) fn judge_license(
    given: usize,
    bad: &[String],
    installed: &Result<Option<Version>, String>,
) -> Finding {
    let expected = "new license files supplied when upgrading from 8.1.x";
    let supplied = format!("{given} license file(s) supplied");
    let inst = match installed {
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
    if given == 0 {
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

pub(super) fn io_reason(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not found",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "cannot be opened",
    }
}

// -- disk --

/// `df -Pk PATH` → (mount point, available KiB).
pub(super) fn parse_df(out: &str) -> Option<(String, u64)> {
    let line = out.lines().nth(1)?;
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 6 {
        return None;
    }
    Some((f[5..].join(" "), f[3].parse().ok()?))
}

/// The path itself or its nearest existing ancestor (lkroot may not exist before a fresh install).
pub(super) fn existing_ancestor(p: &Path) -> PathBuf {
    let mut cur = p.to_path_buf();
    while !cur.exists() {
        match cur.parent() {
            Some(parent) if parent != cur => cur = parent.to_path_buf(),
            _ => return PathBuf::from("/"),
        }
    }
    cur
}

pub(super) fn check_disk(env: &Env) -> Finding {
    let mut places: Vec<(&str, &Path)> =
        vec![("installation", &env.p.lkroot), ("media", &env.p.media_dir)];
    if let Some(b) = &env.p.backup_dir {
        places.push(("backups", b));
    }
    // `df` of each place (of its nearest existing ancestor); a missing df ends the probing.
    let mut dfs = vec![];
    for (what, path) in &places {
        let probe = env.probe(Cmd::new("df").arg("-Pk").arg(existing_ancestor(path)));
        let missing = matches!(probe, Probe::Missing(_));
        dfs.push((*what, *path, probe));
        if missing {
            break;
        }
    }
    judge_disk(env.p.min_free_mb as u64, &places, dfs)
}

/// LK-DISK-FREE from `df -Pk` of each place: (purpose, path, probe), in the order of `places`.
pub(super) fn judge_disk(
    mb: u64,
    places: &[(&str, &Path)],
    dfs: Vec<(&str, &Path, Probe)>,
) -> Finding {
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
    for (what, path, probe) in dfs {
        match probe {
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

pub(super) fn check_comm_paths(env: &Env) -> Finding {
    judge_comm_paths(env.lcd())
}

/// LK-COMM-PATHS from the status (`lcdstatus -e`).
pub(super) fn judge_comm_paths(lcd: &Lcd) -> Finding {
    let expected = "every communication path ALIVE";
    let st = match lcd {
        Lcd::Up(s) => s,
        Lcd::Failed(e) => return lcd_failed(expected, "comm path states", e),
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

/// Issue 28 W1: `lcdstatus` did not answer usably (hung past `timeout`, printed for ever, failed
/// or printed something that is not a status) although LifeKeeper is installed: the checks that
/// need the status fail. They were `skip`, and a node whose LifeKeeper is stuck passed the
/// pre-flight ("preflight passed") with its comm paths and mirrors never looked at. Not knowing
/// is no reason to upgrade or switch over; the admin must see it.
pub(super) fn lcd_failed(expected: &str, what: &str, e: &crate::runtime::Failure) -> Finding {
    Finding::fail(
        expected,
        "unknown (lcdstatus failed)",
        format!("{what} unknown: lcdstatus did not answer usably: {}", e.msg),
    )
    .remedy("LifeKeeper is installed but lcdstatus hung, failed or printed no readable status (a stuck LifeKeeper?): find out why (the LifeKeeper log, lcdstatus -e by hand) and fix it before upgrading or switching over.")
}

pub(super) fn check_standby(env: &Env) -> Finding {
    if !env.p.require_standby {
        return judge_standby(false, &Lcd::Stopped);
    }
    judge_standby(true, env.lcd())
}

/// LK-STATE-STANDBY from `require_standby` and the status.
pub(super) fn judge_standby(require_standby: bool, lcd: &Lcd) -> Finding {
    let expected = "no resource ISP or ISU on this node";
    if !require_standby {
        return Finding::skip(expected, "not required (require_standby is false)");
    }
    let st = match lcd {
        Lcd::Up(s) => s,
        Lcd::Stopped => {
            return Finding::pass(
                expected,
                "LifeKeeper stopped",
                "LifeKeeper is not running, so no resource is in service under it",
            )
        }
        Lcd::Failed(e) => return lcd_failed(expected, "resource states", e),
        other => {
            return Finding::skip(
                expected,
                format!("resource states unknown: {}", lcd_why(other)),
            )
        }
    };
    let active: Vec<String> = st
        .in_service()
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
            .filter(|r| r.parent.is_none() && r.in_service())
            .map(|r| r.tag.clone())
            .collect();
        Finding::fail(expected, active.join(", "), format!("resources in service on this node: {}", active.join(", ")))
            .remedy(format!("Switch these hierarchies to another node first (lk_resource, or perform_action -t <tag> -a restore on the other node): {}", roots.join(", ")))
    }
}

pub(super) fn check_service(env: &Env) -> Finding {
    match env.lktest() {
        Some(r) => judge_service(Some(r), &Lcd::Stopped),
        None => judge_service(None, env.lcd()),
    }
}

/// LK-SERVICE: `lktest`'s answer where it exists, else the lcdstatus probe (a fallback that
/// relies on the UNCONFIRMED wording of a stopped lcdstatus: a warning says so).
pub(super) fn judge_service(lktest: Option<bool>, lcd: &Lcd) -> Finding {
    let expected = "informational";
    match lktest {
        Some(true) => return Finding::pass(expected, "running", "LifeKeeper is running (lktest)"),
        Some(false) => return Finding::pass(
            expected,
            "stopped",
            "LifeKeeper is not running (lktest; start it after the upgrade only if it should run)",
        ),
        None => {}
    }
    let fallback =
        "lktest not found; decided from lcdstatus (its wording while stopped is UNCONFIRMED)";
    match lcd {
        Lcd::Up(_) => Finding::warn(
            expected,
            "running",
            format!("LifeKeeper is running ({fallback})"),
        ),
        Lcd::Stopped => Finding::warn(
            expected,
            "stopped",
            format!("LifeKeeper is not running ({fallback})"),
        ),
        Lcd::NotInstalled(m) => {
            Finding::skip(expected, format!("LifeKeeper commands not found: {m}"))
        }
        Lcd::Failed(e) => Finding::warn(
            expected,
            "unknown",
            format!("cannot tell whether LifeKeeper runs: {}", e.msg),
        ),
    }
}

// -- files no package owns --

pub(super) fn check_site_files(env: &Env) -> Finding {
    judge_site_files(&env.p.lkroot, env.site_files().clone())
}

/// LK-SITE-FILES: the files under lkroot that no package owns and lkbackup does not archive.
pub(super) fn judge_site_files(lkroot: &Path, files: Result<Vec<PathBuf>, String>) -> Finding {
    let expected = "every file under lkroot is owned by a package or held by lkbackup";
    if !lkroot.is_dir() {
        return Finding::skip(expected, format!("{} does not exist", lkroot.display()));
    }
    let files = match files {
        Ok(f) => f,
        Err(e) => return Finding::skip(expected, format!("cannot ask rpm: {e}")),
    };
    if files.is_empty() {
        return Finding::pass(
            expected,
            "none",
            "no file under lkroot is outside the packages and the lkbackup",
        );
    }
    let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    Finding::warn(
        expected,
        format!("{} file(s) owned by no package", list.len()),
        format!(
            "{} file(s) under {} belong to no installed package (kits shipped apart, site scripts): rmlk deletes them with {} and no lkbackup holds them: {}",
            list.len(),
            lkroot.display(),
            lkroot.display(),
            list.join(", ")
        ),
    )
    .remedy("Keep the kits' installers (e.g. HANA2-ARK.run) and a copy of these files outside lkroot before the upgrade. rmlk (a reinstall) deletes them; setup neither upgrades nor checks them, so an in-place upgrade leaves them as they are: ask each kit's vendor whether it works with the target release, and reinstall or convert it (the SAP HANA gen/app kit is not supported from 9.5.0: LK-KIT-HANA-GENAPP).")
    .details(json!({ "files": list }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_output_gives_mount_point_and_free_kib() {
        assert_eq!(
            parse_df("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 100 50 2048 50% /var lib\n"),
            Some(("/var lib".into(), 2048))
        );
    }

    // The vendor's short status display (lifekeeper.md §1.2): svr1 holds two resources ISP.
    const STATUS: &str = "Resource Hierarchy Information

BACKUP   TAG                ID          STATE     PRIO  PRIMARY
svr1     appfs3910-on-svr1  appfs4238   ISP          1  svr2
svr1      filesys4083       /jrl1       ISP          1  svr2

Communication Status Information

MACHINE  NETWORK ADDRESSES/DEVICE         STATE     PRIO
svr1     TCP     100.10.1.20/100.11.1.21  ALIVE        1
svr1     TTY     /dev/ttyS0               ALIVE       --
";

    fn up(text: &str) -> Lcd {
        Lcd::Up(lcd::parse(text).unwrap())
    }

    /// Issue 28 W1: an lcdstatus that hung (or failed, or printed no readable status) made
    /// LK-COMM-PATHS and LK-STATE-STANDBY `skip`; they fail now, saying why.
    #[test]
    fn w1_a_hung_lcdstatus_fails_the_checks_that_need_it() {
        let hung = Lcd::Failed(crate::runtime::Failure::new(
            "reading the resource status: `lcdstatus -e` timed out",
        ));
        for f in [judge_comm_paths(&hung), judge_standby(true, &hung)] {
            assert_eq!(f.status.name(), "fail", "{}", f.msg);
            assert!(f.msg.contains("timed out"), "{}", f.msg);
            assert!(f.remedy.is_some());
        }
        // Not required, or LifeKeeper stopped: unchanged.
        assert_eq!(judge_standby(false, &hung).status.name(), "skip");
        assert_eq!(judge_comm_paths(&Lcd::Stopped).status.name(), "skip");
    }

    #[test]
    fn cluster_checks_judge_the_status_without_running_anything() {
        assert_eq!(judge_comm_paths(&up(STATUS)).status.name(), "pass");
        let one_dead = STATUS.replace(
            "/dev/ttyS0               ALIVE",
            "/dev/ttyS0               DEAD ",
        );
        let f = judge_comm_paths(&up(&one_dead));
        assert_eq!(f.status.name(), "warn", "{}", f.msg);
        let all_dead = one_dead.replace("100.11.1.21  ALIVE", "100.11.1.21  DEAD ");
        let f = judge_comm_paths(&up(&all_dead));
        assert_eq!(f.status.name(), "fail", "{}", f.msg);
        assert_eq!(judge_comm_paths(&Lcd::Stopped).status.name(), "skip");

        let f = judge_standby(true, &up(STATUS));
        assert_eq!(f.status.name(), "fail");
        assert!(f.remedy.unwrap().ends_with("appfs3910-on-svr1"));
        assert_eq!(
            judge_standby(true, &up(&STATUS.replace("ISP", "OSU")))
                .status
                .name(),
            "pass"
        );
        assert_eq!(judge_standby(true, &Lcd::Stopped).status.name(), "pass");
        assert_eq!(judge_standby(false, &up(STATUS)).status.name(), "skip");

        // lktest decides where it exists, whatever lcdstatus said
        assert_eq!(judge_service(Some(true), &Lcd::Stopped).actual, "running");
        assert_eq!(judge_service(Some(false), &up(STATUS)).actual, "stopped");
        assert_eq!(
            judge_service(Some(true), &Lcd::Stopped).status.name(),
            "pass"
        );
        // without lktest: the lcdstatus fallback, as a warning that says so
        let f = judge_service(None, &up(STATUS));
        assert_eq!((f.actual.as_str(), f.status.name()), ("running", "warn"));
        assert!(f.msg.contains("lktest not found"), "{}", f.msg);
        assert_eq!(judge_service(None, &Lcd::Stopped).actual, "stopped");
        assert_eq!(
            judge_service(None, &Lcd::NotInstalled("x".into()))
                .status
                .name(),
            "skip"
        );
    }

    #[test]
    fn version_path_is_judged_from_the_installed_version() {
        let v = |s: &str| Version::parse(s).unwrap();
        let t = v("9.6.1");
        let j = |inst: Result<Option<Version>, String>, step: &[Version]| {
            judge_version_path(t, step, &inst)
        };
        assert_eq!(j(Ok(Some(v("9.6.1"))), &[]).status.name(), "pass");
        assert_eq!(j(Ok(Some(v("9.5.0"))), &[]).status.name(), "pass");
        assert_eq!(j(Ok(Some(v("9.9.0"))), &[]).status.name(), "fail");
        assert_eq!(j(Ok(None), &[]).status.name(), "fail");
        assert_eq!(j(Err("rpm not found".into()), &[]).status.name(), "skip");
        let f = j(Ok(Some(v("8.1.2"))), &[]);
        assert_eq!(f.status.name(), "warn", "{}", f.msg);
    }

    fn df(mount: &str, avail_kib: u64) -> Probe {
        Probe::Ran(crate::runtime::CmdOutput {
            cmd: vec!["df".into()],
            rc: 0,
            stdout: format!("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/x 1 1 {avail_kib} 1% {mount}\n"),
            stderr: String::new(),
            timed_out: false,
            truncated: false,
        })
    }

    #[test]
    fn disk_needs_add_up_on_a_shared_filesystem() {
        let (lk, media) = (Path::new("/opt/LifeKeeper"), Path::new("/tmp"));
        let places = [("installation", lk), ("media", media)];
        // 1500 MiB on one filesystem: enough for one 1024 MiB need, not for two.
        let shared = vec![
            ("installation", lk, df("/", 1500 * 1024)),
            ("media", media, df("/", 1500 * 1024)),
        ];
        let f = judge_disk(1024, &places, shared);
        assert_eq!(f.status.name(), "fail", "{}", f.msg);
        assert!(
            f.msg.contains("2048 MiB needed for installation"),
            "{}",
            f.msg
        );
        let apart = vec![
            ("installation", lk, df("/opt", 1500 * 1024)),
            ("media", media, df("/tmp", 1500 * 1024)),
        ];
        assert_eq!(judge_disk(1024, &places, apart).status.name(), "pass");
        let no_df = vec![(
            "installation",
            lk,
            Probe::Missing("df not found on PATH".into()),
        )];
        assert_eq!(judge_disk(1024, &places, no_df).status.name(), "skip");
    }

    #[test]
    fn licenses_are_needed_only_from_8_1() {
        let v = |s: &str| Ok(Some(Version::parse(s).unwrap()));
        assert_eq!(judge_license(0, &[], &v("8.1.2")).status.name(), "fail");
        assert_eq!(judge_license(1, &[], &v("8.1.2")).status.name(), "pass");
        assert_eq!(judge_license(0, &[], &v("9.4.0")).status.name(), "pass");
        let bad = ["/x.lic (not found)".to_string()];
        assert_eq!(judge_license(1, &bad, &v("9.4.0")).status.name(), "fail");
        assert_eq!(judge_license(0, &[], &Ok(None)).status.name(), "skip");
    }
}

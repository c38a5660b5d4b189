//! Table-driven tests of the pure plan: every path × every journal state × every refusal, with
//! hand-made facts (no simulator, no command runs).

use super::facts::{Facts, MediaFact};
use super::journal::Journal;
use super::plan::{plan, Action, Plan, StepStatus, Upgrade};
use super::Params;
use crate::lifekeeper::media::{self, MediaSrc};
use crate::lifekeeper::status::{self, Probe};
use crate::lifekeeper::version::{Path as UpPath, Version};
use crate::runtime::Failure;
use serde_json::{json, Value};
use std::path::PathBuf;

pub(super) fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

const TARGET: &str = "9.6.1";

pub(super) fn params(extra: Value) -> Params {
    let mut p = json!({
        "version": TARGET, "media": "/m/sps_961.img", "media_mode": "auto", "start_after": "auto",
        "allow_reinstall": false, "restore_config": true, "require_standby": true,
        "generate_setup_config": true, "setup_args": ["-f", "{config}", "-q", "y"],
        "setup_success_regex": "(?i)setup complete\\.", "rmlk_answer": "y", "start_timeout": 300,
        "timeout": 1800, "work_dir": "/w", "state_dir": "/s",
        "defaults_file": "/etc/default/LifeKeeper", "lkroot": "/opt/LifeKeeper"
    });
    for (k, val) in extra.as_object().unwrap() {
        if val.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = val.clone();
        }
    }
    serde_json::from_value(p).unwrap()
}

/// What a probe that passed finds on a media of release `version`.
pub(super) fn probed(version: Version) -> Result<media::Probed, media::ProbeError> {
    Ok(media::Probed {
        version,
        packages: vec![format!("steeleye-lk-{version}-1.x86_64")],
        usage: "Usage: setup [-f CONFFILE -q y]".into(),
        warnings: vec![],
    })
}

pub(super) fn image(path: &str, version: Result<&str, &str>) -> MediaFact {
    MediaFact {
        src: MediaSrc::Image(PathBuf::from(path)),
        probe: match version {
            Ok(x) => probed(v(x)),
            Err(e) => Err(media::ProbeError::Media(e.into())),
        },
    }
}

pub(super) fn facts(installed: Option<&str>) -> Facts {
    Facts {
        host: "node-a".into(),
        journal_path: "/s/upgrade-journal.node-a.json".into(),
        installed: installed.map(v),
        node: Probe::Stopped,
        packages: Ok(vec![
            "steeleye-lk-9.4.0-1.x86_64".into(),
            "steeleye-lkIP-9.4.0-1.noarch".into(),
        ]),
        stepping: vec![],
        target_media: Some(image("/m/sps_961.img", Ok(TARGET))),
        media_packages: vec![],
        backup: None,
        backup_warnings: vec![],
        backup_entry: None,
        setup_config_is_file: false,
        setup_config_text: String::new(),
        defaults_base_is_file: false,
        license_files_exist: true,
        defaults_problems: vec![],
        now: "2026-12-01T09:00:00Z".into(),
        machine_id: None,
    }
}

pub(super) fn up(states: &[(&str, &str)]) -> Probe {
    let mut st = status::Status::default();
    for (tag, state) in states {
        st.resources.push(status::Resource {
            tag: tag.to_string(),
            id: tag.to_string(),
            state: state.to_string(),
            prio: 1,
            primary: "node-a".into(),
            backup: Some("node-b".into()),
            parent: None,
            depth: 0,
        });
    }
    Probe::Up(st)
}

/// One upgrade path: the params and facts that lead to it, and the steps it must plan.
struct PathCase {
    name: &'static str,
    path: UpPath,
    params: Value,
    facts: Facts,
    steps: &'static [&'static str],
}

fn path_cases() -> Vec<PathCase> {
    let mut stepwise = facts(Some("9.3.2"));
    stepwise.stepping = vec![image("/m/sps_943.img", Ok("9.4.3"))];
    let mut reinstall = facts(Some("9.3.2"));
    reinstall.backup = Some(Ok(Some(
        "/b/node-a.lkbackup.20261201T080000Z.tar.gz".into(),
    )));
    let mut old = facts(Some("7.4.0"));
    old.backup = reinstall.backup.clone();
    let mut running = facts(Some("9.4.0"));
    running.node = up(&[("app", "OSU")]);
    let reinstall_params = json!({"allow_reinstall": true, "backup_dir": "/b"});
    vec![
        PathCase {
            name: "direct",
            path: UpPath::Direct,
            params: json!({}),
            facts: facts(Some("9.4.0")),
            steps: &["mount media 9.6.1", "setup 9.6.1", "verify"],
        },
        PathCase {
            name: "direct, LifeKeeper running before",
            path: UpPath::Direct,
            params: json!({}),
            facts: running,
            steps: &[
                "mount media 9.6.1",
                "setup 9.6.1",
                "start LifeKeeper",
                "verify",
            ],
        },
        PathCase {
            name: "direct from a media directory, start_after=always",
            path: UpPath::Direct,
            params: json!({"media": null, "media_dir": "/m/961", "start_after": "always"}),
            facts: Facts {
                target_media: Some(MediaFact {
                    src: MediaSrc::Dir("/m/961".into()),
                    probe: probed(v(TARGET)),
                }),
                ..facts(Some("9.5.2"))
            },
            steps: &[
                "use media 9.6.1",
                "setup 9.6.1",
                "start LifeKeeper",
                "verify",
            ],
        },
        PathCase {
            name: "stepwise",
            path: UpPath::Stepwise,
            params: json!({"stepping_media": ["/m/sps_943.img"], "media_mode": "extract"}),
            facts: stepwise,
            steps: &[
                "extract media 9.4.3",
                "setup 9.4.3",
                "extract media 9.6.1",
                "setup 9.6.1",
                "verify",
            ],
        },
        PathCase {
            name: "reinstall",
            path: UpPath::Reinstall,
            params: reinstall_params.clone(),
            facts: reinstall,
            steps: &[
                "verify backup",
                "save defaults",
                "stop LifeKeeper",
                "uninstall LifeKeeper",
                "mount media 9.6.1",
                "setup 9.6.1",
                "restore configuration",
                "re-apply defaults",
                "verify",
            ],
        },
        PathCase {
            name: "reinstall from before 7.5, no restore",
            path: UpPath::Reinstall,
            params: json!({"allow_reinstall": true, "backup_dir": "/b", "restore_config": false}),
            facts: old,
            steps: &[
                "verify backup",
                "save defaults",
                "stop LifeKeeper",
                "uninstall LifeKeeper",
                "remove old packages",
                "mount media 9.6.1",
                "setup 9.6.1",
                "re-apply defaults",
                "verify",
            ],
        },
    ]
}

pub(super) fn upgrade(r: Result<Plan, Failure>, case: &str) -> Upgrade {
    match r {
        Ok(Plan::Upgrade(u)) => *u,
        Ok(Plan::AtTarget(_)) => panic!("{case}: planned nothing to do"),
        Err(e) => panic!("{case}: refused: {}", e.msg),
    }
}

pub(super) fn names(u: &Upgrade) -> Vec<&str> {
    u.steps.iter().map(|s| s.name.as_str()).collect()
}

/// Steps a run records in the journal (the others are transient or checks).
pub(super) fn journaled(a: &Action) -> bool {
    !matches!(a, Action::VerifyBackup | Action::Media(_) | Action::Verify)
}

/// What the node looks like after the journaled steps `done`: rmlk leaves nothing installed,
/// each setup installs its release.
fn installed_after(before: Option<Version>, done: &[String]) -> Option<Version> {
    let mut inst = before;
    for d in done {
        if d == "uninstall LifeKeeper" {
            inst = None;
        }
        if let Some(r) = d.strip_prefix("setup ") {
            inst = Some(v(r));
        }
    }
    inst
}

#[test]
fn every_path_plans_its_steps_and_only_the_reinstall_runs_rmlk() {
    for c in path_cases() {
        for check_mode in [false, true] {
            let p = params(c.params.clone());
            let u = upgrade(plan(&p, v(TARGET), &c.facts, None, check_mode), c.name);
            assert_eq!(u.path, c.path, "{}", c.name);
            assert_eq!(names(&u), c.steps, "{}", c.name);
            assert!(
                u.steps.iter().all(|s| s.status == StepStatus::Planned),
                "{}",
                c.name
            );
            assert!(!u.resuming, "{}", c.name);
            assert_eq!(
                names(&u).contains(&"uninstall LifeKeeper"),
                c.path == UpPath::Reinstall,
                "{}: rmlk only on the reinstall path",
                c.name
            );
            assert_eq!(u.journal.path, c.path.name(), "{}", c.name);
            assert_eq!(
                u.journal.previous_version,
                c.facts.installed.map(|i| i.to_string())
            );
            assert_eq!(u.journal.packages_before, c.facts.packages.clone().unwrap());
            assert!(u.backup_missing.is_none(), "{}", c.name);
            assert_eq!(
                u.backup_archive.is_some(),
                c.path == UpPath::Reinstall,
                "{}",
                c.name
            );
        }
    }
}

#[test]
fn every_path_resumes_from_every_journal_state() {
    for c in path_cases() {
        let p = params(c.params.clone());
        let fresh = upgrade(plan(&p, v(TARGET), &c.facts, None, false), c.name);
        let order: Vec<String> = fresh
            .steps
            .iter()
            .filter(|s| journaled(&s.action))
            .map(|s| s.name.clone())
            .collect();
        for k in 0..=order.len() {
            let mut j = fresh.journal.clone();
            j.done = order[..k].to_vec();
            // The node as the journal says it is: LifeKeeper still runs until the reinstall's
            // stop is done (post-conditions agree with the journal here).
            let f = Facts {
                installed: installed_after(c.facts.installed, &j.done),
                node: if c.path == UpPath::Reinstall && !j.is_done("stop LifeKeeper") {
                    up(&[])
                } else {
                    c.facts.node.clone()
                },
                ..c.facts.clone()
            };
            let case = format!("{} with {:?} done", c.name, j.done);
            let u = upgrade(plan(&p, v(TARGET), &f, Some(&j), false), &case);
            assert!(u.resuming, "{case}");
            assert_eq!(u.path, c.path, "{case}: the path comes from the journal");
            assert_eq!(names(&u), c.steps, "{case}");
            assert_eq!(u.previous, c.facts.installed, "{case}");
            assert_eq!(u.journal, j, "{case}: the journal is carried on unchanged");
            let setups_done: Vec<usize> = u
                .steps
                .iter()
                .filter_map(|s| match s.action {
                    Action::Setup(i) if j.is_done(&s.name) => Some(i),
                    _ => None,
                })
                .collect();
            for s in &u.steps {
                let done = j.is_done(&s.name)
                    || matches!(s.action, Action::Media(i) if setups_done.contains(&i));
                let want = if done {
                    StepStatus::Done
                } else {
                    StepStatus::Planned
                };
                assert_eq!(s.status, want, "{case}: {}", s.name);
            }
            let rmlk_planned = u
                .steps
                .iter()
                .any(|s| s.action == Action::Uninstall && s.status == StepStatus::Planned);
            assert_eq!(
                rmlk_planned,
                c.path == UpPath::Reinstall && !j.is_done("uninstall LifeKeeper"),
                "{case}: rmlk runs at most once"
            );
        }
        // Finished: at the target, nothing to do, no media looked at.
        let mut j = fresh.journal.clone();
        j.done = order.clone();
        j.finished = true;
        let f = Facts {
            installed: Some(v(TARGET)),
            target_media: None,
            ..c.facts.clone()
        };
        match plan(&p, v(TARGET), &f, Some(&j), false) {
            Ok(Plan::AtTarget(a)) => {
                assert_eq!(a.target, v(TARGET));
                let o = a.outcome(&f.journal_path);
                assert!(!o.changed, "{}: finished means changed false", c.name);
            }
            other => panic!("{}: finished journal planned {other:?}", c.name),
        }
        // A finished journal does not pin the path of a later upgrade.
        let u = upgrade(plan(&p, v(TARGET), &c.facts, Some(&j), false), c.name);
        assert!(!u.resuming, "{}", c.name);
    }
}

#[test]
fn a_resumed_run_without_media_keeps_a_target_setup_done_earlier() {
    let f = Facts {
        installed: Some(v(TARGET)),
        ..facts(Some("9.4.0"))
    };
    let p = params(json!({}));
    let fresh = upgrade(
        plan(&p, v(TARGET), &facts(Some("9.4.0")), None, false),
        "direct",
    );
    let mut j = fresh.journal.clone();
    j.done = vec!["setup 9.6.1".into()];
    let no_media = params(json!({"media": null}));
    let f = Facts {
        target_media: None,
        ..f
    };
    let u = upgrade(plan(&no_media, v(TARGET), &f, Some(&j), false), "no media");
    assert_eq!(names(&u), ["setup 9.6.1", "verify"]);
    assert_eq!(u.steps[0].detail, "done by an earlier run");
    assert_eq!(u.steps[0].status, StepStatus::Done);
    assert_eq!(u.steps[1].status, StepStatus::Planned);
    // Without the setup done, the media is required.
    j.done.clear();
    let e = plan(&no_media, v(TARGET), &f, Some(&j), false).unwrap_err();
    assert_eq!(e.data["invalid_parameter"], "media");
}

/// One refusal: how to get there, what the message must say, which parameter it names.
struct Refused {
    name: &'static str,
    params: Value,
    facts: Facts,
    journal: Option<Journal>,
    says: &'static str,
    param: Option<&'static str>,
}

fn pending(path: &str, target: &str) -> Journal {
    Journal {
        format: 1,
        host: "node-a".into(),
        target: target.into(),
        previous_version: Some("9.3.2".into()),
        path: path.into(),
        stepping: (path == "stepwise").then(|| "9.4.3".into()),
        was_running: false,
        started: "2026-12-01T08:00:00Z".into(),
        done: vec![],
        packages_before: vec![],
        saved_defaults: None,
        setup_logs: vec![],
        finished: false,
        backup: None,
        fresh_defaults: None,
        setup_usage: None,
        to_reinstall: vec![],
        site_files_archive: None,
        machine_id: None,
    }
}

fn refusals() -> Vec<Refused> {
    let reinstall = json!({"allow_reinstall": true, "backup_dir": "/b"});
    let with_backup = |b: Option<Result<Option<PathBuf>, String>>| Facts {
        backup: b,
        ..facts(Some("9.3.2"))
    };
    let mut recorded = pending("reinstall", TARGET);
    recorded.backup = Some("node-a.lkbackup.20261201T080000Z.tar.gz".into());
    vec![
        Refused {
            name: "running resources (ISP)",
            params: json!({}),
            facts: Facts { node: up(&[("app", "ISP"), ("ip", "OSU")]), ..facts(Some("9.4.0")) },
            journal: None,
            says: "resources are in service on node-a: app (ISP); move them to another node first",
            param: None,
        },
        Refused {
            name: "running resources (ISU), resuming",
            params: json!({}),
            facts: Facts { node: up(&[("db", "ISU")]), ..facts(Some("9.4.0")) },
            journal: Some(pending("direct", TARGET)),
            says: "resources are in service on node-a: db (ISU)",
            param: None,
        },
        Refused {
            name: "reinstall not allowed",
            params: json!({}),
            facts: facts(Some("9.3.2")),
            journal: None,
            says: "9.3.2 cannot be upgraded in place to 9.6.1 and no stepping_media was given",
            param: Some("allow_reinstall"),
        },
        Refused {
            name: "reinstall without backup_dir",
            params: json!({"allow_reinstall": true}),
            facts: facts(Some("9.3.2")),
            journal: None,
            says: "the reinstall path needs backup_dir",
            param: Some("backup_dir"),
        },
        Refused {
            name: "unverified backup",
            params: reinstall.clone(),
            facts: with_backup(Some(Ok(None))),
            journal: None,
            says: "/b holds no backup of node-a that verifies (checksum and host); run lk_backup dest=/b first",
            param: Some("backup_dir"),
        },
        Refused {
            name: "unreadable backup directory",
            params: reinstall.clone(),
            facts: with_backup(Some(Err("cannot read /b/lkops-backups.json".into()))),
            journal: None,
            says: "cannot read /b/lkops-backups.json",
            param: Some("backup_dir"),
        },
        Refused {
            name: "a CRLF defaults file stops a fresh reinstall before lkstop",
            params: reinstall.clone(),
            facts: Facts {
                defaults_problems: vec![("defaults_file", "defaults_file /etc/default/LifeKeeper line 1: CRLF".into())],
                ..with_backup(Some(Ok(Some(PathBuf::from("/b/a.tar.gz")))))
            },
            journal: None,
            says: "defaults_file /etc/default/LifeKeeper line 1: CRLF",
            param: Some("defaults_file"),
        },
        Refused {
            name: "the backup a resumed reinstall relies on no longer verifies",
            params: reinstall.clone(),
            facts: Facts { installed: None, ..with_backup(Some(Ok(None))) },
            journal: Some(recorded),
            says: "the backup node-a.lkbackup.20261201T080000Z.tar.gz in /b that this unfinished upgrade of node-a relies on no longer verifies",
            param: Some("backup_dir"),
        },
        Refused {
            name: "media version mismatch",
            params: json!({}),
            facts: Facts { target_media: Some(image("/m/sps_961.img", Ok("9.5.0"))), ..facts(Some("9.4.0")) },
            journal: None,
            says: "/m/sps_961.img is release 9.5.0, not version 9.6.1",
            param: Some("media"),
        },
        Refused {
            name: "media_dir version mismatch",
            params: json!({"media": null, "media_dir": "/m/950"}),
            facts: Facts {
                target_media: Some(MediaFact { src: MediaSrc::Dir("/m/950".into()), probe: probed(v("9.5.0")) }),
                ..facts(Some("9.4.0"))
            },
            journal: None,
            says: "/m/950 is release 9.5.0, not version 9.6.1",
            param: Some("media_dir"),
        },
        Refused {
            name: "downgrade",
            params: json!({}),
            facts: facts(Some("9.7.0")),
            journal: None,
            says: "installed 9.7.0 is newer than version 9.6.1; downgrade is not supported without allow_downgrade: true",
            param: Some("allow_downgrade"),
        },
        Refused {
            name: "not installed",
            params: json!({}),
            facts: facts(None),
            journal: None,
            says: "LifeKeeper is not installed on node-a (rpm -q steeleye-lk)",
            param: None,
        },
        Refused {
            name: "unknown media version",
            params: json!({}),
            facts: Facts { target_media: Some(image("/m/x.img", Err("cannot tell its version"))), ..facts(Some("9.4.0")) },
            journal: None,
            says: "media: /m/x.img: cannot tell its version",
            param: Some("media"),
        },
        Refused {
            name: "unknown stepping media version",
            params: json!({"stepping_media": ["/m/y.img"]}),
            facts: Facts { stepping: vec![image("/m/y.img", Err("no such image file"))], ..facts(Some("9.3.2")) },
            journal: None,
            says: "stepping_media: /m/y.img: no such image file",
            param: Some("stepping_media"),
        },
        Refused {
            name: "lcdstatus failed",
            params: json!({}),
            facts: Facts { node: Probe::Failed(Failure::new("reading the resource status: rc=1")), ..facts(Some("9.4.0")) },
            journal: None,
            says: "reading the resource status: rc=1",
            param: None,
        },
        Refused {
            name: "mixed-up journal: another target",
            params: json!({}),
            facts: facts(Some("9.4.0")),
            journal: Some(pending("direct", "9.5.0")),
            says: "an unfinished upgrade of node-a to 9.5.0 is recorded in /s/upgrade-journal.node-a.json; rerun with version 9.5.0",
            param: Some("version"),
        },
        Refused {
            name: "mixed-up journal: unknown path",
            params: json!({}),
            facts: facts(Some("9.4.0")),
            journal: Some(pending("sideways", TARGET)),
            says: "the journal records an unknown path 'sideways'",
            param: None,
        },
        Refused {
            name: "mixed-up journal: bad stepping version",
            params: json!({}),
            facts: facts(Some("9.4.3")),
            journal: Some(Journal { stepping: Some("9.x".into()), ..pending("stepwise", TARGET) }),
            says: "'9.x' is not a version",
            param: None,
        },
        Refused {
            name: "mixed-up journal: stepping media no longer given",
            params: json!({}),
            facts: facts(Some("9.4.3")),
            journal: Some(pending("stepwise", TARGET)),
            says: "the journal's stepping release 9.4.3 is not among stepping_media",
            param: Some("stepping_media"),
        },
        Refused {
            name: "no media",
            params: json!({"media": null}),
            facts: Facts { target_media: None, ..facts(Some("9.4.0")) },
            journal: None,
            says: "media (the 9.6.1 ISO image) or media_dir is required to upgrade node-a",
            param: Some("media"),
        },
        Refused {
            name: "setup_config is not a file",
            params: json!({"setup_config": "/etc/lk.conf"}),
            facts: facts(Some("9.4.0")),
            journal: None,
            says: "setup_config /etc/lk.conf is not a file",
            param: Some("setup_config"),
        },
        Refused {
            name: "defaults_base is not a file",
            params: json!({"defaults_base": "/etc/base"}),
            facts: facts(Some("9.4.0")),
            journal: None,
            says: "defaults_base /etc/base is not a file",
            param: Some("defaults_base"),
        },
        Refused {
            name: "a license file is missing",
            params: json!({"license_files": ["/root/a.lic"]}),
            facts: Facts { license_files_exist: false, ..facts(Some("9.4.0")) },
            journal: None,
            says: "license_files: a license file does not exist",
            param: Some("license_files"),
        },
        Refused {
            name: "rpm -qa failed",
            params: json!({}),
            facts: Facts { packages: Err("listing installed packages: rc=1".into()), ..facts(Some("9.4.0")) },
            journal: None,
            says: "listing installed packages: rc=1",
            param: None,
        },
    ]
}

#[test]
fn every_refusal_stops_the_plan_with_its_message() {
    for r in refusals() {
        let p = params(r.params.clone());
        let e = match plan(&p, v(TARGET), &r.facts, r.journal.as_ref(), false) {
            Err(e) => e,
            Ok(other) => panic!("{}: not refused: {other:?}", r.name),
        };
        assert!(e.msg.contains(r.says), "{}: {}", r.name, e.msg);
        assert_eq!(
            e.data.get("invalid_parameter").and_then(|v| v.as_str()),
            r.param,
            "{}",
            r.name
        );
        assert!(!e.changed, "{}: a refusal changes nothing", r.name);
    }
}

#[test]
fn in_service_refusal_lists_the_resources_and_can_be_waived() {
    let f = Facts {
        node: up(&[("app", "ISP"), ("db", "ISU"), ("ip", "OSF")]),
        ..facts(Some("9.4.0"))
    };
    let e = plan(&params(json!({})), v(TARGET), &f, None, false).unwrap_err();
    assert_eq!(e.data["in_service"], json!(["app (ISP)", "db (ISU)"]));
    let u = upgrade(
        plan(
            &params(json!({"require_standby": false})),
            v(TARGET),
            &f,
            None,
            false,
        ),
        "require_standby false",
    );
    assert!(u.running_now);
}

/// molecule node_failure: the peer died while this node was half-way through setup, so
/// LifeKeeper failed every hierarchy over to this node when it started again. The rerun only has
/// the checks left; refusing it for hierarchies in service stranded an upgraded node (and, with
/// it, the whole rolling upgrade) for good.
#[test]
fn rerun_after_the_peer_failed_over_to_an_upgraded_node_is_not_refused_for_its_resources() {
    let busy = Facts {
        installed: Some(v(TARGET)),
        node: up(&[("app", "ISP"), ("ip", "ISP")]),
        ..facts(Some("9.4.0"))
    };
    let mut j = pending("direct", TARGET);
    j.previous_version = Some("9.4.0".into());
    j.was_running = true;
    j.done = vec!["setup 9.6.1".into(), "start LifeKeeper".into()];
    let u = upgrade(
        plan(&params(json!({})), v(TARGET), &busy, Some(&j), false),
        "setup done, resources failed over here",
    );
    assert!(names(&u).contains(&"verify"), "{:?}", names(&u));
    // Before the target's setup the guard still holds, journal or not.
    j.done.clear();
    let e = plan(&params(json!({})), v(TARGET), &busy, Some(&j), false).unwrap_err();
    assert!(
        e.msg.contains("resources are in service on node-a"),
        "{}",
        e.msg
    );
}

#[test]
fn check_mode_plans_a_reinstall_before_its_backup_exists_and_says_the_real_run_refuses() {
    let f = Facts {
        backup: Some(Ok(None)),
        ..facts(Some("9.3.2"))
    };
    let p = params(json!({"allow_reinstall": true, "backup_dir": "/b"}));
    let u = upgrade(plan(&p, v(TARGET), &f, None, true), "check mode");
    let why = u
        .backup_missing
        .clone()
        .expect("says the backup is missing");
    assert!(
        why.contains("no verified backup of node-a in /b yet"),
        "{why}"
    );
    assert_eq!(u.steps[0].name, "verify backup");
    assert_eq!(u.steps[0].detail, why);
    assert!(u.backup_archive.is_none());
    let o = u.predicted(&p, &f);
    assert_eq!(o.warnings, vec![why]);
    assert!(
        plan(&p, v(TARGET), &f, None, false).is_err(),
        "the real run refuses"
    );
}

#[test]
fn at_target_is_nothing_to_do_whatever_the_media() {
    // The media is never looked at: a wrong or missing media does not matter.
    let f = Facts {
        target_media: None,
        node: up(&[]),
        ..facts(Some(TARGET))
    };
    match plan(&params(json!({"media": null})), v(TARGET), &f, None, false).unwrap() {
        Plan::AtTarget(a) => {
            assert!(a.running);
            let o = a.outcome(&f.journal_path);
            assert_eq!(o.data["path"], "none");
            assert_eq!(o.data["previous_version"], TARGET);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn predicted_packages_keep_installed_kits_in_place_and_the_core_set_on_reinstall() {
    let p = params(json!({"recovery_kits": ["lkNFS"], "quorum": true}));
    let f = Facts {
        media_packages: vec!["steeleye-lk-9.6.1-8580.x86_64".into()],
        ..facts(Some("9.4.0"))
    };
    let u = upgrade(plan(&p, v(TARGET), &f, None, true), "direct");
    assert_eq!(
        u.predict_packages(&p, &f),
        [
            "steeleye-lk-9.6.1-8580.x86_64",
            "steeleye-lkDR-9.6.1",
            "steeleye-lkGUI-9.6.1",
            "steeleye-lkIP-9.6.1",
            "steeleye-lkNFS-9.6.1",
            "steeleye-lkQWK-9.6.1",
        ]
    );
    let p = params(json!({"allow_reinstall": true, "backup_dir": "/b", "setup_config": "/c"}));
    let f = Facts {
        backup: Some(Ok(Some("/b/a.tar.gz".into()))),
        setup_config_is_file: true,
        setup_config_text: "LKCONF_RECOVERY_KITS=\"lkPGSQL\"\n".into(),
        ..facts(Some("9.3.2"))
    };
    let u = upgrade(plan(&p, v(TARGET), &f, None, true), "reinstall");
    assert_eq!(
        u.predict_packages(&p, &f),
        [
            "steeleye-lk-9.6.1",
            "steeleye-lkDR-9.6.1",
            "steeleye-lkGUI-9.6.1",
            "steeleye-lkPGSQL-9.6.1",
        ],
        "reinstall: the installed lkIP is not carried"
    );
}

/// Issue 22, defect 3: killed after rmlk finished but before its journal entry. The rerun judges
/// the steps by their post-conditions: steeleye-lk is gone, so stop and uninstall are done and
/// rmlk never runs again; setup is planned.
#[test]
fn node_left_uninstalled_for_good_when_killed_after_rmlk_before_its_journal_entry() {
    let p = params(json!({"allow_reinstall": true, "backup_dir": "/b"}));
    let mut f = facts(Some("9.3.2"));
    f.backup = Some(Ok(Some("/b/node-a.lkbackup.x.tar.gz".into())));
    let fresh = upgrade(plan(&p, v(TARGET), &f, None, false), "fresh");
    let mut j = fresh.journal.clone();
    j.done = vec!["save defaults".into(), "stop LifeKeeper".into()];
    f.installed = None;
    f.packages = Ok(vec![]);
    let u = upgrade(plan(&p, v(TARGET), &f, Some(&j), false), "rerun");
    let st = |n: &str| u.steps.iter().find(|s| s.name == n).unwrap().status;
    assert_eq!(st("uninstall LifeKeeper"), StepStatus::Done);
    assert_eq!(st("stop LifeKeeper"), StepStatus::Done);
    assert_eq!(st("setup 9.6.1"), StepStatus::Planned);
    // Killed after the target's setup installed it but before its journal entry: setup is done.
    f.installed = Some(v(TARGET));
    let u = upgrade(
        plan(&p, v(TARGET), &f, Some(&j), false),
        "rerun after setup",
    );
    let st = |n: &str| u.steps.iter().find(|s| s.name == n).unwrap().status;
    assert_eq!(st("setup 9.6.1"), StepStatus::Done);
    assert_eq!(st("uninstall LifeKeeper"), StepStatus::Done);
}

/// The probe before anything changes: a media refused by it (bad media, or a setup whose usage
/// does not name setup_args) stops the plan naming the parameter, in check mode too.
#[test]
fn media_probe_refusals_name_the_media_or_setup_args() {
    for check in [false, true] {
        let p = params(json!({}));
        let mut f = facts(Some("9.4.0"));
        f.target_media = Some(MediaFact {
            src: MediaSrc::Image("/m/sps_961.img".into()),
            probe: Err(media::ProbeError::SetupArgs(
                "setup --help does not name -q".into(),
            )),
        });
        let e = plan(&p, v(TARGET), &f, None, check).unwrap_err();
        assert_eq!(e.data["invalid_parameter"], "setup_args", "{}", e.msg);
        assert!(e.msg.contains("does not name -q"), "{}", e.msg);
        f.target_media = Some(image(
            "/m/sps_961.img",
            Err("it holds no setup: not LifeKeeper media"),
        ));
        let e = plan(&p, v(TARGET), &f, None, check).unwrap_err();
        assert_eq!(e.data["invalid_parameter"], "media", "{}", e.msg);
    }
}

/// Without setup_config and without the explicit opt-in, the plan refuses before any change.
#[test]
fn without_setup_config_or_generate_setup_config_the_plan_refuses_asking_for_the_saved_file() {
    let p = params(json!({"generate_setup_config": false}));
    let e = plan(&p, v(TARGET), &facts(Some("9.4.0")), None, true).unwrap_err();
    assert_eq!(e.data["invalid_parameter"], "setup_config", "{}", e.msg);
    assert!(e.msg.contains("Save"), "{}", e.msg);
}

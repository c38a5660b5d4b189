//! Table-driven tests of the rollback path's plan (allow_downgrade): its steps, every refusal
//! (all before anything is touched), and a rerun from every journal state — the interrupted
//! rollback of issue 28 (O3) included. Hand-made facts, no simulator.

use super::facts::Facts;
use super::plan::{plan, Action, Plan, StepStatus};
use super::plan_tests::{facts, image, journaled, names, params, up, upgrade, v};
use crate::lifekeeper::backup_store::BackupEntry;
use crate::lifekeeper::status::Probe;
use crate::lifekeeper::version::{Path as UpPath, Version};
use serde_json::{json, Value};
use std::path::PathBuf;

const OLD: &str = "9.4.0";
const ARCHIVE: &str = "node-a.lkbackup.20261201T080000Z.tar.gz";

fn entry(release: &str) -> BackupEntry {
    BackupEntry {
        host: "node-a".into(),
        time: "2026-12-01T08:00:00Z".into(),
        timestamp: 1_796_112_000,
        lifekeeper_version: Some(release.into()),
        fingerprint: "f1".into(),
        archive: ARCHIVE.into(),
        sha256: "a".repeat(64),
        size: 10,
        defaults_copy: Some("node-a.LifeKeeper.20261201T080000Z".into()),
        defaults_sha256: Some("b".repeat(64)),
        source: "/opt/LifeKeeper/config/archive.2612010800.tar.gz".into(),
    }
}

/// The rollback's arguments: back to 9.4.0 from its media, with backup_dir.
fn rb_params(extra: Value) -> super::Params {
    let mut a = json!({"version": OLD, "media": "/m/sps_940.img", "allow_downgrade": true,
                       "backup_dir": "/b", "start_after": "always"});
    for (k, val) in extra.as_object().unwrap() {
        a[k] = val.clone();
    }
    params(a)
}

/// A node at 9.6.1 (LifeKeeper running, nothing in service), the 9.4.0 media, the backup taken
/// at 9.4.0 before the upgrade.
fn rb_facts() -> Facts {
    Facts {
        node: up(&[("app", "OSU")]),
        target_media: Some(image("/m/sps_940.img", Ok(OLD))),
        backup_entry: Some(Ok(Some(entry(OLD)))),
        ..facts(Some("9.6.1"))
    }
}

const STEPS: &[&str] = &[
    "verify backup",
    "save defaults",
    "mount media 9.4.0",
    "stop LifeKeeper",
    "uninstall LifeKeeper",
    "setup 9.4.0",
    "restore configuration",
    "put back defaults",
    "start LifeKeeper",
    "verify",
];

#[test]
fn rollback_plans_the_reinstall_steps_towards_the_older_release_media_opened_before_lkstop() {
    for check_mode in [false, true] {
        let u = upgrade(
            plan(&rb_params(json!({})), v(OLD), &rb_facts(), None, check_mode),
            "rollback",
        );
        assert_eq!(u.path, UpPath::Rollback);
        assert_eq!(names(&u), STEPS);
        assert!(u.steps.iter().all(|s| s.status == StepStatus::Planned));
        assert_eq!(u.journal.path, "rollback");
        assert_eq!(u.journal.previous_version.as_deref(), Some("9.6.1"));
        assert_eq!(u.journal.backup.as_deref(), Some(ARCHIVE));
        assert_eq!(u.backup_archive, Some(PathBuf::from("/b").join(ARCHIVE)));
        let b = u.rollback.as_ref().unwrap();
        assert_eq!(
            b.defaults_copy,
            Some((
                PathBuf::from("/b/node-a.LifeKeeper.20261201T080000Z"),
                "b".repeat(64)
            ))
        );
        assert_eq!(
            u.saved_defaults,
            Some(PathBuf::from("/b/node-a.LifeKeeper.defaults.9.6.1.saved"))
        );
        let detail = |n: &str| &u.steps.iter().find(|s| s.name == n).unwrap().detail;
        assert!(
            detail("restore configuration").contains(&format!("bin/lkbackup -x -f /b/{ARCHIVE}"))
        );
        assert!(detail("put back defaults").contains("/b/node-a.LifeKeeper.20261201T080000Z"));
        assert!(detail("verify backup").contains("was taken at 9.4.0"));
        // The setup step is the reinstall's own (the same setup invocation).
        assert!(detail("setup 9.4.0").starts_with("setup "), "{u:?}");
    }
    // Without a separate defaults copy in the backup, lkbackup -x's file stands.
    let mut f = rb_facts();
    let mut e = entry(OLD);
    e.defaults_copy = None;
    f.backup_entry = Some(Ok(Some(e)));
    let u = upgrade(
        plan(&rb_params(json!({})), v(OLD), &f, None, false),
        "no copy",
    );
    assert!(u.steps[7]
        .detail
        .contains("the one lkbackup -x restored stands"));
}

/// One refusal of the rollback path: all before anything is touched (the plan is pure, so a
/// refusal here means no step ran; the contract test proves the node is untouched).
struct Refused {
    name: &'static str,
    params: Value,
    facts: Facts,
    check_mode: bool,
    says: &'static str,
    param: &'static str,
}

fn refusals() -> Vec<Refused> {
    vec![
        Refused {
            name: "a downgrade without allow_downgrade stays refused",
            params: json!({"allow_downgrade": false}),
            facts: rb_facts(),
            check_mode: false,
            says: "installed 9.6.1 is newer than version 9.4.0; downgrade is not supported without allow_downgrade: true",
            param: "allow_downgrade",
        },
        Refused {
            name: "a rollback media that is not the recorded release",
            params: json!({}),
            facts: Facts { target_media: Some(image("/m/sps_940.img", Ok("9.5.1"))), ..rb_facts() },
            check_mode: false,
            says: "/m/sps_940.img is release 9.5.1, not version 9.4.0",
            param: "media",
        },
        Refused {
            name: "a rollback media that is not the recorded release, check mode",
            params: json!({}),
            facts: Facts { target_media: Some(image("/m/sps_940.img", Ok("9.5.1"))), ..rb_facts() },
            check_mode: true,
            says: "/m/sps_940.img is release 9.5.1, not version 9.4.0",
            param: "media",
        },
        Refused {
            name: "without backup_dir",
            params: json!({"backup_dir": null}),
            facts: rb_facts(),
            check_mode: false,
            says: "the rollback path needs backup_dir holding the verified lk_backup taken of node-a at 9.4.0",
            param: "backup_dir",
        },
        Refused {
            name: "no backup taken at the release",
            params: json!({}),
            facts: Facts { backup_entry: Some(Ok(None)), ..rb_facts() },
            check_mode: false,
            says: "/b holds no verified backup of node-a taken at 9.4.0",
            param: "backup_dir",
        },
        Refused {
            name: "the newest backup at the release does not verify",
            params: json!({}),
            facts: Facts { backup_entry: Some(Err("the newest backup of node-a taken at 9.4.0 in /b, x, does not verify".into())), ..rb_facts() },
            check_mode: false,
            says: "does not verify",
            param: "backup_dir",
        },
        Refused {
            name: "a backup of another release",
            params: json!({}),
            facts: Facts { backup_entry: Some(Ok(Some(entry("9.6.1")))), ..rb_facts() },
            check_mode: false,
            says: "was taken at release 9.6.1, not at version 9.4.0",
            param: "backup_dir",
        },
        Refused {
            name: "resources in service on the node",
            params: json!({}),
            facts: Facts { node: up(&[("app", "ISP")]), ..rb_facts() },
            check_mode: false,
            says: "resources are in service on node-a: app (ISP)",
            param: "",
        },
    ]
}

#[test]
fn every_rollback_refusal_comes_before_any_step_naming_its_parameter() {
    for r in refusals() {
        // params() drops keys set to null.
        let p = rb_params(r.params.clone());
        let mut p = p;
        if r.params.get("backup_dir") == Some(&Value::Null) {
            p.backup_dir = None;
        }
        let e = match plan(&p, v(OLD), &r.facts, None, r.check_mode) {
            Err(e) => e,
            Ok(_) => panic!("{}: not refused", r.name),
        };
        assert!(e.msg.contains(r.says), "{}: {}", r.name, e.msg);
        if !r.param.is_empty() {
            assert_eq!(e.data["invalid_parameter"], r.param, "{}", r.name);
        }
    }
    // Check mode plans before the backup exists, saying the real run refuses.
    let f = Facts {
        backup_entry: Some(Ok(None)),
        ..rb_facts()
    };
    let u = upgrade(plan(&rb_params(json!({})), v(OLD), &f, None, true), "check");
    assert!(u
        .backup_missing
        .as_deref()
        .unwrap()
        .contains("the real run refuses"));
    assert!(u.steps[0]
        .detail
        .contains("no verified backup of node-a taken at 9.4.0"));
}

/// What the node looks like after the journaled steps `done`.
fn node_after(done: &[String]) -> (Option<Version>, Probe) {
    let mut inst = Some(v("9.6.1"));
    let mut node = up(&[]);
    for d in done {
        match d.as_str() {
            "stop LifeKeeper" => node = Probe::Stopped,
            "uninstall LifeKeeper" => {
                inst = None;
                node = Probe::NotInstalled("rpm -q steeleye-lk: not installed".into())
            }
            "setup 9.4.0" => {
                inst = Some(v(OLD));
                node = Probe::Stopped
            }
            "start LifeKeeper" => node = up(&[]),
            _ => {}
        }
    }
    (inst, node)
}

#[test]
fn rollback_resumes_from_every_journal_state_and_finished_is_nothing_to_do() {
    let p = rb_params(json!({}));
    let fresh = upgrade(plan(&p, v(OLD), &rb_facts(), None, false), "fresh");
    let order: Vec<String> = fresh
        .steps
        .iter()
        .filter(|s| journaled(&s.action))
        .map(|s| s.name.clone())
        .collect();
    for k in 0..=order.len() {
        let mut j = fresh.journal.clone();
        j.done = order[..k].to_vec();
        let (installed, node) = node_after(&j.done);
        let f = Facts {
            installed,
            node,
            ..rb_facts()
        };
        let case = format!("{:?} done", j.done);
        let u = upgrade(plan(&p, v(OLD), &f, Some(&j), false), &case);
        assert!(u.resuming, "{case}");
        assert_eq!(u.path, UpPath::Rollback, "{case}");
        assert_eq!(names(&u), STEPS, "{case}");
        let setup_done = j.is_done("setup 9.4.0");
        for s in &u.steps {
            let done = j.is_done(&s.name) || (matches!(s.action, Action::Media(_)) && setup_done);
            let want = if done {
                StepStatus::Done
            } else {
                StepStatus::Planned
            };
            assert_eq!(s.status, want, "{case}: {}", s.name);
        }
    }
    let mut j = fresh.journal.clone();
    j.done = order;
    j.finished = true;
    let f = Facts {
        installed: Some(v(OLD)),
        target_media: None,
        backup_entry: None,
        ..rb_facts()
    };
    match plan(&p, v(OLD), &f, Some(&j), false) {
        Ok(Plan::AtTarget(a)) => assert!(!a.outcome(&f.journal_path).changed),
        other => panic!("a finished rollback planned {other:?}"),
    }
}

/// Regression, issue 28 O3: a rollback interrupted after the old release's setup and before its
/// configuration was restored or LifeKeeper started. rollback.yml decided "rollback needed" from
/// the installed version alone, so the rerun counted the empty, stopped node at 9.4.0 as rolled
/// back and never restored it. The journal says what is left: restore, defaults, start, verify.
#[test]
fn o3_rollback_interrupted_after_setup_resumes_restore_defaults_and_start() {
    let p = rb_params(json!({}));
    let fresh = upgrade(plan(&p, v(OLD), &rb_facts(), None, false), "fresh");
    let mut j = fresh.journal.clone();
    j.done = [
        "save defaults",
        "stop LifeKeeper",
        "uninstall LifeKeeper",
        "setup 9.4.0",
    ]
    .map(String::from)
    .to_vec();
    let f = Facts {
        installed: Some(v(OLD)),
        node: Probe::Stopped,
        ..rb_facts()
    };
    let u = upgrade(plan(&p, v(OLD), &f, Some(&j), false), "O3");
    let left: Vec<&str> = u
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Planned)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        left,
        [
            "verify backup",
            "restore configuration",
            "put back defaults",
            "start LifeKeeper",
            "verify"
        ]
    );
    // Even without the media the rerun finishes (its setup is done).
    let no_media = rb_params(json!({}));
    let f = Facts {
        target_media: None,
        ..f
    };
    let mut no_media = no_media;
    no_media.media = None;
    let u = upgrade(plan(&no_media, v(OLD), &f, Some(&j), false), "O3 no media");
    assert!(names(&u).contains(&"restore configuration"));
}

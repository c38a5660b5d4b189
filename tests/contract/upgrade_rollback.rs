//! lk_upgrade's rollback path (allow_downgrade) against the simulator: a node upgraded 9.4.0 ->
//! 9.6.1 goes back to 9.4.0 from the 9.4.0 media and the backup lk_backup took before the
//! upgrade. Refusals before any change (the wrong media, no allow_downgrade), the check-mode plan,
//! the real run (hierarchies, comm paths and the defaults file as before the upgrade), the
//! idempotent rerun, and a rollback interrupted after setup that resumes (issue 28, O3).

use crate::common::*;
use crate::upgrade::{
    args, check, clear, fault, names, node_state, run_fail, run_ok, s, settled_hash, steps,
};
use serde_json::{json, Value};
use std::path::PathBuf;

struct Upgraded {
    c: Cluster,
    old_media: PathBuf,
    backups: PathBuf,
    /// node-b's defaults file, its hierarchies and comm paths before the upgrade.
    defaults: String,
    resources: Value,
    paths: Value,
}

/// A 9.4.0 cluster whose node-b has a site value in its defaults file and a verified lk_backup
/// taken at 9.4.0, then upgraded to 9.6.1 (direct) with lk_upgrade.
fn upgraded(name: &str) -> Upgraded {
    let c = Cluster::create(name, &["node-a", "node-b"], "9.4.0", &[]);
    let new_media = media(name, "9.6.1");
    let old_media = media(name, "9.4.0");
    let b = c.node("node-b");
    let text = std::fs::read_to_string(&b.defaults_file).unwrap();
    std::fs::write(&b.defaults_file, text + "SITE_TUNABLE=42\n").unwrap();
    let backups = c.dir.join("backups");
    let (v, rc) = b.module(
        "lk_backup",
        json!({"dest": s(&backups), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)}),
    );
    assert_eq!(rc, 0, "lk_backup: {v:#}");
    let st = node_state(&c, "node-b");
    let (resources, paths) = (st["resources"].clone(), st["comm_paths"].clone());
    assert!(!resources.as_array().unwrap().is_empty());
    let defaults = std::fs::read_to_string(&b.defaults_file).unwrap();
    let up = run_ok(b, args(&c, b, json!({"media": s(&new_media)})));
    assert_eq!(up["path"], "direct", "{up:#}");
    assert_eq!(node_state(&c, "node-b")["version"], "9.6.1");
    assert_ne!(std::fs::read_to_string(&b.defaults_file).unwrap(), defaults);
    Upgraded {
        c,
        old_media,
        backups,
        defaults,
        resources,
        paths,
    }
}

fn rb_args(u: &Upgraded, extra: Value) -> Value {
    let b = u.c.node("node-b");
    let mut a = args(
        &u.c,
        b,
        json!({"version": "9.4.0", "allow_downgrade": true, "media": s(&u.old_media),
               "backup_dir": s(&u.backups)}),
    );
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

/// node-b is back at 9.4.0, running, with its hierarchies, comm paths and defaults file as
/// before the upgrade.
fn assert_rolled_back(u: &Upgraded) {
    let st = node_state(&u.c, "node-b");
    assert_eq!(st["version"], "9.4.0", "{st:#}");
    assert_eq!(st["running"], true, "{st:#}");
    assert_eq!(st["resources"], u.resources, "{st:#}");
    assert_eq!(st["comm_paths"], u.paths, "{st:#}");
    assert_eq!(
        std::fs::read_to_string(&u.c.node("node-b").defaults_file).unwrap(),
        u.defaults,
        "the defaults file is byte-identical to before the upgrade"
    );
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
fn rollback_961_to_940_refusals_check_plan_run_and_rerun_no_change() {
    let u = upgraded("upgrade-rollback");
    let b = u.c.node("node-b");

    // Refused before lkstop/rmlk, the node untouched: no allow_downgrade; a rollback media that
    // is not the recorded release (the 9.6.1 image given as the 9.4.0 media).
    let before = settled_hash(&u.c);
    let v = run_fail(b, rb_args(&u, json!({"allow_downgrade": false})));
    assert_eq!(v["invalid_parameter"], "allow_downgrade", "{v:#}");
    let wrong = media("upgrade-rollback", "9.5.1");
    for a in [
        rb_args(&u, json!({"media": s(&wrong)})),
        check(rb_args(&u, json!({"media": s(&wrong)}))),
    ] {
        let v = run_fail(b, a);
        assert_eq!(v["invalid_parameter"], "media", "{v:#}");
        assert!(
            v["msg"]
                .as_str()
                .unwrap()
                .contains("is release 9.5.1, not version 9.4.0"),
            "{v:#}"
        );
    }
    assert_eq!(
        tree_hash(&u.c.dir),
        before,
        "a refused rollback changed something"
    );
    assert_eq!(node_state(&u.c, "node-b")["version"], "9.6.1");
    assert_eq!(node_state(&u.c, "node-b")["running"], true);

    // Check mode: the whole plan, nothing changed.
    let plan = run_ok(b, check(rb_args(&u, json!({}))));
    assert_eq!(tree_hash(&u.c.dir), before, "check mode changed something");
    assert_eq!(plan["changed"], true);
    assert_eq!(plan["path"], "rollback");
    assert_eq!(names(&plan), STEPS, "{plan:#}");
    assert!(steps(&plan).iter().all(|(_, st)| st == "planned"));
    assert!(
        plan["msg"]
            .as_str()
            .unwrap()
            .starts_with("would roll back LifeKeeper on node-b from 9.6.1 to 9.4.0"),
        "{plan:#}"
    );

    let done = run_ok(b, rb_args(&u, json!({})));
    assert_eq!(done["changed"], true);
    assert_eq!(done["path"], "rollback");
    assert_eq!(done["previous_version"], "9.6.1");
    assert_eq!(done["version"], "9.4.0");
    assert_eq!(names(&done), STEPS);
    assert!(steps(&done).iter().all(|(_, st)| st == "done"), "{done:#}");
    assert!(done["msg"]
        .as_str()
        .unwrap()
        .starts_with("rolled back LifeKeeper on node-b"));
    assert_rolled_back(&u);
    // The configuration is the backup's again (its fingerprint), so no warning says otherwise.
    assert!(
        !done["warnings"].to_string().contains("fingerprint"),
        "{done:#}"
    );
    // The newer release's defaults file is kept beside the backups.
    assert!(
        std::fs::read_to_string(done["saved_defaults"].as_str().unwrap())
            .unwrap()
            .contains("SITE_TUNABLE=42")
    );

    let again = run_ok(b, rb_args(&u, json!({})));
    assert_eq!(again["changed"], false, "{again:#}");
    assert_eq!(again["path"], "none");
}

/// Regression, issue 28 O3: a rollback interrupted after the old release's setup and before its
/// configuration was restored or LifeKeeper started (here lkbackup -x fails, as a kill there
/// would leave it): the node is at 9.4.0, stopped, without hierarchies. The rerun must not count
/// it as rolled back: it resumes from the journal, restores, puts the defaults file back and
/// starts LifeKeeper; the run after that changes nothing.
#[test]
fn o3_rollback_interrupted_after_setup_rerun_restores_and_starts() {
    let u = upgraded("upgrade-rollback-o3");
    let b = u.c.node("node-b");
    fault(&u.c, "node-b", "lkbackup", "fail", &[]);
    let v = run_fail(b, rb_args(&u, json!({})));
    assert_eq!(v["failed_step"], "restore configuration", "{v:#}");
    let st = node_state(&u.c, "node-b");
    assert_eq!(st["version"], "9.4.0", "{st:#}");
    assert_eq!(st["running"], false, "{st:#}");
    assert_ne!(st["resources"], u.resources, "{st:#}");
    clear(&u.c);

    // The check-mode rerun (what rollback.yml asks first) says there is work left.
    let plan = run_ok(b, check(rb_args(&u, json!({}))));
    assert_eq!(plan["changed"], true, "{plan:#}");
    let left: Vec<String> = steps(&plan)
        .into_iter()
        .filter(|(_, st)| st == "planned")
        .map(|(n, _)| n)
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

    let done = run_ok(b, rb_args(&u, json!({})));
    assert_eq!(done["changed"], true);
    assert!(
        done["msg"]
            .as_str()
            .unwrap()
            .starts_with("finished rolling back"),
        "{done:#}"
    );
    assert_rolled_back(&u);
    assert_eq!(run_ok(b, rb_args(&u, json!({})))["changed"], false);
}

//! Check mode has no side effect at all: for every module and every state/path, the whole
//! simulated cluster tree (every node root, the simulator's state, the backup dirs) hashes the
//! same before and after a `--check --diff` run. Each check run is then followed by the real run
//! with the same arguments, whose `changed` must be what check mode predicted; the cases are
//! ordered so that the real runs walk each module through its paths.

use crate::common;

use common::{media, tree_hash, Cluster, Node};
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Run `module` on `node` in check+diff mode, assert the cluster tree is unchanged, then (unless
/// `real` is false) run it for real and assert check mode predicted `changed`. Returns the check
/// result.
fn check_then_real(c: &Cluster, node: &Node, module: &str, args: Value, real: bool) -> Value {
    static N: AtomicUsize = AtomicUsize::new(0);
    let run = |mut a: Value, check: bool| {
        a["_ansible_check_mode"] = json!(check);
        a["_ansible_diff"] = json!(true);
        // args files live outside the hashed tree
        let f = c
            .dir
            .with_extension(format!("args{}.json", N.fetch_add(1, Ordering::SeqCst)));
        fs::write(&f, a.to_string()).unwrap();
        let out = std::process::Command::new(common::bin(module))
            .arg(&f)
            .env("PATH", node.path_env())
            .output()
            .unwrap();
        let _ = fs::remove_file(&f);
        common::parse_output(&out)
    };
    let before = tree_hash(&c.dir);
    let (v, rc) = run(args.clone(), true);
    let after = tree_hash(&c.dir);
    if before != after {
        let diff: Vec<_> = after.iter().filter(|x| !before.contains(x)).collect();
        let gone: Vec<_> = before.iter().filter(|x| !after.contains(x)).collect();
        panic!("{module} check mode changed the tree with {args}:\nnew/changed: {diff:?}\ngone/was: {gone:?}\nresult: {v}");
    }
    println!(
        "check-mode safe: {module} {} -> rc={rc} changed={} ({} files hashed)",
        summary(&args),
        v["changed"],
        before.len()
    );
    if real {
        let (r, rrc) = run(args.clone(), false);
        assert_eq!(
            rc, rrc,
            "{module} {args}: check rc {rc} vs real rc {rrc}\ncheck: {v}\nreal: {r}"
        );
        assert_eq!(
            v["changed"], r["changed"],
            "{module} {args}: check mode mispredicted changed\ncheck: {v}\nreal: {r}"
        );
    }
    v
}

/// The arguments without the long paths, for the log.
fn summary(args: &Value) -> String {
    let mut a = args.clone();
    if let Some(o) = a.as_object_mut() {
        o.retain(|k, _| {
            ![
                "lkroot",
                "defaults_file",
                "dest",
                "src",
                "archive",
                "media_dir",
                "backup_dir",
            ]
            .contains(&k.as_str())
        });
    }
    a.to_string()
}

fn append(path: &Path, text: &str) {
    let mut s = fs::read_to_string(path).unwrap();
    s.push_str(text);
    fs::write(path, s).unwrap();
}

#[test]
fn lk_backup_check_mode_touches_nothing_in_any_state() {
    let c = Cluster::create("cm-backup", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a").clone();
    let dest = c.dir.join("backups");
    let base = json!({"dest": dest, "lkroot": a.lkroot, "defaults_file": a.defaults_file});
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    // present: fresh dest (not created in check mode), unchanged, changed config, force, prune
    let v = check_then_real(&c, &a, "lk_backup", base.clone(), true);
    assert_eq!(v["changed"], true);
    assert_eq!(
        check_then_real(&c, &a, "lk_backup", base.clone(), true)["changed"],
        false
    );
    append(&a.defaults_file, "LKOPS_CM=1\n");
    check_then_real(&c, &a, "lk_backup", base.clone(), true);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // distinct backup stamps
    check_then_real(&c, &a, "lk_backup", with(json!({"force": true})), true);
    let v = check_then_real(&c, &a, "lk_backup", with(json!({"keep": 1})), true);
    assert_eq!(v["changed"], true, "prune predicted: {v}");
    check_then_real(
        &c,
        &a,
        "lk_backup",
        with(json!({"include_defaults": false, "force": true, "keep": 3})),
        true,
    );
    // verified (read-only by nature)
    check_then_real(
        &c,
        &a,
        "lk_backup",
        with(json!({"state": "verified"})),
        true,
    );
    // restored: refused while LifeKeeper runs; predicted once stopped
    let newest = check_then_real(
        &c,
        &a,
        "lk_backup",
        with(json!({"state": "verified"})),
        false,
    );
    let archive = newest["backups"].as_array().unwrap().last().unwrap()["archive"].clone();
    let restore = with(json!({"state": "restored", "archive": archive}));
    check_then_real(&c, &a, "lk_backup", restore.clone(), true);
    assert!(a.lk("lkstop", &[]).status.success());
    append(&a.defaults_file, "LKOPS_CM_AFTER=1\n");
    let v = check_then_real(&c, &a, "lk_backup", restore.clone(), true);
    assert_eq!(v["changed"], true, "{v}");
    check_then_real(&c, &a, "lk_backup", restore, true);
    // bad input in check mode: refused, nothing touched
    check_then_real(
        &c,
        &a,
        "lk_backup",
        with(json!({"dest": a.lkroot.join("config/bk")})),
        true,
    );
    check_then_real(
        &c,
        &a,
        "lk_backup",
        with(json!({"state": "restored", "archive": "nope.tar.gz"})),
        true,
    );
}

#[test]
fn lk_defaults_merge_check_mode_touches_nothing() {
    let c = Cluster::create("cm-merge", &["node-a"], "9.4.0", &[]);
    let a = c.node("node-a").clone();
    let saved = c.dir.join("LifeKeeper.saved");
    let mut old = fs::read_to_string(&a.defaults_file).unwrap();
    old.push_str("LKOPS_SITE_TUNABLE=\"a b # c\"\nOBSOLETE_KEY=1\n");
    fs::write(&saved, &old).unwrap();
    let base = json!({"src": saved, "dest": a.defaults_file});
    for (extra, real) in [
        (json!({}), false),
        (json!({"backup": false}), false),
        (
            json!({"drop": ["OBSOLETE_KEY"], "set": {"LKOPS_SET": "x y"}}),
            false,
        ),
        (json!({"keep_new": ["LKOPS_SITE_TUNABLE"]}), false),
        (json!({"base": a.defaults_file}), false),
        (json!({}), true),
        (json!({}), true), // unchanged now
        (json!({"set": {"bad-key": "x"}}), true),
    ] {
        let mut args = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        check_then_real(&c, &a, "lk_defaults_merge", args, real);
    }
}

#[test]
fn lk_preflight_check_mode_touches_nothing() {
    let c = Cluster::create("cm-preflight", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a").clone();
    let lic = c.dir.join("new.lic");
    fs::write(&lic, "LICENSE").unwrap();
    let base = json!({"lkroot": a.lkroot, "media_dir": c.dir, "min_free_mb": 0, "required_packages": ["bash"]});
    for extra in [
        json!({}),
        json!({"require_standby": true}),
        json!({"backup_dir": c.dir.join("backups"), "license_files": [lic]}),
        json!({"target_version": "9.5.1", "stepping_versions": ["9.4.3"], "fail_on": "warn"}),
        json!({"datakeeper_mirrors": [0, 1], "skip": ["LK-FW-PORTS"]}),
    ] {
        let mut args = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        check_then_real(&c, &a, "lk_preflight", args, true);
    }
    assert!(a.lk("lkstop", &[]).status.success());
    check_then_real(&c, &a, "lk_preflight", base, true);
}

#[test]
fn lk_resource_check_mode_touches_nothing_in_any_state() {
    let c = Cluster::create("cm-resource", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a").clone();
    let b = c.node("node-b").clone();
    let args = |n: &Node, extra: Value| {
        let mut v = json!({"lkroot": n.lkroot, "wait": 20});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    check_then_real(&c, &a, "lk_resource", args(&a, json!({})), true);
    check_then_real(
        &c,
        &a,
        "lk_resource",
        args(&a, json!({"state": "active"})),
        true,
    );
    let v = check_then_real(
        &c,
        &a,
        "lk_resource",
        args(&a, json!({"state": "standby"})),
        true,
    );
    assert_eq!(v["changed"], true);
    let v = check_then_real(
        &c,
        &a,
        "lk_resource",
        args(
            &a,
            json!({"state": "active", "tags": ["app-pgsql"], "bottom_up": true}),
        ),
        true,
    );
    assert_eq!(v["changed"], true);
    check_then_real(
        &c,
        &b,
        "lk_resource",
        args(&b, json!({"state": "standby", "switch_to": "node-a"})),
        true,
    );
    let v = check_then_real(
        &c,
        &a,
        "lk_resource",
        args(&a, json!({"state": "standby", "switch_to": "none"})),
        true,
    );
    assert_eq!(v["changed"], true);
    check_then_real(
        &c,
        &b,
        "lk_resource",
        args(&b, json!({"state": "active"})),
        true,
    );
    // refusals in check mode
    check_then_real(
        &c,
        &a,
        "lk_resource",
        args(&a, json!({"state": "standby", "switch_to": "node-a"})),
        true,
    );
    check_then_real(
        &c,
        &a,
        "lk_resource",
        args(&a, json!({"tags": ["filesys1234"], "state": "active"})),
        true,
    );
    // LifeKeeper stopped
    assert!(a.lk("lkstop", &[]).status.success());
    check_then_real(
        &c,
        &a,
        "lk_resource",
        args(&a, json!({"state": "standby"})),
        true,
    );
}

#[test]
fn lk_upgrade_check_mode_touches_nothing_on_any_path() {
    let img = media("cm-upgrade", "9.6.1");
    let step = media("cm-upgrade-step", "9.4.3");
    for (version, extra) in [
        ("9.4.0", json!({})),                         // direct
        ("9.3.2", json!({"stepping_media": [step]})), // stepwise
        (
            "9.2.2",
            json!({"allow_reinstall": true, "restore_config": true, "with_backup": true}),
        ), // reinstall
        ("9.2.2", json!({})),                         // refused: needs allow_reinstall
        ("9.6.1", json!({})),                         // nothing to do
    ] {
        let c = Cluster::create(
            &format!("cm-upgrade-{}", version.replace('.', "")),
            &["node-a", "node-b"],
            version,
            &[],
        );
        let b = c.node("node-b").clone();
        let mut args = json!({"version": "9.6.1", "generate_setup_config": true, "setup_mode": "args", "media": img, "media_mode": "extract", "lkroot": b.lkroot,
                              "defaults_file": b.defaults_file, "work_dir": c.dir.join("work"),
                              "state_dir": c.dir.join("state")});
        for (k, v) in extra.as_object().unwrap() {
            if k == "with_backup" {
                let dest = c.dir.join("backups");
                check_then_real(
                    &c,
                    &b,
                    "lk_backup",
                    json!({"dest": dest, "lkroot": b.lkroot, "defaults_file": b.defaults_file}),
                    true,
                );
                args["backup_dir"] = json!(dest);
            } else {
                args[k] = v.clone();
            }
        }
        check_then_real(&c, &b, "lk_upgrade", args.clone(), true);
        // and the run after it (nothing left to do, or still refused)
        check_then_real(&c, &b, "lk_upgrade", args, true);
    }
}

/// The one place where check mode and the real run differ on purpose: a reinstall with no
/// verified backup yet. Check mode (a check-mode play, where lk_backup wrote nothing) returns
/// the plan with a warning; the real run refuses. Neither touches anything.
#[test]
fn lk_upgrade_reinstall_without_a_backup_yet_plans_in_check_mode_and_the_real_run_refuses() {
    let img = media("cm-upgrade-nobackup", "9.6.1");
    let c = Cluster::create("cm-upgrade-nobackup", &["node-a", "node-b"], "9.2.2", &[]);
    let b = c.node("node-b").clone();
    let dest = c.dir.join("backups");
    let args = json!({"version": "9.6.1", "generate_setup_config": true, "setup_mode": "args", "media": img, "media_mode": "extract", "lkroot": b.lkroot,
                      "defaults_file": b.defaults_file, "work_dir": c.dir.join("work"),
                      "state_dir": c.dir.join("state"), "allow_reinstall": true, "restore_config": true, "backup_dir": dest});
    let run = |check: bool| {
        let mut a = args.clone();
        a["_ansible_check_mode"] = json!(check);
        let f = c.dir.with_extension("nobackup-args.json");
        fs::write(&f, a.to_string()).unwrap();
        let out = std::process::Command::new(common::bin("lk_upgrade"))
            .arg(&f)
            .env("PATH", b.path_env())
            .output()
            .unwrap();
        let _ = fs::remove_file(&f);
        common::parse_output(&out)
    };
    b.lk("lcdstatus", &["-e"]); // the simulator's own first-use files
    let before = tree_hash(&c.dir);
    let (plan, rc) = run(true);
    assert_eq!(tree_hash(&c.dir), before, "check mode changed something");
    assert_eq!(rc, 0, "{plan:#}");
    assert_eq!(plan["changed"], true);
    assert_eq!(plan["steps"][0]["name"], "verify backup");
    assert_eq!(plan["steps"][0]["status"], "planned");
    assert!(
        plan["warnings"][0]
            .as_str()
            .unwrap()
            .contains("the real run refuses unless one exists"),
        "{plan:#}"
    );
    let (real, rc) = run(false);
    assert_eq!(rc, 1, "{real:#}");
    assert_eq!(real["invalid_parameter"], "backup_dir");
    assert_eq!(tree_hash(&c.dir), before, "the refusal changed something");
}

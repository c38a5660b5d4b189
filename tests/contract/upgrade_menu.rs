//! lk_upgrade in `setup_mode: menu` (the default, the vendor's documented way) against lksim's
//! strict setup menu: direct, stepwise and reinstall upgrades through the menu; the probe before
//! anything is changed (title and main menu, left through Done -> No); a menu naming another
//! release, an unexpected error box and a setup that never draws its menu all stop the run before
//! `< Yes >` with the node untouched.

use crate::common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Menu mode (the default: no setup_mode given), work and state dirs in the cluster dir.
fn args(c: &Cluster, node: &Node, extra: Value) -> Value {
    let mut a = json!({
        "version": "9.6.1",
        "lkroot": s(&node.lkroot),
        "defaults_file": s(&node.defaults_file),
        "work_dir": s(&c.dir.join("work")),
        "state_dir": s(&c.dir.join("state")),
        "timeout": 120,
        "setup_menu_timeout": 30,
    });
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

fn check(mut a: Value) -> Value {
    a["_ansible_check_mode"] = json!(true);
    a
}

fn names(v: &Value) -> Vec<String> {
    v["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {v}"))
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn statuses(v: &Value) -> Vec<String> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_string())
        .collect()
}

fn node_state(c: &Cluster, name: &str) -> Value {
    c.state()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap()
        .clone()
}

fn run_ok(node: &Node, a: Value) -> Value {
    let (v, rc) = node.module("lk_upgrade", a);
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["failed"], false, "{v:#}");
    v
}

fn run_fail(node: &Node, a: Value) -> Value {
    let (v, rc) = node.module("lk_upgrade", a);
    assert_eq!(rc, 1, "{v:#}");
    assert_eq!(v["failed"], true, "{v:#}");
    v
}

fn fault(c: &Cluster, node: &str, mode: &str, extra: &[&str]) {
    let mut a = vec![
        "fault",
        "set",
        node,
        "setup",
        mode,
        "--dir",
        c.dir.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    c.sim(&a);
}

/// The session files named in a result exist and hold the menu as it was drawn.
fn assert_session_kept(v: &Value, expect: &[&str]) {
    let t = std::fs::read_to_string(
        v["setup_transcript"]
            .as_str()
            .unwrap_or_else(|| panic!("{v:#}")),
    )
    .unwrap();
    for e in expect {
        assert!(t.contains(e), "transcript lacks {e:?}: {t}");
    }
    assert!(!t.contains('\u{1b}'), "ANSI escapes are stripped");
    let screen = std::fs::read_to_string(v["setup_screen"].as_str().unwrap()).unwrap();
    assert!(!screen.trim().is_empty());
}

/// What must not change when a run is refused before `< Yes >`.
fn untouched(c: &Cluster, node: &str) -> (Value, Value, Value) {
    let st = node_state(c, node);
    (
        st["version"].clone(),
        st["running"].clone(),
        st["resources"].clone(),
    )
}

#[test]
fn menu_direct_940_to_961_probes_then_done_yes_and_second_run_no_change() {
    let c = Cluster::create("menu-direct", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("menu-direct", "9.6.1");
    let b = c.node("node-b");
    let a = args(&c, b, json!({"media": s(&img), "media_mode": "extract"}));
    let plan = run_ok(b, check(a.clone()));
    assert_eq!(plan["path"], "direct");
    assert_eq!(
        names(&plan),
        [
            "extract media 9.6.1",
            "probe setup menu 9.6.1",
            "setup 9.6.1",
            "start LifeKeeper",
            "verify"
        ]
    );
    // Check mode does not run the vendor's installer: the probe is only planned.
    assert!(statuses(&plan).iter().all(|s| s == "planned"), "{plan:#}");
    assert!(plan.get("setup_transcript").is_none());
    let done = run_ok(b, a.clone());
    assert_eq!(done["version"], "9.6.1", "{done:#}");
    assert!(
        statuses(&done)
            .iter()
            .all(|s| s == "done" || s == "skipped"),
        "{done:#}"
    );
    assert_eq!(node_state(&c, "node-b")["version"], "9.6.1");
    assert_session_kept(
        &done,
        &[
            "SIOS Protection Suite for Linux 9.6.1-",
            "Main configuration",
            "Would you like to start installing SPS for Linux",
            "Setup complete.",
        ],
    );
    // The probe's own session is kept too, and it left through the abort.
    let probe = std::fs::read_to_string(
        c.dir
            .join("state")
            .join("node-b.setup-9.6.1.probe.transcript.txt"),
    )
    .unwrap();
    assert!(probe.contains("setup will abort"), "{probe}");
    assert_eq!(run_ok(b, a)["changed"], false);
}

#[test]
fn menu_stepwise_932_through_943_keeps_the_hierarchies() {
    let c = Cluster::create("menu-stepwise", &["node-a", "node-b"], "9.3.2", &[]);
    let img = media("menu-stepwise", "9.6.1");
    let step = media("menu-stepwise", "9.4.3");
    let b = c.node("node-b");
    let before = node_state(&c, "node-b")["resources"].clone();
    let a = args(
        &c,
        b,
        json!({"media": s(&img), "stepping_media": [s(&step)], "media_mode": "extract"}),
    );
    let done = run_ok(b, a.clone());
    assert_eq!(done["path"], "stepwise", "{done:#}");
    assert_eq!(
        names(&done)[..6],
        [
            "extract media 9.4.3",
            "probe setup menu 9.4.3",
            "extract media 9.6.1",
            "probe setup menu 9.6.1",
            "setup 9.4.3",
            "setup 9.6.1"
        ]
    );
    assert_eq!(node_state(&c, "node-b")["version"], "9.6.1");
    assert_eq!(
        node_state(&c, "node-b")["resources"],
        before,
        "hierarchies kept"
    );
    assert_eq!(run_ok(b, a)["changed"], false);
}

#[test]
fn menu_reinstall_922_loads_the_admins_saved_configuration() {
    let c = Cluster::create("menu-reinstall", &["node-a", "node-b"], "9.2.2", &[]);
    let img = media("menu-reinstall", "9.6.1");
    let b = c.node("node-b");
    let backups = c.dir.join("backups");
    let (v, rc) = b.module(
        "lk_backup",
        json!({"dest": s(&backups), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)}),
    );
    assert_eq!(rc, 0, "{v:#}");
    // The admin's file, as the menu's Save writes it (lksim setup-config save).
    let saved = c.dir.join("node-b-setup.config");
    let o = Command::new(bin("lksim"))
        .args(["setup-config", "save", "--node-root"])
        .arg(&b.root)
        .args(["--version", "9.6.1", "--kits", "lkIP,lkNFS", "--out"])
        .arg(&saved)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = args(
        &c,
        b,
        json!({"media": s(&img), "media_mode": "extract", "backup_dir": s(&backups),
               "allow_reinstall": true, "setup_config": s(&saved)}),
    );
    let done = run_ok(b, a.clone());
    assert_eq!(done["path"], "reinstall", "{done:#}");
    let n = names(&done);
    let at = |x: &str| {
        n.iter()
            .position(|s| s == x)
            .unwrap_or_else(|| panic!("{x}: {n:?}"))
    };
    assert!(at("probe setup menu 9.6.1") < at("stop LifeKeeper"));
    assert!(at("probe setup menu 9.6.1") < at("uninstall LifeKeeper"));
    let st = node_state(&c, "node-b");
    assert_eq!(st["version"], "9.6.1");
    let pkgs = st["packages"].to_string();
    assert!(
        pkgs.contains("steeleye-lkNFS-9.6.1"),
        "the loaded kit: {pkgs}"
    );
    // The Load box was filled with the saved file (a long path scrolls: its end is shown).
    assert_session_kept(&done, &["Load Configuration", "node-b-setup.config"]);
    assert_eq!(run_ok(b, a)["changed"], false);
}

/// The title bar names another release: refused by the probe, through Done -> No, before
/// lkstop and rmlk; nothing installed, the node untouched.
#[test]
fn menu_title_naming_another_release_is_refused_before_lkstop_and_rmlk() {
    let c = Cluster::create("menu-title", &["node-a", "node-b"], "9.2.2", &[]);
    let img = media("menu-title", "9.6.1");
    let b = c.node("node-b");
    let backups = c.dir.join("backups");
    let (v, rc) = b.module(
        "lk_backup",
        json!({"dest": s(&backups), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)}),
    );
    assert_eq!(rc, 0, "{v:#}");
    fault(
        &c,
        "node-b",
        "title",
        &["--text", "SIOS Protection Suite for Linux 9.6.0-7100 setup"],
    );
    let before = untouched(&c, "node-b");
    let a = args(
        &c,
        b,
        json!({"media": s(&img), "media_mode": "extract", "backup_dir": s(&backups),
               "allow_reinstall": true, "generate_setup_config": true,
               "recovery_kits": node_kits(&c, "node-b")}),
    );
    let v = run_fail(b, a);
    let msg = v["msg"].as_str().unwrap();
    assert!(msg.contains("9.6.0-7100") && msg.contains("9.6.1"), "{msg}");
    assert_eq!(v["failed_step"], "probe setup menu 9.6.1");
    assert_eq!(v["changed"], false);
    assert_eq!(untouched(&c, "node-b"), before, "node untouched");
    assert_session_kept(&v, &["9.6.0-7100", "setup will abort"]);
}

/// The kits installed on a node (without core and quorum), for a generated configuration that
/// removes nothing.
fn node_kits(c: &Cluster, node: &str) -> Vec<String> {
    let core = [
        "steeleye-lk",
        "steeleye-lkGUI",
        "steeleye-lkDR",
        "steeleye-lkQWK",
    ];
    node_state(c, node)["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .filter_map(|p| {
            let name = p.rsplitn(3, '-').nth(2)?;
            (name.starts_with("steeleye-lk") && !core.contains(&name))
                .then(|| name.trim_start_matches("steeleye-").to_string())
        })
        .collect()
}

/// setup shows an error box after Done: the run stops before `< Yes >` with the box's text in
/// the message; nothing installed.
#[test]
fn menu_unexpected_error_box_stops_the_run_before_yes_with_the_screen() {
    let c = Cluster::create("menu-errorbox", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("menu-errorbox", "9.6.1");
    let b = c.node("node-b");
    fault(
        &c,
        "node-b",
        "errorbox",
        &[
            "--text",
            "Package steeleye-lkXYZ conflicts with the installed release",
        ],
    );
    let before = untouched(&c, "node-b");
    let v = run_fail(
        b,
        args(&c, b, json!({"media": s(&img), "media_mode": "extract"})),
    );
    let msg = v["msg"].as_str().unwrap();
    assert!(msg.contains("does not recognise"), "{msg}");
    assert!(
        msg.contains("conflicts with the installed release"),
        "{msg}"
    );
    assert_eq!(untouched(&c, "node-b"), before);
    assert_eq!(v["changed"], false);
    let screen = std::fs::read_to_string(v["setup_screen"].as_str().unwrap()).unwrap();
    assert!(screen.contains("conflicts with the installed"), "{screen}");
}

/// setup never draws its menu: the step's timeout holds, setup is killed, nothing changed.
#[test]
fn menu_never_drawn_times_out_and_changes_nothing() {
    let c = Cluster::create("menu-nomenu", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("menu-nomenu", "9.6.1");
    let b = c.node("node-b");
    fault(&c, "node-b", "nomenu", &[]);
    let before = untouched(&c, "node-b");
    let t = Instant::now();
    let v = run_fail(
        b,
        args(
            &c,
            b,
            json!({"media": s(&img), "media_mode": "extract", "setup_menu_timeout": 3}),
        ),
    );
    assert!(t.elapsed() < Duration::from_secs(40), "{:?}", t.elapsed());
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("did not show the main menu within 3 s"),
        "{msg}"
    );
    assert_eq!(untouched(&c, "node-b"), before);
    // No setup left behind.
    assert!(
        common::procs_where(|argv| {
            let words: Vec<String> = argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            words
                .iter()
                .any(|w| w.contains("lksim-setup") || w.ends_with("/setup"))
                && words.iter().any(|w| w.contains("menu-nomenu"))
        })
        .is_empty(),
        "setup was killed"
    );
}

/// A generated configuration never removes anything: one that leaves out an installed kit is
/// refused up front, naming it.
#[test]
fn menu_generated_configuration_leaving_out_an_installed_kit_is_refused_up_front() {
    let c = Cluster::create("menu-genkit", &["node-a", "node-b"], "9.2.2", &[]);
    let img = media("menu-genkit", "9.6.1");
    let b = c.node("node-b");
    let kits = node_kits(&c, "node-b");
    assert!(!kits.is_empty(), "the simulated node has kits");
    let backups = c.dir.join("backups");
    let (v, rc) = b.module(
        "lk_backup",
        json!({"dest": s(&backups), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)}),
    );
    assert_eq!(rc, 0, "{v:#}");
    let before = untouched(&c, "node-b");
    // Without recovery_kits the generated configuration names the installed kits (below); a
    // list that leaves one out is refused.
    assert!(kits.len() >= 2, "{kits:?}");
    let partial = json!([kits[0]]);
    for a in [
        check(args(
            &c,
            b,
            json!({"media": s(&img), "backup_dir": s(&backups), "allow_reinstall": true, "generate_setup_config": true, "recovery_kits": partial}),
        )),
        args(
            &c,
            b,
            json!({"media": s(&img), "backup_dir": s(&backups), "allow_reinstall": true, "generate_setup_config": true, "recovery_kits": partial}),
        ),
    ] {
        let v = run_fail(b, a);
        assert_eq!(v["invalid_parameter"], "recovery_kits", "{v:#}");
        assert!(
            v["msg"]
                .as_str()
                .unwrap()
                .contains(&format!("the Recovery Kit {}", kits[1])),
            "{v:#}"
        );
        assert_eq!(untouched(&c, "node-b"), before);
    }
    // Without recovery_kits nothing is left out: the plan is made (check mode, nothing touched).
    let v = run_ok(
        b,
        check(args(
            &c,
            b,
            json!({"media": s(&img), "backup_dir": s(&backups), "allow_reinstall": true, "generate_setup_config": true}),
        )),
    );
    assert_eq!(v["path"], "reinstall", "{v:#}");
    assert_eq!(untouched(&c, "node-b"), before);
}

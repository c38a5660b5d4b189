//! lk_upgrade against the simulator: direct, stepwise and reinstall paths, refusals, check-mode
//! plans, failures at each phase followed by a resume with the same arguments, idempotency.

use crate::common;

use common::pin::{assert_pinned, Redactor};
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// tree_hash of the cluster dir after the simulator's own first-use files exist (its lock file
/// appears at the first LifeKeeper command, whoever runs it).
pub(crate) fn settled_hash(c: &Cluster) -> Vec<(String, String)> {
    for n in &c.nodes {
        n.lk("lcdstatus", &["-e"]);
    }
    tree_hash(&c.dir)
}

pub(crate) fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The module's arguments for `node`, with work and state dirs inside the cluster dir (so
/// tree_hash sees anything the module writes there).
pub(crate) fn args(c: &Cluster, node: &Node, extra: Value) -> Value {
    let mut a = json!({
        "version": "9.6.1",
        "lkroot": s(&node.lkroot),
        "defaults_file": s(&node.defaults_file),
        "work_dir": s(&c.dir.join("work")),
        "state_dir": s(&c.dir.join("state")),
        "timeout": 60,
        // lksim media: the generated LKCONF_* configuration (UNCONFIRMED keys) is opted into.
        "generate_setup_config": true,
    });
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

pub(crate) fn check(mut a: Value) -> Value {
    a["_ansible_check_mode"] = json!(true);
    a["_ansible_diff"] = json!(true);
    a
}

fn diff(mut a: Value) -> Value {
    a["_ansible_diff"] = json!(true);
    a
}

pub(crate) fn steps(v: &Value) -> Vec<(String, String)> {
    v["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {v}"))
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub(crate) fn names(v: &Value) -> Vec<String> {
    steps(v).into_iter().map(|(n, _)| n).collect()
}

pub(crate) fn node_state(c: &Cluster, name: &str) -> Value {
    c.state()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap()
        .clone()
}

/// (tag, state on this node) of every resource of a node.
pub(crate) fn placement(c: &Cluster, name: &str) -> Vec<(String, String)> {
    node_state(c, name)["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["tag"].as_str().unwrap().into(),
                r["state"].as_str().unwrap().into(),
            )
        })
        .collect()
}

pub(crate) fn fault(c: &Cluster, node: &str, cmd: &str, mode: &str, extra: &[&str]) {
    let mut a = vec![
        "fault",
        "set",
        node,
        cmd,
        mode,
        "--dir",
        c.dir.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    c.sim(&a);
}

pub(crate) fn clear(c: &Cluster) {
    c.sim(&["fault", "clear", "--dir", c.dir.to_str().unwrap()]);
}

/// No media directory or generated setup configuration is left in work_dir.
pub(crate) fn assert_work_dir_clean(c: &Cluster) {
    let left: Vec<String> = std::fs::read_dir(c.dir.join("work"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.iter().all(|n| n.starts_with("lkops-setup.")),
        "work_dir not cleaned: {left:?}"
    );
}

pub(crate) fn run_ok(node: &Node, a: Value) -> Value {
    let (v, rc) = node.module("lk_upgrade", a);
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["failed"], false, "{v:#}");
    v
}

pub(crate) fn run_fail(node: &Node, a: Value) -> Value {
    let (v, rc) = node.module("lk_upgrade", a);
    assert_eq!(rc, 1, "{v:#}");
    assert_eq!(v["failed"], true, "{v:#}");
    v
}

/// Replace the cluster and media dirs and the run's pid so a whole result can be pinned.
fn normalise(v: &Value, c: &Cluster, media_dir: &Path) -> Value {
    Redactor::new()
        .path(media_dir, "<media>")
        .path(&c.dir, "<cluster>")
        // "media-9.6.1-<pid>", "setup-<pid>.conf" and the generated configuration's inherited
        // descriptor "/dev/fd/<n>" (issue 22 defect 9: in memory, not a file in work_dir)
        .digits_after("media-9.6.1-", "PID")
        .digits_after("setup-", "PID")
        .digits_after("/dev/fd/", "N")
        .apply(v)
}

// ---- direct ------------------------------------------------------------------------------------

#[test]
fn direct_940_to_961_check_plan_run_and_second_run_no_change() {
    let c = Cluster::create("upgrade-direct", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("upgrade-direct", "9.6.1");
    let b = c.node("node-b");
    // extract, not auto: whether a loop mount works depends on the machine, and this result is pinned.
    let a = args(&c, b, json!({"media": s(&img), "media_mode": "extract"}));
    let placement_before = placement(&c, "node-b");
    let before = settled_hash(&c);

    let plan = run_ok(b, check(a.clone()));
    assert_eq!(tree_hash(&c.dir), before, "check mode changed something");
    assert_eq!(plan["changed"], true);
    assert_eq!(plan["path"], "direct");
    assert_eq!(plan["previous_version"], "9.4.0");
    assert_eq!(
        steps(&plan),
        [
            ("extract media 9.6.1", "planned"),
            ("setup 9.6.1", "planned"),
            ("start LifeKeeper", "planned"),
            ("verify", "planned")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    let done = run_ok(b, diff(a.clone()));
    assert_eq!(done["changed"], true);
    assert_eq!(done["version"], "9.6.1");
    assert_eq!(names(&done), names(&plan), "the real run follows the plan");
    assert_eq!(
        done["diff"], plan["diff"],
        "check mode predicts the package diff exactly"
    );
    assert_eq!(done["packages"], plan["packages"]);
    assert_eq!(done["lifekeeper_running"], true);
    let log = done["setup_log"].as_str().unwrap();
    assert!(std::fs::read_to_string(log)
        .unwrap()
        .contains("Setup complete."));
    assert_work_dir_clean(&c);
    let st = node_state(&c, "node-b");
    assert_eq!(st["version"], "9.6.1");
    assert_eq!(st["running"], true);
    assert_eq!(
        placement(&c, "node-b"),
        placement_before,
        "hierarchies kept, nothing brought in service"
    );
    assert!(
        placement(&c, "node-a").iter().all(|(_, s)| s == "ISP"),
        "node-a keeps serving"
    );

    // Pin the whole result: a schema change must be deliberate.
    let mut pinned = normalise(&done, &c, img.parent().unwrap());
    redact(&mut pinned, &["invocation"]);
    assert_pinned(
        &pinned,
        &json!({
            "changed": true,
            "failed": false,
            "comment": "upgraded LifeKeeper on node-b from 9.4.0 to 9.6.1 (direct path)",
            "msg": "upgraded LifeKeeper on node-b from 9.4.0 to 9.6.1 (direct path)",
            "diff": {
                "before_header": "LifeKeeper packages (before)",
                "after_header": "LifeKeeper packages (after)",
                "before": "steeleye-lk-9.4.0-7963.x86_64\nsteeleye-lkDR-9.4.0-7963.noarch\nsteeleye-lkGUI-9.4.0-7963.noarch\nsteeleye-lkIP-9.4.0-7963.noarch\nsteeleye-lkPGSQL-9.4.0-7963.noarch\n",
                "after": "steeleye-lk-9.6.1-8580.x86_64\nsteeleye-lkDR-9.6.1-8580.noarch\nsteeleye-lkGUI-9.6.1-8580.noarch\nsteeleye-lkIP-9.6.1-8580.noarch\nsteeleye-lkPGSQL-9.6.1-8580.noarch\n"
            },
            "invocation": "<redacted>",
            "journal": "<cluster>/state/upgrade-journal.node-b.json",
            "lifekeeper_running": true,
            "packages": [
                "steeleye-lk-9.6.1-8580.x86_64",
                "steeleye-lkDR-9.6.1-8580.noarch",
                "steeleye-lkGUI-9.6.1-8580.noarch",
                "steeleye-lkIP-9.6.1-8580.noarch",
                "steeleye-lkPGSQL-9.6.1-8580.noarch"
            ],
            "path": "direct",
            "previous_version": "9.4.0",
            "setup_log": "<cluster>/work/lkops-setup.node-b.9.6.1.log",
            "setup_logs": ["<cluster>/work/lkops-setup.node-b.9.6.1.log"],
            // The probe before anything changed: the usage text of the media's setup --help.
            "setup_usage": "Usage: setup [-f CONFFILE -q y] [-h|--help]\n  (no options)   the interactive configuration menu (needs a terminal)\n  -f CONFFILE    use the configuration saved from the menu (non-interactive)\n  -q y           answer every question with the saved/default answer (non-interactive)\n  -h, --help     this text\n",
            "steps": [
                {"name": "extract media 9.6.1", "status": "done",
                 "detail": "extracted <media>/sps_961.img with xorriso to <cluster>/work/media-9.6.1-PID"},
                {"name": "setup 9.6.1", "status": "done",
                 "detail": "<cluster>/work/media-9.6.1-PID/setup -f /dev/fd/N -q y (log <cluster>/work/lkops-setup.node-b.9.6.1.log)"},
                {"name": "start LifeKeeper", "status": "skipped", "detail": "LifeKeeper is already running"},
                {"name": "verify", "status": "done",
                 "detail": "9.6.1 installed; LifeKeeper running; 6 resource(s) on node-b, none in service"}
            ],
            "version": "9.6.1"
        }),
    );

    // Second run: nothing to do, nothing touched (the media is not even looked at).
    let after_first = tree_hash(&c.dir);
    let mut a2 = a.clone();
    a2["media"] = json!("/nonexistent/sps_961.img");
    let again = run_ok(b, a2);
    assert_eq!(again["changed"], false, "{again:#}");
    assert_eq!(again["path"], "none");
    assert_eq!(again["steps"], json!([]));
    assert_eq!(tree_hash(&c.dir), after_first);
    let again_check = run_ok(b, check(a));
    assert_eq!(again_check["changed"], false);
}

#[test]
fn direct_with_media_dir_and_start_always_from_a_stopped_node() {
    let c = Cluster::create(
        "upgrade-mediadir",
        &["node-a", "node-b"],
        "9.5.1",
        &["--stopped"],
    );
    let img = media("upgrade-mediadir", "9.6.1");
    // An already extracted media (as an admin would have it mounted).
    let mdir = img.parent().unwrap().join("sps_961");
    let _ = std::fs::remove_dir_all(&mdir);
    std::fs::create_dir_all(&mdir).unwrap();
    let o = Command::new("bsdtar")
        .arg("-xf")
        .arg(&img)
        .arg("-C")
        .arg(&mdir)
        .output()
        .unwrap();
    assert!(o.status.success());
    let b = c.node("node-b");
    let a = args(
        &c,
        b,
        json!({"media_dir": s(&mdir), "start_after": "always"}),
    );
    let plan = run_ok(b, check(a.clone()));
    assert_eq!(
        names(&plan),
        [
            "use media 9.6.1",
            "setup 9.6.1",
            "start LifeKeeper",
            "verify"
        ]
    );
    let done = run_ok(b, a.clone());
    assert_eq!(
        steps(&done)
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["done", "done", "done", "done"],
        "{done:#}"
    );
    assert_eq!(node_state(&c, "node-b")["running"], true);
    assert!(
        mdir.join("setup").is_file(),
        "media_dir is never cleaned up"
    );
}

#[test]
fn wrong_media_version_is_refused_naming_the_parameter() {
    let c = Cluster::create("upgrade-wrongmedia", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("upgrade-wrongmedia", "9.5.1");
    let b = c.node("node-b");
    let before = settled_hash(&c);
    let v = run_fail(b, args(&c, b, json!({"media": s(&img)})));
    assert_eq!(v["invalid_parameter"], "media");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("is release 9.5.1, not version 9.6.1"),
        "{v}"
    );
    assert_eq!(tree_hash(&c.dir), before);
    let v = run_fail(b, args(&c, b, json!({})));
    assert_eq!(v["invalid_parameter"], "media");
    let v = run_fail(b, args(&c, b, json!({"media": "relative.img"})));
    assert_eq!(v["invalid_parameter"], "media");
    let v = run_fail(
        b,
        args(&c, b, json!({"media": s(&img), "recovery_kits": ["-x"]})),
    );
    assert_eq!(v["invalid_parameter"], "recovery_kits");
}

#[test]
fn refuses_while_resources_are_in_service_here() {
    let c = Cluster::create("upgrade-isp", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("upgrade-isp", "9.6.1");
    let a_node = c.node("node-a");
    let before = settled_hash(&c);
    for a in [
        args(&c, a_node, json!({"media": s(&img)})),
        check(args(&c, a_node, json!({"media": s(&img)}))),
    ] {
        let v = run_fail(a_node, a);
        assert!(
            v["msg"]
                .as_str()
                .unwrap()
                .contains("resources are in service on node-a"),
            "{v}"
        );
        assert_eq!(v["changed"], false);
        assert!(!v["in_service"].as_array().unwrap().is_empty());
    }
    assert_eq!(tree_hash(&c.dir), before);
}

// ---- failures and resume: direct -----------------------------------------------------------------

#[test]
fn setup_failing_then_resume_with_the_same_arguments() {
    let c = Cluster::create("upgrade-setupfail", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("upgrade-setupfail", "9.6.1");
    let b = c.node("node-b");
    let a = args(&c, b, json!({"media": s(&img)}));
    fault(&c, "node-b", "setup", "fail", &[]);
    let v = run_fail(b, a.clone());
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("setup 9.6.1 failed; LifeKeeper 9.4.0 is installed: setup 9.6.1 failed"),
        "{msg}"
    );
    assert!(
        msg.ends_with("rerun with the same arguments to resume"),
        "{msg}"
    );
    assert_eq!(v["failed_step"], "setup 9.6.1");
    assert_eq!(
        steps(&v)
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["done", "failed", "planned", "planned"]
    );
    assert_work_dir_clean(&c);
    clear(&c);
    let done = run_ok(b, a.clone());
    assert_eq!(done["changed"], true);
    assert_eq!(done["previous_version"], "9.4.0");
    assert_eq!(node_state(&c, "node-b")["version"], "9.6.1");
}

#[test]
fn setup_failing_halfway_leaves_nothing_installed_and_resume_finishes_and_starts_lifekeeper() {
    let c = Cluster::create("upgrade-halfway", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("upgrade-halfway", "9.6.1");
    let b = c.node("node-b");
    let a = args(&c, b, json!({"media": s(&img)}));
    let placement_before = placement(&c, "node-b");
    fault(&c, "node-b", "setup", "halfway", &[]);
    let v = run_fail(b, a.clone());
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("LifeKeeper is not installed"),
        "{v}"
    );
    assert_eq!(v["version"], Value::Null);
    assert!(std::fs::read_to_string(v["setup_log"].as_str().unwrap())
        .unwrap()
        .contains("Failed dependencies"));
    clear(&c);
    // The plan of the resumed run, in check mode: the path comes from the journal.
    let before = settled_hash(&c);
    let plan = run_ok(b, check(a.clone()));
    assert_eq!(tree_hash(&c.dir), before);
    assert_eq!(plan["path"], "direct");
    assert_eq!(plan["previous_version"], "9.4.0");
    let done = run_ok(b, a.clone());
    assert_eq!(
        steps(&done),
        [
            ("mount media 9.6.1", "done"),
            ("setup 9.6.1", "done"),
            ("start LifeKeeper", "done"),
            ("verify", "done")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(node_state(&c, "node-b")["running"], true);
    assert_eq!(placement(&c, "node-b"), placement_before);
    assert_eq!(run_ok(b, a)["changed"], false);
}

// ---- stepwise ------------------------------------------------------------------------------------

#[test]
fn stepwise_932_through_943_keeps_the_hierarchies_and_resumes_after_the_second_setup_fails() {
    let c = Cluster::create("upgrade-stepwise", &["node-a", "node-b"], "9.3.2", &[]);
    let img = media("upgrade-stepwise", "9.6.1");
    let step = media("upgrade-stepwise", "9.4.3");
    let b = c.node("node-b");
    let a = args(
        &c,
        b,
        json!({"media": s(&img), "stepping_media": [s(&step)]}),
    );
    let placement_before = placement(&c, "node-b");
    let before = settled_hash(&c);
    let plan = run_ok(b, check(a.clone()));
    assert_eq!(tree_hash(&c.dir), before);
    assert_eq!(plan["path"], "stepwise");
    assert_eq!(
        names(&plan),
        [
            "mount media 9.4.3",
            "setup 9.4.3",
            "mount media 9.6.1",
            "setup 9.6.1",
            "start LifeKeeper",
            "verify"
        ]
    );

    // The second setup fails: the node is left at 9.4.3.
    fault(&c, "node-b", "setup", "fail", &["--after", "1"]);
    let v = run_fail(b, a.clone());
    assert_eq!(v["changed"], true);
    assert_eq!(v["version"], "9.4.3");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("LifeKeeper 9.4.3 is installed"),
        "{v}"
    );
    assert_work_dir_clean(&c);
    clear(&c);

    let before = settled_hash(&c);
    let resume_plan = run_ok(b, check(a.clone()));
    assert_eq!(tree_hash(&c.dir), before);
    assert_eq!(
        steps(&resume_plan)
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["done", "done", "planned", "planned", "planned", "planned"]
    );
    let done = run_ok(b, diff(a.clone()));
    assert_eq!(done["path"], "stepwise");
    assert_eq!(done["previous_version"], "9.3.2");
    assert_eq!(done["diff"], resume_plan["diff"]);
    assert!(done["diff"]["before"]
        .as_str()
        .unwrap()
        .contains("steeleye-lk-9.3.2-7550.x86_64"));
    assert_eq!(done["setup_logs"].as_array().unwrap().len(), 2);
    assert_eq!(node_state(&c, "node-b")["version"], "9.6.1");
    assert_eq!(
        placement(&c, "node-b"),
        placement_before,
        "hierarchies kept"
    );
    assert_eq!(run_ok(b, a)["changed"], false);
}

#[test]
fn without_stepping_media_an_old_node_needs_allow_reinstall() {
    let c = Cluster::create("upgrade-noreinstall", &["node-a", "node-b"], "9.3.2", &[]);
    let img = media("upgrade-noreinstall", "9.6.1");
    let b = c.node("node-b");
    let before = settled_hash(&c);
    for a in [
        args(&c, b, json!({"media": s(&img)})),
        check(args(&c, b, json!({"media": s(&img)}))),
    ] {
        let v = run_fail(b, a);
        assert_eq!(v["invalid_parameter"], "allow_reinstall", "{v}");
        assert!(v["msg"]
            .as_str()
            .unwrap()
            .contains("rmlk removes the resource hierarchies"));
    }
    assert_eq!(tree_hash(&c.dir), before);
}

// ---- reinstall -----------------------------------------------------------------------------------

/// A 9.2.2 cluster whose node-b defaults carry site values, with a verified lk_backup of node-b.
fn reinstall_cluster(name: &str) -> (Cluster, PathBuf, PathBuf) {
    let c = Cluster::create(name, &["node-a", "node-b"], "9.2.2", &[]);
    let img = media(name, "9.6.1");
    let b = c.node("node-b");
    let old = std::fs::read_to_string(&b.defaults_file).unwrap();
    assert!(old.contains("LCMHBEATTIME=5\n"));
    std::fs::write(
        &b.defaults_file,
        old.replace("LCMHBEATTIME=5\n", "LCMHBEATTIME=7\n") + "SITE_TUNABLE=42\n",
    )
    .unwrap();
    let backups = c.dir.join("backups");
    (c, img, backups)
}

fn take_backup(c: &Cluster, backups: &Path) {
    let b = c.node("node-b");
    let (v, rc) = b.module(
        "lk_backup",
        json!({"dest": s(backups), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)}),
    );
    assert_eq!(rc, 0, "lk_backup: {v:#}");
}

/// The site's values survive the reinstall; keys only the new release has are kept. Returns the
/// new defaults file.
fn assert_site_values_reapplied(c: &Cluster) -> String {
    let text = std::fs::read_to_string(&c.node("node-b").defaults_file).unwrap();
    assert!(text.contains("\nLCMHBEATTIME=7\n"), "{text}");
    assert!(text.contains("SITE_TUNABLE=42"), "{text}");
    assert!(
        text.contains("\nAPI_SSL_PORT="),
        "a 9.6-only key is kept: {text}"
    );
    text
}

fn pristine(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("lksim/data/defaults-{version}"))
}

#[test]
fn reinstall_922_to_961_refusals_plan_run_and_defaults_reapplied() {
    let (c, img, backups) = reinstall_cluster("upgrade-reinstall");
    let b = c.node("node-b");
    let base = json!({"media": s(&img), "backup_dir": s(&backups), "allow_reinstall": true, "restore_config": true});
    let before = settled_hash(&c);

    // Refused before touching anything: not allowed; no backup_dir; no verified backup.
    let v = run_fail(
        b,
        args(&c, b, json!({"media": s(&img), "backup_dir": s(&backups)})),
    );
    assert_eq!(v["invalid_parameter"], "allow_reinstall");
    let v = run_fail(
        b,
        args(
            &c,
            b,
            json!({"media": s(&img), "allow_reinstall": true, "restore_config": true}),
        ),
    );
    assert_eq!(v["invalid_parameter"], "backup_dir");
    std::fs::create_dir_all(&backups).unwrap();
    let v = run_fail(b, args(&c, b, base.clone()));
    assert_eq!(v["invalid_parameter"], "backup_dir");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("holds no backup of node-b that verifies"),
        "{v}"
    );
    // Check mode predicts the reinstall instead of refusing (in a check-mode play lk_backup
    // wrote nothing earlier), and says in its first step and a warning that the real run refuses.
    let no_backup = format!(
        "no verified backup of node-b in {} yet: the real run refuses unless one exists (take it with lk_backup first)",
        s(&backups)
    );
    for dir_exists in [true, false] {
        if !dir_exists {
            std::fs::remove_dir(&backups).unwrap();
        }
        let before = settled_hash(&c);
        let plan = run_ok(b, check(args(&c, b, base.clone())));
        assert_eq!(tree_hash(&c.dir), before, "check mode changed something");
        assert_eq!(plan["changed"], true);
        assert_eq!(plan["path"], "reinstall");
        assert_eq!(
            plan["steps"][0],
            json!({"name": "verify backup", "status": "planned", "detail": no_backup})
        );
        assert_eq!(plan["warnings"], json!([no_backup]), "{plan:#}");
        assert_eq!(plan.get("backup"), None, "{plan:#}");
    }
    assert_eq!(tree_hash(&c.dir), before);

    take_backup(&c, &backups);
    // A damaged backup does not count.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(backups.join("lkops-backups.json")).unwrap())
            .unwrap();
    let archive = backups.join(manifest["backups"][0]["archive"].as_str().unwrap());
    let good = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, b"damaged").unwrap();
    let v = run_fail(b, args(&c, b, base.clone()));
    assert_eq!(v["invalid_parameter"], "backup_dir");
    std::fs::write(&archive, &good).unwrap();

    let before = settled_hash(&c);
    let plan = run_ok(b, check(args(&c, b, base.clone())));
    assert_eq!(tree_hash(&c.dir), before, "check mode changed something");
    assert_eq!(plan["path"], "reinstall");
    assert_eq!(
        names(&plan),
        [
            "verify backup",
            "save defaults",
            "stop LifeKeeper",
            "uninstall LifeKeeper",
            "mount media 9.6.1",
            "setup 9.6.1",
            "restore configuration",
            "re-apply defaults",
            "start LifeKeeper",
            "verify"
        ]
    );
    assert_eq!(plan["backup"], s(&archive));
    assert_eq!(plan.get("warnings"), None, "{plan:#}");
    assert!(plan["steps"][6]["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("bin/lkbackup -x -f {}", s(&archive))));
    let hierarchies_before = node_state(&c, "node-b")["resources"].clone();
    let paths_before = node_state(&c, "node-b")["comm_paths"].clone();
    assert_eq!(hierarchies_before.as_array().unwrap().len(), 6);
    assert_eq!(paths_before.as_array().unwrap().len(), 2);

    let done = run_ok(b, diff(args(&c, b, base.clone())));
    assert_eq!(done["changed"], true);
    assert_eq!(done["path"], "reinstall");
    assert!(steps(&done).iter().all(|(_, s)| s == "done"), "{done:#}");
    assert_eq!(
        done["diff"], plan["diff"],
        "check mode predicts the package diff"
    );
    let text = assert_site_values_reapplied(&c);
    // Without defaults_base an old default the site never touched is carried too, with a warning.
    assert!(text.contains("\nLK_NOTIFY_ALIAS=\"root\"\n"), "{text}");
    assert!(
        done["warnings"].to_string().contains("LK_NOTIFY_ALIAS"),
        "{done:#}"
    );
    let saved = done["saved_defaults"].as_str().unwrap();
    assert!(std::fs::read_to_string(saved)
        .unwrap()
        .contains("SITE_TUNABLE=42"));
    let st = node_state(&c, "node-b");
    assert_eq!(st["version"], "9.6.1");
    assert_eq!(st["running"], true);
    // The hierarchies and comm paths are back from the archive (rmlk had removed them), and the
    // module brought nothing into service here.
    assert_eq!(st["resources"], hierarchies_before, "{st:#}");
    assert!(placement(&c, "node-b").iter().all(|(_, s)| s == "OSU"));
    assert_eq!(st["comm_paths"], paths_before, "{st:#}");
    // The copy of the fresh defaults file kept across the restore is gone once finished.
    assert!(!backups
        .join("node-b.LifeKeeper.defaults.9.6.1.fresh")
        .exists());
    assert_eq!(run_ok(b, args(&c, b, base))["changed"], false);
}

#[test]
fn reinstall_with_restore_config_false_leaves_the_hierarchies_to_recreate_by_hand() {
    let (c, img, backups) = reinstall_cluster("upgrade-reinstall-norestore");
    take_backup(&c, &backups);
    let b = c.node("node-b");
    let a = args(
        &c,
        b,
        json!({"media": s(&img), "backup_dir": s(&backups), "allow_reinstall": true,
               "restore_config": false}),
    );
    let plan = run_ok(b, check(a.clone()));
    assert!(!names(&plan).contains(&"restore configuration".to_string()));
    let done = run_ok(b, a);
    assert_eq!(names(&done), names(&plan));
    let st = node_state(&c, "node-b");
    assert_eq!(st["version"], "9.6.1");
    assert_eq!(st["running"], true);
    assert_eq!(st["resources"], json!([]), "{st:#}");
    assert_eq!(st["comm_paths"], json!([]), "{st:#}");
    assert_site_values_reapplied(&c);
}

#[test]
fn reinstall_resumes_after_lkstop_rmlk_and_setup_failures() {
    let (c, img, backups) = reinstall_cluster("upgrade-reinstall-faults");
    take_backup(&c, &backups);
    let b = c.node("node-b");
    let a = args(
        &c,
        b,
        json!({"media": s(&img), "backup_dir": s(&backups), "allow_reinstall": true, "restore_config": true,
               "defaults_base": s(&pristine("9.2.2"))}),
    );

    fault(&c, "node-b", "lkstop", "fail", &[]);
    let v = run_fail(b, a.clone());
    assert_eq!(v["failed_step"], "stop LifeKeeper");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("the saved defaults are at"),
        "{v}"
    );
    assert_eq!(node_state(&c, "node-b")["version"], "9.2.2");
    clear(&c);

    fault(&c, "node-b", "rmlk", "fail", &[]);
    let v = run_fail(b, a.clone());
    assert_eq!(v["failed_step"], "uninstall LifeKeeper");
    assert_eq!(
        steps(&v)
            .iter()
            .map(|(_, s)| s.as_str())
            .take(4)
            .collect::<Vec<_>>(),
        ["done", "done", "done", "failed"]
    );
    clear(&c);

    fault(&c, "node-b", "setup", "fail", &[]);
    let v = run_fail(b, a.clone());
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("setup 9.6.1 failed after uninstall; LifeKeeper is not installed"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "the saved defaults are at {}",
            v["saved_defaults"].as_str().unwrap()
        )),
        "{msg}"
    );
    assert!(msg.contains("is verified; "), "{msg}");
    assert!(
        msg.ends_with("rerun with the same arguments to resume"),
        "{msg}"
    );
    assert_work_dir_clean(&c);
    clear(&c);

    // The restore fails; as if lkbackup -x had died after bringing back the old defaults file,
    // the file is the old release's when the run is resumed: the new one is kept all the same.
    fault(&c, "node-b", "lkbackup", "fail", &[]);
    let v = run_fail(b, a.clone());
    assert_eq!(v["failed_step"], "restore configuration", "{v:#}");
    let fresh = backups.join("node-b.LifeKeeper.defaults.9.6.1.fresh");
    assert!(std::fs::read_to_string(&fresh)
        .unwrap()
        .contains("\nAPI_SSL_PORT="));
    std::fs::copy(v["saved_defaults"].as_str().unwrap(), &b.defaults_file).unwrap();
    clear(&c);

    let done = run_ok(b, a.clone());
    assert_eq!(done["previous_version"], "9.2.2");
    assert_eq!(
        steps(&done)
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>(),
        ["done", "done", "done", "done", "done", "done", "done", "done", "done", "done"]
    );
    assert_eq!(
        node_state(&c, "node-b")["resources"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert!(!fresh.exists());
    let text = assert_site_values_reapplied(&c);
    // Three-way with defaults_base: the new release's default stands where the site kept the old one.
    assert!(
        text.contains("\nLK_NOTIFY_ALIAS=\"root admin\"\n"),
        "{text}"
    );
    assert_eq!(node_state(&c, "node-b")["running"], true);
    assert_eq!(run_ok(b, a)["changed"], false);
}

#[test]
fn a_different_version_is_refused_while_an_upgrade_is_unfinished() {
    let c = Cluster::create("upgrade-otherversion", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("upgrade-otherversion", "9.6.1");
    let b = c.node("node-b");
    fault(&c, "node-b", "setup", "fail", &[]);
    run_fail(b, args(&c, b, json!({"media": s(&img)})));
    clear(&c);
    let v = run_fail(
        b,
        args(&c, b, json!({"media": s(&img), "version": "9.5.1"})),
    );
    assert_eq!(v["invalid_parameter"], "version");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("unfinished upgrade of node-b to 9.6.1"),
        "{v}"
    );
}

#[test]
fn reinstall_from_older_than_7_5_plans_the_package_removal() {
    let c = Cluster::create("upgrade-old74", &["node-a", "node-b"], "7.4.0", &[]);
    let img = media("upgrade-old74", "9.6.1");
    let backups = c.dir.join("backups");
    take_backup(&c, &backups);
    let b = c.node("node-b");
    let a = args(
        &c,
        b,
        json!({"media": s(&img), "backup_dir": s(&backups), "allow_reinstall": true, "restore_config": true,
               "recovery_kits": ["lkIP"]}),
    );
    let before = settled_hash(&c);
    let plan = run_ok(b, check(a.clone()));
    assert_eq!(tree_hash(&c.dir), before);
    assert_eq!(
        names(&plan)[..5],
        [
            "verify backup",
            "save defaults",
            "stop LifeKeeper",
            "uninstall LifeKeeper",
            "remove old packages"
        ]
    );
    let done = run_ok(b, diff(a));
    // rmlk of the simulator removes every package itself, so nothing is left for rpm -e.
    assert_eq!(
        steps(&done)[4],
        ("remove old packages".to_string(), "skipped".to_string())
    );
    assert_eq!(
        done["diff"], plan["diff"],
        "reinstall installs the core set and the kits asked for"
    );
    assert_eq!(node_state(&c, "node-b")["version"], "9.6.1");
}

#[test]
fn progress_goes_to_stderr_and_stdout_stays_one_json_object() {
    let c = Cluster::create("upgrade-progress", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("upgrade-progress", "9.6.1");
    let b = c.node("node-b");
    let file = c.dir.join("args.json");
    std::fs::write(&file, args(&c, b, json!({"media": s(&img)})).to_string()).unwrap();
    let out = Command::new(bin("lk_upgrade"))
        .arg(&file)
        .env("PATH", b.path_env())
        .env("LKOPS_PROGRESS", "1")
        .output()
        .unwrap();
    let (v, rc) = parse_output(&out);
    assert_eq!(rc, 0, "{v:#}");
    let err = String::from_utf8_lossy(&out.stderr);
    for l in [
        "mount media 9.6.1 ...",
        "setup 9.6.1 ...",
        "setup 9.6.1: done",
        "verify: done",
    ] {
        assert!(err.contains(l), "{l} missing from stderr: {err}");
    }
}

// ---- issue 16: the real setup, judged by its results; probe before destroy ---------------------

/// The media `version` extracted into `<name>` (a media_dir), its real setup kept as
/// `setup.real` and `setup` replaced by `stand_in` (a shell script: `$R` runs the real one).
fn media_dir_with_setup(test: &str, version: &str, stand_in: &str) -> PathBuf {
    let img = media(test, version);
    let mdir = img.parent().unwrap().join("mdir");
    let _ = std::fs::remove_dir_all(&mdir);
    std::fs::create_dir_all(&mdir).unwrap();
    let o = Command::new("bsdtar")
        .arg("-xf")
        .arg(&img)
        .arg("-C")
        .arg(&mdir)
        .output()
        .unwrap();
    assert!(o.status.success());
    use std::os::unix::fs::PermissionsExt;
    std::fs::rename(mdir.join("setup"), mdir.join("setup.real")).unwrap();
    let script = format!("#!/bin/sh\nR=\"$(dirname \"$0\")/setup.real\"\n{stand_in}\n");
    std::fs::write(mdir.join("setup"), script).unwrap();
    for f in ["setup", "setup.real"] {
        std::fs::set_permissions(mdir.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    mdir
}

/// `--help` goes to the real setup; a real run's output is passed through `filter` (sed).
fn filtered(filter: &str) -> String {
    format!(
        "case \"$1\" in --help|-h) exec \"$R\" \"$@\";; esac\nout=$(\"$R\" \"$@\"); rc=$?\nprintf '%s\\n' \"$out\" | {filter}\nexit $rc"
    )
}

#[test]
fn real_layout_sps_img_with_coloured_setup_complete_succeeds() {
    let c = Cluster::create("upgrade-real-layout", &["node-a", "node-b"], "9.4.0", &[]);
    let dir = bin_dir().join("scratch").join("upgrade-real-layout-media");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let o = Command::new(bin("lksim"))
        .args([
            "media",
            "create",
            "--version",
            "9.6.1",
            "--layout",
            "real",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = dir.join("sps.img");
    let b = c.node("node-b");
    let a = args(&c, b, json!({"media": s(&img), "media_mode": "extract"}));
    let plan = run_ok(b, check(a.clone()));
    assert_eq!(plan["path"], "direct", "{plan:#}");
    let done = run_ok(b, a);
    assert_eq!(done["version"], "9.6.1");
    assert!(done.get("warnings").is_none(), "{done:#}");
    let log = std::fs::read_to_string(done["setup_log"].as_str().unwrap()).unwrap();
    assert!(log.contains("\u{1b}[32mSetup complete.\u{1b}[0m"), "{log}");
    assert_eq!(node_state(&c, "node-b")["version"], "9.6.1");
}

#[test]
fn vendor_spelling_setup_complete_capital_c_succeeds() {
    let c = Cluster::create("upgrade-capital", &["node-a", "node-b"], "9.4.0", &[]);
    let mdir = media_dir_with_setup(
        "upgrade-capital",
        "9.6.1",
        &filtered("sed 's/Setup complete\\./Setup Complete./'"),
    );
    let b = c.node("node-b");
    let done = run_ok(b, args(&c, b, json!({"media_dir": s(&mdir)})));
    let log = std::fs::read_to_string(done["setup_log"].as_str().unwrap()).unwrap();
    assert!(log.contains("Setup Complete."), "{log}");
    assert!(done.get("warnings").is_none(), "{done:#}");
    assert_eq!(node_state(&c, "node-b")["version"], "9.6.1");
}

#[test]
fn exit_0_and_target_installed_without_the_text_succeeds_with_a_warning() {
    let c = Cluster::create("upgrade-notext", &["node-a", "node-b"], "9.4.0", &[]);
    let mdir = media_dir_with_setup(
        "upgrade-notext",
        "9.6.1",
        &filtered("grep -v 'Setup complete'"),
    );
    let b = c.node("node-b");
    let done = run_ok(b, args(&c, b, json!({"media_dir": s(&mdir)})));
    assert_eq!(done["version"], "9.6.1");
    let w = done["warnings"].to_string();
    assert!(w.contains("setup_success_regex"), "{done:#}");
    assert_eq!(node_state(&c, "node-b")["version"], "9.6.1");
}

#[test]
fn setup_text_with_the_old_version_still_installed_fails_and_the_journal_does_not_mark_setup_done()
{
    let c = Cluster::create("upgrade-liar", &["node-a", "node-b"], "9.4.0", &[]);
    // Says it finished, installs nothing.
    let mdir = media_dir_with_setup(
        "upgrade-liar",
        "9.6.1",
        "case \"$1\" in --help|-h) exec \"$R\" \"$@\";; esac\nprintf '\\033[32mSetup complete.\\033[0m\\n'\nexit 0",
    );
    let b = c.node("node-b");
    let a = args(&c, b, json!({"media_dir": s(&mdir)}));
    let v = run_fail(b, a);
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("reports 9.4.0, not 9.6.1"),
        "{v:#}"
    );
    assert_eq!(v["failed_step"], "setup 9.6.1");
    let j: Value = serde_json::from_str(
        &std::fs::read_to_string(c.dir.join("state/upgrade-journal.node-b.json")).unwrap(),
    )
    .unwrap();
    assert!(
        !j["done"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "setup 9.6.1"),
        "{j:#}"
    );
    assert_eq!(node_state(&c, "node-b")["version"], "9.4.0");
}

#[test]
fn setup_help_not_naming_setup_args_is_refused_before_any_change_in_check_mode_and_for_real() {
    let c = Cluster::create("upgrade-usage", &["node-a", "node-b"], "9.4.0", &[]);
    let mdir = media_dir_with_setup(
        "upgrade-usage",
        "9.6.1",
        "case \"$1\" in --help|-h) echo 'Usage: setup [--config FILE] [--yes]'; exit 0;; esac\nexec \"$R\" \"$@\"",
    );
    let b = c.node("node-b");
    let a = args(&c, b, json!({"media_dir": s(&mdir)}));
    let before = settled_hash(&c);
    for a in [check(a.clone()), a] {
        let v = run_fail(b, a);
        assert_eq!(v["invalid_parameter"], "setup_args", "{v:#}");
        assert!(v["msg"].as_str().unwrap().contains("setup_args"), "{v:#}");
        assert_eq!(v["changed"], false);
        let st = node_state(&c, "node-b");
        assert_eq!(st["running"], true, "LifeKeeper still running");
        assert_eq!(st["version"], "9.4.0", "version unchanged");
        assert_eq!(tree_hash(&c.dir), before, "nothing changed");
    }
}

/// Issue 22, defect 4: bad media noticed only after rmlk. Random bytes, an empty file, a tar
/// holding an sps.version, all named sps_961.img: refused before anything changes, in check mode
/// and for real, on the reinstall path.
#[test]
fn bad_media_is_noticed_only_after_rmlk() {
    let (c, _img, backups) = reinstall_cluster("upgrade-badmedia");
    take_backup(&c, &backups);
    let b = c.node("node-b");
    let dir = bin_dir().join("scratch").join("upgrade-badmedia-bad");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("t")).unwrap();
    let random: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(dir.join("t/sps.version"), "9.6.1\n").unwrap();
    let cases: Vec<(&str, PathBuf)> = vec![
        ("random", dir.join("random/sps_961.img")),
        ("empty", dir.join("empty/sps_961.img")),
        ("tar", dir.join("tar/sps_961.img")),
    ];
    for (k, p) in &cases {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match *k {
            "random" => std::fs::write(p, &random).unwrap(),
            "empty" => std::fs::write(p, b"").unwrap(),
            _ => assert!(Command::new("tar")
                .arg("-cf")
                .arg(p)
                .arg("-C")
                .arg(dir.join("t"))
                .arg("sps.version")
                .status()
                .unwrap()
                .success()),
        }
    }
    let before = settled_hash(&c);
    for (k, p) in &cases {
        let a = args(
            &c,
            b,
            json!({"media": s(p), "media_mode": "extract", "backup_dir": s(&backups), "allow_reinstall": true}),
        );
        for a in [check(a.clone()), a] {
            let v = run_fail(b, a);
            assert_eq!(v["invalid_parameter"], "media", "{k}: {v:#}");
            assert_eq!(v["changed"], false, "{k}");
            let st = node_state(&c, "node-b");
            assert_eq!(st["version"], "9.2.2", "{k}: still installed");
            assert_eq!(st["running"], true, "{k}: still running");
            assert_eq!(tree_hash(&c.dir), before, "{k}: nothing changed");
        }
    }
}

#[test]
fn without_setup_config_and_without_generate_setup_config_refuses_up_front() {
    let c = Cluster::create("upgrade-noconf", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("upgrade-noconf", "9.6.1");
    let b = c.node("node-b");
    let mut a = args(&c, b, json!({"media": s(&img)}));
    a.as_object_mut().unwrap().remove("generate_setup_config");
    let before = settled_hash(&c);
    for a in [check(a.clone()), a] {
        let v = run_fail(b, a);
        assert_eq!(v["invalid_parameter"], "setup_config", "{v:#}");
        assert!(v["msg"].as_str().unwrap().contains("Save"), "{v:#}");
        assert_eq!(tree_hash(&c.dir), before);
    }
}

/// Kits shipped apart from sps.img live under /opt/LifeKeeper, which rmlk deletes: the reinstall
/// saves every file no package owns beside the verified backup (its own archive, in SHA256SUMS)
/// and lists them as to_reinstall.
#[test]
fn reinstall_saves_files_no_package_owns_before_rmlk_and_lists_them_to_reinstall() {
    let (c, img, backups) = reinstall_cluster("upgrade-sitefiles");
    take_backup(&c, &backups);
    let out = c.sim(&[
        "kit",
        "install",
        "node-b",
        "HANA2-ARK",
        "--dir",
        c.dir.to_str().unwrap(),
    ]);
    let kit: Value = serde_json::from_str(&out).unwrap();
    assert!(!kit["files"].as_array().unwrap().is_empty(), "{kit}");
    let b = c.node("node-b");
    let done = run_ok(
        b,
        args(
            &c,
            b,
            json!({"media": s(&img), "media_mode": "extract", "backup_dir": s(&backups), "allow_reinstall": true}),
        ),
    );
    let listed: Vec<String> = done["to_reinstall"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(listed.iter().any(|f| f == "HANA2-ARK/README"), "{done:#}");
    assert!(
        listed
            .iter()
            .any(|f| f.starts_with("lkadm/subsys/gen/app/bin/")),
        "{listed:?}"
    );
    assert!(
        !listed.iter().any(|f| f.starts_with("bin/")),
        "package files are not listed: {listed:?}"
    );
    let archive = PathBuf::from(done["site_files_archive"].as_str().unwrap());
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    let sums = std::fs::read_to_string(backups.join("SHA256SUMS")).unwrap();
    assert!(sums.contains(&format!("  {name}\n")), "{sums}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&archive).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let o = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("HANA2-ARK/README"));
    assert!(!b.lkroot.join("HANA2-ARK").exists(), "rmlk deleted the kit");
}

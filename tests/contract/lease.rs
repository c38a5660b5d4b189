//! lk_lease (issue 28, two runs at once): the run lease through the binary. A second run refuses
//! naming the holder and writes nothing; the holder renews; a holder gone from this controller
//! (not among the live runs: a killed controller) is taken over and said; check mode predicts
//! and writes nothing; only the holder releases; bad input names the parameter.

use crate::common::{run_module, scratch};
use serde_json::{json, Value};

fn run(id: &str, pid: u32) -> Value {
    json!({"run_id": id, "controller": "ctl", "pid": pid, "pid_start": "100", "started": "2026-12-07T10:00:00Z"})
}

#[test]
fn two_runs_at_once_the_second_refuses_naming_the_holder_a_dead_one_is_taken_over() {
    let dir = scratch("lease-contract");
    let file = dir.join("lkops-run-lease.demo.json");
    let args = |who: Value, live: &[&str], check: bool| {
        json!({"state": "held", "run": who, "live_runs": live, "cluster": "demo",
               "lease_dir": dir, "_ansible_check_mode": check})
    };
    let live = ["1:100", "2:100"];

    // Check mode predicts the take and writes nothing.
    let (v, rc) = run_module("lk_lease", args(run("ctl:1:100", 1), &live, true));
    assert_eq!((rc, &v["action"]), (0, &json!("taken")), "{v}");
    assert!(!file.exists(), "check mode wrote the lease");

    let (v, rc) = run_module("lk_lease", args(run("ctl:1:100", 1), &live, false));
    assert_eq!(
        (rc, &v["action"], v["changed"].as_bool()),
        (0, &json!("taken"), Some(true)),
        "{v}"
    );
    let first = std::fs::read_to_string(&file).unwrap();
    assert!(first.contains("ctl:1:100"), "{first}");

    // The second run, alive alongside: refused, naming the holder, the lease untouched.
    let (v, _) = run_module("lk_lease", args(run("ctl:2:100", 2), &live, false));
    assert_eq!(v["failed"], true, "{v}");
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("another lkops run holds cluster demo")
            && msg.contains("run ctl:1:100 from controller ctl (ansible-playbook pid 1)"),
        "{msg}"
    );
    assert_eq!(v["holder"]["run_id"], "ctl:1:100");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first);

    // The holder renews; its release by another run leaves it alone.
    let (v, rc) = run_module("lk_lease", args(run("ctl:1:100", 1), &live, false));
    assert_eq!((rc, &v["action"]), (0, &json!("renewed")), "{v}");
    let (v, rc) = run_module(
        "lk_lease",
        json!({"state": "released", "run": run("ctl:2:100", 2), "cluster": "demo", "lease_dir": dir}),
    );
    assert_eq!(
        (rc, &v["action"], v["changed"].as_bool()),
        (0, &json!("none"), Some(false)),
        "{v}"
    );
    assert!(file.exists());

    // The holder's controller process is gone (killed): the next run takes it over, and says so.
    let (v, rc) = run_module("lk_lease", args(run("ctl:2:100", 2), &["2:100"], false));
    assert_eq!(
        (rc, &v["action"], &v["taken_over"]),
        (0, &json!("taken_over"), &json!(true)),
        "{v}"
    );
    assert_eq!(v["previous"]["holder"]["run_id"], "ctl:1:100", "{v}");
    assert!(
        v["msg"].as_str().unwrap().contains("no longer running"),
        "{v}"
    );
    assert!(
        !v["warnings"].as_array().unwrap().is_empty(),
        "a takeover is warned: {v}"
    );

    // Only the holder releases; check mode predicts and keeps it.
    let rel = |check: bool| {
        json!({"state": "released", "run": run("ctl:2:100", 2), "cluster": "demo",
               "lease_dir": dir, "_ansible_check_mode": check})
    };
    let (v, _) = run_module("lk_lease", rel(true));
    assert_eq!(v["action"], "released", "{v}");
    assert!(file.exists(), "check mode removed the lease");
    let (v, _) = run_module("lk_lease", rel(false));
    assert_eq!(
        (&v["action"], v["changed"].as_bool()),
        (&json!("released"), Some(true)),
        "{v}"
    );
    assert!(!file.exists());

    // Bad input names the parameter.
    let (v, _) = run_module("lk_lease", json!({"state": "held", "lease_dir": dir}));
    assert_eq!(
        (&v["failed"], &v["invalid_parameter"]),
        (&json!(true), &json!("run")),
        "{v}"
    );
    let (v, _) = run_module(
        "lk_lease",
        json!({"state": "held", "run": run("x", 1), "cluster": "../x", "lease_dir": dir}),
    );
    assert_eq!(v["invalid_parameter"], "cluster", "{v}");
}

/// A run refused before any change leaves the node as it found it (the partial-inventory and
/// inventory-name refusals compare every node's files): the lease directory and the parents the
/// take created are removed by the release when empty; a directory that holds anything stays.
#[test]
fn a_released_lease_leaves_no_directory_it_created() {
    let root = scratch("lease-created-dirs");
    let dir = root.join("var/backups/lkops-lease");
    let args = |state: &str| {
        json!({"state": state, "run": run("ctl:1:100", 1), "live_runs": ["1:100"],
               "cluster": "demo", "lease_dir": dir})
    };
    let (v, rc) = run_module("lk_lease", args("held"));
    assert_eq!((rc, &v["action"]), (0, &json!("taken")), "{v}");
    assert!(dir.is_dir());
    let (v, rc) = run_module("lk_lease", args("released"));
    assert_eq!((rc, &v["action"]), (0, &json!("released")), "{v}");
    assert!(
        !root.join("var").exists(),
        "the release left the directories the take created"
    );

    // A parent that something else filled in the meantime (the backups) stays; the lease's own
    // directory goes.
    let (v, rc) = run_module("lk_lease", args("held"));
    assert_eq!(rc, 0, "{v}");
    std::fs::create_dir_all(root.join("var/backups/lifekeeper")).unwrap();
    let (v, rc) = run_module("lk_lease", args("released"));
    assert_eq!(rc, 0, "{v}");
    assert!(!dir.exists(), "the empty lease directory stays");
    assert!(root.join("var/backups/lifekeeper").is_dir());
}

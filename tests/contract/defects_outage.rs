//! Regression tests for the outage and report defects of issue 28 (O1, O2, O5, W1, W2), each
//! named after the defect it guards. They run the real module binaries against lksim.

use crate::common::{media, wait_running_as, Cluster, Node};
use serde_json::{json, Value};
use std::path::Path;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The simulator's own record of `tag`'s state on `node`.
fn sim_state(c: &Cluster, node: &str, tag: &str) -> String {
    let st = c.state();
    let n = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == node)
        .unwrap()
        .clone();
    n["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tag"] == tag)
        .map(|r| r["state"].as_str().unwrap().to_string())
        .unwrap_or_else(|| "absent".into())
}

/// Start `module` on `n` (not waiting) with `env` added; its JSON result is read by `finish`.
fn spawn(
    c: &Cluster,
    n: &Node,
    module: &str,
    args: &Value,
    env: &[(&str, &str)],
) -> std::process::Child {
    let file = c.dir.join(format!("{module}-{}-args.json", n.name));
    std::fs::write(&file, args.to_string()).unwrap();
    let mut cmd = std::process::Command::new(crate::common::bin(module));
    cmd.arg(&file)
        .env("PATH", n.path_env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn finish(child: std::process::Child) -> (Value, i32) {
    let out = child.wait_with_output().unwrap();
    crate::common::parse_output(&out)
}

/// Issue 28 O1: `lk_resource state=standby` on node-a while lk_upgrade's setup ran on node-b (its
/// default target). The node lock was per node and lk_upgrade re-checked require_standby only
/// before setup, so the hierarchies moved onto node-b and setup then stopped LifeKeeper there:
/// every hierarchy out of service on every node. Now the switchover holds the target's node
/// lock (through lcdremexec): while lk_upgrade runs on node-b, it is refused before anything
/// moves, in check mode too, and the hierarchies stay in service on node-a.
#[test]
fn o1_switchover_onto_a_node_whose_setup_runs() {
    let c = Cluster::create("o1-switch-onto-setup", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("o1-switch-onto-setup", "9.6.1");
    let (a, b) = (c.node("node-a"), c.node("node-b"));
    let up = json!({
        "version": "9.6.1",
        "generate_setup_config": true,
        "media": s(&img),
        "lkroot": s(&b.lkroot),
        "defaults_file": s(&b.defaults_file),
        "work_dir": s(&c.dir.join("work")),
        "state_dir": s(&c.dir.join("state")),
        "timeout": 120,
    });
    // setup paced as on a real node (scaled): LifeKeeper keeps running on node-b for the first
    // fifth of it (about 3 s here), then setup stops it for the rest.
    let upgrade = spawn(&c, b, "lk_upgrade", &up, &[("LKSIM_TIME_SCALE", "0.04")]);
    assert!(
        !wait_running_as(&s(&b.root), "lksim-setup", 120).is_empty(),
        "setup never started on node-b"
    );
    let res = json!({"state": "standby", "lkroot": s(&a.lkroot), "wait": 30, "timeout": 30});
    let mut check = res.clone();
    check["_ansible_check_mode"] = json!(true);
    let (cv, crc) = a.module("lk_resource", check);
    let (v, rc) = a.module("lk_resource", res);
    let (uv, urc) = finish(upgrade);
    assert_eq!(urc, 0, "lk_upgrade: {uv:#}");
    // The hierarchies never left node-a: in service there, out of service on node-b.
    for tag in ["ip-10.0.0.50", "app-pgsql"] {
        assert_eq!(sim_state(&c, "node-a", tag), "ISP", "{tag}: {v:#}");
    }
    assert_eq!(
        rc, 1,
        "the switchover onto node-b in setup went ahead: {v:#}"
    );
    assert_eq!(v["changed"], false, "{v:#}");
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("another lkops module is changing node-b") && msg.contains("lk_upgrade"),
        "{msg}"
    );
    // Check mode predicts the refusal.
    assert_eq!(crc, 1, "check mode predicted a switchover: {cv:#}");
    assert!(
        cv["msg"].as_str().unwrap().contains("is changing node-b"),
        "{cv:#}"
    );
    // Once the upgrade has finished, the same switchover goes ahead.
    let (v, rc) = a.module(
        "lk_resource",
        json!({"state": "standby", "lkroot": s(&a.lkroot), "wait": 30}),
    );
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(sim_state(&c, "node-b", "app-pgsql"), "ISP", "{v:#}");
}

/// Issue 28 W2: a root resource OSF (failed) on the node being upgraded. `lk_resource standby`
/// brought it and the healthy hierarchy into service on the peer, then waited for the OSF
/// resource to become OSU, which never happened: it failed after `wait` with changed: true and
/// no switchover listed, and check mode had predicted a clean run. Now it is refused before
/// anything moves, naming the failed resource and the remedy, and check mode says the same.
#[test]
fn w2_standby_with_a_root_resource_osf_here() {
    let c = Cluster::create("w2-osf-root", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let dir = c.dir.to_str().unwrap();
    // A remove that fails half-way leaves the root OSF on node-a.
    c.sim(&[
        "fault",
        "set",
        "node-a",
        "perform_action",
        "halfway",
        "--dir",
        dir,
    ]);
    let o = a.lk("perform_action", &["-t", "ip-10.0.0.50", "-a", "remove"]);
    assert!(!o.status.success());
    c.sim(&["fault", "clear", "--dir", dir]);
    assert_eq!(sim_state(&c, "node-a", "ip-10.0.0.50"), "OSF");
    let args = json!({"state": "standby", "lkroot": s(&a.lkroot), "wait": 5, "timeout": 30});
    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    for (what, args) in [("check mode", check), ("real run", args)] {
        let (v, rc) = a.module("lk_resource", args);
        assert_eq!(rc, 1, "{what}: {v:#}");
        assert_eq!(v["changed"], false, "{what}: {v:#}");
        let msg = v["msg"].as_str().unwrap();
        assert!(
            msg.contains("ip-10.0.0.50 (a root) is OSF") && msg.contains("perform_action"),
            "{what}: {msg}"
        );
        assert_eq!(v["failed_resources"][0]["tag"], "ip-10.0.0.50", "{what}");
    }
    // Nothing moved: the healthy hierarchy is still served on node-a only.
    assert_eq!(sim_state(&c, "node-a", "app-pgsql"), "ISP");
    assert_eq!(sim_state(&c, "node-b", "app-pgsql"), "OSU");
    assert_eq!(sim_state(&c, "node-b", "ip-10.0.0.50"), "OSU");
}

/// Issue 28 W1: lk_preflight reported "preflight passed" when lcdstatus hung on a node where
/// LifeKeeper runs: LK-COMM-PATHS and LK-MIRRORS-SYNCED (high severity) became `skip` with no
/// warning. Now they fail, and so does the pre-flight, naming the timed-out lcdstatus.
#[test]
fn w1_preflight_passes_when_lcdstatus_hangs() {
    let c = Cluster::create("w1-lcdstatus-hangs", &["node-a", "node-b"], "9.4.0", &[]);
    let b = c.node("node-b");
    let dir = c.dir.to_str().unwrap();
    c.sim(&["fault", "set", "node-b", "lcdstatus", "hang", "--dir", dir]);
    let args = json!({
        "lkroot": s(&b.lkroot),
        "media_dir": s(&b.root.join("tmp")),
        "required_packages": ["bash", "coreutils", "glibc"],
        "timeout": 2,
    });
    // Only the node's stand-ins on PATH (no probe reaches this host's rpm or firewall).
    let (v, rc) = crate::common::run_module_env(
        "lk_preflight",
        args,
        &[("PATH", &b.path.display().to_string())],
    );
    c.sim(&["fault", "clear", "--dir", dir]);
    for pid in crate::common::procs_running_as(&s(&b.root), "lcdstatus") {
        // SAFETY: kill(2) by pid of a hung simulated lcdstatus this test made hang.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert_eq!(rc, 1, "preflight passed with a hung lcdstatus: {v:#}");
    let check = |id: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    for id in ["LK-COMM-PATHS", "LK-MIRRORS-SYNCED"] {
        let ch = check(id);
        assert_eq!(ch["status"], "fail", "{id}: {ch:#}");
        assert!(ch["msg"].as_str().unwrap().contains("timed out"), "{ch:#}");
    }
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("LK-COMM-PATHS") && msg.contains("LK-MIRRORS-SYNCED"),
        "{msg}"
    );
}

//! lk_info (issue 21): the read-only info module on simulated clusters (running with
//! hierarchies, a DEAD comm path, a mirror, a stopped node, a node LifeKeeper was removed from),
//! proof by a hash of the whole cluster tree that nothing changed (also in check mode), and bad
//! input failing with the parameter named.

use crate::common::{tree_hash, Cluster, Node};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

fn info(n: &Node, extra: Value) -> Value {
    let mut a = json!({"lkroot": n.lkroot});
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    let (v, rc) = n.module("lk_info", a);
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["failed"], false, "{v}");
    assert_eq!(v["changed"], false, "{v}");
    v
}

fn tags(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

#[test]
fn running_node_reports_version_resources_hierarchies_paths_packages_and_changes_nothing() {
    let c = Cluster::create("info-running", &["node-a", "node-b"], "9.4.0", &[]);
    let (a, b) = (c.node("node-a"), c.node("node-b"));
    let before = tree_hash(&c.dir);
    let v = info(a, json!({}));
    let again = info(a, json!({"_ansible_check_mode": true}));
    assert_eq!(tree_hash(&c.dir), before, "lk_info changed the cluster");
    assert_eq!(
        v["lifekeeper"],
        json!({"installed": true, "version": "9.4.0", "running": true,
               "node": "node-a", "node_source": "lcdstatus -q (LOCAL column)"})
    );
    // Check mode is the same read.
    for k in [
        "lifekeeper",
        "resources",
        "hierarchies_in_service",
        "comm_paths",
        "packages",
    ] {
        assert_eq!(v[k], again[k], "{k}");
    }
    assert_eq!(
        tags(&v["hierarchies_in_service"]),
        ["ip-10.0.0.50", "app-pgsql"]
    );
    let res = v["resources"].as_array().unwrap();
    assert_eq!(res.len(), 6, "{v}");
    let pg = res.iter().find(|r| r["tag"] == "pgsql-5432").unwrap();
    assert_eq!(pg["state"], "ISP");
    assert_eq!(pg["in_service"], true);
    assert_eq!(pg["priority"], 1);
    assert_eq!(pg["parent"], "app-pgsql");
    assert_eq!(pg["type"], "pgsql");
    assert_eq!(pg["backup"], "node-b");
    let paths = v["comm_paths"].as_array().unwrap();
    assert_eq!(paths.len(), 2, "{v}");
    assert!(paths
        .iter()
        .all(|p| p["peer"] == "node-b" && p["state"] == "ALIVE"));
    let pkgs: Vec<&str> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        pkgs.contains(&"steeleye-lk") && pkgs.contains(&"steeleye-lkPGSQL"),
        "{pkgs:?}"
    );
    assert_eq!(v["mirrors"], json!([]));

    // The standby node: the same resources, none in service there.
    let vb = info(b, json!({}));
    assert_eq!(vb["lifekeeper"]["node"], "node-b");
    assert_eq!(vb["hierarchies_in_service"], json!([]));
    assert!(vb["resources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["state"] == "OSU" && r["in_service"] == false && r["priority"] == 10));
}

#[test]
fn a_dead_comm_path_and_a_mirror_are_reported() {
    let spec = json!([
        {"tag": "/data", "id": "/data", "type": "filesys", "children": ["datarep-dk"]},
        {"tag": "datarep-dk", "id": "/dev/md0", "app": "scsi", "type": "netraid"}
    ]);
    let c = Cluster::create(
        "info-dead",
        &["node-a", "node-b"],
        "9.6.1",
        &["--hierarchies", &spec.to_string()],
    );
    c.sim(&[
        "commpath",
        "down",
        "node-a",
        "node-b",
        "--prio",
        "2",
        "--dir",
        c.dir.to_str().unwrap(),
    ]);
    let a = c.node("node-a");
    let o = a.lk("mirror_action", &["datarep-dk", "pause"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = tree_hash(&c.dir);
    let v = info(a, json!({}));
    assert_eq!(tree_hash(&c.dir), before, "lk_info changed the cluster");
    assert_eq!(v["lifekeeper"]["version"], "9.6.1");
    let paths = v["comm_paths"].as_array().unwrap();
    let dead: Vec<&Value> = paths.iter().filter(|p| p["state"] == "DEAD").collect();
    assert_eq!(dead.len(), 1, "{v}");
    assert_eq!(dead[0]["peer"], "node-b");
    assert_eq!(dead[0]["priority"], 2);
    assert!(paths.iter().any(|p| p["state"] == "ALIVE"), "{v}");
    assert_eq!(tags(&v["hierarchies_in_service"]), ["/data"]);
    let m = v["mirrors"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{v}");
    assert_eq!(m[0]["tag"], "datarep-dk");
    assert_eq!(m[0]["source"], "node-a");
    assert_eq!(m[0]["targets"][0]["target"], "node-b");
    assert_eq!(m[0]["targets"][0]["state"], "paused");
    let md = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tag"] == "datarep-dk")
        .unwrap()
        .clone();
    assert_eq!(md["type"], "netraid");

    // gather chooses the subsets: only what was asked is there.
    let p = info(a, json!({"gather": ["packages"]}));
    assert!(p["packages"].is_array());
    for k in [
        "resources",
        "hierarchies_in_service",
        "comm_paths",
        "mirrors",
    ] {
        assert!(p.get(k).is_none(), "{k} not asked for: {p}");
    }
    let p = info(a, json!({"gather": "comm_paths"}));
    assert_eq!(p["comm_paths"], v["comm_paths"]);
    assert!(p.get("packages").is_none());
}

#[test]
fn stopped_node_reports_installed_not_running_and_unknown_resources() {
    let c = Cluster::create(
        "info-stopped",
        &["node-a", "node-b"],
        "9.5.0",
        &["--stopped"],
    );
    let a = c.node("node-a");
    let before = tree_hash(&c.dir);
    let v = info(a, json!({}));
    assert_eq!(tree_hash(&c.dir), before, "lk_info changed the cluster");
    assert_eq!(v["lifekeeper"]["installed"], true);
    assert_eq!(v["lifekeeper"]["running"], false);
    assert_eq!(v["lifekeeper"]["version"], "9.5.0");
    assert_eq!(v["lifekeeper"]["node"], "node-a");
    // Unknown, not "none": a stopped LifeKeeper says nothing about what is in service.
    for k in [
        "resources",
        "hierarchies_in_service",
        "comm_paths",
        "mirrors",
    ] {
        assert_eq!(v[k], Value::Null, "{k}: {v}");
    }
    assert!(!v["packages"].as_array().unwrap().is_empty(), "{v}");
    // Regression (field evidence [MH]): without lktest, the stopped node's lcdstatus sentence,
    // `LifeKeeper does not appear to be running.` (lksim: stdout, exit 0, the worst case), is
    // "stopped", not a running node with no resources.
    std::fs::remove_file(a.lkroot.join("bin/lktest")).unwrap();
    let v = info(a, json!({}));
    assert_eq!(v["lifekeeper"]["running"], false, "{v}");
    assert_eq!(v["resources"], Value::Null, "{v}");
    assert_eq!(v["comm_paths"], Value::Null, "{v}");
}

#[test]
fn node_lifekeeper_was_removed_from_reports_not_installed() {
    let c = Cluster::create("info-removed", &["node-a", "node-b"], "9.4.0", &[]);
    let b = c.node("node-b");
    assert!(b.lk("lkstop", &[]).status.success());
    let mut rmlk = Command::new(b.lkroot.join("bin/rmlk"))
        .env("PATH", b.path_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    rmlk.stdin.take().unwrap().write_all(b"y\n").unwrap();
    assert!(rmlk.wait().unwrap().success());
    let before = tree_hash(&c.dir);
    let v = info(b, json!({}));
    assert_eq!(tree_hash(&c.dir), before, "lk_info changed the cluster");
    assert_eq!(
        v["lifekeeper"],
        json!({"installed": false, "version": null, "running": false,
               "node": "node-b", "node_source": "uname -n"})
    );
    assert_eq!(v["packages"], json!([]));
    assert!(v["msg"].as_str().unwrap().contains("not installed"), "{v}");
}

#[test]
fn bad_input_fails_naming_the_parameter() {
    let c = Cluster::create("info-bad", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let before = tree_hash(&c.dir);
    for (k, val) in [
        ("bogus", json!(1)),
        ("gather", json!(["resources", "licences"])),
        ("gather", json!("everything")),
        ("timeout", json!(0)),
        ("lkroot", json!("relative/LifeKeeper")),
    ] {
        let mut args = json!({"lkroot": a.lkroot});
        args[k] = val.clone();
        let (v, rc) = a.module("lk_info", args);
        assert_eq!(rc, 1, "{k}={val}: {v}");
        assert_eq!(v["failed"], true, "{k}={val}: {v}");
        let msg = v["msg"].as_str().unwrap();
        assert!(msg.contains(k), "{k}={val}: {v}");
        if k == "gather" {
            assert!(msg.contains("mirrors"), "names the choices: {v}");
        }
    }
    assert_eq!(tree_hash(&c.dir), before);
}

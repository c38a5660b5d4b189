//! lk_plan (issue 26): the planner module on facts lk_info gathered from simulated clusters.
//! The switchovers are those the playbooks make for the same shapes (tests/delivery/playbooks.rs
//! `check_mode_switchovers_equal_the_real_runs_in_every_shape`: a 2-node cluster, the split
//! with the IP on node-b, three nodes with a hierarchy each); the plan is kept on the node and
//! resumed; a partial inventory is refused naming the node; bad input names the parameter.

use crate::common::{run_module, scratch, tree_hash, Cluster};
use serde_json::{json, Value};

/// lk_info on every node, keyed by node name.
fn facts(c: &Cluster) -> Value {
    let mut out = json!({});
    for n in &c.nodes {
        let (v, rc) = n.module("lk_info", json!({"lkroot": n.lkroot}));
        assert_eq!(rc, 0, "{v}");
        out[&n.name] = v;
    }
    out
}

fn plan(args: Value) -> Value {
    let (v, rc) = run_module("lk_plan", args);
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["failed"], false, "{v}");
    v
}

fn moves(v: &Value) -> Vec<String> {
    v["switchovers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}->{} w{} {}",
                s["tag"].as_str().unwrap(),
                s["from"].as_str().unwrap(),
                s["to"].as_str().unwrap(),
                s["wave"],
                s["stage"].as_str().unwrap()
            )
        })
        .collect()
}

/// Scratch name, nodes, hierarchies (lksim's default without), the switchovers.
type Shape<'a> = (&'a str, &'a [&'a str], Option<Value>, &'a [&'a str]);

#[test]
fn plans_the_playbooks_switchovers_for_the_two_and_three_node_shapes() {
    let split = json!([
        {"tag": "ip-10.0.0.50", "id": "IP-10.0.0.50", "app": "comm", "type": "ip", "active": "node-b"},
        {"tag": "app-web", "id": "/opt/web", "children": ["fs-web"], "active": "node-a"},
        {"tag": "fs-web", "id": "/web", "type": "filesys", "active": "node-a"}
    ]);
    let trio = json!([
        {"tag": "ip-10.0.0.50", "id": "IP-10.0.0.50", "app": "comm", "type": "ip", "active": "node-b"},
        {"tag": "app-web", "id": "/opt/web", "children": ["fs-web"], "active": "node-a"},
        {"tag": "fs-web", "id": "/web", "type": "filesys", "active": "node-a"},
        {"tag": "nfs-export", "id": "/export", "type": "nfs", "active": "node-c"}
    ]);
    let shapes: [Shape; 3] = [
        (
            "plan-two",
            &["node-a", "node-b"],
            None,
            &[
                "ip-10.0.0.50 node-a->node-b w1 upgrade",
                "app-pgsql node-a->node-b w1 upgrade",
                "ip-10.0.0.50 node-b->node-a w2 upgrade",
                "app-pgsql node-b->node-a w2 upgrade",
            ],
        ),
        (
            "plan-split",
            &["node-a", "node-b"],
            Some(split),
            &[
                "app-web node-a->node-b w1 upgrade",
                "ip-10.0.0.50 node-b->node-a w2 upgrade",
                "app-web node-b->node-a w2 upgrade",
                "ip-10.0.0.50 node-a->node-b w2 return",
            ],
        ),
        (
            "plan-three",
            &["node-a", "node-b", "node-c"],
            Some(trio),
            &[
                "app-web node-a->node-b w1 upgrade",
                "ip-10.0.0.50 node-b->node-a w2 upgrade",
                "app-web node-b->node-a w2 upgrade",
                "nfs-export node-c->node-a w3 upgrade",
                "ip-10.0.0.50 node-a->node-b w2 return",
                "nfs-export node-a->node-c w3 return",
            ],
        ),
    ];
    for (name, nodes, spec, want) in shapes {
        let extra: Vec<String> = spec
            .map(|s| vec!["--hierarchies".to_string(), s.to_string()])
            .unwrap_or_default();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let c = Cluster::create(name, nodes, "9.4.0", &extra);
        let f = facts(&c);
        let before = tree_hash(&c.dir);
        let v = plan(
            json!({"facts": f, "order": nodes, "version": "9.6.1", "cluster": "demo",
            "plan_dir": c.dir.join("plans")}),
        );
        assert_eq!(moves(&v), want, "{name}: {v:#}");
        assert_eq!(v["changed"], false, "{name}: read-only by default");
        assert_eq!(
            tree_hash(&c.dir),
            before,
            "{name}: lk_plan changed the cluster"
        );
        assert_eq!(v["waves"].as_array().unwrap().len(), nodes.len());
        assert_eq!(v["record"]["status"], "open");
        assert_eq!(v["refused"], json!([]));
        let table = v["table"].as_array().unwrap();
        let first = table[1].as_str().unwrap();
        assert!(
            first.starts_with("1     node-a  9.4.0 -> 9.6.1")
                && first.contains(", upgrade, verify"),
            "{table:#?}"
        );
        assert!(
            table
                .iter()
                .any(|l| l.as_str().unwrap().starts_with("switchover 1: ")),
            "{table:?}"
        );
    }
}

#[test]
fn the_plan_is_kept_on_the_node_and_resumed_and_check_mode_writes_nothing() {
    let c = Cluster::create("plan-persist", &["node-a", "node-b"], "9.4.0", &[]);
    let f = facts(&c);
    let dir = scratch("plan-persist-dir").join("backups");
    let file = dir.join("lkops-plan.demo.json");
    let args = json!({"facts": f, "order": ["node-a", "node-b"], "version": "9.6.1",
        "cluster": "demo", "plan_dir": dir, "persist": true});

    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    check["_ansible_diff"] = json!(true);
    let v = plan(check);
    assert_eq!(v["changed"], true, "{v}");
    assert!(
        v["diff"]["after"]
            .as_str()
            .unwrap()
            .contains("\"status\": \"open\""),
        "{v}"
    );
    assert!(!dir.exists(), "check mode wrote the plan");

    let v = plan(args.clone());
    assert_eq!(v["changed"], true, "{v}");
    assert_eq!(v["resumed"], false);
    let text = std::fs::read_to_string(&file).unwrap();
    let kept: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(kept, v["record"]);
    assert_eq!(kept["homes"]["app-pgsql"], "node-a");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&dir), 0o700);

    // The rerun reads it back: resumed, nothing to write.
    let again = plan(args.clone());
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["resumed"], true);
    assert_eq!(again["record"]["created"], v["record"]["created"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    // Another target while it is open: refused, the file untouched.
    let mut other = args.clone();
    other["version"] = json!("9.6.2");
    let (r, rc) = run_module("lk_plan", other);
    assert_eq!((rc, &r["failed"]), (1, &json!(true)), "{r}");
    assert!(
        r["msg"].as_str().unwrap().contains("open plan for 9.6.1"),
        "{r}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    // new_plan replaces it (an older plan: the same second would draft the same plan) and keeps
    // the old one beside it.
    let mut older = kept.clone();
    older["created"] = json!("2026-01-01T00:00:00Z");
    std::fs::write(&file, older.to_string()).unwrap();
    let mut fresh = args.clone();
    fresh["new_plan"] = json!(true);
    let n = plan(fresh);
    assert_eq!(n["resumed"], false, "{n}");
    let kept = n["replaced_file"].as_str().unwrap();
    let old: Value = serde_json::from_str(&std::fs::read_to_string(kept).unwrap()).unwrap();
    assert_eq!(old["status"], "replaced");
    assert_eq!(old["created"], "2026-01-01T00:00:00Z");
    assert!(
        kept.ends_with("lkops-plan.demo.2026-01-01T000000Z.replaced.json"),
        "{kept}"
    );
    let now: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(now, n["record"]);
}

/// A witness (no hierarchy) is upgraded in its wave with no switchover and never takes one; a
/// DataKeeper mirror not in sync toward the node taking its hierarchy (paused here) is a wait of
/// that standby, and the verify after each upgrade waits for the mirrors toward the node.
#[test]
fn a_witness_gets_no_switchover_and_an_unsynced_mirror_is_waited_for() {
    let spec = json!([
        {"tag": "/data", "id": "/data", "type": "filesys", "children": ["datarep-dk"]},
        {"tag": "datarep-dk", "id": "/dev/md0", "app": "scsi", "type": "netraid"}
    ]);
    let c = Cluster::create(
        "plan-witness",
        &["node-a", "node-b", "node-c"],
        "9.4.0",
        &["--hierarchies", &spec.to_string(), "--witness", "node-c"],
    );
    let o = c
        .node("node-a")
        .lk("mirror_action", &["datarep-dk", "pause"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = plan(
        json!({"facts": facts(&c), "order": ["node-a", "node-b", "node-c"],
        "version": "9.6.1", "plan_dir": c.dir.join("plans")}),
    );
    assert_eq!(
        moves(&v),
        [
            "/data node-a->node-b w1 upgrade",
            "/data node-b->node-a w2 upgrade"
        ],
        "{v:#}"
    );
    let nodes = v["plan"]["nodes"].as_array().unwrap();
    assert_eq!(nodes[2]["witness"], true);
    assert_eq!(nodes[2]["upgrade"], true);
    let standby = &nodes[0]["upgrade_steps"][0];
    assert_eq!(standby["step"], "standby");
    assert_eq!(
        standby["mirror_waits"],
        json!([{"mirror": "datarep-dk", "target": "node-b"}]),
        "{standby:#}"
    );
    // After each upgrade the mirror toward the node resyncs: its verify waits for it (node-b
    // gave /data back to node-a in its own standby). The witness carries no mirror.
    for (i, n) in ["node-a", "node-b"].iter().enumerate() {
        let verify = &nodes[i]["upgrade_steps"][2];
        assert_eq!(verify["step"], "verify");
        assert_eq!(
            verify["mirror_waits"],
            json!([{"mirror": "datarep-dk", "target": n}]),
            "{verify:#}"
        );
    }
    assert_eq!(nodes[2]["upgrade_steps"][2]["mirror_waits"], json!([]));
}

/// A peer LifeKeeper lists that the inventory leaves out stops the plan, naming it; so does a
/// node whose facts are missing. Nothing is written.
#[test]
fn a_partial_inventory_is_refused_naming_the_missing_node() {
    let c = Cluster::create(
        "plan-partial",
        &["node-a", "node-b", "node-c"],
        "9.4.0",
        &[],
    );
    let f = facts(&c);
    let dir = scratch("plan-partial-dir");
    let mut two = f.clone();
    two.as_object_mut().unwrap().remove("node-c");
    let cases = [
        (
            json!({"facts": two, "order": ["node-a", "node-b"]}),
            "node-c",
            "not in the inventory",
        ),
        (
            json!({"facts": two, "order": ["node-a", "node-b", "node-c"]}),
            "node-c",
            "no facts from node-c",
        ),
    ];
    for (mut args, node, words) in cases {
        args["version"] = json!("9.6.1");
        args["plan_dir"] = json!(dir);
        args["persist"] = json!(true);
        let (v, rc) = run_module("lk_plan", args);
        assert_eq!(rc, 1, "{v}");
        assert_eq!(v["failed"], true);
        assert!(v["msg"].as_str().unwrap().contains(words), "{v}");
        assert!(
            v["refused"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["node"] == node),
            "{v}"
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "a refused plan wrote"
        );
    }
}

#[test]
fn bad_input_fails_naming_the_parameter() {
    let ok = json!({"facts": {}, "order": ["node-a"], "version": "9.6.1"});
    let cases = [
        ("order", json!({"order": ["node-a", "node-a"]})),
        ("order", json!({"order": ["../x"]})),
        ("cluster", json!({"cluster": "a/b"})),
        ("facts", json!({"facts": {"node-z": {}}})),
        ("facts", json!({"facts": {"node-a": {"lifekeeper": 3}}})),
        ("record", json!({"record": {"cluster": "x"}})),
    ];
    for (param, change) in cases {
        let mut a = ok.clone();
        for (k, v) in change.as_object().unwrap() {
            a[k] = v.clone();
        }
        let (v, rc) = run_module("lk_plan", a);
        assert_eq!(rc, 1, "{param}: {v}");
        assert_eq!(v["invalid_parameter"], param, "{v}");
    }
    let mut a = ok.clone();
    a["swich_to"] = json!("node-b");
    let (v, rc) = run_module("lk_plan", a);
    assert_eq!(rc, 1, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("swich_to"), "{v}");
}

/// The playbooks close the plan with `close` once the cluster finished (final_state.yml): the
/// open plan is written closed, with the time; check mode predicts the write and writes nothing.
/// Issue 28 W3: a run killed while it closed the plan left this node's copy open while the
/// controller's (given as `record`) is closed: with nothing left to plan, that copy is closed
/// too. `found` (the newest copy) is returned also when the plan is refused (rollback.yml).
#[test]
fn close_records_the_plan_closed_and_a_copy_a_killed_close_left_open_is_closed() {
    let c = Cluster::create("plan-close", &["node-a", "node-b"], "9.4.0", &[]);
    let f = facts(&c);
    let dir = scratch("plan-close-dir").join("backups");
    let file = dir.join("lkops-plan.demo.json");
    let args = json!({"facts": f, "order": ["node-a", "node-b"], "version": "9.6.1",
        "cluster": "demo", "plan_dir": dir, "persist": true});
    let open = plan(args.clone())["record"].clone();
    assert_eq!(open["status"], "open");

    let mut close = args.clone();
    close["record"] = open.clone();
    close["close"] = json!(true);
    let mut check = close.clone();
    check["_ansible_check_mode"] = json!(true);
    let v = plan(check);
    assert_eq!(v["changed"], true, "{v}");
    let on_node =
        || -> Value { serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap() };
    assert_eq!(on_node()["status"], "open", "check mode wrote the plan");
    let v = plan(close.clone());
    assert_eq!(v["changed"], true, "{v}");
    assert_eq!(on_node()["status"], "closed");
    assert_eq!(on_node()["created"], open["created"]);
    assert!(on_node()["closed"].is_string(), "{}", on_node());
    assert_eq!(on_node(), v["record"]);
    let closed = v["record"].clone();

    // W3: the cluster finished (every node at the target, every hierarchy home), this copy left
    // open, the closed one given as record: nothing to plan, and this copy is closed too.
    let done = Cluster::create("plan-close-done", &["node-a", "node-b"], "9.6.1", &[]);
    std::fs::write(&file, open.to_string()).unwrap();
    let mut stale = args.clone();
    stale["facts"] = facts(&done);
    stale["record"] = closed.clone();
    let v = plan(stale.clone());
    assert_eq!(v["changed"], true, "{v}");
    assert_eq!(v["found"], closed);
    assert_eq!(on_node(), closed);
    assert_eq!(plan(stale)["changed"], false);

    // Refused (no facts): the newest copy is still returned.
    let mut refused = args.clone();
    refused["facts"] = json!({});
    refused["persist"] = json!(false);
    let (r, rc) = run_module("lk_plan", refused);
    assert_eq!((rc, &r["failed"]), (1, &json!(true)), "{r}");
    assert_eq!(r["found"], closed, "{r}");
}

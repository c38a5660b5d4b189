//! lk_resource against the simulator (issue 4).
//!
//! The default lksim cluster: on node-a (priority 1) two root hierarchies, `ip-10.0.0.50` and
//! `app-pgsql` (app-pgsql > pgsql-5432 > filesys1234 > device5678 > disk9012), ISP on node-a and
//! OSU on node-b. States are asserted through `lksim state` (the simulator's own truth), not only
//! through the module's parser.
//!
//! Calls use the default `remote_lkroot` (= `lkroot`): in a real cluster LifeKeeper has the same
//! path on every node, and the simulator's `lcdremexec` maps the caller's own lkroot onto the
//! target node's.

use crate::common;
use common::pin::{assert_pinned, Redactor};
use common::{tree_hash, Cluster, Node};
use serde_json::{json, Value};

fn cluster(name: &str) -> Cluster {
    Cluster::create(name, &["node-a", "node-b"], "9.4.0", &[])
}

/// Run lk_resource on `node` with `args` plus lkroot, through an args file (the
/// Ansible contract). The file lives in the node's own scratch area: `Node::module` shares one
/// args directory per test process, which races when tests run in parallel.
fn run(node: &Node, mut args: Value) -> (Value, i32) {
    args["lkroot"] = json!(node.lkroot);
    let file = node.root.parent().unwrap().with_extension("args.json");
    std::fs::write(&file, args.to_string()).unwrap();
    let out = std::process::Command::new(common::bin("lk_resource"))
        .arg(&file)
        .env("PATH", node.path_env())
        .output()
        .unwrap();
    common::parse_output(&out)
}

/// The cluster's files, without the simulator's lock file (an empty file lksim creates on the
/// first command of any kind, reads included; it is not cluster state).
fn cluster_files(c: &Cluster) -> Vec<(String, String)> {
    tree_hash(&c.dir)
        .into_iter()
        .filter(|(p, _)| p != ".lksim/lock")
        .collect()
}

/// The simulator's own record of `tag`'s state on `node`.
fn sim_state(c: &Cluster, node: &str, tag: &str) -> String {
    let st = c.state();
    let n = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == node)
        .unwrap();
    let r = n["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tag"] == tag)
        .unwrap_or_else(|| panic!("no {tag} on {node}"));
    r["state"].as_str().unwrap().to_string()
}

const HIER: &[&str] = &[
    "ip-10.0.0.50",
    "app-pgsql",
    "pgsql-5432",
    "filesys1234",
    "device5678",
    "disk9012",
];

fn all_states(c: &Cluster, node: &str) -> Vec<String> {
    HIER.iter().map(|t| sim_state(c, node, t)).collect()
}

fn same(state: &str) -> Vec<String> {
    vec![state.to_string(); HIER.len()]
}

/// The whole result with the scratch dir replaced, for pinning.
fn pinned(v: &Value, c: &Cluster) -> Value {
    Redactor::new().path(&c.dir, "<dir>").apply(v)
}

fn resources_json(states: &[&str], backup: Value, prio: u32) -> Value {
    let ids = [
        "IP-10.0.0.50",
        "/opt/app/bin/pgsql-app.restore",
        "/var/run/postgresql/.s.PGSQL.5432",
        "/pgdata",
        "3600508b400105e210000900000490000-1.part/dev/sdb1",
        "3600508b400105e210000900000490000",
    ];
    let parents = [
        Value::Null,
        Value::Null,
        json!("app-pgsql"),
        json!("pgsql-5432"),
        json!("filesys1234"),
        json!("device5678"),
    ];
    let depths = [0, 0, 1, 2, 3, 4];
    (0..6)
        .map(|i| {
            json!({"tag": HIER[i], "id": ids[i], "state": states[i], "prio": prio, "primary": "node-a",
                   "backup": backup, "parent": parents[i], "depth": depths[i]})
        })
        .collect()
}

#[test]
fn query_reads_both_sections_and_changes_nothing() {
    let c = cluster("res-query");
    let a = c.node("node-a");
    let before = cluster_files(&c);
    let (v, rc) = run(a, json!({}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(cluster_files(&c), before);
    let resources = resources_json(&["ISP"; 6], json!("node-b"), 1);
    let comm = json!([
        {"machine": "node-b", "network": "TCP", "address": "10.0.0.1/10.0.0.2", "state": "ALIVE", "prio": 1},
        {"machine": "node-b", "network": "TCP", "address": "192.168.10.1/192.168.10.2", "state": "ALIVE", "prio": 2},
    ]);
    // Pinned: a schema change must be deliberate. `node` was null in every query (the
    // documented "when known" was never known); the playbooks now check it against the
    // inventory host name before anything moves.
    assert_pinned(
        &pinned(&v, &c),
        &json!({
            "changed": false, "failed": false,
            "msg": "2 root hierarchies: ip-10.0.0.50 ISP, app-pgsql ISP",
            "comment": "2 root hierarchies: ip-10.0.0.50 ISP, app-pgsql ISP",
            "lifekeeper_running": true, "comm_paths_alive": true, "node": "node-a",
            "resources": resources, "comm_paths": comm, "actions": [],
            "ansible_facts": {"lifekeeper": {"lifekeeper_running": true, "node": "node-a",
                "resources": resources, "comm_paths": comm, "actions": []}},
            "invocation": {"module_args": {"state": "query", "bottom_up": false, "wait": 300, "wait_for_mirror_sync": 3600,
                "lkroot": "<dir>/node-a/opt/LifeKeeper"}},
        }),
    );
    // node-b is the lowest priority: BACKUP shows ------ (null).
    let (v, _) = run(c.node("node-b"), json!({"state": "query"}));
    assert_eq!(v["resources"], resources_json(&["OSU"; 6], Value::Null, 10));
}

#[test]
fn query_when_lifekeeper_is_stopped_reports_not_running_and_active_fails() {
    let c = cluster("res-stopped");
    let a = c.node("node-a");
    assert!(a.lk("lkstop", &["-f"]).status.success());
    let (v, rc) = run(a, json!({}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["lifekeeper_running"], false);
    assert_eq!(v["changed"], false);
    assert_eq!(v["resources"], json!([]));
    assert_eq!(
        v["ansible_facts"]["lifekeeper"]["lifekeeper_running"],
        false
    );
    let (v, rc) = run(a, json!({"state": "active"}));
    assert_eq!(rc, 1);
    assert!(v["msg"].as_str().unwrap().contains("not running"), "{v}");
    // Regression (field evidence [MH]): without lktest, lcdstatus's stopped sentence (lksim:
    // stdout, exit 0) still reads as stopped, never as a running node with no resources.
    std::fs::remove_file(a.lkroot.join("bin/lktest")).unwrap();
    let (v, rc) = run(a, json!({}));
    assert_eq!((rc, &v["lifekeeper_running"]), (0, &json!(false)), "{v}");
    let (v, rc) = run(a, json!({"state": "active"}));
    assert_eq!(rc, 1);
    assert!(v["msg"].as_str().unwrap().contains("not running"), "{v}");
}

#[test]
fn standby_switches_to_the_backup_node_then_is_idempotent() {
    let c = cluster("res-standby");
    let a = c.node("node-a");
    let (v, rc) = run(a, json!({"state": "standby", "_ansible_diff": true}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(all_states(&c, "node-a"), same("OSU"));
    assert_eq!(all_states(&c, "node-b"), same("ISP"));
    let actions = json!([
        {"tag": "ip-10.0.0.50", "action": "restore", "node": "node-b"},
        {"tag": "app-pgsql", "action": "restore", "node": "node-b"},
    ]);
    let resources = resources_json(&["OSU"; 6], json!("node-b"), 1);
    let comm = v["comm_paths"].clone();
    assert_eq!(comm.as_array().unwrap().len(), 2);
    // The measured switchovers (issue 20): who, where, and times that bracket each move.
    let sw = v["switchovers"].clone();
    let moved: Vec<(String, String, String)> = sw
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert!(
                m["started"].as_str().unwrap() <= m["ended"].as_str().unwrap(),
                "{m}"
            );
            assert!(m["interruption_s"].as_f64().unwrap() >= 0.0, "{m}");
            let s = |k: &str| m[k].as_str().unwrap().to_string();
            (s("tag"), s("from"), s("to"))
        })
        .collect();
    let want = |t: &str| (t.to_string(), "node-a".to_string(), "node-b".to_string());
    assert_eq!(moved, vec![want("ip-10.0.0.50"), want("app-pgsql")]);
    assert_pinned(
        &pinned(&v, &c),
        &json!({
            "changed": true, "failed": false,
            "switchovers": sw,
            "msg": "restore ip-10.0.0.50 on node-b, restore app-pgsql on node-b",
            "comment": "restore ip-10.0.0.50 on node-b, restore app-pgsql on node-b",
            "lifekeeper_running": true, "comm_paths_alive": true, "node": "node-a",
            "resources": resources, "comm_paths": comm, "actions": actions,
            "mirrors": [],
            "placement": ["ip-10.0.0.50: OSU on node-a, ISP on node-b", "app-pgsql: OSU on node-a, ISP on node-b"],
            "diff": {
                "before": "ip-10.0.0.50: ISP on node-a, OSU on node-b\napp-pgsql: ISP on node-a, OSU on node-b\n",
                "after": "ip-10.0.0.50: OSU on node-a, ISP on node-b\napp-pgsql: OSU on node-a, ISP on node-b\n",
                "before_header": "resource placement (before)",
                "after_header": "resource placement (after)",
            },
            "ansible_facts": {"lifekeeper": {"lifekeeper_running": true, "node": "node-a",
                "resources": resources, "comm_paths": comm, "actions": actions}},
            "invocation": {"module_args": {"state": "standby", "bottom_up": false, "wait": 300, "wait_for_mirror_sync": 3600,
                "lkroot": "<dir>/node-a/opt/LifeKeeper"}},
        }),
    );
    let before = cluster_files(&c);
    let (v, rc) = run(a, json!({"state": "standby", "_ansible_diff": true}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], false, "{v}");
    assert_eq!(v["actions"], json!([]));
    assert!(v.get("diff").is_none());
    assert_eq!(cluster_files(&c), before);
}

#[test]
fn active_switches_over_from_the_node_that_holds_it() {
    let c = cluster("res-active");
    let b = c.node("node-b");
    let (v, rc) = run(
        b,
        json!({"state": "active", "tags": "app-pgsql", "_ansible_diff": true}),
    );
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], true);
    assert_eq!(
        v["actions"],
        json!([{"tag": "app-pgsql", "action": "restore", "node": "node-b"}])
    );
    assert_eq!(
        v["diff"]["before"],
        "app-pgsql: ISP on node-a, OSU on node-b\n"
    );
    assert_eq!(
        v["diff"]["after"],
        "app-pgsql: OSU on node-a, ISP on node-b\n"
    );
    // Only the named hierarchy moved; the IP stayed on node-a.
    assert_eq!(sim_state(&c, "node-b", "app-pgsql"), "ISP");
    assert_eq!(sim_state(&c, "node-b", "disk9012"), "ISP");
    assert_eq!(sim_state(&c, "node-a", "app-pgsql"), "OSU");
    assert_eq!(sim_state(&c, "node-a", "ip-10.0.0.50"), "ISP");
    assert_eq!(sim_state(&c, "node-b", "ip-10.0.0.50"), "OSU");
    let (v, _) = run(b, json!({"state": "active", "tags": ["app-pgsql"]}));
    assert_eq!(v["changed"], false, "{v}");
}

#[test]
fn bottom_up_restore_reaches_the_wanted_state() {
    let c = cluster("res-bottom-up");
    let (v, rc) = run(
        c.node("node-b"),
        json!({"state": "active", "bottom_up": true, "tags": ["ip-10.0.0.50"]}),
    );
    assert_eq!(rc, 0, "{v}");
    assert_eq!(sim_state(&c, "node-b", "ip-10.0.0.50"), "ISP");
    assert_eq!(sim_state(&c, "node-a", "ip-10.0.0.50"), "OSU");
}

#[test]
fn standby_switch_to_none_only_takes_out_of_service_and_explicit_target_restores_there() {
    let c = cluster("res-none");
    let a = c.node("node-a");
    let (v, rc) = run(a, json!({"state": "standby", "switch_to": "none"}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(
        v["actions"],
        json!([
            {"tag": "ip-10.0.0.50", "action": "remove", "node": "node-a"},
            {"tag": "app-pgsql", "action": "remove", "node": "node-a"},
        ])
    );
    assert_eq!(all_states(&c, "node-a"), same("OSU"));
    assert_eq!(all_states(&c, "node-b"), same("OSU"));
    // switch_to=none is idempotent: nothing more to take down.
    let (v, _) = run(a, json!({"state": "standby", "switch_to": "none"}));
    assert_eq!(v["changed"], false, "{v}");
    // An explicit target must also serve it: restored there.
    let (v, rc) = run(
        a,
        json!({"state": "standby", "switch_to": "node-b", "tags": "app-pgsql"}),
    );
    assert_eq!(rc, 0, "{v}");
    assert_eq!(
        v["actions"],
        json!([{"tag": "app-pgsql", "action": "restore", "node": "node-b"}])
    );
    assert_eq!(sim_state(&c, "node-b", "app-pgsql"), "ISP");
    assert_eq!(sim_state(&c, "node-b", "ip-10.0.0.50"), "OSU");
    let (v, _) = run(
        a,
        json!({"state": "standby", "switch_to": "node-b", "tags": "app-pgsql"}),
    );
    assert_eq!(v["changed"], false, "{v}");
}

/// Regression: a default-target standby used to report ok, with a warning, for a hierarchy that
/// was out of service everywhere (e.g. an earlier switchover left it OSF on the target), so a
/// rolling upgrade went on with the IP down. Leaving it served by nobody needs switch_to=none.
#[test]
fn standby_restores_on_the_default_target_a_hierarchy_served_by_nobody() {
    let c = cluster("res-nobody");
    let a = c.node("node-a");
    let (_, rc) = run(a, json!({"state": "standby", "switch_to": "none"}));
    assert_eq!(rc, 0);
    assert_eq!(all_states(&c, "node-b"), same("OSU"));
    let (v, rc) = run(a, json!({"state": "standby"}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], true, "{v}");
    assert_eq!(
        v["warnings"],
        json!([
            "ip-10.0.0.50 was in service on no node; restoring it on node-b",
            "app-pgsql was in service on no node; restoring it on node-b"
        ])
    );
    assert_eq!(all_states(&c, "node-a"), same("OSU"));
    assert_eq!(all_states(&c, "node-b"), same("ISP"));
    let (v, _) = run(a, json!({"state": "standby"}));
    assert_eq!(v["changed"], false, "{v}");
}

#[test]
fn check_mode_changes_nothing_and_predicts_the_real_run() {
    for (name, node, args) in [
        ("res-check-standby", "node-a", json!({"state": "standby"})),
        (
            "res-check-active",
            "node-b",
            json!({"state": "active", "tags": "app-pgsql"}),
        ),
        (
            "res-check-none",
            "node-a",
            json!({"state": "standby", "switch_to": "none"}),
        ),
    ] {
        let c = cluster(name);
        let n = c.node(node);
        let mut args = args;
        args["_ansible_diff"] = json!(true);
        let before = cluster_files(&c);
        let mut check = args.clone();
        check["_ansible_check_mode"] = json!(true);
        let (predicted, rc) = run(n, check);
        assert_eq!(rc, 0, "{predicted}");
        assert_eq!(
            cluster_files(&c),
            before,
            "{name}: check mode touched the cluster"
        );
        let (real, rc) = run(n, args);
        assert_eq!(rc, 0, "{real}");
        for k in ["changed", "actions", "diff", "placement", "resources"] {
            assert_eq!(predicted[k], real[k], "{name}: {k}");
        }
        assert_eq!(predicted["changed"], true);
        assert!(predicted["msg"].as_str().unwrap().starts_with("would "));
    }
}

#[test]
fn failing_restore_returns_states_after_the_failure_and_the_output_tail() {
    let c = cluster("res-fail");
    let dir = c.dir.to_str().unwrap().to_string();
    c.sim(&[
        "fault",
        "set",
        "node-b",
        "perform_action",
        "fail",
        "--dir",
        &dir,
    ]);
    let a = c.node("node-a");
    let (v, rc) = run(a, json!({"state": "standby", "tags": "app-pgsql"}));
    assert_eq!(rc, 1, "{v}");
    assert_eq!(v["failed"], true);
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("restore of app-pgsql on node-b failed"),
        "{msg}"
    );
    assert_eq!(v["rc"], 1);
    assert!(!v["stderr_tail"].as_str().unwrap().is_empty(), "{v}");
    assert_eq!(
        v["actions"],
        json!([{"tag": "app-pgsql", "action": "restore", "node": "node-b"}])
    );
    assert_eq!(v["resources"].as_array().unwrap().len(), 6);
    assert_eq!(v["lifekeeper_running"], true);

    // Half-way: the switchover removed it here, the restore on node-b left it OSF.
    c.sim(&["fault", "clear", "--dir", &dir]);
    c.sim(&[
        "fault",
        "set",
        "node-b",
        "perform_action",
        "halfway",
        "--dir",
        &dir,
    ]);
    let (v, rc) = run(a, json!({"state": "standby", "tags": ["app-pgsql"]}));
    assert_eq!(rc, 1, "{v}");
    assert_eq!(sim_state(&c, "node-b", "app-pgsql"), "OSF");
    let here: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["tag"] == "app-pgsql")
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(here, vec!["OSU"]);
    let placement = v["placement"][0].as_str().unwrap();
    assert!(
        placement.starts_with("app-pgsql: OSU on node-a, OSF on node-b"),
        "{placement}"
    );

    // After the fault is gone, a rerun repairs it (OSF counts as not in the wanted state).
    c.sim(&["fault", "clear", "--dir", &dir]);
    let (v, rc) = run(
        a,
        json!({"state": "standby", "tags": ["app-pgsql"], "switch_to": "node-b"}),
    );
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], true);
    assert_eq!(sim_state(&c, "node-b", "app-pgsql"), "ISP");
}

#[test]
fn dead_peer_is_reported_and_never_switched_to() {
    let c = cluster("res-dead");
    let dir = c.dir.to_str().unwrap().to_string();
    c.sim(&["node", "down", "node-b", "--dir", &dir]);
    let a = c.node("node-a");
    let (v, rc) = run(a, json!({}));
    assert_eq!(rc, 0, "{v}");
    assert!(
        v["comm_paths"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "DEAD"),
        "{v}"
    );
    let before = cluster_files(&c);
    for args in [
        json!({"state": "standby"}),
        json!({"state": "standby", "switch_to": "node-b"}),
    ] {
        let (v, rc) = run(a, args);
        assert_eq!(rc, 1, "{v}");
        assert!(v["msg"].as_str().unwrap().contains("DEAD"), "{v}");
        assert_eq!(v["changed"], false);
    }
    assert_eq!(cluster_files(&c), before);
    assert_eq!(all_states(&c, "node-a"), same("ISP"));
    // Active here is fine (nothing to do), and the dead node is shown as unknown.
    let (v, rc) = run(a, json!({"state": "active", "_ansible_check_mode": true}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], false);
    assert_eq!(
        v["placement"],
        json!([
            "ip-10.0.0.50: ISP on node-a, unknown on node-b",
            "app-pgsql: ISP on node-a, unknown on node-b"
        ])
    );
}

#[test]
fn bad_parameters_are_named() {
    let c = cluster("res-params");
    let a = c.node("node-a");
    for (args, param) in [
        (json!({"state": "active", "tags": "nope"}), "tags"),
        (json!({"state": "active", "tags": "pgsql-5432"}), "tags"),
        (json!({"state": "active", "tags": "-t"}), "tags"),
        (
            json!({"state": "active", "switch_to": "node-b"}),
            "switch_to",
        ),
        (
            json!({"state": "standby", "switch_to": "node-z"}),
            "switch_to",
        ),
        (
            json!({"state": "standby", "switch_to": "node-a"}),
            "switch_to",
        ),
        (json!({"state": "standby", "wait": -5}), "wait"),
        (json!({"state": "sideways"}), "state"),
    ] {
        let (v, rc) = run(a, args.clone());
        assert_eq!(rc, 1, "{args}: {v}");
        assert_eq!(v["invalid_parameter"], param, "{args}: {v}");
    }
}

/// Issue 16: the real lcdremexec joins its words and the far side parses them again with a
/// shell; so does lksim's. A switchover of a tag holding a space, `$( )`, `;` and multi-byte
/// characters must restore exactly that tag on the peer and run nothing else (the canary files
/// the unquoted line would create stay absent).
#[test]
fn hostile_tag_switchover_through_reparsing_lcdremexec_runs_nothing_extra() {
    let canaries = std::env::temp_dir().join(format!("lkops-res-canary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&canaries);
    std::fs::create_dir_all(&canaries).unwrap();
    let (c1, c2) = (canaries.join("semicolon"), canaries.join("subst"));
    let tag = format!(
        "/データ vol $(touch {}); touch {}",
        c2.display(),
        c1.display()
    );
    let spec = json!({"active": "node-a", "resources": [
        {"tag": tag, "id": "データ-id", "app": "gen", "type": "app"}
    ]});
    let c = Cluster::create(
        "res-hostile-tag",
        &["node-a", "node-b"],
        "9.4.0",
        &["--hierarchies", &spec.to_string()],
    );
    let a = c.node("node-a");
    assert_eq!(sim_state(&c, "node-a", &tag), "ISP");
    let (v, rc) = run(a, json!({"state": "standby", "tags": [tag]}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], true, "{v}");
    assert_eq!(
        v["actions"],
        json!([{"tag": tag, "action": "restore", "node": "node-b"}])
    );
    assert_eq!(sim_state(&c, "node-b", &tag), "ISP");
    assert_eq!(sim_state(&c, "node-a", &tag), "OSU");
    assert!(!c1.exists(), "the `;` in the tag ran a second command");
    assert!(!c2.exists(), "the `$( )` in the tag ran on the far side");
    // and the placement read back through the same lcdremexec is right: a rerun changes nothing
    let (v, rc) = run(a, json!({"state": "standby", "tags": [tag]}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], false, "{v}");
    assert!(!c1.exists() && !c2.exists());
    let _ = std::fs::remove_dir_all(&canaries);
}

/// Issue 16: `LC_ALL=C` only on commands whose output is parsed. perform_action runs the
/// applications' own restore scripts and must keep the site's locale; lcdstatus (parsed) gets
/// the C locale. Both wrappers on node-b record the environment they were started with.
#[test]
fn perform_action_keeps_the_site_locale_while_lcdstatus_runs_in_c() {
    let c = cluster("res-locale");
    let b = c.node("node-b");
    let bin = b.lkroot.join("bin");
    for name in ["perform_action", "lcdstatus"] {
        let w = bin.join(name);
        let orig = std::fs::read_to_string(&w).unwrap();
        let (first, rest) = orig.split_once('\n').unwrap();
        let record = c.dir.join(format!("{name}.env"));
        std::fs::write(
            &w,
            format!("{first}\nenv >> '{}'\n{rest}", record.display()),
        )
        .unwrap();
    }
    let args = c.dir.join("locale.args.json");
    std::fs::write(
        &args,
        json!({"state": "active", "tags": ["ip-10.0.0.50"], "lkroot": b.lkroot}).to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(common::bin("lk_resource"))
        .arg(&args)
        .env("PATH", b.path_env())
        .env("LANG", "de_DE.UTF-8")
        .env("LC_ALL", "de_DE.UTF-8")
        .output()
        .unwrap();
    let (v, rc) = common::parse_output(&out);
    assert_eq!(rc, 0, "{v}");
    assert_eq!(sim_state(&c, "node-b", "ip-10.0.0.50"), "ISP");
    let pa = std::fs::read_to_string(c.dir.join("perform_action.env")).unwrap();
    assert!(
        pa.lines().any(|l| l == "LC_ALL=de_DE.UTF-8")
            && pa.lines().any(|l| l == "LANG=de_DE.UTF-8"),
        "perform_action lost the site's locale:\n{pa}"
    );
    assert!(!pa.lines().any(|l| l == "LC_ALL=C"), "{pa}");
    let st = std::fs::read_to_string(c.dir.join("lcdstatus.env")).unwrap();
    assert!(
        st.lines().any(|l| l == "LC_ALL=C") && !st.contains("de_DE"),
        "lcdstatus (parsed) must run in the C locale:\n{st}"
    );
}

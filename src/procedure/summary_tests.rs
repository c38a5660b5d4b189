//! The summary's tests: table-driven cases for each status and each kind of line, and the
//! exact blocks and lines summary.json.j2 wrote for real runs (tests/delivery: pb-multi,
//! pb-canary-fail, pb-prompt, pb-dk-two, pb-rollback), so summary.json and the printed summary
//! did not change when the decision moved from the template to here.

use super::*;
use serde_json::json;

const PLAN_FILE: &str = "/out/report/demo/plan.json";
const NODE_FILE: &str = "/sim/demo/node-a/var/backups/lifekeeper/lkops-plan.demo.json";

fn hv(v: Value) -> HostVars {
    serde_json::from_value(v).unwrap()
}

/// A node of a two-node rolling upgrade with everything the role records, at `stage`.
fn node(name: &str, mates: &[&str], stage: &str) -> Value {
    json!({
        "lk_stage": stage,
        "lk_version_before": "9.4.0",
        "lk_version_after": "9.6.1",
        "lk_failed_stage": "",
        "lk_failed_msg": "",
        "lk_running_now": true,
        "lk_home_tags": [],
        "lk_tags_now": [],
        "lk_mates": mates,
        "lk_plan": {"created": "2026-12-07T14:48:37Z", "target_version": "9.6.1", "status": "open"},
        "lk_plan_path": PLAN_FILE,
        "lk_plan_node_path": NODE_FILE,
        "lk_plan_resumed": false,
        "lk_plan_placement": {},
        "lk_canary": false,
        "node": name,
    })
}

/// A run of one cluster `demo` (node-a, node-b) ending at `done`, each node's vars changed by
/// `edit`.
fn run_of(done: &str, check: bool, nodes: Vec<(&str, Value)>) -> Run {
    let mut hosts = BTreeMap::new();
    let mut names = vec![];
    for (n, mut v) in nodes {
        v.as_object_mut().unwrap().remove("node");
        hosts.insert(n.to_string(), hv(v));
        names.push(n.to_string());
    }
    Run {
        done_stage: done.into(),
        check_mode: check,
        groups: BTreeMap::from([
            ("all".to_string(), names.clone()),
            ("lk_cluster_demo".to_string(), names),
        ]),
        hosts,
        pauses: vec![],
    }
}

fn with(mut v: Value, changes: Value) -> Value {
    for (k, x) in changes.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

const AB: &[&str] = &["node-a", "node-b"];

fn moves_ab(interruptions: [Value; 4]) -> (Value, Value) {
    let [i1, i2, i3, i4] = interruptions;
    let m = |tag: &str, from: &str, to: &str, wave: u64, i: Value| {
        json!({"tag": tag, "from": from, "to": to, "wave": wave, "stage": "upgrade",
               "seq": wave, "started": "2026-12-07T14:49:34.509Z",
               "ended": "2026-12-07T14:49:34.601Z", "interruption_s": i})
    };
    (
        json!([
            m("ip-10.0.0.50", "node-a", "node-b", 1, i1),
            m("app-pgsql", "node-a", "node-b", 1, i2)
        ]),
        json!([
            m("ip-10.0.0.50", "node-b", "node-a", 2, i3),
            m("app-pgsql", "node-b", "node-a", 2, i4)
        ]),
    )
}

struct Case {
    name: &'static str,
    run: Run,
    status: &'static str,
    stopped_at: Value,
    /// Lines that must be in the summary, in this order (others may be between).
    lines: &'static [&'static str],
    failed: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    let home = json!({"lk_home_tags": ["ip-10.0.0.50", "app-pgsql"],
                      "lk_tags_now": ["ip-10.0.0.50", "app-pgsql"]});
    let (m1, m2) = moves_ab([json!(0.06), json!(0.051), json!(0.037), json!(0.043)]);
    let (n1, n2) = moves_ab([json!(0.06), Value::Null, json!(0.037), json!(0.043)]);
    let placement = json!({"lk_plan_placement": {"ip-10.0.0.50": "node-a", "app-pgsql": "node-a"}});
    let failed = |stage: &str, msg: &str| {
        json!({"lk_stage": "failed", "lk_failed_stage": stage, "lk_failed_msg": msg,
               "lk_version_after": "9.4.0"})
    };
    vec![
        Case {
            name: "ok: every node returned",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", with(with(node("node-a", AB, "returned"), home.clone()), placement.clone())),
                    ("node-b", with(node("node-b", AB, "returned"), json!({"lk_moves": []}))),
                ],
            ),
            status: "ok",
            stopped_at: Value::Null,
            lines: &[
                "cluster demo: ok",
                "  plan: /out/report/demo/plan.json (new) closed",
                "  node-a: 9.4.0 -> 9.6.1",
                "  node-b: 9.4.0 -> 9.6.1",
                "  app-pgsql: was on node-a, now on node-a",
                "  ip-10.0.0.50: was on node-a, now on node-a",
            ],
            failed: &[],
        },
        Case {
            // The first failed node in inventory (wave) order, not in the group's order.
            name: "FAILED: the first failed node in inventory order stopped it",
            run: {
                let abc = &["node-a", "node-b", "node-c"][..];
                let mut r = run_of(
                    "returned",
                    false,
                    vec![
                        ("node-c", with(node("node-c", abc, "new"), failed("pre-flight", "c broke"))),
                        ("node-a", node("node-a", abc, "upgraded")),
                        ("node-b", with(node("node-b", abc, "new"), failed("Upgrade LifeKeeper (lk_upgrade)", "setup 9.6.1 failed"))),
                    ],
                );
                r.groups.insert(
                    "lk_cluster_demo".into(),
                    vec!["node-c".into(), "node-b".into(), "node-a".into()],
                );
                r
            },
            status: "FAILED",
            stopped_at: json!({"node": "node-b", "stage": "Upgrade LifeKeeper (lk_upgrade)",
                               "msg": "setup 9.6.1 failed"}),
            lines: &[
                "cluster demo: FAILED at node-b \"Upgrade LifeKeeper (lk_upgrade)\": setup 9.6.1 failed",
                "  plan: /out/report/demo/plan.json (new)",
                "  node-a: 9.4.0 -> 9.6.1",
                "  node-b: 9.4.0 -> 9.4.0 (failed at \"Upgrade LifeKeeper (lk_upgrade)\")",
                "  node-c: 9.4.0 -> 9.4.0 (failed at \"pre-flight\")",
            ],
            failed: &["cluster demo FAILED at node-b \"Upgrade LifeKeeper (lk_upgrade)\": setup 9.6.1 failed"],
        },
        Case {
            name: "INCOMPLETE: a node short of the last stage, none failed",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", with(node("node-a", AB, "returned"), home.clone())),
                    ("node-b", node("node-b", AB, "upgraded")),
                ],
            ),
            status: "INCOMPLETE",
            stopped_at: Value::Null,
            lines: &["cluster demo: INCOMPLETE", "  plan: /out/report/demo/plan.json (new)"],
            failed: &["cluster demo INCOMPLETE (not every node reached the end)"],
        },
        Case {
            // A node that never recorded a stage (unreachable) counts as new.
            name: "INCOMPLETE: a node without a stage",
            run: run_of(
                "backed_up",
                false,
                vec![
                    ("node-a", json!({"lk_stage": "backed_up", "lk_version_before": "9.4.0",
                                      "lk_backup_on_controller": "/out/backups/demo/node-a"})),
                    ("node-b", json!({})),
                ],
            ),
            status: "INCOMPLETE",
            stopped_at: Value::Null,
            lines: &[
                "cluster demo: INCOMPLETE",
                "  node-a: 9.4.0 -> 9.4.0 backup verified in /out/backups/demo/node-a",
                "  node-b:",
            ],
            failed: &["cluster demo INCOMPLETE (not every node reached the end)"],
        },
        Case {
            name: "held: the operator answered stop",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", node("node-a", AB, "upgraded")),
                    ("node-b", with(node("node-b", AB, "upgraded"),
                        json!({"lk_held": "the operator answered stop at the pause before return wave 1"}))),
                ],
            ),
            status: "INCOMPLETE",
            stopped_at: Value::Null,
            lines: &["cluster demo: INCOMPLETE (held: the operator answered stop at the pause before return wave 1)"],
            failed: &["cluster demo INCOMPLETE (held: the operator answered stop at the pause before return wave 1)"],
        },
        Case {
            name: "canary cluster that finished",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", with(node("node-a", AB, "returned"), json!({"lk_canary": true}))),
                    ("node-b", node("node-b", AB, "returned")),
                ],
            ),
            status: "ok",
            stopped_at: Value::Null,
            lines: &["cluster demo: ok [canary]"],
            failed: &[],
        },
        Case {
            // Issue 20: measured interruptions, summed per hierarchy (rounded to ms).
            name: "switchovers and interruptions summed",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", with(with(with(node("node-a", AB, "returned"), home.clone()), placement.clone()), json!({"lk_moves": m1}))),
                    ("node-b", with(node("node-b", AB, "returned"), json!({"lk_moves": m2}))),
                ],
            ),
            status: "ok",
            stopped_at: Value::Null,
            lines: &[
                "cluster demo: ok",
                "  plan: /out/report/demo/plan.json (new) closed",
                "  switchover 1: ip-10.0.0.50 node-a -> node-b (wave 1, upgrade), interruption 0.06 s",
                "  switchover 2: app-pgsql node-a -> node-b (wave 1, upgrade), interruption 0.051 s",
                "  switchover 3: ip-10.0.0.50 node-b -> node-a (wave 2, upgrade), interruption 0.037 s",
                "  switchover 4: app-pgsql node-b -> node-a (wave 2, upgrade), interruption 0.043 s",
                "  app-pgsql: switched 2 time(s), interrupted 0.094 s in total",
                "  ip-10.0.0.50: switched 2 time(s), interrupted 0.097 s in total",
            ],
            failed: &[],
        },
        Case {
            name: "an unmeasured switchover: no total for its hierarchy",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", with(with(with(node("node-a", AB, "returned"), home.clone()), placement.clone()), json!({"lk_moves": n1}))),
                    ("node-b", with(node("node-b", AB, "returned"), json!({"lk_moves": n2}))),
                ],
            ),
            status: "ok",
            stopped_at: Value::Null,
            lines: &[
                "  switchover 2: app-pgsql node-a -> node-b (wave 1, upgrade)",
                "  app-pgsql: switched 2 time(s)",
                "  ip-10.0.0.50: switched 2 time(s), interrupted 0.097 s in total",
            ],
            failed: &[],
        },
        Case {
            name: "check mode: predicted placement, nothing written",
            run: {
                let (p1, p2) = moves_ab([Value::Null, Value::Null, Value::Null, Value::Null]);
                run_of(
                    "returned",
                    true,
                    vec![
                        ("node-a", with(with(with(node("node-a", AB, "returned"),
                            json!({"lk_home_tags": ["ip-10.0.0.50", "app-pgsql"], "lk_tags_now": ["ip-10.0.0.50", "app-pgsql"]})),
                            placement.clone()), json!({"lk_moves": p1}))),
                        ("node-b", with(node("node-b", AB, "returned"), json!({"lk_moves": p2}))),
                    ],
                )
            },
            status: "ok",
            stopped_at: Value::Null,
            lines: &[
                "cluster demo: ok",
                "  plan: /out/report/demo/plan.json (new) [check mode: not written]",
                "  switchover 1: ip-10.0.0.50 node-a -> node-b (wave 1, upgrade)",
                "  app-pgsql: switched 2 time(s)",
                "  app-pgsql: home node-a, predicted at the end on node-a",
                "  ip-10.0.0.50: home node-a, predicted at the end on node-a",
            ],
            failed: &[],
        },
        Case {
            name: "a resumed plan",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", with(node("node-a", AB, "returned"), json!({"lk_plan_resumed": true}))),
                    ("node-b", node("node-b", AB, "returned")),
                ],
            ),
            status: "ok",
            stopped_at: Value::Null,
            lines: &["  plan: /out/report/demo/plan.json (resumed the plan recorded 2026-12-07T14:48:37Z) closed"],
            failed: &[],
        },
        Case {
            name: "nothing to upgrade: no plan recorded",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", with(node("node-a", AB, "returned"), json!({"lk_plan": {}}))),
                    ("node-b", node("node-b", AB, "returned")),
                ],
            ),
            status: "ok",
            stopped_at: Value::Null,
            lines: &["cluster demo: ok", "  plan: none (nothing to upgrade)"],
            failed: &[],
        },
        Case {
            // Issue 17: DataKeeper mirror waits, made and predicted.
            name: "mirror waits",
            run: run_of(
                "returned",
                true,
                vec![
                    ("node-a", with(node("node-a", AB, "returned"), json!({"lk_mirror_waits": [
                        {"tag": "datarep-x", "target": "node-a", "state": "in_sync", "waited_s": 0.0,
                         "progress": 100, "check_mode": false, "stage": "after_upgrade", "node": "node-a", "wave": 1},
                        {"tag": "datarep-x", "target": "node-b", "state": "resync", "progress": 42,
                         "check_mode": true, "stage": "upgrade", "node": "node-a", "wave": 1}
                    ]}))),
                    ("node-b", with(node("node-b", AB, "returned"), json!({"lk_mirror_waits": [
                        {"tag": "datarep-y", "target": "node-b", "state": "paused", "progress": null,
                         "check_mode": true, "stage": "return", "node": "node-b", "wave": 2},
                        {"tag": "datarep-z", "target": "node-a", "state": "resync", "progress": 7,
                         "waited_s": 600.5, "check_mode": false, "stage": "return", "node": "node-b", "wave": 2}
                    ]}))),
                ],
            ),
            status: "ok",
            stopped_at: Value::Null,
            lines: &[
                "  mirror datarep-x toward node-a: waited 0.0s (after_upgrade of node-a, wave 1)",
                "  mirror datarep-x toward node-b: would wait (now resync 42%) (upgrade of node-a, wave 1)",
                "  mirror datarep-y toward node-b: would wait (now paused) (return of node-b, wave 2)",
                "  mirror datarep-z toward node-a: not in sync (resync) (return of node-b, wave 2)",
            ],
            failed: &[],
        },
        Case {
            name: "rollback finished",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", json!({"lk_stage": "returned", "lk_version_before": "9.6.1", "lk_version_after": "9.4.0", "lk_rollback_to": "9.4.0", "lk_plan_placement": {}})),
                    ("node-b", json!({"lk_stage": "returned", "lk_version_before": "9.6.1", "lk_version_after": "9.4.0", "lk_rollback_to": "9.4.0"})),
                ],
            ),
            status: "ok",
            stopped_at: Value::Null,
            lines: &["cluster demo: ok", "  rolled back to 9.4.0", "  node-a: 9.6.1 -> 9.4.0"],
            failed: &[],
        },
        Case {
            name: "rollback not finished",
            run: run_of(
                "returned",
                false,
                vec![
                    ("node-a", json!({"lk_stage": "upgraded", "lk_rollback_to": "9.4.0"})),
                    ("node-b", json!({"lk_stage": "backed_up", "lk_rollback_to": "9.4.0"})),
                ],
            ),
            status: "INCOMPLETE",
            stopped_at: Value::Null,
            lines: &["cluster demo: INCOMPLETE", "  rollback to 9.4.0 not finished"],
            failed: &["cluster demo INCOMPLETE (not every node reached the end)"],
        },
        Case {
            name: "rollback in check mode",
            run: run_of(
                "returned",
                true,
                vec![
                    ("node-a", json!({"lk_stage": "returned", "lk_rollback_to": "9.4.0"})),
                    ("node-b", json!({"lk_stage": "returned", "lk_rollback_to": "9.4.0"})),
                ],
            ),
            status: "ok",
            stopped_at: Value::Null,
            lines: &["cluster demo: ok", "  would roll back to 9.4.0"],
            failed: &[],
        },
    ]
}

/// `want` appear in `lines` in this order.
fn in_order(lines: &[String], want: &[&str]) -> Result<(), String> {
    let mut at = 0;
    for w in want {
        match lines[at..].iter().position(|l| l == w) {
            Some(i) => at += i + 1,
            None => return Err(format!("{w:?} not found (in order) in {lines:#?}")),
        }
    }
    Ok(())
}

#[test]
fn each_status_and_its_lines() {
    for c in cases() {
        let s = summarise(&c.run).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let block = &s.clusters["demo"];
        assert_eq!(block["status"], c.status, "{}: {block:#}", c.name);
        assert_eq!(block["stopped_at"], c.stopped_at, "{}", c.name);
        if let Err(e) = in_order(&s.lines, c.lines) {
            panic!("{}: {e}", c.name);
        }
        assert_eq!(s.failed_clusters, c.failed, "{}", c.name);
    }
}

#[test]
fn interruptions_are_summed_per_hierarchy_and_unmeasured_once_one_is_null() {
    let by_name = |n: &str| cases().into_iter().find(|c| c.name == n).unwrap();
    let s = summarise(&by_name("switchovers and interruptions summed").run).unwrap();
    let c = &s.clusters["demo"];
    assert_eq!(
        c["interruptions"],
        json!({
            "app-pgsql": {"switchovers": 2, "interruption_s": 0.094, "measured": true},
            "ip-10.0.0.50": {"switchovers": 2, "interruption_s": 0.097, "measured": true}
        })
    );
    assert_eq!(c["switchovers"].as_array().unwrap().len(), 4);
    assert_eq!(c["switchovers"][0]["interruption_s"], 0.06);
    assert_eq!(c["placement_predicted"], Value::Null);
    let s =
        summarise(&by_name("an unmeasured switchover: no total for its hierarchy").run).unwrap();
    assert_eq!(
        s.clusters["demo"]["interruptions"]["app-pgsql"],
        json!({"switchovers": 2, "interruption_s": 0.043, "measured": false})
    );
}

#[test]
fn check_mode_predicts_the_placement_and_records_nothing() {
    let c = cases()
        .into_iter()
        .find(|c| c.name.starts_with("check mode"))
        .unwrap();
    let s = summarise(&c.run).unwrap();
    let b = &s.clusters["demo"];
    assert_eq!(
        b["placement_predicted"],
        json!({"ip-10.0.0.50": "node-a", "app-pgsql": "node-a"})
    );
    assert_eq!(b["plan"]["recorded"], false);
    assert_eq!(b["plan"]["closed"], false);
    assert_eq!(b["switchovers"][0]["interruption_s"], Value::Null);
    // The same run for real: recorded and closed, nothing predicted.
    let mut real = c.run.clone();
    real.check_mode = false;
    let s = summarise(&real).unwrap();
    assert_eq!(s.clusters["demo"]["plan"]["recorded"], true);
    assert_eq!(s.clusters["demo"]["plan"]["closed"], true);
    assert_eq!(s.clusters["demo"]["placement_predicted"], Value::Null);
    assert!(s
        .lines
        .contains(&"  ip-10.0.0.50: was on node-a, now on node-a".to_string()));
}

/// Moves are ordered by `seq` (every upgrade wave, then every return wave), whichever node
/// remembered them, and a move with no from or to says none.
#[test]
fn switchovers_in_run_order_across_nodes() {
    let mv = |tag: &str, from: Value, to: &str, wave: u64, stage: &str, seq: u64| json!({"tag": tag, "from": from, "to": to, "wave": wave, "stage": stage, "seq": seq});
    let r = run_of(
        "returned",
        false,
        vec![
            (
                "node-a",
                with(
                    node("node-a", AB, "returned"),
                    json!({
                "lk_plan_placement": {"ip": "node-b"},
                "lk_moves": [mv("ip", json!("node-a"), "node-b", 2, "return", 102)]}),
                ),
            ),
            (
                "node-b",
                with(
                    node("node-b", AB, "returned"),
                    json!({
                "lk_moves": [mv("ip", json!("node-b"), "node-a", 2, "upgrade", 2),
                             mv("web", Value::Null, "node-a", 1, "upgrade", 1)]}),
                ),
            ),
        ],
    );
    let s = summarise(&r).unwrap();
    in_order(
        &s.lines,
        &[
            "  switchover 1: web none -> node-a (wave 1, upgrade)",
            "  switchover 2: ip node-b -> node-a (wave 2, upgrade)",
            "  switchover 3: ip node-a -> node-b (wave 2, return)",
        ],
    )
    .unwrap();
}

#[test]
fn pauses_are_listed_after_the_clusters() {
    let mut r = run_of(
        "returned",
        false,
        vec![("node-a", node("node-a", &["node-a"], "returned"))],
    );
    r.pauses = vec![
        json!({"before": "upgrade wave 2", "started": "2026-12-07T14:48:48.152Z",
               "ended": "2026-12-07T14:48:48.663Z", "seconds": null, "answer": ""}),
        json!({"before": "return wave 1", "started": "2026-12-07T14:48:52.293Z",
               "ended": "2026-12-07T14:48:52.787Z", "seconds": null, "answer": "stop"}),
        json!({"before": "upgrade wave 1 of the canary clusters", "started": "s", "ended": "e",
               "seconds": 2, "answer": null}),
    ];
    let s = summarise(&r).unwrap();
    let n = s.lines.len();
    assert_eq!(
        s.lines[n - 3..],
        [
            "paused before upgrade wave 2: 2026-12-07T14:48:48.152Z .. 2026-12-07T14:48:48.663Z (answer: Enter)",
            "paused before return wave 1: 2026-12-07T14:48:52.293Z .. 2026-12-07T14:48:52.787Z (answer: stop)",
            "paused before upgrade wave 1 of the canary clusters: s .. e (2 s)",
        ]
    );
    assert_eq!(s.pauses, r.pauses);
}

/// Several clusters: by name (case-insensitive, as the template's sort), each its block; the
/// groups that are not clusters are ignored.
#[test]
fn clusters_in_name_order_and_other_groups_ignored() {
    let mut r = run_of(
        "returned",
        false,
        vec![
            ("a1", node("a1", &["a1"], "returned")),
            ("b1", node("b1", &["b1"], "failed")),
            ("c1", node("c1", &["c1"], "returned")),
        ],
    );
    r.groups = BTreeMap::from([
        ("lk_cluster_charlie".into(), vec!["c1".into()]),
        ("lk_cluster_Bravo".into(), vec!["b1".into()]),
        ("lk_cluster_alpha".into(), vec!["a1".into()]),
        ("lk_run".into(), vec!["a1".into(), "b1".into(), "c1".into()]),
    ]);
    let s = summarise(&r).unwrap();
    let heads: Vec<&str> = s
        .lines
        .iter()
        .filter(|l| l.starts_with("cluster "))
        .map(String::as_str)
        .collect();
    assert_eq!(
        heads,
        [
            "cluster alpha: ok",
            "cluster Bravo: FAILED at b1 \"\": ",
            "cluster charlie: ok"
        ]
    );
    assert_eq!(
        s.clusters.keys().collect::<Vec<_>>(),
        ["Bravo", "alpha", "charlie"]
    );
}

/// Bad input is refused with a message naming what is wrong, never a panic.
#[test]
fn bad_input_is_refused_naming_it() {
    let base = || {
        run_of(
            "returned",
            false,
            vec![
                ("node-a", node("node-a", AB, "returned")),
                ("node-b", node("node-b", AB, "returned")),
            ],
        )
    };
    let mut cases: Vec<(Run, &str)> = vec![];
    let mut r = base();
    r.done_stage = "finished".into();
    cases.push((r, "done_stage \"finished\" is not a stage"));
    let mut r = base();
    r.hosts.get_mut("node-b").unwrap().lk_stage = json!("done");
    cases.push((r, "lk_stage of node-b is \"done\""));
    let mut r = base();
    r.hosts.get_mut("node-b").unwrap().lk_stage = json!(3);
    cases.push((r, "lk_stage of node-b is not a stage"));
    let mut r = base();
    r.hosts.get_mut("node-a").unwrap().lk_home_tags = json!("ip");
    cases.push((r, "lk_home_tags of node-a is not a list"));
    let mut r = base();
    r.hosts.get_mut("node-a").unwrap().lk_tags_now = json!([1]);
    cases.push((r, "lk_tags_now of node-a is not a list of names"));
    let mut r = base();
    r.hosts.get_mut("node-a").unwrap().lk_moves = json!(["x"]);
    cases.push((r, "lk_moves of node-a is not a list of dicts"));
    let mut r = base();
    r.hosts.get_mut("node-a").unwrap().lk_plan_placement = json!([]);
    cases.push((r, "lk_plan_placement of node-a is not a dict"));
    let mut r = base();
    r.hosts.get_mut("node-a").unwrap().lk_mates = json!(["node-a", "node-z"]);
    cases.push((r, "no hostvars of its node node-z"));
    let mut r = base();
    r.groups.insert("lk_cluster_empty".into(), vec![]);
    cases.push((r, "cluster empty: its group names no node"));
    let mut r = base();
    r.pauses = vec![json!("x")];
    cases.push((r, "pause 1 is not a dict"));
    for (r, want) in cases {
        let e = summarise(&r).unwrap_err();
        assert!(e.contains(want), "{want:?} not in {e:?}");
    }
}

#[test]
fn values_are_written_as_jinja_writes_them() {
    let cases = [
        (json!(null), "None"),
        (json!(true), "True"),
        (json!(false), "False"),
        (json!(3), "3"),
        (json!(0.0), "0.0"),
        (json!(2.0), "2.0"),
        (json!(0.04), "0.04"),
        (json!(0.094), "0.094"),
        (json!(600.5), "600.5"),
        (json!(0.0001), "0.0001"),
        (json!(0.00001), "1e-05"),
        (json!(1e16), "1e+16"),
        (json!(1.5e16), "1.5e+16"),
        (json!(123456789012345.6), "123456789012345.6"),
        (json!(-0.25), "-0.25"),
        (json!("text"), "text"),
        (json!(["a", 1]), "['a', 1]"),
        (json!({"k": "it's"}), "{'k': \"it's\"}"),
    ];
    for (v, want) in cases {
        assert_eq!(py_str(&v), want, "{v}");
    }
    // The template's round(3) of running sums.
    assert_eq!(round3(0.06 + 0.037), 0.097);
    assert_eq!(round3(0.0 + 0.092), 0.092);
    assert_eq!(py_float(round3(0.047 + 0.058)), "0.105");
}

/// The blocks and lines summary.json.j2 wrote for real runs of tests/delivery (paths and the
/// failure message shortened): the module's output is the same document.
#[test]
fn the_summary_json_of_real_runs_is_unchanged() {
    // pb-multi, cluster bravo: bravo-b failed in lk_upgrade after wave 1's switchovers.
    let msg = "setup 9.6.1 failed; LifeKeeper 9.4.0 is installed: setup exited with rc=1: \u{1b}[0m\u{1b}[H; rerun with the same arguments to resume";
    let mates = ["bravo-a", "bravo-b"];
    let mv = |tag: &str, from: &str, to: &str, wave: u64, s: &str, e: &str, i: f64| {
        json!({"tag": tag, "from": from, "to": to, "wave": wave, "stage": "upgrade", "seq": wave,
               "started": s, "ended": e, "interruption_s": i})
    };
    let plan = json!({"cluster": "bravo", "status": "open", "created": "2026-12-07T14:49:16Z",
                      "target_version": "9.6.1", "nodes": [], "homes": {}});
    let common = json!({
        "lk_version_before": "9.4.0", "lk_running_now": true, "lk_mates": mates,
        "lk_home_tags": [], "lk_tags_now": [], "lk_canary": false,
        "lk_plan": plan, "lk_plan_path": "/out/report/bravo/plan.json",
        "lk_plan_node_path": "/sim/bravo/bravo-a/var/backups/lifekeeper/lkops-plan.bravo.json",
        "lk_plan_resumed": false,
        "lk_plan_placement": {"app-pgsql": "bravo-a", "ip-10.0.0.50": "bravo-a"},
        "lk_mirror_waits": [],
    });
    let a = with(
        common.clone(),
        json!({
            "lk_stage": "upgraded", "lk_version_after": "9.6.1",
            "lk_failed_stage": "", "lk_failed_msg": "",
            "lk_backup_on_controller": "/out/backups/bravo/bravo-a",
            "lk_home_tags": ["ip-10.0.0.50", "app-pgsql"], "lk_tags_now": ["ip-10.0.0.50", "app-pgsql"],
            "lk_moves": [
                mv("ip-10.0.0.50", "bravo-a", "bravo-b", 1, "2026-12-07T14:49:34.509Z", "2026-12-07T14:49:34.601Z", 0.092),
                mv("app-pgsql", "bravo-a", "bravo-b", 1, "2026-12-07T14:49:34.601Z", "2026-12-07T14:49:34.648Z", 0.047)
            ],
        }),
    );
    let b = with(
        common,
        json!({
            "lk_stage": "failed", "lk_version_after": "9.4.0",
            "lk_failed_stage": "Upgrade LifeKeeper (lk_upgrade)", "lk_failed_msg": msg,
            "lk_backup_on_controller": "/out/backups/bravo/bravo-b",
            "lk_moves": [
                mv("ip-10.0.0.50", "bravo-b", "bravo-a", 2, "2026-12-07T14:49:39.791Z", "2026-12-07T14:49:39.857Z", 0.066),
                mv("app-pgsql", "bravo-b", "bravo-a", 2, "2026-12-07T14:49:39.857Z", "2026-12-07T14:49:39.915Z", 0.058)
            ],
        }),
    );
    let run = Run {
        done_stage: "returned".into(),
        check_mode: false,
        groups: BTreeMap::from([(
            "lk_cluster_bravo".into(),
            vec!["bravo-b".into(), "bravo-a".into()],
        )]),
        hosts: BTreeMap::from([("bravo-a".into(), hv(a)), ("bravo-b".into(), hv(b))]),
        pauses: vec![],
    };
    let s = summarise(&run).unwrap();
    let want = json!({
        "canary": false, "held": null,
        "interruptions": {
            "app-pgsql": {"interruption_s": 0.105, "measured": true, "switchovers": 2},
            "ip-10.0.0.50": {"interruption_s": 0.158, "measured": true, "switchovers": 2}},
        "mirror_waits": [],
        "nodes": [
            {"backup_on_controller": "/out/backups/bravo/bravo-a", "failed_msg": "", "failed_stage": "",
             "lifekeeper_running": true, "node": "bravo-a", "stage": "upgraded",
             "version_after": "9.6.1", "version_before": "9.4.0"},
            {"backup_on_controller": "/out/backups/bravo/bravo-b", "failed_msg": msg,
             "failed_stage": "Upgrade LifeKeeper (lk_upgrade)", "lifekeeper_running": true,
             "node": "bravo-b", "stage": "failed", "version_after": "9.4.0", "version_before": "9.4.0"}],
        "placement_before": {"app-pgsql": "bravo-a", "ip-10.0.0.50": "bravo-a"},
        "placement_now": {"app-pgsql": "bravo-a", "ip-10.0.0.50": "bravo-a"},
        "placement_predicted": null,
        "plan": {"closed": false, "created": "2026-12-07T14:49:16Z", "file": "/out/report/bravo/plan.json",
                 "node_file": "/sim/bravo/bravo-a/var/backups/lifekeeper/lkops-plan.bravo.json",
                 "recorded": true, "resumed": false, "target_version": "9.6.1"},
        "status": "FAILED",
        "stopped_at": {"msg": msg, "node": "bravo-b", "stage": "Upgrade LifeKeeper (lk_upgrade)"},
        "switchovers": [
            {"ended": "2026-12-07T14:49:34.601Z", "from": "bravo-a", "interruption_s": 0.092, "stage": "upgrade",
             "started": "2026-12-07T14:49:34.509Z", "tag": "ip-10.0.0.50", "to": "bravo-b", "wave": 1},
            {"ended": "2026-12-07T14:49:34.648Z", "from": "bravo-a", "interruption_s": 0.047, "stage": "upgrade",
             "started": "2026-12-07T14:49:34.601Z", "tag": "app-pgsql", "to": "bravo-b", "wave": 1},
            {"ended": "2026-12-07T14:49:39.857Z", "from": "bravo-b", "interruption_s": 0.066, "stage": "upgrade",
             "started": "2026-12-07T14:49:39.791Z", "tag": "ip-10.0.0.50", "to": "bravo-a", "wave": 2},
            {"ended": "2026-12-07T14:49:39.915Z", "from": "bravo-b", "interruption_s": 0.058, "stage": "upgrade",
             "started": "2026-12-07T14:49:39.857Z", "tag": "app-pgsql", "to": "bravo-a", "wave": 2}]
    });
    assert_eq!(s.clusters["bravo"], want);
    let failed =
        format!("cluster bravo FAILED at bravo-b \"Upgrade LifeKeeper (lk_upgrade)\": {msg}");
    assert_eq!(s.failed_clusters, std::slice::from_ref(&failed));
    assert_eq!(
        s.lines,
        [
            format!("cluster bravo: FAILED at bravo-b \"Upgrade LifeKeeper (lk_upgrade)\": {msg}"),
            "  plan: /out/report/bravo/plan.json (new)".into(),
            "  switchover 1: ip-10.0.0.50 bravo-a -> bravo-b (wave 1, upgrade), interruption 0.092 s".into(),
            "  switchover 2: app-pgsql bravo-a -> bravo-b (wave 1, upgrade), interruption 0.047 s".into(),
            "  switchover 3: ip-10.0.0.50 bravo-b -> bravo-a (wave 2, upgrade), interruption 0.066 s".into(),
            "  switchover 4: app-pgsql bravo-b -> bravo-a (wave 2, upgrade), interruption 0.058 s".into(),
            "  app-pgsql: switched 2 time(s), interrupted 0.105 s in total".into(),
            "  ip-10.0.0.50: switched 2 time(s), interrupted 0.158 s in total".into(),
            "  bravo-a: 9.4.0 -> 9.6.1 backup verified in /out/backups/bravo/bravo-a".into(),
            "  bravo-b: 9.4.0 -> 9.4.0 backup verified in /out/backups/bravo/bravo-b (failed at \"Upgrade LifeKeeper (lk_upgrade)\")".into(),
            "  app-pgsql: was on bravo-a, now on bravo-a".into(),
            "  ip-10.0.0.50: was on bravo-a, now on bravo-a".into(),
        ]
    );
    // The delivery test's grep (playbooks.rs, three clusters at once).
    assert!(
        failed.starts_with("cluster bravo FAILED at bravo-b \"Upgrade LifeKeeper (lk_upgrade)\"")
    );

    // pb-dk-two: nothing to upgrade, the mirror waits after each upgrade.
    let w = |n: &str, wave: u64| {
        json!({"check_mode": false, "node": n, "progress": 100, "root": "app-x", "source": "node-a",
               "stage": "after_upgrade", "state": "in_sync", "tag": "datarep-x", "target": n,
               "waited_s": 0.0, "wave": wave})
    };
    let dk = |n: &str, wave: u64, home: &[&str]| {
        json!({"lk_stage": "returned", "lk_version_before": "9.6.1", "lk_version_after": "9.6.1",
               "lk_failed_stage": "", "lk_failed_msg": "", "lk_running_now": true,
               "lk_home_tags": home, "lk_tags_now": home, "lk_mates": ["node-a", "node-b"],
               "lk_mirror_waits": [w(n, wave)], "lk_plan": {}, "lk_plan_path": "/x", "lk_plan_node_path": "/y",
               "lk_plan_resumed": false, "lk_plan_placement": {"app-x": "node-a"}, "lk_canary": false, "lk_moves": []})
    };
    let run = Run {
        done_stage: "returned".into(),
        check_mode: false,
        groups: BTreeMap::from([(
            "lk_cluster_dk".into(),
            vec!["node-a".into(), "node-b".into()],
        )]),
        hosts: BTreeMap::from([
            ("node-a".into(), hv(dk("node-a", 1, &["app-x"]))),
            ("node-b".into(), hv(dk("node-b", 2, &[]))),
        ]),
        pauses: vec![],
    };
    let s = summarise(&run).unwrap();
    assert_eq!(
        s.lines,
        [
            "cluster dk: ok",
            "  plan: none (nothing to upgrade)",
            "  mirror datarep-x toward node-a: waited 0.0s (after_upgrade of node-a, wave 1)",
            "  mirror datarep-x toward node-b: waited 0.0s (after_upgrade of node-b, wave 2)",
            "  node-a: 9.6.1 -> 9.6.1",
            "  node-b: 9.6.1 -> 9.6.1",
            "  app-x: was on node-a, now on node-a",
        ]
    );
    let c = &s.clusters["dk"];
    assert_eq!(c["mirror_waits"], json!([w("node-a", 1), w("node-b", 2)]));
    assert_eq!(
        c["plan"],
        json!({"closed": false, "created": null, "file": null, "node_file": null,
               "recorded": false, "resumed": false, "target_version": null})
    );
    assert_eq!(c["interruptions"], json!({}));
    assert_eq!(c["switchovers"], json!([]));

    // pb-rollback: rollback.yml (no lk_plan fact: no plan line; the rollback's placement).
    let rb = |home: &[&str]| {
        json!({"lk_stage": "returned", "lk_version_before": "9.4.0", "lk_version_after": "9.4.0",
               "lk_failed_stage": "", "lk_failed_msg": "", "lk_running_now": true,
               "lk_home_tags": home, "lk_tags_now": home, "lk_mates": ["node-a", "node-b"],
               "lk_rollback_to": "9.4.0", "lk_canary": false,
               "lk_plan_placement": {"app-web": "node-a", "ip-10.0.0.50": "node-b"}})
    };
    let run = Run {
        done_stage: "returned".into(),
        check_mode: false,
        groups: BTreeMap::from([(
            "lk_cluster_demo".into(),
            vec!["node-a".into(), "node-b".into()],
        )]),
        hosts: BTreeMap::from([
            ("node-a".into(), hv(rb(&["app-web"]))),
            ("node-b".into(), hv(rb(&["ip-10.0.0.50"]))),
        ]),
        pauses: vec![],
    };
    let s = summarise(&run).unwrap();
    assert_eq!(
        s.lines,
        [
            "cluster demo: ok",
            "  rolled back to 9.4.0",
            "  node-a: 9.4.0 -> 9.4.0",
            "  node-b: 9.4.0 -> 9.4.0",
            "  app-web: was on node-a, now on node-a",
            "  ip-10.0.0.50: was on node-b, now on node-b",
        ]
    );
    assert_eq!(
        s.clusters["demo"],
        json!({"canary": false, "held": null, "interruptions": {}, "mirror_waits": [],
               "nodes": [
                   {"backup_on_controller": null, "failed_msg": "", "failed_stage": "",
                    "lifekeeper_running": true, "node": "node-a", "stage": "returned",
                    "version_after": "9.4.0", "version_before": "9.4.0"},
                   {"backup_on_controller": null, "failed_msg": "", "failed_stage": "",
                    "lifekeeper_running": true, "node": "node-b", "stage": "returned",
                    "version_after": "9.4.0", "version_before": "9.4.0"}],
               "placement_before": {"app-web": "node-a", "ip-10.0.0.50": "node-b"},
               "placement_now": {"app-web": "node-a", "ip-10.0.0.50": "node-b"},
               "placement_predicted": null, "rollback_to": "9.4.0", "status": "ok",
               "stopped_at": null, "switchovers": []})
    );
}

/// A run of clusters (group name without `lk_cluster_` -> hosts) for the readiness and backups.
fn run_with(clusters: &[(&str, &[&str])], vars: Vec<(&str, Value)>) -> Run {
    let mut groups = BTreeMap::new();
    for (c, hosts) in clusters {
        groups.insert(
            format!("{CLUSTER_GROUP}{c}"),
            hosts.iter().map(|h| h.to_string()).collect(),
        );
    }
    groups.insert("all".to_string(), vec!["ignored".to_string()]);
    let hosts = vars
        .into_iter()
        .map(|(h, v)| (h.to_string(), hv(v)))
        .collect();
    Run {
        done_stage: "returned".into(),
        groups,
        hosts,
        ..Default::default()
    }
}

/// set_stats lkops_backups (stats_backups.j2 before): only the nodes with backups, only the
/// published keys of each backup.
#[test]
fn backups_per_node_keep_only_the_published_keys() {
    let b = json!({"host": "a", "time": "20261207T144900Z", "archive": "/x.tar.gz", "sha256": "00",
                   "defaults_copy": "", "defaults_sha256": "", "lifekeeper_version": "9.4.0",
                   "size": 1, "verified": true});
    type Case<'a> = (&'a str, Vec<(&'a str, Value)>, Value);
    let cases: Vec<Case> = vec![
        (
            "nothing recorded",
            vec![("a", json!({})), ("b", json!({}))],
            json!({}),
        ),
        (
            "a skipped backup (no backups key) is left out",
            vec![
                ("a", json!({"lk_bk": {"skipped": true}})),
                ("b", json!({"lk_bk": {"backups": []}})),
            ],
            json!({"b": []}),
        ),
        (
            "extra keys dropped",
            vec![
                ("a", json!({"lk_bk": {"changed": true, "backups": [b]}})),
                ("b", json!({})),
            ],
            json!({"a": [{"host": "a", "time": "20261207T144900Z", "archive": "/x.tar.gz", "sha256": "00",
                           "defaults_copy": "", "defaults_sha256": "", "lifekeeper_version": "9.4.0"}]}),
        ),
    ];
    for (name, vars, want) in cases {
        let run = run_with(&[("demo", &["a", "b"])], vars);
        assert_eq!(Value::Object(backups(&run).unwrap()), want, "{name}");
    }
    let run = run_with(
        &[("demo", &["a"])],
        vec![("a", json!({"lk_bk": {"backups": "x"}}))],
    );
    assert_eq!(
        backups(&run).unwrap_err(),
        "lk_bk.backups of a is not a list: \"x\""
    );
}

/// The readiness report's data (stats_readiness.j2, report_plans.j2 and report.yml's check IDs
/// before): rows in cluster name order, columns in order of first appearance, each node's
/// verdict, each cluster's plan.
#[test]
fn readiness_of_every_node_and_the_plan_of_every_cluster() {
    let check = |id: &str, status: &str| json!({"id": id, "status": status, "msg": "m"});
    let run = run_with(
        &[("beta", &["c", "d"]), ("Alpha", &["a"]), ("gamma", &["e"])],
        vec![
            (
                "a",
                json!({"lk_cluster_name": "Alpha",
                         "lk_preflight_result": {"failed": false, "installed_version": "9.4.0",
                                                 "upgrade_path": "direct", "msg": "ready",
                                                 "checks": [check("LK-A", "pass"), check("LK-B", "warn")]},
                         "lk_plan": {"created": "2026-12-07T14:48:37Z"}, "lk_plan_path": "/p/alpha.json",
                         "lk_plan_resumed": "yes"}),
            ),
            (
                "c",
                json!({"lk_cluster_name": "beta",
                         "lk_preflight_result": {"failed": true, "installed_version": "9.2.0",
                                                 "upgrade_path": "reinstall", "msg": "2 failed",
                                                 "checks": [check("LK-C", "fail"), check("LK-A", "fail")]},
                         "lk_plan": {}, "lk_plan_path": "/p/beta.json"}),
            ),
            ("d", json!({"lk_cluster_name": "beta"})),
            (
                "e",
                json!({"lk_cluster_name": "gamma", "lk_rollback_to": "9.4.0",
                         "lk_preflight_result": {"failed": true, "msg": "lk_preflight did not run"}}),
            ),
        ],
    );
    let r = readiness(&run).unwrap();
    assert_eq!(r.nodes, ["a", "c", "d", "e"]);
    assert_eq!(r.check_ids, ["LK-A", "LK-B", "LK-C"]);
    let cases: Vec<(&str, Value)> = vec![
        (
            "a",
            json!({"cluster": "Alpha", "ready": true, "installed_version": "9.4.0",
                     "upgrade_path": "direct", "failed_checks": [], "msg": "ready"}),
        ),
        (
            "c",
            json!({"cluster": "beta", "ready": false, "installed_version": "9.2.0",
                     "upgrade_path": "reinstall", "failed_checks": ["LK-C", "LK-A"], "msg": "2 failed"}),
        ),
        (
            "d",
            json!({"cluster": "beta", "ready": false, "installed_version": null, "upgrade_path": null,
                     "failed_checks": [], "msg": "no pre-flight result (not reached)"}),
        ),
        (
            "e",
            json!({"cluster": "gamma", "ready": false, "installed_version": null, "upgrade_path": null,
                     "failed_checks": [], "msg": "lk_preflight did not run"}),
        ),
    ];
    for (node, want) in cases {
        assert_eq!(r.readiness[node], want, "{node}");
    }
    assert_eq!(
        Value::Array(r.plans),
        json!([
            {"cluster": "Alpha", "file": "/p/alpha.json", "resumed": true,
             "created": "2026-12-07T14:48:37Z", "rollback_to": null},
            {"cluster": "beta", "file": null, "resumed": false, "created": null, "rollback_to": null},
            {"cluster": "gamma", "file": null, "resumed": false, "created": null, "rollback_to": "9.4.0"}
        ])
    );
    let missing = run_with(&[("demo", &["x"])], vec![]);
    assert_eq!(
        readiness(&missing).unwrap_err(),
        "x is in a cluster group but not in hosts"
    );
}

/// Issue 26 (tasks per node): the summary reads each node's final lk_resource query (lk_final)
/// itself instead of the set_fact that picked its root hierarchies in service and
/// lifekeeper_running out of it. The same run gives the same summary either way; a node whose
/// final read failed (no resources) serves nothing and runs no LifeKeeper.
#[test]
fn final_read_gives_the_same_summary_as_the_set_fact_it_replaces() {
    let res =
        |tag: &str, state: &str, depth: u64| json!({"tag": tag, "state": state, "depth": depth});
    let final_a = json!({"lifekeeper_running": true, "resources": [
        res("ip-10.0.0.50", "ISP", 0), res("app-pgsql", "ISU", 0), res("pgsql-fs", "ISP", 1),
        res("other", "OSU", 0)]});
    let given = |tags: Value, running: Value| json!({"lk_home_tags": ["ip-10.0.0.50", "app-pgsql"], "lk_tags_now": tags, "lk_running_now": running});
    let read = |f: Value| {
        json!({"lk_home_tags": ["ip-10.0.0.50", "app-pgsql"], "lk_tags_now": null, "lk_running_now": null,
               "lk_final": f})
    };
    // node-a's variables changed by `a`, node-b as it ends every run.
    let two = |a: Value| {
        let nodes = vec![
            ("node-a", with(node("node-a", AB, "returned"), a)),
            ("node-b", node("node-b", AB, "returned")),
        ];
        run_of("returned", false, nodes)
    };
    let old = two(given(json!(["ip-10.0.0.50", "app-pgsql"]), json!(true)));
    let new = two(read(final_a));
    let (o, n) = (summarise(&old).unwrap(), summarise(&new).unwrap());
    assert_eq!(o.clusters, n.clusters);
    assert_eq!(o.lines, n.lines);

    // A failed final read: nothing in service there, LifeKeeper not known to run.
    let failed = two(read(json!({"failed": true, "msg": "unreachable"})));
    let f = summarise(&failed).unwrap();
    let a = &f.clusters["demo"]["nodes"][0];
    assert_eq!(a["node"], "node-a");
    assert_eq!(a["lifekeeper_running"], false);
    assert_eq!(
        f.clusters["demo"]["placement_now"],
        json!({}),
        "{:#}",
        f.clusters["demo"]
    );
}

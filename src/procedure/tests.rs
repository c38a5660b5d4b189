//! The planner's tests: table-driven cases for the shapes the playbooks were proved on, the
//! refusals, and properties over generated clusters (2–8 nodes, witnesses, DataKeeper mirrors,
//! ISU and OSF hierarchies, nodes already at the target, a failure and a resume at any step).
//!
//! The properties play the plan on a model cluster the way the modules act (`Sim`): a standby
//! call moves each tag it names that is in service on the node to the call's `switch_to` or the
//! tag's default target (lk_resource's rule, `targets::default_target`), an upgrade leaves the
//! mirrors toward the node resynchronizing, a wait brings them in sync. The switchovers that
//! simulated run makes must be exactly the plan's prediction.

use super::facts::*;
use super::plan::{plan, Plan, Step, Switchover};
use super::record::{Record, CLOSED, OPEN};
use super::targets::default_target;
use proptest::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const TARGET: &str = "9.6.1";
const OLD: &str = "9.4.0";

/// A hierarchy of the model: the nodes it is extended to in priority order, where it is in
/// service (None: OSF everywhere, in service nowhere), ISU rather than ISP, and whether it holds
/// a DataKeeper mirror (`dk-<tag>`).
#[derive(Debug, Clone)]
struct Hier {
    tag: String,
    nodes: Vec<usize>,
    active: Option<usize>,
    isu: bool,
    mirror: bool,
}

#[derive(Debug, Clone)]
struct Spec {
    n: usize,
    hiers: Vec<Hier>,
}

/// The state of the model cluster.
#[derive(Debug, Clone)]
struct World {
    version: Vec<String>,
    placement: BTreeMap<String, usize>,
    /// (mirror tag, target node name) not in sync.
    resyncing: BTreeSet<(String, String)>,
}

fn name(i: usize) -> String {
    format!("node-{}", (b'a' + i as u8) as char)
}

fn index(n: &str) -> usize {
    (n.as_bytes()[5] - b'a') as usize
}

impl Spec {
    fn world(&self, at_target: &[bool], resync: &[(String, String)]) -> World {
        World {
            version: at_target
                .iter()
                .map(|t| if *t { TARGET } else { OLD }.to_string())
                .collect(),
            placement: self
                .hiers
                .iter()
                .filter_map(|h| h.active.map(|a| (h.tag.clone(), h.nodes[a])))
                .collect(),
            resyncing: resync.iter().cloned().collect(),
        }
    }

    /// What lk_info would report on every node of the model in this state.
    fn facts(&self, w: &World) -> Cluster {
        let mut facts = BTreeMap::new();
        for i in 0..self.n {
            let me = name(i);
            let mut resources = vec![];
            let mut mirrors = vec![];
            for h in self.hiers.iter().filter(|h| h.nodes.contains(&i)) {
                let pos = h.nodes.iter().position(|x| *x == i).unwrap();
                let here = w.placement.get(&h.tag) == Some(&i);
                let state = match (here, h.isu, w.placement.contains_key(&h.tag)) {
                    (true, true, _) => "ISU",
                    (true, false, _) => "ISP",
                    (false, _, false) if pos == 0 => "OSF",
                    _ => "OSU",
                };
                let primary = name(h.nodes[0]);
                let backup = h.nodes.get(pos + 1).map(|b| name(*b));
                resources.push(json!({"tag": h.tag, "state": state, "primary": primary,
                    "backup": backup, "parent": null, "depth": 0, "type": "gen"}));
                if h.mirror {
                    let dk = format!("dk-{}", h.tag);
                    resources.push(json!({"tag": dk, "state": state, "primary": primary,
                        "backup": backup, "parent": h.tag, "depth": 1, "type": "netraid"}));
                    if here {
                        let targets: Vec<_> = h
                            .nodes
                            .iter()
                            .filter(|x| **x != i)
                            .map(|x| {
                                let st = if w.resyncing.contains(&(dk.clone(), name(*x))) {
                                    "resyncing"
                                } else {
                                    "in sync"
                                };
                                json!({"target": name(*x), "state": st, "progress": null})
                            })
                            .collect();
                        mirrors.push(json!({"tag": dk, "source": me, "targets": targets}));
                    }
                }
            }
            let paths: Vec<_> = (0..self.n)
                .filter(|x| *x != i)
                .map(|x| json!({"peer": name(x), "state": "ALIVE"}))
                .collect();
            let v = json!({"changed": false,
                "lifekeeper": {"installed": true, "version": w.version[i], "running": true, "node": me},
                "resources": resources, "comm_paths": paths, "mirrors": mirrors});
            facts.insert(me, serde_json::from_value(v).unwrap());
        }
        Cluster {
            name: "demo".into(),
            order: (0..self.n).map(name).collect(),
            facts,
        }
    }

    fn carries(&self, node: usize, tag: &str) -> bool {
        self.hiers
            .iter()
            .any(|h| h.tag == tag && h.nodes.contains(&node))
    }
}

fn params(now: &str) -> Params {
    Params {
        version: TARGET.into(),
        switch_to: None,
        new_plan: false,
        now: now.into(),
    }
}

/// The steps in the order the run takes them: every node's upgrade wave, then every node's
/// return wave.
fn steps(p: &Plan) -> Vec<(usize, Step)> {
    let mut out = vec![];
    for n in &p.nodes {
        out.extend(n.upgrade_steps.iter().map(|s| (n.wave, s.clone())));
    }
    for n in &p.nodes {
        out.extend(n.return_steps.iter().map(|s| (n.wave, s.clone())));
    }
    out
}

/// Play one step on the model as the modules would; returns the switchovers it made. Panics
/// (with the reason) on anything the invariants forbid.
fn play(spec: &Spec, c: &Cluster, w: &mut World, wave: usize, step: &Step) -> Vec<Switchover> {
    let node = wave - 1;
    let me = name(node);
    let mut moves = vec![];
    let mut switch = |w: &mut World, tag: &str, to: &str, stage: &'static str| {
        let h = spec.hiers.iter().find(|h| h.tag == tag).unwrap();
        assert!(
            spec.carries(index(to), tag),
            "{tag} onto {to}, which does not carry it (a witness?)"
        );
        if h.mirror {
            let dk = format!("dk-{tag}");
            assert!(
                !w.resyncing.contains(&(dk.clone(), to.to_string())),
                "{tag} switched onto {to} while its mirror {dk} resyncs toward it"
            );
        }
        let from = w.placement.insert(tag.to_string(), index(to));
        moves.push(Switchover {
            tag: tag.into(),
            from: from.map(name).unwrap_or_else(|| "none".into()),
            to: to.into(),
            wave,
            stage,
        });
    };
    match step {
        Step::Standby {
            calls,
            mirror_waits,
            ..
        } => {
            for m in mirror_waits {
                w.resyncing.remove(&(m.mirror.clone(), m.target.clone()));
            }
            for call in calls {
                for t in &call.tags {
                    if w.placement.get(t) != Some(&node) {
                        continue;
                    }
                    // lk_resource: switch_to, else the tag's default target as this node shows it.
                    let r = c.facts[&me].roots().find(|r| &r.tag == t).unwrap();
                    let to = call
                        .switch_to
                        .clone()
                        .or_else(|| default_target(&r.primary, r.backup.as_deref(), &me))
                        .unwrap_or_else(|| panic!("{t}: lk_resource would refuse (no target)"));
                    // Never onto a node not upgraded while an upgraded one can take it.
                    if w.version[index(&to)] != TARGET {
                        let better: Vec<String> = (0..spec.n)
                            .filter(|x| {
                                *x != node && w.version[*x] == TARGET && spec.carries(*x, t)
                            })
                            .map(name)
                            .collect();
                        assert!(
                            better.is_empty(),
                            "{t} onto {to} (not upgraded) while {better:?} (upgraded) could take it"
                        );
                    }
                    switch(w, t, &to, "upgrade");
                }
            }
        }
        Step::Upgrade { to, .. } => {
            assert_eq!(to, TARGET);
            w.version[node] = TARGET.into();
            // DataKeeper resynchronises the mirrors toward a node that was down.
            for h in spec
                .hiers
                .iter()
                .filter(|h| h.mirror && h.nodes.contains(&node))
            {
                if w.placement.get(&h.tag) != Some(&node) {
                    w.resyncing.insert((format!("dk-{}", h.tag), me.clone()));
                }
            }
        }
        Step::Verify {
            version,
            mirror_waits,
        } => {
            assert_eq!(
                &w.version[node], version,
                "{me} verified at another version"
            );
            for m in mirror_waits {
                w.resyncing.remove(&(m.mirror.clone(), m.target.clone()));
            }
        }
        Step::Return { tags, mirror_waits } => {
            for m in mirror_waits {
                w.resyncing.remove(&(m.mirror.clone(), m.target.clone()));
            }
            for t in tags {
                if w.placement.get(t) != Some(&node) {
                    switch(w, t, &me, "return");
                }
            }
        }
    }
    moves
}

/// Every hierarchy in service at the start is in service somewhere.
fn all_served(w: &World, start: &World) {
    for t in start.placement.keys() {
        assert!(w.placement.contains_key(t), "{t} is in service nowhere");
    }
}

/// Play the whole plan from `w`; returns the switchovers made.
fn run(spec: &Spec, c: &Cluster, p: &Plan, w: &mut World) -> Vec<Switchover> {
    let start = w.clone();
    let mut made = vec![];
    for (wave, s) in steps(p) {
        made.extend(play(spec, c, w, wave, &s));
        all_served(w, &start);
    }
    made
}

/// LifeKeeper down on `node`, as lk_info reports it: resources, comm paths, mirrors unknown.
fn stop(c: &mut Cluster, node: &str) {
    let f = c.facts.get_mut(node).unwrap();
    f.lifekeeper.running = false;
    f.resources = None;
    f.comm_paths = None;
    f.mirrors = None;
}

fn hier(tag: &str, nodes: &[usize], active: Option<usize>) -> Hier {
    Hier {
        tag: tag.into(),
        nodes: nodes.to_vec(),
        active,
        isu: false,
        mirror: false,
    }
}

fn moves(p: &Plan) -> Vec<String> {
    p.switchovers
        .iter()
        .map(|s| format!("{} {}->{} w{} {}", s.tag, s.from, s.to, s.wave, s.stage))
        .collect()
}

// ---- the shapes the playbooks were proved on ------------------------------------------------

/// The switchovers of tests/delivery/playbooks.rs's shapes (check mode equal to the real run
/// there), as standby_targets.j2 decides them: a 2-node cluster with everything on node-a, the
/// split (the IP on node-b), and three nodes with a hierarchy on each.
#[test]
fn the_playbooks_shapes_give_the_playbooks_switchovers() {
    let cases: Vec<(&str, Spec, Vec<&str>)> = vec![
        (
            "two",
            Spec {
                n: 2,
                hiers: vec![hier("ip", &[0, 1], Some(0)), hier("app", &[0, 1], Some(0))],
            },
            vec![
                "ip node-a->node-b w1 upgrade",
                "app node-a->node-b w1 upgrade",
                "ip node-b->node-a w2 upgrade",
                "app node-b->node-a w2 upgrade",
            ],
        ),
        (
            "split",
            Spec {
                n: 2,
                // The IP's priorities as lksim gives them (node-a first), in service on node-b.
                hiers: vec![hier("ip", &[0, 1], Some(1)), hier("app", &[0, 1], Some(0))],
            },
            vec![
                "app node-a->node-b w1 upgrade",
                "ip node-b->node-a w2 upgrade",
                "app node-b->node-a w2 upgrade",
                "ip node-a->node-b w2 return",
            ],
        ),
        (
            "three",
            Spec {
                n: 3,
                hiers: vec![
                    hier("ip", &[0, 1, 2], Some(1)),
                    hier("app", &[0, 1, 2], Some(0)),
                    hier("nfs", &[0, 1, 2], Some(2)),
                ],
            },
            vec![
                "app node-a->node-b w1 upgrade",
                "ip node-b->node-a w2 upgrade",
                "app node-b->node-a w2 upgrade",
                "nfs node-c->node-a w3 upgrade",
                "ip node-a->node-b w2 return",
                "nfs node-a->node-c w3 return",
            ],
        ),
    ];
    for (name, spec, want) in cases {
        let w = spec.world(&vec![false; spec.n], &[]);
        let c = spec.facts(&w);
        let p = plan(&c, &params("t0"), None).unwrap();
        assert_eq!(moves(&p), want, "{name}");
        let mut sim = w.clone();
        assert_eq!(run(&spec, &c, &p, &mut sim), p.switchovers, "{name}");
        assert_eq!(
            sim.placement, w.placement,
            "{name}: every hierarchy back home"
        );
        let rec = p.record.as_ref().unwrap();
        assert_eq!(rec.status, OPEN);
        assert_eq!(rec.created, "t0");
        assert_eq!(rec.nodes.len(), spec.n);
    }
}

#[test]
fn switch_to_sends_every_hierarchy_there_in_one_call() {
    let spec = Spec {
        n: 3,
        hiers: vec![
            hier("ip", &[0, 1, 2], Some(0)),
            hier("app", &[0, 1, 2], Some(0)),
        ],
    };
    let c = spec.facts(&spec.world(&[false, false, false], &[]));
    let p = plan(
        &c,
        &Params {
            switch_to: Some("node-c".into()),
            ..params("t0")
        },
        None,
    )
    .unwrap();
    let Step::Standby { calls, .. } = &p.nodes[0].upgrade_steps[0] else {
        panic!("{p:?}")
    };
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].switch_to.as_deref(), Some("node-c"));
    assert_eq!(calls[0].tags, ["ip", "app"]);
    assert_eq!(
        moves(&p)[..2],
        [
            "ip node-a->node-c w1 upgrade",
            "app node-a->node-c w1 upgrade"
        ]
    );
}

#[test]
fn a_node_at_the_target_keeps_its_hierarchies_and_a_witness_is_upgraded_without_switchover() {
    // node-b at the target holds app; node-c is a witness.
    let spec = Spec {
        n: 3,
        hiers: vec![hier("app", &[1, 0], Some(0)), hier("ip", &[0, 1], Some(0))],
    };
    let c = spec.facts(&spec.world(&[false, true, false], &[]));
    let p = plan(&c, &params("t0"), None).unwrap();
    assert_eq!(
        moves(&p),
        [
            "ip node-a->node-b w1 upgrade",
            "ip node-b->node-a w1 return"
        ]
    );
    assert!(!p.nodes[1].upgrade && p.nodes[2].witness && p.nodes[2].upgrade);
    assert!(matches!(
        p.nodes[1].upgrade_steps.as_slice(),
        [Step::Verify { .. }]
    ));
    let Step::Standby { calls, .. } = &p.nodes[2].upgrade_steps[0] else {
        panic!()
    };
    assert!(
        calls.is_empty(),
        "a witness has nothing to switch: {calls:?}"
    );
}

#[test]
fn a_resyncing_mirror_target_is_waited_for_before_it_takes_its_hierarchy() {
    let spec = Spec {
        n: 2,
        hiers: vec![Hier {
            mirror: true,
            ..hier("data", &[0, 1], Some(0))
        }],
    };
    let w = spec.world(&[false, false], &[("dk-data".into(), "node-b".into())]);
    let c = spec.facts(&w);
    let p = plan(&c, &params("t0"), None).unwrap();
    let Step::Standby { mirror_waits, .. } = &p.nodes[0].upgrade_steps[0] else {
        panic!()
    };
    assert_eq!(mirror_waits.len(), 1, "{p:?}");
    assert_eq!(mirror_waits[0].target, "node-b");
    let mut sim = w.clone();
    assert_eq!(run(&spec, &c, &p, &mut sim), p.switchovers);
}

#[test]
fn nothing_to_upgrade_records_no_plan_and_a_finished_resume_closes_it() {
    let spec = Spec {
        n: 2,
        hiers: vec![hier("ip", &[0, 1], Some(0))],
    };
    let c = spec.facts(&spec.world(&[true, true], &[]));
    let p = plan(&c, &params("t1"), None).unwrap();
    assert!(p.switchovers.is_empty() && p.record.is_none() && p.finished);
    let open = plan(
        &spec.facts(&spec.world(&[false, false], &[])),
        &params("t0"),
        None,
    )
    .unwrap()
    .record
    .unwrap();
    let p = plan(&c, &params("t1"), Some(&open)).unwrap();
    let rec = p.record.unwrap();
    assert!(p.resumed);
    assert_eq!(
        (rec.status.as_str(), rec.closed.as_deref()),
        (CLOSED, Some("t1"))
    );
    assert_eq!(rec.created, "t0");
}

/// The delivery test `setup_fault_then_rerun_resumes_the_plan_...` as a unit: node-b's upgrade
/// fails after its standby (everything on node-a); the rerun with the recorded plan puts the IP
/// back on node-b, its home before the first run; without the record its home would be node-a.
#[test]
fn a_failed_upgrade_then_a_rerun_returns_every_hierarchy_to_its_recorded_home() {
    let spec = Spec {
        n: 2,
        hiers: vec![hier("ip", &[0, 1], Some(1)), hier("app", &[0, 1], Some(0))],
    };
    let w0 = spec.world(&[false, false], &[]);
    let c = spec.facts(&w0);
    let first = plan(&c, &params("t0"), None).unwrap();
    let mut w = w0.clone();
    for (wave, s) in steps(&first) {
        if wave == 2 && matches!(s, Step::Upgrade { .. }) {
            break; // setup fails on node-b: it stays at the old version
        }
        play(&spec, &c, &mut w, wave, &s);
    }
    assert_eq!(w.version, [TARGET, OLD]);
    assert!(w.placement.values().all(|n| *n == 0), "{w:?}");
    let c2 = spec.facts(&w);
    let again = plan(&c2, &params("t1"), first.record.as_ref()).unwrap();
    assert!(again.resumed);
    assert_eq!(moves(&again), ["ip node-a->node-b w2 return"]);
    let fresh = plan(&c2, &params("t1"), None).unwrap();
    assert!(fresh.switchovers.is_empty(), "{:?}", moves(&fresh));
}

/// A node whose LifeKeeper is down is refused, unless a rerun of an open plan finds it still
/// needing its upgrade (it stopped half-way); a hierarchy is then never sent onto it before it
/// runs again, and its recorded root tags say what it carries.
#[test]
fn a_node_down_goes_on_only_in_a_resumed_plan_while_its_upgrade_is_pending() {
    let spec = Spec {
        n: 3,
        hiers: vec![hier("ip", &[0, 1, 2], Some(0))],
    };
    let w = spec.world(&[false, false, false], &[]);
    let first = plan(&spec.facts(&w), &params("t0"), None).unwrap();
    assert_eq!(first.record.as_ref().unwrap().nodes[1].root_tags, ["ip"]);
    let mut c = spec.facts(&w);
    stop(&mut c, "node-c");
    let r = plan(&c, &params("t1"), None).unwrap_err();
    assert!(r[0].reason.contains("not running on node-c"), "{r:?}");
    let p = plan(&c, &params("t1"), first.record.as_ref()).unwrap();
    assert_eq!(p.switchovers, first.switchovers);
    assert!(!p.nodes[2].witness, "a node down is not claimed a witness");
    // Down on node-b, which wave 1 would send the IP to: refused, naming node-b.
    let mut c = spec.facts(&w);
    stop(&mut c, "node-b");
    let r = plan(&c, &params("t1"), first.record.as_ref()).unwrap_err();
    assert!(
        r.iter().any(|x| x.node.as_deref() == Some("node-b")
            && x.reason
                .contains("LifeKeeper is not running on node-b, which would take it over")),
        "{r:?}"
    );
    // Down on a node already at the target: refused even when resumed.
    let w2 = spec.world(&[false, false, true], &[]);
    let mut c = spec.facts(&w2);
    stop(&mut c, "node-c");
    assert!(plan(&c, &params("t1"), first.record.as_ref()).is_err());
}

// ---- refusals -------------------------------------------------------------------------------

/// A change to the full cluster's facts or inventory.
type Edit = Box<dyn Fn(&mut Cluster)>;

#[test]
fn a_cluster_is_refused_before_anything_changes_naming_the_node() {
    let spec = Spec {
        n: 3,
        hiers: vec![hier("ip", &[0, 1, 2], Some(0))],
    };
    let full = spec.facts(&spec.world(&[false, false, false], &[]));
    let partial = |f: &dyn Fn(&mut Cluster)| {
        let mut c = full.clone();
        f(&mut c);
        plan(&c, &params("t0"), None).unwrap_err()
    };
    let cases: Vec<(&str, Edit, &str, &str)> = vec![
        (
            "a peer missing from the inventory",
            Box::new(|c| {
                c.order.retain(|n| n != "node-c");
                c.facts.remove("node-c");
            }),
            "node-c",
            "not in the inventory",
        ),
        (
            "a node without facts (unreachable)",
            Box::new(|c| {
                c.facts.remove("node-b");
            }),
            "node-b",
            "no facts from node-b",
        ),
        (
            "LifeKeeper not running",
            Box::new(|c| {
                let f = c.facts.get_mut("node-b").unwrap();
                f.lifekeeper.running = false;
                f.resources = None;
            }),
            "node-b",
            "not running",
        ),
        (
            "an inventory name that is not LifeKeeper's",
            Box::new(|c| {
                c.facts.get_mut("node-a").unwrap().lifekeeper.node = Some("node-a.example".into());
            }),
            "node-a",
            "is LifeKeeper node node-a.example",
        ),
    ];
    for (what, f, node, words) in cases {
        let r = partial(&*f);
        assert!(
            r.iter()
                .any(|x| x.node.as_deref() == Some(node) && x.reason.contains(words)),
            "{what}: {r:?}"
        );
    }
    let other = Record {
        target_version: "9.6.2".into(),
        ..plan(&full, &params("t0"), None).unwrap().record.unwrap()
    };
    let r = plan(&full, &params("t1"), Some(&other)).unwrap_err();
    assert!(r[0].reason.contains("open plan for 9.6.2"), "{r:?}");
    let r = plan(
        &full,
        &Params {
            switch_to: Some("node-x".into()),
            ..params("t0")
        },
        None,
    )
    .unwrap_err();
    assert!(r[0].reason.contains("switch_to node-x"), "{r:?}");
}

#[test]
fn a_hierarchy_no_peer_can_take_is_refused_up_front() {
    // Only node-a has it: BACKUP ------ and PRIMARY node-a.
    let spec = Spec {
        n: 2,
        hiers: vec![hier("solo", &[0], Some(0)), hier("ip", &[0, 1], Some(0))],
    };
    let r = plan(
        &spec.facts(&spec.world(&[false, false], &[])),
        &params("t0"),
        None,
    )
    .unwrap_err();
    assert!(
        r.iter()
            .any(|x| x.node.as_deref() == Some("node-a") && x.reason.starts_with("solo:")),
        "{r:?}"
    );
}

// ---- properties -----------------------------------------------------------------------------

fn spec_strategy() -> impl Strategy<Value = (Spec, Vec<bool>, Vec<(String, String)>)> {
    (2usize..=8).prop_flat_map(|n| {
        let h = (
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            2..=n,
            proptest::option::weighted(0.85, 0..n),
            any::<bool>(),
            proptest::bool::weighted(0.3),
            proptest::collection::vec(any::<bool>(), n),
        );
        (
            Just(n),
            proptest::collection::vec(any::<bool>(), n),
            proptest::collection::vec(h, 0..5),
        )
            .prop_map(|(n, at_target, hs)| {
                let mut hiers = vec![];
                let mut resync = vec![];
                for (i, (perm, k, active, isu, mirror, rs)) in hs.into_iter().enumerate() {
                    let nodes: Vec<usize> = perm[..k].to_vec();
                    let active = active.map(|a| a % k);
                    let tag = format!("h{i}");
                    if mirror {
                        if let Some(a) = active {
                            for (j, x) in nodes.iter().enumerate() {
                                if j != a && rs[*x] {
                                    resync.push((format!("dk-{tag}"), name(*x)));
                                }
                            }
                        }
                    }
                    hiers.push(Hier {
                        tag,
                        nodes,
                        active,
                        isu,
                        mirror,
                    });
                }
                (Spec { n, hiers }, at_target, resync)
            })
    })
}

fn homes(w: &World) -> BTreeMap<String, usize> {
    w.placement.clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The plan played on the model makes exactly the predicted switchovers, keeps every
    /// hierarchy in service, moves each at most twice (away and back) and never when its home
    /// needs no upgrade, never onto a witness, an unsynced mirror or a node not upgraded while
    /// an upgraded one could take it (asserted in `play`), and ends with every hierarchy home.
    #[test]
    fn the_plan_played_step_by_step_makes_exactly_the_predicted_switchovers(
        (spec, at_target, resync) in spec_strategy()
    ) {
        let w0 = spec.world(&at_target, &resync);
        let c = spec.facts(&w0);
        let p = plan(&c, &params("t0"), None).unwrap();
        let mut w = w0.clone();
        let made = run(&spec, &c, &p, &mut w);
        prop_assert_eq!(&made, &p.switchovers);
        prop_assert_eq!(&w.placement, &homes(&w0));
        prop_assert!(w.version.iter().all(|v| v == TARGET));
        for (t, home) in &w0.placement {
            let n = made.iter().filter(|m| &m.tag == t).count();
            prop_assert!(n <= 2, "{} switched {} times", t, n);
            if at_target[*home] {
                prop_assert_eq!(n, 0, "{} moved though its home needs no upgrade", t);
            }
        }
        let witnesses: Vec<String> = (0..spec.n)
            .filter(|i| !spec.hiers.iter().any(|h| h.nodes.contains(i)))
            .map(name)
            .collect();
        prop_assert!(made.iter().all(|m| !witnesses.contains(&m.to)));
        // Nothing to upgrade: no plan recorded, nothing moves.
        if at_target.iter().all(|t| *t) {
            prop_assert!(p.record.is_none() && made.is_empty());
        }
    }

    /// A run stopped at any step (a failed upgrade leaves its node at the old version: the cut
    /// before that Upgrade step) and planned again from what the nodes then show and the
    /// recorded plan makes exactly the rest of the first plan's switchovers, and every
    /// hierarchy ends at its recorded home.
    #[test]
    fn a_rerun_from_any_recorded_stage_makes_the_rest_of_the_switchovers(
        (spec, at_target, resync) in spec_strategy(),
        cut in any::<prop::sample::Index>(),
        down in any::<bool>(),
    ) {
        let w0 = spec.world(&at_target, &resync);
        let c = spec.facts(&w0);
        let first = plan(&c, &params("t0"), None).unwrap();
        let all = steps(&first);
        let cut = cut.index(all.len() + 1);
        let mut w = w0.clone();
        let mut made = vec![];
        for (wave, s) in &all[..cut] {
            made.extend(play(&spec, &c, &mut w, *wave, s));
            all_served(&w, &w0);
        }
        let mut c2 = spec.facts(&w);
        // The upgrade that failed there may have left LifeKeeper down on its node.
        if let (true, Some((wave, Step::Upgrade { .. }))) = (down, all.get(cut)) {
            stop(&mut c2, &name(wave - 1));
        }
        let again = plan(&c2, &params("t1"), first.record.as_ref()).unwrap();
        prop_assert_eq!(again.resumed, first.record.is_some());
        prop_assert_eq!(&again.switchovers[..], &first.switchovers[made.len()..]);
        made.extend(run(&spec, &c2, &again, &mut w));
        prop_assert_eq!(&made, &first.switchovers);
        prop_assert_eq!(&w.placement, &homes(&w0));
        if let Some(r) = &again.record {
            prop_assert_eq!(&r.created, "t0", "the resumed plan is the recorded one");
        }
    }
}

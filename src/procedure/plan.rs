//! The plan as data: from the facts of every node, the recorded plan and the parameters, every
//! step of the rolling upgrade of one cluster and every switchover it makes, in order.
//!
//! The switchovers are worked out by playing the steps on a tracked placement (root tag ->
//! node), the way the run will make them: a standby call moves each tag it names that is in
//! service on the node to the call's `switch_to` (or the tag's default target), a return brings
//! each home tag back. The check-mode prediction is this list; a real run makes these calls.

use super::facts::{Cluster, Params, Refusal};
use super::record::{self, Decision, Record, RecordNode};
use super::targets::{default_target, standby_target};
use super::waves::{self, Gate, Wave};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One lk_resource `state=standby` call: `switch_to` (absent: each tag's default target) and
/// the root tags it names (only tags in service on the node; never every root by default, so a
/// hierarchy in service nowhere is not restored by surprise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switch_to: Option<String>,
    pub tags: Vec<String>,
}

/// A DataKeeper mirror that must be in sync toward `target` before the step goes on
/// (lk_resource `wait_for_mirror_sync`, the playbooks' mirror_wait.yml).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct MirrorWait {
    pub mirror: String,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Switch the node's hierarchies to peers (lk_resource standby, one call per target).
    Standby {
        targets: BTreeMap<String, String>,
        calls: Vec<Call>,
        mirror_waits: Vec<MirrorWait>,
    },
    /// Upgrade LifeKeeper (lk_upgrade).
    Upgrade { from: String, to: String },
    /// The version is the target, LifeKeeper runs, every comm path ALIVE, and the mirrors toward
    /// the node in sync.
    Verify {
        version: String,
        mirror_waits: Vec<MirrorWait>,
    },
    /// Bring the node's home hierarchies back (lk_resource active).
    Return {
        tags: Vec<String>,
        mirror_waits: Vec<MirrorWait>,
    },
}

/// One node: its wave and its steps in order (standby, upgrade, verify in its upgrade wave;
/// return in its return wave).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodePlan {
    pub node: String,
    pub wave: usize,
    pub version_before: Option<String>,
    pub version_now: Option<String>,
    pub upgrade: bool,
    pub witness: bool,
    pub home_tags: Vec<String>,
    pub upgrade_steps: Vec<Step>,
    pub return_steps: Vec<Step>,
}

/// A predicted switchover: a root hierarchy moved from a node to another in a wave and stage
/// (`upgrade`: the standby before the node's upgrade; `return`: the way home).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Switchover {
    pub tag: String,
    pub from: String,
    pub to: String,
    pub wave: usize,
    pub stage: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub cluster: String,
    pub target_version: String,
    /// The run resumes an open recorded plan (its homes and versions before).
    pub resumed: bool,
    pub waves: Vec<Wave>,
    pub nodes: Vec<NodePlan>,
    pub switchovers: Vec<Switchover>,
    pub gates: Vec<Gate>,
    /// Root tag -> node now, and after the run.
    pub placement_now: BTreeMap<String, String>,
    pub placement_after: BTreeMap<String, String>,
    /// Root hierarchies in service on no node now: no step moves them.
    pub unserved: Vec<String>,
    /// The plan to persist (None: nothing to upgrade and nothing open, so nothing is recorded).
    pub record: Option<Record>,
    /// An open plan this one replaces (lk_new_plan), kept as history by the caller.
    pub replaces: Option<Record>,
    /// Every step done: the recorded plan is closed.
    pub finished: bool,
}

/// The whole plan of one cluster, or why it is refused (before anything changes).
pub fn plan(c: &Cluster, p: &Params, found: Option<&Record>) -> Result<Plan, Vec<Refusal>> {
    let mut refused = c.refusals();
    if let Some(s) = &p.switch_to {
        if !c.order.contains(s) {
            refused.push(Refusal::node(
                s,
                format!("switch_to {s} is not a node of cluster {}", c.name),
            ));
        }
    }
    let decision = record::decide(found, &p.version, p.new_plan);
    let resume = match &decision {
        Decision::Resume(r) => Some(r),
        _ => None,
    };
    // A node whose LifeKeeper is down: where its hierarchies are is unknown, so only a rerun of
    // an open plan may go on with it, and only when that node still needs its upgrade (it
    // stopped half-way: lk_upgrade resumes it); its peers show where the hierarchies are.
    for n in &c.order {
        let Some(f) = c.node(n) else { continue };
        let pending = f
            .lifekeeper
            .version
            .as_deref()
            .is_some_and(|v| v != p.version);
        let may_go_on = f.up() || (resume.is_some() && pending);
        if !may_go_on {
            refused.push(Refusal::node(
                n,
                format!("LifeKeeper is not running on {n} (or its resources were not gathered): where its hierarchies are is unknown; start it and plan again"),
            ));
        }
    }
    if let Decision::OtherTarget(r) = &decision {
        refused.push(Refusal::cluster(format!(
            "cluster {} has an open plan for {} (recorded {}), not {}: finish it with that target version (-e lk_target_version={}), or start over with a new plan (new_plan; -e lk_new_plan=true)",
            c.name, r.target_version, r.created, p.version, r.target_version
        )));
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    let ws = waves::waves(c, &p.version);
    let placement_now = c.placement();
    let (resumed, replaces) = match &decision {
        Decision::Resume(_) => (true, None),
        Decision::New { replaces } => (false, replaces.clone()),
        Decision::OtherTarget(_) => unreachable!("refused above"),
    };
    // Homes: the resumed plan's, else where the hierarchies are in service now.
    let home_tags: BTreeMap<&str, Vec<String>> = c
        .order
        .iter()
        .map(|n| {
            let tags = match resume {
                Some(r) => r.node(n).map(|x| x.home_tags.clone()).unwrap_or_default(),
                None => c
                    .node(n)
                    .map(|f| {
                        f.roots()
                            .filter(|r| r.in_service())
                            .map(|r| r.tag.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            (n.as_str(), tags)
        })
        .collect();
    let mut homes: BTreeMap<String, String> = BTreeMap::new();
    for n in &c.order {
        for t in &home_tags[n.as_str()] {
            homes.insert(t.clone(), n.clone());
        }
    }
    let version_now = |n: &str| c.node(n).and_then(|f| f.lifekeeper.version.clone());
    let version_before = |n: &str| match resume {
        Some(r) => r
            .node(n)
            .and_then(|x| x.version_before.clone())
            .or_else(|| version_now(n)),
        None => version_now(n),
    };
    let mirrors_of = c.mirrors_of();
    // The root hierarchies a node carries: as it shows them, or (LifeKeeper down) as recorded.
    let roots_of = |m: &str| -> Vec<String> {
        match c.node(m) {
            Some(f) if f.up() => f.roots().map(|r| r.tag.clone()).collect(),
            _ => resume
                .and_then(|r| r.node(m))
                .map(|x| x.root_tags.clone())
                .unwrap_or_default(),
        }
    };
    let up = |m: &str| c.node(m).is_some_and(|f| f.up());
    let mut resyncing = c.resyncing();

    let mut placement = placement_now.clone();
    let mut switchovers = vec![];
    let mut nodes: Vec<NodePlan> = vec![];
    let mut refused = vec![];
    for w in &ws {
        let n = w.node.as_str();
        let f = c.node(n).expect("checked by refusals");
        let roots: Vec<&super::facts::Resource> = f.roots().collect();
        let mut steps = vec![];
        if w.upgrade {
            let settled = waves::settled(&ws, w.wave);
            let mut targets = BTreeMap::new();
            let mut order_moved: Vec<(String, String)> = vec![];
            for r in roots
                .iter()
                .filter(|r| placement.get(&r.tag).map(String::as_str) == Some(n))
            {
                let dflt = default_target(&r.primary, r.backup.as_deref(), n);
                let to = standby_target(
                    p.switch_to.as_deref(),
                    homes.get(&r.tag).map(String::as_str),
                    dflt.as_deref(),
                    &settled,
                    |m| roots_of(m).contains(&r.tag),
                );
                let Some(to) = to else {
                    refused.push(Refusal::node(n, format!(
                        "{}: no node to switch it over to while {n} is upgraded (BACKUP is ------ and PRIMARY is {n}); extend it to a peer, or give switch_to", r.tag
                    )));
                    continue;
                };
                // A node down now runs again after its own upgrade wave (verified): only a move
                // onto it before then would fail.
                let later = c.order.iter().position(|x| *x == to).unwrap_or(0) + 1 > w.wave;
                if !up(&to) && later {
                    refused.push(Refusal::node(
                        &to,
                        format!("{}: LifeKeeper is not running on {to}, which would take it over while {n} is upgraded", r.tag),
                    ));
                    continue;
                }
                if !roots_of(&to).contains(&r.tag) {
                    refused.push(Refusal::node(
                        &to,
                        format!("{}: {to} has no resource {} to take it over (a witness, or the hierarchy is not extended there)", r.tag, r.tag),
                    ));
                    continue;
                }
                targets.insert(r.tag.clone(), to.clone());
                order_moved.push((r.tag.clone(), to));
            }
            // The calls: one per node chosen instead of a hierarchy's default target (in order
            // of first appearance), then one for the rest with the default targets.
            let mut calls: Vec<Call> = vec![];
            let mut rest = vec![];
            for (t, to) in &order_moved {
                let dflt = roots
                    .iter()
                    .find(|r| &r.tag == t)
                    .and_then(|r| default_target(&r.primary, r.backup.as_deref(), n));
                if p.switch_to.is_none() && dflt.as_deref() == Some(to.as_str()) {
                    rest.push(t.clone());
                } else if let Some(cl) = calls
                    .iter_mut()
                    .find(|cl| cl.switch_to.as_deref() == Some(to))
                {
                    cl.tags.push(t.clone());
                } else {
                    calls.push(Call {
                        switch_to: Some(to.clone()),
                        tags: vec![t.clone()],
                    });
                }
            }
            if !rest.is_empty() {
                calls.push(Call {
                    switch_to: None,
                    tags: rest,
                });
            }
            // The moves, in the order the calls make them.
            let mut mirror_waits = vec![];
            for cl in &calls {
                for t in &cl.tags {
                    let to = targets[t].clone();
                    for m in mirrors_of.get(t).into_iter().flatten() {
                        if resyncing.remove(&(m.clone(), to.clone())) {
                            mirror_waits.push(MirrorWait {
                                mirror: m.clone(),
                                target: to.clone(),
                            });
                        }
                    }
                    switchovers.push(Switchover {
                        tag: t.clone(),
                        from: n.to_string(),
                        to: to.clone(),
                        wave: w.wave,
                        stage: "upgrade",
                    });
                    placement.insert(t.clone(), to);
                }
            }
            steps.push(Step::Standby {
                targets,
                calls,
                mirror_waits,
            });
            steps.push(Step::Upgrade {
                from: version_now(n).unwrap_or_default(),
                to: p.version.clone(),
            });
        }
        // After an upgrade (and on a node already at the target, verified only), every mirror
        // of a hierarchy this node carries is in sync toward it before the cluster goes on.
        let mut verify_waits: Vec<MirrorWait> = vec![];
        for t in roots_of(n) {
            for m in mirrors_of.get(&t).into_iter().flatten() {
                if placement.get(&t).map(String::as_str) != Some(n) {
                    resyncing.remove(&(m.clone(), n.to_string()));
                    verify_waits.push(MirrorWait {
                        mirror: m.clone(),
                        target: n.to_string(),
                    });
                }
            }
        }
        steps.push(Step::Verify {
            version: p.version.clone(),
            mirror_waits: verify_waits,
        });
        nodes.push(NodePlan {
            node: n.to_string(),
            wave: w.wave,
            version_before: version_before(n),
            version_now: version_now(n),
            upgrade: w.upgrade,
            witness: w.witness,
            home_tags: home_tags[n].clone(),
            upgrade_steps: steps,
            return_steps: vec![],
        });
    }
    // The return: each node takes back its home hierarchies, one node at a time.
    for (w, np) in ws.iter().zip(nodes.iter_mut()) {
        let n = w.node.as_str();
        if np.home_tags.is_empty() {
            continue;
        }
        let mut mirror_waits = vec![];
        for t in &np.home_tags {
            let from = placement.get(t).cloned();
            if from.as_deref() == Some(n) {
                continue;
            }
            for m in mirrors_of.get(t).into_iter().flatten() {
                if resyncing.remove(&(m.clone(), n.to_string())) {
                    mirror_waits.push(MirrorWait {
                        mirror: m.clone(),
                        target: n.to_string(),
                    });
                }
            }
            switchovers.push(Switchover {
                tag: t.clone(),
                from: from.unwrap_or_else(|| "none".into()),
                to: n.to_string(),
                wave: w.wave,
                stage: "return",
            });
            placement.insert(t.clone(), n.to_string());
        }
        np.return_steps.push(Step::Return {
            tags: np.home_tags.clone(),
            mirror_waits,
        });
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    let unserved: Vec<String> = c
        .order
        .iter()
        .filter_map(|n| c.node(n))
        .flat_map(|f| f.roots().map(|r| r.tag.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|t| !placement_now.contains_key(t))
        .collect();
    let needed = ws.iter().any(|w| w.upgrade);
    let finished = !needed && switchovers.is_empty();
    let record = match resume {
        Some(r) => {
            let mut r = r.clone();
            if finished {
                r.status = record::CLOSED.into();
                r.closed = Some(p.now.clone());
            }
            Some(r)
        }
        None if needed => Some(Record {
            cluster: c.name.clone(),
            target_version: p.version.clone(),
            status: record::OPEN.into(),
            created: p.now.clone(),
            closed: None,
            nodes: nodes
                .iter()
                .map(|np| RecordNode {
                    node: np.node.clone(),
                    wave: np.wave,
                    version_before: np.version_before.clone(),
                    home_tags: np.home_tags.clone(),
                    root_tags: roots_of(&np.node),
                })
                .collect(),
            homes: homes.clone(),
            extra: BTreeMap::new(),
        }),
        None => None,
    };
    Ok(Plan {
        cluster: c.name.clone(),
        target_version: p.version.clone(),
        resumed,
        gates: waves::gates(&ws),
        waves: ws,
        nodes,
        switchovers,
        placement_now,
        placement_after: placement,
        unserved,
        record,
        replaces,
        finished,
    })
}

//! What every node of a cluster reported, as the planner reads it: the result of `lk_info` on
//! each node (keyed by inventory host), the inventory order, and the run's parameters.
//!
//! Only the keys the planner needs are read; the rest of an lk_info result (msg, invocation,
//! packages...) is ignored, so a whole registered result can be passed as it is.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `lifekeeper` of an lk_info result.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Lifekeeper {
    #[serde(default)]
    pub installed: bool,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub running: bool,
    /// LifeKeeper's own name for the node.
    #[serde(default)]
    pub node: Option<String>,
}

/// One entry of lk_info's `resources`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Resource {
    pub tag: String,
    pub state: String,
    pub primary: String,
    #[serde(default)]
    pub backup: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub depth: usize,
    #[serde(rename = "type", default)]
    pub rtype: Option<String>,
}

impl Resource {
    /// ISP or ISU: in service (unprotected counts, as lk_resource and the playbooks count it).
    pub fn in_service(&self) -> bool {
        matches!(self.state.as_str(), "ISP" | "ISU")
    }
}

/// One entry of lk_info's `comm_paths`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CommPath {
    pub peer: String,
    #[serde(default)]
    pub state: Option<String>,
}

/// One target of a mirror (lk_info `mirrors[].targets`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MirrorTarget {
    pub target: String,
    #[serde(default)]
    pub state: Option<String>,
}

/// One DataKeeper mirror (lk_info `mirrors`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Mirror {
    pub tag: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub targets: Vec<MirrorTarget>,
}

impl MirrorTarget {
    /// Only a mirror shown `in sync` may receive its hierarchy; anything else (resyncing, paused,
    /// a layout not understood) counts as not in sync, as lk_resource counts it.
    pub fn in_sync(&self) -> bool {
        self.state.as_deref() == Some("in sync")
    }
}

/// The lk_info result of one node. `None` lists mean LifeKeeper was not running (unknown).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct NodeFacts {
    pub lifekeeper: Lifekeeper,
    #[serde(default)]
    pub resources: Option<Vec<Resource>>,
    #[serde(default)]
    pub comm_paths: Option<Vec<CommPath>>,
    #[serde(default)]
    pub mirrors: Option<Vec<Mirror>>,
}

impl NodeFacts {
    /// LifeKeeper answered and its resources were read.
    pub fn up(&self) -> bool {
        self.lifekeeper.running && self.resources.is_some()
    }
    pub fn resources(&self) -> &[Resource] {
        self.resources.as_deref().unwrap_or_default()
    }
    /// The root hierarchies (depth 0) this node knows, in lcdstatus order.
    pub fn roots(&self) -> impl Iterator<Item = &Resource> {
        self.resources().iter().filter(|r| r.depth == 0)
    }
    /// The root of the hierarchy `tag` belongs to (walking the parents).
    pub fn root_of<'a>(&'a self, tag: &'a str) -> Option<&'a str> {
        let res = self.resources();
        let mut cur = res.iter().find(|r| r.tag == tag)?;
        for _ in 0..res.len() {
            match cur.parent.as_deref() {
                None => return Some(&cur.tag),
                Some(p) => cur = res.iter().find(|r| r.tag == p)?,
            }
        }
        None
    }
    /// Every node this one names as a peer: its comm paths and the hierarchies' PRIMARY and
    /// BACKUP nodes (equivalencies).
    pub fn peers(&self) -> Vec<(String, &'static str)> {
        let mut out = vec![];
        for p in self.comm_paths.iter().flatten() {
            out.push((p.peer.clone(), "a comm path"));
        }
        for r in self.resources() {
            out.push((r.primary.clone(), "a hierarchy's PRIMARY"));
            if let Some(b) = &r.backup {
                out.push((b.clone(), "a hierarchy's BACKUP"));
            }
        }
        out
    }
}

/// One cluster as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub name: String,
    /// Inventory order: wave k is the k-th node.
    pub order: Vec<String>,
    /// Facts per inventory host; a node of `order` without facts was not reachable.
    pub facts: BTreeMap<String, NodeFacts>,
}

/// The run's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// The target version.
    pub version: String,
    /// Where every node's hierarchies go while it is upgraded (lk_switch_to); default: the rule
    /// of targets.rs.
    pub switch_to: Option<String>,
    /// Start over: an open recorded plan is replaced (lk_new_plan).
    pub new_plan: bool,
    /// When this plan is drafted (the planner reads no clock: the caller gives it).
    pub now: String,
}

/// Why a cluster's plan is refused before anything changes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// The node concerned, when there is one.
    pub node: Option<String>,
    pub reason: String,
}

impl Refusal {
    pub fn node(node: &str, reason: impl Into<String>) -> Refusal {
        Refusal {
            node: Some(node.to_string()),
            reason: reason.into(),
        }
    }
    pub fn cluster(reason: impl Into<String>) -> Refusal {
        Refusal {
            node: None,
            reason: reason.into(),
        }
    }
}

impl Cluster {
    /// The checks that stop a cluster before anything changes: every node of the inventory
    /// reported (an unreachable node's facts are missing), each under its LifeKeeper name,
    /// with its version known, and every peer LifeKeeper lists is a node
    /// of the inventory (a partial inventory would leave the cluster on mixed versions).
    pub fn refusals(&self) -> Vec<Refusal> {
        let mut out = vec![];
        for n in &self.order {
            let Some(f) = self.facts.get(n) else {
                out.push(Refusal::node(
                    n,
                    format!("no facts from {n} (unreachable, or lk_info did not run there): every node of the cluster must be seen before anything changes"),
                ));
                continue;
            };
            match f.lifekeeper.node.as_deref() {
                Some(name) if name != n => out.push(Refusal::node(
                    n,
                    format!("inventory host {n} is LifeKeeper node {name}: name the host {name} in the inventory (reach it with ansible_host)"),
                )),
                _ => {}
            }
            if !f.lifekeeper.installed {
                out.push(Refusal::node(
                    n,
                    format!("LifeKeeper is not installed on {n}"),
                ));
            } else if f.lifekeeper.version.is_none() {
                out.push(Refusal::node(
                    n,
                    format!("the installed LifeKeeper version on {n} could not be read"),
                ));
            }
            // LifeKeeper not running (resources unknown): plan.rs decides (a resumed plan may go
            // on with a node whose upgrade stopped half-way).
        }
        let mut seen = std::collections::BTreeSet::new();
        for n in &self.order {
            for (peer, how) in self.facts.get(n).map(NodeFacts::peers).unwrap_or_default() {
                if !self.order.contains(&peer) && seen.insert(peer.clone()) {
                    out.push(Refusal::node(
                        &peer,
                        format!("{peer} is a node of cluster {} ({n} lists it as {how}) but not in the inventory's nodes: the whole cluster must be in the run, or it would be left on mixed versions", self.name),
                    ));
                }
            }
        }
        out
    }

    pub fn node(&self, n: &str) -> Option<&NodeFacts> {
        self.facts.get(n)
    }

    /// Root tag -> the node of this cluster where it is in service now (the last node in
    /// inventory order wins, as placement_now.j2 decided).
    pub fn placement(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for n in &self.order {
            for r in self.facts.get(n).into_iter().flat_map(|f| f.roots()) {
                if r.in_service() {
                    out.insert(r.tag.clone(), n.clone());
                }
            }
        }
        out
    }

    /// The mirrors of each root hierarchy: root tag -> mirror tags (resources of type netraid).
    pub fn mirrors_of(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in self.facts.values() {
            for r in f
                .resources()
                .iter()
                .filter(|r| r.rtype.as_deref() == Some("netraid"))
            {
                if let Some(root) = f.root_of(&r.tag) {
                    let v = out.entry(root.to_string()).or_default();
                    if !v.contains(&r.tag) {
                        v.push(r.tag.clone());
                    }
                }
            }
        }
        out
    }

    /// (mirror tag, target node) pairs some node showed not in sync.
    pub fn resyncing(&self) -> std::collections::BTreeSet<(String, String)> {
        let mut out = std::collections::BTreeSet::new();
        for f in self.facts.values() {
            for m in f.mirrors.iter().flatten() {
                for t in m.targets.iter().filter(|t| !t.in_sync()) {
                    out.insert((m.tag.clone(), t.target.clone()));
                }
            }
        }
        out
    }
}

//! Who goes when: wave k is the k-th node of the cluster in inventory order (clusters run in
//! parallel, one node of each at a time). A node already at the target is not upgraded (it keeps
//! its hierarchies and is only verified); a witness (a node that carries no hierarchy) is upgraded
//! in its wave with no switchover. And the gates between the stages.

use super::facts::Cluster;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wave {
    /// 1-based.
    pub wave: usize,
    pub node: String,
    /// Its installed version differs from the target.
    pub upgrade: bool,
    /// It carries no hierarchy (no root resource at all; false when that is unknown).
    pub witness: bool,
}

pub fn waves(c: &Cluster, target: &str) -> Vec<Wave> {
    c.order
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let f = c.node(n);
            Wave {
                wave: i + 1,
                node: n.clone(),
                upgrade: f.and_then(|f| f.lifekeeper.version.as_deref()) != Some(target),
                // Unknown (LifeKeeper down) is not claimed a witness.
                witness: f.is_some_and(|f| f.up() && f.roots().next().is_none()),
            }
        })
        .collect()
}

/// The nodes that are not upgraded after wave `k`'s node (1-based): the earlier ones and those
/// already at the target, in inventory order, that node left out. A hierarchy parked there is
/// not switched again before it goes home.
pub fn settled(waves: &[Wave], k: usize) -> Vec<&str> {
    waves
        .iter()
        .filter(|w| w.wave != k && (w.wave < k || !w.upgrade))
        .map(|w| w.node.as_str())
        .collect()
}

/// A node goes on to `before` only when it is itself at stage `node_at`, every node of its
/// cluster got at least to `every_node_at` and every earlier node at least to `earlier_at`
/// (stages in order: new, checked, backed_up, upgraded, returned; failed stops the cluster).
/// A positive condition: a node that never recorded a stage (unreachable) stops its cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    pub before: String,
    pub node: String,
    pub node_at: &'static str,
    pub every_node_at: &'static str,
    pub earlier_at: &'static str,
}

/// The gates of a rolling upgrade, in the order they are passed (the playbooks' vars/gates.yml).
pub fn gates(waves: &[Wave]) -> Vec<Gate> {
    let mut out = vec![];
    for w in waves {
        out.push(Gate {
            before: "backup".into(),
            node: w.node.clone(),
            node_at: "checked",
            every_node_at: "checked",
            earlier_at: "checked",
        });
    }
    for w in waves {
        out.push(Gate {
            before: format!("upgrade wave {}", w.wave),
            node: w.node.clone(),
            node_at: "backed_up",
            every_node_at: "backed_up",
            earlier_at: "upgraded",
        });
    }
    for w in waves {
        out.push(Gate {
            before: format!("return wave {}", w.wave),
            node: w.node.clone(),
            node_at: "upgraded",
            every_node_at: "upgraded",
            earlier_at: "returned",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(wave: usize, upgrade: bool) -> Wave {
        Wave {
            wave,
            node: format!("n{wave}"),
            upgrade,
            witness: false,
        }
    }

    #[test]
    fn settled_are_the_earlier_nodes_and_those_at_the_target() {
        let ws = [w(1, true), w(2, true), w(3, false), w(4, true)];
        let cases: [(usize, &[&str]); 4] = [
            (1, &["n3"]),
            (2, &["n1", "n3"]),
            (3, &["n1", "n2"]),
            (4, &["n1", "n2", "n3"]),
        ];
        for (k, want) in cases {
            assert_eq!(settled(&ws, k), want, "wave {k}");
        }
    }
}

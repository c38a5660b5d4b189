//! The persisted plan (the record a rerun resumes) and its rules.
//!
//! The same document the playbooks write (plan_draft.j2; `lk_report_dir/<cluster>/plan.json`
//! and `lk_backup_dir/lkops-plan.<cluster>.json`): each node's wave, version before and home
//! hierarchies, every hierarchy's home, the target, when it was recorded and its status
//! (`open` until the cluster finished, then `closed`; `replaced` when lk_new_plan replaced it).
//! Keys this code does not know are kept as they are.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordNode {
    pub node: String,
    pub wave: usize,
    #[serde(default)]
    pub version_before: Option<String>,
    #[serde(default)]
    pub home_tags: Vec<String>,
    /// Every root hierarchy the node carries (is extended to): a rerun that finds the node's
    /// LifeKeeper down (its upgrade stopped half-way) still knows which hierarchies it can take.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub cluster: String,
    pub target_version: String,
    pub status: String,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<String>,
    pub nodes: Vec<RecordNode>,
    #[serde(default)]
    pub homes: BTreeMap<String, String>,
    /// Whatever else a copy holds (controller_file, node_file...): kept.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

pub const OPEN: &str = "open";
pub const CLOSED: &str = "closed";

impl Record {
    pub fn is_open(&self) -> bool {
        self.status == OPEN
    }
    pub fn node(&self, n: &str) -> Option<&RecordNode> {
        self.nodes.iter().find(|x| x.node == n)
    }
}

/// The newest of the copies (by `created`); of equal ones a closed copy wins (closing rewrites
/// every copy, so a copy that missed it is the stale one). plan_pick.j2's rule.
pub fn pick(copies: &[Record]) -> Option<&Record> {
    let mut best: Option<&Record> = None;
    for c in copies {
        best = match best {
            None => Some(c),
            Some(b) if c.created > b.created || (c.created == b.created && c.status == CLOSED) => {
                Some(c)
            }
            keep => keep,
        };
    }
    best
}

/// What a run does with the recorded plan it found.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// An open plan for this target: its homes and versions before replace what the nodes
    /// show now (a failed run leaves hierarchies on a peer).
    Resume(Record),
    /// No open plan (none, closed, or lk_new_plan): a new one is drafted from the facts.
    New { replaces: Option<Record> },
    /// An open plan for another target version: the cluster stops before anything changes.
    OtherTarget(Record),
}

pub fn decide(found: Option<&Record>, target: &str, new_plan: bool) -> Decision {
    match found {
        Some(r) if r.is_open() && new_plan => Decision::New {
            replaces: Some(r.clone()),
        },
        Some(r) if r.is_open() && r.target_version != target => Decision::OtherTarget(r.clone()),
        Some(r) if r.is_open() => Decision::Resume(r.clone()),
        _ => Decision::New { replaces: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(created: &str, status: &str, target: &str) -> Record {
        Record {
            cluster: "demo".into(),
            target_version: target.into(),
            status: status.into(),
            created: created.into(),
            closed: None,
            nodes: vec![],
            homes: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn pick_takes_the_newest_copy_and_a_closed_one_of_equal_age() {
        let a = rec("2026-12-01T10:00:00Z", OPEN, "9.6.1");
        let b = rec("2026-12-02T10:00:00Z", OPEN, "9.6.1");
        let b_closed = rec("2026-12-02T10:00:00Z", CLOSED, "9.6.1");
        assert_eq!(pick(&[]), None);
        assert_eq!(pick(&[a.clone(), b.clone()]), Some(&b));
        assert_eq!(pick(&[b.clone(), a.clone()]), Some(&b));
        assert_eq!(pick(&[b.clone(), b_closed.clone()]), Some(&b_closed));
        assert_eq!(pick(&[b_closed.clone(), b.clone()]), Some(&b_closed));
    }

    #[test]
    fn decide_resumes_an_open_plan_for_the_target_only() {
        let open = rec("t", OPEN, "9.6.1");
        let cases = [
            (None, false, Decision::New { replaces: None }),
            (Some(open.clone()), false, Decision::Resume(open.clone())),
            (
                Some(open.clone()),
                true,
                Decision::New {
                    replaces: Some(open.clone()),
                },
            ),
            (
                Some(rec("t", CLOSED, "9.6.1")),
                false,
                Decision::New { replaces: None },
            ),
            (
                Some(rec("t", OPEN, "9.6.2")),
                false,
                Decision::OtherTarget(rec("t", OPEN, "9.6.2")),
            ),
        ];
        for (found, new_plan, want) in cases {
            assert_eq!(decide(found.as_ref(), "9.6.1", new_plan), want);
        }
    }

    #[test]
    fn a_playbook_written_plan_reads_and_keeps_its_other_keys() {
        let text = r#"{"cluster": "demo", "controller_file": "/x/plan.json", "created": "2026-12-01T10:00:00Z",
            "homes": {"ip": "node-b"}, "node_file": "lkops-plan.demo.json",
            "nodes": [{"home_tags": ["ip"], "node": "node-b", "version_before": "9.4.0", "wave": 2}],
            "status": "open", "target_version": "9.6.1"}"#;
        let r: Record = serde_json::from_str(text).unwrap();
        assert_eq!(r.node("node-b").unwrap().home_tags, ["ip"]);
        let back = serde_json::to_value(&r).unwrap();
        let orig: Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig);
    }
}

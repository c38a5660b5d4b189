//! DataKeeper mirrors (resource type `netraid`, issue 17).
//!
//! A netraid resource is a mirror from the node where it is in service (the source) to every
//! other node that has the resource (the targets).  Each target is in sync, resyncing (with
//! progress) or paused.  The state is not stored as such: nodes record *events* and the state
//! is computed from them, so that every event is written by the node where it happens (a TCP
//! peer's state is never written from another node, see `model::Node::save`):
//! - the source records when it became the source (a resync toward every target starts),
//!   and the resyncs, pauses and forces `mirror_action` started toward one target;
//! - a target records the resyncs that started when its LifeKeeper started, and
//!   `lksim mirror resync`.
//!
//! The latest resync window (start, duration) toward a target decides: before its end the
//! target is resyncing, after it in sync; a pause recorded by the source wins.  Bringing a
//! mirror into service on a target that is not in sync fails (`ops::restore`).

use crate::model::{Node, NodeRuntime, ResourceDef, World};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const TYPE: &str = "netraid";

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub start_ms: u64,
    pub dur_ms: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct OwnResync {
    pub source: String,
    #[serde(flatten)]
    pub window: Window,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct MirrorRec {
    /// This node became the source then; a resync toward every target started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_since: Option<Window>,
    /// As the source: resyncs started toward one target (mirror_action).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, Window>,
    /// As the source: paused targets and their progress when paused.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub paused: BTreeMap<String, u32>,
    /// As a target: a resync from `source` started here (LifeKeeper start, lksim mirror resync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own: Option<OwnResync>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sync {
    InSync,
    Resyncing { progress: u32, remaining_ms: u64 },
    Paused { progress: u32 },
}

impl Sync {
    pub fn in_sync(&self) -> bool {
        *self == Sync::InSync
    }
    pub fn describe(&self) -> String {
        match self {
            Sync::InSync => "in sync".into(),
            Sync::Resyncing { progress, .. } => format!("resyncing, {progress}% done"),
            Sync::Paused { progress } => format!("paused at {progress}%"),
        }
    }
}

pub fn is_mirror(r: &ResourceDef) -> bool {
    r.rtype == TYPE
}

/// How long a resync takes on this node: `--resync-seconds` (real seconds), else the
/// timings' `resync` times the time scale (0 by default: instant).
pub fn resync_ms(rt: &NodeRuntime) -> u64 {
    match rt.resync_seconds {
        Some(s) => (s * 1000.0) as u64,
        None => rt.timings.scaled(rt.timings.resync).as_millis() as u64,
    }
}

/// The nodes that have the mirror `tag` of node `i` (i itself first), with their tags.
pub fn members(w: &World, i: usize, tag: &str) -> Vec<(usize, String)> {
    let mut out = vec![(i, tag.to_string())];
    if let Some(r) = w.nodes[i].res(tag) {
        for e in &r.equivalents {
            if let Some(j) = w.idx(&e.node) {
                if w.nodes[j].res(&e.tag).is_some() && !out.iter().any(|(k, _)| *k == j) {
                    out.push((j, e.tag.clone()));
                }
            }
        }
    }
    out
}

fn rec<'a>(n: &'a Node, tag: &str) -> Option<&'a MirrorRec> {
    n.rt.mirrors.get(tag)
}

/// The mirror's source: where it is in service, else where it was in service last.
pub fn source_of(w: &World, i: usize, tag: &str) -> Option<usize> {
    let m = members(w, i, tag);
    if let Some((j, _)) = m.iter().find(|(j, t)| {
        let n = &w.nodes[*j];
        !n.rt.down && crate::ops::in_service(&n.state_of(t))
    }) {
        return Some(*j);
    }
    m.iter()
        .filter_map(|(j, t)| {
            rec(&w.nodes[*j], t)
                .and_then(|r| r.source_since.as_ref())
                .map(|s| (s.start_ms, *j))
        })
        .max()
        .map(|(_, j)| j)
}

/// The state of the mirror (`tag` as node `i` names it) toward target `j`.
pub fn state_toward(w: &World, i: usize, tag: &str, j: usize, now: u64) -> Sync {
    let Some(s) = source_of(w, i, tag) else {
        return Sync::InSync; // never in service anywhere: nothing to copy yet
    };
    if s == j {
        return Sync::InSync;
    }
    let m = members(w, i, tag);
    let tag_on = |k: usize| m.iter().find(|(x, _)| *x == k).map(|(_, t)| t.clone());
    let (Some(st), Some(jt)) = (tag_on(s), tag_on(j)) else {
        return Sync::InSync;
    };
    let target = w.nodes[j].name.clone();
    let src = rec(&w.nodes[s], &st);
    let mut windows: Vec<&Window> = Vec::new();
    if let Some(r) = src {
        windows.extend(r.source_since.iter());
        windows.extend(r.targets.get(&target));
    }
    if let Some(o) = rec(&w.nodes[j], &jt).and_then(|r| r.own.as_ref()) {
        if o.source == w.nodes[s].name {
            windows.push(&o.window);
        }
    }
    if let Some(p) = src.and_then(|r| r.paused.get(&target)) {
        return Sync::Paused { progress: *p };
    }
    let Some(win) = windows.into_iter().max_by_key(|x| x.start_ms) else {
        return Sync::InSync;
    };
    let end = win.start_ms + win.dur_ms;
    if now >= end {
        Sync::InSync
    } else {
        let done = now.saturating_sub(win.start_ms);
        Sync::Resyncing {
            progress: (done * 100 / win.dur_ms.max(1)) as u32,
            remaining_ms: end - now,
        }
    }
}

/// The mirrors in `order` (tags of node `i`) that may not come into service on `i` now, with
/// the reason.
pub fn blocked(w: &World, i: usize, order: &[String]) -> Vec<(String, String)> {
    let now = crate::clock::now_ms();
    let mut out = Vec::new();
    for t in order {
        let n = &w.nodes[i];
        let Some(r) = n.res(t) else { continue };
        if !is_mirror(r) || crate::ops::in_service(&n.state_of(t)) {
            continue;
        }
        let st = state_toward(w, i, t, i, now);
        if !st.in_sync() {
            let src = source_of(w, i, t)
                .map(|s| w.nodes[s].name.clone())
                .unwrap_or_default();
            out.push((
                t.clone(),
                format!(
                    "mirror \"{t}\" from \"{src}\" is not in sync on \"{}\" ({}); it cannot be brought into service here until the resynchronization has finished",
                    n.name,
                    st.describe()
                ),
            ));
        }
    }
    out
}

/// A mirror came into service on node `i`.  When the source changed, a resync toward every
/// target starts.
pub fn on_restored(w: &mut World, i: usize, tag: &str) {
    let m = members(w, i, tag);
    let last = m
        .iter()
        .filter_map(|(j, t)| {
            rec(&w.nodes[*j], t)
                .and_then(|r| r.source_since.as_ref())
                .map(|s| (s.start_ms, *j))
        })
        .max()
        .map(|(_, j)| j);
    if last == Some(i) {
        return; // back on the same node
    }
    let dur = resync_ms(&w.nodes[i].rt);
    let r = w.nodes[i].rt.mirrors.entry(tag.to_string()).or_default();
    *r = MirrorRec {
        source_since: Some(Window {
            start_ms: crate::clock::now_ms(),
            dur_ms: dur,
        }),
        ..Default::default()
    };
}

/// LifeKeeper started on node `i`: every mirror it is a target of resyncs.
pub fn on_started(w: &mut World, i: usize) {
    let tags: Vec<String> = w.nodes[i]
        .res
        .iter()
        .filter(|r| is_mirror(r))
        .map(|r| r.tag.clone())
        .collect();
    for t in tags {
        let Some(s) = source_of(w, i, &t) else {
            continue;
        };
        if s == i {
            continue;
        }
        let source = w.nodes[s].name.clone();
        let dur = resync_ms(&w.nodes[i].rt);
        start_own(&mut w.nodes[i], &t, &source, dur);
    }
}

/// Start a resync toward node `n` (a target) from `source` now.
pub fn start_own(n: &mut Node, tag: &str, source: &str, dur_ms: u64) {
    let r = n.rt.mirrors.entry(tag.to_string()).or_default();
    r.own = Some(OwnResync {
        source: source.to_string(),
        window: Window {
            start_ms: crate::clock::now_ms(),
            dur_ms,
        },
    });
}

/// The mirror's created source: cluster create / install record it on the active node.
pub fn created_source(rt: &mut NodeRuntime, tag: &str) {
    rt.mirrors.insert(
        tag.to_string(),
        MirrorRec {
            source_since: Some(Window {
                start_ms: 0,
                dur_ms: 0,
            }),
            ..Default::default()
        },
    );
}

/// `mirror_status TAG` (layout UNCONFIRMED, see FIDELITY.md).
pub fn status_text(w: &World, i: usize, tag: &str) -> Result<String, String> {
    let Some(r) = w.nodes[i].res(tag) else {
        return Err(format!("{tag}: no such resource"));
    };
    if !is_mirror(r) {
        return Err(format!("{tag}: not a mirror (type {})", r.rtype));
    }
    let now = crate::clock::now_ms();
    let s = source_of(w, i, tag);
    let mut o = format!("Mirror: {tag}\n");
    o.push_str(&format!(
        "Source: {}\n",
        s.map(|s| w.nodes[s].name.clone())
            .unwrap_or_else(|| "none".into())
    ));
    for (j, _) in members(w, i, tag) {
        if Some(j) == s {
            continue;
        }
        let name = &w.nodes[j].name;
        let line = match state_toward(w, i, tag, j, now) {
            Sync::InSync => format!("Target: {name}  State: in sync  Progress: 100%"),
            Sync::Resyncing {
                progress,
                remaining_ms,
            } => format!(
                "Target: {name}  State: resyncing  Progress: {progress}%  Remaining: {}s",
                remaining_ms.div_ceil(1000)
            ),
            Sync::Paused { progress } => {
                format!("Target: {name}  State: paused  Progress: {progress}%")
            }
        };
        o.push_str(&line);
        o.push('\n');
    }
    Ok(o)
}

/// `mirror_action TAG pause|resume|force|fullresync [TARGET...]`, run on the source.
pub fn action(
    w: &mut World,
    i: usize,
    tag: &str,
    act: &str,
    targets: &[String],
) -> Result<Vec<String>, String> {
    let Some(r) = w.nodes[i].res(tag) else {
        return Err(format!("{tag}: no such resource"));
    };
    if !is_mirror(r) {
        return Err(format!("{tag}: not a mirror (type {})", r.rtype));
    }
    if !crate::ops::in_service(&w.nodes[i].state_of(tag)) {
        return Err(format!(
            "{tag}: the mirror is not in service on \"{}\"; run mirror_action on its source",
            w.nodes[i].name
        ));
    }
    let now = crate::clock::now_ms();
    let all: Vec<(usize, String)> = members(w, i, tag)
        .into_iter()
        .filter(|(j, _)| *j != i)
        .map(|(j, _)| (j, w.nodes[j].name.clone()))
        .collect();
    for t in targets {
        if !all.iter().any(|(_, n)| n == t) {
            return Err(format!("{tag}: \"{t}\" is not a target of this mirror"));
        }
    }
    let chosen: Vec<(usize, String)> = all
        .into_iter()
        .filter(|(_, n)| targets.is_empty() || targets.contains(n))
        .collect();
    let states: Vec<Sync> = chosen
        .iter()
        .map(|(j, _)| state_toward(w, i, tag, *j, now))
        .collect();
    let dur = resync_ms(&w.nodes[i].rt);
    let rec = w.nodes[i].rt.mirrors.entry(tag.to_string()).or_default();
    let mut log = Vec::new();
    for ((_, name), st) in chosen.iter().zip(states) {
        match act {
            "pause" => {
                let p = match st {
                    Sync::InSync => 100,
                    Sync::Resyncing { progress, .. } | Sync::Paused { progress } => progress,
                };
                rec.paused.insert(name.clone(), p);
                log.push(format!("{tag}: mirror to {name} paused"));
            }
            "resume" | "fullresync" => {
                rec.paused.remove(name);
                rec.targets.insert(
                    name.clone(),
                    Window {
                        start_ms: now,
                        dur_ms: dur,
                    },
                );
                log.push(format!("{tag}: resynchronization to {name} started"));
            }
            "force" => {
                rec.paused.remove(name);
                rec.targets.insert(
                    name.clone(),
                    Window {
                        start_ms: now,
                        dur_ms: 0,
                    },
                );
                log.push(format!("{tag}: mirror to {name} forced in sync"));
            }
            o => {
                return Err(format!(
                    "unknown action \"{o}\" (pause|resume|force|fullresync)"
                ))
            }
        }
    }
    Ok(log)
}

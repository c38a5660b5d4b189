//! lk_resource: "hierarchy X is in service on node Y" as a checkable desired state (issue 4).
//!
//! Reads `lcdstatus -e` (shared parser in `lifekeeper::status`), plans one action per root
//! hierarchy that is not where it should be, runs it with `perform_action` (here) or through
//! `lcdremexec -d NODE -- perform_action` (on the node taking a hierarchy over), then polls
//! `lcdstatus -e` until the states settle.
//!
//! Placement (the diff) needs every node's view of a hierarchy, not just ours: an OSU hierarchy
//! here may be ISP on the peer, or on nobody. We ask each peer that has an ALIVE comm path with
//! `lcdremexec -d PEER -- <remote_lkroot>/bin/lcdstatus -e` (read only) rather than deriving it
//! from our own view, which cannot tell "in service elsewhere" from "in service nowhere". A peer
//! whose paths are all DEAD, or whose answer cannot be read, is shown as `unknown`.
//! This node's own name comes from `lcdstatus -q` (its LOCAL column).

use crate::lifekeeper::mirrors;
use crate::lifekeeper::node;
use crate::lifekeeper::node_lock_remote;
use crate::lifekeeper::remote;
use crate::lifekeeper::status::{self, Resource as Res, Status};
// The one switchover rule (BACKUP, else PRIMARY), shared with the rolling-upgrade planner.
use crate::procedure::targets::default_target;
use crate::runtime::diff;
use crate::runtime::time;
use crate::runtime::{
    Cmd, Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support, LKROOT,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

crate::choice_enum! {
    /// Where the hierarchies should be (the `state` parameter).
    pub enum State {
        Query = "query",
        Active = "active",
        Standby = "standby",
    }
}

const PARAMS: &[Param] = &[
    Param::new(
        "state",
        Kind::Str,
        "C(query) only reads the status. C(active): the hierarchies are in service on this node (restored here, which switches them over from the node that holds them). C(standby): the hierarchies are out of service on this node.",
    )
    .choices(State::NAMES)
    .default("\"query\""),
    Param::new(
        "tags",
        Kind::List,
        "Root tags of the hierarchies to manage. A single string is accepted. Default: every root hierarchy known to this node.",
    ),
    Param::new(
        "switch_to",
        Kind::Str,
        "For C(state=standby): the node that takes the hierarchies over; they are restored there with C(lcdremexec -d NODE -- perform_action -t TAG -a restore). Default: each hierarchy's BACKUP node from C(lcdstatus -e), or its PRIMARY when this node is the lowest priority (BACKUP C(------)). C(none) only takes them out of service here (nobody serves them afterwards).",
    ),
    Param::new(
        "bottom_up",
        Kind::Bool,
        "Pass C(-b) to perform_action (act from the bottom of the hierarchy up to the tag only).",
    )
    .default("false"),
    Param::new(
        "wait",
        Kind::Int,
        "Seconds to wait for the states to settle after acting (no ILLSTATE, the wanted ISP/OSU reached). The module fails with the current states after that.",
    )
    .default("300")
    .range(0, 86400),
    Param::new(
        "timeout",
        Kind::Int,
        "Seconds allowed for each LifeKeeper command (C(lcdstatus), C(perform_action), C(lcdremexec)); a command still running then is killed and the module fails naming it. Default: 600, and at least I(wait) for C(perform_action).",
    )
    .range(1, 86400),
    LKROOT,
    Param::new(
        "wait_for_mirror_sync",
        Kind::Int,
        "DataKeeper: seconds to wait, before switching a hierarchy that holds a mirror (resource type C(netraid)) onto a node, until every mirror of that hierarchy is in sync toward that node (0 to 86400). Not in sync in time: the module fails naming the mirror, its target and its progress, and the hierarchy stays in service where it is. With I(state=query) and I(mirror_sync_target): how long to wait for the mirrors toward that node.",
    )
    .default("3600")
    .range(0, 86400),
    Param::new(
        "mirror_status_cmd",
        Kind::AbsPath,
        "The command that prints a mirror's sync state, run as C(CMD TAG) on this node. Its output layout is not public (UNCONFIRMED); anything the parser does not understand counts as not in sync. Default: C(<lkroot>/bin/mirror_status).",
    ),
    Param::new(
        "mirror_tags",
        Kind::List,
        "The DataKeeper mirror tags to respect. Default: the resources whose type is C(netraid) in the detailed C(lcdstatus) display. C([]): no hierarchy holds a mirror.",
    ),
    Param::new(
        "mirror_sync_target",
        Kind::Str,
        "Only with I(state=query): wait (up to I(wait_for_mirror_sync)) until every mirror known here is in sync toward this node name (C(this): this node) and report them in C(mirrors); fails when one is not in sync in time. Read-only.",
    ),
    Param::new(
        "remote_lkroot",
        Kind::AbsPath,
        "Where LifeKeeper is installed on the other nodes, for commands run there through C(lcdremexec). Default: the same as I(lkroot), as in every standard install.",
    ),
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_resource",
    short: "Query, restore, remove and switch over LifeKeeper resource hierarchies as a desired state",
    description: &[
        "Treats \"hierarchy X is in service on node Y\" as a desired state: reads C(lcdstatus -e), and only when a root hierarchy is not where it should be runs C(perform_action -t TAG -a restore|remove) here or C(lcdremexec -d NODE -- perform_action ...) on the node that takes it over.",
        "An OSF, ISU or ILLSTATE resource in a hierarchy counts as not in the wanted state.",
        "Refuses to leave a hierarchy served by nobody unless C(switch_to=none) is explicit, and refuses to switch over to a node whose comm paths are all DEAD.",
        "Returns the parsed status (resources with parent/depth, comm paths) also as C(ansible_facts.lifekeeper).",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Runs only status reads (C(lcdstatus -e), C(lcdstatus -q), and C(lcdstatus -e) on ALIVE peers through C(lcdremexec)); reports the actions it would take and the predicted placement.",
    ),
    diff_mode: (
        Support::Full,
        "Placement before/after, one line per root hierarchy, e.g. C(pgsql-5432: ISP on node-a, OSU on node-b); resources of the hierarchy in another state than its root are named in parentheses.",
    ),
    notes: &[
        "C(state=query) runs C(lcdstatus -e) and nothing else; when LifeKeeper is not running it succeeds with C(lifekeeper_running=false). C(active)/C(standby) fail when LifeKeeper is not running.",
        "A hierarchy that is already out of service here is left alone when another node serves it. When nobody serves it (for example an earlier switchover left it OSF on the target), it is restored on the target (C(switch_to), or the default), with a warning: leaving a hierarchy served by nobody needs C(switch_to=none).",
        "A failed perform_action fails the task with the resource states read right after the failure and the command's output tail (C(stderr_tail)).",
        "C(switch_to=none) runs C(perform_action -a remove) on each leaf of the hierarchy that is still in service: remove takes a tag and the resources above it down, not its children. A leaf shared with another root hierarchy takes that one down too.",
        "DataKeeper (issue 17): before a hierarchy that holds a mirror (resource type C(netraid), from the detailed C(lcdstatus) display, or I(mirror_tags)) is restored on a node (standby: on the target; active: here), every mirror in it must be in sync toward that node, read with C(mirror_status TAG) on this node. The module waits up to I(wait_for_mirror_sync) seconds (progress on stderr), re-reads right before each switch, and otherwise refuses before anything moves: a switchover removes the hierarchy from its source first, and a target still resynchronizing cannot bring it into service (an outage).",
        "UNCONFIRMED: the layout of C(mirror_status) output is not public; the parser accepts the simulator's (C(Mirror:), C(Source:), C(Target: NODE  State: in sync|resyncing|paused  Progress: N%  [Remaining: Ns])) and treats anything else as not in sync. Point I(mirror_status_cmd) at a wrapper that prints this layout if a real node differs. Also UNCONFIRMED: that C(mirror_status) answers on a target node (the simulator's does).",
        "Placement on the other nodes is read with C(lcdremexec -d NODE -- <remote_lkroot>/bin/lcdstatus -e); a node whose comm paths are all DEAD or that cannot be read is shown as C(unknown). An answer that is visibly not that node's status fails the task.",
        "C(lcdremexec) joins its words and the far side parses the line again with a shell: every word lkops sends through it (the remote command path, tags) is POSIX single-quoted, and C(-e) keeps the remote stderr out of the parsed stdout. A word holding a NUL, a newline or a carriage return is refused before anything changes. UNCONFIRMED: how the real lcdremexec carries the joined line (why newlines are refused rather than quoted).",
        "No switchover onto a node another lkops module is changing (issue 28 O1): an lk_upgrade there holds that node's lock for its whole run, and its setup stops LifeKeeper. Before anything moves (and in check mode) the lock of every target is probed read-only through C(lcdremexec), and the restore there runs holding it (C(flock(1)) in the shell lcdremexec runs on the far side, the lock file found as the modules find it: C(/run/lkops/<sha256 of the canonical lkroot, 16 hex>.lock)), so an upgrade cannot start between the check and the restore. A held lock fails the task naming the node; nothing moved there. The target needs C(flock) (util-linux), C(readlink), C(sha256sum) and C(cut); no Python.",
        "C(state=standby) with a switchover (not C(switch_to=none)) refuses before anything moves, and in check mode, while a resource of a managed hierarchy is OSF (failed) on this node (issue 28 W2): the target would serve the hierarchy but the failed resource stays OSF here for ever. The failure names each one in C(failed_resources) and the remedy (clear the failure here, or leave that hierarchy out with I(tags)).",
        "C(perform_action) (here or through C(lcdremexec)) runs with the caller's locale: it runs the applications' own restore and remove scripts, and lkops only quotes its output. The status reads run with C(LC_ALL=C), as their output is parsed.",
    ],
    examples: "- name: Move every hierarchy off this node before upgrading it
  lk_resource:
    state: standby

- name: Bring pgsql back here
  lk_resource:
    state: active
    tags: pgsql-5432

- name: Hand the IP over to node-c
  lk_resource:
    state: standby
    tags: [ip-10.0.0.50]
    switch_to: node-c

- name: Read the status for later tasks
  lk_resource:
  register: lk
",
    returns: &[
        Ret::new("lifekeeper_running", "bool", "always", "Whether LifeKeeper answers on this node.").sample("true"),
        Ret::new("node", "str", "when known", "This node's LifeKeeper name (from C(lcdstatus -q)).").sample("\"node-a\""),
        Ret::new("resources", "list", "always", "This node's resources after the run (predicted in check mode): tag, id, state, prio, primary, backup (null for C(------)), parent (null for a root), depth.")
            .sample("[{\"tag\": \"pgsql-5432\", \"id\": \"/var/run/postgresql/.s.PGSQL.5432\", \"state\": \"ISP\", \"prio\": 1, \"primary\": \"node-a\", \"backup\": \"node-b\", \"parent\": null, \"depth\": 0}]"),
        Ret::new("comm_paths", "list", "always", "This node's comm paths: machine, network, address, state, prio (null for TTY).")
            .sample("[{\"machine\": \"node-b\", \"network\": \"TCP\", \"address\": \"10.0.0.1/10.0.0.2\", \"state\": \"ALIVE\", \"prio\": 1}]"),
        Ret::new("actions", "list", "always", "What was done (or would be, in check mode), in order: tag, action (restore|remove), node.")
            .sample("[{\"tag\": \"pgsql-5432\", \"action\": \"restore\", \"node\": \"node-b\"}]"),
        Ret::new("switchovers", "list", "state is active or standby", "One entry per hierarchy moved from a node to another (or taken out of service: to null), in order: tag, from (the node serving it before, null if none), to, started (UTC ISO 8601 with ms, just before the first perform_action of that move), ended (when the last one returned, the root in service on the target), interruption_s. In check mode and with no change: started, ended and interruption_s are null.")
            .sample("[{\"tag\": \"pgsql-5432\", \"from\": \"node-a\", \"to\": \"node-b\", \"started\": \"2026-12-01T10:40:02.120Z\", \"ended\": \"2026-12-01T10:40:04.870Z\", \"interruption_s\": 2.75}]"),
        Ret::new("placement", "list", "state is active or standby", "One line per managed root hierarchy after the run (predicted in check mode).")
            .sample("[\"pgsql-5432: OSU on node-a, ISP on node-b\"]"),
        Ret::new("mirrors", "list", "state is active or standby, or query with mirror_sync_target", "One entry per DataKeeper mirror a switch needed in sync (read once in check mode: the wait a real run would do): tag, source, target, state (in_sync|resyncing|paused|unknown), progress (percent or null), remaining_s (when shown), root, waited_s (seconds waited until in sync), problem (why unknown).")
            .sample("[{\"tag\": \"datarep-x\", \"source\": \"node-a\", \"target\": \"node-b\", \"state\": \"in_sync\", \"progress\": 100, \"root\": \"app-x\", \"waited_s\": 4.2}]"),
        Ret::new("ansible_facts", "dict", "always", "C(lifekeeper): lifekeeper_running, node, resources, comm_paths, actions."),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub state: State,
    pub tags: Option<Vec<String>>,
    pub switch_to: Option<String>,
    pub bottom_up: bool,
    pub wait: i64,
    pub timeout: Option<i64>,
    pub lkroot: PathBuf,
    pub remote_lkroot: Option<PathBuf>,
    pub wait_for_mirror_sync: i64,
    pub mirror_status_cmd: Option<PathBuf>,
    pub mirror_tags: Option<Vec<String>>,
    pub mirror_sync_target: Option<String>,
}

pub struct Resource;

impl Module for Resource {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        validate(&p)?;
        // An explicit timeout bounds every command, the status reads included.
        let bounded;
        let ctx = match p.timeout {
            Some(t) => {
                bounded = ctx.bounded("timeout", t)?;
                &bounded
            }
            None => ctx,
        };
        // The node lock (issue 22 defects 5, 8): no hierarchy moves while another lkops module
        // (an lk_upgrade about to stop LifeKeeper) changes this node. Taken before the status is
        // read, so the plan is made from what that module left. Query and check mode change nothing.
        let _node_lock = if p.state == State::Query || ctx.check_mode {
            None
        } else {
            Some(crate::lifekeeper::node_lock::take(
                &p.lkroot,
                "lk_resource",
                std::time::Duration::from_secs(p.timeout.unwrap_or(600).max(1) as u64),
            )?)
        };
        let Some(local) = status::read(&ctx.runner, &p.lkroot)? else {
            return not_running(&p);
        };
        if p.state == State::Query {
            // The node's name too (`lcdstatus -q`): the playbooks match it to the inventory host
            // before anything moves (placement.yml). Query reported `node: null` always.
            let me = local_name(ctx, &p.lkroot)?;
            let o = report(
                Outcome::new(false, summary(&local)),
                true,
                me.as_deref(),
                &local,
                &[],
            );
            return match &p.mirror_sync_target {
                None => Ok(o),
                Some(t) => query_mirror_sync(ctx, &p, &local, t, o),
            };
        }
        let mut view = View::read(ctx, &p, local)?;
        let roots = select_roots(&p, &view.local)?;
        let (steps, warnings) = plan(&p, &view, &roots)?;
        // Before anything moves, and in check mode too: no switchover onto a node that another
        // lkops module is changing (issue 28 O1). The restore itself holds that node's lock.
        targets_free(ctx, &p, &view, &steps)?;
        let before = placement(&view, &roots);
        let changed = !steps.is_empty();
        let actions: Vec<Value> = steps.iter().map(Step::json).collect();
        // DataKeeper: which mirrors each restore needs in sync toward its node. Read before
        // anything moves; a display we cannot read fails here, never half-way.
        let mirror_tags = mirror_tags(ctx, &p, &view.local, &steps)?;
        let needs: Vec<Vec<Need>> = steps
            .iter()
            .map(|s| mirror_needs(&view.local, &mirror_tags, s))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(p.wait_for_mirror_sync as u64);
        // Who served each moved root before anything ran (a step changes it).
        let from: Vec<Option<String>> = steps.iter().map(|s| serving(&view, &s.tag)).collect();

        if ctx.check_mode || steps.is_empty() {
            // The wait a real run would do: the mirrors as they are now (no waiting here).
            let all: Vec<Need> = needs.iter().flatten().cloned().collect();
            let waits = sync_wait(ctx, &p, &all, deadline, true)?;
            if ctx.check_mode {
                for s in &steps {
                    view.apply(s);
                }
            }
            let after = placement(&view, &roots);
            let pending: Vec<String> = waits
                .iter()
                .filter(|w| w["state"] != "in_sync")
                .map(|w| {
                    format!(
                        "{} toward {}",
                        w["tag"].as_str().unwrap_or("?"),
                        w["target"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            let msg = if changed && !pending.is_empty() {
                format!(
                    "would wait up to {}s for mirror {} to be in sync, then {}",
                    p.wait_for_mirror_sync,
                    pending.join(", "),
                    describe(&steps)
                )
            } else if changed {
                format!("would {}", describe(&steps))
            } else {
                "all hierarchies already in the wanted state".to_string()
            };
            let moves: Vec<Value> = steps
                .iter()
                .zip(&from)
                .map(|(s, f)| switchover(s, f.as_deref(), None))
                .collect();
            return Ok(placed(
                Outcome::new(changed, msg),
                &view,
                &actions,
                &before,
                &after,
                warnings,
            )
            .with("mirrors", waits)
            .with("switchovers", moves));
        }

        let mut waits: Vec<Value> = vec![];
        let mut moves = vec![];
        for (i, s) in steps.iter().enumerate() {
            // Right before the switch (a mirror may have gone out of sync since the plan):
            // never remove a hierarchy from its source toward a target not in sync.
            waits.extend(
                sync_wait(ctx, &p, &needs[i], deadline, false)
                    .map_err(|f| f.changed(i > 0).with("actions", actions[..i].to_vec()))?,
            );
            ctx.progress(&format!("{} {} on {}", s.action, s.tag, s.node));
            // perform_action is synchronous: the remove on the old node starts after t0 and the
            // restore on the target has finished when it returns, so [t0, t1] bounds the time
            // the root was served by nobody (it cannot be measured closer from here).
            let t0 = time::now_ms();
            for cmd in &s.cmds {
                let out = ctx.runner.run(cmd)?;
                if !out.ok() {
                    let remote = s.node != view.me();
                    let f = match node_lock_remote::other_refusal(out.rc, &s.node) {
                        _ if !remote => {
                            out.failure(&format!("{} of {} on {} failed", s.action, s.tag, s.node))
                        }
                        _ if out.rc == node_lock_remote::HELD && !out.timed_out => {
                            Failure::new(node_lock_remote::held_message(&s.tag, &s.node))
                                .with("target", s.node.clone())
                        }
                        Some(m) if !out.timed_out => Failure::new(m),
                        _ => remote_failure(&out, s),
                    };
                    return Err(failed_with_states(ctx, &p, f, &actions[..=i], &roots)
                        .with("switchovers", moves));
                }
            }
            moves.push(switchover(
                s,
                from[i].as_deref(),
                Some((t0, time::now_ms())),
            ));
        }
        let view = settle(ctx, &p, &roots, &steps, &actions)?;
        let after = placement(&view, &roots);
        Ok(placed(
            Outcome::new(true, describe(&steps)),
            &view,
            &actions,
            &before,
            &after,
            warnings,
        )
        .with("mirrors", waits)
        .with("switchovers", moves))
    }
}

// ---- input --------------------------------------------------------------------------------

/// A value passed as one literal argument must not be read as an option or break a line.
fn literal(name: &str, v: &str) -> Result<(), Failure> {
    if v.trim().is_empty() {
        return Err(Failure::param(name, format!("{name} must not be empty")));
    }
    if v.starts_with('-') {
        return Err(Failure::param(
            name,
            format!("{name} {v:?} starts with '-' and would be read as an option"),
        ));
    }
    if v.contains(['\n', '\r', '\0']) {
        return Err(Failure::param(
            name,
            format!("{name} {v:?} contains a newline or NUL"),
        ));
    }
    Ok(())
}

fn validate(p: &Params) -> Result<(), Failure> {
    for t in p.tags.iter().flatten() {
        literal("tags", t)?;
    }
    if let Some(s) = &p.switch_to {
        literal("switch_to", s)?;
        if p.state != State::Standby {
            return Err(Failure::param(
                "switch_to",
                format!(
                    "switch_to only applies to state=standby (state is {})",
                    p.state
                ),
            ));
        }
    }
    if p.timeout.is_some_and(|t| t < 1) {
        return Err(Failure::param(
            "timeout",
            format!(
                "timeout must be at least 1 second, got {}",
                p.timeout.unwrap_or_default()
            ),
        ));
    }
    // wait_for_mirror_sync (range) and mirror_status_cmd (AbsPath): the runtime checked them.
    for t in p.mirror_tags.iter().flatten() {
        literal("mirror_tags", t)?;
    }
    if let Some(t) = &p.mirror_sync_target {
        literal("mirror_sync_target", t)?;
        if p.state != State::Query {
            return Err(Failure::param(
                "mirror_sync_target",
                format!(
                    "mirror_sync_target only applies to state=query (state is {}); active and standby wait for the mirrors toward the node they switch to",
                    p.state
                ),
            ));
        }
    }
    if p.wait < 0 {
        return Err(Failure::param(
            "wait",
            format!("wait must be 0 or more seconds, got {}", p.wait),
        ));
    }
    // lkroot and remote_lkroot are Kind::AbsPath: the runtime checked them.
    Ok(())
}

/// The root hierarchies to manage: the given tags (each must be a root known here) or all.
fn select_roots(p: &Params, st: &Status) -> Result<Vec<String>, Failure> {
    let Some(tags) = &p.tags else {
        return Ok(st.roots().map(|r| r.tag.clone()).collect());
    };
    let known: Vec<&str> = st.roots().map(|r| r.tag.as_str()).collect();
    let mut out: Vec<String> = vec![];
    for t in tags {
        match st.resource(t) {
            None => {
                return Err(Failure::param(
                    "tags",
                    format!(
                        "no resource {t:?} on this node; root hierarchies here: {}",
                        known.join(", ")
                    ),
                ));
            }
            Some(r) if r.depth > 0 => {
                let root = root_of(st, t).unwrap_or_default();
                return Err(Failure::param("tags", format!("{t:?} is not a root tag (it is part of the hierarchy {root:?}); give the root tag")));
            }
            Some(_) if !out.contains(t) => out.push(t.clone()),
            Some(_) => {}
        }
    }
    Ok(out)
}

fn root_of(st: &Status, tag: &str) -> Option<String> {
    let mut cur = st.resource(tag)?;
    while let Some(p) = &cur.parent {
        cur = st.resource(p)?;
    }
    Some(cur.tag.clone())
}

// ---- reading the cluster ------------------------------------------------------------------

/// What we know: this node's status and name, and each peer's status (None: unreadable/DEAD).
#[derive(Debug, Clone)]
struct View {
    me: Option<String>,
    local: Status,
    peers: BTreeMap<String, Option<Status>>,
}

impl View {
    fn read(ctx: &Ctx, p: &Params, local: Status) -> Result<View, Failure> {
        let me = local_name(ctx, &p.lkroot)?;
        let mut peers = BTreeMap::new();
        for peer in local.peers() {
            let v = if any_alive(&local, &peer) {
                read_peer(ctx, p, &peer, me.as_deref())?
            } else {
                None
            };
            peers.insert(peer, v);
        }
        Ok(View { me, local, peers })
    }

    fn me(&self) -> String {
        self.me.clone().unwrap_or_else(|| "this node".into())
    }

    /// Every node's status we know, this node included, keyed by name.
    fn nodes(&self) -> BTreeMap<String, Option<&Status>> {
        let mut m: BTreeMap<String, Option<&Status>> = self
            .peers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref()))
            .collect();
        m.insert(self.me(), Some(&self.local));
        m
    }

    fn status_mut(&mut self, node: &str) -> Option<&mut Status> {
        if node == self.me() {
            Some(&mut self.local)
        } else {
            self.peers.get_mut(node).and_then(|s| s.as_mut())
        }
    }

    /// Predict the effect of a step, as perform_action behaves: restore brings the whole
    /// hierarchy ISP on its node and removes it (ISP/ISU → OSU) wherever else it was in
    /// service; remove takes it OSU on its node.
    fn apply(&mut self, s: &Step) {
        let set = |st: &mut Status, root: &str, f: &dyn Fn(&str) -> Option<&'static str>| {
            let tags: Vec<String> = st.hierarchy(root).iter().map(|r| r.tag.clone()).collect();
            for r in st.resources.iter_mut().filter(|r| tags.contains(&r.tag)) {
                if let Some(n) = f(&r.state) {
                    r.state = n.into();
                }
            }
        };
        match s.action {
            "restore" => {
                let names: Vec<String> = self.nodes().keys().cloned().collect();
                for n in names {
                    if let Some(st) = self.status_mut(&n) {
                        if n == s.node {
                            set(st, &s.tag, &|_| Some("ISP"));
                        } else {
                            set(st, &s.tag, &|x| {
                                status::State::of(x).in_service().then_some("OSU")
                            });
                        }
                    }
                }
            }
            _ => {
                if let Some(st) = self.status_mut(&s.node) {
                    set(st, &s.tag, &|_| Some("OSU"));
                }
            }
        }
    }
}

fn any_alive(st: &Status, node: &str) -> bool {
    st.paths_to(node).any(|c| c.state == "ALIVE")
}

fn remote_lkroot(p: &Params) -> &Path {
    p.remote_lkroot.as_deref().unwrap_or(&p.lkroot)
}

/// This node's LifeKeeper name (`lcdstatus -q`, see `lifekeeper::node::in_status`).
fn local_name(ctx: &Ctx, lkroot: &Path) -> Result<Option<String>, Failure> {
    node::in_status(&ctx.runner, lkroot)
}

/// A peer's `lcdstatus -e` through lcdremexec. Unreadable → None (shown as unknown). A status
/// that lists the peer itself as a remote machine is not the peer's: refuse it loudly rather than
/// act on a wrong picture (this is what a misrouted lcdremexec would return).
fn read_peer(
    ctx: &Ctx,
    p: &Params,
    peer: &str,
    me: Option<&str>,
) -> Result<Option<Status>, Failure> {
    let lcdstatus = remote_lkroot(p).join("bin").join("lcdstatus");
    let cmd = remote::lcdremexec(
        &p.lkroot,
        peer,
        &[lcdstatus.to_string_lossy().as_ref(), "-e"],
        "remote_lkroot",
    )?;
    let st = match status::read_cmd(&ctx.runner, cmd) {
        Ok(Some(st)) => st,
        Ok(None) | Err(_) => return Ok(None),
    };
    let machines = st.peers();
    if machines.iter().any(|m| m == peer)
        || me.is_some_and(|m| !machines.is_empty() && !machines.iter().any(|x| x == m))
    {
        return Err(Failure::new(format!(
            "`lcdremexec -d {peer} -- {}/bin/lcdstatus -e` answered with a status that is not {peer}'s (its comm paths go to {}); check remote_lkroot",
            remote_lkroot(p).display(),
            machines.join(", ")
        )));
    }
    Ok(Some(st))
}

// ---- planning -----------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Step {
    tag: String,
    action: &'static str,
    node: String,
    /// Usually one command; a remove is one per in-service leaf (see `remove_cmds`).
    cmds: Vec<Cmd>,
}

impl Step {
    fn json(&self) -> Value {
        json!({"tag": self.tag, "action": self.action, "node": self.node})
    }
}

/// The node where `root` is in service (ISP) before a step, if any.
fn serving(view: &View, root: &str) -> Option<String> {
    view.nodes().into_iter().find_map(|(n, st)| {
        st.and_then(|st| st.resource(root))
            .filter(|r| r.state() == status::State::Isp)
            .map(|_| n)
    })
}

/// One `switchovers` entry; `times` (ms) is None in check mode.
fn switchover(s: &Step, from: Option<&str>, times: Option<(i64, i64)>) -> Value {
    let to = (s.action == "restore").then_some(s.node.as_str());
    let (started, ended, secs) = match times {
        Some((a, b)) => (
            Some(time::iso8601_ms(a)),
            Some(time::iso8601_ms(b)),
            Some((b - a) as f64 / 1000.0),
        ),
        None => (None, None, None),
    };
    json!({"tag": s.tag, "from": from, "to": to, "started": started, "ended": ended, "interruption_s": secs})
}

fn all_in(st: &Status, root: &str, want: status::State) -> bool {
    st.hierarchy(root).iter().all(|r| r.state() == want)
}

/// perform_action may run a long restore script: at least the settle time, unless the caller
/// bounded every command with `timeout`.
fn action_timeout(p: &Params) -> Duration {
    Duration::from_secs(
        p.timeout
            .map_or((p.wait.max(0) as u64).max(600), |t| t.max(1) as u64),
    )
}

fn perform_action(lkroot: &Path, p: &Params, tag: &str, action: &str) -> Cmd {
    let mut c = Cmd::lk(lkroot, "perform_action");
    if p.bottom_up {
        c = c.arg("-b");
    }
    // perform_action runs the applications' own restore/remove scripts: they keep the site's
    // locale (we only quote its output, never parse it).
    // A switchover must not stop half-way when this module dies with the controller (issue 28:
    // perform_action took the hierarchy down on the peer, then died writing to our pipe).
    c.args(["-t", tag, "-a", action])
        .timeout(action_timeout(p))
        .site_locale()
        .outlives_caller()
}

/// A remote restore that failed: the command is a long script (`node_lock_remote`), so the
/// message names what it runs; the result keeps the whole command line (cmd), rc and tail.
fn remote_failure(out: &crate::runtime::CmdOutput, s: &Step) -> Failure {
    let mut f = out.failure("restore");
    f.msg = format!(
        "{} of {} on {} failed: `lcdremexec -d {} -- perform_action -t {} -a {}` (run holding {}'s lkops node lock) {}{}",
        s.action,
        s.tag,
        s.node,
        s.node,
        s.tag,
        s.action,
        s.node,
        if out.timed_out {
            "timed out".to_string()
        } else {
            format!("exited with rc={}", out.rc)
        },
        match out.tail().lines().last() {
            Some(l) if !l.trim().is_empty() => format!(": {l}"),
            _ => String::new(),
        }
    );
    f
}

/// Issue 28 O1: every node a step restores a hierarchy on (a switchover target) must not be
/// locked by another lkops module: an lk_upgrade there holds its node lock from its plan to its
/// last step, and its setup stops LifeKeeper. Read-only (`node_lock_remote::probe`), so check
/// mode predicts the refusal; the restore itself runs holding the lock (no window between).
fn targets_free(ctx: &Ctx, p: &Params, view: &View, steps: &[Step]) -> Result<(), Failure> {
    let me = view.me();
    let mut seen: Vec<&str> = vec![];
    for s in steps
        .iter()
        .filter(|s| s.action == "restore" && s.node != me)
    {
        if seen.contains(&s.node.as_str()) {
            continue;
        }
        seen.push(&s.node);
        let cmd = node_lock_remote::probe(&p.lkroot, remote_lkroot(p), &s.node)?
            .timeout(Duration::from_secs(p.timeout.unwrap_or(60).max(1) as u64));
        let out = ctx.runner.run(&cmd)?;
        if out.ok() {
            continue;
        }
        let what: Vec<&str> = steps
            .iter()
            .filter(|x| x.node == s.node)
            .map(|x| x.tag.as_str())
            .collect();
        return Err(if out.rc == node_lock_remote::HELD && !out.timed_out {
            Failure::new(node_lock_remote::held_message(&what.join(", "), &s.node))
                .with("target", s.node.clone())
        } else if let Some(m) = node_lock_remote::other_refusal(out.rc, &s.node) {
            Failure::new(m)
        } else {
            // The command is a long script: the message says what it is for, the result keeps
            // the command line (cmd), rc and output tail.
            let mut f = out.failure("probe");
            f.msg = format!(
                "cannot restore {} on {}: lcdremexec could not check first that no lkops module is changing {} ({}{})",
                what.join(", "),
                s.node,
                s.node,
                if out.timed_out {
                    "timed out".to_string()
                } else {
                    format!("rc={}", out.rc)
                },
                match out.tail().lines().last() {
                    Some(l) if !l.trim().is_empty() => format!(": {l}"),
                    _ => String::new(),
                }
            );
            f
        });
    }
    Ok(())
}

/// One step per root hierarchy that is not in the wanted state, plus warnings.
fn plan(p: &Params, view: &View, roots: &[String]) -> Result<(Vec<Step>, Vec<String>), Failure> {
    let me = view.me();
    let mut steps = vec![];
    let mut warnings = vec![];
    if let Some(t) = p.switch_to.as_deref().filter(|t| *t != "none") {
        if t == me {
            return Err(Failure::param(
                "switch_to",
                format!("switch_to {t:?} is this node; use state=active to bring hierarchies here"),
            ));
        }
        if !view.peers.contains_key(t) {
            let peers: Vec<&str> = view.peers.keys().map(String::as_str).collect();
            return Err(Failure::param(
                "switch_to",
                format!(
                    "switch_to {t:?} is not a node this one has comm paths to (known: {})",
                    peers.join(", ")
                ),
            ));
        }
    }
    refuse_failed_here(p, view, roots)?;
    for root in roots {
        let here = view
            .local
            .resource(root)
            .expect("selected from the local status");
        if p.state == State::Active {
            if !all_in(&view.local, root, status::State::Isp) {
                steps.push(Step {
                    tag: root.clone(),
                    action: "restore",
                    node: me.clone(),
                    cmds: vec![perform_action(&p.lkroot, p, root, "restore")],
                });
            }
            continue;
        }
        // standby
        let out_here = all_in(&view.local, root, status::State::Osu);
        match p.switch_to.as_deref() {
            Some("none") => {
                if !out_here {
                    steps.push(Step {
                        tag: root.clone(),
                        action: "remove",
                        node: me.clone(),
                        cmds: remove_cmds(p, &view.local, root),
                    });
                }
            }
            explicit => {
                let target = match explicit {
                    Some(t) => t.to_string(),
                    None => match default_target(&here.primary, here.backup.as_deref(), &me) {
                        Some(t) => t,
                        None if out_here => continue,
                        None => {
                            return Err(Failure::param("switch_to", format!(
                                "{root}: no node to switch over to (BACKUP is ------ and PRIMARY is this node); give switch_to, or switch_to=none to leave it served by nobody"
                            )))
                        }
                    },
                };
                let target_view = view.peers.get(&target);
                let serving = target_view.and_then(|v| v.as_ref()).is_some_and(|v| {
                    v.resource(root)
                        .is_some_and(|r| r.state() == status::State::Isp)
                });
                // Already out of service here and served elsewhere: nothing to do. Served by
                // nobody (e.g. an earlier switchover left it OSF on the target): restore it on
                // the target, since leaving a hierarchy served by nobody needs switch_to=none.
                if out_here && (serving || (explicit.is_none() && served_anywhere(view, root))) {
                    continue;
                }
                if out_here && !serving {
                    warnings.push(format!(
                        "{root} was in service on no node; restoring it on {target}"
                    ));
                }
                if target_view.is_none() {
                    return Err(Failure::param("switch_to", format!("{root}: the target {target:?} is not a node this one has comm paths to")));
                }
                if !any_alive(&view.local, &target) {
                    return Err(Failure::new(format!(
                        "refusing to switch {root} over to {target}: all comm paths to {target} are DEAD; bring them up, choose another node with switch_to, or take it out of service with switch_to=none"
                    ))
                    .with("resources", json!(view.local.resources))
                    .with("comm_paths", json!(view.local.comm_paths)));
                }
                if let Some(Some(tv)) = target_view {
                    if tv.resource(root).is_none() {
                        return Err(Failure::new(format!("refusing to switch {root} over to {target}: {target} has no resource {root}")));
                    }
                }
                // Every word quoted for the far side's shell (lcdremexec re-parses the line);
                // a word that cannot be quoted safely refuses the run before anything changes.
                let action = remote_lkroot(p).join("bin").join("perform_action");
                let mut words = vec![action.to_string_lossy().into_owned()];
                if p.bottom_up {
                    words.push("-b".into());
                }
                words.extend(["-t".into(), root.clone(), "-a".into(), "restore".into()]);
                // Run holding the target's lkops node lock (issue 28 O1): never while an
                // lk_upgrade there (whose setup stops LifeKeeper) is in progress.
                let cmd = node_lock_remote::run_holding(
                    &p.lkroot,
                    remote_lkroot(p),
                    &target,
                    &words,
                    "tags",
                )?
                .timeout(action_timeout(p))
                .site_locale()
                .outlives_caller();
                steps.push(Step {
                    tag: root.clone(),
                    action: "restore",
                    node: target,
                    cmds: vec![cmd],
                });
            }
        }
    }
    Ok((steps, warnings))
}

/// Issue 28 W2: a switchover away from this node while a resource of a managed hierarchy is OSF
/// (failed) here. The restore on the target brought the hierarchy into service there, but the
/// failed resource stays OSF here, never the OSU a standby waits for: the run failed after
/// `wait` with changed: true and no switchover listed, while check mode had predicted a clean
/// run. Refused up front (this is the plan, so check mode predicts it), naming each failed
/// resource and the remedy. `switch_to=none` (take out of service only) is not a switchover.
fn refuse_failed_here(p: &Params, view: &View, roots: &[String]) -> Result<(), Failure> {
    if p.state != State::Standby || p.switch_to.as_deref() == Some("none") {
        return Ok(());
    }
    let failed: Vec<(&str, &str)> = roots
        .iter()
        .flat_map(|root| {
            view.local
                .hierarchy(root)
                .into_iter()
                .filter(|r| r.state() == status::State::Osf)
                .map(move |r| (root.as_str(), r.tag.as_str()))
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    let me = view.me();
    let named: Vec<String> = failed
        .iter()
        .map(|(root, tag)| {
            if root == tag {
                format!("{tag} (a root)")
            } else {
                format!("{tag} (in the hierarchy {root})")
            }
        })
        .collect();
    let first = failed[0];
    Err(Failure::new(format!(
        "refusing to switch over: {} is OSF (failed) on {me}; a switchover would bring the hierarchy into service on the target but leave the failed resource OSF here, so {me} would never be out of service. Nothing was moved. Find why it failed (the LifeKeeper log on {me}), then clear the failure: bring the hierarchy back into service here (lk_resource state=active tags={}) or take it out of service here ({}/bin/perform_action -t {} -a remove), and rerun; or leave that hierarchy out of this run with tags",
        named.join(", "),
        first.0,
        p.lkroot.display(),
        first.1,
    ))
    .with(
        "failed_resources",
        failed
            .iter()
            .map(|(root, tag)| json!({"tag": tag, "root": root, "state": "OSF", "node": me}))
            .collect::<Vec<Value>>(),
    )
    .with("resources", json!(view.local.resources)))
}

/// `perform_action -a remove` takes a tag and the resources *above* it out of service, not its
/// children (reference §3: "remove stops every object above the tag and then the tag itself").
/// So a whole hierarchy goes out of service by removing each of its leaves that is not OSU yet:
/// each remove clears its branch up to the root. Limitation: a leaf shared with another root
/// hierarchy also takes that one down (lcdstatus -e shows a shared child under one parent only,
/// so it cannot be seen from here).
fn remove_cmds(p: &Params, st: &Status, root: &str) -> Vec<Cmd> {
    let h = st.hierarchy(root);
    h.iter()
        .filter(|r| {
            !h.iter()
                .any(|c| c.parent.as_deref() == Some(r.tag.as_str()))
        })
        .filter(|leaf| {
            // a leaf whose branch (leaf and ancestors up to the root) is all OSU needs nothing
            let mut cur: Option<&Res> = Some(leaf);
            let mut all_osu = true;
            while let Some(r) = cur {
                all_osu &= r.state() == status::State::Osu;
                cur = r
                    .parent
                    .as_deref()
                    .and_then(|t| h.iter().copied().find(|x| x.tag == t));
            }
            !all_osu
        })
        .map(|leaf| perform_action(&p.lkroot, p, &leaf.tag, "remove"))
        .collect()
}

fn served_anywhere(view: &View, root: &str) -> bool {
    view.nodes().values().any(|s| match s {
        Some(s) => s.resource(root).is_some_and(|r| r.in_service()),
        None => true, // unknown: do not claim nobody serves it
    })
}

// ---- DataKeeper mirrors ---------------------------------------------------------------------

/// One mirror that must be in sync toward `target` before `root` is restored there.
#[derive(Debug, Clone, PartialEq)]
struct Need {
    root: String,
    tag: String,
    target: String,
}

fn mirror_cmd(p: &Params) -> PathBuf {
    p.mirror_status_cmd
        .clone()
        .unwrap_or_else(|| p.lkroot.join("bin").join("mirror_status"))
}

/// The mirror tags: given, or detected (only when some step restores a hierarchy, so the
/// common no-op run costs no extra command).
fn mirror_tags(ctx: &Ctx, p: &Params, st: &Status, steps: &[Step]) -> Result<Vec<String>, Failure> {
    if let Some(t) = &p.mirror_tags {
        return Ok(t.clone());
    }
    if !steps.iter().any(|s| s.action == "restore") {
        return Ok(vec![]);
    }
    let known: Vec<&str> = st.resources.iter().map(|r| r.tag.as_str()).collect();
    mirrors::detect(&ctx.runner, &p.lkroot, &known)
}

/// A restore onto `s.node` needs every mirror of the hierarchy in sync toward that node.
fn mirror_needs(st: &Status, mirror_tags: &[String], s: &Step) -> Vec<Need> {
    if s.action != "restore" {
        return vec![];
    }
    st.hierarchy(&s.tag)
        .iter()
        .filter(|r| mirror_tags.contains(&r.tag))
        .map(|r| Need {
            root: s.tag.clone(),
            tag: r.tag.clone(),
            target: s.node.clone(),
        })
        .collect()
}

/// Wait until every need is in sync (`once`: read once, do not wait — check mode, which fails
/// only when the real run would fail at once, i.e. `wait_for_mirror_sync: 0`). Returns one
/// entry per need: tag, source, target, state, progress, waited_s, root. Not in sync by
/// `deadline`: a failure naming the mirror, its target and its progress; nothing was done.
fn sync_wait(
    ctx: &Ctx,
    p: &Params,
    needs: &[Need],
    deadline: Instant,
    once: bool,
) -> Result<Vec<Value>, Failure> {
    if needs.is_empty() {
        return Ok(vec![]);
    }
    let start = Instant::now();
    let cmd = mirror_cmd(p);
    let mut waited: Vec<Option<f64>> = vec![None; needs.len()];
    loop {
        let mut read: BTreeMap<&str, mirrors::MirrorStatus> = BTreeMap::new();
        for n in needs {
            if !read.contains_key(n.tag.as_str()) {
                read.insert(&n.tag, mirrors::read_status(&ctx.runner, &cmd, &n.tag)?);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        for (i, n) in needs.iter().enumerate() {
            if waited[i].is_none() && read[n.tag.as_str()].in_sync_toward(&n.target) {
                waited[i] = Some(secs);
            }
        }
        let entries: Vec<Value> = needs
            .iter()
            .zip(&waited)
            .map(|(n, w)| {
                let mut v = read[n.tag.as_str()].json_toward(&n.target);
                v["root"] = json!(n.root);
                v["waited_s"] = json!(w.map_or(secs, |w| (w * 10.0).round() / 10.0));
                v
            })
            .collect();
        let pending: Vec<&Need> = needs
            .iter()
            .zip(&waited)
            .filter(|(_, w)| w.is_none())
            .map(|(n, _)| n)
            .collect();
        if pending.is_empty() || (once && p.wait_for_mirror_sync > 0) {
            return Ok(entries);
        }
        let what: Vec<String> = pending
            .iter()
            .map(|n| {
                format!(
                    "mirror {} toward {} is {}",
                    n.tag,
                    n.target,
                    read[n.tag.as_str()].describe_toward(&n.target)
                )
            })
            .collect();
        if once || Instant::now() >= deadline {
            let n = pending[0];
            let source = read[n.tag.as_str()].source.clone();
            if p.state == State::Query {
                return Err(Failure::new(format!(
                    "not every mirror is in sync toward {}: {} after waiting {}s (wait_for_mirror_sync)",
                    n.target,
                    what.join("; "),
                    start.elapsed().as_secs()
                ))
                .with("mirrors", entries));
            }
            return Err(Failure::new(format!(
                "refusing to switch {} over to {}: {} after waiting {}s (wait_for_mirror_sync); {} stays in service where it is{}",
                n.root,
                n.target,
                what.join("; "),
                start.elapsed().as_secs(),
                n.root,
                source.map(|s| format!(" (mirror source {s})")).unwrap_or_default()
            ))
            .with("mirrors", entries));
        }
        ctx.progress(&format!(
            "waiting for DataKeeper: {} ({}s of {}s)",
            what.join("; "),
            start.elapsed().as_secs(),
            p.wait_for_mirror_sync
        ));
        std::thread::sleep(
            Duration::from_secs(1)
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(100)),
        );
    }
}

/// `state=query` with `mirror_sync_target`: wait for every mirror known here toward that node.
fn query_mirror_sync(
    ctx: &Ctx,
    p: &Params,
    local: &Status,
    target: &str,
    o: Outcome,
) -> Result<Outcome, Failure> {
    let target = if target == "this" {
        match local_name(ctx, &p.lkroot)? {
            Some(n) => n,
            // no resource here: no mirror here either
            None => return Ok(o.with("mirrors", Vec::<Value>::new())),
        }
    } else {
        target.to_string()
    };
    let tags = match &p.mirror_tags {
        Some(t) => t.clone(),
        None => {
            let known: Vec<&str> = local.resources.iter().map(|r| r.tag.as_str()).collect();
            mirrors::detect(&ctx.runner, &p.lkroot, &known)?
        }
    };
    let needs: Vec<Need> = tags
        .iter()
        .map(|t| Need {
            root: root_of(local, t).unwrap_or_else(|| t.clone()),
            tag: t.clone(),
            target: target.clone(),
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(p.wait_for_mirror_sync as u64);
    let waits = sync_wait(ctx, p, &needs, deadline, ctx.check_mode)?;
    Ok(o.with("mirrors", waits))
}

// ---- acting and settling ------------------------------------------------------------------

/// Is every managed hierarchy where the steps put it (and nothing in ILLSTATE)?
fn settled(view: &View, roots: &[String], steps: &[Step]) -> bool {
    let me = view.me();
    for root in roots {
        if view
            .local
            .hierarchy(root)
            .iter()
            .any(|r| r.state() == status::State::Illstate)
        {
            return false;
        }
        for s in steps.iter().filter(|s| &s.tag == root) {
            let want_here = if s.node == me && s.action == "restore" {
                status::State::Isp
            } else {
                status::State::Osu
            };
            if !all_in(&view.local, root, want_here) {
                return false;
            }
            if s.node != me {
                if let Some(Some(tv)) = view.peers.get(&s.node) {
                    if !all_in(tv, root, status::State::Isp) {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Poll until settled or `wait` seconds have passed.
fn settle(
    ctx: &Ctx,
    p: &Params,
    roots: &[String],
    steps: &[Step],
    actions: &[Value],
) -> Result<View, Failure> {
    let deadline = Instant::now() + Duration::from_secs(p.wait as u64);
    loop {
        let local = status::read(&ctx.runner, &p.lkroot)
            .map_err(|f| f.changed(true))?
            .ok_or_else(|| {
                Failure::new("LifeKeeper stopped running while the hierarchies were settling")
                    .changed(true)
            })?;
        let view = View::read(ctx, p, local).map_err(|f| f.changed(true))?;
        if settled(&view, roots, steps) {
            return Ok(view);
        }
        if Instant::now() >= deadline {
            return Err(Failure::new(format!(
                "the hierarchies did not settle within {}s after {}; current placement: {}",
                p.wait,
                describe(steps),
                placement(&view, roots).join("; ")
            ))
            .changed(true)
            .with("resources", json!(view.local.resources))
            .with("comm_paths", json!(view.local.comm_paths))
            .with("actions", actions.to_vec())
            .with("placement", placement(&view, roots)));
        }
        std::thread::sleep(
            Duration::from_secs(2)
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(100)),
        );
    }
}

/// A failed perform_action: the failure plus the states read right after it.
fn failed_with_states(
    ctx: &Ctx,
    p: &Params,
    f: Failure,
    actions: &[Value],
    roots: &[String],
) -> Failure {
    let mut f = f.changed(true).with("actions", actions.to_vec());
    match status::read(&ctx.runner, &p.lkroot) {
        Ok(Some(st)) => {
            let placement = View::read(ctx, p, st.clone())
                .map(|v| placement(&v, roots))
                .unwrap_or_default();
            f = f
                .with("resources", json!(st.resources))
                .with("comm_paths", json!(st.comm_paths))
                .with("placement", placement)
                .with("lifekeeper_running", true);
        }
        Ok(None) => f = f.with("lifekeeper_running", false),
        Err(e) => f.msg.push_str(&format!(
            " (and the status could not be read afterwards: {})",
            e.msg
        )),
    }
    f
}

// ---- output -------------------------------------------------------------------------------

/// `root: ISP on node-a, OSU on node-b` per root; a node's resources whose state differs from
/// its root are named in parentheses, so a half-restored hierarchy shows in the diff.
fn placement(view: &View, roots: &[String]) -> Vec<String> {
    roots
        .iter()
        .map(|root| {
            let parts: Vec<String> = view
                .nodes()
                .into_iter()
                .filter_map(|(node, st)| match st {
                    None => Some(format!("unknown on {node}")),
                    Some(st) => {
                        let h = st.hierarchy(root);
                        let top = h.first()?;
                        let odd: Vec<String> = h[1..]
                            .iter()
                            .filter(|r| r.state != top.state)
                            .map(|r| format!("{} {}", r.tag, r.state))
                            .collect();
                        Some(if odd.is_empty() {
                            format!("{} on {node}", top.state)
                        } else {
                            format!("{} on {node} ({})", top.state, odd.join(", "))
                        })
                    }
                })
                .collect();
            format!("{root}: {}", parts.join(", "))
        })
        .collect()
}

fn lines(v: &[String]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}

fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("{} {} on {}", s.action, s.tag, s.node))
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(st: &Status) -> String {
    let roots: Vec<String> = st
        .roots()
        .map(|r| format!("{} {}", r.tag, r.state))
        .collect();
    if roots.is_empty() {
        "LifeKeeper is running; no resource hierarchies on this node".into()
    } else {
        format!("{} root hierarchies: {}", roots.len(), roots.join(", "))
    }
}

/// The data keys every successful run returns, also as `ansible_facts.lifekeeper`.
/// The result of `active`/`standby`, predicted (check mode) or done: the report, the placement
/// and its before/after diff. One function, so check mode and the real run cannot drift apart.
fn placed(
    o: Outcome,
    view: &View,
    actions: &[Value],
    before: &[String],
    after: &[String],
    warnings: Vec<String>,
) -> Outcome {
    let mut o = report(o, true, view.me.as_deref(), &view.local, actions)
        .with("placement", after.to_vec())
        .diff(Some(diff::text(
            "resource placement",
            &lines(before),
            &lines(after),
        )));
    o.warnings = warnings;
    o
}

fn report(o: Outcome, running: bool, me: Option<&str>, st: &Status, actions: &[Value]) -> Outcome {
    let facts = json!({
        "lifekeeper_running": running,
        "node": me,
        "resources": st.resources,
        "comm_paths": st.comm_paths,
        "actions": actions,
    });
    o.with("lifekeeper_running", running)
        .with("node", me)
        .with("resources", json!(st.resources))
        .with("comm_paths", json!(st.comm_paths))
        .with("actions", actions.to_vec())
        .with("ansible_facts", json!({ "lifekeeper": facts }))
}

fn not_running(p: &Params) -> Result<Outcome, Failure> {
    if p.state == State::Query {
        return Ok(report(
            Outcome::new(false, "LifeKeeper is not running on this node"),
            false,
            None,
            &Status::default(),
            &[],
        ));
    }
    Err(Failure::new(format!(
        "LifeKeeper is not running on this node; state={} needs it (start it with {}/bin/lkstart)",
        p.state,
        p.lkroot.display()
    ))
    .with("lifekeeper_running", false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Choice;

    fn st(lines: &[(&str, &str, &str, usize)], peers: &[(&str, &str)]) -> Status {
        let mut s = Status::default();
        let mut stack: Vec<String> = vec![];
        for (tag, state, backup, depth) in lines {
            stack.truncate(*depth);
            s.resources.push(Res {
                tag: tag.to_string(),
                id: String::new(),
                state: state.to_string(),
                prio: 1,
                primary: "node-a".into(),
                backup: (*backup != "------").then(|| backup.to_string()),
                parent: stack.last().cloned(),
                depth: *depth,
            });
            stack.push(tag.to_string());
        }
        for (m, state) in peers {
            s.comm_paths.push(status::CommPath {
                machine: m.to_string(),
                network: "TCP".into(),
                address: "a/b".into(),
                state: state.to_string(),
                prio: Some(1),
            });
        }
        s
    }

    fn params(state: &str) -> Params {
        Params {
            state: State::from_name(state).expect("a declared state"),
            tags: None,
            switch_to: None,
            bottom_up: false,
            wait: 0,
            lkroot: "/opt/LifeKeeper".into(),
            remote_lkroot: None,
            timeout: None,
            wait_for_mirror_sync: 0,
            mirror_status_cmd: None,
            mirror_tags: None,
            mirror_sync_target: None,
        }
    }

    fn view() -> View {
        let a = st(
            &[
                ("app", "ISP", "node-b", 0),
                ("fs", "ISP", "node-b", 1),
                ("ip", "OSU", "node-b", 0),
            ],
            &[("node-b", "ALIVE")],
        );
        let b = st(
            &[
                ("app", "OSU", "------", 0),
                ("fs", "OSU", "------", 1),
                ("ip", "ISP", "------", 0),
            ],
            &[("node-a", "ALIVE")],
        );
        View {
            me: Some("node-a".into()),
            local: a,
            peers: [("node-b".to_string(), Some(b))].into(),
        }
    }

    #[test]
    fn placement_lines_name_every_node_and_odd_children() {
        let mut v = view();
        assert_eq!(
            placement(&v, &["app".into(), "ip".into()]),
            vec![
                "app: ISP on node-a, OSU on node-b",
                "ip: OSU on node-a, ISP on node-b"
            ]
        );
        v.local.resources[1].state = "OSF".into();
        v.peers.insert("node-c".into(), None);
        assert_eq!(
            placement(&v, &["app".into()]),
            vec!["app: ISP on node-a (fs OSF), OSU on node-b, unknown on node-c"]
        );
    }

    #[test]
    fn standby_plans_a_remote_restore_on_the_backup_and_predicts_it() {
        let mut v = view();
        let roots = vec!["app".to_string(), "ip".to_string()];
        let (steps, w) = plan(&params("standby"), &v, &roots).unwrap();
        assert!(w.is_empty());
        assert_eq!(
            steps.iter().map(Step::json).collect::<Vec<_>>(),
            vec![json!({"tag": "app", "action": "restore", "node": "node-b"})]
        );
        // One word, the line the far side's shell runs: perform_action holding node-b's lkops
        // node lock (issue 28 O1; node_lock_remote tests the script itself).
        let d = steps[0].cmds[0].display();
        assert_eq!(
            d[..5],
            ["/opt/LifeKeeper/bin/lcdremexec", "-e", "-d", "node-b", "--"]
        );
        assert_eq!(d.len(), 6, "{d:?}");
        assert!(
            d[5].contains("flock -n 9 ||")
                && d[5].ends_with(
                    "'/opt/LifeKeeper/bin/perform_action' '-t' 'app' '-a' 'restore' 9>&-"
                ),
            "{}",
            d[5]
        );
        v.apply(&steps[0]);
        assert_eq!(
            placement(&v, &roots),
            vec![
                "app: OSU on node-a, ISP on node-b",
                "ip: OSU on node-a, ISP on node-b"
            ]
        );
        assert!(settled(&v, &roots, &steps));
    }

    #[test]
    fn active_restores_here_and_switch_to_none_removes() {
        let v = view();
        let roots = vec!["app".to_string(), "ip".to_string()];
        let (steps, _) = plan(
            &Params {
                bottom_up: true,
                ..params("active")
            },
            &v,
            &roots,
        )
        .unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(
            steps[0].cmds[0].display(),
            vec![
                "/opt/LifeKeeper/bin/perform_action",
                "-b",
                "-t",
                "ip",
                "-a",
                "restore"
            ]
        );
        let (steps, _) = plan(
            &Params {
                switch_to: Some("none".into()),
                ..params("standby")
            },
            &v,
            &roots,
        )
        .unwrap();
        assert_eq!(
            steps[0].cmds[0].display(),
            vec![
                "/opt/LifeKeeper/bin/perform_action",
                "-t",
                "fs",
                "-a",
                "remove"
            ]
        );
        assert_eq!(steps.len(), 1);
    }

    #[test]
    fn refuses_dead_target_self_target_and_unknown_target() {
        let mut v = view();
        v.local.comm_paths[0].state = "DEAD".into();
        v.peers.insert("node-b".into(), None);
        let e = plan(&params("standby"), &v, &["app".into()]).unwrap_err();
        assert!(e.msg.contains("DEAD"), "{}", e.msg);
        let e = plan(
            &Params {
                switch_to: Some("node-a".into()),
                ..params("standby")
            },
            &v,
            &["app".into()],
        )
        .unwrap_err();
        assert_eq!(e.data["invalid_parameter"], "switch_to");
        let e = plan(
            &Params {
                switch_to: Some("node-x".into()),
                ..params("standby")
            },
            &v,
            &["app".into()],
        )
        .unwrap_err();
        assert!(e.msg.contains("node-b"), "{}", e.msg);
    }

    /// Issue 28 W2: a failed (OSF) resource here refuses a switchover away before any step,
    /// naming it; taking out of service only (switch_to=none) and active are not refused.
    #[test]
    fn w2_standby_with_a_failed_resource_here_is_refused_up_front() {
        let mut v = view();
        v.local.resources[1].state = "OSF".into();
        let roots = vec!["app".to_string(), "ip".to_string()];
        let e = plan(&params("standby"), &v, &roots).unwrap_err();
        assert!(
            e.msg.contains("fs (in the hierarchy app) is OSF")
                && e.msg.contains("Nothing was moved"),
            "{}",
            e.msg
        );
        assert_eq!(e.data["failed_resources"][0]["tag"], "fs");
        let none = Params {
            switch_to: Some("none".into()),
            ..params("standby")
        };
        assert!(plan(&none, &v, &roots).is_ok());
        assert!(plan(&params("active"), &v, &roots).is_ok());
        // Not managed (tags leave it out): not refused.
        assert!(plan(&params("standby"), &v, &["ip".to_string()]).is_ok());
    }

    #[test]
    fn lowest_priority_node_defaults_to_primary_and_refuses_without_any_target() {
        let mut b = view().peers["node-b"].clone().unwrap();
        let r = b.resource("ip").unwrap().clone();
        assert_eq!(
            default_target(&r.primary, r.backup.as_deref(), "node-b").as_deref(),
            Some("node-a")
        );
        b.resources[2].primary = "node-b".into();
        let r = &b.resources[2];
        assert_eq!(
            default_target(&r.primary, r.backup.as_deref(), "node-b"),
            None
        );
    }

    #[test]
    fn bad_input_names_the_parameter() {
        let e = validate(&Params {
            tags: Some(vec!["-x".into()]),
            ..params("active")
        })
        .unwrap_err();
        assert_eq!(e.data["invalid_parameter"], "tags");
        let e = validate(&Params {
            switch_to: Some("node-b".into()),
            ..params("active")
        })
        .unwrap_err();
        assert_eq!(e.data["invalid_parameter"], "switch_to");
        let e = validate(&Params {
            switch_to: Some("a\nb".into()),
            ..params("standby")
        })
        .unwrap_err();
        assert_eq!(e.data["invalid_parameter"], "switch_to");
        let e = validate(&Params {
            wait: -1,
            ..params("standby")
        })
        .unwrap_err();
        assert_eq!(e.data["invalid_parameter"], "wait");
        let v = view();
        let e = select_roots(
            &Params {
                tags: Some(vec!["fs".into()]),
                ..params("active")
            },
            &v.local,
        )
        .unwrap_err();
        assert!(e.msg.contains("\"app\""), "{}", e.msg);
        let e = select_roots(
            &Params {
                tags: Some(vec!["nope".into()]),
                ..params("active")
            },
            &v.local,
        )
        .unwrap_err();
        assert_eq!(e.data["invalid_parameter"], "tags");
    }
}

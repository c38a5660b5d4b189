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
//!
//! The module as files, in the order a run goes through them (facts -> plan -> apply, like
//! lk_upgrade): `input.rs` (the parameters' rules, which roots are managed), `view.rs` (this
//! node's and each peer's status), `plan.rs` (the steps, with the default target rule shared
//! with the rolling-upgrade planner, and every refusal made before anything moves),
//! `mirror_sync.rs` (DataKeeper mirrors that must be in sync toward a restore's node),
//! `apply.rs` (the switchovers and the wait until the states settle), `report.rs` (query, the
//! check-mode prediction, placement lines and the result).

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
        Ret::new("comm_paths_alive", "bool", "always", "LifeKeeper runs, this node has at least one comm path and every one is ALIVE (what a rolling upgrade waits for after a node's upgrade).").sample("true"),
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
    /// facts (this node's status, each peer's) -> the decided steps (plan.rs) -> either the
    /// prediction (check mode, or nothing to do: report.rs) or the switchovers made and settled
    /// (apply.rs). Query only reads.
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
                Duration::from_secs(p.timeout.unwrap_or(600).max(1) as u64),
            )?)
        };
        let Some(local) = status::read(&ctx.runner, &p.lkroot)? else {
            return not_running(&p);
        };
        if p.state == State::Query {
            return query(ctx, &p, &local);
        }
        let decided = decide(ctx, &p, local)?;
        if ctx.check_mode || decided.steps.is_empty() {
            return predicted(ctx, &p, decided);
        }
        execute(ctx, &p, decided)
    }
}

mod apply;
mod input;
mod mirror_sync;
mod plan;
mod report;
#[cfg(test)]
mod tests;
mod view;

use apply::*;
use input::*;
use mirror_sync::*;
use plan::*;
use report::*;
use view::*;

//! lk_plan: the rolling-upgrade planner (src/procedure/) as a module (issue 26).
//!
//! facts (the lk_info result of every node, passed in; the plan recorded on this node, read from
//! `plan_dir`) -> the pure plan (`procedure::plan`) -> apply: with `persist`, the plan is written
//! on this node (atomically, mode 0600), so a rerun resumes it without Python on the node. It
//! runs no LifeKeeper command and changes no cluster: check mode computes the same plan and
//! writes nothing.
//!
//! With `summary` it plans nothing: it summarises the run that just ended, per cluster
//! (`procedure::summary`), from what every node recorded; the playbooks' tasks/summary.yml
//! runs it once, on a node of the run, and writes summary.json on the controller.

use crate::procedure::summary::{self, HostVars};
use crate::procedure::{
    self, record, Cluster, NodeFacts, Params as PlanParams, Plan, Record, Step,
};
use crate::runtime::{diff, fs as rfs, time};
use crate::runtime::{Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PARAMS: &[Param] = &[
    Param::new(
        "facts",
        Kind::Dict,
        "The lk_info result of every node of the cluster, by inventory host name (a registered result as it is: lifekeeper, resources, comm_paths, mirrors are read). A node of I(order) without facts (unreachable) refuses the plan. Required unless I(summary) is given.",
    ),
    Param::new(
        "order",
        Kind::List,
        "The cluster's nodes in inventory order: wave k upgrades the k-th. Every peer LifeKeeper lists (comm paths, PRIMARY and BACKUP of the hierarchies) must be one of them, or the plan is refused naming the missing node. Required unless I(summary) is given.",
    ),
    Param::new(
        "version",
        Kind::Str,
        "The target LifeKeeper version, C(9.6.1) for instance. Required unless I(summary) is given.",
    ),
    Param::new(
        "switch_to",
        Kind::Str,
        "The node every upgraded node's hierarchies go to (lk_switch_to). Default: the hierarchy's home node when already upgraded, else its BACKUP (else PRIMARY) when upgraded, else another upgraded node it is extended to, else its BACKUP (else PRIMARY).",
    ),
    Param::new(
        "record",
        Kind::Dict,
        "A recorded plan (e.g. the controller's copy). With the copy on this node (I(plan_dir)) the newest wins (of equal age a closed one); an open plan for I(version) is resumed.",
    ),
    Param::new(
        "new_plan",
        Kind::Bool,
        "Replace an open recorded plan with a new one (kept beside it as C(lkops-plan.<cluster>.<created>.replaced.json) when persisted).",
    )
    .default("false"),
    Param::new(
        "cluster",
        Kind::Str,
        "The cluster's name (lk_cluster): names the plan file C(lkops-plan.<cluster>.json).",
    )
    .default("\"default\""),
    Param::new(
        "plan_dir",
        Kind::AbsPath,
        "Where the plan is kept on this node (next to the backups, outside lkroot).",
    )
    .default("\"/var/backups/lifekeeper\""),
    Param::new(
        "close",
        Kind::Bool,
        "The cluster finished this run: the open plan resumed (I(record) or this node's copy) is recorded closed (status C(closed), the time in C(closed)); kept as history, never resumed. The playbooks set it once every node of the cluster reached the run's last stage.",
    )
    .default("false"),
    Param::new(
        "persist",
        Kind::Bool,
        "Write the plan to I(plan_dir) (atomically, mode 0600; the directory is created 0700). Unchanged plans are not rewritten. False: only read.",
    )
    .default("false"),
    Param::new(
        "summary",
        Kind::Dict,
        "Plan nothing: summarise the run that just ended (read-only), every cluster of it. Keys: C(done_stage) (the stage every node of a finished cluster reached: checked, backed_up, upgraded or returned), C(groups) (Ansible's groups; each C(lk_cluster_<name>) is a cluster), C(hosts) (every host of those groups), C(hostvars) (per variable the role records, its value on each host of C(hosts), in that order, null when undefined: lk_stage, lk_version_before, lk_version_after, lk_failed_stage, lk_failed_msg, lk_backup_on_controller, lk_running_now, lk_home_tags, lk_tags_now, lk_mirror_waits, lk_held, lk_moves, lk_mates, lk_plan, lk_plan_path, lk_plan_node_path, lk_plan_resumed, lk_plan_placement, lk_canary, lk_rollback_to, lk_bk, lk_final: the final lk_resource query, read for lk_tags_now and lk_running_now when they are not given), C(pauses) (the pauses between waves). Returns C(clusters), C(lines), C(failed_clusters) and C(pauses): the playbooks' summary.json; and C(backups). Given with I(summary), the planning options are refused.",
    ),
    Param::new(
        "readiness",
        Kind::Dict,
        "Plan nothing: the readiness report's data (read-only), before the run, every cluster of it. Keys: C(groups) (Ansible's groups; each C(lk_cluster_<name>) is a cluster), C(hosts) (every host of those groups), C(hostvars) (per variable, its value on each host of C(hosts), in that order, null when undefined: lk_cluster_name, lk_preflight_result, lk_plan, lk_plan_path, lk_plan_resumed, lk_rollback_to). Returns C(nodes), C(check_ids), C(plans) and C(readiness). Given with I(readiness), the planning options and I(summary) are refused.",
    ),
    Param::new(
        "rehearsal",
        Kind::Dict,
        "Plan nothing: the rehearsal's document (rehearse.yml, read-only) from the runs of rolling_upgrade.yml against a simulated twin. Keys: C(capture) (the capture directory), C(target_version), C(twin) (C(lksim twin create)'s output), C(state_before) and C(state_after) (C(lksim state) of the twin before and after the runs), C(fidelity_rc) and C(fidelity_lines) (C(lksim twin check)'s exit code and lines), C(runs) (one list per field, in run order: C(name) (check, real or rerun), C(rc), C(stdout) (the ansible.posix.json callback's output), C(stderr)). Returns C(rehearsal). Given with I(rehearsal), the planning options, I(summary) and I(readiness) are refused.",
    ),
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_plan",
    short: "Plan the rolling upgrade of a LifeKeeper cluster (waves, switchovers, gates), read-only",
    description: &[
        "From the lk_info facts of every node of a cluster, the inventory order and the target version, returns the whole rolling upgrade as data: the waves (wave k upgrades the k-th node), each node's steps (standby with its targets and lk_resource calls, upgrade, verify, return), every switchover of every hierarchy in order (tag, from, to, wave, stage), the gates, and the plan record a rerun resumes.",
        "A hierarchy goes, while its node is upgraded, to a node not upgraded after it (its home when that is upgraded already, else its default target BACKUP/PRIMARY, else another upgraded node it is extended to), so it is switched at most twice (away and back) and never when its home needs no upgrade; the same default target rule as lk_resource.",
        "The plan covers the cluster as LifeKeeper knows it: a peer that the nodes list but I(order) lacks, or a node whose facts are missing, refuses the plan (failed) before anything changes, naming the node.",
        "It runs no command on the cluster. With I(persist) it writes the plan on this node; a rerun reads it back and resumes it.",
        "With I(summary) it plans nothing and summarises the run that just ended instead, for every cluster (the playbooks' summary.json): its status (ok; FAILED, naming the first node in inventory order that failed, its stage and message; INCOMPLETE, with the hold of a canary or a pause if any), every node's versions and backup, the placement before, now and (check mode) predicted, the switchovers in run order with each hierarchy's switch count and total interruption, the mirror waits, the rollback's release, and the lines printed at the end of the run.",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Computes the same plan; reports whether the plan file would be written, and writes nothing. With I(summary): the summary of a check-mode run (switchovers predicted, the placement they lead to, no plan recorded).",
    ),
    diff_mode: (
        Support::Full,
        "The plan file on this node before and after (JSON).",
    ),
    notes: &[
        "The planner is pure (src/procedure/): no command, no clock, no file; the module gives it the time a new plan is recorded and reads and writes the plan file.",
        "The standby calls name their tags: a hierarchy in service on no node (OSF everywhere) is left alone and listed in C(plan.unserved).",
        "A DataKeeper mirror not in sync toward the node taking its hierarchy is listed in the step's C(mirror_waits) (lk_resource waits for it, C(wait_for_mirror_sync)); after a node's upgrade its verify step waits for the mirrors toward it.",
        "A hierarchy that no peer can take (BACKUP C(------) and PRIMARY the node itself) refuses the plan, naming it.",
        "A node whose LifeKeeper is not running refuses the plan (where its hierarchies are is unknown), unless an open plan is resumed and that node still needs its upgrade (it stopped half-way; lk_upgrade resumes it): then its peers show the placement, the plan's C(root_tags) say what it carries, and no hierarchy is planned onto it before its own wave.",
    ],
    examples: r#"
# Every node's lk_info result registered first as lk_info (lkops.lifekeeper.lk_info).
- name: Plan the cluster's rolling upgrade (on its first node) and keep the plan there
  lkops.lifekeeper.lk_plan:
    facts: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'lk_info'))) }}"
    order: "{{ ansible_play_hosts }}"
    version: 9.6.1
    cluster: demo
    persist: true
  run_once: true
  register: lk_plan

# After the run (the role's tasks/summary.yml carries every variable of summary's hostvars):
# every cluster's summary, once, on a node of the run.
- name: Summarise the run
  lkops.lifekeeper.lk_plan:
    summary:
      done_stage: returned
      groups: "{{ groups | dict2items | selectattr('key', 'match', '^lk_cluster_') | items2dict }}"
      hosts: "{{ ansible_play_hosts_all }}"
      hostvars:
        lk_stage: "{{ ansible_play_hosts_all | map('extract', hostvars, 'lk_stage') | map('default', none) | list }}"
        lk_mates: "{{ ansible_play_hosts_all | map('extract', hostvars, 'lk_mates') | map('default', none) | list }}"
  run_once: true
  register: lk_summarised
"#,
    returns: &[
        Ret::new("plan", "dict", "success", "The whole plan: cluster, target_version, resumed, waves, nodes (per node: wave, version_before, version_now, upgrade, witness, home_tags, upgrade_steps, return_steps; steps are standby {targets, calls, mirror_waits}, upgrade {from, to}, verify {version, mirror_waits}, return {tags, mirror_waits}), switchovers, gates, placement_now, placement_after, unserved, record, replaces, finished."),
        Ret::new("waves", "list", "success", "Each wave: wave (1-based), node, upgrade (not at the target yet), witness (no hierarchy).")
            .sample("[{\"wave\": 1, \"node\": \"node-a\", \"upgrade\": true, \"witness\": false}]"),
        Ret::new("switchovers", "list", "success", "Every switchover the run makes, in order: tag, from, to, wave, stage (upgrade or return). The check-mode prediction.")
            .sample("[{\"tag\": \"app\", \"from\": \"node-a\", \"to\": \"node-b\", \"wave\": 1, \"stage\": \"upgrade\"}]"),
        Ret::new("gates", "list", "success", "Before each stage of each node: before, node, node_at, every_node_at, earlier_at (the stages the node, every node and every earlier node must have reached)."),
        Ret::new("record", "dict", "success", "The plan as recorded (cluster, target_version, status open|closed, created, closed, nodes with wave, version_before, home_tags, root_tags; homes), or null when there is nothing to upgrade and no open plan."),
        Ret::new("found", "dict", "always", "The newest recorded copy of the plan read (I(record) and this node's copy; of equal age a closed one), or null; also when the plan is refused (rollback.yml reads the release to return to from it)."),
        Ret::new("resumed", "bool", "success", "An open recorded plan is resumed (its homes and versions before are used)."),
        Ret::new("plan_file", "str", "always", "The plan file on this node.").sample("\"/var/backups/lifekeeper/lkops-plan.demo.json\""),
        Ret::new("refused", "list", "always", "Why the plan is refused (empty when it is not): node (or null) and reason."),
        Ret::new("table", "list", "success", "The plan as lines of a human table (waves, steps, switchovers)."),
        Ret::new("clusters", "dict", "with summary", "Per cluster: status (ok, FAILED, INCOMPLETE), nodes (node, stage, version_before, version_after, failed_stage, failed_msg, backup_on_controller, lifekeeper_running), placement_before, placement_now, stopped_at (node, stage, msg, or null), held, canary; plan (file, node_file, resumed, created, target_version, recorded, closed) when the run had one; switchovers (tag, from, to, wave, stage, started, ended, interruption_s), interruptions (per hierarchy: switchovers, interruption_s, measured) and placement_predicted (check mode) when it planned switchovers; mirror_waits; rollback_to for a rollback."),
        Ret::new("lines", "list", "with summary", "The summary as lines for people, every cluster then every pause.")
            .sample("[\"cluster demo: ok\", \"  node-a: 9.4.0 -> 9.6.1\", \"  app: was on node-a, now on node-a\"]"),
        Ret::new("failed_clusters", "list", "with summary", "One line per cluster that did not finish (empty when every cluster did).")
            .sample("[\"cluster bravo FAILED at bravo-b \\\"Upgrade LifeKeeper (lk_upgrade)\\\": setup 9.6.1 failed\"]"),
        Ret::new("pauses", "list", "with summary", "The pauses between waves, as given."),
        Ret::new("backups", "dict", "with summary", "Per node, the backups lk_backup took in this run (lk_bk), each with host, time, archive, sha256, defaults_copy, defaults_sha256, lifekeeper_version (set_stats lkops_backups); nodes without one are left out."),
        Ret::new("nodes", "list", "with readiness", "Every node, clusters in name order (the readiness report's rows)."),
        Ret::new("check_ids", "list", "with readiness", "Every pre-flight check ID a node reported, in order of first appearance (the report's columns).")
            .sample("[\"LK-ARCH-64BIT\", \"LK-DISK-FREE\"]"),
        Ret::new("plans", "list", "with readiness", "One per cluster with a plan (lk_plan) or a release to roll back to (lk_rollback_to): cluster, file (null when nothing is to upgrade), resumed, created, rollback_to."),
        Ret::new("rehearsal", "dict", "with rehearsal", "The rehearsal: capture, cluster, target_version, nodes, guesses, fidelity (rc, differences), placement_before, placement_after, versions_after, runs (name, rc, changed, stats, steps per node, switchovers with tag, from, to, wave, phase, node, ok; failures), failures (run, node, task, why), lines."),
        Ret::new("readiness", "dict", "with readiness", "Per node: cluster, ready, installed_version, upgrade_path, failed_checks (the IDs that failed), msg (set_stats lkops_readiness)."),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub facts: Option<Map<String, Value>>,
    pub order: Option<Vec<String>>,
    pub version: Option<String>,
    pub switch_to: Option<String>,
    pub record: Option<Value>,
    pub new_plan: bool,
    pub close: bool,
    pub cluster: String,
    pub plan_dir: PathBuf,
    pub persist: bool,
    pub summary: Option<Value>,
    pub readiness: Option<Value>,
    pub rehearsal: Option<Value>,
}

pub struct PlanModule;

impl Module for PlanModule {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        if let Some(r) = &p.rehearsal {
            return rehearse(&p, r);
        }
        if let Some(r) = &p.readiness {
            return ready(&p, r);
        }
        if let Some(s) = &p.summary {
            return summarise(&p, s, ctx);
        }
        let cluster = cluster(&p)?;
        let given = p
            .record
            .as_ref()
            .map(|v| {
                serde_json::from_value::<Record>(v.clone()).map_err(|e| {
                    Failure::param("record", format!("record is not a recorded plan: {e}"))
                })
            })
            .transpose()?;
        let file = p.plan_dir.join(format!("lkops-plan.{}.json", p.cluster));
        let on_node = read_plan(&file)?;
        let copies: Vec<Record> = given.into_iter().chain(on_node.1.clone()).collect();
        let found = record::pick(&copies);
        let params = PlanParams {
            version: p.version.clone().unwrap_or_default(),
            switch_to: p.switch_to.clone(),
            new_plan: p.new_plan,
            now: time::iso8601(time::now_secs()),
        };
        let mut plan = match procedure::plan(&cluster, &params, found) {
            Ok(plan) => plan,
            Err(refused) => {
                let why: Vec<String> = refused.iter().map(|r| r.reason.clone()).collect();
                return Err(Failure::new(format!(
                    "refusing to plan cluster {}: {}",
                    p.cluster,
                    why.join("; ")
                ))
                .with("refused", json!(refused))
                .with("found", json!(found))
                .with("plan_file", file.display().to_string()));
            }
        };
        if p.close {
            if let Some(r) = plan.record.as_mut().filter(|r| r.is_open()) {
                r.status = record::CLOSED.into();
                r.closed = Some(params.now.clone());
            }
        }
        let found_value = json!(found);
        // Issue 28 W3: a run killed while it closed a finished plan left this copy open while
        // another is closed (the newest copy, so nothing is planned): this copy is closed too.
        let stale = match (&plan.record, found, &on_node.1) {
            (None, Some(f), Some(mine))
                if f.status == record::CLOSED
                    && mine.created == f.created
                    && mine.status != record::CLOSED =>
            {
                Some(f.clone())
            }
            _ => None,
        };
        let before = on_node.0;
        let after = plan.record.as_ref().or(stale.as_ref()).map(document);
        let write = p.persist
            && after.as_ref().is_some_and(|a| {
                before
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<Value>(b).ok())
                    .as_ref()
                    != Some(&serde_json::from_str::<Value>(a).unwrap_or_default())
            });
        let mut history = None;
        if write && !ctx.check_mode {
            ensure_dir(&p.plan_dir)?;
            if let Some(old) = &plan.replaces {
                let h = p.plan_dir.join(format!(
                    "lkops-plan.{}.{}.replaced.json",
                    p.cluster,
                    old.created.replace(':', "")
                ));
                let mut old = old.clone();
                old.status = "replaced".into();
                rfs::write_atomic(&h, document(&old).as_bytes(), 0o600)
                    .map_err(|e| Failure::new(format!("cannot write {}: {e}", h.display())))?;
                history = Some(h.display().to_string());
            }
            let text = after.as_deref().unwrap_or_default();
            rfs::write_atomic(&file, text.as_bytes(), 0o600)
                .map_err(|e| Failure::new(format!("cannot write {}: {e}", file.display())))?;
        }
        let msg = message(&plan, write, ctx.check_mode);
        let d = write.then(|| {
            diff::text(
                &file.display().to_string(),
                before.as_deref().unwrap_or_default(),
                after.as_deref().unwrap_or_default(),
            )
        });
        let table = table(&plan);
        let v = serde_json::to_value(&plan).unwrap_or_default();
        Ok(Outcome::new(write, msg)
            .diff(d)
            .with("waves", v["waves"].clone())
            .with("switchovers", v["switchovers"].clone())
            .with("gates", v["gates"].clone())
            .with("record", v["record"].clone())
            .with("found", found_value)
            .with("resumed", plan.resumed)
            .with("plan_file", file.display().to_string())
            .with("replaced_file", json!(history))
            .with("refused", json!([]))
            .with("table", json!(table))
            .with("plan", v))
    }
}

/// A name used as one word in messages and a file name.
pub(crate) fn word(param: &str, v: &str) -> Result<(), Failure> {
    if v.is_empty()
        || v.starts_with(['-', '.'])
        || v.contains(|c: char| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(Failure::param(
            param,
            format!("{param} {v:?} is not a node or cluster name (empty, starts with - or ., or holds /, blanks or control characters)"),
        ));
    }
    Ok(())
}

/// `name`, required when planning (the declaration cannot say "unless summary").
fn required<'a, T>(name: &str, v: &'a Option<T>) -> Result<&'a T, Failure> {
    v.as_ref().ok_or_else(|| {
        Failure::param(
            name,
            format!("missing required parameter: {name} (planning needs facts, order and version; summary needs none of them)"),
        )
    })
}

fn cluster(p: &Params) -> Result<Cluster, Failure> {
    let facts_in = required("facts", &p.facts)?;
    let order = required("order", &p.order)?;
    let version = required("version", &p.version)?;
    word("cluster", &p.cluster)?;
    if version.trim().is_empty() {
        return Err(Failure::param("version", "version must not be empty"));
    }
    if order.is_empty() {
        return Err(Failure::param("order", "order names no node"));
    }
    for (i, n) in order.iter().enumerate() {
        word("order", n)?;
        if order[..i].contains(n) {
            return Err(Failure::param("order", format!("order names {n} twice")));
        }
    }
    if let Some(s) = &p.switch_to {
        word("switch_to", s)?;
    }
    let mut facts = BTreeMap::new();
    for (n, v) in facts_in {
        if !order.contains(n) {
            return Err(Failure::param(
                "facts",
                format!(
                    "facts has {n}, which order does not name (order: {})",
                    order.join(", ")
                ),
            ));
        }
        let f: NodeFacts = serde_json::from_value(v.clone()).map_err(|e| {
            Failure::param(
                "facts",
                format!("facts of {n} are not an lk_info result: {e}"),
            )
        })?;
        facts.insert(n.clone(), f);
    }
    Ok(Cluster {
        name: p.cluster.clone(),
        order: order.clone(),
        facts,
    })
}

/// `summary`'s keys (see the parameter's help).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryParams {
    done_stage: String,
    groups: BTreeMap<String, Vec<String>>,
    hosts: Vec<String>,
    #[serde(default)]
    hostvars: BTreeMap<String, Vec<Value>>,
    #[serde(default)]
    pauses: Vec<Value>,
}

/// `readiness`'s keys (see the parameter's help).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadinessParams {
    groups: BTreeMap<String, Vec<String>>,
    hosts: Vec<String>,
    #[serde(default)]
    hostvars: BTreeMap<String, Vec<Value>>,
}

/// Refuses the planning options beside a read-only mode (`mode`: summary or readiness).
fn no_planning(p: &Params, mode: &str) -> Result<(), Failure> {
    let planning = [
        ("facts", p.facts.is_some()),
        ("order", p.order.is_some()),
        ("version", p.version.is_some()),
        ("switch_to", p.switch_to.is_some()),
        ("record", p.record.is_some()),
        ("new_plan", p.new_plan),
        ("close", p.close),
        ("persist", p.persist),
        ("summary", mode != "summary" && p.summary.is_some()),
        ("readiness", mode == "rehearsal" && p.readiness.is_some()),
    ];
    if let Some((name, _)) = planning.iter().find(|(_, given)| *given) {
        return Err(Failure::param(
            name,
            format!("{name} is a planning option: {mode} plans nothing and takes none of them"),
        ));
    }
    Ok(())
}

/// The hostvars (one list per variable, in `hosts` order; only `vars`) as each host's
/// [`HostVars`], after checking every cluster group's hosts are among them.
fn hosts_of(
    hosts: &[String],
    hostvars: &BTreeMap<String, Vec<Value>>,
    groups: &BTreeMap<String, Vec<String>>,
    vars: &[&str],
    mode: &str,
) -> Result<BTreeMap<String, HostVars>, String> {
    for (var, values) in hostvars {
        if !vars.contains(&var.as_str()) {
            return Err(format!(
                "hostvars has {var}, which the {mode} does not read (it reads {})",
                vars.join(", ")
            ));
        }
        if values.len() != hosts.len() {
            return Err(format!(
                "hostvars.{var} has {} values for {} hosts",
                values.len(),
                hosts.len()
            ));
        }
    }
    let mut out = BTreeMap::new();
    for (i, h) in hosts.iter().enumerate() {
        let vars: Map<String, Value> = hostvars
            .iter()
            .map(|(var, values)| (var.clone(), values[i].clone()))
            .collect();
        let hv: HostVars = serde_json::from_value(Value::Object(vars))
            .map_err(|e| format!("hostvars of {h}: {e}"))?;
        if out.insert(h.clone(), hv).is_some() {
            return Err(format!("hosts names {h} twice"));
        }
    }
    for (g, members) in groups {
        if !g.starts_with(summary::CLUSTER_GROUP) {
            continue;
        }
        if let Some(h) = members.iter().find(|h| !out.contains_key(*h)) {
            return Err(format!("{g} has {h}, which hosts lacks"));
        }
    }
    Ok(out)
}

/// The read-only summary mode: the hostvars (one list per variable, in `hosts` order) become
/// each host's [`HostVars`], and the pure summary does the rest.
fn summarise(p: &Params, raw: &Value, ctx: &Ctx) -> Result<Outcome, Failure> {
    no_planning(p, "summary")?;
    let bad = |msg: String| Failure::param("summary", format!("summary: {msg}"));
    let s: SummaryParams = serde_json::from_value(raw.clone()).map_err(|e| bad(e.to_string()))?;
    let hosts =
        hosts_of(&s.hosts, &s.hostvars, &s.groups, &summary::VARS, "summary").map_err(bad)?;
    let run = summary::Run {
        done_stage: s.done_stage,
        check_mode: ctx.check_mode,
        groups: s.groups,
        hosts,
        pauses: s.pauses,
    };
    let out = summary::summarise(&run).map_err(bad)?;
    let backups = summary::backups(&run).map_err(bad)?;
    let msg = format!(
        "{} cluster(s): {}",
        out.clusters.len(),
        out.clusters
            .iter()
            .map(|(name, c)| format!("{name} {}", c["status"].as_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Outcome::new(false, msg)
        .with("clusters", Value::Object(out.clusters))
        .with("lines", json!(out.lines))
        .with("failed_clusters", json!(out.failed_clusters))
        .with("pauses", json!(out.pauses))
        .with("backups", Value::Object(backups)))
}

/// `rehearsal`'s keys (see the parameter's help): the runs as one list per field, in run order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RehearsalParams {
    capture: String,
    target_version: String,
    twin: String,
    state_before: String,
    state_after: String,
    fidelity_rc: i64,
    #[serde(default)]
    fidelity_lines: Vec<String>,
    runs: RunsParams,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsParams {
    name: Vec<String>,
    rc: Vec<i64>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

/// The read-only rehearsal mode: the rehearsal's document from the runs against the twin.
fn rehearse(p: &Params, raw: &Value) -> Result<Outcome, Failure> {
    no_planning(p, "rehearsal")?;
    let bad = |msg: String| Failure::param("rehearsal", format!("rehearsal: {msg}"));
    let r: RehearsalParams = serde_json::from_value(raw.clone()).map_err(|e| bad(e.to_string()))?;
    let n = r.runs.name.len();
    for (field, len) in [
        ("rc", r.runs.rc.len()),
        ("stdout", r.runs.stdout.len()),
        ("stderr", r.runs.stderr.len()),
    ] {
        if len != n {
            return Err(bad(format!("runs.{field} has {len} values for {n} runs")));
        }
    }
    let runs = (0..n)
        .map(|i| procedure::rehearsal::RunResult {
            name: r.runs.name[i].clone(),
            rc: r.runs.rc[i],
            stdout: r.runs.stdout[i].clone(),
            stderr: r.runs.stderr[i].clone(),
        })
        .collect();
    let input = procedure::rehearsal::Input {
        capture: r.capture,
        target_version: r.target_version,
        twin: r.twin,
        state_before: r.state_before,
        state_after: r.state_after,
        fidelity_rc: r.fidelity_rc,
        fidelity_lines: r.fidelity_lines,
        runs,
    };
    let doc = procedure::rehearsal::rehearsal(&input).map_err(bad)?;
    let msg = format!(
        "rehearsal of cluster {}: {} failure(s)",
        summary::py_str(&doc["cluster"]),
        doc["failures"].as_array().map_or(0, Vec::len)
    );
    Ok(Outcome::new(false, msg).with("rehearsal", doc))
}

/// The read-only readiness mode: the readiness report's data, before the run.
fn ready(p: &Params, raw: &Value) -> Result<Outcome, Failure> {
    no_planning(p, "readiness")?;
    let bad = |msg: String| Failure::param("readiness", format!("readiness: {msg}"));
    let r: ReadinessParams = serde_json::from_value(raw.clone()).map_err(|e| bad(e.to_string()))?;
    let hosts = hosts_of(
        &r.hosts,
        &r.hostvars,
        &r.groups,
        &summary::READINESS_VARS,
        "readiness",
    )
    .map_err(bad)?;
    let run = summary::Run {
        groups: r.groups,
        hosts,
        ..Default::default()
    };
    let out = summary::readiness(&run).map_err(bad)?;
    let not_ready = out
        .readiness
        .values()
        .filter(|v| v["ready"] != true)
        .count();
    let msg = format!(
        "{} node(s), {} ready, {} not ready",
        out.nodes.len(),
        out.nodes.len() - not_ready,
        not_ready
    );
    Ok(Outcome::new(false, msg)
        .with("nodes", json!(out.nodes))
        .with("check_ids", json!(out.check_ids))
        .with("plans", json!(out.plans))
        .with("readiness", Value::Object(out.readiness)))
}

/// The plan file's text and its plan (None when there is no file).
fn read_plan(file: &Path) -> Result<(Option<String>, Option<Record>), Failure> {
    rfs::read_json_doc(file, "a recorded plan", "move it away to plan anew")
        .map_err(|e| Failure::param("plan_dir", e))
}

fn ensure_dir(dir: &Path) -> Result<(), Failure> {
    rfs::ensure_private_dir(dir).map_err(Failure::new)
}

/// The plan file's text: sorted keys, 4-space indent, a final newline (as the playbooks'
/// to_nice_json(sort_keys=true) wrote it, so either reads the other's copy).
fn document(r: &Record) -> String {
    let v = serde_json::to_value(r).unwrap_or_default();
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&v, &mut ser).expect("a JSON value serializes");
    buf.push(b'\n');
    String::from_utf8(buf).unwrap_or_default()
}

fn message(plan: &Plan, write: bool, check: bool) -> String {
    let upgrades = plan.waves.iter().filter(|w| w.upgrade).count();
    let mut m = format!(
        "cluster {}: {} node(s), {} to upgrade to {}, {} switchover(s)",
        plan.cluster,
        plan.waves.len(),
        upgrades,
        plan.target_version,
        plan.switchovers.len()
    );
    if let (true, Some(r)) = (plan.resumed, &plan.record) {
        m.push_str(&format!("; resumes the plan recorded {}", r.created));
    }
    if plan.finished && plan.resumed {
        m.push_str("; every step is done: the plan is closed");
    }
    if write {
        m.push_str(if check {
            "; would record the plan on this node"
        } else {
            "; recorded the plan on this node"
        });
    }
    m
}

/// The plan as lines of a table, for people.
pub fn table(plan: &Plan) -> Vec<String> {
    let width = plan
        .nodes
        .iter()
        .map(|n| n.node.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = vec![format!(
        "{:<4}  {:<width$}  {:<22}  steps",
        "wave", "node", "version"
    )];
    for n in &plan.nodes {
        let ver = match (&n.version_now, n.upgrade) {
            (Some(v), true) => format!("{v} -> {}", plan.target_version),
            (Some(v), false) => format!("{v} (at target)"),
            (None, _) => "?".into(),
        };
        let steps: Vec<String> = n
            .upgrade_steps
            .iter()
            .chain(&n.return_steps)
            .map(|s| match s {
                Step::Standby { targets, .. } if targets.is_empty() => {
                    "standby (nothing here)".into()
                }
                Step::Standby { targets, .. } => format!(
                    "standby ({})",
                    targets
                        .iter()
                        .map(|(t, to)| format!("{t} -> {to}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Step::Upgrade { .. } => "upgrade".into(),
                Step::Verify { .. } => "verify".into(),
                Step::Return { tags, .. } => format!("return ({})", tags.join(", ")),
            })
            .collect();
        let mut line = format!(
            "{:<4}  {:<width$}  {:<22}  {}",
            n.wave,
            n.node,
            ver,
            steps.join(", ")
        );
        if n.witness {
            line.push_str("  [witness]");
        }
        out.push(line);
    }
    for (i, s) in plan.switchovers.iter().enumerate() {
        out.push(format!(
            "switchover {}: {} {} -> {} (wave {}, {})",
            i + 1,
            s.tag,
            s.from,
            s.to,
            s.wave,
            s.stage
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The node copy is the document the playbooks wrote (to_nice_json(sort_keys=true)): sorted
    /// keys, 4-space indent, a final newline; it reads back as the same plan.
    #[test]
    fn the_plan_file_is_the_playbooks_document() {
        let text = "{\"status\": \"open\", \"cluster\": \"demo\", \"target_version\": \"9.6.1\", \"created\": \"2026-12-01T10:00:00Z\", \"nodes\": [{\"node\": \"node-a\", \"wave\": 1, \"version_before\": \"9.4.0\", \"home_tags\": [\"ip\"]}], \"homes\": {\"ip\": \"node-a\"}, \"node_file\": \"lkops-plan.demo.json\"}";
        let r: Record = serde_json::from_str(text).unwrap();
        let doc = document(&r);
        assert!(
            doc.starts_with("{\n    \"cluster\": \"demo\",\n    \"created\""),
            "{doc}"
        );
        assert!(doc.ends_with("}\n"));
        let keys: Vec<&str> = doc
            .lines()
            .filter(|l| l.starts_with("    \"") && !l.starts_with("     "))
            .map(|l| l.trim().split('"').nth(1).unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(serde_json::from_str::<Record>(&doc).unwrap(), r);
    }

    fn run(args: Value) -> (Value, bool) {
        let raw = args.as_object().cloned().unwrap_or_default();
        crate::runtime::execute::<PlanModule>(raw, Default::default())
    }

    /// The summary's input as tasks/summary.yml passes it: one cluster of two nodes.
    fn summary_args() -> Value {
        json!({"summary": {
            "done_stage": "returned",
            "groups": {"all": ["node-a", "node-b"], "lk_run": ["node-a", "node-b"],
                       "lk_cluster_demo": ["node-a", "node-b"]},
            "hosts": ["node-a", "node-b"],
            "hostvars": {
                "lk_stage": ["returned", "upgraded"],
                "lk_version_before": ["9.4.0", "9.4.0"],
                "lk_version_after": ["9.6.1", null],
                "lk_mates": [["node-a", "node-b"], ["node-a", "node-b"]],
                "lk_home_tags": [["ip"], []],
                "lk_tags_now": [["ip"], []],
                "lk_plan_placement": [{"ip": "node-a"}, {"ip": "node-a"}],
                "lk_moves": [[{"tag": "ip", "from": "node-a", "to": "node-b", "wave": 1,
                               "stage": "upgrade", "seq": 1, "interruption_s": 0.5}], []]
            },
            "pauses": []
        }})
    }

    /// Issue 26: the summary is lk_plan's read-only mode (it runs on a node: the controller may
    /// be another OS). Never changed, the same in check mode except what check mode predicts.
    #[test]
    fn summary_mode_summarises_read_only_in_check_mode_too() {
        let (v, failed) = run(summary_args());
        assert!(!failed, "{v}");
        assert_eq!(v["changed"], false);
        assert_eq!(v["msg"], "1 cluster(s): demo INCOMPLETE");
        assert_eq!(v["clusters"]["demo"]["status"], "INCOMPLETE");
        assert_eq!(
            v["failed_clusters"],
            json!(["cluster demo INCOMPLETE (not every node reached the end)"])
        );
        assert_eq!(v["lines"][0], "cluster demo: INCOMPLETE");
        assert_eq!(v["clusters"]["demo"]["placement_predicted"], Value::Null);
        let mut check = summary_args();
        check["_ansible_check_mode"] = json!(true);
        let (c, failed) = run(check);
        assert!(!failed, "{c}");
        assert_eq!(c["changed"], false);
        assert_eq!(
            c["clusters"]["demo"]["placement_predicted"],
            json!({"ip": "node-b"})
        );
        assert!(
            c["lines"]
                .as_array()
                .unwrap()
                .contains(&json!("  ip: home node-a, predicted at the end on node-b")),
            "{c}"
        );
    }

    /// Unknown keys, at the top or inside summary, and bad values fail naming them; planning
    /// options are refused beside summary; without summary, planning still needs its three.
    #[test]
    fn summary_mode_refuses_bad_input_naming_it() {
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut a = summary_args();
            f(&mut a);
            a
        };
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                edit(&|a| a["sumary"] = json!({})),
                "sumary",
                "unsupported parameter: sumary",
            ),
            (
                edit(&|a| a["summary"]["done"] = json!("x")),
                "summary",
                "unknown field `done`",
            ),
            (
                edit(&|a| a["summary"]["hostvars"]["lk_stages"] = json!([null, null])),
                "summary",
                "hostvars has lk_stages",
            ),
            (
                edit(&|a| a["summary"]["hostvars"]["lk_held"] = json!([null])),
                "summary",
                "hostvars.lk_held has 1 values for 2 hosts",
            ),
            (
                edit(&|a| {
                    a["summary"]["hosts"] = json!(["node-a"]);
                    a["summary"]["hostvars"] = json!({});
                }),
                "summary",
                "lk_cluster_demo has node-b, which hosts lacks",
            ),
            (
                edit(&|a| a["summary"]["hosts"] = json!("node-a")),
                "summary",
                "summary: invalid type",
            ),
            (
                edit(&|a| a["summary"]["done_stage"] = json!("done")),
                "summary",
                "done_stage \"done\" is not a stage",
            ),
            (
                edit(&|a| a["summary"]["hostvars"]["lk_stage"] = json!(["returned", "gone"])),
                "summary",
                "lk_stage of node-b is \"gone\"",
            ),
            (edit(&|a| a["summary"] = json!("x")), "summary", "summary"),
            (
                edit(&|a| a["persist"] = json!(true)),
                "persist",
                "summary plans nothing",
            ),
            (
                edit(&|a| a["version"] = json!("9.6.1")),
                "version",
                "summary plans nothing",
            ),
            (
                json!({"order": ["node-a"], "version": "9.6.1"}),
                "facts",
                "missing required parameter: facts",
            ),
            (
                json!({"facts": {}, "version": "9.6.1"}),
                "order",
                "missing required parameter: order",
            ),
        ];
        for (args, param, words) in cases {
            let (v, failed) = run(args.clone());
            assert!(failed, "{args}: {v}");
            assert_eq!(v["failed"], true, "{v}");
            assert_eq!(v["invalid_parameter"], param, "{args}: {v}");
            assert!(v["msg"].as_str().unwrap().contains(words), "{words:?}: {v}");
        }
    }

    /// Issue 26: the rehearsal's document is lk_plan's read-only `rehearsal` mode (rehearse.yml
    /// passes the twin's outputs and the runs' registered results); the planning options and the
    /// other modes are refused beside it.
    #[test]
    fn rehearsal_mode_returns_the_rehearsal_read_only() {
        let all: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/reports/rehearsal-input.json"
        ))
        .unwrap();
        let b = &all["b"];
        let results = b["lk_runs"]["results"].as_array().unwrap();
        let field = |f: &dyn Fn(&Value) -> Value| -> Value { results.iter().map(f).collect() };
        let runs = json!({"name": field(&|r| r["item"]["name"].clone()), "rc": field(&|r| r["rc"].clone()),
                          "stdout": field(&|r| r["stdout"].clone()), "stderr": field(&|r| r["stderr"].clone())});
        let args = json!({"rehearsal": {
            "capture": b["lk_capture"], "target_version": b["lk_target_version"],
            "twin": b["lk_twin"]["stdout"], "state_before": b["lk_state_before"]["stdout"],
            "state_after": b["lk_state_after"]["stdout"], "fidelity_rc": b["lk_fidelity"]["rc"],
            "fidelity_lines": b["lk_fidelity"]["stdout_lines"], "runs": runs}});
        let (v, failed) = run(args.clone());
        assert!(!failed, "{v}");
        assert_eq!(v["changed"], false);
        assert_eq!(
            v["msg"],
            "rehearsal of cluster lksim-2node-9.4.0: 2 failure(s)"
        );
        assert_eq!(
            v["rehearsal"]["lines"][2],
            "real: rc=2, changed=10, 4 switchover(s), 1 failure(s)"
        );
        for (key, param) in [
            ("readiness", "readiness"),
            ("summary", "summary"),
            ("persist", "persist"),
        ] {
            let mut a = args.clone();
            a[key] = if key == "persist" {
                json!(true)
            } else {
                json!({})
            };
            let (v, failed) = run(a);
            assert!(failed, "{v}");
            assert_eq!(v["invalid_parameter"], param, "{v}");
            assert!(
                v["msg"]
                    .as_str()
                    .unwrap()
                    .contains("rehearsal plans nothing"),
                "{v}"
            );
        }
        let mut a = args;
        a["rehearsal"]["runs"]["rc"] = json!([0, 0]);
        let (v, failed) = run(a);
        assert!(failed, "{v}");
        assert!(
            v["msg"]
                .as_str()
                .unwrap()
                .contains("runs.rc has 2 values for 3 runs"),
            "{v}"
        );
    }

    /// The readiness report's input as tasks/report.yml passes it: one cluster of two nodes.
    fn readiness_args() -> Value {
        json!({"readiness": {
            "groups": {"lk_cluster_demo": ["node-a", "node-b"], "all": ["node-a", "node-b"]},
            "hosts": ["node-a", "node-b"],
            "hostvars": {
                "lk_cluster_name": ["demo", "demo"],
                "lk_preflight_result": [
                    {"failed": false, "installed_version": "9.4.0", "upgrade_path": "direct", "msg": "ok",
                     "checks": [{"id": "LK-A", "status": "pass"}]},
                    null
                ],
                "lk_plan": [{"created": "2026-12-07T14:48:37Z"}, null],
                "lk_plan_path": ["/out/demo/plan.json", null],
                "lk_plan_resumed": [false, null],
                "lk_rollback_to": [null, null]
            }
        }})
    }

    /// Issue 26: the readiness report's data is lk_plan's read-only `readiness` mode; never
    /// changed, the same in check mode; bad input fails naming it.
    #[test]
    fn readiness_mode_decides_the_readiness_read_only() {
        for check in [false, true] {
            let mut a = readiness_args();
            a["_ansible_check_mode"] = json!(check);
            let (v, failed) = run(a);
            assert!(!failed, "{v}");
            assert_eq!(v["changed"], false);
            assert_eq!(v["msg"], "2 node(s), 1 ready, 1 not ready");
            assert_eq!(v["nodes"], json!(["node-a", "node-b"]));
            assert_eq!(v["check_ids"], json!(["LK-A"]));
            assert_eq!(v["readiness"]["node-a"]["ready"], true);
            assert_eq!(
                v["readiness"]["node-b"]["msg"],
                "no pre-flight result (not reached)"
            );
            assert_eq!(
                v["plans"],
                json!([{"cluster": "demo", "file": "/out/demo/plan.json", "resumed": false,
                        "created": "2026-12-07T14:48:37Z", "rollback_to": null}])
            );
        }
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut a = readiness_args();
            f(&mut a);
            a
        };
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                edit(&|a| a["readiness"]["hostvars"]["lk_stage"] = json!([null, null])),
                "readiness",
                "hostvars has lk_stage, which the readiness does not read",
            ),
            (
                edit(&|a| a["readiness"]["hosts"] = json!(["node-a"])),
                "readiness",
                "hostvars.lk_cluster_name has 2 values for 1 hosts",
            ),
            (
                edit(&|a| a["readiness"]["done_stage"] = json!("returned")),
                "readiness",
                "unknown field `done_stage`",
            ),
            (
                edit(&|a| a["summary"] = json!({})),
                "summary",
                "readiness plans nothing",
            ),
            (
                edit(&|a| a["version"] = json!("9.6.1")),
                "version",
                "readiness plans nothing",
            ),
        ];
        for (args, param, words) in cases {
            let (v, failed) = run(args.clone());
            assert!(failed, "{args}: {v}");
            assert_eq!(v["invalid_parameter"], param, "{args}: {v}");
            assert!(v["msg"].as_str().unwrap().contains(words), "{words:?}: {v}");
        }
    }

    #[test]
    fn names_that_would_break_a_file_name_or_a_message_are_refused() {
        for bad in ["", "-x", ".hidden", "a/b", "a b", "a\nb"] {
            assert!(word("cluster", bad).is_err(), "{bad:?}");
        }
        for good in ["node-a", "demo_1", "クラスタ"] {
            assert!(word("cluster", good).is_ok(), "{good:?}");
        }
    }
}

//! The per-cluster summary of a playbook run (issue 26: no template returns data for a
//! decision). From what every node recorded during the run (its stage, versions, failure, the
//! hierarchies it was home to and carries now, its switchovers and DataKeeper mirror waits, the
//! hold of a canary or a pause) and its cluster's plan: each cluster's status (ok, FAILED,
//! INCOMPLETE), the node that stopped it, the placement before, now and (check mode) predicted,
//! the switchovers with each hierarchy's total interruption, and the lines printed at the end.
//!
//! Pure: no command, no clock, no file. lk_plan's `summary` mode is the module around it; the
//! playbooks (tasks/summary.yml) only carry the hostvars in and write summary.json out. The
//! result is the document summary.json.j2 rendered before (same keys, values and lines), so
//! summary.json, the run reports and set_stats did not change.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The stages of a node in a run, in order (`lk_stage`): new (nothing recorded yet), checked
/// (pre-flight passed), backed_up, upgraded (and verified), returned (its home hierarchies
/// back); failed stops its cluster and ranks below every other. A cluster is done when its
/// lowest node reached the run's last stage. The playbooks' `lk_stage_rank` (playbooks/vars/gates.yml,
/// for the gates) must list the same order: tests/contract/role_layout.rs compares them.
pub const STAGES: [&str; 6] = [
    "failed",
    "new",
    "checked",
    "backed_up",
    "upgraded",
    "returned",
];

/// The position of `stage` in [`STAGES`].
pub fn rank(stage: &str) -> Option<usize> {
    STAGES.iter().position(|s| *s == stage)
}

/// The Ansible groups that are the run's clusters: `lk_cluster_<name>` (tasks/groups.yml).
pub const CLUSTER_GROUP: &str = "lk_cluster_";

/// What one host recorded, by its Ansible variable name (`hostvars[host].<name>`); null is
/// undefined. Values are carried as they are (the summary shows them) and checked where read.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HostVars {
    pub lk_stage: Value,
    pub lk_version_before: Value,
    pub lk_version_after: Value,
    pub lk_failed_stage: Value,
    pub lk_failed_msg: Value,
    pub lk_backup_on_controller: Value,
    pub lk_running_now: Value,
    pub lk_home_tags: Value,
    pub lk_tags_now: Value,
    pub lk_mirror_waits: Value,
    pub lk_held: Value,
    pub lk_moves: Value,
    pub lk_mates: Value,
    // The cluster's, read from its first node.
    pub lk_plan: Value,
    pub lk_plan_path: Value,
    pub lk_plan_node_path: Value,
    pub lk_plan_resumed: Value,
    pub lk_plan_placement: Value,
    pub lk_canary: Value,
    pub lk_rollback_to: Value,
    // The backups lk_backup took in this run (its registered result): set_stats lkops_backups.
    pub lk_bk: Value,
    // The final read of the node (lk_resource query, registered as it returned: final_state.yml):
    // where the hierarchies are in service now, and whether LifeKeeper runs. Read when
    // lk_tags_now and lk_running_now are not given (they were a set_fact of it: issue 26).
    pub lk_final: Value,
    // The readiness (lk_plan `readiness`, before the run): the node's cluster and pre-flight.
    pub lk_cluster_name: Value,
    pub lk_preflight_result: Value,
}

/// Every variable the summary reads, in [`HostVars`]' order (the module's `summary.hostvars`
/// keys).
pub const VARS: [&str; 22] = [
    "lk_stage",
    "lk_version_before",
    "lk_version_after",
    "lk_failed_stage",
    "lk_failed_msg",
    "lk_backup_on_controller",
    "lk_running_now",
    "lk_home_tags",
    "lk_tags_now",
    "lk_mirror_waits",
    "lk_held",
    "lk_moves",
    "lk_mates",
    "lk_plan",
    "lk_plan_path",
    "lk_plan_node_path",
    "lk_plan_resumed",
    "lk_plan_placement",
    "lk_canary",
    "lk_rollback_to",
    "lk_bk",
    "lk_final",
];

/// Every variable [`readiness`] reads (the module's `readiness.hostvars` keys).
pub const READINESS_VARS: [&str; 6] = [
    "lk_cluster_name",
    "lk_preflight_result",
    "lk_plan",
    "lk_plan_path",
    "lk_plan_resumed",
    "lk_rollback_to",
];

/// The keys of a backup (lk_backup's `backups`) that set_stats publishes (`lkops_backups`).
pub const BACKUP_KEYS: [&str; 7] = [
    "host",
    "time",
    "archive",
    "sha256",
    "defaults_copy",
    "defaults_sha256",
    "lifekeeper_version",
];

/// The run to summarise.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// The stage every node of a cluster that finished reached (lk_summary_done_stage).
    pub done_stage: String,
    /// Check mode: switchovers and waits were predicted, no plan was written.
    pub check_mode: bool,
    /// Ansible's groups; those named `lk_cluster_<name>` are the clusters (others are ignored).
    pub groups: BTreeMap<String, Vec<String>>,
    /// Every host of those groups.
    pub hosts: BTreeMap<String, HostVars>,
    /// The pauses between waves (the controller's lk_pauses): before, started, ended, seconds,
    /// answer...
    pub pauses: Vec<Value>,
}

/// summary.json: per cluster its block, the printed lines, one line per cluster that did not
/// finish, and the pauses.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub clusters: Map<String, Value>,
    pub lines: Vec<String>,
    pub failed_clusters: Vec<String>,
    pub pauses: Vec<Value>,
}

impl Summary {
    pub fn to_value(&self) -> Value {
        json!({
            "clusters": self.clusters,
            "lines": self.lines,
            "failed_clusters": self.failed_clusters,
            "pauses": self.pauses,
        })
    }
}

static NULL: Value = Value::Null;

/// `m[k]`, null when missing.
fn get<'a>(m: &'a Map<String, Value>, k: &str) -> &'a Value {
    m.get(k).unwrap_or(&NULL)
}

/// A value as Jinja's `~` writes it (Python's `str`): None, True, 0.04, 1e-05, ['a'].
pub fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !(n.is_i64() || n.is_u64()) => py_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => {
            let q = if s.contains('\'') && !s.contains('"') {
                '"'
            } else {
                '\''
            };
            let mut out = String::from(q);
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c == q => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push(q);
            out
        }
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::from(k.as_str())), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Python's repr of a float: the shortest digits that read back, positional from 1e-4 up to
/// 1e16 (always with a fraction: 2.0), else scientific with a signed two-digit exponent.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:e}` gives the same shortest digits: "-2.2e-2", "0e0", "1e16".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the point
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if (point as usize) >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{body}")
    } else {
        let (a, b) = digits.split_at(1);
        let frac = if b.is_empty() {
            String::new()
        } else {
            format!(".{b}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{a}{frac}e{esign}{:02}", exp.abs())
    }
}

/// Python's truth of a value (Jinja's `if`, `or`).
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Ansible's `bool` filter.
fn ansible_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.to_lowercase().as_str(), "yes" | "on" | "1" | "true"),
        Value::Number(n) => n.as_f64() == Some(1.0),
        _ => false,
    }
}

/// Jinja's `float` filter: the number, or 0.0.
fn to_float(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// Python's round(x, 3) (correctly rounded, as the template's `round(3)`).
fn round3(x: f64) -> f64 {
    format!("{x:.3}").parse().unwrap_or(x)
}

/// `v | default(d, true)`: `d` for a value that is undefined or false.
fn or_default(v: &Value, d: &str) -> Value {
    if truthy(v) {
        v.clone()
    } else {
        Value::from(d)
    }
}

/// `v` (a host's variable `var`) as a list whose every item `item` takes, or null as an empty
/// list; anything else is an error naming the host, the variable and the item (`what` it should
/// be a list of).
fn list_of<'a, T>(
    host: &str,
    var: &str,
    v: &'a Value,
    what: &str,
    item: impl Fn(&'a Value) -> Option<T>,
) -> Result<Vec<T>, String> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(a) => a
            .iter()
            .map(|x| item(x).ok_or_else(|| format!("{var} of {host} is not a list of {what}: {x}")))
            .collect(),
        other => Err(format!("{var} of {host} is not a list: {other}")),
    }
}

/// Where a node serves hierarchies now and whether LifeKeeper runs there: lk_tags_now and
/// lk_running_now when given, else from its final read (lk_final, the lk_resource query's
/// result): the root hierarchies in service (ISP, or ISU: up, not yet protected) and
/// `lifekeeper_running`. A node that could not be read (unreachable, a failed query) serves
/// nothing and runs no LifeKeeper as far as the summary can tell.
fn now_of(h: &str, v: &HostVars) -> Result<(Vec<String>, Value), String> {
    if !v.lk_tags_now.is_null() || !v.lk_running_now.is_null() || !v.lk_final.is_object() {
        return Ok((
            strings(h, "lk_tags_now", &v.lk_tags_now)?,
            v.lk_running_now.clone(),
        ));
    }
    let f = &v.lk_final;
    let tags = f["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| r["depth"].as_u64() == Some(0))
                .filter(|r| matches!(r["state"].as_str(), Some("ISP") | Some("ISU")))
                .filter_map(|r| r["tag"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        tags,
        Value::Bool(f["lifekeeper_running"].as_bool().unwrap_or(false)),
    ))
}

fn strings(host: &str, var: &str, v: &Value) -> Result<Vec<String>, String> {
    list_of(host, var, v, "names", |x| x.as_str().map(str::to_string))
}

fn objects<'a>(host: &str, var: &str, v: &'a Value) -> Result<Vec<&'a Map<String, Value>>, String> {
    list_of(host, var, v, "dicts", Value::as_object)
}

/// A host's stage (`lk_stage`, new when it never recorded one) and its rank.
fn stage_of(host: &str, hv: &HostVars) -> Result<(String, usize), String> {
    let s = match &hv.lk_stage {
        Value::Null => "new",
        Value::String(s) => s.as_str(),
        other => return Err(format!("lk_stage of {host} is not a stage: {other}")),
    };
    let r = rank(s).ok_or_else(|| {
        format!(
            "lk_stage of {host} is {s:?}, not a stage ({})",
            STAGES.join(", ")
        )
    })?;
    Ok((s.to_string(), r))
}

/// Sorted as Jinja's `sort` does by default (case-insensitive, stable).
fn jinja_sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort_by_key(|s| s.to_lowercase());
    v
}

/// The run's cluster groups (`lk_cluster_<name>`), in the order the summary lists clusters.
fn cluster_groups(run: &Run) -> Vec<String> {
    jinja_sorted(
        run.groups
            .keys()
            .filter(|g| g.starts_with(CLUSTER_GROUP))
            .cloned()
            .collect(),
    )
}

/// The summary of every cluster of the run, in cluster name order.
pub fn summarise(run: &Run) -> Result<Summary, String> {
    let done = rank(&run.done_stage).ok_or_else(|| {
        format!(
            "done_stage {:?} is not a stage ({})",
            run.done_stage,
            STAGES.join(", ")
        )
    })?;
    let mut out = Summary {
        clusters: Map::new(),
        lines: vec![],
        failed_clusters: vec![],
        pauses: run.pauses.clone(),
    };
    let groups = cluster_groups(run);
    for g in groups {
        let name = &g[CLUSTER_GROUP.len()..];
        cluster(run, name, &run.groups[&g], done, &mut out)?;
    }
    for (i, p) in run.pauses.iter().enumerate() {
        let p = p
            .as_object()
            .ok_or_else(|| format!("pause {} is not a dict: {p}", i + 1))?;
        let seconds = get(p, "seconds");
        let tail = if seconds.is_null() {
            let answer = get(p, "answer");
            format!(
                " (answer: {})",
                if truthy(answer) {
                    py_str(answer)
                } else {
                    "Enter".into()
                }
            )
        } else {
            format!(" ({} s)", py_str(seconds))
        };
        out.lines.push(format!(
            "paused before {}: {} .. {}{tail}",
            py_str(get(p, "before")),
            py_str(get(p, "started")),
            py_str(get(p, "ended"))
        ));
    }
    Ok(out)
}

/// One hierarchy's switchovers in the run and their total interruption (issue 20); measured is
/// false once one of them has none (check mode, or lk_resource could not time it).
struct Interruption {
    switchovers: u64,
    interruption_s: f64,
    measured: bool,
}

fn cluster(
    run: &Run,
    name: &str,
    group: &[String],
    done_stage: usize,
    out: &mut Summary,
) -> Result<(), String> {
    let hv = |h: &str| -> Result<&HostVars, String> {
        run.hosts
            .get(h)
            .ok_or_else(|| format!("cluster {name}: no hostvars of its node {h}"))
    };
    let mates = |h: &str| -> Result<Option<Vec<String>>, String> {
        let v = &hv(h)?.lk_mates;
        if v.is_null() {
            Ok(None)
        } else {
            strings(h, "lk_mates", v).map(Some)
        }
    };
    let Some(head) = group.first() else {
        return Err(format!("cluster {name}: its group names no node"));
    };
    // Inventory (wave) order, not the order group_by happened to add the hosts in: the first
    // failed node named is the same on every run.
    let (order, first) = match mates(head)? {
        Some(m) if !m.is_empty() => (m.clone(), m[0].clone()),
        Some(m) => (m, head.clone()),
        None => (jinja_sorted(group.to_vec()), head.clone()),
    };
    let fv = hv(&first)?;

    let mut nodes = vec![];
    let mut before = Map::new();
    let mut now = Map::new();
    let mut waits = vec![];
    let mut held = Value::Null;
    let mut stop: Option<(String, Value, Value)> = None;
    let mut lowest: Option<usize> = None;
    let mut stages = vec![];
    for h in &order {
        let v = hv(h)?;
        let (stage, r) = stage_of(h, v)?;
        lowest = Some(lowest.map_or(r, |l| l.min(r)));
        for t in strings(h, "lk_home_tags", &v.lk_home_tags)? {
            before.insert(t, Value::from(h.as_str()));
        }
        let (tags_now, running_now) = now_of(h, v)?;
        for t in tags_now {
            now.insert(t, Value::from(h.as_str()));
        }
        for w in objects(h, "lk_mirror_waits", &v.lk_mirror_waits)? {
            waits.push(w.clone());
        }
        if truthy(&v.lk_held) && !truthy(&held) {
            held = v.lk_held.clone();
        }
        if stage == "failed" && stop.is_none() {
            stop = Some((
                h.clone(),
                v.lk_failed_stage.clone(),
                v.lk_failed_msg.clone(),
            ));
        }
        let version_after = if v.lk_version_after.is_null() {
            v.lk_version_before.clone()
        } else {
            v.lk_version_after.clone()
        };
        nodes.push(json!({
            "node": h,
            "stage": stage,
            "version_before": v.lk_version_before,
            "version_after": version_after,
            "failed_stage": or_null_empty(&v.lk_failed_stage),
            "failed_msg": or_null_empty(&v.lk_failed_msg),
            "backup_on_controller": v.lk_backup_on_controller,
            "lifekeeper_running": running_now,
        }));
        stages.push(stage);
    }
    let done = lowest.is_some_and(|l| l >= done_stage);
    let status = if done {
        "ok"
    } else if stop.is_some() {
        "FAILED"
    } else {
        "INCOMPLETE"
    };
    let check = run.check_mode;

    // rolling_upgrade.yml only: the persisted plan, the switchovers in order (made, or
    // predicted in check mode) and the placement they lead to.
    let plan = (!fv.lk_plan.is_null()).then(|| {
        let recorded = match &fv.lk_plan {
            Value::Object(o) => !o.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => false,
        };
        let field = |k: &str| fv.lk_plan.get(k).cloned().unwrap_or(Value::Null);
        json!({
            "file": if recorded { fv.lk_plan_path.clone() } else { Value::Null },
            "node_file": if recorded { fv.lk_plan_node_path.clone() } else { Value::Null },
            "resumed": ansible_bool(&fv.lk_plan_resumed),
            "created": field("created"),
            "target_version": field("target_version"),
            "recorded": recorded && !check,
            "closed": recorded && done && !check,
        })
    });
    let canary = if fv.lk_canary.is_null() {
        Value::Bool(false)
    } else {
        fv.lk_canary.clone()
    };
    let stopped_at = stop
        .as_ref()
        .map(|(n, s, m)| json!({"node": n, "stage": s, "msg": m}))
        .unwrap_or(Value::Null);
    let mut c = Map::new();
    c.insert("status".into(), status.into());
    c.insert("nodes".into(), Value::Array(nodes.clone()));
    c.insert("placement_before".into(), Value::Object(before.clone()));
    c.insert("placement_now".into(), Value::Object(now.clone()));
    c.insert("stopped_at".into(), stopped_at);
    c.insert(
        "held".into(),
        if truthy(&held) {
            held.clone()
        } else {
            Value::Null
        },
    );
    c.insert("canary".into(), canary.clone());
    if let Some(p) = &plan {
        c.insert("plan".into(), p.clone());
    }

    // Issue 20: every switchover carries started/ended/interruption_s (null in check mode),
    // each hierarchy its switch count and total interruption. Each node remembered its own
    // (tasks/track.yml); in run order: every upgrade wave, then every return wave (`seq`).
    let mut switchovers: Option<Vec<Value>> = None;
    let mut per: Vec<(String, Interruption)> = vec![];
    let mut predicted: Option<Map<String, Value>> = None;
    match &fv.lk_plan_placement {
        Value::Null => {}
        Value::Object(placement) => {
            let mut placed = placement.clone();
            let mut moves = vec![];
            let who = mates(&first)?.unwrap_or_default();
            for h in &who {
                moves.extend(objects(h, "lk_moves", &hv(h)?.lk_moves)?);
            }
            // Stable, as Jinja's sort(attribute='seq').
            moves.sort_by(|a, b| {
                seq(a)
                    .partial_cmp(&seq(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            let mut sw = vec![];
            for m in moves {
                let tag = get(m, "tag").clone();
                let e = json!({
                    "tag": tag,
                    "from": or_default(get(m, "from"), "none"),
                    "to": or_default(get(m, "to"), "none"),
                    "wave": get(m, "wave"),
                    "stage": get(m, "stage"),
                    "started": get(m, "started"),
                    "ended": get(m, "ended"),
                    "interruption_s": get(m, "interruption_s"),
                });
                let key = py_str(&tag);
                placed.insert(key.clone(), e["to"].clone());
                let i = match per.iter().position(|(t, _)| *t == key) {
                    Some(i) => i,
                    None => {
                        per.push((
                            key,
                            Interruption {
                                switchovers: 0,
                                interruption_s: 0.0,
                                measured: true,
                            },
                        ));
                        per.len() - 1
                    }
                };
                let p = &mut per[i].1;
                p.switchovers += 1;
                let took = &e["interruption_s"];
                if took.is_null() {
                    p.measured = false;
                } else {
                    p.interruption_s = round3(p.interruption_s + to_float(took));
                }
                sw.push(e);
            }
            let mut ints = Map::new();
            for (t, p) in &per {
                ints.insert(
                    t.clone(),
                    json!({"switchovers": p.switchovers, "interruption_s": p.interruption_s,
                           "measured": p.measured}),
                );
            }
            c.insert("interruptions".into(), Value::Object(ints));
            c.insert("switchovers".into(), Value::Array(sw.clone()));
            c.insert(
                "placement_predicted".into(),
                if check {
                    Value::Object(placed.clone())
                } else {
                    Value::Null
                },
            );
            switchovers = Some(sw);
            if check {
                predicted = Some(placed);
            }
        }
        other => {
            return Err(format!(
                "lk_plan_placement of {first} is not a dict: {other}"
            ))
        }
    }
    // DataKeeper (issue 17): each wait for a mirror to be in sync toward a node, and how long.
    c.insert(
        "mirror_waits".into(),
        Value::Array(waits.iter().cloned().map(Value::Object).collect()),
    );
    let rollback_to = (!fv.lk_rollback_to.is_null()).then(|| fv.lk_rollback_to.clone());
    if let Some(r) = &rollback_to {
        c.insert("rollback_to".into(), r.clone());
    }

    // The lines.
    let why = match (&stop, truthy(&held)) {
        (Some((n, s, m)), _) => Some(format!(" at {n} \"{}\": {}", py_str(s), py_str(m))),
        (None, true) => Some(format!(" (held: {})", py_str(&held))),
        (None, false) => None,
    };
    let lines = &mut out.lines;
    lines.push(format!(
        "cluster {name}: {status}{}{}",
        why.clone().unwrap_or_default(),
        if truthy(&canary) { " [canary]" } else { "" }
    ));
    if let Some(r) = &rollback_to {
        let r = py_str(r);
        lines.push(if check {
            format!("  would roll back to {r}")
        } else if status == "ok" {
            format!("  rolled back to {r}")
        } else {
            format!("  rollback to {r} not finished")
        });
    }
    if let Some(p) = &plan {
        let file = &p["file"];
        let text = if !truthy(file) {
            "none (nothing to upgrade)".to_string()
        } else {
            format!(
                "{}{}{}{}",
                py_str(file),
                if p["resumed"] == true {
                    format!(" (resumed the plan recorded {})", py_str(&p["created"]))
                } else {
                    " (new)".into()
                },
                if p["closed"] == true { " closed" } else { "" },
                if check {
                    " [check mode: not written]"
                } else {
                    ""
                }
            )
        };
        lines.push(format!("  plan: {text}"));
    }
    if let Some(sw) = &switchovers {
        for (i, m) in sw.iter().enumerate() {
            let took = &m["interruption_s"];
            lines.push(format!(
                "  switchover {}: {} {} -> {} (wave {}, {}){}",
                i + 1,
                py_str(&m["tag"]),
                py_str(&m["from"]),
                py_str(&m["to"]),
                py_str(&m["wave"]),
                py_str(&m["stage"]),
                if took.is_null() {
                    String::new()
                } else {
                    format!(", interruption {} s", py_str(took))
                }
            ));
        }
        // Jinja's dictsort: by key, case-insensitive, stable.
        let mut sorted: Vec<&(String, Interruption)> = per.iter().collect();
        sorted.sort_by_key(|(t, _)| t.to_lowercase());
        for (t, p) in sorted {
            lines.push(format!(
                "  {t}: switched {} time(s){}",
                p.switchovers,
                if p.measured {
                    format!(", interrupted {} s in total", py_float(p.interruption_s))
                } else {
                    String::new()
                }
            ));
        }
    }
    for w in &waits {
        let state = get(w, "state");
        let in_sync = state.as_str() == Some("in_sync");
        let what = if truthy(get(w, "check_mode")) && !in_sync {
            let progress = get(w, "progress");
            format!(
                "would wait (now {}{})",
                py_str(state),
                if progress.is_null() {
                    String::new()
                } else {
                    format!(" {}%", py_str(progress))
                }
            )
        } else if in_sync {
            format!("waited {}s", py_str(get(w, "waited_s")))
        } else {
            format!("not in sync ({})", py_str(state))
        };
        lines.push(format!(
            "  mirror {} toward {}: {what} ({} of {}, wave {})",
            py_str(get(w, "tag")),
            py_str(get(w, "target")),
            py_str(get(w, "stage")),
            py_str(get(w, "node")),
            py_str(get(w, "wave"))
        ));
    }
    for n in &nodes {
        let vb = &n["version_before"];
        let boc = &n["backup_on_controller"];
        lines.push(format!(
            "  {}:{}{}{}",
            py_str(&n["node"]),
            if truthy(vb) {
                format!(" {} -> {}", py_str(vb), py_str(&n["version_after"]))
            } else {
                String::new()
            },
            if truthy(boc) {
                format!(" backup verified in {}", py_str(boc))
            } else {
                String::new()
            },
            if n["stage"] == "failed" {
                format!(" (failed at \"{}\")", py_str(&n["failed_stage"]))
            } else {
                String::new()
            }
        ));
    }
    // Every hierarchy that was home somewhere or is in service now, by name (case-insensitive,
    // as Jinja's sort).
    let mut tags: Vec<String> = before.keys().cloned().collect();
    for t in now.keys() {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    for t in jinja_sorted(tags) {
        let was = before
            .get(&t)
            .map(py_str)
            .unwrap_or_else(|| "nobody".into());
        lines.push(match predicted.as_ref().filter(|p| !p.is_empty()) {
            Some(p) => format!(
                "  {t}: home {was}, predicted at the end on {}",
                p.get(&t).map(py_str).unwrap_or_else(|| "NOBODY".into())
            ),
            None => format!(
                "  {t}: was on {was}, now on {}",
                now.get(&t).map(py_str).unwrap_or_else(|| "NOBODY".into())
            ),
        });
    }
    if status != "ok" {
        out.failed_clusters.push(format!(
            "cluster {name} {status}{}",
            why.unwrap_or_else(|| " (not every node reached the end)".into())
        ));
    }
    out.clusters.insert(name.to_string(), Value::Object(c));
    Ok(())
}

/// `v | default('')`: the value, or "" when undefined.
fn or_null_empty(v: &Value) -> Value {
    if v.is_null() {
        Value::from("")
    } else {
        v.clone()
    }
}

/// A switchover's place in the run (track.yml: the wave, plus 100 for a return).
fn seq(m: &Map<String, Value>) -> f64 {
    match get(m, "seq") {
        Value::String(s) => s.trim().parse().unwrap_or(0.0),
        v => v.as_f64().unwrap_or(0.0),
    }
}

/// The hosts of the run's clusters: cluster groups in name order, each group's hosts in its order.
fn cluster_hosts(run: &Run) -> Vec<&String> {
    let groups = cluster_groups(run);
    groups.iter().flat_map(|g| run.groups[g].iter()).collect()
}

fn host<'a>(run: &'a Run, h: &str) -> Result<&'a HostVars, String> {
    run.hosts
        .get(h)
        .ok_or_else(|| format!("{h} is in a cluster group but not in hosts"))
}

/// set_stats `lkops_backups`: node -> the backups lk_backup recorded for it in this run
/// (`lk_bk.backups`), each with only [`BACKUP_KEYS`]. A node without backups is left out.
pub fn backups(run: &Run) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for h in cluster_hosts(run) {
        let list = match host(run, h)?.lk_bk.get("backups") {
            None | Some(Value::Null) => continue,
            Some(Value::Array(a)) => a,
            Some(other) => return Err(format!("lk_bk.backups of {h} is not a list: {other}")),
        };
        let mut kept = vec![];
        for b in list {
            let b = b
                .as_object()
                .ok_or_else(|| format!("a backup in lk_bk.backups of {h} is not a dict: {b}"))?;
            let only: Map<String, Value> = b
                .iter()
                .filter(|(k, _)| BACKUP_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            kept.push(Value::Object(only));
        }
        out.insert(h.clone(), Value::Array(kept));
    }
    Ok(out)
}

/// The readiness report's data (lk_plan `readiness`, tasks/report.yml), before the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Readiness {
    /// Every node, clusters in name order (the report's rows).
    pub nodes: Vec<String>,
    /// Every pre-flight check ID any node reported, in order of first appearance (its columns).
    pub check_ids: Vec<String>,
    /// One entry per cluster with a plan decided (plan.yml) or a release to roll back to:
    /// cluster, file (null when there is nothing to upgrade), resumed, created, rollback_to.
    pub plans: Vec<Value>,
    /// set_stats `lkops_readiness`: node -> cluster, ready, installed_version, upgrade_path,
    /// failed_checks, msg.
    pub readiness: Map<String, Value>,
}

/// `v` when it is a dict, else an empty one (`| default({})` of an undefined variable).
fn dict_or_empty(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn checks_of(r: &Map<String, Value>) -> Vec<&Map<String, Value>> {
    r.get("checks")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

/// The readiness of every node from its pre-flight result, and each cluster's plan.
pub fn readiness(run: &Run) -> Result<Readiness, String> {
    let nodes: Vec<String> = cluster_hosts(run).into_iter().cloned().collect();
    let mut check_ids: Vec<String> = vec![];
    let mut stats = Map::new();
    for h in &nodes {
        let hv = host(run, h)?;
        let r = dict_or_empty(&hv.lk_preflight_result);
        let checks = checks_of(&r);
        for c in &checks {
            if let Some(id) = c.get("id").and_then(Value::as_str) {
                if !check_ids.iter().any(|i| i == id) {
                    check_ids.push(id.to_string());
                }
            }
        }
        let failed: Vec<Value> = checks
            .iter()
            .filter(|c| c.get("status").and_then(Value::as_str) == Some("fail"))
            .map(|c| get(c, "id").clone())
            .collect();
        stats.insert(
            h.clone(),
            json!({
                "cluster": hv.lk_cluster_name,
                "ready": !r.is_empty() && !truthy(get(&r, "failed")),
                "installed_version": get(&r, "installed_version"),
                "upgrade_path": get(&r, "upgrade_path"),
                "failed_checks": failed,
                "msg": r.get("msg").cloned()
                    .unwrap_or_else(|| json!("no pre-flight result (not reached)")),
            }),
        );
    }
    let mut plans = vec![];
    let groups = cluster_groups(run);
    for g in groups {
        let Some(first) = run.groups[&g].first() else {
            continue;
        };
        let hv = host(run, first)?;
        if hv.lk_plan.is_null() && hv.lk_rollback_to.is_null() {
            continue;
        }
        let recorded = match &hv.lk_plan {
            Value::Object(o) => !o.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => false,
        };
        plans.push(json!({
            "cluster": &g[CLUSTER_GROUP.len()..],
            "file": if recorded { hv.lk_plan_path.clone() } else { Value::Null },
            "resumed": ansible_bool(&hv.lk_plan_resumed),
            "created": hv.lk_plan.get("created").cloned().unwrap_or(Value::Null),
            "rollback_to": hv.lk_rollback_to,
        }));
    }
    Ok(Readiness {
        nodes,
        check_ids,
        plans,
        readiness: stats,
    })
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;

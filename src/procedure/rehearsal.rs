//! The rehearsal's facts (issue 18; issue 26: no template returns data): from the three runs of
//! rolling_upgrade.yml against the twin (their ansible.posix.json output), the twin's state
//! before and after (`lksim state`), twin create's output (its nodes and guesses) and twin
//! check's differences: each run's steps per node, its switchovers, what failed and why, and the
//! lines rehearse.yml prints. The document rehearsal.{json,md,html} render (the same keys and
//! values rehearsal.json.j2 computed before).
//!
//! A switchover is a change of where a root hierarchy is in service: each lk_resource action
//! (restore on NODE: the hierarchy goes to NODE; remove: it goes to nobody) applied in order to
//! the placement the twin had before the run. Check mode predicts without moving the twin, so
//! what check mode predicted is what the run returned: its summary's switchovers (set_stats
//! `lkops_summary`), not a re-derivation from its calls.
//!
//! Pure: no command, no clock, no file. lk_plan's `rehearsal` mode is the module around it.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

use super::summary::{py_str, truthy};

/// One run of rolling_upgrade.yml against the twin, as rehearse.yml registered it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunResult {
    /// check, real or rerun.
    pub name: String,
    pub rc: i64,
    /// Its ansible.posix.json output (not JSON when ansible-playbook stopped early).
    pub stdout: String,
    pub stderr: String,
}

/// What the rehearsal is made of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    /// The capture directory.
    pub capture: String,
    pub target_version: String,
    /// `lksim twin create`'s output (JSON: cluster, nodes, guesses).
    pub twin: String,
    /// `lksim state` of the twin before and after the runs (JSON: nodes with resources).
    pub state_before: String,
    pub state_after: String,
    /// `lksim twin check`: its exit code and output lines.
    pub fidelity_rc: i64,
    pub fidelity_lines: Vec<String>,
    pub runs: Vec<RunResult>,
}

/// A JSON object with its keys in the order written (a run's hosts, in the order they reported:
/// the order of the switchovers and failures of one task).
#[derive(Debug, Default)]
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a dict")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut out = vec![];
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Debug, Default, Deserialize)]
struct Named {
    #[serde(default)]
    name: Value,
}

#[derive(Debug, Default, Deserialize)]
struct CbTask {
    #[serde(default)]
    task: Named,
    #[serde(default)]
    hosts: Ordered,
}

#[derive(Debug, Default, Deserialize)]
struct CbPlay {
    #[serde(default)]
    play: Named,
    #[serde(default)]
    tasks: Vec<CbTask>,
}

/// The ansible.posix.json callback's document (what the rehearsal reads of it).
#[derive(Debug, Default, Deserialize)]
struct CbOut {
    #[serde(default)]
    plays: Vec<CbPlay>,
    #[serde(default)]
    stats: Map<String, Value>,
    #[serde(default)]
    global_custom_stats: Map<String, Value>,
}

/// Where each root hierarchy is in service (ISP or ISU; not a child of another).
pub fn placement_of(state: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for n in state["nodes"].as_array().into_iter().flatten() {
        let resources: Vec<&Value> = n["resources"].as_array().into_iter().flatten().collect();
        let kids: Vec<&Value> = resources
            .iter()
            .flat_map(|r| r["children"].as_array().into_iter().flatten())
            .collect();
        for r in &resources {
            let state = r["state"].as_str().unwrap_or("");
            if !kids.contains(&&r["tag"]) && (state == "ISP" || state == "ISU") {
                out.insert(py_str(&r["tag"]), n["name"].clone());
            }
        }
    }
    out
}

/// `regex_search('wave (\d+)', '\1')`: the number after the first "wave ".
fn wave_of(play: &str) -> Option<i64> {
    let mut rest = play;
    while let Some(i) = rest.find("wave ") {
        let tail = &rest[i + 5..];
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() {
            return digits.parse().ok();
        }
        rest = &rest[i + 1..];
    }
    None
}

fn parse(what: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not JSON: {e}"))
}

/// One run: its entry in `runs`, its failures, its line, the placement at its end.
type RunOutcome = (Value, Vec<Value>, String, Map<String, Value>);

/// One run (see [`RunOutcome`]).
fn one_run(r: &RunResult, start: &Map<String, Value>) -> Result<RunOutcome, String> {
    let name = r.name.as_str();
    let mut place = start.clone();
    let mut steps: Map<String, Value> = Map::new();
    let mut sw: Vec<Value> = vec![];
    let mut fails: Vec<Value> = vec![];
    let data: CbOut = if r.stdout.trim().starts_with('{') {
        serde_json::from_str(&r.stdout)
            .map_err(|e| format!("the {name} run's output is not the json callback's: {e}"))?
    } else {
        CbOut::default()
    };
    for play in &data.plays {
        let pname = match &play.play.name {
            Value::Null => String::new(),
            v => py_str(v),
        };
        let wave = wave_of(&pname);
        let phase = if pname.starts_with("Return") {
            "return".to_string()
        } else if wave.is_some_and(|w| w != 0) {
            "upgrade".to_string()
        } else {
            pname.clone()
        };
        let wave_v = wave.map_or(Value::Null, |w| json!(w));
        for t in &play.tasks {
            let task = &t.task.name;
            for (h, res) in &t.hosts.0 {
                let status = if truthy(&res["failed"]) {
                    "failed"
                } else if truthy(&res["skipped"]) {
                    "skipped"
                } else if truthy(&res["changed"]) {
                    "changed"
                } else {
                    "ok"
                };
                let msg = |default: &str| match res.get("msg") {
                    Some(m) => py_str(m),
                    None => default.to_string(),
                };
                if h != "localhost" || status == "failed" {
                    let list = steps.entry(h.clone()).or_insert_with(|| json!([]));
                    list.as_array_mut().unwrap().push(json!({
                        "phase": phase, "wave": wave_v, "task": task, "status": status,
                        "msg": if status == "failed" { msg("") } else { String::new() },
                    }));
                }
                if status == "failed" {
                    fails.push(json!({"run": name, "node": h, "task": task, "why": msg("failed")}));
                }
                // A task with a loop has its calls' results in `results`; the role's lk_node_steps
                // (a node's switchover, upgrade and checks as one task) lists its module calls in
                // order in `calls`.
                let parts = std::iter::once(res)
                    .chain(res["results"].as_array().into_iter().flatten())
                    .chain(res["calls"].as_array().into_iter().flatten());
                for part in parts {
                    let is_resource = part["action"].as_str() == Some("lk_resource")
                        || (part.get("actions").is_some() && part.get("placement").is_some());
                    if !is_resource {
                        continue;
                    }
                    for a in part["actions"].as_array().into_iter().flatten() {
                        let tag = py_str(&a["tag"]);
                        let from = place.get(&tag).cloned().unwrap_or(Value::Null);
                        let to = if a["action"] == "restore" {
                            a["node"].clone()
                        } else {
                            Value::Null
                        };
                        if from != to {
                            sw.push(
                                json!({"tag": a["tag"], "from": from, "to": to, "wave": wave_v,
                                           "phase": phase, "node": h, "ok": status != "failed"}),
                            );
                            place.insert(tag, to);
                        }
                    }
                }
            }
        }
    }
    if name == "check" {
        if let Some(Value::Object(predicted)) = data.global_custom_stats.get("lkops_summary") {
            sw = vec![];
            // dictsort: case-insensitive key order.
            let mut clusters: Vec<(&String, &Value)> = predicted.iter().collect();
            clusters.sort_by_key(|(k, _)| k.to_lowercase());
            let none = |v: &Value| {
                if v.is_null() || v == "none" {
                    Value::Null
                } else {
                    v.clone()
                }
            };
            for (_, c) in clusters {
                for m in c["switchovers"].as_array().into_iter().flatten() {
                    let (from, to) = (none(&m["from"]), none(&m["to"]));
                    let node = if m["stage"] == "upgrade" {
                        from.clone()
                    } else {
                        to.clone()
                    };
                    sw.push(
                        json!({"tag": m["tag"], "from": from, "to": to, "wave": m["wave"],
                                   "phase": m["stage"], "node": node, "ok": true}),
                    );
                }
            }
        }
    }
    let changed: i64 = data
        .stats
        .values()
        .map(|s| s["changed"].as_i64().unwrap_or(0))
        .sum();
    if r.rc != 0 && fails.is_empty() {
        let last = r.stderr.lines().last().unwrap_or("");
        fails.push(json!({"run": name, "node": "", "task": "ansible-playbook",
                          "why": format!("exited with rc={}: {last}", r.rc)}));
    }
    if name == "rerun" && r.rc == 0 && changed > 0 {
        fails.push(json!({"run": name, "node": "", "task": "idempotence",
                          "why": format!("the rerun changed {changed} things (expected changed=0)")}));
    }
    let line = format!(
        "{name}: rc={}, changed={changed}, {} switchover(s), {} failure(s)",
        r.rc,
        sw.len(),
        fails.len()
    );
    let entry = json!({"name": name, "rc": r.rc, "changed": changed, "stats": data.stats,
                       "steps": steps, "switchovers": sw, "failures": fails});
    Ok((entry, fails, line, place))
}

/// The rehearsal's document: capture, cluster, target_version, nodes, guesses, fidelity (rc,
/// differences), placement_before, placement_after, versions_after, runs (name, rc, changed,
/// stats, steps per node, switchovers, failures), failures, lines.
pub fn rehearsal(input: &Input) -> Result<Value, String> {
    let before = placement_of(&parse("state_before", &input.state_before)?);
    let after_state = parse("state_after", &input.state_after)?;
    let after = placement_of(&after_state);
    let twin = parse("twin", &input.twin)?;
    let mut real_end = before.clone();
    let (mut runs, mut failures, mut lines) = (vec![], vec![], vec![]);
    for r in &input.runs {
        let start = if r.name == "rerun" {
            &real_end
        } else {
            &before
        };
        let (entry, fails, line, end) = one_run(r, start)?;
        if r.name == "real" {
            real_end = end;
        }
        runs.push(entry);
        failures.extend(fails);
        lines.push(line);
    }
    let fid: Vec<&String> = input
        .fidelity_lines
        .iter()
        .filter(|l| !l.starts_with("twin check:"))
        .collect();
    let mut versions = BTreeMap::new();
    for n in after_state["nodes"].as_array().into_iter().flatten() {
        versions.insert(py_str(&n["name"]), n["version"].clone());
    }
    let guesses = twin["guesses"].clone();
    let guess_count = guesses.as_array().map_or(0, Vec::len);
    let mut all = vec![format!(
        "cluster {} rehearsed from {} (target {})",
        py_str(&twin["cluster"]),
        input.capture,
        input.target_version
    )];
    all.extend(lines);
    all.push(format!(
        "fidelity: {} difference(s) between the twin and the capture",
        fid.len()
    ));
    all.push(format!("guesses: {guess_count}"));
    let nodes: Vec<Value> = twin["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| n["name"].clone())
        .collect();
    Ok(json!({
        "capture": input.capture,
        "cluster": twin["cluster"],
        "target_version": input.target_version,
        "nodes": nodes,
        "guesses": guesses,
        "fidelity": {"rc": input.fidelity_rc, "differences": fid},
        "placement_before": before,
        "placement_after": after,
        "versions_after": versions,
        "runs": runs,
        "failures": failures,
        "lines": all,
    }))
}

#[cfg(test)]
#[path = "rehearsal_tests.rs"]
mod tests;

//! The rehearsal's tests: the documents rehearsal.json.j2 computed, before the decision moved
//! here, from the same inputs (tests/fixtures/reports/rehearsal-input.json: a real rehearsal's
//! three runs, trimmed, with a failing step, a controller failure and a changed rerun added (a);
//! the real run and the rerun stopped by ansible-playbook (b)) are this module's, value for value.

use super::*;

const INPUT: &str = include_str!("../../tests/fixtures/reports/rehearsal-input.json");
const EXPECTED_A: &str = include_str!("../../tests/fixtures/reports/rehearsal-expected-a.json");
const EXPECTED_B: &str = include_str!("../../tests/fixtures/reports/rehearsal-expected-b.json");

/// rehearse.yml's registered variables (the template's input) as this module's input.
fn input_of(v: &Value) -> Input {
    let runs = v["lk_runs"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| RunResult {
            name: r["item"]["name"].as_str().unwrap().into(),
            rc: r["rc"].as_i64().unwrap(),
            stdout: r["stdout"].as_str().unwrap().into(),
            stderr: r["stderr"].as_str().unwrap().into(),
        })
        .collect();
    Input {
        capture: v["lk_capture"].as_str().unwrap().into(),
        target_version: v["lk_target_version"].as_str().unwrap().into(),
        twin: v["lk_twin"]["stdout"].as_str().unwrap().into(),
        state_before: v["lk_state_before"]["stdout"].as_str().unwrap().into(),
        state_after: v["lk_state_after"]["stdout"].as_str().unwrap().into(),
        fidelity_rc: v["lk_fidelity"]["rc"].as_i64().unwrap(),
        fidelity_lines: serde_json::from_value(v["lk_fidelity"]["stdout_lines"].clone()).unwrap(),
        runs,
    }
}

#[test]
fn the_rehearsal_is_the_document_the_template_computed() {
    let all: Value = serde_json::from_str(INPUT).unwrap();
    for (case, expected) in [("a", EXPECTED_A), ("b", EXPECTED_B)] {
        let want: Value = serde_json::from_str(expected).unwrap();
        let got = rehearsal(&input_of(&all[case])).unwrap();
        for k in want.as_object().unwrap().keys() {
            assert_eq!(got[k], want[k], "case {case}: {k}");
        }
        assert_eq!(got, want, "case {case}");
    }
}

#[test]
fn waves_are_read_from_the_play_name() {
    let cases = [
        ("Upgrade wave 2 of 3", Some(2)),
        ("Return wave 10", Some(10)),
        ("a wave without number, then wave 7", Some(7)),
        ("Pre-flight", None),
        ("wave x", None),
    ];
    for (play, want) in cases {
        assert_eq!(wave_of(play), want, "{play}");
    }
}

#[test]
fn placement_is_where_each_root_hierarchy_is_in_service() {
    let state = json!({"nodes": [
        {"name": "a", "resources": [
            {"tag": "app", "state": "ISP", "children": ["fs"]},
            {"tag": "fs", "state": "ISP", "children": []},
            {"tag": "ip", "state": "OSU", "children": []}]},
        {"name": "b", "resources": [
            {"tag": "ip", "state": "ISU", "children": []},
            {"tag": "app", "state": "OSF", "children": ["fs"]}]}
    ]});
    assert_eq!(
        Value::Object(placement_of(&state)),
        json!({"app": "a", "ip": "b"})
    );
}

#[test]
fn bad_input_is_named() {
    let mut i = input_of(&serde_json::from_str::<Value>(INPUT).unwrap()["a"]);
    i.state_before = "not json".into();
    assert!(rehearsal(&i)
        .unwrap_err()
        .starts_with("state_before is not JSON"));
}

/// The role's lk_node_steps action makes a node's switchover, upgrade and checks one task and
/// lists its module calls in `calls` (issue 26: tasks per node). The rehearsal reads the
/// switchovers from there as it read them from the lk_resource tasks and their loops: the same
/// real run, its lk_resource results moved into lk_node_steps' `calls`, gives the same
/// switchovers (the delivery test saw none at all before).
#[test]
fn switchovers_are_read_from_lk_node_steps_calls_as_from_lk_resource_tasks() {
    let all: Value = serde_json::from_str(INPUT).unwrap();
    let before = input_of(&all["a"]);
    let mut after = input_of(&all["a"]);
    let mut moved = 0;
    for run in after.runs.iter_mut() {
        let Ok(mut out) = serde_json::from_str::<Value>(&run.stdout) else {
            continue;
        };
        for play in out["plays"].as_array_mut().into_iter().flatten() {
            for task in play["tasks"].as_array_mut().into_iter().flatten() {
                for (_, res) in task["hosts"].as_object_mut().into_iter().flatten() {
                    let parts: Vec<Value> = std::iter::once(res.clone())
                        .chain(res["results"].as_array().into_iter().flatten().cloned())
                        .filter(|p| p.get("actions").is_some() && p.get("placement").is_some())
                        .map(|mut p| {
                            p["action"] = json!("lk_resource");
                            p
                        })
                        .collect();
                    if parts.is_empty() {
                        continue;
                    }
                    moved += parts.len();
                    *res = json!({"changed": res["changed"], "failed": res["failed"],
                                  "action": "lk_node_steps", "calls": parts, "results": {}});
                }
            }
        }
        run.stdout = out.to_string();
    }
    assert!(moved > 0, "the fixture has lk_resource results");
    let (b, a) = (rehearsal(&before).unwrap(), rehearsal(&after).unwrap());
    for (rb, ra) in b["runs"]
        .as_array()
        .unwrap()
        .iter()
        .zip(a["runs"].as_array().unwrap())
    {
        assert_eq!(rb["switchovers"], ra["switchovers"], "run {}", rb["name"]);
    }
    assert!(b["runs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| !r["switchovers"].as_array().unwrap().is_empty()));
}

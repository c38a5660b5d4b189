//! The rolling upgrade on DataKeeper clusters (issue 17), through the real ansible-playbook
//! against lksim: every switchover and the return wait until the mirrors toward their target are
//! in sync, the hierarchy is in service on some node at every moment (a thread records the
//! simulator's states during the run), the summary shows each wait, and a witness node is
//! upgraded without any switchover. Ignored by a plain `cargo test`; `make test` runs them.

use crate::common::{self, ansible};

use ansible::{ansible_playbook, recap, recap_total, text};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn spec() -> Value {
    json!([{"tag": "app-x", "id": "app-x", "children": ["datarep-x"]},
           {"tag": "datarep-x", "id": "/dev/md0", "app": "scsi", "type": "netraid"}])
}

struct Sim {
    dir: PathBuf,
    inventory: PathBuf,
    out: PathBuf,
}

impl Sim {
    fn create(test: &str, nodes: &[&str], extra: &[&str]) -> Sim {
        let root = common::scratch(&format!("pb-dk-{test}"));
        let sim = Sim {
            dir: root.join("sim"),
            inventory: root.join("inventory.yml"),
            out: root.join("out"),
        };
        let spec = json!({
            "sim_dir": sim.dir, "lksim": common::bin("lksim"), "sim_inventory": sim.inventory,
            "sim_clusters": [{"name": "dk", "nodes": nodes, "version": "9.4.0", "hierarchies": spec()}],
            "sim_vars": {"lk_output_dir": sim.out, "lk_verify_delay": 1},
            "sim_extra_create_args": extra,
        });
        let spec_file = root.join("spec.json");
        std::fs::write(&spec_file, spec.to_string()).unwrap();
        let out = ansible_playbook(
            &[
                "tests/ansible/simulate.yml",
                "-e",
                &format!("@{}", spec_file.display()),
            ],
            &[],
        );
        assert!(out.status.success(), "simulate.yml failed:\n{}", text(&out));
        sim
    }
    fn playbook(&self, playbook: &str, args: &[&str]) -> Output {
        let pb = format!("playbooks/{playbook}");
        let mut a = vec!["-i", self.inventory.to_str().unwrap(), pb.as_str()];
        a.extend_from_slice(args);
        ansible_playbook(&a, &[])
    }
    fn cluster_dir(&self) -> PathBuf {
        self.dir.join("dk")
    }
    fn summary(&self) -> Value {
        let p = self.out.join("report/summary.json");
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    }
}

fn state(dir: &PathBuf) -> Value {
    let out = Command::new(common::bin("lksim"))
        .arg("state")
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Nodes where app-x is ISP.
fn isp_on(st: &Value) -> Vec<String> {
    st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            n["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["tag"] == "app-x" && r["state"] == "ISP")
        })
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect()
}

type Samples = Arc<Mutex<Vec<(u128, Vec<String>)>>>;

/// Runs `f` while a thread records where app-x is in service; asserts it always was somewhere.
fn recorded<T>(dir: PathBuf, f: impl FnOnce() -> T) -> T {
    let stop = Arc::new(AtomicBool::new(false));
    let rec: Samples = Arc::new(Mutex::new(vec![]));
    let (s, r) = (stop.clone(), rec.clone());
    let h = std::thread::spawn(move || {
        let t = Instant::now();
        while !s.load(Ordering::SeqCst) {
            let on = isp_on(&state(&dir));
            r.lock().unwrap().push((t.elapsed().as_millis(), on));
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let v = f();
    stop.store(true, Ordering::SeqCst);
    h.join().unwrap();
    let rec = rec.lock().unwrap();
    assert!(rec.len() > 10, "too few samples: {}", rec.len());
    for (ms, on) in rec.iter() {
        assert!(!on.is_empty(), "app-x out of service everywhere at {ms} ms");
    }
    v
}

fn versions_all(st: &Value, v: &str) {
    for n in st["nodes"].as_array().unwrap() {
        assert_eq!(n["version"], v, "{}", n["name"]);
    }
}

fn waits(summary: &Value) -> Vec<Value> {
    summary["clusters"]["dk"]["mirror_waits"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn rolling_upgrade_on_a_datakeeper_cluster_waits_for_the_resync_check_real_and_idempotent() {
    let sim = Sim::create("two", &["node-a", "node-b"], &["--resync-seconds", "5"]);
    let check = sim.playbook("rolling_upgrade.yml", &["--check", "--diff"]);
    assert!(check.status.success(), "{}", text(&check));
    versions_all(&state(&sim.cluster_dir()), "9.4.0");
    let s = sim.summary();
    assert!(
        !waits(&s).is_empty(),
        "check mode reports the mirror reads: {s}"
    );

    let run = recorded(sim.cluster_dir(), || {
        sim.playbook("rolling_upgrade.yml", &[])
    });
    let log = text(&run);
    assert!(run.status.success(), "{log}");
    let st = state(&sim.cluster_dir());
    versions_all(&st, "9.6.1");
    assert_eq!(isp_on(&st), vec!["node-a"], "back home");
    let s = sim.summary();
    assert_eq!(s["clusters"]["dk"]["status"], "ok", "{s}");
    let w = waits(&s);
    // node-a's restart resyncs toward node-a (5 s): the wait after its upgrade shows it
    assert!(
        w.iter().any(|w| w["target"] == "node-a"
            && w["state"] == "in_sync"
            && w["waited_s"].as_f64().unwrap_or(0.0) >= 2.0),
        "{w:?}"
    );
    let lines = s["lines"].to_string();
    assert!(
        lines.contains("mirror datarep-x toward node-a: waited"),
        "{lines}"
    );

    let again = sim.playbook("rolling_upgrade.yml", &[]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(recap_total(&again, "changed"), 0, "{:?}", recap(&again));
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn with_resync_restore_removes_source_the_rolling_upgrade_never_triggers_the_failing_switchover() {
    let sim = Sim::create(
        "worst",
        &["node-a", "node-b"],
        &[
            "--resync-seconds",
            "4",
            "--resync-restore",
            "removes-source",
        ],
    );
    let run = recorded(sim.cluster_dir(), || {
        sim.playbook("rolling_upgrade.yml", &[])
    });
    assert!(run.status.success(), "{}", text(&run));
    let st = state(&sim.cluster_dir());
    versions_all(&st, "9.6.1");
    for n in st["nodes"].as_array().unwrap() {
        for a in n["actions"].as_array().into_iter().flatten() {
            assert_ne!(a["result"], "failed", "{a}");
        }
    }
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn a_witness_node_is_upgraded_in_its_wave_without_any_switchover() {
    let sim = Sim::create(
        "witness",
        &["node-a", "node-b", "node-c"],
        &["--resync-seconds", "2", "--witness", "node-c"],
    );
    let run = recorded(sim.cluster_dir(), || {
        sim.playbook("rolling_upgrade.yml", &[])
    });
    assert!(run.status.success(), "{}", text(&run));
    let st = state(&sim.cluster_dir());
    versions_all(&st, "9.6.1");
    let s = sim.summary();
    let sw = s["clusters"]["dk"]["switchovers"].as_array().unwrap();
    assert!(!sw.is_empty(), "{s}");
    for m in sw {
        assert!(m["from"] != "node-c" && m["to"] != "node-c", "{m}");
    }
    // node-c holds no mirror: nothing waited toward it
    assert!(waits(&s).iter().all(|w| w["target"] != "node-c"), "{s}");
    let c = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "node-c")
        .unwrap();
    assert!(
        c["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .next()
            .is_none(),
        "{c}"
    );
}

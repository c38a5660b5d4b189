//! DataKeeper-aware switchovers (issue 17) against lksim: lk_resource never switches a
//! hierarchy that holds a netraid mirror onto a node whose mirror is not in sync; it waits
//! (bounded by `wait_for_mirror_sync`) or refuses, leaving the hierarchy in service where it is.
//! States are read from `lksim state` (the simulator's truth), and while a module runs a thread
//! records them, so "in service on some node at every moment" is checked, not assumed.

use crate::common;
use common::{Cluster, Node};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SPEC: &str = r#"[{"tag":"app-x","id":"app-x","children":["datarep-x"]},
 {"tag":"datarep-x","id":"/dev/md0","app":"scsi","type":"netraid"}]"#;

fn dk(name: &str, extra: &[&str]) -> Cluster {
    let mut a = vec!["--hierarchies", SPEC];
    a.extend_from_slice(extra);
    Cluster::create(name, &["node-a", "node-b"], "9.4.0", &a)
}

fn run(node: &Node, mut args: Value) -> (Value, i32) {
    args["lkroot"] = json!(node.lkroot);
    node.module("lk_resource", args)
}

/// `tag`'s state on every node, from the simulator.
fn states(c: &Cluster, tag: &str) -> Vec<(String, String)> {
    states_of(&c.state(), tag)
}

fn states_of(st: &Value, tag: &str) -> Vec<(String, String)> {
    st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| {
            let r = n["resources"]
                .as_array()?
                .iter()
                .find(|r| r["tag"] == tag)?;
            Some((
                n["name"].as_str()?.to_string(),
                r["state"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn isp_on(c: &Cluster, tag: &str) -> Vec<String> {
    states(c, tag)
        .into_iter()
        .filter(|(_, s)| s == "ISP")
        .map(|(n, _)| n)
        .collect()
}

fn resync(c: &Cluster, node: &str, secs: &str) {
    c.sim(&[
        "mirror",
        "resync",
        node,
        "datarep-x",
        "--seconds",
        secs,
        "--dir",
        c.dir.to_str().unwrap(),
    ]);
}

/// (ms since the recorder started, nodes where app-x is ISP).
type Samples = Arc<Mutex<Vec<(u128, Vec<String>)>>>;

/// Polls `lksim state` until stopped; the record of (ms since start, nodes where app-x is ISP).
struct Recorder {
    stop: Arc<AtomicBool>,
    rec: Samples,
    h: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start(c: &Cluster) -> Recorder {
        let stop = Arc::new(AtomicBool::new(false));
        let rec = Arc::new(Mutex::new(vec![]));
        let (s, r, c) = (stop.clone(), rec.clone(), c.clone());
        let h = std::thread::spawn(move || {
            let t = Instant::now();
            while !s.load(Ordering::SeqCst) {
                let on = isp_on(&c, "app-x");
                r.lock().unwrap().push((t.elapsed().as_millis(), on));
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Recorder {
            stop,
            rec,
            h: Some(h),
        }
    }
    /// Stop and assert the hierarchy was in service on some node in every sample.
    fn assert_always_in_service(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.h.take().unwrap().join().unwrap();
        let rec = self.rec.lock().unwrap();
        assert!(!rec.is_empty());
        for (ms, on) in rec.iter() {
            assert!(
                !on.is_empty(),
                "app-x was out of service everywhere at {ms} ms: {rec:?}"
            );
        }
        rec.len()
    }
}

#[test]
fn resync_toward_b_refuses_with_no_wait_and_leaves_the_hierarchy_isp_on_a() {
    let c = dk("dk-refuse", &[]);
    // Longer than the two calls below take on a loaded machine (make test runs this beside
    // Molecule): the refusal must meet the resync.
    resync(&c, "node-b", "10");
    let b = c.node("node-b");
    // check mode predicts the refusal (the real run with no wait fails at once)
    let (v, _) = run(
        b,
        json!({"state": "active", "wait_for_mirror_sync": 0, "_ansible_check_mode": true}),
    );
    assert_eq!(v["failed"], true, "{v}");
    // the real run refuses, naming the mirror, its target and its progress
    let rec = Recorder::start(&c);
    let (v, _) = run(b, json!({"state": "active", "wait_for_mirror_sync": 0}));
    rec.assert_always_in_service();
    assert_eq!(v["failed"], true, "{v}");
    assert_eq!(v["changed"], false, "{v}");
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("datarep-x") && msg.contains("node-b") && msg.contains('%'),
        "{msg}"
    );
    assert!(msg.contains("resyncing"), "{msg}");
    assert_eq!(v["mirrors"][0]["tag"], "datarep-x", "{v}");
    assert_eq!(v["mirrors"][0]["source"], "node-a", "{v}");
    assert_eq!(v["mirrors"][0]["target"], "node-b", "{v}");
    assert_eq!(v["mirrors"][0]["state"], "resyncing", "{v}");
    assert!(v["mirrors"][0]["progress"].is_u64(), "{v}");
    assert_eq!(isp_on(&c, "app-x"), vec!["node-a"]);
    assert_eq!(isp_on(&c, "datarep-x"), vec!["node-a"]);
}

#[test]
fn with_a_wait_longer_than_the_resync_active_succeeds_after_the_resync() {
    let c = dk("dk-wait", &[]);
    // Long enough to be still resyncing when the real run starts on a loaded machine.
    resync(&c, "node-b", "6");
    let b = c.node("node-b");
    // check mode reports the wait it would do and changes nothing
    let (v, _) = run(
        b,
        json!({"state": "active", "wait_for_mirror_sync": 60, "_ansible_check_mode": true}),
    );
    assert_eq!(v["failed"], false, "{v}");
    assert_eq!(v["changed"], true, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("would wait"), "{v}");
    assert_eq!(v["mirrors"][0]["state"], "resyncing", "{v}");
    assert_eq!(isp_on(&c, "app-x"), vec!["node-a"]);

    let rec = Recorder::start(&c);
    let t = Instant::now();
    let (v, rc) = run(b, json!({"state": "active", "wait_for_mirror_sync": 60}));
    let took = t.elapsed();
    rec.assert_always_in_service();
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], true, "{v}");
    assert!(took >= Duration::from_secs(2), "did not wait: {took:?}");
    assert_eq!(v["mirrors"][0]["state"], "in_sync", "{v}");
    assert!(v["mirrors"][0]["waited_s"].as_f64().unwrap() >= 1.5, "{v}");
    assert_eq!(isp_on(&c, "app-x"), vec!["node-b"]);
    // idempotent: nothing to do, no mirror to wait for
    let (v, _) = run(b, json!({"state": "active", "wait_for_mirror_sync": 0}));
    assert_eq!(v["changed"], false, "{v}");
    assert_eq!(v["failed"], false, "{v}");
}

#[test]
fn a_wait_shorter_than_the_resync_refuses_after_waiting() {
    let c = dk("dk-short", &[]);
    resync(&c, "node-b", "30");
    let a = c.node("node-a");
    let t = Instant::now();
    let (v, _) = run(a, json!({"state": "standby", "wait_for_mirror_sync": 2}));
    assert!(t.elapsed() >= Duration::from_secs(2));
    assert_eq!(v["failed"], true, "{v}");
    assert!(
        v["msg"].as_str().unwrap().contains("after waiting 2s"),
        "{v}"
    );
    assert_eq!(isp_on(&c, "app-x"), vec!["node-a"]);
}

#[test]
fn with_resync_restore_removes_source_no_switchover_is_ever_triggered() {
    let c = dk(
        "dk-worst",
        &[
            "--resync-seconds",
            "2",
            "--resync-restore",
            "removes-source",
        ],
    );
    let (a, b) = (c.node("node-a"), c.node("node-b"));
    let rec = Recorder::start(&c);
    // node-b restarts (as after its upgrade): its mirror resyncs
    assert!(b.lk("lkstop", &[]).status.success());
    assert!(b.lk("lkstart", &[]).status.success());
    let (v, _) = run(a, json!({"state": "standby", "wait_for_mirror_sync": 0}));
    assert_eq!(v["failed"], true, "{v}");
    // a switchover onto b waits for the resync; then the source changes and a resyncs
    let (v, rc) = run(a, json!({"state": "standby", "wait_for_mirror_sync": 30}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(isp_on(&c, "app-x"), vec!["node-b"]);
    // and the return waits for the resync toward a
    let (v, rc) = run(a, json!({"state": "active", "wait_for_mirror_sync": 30}));
    assert_eq!(rc, 0, "{v}");
    assert!(v["mirrors"][0]["waited_s"].as_f64().unwrap() > 0.5, "{v}");
    assert_eq!(isp_on(&c, "app-x"), vec!["node-a"]);
    let n = rec.assert_always_in_service();
    assert!(n > 20, "too few samples: {n}");
    // the simulator's own record: no restore of app-x failed
    let st = c.state();
    for node in st["nodes"].as_array().unwrap() {
        for act in node["actions"].as_array().unwrap() {
            assert_ne!(act["result"], "failed", "{act}");
        }
    }
}

/// The control for the test above: told there is no mirror (`mirror_tags: []`), lk_resource
/// does not wait, and the worst-case simulator takes the hierarchy out of service everywhere.
/// This is the outage the wait prevents, and it shows the recorder sees it.
#[test]
fn regression_switchover_onto_a_resyncing_target_without_the_wait_is_an_outage() {
    let c = dk("dk-control", &["--resync-restore", "removes-source"]);
    resync(&c, "node-b", "30");
    let (v, _) = run(
        c.node("node-a"),
        json!({"state": "standby", "wait_for_mirror_sync": 0, "mirror_tags": []}),
    );
    assert_eq!(v["failed"], true, "{v}");
    assert!(isp_on(&c, "app-x").is_empty(), "{:?}", states(&c, "app-x"));
}

#[test]
fn mirror_status_output_it_does_not_understand_is_not_in_sync() {
    let c = dk("dk-garbage", &[]);
    let a = c.node("node-a");
    let script = c.dir.join("odd_mirror_status");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"Mirror: $1\"\necho 'Source: node-a'\necho 'Target: node-b  Status: OK'\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (v, _) = run(
        a,
        json!({"state": "standby", "wait_for_mirror_sync": 0, "mirror_status_cmd": script}),
    );
    assert_eq!(v["failed"], true, "{v}");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("not known to be in sync"),
        "{v}"
    );
    assert_eq!(v["mirrors"][0]["state"], "unknown", "{v}");
    assert_eq!(isp_on(&c, "app-x"), vec!["node-a"]);
    // the real command says in sync: the switchover goes ahead
    let (v, rc) = run(a, json!({"state": "standby", "wait_for_mirror_sync": 0}));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(isp_on(&c, "app-x"), vec!["node-b"]);
}

#[test]
fn query_waits_for_the_mirrors_toward_a_node() {
    let c = dk("dk-query", &[]);
    resync(&c, "node-b", "2");
    let b = c.node("node-b");
    let (v, _) = run(
        b,
        json!({"state": "query", "mirror_sync_target": "this", "wait_for_mirror_sync": 0}),
    );
    assert_eq!(v["failed"], true, "{v}");
    let (v, rc) = run(
        b,
        json!({"state": "query", "mirror_sync_target": "this", "wait_for_mirror_sync": 30}),
    );
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], false, "{v}");
    assert_eq!(v["mirrors"][0]["target"], "node-b", "{v}");
    assert_eq!(v["mirrors"][0]["state"], "in_sync", "{v}");
    assert!(v["mirrors"][0]["waited_s"].as_f64().unwrap() >= 1.0, "{v}");
}

#[test]
fn bad_mirror_parameters_name_the_parameter() {
    let c = dk("dk-params", &[]);
    let a = c.node("node-a");
    for (args, name) in [
        (
            json!({"state": "active", "wait_for_mirror_sync": -1}),
            "wait_for_mirror_sync",
        ),
        (
            json!({"state": "active", "wait_for_mirror_sync": 999999}),
            "wait_for_mirror_sync",
        ),
        (
            json!({"state": "active", "mirror_status_cmd": "mirror_status"}),
            "mirror_status_cmd",
        ),
        (
            json!({"state": "active", "mirror_sync_target": "node-b"}),
            "mirror_sync_target",
        ),
        (
            json!({"state": "active", "mirror_tags": ["-x"]}),
            "mirror_tags",
        ),
    ] {
        let (v, _) = run(a, args.clone());
        assert_eq!(v["failed"], true, "{args}: {v}");
        assert_eq!(v["invalid_parameter"], name, "{args}: {v}");
    }
}

fn mirror_check(node: &Node, require_standby: bool) -> Value {
    let (v, _) = node.module(
        "lk_preflight",
        json!({"lkroot": node.lkroot, "require_standby": require_standby}),
    );
    v["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .find(|c| c["id"] == "LK-MIRRORS-SYNCED")
        .cloned()
        .unwrap_or_else(|| panic!("{v}"))
}

#[test]
fn preflight_mirrors_synced_fails_for_a_standby_target_that_resyncs() {
    let c = dk("dk-preflight", &[]);
    let (a, b) = (c.node("node-a"), c.node("node-b"));
    assert_eq!(mirror_check(b, true)["status"], "pass");
    // Long enough for the four checks below to run while it resyncs on a loaded machine (with
    // 3 s, make test's busiest minute once saw the resync end before the fourth check).
    resync(&c, "node-b", "10");
    let f = mirror_check(b, true);
    assert_eq!(f["status"], "fail", "{f}");
    assert!(f["msg"].as_str().unwrap().contains("datarep-x"), "{f}");
    assert_eq!(f["details"][0]["state"], "resyncing", "{f}");
    assert_eq!(mirror_check(b, false)["status"], "warn");
    // on the source, the resync toward b is a warning (a's data is complete)
    assert_eq!(mirror_check(a, false)["status"], "warn");
    let t = Instant::now();
    while mirror_check(b, true)["status"] != "pass" {
        assert!(t.elapsed() < Duration::from_secs(40), "never in sync");
        std::thread::sleep(Duration::from_millis(300));
    }
}

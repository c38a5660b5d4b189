//! The playbooks (playbooks/*.yml) through the real ansible-playbook, against simulated clusters:
//! the rolling upgrade on two and three nodes and on three clusters at once, idempotence, check
//! mode, and a fault at each stage. Ignored by a plain `cargo test`; `make test` runs them (after
//! creating the venv and building modules/ and lksim).

use crate::common::{self, ansible};

use ansible::{ansible_playbook, recap, recap_total, text};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

/// Simulated clusters plus their generated inventory and controller output dir.
struct Sim {
    dir: PathBuf,
    inventory: PathBuf,
    out: PathBuf,
}

impl Sim {
    /// clusters: (name, nodes, optional lksim hierarchy SPEC). Created by tests/ansible/simulate.yml,
    /// the same way `make demo` does.
    fn create(test: &str, clusters: &[(&str, &[&str], Option<Value>)], extra: &[&str]) -> Sim {
        Sim::create_at(test, clusters, extra, "9.4.0")
    }

    /// `create` with every node at `version`.
    fn create_at(
        test: &str,
        clusters: &[(&str, &[&str], Option<Value>)],
        extra: &[&str],
        version: &str,
    ) -> Sim {
        let root = common::scratch(&format!("pb-{test}"));
        let sim = Sim {
            dir: root.join("sim"),
            inventory: root.join("inventory.yml"),
            out: root.join("out"),
        };
        let clusters: Vec<Value> = clusters
            .iter()
            .map(|(name, nodes, h)| {
                let mut c = json!({"name": name, "nodes": nodes, "version": version});
                if let Some(h) = h {
                    c["hierarchies"] = h.clone();
                }
                c
            })
            .collect();
        let spec = json!({
            "sim_dir": sim.dir, "lksim": common::bin("lksim"), "sim_inventory": sim.inventory,
            "sim_clusters": clusters, "sim_vars": {"lk_output_dir": sim.out, "lk_verify_delay": 1},
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

    fn lksim(&self, args: &[&str]) -> String {
        let out = Command::new(common::bin("lksim"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lksim {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn cluster_dir(&self, cluster: &str) -> String {
        self.dir.join(cluster).display().to_string()
    }

    fn state(&self, cluster: &str) -> Value {
        serde_json::from_str(&self.lksim(&["state", &self.cluster_dir(cluster)])).unwrap()
    }

    fn fault(&self, cluster: &str, node: &str, command: &str) {
        self.lksim(&[
            "fault",
            "set",
            node,
            command,
            "fail",
            "--dir",
            &self.cluster_dir(cluster),
        ]);
    }

    fn summary(&self) -> Value {
        let p = self.out.join("report/summary.json");
        serde_json::from_str(
            &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    }
}

/// node -> installed version.
fn versions(state: &Value) -> Vec<(String, String)> {
    state["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["version"].as_str().unwrap_or("none").to_string(),
            )
        })
        .collect()
}

/// Root hierarchy tag -> the nodes where it is ISP (roots: not anybody's child).
fn placement(state: &Value) -> Vec<(String, Vec<String>)> {
    let nodes = state["nodes"].as_array().unwrap();
    let res = nodes[0]["resources"].as_array().unwrap();
    let kids: Vec<&str> = res
        .iter()
        .flat_map(|r| {
            r["children"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
        })
        .collect();
    let mut out: Vec<(String, Vec<String>)> = res
        .iter()
        .map(|r| r["tag"].as_str().unwrap())
        .filter(|t| !kids.contains(t))
        .map(|t| {
            let on = nodes
                .iter()
                .filter(|n| {
                    n["resources"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r["tag"] == t && r["state"] == "ISP")
                })
                .map(|n| n["name"].as_str().unwrap().to_string())
                .collect();
            (t.to_string(), on)
        })
        .collect();
    out.sort();
    out
}

fn assert_all_at(state: &Value, version: &str) {
    for (node, v) in versions(state) {
        assert_eq!(v, version, "{node} is at {v}, expected {version}: {state}");
    }
    for n in state["nodes"].as_array().unwrap() {
        assert_eq!(
            n["running"], true,
            "LifeKeeper not running on {}",
            n["name"]
        );
    }
}

/// Every hierarchy in service on exactly one node.
fn assert_served(state: &Value) {
    for (tag, on) in placement(state) {
        assert_eq!(on.len(), 1, "{tag} is in service on {on:?}: {state}");
    }
}

/// The controller's copies of a node's backups verify with the standard tool.
fn assert_backups_verified(sim: &Sim, cluster: &str, node: &str) {
    let dir = sim.out.join("backups").join(cluster).join(node);
    let out = Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {}", dir.display(), text(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(".tar.gz: OK"),
        "no archive verified in {}: {listed}",
        dir.display()
    );
}

fn tree(sim: &Sim) -> Vec<(String, String)> {
    common::tree_hash(&sim.dir)
}

const TWO: &[&str] = &["node-a", "node-b"];

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn rolling_upgrade_two_nodes_check_changes_nothing_then_upgrades_then_changes_nothing() {
    let sim = Sim::create("two", &[("demo", TWO, None)], &[]);
    let start = placement(&sim.state("demo"));

    // --check --diff: the whole plan, and not one file of the simulated nodes changes.
    let before = tree(&sim);
    let check = sim.playbook("rolling_upgrade.yml", &["--check", "--diff"]);
    let log = text(&check);
    assert!(check.status.success(), "{log}");
    assert_eq!(tree(&sim), before, "--check changed the simulated nodes");
    assert!(log.contains("setup 9.6.1: planned"), "plan shown:\n{log}");
    assert!(
        log.contains("+ip-10.0.0.50: OSU on node-a, ISP on node-b"),
        "switchover diff shown:\n{log}"
    );
    assert!(
        log.contains("+steeleye-lk-9.6.1"),
        "package diff shown:\n{log}"
    );

    // For real.
    let run = sim.playbook("rolling_upgrade.yml", &[]);
    assert!(run.status.success(), "{}", text(&run));
    let st = sim.state("demo");
    assert_all_at(&st, "9.6.1");
    assert_eq!(placement(&st), start, "hierarchies end where they started");
    for n in TWO {
        assert_backups_verified(&sim, "demo", n);
    }
    let summary = sim.summary();
    assert_eq!(summary["clusters"]["demo"]["status"], "ok", "{summary}");
    let report = std::fs::read_to_string(sim.out.join("report/readiness.md")).unwrap();
    assert!(
        report.contains("| demo | node-a | 9.4.0 | direct | ready |")
            && report.contains("LK-COMM-PATHS"),
        "{report}"
    );
    let html = std::fs::read_to_string(sim.out.join("report/readiness.html")).unwrap();
    assert!(
        html.contains("<td class=\"pass\"") && !html.contains("<link") && !html.contains("<script"),
        "self-contained HTML"
    );

    // Once more: nothing to do anywhere.
    let again = sim.playbook("rolling_upgrade.yml", &[]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(
        recap_total(&again, "changed"),
        0,
        "second run changed something: {:?}",
        recap(&again)
    );
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn rolling_upgrade_three_nodes_returns_each_hierarchy_to_its_node() {
    // One hierarchy in service on each node, so "put back where it was" is not just "node-a".
    let spec = json!([
        {"tag": "ip-10.0.0.50", "id": "IP-10.0.0.50", "app": "comm", "type": "ip", "active": "node-b"},
        {"tag": "app-web", "id": "/opt/web", "children": ["fs-web"], "active": "node-a"},
        {"tag": "fs-web", "id": "/web", "type": "filesys", "active": "node-a"},
        {"tag": "nfs-export", "id": "/export", "type": "nfs", "active": "node-c"}
    ]);
    let nodes: &[&str] = &["node-a", "node-b", "node-c"];
    let sim = Sim::create("three", &[("trio", nodes, Some(spec))], &[]);
    let start = placement(&sim.state("trio"));
    assert_eq!(
        start
            .iter()
            .map(|(_, on)| on[0].as_str())
            .collect::<Vec<_>>(),
        ["node-a", "node-b", "node-c"]
    );

    let run = sim.playbook("rolling_upgrade.yml", &[]);
    assert!(run.status.success(), "{}", text(&run));
    let st = sim.state("trio");
    assert_all_at(&st, "9.6.1");
    assert_eq!(placement(&st), start, "hierarchies end where they started");
    for n in nodes {
        assert_backups_verified(&sim, "trio", n);
    }
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn three_clusters_at_once_a_setup_fault_stops_only_its_cluster() {
    let sim = Sim::create(
        "multi",
        &[
            ("alpha", &["alpha-a", "alpha-b"], None),
            ("bravo", &["bravo-a", "bravo-b"], None),
            ("charlie", &["charlie-a", "charlie-b"], None),
        ],
        &[],
    );
    sim.fault("bravo", "bravo-b", "setup");
    let starts: Vec<_> = ["alpha", "bravo", "charlie"]
        .iter()
        .map(|c| placement(&sim.state(c)))
        .collect();

    let run = sim.playbook("rolling_upgrade.yml", &[]);
    let log = text(&run);
    assert!(
        !run.status.success(),
        "a failed cluster fails the run:\n{log}"
    );
    assert!(
        log.contains("cluster bravo FAILED at bravo-b \"Upgrade LifeKeeper (lk_upgrade)\""),
        "{log}"
    );
    for (i, c) in ["alpha", "charlie"].iter().enumerate() {
        let st = sim.state(c);
        assert_all_at(&st, "9.6.1");
        assert_eq!(
            placement(&st),
            starts[i * 2],
            "{c}: hierarchies end where they started"
        );
        assert_backups_verified(&sim, c, &format!("{c}-a"));
    }
    let bravo = sim.state("bravo");
    assert_eq!(
        versions(&bravo),
        [
            ("bravo-a".into(), "9.6.1".into()),
            ("bravo-b".into(), "9.4.0".into())
        ]
    );
    assert_served(&bravo);
    let summary = sim.summary();
    assert_eq!(summary["clusters"]["alpha"]["status"], "ok");
    assert_eq!(summary["clusters"]["charlie"]["status"], "ok");
    assert_eq!(summary["clusters"]["bravo"]["status"], "FAILED");
    assert_eq!(
        summary["clusters"]["bravo"]["stopped_at"]["node"],
        "bravo-b"
    );
}

/// A two-node cluster with one fault armed; the run must fail with `expect` in its output.
/// `fetch`: copy the backups to the controller (Python tasks, slow on a busy machine: only where
/// the test looks at them).
fn faulted_run(
    test: &str,
    extra: &[&str],
    fault: Option<(&str, &str)>,
    fetch: bool,
    expect: &str,
) -> (Sim, Value) {
    let sim = Sim::create(test, &[("demo", TWO, None)], extra);
    if let Some((node, cmd)) = fault {
        sim.fault("demo", node, cmd);
    }
    let fetch = format!("lk_fetch_backups={fetch}");
    let run = sim.playbook("rolling_upgrade.yml", &["-e", &fetch]);
    let log = text(&run);
    assert!(!run.status.success(), "the run must fail:\n{log}");
    assert!(log.contains(expect), "expected {expect:?} in:\n{log}");
    let st = sim.state("demo");
    assert_served(&st);
    (sim, st)
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn preflight_failure_stops_before_anything_changes_and_the_report_names_the_remedy() {
    let (sim, st) = faulted_run(
        "fault-preflight",
        &["--selinux", "enforcing"],
        None,
        false,
        "cluster demo FAILED at node-a \"pre-flight\": preflight failed on LK-SELINUX",
    );
    assert_eq!(
        versions(&st),
        [
            ("node-a".into(), "9.4.0".into()),
            ("node-b".into(), "9.4.0".into())
        ]
    );
    assert_eq!(placement(&st)[0].1, ["node-a"]);
    assert!(
        !sim.dir.join("demo/node-a/var/backups/lifekeeper").exists(),
        "no backup after a failed pre-flight"
    );
    let report = std::fs::read_to_string(sim.out.join("report/readiness.md")).unwrap();
    assert!(
        report.contains("**NOT READY**")
            && report.contains("`LK-SELINUX` **FAIL**")
            && report.contains("Remedy:"),
        "{report}"
    );
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn backup_failure_stops_before_any_switchover() {
    let (_sim, st) = faulted_run(
        "fault-backup",
        &[],
        Some(("node-b", "lkbackup")),
        false,
        "cluster demo FAILED at node-b \"Take a configuration backup (lk_backup, lkbackup -c)\"",
    );
    assert_eq!(
        versions(&st),
        [
            ("node-a".into(), "9.4.0".into()),
            ("node-b".into(), "9.4.0".into())
        ]
    );
    assert!(
        placement(&st).iter().all(|(_, on)| on == &["node-a"]),
        "nothing moved: {st}"
    );
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn switchover_failure_stops_before_the_upgrade() {
    let (_sim, st) = faulted_run(
        "fault-switchover",
        &[],
        Some(("node-b", "perform_action")),
        false,
        "cluster demo FAILED at node-a \"Switch this node's hierarchies over to a peer (lk_resource standby)\"",
    );
    assert_eq!(
        versions(&st),
        [
            ("node-a".into(), "9.4.0".into()),
            ("node-b".into(), "9.4.0".into())
        ]
    );
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn setup_failure_on_the_second_node_keeps_the_first_nodes_upgrade() {
    let (sim, st) = faulted_run(
        "fault-setup",
        &[],
        Some(("node-b", "setup")),
        true,
        "cluster demo FAILED at node-b \"Upgrade LifeKeeper (lk_upgrade)\"",
    );
    assert_eq!(
        versions(&st)[0],
        ("node-a".into(), "9.6.1".into()),
        "the first node's upgrade is intact"
    );
    assert!(
        placement(&st).iter().all(|(_, on)| on == &["node-a"]),
        "served by the upgraded node: {st}"
    );
    assert_backups_verified(&sim, "demo", "node-b");
}

/// Nodes at 9.2.2 reinstalled to 9.6.1: the hierarchies and comm paths come back from each node's
/// lk_backup (the Molecule reinstall scenario waited for comm paths forever before that).
#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn reinstall_restores_the_hierarchies_and_comm_paths_from_the_backup() {
    let sim = Sim::create_at("reinstall", &[("demo", TWO, None)], &[], "9.2.2");
    let start = placement(&sim.state("demo"));
    let run = sim.playbook(
        "rolling_upgrade.yml",
        &[
            "-e",
            "lk_allow_reinstall=true",
            "-e",
            "lk_fetch_backups=false",
        ],
    );
    let log = text(&run);
    assert!(run.status.success(), "{log}");
    let st = sim.state("demo");
    assert_all_at(&st, "9.6.1");
    assert_eq!(placement(&st), start, "hierarchies end where they started");
    assert_served(&st);
    for n in st["nodes"].as_array().unwrap() {
        assert_eq!(n["comm_paths"].as_array().unwrap().len(), 2, "{n}");
    }
}

/// A run that fails after the node was upgraded (here: reinstalled without restoring the comm
/// paths, so they never come up) reports the version installed now, not the one before.
#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn summary_after_a_failure_past_setup_shows_the_installed_version() {
    let sim = Sim::create_at("reinstall-norestore", &[("demo", TWO, None)], &[], "9.2.2");
    let run = sim.playbook(
        "rolling_upgrade.yml",
        &[
            "-e",
            "lk_allow_reinstall=true",
            "-e",
            "lk_restore_config=false",
            "-e",
            "lk_verify_retries=1",
            "-e",
            "lk_fetch_backups=false",
        ],
    );
    let log = text(&run);
    assert!(!run.status.success(), "{log}");
    assert!(
        log.contains("Wait until LifeKeeper runs and every comm path is ALIVE"),
        "{log}"
    );
    let summary = sim.summary();
    let node_a = summary["clusters"]["demo"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "node-a")
        .unwrap();
    assert_eq!(node_a["version_before"], "9.2.2", "{summary:#}");
    assert_eq!(node_a["version_after"], "9.6.1", "{summary:#}");
    assert!(log.contains("node-a: 9.2.2 -> 9.6.1"), "{log}");
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn playbooks_pass_ansible_lint() {
    let exe = ansible::venv().join("bin/ansible-lint");
    assert!(exe.exists(), "{} missing: run `make venv`", exe.display());
    let out = Command::new(exe)
        .current_dir(ansible::repo())
        .args(["--offline", "playbooks/", "tests/ansible/"])
        .env("ANSIBLE_CONFIG", ansible::repo().join("ansible.cfg"))
        .env(
            "PATH",
            format!(
                "{}:{}",
                ansible::venv().join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "ansible-lint:\n{}", text(&out));
}

/// Check-mode safety for every playbook besides rolling_upgrade.yml (covered above): a `--check`
/// run changes not one file of the simulated nodes.
#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn every_other_playbook_in_check_mode_changes_nothing() {
    let sim = Sim::create("check-all", &[("demo", TWO, None)], &[]);
    let check = |playbook: &str, extra: &[&str]| {
        let before = tree(&sim);
        let mut args = vec!["--check", "--diff"];
        args.extend_from_slice(extra);
        let out = sim.playbook(playbook, &args);
        assert!(
            out.status.success(),
            "{playbook} --check failed:\n{}",
            text(&out)
        );
        assert_eq!(
            tree(&sim),
            before,
            "{playbook} --check changed the simulated nodes"
        );
    };
    check("preflight.yml", &[]);
    check("backup.yml", &[]);
    check(
        "switchover.yml",
        &[
            "-e",
            "lk_switchover_to=node-b",
            "-e",
            r#"{"lk_switchover_tags": ["app-pgsql"]}"#,
        ],
    );
    check("support.yml", &[]);

    // restore.yml needs a backup to restore and LifeKeeper stopped on the node (lkbackup -x).
    let real = sim.playbook("backup.yml", &[]);
    assert!(real.status.success(), "{}", text(&real));
    let node_b = sim.dir.join("demo/node-b");
    let backups = node_b.join("var/backups/lifekeeper");
    let archive = std::fs::read_dir(&backups)
        .unwrap_or_else(|e| panic!("{}: {e}", backups.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.contains(".lkbackup.") && n.ends_with(".tar.gz"))
        .expect("backup.yml left an archive on node-b");
    let stop = Command::new(node_b.join("opt/LifeKeeper/bin/lkstop"))
        .env(
            "PATH",
            format!(
                "{}:{}",
                node_b.join("bin").display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .output()
        .unwrap();
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    check(
        "restore.yml",
        &[
            "-e",
            "lk_restore_node=node-b",
            "-e",
            &format!("lk_restore_archive={archive}"),
        ],
    );
}

/// Issue 16: restore.yml on a node that runs LifeKeeper and holds the hierarchies: check mode
/// shows the plan and changes nothing; the real run switches the hierarchies to the peer, stops
/// LifeKeeper, restores (the defaults file comes back), starts it again and waits for
/// LK_INITDONE; a rerun changes nothing.
#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn restore_yml_switches_away_stops_restores_starts_and_waits_for_initdone() {
    let sim = Sim::create("restore-live", &[("demo", TWO, None)], &[]);
    let real = sim.playbook("backup.yml", &[]);
    assert!(real.status.success(), "{}", text(&real));
    let node_a = sim.dir.join("demo/node-a");
    let archive = std::fs::read_dir(node_a.join("var/backups/lifekeeper"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.contains(".lkbackup.") && n.ends_with(".tar.gz"))
        .expect("backup.yml left an archive on node-a");
    let defaults = node_a.join("etc/default/LifeKeeper");
    let original = std::fs::read_to_string(&defaults).unwrap();
    std::fs::write(&defaults, format!("{original}LKOPS_TEST_TUNABLE=1\n")).unwrap();
    let node = |st: &Value, name: &str| -> Value {
        st["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()
            .clone()
    };
    let args = [
        "-e",
        "lk_restore_node=node-a",
        "-e",
        &format!("lk_restore_archive={archive}"),
    ];
    let placed_before = placement(&sim.state("demo"));
    assert!(placed_before.iter().all(|(_, on)| on == &["node-a"]));

    let before = tree(&sim);
    let mut check_args = vec!["--check", "--diff"];
    check_args.extend_from_slice(&args);
    let out = sim.playbook("restore.yml", &check_args);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tree(&sim), before, "restore.yml --check changed the nodes");
    let t = text(&out);
    assert!(
        t.contains("etc/default/LifeKeeper") && t.contains("OSU on node-a, ISP on node-b"),
        "check mode shows what would be restored and the switchover: {t}"
    );

    let out = sim.playbook("restore.yml", &args);
    assert!(out.status.success(), "{}", text(&out));
    let st = sim.state("demo");
    let a = node(&st, "node-a");
    assert_eq!(a["running"], true, "{a}");
    assert_eq!(a["lk_initdone"], true, "{a}");
    assert_eq!(std::fs::read_to_string(&defaults).unwrap(), original);
    let placed = placement(&st);
    assert!(
        placed.iter().all(|(_, on)| on == &["node-b"]),
        "the hierarchies were switched away and are served: {placed:?}"
    );

    let again = sim.playbook("restore.yml", &args);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(recap_total(&again, "changed"), 0, "{}", text(&again));
}

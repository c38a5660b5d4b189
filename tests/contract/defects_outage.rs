//! Regression tests for the outage and report defects of issue 28 (O1, O2, O5, W1, W2), each
//! named after the defect it guards. They run the real module binaries against lksim.

use crate::common::{media, wait_running_as, Cluster, Node};
use serde_json::{json, Value};
use std::path::Path;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The simulator's own record of `tag`'s state on `node`.
fn sim_state(c: &Cluster, node: &str, tag: &str) -> String {
    let st = c.state();
    let n = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == node)
        .unwrap()
        .clone();
    n["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tag"] == tag)
        .map(|r| r["state"].as_str().unwrap().to_string())
        .unwrap_or_else(|| "absent".into())
}

/// Start `module` on `n` (not waiting) with `env` added; its JSON result is read by `finish`.
fn spawn(
    c: &Cluster,
    n: &Node,
    module: &str,
    args: &Value,
    env: &[(&str, &str)],
) -> std::process::Child {
    let file = c.dir.join(format!("{module}-{}-args.json", n.name));
    std::fs::write(&file, args.to_string()).unwrap();
    let mut cmd = std::process::Command::new(crate::common::bin(module));
    cmd.arg(&file)
        .env("PATH", n.path_env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn finish(child: std::process::Child) -> (Value, i32) {
    let out = child.wait_with_output().unwrap();
    crate::common::parse_output(&out)
}

/// Issue 28 O1: `lk_resource state=standby` on node-a while lk_upgrade's setup ran on node-b (its
/// default target). The node lock was per node and lk_upgrade re-checked require_standby only
/// before setup, so the hierarchies moved onto node-b and setup then stopped LifeKeeper there:
/// every hierarchy out of service on every node. Now the switchover holds the target's node
/// lock (through lcdremexec): while lk_upgrade runs on node-b, it is refused before anything
/// moves, in check mode too, and the hierarchies stay in service on node-a.
#[test]
fn o1_switchover_onto_a_node_whose_setup_runs() {
    let c = Cluster::create("o1-switch-onto-setup", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("o1-switch-onto-setup", "9.6.1");
    let (a, b) = (c.node("node-a"), c.node("node-b"));
    let up = json!({
        "version": "9.6.1",
        "generate_setup_config": true,
        "media": s(&img),
        "lkroot": s(&b.lkroot),
        "defaults_file": s(&b.defaults_file),
        "work_dir": s(&c.dir.join("work")),
        "state_dir": s(&c.dir.join("state")),
        "timeout": 120,
    });
    // setup paced as on a real node (scaled): LifeKeeper keeps running on node-b for the first
    // fifth of it (about 3 s here), then setup stops it for the rest.
    let upgrade = spawn(&c, b, "lk_upgrade", &up, &[("LKSIM_TIME_SCALE", "0.04")]);
    assert!(
        !wait_running_as(&s(&b.root), "lksim-setup", 120).is_empty(),
        "setup never started on node-b"
    );
    let res = json!({"state": "standby", "lkroot": s(&a.lkroot), "wait": 30, "timeout": 30});
    let mut check = res.clone();
    check["_ansible_check_mode"] = json!(true);
    let (cv, crc) = a.module("lk_resource", check);
    let (v, rc) = a.module("lk_resource", res);
    let (uv, urc) = finish(upgrade);
    assert_eq!(urc, 0, "lk_upgrade: {uv:#}");
    // The hierarchies never left node-a: in service there, out of service on node-b.
    for tag in ["ip-10.0.0.50", "app-pgsql"] {
        assert_eq!(sim_state(&c, "node-a", tag), "ISP", "{tag}: {v:#}");
    }
    assert_eq!(
        rc, 1,
        "the switchover onto node-b in setup went ahead: {v:#}"
    );
    assert_eq!(v["changed"], false, "{v:#}");
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("another lkops module is changing node-b") && msg.contains("lk_upgrade"),
        "{msg}"
    );
    // Check mode predicts the refusal.
    assert_eq!(crc, 1, "check mode predicted a switchover: {cv:#}");
    assert!(
        cv["msg"].as_str().unwrap().contains("is changing node-b"),
        "{cv:#}"
    );
    // Once the upgrade has finished, the same switchover goes ahead.
    let (v, rc) = a.module(
        "lk_resource",
        json!({"state": "standby", "lkroot": s(&a.lkroot), "wait": 30}),
    );
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(sim_state(&c, "node-b", "app-pgsql"), "ISP", "{v:#}");
}

/// Issue 28 W2: a root resource OSF (failed) on the node being upgraded. `lk_resource standby`
/// brought it and the healthy hierarchy into service on the peer, then waited for the OSF
/// resource to become OSU, which never happened: it failed after `wait` with changed: true and
/// no switchover listed, and check mode had predicted a clean run. Now it is refused before
/// anything moves, naming the failed resource and the remedy, and check mode says the same.
#[test]
fn w2_standby_with_a_root_resource_osf_here() {
    let c = Cluster::create("w2-osf-root", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let dir = c.dir.to_str().unwrap();
    // A remove that fails half-way leaves the root OSF on node-a.
    c.sim(&[
        "fault",
        "set",
        "node-a",
        "perform_action",
        "halfway",
        "--dir",
        dir,
    ]);
    let o = a.lk("perform_action", &["-t", "ip-10.0.0.50", "-a", "remove"]);
    assert!(!o.status.success());
    c.sim(&["fault", "clear", "--dir", dir]);
    assert_eq!(sim_state(&c, "node-a", "ip-10.0.0.50"), "OSF");
    let args = json!({"state": "standby", "lkroot": s(&a.lkroot), "wait": 5, "timeout": 30});
    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    for (what, args) in [("check mode", check), ("real run", args)] {
        let (v, rc) = a.module("lk_resource", args);
        assert_eq!(rc, 1, "{what}: {v:#}");
        assert_eq!(v["changed"], false, "{what}: {v:#}");
        let msg = v["msg"].as_str().unwrap();
        assert!(
            msg.contains("ip-10.0.0.50 (a root) is OSF") && msg.contains("perform_action"),
            "{what}: {msg}"
        );
        assert_eq!(v["failed_resources"][0]["tag"], "ip-10.0.0.50", "{what}");
    }
    // Nothing moved: the healthy hierarchy is still served on node-a only.
    assert_eq!(sim_state(&c, "node-a", "app-pgsql"), "ISP");
    assert_eq!(sim_state(&c, "node-b", "app-pgsql"), "OSU");
    assert_eq!(sim_state(&c, "node-b", "ip-10.0.0.50"), "OSU");
}

/// Issue 28 W1: lk_preflight reported "preflight passed" when lcdstatus hung on a node where
/// LifeKeeper runs: LK-COMM-PATHS and LK-MIRRORS-SYNCED (high severity) became `skip` with no
/// warning. Now they fail, and so does the pre-flight, naming the timed-out lcdstatus.
#[test]
fn w1_preflight_passes_when_lcdstatus_hangs() {
    let c = Cluster::create("w1-lcdstatus-hangs", &["node-a", "node-b"], "9.4.0", &[]);
    let b = c.node("node-b");
    let dir = c.dir.to_str().unwrap();
    c.sim(&["fault", "set", "node-b", "lcdstatus", "hang", "--dir", dir]);
    let args = json!({
        "lkroot": s(&b.lkroot),
        "media_dir": s(&b.root.join("tmp")),
        "required_packages": ["bash", "coreutils", "glibc"],
        "timeout": 2,
    });
    // Only the node's stand-ins on PATH (no probe reaches this host's rpm or firewall).
    let (v, rc) = crate::common::run_module_env(
        "lk_preflight",
        args,
        &[("PATH", &b.path.display().to_string())],
    );
    c.sim(&["fault", "clear", "--dir", dir]);
    for pid in crate::common::procs_running_as(&s(&b.root), "lcdstatus") {
        // SAFETY: kill(2) by pid of a hung simulated lcdstatus this test made hang.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert_eq!(rc, 1, "preflight passed with a hung lcdstatus: {v:#}");
    let check = |id: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    for id in ["LK-COMM-PATHS", "LK-MIRRORS-SYNCED"] {
        let ch = check(id);
        assert_eq!(ch["status"], "fail", "{id}: {ch:#}");
        assert!(ch["msg"].as_str().unwrap().contains("timed out"), "{ch:#}");
    }
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("LK-COMM-PATHS") && msg.contains("LK-MIRRORS-SYNCED"),
        "{msg}"
    );
}

/// The module calls of the playbooks (file, line, module, the call's argument lines, the task's
/// lines after the call: register, until, ...); an aliased argument set
/// (`lk_backup: *restore_args`) is given by its anchor's lines.
type Call = (String, usize, String, Vec<String>, Vec<String>);

fn playbook_module_calls() -> Vec<Call> {
    const MODULES: [&str; 6] = [
        "lk_preflight",
        "lk_resource",
        "lk_backup",
        "lk_upgrade",
        "lk_capture",
        "lk_info",
    ];
    fn walk(d: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yml") {
                out.push(p);
            }
        }
    }
    let root = crate::common::repo().join("playbooks");
    let mut files = vec![];
    walk(&root, &mut files);
    files.sort();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let block = |lines: &[&str], i: usize| -> Vec<String> {
        lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || indent(l) > indent(lines[i]))
            .map(|l| l.to_string())
            .collect()
    };
    let mut calls = vec![];
    for f in files
        .iter()
        .filter(|f| !f.ends_with("meta/argument_specs.yml"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim();
            // A call of the role's lk_node_steps action: `module: lk_x` in a step, its
            // arguments on the step's `args:` line, the step's other keys as its task.
            if let Some(m) = t.strip_prefix("module: ").filter(|m| MODULES.contains(m)) {
                let step: Vec<String> = lines[i + 1..]
                    .iter()
                    .take_while(|x| x.trim().is_empty() || indent(x) >= indent(l))
                    .map(|x| x.to_string())
                    .collect();
                let args = step
                    .iter()
                    .filter(|x| x.trim_start().starts_with("args:"))
                    .cloned()
                    .collect();
                let rel = f.strip_prefix(&root).unwrap().display().to_string();
                calls.push((rel, i + 1, m.to_string(), args, step));
                continue;
            }
            let Some((key, value)) = t.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if !MODULES.contains(&key) || !(value.is_empty() || value.starts_with('*')) {
                continue; // module_defaults map a module to a variable on the same line
            }
            let args = match value.strip_prefix('*') {
                None => block(&lines, i),
                Some(anchor) => {
                    let at = lines
                        .iter()
                        .position(|l| l.trim_end().ends_with(&format!("&{anchor}")))
                        .unwrap_or_else(|| panic!("{}: no anchor {anchor}", f.display()));
                    block(&lines, at)
                }
            };
            let task: Vec<String> = lines[i + 1..]
                .iter()
                .take_while(|x| x.trim().is_empty() || indent(x) >= indent(l))
                .map(|x| x.to_string())
                .collect();
            let rel = f.strip_prefix(&root).unwrap().display().to_string();
            calls.push((rel, i + 1, key.to_string(), args, task));
        }
    }
    calls
}

/// Issue 28 O5: the playbooks passed no `timeout`, so a hung lcdstatus cost each module call
/// the runtime's 600 s default, and the after-upgrade check retried it 10 times (about 100
/// minutes before the cluster stopped). Every module call of the playbooks passes a timeout
/// sized to its commands (a variable of the role), and every retried call stops at once on a
/// timed-out command, which the module reports as `timed_out: true`.
#[test]
fn o5_hung_lcdstatus_costs_the_default_timeout_per_call_and_is_retried() {
    let calls = playbook_module_calls();
    assert!(calls.len() >= 20, "{calls:?}");
    let mut missing = vec![];
    // The role's shared lk_upgrade arguments (vars/main.yml) carry their timeout.
    let vars =
        std::fs::read_to_string(crate::common::repo().join("playbooks/roles/lk/vars/main.yml"))
            .unwrap();
    for shared in ["lk_upgrade_args:", "lk_rollback_args:"] {
        let at = vars
            .find(shared)
            .unwrap_or_else(|| panic!("{shared} in vars/main.yml"));
        let body: String = vars[at..]
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .collect();
        assert!(body.contains("timeout: "), "{shared} passes no timeout");
    }
    for (file, line, module, args, _) in &calls {
        let passes = |a: &String| {
            let a = a.trim_start();
            a.starts_with("timeout:")
                || (a.starts_with("args:")
                    && ["'timeout':", "lk_upgrade_args", "lk_rollback_args"]
                        .iter()
                        .any(|k| a.contains(k)))
        };
        if !args.iter().any(passes) {
            missing.push(format!("{file}:{line} {module}"));
        }
    }
    assert!(
        missing.is_empty(),
        "module calls without a timeout: {missing:#?}"
    );
    // A retried call (until:) of a module gives up at once on a timeout.
    let mut retried = 0;
    for (file, line, module, _, task) in &calls {
        if let Some(at) = task
            .iter()
            .position(|a| a.trim_start().starts_with("until:"))
        {
            retried += 1;
            let until: String = task[at..].join("\n");
            // lk_node_steps: its `stop_if: timed_out` ends the retries at once.
            if task.iter().any(|a| a.trim() == "stop_if: timed_out") {
                continue;
            }
            let reg = task
                .iter()
                .find_map(|a| a.trim().strip_prefix("register:"))
                .unwrap_or_default()
                .trim()
                .to_string();
            assert!(
                until.contains(&format!("{reg}.timed_out")),
                "{file}:{line} {module}: retried without stopping on a timeout: {until}"
            );
        }
    }
    assert!(retried >= 1, "the after-upgrade check retries");
    // What the playbooks test: a hung lcdstatus is reported as timed_out by the module.
    let c = Cluster::create("o5-hung-query", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let dir = c.dir.to_str().unwrap();
    c.sim(&["fault", "set", "node-a", "lcdstatus", "hang", "--dir", dir]);
    let t = std::time::Instant::now();
    let (v, rc) = a.module(
        "lk_resource",
        json!({"state": "query", "lkroot": s(&a.lkroot), "timeout": 2}),
    );
    c.sim(&["fault", "clear", "--dir", dir]);
    assert_eq!(rc, 1, "{v:#}");
    assert_eq!(v["timed_out"], true, "{v:#}");
    assert!(t.elapsed().as_secs() < 30, "not bounded by timeout");
}

/// Issue 28 O2 (the module part): what the rolling upgrade reads, before any pre-flight, to
/// resume an upgrade an interrupted run left unfinished: lk_info with backup_dir lists this
/// node's unfinished lk_upgrade journals, and only those (finished ones, other nodes' no).
#[test]
fn o2_lk_info_lists_this_nodes_unfinished_upgrade() {
    let c = Cluster::create("o2-info-unfinished", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let dir = c.dir.join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    let args = json!({"lkroot": s(&a.lkroot), "gather": [], "backup_dir": s(&dir)});
    let (v, rc) = a.module("lk_info", args.clone());
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["unfinished_upgrades"], json!([]), "{v:#}");
    let write = |host: &str, finished: bool| {
        std::fs::write(
            dir.join(format!("upgrade-journal.{host}.json")),
            json!({"finished": finished, "backup": null}).to_string(),
        )
        .unwrap()
    };
    write("node-a", false);
    write("node-b", false);
    let (v, rc) = a.module("lk_info", args.clone());
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(
        v["unfinished_upgrades"],
        json!([{"host": "node-a", "journal": s(&dir.join("upgrade-journal.node-a.json")), "backup": null}]),
        "{v:#}"
    );
    write("node-a", true);
    let (v, _) = a.module("lk_info", args);
    assert_eq!(v["unfinished_upgrades"], json!([]), "{v:#}");
}

/// Issue 28 (two rolling_upgrade.yml runs at once), the module part: lk_info says whether an
/// lkops module is changing the node right now (its node lock held), read without taking it,
/// so a second run can say another run holds the node before anything (tasks/resume.yml).
#[test]
fn two_runs_at_once_lk_info_sees_the_node_lock_held() {
    let c = Cluster::create("two-runs-lock", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let args = json!({"lkroot": s(&a.lkroot), "gather": [], "backup_dir": s(&c.dir.join("b"))});
    let (v, rc) = a.module("lk_info", args.clone());
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["node_lock_held"], false, "{v:#}");
    let held = lkops::lifekeeper::node_lock::take(
        &a.lkroot,
        "lk_upgrade",
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    let (v, rc) = a.module("lk_info", args.clone());
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["node_lock_held"], true, "{v:#}");
    drop(held);
    let (v, _) = a.module("lk_info", args);
    assert_eq!(v["node_lock_held"], false, "{v:#}");
}

/// Issue 28, the random controller-kill test's outage (ip-10.0.0.50 served by nobody for about
/// 27 s): the return's `lk_resource state=active` on the hierarchy's home runs `perform_action
/// -a restore` there, which first takes the hierarchy out of service on the peer, then brings it
/// up here. The controller died with the module (an ssh session's end takes its processes);
/// perform_action, in a process group of its own, went on, but its stdout was a pipe to the dead
/// module: its next write failed (EPIPE; SIGPIPE for a real one) and it ended between the two
/// halves, so nobody served the hierarchy until a rerun restored it. The runtime now gives a
/// command that changes the cluster an output that outlives its caller (a file, not a pipe):
/// the switchover completes whatever happens to the module.
#[test]
fn a_switchover_whose_module_dies_with_the_controller_completes_and_the_hierarchy_stays_served() {
    use std::process::{Command, Stdio};
    let dir = crate::common::scratch("outage-killed-caller-timings");
    let timings = dir.join("timings.json");
    // 1.5 s per resource restored or removed: time to kill the module between the halves.
    std::fs::write(&timings, r#"{"perform_action": 150, "scale": 0.01}"#).unwrap();
    let c = Cluster::create(
        "outage-killed-caller",
        &["node-a", "node-b"],
        "9.4.0",
        &["--timings", &s(&timings)],
    );
    let b = c.node("node-b");
    assert_eq!(sim_state(&c, "node-a", "ip-10.0.0.50"), "ISP");
    let args = dir.join("args.json");
    std::fs::write(
        &args,
        json!({"state": "active", "tags": ["ip-10.0.0.50"], "lkroot": b.lkroot}).to_string(),
    )
    .unwrap();
    let mut module = Command::new(crate::common::bin("lk_resource"))
        .arg(&args)
        .env("PATH", b.path_env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let root = s(&b.root);
    assert!(
        !wait_running_as(&root, "perform_action", 30).is_empty(),
        "perform_action never started on node-b"
    );
    // Out of service on node-a first: the kill lands between the halves.
    let t = std::time::Instant::now();
    while sim_state(&c, "node-a", "ip-10.0.0.50") == "ISP" && t.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    module.kill().unwrap();
    drop(module.stdout.take());
    drop(module.stderr.take());
    let _ = module.wait();
    let t = std::time::Instant::now();
    while !crate::common::procs_running_as(&root, "perform_action").is_empty()
        && t.elapsed().as_secs() < 30
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        (
            sim_state(&c, "node-a", "ip-10.0.0.50"),
            sim_state(&c, "node-b", "ip-10.0.0.50")
        ),
        ("OSU".to_string(), "ISP".to_string()),
        "the switchover completed: served on node-b"
    );
}

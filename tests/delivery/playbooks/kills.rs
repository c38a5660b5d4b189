//! Issue 28: the random controller-kill test. The controller dies at random moments of rolling
//! upgrades and of rollbacks, with realistic scaled timings; every cycle's reruns must converge.

use super::*;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// Real-node durations (lksim's UNCONFIRMED defaults: setup 420 s, lkstart 60 s, ...) scaled by
/// 0.01: setup takes 4.2 s, lkstart 0.6 s, rmlk 0.6 s, a resource's restore 50 ms. Commands take
/// proportionate time, so a kill at a random moment lands in setup about as often as it would on
/// a real node (setup is most of a node's upgrade), while the whole test stays short.
const TIMINGS: &str = r#"{"setup": 420, "lkstart": 60, "lkstop": 20, "perform_action": 5, "lkbackup": 10, "rmlk": 60, "scale": 0.01}"#;
/// Setup's scaled duration (ms): a kill "during setup" lands at a random offset within it.
const SETUP_MS: u64 = 4_200;
/// At most this many kills of rolling_upgrade.yml, then of rollback.yml, per cycle (a phase
/// ends early when a run ends before its kill). ROLLBACK_KILLS = 0 leaves out the rollback kills
/// (the rollback then runs once, uninterrupted, and is still checked).
const UPGRADE_KILLS: usize = 6;
const ROLLBACK_KILLS: usize = 5;
/// A kill at a random delay lands within this many ms of the run's start: an uninterrupted
/// rolling upgrade of the 2-node cluster takes about 25 s here, a rollback about 17 s, and a
/// rerun after a kill often much less (13 s and 10 s when little is left): short delays land.
const UPGRADE_AFTER_MS: u64 = 13_000;
const ROLLBACK_AFTER_MS: u64 = 9_000;
/// Cycles go on until this many kills landed, and at least MIN_CYCLES ran.
const MIN_TRIALS: usize = 30;
const MIN_CYCLES: usize = 3;
const SEED: u64 = 0x1dc0_ffee_0028;

/// How the controller dies.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Death {
    /// SIGKILL to ansible-playbook alone (a crash of the controller process): its orphaned
    /// workers and the modules they run on the nodes go on and finish their task.
    Controller,
    /// SIGKILL to ansible-playbook, its workers and the module processes they run (the end of
    /// the ssh session takes the module with it). Ansible's workers setsid(), so this is not one
    /// killpg: every process of the controller's tree in the controller's process group or in a
    /// worker's (with its module) is killed. A command a module
    /// started in its own process group (lk_upgrade's setup, rmlk, lkstop: the runtime starts
    /// every command with process_group(0)) is not signalled, as on a real node, where the ssh
    /// session's end signals only its own processes; but the module that read its output is gone,
    /// so it dies at its next write to the broken pipe (SIGPIPE for the real setup script, EPIPE
    /// for lksim's) or finishes if it writes nothing more. The next run starts once it has ended.
    Group,
}

/// When the controller dies.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// This long after the run started.
    After(u64),
    /// This long after `lksim-setup` started on a node of the cluster (0..SETUP_MS).
    InSetup(u64),
}

/// One row of the trial table printed on a failure.
struct Trial {
    cycle: usize,
    playbook: &'static str,
    death: Death,
    moment: Moment,
    outcome: String,
}

/// The controller dies: ansible-playbook is SIGKILLed at random moments (fixed seed) of rolling
/// upgrades and of rollbacks on 2-node clusters with realistic scaled timings (TIMINGS). Each
/// cycle is a fresh cluster: rolling_upgrade.yml is killed up to UPGRADE_KILLS times (each kill
/// followed by the next run) until a run ends before its kill, then a last uninterrupted run must
/// succeed and the checks below hold at 9.6.1; then rollback.yml is killed the same way (up to
/// ROLLBACK_KILLS times) and the checks hold at 9.4.0. Cycles go on until at least MIN_TRIALS
/// kills landed (and at least MIN_CYCLES cycles ran). In half of the trials (alternating) the
/// kill takes the whole process group (the modules die with the controller, see `Death::Group`),
/// in the other half ansible-playbook alone. Some kills land at a random delay (pre-flight,
/// backup, switchovers, setup, the return, between waves), some at a random offset into setup
/// (waiting until `lksim-setup` runs on a node). A run that is not killed must succeed. The
/// checks: every node at the expected release with LifeKeeper running, every hierarchy at the
/// home recorded before the cycle, every backup verifies (the pre-upgrade one kept), and, polling
/// `lksim state` throughout, no hierarchy was out of service on every node for longer than a
/// switchover takes (5 s). The seed and the trial table are printed (on a failure in the panic).
#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test` (alone: `make kill-soak`)"]
fn soak_30_kills_with_modules_in_setup_and_in_rollback_converge_and_nothing_is_lost() {
    let mut seed = SEED;
    let mut rand = move |lo: u64, hi: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (seed >> 33) % (hi - lo + 1)
    };
    let timings = common::scratch("pb-kill-timings").join("timings.json");
    std::fs::write(&timings, TIMINGS).unwrap();
    let timings = timings.display().to_string();
    let spec = json!([
        {"tag": "ip-10.0.0.50", "id": "IP-10.0.0.50", "app": "comm", "type": "ip", "active": "node-b"},
        {"tag": "app-web", "id": "/opt/web", "children": ["fs-web"], "active": "node-a"},
        {"tag": "fs-web", "id": "/web", "type": "filesys", "active": "node-a"}
    ]);
    let args = ["-e", "lk_fetch_backups=false", "-e", "lk_verify_delay=1"];
    let mut table: Vec<Trial> = Vec::new();
    let t_start = Instant::now();
    let fail = |table: &[Trial], msg: String| -> ! {
        panic!("{msg}\n\ntrials so far:\n{}", table_text(table));
    };
    let mut cycle = 0;
    while table.len() < MIN_TRIALS || cycle < MIN_CYCLES {
        let sim = Sim::create(
            &format!("kill-{cycle}"),
            &[("demo", TWO, Some(spec.clone()))],
            &["--timings", &timings],
        );
        eprintln!(
            "cycle {cycle}: {} (run-N.log, timeline-*.txt)",
            sim.dir.display()
        );
        let start = placement(&sim.state("demo"));
        let cluster_dir = sim.cluster_dir("demo");
        let roots: Vec<String> = TWO
            .iter()
            .map(|n| sim.dir.join("demo").join(n).display().to_string())
            .collect();
        let setups = || -> Vec<i32> {
            roots
                .iter()
                .flat_map(|r| common::procs_running_as(r, "lksim-setup"))
                .collect()
        };
        let media = sim.dir.join("sps_940.img");
        sim.lksim(&[
            "media",
            "create",
            "--version",
            "9.4.0",
            "--out",
            media.to_str().unwrap(),
        ]);
        let media_arg = format!("lk_rollback_media={}", media.display());
        let phases: &[(&'static str, &str, usize, u64)] = &[
            (
                "rolling_upgrade.yml",
                "9.6.1",
                UPGRADE_KILLS,
                UPGRADE_AFTER_MS,
            ),
            ("rollback.yml", "9.4.0", ROLLBACK_KILLS, ROLLBACK_AFTER_MS),
        ];
        for &(playbook, version, kills, after_ms) in phases {
            // Poll the placement during every run of this phase; the timeline and each run's
            // output stay in the scratch dir for a failure's diagnosis.
            let poller = OutagePoller::start(
                cluster_dir.clone(),
                Some(sim.dir.join(format!("timeline-{playbook}.txt"))),
            );
            let mut run_args: Vec<&str> = args.to_vec();
            if playbook == "rollback.yml" {
                run_args.extend_from_slice(&["-e", media_arg.as_str()]);
            }
            let inv = sim.inventory.display().to_string();
            let pb_path = format!("playbooks/{playbook}");
            let mut pb = vec!["-i", inv.as_str(), pb_path.as_str()];
            pb.extend_from_slice(&run_args);
            for k in 0..kills {
                // Alternating: half of the kills take the modules with the controller.
                let death = if table.len().is_multiple_of(2) {
                    Death::Group
                } else {
                    Death::Controller
                };
                // Into setup: the first kill of a phase, and half of the second (later reruns
                // often have no setup left, and would run to the end unkilled).
                let moment = if k == 0 || (k == 1 && rand(0, 99) < 50) {
                    Moment::InSetup(rand(0, SETUP_MS))
                } else {
                    Moment::After(rand(500, after_ms))
                };
                let run_log =
                    std::fs::File::create(sim.dir.join(format!("run-{}.log", table.len())))
                        .unwrap();
                let mut child = ansible::ansible_playbook_cmd(&pb, &[])
                    .process_group(0)
                    .stdout(run_log.try_clone().unwrap())
                    .stderr(run_log)
                    .spawn()
                    .unwrap();
                let pgid = child.id();
                let t0 = Instant::now();
                let running = |child: &mut std::process::Child| child.try_wait().unwrap().is_none();
                let mut outcome = String::new();
                let mut kill_at = match moment {
                    Moment::After(ms) => Some(t0 + Duration::from_millis(ms)),
                    Moment::InSetup(_) => None,
                };
                while running(&mut child) {
                    if let (None, Moment::InSetup(off)) = (kill_at, moment) {
                        if !setups().is_empty() {
                            kill_at = Some(Instant::now() + Duration::from_millis(off));
                            outcome = format!("setup seen at {:.1?}; ", t0.elapsed());
                        }
                    }
                    if kill_at.is_some_and(|k| Instant::now() >= k) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                if !running(&mut child) {
                    // Not killed: this run had the time to finish, so it must have succeeded;
                    // the phase converged (nothing is left to kill).
                    let st = child.wait().unwrap();
                    if !st.success() {
                        fail(
                            &table,
                            format!(
                                "cycle {cycle}: a {playbook} run that was not killed failed ({st}); rerun it to see why"
                            ),
                        );
                    }
                    eprintln!(
                        "cycle {cycle}: {playbook} ended before its kill ({moment:?}) at {:.1?}",
                        t0.elapsed()
                    );
                    break;
                }
                let in_setup = !setups().is_empty();
                // Ansible's workers call setsid(): each is a session and process group of its
                // own, with the module it runs, so the controller's own process group holds
                // ansible-playbook alone. Its whole tree, taken now, is what the kill concerns.
                let tree = descendants(pgid);
                match death {
                    Death::Controller => {
                        let _ = child.kill();
                    }
                    Death::Group => {
                        // ansible-playbook, every worker and every module: each process of the
                        // tree in the controller's group or in a worker's session group; a
                        // command a module started in a process group of its own is spared.
                        let mut groups: Vec<u32> = vec![pgid];
                        groups.extend(tree.iter().filter(|p| p.ppid == pgid).map(|p| p.pgid));
                        let _ = child.kill();
                        for p in tree.iter().filter(|p| groups.contains(&p.pgid)) {
                            // Many have ended already: "No such process" is expected.
                            let _ = Command::new("kill")
                                .args(["-KILL", &p.pid.to_string()])
                                .stderr(std::process::Stdio::null())
                                .status();
                        }
                    }
                }
                let _ = child.wait();
                outcome.push_str(&format!(
                    "killed at {:.1?}{}",
                    t0.elapsed(),
                    if in_setup { " (setup running)" } else { "" }
                ));
                table.push(Trial {
                    cycle,
                    playbook,
                    death,
                    moment,
                    outcome,
                });
                // Controller: its orphaned workers finish the task they were running (a module
                // on the node keeps going when the controller dies). Group: the controller, its
                // workers and modules are gone at once; a command a module started (setup) ends
                // at its next write, or finishes. Only then may the next run start.
                let t1 = Instant::now();
                let alive =
                    || -> Vec<u32> { tree.iter().filter(|p| p.alive()).map(|p| p.pid).collect() };
                while (!alive().is_empty() || !setups().is_empty())
                    && t1.elapsed() < Duration::from_secs(120)
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                let left = alive();
                let left_setups = setups();
                if !left.is_empty() || !left_setups.is_empty() {
                    for p in left
                        .iter()
                        .map(|p| *p as i32)
                        .chain(left_setups.iter().copied())
                    {
                        let _ = Command::new("kill")
                            .args(["-KILL", &p.to_string()])
                            .status();
                    }
                    fail(
                        &table,
                        format!(
                            "cycle {cycle}: processes {left:?} / setups {left_setups:?} still running 120 s after the kill"
                        ),
                    );
                }
            }
            let last = sim.playbook(playbook, &run_args);
            let outages: Vec<String> = poller.finish();
            let st = sim.state("demo");
            let at = format!("cycle {cycle} {playbook}");
            if !last.status.success() {
                fail(
                    &table,
                    format!(
                        "{at}: the last run failed; state now {}:\n{}",
                        summarize(&st),
                        text(&last)
                    ),
                );
            }
            for (node, v) in versions(&st) {
                if v != version {
                    fail(
                        &table,
                        format!(
                            "{at}: {node} is at {v}, expected {version}: {}",
                            summarize(&st)
                        ),
                    );
                }
            }
            for n in st["nodes"].as_array().unwrap() {
                if n["running"] != true {
                    fail(
                        &table,
                        format!("{at}: LifeKeeper not running on {}", n["name"]),
                    );
                }
            }
            if placement(&st) != start {
                fail(
                    &table,
                    format!(
                        "{at}: hierarchies not at their recorded homes: {:?}, expected {start:?}",
                        placement(&st)
                    ),
                );
            }
            if !outages.is_empty() {
                fail(
                    &table,
                    format!("{at}: hierarchies out of service everywhere: {outages:#?}"),
                );
            }
            for n in TWO {
                let dir = sim.dir.join("demo").join(n).join("var/backups/lifekeeper");
                let out = Command::new("sha256sum")
                    .args(["--check", "--strict", "SHA256SUMS"])
                    .current_dir(&dir)
                    .output()
                    .unwrap();
                if !out.status.success()
                    || !String::from_utf8_lossy(&out.stdout).contains(".tar.gz: OK")
                {
                    fail(
                        &table,
                        format!("{at} {n}: the backups do not verify: {}", text(&out)),
                    );
                }
                let manifest: Value = serde_json::from_str(
                    &std::fs::read_to_string(dir.join("lkops-backups.json")).unwrap(),
                )
                .unwrap();
                if !manifest["backups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|b| b["lifekeeper_version"] == "9.4.0")
                {
                    fail(
                        &table,
                        format!("{at} {n}: the pre-upgrade backup is gone: {manifest:#}"),
                    );
                }
            }
            eprintln!("{at} converged at {:.0?}", t_start.elapsed());
        }
        cycle += 1;
    }
    let n = table.len();
    let group = table.iter().filter(|t| t.death == Death::Group).count();
    let in_setup = |pb: &str| {
        table
            .iter()
            .filter(|t| t.playbook == pb && t.outcome.contains("(setup running)"))
            .count()
    };
    let in_rollback = table
        .iter()
        .filter(|t| t.playbook == "rollback.yml")
        .count();
    let summary = format!(
        "{n} trials in {cycle} cycles, {group} group kills, {} during an upgrade's setup, {in_rollback} during rollback ({} during its setup), {:.0?}",
        in_setup("rolling_upgrade.yml"),
        in_setup("rollback.yml"),
        t_start.elapsed()
    );
    eprintln!("{}{summary}", table_text(&table));
    if n < MIN_TRIALS
        || group.abs_diff(n - group) > 1
        || in_setup("rolling_upgrade.yml") < 3
        || (ROLLBACK_KILLS > 0 && (in_rollback < 6 || in_setup("rollback.yml") < 1))
    {
        fail(
            &table,
            format!("too few kills where they matter: {summary}"),
        );
    }
}

/// One process: pid, parent, process group and start time (so a reused pid is not taken for it).
#[derive(Clone, Copy)]
struct Proc {
    pid: u32,
    ppid: u32,
    pgid: u32,
    start: u64,
}

impl Proc {
    fn read(pid: u32) -> Option<Proc> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // pid (comm) state ppid pgrp ... starttime (field 22): comm may hold spaces.
        let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        if f.first() == Some(&"Z") {
            return None;
        }
        Some(Proc {
            pid,
            ppid: f.get(1)?.parse().ok()?,
            pgid: f.get(2)?.parse().ok()?,
            start: f.get(19)?.parse().ok()?,
        })
    }

    fn alive(&self) -> bool {
        Proc::read(self.pid).is_some_and(|p| p.start == self.start)
    }
}

/// `root` and every process below it (ansible-playbook, its workers, the modules they run and
/// the commands those started), whatever their process group or session.
fn descendants(root: u32) -> Vec<Proc> {
    let all: Vec<Proc> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter_map(Proc::read)
        .collect();
    let mut out: Vec<Proc> = Vec::new();
    let mut want = vec![root];
    while let Some(p) = want.pop() {
        for q in all
            .iter()
            .filter(|q| q.ppid == p || (q.pid == root && p == root))
        {
            if !out.iter().any(|o| o.pid == q.pid) {
                want.push(q.pid);
                out.push(*q);
            }
        }
    }
    out
}

/// The seed and the trial table.
fn table_text(table: &[Trial]) -> String {
    let mut s = format!(
        "seed {SEED:#x}, TIMINGS {TIMINGS}\n    cycle playbook            death       moment          outcome\n"
    );
    for (i, t) in table.iter().enumerate() {
        s.push_str(&format!(
            "{i:>2} {:>2}  {:<18} {:<11} {:<15} {}\n",
            t.cycle,
            t.playbook,
            format!("{:?}", t.death),
            format!("{:?}", t.moment),
            t.outcome
        ));
    }
    s
}

/// Per node: version, running, and where each root hierarchy is in service (for a failure).
fn summarize(st: &Value) -> String {
    format!(
        "versions {:?}, running {:?}, placement {:?}",
        versions(st),
        st["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["name"].clone(), n["running"].clone()))
            .collect::<Vec<_>>(),
        placement(st)
    )
}

//! lk_lease: the run lease (issue 28, "two runs at once"). A run of rolling_upgrade.yml or
//! rollback.yml takes it on every node of a cluster as the first thing it does, and releases it
//! when it ends; a second run started meanwhile refuses before anything, naming the holder,
//! instead of failing later at a peer's pre-flight with "every communication path is down".
//!
//! The node lock (`lifekeeper::node_lock`) is held only while a module runs; between two module
//! calls another run was not seen. The lease is a file next to the backups and the plan
//! (`<lease_dir>/lkops-run-lease.<cluster>.json`): who holds it (run id, controller host,
//! ansible-playbook's pid and that process's start time, started, heartbeat).
//!
//! `state: identify` runs on the controller (delegate_to: localhost): it names this run
//! (the ansible-playbook process it runs under) and lists the ansible-playbook processes alive
//! on the controller. `state: held` on a node: facts (the lease file) -> `decide` (pure) ->
//! apply (atomic write under a short flock). A lease is taken over when its holder is provably
//! dead (same controller host, and its pid with that start time is not among the live runs: a
//! killed controller), when its heartbeat is older than `stale_after`, or with `takeover`; the
//! takeover is reported. `state: released` removes the lease only when this run holds it.

use crate::runtime::{fs as rfs, time};
use crate::runtime::{Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

crate::choice_enum! {
    /// What the module does.
    pub enum State {
        Identify = "identify",
        Held = "held",
        Released = "released",
    }
}

const PARAMS: &[Param] = &[
    Param::new(
        "state",
        Kind::Str,
        "C(identify): on the controller, name this run (I(holder)) and list the runs alive there (I(live_runs)); writes nothing. C(held): take the lease on this node for I(run) (renew its heartbeat when I(run) holds it already), or refuse naming the holder. C(released): remove the lease when I(run) holds it.",
    )
    .choices(State::NAMES)
    .required(),
    Param::new(
        "run",
        Kind::Dict,
        "This run, as C(state=identify) returned it in I(holder): run_id, controller, pid, pid_start, started. Required with C(held) and C(released).",
    ),
    Param::new(
        "live_runs",
        Kind::List,
        "The runs alive on the controller (C(state=identify)'s I(live_runs): C(PID:START) of every ansible-playbook process there). A lease whose holder ran on the same controller host and is not among them is dead and taken over.",
    )
    .default("[]"),
    Param::new(
        "cluster",
        Kind::Str,
        "The cluster's name (lk_cluster): names the lease file C(lkops-run-lease.<cluster>.json).",
    )
    .default("\"default\""),
    Param::new(
        "lease_dir",
        Kind::AbsPath,
        "Where the lease is kept on this node (outside lkroot; created 0700 when missing). The playbooks use C(lkops-lease) beside their backup directory.",
    )
    .default("\"/var/backups/lkops-lease\""),
    Param::new(
        "stale_after",
        Kind::Int,
        "Seconds after its last heartbeat a lease held by another run counts as abandoned and is taken over (the playbooks write it when a run starts: the bound must exceed the longest run).",
    )
    .default("21600")
    .range(60, 604800),
    Param::new(
        "takeover",
        Kind::Bool,
        "Take the lease whoever holds it (the admin knows the other run is gone, e.g. its controller died). Reported.",
    )
    .default("false"),
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_lease",
    short: "Take or release the run lease of a LifeKeeper cluster on a node (one lkops run at a time)",
    description: &[
        "A rolling upgrade or rollback takes the lease on every node of the cluster before anything else and releases it at its end. A second run started meanwhile refuses before anything, naming the run that holds the cluster (run id, controller, ansible-playbook pid, started, last heartbeat).",
        "A lease whose holder is provably dead (it ran on the same controller host and its ansible-playbook process, pid and start time, is gone), whose heartbeat is older than I(stale_after), or any lease with I(takeover), is taken over, and the result says so (I(taken_over), I(previous)).",
        "C(state=identify) runs on the controller and names this run from the ansible-playbook process the module runs under (Linux controllers; elsewhere the pid is null and only the heartbeat bound applies).",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Reads the lease and predicts: taken, renewed, taken over, refused or released; writes nothing.",
    ),
    diff_mode: (
        Support::Full,
        "The lease file before and after (JSON).",
    ),
    notes: &[
        "The lease is written atomically (mode 0600) under an exclusive flock of I(lease_dir) itself (no lock file is left), so two runs taking it at the same moment cannot both win on one node; the playbooks take it on the cluster's first node before the others.",
        "Needs no Python on the node.",
    ],
    examples: r#"
- name: Name this run (on the controller)
  lkops.lifekeeper.lk_lease:
    state: identify
  run_once: true
  delegate_to: localhost
  register: lk_run_id

- name: Take the run lease on this node
  lkops.lifekeeper.lk_lease:
    state: held
    run: "{{ lk_run_id.holder }}"
    live_runs: "{{ lk_run_id.live_runs }}"
    cluster: demo

- name: Release it at the end
  lkops.lifekeeper.lk_lease:
    state: released
    run: "{{ lk_run_id.holder }}"
    cluster: demo
"#,
    returns: &[
        Ret::new("holder", "dict", "always", "identify: this run (run_id, controller, pid, pid_start, started). held: the lease's holder after the call (this run, or the run that holds it when refused). released: null.")
            .sample("{\"run_id\": \"ctl:4242:918273\", \"controller\": \"ctl\", \"pid\": 4242, \"pid_start\": \"918273\", \"started\": \"2026-12-07T10:00:00Z\", \"heartbeat\": \"2026-12-07T10:05:00Z\"}"),
        Ret::new("live_runs", "list", "state=identify", "C(PID:START) of every ansible-playbook process alive on the controller.").sample("[\"4242:918273\"]"),
        Ret::new("action", "str", "state=held or released", "What was (check mode: would be) done: taken, renewed, taken_over, refused, released, none.").sample("\"taken\""),
        Ret::new("taken_over", "bool", "state=held", "The lease of another run was taken over (its holder dead, its heartbeat stale, or takeover)."),
        Ret::new("previous", "dict", "state=held", "The holder taken over (with why), else null."),
        Ret::new("lease_file", "str", "state=held or released", "The lease file on this node.").sample("\"/var/backups/lkops-lease/lkops-run-lease.demo.json\""),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub state: State,
    pub run: Option<Value>,
    pub live_runs: Vec<String>,
    pub cluster: String,
    pub lease_dir: PathBuf,
    pub stale_after: i64,
    pub takeover: bool,
}

/// Who holds (or wants) the lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub run_id: String,
    pub controller: String,
    pub pid: Option<u32>,
    pub pid_start: Option<String>,
    pub started: String,
    /// Set when written on a node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<String>,
    /// Seconds since the epoch of the heartbeat (what the staleness is computed from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_epoch: Option<i64>,
    /// The directories taking the lease created (the lease directory and any missing parent,
    /// outermost first): the release removes them again when they are empty, so a run refused
    /// before any change leaves the node as it found it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_dirs: Vec<String>,
}

impl Holder {
    fn describe(&self, now: i64) -> String {
        let beat = match (&self.heartbeat, self.heartbeat_epoch) {
            (Some(h), Some(e)) => format!(", last heartbeat {h} ({} s ago)", now - e),
            _ => String::new(),
        };
        format!(
            "run {} from controller {} (ansible-playbook pid {}), started {}{beat}",
            self.run_id,
            self.controller,
            self.pid
                .map_or_else(|| "unknown".to_string(), |p| p.to_string()),
            self.started
        )
    }
}

/// What `held` does with the lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Take,
    Renew,
    /// Another run's lease, taken over: why.
    TakeOver(String),
    /// Held by another run that may be alive.
    Refuse,
}

/// The pure decision of `held`: `found` is the lease on the node, `me` this run.
pub fn decide(
    found: Option<&Holder>,
    me: &Holder,
    live_runs: &[String],
    now: i64,
    stale_after: i64,
    takeover: bool,
) -> Decision {
    let Some(h) = found else {
        return Decision::Take;
    };
    if h.run_id == me.run_id {
        return Decision::Renew;
    }
    if takeover {
        return Decision::TakeOver("takeover was asked for".into());
    }
    // Provably dead: it ran on this controller, and no process with its pid and start time
    // is alive there. A pid alone could be reused; with its start time it cannot.
    if h.controller == me.controller {
        if let (Some(pid), Some(start)) = (h.pid, &h.pid_start) {
            if !live_runs.iter().any(|l| *l == format!("{pid}:{start}")) {
                return Decision::TakeOver(format!(
                    "its ansible-playbook (pid {pid}) is no longer running on {}",
                    h.controller
                ));
            }
        }
    }
    if let Some(e) = h.heartbeat_epoch {
        if now - e > stale_after {
            return Decision::TakeOver(format!(
                "its last heartbeat is {} s old (stale_after {stale_after})",
                now - e
            ));
        }
    }
    Decision::Refuse
}

pub struct LeaseModule;

impl Module for LeaseModule {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        if p.state == State::Identify {
            return Ok(identify());
        }
        super::plan::word("cluster", &p.cluster)?;
        let me: Holder = p
            .run
            .clone()
            .ok_or_else(|| Failure::param("run", "run is required with state held or released"))
            .and_then(|v| {
                serde_json::from_value(v).map_err(|e| {
                    Failure::param(
                        "run",
                        format!("run is not a holder as state=identify returns it: {e}"),
                    )
                })
            })?;
        if me.run_id.trim().is_empty() {
            return Err(Failure::param("run", "run.run_id must not be empty"));
        }
        let file = p
            .lease_dir
            .join(format!("lkops-run-lease.{}.json", p.cluster));
        // The read-modify-write under a short lock: two runs at the same moment, one winner.
        let created = if p.state == State::Held && !ctx.check_mode {
            let missing = missing_dirs(&p.lease_dir);
            ensure_dir(&p.lease_dir)?;
            missing
        } else {
            vec![]
        };
        let _lock = if ctx.check_mode || !p.lease_dir.is_dir() {
            None
        } else {
            // The directory itself is locked: no lock file is left next to the backups.
            let d = &p.lease_dir;
            let f = std::fs::File::open(d)
                .map_err(|e| Failure::new(format!("cannot open {}: {e}", d.display())))?;
            Some(
                rfs::lock_file(f, Duration::from_secs(30), d)
                    .map_err(|e| Failure::new(format!("cannot lock {}: {e}", d.display())))?,
            )
        };
        let (before, found) = read(&file)?;
        let now = time::now_secs();
        match p.state {
            State::Held => held(&p, ctx, &file, before, found, me, created, now),
            _ => released(ctx, &file, before, found, &me),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn held(
    p: &Params,
    ctx: &Ctx,
    file: &Path,
    before: Option<String>,
    found: Option<Holder>,
    me: Holder,
    created: Vec<String>,
    now: i64,
) -> Result<Outcome, Failure> {
    let d = decide(
        found.as_ref(),
        &me,
        &p.live_runs,
        now,
        p.stale_after,
        p.takeover,
    );
    let file_s = file.display().to_string();
    if d == Decision::Refuse {
        let h = found.expect("refused only when a lease was found");
        return Err(Failure::new(format!(
            "another lkops run holds cluster {} ({file_s} on this node): {}. Nothing was done. Wait for that run to finish; if it is gone (its controller died), rerun with -e lk_lease_takeover=true",
            p.cluster,
            h.describe(now)
        ))
        .with("holder", json!(h))
        .with("action", "refused")
        .with("lease_file", file_s));
    }
    let mut mine = me;
    // What an earlier take (this run's, or a dead holder's) created is still ours to clean up.
    let mut dirs: Vec<String> = found
        .as_ref()
        .map(|h| h.created_dirs.clone())
        .unwrap_or_default();
    for d in created {
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    mine.created_dirs = dirs;
    mine.heartbeat = Some(time::iso8601(now));
    mine.heartbeat_epoch = Some(now);
    let after = document(&mine);
    if !ctx.check_mode {
        ensure_dir(&p.lease_dir)?;
        rfs::write_atomic(file, after.as_bytes(), 0o600)
            .map_err(|e| Failure::new(format!("cannot write {file_s}: {e}")))?;
    }
    let (action, msg, previous) = match &d {
        Decision::Take => (
            "taken",
            format!("run lease of cluster {} taken", p.cluster),
            None,
        ),
        Decision::Renew => (
            "renewed",
            format!("run lease of cluster {} renewed", p.cluster),
            None,
        ),
        Decision::TakeOver(why) => {
            let h = found.clone().expect("a takeover replaces a lease");
            (
                "taken_over",
                format!(
                    "run lease of cluster {} taken over from {}: {why}",
                    p.cluster,
                    h.describe(now)
                ),
                Some(json!({"holder": h, "why": why})),
            )
        }
        Decision::Refuse => unreachable!(),
    };
    let msg = if ctx.check_mode {
        format!("(check mode, nothing written) {msg}")
    } else {
        msg
    };
    let mut o = Outcome::new(true, msg)
        .diff(Some(crate::runtime::diff::text(
            &file_s,
            before.as_deref().unwrap_or_default(),
            &after,
        )))
        .with("holder", json!(mine))
        .with("action", action)
        .with("taken_over", previous.is_some())
        .with("previous", previous.clone().unwrap_or(Value::Null))
        .with("lease_file", file_s);
    if previous.is_some() {
        // A takeover is said loudly: another run's lease was replaced.
        let m = o.msg.clone();
        o.warn(m);
    }
    Ok(o)
}

fn released(
    ctx: &Ctx,
    file: &Path,
    before: Option<String>,
    found: Option<Holder>,
    me: &Holder,
) -> Result<Outcome, Failure> {
    let file_s = file.display().to_string();
    let ours = found.as_ref().is_some_and(|h| h.run_id == me.run_id);
    if !ours {
        let why = match &found {
            None => "no lease here".to_string(),
            Some(h) => format!("held by another run ({}), left alone", h.run_id),
        };
        return Ok(
            Outcome::new(false, format!("run lease not released: {why}"))
                .with("holder", json!(found))
                .with("action", "none")
                .with("lease_file", file_s),
        );
    }
    if !ctx.check_mode {
        std::fs::remove_file(file)
            .map_err(|e| Failure::new(format!("cannot remove {file_s}: {e}")))?;
        // Innermost first; a directory that holds anything (backups, another cluster's lease)
        // stays: remove_dir refuses a directory that is not empty.
        if let Some(h) = &found {
            for d in h.created_dirs.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
    Ok(Outcome::new(true, "run lease released")
        .diff(Some(crate::runtime::diff::text(
            &file_s,
            before.as_deref().unwrap_or_default(),
            "",
        )))
        .with("holder", Value::Null)
        .with("action", "released")
        .with("lease_file", file_s))
}

/// The lease file's text and holder (None when there is none).
fn read(file: &Path) -> Result<(Option<String>, Option<Holder>), Failure> {
    rfs::read_json_doc(
        file,
        "a run lease",
        "move it away if no run holds the cluster",
    )
    .map_err(|e| Failure::param("lease_dir", e))
}

fn document(h: &Holder) -> String {
    let mut s = serde_json::to_string_pretty(h).unwrap_or_default();
    s.push('\n');
    s
}

/// `dir` and those of its parents that do not exist, outermost first.
fn missing_dirs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err())
        .map(|a| a.display().to_string())
        .collect();
    v.reverse();
    v
}

fn ensure_dir(dir: &Path) -> Result<(), Failure> {
    rfs::ensure_private_dir(dir).map_err(Failure::new)
}

// ---- identify: on the controller --------------------------------------------------------------

/// One process of /proc: parent, start time (clock ticks after boot), command line.
struct Proc {
    ppid: u32,
    start: String,
    cmdline: String,
}

fn proc_info(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid ... starttime (field 22): comm may hold spaces and parentheses.
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default();
    Some(Proc {
        ppid: f.get(1)?.parse().ok()?,
        start: f.get(19)?.to_string(),
        cmdline,
    })
}

fn is_ansible_playbook(cmdline: &str) -> bool {
    cmdline
        .split_whitespace()
        .take(3)
        .any(|w| w.rsplit('/').next() == Some("ansible-playbook"))
}

/// The topmost ansible-playbook among this process's ancestors (a worker is a fork of it and
/// carries the same command line), as (pid, start).
fn run_process() -> Option<(u32, String)> {
    let mut pid = std::process::id();
    let mut found = None;
    for _ in 0..64 {
        let p = proc_info(pid)?;
        if is_ansible_playbook(&p.cmdline) {
            found = Some((pid, p.start.clone()));
        }
        if p.ppid <= 1 {
            break;
        }
        pid = p.ppid;
    }
    found
}

/// Every ansible-playbook process alive here whose parent is not one (workers left out).
fn live_runs() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let procs: Vec<(u32, Proc)> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter_map(|pid| proc_info(pid).map(|p| (pid, p)))
        .filter(|(_, p)| is_ansible_playbook(&p.cmdline))
        .collect();
    let mut v: Vec<String> = procs
        .iter()
        .filter(|(_, p)| !procs.iter().any(|(q, _)| *q == p.ppid))
        .map(|(pid, p)| format!("{pid}:{}", p.start))
        .collect();
    v.sort();
    v
}

fn identify() -> Outcome {
    // The kernel's host name (nix's gethostname needs a feature this crate does not enable).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let now = time::now_secs();
    let run = run_process();
    let (pid, start) = match &run {
        Some((p, s)) => (Some(*p), Some(s.clone())),
        None => (None, None),
    };
    let run_id = match &run {
        Some((p, s)) => format!("{host}:{p}:{s}"),
        None => format!("{host}:{}:{now}", std::process::id()),
    };
    let me = Holder {
        run_id,
        controller: host,
        pid,
        pid_start: start,
        started: time::iso8601(now),
        heartbeat: None,
        heartbeat_epoch: None,
        created_dirs: vec![],
    };
    let mut o = Outcome::new(false, format!("this run is {}", me.run_id))
        .with("holder", json!(me))
        .with("live_runs", json!(live_runs()));
    if run.is_none() {
        o.warn("no ansible-playbook process found among this module's parents (not a Linux controller, or not run by ansible-playbook): a lease this run leaves is taken over only after stale_after");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(id: &str, ctl: &str, pid: u32, beat: i64) -> Holder {
        Holder {
            run_id: id.into(),
            controller: ctl.into(),
            pid: Some(pid),
            pid_start: Some("100".into()),
            started: "t".into(),
            heartbeat: Some("t".into()),
            heartbeat_epoch: Some(beat),
            created_dirs: vec![],
        }
    }

    /// Issue 28, two runs at once: a second run refuses while the first is alive, whatever
    /// controller it runs from; a dead holder (same controller, process gone) or a stale
    /// heartbeat is taken over; the holder itself renews.
    #[test]
    fn two_runs_at_once_the_second_refuses_while_the_holder_lives_and_a_dead_one_is_taken_over() {
        let first = h("ctl:1:100", "ctl", 1, 1_000);
        let second = h("ctl:2:200", "ctl", 2, 0);
        let live = vec!["1:100".to_string(), "2:200".to_string()];
        assert_eq!(
            decide(None, &second, &live, 1_010, 600, false),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&first), &second, &live, 1_010, 600, false),
            Decision::Refuse
        );
        assert_eq!(
            decide(Some(&first), &first, &live, 1_010, 600, false),
            Decision::Renew
        );
        // Killed controller: pid 1 gone, or reused by another process (other start time).
        for gone in [
            vec!["2:200".to_string()],
            vec!["1:999".into(), "2:200".into()],
        ] {
            assert!(matches!(
                decide(Some(&first), &second, &gone, 1_010, 600, false),
                Decision::TakeOver(w) if w.contains("no longer running")
            ));
        }
        // Another controller: its processes are not ours to judge; only the heartbeat is.
        let elsewhere = h("other:2:200", "other", 2, 0);
        assert_eq!(
            decide(Some(&first), &elsewhere, &[], 1_010, 600, false),
            Decision::Refuse
        );
        assert!(matches!(
            decide(Some(&first), &elsewhere, &[], 1_601, 600, false),
            Decision::TakeOver(w) if w.contains("heartbeat")
        ));
        assert!(matches!(
            decide(Some(&first), &elsewhere, &[], 1_010, 600, true),
            Decision::TakeOver(_)
        ));
    }

    #[test]
    fn the_topmost_ansible_playbook_is_the_run() {
        assert!(is_ansible_playbook(
            "/usr/bin/python3 /x/.venv/bin/ansible-playbook -i inv pb.yml"
        ));
        assert!(is_ansible_playbook("ansible-playbook pb.yml"));
        assert!(!is_ansible_playbook(
            "ansible-runner run x ansible-playbook"
        ));
        assert!(!is_ansible_playbook("/bin/sh -c echo"));
    }
}

//! lk_info: a read-only `*_info` module (issue 21): what LifeKeeper on this node is (installed,
//! version, running, its name) and holds (resources, the hierarchies in service here, comm
//! paths, packages, mirrors).
//!
//! facts (`gather`: the probe `lcdstatus -e`, `rpm`, and only when LifeKeeper runs the detailed
//! `lcdstatus`, `lcdstatus -q` and `mirror_status`) -> the result (`report`, a plain function of
//! the facts). There is no apply: nothing is ever written, so check mode is the same run and
//! changed is always false. The parsers are the shared ones (`lifekeeper::status`, `packages`,
//! `capture`), so lk_info reads a node exactly as the modules that act on it do.

use crate::lifekeeper::capture::{self, Detailed};
use crate::lifekeeper::status::{self, Probe, Status};
use crate::lifekeeper::{backup_store, node, node_lock, packages};
use crate::runtime::{
    Cmd, Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Runner, Support, LKROOT,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

crate::choice_enum! {
    /// The subsets of facts the `gather` parameter can choose (the `lifekeeper` key is always
    /// reported: it is what every subset is read against).
    pub enum Gather {
        Resources = "resources",
        CommPaths = "comm_paths",
        Packages = "packages",
        Mirrors = "mirrors",
    }
}

const PARAMS: &[Param] = &[
    LKROOT,
    Param::new(
        "gather",
        Kind::List,
        "Which facts to read besides I(lifekeeper) (always read): C(resources) (also gives I(hierarchies_in_service)), C(comm_paths), C(packages), C(mirrors). A fact not gathered is absent from the result.",
    )
    .choices(Gather::NAMES)
    .default("[\"resources\", \"comm_paths\", \"packages\", \"mirrors\"]"),
    Param::new(
        "timeout",
        Kind::Int,
        "Seconds each command (C(lcdstatus), C(rpm), C(mirror_status)) may take; a command still running then is killed and the module fails naming it.",
    )
    .default("120")
    .range(1, 86400),
    Param::new(
        "backup_dir",
        Kind::AbsPath,
        "lk_backup's directory (where lk_upgrade keeps its journal): with it, I(unfinished_upgrades) lists this node's upgrades an interrupted run left unfinished. Read only.",
    ),
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_info",
    short: "Read, without changing anything, what LifeKeeper on a node is and holds",
    description: &[
        "Reports whether LifeKeeper is installed (C(rpm -q steeleye-lk), or C(<lkroot>/bin/lcdstatus) present), its version, whether it runs (C(lcdstatus -e)) and the node's LifeKeeper name.",
        "With LifeKeeper running: every resource with its state and priorities (C(lcdstatus -e), types from the detailed C(lcdstatus)), the root hierarchies in service on this node, the communication paths with their state, and each DataKeeper mirror (type netraid) with its source and targets (C(mirror_status TAG)).",
        "The installed LifeKeeper packages (C(steeleye-*), C(HADR-*)) from the RPM database, whether LifeKeeper runs or not.",
        "It only reads: it never writes a file and never changes the cluster, so check mode runs the same read and changed is always false.",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Runs the same read-only commands and reports the same facts.",
    ),
    diff_mode: (
        Support::None,
        "Nothing is ever changed, so there is no difference to show.",
    ),
    notes: &[
        "When LifeKeeper is not running, resources, hierarchies_in_service, comm_paths and mirrors are null (unknown), not empty: a stopped LifeKeeper (lkstop -f) may leave resources in service.",
        "Where lktest is missing, whether LifeKeeper runs is read from lcdstatus (the shared rule of every lkops module, lifekeeper::status::says_not_running): a stopped node prints 'LifeKeeper does not appear to be running.'; its stream and exit code are UNCONFIRMED, so it counts on stdout or stderr with any exit code. Any other failure of lcdstatus fails the module.",
        "UNCONFIRMED: the layout of DataKeeper's mirror_status output (Source:, Target: NAME State: ... Progress: N%); lines it does not know are kept in the mirror's output and a mirror without a Source line gets a warning.",
        "The node name is read as lk_capture reads it: lcduname, $LKROOT/config/UNAME, the LOCAL column of lcdstatus -q, then uname -n (with a warning).",
    ],
    examples: r#"
- name: Read LifeKeeper on every node
  lkops.lifekeeper.lk_info:
  register: lk

- name: Only the version and the packages (no cluster commands beyond the probe)
  lkops.lifekeeper.lk_info:
    gather: [packages]
  register: lk

- name: Mirrors only, to see whether any resync is running (read-only)
  lkops.lifekeeper.lk_info:
    gather: [mirrors]
  register: lk_mirrors
"#,
    returns: &[
        Ret::new("lifekeeper", "dict", "always", "installed (bool), version (str or null), running (bool), node (the LifeKeeper name), node_source (where the name was read).")
            .sample("{\"installed\": true, \"version\": \"9.4.0\", \"running\": true, \"node\": \"node-a\", \"node_source\": \"lcdstatus -q (LOCAL column)\"}"),
        Ret::new("resources", "list", "when gather has resources", "Each resource: tag, id, state (verbatim: ISP, ISU, OSU, OSF, ILLSTATE...), in_service (ISP or ISU), priority (this node's), primary, backup, parent (null for a root), depth, type and app (from the detailed lcdstatus). Null when LifeKeeper is not running."),
        Ret::new("hierarchies_in_service", "list", "when gather has resources", "Tags of the root hierarchies in service (ISP or ISU) on this node. Null when LifeKeeper is not running.").sample("[\"app-pgsql\"]"),
        Ret::new("comm_paths", "list", "when gather has comm_paths", "Each communication path: peer, network (TCP, TTY), address, state (ALIVE, DEAD), priority. Null when LifeKeeper is not running."),
        Ret::new("packages", "list", "when gather has packages", "Installed LifeKeeper packages: name, nevra (name-version-release.arch). Null (with a warning) when rpm cannot say.")
            .sample("[{\"name\": \"steeleye-lk\", \"nevra\": \"steeleye-lk-9.4.0-7963.x86_64\"}]"),
        Ret::new("unfinished_upgrades", "list", "when backup_dir is given", "This node's lk_upgrade journals in backup_dir that are not finished (an upgrade an interrupted run left; rerun lk_upgrade with the same arguments to resume it): host, journal, backup (the archive it restores, or null). The rolling upgrade resumes them before any pre-flight (issue 28 O2).")
            .sample("[{\"host\": \"node-a\", \"journal\": \"/var/backups/lifekeeper/upgrade-journal.node-a.json\", \"backup\": null}]"),
        Ret::new("node_lock_held", "bool", "when backup_dir is given", "Whether an lkops module (lk_upgrade, lk_resource, lk_backup, lk_defaults_merge) is changing this node right now (its node lock is held; read without taking it). With an unfinished upgrade: that upgrade may still be running, e.g. in another run.").sample("false"),
        Ret::new("mirrors", "list", "when gather has mirrors", "Each DataKeeper mirror (type netraid): tag, state here, source, targets (target, state, progress in percent or null), output (mirror_status as printed). Null when LifeKeeper is not running."),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub lkroot: PathBuf,
    pub gather: Vec<Gather>,
    pub timeout: i64,
    pub backup_dir: Option<PathBuf>,
}

/// One mirror as `mirror_status TAG` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub tag: String,
    pub state: Option<String>,
    pub rc: i32,
    pub output: String,
}

/// Everything read from the node.
#[derive(Debug)]
pub struct Facts {
    pub installed: bool,
    pub version: Option<String>,
    /// The status when LifeKeeper runs.
    pub status: Option<Status>,
    pub node: String,
    pub node_source: String,
    pub detailed: Vec<Detailed>,
    pub packages: Option<Vec<String>>,
    pub mirrors: Vec<Mirror>,
    pub warnings: Vec<String>,
}

pub struct InfoModule;

impl Module for InfoModule {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        let ctx = ctx.bounded("timeout", p.timeout)?;
        ctx.progress("reading LifeKeeper (read-only)");
        let facts = gather(&ctx.runner, &p.lkroot, &p.gather)?;
        let node = facts.node.clone();
        let o = report(&p.gather, facts);
        Ok(match &p.backup_dir {
            None => o,
            // Whether an lkops module is changing this node right now (its node lock held):
            // an unfinished upgrade may be one that is still running (another run's).
            Some(d) => o
                .with("unfinished_upgrades", unfinished_upgrades(d, &node))
                .with("node_lock_held", node_lock::held(&p.lkroot)),
        })
    }
}

/// This node's unfinished lk_upgrade journals in `dir` (a backup_dir shared between nodes holds
/// the others' too: only `node`'s are listed).
fn unfinished_upgrades(dir: &Path, node: &str) -> Vec<Value> {
    backup_store::unfinished_upgrades(dir)
        .into_iter()
        .filter(|u| u.host == node)
        .map(|u| json!({"host": u.host, "journal": dir.join(&u.journal), "backup": u.archive}))
        .collect()
}

fn wants(g: &[Gather], x: Gather) -> bool {
    g.contains(&x)
}

/// Read the node. Fails only when lcdstatus fails in a way that is not "not running" (the
/// resources would otherwise be reported as unknown while something is wrong).
pub fn gather(runner: &Runner, lkroot: &Path, g: &[Gather]) -> Result<Facts, Failure> {
    let mut warnings = vec![];
    let probe = status::probe(runner, lkroot);
    let (lcdstatus_found, st) = match probe {
        Probe::NotInstalled(_) => (false, None),
        Probe::Stopped => (true, None),
        Probe::Up(s) => (true, Some(s)),
        Probe::Failed(f) => return Err(f),
    };
    let version = match packages::installed(runner) {
        Ok(v) => v.map(|v| v.to_string()),
        Err(e) => {
            warnings.push(format!("version: {e}"));
            None
        }
    };
    let lk = |name: &str| Cmd::lk(lkroot, name);
    let running = st.is_some();
    let q = if running {
        capture::record(runner, "lcdstatus-q.out", lk("lcdstatus").arg("-q")).stdout
    } else {
        String::new()
    };
    let named = node::name(runner, lkroot, &q).map_err(Failure::new)?;
    if named.source == node::FROM_UNAME && lcdstatus_found {
        warnings.push(node::NOT_RECORDED.into());
    }
    let (node, node_source) = (named.name, named.source);
    let detailed = if running && (wants(g, Gather::Resources) || wants(g, Gather::Mirrors)) {
        let out = runner.run_ok(&lk("lcdstatus"), "reading the detailed status")?;
        capture::parse_detailed(&out.stdout)
    } else {
        vec![]
    };
    let mut mirrors = vec![];
    if running && wants(g, Gather::Mirrors) {
        for d in detailed
            .iter()
            .filter(|d| d.rtype.as_deref() == Some("netraid"))
        {
            let e = capture::record(runner, "", lk("mirror_status").arg(&d.tag));
            if e.timed_out {
                return Err(Failure::new(format!(
                    "mirror_status {} timed out (raise timeout)",
                    d.tag
                ))
                .with("invalid_parameter", "timeout"));
            }
            if e.rc != 0 {
                warnings.push(format!(
                    "mirror_status {} failed (rc={}): {}",
                    d.tag,
                    e.rc,
                    e.stderr.trim()
                ));
            }
            mirrors.push(Mirror {
                tag: d.tag.clone(),
                state: d.state.clone(),
                rc: e.rc,
                output: e.stdout,
            });
        }
    }
    let packages = if wants(g, Gather::Packages) {
        match packages::packages(runner) {
            Ok(p) => Some(p),
            Err(e) => {
                warnings.push(format!("packages: {e}"));
                None
            }
        }
    } else {
        None
    };
    Ok(Facts {
        installed: lcdstatus_found || version.is_some(),
        version,
        status: st,
        node,
        node_source,
        detailed,
        packages,
        mirrors,
        warnings,
    })
}

/// The result: a plain function of what was asked and what was read.
pub fn report(g: &[Gather], f: Facts) -> Outcome {
    let running = f.status.is_some();
    let msg = match (&f.version, f.installed, running) {
        (_, false, _) => format!("LifeKeeper is not installed on {}", f.node),
        (v, true, r) => format!(
            "LifeKeeper {} on {} is {}",
            v.as_deref().unwrap_or("(version unknown)"),
            f.node,
            if r { "running" } else { "not running" }
        ),
    };
    let mut out = Outcome::new(false, msg).with(
        "lifekeeper",
        json!({"installed": f.installed, "version": f.version, "running": running,
               "node": f.node, "node_source": f.node_source}),
    );
    let st = f.status.as_ref();
    if wants(g, Gather::Resources) {
        let resources = st.map(|s| {
            s.resources
                .iter()
                .map(|r| {
                    let d = f.detailed.iter().find(|d| d.tag == r.tag);
                    json!({"tag": r.tag, "id": r.id, "state": r.state,
                        "in_service": r.in_service(), "priority": r.prio,
                        "primary": r.primary, "backup": r.backup, "parent": r.parent,
                        "depth": r.depth,
                        "type": d.and_then(|d| d.rtype.clone()),
                        "app": d.and_then(|d| d.app.clone())})
                })
                .collect::<Vec<_>>()
        });
        let roots = st.map(|s| {
            s.roots()
                .filter(|r| r.in_service())
                .map(|r| r.tag.clone())
                .collect::<Vec<_>>()
        });
        out = out
            .with("resources", json!(resources))
            .with("hierarchies_in_service", json!(roots));
    }
    if wants(g, Gather::CommPaths) {
        let paths = st.map(|s| {
            s.comm_paths
                .iter()
                .map(|p| {
                    json!({"peer": p.machine, "network": p.network, "address": p.address,
                        "state": p.state, "priority": p.prio})
                })
                .collect::<Vec<_>>()
        });
        out = out.with("comm_paths", json!(paths));
    }
    if wants(g, Gather::Packages) {
        let pkgs = f.packages.as_ref().map(|p| {
            p.iter()
                .map(|n| json!({"name": packages::name(n), "nevra": n}))
                .collect::<Vec<_>>()
        });
        out = out.with("packages", json!(pkgs));
    }
    let mut warnings = f.warnings;
    if wants(g, Gather::Mirrors) {
        let mirrors = running.then(|| {
            f.mirrors
                .iter()
                .map(|m| {
                    let (source, targets) = parse_mirror_status(&m.output);
                    if source.is_none() && m.rc == 0 {
                        warnings.push(format!(
                            "mirror_status {}: no Source line (layout UNCONFIRMED)",
                            m.tag
                        ));
                    }
                    json!({"tag": m.tag, "state": m.state, "source": source,
                        "targets": targets, "output": m.output})
                })
                .collect::<Vec<_>>()
        });
        out = out.with("mirrors", json!(mirrors));
    }
    for w in warnings {
        out.warn(w);
    }
    out
}

/// `Source: NODE` and each `Target: NODE  State: STATE  Progress: N%` line of mirror_status.
pub fn parse_mirror_status(text: &str) -> (Option<String>, Value) {
    let mut source = None;
    let mut targets = vec![];
    for l in text.lines().map(str::trim) {
        if let Some(s) = l.strip_prefix("Source:") {
            source = Some(s.trim().to_string());
        } else if let Some(t) = l.strip_prefix("Target:") {
            let field = |key: &str| {
                t.find(key).map(|i| {
                    let rest = &t[i + key.len()..];
                    let end = ["Progress:", "Remaining:", "State:"]
                        .iter()
                        .filter_map(|k| rest.find(k))
                        .min()
                        .unwrap_or(rest.len());
                    rest[..end].trim().to_string()
                })
            };
            let name = t.split_whitespace().next().unwrap_or_default();
            let progress: Option<u32> =
                field("Progress:").and_then(|p| p.trim_end_matches('%').trim().parse().ok());
            targets.push(json!({"target": name, "state": field("State:"), "progress": progress}));
        }
    }
    (source, Value::Array(targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_status_source_and_targets_are_read() {
        let (s, t) = parse_mirror_status(
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: resyncing  Progress: 45%  Remaining: 3s\nTarget: node-c  State: in sync  Progress: 100%\n",
        );
        assert_eq!(s.as_deref(), Some("node-a"));
        assert_eq!(
            t,
            json!([{"target": "node-b", "state": "resyncing", "progress": 45},
                   {"target": "node-c", "state": "in sync", "progress": 100}])
        );
        assert_eq!(parse_mirror_status("garbage\n"), (None, json!([])));
    }

    /// A list parameter with choices checks every element (the runtime once compared the whole
    /// list with the choices, so no list could ever pass).
    #[test]
    fn gather_checks_each_element_against_the_choices() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        let (ok, _) = SPEC.validate(&obj(json!({"gather": "packages"}))).unwrap();
        assert_eq!(ok["gather"], json!(["packages"]));
        assert!(SPEC
            .validate(&obj(json!({"gather": ["resources", "mirrors"]})))
            .is_ok());
        let e = SPEC
            .validate(&obj(json!({"gather": ["resources", "licences"]})))
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("gather"));
        assert!(e.msg.contains("got: licences"), "{}", e.msg);
    }
}

//! The `lksim` test-setup front: cluster create, install, media create,
//! fault set/clear, node down/up, commpath down/up, state.

use crate::catalog::DEFAULT_KITS;
use crate::catalog::{CORE_PACKAGES, OS_PACKAGES};
use crate::model::*;
use crate::ops;
use crate::versions;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn die(msg: &str) -> i32 {
    eprintln!("lksim: {msg}");
    1
}

/// Simple option parser: returns (positional, options).
fn parse(args: &[String], flags: &[&str]) -> (Vec<String>, BTreeMap<String, String>) {
    let mut pos = Vec::new();
    let mut opt = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if let Some(k) = a.strip_prefix("--") {
            if let Some((k, v)) = k.split_once('=') {
                opt.insert(k.to_string(), v.to_string());
            } else if flags.contains(&k) {
                opt.insert(k.to_string(), String::new());
            } else {
                opt.insert(k.to_string(), args.get(i + 1).cloned().unwrap_or_default());
                i += 1;
            }
        } else {
            pos.push(a.clone());
        }
        i += 1;
    }
    (pos, opt)
}

pub fn main(args: &[String]) -> i32 {
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    match a.as_slice() {
        ["cluster", "create", ..] => cluster_create(&args[2..]),
        ["install", ..] => install(&args[1..]),
        ["media", "create", ..] => crate::setup::media_create(&args[2..]),
        ["fault", "set", ..] => fault_set(&args[2..]),
        ["fault", "clear", ..] => fault_clear(&args[2..]),
        ["node", op @ ("down" | "up"), ..] => node_op(op, &args[2..]),
        ["commpath", op @ ("down" | "up"), ..] => commpath_op(op, &args[2..]),
        ["state", ..] => state(&args[1..]),
        ["daemon", ..] => daemon(&args[1..]),
        ["boot", ..] => boot(&args[1..]),
        ["initdone", ..] => initdone(&args[1..]),
        ["mirror", "resync", ..] => mirror_resync(&args[2..]),
        ["mirror", "resync-restore", ..] => mirror_policy(&args[2..]),
        ["kit", "install", ..] => kit_install(&args[2..]),
        ["twin", ..] => crate::twin::main(&args[1..]),
        ["setup-config", ..] => crate::setup_config::cli(&args[1..]),
        _ => {
            eprintln!("lksim: unknown command; see lksim/README.md");
            2
        }
    }
}

#[derive(Deserialize, Clone)]
struct SpecRes {
    tag: String,
    id: String,
    #[serde(default = "d_app")]
    app: String,
    #[serde(default = "d_type", rename = "type")]
    rtype: String,
    #[serde(default)]
    children: Vec<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    priorities: BTreeMap<String, u32>,
}
fn d_app() -> String {
    "gen".into()
}
fn d_type() -> String {
    "app".into()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Spec {
    List(Vec<SpecRes>),
    Obj {
        resources: Vec<SpecRes>,
        #[serde(default)]
        active: Option<String>,
    },
}

fn default_spec() -> Vec<SpecRes> {
    let r = |tag: &str, id: &str, app: &str, t: &str, ch: &[&str]| SpecRes {
        tag: tag.into(),
        id: id.into(),
        app: app.into(),
        rtype: t.into(),
        children: ch.iter().map(|s| s.to_string()).collect(),
        active: None,
        priorities: BTreeMap::new(),
    };
    vec![
        r("ip-10.0.0.50", "IP-10.0.0.50", "comm", "ip", &[]),
        r(
            "app-pgsql",
            "/opt/app/bin/pgsql-app.restore",
            "gen",
            "app",
            &["pgsql-5432"],
        ),
        r(
            "pgsql-5432",
            "/var/run/postgresql/.s.PGSQL.5432",
            "database",
            "pgsql",
            &["filesys1234"],
        ),
        r("filesys1234", "/pgdata", "gen", "filesys", &["device5678"]),
        r(
            "device5678",
            "3600508b400105e210000900000490000-1.part/dev/sdb1",
            "scsi",
            "device",
            &["disk9012"],
        ),
        r(
            "disk9012",
            "3600508b400105e210000900000490000",
            "scsi",
            "disk",
            &[],
        ),
    ]
}

fn load_spec(s: &str, first: &str) -> Result<Vec<SpecRes>, String> {
    let text = if s.trim_start().starts_with('[') || s.trim_start().starts_with('{') {
        s.to_string()
    } else {
        fs::read_to_string(s).map_err(|e| format!("--hierarchies {s}: {e}"))?
    };
    let spec: Spec = serde_json::from_str(&text).map_err(|e| format!("--hierarchies: {e}"))?;
    let (mut list, active) = match spec {
        Spec::List(l) => (l, None),
        Spec::Obj { resources, active } => (resources, active),
    };
    for r in list.iter_mut() {
        if r.active.is_none() {
            r.active = Some(active.clone().unwrap_or_else(|| first.to_string()));
        }
    }
    for r in &list {
        for c in &r.children {
            if !list.iter().any(|x| &x.tag == c) {
                return Err(format!(
                    "--hierarchies: {} depends on unknown tag {c}",
                    r.tag
                ));
            }
        }
    }
    Ok(list)
}

fn default_prio(i: usize) -> u32 {
    if i == 0 {
        1
    } else {
        10 * i as u32
    }
}

struct NodeSpec<'a> {
    name: &'a str,
    root: PathBuf,
    index: usize,
}

/// The options `cluster create` and `install` share.
struct CreateOpts {
    version: String,
    kits: Vec<String>,
    selinux: String,
    running: bool,
    timings: crate::timing::Timings,
    resync_seconds: Option<f64>,
    resync_removes_source: bool,
    /// Nodes that hold no hierarchies (witness / quorum nodes).
    witnesses: Vec<String>,
}

fn make_node(
    ns: &NodeSpec,
    all: &[String],
    cluster_dir: &Path,
    co: &CreateOpts,
    spec: &[SpecRes],
    exe: &Path,
) -> Result<(), String> {
    let (version, kits, selinux, running) = (&co.version, &co.kits, &co.selinux, co.running);
    let witness = co.witnesses.iter().any(|w| w == ns.name);
    let no_spec: Vec<SpecRes> = Vec::new();
    let spec = if witness { &no_spec } else { spec };
    let root = &ns.root;
    let e = |x: std::io::Error| x.to_string();
    for d in [
        "etc/default",
        "var/LifeKeeper/license",
        "tmp",
        "var/lib/lksim",
    ] {
        fs::create_dir_all(root.join(d)).map_err(e)?;
    }
    fs::create_dir_all(lkroot(root).join("config")).map_err(e)?;
    write_wrappers(root, exe, true, true).map_err(e)?;
    fs::write(defaults_file(root), versions::defaults_text(version)).map_err(e)?;
    let mut pk: Vec<Package> = CORE_PACKAGES
        .iter()
        .map(|p| Package::new(p, version))
        .collect();
    for k in kits {
        pk.push(Package::new(&format!("steeleye-{k}"), version));
    }
    for (n, v) in OS_PACKAGES {
        pk.push(Package::new(n, v));
    }
    let mut res = Vec::new();
    let mut states = BTreeMap::new();
    let prio_of = |r: &SpecRes, j: usize, name: &str| {
        r.priorities.get(name).copied().unwrap_or(default_prio(j))
    };
    for r in spec {
        let equivalents = all
            .iter()
            .enumerate()
            .filter(|(_, n)| n.as_str() != ns.name && !co.witnesses.contains(n))
            .map(|(j, n)| Equiv {
                node: n.clone(),
                tag: r.tag.clone(),
                prio: prio_of(r, j, n),
            })
            .collect();
        res.push(ResourceDef {
            tag: r.tag.clone(),
            id: r.id.clone(),
            app: r.app.clone(),
            rtype: r.rtype.clone(),
            prio: prio_of(r, ns.index, ns.name),
            children: r.children.clone(),
            equivalents,
        });
        let active = r.active.as_deref() == Some(ns.name);
        states.insert(
            r.tag.clone(),
            if active && running { "ISP" } else { "OSU" }.to_string(),
        );
    }
    let resume: Vec<String> = if running {
        vec![]
    } else {
        spec.iter()
            .filter(|r| r.active.as_deref() == Some(ns.name))
            .map(|r| r.tag.clone())
            .collect()
    };
    let mut paths = Vec::new();
    for (j, peer) in all.iter().enumerate() {
        if peer == ns.name {
            continue;
        }
        paths.push(CommPathDef {
            peer: peer.clone(),
            kind: "TCP".into(),
            address: format!("10.0.0.{}/10.0.0.{}", ns.index + 1, j + 1),
            prio: Some(1),
        });
        paths.push(CommPathDef {
            peer: peer.clone(),
            kind: "TCP".into(),
            address: format!("192.168.10.{}/192.168.10.{}", ns.index + 1, j + 1),
            prio: Some(2),
        });
    }
    let mut node = Node::new_local(
        root.clone(),
        NodeRuntime {
            name: ns.name.to_string(),
            cluster_dir: cluster_dir.to_string_lossy().to_string(),
            running,
            down: false,
            selinux: selinux.to_string(),
            packages: pk,
            states,
            resume_on_start: resume,
            faults: BTreeMap::new(),
            dead_paths: vec![],
            disk_free_kb: 41_943_040,
            listen: None,
            timings: co.timings.clone(),
            resync_seconds: co.resync_seconds,
            resync_removes_source: co.resync_removes_source,
            ..Default::default()
        },
        res,
        paths,
    );
    for r in spec {
        if r.rtype == crate::datakeeper::TYPE && r.active.as_deref() == Some(ns.name) {
            crate::datakeeper::created_source(&mut node.rt, &r.tag);
        }
    }
    node.save().map_err(e)
}

fn node_json(name: &str, root: &Path) -> Value {
    json!({
        "name": name,
        "root": root,
        "lkroot": lkroot(root),
        "defaults_file": defaults_file(root),
        "path": path_dir(root),
    })
}

fn common_opts(opt: &BTreeMap<String, String>) -> Result<CreateOpts, String> {
    let version = opt
        .get("version")
        .cloned()
        .unwrap_or_else(|| "9.4.0".into());
    if versions::parse(&version).is_none() {
        return Err(format!("bad --version {version}"));
    }
    let kits: Vec<String> = match opt.get("kits") {
        Some(k) => k
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
            .collect(),
        None => DEFAULT_KITS.iter().map(|s| s.to_string()).collect(),
    };
    let selinux = opt
        .get("selinux")
        .cloned()
        .unwrap_or_else(|| "disabled".into());
    if !["disabled", "permissive", "enforcing"].contains(&selinux.as_str()) {
        return Err(format!("bad --selinux {selinux}"));
    }
    let timings = match opt.get("timings") {
        Some(f) => crate::timing::Timings::load(f)?,
        None => crate::timing::Timings::default(),
    };
    let resync_seconds = match opt.get("resync-seconds") {
        None => None,
        Some(v) => match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Some(x),
            _ => {
                return Err(format!(
                    "bad --resync-seconds {v} (a number of seconds >= 0)"
                ))
            }
        },
    };
    let resync_removes_source = match opt.get("resync-restore").map(|s| s.as_str()) {
        None | Some("refuses") => false,
        Some("removes-source") => true,
        Some(o) => return Err(format!("bad --resync-restore {o} (refuses|removes-source)")),
    };
    let witnesses = opt
        .get("witness")
        .map(|w| {
            w.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string())
                .collect()
        })
        .unwrap_or_default();
    Ok(CreateOpts {
        version,
        kits,
        selinux,
        running: !opt.contains_key("stopped"),
        timings,
        resync_seconds,
        resync_removes_source,
        witnesses,
    })
}

fn cluster_create(args: &[String]) -> i32 {
    let (_, opt) = parse(args, &["stopped", "force"]);
    let Some(dir) = opt.get("dir") else {
        return die("cluster create: --dir DIR is required");
    };
    let Some(nodes) = opt.get("nodes") else {
        return die("cluster create: --nodes a,b is required");
    };
    let names: Vec<String> = nodes
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string())
        .collect();
    if names.is_empty() {
        return die("cluster create: no nodes");
    }
    let co = match common_opts(&opt) {
        Ok(x) => x,
        Err(e) => return die(&e),
    };
    if let Some(w) = co.witnesses.iter().find(|w| !names.contains(w)) {
        return die(&format!("cluster create: --witness {w} is not in --nodes"));
    }
    let dirp = PathBuf::from(dir);
    if dirp.exists() {
        let nonempty = fs::read_dir(&dirp)
            .map(|mut r| r.next().is_some())
            .unwrap_or(true);
        if nonempty {
            if !opt.contains_key("force") {
                return die(&format!(
                    "cluster create: {dir} already exists (use --force to wipe it)"
                ));
            }
            if let Err(e) = fs::remove_dir_all(&dirp) {
                return die(&format!("cannot wipe {dir}: {e}"));
            }
        }
    }
    if let Err(e) = fs::create_dir_all(&dirp) {
        return die(&format!("{dir}: {e}"));
    }
    let dirp = match dirp.canonicalize() {
        Ok(p) => p,
        Err(e) => return die(&e.to_string()),
    };
    let spec = match opt.get("hierarchies") {
        Some(s) => match load_spec(s, &names[0]) {
            Ok(x) => x,
            Err(e) => return die(&e),
        },
        None => {
            let mut d = default_spec();
            for r in d.iter_mut() {
                r.active = Some(names[0].clone());
            }
            d
        }
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return die(&e.to_string()),
    };
    let mut cf = ClusterFile::default();
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let root = dirp.join(n);
        let ns = NodeSpec {
            name: n,
            root: root.clone(),
            index: i,
        };
        if let Err(e) = make_node(&ns, &names, &dirp, &co, &spec, &exe) {
            return die(&format!("creating node {n}: {e}"));
        }
        cf.nodes.push(ClusterNode {
            name: n.clone(),
            root: root.to_string_lossy().to_string(),
            addr: None,
        });
        out.push(node_json(n, &root));
    }
    if let Err(e) = write_json(&meta_dir(&dirp).join("cluster.json"), &cf) {
        return die(&e.to_string());
    }
    if let Err(e) = lock(&meta_dir(&dirp)) {
        return die(&e.to_string());
    }
    // Create the lock file now, so that a read-only command run later (lcdstatus) leaves the
    // cluster tree byte-identical: tests hash it to prove check mode changed nothing.
    if let Err(e) = crate::model::lock(&meta_dir(&dirp)) {
        return die(&e.to_string());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "nodes": out })).unwrap()
    );
    0
}

/// `lksim install --root R --version V --node NAME --peers a,b`: one node
/// (e.g. a container image with R = /).  Its cluster dir is
/// `--cluster-dir` (default R/var/lib/lksim).
fn install(args: &[String]) -> i32 {
    let (_, opt) = parse(args, &["stopped"]);
    let root = PathBuf::from(opt.get("root").cloned().unwrap_or_else(|| "/".into()));
    let Some(name) = opt.get("node").cloned() else {
        return die("install: --node NAME is required");
    };
    let co = match common_opts(&opt) {
        Ok(x) => x,
        Err(e) => return die(&e),
    };
    // --peers a,b[=host:port],...: the cluster's nodes in priority order
    // (this node may be among them; if not, it comes first).  A peer is
    // reached over TCP at host:port, by default at its name on port 7365.
    let mut all: Vec<String> = Vec::new();
    let mut addrs: BTreeMap<String, String> = BTreeMap::new();
    for p in opt
        .get("peers")
        .map(|p| p.as_str())
        .unwrap_or("")
        .split(',')
    {
        let (n, a) = match p.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (p.trim(), None),
        };
        if n.is_empty() || all.iter().any(|x| x == n) {
            continue;
        }
        all.push(n.to_string());
        if n != name {
            addrs.insert(n.to_string(), crate::transport::with_port(a.unwrap_or(n)));
        }
    }
    if !all.contains(&name) {
        all.insert(0, name.clone());
    }
    let index = all.iter().position(|n| *n == name).unwrap_or(0);
    let cdir = PathBuf::from(
        opt.get("cluster-dir")
            .cloned()
            .unwrap_or_else(|| root.join("var/lib/lksim").to_string_lossy().to_string()),
    );
    let spec = match opt.get("hierarchies").map(|s| s.as_str()) {
        // the hierarchies of `cluster create`, active on the first node of --peers
        Some("default") => {
            let mut d = default_spec();
            for r in d.iter_mut() {
                r.active = Some(all[0].clone());
            }
            d
        }
        Some(s) => match load_spec(s, &all[0]) {
            Ok(x) => x,
            Err(e) => return die(&e),
        },
        None => vec![],
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return die(&e.to_string()),
    };
    if let Err(e) = fs::create_dir_all(&root) {
        return die(&e.to_string());
    }
    let root = root.canonicalize().unwrap_or(root);
    let ns = NodeSpec {
        name: &name,
        root: root.clone(),
        index,
    };
    if let Err(e) = make_node(&ns, &all, &cdir, &co, &spec, &exe) {
        return die(&e);
    }
    let cf_path = meta_dir(&cdir).join("cluster.json");
    let mut cf: ClusterFile = read_json(&cf_path).unwrap_or_default();
    cf.nodes.retain(|n| n.name != name);
    cf.nodes.push(ClusterNode {
        name: name.clone(),
        root: root.to_string_lossy().to_string(),
        addr: None,
    });
    for (peer, addr) in &addrs {
        // a peer installed into the same (shared) cluster dir stays local
        if cf.nodes.iter().any(|n| n.name == *peer && n.addr.is_none()) {
            continue;
        }
        cf.nodes.retain(|n| n.name != *peer);
        cf.nodes.push(ClusterNode {
            name: peer.clone(),
            root: String::new(),
            addr: Some(addr.clone()),
        });
    }
    if let Some(l) = opt.get("listen") {
        let mut n = match Node::load(&root) {
            Ok(n) => n,
            Err(e) => return die(&e.to_string()),
        };
        n.rt.listen = Some(crate::transport::with_port(l));
        if let Err(e) = n.save() {
            return die(&e.to_string());
        }
    }
    if let Err(e) = write_json(&cf_path, &cf) {
        return die(&e.to_string());
    }
    // the lock file exists from the start, so that the first read-only
    // command does not create a file (check-mode fingerprints stay equal)
    if let Err(e) = lock(&meta_dir(&cdir)) {
        return die(&e.to_string());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "nodes": [node_json(&name, &root)] })).unwrap()
    );
    0
}

/// Find the cluster dir: --dir, $LKSIM_DIR, a node-root path, or cwd.
fn resolve_cluster(opt: &BTreeMap<String, String>, node: Option<&str>) -> Result<PathBuf, String> {
    if let Some(d) = opt.get("dir") {
        return Ok(PathBuf::from(d));
    }
    if let Ok(d) = std::env::var("LKSIM_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(n) = node {
        let p = Path::new(n);
        if runtime_file(p).exists() {
            let rt: NodeRuntime = read_json(&runtime_file(p)).map_err(|e| e.to_string())?;
            return Ok(PathBuf::from(rt.cluster_dir));
        }
    }
    let mut cur = std::env::current_dir().map_err(|e| e.to_string())?;
    loop {
        if meta_dir(&cur).join("cluster.json").exists() {
            return Ok(cur);
        }
        if !cur.pop() {
            break;
        }
    }
    // a node installed with `lksim install --root /` (a container)
    let sys = PathBuf::from("/var/lib/lksim");
    if meta_dir(&sys).join("cluster.json").exists() {
        return Ok(sys);
    }
    Err("cannot find the cluster: pass --dir DIR or set LKSIM_DIR".into())
}

/// `lksim daemon [--root R] [--listen HOST:PORT]`: the TCP transport's
/// server and heartbeat (foreground).  `lkstart` starts it in the
/// background when the node has TCP peers.
fn daemon(args: &[String]) -> i32 {
    let (_, opt) = parse(args, &["detach"]);
    let root = PathBuf::from(opt.get("root").cloned().unwrap_or_else(|| "/".into()));
    crate::transport::daemon(
        &root,
        opt.get("listen").map(|l| crate::transport::with_port(l)),
        opt.contains_key("detach"),
    )
}

/// `lksim boot [--root R]`: the node starts after a crash or after its
/// container was stopped; see `ops::boot`.
fn boot(args: &[String]) -> i32 {
    let (_, opt) = parse(args, &[]);
    let root = PathBuf::from(opt.get("root").cloned().unwrap_or_else(|| "/".into()));
    let (mut w, me) = match World::open_for_root(&root) {
        Ok(x) => x,
        Err(e) => return die(&e.to_string()),
    };
    ops::boot(&mut w, me);
    match w.save() {
        Ok(()) => 0,
        Err(e) => die(&e.to_string()),
    }
}

fn open_world(opt: &BTreeMap<String, String>, node: Option<&str>) -> Result<World, String> {
    let d = resolve_cluster(opt, node)?;
    World::open(&d).map_err(|e| format!("{}: {e}", d.display()))
}

fn node_idx(w: &World, node: &str) -> Result<usize, String> {
    if let Some(i) = w.idx(node) {
        return Ok(i);
    }
    // node root path given
    let p = Path::new(node);
    w.nodes
        .iter()
        .position(|n| n.root == p || p.canonicalize().map(|c| c == n.root).unwrap_or(false))
        .ok_or_else(|| format!("no node {node} in cluster {}", w.dir.display()))
}

fn fault_set(args: &[String]) -> i32 {
    let (pos, opt) = parse(args, &[]);
    if pos.len() != 3 {
        return die(
            "usage: lksim fault set NODE COMMAND fail|hang|halfway|delay|title|errorbox|nomenu [--after N] [--seconds N] [--text TEXT] [--dir DIR]",
        );
    }
    let mode = pos[2].as_str();
    if ![
        "fail", "hang", "halfway", "delay", "title", "errorbox", "nomenu",
    ]
    .contains(&mode)
    {
        return die(&format!(
            "unknown fault mode {mode} (fail|hang|halfway|delay|title|errorbox|nomenu)"
        ));
    }
    // the menu's faults belong to setup alone; title and errorbox show a text
    let menu_mode = ["title", "errorbox", "nomenu"].contains(&mode);
    if menu_mode && !["setup", "lksim-setup"].contains(&pos[1].as_str()) {
        return die(&format!("fault mode {mode} is for setup only"));
    }
    let text = opt.get("text").cloned().unwrap_or_default();
    if ["title", "errorbox"].contains(&mode) && text.is_empty() {
        return die(&format!("fault mode {mode} needs --text TEXT"));
    }
    let seconds: u64 = match opt.get("seconds").map(|s| s.parse()) {
        None => 10,
        Some(Ok(n)) => n,
        Some(Err(_)) => return die("--seconds needs a number"),
    };
    let seconds = if mode == "delay" { seconds } else { 0 };
    let after: u32 = match opt.get("after").map(|s| s.parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return die("--after needs a number"),
    };
    let cmd = match pos[1].as_str() {
        "lksim-setup" => "setup",
        c => c,
    }
    .to_string();
    let mut w = match open_world(&opt, Some(&pos[0])) {
        Ok(w) => w,
        Err(e) => return die(&e),
    };
    let i = match node_idx(&w, &pos[0]) {
        Ok(i) => i,
        Err(e) => return die(&e),
    };
    w.nodes[i].rt.faults.insert(
        cmd,
        Fault {
            mode: mode.into(),
            after,
            calls: 0,
            seconds,
            text,
        },
    );
    match w.save() {
        Ok(()) => 0,
        Err(e) => die(&e.to_string()),
    }
}

fn fault_clear(args: &[String]) -> i32 {
    let (pos, opt) = parse(args, &[]);
    let mut w = match open_world(&opt, pos.first().map(|s| s.as_str())) {
        Ok(w) => w,
        Err(e) => return die(&e),
    };
    match pos.first() {
        Some(n) => {
            let i = match node_idx(&w, n) {
                Ok(i) => i,
                Err(e) => return die(&e),
            };
            match pos.get(1) {
                Some(c) => {
                    w.nodes[i].rt.faults.remove(c);
                }
                None => w.nodes[i].rt.faults.clear(),
            }
        }
        None => {
            for n in w.nodes.iter_mut() {
                n.rt.faults.clear();
            }
        }
    }
    match w.save() {
        Ok(()) => 0,
        Err(e) => die(&e.to_string()),
    }
}

fn node_op(op: &str, args: &[String]) -> i32 {
    let (pos, opt) = parse(args, &[]);
    let Some(node) = pos.first() else {
        return die("usage: lksim node down|up NODE [--dir DIR]");
    };
    let mut w = match open_world(&opt, Some(node)) {
        Ok(w) => w,
        Err(e) => return die(&e),
    };
    let i = match node_idx(&w, node) {
        Ok(i) => i,
        Err(e) => return die(&e),
    };
    if op == "down" {
        for l in ops::node_down(&mut w, i) {
            println!("{l}");
        }
    } else {
        ops::node_up(&mut w, i);
    }
    match w.save() {
        Ok(()) => 0,
        Err(e) => die(&e.to_string()),
    }
}

fn commpath_op(op: &str, args: &[String]) -> i32 {
    let (pos, opt) = parse(args, &[]);
    if pos.len() != 2 {
        return die("usage: lksim commpath down|up NODE PEER [--prio N] [--dir DIR]");
    }
    let mut w = match open_world(&opt, Some(&pos[0])) {
        Ok(w) => w,
        Err(e) => return die(&e),
    };
    let i = match node_idx(&w, &pos[0]) {
        Ok(i) => i,
        Err(e) => return die(&e),
    };
    let prios: Vec<u32> = match opt.get("prio") {
        Some(p) => match p.parse() {
            Ok(x) => vec![x],
            Err(_) => return die("--prio needs a number"),
        },
        None => w.nodes[i]
            .paths
            .iter()
            .filter(|p| p.peer == pos[1])
            .map(|p| p.prio.unwrap_or(0))
            .collect(),
    };
    let n = &mut w.nodes[i];
    for p in prios {
        let key = format!("{}/{p}", pos[1]);
        n.rt.dead_paths.retain(|k| *k != key);
        if op == "down" {
            n.rt.dead_paths.push(key);
        }
    }
    match w.save() {
        Ok(()) => 0,
        Err(e) => die(&e.to_string()),
    }
}

pub fn state_json(w: &World) -> Value {
    let mut nodes = Vec::new();
    for (i, n) in w.nodes.iter().enumerate() {
        let resources: Vec<Value> = n
            .res
            .iter()
            .map(|r| {
                let mut per_node = serde_json::Map::new();
                per_node.insert(n.name.clone(), json!(n.state_of(&r.tag)));
                for e in &r.equivalents {
                    if let Some(j) = w.idx(&e.node) {
                        let p = &w.nodes[j];
                        if p.res(&e.tag).is_some() {
                            per_node.insert(e.node.clone(), json!(p.state_of(&e.tag)));
                        }
                    }
                }
                json!({
                    "tag": r.tag, "id": r.id, "app": r.app, "type": r.rtype,
                    "state": n.state_of(&r.tag), "prio": r.prio,
                    "children": r.children, "equivalents": r.equivalents,
                    "states": per_node,
                })
            })
            .collect();
        let paths: Vec<Value> = n
            .paths
            .iter()
            .map(|p| {
                json!({"peer": p.peer, "type": p.kind, "address": p.address, "prio": p.prio,
                       "state": if w.path_alive(i, p) {"ALIVE"} else {"DEAD"}})
            })
            .collect();
        nodes.push(json!({
            "name": n.name,
            "root": n.root,
            "lkroot": n.lkroot(),
            "defaults_file": defaults_file(&n.root),
            "path": path_dir(&n.root),
            "version": n.installed_version(),
            "installed": n.installed_version().is_some(),
            "running": n.rt.running,
            "down": n.rt.down,
            "selinux": n.rt.selinux,
            "packages": n.rt.packages.iter().map(|p| p.nevra()).collect::<Vec<_>>(),
            "resources": resources,
            "comm_paths": paths,
            "faults": n.rt.faults,
            "has_config": n.has_config,
            "remote": n.remote,
            "lk_initdone": n.remote.is_none() && initdone_file(&n.root).exists(),
            "boot_enabled": !n.rt.boot_disabled,
            "witness": n.res.is_empty(),
            "actions": n.rt.actions,
            "mirrors": mirrors_json(w, i),
            "timings": n.rt.timings,
            "time_scale": n.rt.timings.scale(),
        }));
    }
    json!({ "dir": w.dir, "nodes": nodes })
}

/// The state of every mirror of node `i` toward each of its targets.
fn mirrors_json(w: &World, i: usize) -> Vec<Value> {
    let now = crate::clock::now_ms();
    let mut out = Vec::new();
    for r in w.nodes[i]
        .res
        .iter()
        .filter(|r| crate::datakeeper::is_mirror(r))
    {
        let src = crate::datakeeper::source_of(w, i, &r.tag);
        for (j, _) in crate::datakeeper::members(w, i, &r.tag) {
            if Some(j) == src {
                continue;
            }
            let (state, progress) = match crate::datakeeper::state_toward(w, i, &r.tag, j, now) {
                crate::datakeeper::Sync::InSync => ("in_sync", 100),
                crate::datakeeper::Sync::Resyncing { progress, .. } => ("resyncing", progress),
                crate::datakeeper::Sync::Paused { progress } => ("paused", progress),
            };
            out.push(json!({
                "tag": r.tag,
                "source": src.map(|s| w.nodes[s].name.clone()),
                "target": w.nodes[j].name,
                "state": state,
                "progress": progress,
            }));
        }
    }
    out
}

fn state(args: &[String]) -> i32 {
    let (pos, mut opt) = parse(args, &[]);
    if let Some(d) = pos.first() {
        opt.insert("dir".into(), d.clone());
    }
    let w = match open_world(&opt, None) {
        Ok(w) => w,
        Err(e) => return die(&e),
    };
    println!("{}", serde_json::to_string_pretty(&state_json(&w)).unwrap());
    0
}

/// `lksim initdone --root R --gen G` (internal; started by `lkstart`): writes
/// `LK_INITDONE` when start-up `G` has finished.
fn initdone(args: &[String]) -> i32 {
    let (_, opt) = parse(args, &[]);
    let root = PathBuf::from(opt.get("root").cloned().unwrap_or_else(|| "/".into()));
    let Some(gen) = opt.get("gen").and_then(|g| g.parse().ok()) else {
        return die("usage: lksim initdone --root R --gen N");
    };
    match crate::model::initdone_helper(&root, gen) {
        Ok(()) => 0,
        Err(e) => die(&e.to_string()),
    }
}

/// `lksim mirror resync NODE TAG --seconds N [--dir DIR]`: a resync of mirror TAG toward
/// NODE (a target) starts now and lasts N seconds.
fn mirror_resync(args: &[String]) -> i32 {
    let (pos, opt) = parse(args, &[]);
    if pos.len() != 2 {
        return die("usage: lksim mirror resync NODE TAG [--seconds N] [--dir DIR]");
    }
    let mut w = match open_world(&opt, Some(&pos[0])) {
        Ok(w) => w,
        Err(e) => return die(&e),
    };
    let i = match node_idx(&w, &pos[0]) {
        Ok(i) => i,
        Err(e) => return die(&e),
    };
    let tag = &pos[1];
    match w.nodes[i].res(tag) {
        Some(r) if crate::datakeeper::is_mirror(r) => {}
        Some(r) => return die(&format!("{tag} is not a mirror (type {})", r.rtype)),
        None => return die(&format!("no resource {tag} on {}", pos[0])),
    }
    let dur = match opt.get("seconds").map(|s| s.parse::<f64>()) {
        None => crate::datakeeper::resync_ms(&w.nodes[i].rt),
        Some(Ok(x)) if x.is_finite() && x >= 0.0 => (x * 1000.0) as u64,
        Some(_) => return die("--seconds needs a number >= 0"),
    };
    let Some(s) = crate::datakeeper::source_of(&w, i, tag) else {
        return die(&format!("mirror {tag} has no source"));
    };
    if s == i {
        return die(&format!(
            "{} is the source of mirror {tag}; name a target",
            pos[0]
        ));
    }
    let source = w.nodes[s].name.clone();
    crate::datakeeper::start_own(&mut w.nodes[i], tag, &source, dur);
    match w.save() {
        Ok(()) => 0,
        Err(e) => die(&e.to_string()),
    }
}

/// `lksim mirror resync-restore refuses|removes-source [--dir DIR]`: the worst-case switch of
/// `cluster create --resync-restore`, on every local node of a running cluster.
fn mirror_policy(args: &[String]) -> i32 {
    let (pos, opt) = parse(args, &[]);
    let removes = match pos.first().map(|s| s.as_str()) {
        Some("refuses") if pos.len() == 1 => false,
        Some("removes-source") if pos.len() == 1 => true,
        _ => return die("usage: lksim mirror resync-restore refuses|removes-source [--dir DIR]"),
    };
    let mut w = match open_world(&opt, None) {
        Ok(w) => w,
        Err(e) => return die(&e),
    };
    for n in w.nodes.iter_mut().filter(|n| n.remote.is_none()) {
        n.rt.resync_removes_source = removes;
    }
    match w.save() {
        Ok(()) => 0,
        Err(e) => die(&e.to_string()),
    }
}

/// `lksim kit install NODE KIT [--dir DIR]`: a Recovery Kit shipped apart from the media
/// (e.g. `HANA2-ARK.run`): it unpacks into `$LKROOT/KIT/` and copies its scripts into
/// `$LKROOT/lkadm/subsys/gen/app/bin/`.  No package owns these files.
fn kit_install(args: &[String]) -> i32 {
    use std::os::unix::fs::PermissionsExt;
    let (pos, opt) = parse(args, &[]);
    if pos.len() != 2 || !crate::safe::is_path_name(&pos[1]) {
        return die("usage: lksim kit install NODE KIT [--dir DIR]   (KIT e.g. HANA2-ARK)");
    }
    let w = match open_world(&opt, Some(&pos[0])) {
        Ok(w) => w,
        Err(e) => return die(&e),
    };
    let i = match node_idx(&w, &pos[0]) {
        Ok(i) => i,
        Err(e) => return die(&e),
    };
    let n = &w.nodes[i];
    if n.remote.is_some() {
        return die(&format!(
            "{} is reached over TCP; run this on that node",
            n.name
        ));
    }
    if n.installed_version().is_none() {
        return die(&format!("LifeKeeper is not installed on {}", n.name));
    }
    let kit = &pos[1];
    let lk = n.lkroot();
    let low = kit.to_ascii_lowercase();
    let mut files: Vec<(PathBuf, String, u32)> = vec![
        (
            lk.join(kit).join("README"),
            format!("{kit} Recovery Kit (shipped apart from sps.img; lksim stand-in)\n"),
            0o644,
        ),
        (
            lk.join(kit).join("setup"),
            format!("#!/bin/sh\n# {kit} kit setup (lksim stand-in)\nexit 0\n"),
            0o755,
        ),
    ];
    for a in ["restore", "remove", "quickCheck", "recover"] {
        files.push((
            lk.join("lkadm/subsys/gen/app/bin")
                .join(format!("{low}-{a}")),
            format!("#!/bin/sh\n# {kit} gen/app {a} script (lksim stand-in)\nexit 0\n"),
            0o755,
        ));
    }
    let mut out = Vec::new();
    for (p, text, mode) in &files {
        let r = (|| -> std::io::Result<()> {
            if let Some(d) = p.parent() {
                fs::create_dir_all(d)?;
            }
            crate::model::write_atomic(p, text.as_bytes())?;
            fs::set_permissions(p, fs::Permissions::from_mode(*mode))
        })();
        if let Err(e) = r {
            return die(&format!("{}: {e}", p.display()));
        }
        out.push(p.to_string_lossy().to_string());
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "files": out })).unwrap()
    );
    0
}

//! Persistent state of simulated nodes and the cluster, plus locking.
//!
//! Layout of a node root `R`:
//! - `R/opt/LifeKeeper/bin/<lk command>`      wrappers (or symlinks) to lksim
//! - `R/opt/LifeKeeper/config/hierarchy.json` resource definitions (no states)
//! - `R/opt/LifeKeeper/config/commpaths.json` comm path definitions
//! - `R/etc/default/LifeKeeper`               defaults file
//! - `R/bin/<system command>`                 stand-ins (the node's `path`)
//! - `R/var/lib/lksim/node.json`              runtime: running, packages, states, faults
//! - `R/var/LifeKeeper/license/`              license files
//!
//! The cluster dir `D` holds `D/.lksim/cluster.json` (node name -> root) and
//! `D/.lksim/lock` (flock, serialises every state change in the cluster).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use crate::catalog::{LK_COMMANDS, SYS_COMMANDS};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub release: String,
    pub arch: String,
}

impl Package {
    pub fn new(name: &str, version: &str) -> Package {
        let release = if name.starts_with("steeleye-") {
            crate::versions::release_of(version)
        } else {
            "1.el8".to_string()
        };
        Package {
            name: name.to_string(),
            version: version.to_string(),
            release,
            arch: if name.starts_with("steeleye-") && name != "steeleye-lk" {
                "noarch".to_string()
            } else {
                "x86_64".to_string()
            },
        }
    }
    pub fn nevra(&self) -> String {
        format!(
            "{}-{}-{}.{}",
            self.name, self.version, self.release, self.arch
        )
    }
    pub fn is_lifekeeper(&self) -> bool {
        self.name.starts_with("steeleye-") || self.name.starts_with("HADR-")
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Fault {
    pub mode: String,
    /// The first `after` invocations succeed; the fault triggers from then on.
    #[serde(default)]
    pub after: u32,
    #[serde(default)]
    pub calls: u32,
    /// Mode "delay": how long the command pauses (setup: with LifeKeeper stopped).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seconds: u64,
    /// setup's modes "title" and "errorbox": the text shown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct NodeRuntime {
    pub name: String,
    pub cluster_dir: String,
    pub running: bool,
    #[serde(default)]
    pub down: bool,
    pub selinux: String,
    pub packages: Vec<Package>,
    /// tag -> resource state on this node (runtime, not part of config).
    #[serde(default)]
    pub states: BTreeMap<String, String>,
    /// Tags that were in service when a full `lkstop` ran; `lkstart` brings them back.
    #[serde(default)]
    pub resume_on_start: Vec<String>,
    #[serde(default)]
    pub faults: BTreeMap<String, Fault>,
    /// Comm paths forced DEAD, as "peer/prio".
    #[serde(default)]
    pub dead_paths: Vec<String>,
    #[serde(default = "default_free")]
    pub disk_free_kb: u64,
    /// Where this node's `lksim daemon` listens (TCP transport), e.g. "0.0.0.0:7365".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Counts LifeKeeper starts; the helper that writes `LK_INITDONE` late checks it.
    #[serde(default)]
    pub start_gen: u64,
    /// When (ms since the epoch) the current start finishes and `LK_INITDONE` appears.
    #[serde(default)]
    pub initdone_at_ms: u64,
    /// A plain `lkstop` disables the systemd unit (start at boot) until the next `lkstart`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub boot_disabled: bool,
    /// How long commands take (`--timings`); see `timing.rs`.
    #[serde(default, skip_serializing_if = "is_default_timings")]
    pub timings: crate::timing::Timings,
    /// Start and end of every resource restored or removed here (newest last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionRec>,
    /// DataKeeper mirror bookkeeping per netraid tag (see `datakeeper.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mirrors: BTreeMap<String, crate::datakeeper::MirrorRec>,
    /// `--resync-seconds`: how long a resync takes (real seconds, not scaled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resync_seconds: Option<f64>,
    /// `--resync-restore removes-source`: a restore onto a target that is not in sync removes
    /// the hierarchy from its source first and then fails (the worst case).
    #[serde(default, skip_serializing_if = "is_false")]
    pub resync_removes_source: bool,
}

/// Records kept per node; older ones are dropped.
pub const MAX_ACTIONS: usize = 200;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ActionRec {
    /// "restore" or "remove"
    pub action: String,
    pub tag: String,
    pub started: String,
    pub ended: String,
    pub started_ms: u64,
    pub ended_ms: u64,
    /// "ok" or "failed"
    pub result: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_default_timings(t: &crate::timing::Timings) -> bool {
    *t == crate::timing::Timings::default()
}

fn default_free() -> u64 {
    41_943_040
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Equiv {
    pub node: String,
    pub tag: String,
    pub prio: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ResourceDef {
    pub tag: String,
    pub id: String,
    pub app: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub prio: u32,
    #[serde(default)]
    pub children: Vec<String>,
    #[serde(default)]
    pub equivalents: Vec<Equiv>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CommPathDef {
    pub peer: String,
    /// "TCP" or "TTY"
    pub kind: String,
    /// "local/remote" for TCP, the device for TTY
    pub address: String,
    /// TCP only
    #[serde(default)]
    pub prio: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ClusterFile {
    pub nodes: Vec<ClusterNode>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ClusterNode {
    pub name: String,
    /// The node root; empty for a node reached over TCP.
    #[serde(default)]
    pub root: String,
    /// "host:port" of a peer reached over TCP (its `lksim daemon`), e.g. "node-b:7365".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
}

pub fn lkroot(root: &Path) -> PathBuf {
    root.join("opt/LifeKeeper")
}
pub fn defaults_file(root: &Path) -> PathBuf {
    root.join("etc/default/LifeKeeper")
}
pub fn runtime_file(root: &Path) -> PathBuf {
    root.join("var/lib/lksim/node.json")
}
pub fn path_dir(root: &Path) -> PathBuf {
    if root == Path::new("/") {
        PathBuf::from("/usr/local/bin")
    } else {
        root.join("bin")
    }
}
pub fn hierarchy_file(root: &Path) -> PathBuf {
    lkroot(root).join("config/hierarchy.json")
}
pub fn initdone_file(root: &Path) -> PathBuf {
    lkroot(root).join("config/LK_INITDONE")
}
pub fn commpaths_file(root: &Path) -> PathBuf {
    lkroot(root).join("config/commpaths.json")
}

pub struct Node {
    pub name: String,
    pub root: PathBuf,
    pub rt: NodeRuntime,
    pub res: Vec<ResourceDef>,
    pub paths: Vec<CommPathDef>,
    /// Whether `$LKROOT/config` exists (rmlk removes it).
    pub has_config: bool,
    /// Set for a peer reached over TCP: this is a snapshot of its state,
    /// never saved here (see `transport.rs`).
    pub remote: Option<String>,
    /// Set by `ops::start` when `LK_INITDONE` is due later: `World::save` then starts the
    /// helper that writes it.
    pub spawn_initdone: bool,
    /// For a remote peer: its state as the peer sent it.  `save` compares against it, so that
    /// a change made to the copy is an error instead of being dropped without a word.
    pristine: Option<String>,
}

pub fn write_json<T: Serialize>(p: &Path, v: &T) -> io::Result<()> {
    if let Some(d) = p.parent() {
        fs::create_dir_all(d)?;
    }
    let mut s = serde_json::to_string_pretty(v).map_err(io::Error::other)?;
    s.push('\n');
    write_atomic(p, s.as_bytes())
}

/// Write `p` through a temporary file in the same folder and a rename.
pub fn write_atomic(p: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = p.with_extension("tmp~");
    fs::write(&tmp, data)?;
    fs::rename(&tmp, p)
}

pub fn read_json<T: for<'a> Deserialize<'a>>(p: &Path) -> io::Result<T> {
    let s = fs::read_to_string(p)?;
    serde_json::from_str(&s).map_err(|e| io::Error::other(format!("{}: {e}", p.display())))
}

impl Node {
    /// The one way to make a node that stands for a peer reached over TCP (a snapshot its
    /// daemon sent, or an unreachable peer): the copy is remembered as it arrived.  Changes
    /// to a peer go through its daemon (`transport::remote_remove`), never through this copy.
    pub fn remote_peer(
        addr: &str,
        root: PathBuf,
        rt: NodeRuntime,
        res: Vec<ResourceDef>,
        paths: Vec<CommPathDef>,
        has_config: bool,
    ) -> Node {
        let mut n = Node {
            name: rt.name.clone(),
            root,
            rt,
            res,
            paths,
            has_config,
            remote: Some(addr.to_string()),
            spawn_initdone: false,
            pristine: None,
        };
        n.pristine = Some(n.digest());
        n
    }

    /// A freshly built local node (cluster create, install).
    pub fn new_local(
        root: PathBuf,
        rt: NodeRuntime,
        res: Vec<ResourceDef>,
        paths: Vec<CommPathDef>,
    ) -> Node {
        Node {
            name: rt.name.clone(),
            root,
            rt,
            res,
            paths,
            has_config: true,
            remote: None,
            spawn_initdone: false,
            pristine: None,
        }
    }

    fn digest(&self) -> String {
        serde_json::to_string(&(&self.rt, &self.res, &self.paths, self.has_config))
            .unwrap_or_default()
    }

    pub fn load(root: &Path) -> io::Result<Node> {
        let rt: NodeRuntime = read_json(&runtime_file(root))?;
        let hf = hierarchy_file(root);
        let has_config = lkroot(root).join("config").is_dir();
        let res = if hf.exists() {
            read_json(&hf)?
        } else {
            Vec::new()
        };
        let cf = commpaths_file(root);
        let paths = if cf.exists() {
            read_json(&cf)?
        } else {
            Vec::new()
        };
        Ok(Node {
            name: rt.name.clone(),
            root: root.to_path_buf(),
            rt,
            res,
            paths,
            has_config,
            remote: None,
            spawn_initdone: false,
            pristine: None,
        })
    }

    pub fn save(&self) -> io::Result<()> {
        if let Some(addr) = &self.remote {
            // A peer's state belongs to that peer; changes there go through its daemon.  A
            // change to this copy would be lost, so it is an error, not a silent no-op.
            if self.pristine.as_deref() != Some(self.digest().as_str()) {
                return Err(io::Error::other(format!(
                    "node {} is a peer reached over TCP ({addr}); a change to its state was made \
                     to a local copy and cannot be saved (changes to a peer go through its daemon)",
                    self.name
                )));
            }
            return Ok(());
        }
        write_json(&runtime_file(&self.root), &self.rt)?;
        if self.has_config {
            let hf = hierarchy_file(&self.root);
            let cf = commpaths_file(&self.root);
            // Only rewrite when changed so that config files stay byte-stable.
            let cur_h: Option<Vec<ResourceDef>> = read_json(&hf).ok();
            if cur_h.as_ref() != Some(&self.res) {
                write_json(&hf, &self.res)?;
            }
            let cur_c: Option<Vec<CommPathDef>> = read_json(&cf).ok();
            if cur_c.as_ref() != Some(&self.paths) {
                write_json(&cf, &self.paths)?;
            }
            crate::resfiles::sync(&self.root, &self.res)?;
        }
        self.sync_initdone()
    }

    /// `$LKROOT/config/LK_INITDONE` exists exactly while LifeKeeper runs here and its start
    /// has finished (the vendor's scripts wait for it after `lkstart`).
    fn sync_initdone(&self) -> io::Result<()> {
        let f = initdone_file(&self.root);
        let done =
            self.alive() && self.has_config && crate::clock::now_ms() >= self.rt.initdone_at_ms;
        if done {
            if !f.exists() {
                fs::write(&f, "")?;
            }
        } else if f.exists() {
            fs::remove_file(&f)?;
        }
        Ok(())
    }

    pub fn lkroot(&self) -> PathBuf {
        lkroot(&self.root)
    }

    pub fn installed_version(&self) -> Option<String> {
        self.rt
            .packages
            .iter()
            .find(|p| p.name == "steeleye-lk")
            .map(|p| p.version.clone())
    }

    pub fn state_of(&self, tag: &str) -> String {
        self.rt
            .states
            .get(tag)
            .cloned()
            .unwrap_or_else(|| "OSU".to_string())
    }

    pub fn set_state(&mut self, tag: &str, st: &str) {
        self.rt.states.insert(tag.to_string(), st.to_string());
    }

    pub fn res(&self, tag: &str) -> Option<&ResourceDef> {
        self.res.iter().find(|r| r.tag == tag)
    }

    pub fn parents_of(&self, tag: &str) -> Vec<String> {
        self.res
            .iter()
            .filter(|r| r.children.iter().any(|c| c == tag))
            .map(|r| r.tag.clone())
            .collect()
    }

    /// A node whose LifeKeeper is up (running and not crashed).
    pub fn alive(&self) -> bool {
        self.rt.running && !self.rt.down && self.installed_version().is_some()
    }
}

/// Exclusive cluster-wide lock, released on drop.
pub struct Lock {
    _f: nix::fcntl::Flock<fs::File>,
}

pub fn lock(dir: &Path) -> io::Result<Lock> {
    fs::create_dir_all(dir)?;
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    let f = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| io::Error::from(e))?;
    Ok(Lock { _f: f })
}

/// All nodes of a cluster, loaded under the cluster lock.
pub struct World {
    pub dir: PathBuf,
    pub nodes: Vec<Node>,
    _lock: Option<Lock>,
}

/// Start the helper (`lksim initdone`) that writes `LK_INITDONE` when the start finishes.
fn spawn_initdone(root: &Path, gen: u64) {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let _ = std::process::Command::new(exe)
        .arg("initdone")
        .arg("--root")
        .arg(root)
        .arg("--gen")
        .arg(gen.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // its own process group: a caller that kills its command's group (a timeout) does
        // not stop LifeKeeper's start-up from finishing
        .process_group(0)
        .spawn();
}

/// `lksim initdone --root R --gen G`: wait until the start `G` of the node at `R` has
/// finished, then write `LK_INITDONE` (unless LifeKeeper was stopped or started again).
pub fn initdone_helper(root: &Path, gen: u64) -> io::Result<()> {
    loop {
        let rt: NodeRuntime = read_json(&runtime_file(root))?;
        if rt.start_gen != gen || !rt.running {
            return Ok(());
        }
        let now = crate::clock::now_ms();
        if now >= rt.initdone_at_ms {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(
            (rt.initdone_at_ms - now).min(1000),
        ));
    }
    let (w, i) = World::open_for_root(root)?;
    if w.nodes[i].rt.start_gen == gen {
        w.nodes[i].save()?;
    }
    Ok(())
}

pub fn meta_dir(cluster_dir: &Path) -> PathBuf {
    cluster_dir.join(".lksim")
}

impl World {
    pub fn open(cluster_dir: &Path) -> io::Result<World> {
        let meta = meta_dir(cluster_dir);
        let l = lock(&meta)?;
        let cf: ClusterFile = read_json(&meta.join("cluster.json"))?;
        let mut nodes = Vec::new();
        for n in cf.nodes {
            match &n.addr {
                // a peer in another container: a snapshot fetched from its daemon
                Some(addr) => nodes.push(crate::transport::snapshot(&n.name, addr)),
                None => nodes.push(Node::load(Path::new(&n.root))?),
            }
        }
        Ok(World {
            dir: cluster_dir.to_path_buf(),
            nodes,
            _lock: Some(l),
        })
    }

    /// Open the cluster a node root belongs to.
    pub fn open_for_root(root: &Path) -> io::Result<(World, usize)> {
        let rt: NodeRuntime = read_json(&runtime_file(root)).map_err(|e| {
            io::Error::other(format!(
                "no simulated LifeKeeper node at {} ({e})",
                root.display()
            ))
        })?;
        let w = World::open(Path::new(&rt.cluster_dir))?;
        let i = w.idx(&rt.name).ok_or_else(|| {
            io::Error::other(format!(
                "node {} not in cluster {}",
                rt.name, rt.cluster_dir
            ))
        })?;
        Ok((w, i))
    }

    pub fn idx(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Save every local node.  A changed copy of a remote peer fails the whole save before
    /// anything is written, so a command never leaves half its change behind.
    pub fn save(&self) -> io::Result<()> {
        for n in self.nodes.iter().filter(|n| n.remote.is_some()) {
            n.save()?;
        }
        for n in self.nodes.iter().filter(|n| n.remote.is_none()) {
            n.save()?;
        }
        for n in self.nodes.iter().filter(|n| n.spawn_initdone) {
            spawn_initdone(&n.root, n.rt.start_gen);
        }
        Ok(())
    }

    /// Let the other commands run for `d` (a command that takes time on a real node): save,
    /// release the cluster lock, wait, take it again and reload every node.  Zero does nothing
    /// at all, so that with the default time scale nothing changes.
    pub fn pace(&mut self, d: std::time::Duration) -> io::Result<()> {
        if d.is_zero() {
            return Ok(());
        }
        self.save()?;
        for n in self.nodes.iter_mut() {
            n.spawn_initdone = false;
        }
        self._lock = None;
        std::thread::sleep(d);
        let again = World::open(&self.dir)?;
        self.nodes = again.nodes;
        self._lock = again._lock;
        Ok(())
    }

    /// Is the comm path `p` of node `i` ALIVE?
    pub fn path_alive(&self, i: usize, p: &CommPathDef) -> bool {
        let me = &self.nodes[i];
        if !me.alive() {
            return false;
        }
        let key = format!("{}/{}", p.peer, p.prio.unwrap_or(0));
        if me.rt.dead_paths.contains(&key) {
            return false;
        }
        match self.idx(&p.peer) {
            Some(j) => {
                let peer = &self.nodes[j];
                let back = format!("{}/{}", me.name, p.prio.unwrap_or(0));
                // the peer must have the matching path back to us
                let defined = peer
                    .paths
                    .iter()
                    .any(|q| q.peer == me.name && q.kind == p.kind && q.prio == p.prio);
                peer.alive() && defined && !peer.rt.dead_paths.contains(&back)
            }
            None => false,
        }
    }
}

/// Write the executables of a node: LifeKeeper commands into `$LKROOT/bin`
/// (when `lk` is set) and system stand-ins into the node's path dir.
pub fn write_wrappers(root: &Path, exe: &Path, lk: bool, sys: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let root_mode = root == Path::new("/");
    let mut todo: Vec<(PathBuf, &str)> = Vec::new();
    if lk {
        let d = lkroot(root).join("bin");
        fs::create_dir_all(&d)?;
        for c in LK_COMMANDS {
            todo.push((d.join(c), c));
        }
    }
    if sys {
        let d = path_dir(root);
        fs::create_dir_all(&d)?;
        for c in SYS_COMMANDS {
            todo.push((d.join(c), c));
        }
    }
    for (p, c) in todo {
        let _ = fs::remove_file(&p);
        if root_mode {
            std::os::unix::fs::symlink(exe, &p)?;
        } else {
            // Every word quoted by the one rule (issue 28 S2): a node root holding a quote and
            // `$(...)` must stay a path, never become a command.
            let s = crate::safe::exec_script(
                &format!("lksim stand-in for {c}"),
                &[
                    &exe.to_string_lossy(),
                    "--node-root",
                    &root.to_string_lossy(),
                    "--as",
                    c,
                    "--",
                ],
            )?;
            fs::write(&p, s)?;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

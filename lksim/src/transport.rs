//! How a node reaches its peers.
//!
//! - [`LocalDir`]: the peer's node root is in the local file system (a
//!   cluster made by `lksim cluster create`, or a shared volume).
//! - TCP: the peer runs `lksim daemon` (port 7365, LifeKeeper's comm-path
//!   port) and is listed in `cluster.json` with an `addr` ("host:port").
//!   This is how nodes in separate containers talk to each other.
//!
//! TCP protocol: one request per connection, one JSON object per line each
//! way.
//! - `{"op":"snapshot"}` → `{"ok":true,"node":{name,root,rt,res,paths,has_config}}`.
//!   Read without taking the peer's cluster lock (files are replaced
//!   atomically), so two nodes that hold their own locks can still read
//!   each other.
//! - `{"op":"exec","script":"...","merge":bool}` → `{"rc":N,"stdout":"...","stderr":"..."}`
//!   (lcdremexec: the joined words, run with `sh -c`; `merge` sends stderr to stdout).
//! - `{"op":"action","action":"remove","tag":T}` →
//!   `{"rc":N,"log":[...],"error":"...","node":SNAPSHOT}` (the remote half of
//!   a switchover; takes the peer's lock).
//!
//! The daemon also sends heartbeats: it polls every peer and, when a peer
//! that had hierarchies in service stops answering (a crashed node or a
//! container that is gone) for LCMNUMHBEATS polls, brings those hierarchies
//! into service here if this node is the best surviving priority and its
//! LifeKeeper runs (failover).  See FIDELITY.md ("TCP transport").

use crate::model::{
    lkroot, path_dir, read_json, runtime_file, ClusterFile, CommPathDef, Node, NodeRuntime,
    ResourceDef, World,
};
use crate::ops;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// LifeKeeper's comm-path port.
pub const DEFAULT_PORT: u16 = 7365;
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(10);
const ACTION_TIMEOUT: Duration = Duration::from_secs(120);
const EXEC_TIMEOUT: Duration = Duration::from_secs(900);

pub trait Transport {
    /// Run `script` on the peer with `sh -c` (lcdremexec joins its words and the far side
    /// parses them again, as the real one does) and return its exit code.  With `merge`,
    /// the command's stderr goes to stdout (lcdremexec without `-e`).
    fn remote_exec(&self, script: &str, merge: bool) -> std::io::Result<i32>;
}

/// A peer whose node root is reachable in the local file system.
pub struct LocalDir {
    pub root: PathBuf,
}

/// Replace `/opt/LifeKeeper` by `to` where it starts a path (after the start, a blank, a
/// quote or a shell operator), not inside another path.
pub fn map_lkroot(s: &str, to: &str) -> String {
    const P: &str = "/opt/LifeKeeper";
    let mut out = String::new();
    let mut rest = s;
    let mut prev: Option<char> = None;
    while let Some(k) = rest.find(P) {
        let before = &rest[..k];
        let p = before.chars().last().or(prev);
        let starts_path = match p {
            None => true,
            Some(c) => !(c.is_alphanumeric() || "._-/~$".contains(c)),
        };
        let after = rest[k + P.len()..].chars().next();
        let ends_word =
            after.is_none_or(|c| c == '/' || !(c.is_alphanumeric() || "._-".contains(c)));
        out.push_str(before);
        out.push_str(if starts_path && ends_word { to } else { P });
        prev = Some('n');
        rest = &rest[k + P.len()..];
    }
    out.push_str(rest);
    out
}

impl LocalDir {
    fn command(&self, script: &str, merge: bool) -> Command {
        let root: &Path = &self.root;
        let lk = lkroot(root);
        let script = if root == Path::new("/") {
            script.to_string()
        } else {
            // this node's $LKROOT is under its node root
            map_lkroot(script, &lk.to_string_lossy())
        };
        let script = if merge {
            format!("exec 2>&1\n{script}")
        } else {
            script
        };
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script);
        let path = std::env::var("PATH").unwrap_or_default();
        c.env(
            "PATH",
            format!(
                "{}:{}:{path}",
                lk.join("bin").display(),
                path_dir(root).display()
            ),
        );
        c.env("LKROOT", &lk);
        c
    }
}

impl Transport for LocalDir {
    fn remote_exec(&self, script: &str, merge: bool) -> std::io::Result<i32> {
        let st = self.command(script, merge).status()?;
        Ok(st.code().unwrap_or(1))
    }
}

/// A peer reached through its `lksim daemon`.
pub struct Tcp {
    pub addr: String,
}

impl Transport for Tcp {
    fn remote_exec(&self, script: &str, merge: bool) -> std::io::Result<i32> {
        let v = request(
            &self.addr,
            &json!({"op": "exec", "script": script, "merge": merge}),
            EXEC_TIMEOUT,
        )?;
        print!("{}", v["stdout"].as_str().unwrap_or(""));
        eprint!("{}", v["stderr"].as_str().unwrap_or(""));
        let _ = io::stdout().flush();
        v["rc"]
            .as_i64()
            .map(|c| c as i32)
            .ok_or_else(|| io::Error::other("malformed answer from the peer"))
    }
}

/// The port used when none is given: `$LKSIM_PORT` (tests) or 7365.
pub fn default_port() -> u16 {
    std::env::var("LKSIM_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_PORT)
}

/// "host" → "host:<default port>"; "host:port" stays.
pub fn with_port(addr: &str) -> String {
    if addr
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        addr.to_string()
    } else {
        format!("{addr}:{}", default_port())
    }
}

/// Send one request and read one answer.
pub fn request(addr: &str, req: &Value, timeout: Duration) -> io::Result<Value> {
    let mut last = io::Error::other(format!("{addr}: no address"));
    let mut stream = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let s = stream.ok_or(last)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(CONNECT_TIMEOUT * 4))?;
    let mut line = serde_json::to_string(req).map_err(io::Error::other)?;
    line.push('\n');
    (&s).write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(&s).read_line(&mut answer)?;
    serde_json::from_str(&answer).map_err(|e| io::Error::other(format!("{addr}: {e}")))
}

#[derive(Serialize, Deserialize)]
struct Snap {
    name: String,
    root: String,
    rt: NodeRuntime,
    res: Vec<ResourceDef>,
    paths: Vec<CommPathDef>,
    has_config: bool,
}

fn snap_of(n: &Node) -> Value {
    json!(Snap {
        name: n.name.clone(),
        root: n.root.to_string_lossy().to_string(),
        rt: n.rt.clone(),
        res: n.res.clone(),
        paths: n.paths.clone(),
        has_config: n.has_config,
    })
}

fn node_of(v: &Value, name: &str, addr: &str) -> Option<Node> {
    let s: Snap = serde_json::from_value(v.clone()).ok()?;
    if s.name != name {
        return None; // another node answers at that address: treat as unreachable
    }
    Some(Node::remote_peer(
        addr,
        PathBuf::from(s.root),
        s.rt,
        s.res,
        s.paths,
        s.has_config,
    ))
}

/// What this node knows of a peer that does not answer: it is gone, as a
/// crashed node is (its comm paths are DEAD, switchovers ignore it).
fn unreachable(name: &str, addr: &str) -> Node {
    Node::remote_peer(
        addr,
        PathBuf::new(),
        NodeRuntime {
            name: name.to_string(),
            down: true,
            ..Default::default()
        },
        vec![],
        vec![],
        false,
    )
}

/// The state of peer `name` at `addr`, or an "unreachable" node.
pub fn snapshot(name: &str, addr: &str) -> Node {
    match request(addr, &json!({"op": "snapshot"}), SNAPSHOT_TIMEOUT) {
        Ok(v) if v["ok"] == true => {
            node_of(&v["node"], name, addr).unwrap_or_else(|| unreachable(name, addr))
        }
        _ => unreachable(name, addr),
    }
}

/// The remote half of a switchover: remove `tag` (parents first) on the
/// peer.  On success returns the log and the peer's new state.
/// Log lines and the peer's new state, or log lines and the error.
pub type RemoteResult = Result<(Vec<String>, Option<Node>), (Vec<String>, String)>;

pub fn remote_remove(node: &Node, tag: &str) -> RemoteResult {
    let addr = node.remote.clone().unwrap_or_default();
    let v = request(
        &addr,
        &json!({"op": "action", "action": "remove", "tag": tag}),
        ACTION_TIMEOUT,
    )
    .map_err(|e| {
        (
            vec![],
            format!("unable to communicate with system \"{}\": {e}", node.name),
        )
    })?;
    let log: Vec<String> = v["log"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if v["rc"] != 0 {
        let e = v["error"]
            .as_str()
            .unwrap_or("remote remove failed")
            .to_string();
        return Err((log, e));
    }
    Ok((log, node_of(&v["node"], &node.name, &addr)))
}

// ------------------------------------------------------------------ daemon

pub fn pidfile(root: &Path) -> PathBuf {
    root.join("var/lib/lksim/daemon.pid")
}
pub fn logfile(root: &Path) -> PathBuf {
    root.join("var/lib/lksim/daemon.log")
}

/// Remote peers (name, addr) of the cluster that `root` belongs to.
pub fn remote_peers(root: &Path) -> Vec<(String, String)> {
    let Ok(rt) = read_json::<NodeRuntime>(&runtime_file(root)) else {
        return vec![];
    };
    let cf: ClusterFile =
        read_json(&crate::model::meta_dir(Path::new(&rt.cluster_dir)).join("cluster.json"))
            .unwrap_or_default();
    cf.nodes
        .into_iter()
        .filter_map(|n| n.addr.map(|a| (n.name, a)))
        .collect()
}

fn pid_alive(pid: i32) -> bool {
    // signal "0" only checks that the process exists
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// The pid of this node's running daemon, if any.
pub fn daemon_pid(root: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pidfile(root))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    pid_alive(pid).then_some(pid)
}

/// `lkstart`: make sure the daemon runs when the node has TCP peers.
pub fn ensure_daemon(root: &Path) -> io::Result<()> {
    if remote_peers(root).is_empty() || daemon_pid(root).is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logfile(root))?;
    let mut c = Command::new(exe);
    c.arg("daemon")
        .arg("--detach")
        .arg("--root")
        .arg(root)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // the daemon calls setsid() itself (`--detach`), leaving the caller's session
    c.spawn()?;
    Ok(())
}

fn dlog(msg: &str) {
    let (y, mo, d, h, mi, s) = crate::local_time();
    eprintln!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} lksim daemon: {msg}");
}

/// `lksim daemon --root R [--listen ADDR]`: serve peers, send heartbeats.
pub fn daemon(root: &Path, listen: Option<String>, detach: bool) -> i32 {
    if detach {
        // A new session: the caller's terminal and its signals (^C, hangup) do not reach the
        // daemon that lkstart left behind.  Fails only for a process-group leader.
        let _ = nix::unistd::setsid();
    }
    let rt: NodeRuntime = match read_json(&runtime_file(root)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lksim daemon: no simulated node at {}: {e}", root.display());
            return 1;
        }
    };
    let listen = listen
        .or(rt.listen.clone())
        .unwrap_or_else(|| format!("0.0.0.0:{}", default_port()));
    let l = match TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("lksim daemon: cannot listen on {listen}: {e}");
            return 1;
        }
    };
    let _ = std::fs::write(pidfile(root), format!("{}\n", std::process::id()));
    dlog(&format!("node {} listening on {listen}", rt.name));
    let r = root.to_path_buf();
    std::thread::spawn(move || heartbeat(&r));
    for conn in l.incoming() {
        let Ok(s) = conn else { continue };
        let r = root.to_path_buf();
        std::thread::spawn(move || {
            let _ = serve(&r, s);
        });
    }
    0
}

fn serve(root: &Path, s: TcpStream) -> io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line)?;
    let req: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
    let answer = match req["op"].as_str() {
        Some("snapshot") => match Node::load(root) {
            Ok(n) => json!({"ok": true, "node": snap_of(&n)}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
        Some("exec") => serve_exec(root, &req),
        Some("action") => serve_action(root, &req),
        _ => json!({"ok": false, "error": "unknown request"}),
    };
    let mut out = serde_json::to_string(&answer).map_err(io::Error::other)?;
    out.push('\n');
    (&s).write_all(out.as_bytes())
}

fn serve_exec(root: &Path, req: &Value) -> Value {
    let script = req["script"].as_str().unwrap_or("").to_string();
    let merge = req["merge"].as_bool().unwrap_or(true);
    if script.trim().is_empty() {
        return json!({"rc": 2, "stdout": "", "stderr": "lcdremexec: no command\n"});
    }
    // the same check the local transport makes: the node must be up
    match Node::load(root) {
        Ok(n) if n.alive() => {}
        _ => {
            return json!({"rc": 9, "stdout": "",
                          "stderr": "lcdremexec: LifeKeeper is not running on the remote system\n"})
        }
    }
    let t = LocalDir {
        root: root.to_path_buf(),
    };
    match t.command(&script, merge).stdin(Stdio::null()).output() {
        Ok(o) => json!({
            "rc": o.status.code().unwrap_or(1),
            "stdout": String::from_utf8_lossy(&o.stdout),
            "stderr": String::from_utf8_lossy(&o.stderr),
        }),
        Err(e) => {
            json!({"rc": 127, "stdout": "", "stderr": format!("lcdremexec: sh: {e}\n")})
        }
    }
}

fn serve_action(root: &Path, req: &Value) -> Value {
    let tag = req["tag"].as_str().unwrap_or("");
    if req["action"] != "remove" {
        return json!({"rc": 2, "log": [], "error": "only remove is served remotely"});
    }
    // the remote perform_action is subject to the faults armed on that node
    let halfway = match crate::fault_gate(root, "perform_action", "perform_action") {
        Ok(g) => matches!(g, crate::FaultGate::Halfway),
        Err(c) => {
            return json!({"rc": c, "log": [], "error": "perform_action failed on the remote system"})
        }
    };
    let (mut w, me) = match World::open_for_root(root) {
        Ok(x) => x,
        Err(e) => return json!({"rc": 1, "log": [], "error": e.to_string()}),
    };
    if !w.nodes[me].alive() {
        return json!({"rc": 1, "log": [], "error": format!("LifeKeeper is not running on \"{}\"", w.nodes[me].name)});
    }
    let (rc, log, error) = match ops::remove(&mut w, me, tag, halfway) {
        Ok(l) => (0, l, String::new()),
        Err((l, e)) => (1, l, e),
    };
    if let Err(e) = w.save() {
        return json!({"rc": 1, "log": log, "error": format!("cannot save state: {e}")});
    }
    json!({"rc": rc, "log": log, "error": error, "node": snap_of(&w.nodes[me])})
}

// --------------------------------------------------------------- heartbeat

/// Heartbeat interval and the number of missed beats after which a peer is
/// declared failed.  LifeKeeper's LCMHBEATTIME (seconds, default 5) and
/// LCMNUMHBEATS (default 3) from /etc/default/LifeKeeper, with the time
/// scaled down 5x (5 s → 1 s) so that tests and scenarios do not wait 15 s.
/// `$LKSIM_HBEAT_MS` overrides the interval (tests).
pub fn heartbeat_params(root: &Path) -> (Duration, u32) {
    let text = std::fs::read_to_string(crate::model::defaults_file(root)).unwrap_or_default();
    let get = |k: &str| -> Option<u64> {
        text.lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix(k)?.strip_prefix('='))
            .and_then(|v| v.trim().trim_matches('"').parse().ok())
    };
    let secs = get("LCMHBEATTIME").unwrap_or(5).max(1);
    let beats = get("LCMNUMHBEATS").unwrap_or(3).max(1) as u32;
    let ms = std::env::var("LKSIM_HBEAT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(secs * 200);
    (Duration::from_millis(ms), beats)
}

#[derive(Default)]
struct Watch {
    misses: u32,
    /// Tags the peer had in service when it last answered.
    last_isp: Vec<String>,
    /// Tags of a failed peer still to be brought into service here.
    pending: Vec<String>,
}

fn heartbeat(root: &Path) {
    let mut peers: BTreeMap<String, Watch> = BTreeMap::new();
    let mut first = true;
    loop {
        let (interval, beats) = heartbeat_params(root);
        // the first beat right away: a peer must be seen once to be failed over
        if !std::mem::take(&mut first) {
            std::thread::sleep(interval);
        }
        for (name, addr) in remote_peers(root) {
            let n = snapshot(&name, &addr);
            let w = peers.entry(name.clone()).or_default();
            if !n.rt.down {
                // It answers. With LifeKeeper stopped (lkstop, lkstop -f) it
                // shut down in order: nothing to take over.
                w.misses = 0;
                w.pending.clear();
                w.last_isp = if n.alive() {
                    n.rt.states
                        .iter()
                        .filter(|(_, s)| ops::in_service(s))
                        .map(|(t, _)| t.clone())
                        .collect()
                } else {
                    vec![]
                };
                continue;
            }
            w.misses += 1;
            if w.misses >= beats && !w.last_isp.is_empty() {
                dlog(&format!(
                    "peer {name} missed {} heartbeats; it had {} in service",
                    w.misses,
                    w.last_isp.join(",")
                ));
                let t = std::mem::take(&mut w.last_isp);
                w.pending.extend(t);
            }
        }
        if peers.values().all(|w| w.pending.is_empty()) {
            continue;
        }
        let Ok((mut world, me)) = World::open_for_root(root) else {
            continue;
        };
        if !world.nodes[me].alive() {
            continue; // failover waits until LifeKeeper runs here
        }
        for (peer, w) in peers.iter_mut() {
            let tags = std::mem::take(&mut w.pending);
            for l in failover_here(&mut world, me, peer, &tags) {
                dlog(&l);
            }
        }
        if let Err(e) = world.save() {
            dlog(&format!("cannot save state: {e}"));
        }
    }
}

/// Bring into service on node `me` what the failed `peer` had in service,
/// for every hierarchy whose best surviving priority is `me`.
pub fn failover_here(world: &mut World, me: usize, peer: &str, tags: &[String]) -> Vec<String> {
    let mut log = Vec::new();
    let opts = ops::ActionOpts {
        bottom_only: false,
        fail_tag: false,
    };
    for t in tags {
        let n = &world.nodes[me];
        let Some(r) = n
            .res
            .iter()
            .find(|r| r.equivalents.iter().any(|e| e.node == peer && e.tag == *t))
            .cloned()
        else {
            continue;
        };
        if ops::in_service(&n.state_of(&r.tag)) {
            continue;
        }
        let alive_holder = |node: &str, tag: &str| -> Option<(bool, bool)> {
            let j = world.idx(node)?;
            let p = &world.nodes[j];
            (p.alive() && p.res(tag).is_some()).then(|| (true, ops::in_service(&p.state_of(tag))))
        };
        let elsewhere = r
            .equivalents
            .iter()
            .any(|e| alive_holder(&e.node, &e.tag) == Some((true, true)));
        let better = r
            .equivalents
            .iter()
            .any(|e| e.node != peer && e.prio < r.prio && alive_holder(&e.node, &e.tag).is_some());
        if elsewhere || better {
            continue;
        }
        log.push(format!(
            "failover: {peer} failed; restoring \"{}\" on \"{}\"",
            r.tag, n.name
        ));
        match ops::restore(world, me, &r.tag, &opts) {
            Ok(l) => log.extend(l),
            Err((l, e)) => {
                log.extend(l);
                log.push(format!("failover of \"{}\" failed: {e}", r.tag));
            }
        }
    }
    log
}

#[cfg(test)]
mod tests {
    use super::map_lkroot;
    #[test]
    fn map_lkroot_only_where_a_path_starts() {
        let to = "/c/n/opt/LifeKeeper";
        assert_eq!(
            map_lkroot("/opt/LifeKeeper/bin/x -q", to),
            "/c/n/opt/LifeKeeper/bin/x -q"
        );
        assert_eq!(
            map_lkroot(
                "'/opt/LifeKeeper/bin/x' a=/opt/LifeKeeper;/opt/LifeKeeper",
                to
            ),
            "'/c/n/opt/LifeKeeper/bin/x' a=/c/n/opt/LifeKeeper;/c/n/opt/LifeKeeper"
        );
        // inside another path, or a longer name: untouched
        assert_eq!(
            map_lkroot("/x/opt/LifeKeeper/bin", to),
            "/x/opt/LifeKeeper/bin"
        );
        assert_eq!(map_lkroot("/opt/LifeKeeperX", to), "/opt/LifeKeeperX");
        assert_eq!(
            map_lkroot("データ /opt/LifeKeeper", to),
            "データ /c/n/opt/LifeKeeper"
        );
    }
}

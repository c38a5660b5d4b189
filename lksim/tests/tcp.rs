//! The TCP transport: two nodes made with `lksim install` in separate roots
//! (no shared cluster dir), each with its own `lksim daemon` on a loopback
//! port, as two containers would be.
mod common;
use common::*;
use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HIER: &str = r#"{"active":"node-a","resources":[
 {"tag":"ip-10.0.0.50","id":"IP-10.0.0.50","app":"comm","type":"ip"},
 {"tag":"app-x","id":"app-x","children":["fs-x"]},
 {"tag":"fs-x","id":"/x","app":"gen","type":"filesys"}]}"#;
const HB_MS: &str = "150";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Pair {
    dir: PathBuf,
    ports: [u16; 2],
    daemons: [Option<Child>; 2],
}

const NAMES: [&str; 2] = ["node-a", "node-b"];

impl Pair {
    fn new(tag: &str) -> Pair {
        Pair::with(tag, HIER, &[])
    }
    fn with(tag: &str, hier: &str, extra: &[&str]) -> Pair {
        let dir = tmpdir(tag);
        let ports = [free_port(), free_port()];
        let peers = format!(
            "node-a=127.0.0.1:{},node-b=127.0.0.1:{}",
            ports[0], ports[1]
        );
        for (i, n) in NAMES.iter().enumerate() {
            let root = dir.join(n);
            let listen = format!("127.0.0.1:{}", ports[i]);
            let mut args = vec![
                "install",
                "--root",
                root.to_str().unwrap(),
                "--node",
                n,
                "--peers",
                &peers,
                "--listen",
                &listen,
                "--version",
                "9.4.0",
                "--hierarchies",
                hier,
            ];
            args.extend(extra);
            let o = lksim(&args);
            assert_eq!(o.code, 0, "{}", o.err);
        }
        let mut p = Pair {
            dir,
            ports,
            daemons: [None, None],
        };
        p.start_daemon(0);
        p.start_daemon(1);
        // let each daemon see its peer once (a peer never seen is never failed over)
        std::thread::sleep(Duration::from_millis(HB_MS.parse::<u64>().unwrap() * 2));
        p
    }
    fn root(&self, i: usize) -> PathBuf {
        self.dir.join(NAMES[i])
    }
    fn start_daemon(&mut self, i: usize) {
        let mut c = Command::new(LKSIM);
        c.args(["daemon", "--root", self.root(i).to_str().unwrap()])
            .env("LKSIM_HBEAT_MS", HB_MS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.daemons[i] = Some(c.spawn().unwrap());
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.ports[i])).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "daemon did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    /// The container is gone: its daemon dies with it.
    fn kill_daemon(&mut self, i: usize) {
        if let Some(mut c) = self.daemons[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    fn lk(&self, i: usize, cmd: &str, args: &[&str]) -> Out {
        let mut c = Command::new(self.root(i).join("opt/LifeKeeper/bin").join(cmd));
        c.args(args).env_clear().env("PATH", "/usr/bin:/bin");
        run_cmd(c, None)
    }
    fn state(&self, i: usize) -> Value {
        let o = lksim(&[
            "state",
            self.root(i).join("var/lib/lksim").to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{}", o.err);
        serde_json::from_str(&o.out).unwrap()
    }
    /// tag -> state on node i, as node i itself reports it.
    fn local_states(&self, i: usize) -> Vec<(String, String)> {
        let s = self.state(i);
        let n = s["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == NAMES[i])
            .unwrap()
            .clone();
        n["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["tag"].as_str().unwrap().to_string(),
                    r["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
    fn all_in(&self, i: usize, st: &str) -> bool {
        self.local_states(i).iter().all(|(_, s)| s == st)
    }
    fn paths(&self, i: usize) -> Vec<String> {
        self.lk(i, "lcdstatus", &["-e"])
            .out
            .lines()
            .skip_while(|l| !l.starts_with("MACHINE"))
            .skip(1)
            .map(|l| l.split_whitespace().nth(3).unwrap_or("").to_string())
            .collect()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.kill_daemon(0);
        self.kill_daemon(1);
    }
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn tcp_comm_paths_alive_and_peer_state_visible() {
    let p = Pair::new("tcp-alive");
    assert_eq!(p.paths(0), ["ALIVE", "ALIVE"]);
    assert_eq!(p.paths(1), ["ALIVE", "ALIVE"]);
    assert!(p.all_in(0, "ISP"), "{:?}", p.local_states(0));
    assert!(p.all_in(1, "OSU"), "{:?}", p.local_states(1));
    // the BACKUP column comes from each node's own priorities: node-a is 1, node-b 10
    let e = p.lk(0, "lcdstatus", &["-e"]).out;
    let row = e
        .lines()
        .find(|l| l.contains(" app-x "))
        .unwrap()
        .to_string();
    assert!(row.starts_with("node-b "), "{e}");
    assert!(row.trim_end().ends_with("node-a"), "{e}");
    // node-b's view of the cluster includes node-a's states, fetched over TCP
    let s = p.state(1);
    let a = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "node-a")
        .unwrap()
        .clone();
    assert_eq!(a["remote"], format!("127.0.0.1:{}", p.ports[0]));
    assert_eq!(a["running"], true);
    assert_eq!(a["version"], "9.4.0");
    // lcdstatus -d reads the peer
    let d = p.lk(1, "lcdstatus", &["-q", "-d", "node-a"]);
    assert_eq!(d.code, 0, "{}", d.err);
    assert!(
        d.out.contains("ISP") && d.out.contains("node-a"),
        "{}",
        d.out
    );
}

#[test]
fn tcp_lcdremexec_runs_on_the_peer_and_returns_its_exit_code() {
    let p = Pair::new("tcp-remexec");
    let o = p.lk(1, "lcdremexec", &["-d", "node-a", "--", "lcdstatus", "-q"]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.out.contains("LOCAL"), "{}", o.out);
    assert!(
        o.out
            .lines()
            .any(|l| l.starts_with("node-a") && l.contains("ISP")),
        "{}",
        o.out
    );
    let o = p.lk(
        1,
        "lcdremexec",
        &["-d", "node-a", "--", "/opt/LifeKeeper/bin/lcdstatus", "-e"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    // system stand-ins are found on the peer's PATH; rpm's exit code comes back
    let o = p.lk(
        1,
        "lcdremexec",
        &["-d", "node-a", "--", "rpm", "-q", "steeleye-lk"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.out.starts_with("steeleye-lk-9.4.0-"), "{}", o.out);
    let o = p.lk(
        1,
        "lcdremexec",
        &["-d", "node-a", "--", "rpm", "-q", "nope1", "nope2"],
    );
    assert_eq!(o.code, 2, "{}{}", o.out, o.err);
    // a command that runs on the peer's file system
    std::fs::write(p.root(0).join("tmp/marker"), "on node-a\n").unwrap();
    let o = p.lk(
        1,
        "lcdremexec",
        &[
            "-d",
            "node-a",
            "--",
            "cat",
            p.root(0).join("tmp/marker").to_str().unwrap(),
        ],
    );
    assert_eq!((o.code, o.out.as_str()), (0, "on node-a\n"));
}

#[test]
fn tcp_switchover_removes_on_the_peer_first() {
    let p = Pair::new("tcp-switch");
    let o = p.lk(1, "perform_action", &["-t", "app-x", "-a", "restore"]);
    assert_eq!(o.code, 0, "{}\n{}", o.out, o.err);
    assert!(
        o.out
            .contains("Removing resource \"app-x\" on server \"node-a\""),
        "{}",
        o.out
    );
    let a: Vec<_> = p.local_states(0);
    assert!(a.contains(&("app-x".into(), "OSU".into())), "{a:?}");
    assert!(a.contains(&("fs-x".into(), "OSU".into())), "{a:?}");
    assert!(a.contains(&("ip-10.0.0.50".into(), "ISP".into())), "{a:?}");
    let b = p.local_states(1);
    assert!(b.contains(&("app-x".into(), "ISP".into())), "{b:?}");
    assert!(b.contains(&("fs-x".into(), "ISP".into())), "{b:?}");
    // and back, driven from node-a through lkcli
    let o = p.lk(0, "lkcli", &["resource", "restore", "--tag", "app-x"]);
    assert_eq!(o.code, 0, "{}\n{}", o.out, o.err);
    assert!(p.all_in(0, "ISP") && p.all_in(1, "OSU"));
}

#[test]
fn tcp_switchover_fault_on_the_peer_fails_the_restore() {
    let p = Pair::new("tcp-switch-fault");
    let o = lksim(&[
        "fault",
        "set",
        "node-a",
        "perform_action",
        "fail",
        "--dir",
        p.root(0).join("var/lib/lksim").to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let o = p.lk(1, "perform_action", &["-t", "app-x", "-a", "restore"]);
    assert_eq!(o.code, 1, "{}\n{}", o.out, o.err);
    assert!(p.all_in(0, "ISP") && p.all_in(1, "OSU"));
}

#[test]
fn tcp_stopped_peer_shows_dead_and_is_not_failed_over() {
    let p = Pair::new("tcp-stop");
    let o = p.lk(0, "lkstop", &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(p.paths(1), ["DEAD", "DEAD"]);
    let o = p.lk(1, "lcdremexec", &["-d", "node-a", "--", "lcdstatus"]);
    assert_eq!(o.code, 9, "{}", o.err);
    // an orderly stop is not a failure: well past LCMNUMHBEATS, nothing moved
    std::thread::sleep(Duration::from_millis(HB_MS.parse::<u64>().unwrap() * 8));
    assert!(p.all_in(1, "OSU"), "{:?}", p.local_states(1));
    let o = p.lk(0, "lkstart", &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(p.paths(1), ["ALIVE", "ALIVE"]);
    assert!(p.all_in(0, "ISP"), "{:?}", p.local_states(0));
}

#[test]
fn tcp_peer_gone_fails_over_to_the_survivor() {
    let mut p = Pair::new("tcp-failover");
    p.kill_daemon(0);
    assert_eq!(p.paths(1), ["DEAD", "DEAD"]);
    let o = p.lk(1, "lcdremexec", &["-d", "node-a", "--", "lcdstatus"]);
    assert_eq!(o.code, 9);
    wait_for("failover to node-b", 10, || p.all_in(1, "ISP"));
    // the node comes back (container started again): it boots, finds its
    // hierarchies in service on node-b and leaves them there
    let o = lksim(&["boot", "--root", p.root(0).to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.err);
    p.start_daemon(0);
    assert!(p.all_in(0, "OSU"), "{:?}", p.local_states(0));
    assert!(p.all_in(1, "ISP"));
    assert_eq!(p.paths(0), ["ALIVE", "ALIVE"]);
    assert_eq!(p.paths(1), ["ALIVE", "ALIVE"]);
}

#[test]
fn tcp_failover_waits_until_local_lifekeeper_runs() {
    let mut p = Pair::new("tcp-failover-later");
    assert_eq!(p.lk(1, "lkstop", &[]).code, 0);
    p.kill_daemon(0);
    std::thread::sleep(Duration::from_millis(HB_MS.parse::<u64>().unwrap() * 8));
    assert!(p.all_in(1, "OSU"));
    let o = p.lk(1, "lkstart", &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    wait_for("failover after lkstart", 10, || p.all_in(1, "ISP"));
}

#[test]
fn tcp_peer_back_before_failover_resumes_its_own_hierarchies() {
    let mut p = Pair::new("tcp-back-early");
    assert_eq!(p.lk(1, "lkstop", &[]).code, 0);
    p.kill_daemon(0);
    std::thread::sleep(Duration::from_millis(HB_MS.parse::<u64>().unwrap() * 8));
    // node-a reboots while node-b's LifeKeeper is still down: nobody has the
    // hierarchies, so node-a brings back what it had
    assert_eq!(
        lksim(&["boot", "--root", p.root(0).to_str().unwrap()]).code,
        0
    );
    p.start_daemon(0);
    assert!(p.all_in(0, "ISP"), "{:?}", p.local_states(0));
    assert_eq!(p.lk(1, "lkstart", &[]).code, 0);
    std::thread::sleep(Duration::from_millis(HB_MS.parse::<u64>().unwrap() * 8));
    assert!(p.all_in(1, "OSU"), "{:?}", p.local_states(1));
    assert!(p.all_in(0, "ISP"));
}

/// The node_failure Molecule scenario in miniature: node-b's setup pauses
/// half-way (fault "delay", LifeKeeper stopped), node-a dies meanwhile, and
/// node-b takes the hierarchies over once setup restarts its LifeKeeper.
#[test]
fn tcp_peer_dies_during_setup_then_failover_to_the_upgraded_node() {
    let mut p = Pair::new("tcp-setup-fail");
    let cdir_b = p.root(1).join("var/lib/lksim");
    let o = lksim(&[
        "fault",
        "set",
        "node-b",
        "setup",
        "delay",
        "--seconds",
        "2",
        "--dir",
        cdir_b.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let media = p.dir.join("media");
    std::fs::create_dir_all(media.join("RPMS")).unwrap();
    for k in [
        "steeleye-lk",
        "steeleye-lkGUI",
        "steeleye-lkDR",
        "steeleye-lkIP",
        "steeleye-lkPGSQL",
    ] {
        std::fs::write(media.join(format!("RPMS/{k}-9.6.1-1.x86_64.rpm")), "x").unwrap();
    }
    let conf = p.dir.join("setup.conf");
    std::fs::write(&conf, "LKCONF_RECOVERY_KITS=\"lkIP\"\n").unwrap();
    let root_b = p.root(1);
    let mut c = Command::new(root_b.join("bin/lksim-setup"));
    c.args([
        "--media-dir",
        media.to_str().unwrap(),
        "--media-version",
        "9.6.1",
    ])
    .args(["-f", conf.to_str().unwrap(), "-q", "y"])
    .current_dir(&media)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let setup = c.spawn().unwrap();
    // half-way: node-b's LifeKeeper is stopped, its packages already 9.6.1
    wait_for("setup half-way", 10, || p.paths(0) == ["DEAD", "DEAD"]);
    p.kill_daemon(0);
    let o = setup.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_for("failover to the upgraded node", 10, || p.all_in(1, "ISP"));
    let s = p.state(1);
    let b = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "node-b")
        .unwrap()
        .clone();
    assert_eq!(b["version"], "9.6.1");
}

fn pid_of(root: &Path) -> Option<i32> {
    std::fs::read_to_string(root.join("var/lib/lksim/daemon.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn lkstart_starts_the_daemon_in_the_background() {
    let mut p = Pair::new("tcp-lkstart");
    p.kill_daemon(0);
    assert_eq!(p.lk(0, "lkstop", &[]).code, 0);
    let o = p.lk(0, "lkstart", &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", p.ports[0])).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "lkstart started no daemon"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = pid_of(&p.root(0)).expect("pidfile");
    assert_eq!(p.paths(1), ["ALIVE", "ALIVE"]);
    // lkstart again: the running daemon is kept
    assert_eq!(p.lk(0, "lkstart", &[]).code, 0);
    assert_eq!(pid_of(&p.root(0)), Some(pid));
    let _ = Command::new("kill").arg(pid.to_string()).status();
}

#[test]
fn local_clusters_start_no_daemon() {
    let c = Cluster::create("tcp-none", &["--stopped"]);
    assert_eq!(c.lk("node-a", "lkstart", &[]).code, 0);
    assert!(pid_of(&c.root("node-a")).is_none());
}

/// Regression (issue 15): a change made to a remote peer's copy (a TCP snapshot) used to be
/// dropped by `Node::save` without a word.  Now saving it is an error, and a change made
/// through the CLI (`lksim node down` of a peer in another container) says so and exits 1.
#[test]
fn save_refuses_a_change_to_a_remote_peers_copy_instead_of_dropping_it() {
    let p = Pair::new("remote-copy");
    let root = p.root(0);
    let before = p.local_states(0);
    let (mut w, _) = lksim::model::World::open_for_root(&root).unwrap();
    let b = w.idx("node-b").unwrap();
    assert!(w.nodes[b].remote.is_some(), "node-b is reached over TCP");
    // an unchanged copy saves fine (every command saves the whole world)
    w.save().expect("unchanged remote copy");
    w.nodes[b].set_state("app-x", "ISP");
    let e = w
        .save()
        .expect_err("a change to a remote copy must not vanish");
    assert!(e.to_string().contains("node-b"), "{e}");
    drop(w);
    // nothing changed on node-b itself
    assert!(p.all_in(1, "OSU"), "{:?}", p.local_states(1));
    assert_eq!(p.local_states(0), before);
    let o = lksim(&[
        "node",
        "down",
        "node-b",
        "--dir",
        root.join("var/lib/lksim").to_str().unwrap(),
    ]);
    assert_eq!(o.code, 1, "{} {}", o.out, o.err);
    assert!(o.err.contains("node-b"), "{}", o.err);
    // refused as a whole: nothing half-saved on node-a either
    assert_eq!(p.local_states(0), before);
}

/// DataKeeper between two containers: the target's restart starts a resync that the source
/// sees, a switchover onto it fails until it is in sync, and the source change starts one
/// toward the old source.
#[test]
fn tcp_mirror_resync_after_target_restart_blocks_the_switchover() {
    let hier = r#"{"active":"node-a","resources":[
 {"tag":"app-x","id":"app-x","children":["datarep-x"]},
 {"tag":"datarep-x","id":"/dev/md0","app":"scsi","type":"netraid"}]}"#;
    let p = Pair::with("tcp-dk", hier, &["--resync-seconds", "1.5"]);
    assert_eq!(p.lk(1, "lkstop", &[]).code, 0);
    assert_eq!(p.lk(1, "lkstart", &[]).code, 0);
    let o = p.lk(0, "mirror_status", &["datarep-x"]);
    assert!(
        o.out.contains("Target: node-b  State: resyncing"),
        "{}",
        o.out
    );
    let o = p.lk(1, "perform_action", &["-t", "app-x", "-a", "restore"]);
    assert_eq!(o.code, 1, "{}", o.out);
    assert!(p.local_states(0).iter().all(|(_, s)| s == "ISP"));
    wait_for("in sync", 10, || {
        p.lk(0, "mirror_status", &["datarep-x"])
            .out
            .contains("in sync")
    });
    let o = p.lk(1, "perform_action", &["-t", "app-x", "-a", "restore"]);
    assert_eq!(o.code, 0, "{} {}", o.out, o.err);
    let o = p.lk(1, "mirror_status", &["datarep-x"]);
    assert!(
        o.out.contains("Source: node-b") && o.out.contains("Target: node-a  State: resyncing"),
        "{}",
        o.out
    );
}

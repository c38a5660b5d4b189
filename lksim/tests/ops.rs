mod common;
use common::*;
use std::time::{Duration, Instant};

const ALL: &[&str] = &[
    "app-pgsql",
    "pgsql-5432",
    "filesys1234",
    "device5678",
    "disk9012",
];

#[test]
fn switchover_between_two_nodes() {
    let c = Cluster::create("switch", &[]);
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-pgsql", "-a", "restore"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    for t in ALL {
        assert_eq!(c.res_state("node-b", t), "ISP", "{t}");
        assert_eq!(c.res_state("node-a", t), "OSU", "{t}");
    }
    // the IP hierarchy was not touched
    assert_eq!(c.res_state("node-a", "ip-10.0.0.50"), "ISP");
    // restoring an ISP resource does nothing
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-pgsql", "-a", "restore"],
    );
    assert_eq!(o.code, 0);
    // restore of a child (no -b) also brings its parents over
    let o = c.lk(
        "node-a",
        "perform_action",
        &["-t", "filesys1234", "-a", "restore"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    for t in ALL {
        assert_eq!(c.res_state("node-a", t), "ISP", "{t}");
        assert_eq!(c.res_state("node-b", t), "OSU", "{t}");
    }
    // -b: only from the bottom up to the tag
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-b", "-t", "filesys1234", "-a", "restore"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(c.res_state("node-b", "filesys1234"), "ISP");
    assert_eq!(c.res_state("node-b", "disk9012"), "ISP");
    assert_eq!(c.res_state("node-b", "pgsql-5432"), "OSU");
    assert_eq!(c.res_state("node-a", "pgsql-5432"), "OSU");
    // remove takes the parents down first, then the tag
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "device5678", "-a", "remove"],
    );
    assert_eq!(o.code, 0);
    assert_eq!(c.res_state("node-b", "device5678"), "OSU");
    assert_eq!(c.res_state("node-b", "filesys1234"), "OSU");
    assert_eq!(c.res_state("node-b", "disk9012"), "ISP");
    // lkcli resource restore maps onto perform_action
    let o = c.lk(
        "node-a",
        "lkcli",
        &["resource", "restore", "--tag", "app-pgsql"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(c.res_state("node-a", "app-pgsql"), "ISP");
    assert_eq!(c.res_state("node-b", "disk9012"), "OSU");
    // unknown tag
    assert_ne!(
        c.lk("node-a", "perform_action", &["-t", "nope", "-a", "restore"])
            .code,
        0
    );
}

#[test]
fn perform_action_needs_running_lifekeeper() {
    let c = Cluster::create("pa-stopped", &[]);
    assert_eq!(c.lk("node-b", "lkstop", &[]).code, 0);
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-pgsql", "-a", "restore"],
    );
    assert_ne!(o.code, 0);
    assert!(o.err.contains("not running"));
    assert_eq!(c.res_state("node-a", "app-pgsql"), "ISP");
    // start again, switchover works
    assert_eq!(c.lk("node-b", "lkcli", &["start"]).code, 0);
    assert_eq!(
        c.lk(
            "node-b",
            "perform_action",
            &["-t", "app-pgsql", "-a", "restore"]
        )
        .code,
        0
    );
}

#[test]
fn lkstop_variants() {
    let c = Cluster::create("stop", &[]);
    // lkstop -f leaves resources in service
    assert_eq!(c.lk("node-a", "lkstop", &["-f"]).code, 0);
    assert_eq!(c.res_state("node-a", "app-pgsql"), "ISP");
    assert_eq!(c.node_state("node-a")["running"], false);
    // a switchover from node-b cannot remove on the stopped node: fails
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-pgsql", "-a", "restore"],
    );
    assert_ne!(o.code, 0);
    assert_eq!(c.lk("node-a", "lkstart", &[]).code, 0);
    // plain lkstop takes them out of service; lkstart brings them back
    assert_eq!(c.lk("node-a", "lkcli", &["stop"]).code, 0);
    assert_eq!(c.res_state("node-a", "app-pgsql"), "OSU");
    assert_eq!(c.lk("node-a", "lkstart", &[]).code, 0);
    assert_eq!(c.res_state("node-a", "app-pgsql"), "ISP");
    let o = c.lk("node-a", "lkcli", &["status", "-e"]);
    assert_eq!(o.code, 0);
    assert!(o.out.contains("BACKUP"));
}

#[test]
fn node_down_fails_over_and_comes_back() {
    let c = Cluster::create("down", &[]);
    let o = lksim(&["node", "down", "node-a", "--dir", c.d()]);
    assert_eq!(o.code, 0, "{}", o.err);
    for t in ALL.iter().chain(["ip-10.0.0.50"].iter()) {
        assert_eq!(c.res_state("node-b", t), "ISP", "{t}");
    }
    let o = c.lk("node-b", "lcdstatus", &["-e"]);
    assert!(
        o.out.contains("DEAD") && !o.out.contains("ALIVE"),
        "{}",
        o.out
    );
    // the downed node's commands fail
    assert_ne!(c.lk("node-a", "lcdstatus", &["-e"]).code, 0);
    assert_ne!(c.sys("node-a", "rpm", &["-qa"]).code, 0);
    // lcdremexec to a dead node fails
    assert_ne!(
        c.lk("node-b", "lcdremexec", &["-d", "node-a", "--", "true"])
            .code,
        0
    );
    let s = c.state();
    assert_eq!(s["nodes"][0]["down"], true);
    // back up: running, resources OSU there
    assert_eq!(lksim(&["node", "up", "node-a", "--dir", c.d()]).code, 0);
    assert_eq!(c.res_state("node-a", "app-pgsql"), "OSU");
    assert_eq!(c.res_state("node-b", "app-pgsql"), "ISP");
    let o = c.lk("node-a", "lcdstatus", &["-e"]);
    assert_eq!(o.code, 0);
    assert!(o.out.contains("ALIVE"));
}

#[test]
fn lcdremexec_runs_on_the_other_node() {
    let c = Cluster::create("remexec", &[]);
    let o = c.lk(
        "node-a",
        "lcdremexec",
        &["-d", "node-b", "--", "/opt/LifeKeeper/bin/lcdstatus", "-q"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        o.out.contains("LOCAL") && o.out.contains("node-b   ip-10.0.0.50"),
        "{}",
        o.out
    );
    let o = c.lk(
        "node-a",
        "lcdremexec",
        &["-d", "node-b", "--", "sh", "-c", "'exit 3'"],
    );
    assert_eq!(o.code, 3);
    let o = c.lk(
        "node-a",
        "lcdremexec",
        &["-d", "node-b", "--", "uname", "-n"],
    );
    assert_eq!(o.out, "node-b\n");
    let o = c.lk(
        "node-a",
        "lcdremexec",
        &[
            "-d",
            "node-b",
            "--",
            "perform_action",
            "-t",
            "ip-10.0.0.50",
            "-a",
            "restore",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(c.res_state("node-b", "ip-10.0.0.50"), "ISP");
}

#[test]
fn fault_fail_and_after() {
    let c = Cluster::create("fault-fail", &[]);
    assert_eq!(
        lksim(&[
            "fault",
            "set",
            "node-a",
            "lcdstatus",
            "fail",
            "--after",
            "1",
            "--dir",
            c.d()
        ])
        .code,
        0
    );
    assert_eq!(c.lk("node-a", "lcdstatus", &["-e"]).code, 0);
    let o = c.lk("node-a", "lcdstatus", &["-e"]);
    assert_eq!(o.code, 1);
    assert!(!o.err.is_empty());
    assert_eq!(
        c.node_state("node-a")["faults"]["lcdstatus"]["mode"],
        "fail"
    );
    assert_eq!(lksim(&["fault", "clear", "--dir", c.d()]).code, 0);
    assert_eq!(c.lk("node-a", "lcdstatus", &["-e"]).code, 0);
    // system stand-ins can fail too
    assert_eq!(
        lksim(&["fault", "set", "node-b", "rpm", "fail", "--dir", c.d()]).code,
        0
    );
    assert_eq!(c.sys("node-b", "rpm", &["-qa"]).code, 1);
    assert_eq!(lksim(&["fault", "clear", "node-b", "--dir", c.d()]).code, 0);
    assert_eq!(c.sys("node-b", "rpm", &["-qa"]).code, 0);
}

#[test]
fn fault_hang() {
    let c = Cluster::create("fault-hang", &[]);
    assert_eq!(
        lksim(&["fault", "set", "node-b", "lkstart", "hang", "--dir", c.d()]).code,
        0
    );
    let mut ch = std::process::Command::new(c.lkroot("node-b").join("bin/lkstart"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(ch.try_wait().unwrap().is_none(), "lkstart should hang");
    ch.kill().unwrap();
    let _ = ch.wait();
    assert!(t.elapsed() < Duration::from_secs(60));
    // a hanging command does not hold the cluster lock
    assert_eq!(c.lk("node-a", "lcdstatus", &["-e"]).code, 0);
}

#[test]
fn fault_halfway_perform_action_leaves_osf() {
    let c = Cluster::create("fault-pa", &[]);
    assert_eq!(
        lksim(&[
            "fault",
            "set",
            "node-b",
            "perform_action",
            "halfway",
            "--dir",
            c.d()
        ])
        .code,
        0
    );
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-pgsql", "-a", "restore"],
    );
    assert_ne!(o.code, 0);
    assert_eq!(c.res_state("node-b", "app-pgsql"), "OSF");
    assert_eq!(c.res_state("node-b", "pgsql-5432"), "ISP");
    assert_eq!(c.res_state("node-a", "app-pgsql"), "OSU");
    let o = c.lk("node-b", "lcdstatus", &["-e"]);
    assert!(o.out.contains("OSF"));
    lksim(&["fault", "clear", "--dir", c.d()]);
    assert_eq!(
        c.lk(
            "node-b",
            "perform_action",
            &["-t", "app-pgsql", "-a", "restore"]
        )
        .code,
        0
    );
    assert_eq!(c.res_state("node-b", "app-pgsql"), "ISP");
}

fn list_files(d: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn lkbackup_create_and_restore() {
    let c = Cluster::create("backup", &[]);
    let o = c.lk("node-a", "lkbackup", &["-c"]);
    assert_eq!(o.code, 0, "{}", o.err);
    let cfg = c.lkroot("node-a").join("config");
    let arch: Vec<String> = list_files(&cfg)
        .into_iter()
        .filter(|f| f.starts_with("archive."))
        .collect();
    assert_eq!(arch.len(), 1);
    assert_eq!(arch[0].len(), "archive.1909191105.tar.gz".len());
    // the real tool names the node first (field evidence, [SEED])
    assert_eq!(
        o.out,
        format!(
            "Executing on node-a\nCreating archive {}\n",
            cfg.join(&arch[0]).display()
        )
    );
    // contents
    let list = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(cfg.join(&arch[0]))
        .output()
        .unwrap();
    let l = String::from_utf8_lossy(&list.stdout);
    assert!(l.contains("opt/LifeKeeper/config/hierarchy.json"));
    assert!(l.contains("etc/default/LifeKeeper"));
    assert!(!l.contains("archive."));
    // the created resources' configuration files are in it too, LK_INITDONE (runtime) is not
    assert!(
        l.contains("opt/LifeKeeper/subsys/gen/resources/filesys/filesys1234.conf"),
        "{l}"
    );
    assert!(c.lkroot("node-a").join("config/LK_INITDONE").exists());
    assert!(!l.contains("LK_INITDONE"), "{l}");
    // explicit file; two backups of an unchanged config have identical content
    let f1 = c.dir.join("b1.tar.gz");
    let f2 = c.dir.join("b2.tar.gz");
    assert_eq!(
        c.lk("node-a", "lkbackup", &["-c", "-f", f1.to_str().unwrap()])
            .code,
        0
    );
    // switching resources changes runtime state, not the config
    assert_eq!(
        c.lk(
            "node-b",
            "perform_action",
            &["-t", "app-pgsql", "-a", "restore"]
        )
        .code,
        0
    );
    assert_eq!(
        c.lk("node-a", "lkbackup", &["-c", "-f", f2.to_str().unwrap()])
            .code,
        0
    );
    let x1 = c.dir.join("x1");
    let x2 = c.dir.join("x2");
    for (f, x) in [(&f1, &x1), (&f2, &x2)] {
        std::fs::create_dir_all(x).unwrap();
        assert!(std::process::Command::new("tar")
            .arg("-xzf")
            .arg(f)
            .arg("-C")
            .arg(x)
            .status()
            .unwrap()
            .success());
    }
    let h1 = std::fs::read(x1.join("opt/LifeKeeper/config/hierarchy.json")).unwrap();
    let h2 = std::fs::read(x2.join("opt/LifeKeeper/config/hierarchy.json")).unwrap();
    assert_eq!(h1, h2);
    // restore refuses while running
    let o = c.lk("node-a", "lkbackup", &["-x", "-f", f1.to_str().unwrap()]);
    assert_ne!(o.code, 0);
    // restore after losing the config
    assert_eq!(c.lk("node-a", "lkstop", &[]).code, 0);
    std::fs::write(c.lkroot("node-a").join("config/hierarchy.json"), "[]\n").unwrap();
    std::fs::write(
        c.root("node-a").join("etc/default/LifeKeeper"),
        "LKROOT=/opt/LifeKeeper\n",
    )
    .unwrap();
    assert_eq!(
        c.node_state("node-a")["resources"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let o = c.lk("node-a", "lkbackup", &["-x", "-f", f1.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(
        c.node_state("node-a")["resources"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    let d = std::fs::read_to_string(c.root("node-a").join("etc/default/LifeKeeper")).unwrap();
    assert!(d.contains("REMOTETIMEOUT=900"));
}

#[test]
fn fault_halfway_lkbackup_truncates() {
    let c = Cluster::create("backup-full", &[]);
    assert_eq!(
        lksim(&[
            "fault",
            "set",
            "node-a",
            "lkbackup",
            "halfway",
            "--dir",
            c.d()
        ])
        .code,
        0
    );
    let f = c.dir.join("b.tar.gz");
    let o = c.lk("node-a", "lkbackup", &["-c", "-f", f.to_str().unwrap()]);
    assert_ne!(o.code, 0);
    assert!(o.err.contains("No space left on device"));
    assert!(f.exists());
    let t = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(&f)
        .output()
        .unwrap();
    assert!(!t.status.success(), "archive should be truncated");
}

#[test]
fn rmlk_prompt_and_removal() {
    let c = Cluster::create("rmlk", &[]);
    assert_eq!(c.lk("node-b", "lkbackup", &["-c"]).code, 0);
    let o = c.lk_in("node-b", "rmlk", &[], Some("no\n"));
    assert_ne!(o.code, 0);
    assert!(o
        .out
        .contains("Do you wish to continue (answering \"no\" will abort uninstall) (y/n) [n] ?"));
    assert!(c.lkroot("node-b").join("config/hierarchy.json").exists());
    let o = c.lk_in("node-b", "rmlk", &[], Some("\n"));
    assert_ne!(o.code, 0);
    assert_eq!(c.sys("node-b", "rpm", &["-q", "steeleye-lk"]).code, 0);
    let o = c.lk_in("node-b", "rmlk", &[], Some("y\n"));
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    assert!(
        !c.lkroot("node-b").exists(),
        "LKROOT incl. config and archives removed"
    );
    assert!(!c.root("node-b").join("etc/default/LifeKeeper").exists());
    let o = c.sys("node-b", "rpm", &["-q", "steeleye-lk"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.out, "package steeleye-lk is not installed\n");
    let qa = c.sys("node-b", "rpm", &["-qa"]).out;
    assert!(!qa.contains("steeleye"));
    assert!(qa.contains("bash"));
    let s = c.node_state("node-b");
    assert_eq!(s["installed"], false);
    assert_eq!(s["running"], false);
    // the peer now sees its comm paths DEAD
    let o = c.lk("node-a", "lcdstatus", &["-e"]);
    assert!(o.out.contains("DEAD"));
}

#[test]
fn lksupport_writes_archive() {
    let c = Cluster::create("lksupport", &[]);
    let o = c.lk("node-a", "lksupport", &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    // the worst case: no path printed; the bundle has its documented name [SEED §6.1]
    assert!(!o.out.contains(".tar.gz"), "{}", o.out);
    let dir = c.root("node-a").join("tmp/lksupport");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let n = &names[0];
    let stamp = n
        .strip_prefix("node-a.lksupport.")
        .and_then(|r| r.strip_suffix(".tar.gz"))
        .unwrap_or_else(|| panic!("{n}"));
    assert!(
        stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()),
        "{n}"
    );
}

#[test]
fn concurrent_commands_keep_state_consistent() {
    let c = std::sync::Arc::new(Cluster::create("concurrent", &[]));
    let mut hs = Vec::new();
    for k in 0..6 {
        let c = c.clone();
        hs.push(std::thread::spawn(move || {
            let n = if k % 2 == 0 { "node-a" } else { "node-b" };
            for _ in 0..3 {
                let o = c.lk(n, "perform_action", &["-t", "app-pgsql", "-a", "restore"]);
                assert_eq!(o.code, 0, "{}", o.err);
                assert_eq!(c.lk(n, "lcdstatus", &["-e"]).code, 0);
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    for t in ALL {
        let a = c.res_state("node-a", t);
        let b = c.res_state("node-b", t);
        assert!((a == "ISP") ^ (b == "ISP"), "{t}: {a} {b}");
    }
}

#[test]
fn halfway_on_other_commands_fails() {
    let c = Cluster::create("halfway-other", &[]);
    lksim(&[
        "fault",
        "set",
        "node-a",
        "lkstop",
        "halfway",
        "--dir",
        c.d(),
    ]);
    assert_eq!(c.lk("node-a", "lkstop", &[]).code, 1);
    assert_eq!(c.node_state("node-a")["running"], true);
}

//! lksim against the field evidence (issue 16): lktest, LK_INITDONE, lcdremexec's remote
//! shell, lkstop/rmlk/lkbackup texts, the detailed lcdstatus layout, kits shipped apart,
//! rpm -qf, tags with `/` and multi-byte characters.
mod common;
use common::*;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/transcripts")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn lktest_and_lk_initdone_follow_start_and_stop() {
    let c = Cluster::create("lktest", &[]);
    let done = c.lkroot("node-a").join("config/LK_INITDONE");
    assert_eq!(c.lk("node-a", "lktest", &[]).code, 0);
    assert!(done.exists(), "a running node has finished its start");
    assert_eq!(c.lk("node-a", "lkstop", &[]).code, 0);
    assert_ne!(c.lk("node-a", "lktest", &[]).code, 0);
    assert!(!done.exists(), "removed on stop");
    assert_eq!(c.lk("node-a", "lkstart", &[]).code, 0);
    assert_eq!(c.lk("node-a", "lktest", &[]).code, 0);
    assert!(done.exists());
    assert_eq!(c.node_state("node-a")["lk_initdone"], true);
}

#[test]
fn lk_initdone_appears_the_lkstart_time_after_a_start() {
    let dir = tmpdir("initdone-timing");
    let t = dir.join("timings.json");
    std::fs::write(&t, r#"{"lkstart": 100, "scale": 0.01}"#).unwrap();
    let d = dir.join("c");
    let o = lksim(&[
        "cluster",
        "create",
        "--dir",
        d.to_str().unwrap(),
        "--nodes",
        "a,b",
        "--stopped",
        "--timings",
        t.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let lk = d.join("a/opt/LifeKeeper");
    let done = lk.join("config/LK_INITDONE");
    assert!(!done.exists());
    let t0 = Instant::now();
    let o = run_cmd(std::process::Command::new(lk.join("bin/lkstart")), None);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "lkstart returns at once"
    );
    // running, but start-up has not finished yet
    assert_eq!(
        run_cmd(std::process::Command::new(lk.join("bin/lktest")), None).code,
        0
    );
    assert!(!done.exists(), "LK_INITDONE only after 100 s x 0.01");
    while !done.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "LK_INITDONE never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn lcdremexec_reparses_its_words_with_a_shell_on_the_far_side() {
    let c = Cluster::create("remsh", &[]);
    let mark = c.dir.join("INJECTED");
    let m = mark.to_str().unwrap().to_string();
    // unquoted: the far side's shell runs the second command (as the real one would)
    let o = c.lk(
        "node-a",
        "lcdremexec",
        &["-d", "node-b", "--", "echo", "x;", "touch", &m],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(mark.exists(), "the joined words were parsed again by sh");
    std::fs::remove_file(&mark).unwrap();
    // quoted for the remote shell: one word, nothing extra runs; multi-byte survives
    let word = format!("'x; touch {m} $(touch {m}) データ'");
    let o = c.lk(
        "node-a",
        "lcdremexec",
        &["-d", "node-b", "--", "echo", &word],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.out, format!("x; touch {m} $(touch {m}) データ\n"));
    assert!(!mark.exists());
    // without -e the remote stderr is merged into stdout; with -e it stays apart
    let script = "'echo out; echo err >&2; exit 4'";
    let o = c.lk(
        "node-a",
        "lcdremexec",
        &["-d", "node-b", "--", "sh", "-c", script],
    );
    assert_eq!(
        (o.code, o.out.as_str(), o.err.as_str()),
        (4, "out\nerr\n", "")
    );
    let o = c.lk(
        "node-a",
        "lcdremexec",
        &["-e", "-d", "node-b", "--", "sh", "-c", script],
    );
    assert_eq!(
        (o.code, o.out.as_str(), o.err.as_str()),
        (4, "out\n", "err\n")
    );
    // a node's own $LKROOT path means the same path on the target
    let own = c.lkroot("node-a").join("bin/lcdstatus");
    let o = c.lk(
        "node-a",
        "lcdremexec",
        &["-d", "node-b", "--", &format!("'{}'", own.display()), "-q"],
    );
    assert_eq!(o.code, 0, "{}", o.out);
    assert!(o.out.contains("node-b"), "{}", o.out);
}

#[test]
fn lkstop_and_rmlk_print_what_real_nodes_print() {
    let c = Cluster::create("stoptext", &[]);
    let o = c.lk("node-b", "lkstop", &[]);
    assert_eq!(o.code, 0);
    assert_eq!(o.out, fixture("lkstop.txt"));
    assert_eq!(c.node_state("node-b")["boot_enabled"], false);
    // a stopped node's lkstop: the unit is already disabled, nothing to say (UNCONFIRMED)
    let o = c.lk("node-b", "lkstop", &[]);
    assert_eq!(
        (o.code, o.out.as_str()),
        (0, "LifeKeeper is not running.\n")
    );
    // lkstart enables the unit again and systemctl says so, nothing else (field evidence [MH])
    let o = c.lk("node-b", "lkstart", &[]);
    assert_eq!(o.code, 0);
    assert_eq!(o.out, fixture("lkstart.txt"));
    assert_eq!(c.node_state("node-b")["boot_enabled"], true);
    // started with the unit enabled: silent (UNCONFIRMED)
    assert_eq!(c.lk("node-b", "lkstop", &["-f"]).code, 0);
    let o = c.lk("node-b", "lkstart", &[]);
    assert_eq!((o.code, o.out.as_str()), (0, ""));
    // rmlk stops LifeKeeper itself and removes everything under /opt/LifeKeeper, kits too
    let o = lksim(&["kit", "install", "node-b", "HANA2-ARK", "--dir", c.d()]);
    assert_eq!(o.code, 0, "{}", o.err);
    let lk = c.lkroot("node-b");
    assert!(lk.join("HANA2-ARK/README").is_file());
    assert!(lk
        .join("lkadm/subsys/gen/app/bin/hana2-ark-restore")
        .is_file());
    assert_eq!(c.lk("node-b", "lkbackup", &["-c"]).code, 0);
    // rmlk after a plain lkstop, as in the vendor guide's §5: its block, byte for byte
    assert_eq!(c.lk("node-b", "lkstop", &[]).code, 0);
    let o = c.lk_in("node-b", "rmlk", &[], Some("y\n"));
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.out, fixture("rmlk.txt"));
    assert!(!lk.exists(), "rmlk leaves nothing under /opt/LifeKeeper");
    let s = c.node_state("node-b");
    assert_eq!(s["installed"], false);
    assert_eq!(s["running"], false);
}

#[test]
fn rpm_qf_tells_which_files_no_package_owns() {
    let c = Cluster::create("rpmqf", &[]);
    assert_eq!(
        lksim(&["kit", "install", "node-a", "HANA2-ARK", "--dir", c.d()]).code,
        0
    );
    let lk = c.lkroot("node-a");
    let owned = lk.join("bin/lcdstatus");
    let kit = lk.join("lkadm/subsys/gen/app/bin/hana2-ark-remove");
    let o = c.sys("node-a", "rpm", &["-qf", owned.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.out);
    assert!(o.out.starts_with("steeleye-lk-9.4.0-"), "{}", o.out);
    let o = c.sys("node-a", "rpm", &["-qf", kit.to_str().unwrap()]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.out,
        format!("file {} is not owned by any package\n", kit.display())
    );
    // the node's own view of the path works too (a node root of / in a container)
    let o = c.sys("node-a", "rpm", &["-qf", "/opt/LifeKeeper/bin/lktest"]);
    assert_eq!(o.code, 0, "{}", o.out);
    let o = c.sys("node-a", "rpm", &["-qf", "/opt/LifeKeeper/nope"]);
    assert_eq!(o.code, 1);
    assert!(o.out.contains("No such file"), "{}", o.out);
    let o = c.sys("node-a", "rpm", &["-ql", "steeleye-lk"]);
    assert!(
        o.out.lines().any(|l| l == owned.to_str().unwrap()),
        "{}",
        o.out
    );
}

#[test]
fn detailed_lcdstatus_has_the_real_layout() {
    let c = Cluster::create("long", &[]);
    let o = c.lk("node-a", "lcdstatus", &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(o.out, fixture("lcdstatus-detailed.txt"));
    assert_eq!(o.out.matches("ROOT of RESOURCE HIERARCHY").count(), 2);
}

#[test]
fn tags_may_start_with_a_slash_and_hold_multibyte_characters() {
    let spec = r#"[{"tag":"/export","id":"/export","type":"filesys","children":["データ-disk"]},
                   {"tag":"データ-disk","id":"WWID-1","app":"scsi","type":"disk"}]"#;
    let c = Cluster::create("mb", &["--hierarchies", spec]);
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "/export", "-a", "restore"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(c.res_state("node-b", "/export"), "ISP");
    assert_eq!(c.res_state("node-b", "データ-disk"), "ISP");
    assert_eq!(c.res_state("node-a", "/export"), "OSU");
    let o = c.lk("node-b", "lcdstatus", &["-e"]);
    assert!(
        o.out.contains("/export") && o.out.contains(" データ-disk"),
        "{}",
        o.out
    );
    let o = c.lk("node-b", "lcdstatus", &[]);
    assert!(
        o.out
            .contains("/export: id=/export app=gen type=filesys state=ISP"),
        "{}",
        o.out
    );
    // its configuration file (the tag encoded) goes into lkbackup
    assert!(c
        .lkroot("node-b")
        .join("subsys/gen/resources/filesys/%2Fexport.conf")
        .is_file());
    // a switchover back through lcdremexec with the tag quoted for the remote shell
    let o = c.lk(
        "node-b",
        "lcdremexec",
        &[
            "-d",
            "node-a",
            "--",
            "perform_action",
            "-t",
            "'/export'",
            "-a",
            "restore",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.out);
    assert_eq!(c.res_state("node-a", "/export"), "ISP");
}

#[test]
fn perform_action_records_start_and_end_of_each_resource() {
    let c = Cluster::create("records", &[]);
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-pgsql", "-a", "restore"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    let a = c.node_state("node-a")["actions"]
        .as_array()
        .unwrap()
        .clone();
    let b = c.node_state("node-b")["actions"]
        .as_array()
        .unwrap()
        .clone();
    // removed on node-a parents first, restored on node-b children first
    assert_eq!(a.first().unwrap()["tag"], "app-pgsql");
    assert!(a
        .iter()
        .all(|r| r["action"] == "remove" && r["result"] == "ok"));
    assert_eq!(b.last().unwrap()["tag"], "app-pgsql");
    assert!(b.iter().all(|r| r["action"] == "restore"));
    let ms = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
    assert!(ms(&a[0], "started_ms") <= ms(b.last().unwrap(), "ended_ms"));
    assert!(a[0]["started"].as_str().unwrap().ends_with('Z'));
}

//! DataKeeper mirrors (issue 17): resource type netraid, a mirror per target that is in
//! sync, resyncing or paused, and the rule that a hierarchy with a mirror cannot come into
//! service on a target that is not in sync.
mod common;
use common::*;
use std::time::{Duration, Instant};

const SPEC: &str = r#"[{"tag":"app-x","id":"app-x","children":["datarep-x"]},
 {"tag":"datarep-x","id":"/dev/md0","app":"scsi","type":"netraid"}]"#;

fn mirror(c: &Cluster, node: &str) -> String {
    let o = c.lk(node, "mirror_status", &["datarep-x"]);
    assert_eq!(o.code, 0, "{}", o.err);
    o.out
}

fn target_line(status: &str, target: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(&format!("Target: {target} ")))
        .unwrap_or_else(|| panic!("no target {target} in {status}"))
        .to_string()
}

fn wait_in_sync(c: &Cluster, node: &str, target: &str, secs: u64) {
    let t = Instant::now();
    while !target_line(&mirror(c, node), target).contains("State: in sync") {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{}",
            mirror(c, node)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_restarted_target_resyncs_and_refuses_the_hierarchy_until_in_sync() {
    let c = Cluster::create("dk", &["--hierarchies", SPEC, "--resync-seconds", "1.5"]);
    let s = mirror(&c, "node-a");
    assert!(s.starts_with("Mirror: datarep-x\nSource: node-a\n"), "{s}");
    assert_eq!(
        target_line(&s, "node-b"),
        "Target: node-b  State: in sync  Progress: 100%"
    );
    // the target's LifeKeeper starts again (an upgrade, a restart): a resync starts
    assert_eq!(c.lk("node-b", "lkstop", &[]).code, 0);
    assert_eq!(c.lk("node-b", "lkstart", &[]).code, 0);
    let l = target_line(&mirror(&c, "node-a"), "node-b");
    assert!(l.contains("State: resyncing"), "{l}");
    // switching onto the resyncing target fails before anything is removed
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-x", "-a", "restore"],
    );
    assert_eq!(o.code, 1, "{}", o.out);
    assert!(
        o.err.contains("datarep-x") && o.err.contains("not in sync"),
        "{}",
        o.err
    );
    assert_eq!(c.res_state("node-a", "app-x"), "ISP");
    assert_eq!(c.res_state("node-a", "datarep-x"), "ISP");
    assert_eq!(c.node_state("node-a")["mirrors"][0]["state"], "resyncing");
    wait_in_sync(&c, "node-a", "node-b", 10);
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-x", "-a", "restore"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(c.res_state("node-b", "app-x"), "ISP");
    // the source changed: node-a is now the target and resyncs
    let s = mirror(&c, "node-b");
    assert!(s.contains("Source: node-b"), "{s}");
    assert!(target_line(&s, "node-a").contains("resyncing"), "{s}");
    let o = c.lk(
        "node-a",
        "perform_action",
        &["-t", "app-x", "-a", "restore"],
    );
    assert_eq!(o.code, 1);
    assert_eq!(c.res_state("node-b", "app-x"), "ISP");
    wait_in_sync(&c, "node-b", "node-a", 10);
    assert_eq!(
        c.lk(
            "node-a",
            "perform_action",
            &["-t", "app-x", "-a", "restore"]
        )
        .code,
        0
    );
    // the detailed display shows the resource type
    let o = c.lk("node-a", "lcdstatus", &[]);
    assert!(
        o.out
            .contains("datarep-x: id=/dev/md0 app=scsi type=netraid state=ISP"),
        "{}",
        o.out
    );
}

#[test]
fn mirror_resync_pause_resume_force() {
    let c = Cluster::create("dk-act", &["--hierarchies", SPEC]);
    // default resync time is 0: a restart leaves the mirror in sync at once
    assert_eq!(c.lk("node-b", "lkstop", &[]).code, 0);
    assert_eq!(c.lk("node-b", "lkstart", &[]).code, 0);
    assert!(target_line(&mirror(&c, "node-a"), "node-b").contains("in sync"));
    let o = lksim(&[
        "mirror",
        "resync",
        "node-b",
        "datarep-x",
        "--seconds",
        "60",
        "--dir",
        c.d(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let l = target_line(&mirror(&c, "node-a"), "node-b");
    assert!(
        l.contains("State: resyncing  Progress: 0%  Remaining: 60s"),
        "{l}"
    );
    // the source is no target
    let o = lksim(&["mirror", "resync", "node-a", "datarep-x", "--dir", c.d()]);
    assert_eq!(o.code, 1);
    // mirror_action runs on the source
    let o = c.lk("node-b", "mirror_action", &["datarep-x", "pause"]);
    assert_eq!(o.code, 1, "{}", o.out);
    let o = c.lk("node-a", "mirror_action", &["datarep-x", "pause"]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(
        target_line(&mirror(&c, "node-a"), "node-b"),
        "Target: node-b  State: paused  Progress: 0%"
    );
    assert_eq!(
        c.lk(
            "node-b",
            "perform_action",
            &["-t", "app-x", "-a", "restore"]
        )
        .code,
        1
    );
    assert_eq!(
        c.lk("node-a", "mirror_action", &["datarep-x", "resume"])
            .code,
        0
    );
    // resumed with a resync of the default length (0 s): in sync
    assert!(target_line(&mirror(&c, "node-a"), "node-b").contains("in sync"));
    assert_eq!(
        lksim(&[
            "mirror",
            "resync",
            "node-b",
            "datarep-x",
            "--seconds",
            "60",
            "--dir",
            c.d()
        ])
        .code,
        0
    );
    assert_eq!(
        c.lk("node-a", "mirror_action", &["datarep-x", "force", "node-b"])
            .code,
        0
    );
    assert!(target_line(&mirror(&c, "node-a"), "node-b").contains("in sync"));
    let o = c.lk(
        "node-a",
        "mirror_action",
        &["datarep-x", "fullresync", "node-x"],
    );
    assert_eq!(o.code, 1);
    let o = c.lk("node-a", "mirror_action", &["app-x", "pause"]);
    assert_eq!(o.code, 1);
    assert!(o.err.contains("not a mirror"), "{}", o.err);
    assert_eq!(
        c.lk(
            "node-b",
            "perform_action",
            &["-t", "app-x", "-a", "restore"]
        )
        .code,
        0
    );
}

#[test]
fn resync_restore_removes_source_leaves_the_hierarchy_out_of_service_everywhere() {
    let c = Cluster::create(
        "dk-worst",
        &["--hierarchies", SPEC, "--resync-restore", "removes-source"],
    );
    assert_eq!(
        lksim(&[
            "mirror",
            "resync",
            "node-b",
            "datarep-x",
            "--seconds",
            "60",
            "--dir",
            c.d()
        ])
        .code,
        0
    );
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-x", "-a", "restore"],
    );
    assert_eq!(o.code, 1, "{}", o.out);
    for n in ["node-a", "node-b"] {
        assert!(
            !["ISP", "ISU"].contains(&c.res_state(n, "app-x").as_str()),
            "{n}"
        );
    }
    // it can come back on the node that was its source
    assert_eq!(
        c.lk(
            "node-a",
            "perform_action",
            &["-t", "app-x", "-a", "restore"]
        )
        .code,
        0
    );
    assert_eq!(c.res_state("node-a", "app-x"), "ISP");
}

#[test]
fn a_witness_node_holds_no_hierarchy_and_is_no_mirror_target() {
    let dir = tmpdir("witness");
    let o = lksim(&[
        "cluster",
        "create",
        "--dir",
        dir.to_str().unwrap(),
        "--nodes",
        "node-a,node-b,node-w",
        "--witness",
        "node-w",
        "--hierarchies",
        SPEC,
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let c = Cluster {
        dir: dir.canonicalize().unwrap(),
        info: serde_json::from_str(&o.out).unwrap(),
    };
    let w = c.node_state("node-w");
    assert_eq!(w["resources"].as_array().unwrap().len(), 0);
    assert_eq!(w["witness"], true);
    let s = mirror(&c, "node-a");
    assert!(!s.contains("node-w"), "{s}");
    let a = c.node_state("node-a");
    let eq = &a["resources"][0]["equivalents"];
    assert!(!eq.to_string().contains("node-w"), "{eq}");
    // it still has comm paths to both data nodes
    let o = c.lk("node-w", "lcdstatus", &["-e"]);
    assert!(
        o.out.contains("node-a") && o.out.contains("node-b"),
        "{}",
        o.out
    );
}

mod common;
use common::*;
use lksim::status::{render_short, PathRow, ResRow};

/// The vendor sample (docs 9.6.0/short-status-display), as quoted in
/// shared/reference/lifekeeper.md §1.2; one file shared with lkops' parser tests.
const VENDOR_SAMPLE: &str = include_str!("../../tests/fixtures/lcdstatus-e.vendor.txt");

#[test]
fn lcdstatus_layout_matches_vendor_sample() {
    let r = |tag: &str, depth, id: &str| ResRow {
        first: "svr1".into(),
        tag: tag.into(),
        depth,
        id: id.into(),
        state: "ISP".into(),
        prio: "1".into(),
        primary: "svr2".into(),
    };
    let rows = vec![
        r("appfs3910-on-svr1", 0, "appfs4238"),
        r("filesys4083", 1, "/jrl1"),
        r("device2126", 2, "000…300-1"),
        r("disk2083", 3, "000…300"),
    ];
    let p = |net: &str, addr: &str, prio: &str| PathRow {
        machine: "svr1".into(),
        network: net.into(),
        address: addr.into(),
        state: "ALIVE".into(),
        prio: prio.into(),
    };
    let paths = vec![
        p("TCP", "100.10.1.20/100.11.1.21", "1"),
        p("TTY", "/dev/ttyS0", "--"),
    ];
    let got = render_short("BACKUP", Some("svr2"), &rows, &paths);
    let g: Vec<&str> = got.lines().collect();
    let want: Vec<&str> = VENDOR_SAMPLE.lines().collect();
    for (i, (a, b)) in g.iter().zip(want.iter()).enumerate() {
        assert_eq!(a, b, "line {} differs", i + 1);
    }
    assert_eq!(g.len(), want.len());
}

#[test]
fn lcdstatus_live_layout_and_stopped() {
    let c = Cluster::create("status", &[]);
    let o = c.lk("node-a", "lcdstatus", &["-e"]);
    assert_eq!(o.code, 0, "{}", o.err);
    let lines: Vec<&str> = o.out.lines().collect();
    assert_eq!(lines[0], "Resource Hierarchy Information");
    assert!(lines[2].starts_with("BACKUP   TAG"));
    // child indented one extra space per level
    let pg = lines.iter().find(|l| l.contains("pgsql-5432")).unwrap();
    assert!(pg.contains("node-b    pgsql-5432"), "{pg}");
    let disk = lines.iter().find(|l| l.contains("disk9012 ")).unwrap();
    assert!(disk.contains("       disk9012"), "{disk}");
    assert!(o.out.contains("Communication Status Information"));
    assert!(o.out.contains("MACHINE  NETWORK ADDRESSES/DEVICE"));
    // on node-b (lowest priority) BACKUP is dashes
    let o = c.lk("node-b", "lcdstatus", &["-e"]);
    assert!(
        o.out.lines().nth(3).unwrap().starts_with("------"),
        "{}",
        o.out
    );
    assert!(o.out.contains("OSU"));
    // -q: LOCAL column
    let o = c.lk("node-b", "lcdstatus", &["-q"]);
    assert!(o.out.contains("LOCAL    TAG"));
    assert!(o.out.lines().nth(3).unwrap().starts_with("node-b"));
    // stopped: the real sentence (field evidence [MH]) in every form; stdout and exit 0, the
    // worst case for a parser (the real stream and exit code are not public)
    assert_eq!(c.lk("node-a", "lkstop", &[]).code, 0);
    for args in [&["-e"][..], &["-q"], &[], &["-d", "node-b", "-e"]] {
        let o = c.lk("node-a", "lcdstatus", args);
        assert_eq!(
            (o.code, o.out.as_str(), o.err.as_str()),
            (0, "LifeKeeper does not appear to be running.\n", ""),
            "{args:?}"
        );
    }
    // peer's comm paths to the stopped node are DEAD
    let o = c.lk("node-b", "lcdstatus", &["-e"]);
    assert!(o.out.contains("DEAD"));
    assert!(!o.out.contains("ALIVE"));
}

#[test]
fn one_dead_path_one_alive() {
    let c = Cluster::create("paths", &[]);
    assert_eq!(
        lksim(&[
            "commpath",
            "down",
            "node-a",
            "node-b",
            "--prio",
            "2",
            "--dir",
            c.d()
        ])
        .code,
        0
    );
    let o = c.lk("node-a", "lcdstatus", &["-e"]);
    let l1 = o.out.lines().find(|l| l.contains("10.0.0.1/")).unwrap();
    let l2 = o.out.lines().find(|l| l.contains("192.168.10.1/")).unwrap();
    assert!(l1.contains("ALIVE") && l2.contains("DEAD"), "{}", o.out);
    let o = c.lk("node-b", "lcdstatus", &["-e"]);
    assert!(o
        .out
        .lines()
        .find(|l| l.contains("192.168.10.2/"))
        .unwrap()
        .contains("DEAD"));
}

#[test]
fn rpm_queries() {
    let c = Cluster::create("rpm", &["--kits", "lkIP,lkNFS"]);
    let o = c.sys("node-a", "rpm", &["-q", "steeleye-lk"]);
    assert_eq!(
        (o.code, o.out.as_str()),
        (0, "steeleye-lk-9.4.0-7963.x86_64\n")
    );
    let o = c.sys(
        "node-a",
        "rpm",
        &["-q", "--qf", "%{VERSION}\\n", "steeleye-lk"],
    );
    assert_eq!(o.out, "9.4.0\n");
    let o = c.sys(
        "node-a",
        "rpm",
        &[
            "-q",
            "--queryformat=%{NAME} %{RELEASE} %{ARCH}\\n",
            "steeleye-lk",
        ],
    );
    assert_eq!(o.out, "steeleye-lk 7963 x86_64\n");
    let o = c.sys("node-a", "rpm", &["-qa"]);
    for p in [
        "steeleye-lk-9.4.0",
        "steeleye-lkGUI-",
        "steeleye-lkDR-",
        "steeleye-lkIP-",
        "steeleye-lkNFS-",
    ] {
        assert!(o.out.contains(p), "{p} missing in {}", o.out);
    }
    let o = c.sys("node-a", "rpm", &["-qa", "steeleye-lk*"]);
    assert!(!o.out.contains("bash"));
    let o = c.sys("node-a", "rpm", &["-q", "steeleye-lkSAP"]);
    assert_eq!(
        (o.code, o.out.as_str()),
        (1, "package steeleye-lkSAP is not installed\n")
    );
    let o = c.sys("node-a", "rpm", &["-e", "--nodeps", "steeleye-lkNFS"]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(c.sys("node-a", "rpm", &["-q", "steeleye-lkNFS"]).code, 1);
    let o = c.sys("node-a", "rpm", &["-e", "steeleye-lkNFS"]);
    assert_eq!(o.code, 1);
    assert!(o.err.contains("is not installed"));
    assert_eq!(c.sys("node-a", "getenforce", &[]).out, "Disabled\n");
    assert_eq!(c.sys("node-a", "uname", &["-n"]).out, "node-a\n");
    // through PATH as a shell would find it
    let o = c.sys(
        "node-b",
        "sh",
        &["-c", "rpm -q --qf '%{VERSION}' steeleye-lk"],
    );
    assert_eq!(o.out, "9.4.0");
}

#[test]
fn cluster_create_refuses_existing_dir_unless_force() {
    let c = Cluster::create("exists", &[]);
    let o = lksim(&[
        "cluster",
        "create",
        "--dir",
        c.d(),
        "--nodes",
        "x,y",
        "--version",
        "9.4.0",
    ]);
    assert_ne!(o.code, 0);
    let o = lksim(&[
        "cluster",
        "create",
        "--dir",
        c.d(),
        "--nodes",
        "x,y",
        "--version",
        "9.6.1",
        "--force",
        "--selinux",
        "permissive",
        "--stopped",
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(!c.dir.join("node-a").exists());
    let s = c.state();
    assert_eq!(s["nodes"][0]["version"], "9.6.1");
    assert_eq!(s["nodes"][0]["running"], false);
    assert_eq!(s["nodes"][0]["selinux"], "permissive");
}

#[test]
fn custom_hierarchies_spec() {
    let spec = r#"{"active":"node-b","resources":[
        {"tag":"nfs-/export","id":"/export/data.v1","app":"gen","type":"nfs","children":["fs-x"]},
        {"tag":"fs-x","id":"/export","type":"filesys"}]}"#;
    let c = Cluster::create("spec", &["--hierarchies", spec]);
    assert_eq!(c.res_state("node-b", "nfs-/export"), "ISP");
    assert_eq!(c.res_state("node-a", "fs-x"), "OSU");
    let o = c.lk("node-a", "lcdstatus", &["-e"]);
    assert!(o.out.contains(" fs-x"));
}

/// A running node with no resource and no comm path: `lcdstatus -q` prints the header alone, the
/// LOCAL column the node name plus 2 wide, TAG and ID 6 wide (field evidence [MH], verbatim).
#[test]
fn empty_node_prints_the_header_alone_in_the_real_widths() {
    let dir = tmpdir("empty-q");
    let d = dir.join("c");
    for (name, want) in [
        (
            "vmslvhdb1",
            "LOCAL      TAG   ID    STATE     PRIO  PRIMARY\n",
        ),
        (
            "vmslvascs1",
            "LOCAL       TAG   ID    STATE     PRIO  PRIMARY\n",
        ),
    ] {
        let o = lksim(&[
            "cluster",
            "create",
            "--dir",
            d.to_str().unwrap(),
            "--nodes",
            name,
            "--hierarchies",
            "[]",
            "--force",
        ]);
        assert_eq!(o.code, 0, "{}", o.err);
        let mut cmd = std::process::Command::new(d.join(name).join("opt/LifeKeeper/bin/lcdstatus"));
        cmd.arg("-q");
        let q = run_cmd(cmd, None);
        assert_eq!((q.code, q.out.as_str()), (0, want));
    }
}

//! lk_capture (issue 18): the module contract, the canary (no license content, no redacted
//! value anywhere), the round trip lk_capture -> lksim twin create -> lksim twin check for
//! several cluster shapes, and the replay of every capture under tests/fixtures/captures/.

use crate::common::{bin, scratch, tree_hash, Cluster, Node};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const CANARY_LICENSE: &str = "LICENSE-CANARY-9f3kQ";
const CANARY_SECRET: &str = "secret-canary-Zp81x";

fn args(n: &Node, dest: Option<&Path>) -> Value {
    let mut a = json!({
        "lkroot": n.lkroot, "defaults_file": n.defaults_file,
        "license_dir": n.root.join("var/LifeKeeper/license"),
    });
    if let Some(d) = dest {
        a["dest"] = json!(d);
    }
    a
}

fn capture_all(c: &Cluster, dest: &Path) {
    for n in &c.nodes {
        let (v, rc) = n.module("lk_capture", args(n, Some(dest)));
        assert_eq!(rc, 0, "{v}");
        assert_eq!(v["node"], n.name.as_str(), "{v}");
    }
}

fn lksim(a: &[&str]) -> (i32, String, String) {
    let o = Command::new(bin("lksim")).args(a).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn twin_round_trip(from: &Path, twin: &Path) -> Value {
    let (rc, out, err) = lksim(&[
        "twin",
        "create",
        "--from",
        from.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(rc, 0, "twin create: {err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let (rc, out, err) = lksim(&[
        "twin",
        "check",
        "--from",
        from.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
    ]);
    assert_eq!(rc, 0, "twin check found differences:\n{out}{err}");
    assert!(out.contains("no difference"), "{out}");
    created
}

/// Set resource states on a node directly (a shape lksim commands cannot reach on purpose).
fn set_states(n: &Node, states: &[(&str, &str)]) {
    let f = n.root.join("var/lib/lksim/node.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
    for (t, s) in states {
        v["states"][*t] = json!(s);
    }
    std::fs::write(&f, v.to_string()).unwrap();
}

#[test]
fn capture_dir_has_every_named_file_a_manifest_and_verifiable_sums() {
    let c = Cluster::create("capture-files", &["node-a", "node-b"], "9.4.0", &[]);
    let dest = scratch("capture-files-dest");
    let n = c.node("node-a");
    let (v, rc) = n.module("lk_capture", args(n, Some(&dest)));
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], true);
    let dir = dest.join("node-a");
    for f in [
        "lcdstatus-e.out",
        "lcdstatus-q.out",
        "lcdstatus.out",
        "lktest.out",
        "rpm-qa.out",
        "defaults.txt",
        "uname-a.out",
        "os-release.txt",
        "getenforce.out",
        "license-files.txt",
        "manifest.json",
        "SHA256SUMS",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    // Each file holds the command's stdout exactly as printed.
    let e = n.lk("lcdstatus", &["-e"]);
    assert_eq!(
        std::fs::read(dir.join("lcdstatus-e.out")).unwrap(),
        e.stdout
    );
    let rpm = Command::new(n.path.join("rpm"))
        .arg("-qa")
        .output()
        .unwrap();
    assert_eq!(std::fs::read(dir.join("rpm-qa.out")).unwrap(), rpm.stdout);
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["schema_version"], 1);
    assert_eq!(m["node"], "node-a");
    assert!(m["time"].as_str().unwrap().len() >= 19);
    let cmd = m["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == "lcdstatus-e.out")
        .unwrap();
    assert_eq!(cmd["argv"], json!([n.lkroot.join("bin/lcdstatus"), "-e"]));
    assert_eq!(cmd["rc"], 0);
    assert!(cmd["duration_ms"].is_u64());
    let ok = Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // A command the node lacks is recorded, not fatal.
    assert!(v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["file"] == "lktest.out"));
}

#[test]
fn second_run_reports_unchanged_and_rewrites_nothing_check_mode_writes_nothing() {
    let c = Cluster::create("capture-idem", &["node-a", "node-b"], "9.4.0", &[]);
    let dest = scratch("capture-idem-dest");
    let n = c.node("node-a");
    let sim_before = tree_hash(&c.dir);
    // check mode first: predicts a change, writes nothing at all
    let mut a = args(n, Some(&dest));
    a["_ansible_check_mode"] = json!(true);
    let (v, rc) = n.module("lk_capture", a.clone());
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["changed"], true);
    assert!(
        std::fs::read_dir(&dest).unwrap().next().is_none(),
        "check mode wrote into dest"
    );
    let (v, _) = n.module("lk_capture", args(n, Some(&dest)));
    assert_eq!(v["changed"], true);
    let after_first = tree_hash(&dest);
    let (v, _) = n.module("lk_capture", args(n, Some(&dest)));
    assert_eq!(v["changed"], false, "{v}");
    assert_eq!(
        tree_hash(&dest),
        after_first,
        "an unchanged node rewrote its capture"
    );
    let (v, _) = n.module("lk_capture", a);
    assert_eq!(v["changed"], false, "{v}");
    // The node itself never changed.
    assert_eq!(tree_hash(&c.dir), sim_before);
    // After a real change on the node, the capture changes.
    c.sim(&[
        "commpath",
        "down",
        "node-a",
        "node-b",
        "--prio",
        "2",
        "--dir",
        c.dir.to_str().unwrap(),
    ]);
    let (v, _) = n.module("lk_capture", args(n, Some(&dest)));
    assert_eq!(v["changed"], true);
}

#[test]
fn bad_input_fails_naming_the_parameter() {
    let c = Cluster::create("capture-bad", &["node-a", "node-b"], "9.4.0", &[]);
    let n = c.node("node-a");
    let mut a = args(n, None);
    a["bogus"] = json!(1);
    let (v, rc) = n.module("lk_capture", a);
    assert_eq!(rc, 1);
    assert!(v["msg"].as_str().unwrap().contains("bogus"), "{v}");
    for (k, val) in [
        ("dest", json!("relative/dir")),
        ("dest", json!(n.lkroot.join("capture"))),
        ("redact", json!(["A;rm"])),
        ("node", json!("../x")),
        ("media", json!("/nonexistent/sps.img")),
        ("timeout", json!(0)),
    ] {
        let mut a = args(n, None);
        a[k] = val.clone();
        let (v, rc) = n.module("lk_capture", a);
        assert_eq!(rc, 1, "{k}={val}: {v}");
        assert_eq!(v["failed"], true);
        assert_eq!(v["invalid_parameter"], k, "{k}={val}: {v}");
    }
}

/// No license content and no redacted value appears anywhere in a capture directory or in the
/// module's output, even when the value also appears in another command's output.
#[test]
fn canary_license_content_and_redacted_values_never_leave_the_node() {
    let c = Cluster::create("capture-canary", &["node-a", "node-b"], "9.4.0", &[]);
    let n = c.node("node-a");
    std::fs::write(
        n.root.join("var/LifeKeeper/license/site.lic"),
        format!("{CANARY_LICENSE}\n"),
    )
    .unwrap();
    let mut d = std::fs::read_to_string(&n.defaults_file).unwrap();
    d.push_str(&format!("LK_SITE_TOKEN=\"{CANARY_SECRET}\"\n"));
    std::fs::write(&n.defaults_file, d).unwrap();
    // The secret also shows up in a resource id, so lcdstatus prints it.
    let spec = json!([{"tag": "app-x", "id": format!("/opt/x/{CANARY_SECRET}")}]);
    let c2 = Cluster::create(
        "capture-canary2",
        &["node-a", "node-b"],
        "9.4.0",
        &["--hierarchies", &spec.to_string()],
    );
    let n2 = c2.node("node-a");
    let mut d = std::fs::read_to_string(&n2.defaults_file).unwrap();
    d.push_str(&format!("export LK_SITE_TOKEN={CANARY_SECRET}\n"));
    std::fs::write(&n2.defaults_file, d).unwrap();
    std::fs::write(
        n2.root.join("var/LifeKeeper/license/site.lic"),
        format!("{CANARY_LICENSE}\n"),
    )
    .unwrap();
    let dest = scratch("capture-canary-dest");
    for (node, sub) in [(n, "one"), (n2, "two")] {
        let mut a = args(node, Some(&dest.join(sub)));
        a["redact"] = json!(["LK_SITE_TOKEN"]);
        let (v, rc) = node.module("lk_capture", a);
        assert_eq!(rc, 0, "{v}");
        let out = v.to_string();
        assert!(
            !out.contains(CANARY_LICENSE) && !out.contains(CANARY_SECRET),
            "canary in the module output: {out}"
        );
        assert_eq!(v["license_files"], json!(["site.lic"]));
        assert_eq!(v["redacted"], json!(["LK_SITE_TOKEN"]));
    }
    let mut files = 0;
    for e in walk(&dest) {
        let t = String::from_utf8_lossy(&std::fs::read(&e).unwrap()).into_owned();
        assert!(
            !t.contains(CANARY_LICENSE),
            "license content in {}",
            e.display()
        );
        assert!(
            !t.contains(CANARY_SECRET),
            "redacted value in {}",
            e.display()
        );
        files += 1;
    }
    assert!(files > 20, "only {files} files captured");
    let defaults = std::fs::read_to_string(dest.join("two/node-a/defaults.txt")).unwrap();
    assert!(
        defaults.contains("export LK_SITE_TOKEN=<redacted>"),
        "{defaults}"
    );
    assert!(
        std::fs::read_to_string(dest.join("two/node-a/lcdstatus-e.out"))
            .unwrap()
            .contains("/opt/x/<redacted>")
    );
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(d).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn media_volume_id_listing_and_setup_help_are_captured_without_mounting() {
    if Command::new("bsdtar").arg("--version").output().is_err()
        || Command::new("xorriso").arg("-version").output().is_err()
    {
        eprintln!(
            "note: bsdtar or xorriso missing (make deps installs them); media capture not tested"
        );
        return;
    }
    let c = Cluster::create("capture-media", &["node-a", "node-b"], "9.4.0", &[]);
    let img = c.dir.join("sps.img");
    c.sim(&[
        "media",
        "create",
        "--version",
        "9.6.1",
        "--out",
        img.to_str().unwrap(),
    ]);
    let n = c.node("node-a");
    let mut a = args(n, None);
    a["media"] = json!(img);
    let (v, rc) = n.module("lk_capture", a);
    assert_eq!(rc, 0, "{v}");
    let cmds = v["commands"].as_array().unwrap();
    let get = |f: &str| {
        cmds.iter()
            .find(|c| c["file"] == f)
            .unwrap_or_else(|| panic!("{f} missing: {v}"))
            .clone()
    };
    assert!(get("media-files.out")["stdout"]
        .as_str()
        .unwrap()
        .lines()
        .any(|l| l.trim_start_matches("./") == "setup"));
    assert_eq!(get("media-volid.out")["rc"], 0);
    assert!(!get("media-volid.out")["stdout"]
        .as_str()
        .unwrap()
        .trim()
        .is_empty());
    assert!(get("setup-help.out")["argv"][0]
        .as_str()
        .unwrap()
        .ends_with("sps.img!/setup"));
}

// ------------------------------------------------------------------ round trip

#[test]
fn round_trip_two_nodes_default_hierarchies_9_4_0() {
    let c = Cluster::create("rt-2", &["node-a", "node-b"], "9.4.0", &[]);
    let dest = scratch("rt-2-cap");
    capture_all(&c, &dest);
    let t = twin_round_trip(&dest, &scratch("rt-2-twin"));
    assert_eq!(t["nodes"].as_array().unwrap().len(), 2);
}

#[test]
fn round_trip_three_nodes_shared_children_split_placement_9_3_2() {
    let spec = json!({"active": "n1", "resources": [
        {"tag": "ip-a", "id": "IP-10.1.1.1", "app": "comm", "type": "ip"},
        {"tag": "app-1", "id": "/opt/app1", "children": ["fs-shared", "ip-b"], "priorities": {"n1": 1, "n2": 20, "n3": 10}},
        {"tag": "app-2", "id": "/opt/app 2 with spaces", "children": ["fs-shared"], "active": "n2"},
        {"tag": "fs-shared", "id": "/shared", "type": "filesys", "children": ["disk-1"]},
        {"tag": "ip-b", "id": "IP-10.1.1.2", "app": "comm", "type": "ip"},
        {"tag": "disk-1", "id": "36000c29f0000000000000000000000aa", "app": "scsi", "type": "disk"}
    ]});
    let c = Cluster::create(
        "rt-3",
        &["n1", "n2", "n3"],
        "9.3.2",
        &[
            "--hierarchies",
            &spec.to_string(),
            "--selinux",
            "permissive",
        ],
    );
    let dest = scratch("rt-3-cap");
    capture_all(&c, &dest);
    twin_round_trip(&dest, &scratch("rt-3-twin"));
}

#[test]
fn round_trip_dead_comm_path_osf_and_isu_states_9_6_1() {
    let c = Cluster::create(
        "rt-dead",
        &["node-a", "node-b"],
        "9.6.1",
        &["--kits", "lkIP,lkPGSQL,lkNFS"],
    );
    c.sim(&[
        "commpath",
        "down",
        "node-a",
        "node-b",
        "--prio",
        "2",
        "--dir",
        c.dir.to_str().unwrap(),
    ]);
    set_states(c.node("node-a"), &[("ip-10.0.0.50", "ISU")]);
    set_states(c.node("node-b"), &[("app-pgsql", "OSF")]);
    let dest = scratch("rt-dead-cap");
    capture_all(&c, &dest);
    let e = std::fs::read_to_string(dest.join("node-a/lcdstatus-e.out")).unwrap();
    assert!(e.contains("DEAD") && e.contains("ISU"), "{e}");
    assert!(std::fs::read_to_string(dest.join("node-b/lcdstatus-e.out"))
        .unwrap()
        .contains("OSF"));
    twin_round_trip(&dest, &scratch("rt-dead-twin"));
}

#[test]
fn round_trip_three_nodes_9_5_0_active_on_the_last_node() {
    let c = Cluster::create("rt-last", &["a1", "b2", "c3"], "9.5.0", &[]);
    let dest = scratch("rt-last-cap");
    capture_all(&c, &dest);
    twin_round_trip(&dest, &scratch("rt-last-twin"));
}

#[test]
fn twin_check_reports_a_difference_and_exits_nonzero() {
    let c = Cluster::create("rt-diff", &["node-a", "node-b"], "9.4.0", &[]);
    let dest = scratch("rt-diff-cap");
    capture_all(&c, &dest);
    let twin = scratch("rt-diff-twin");
    twin_round_trip(&dest, &twin);
    // The real cluster moves on after the capture: the twin no longer matches it.
    let f = dest.join("node-b/lcdstatus-e.out");
    let t = std::fs::read_to_string(&f)
        .unwrap()
        .replacen("OSU", "OSF", 1);
    std::fs::write(&f, t).unwrap();
    let (rc, out, _) = lksim(&[
        "twin",
        "check",
        "--from",
        dest.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
    ]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("node-b: lcdstatus-e.out line 4:"), "{out}");
    assert!(out.contains("OSF"), "{out}");
}

#[test]
fn twin_create_refuses_an_unreadable_capture_naming_file_and_line() {
    let c = Cluster::create("rt-refuse", &["node-a", "node-b"], "9.4.0", &[]);
    let dest = scratch("rt-refuse-cap");
    capture_all(&c, &dest);
    let f = dest.join("node-a/lcdstatus-e.out");
    let good = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, good.replacen(" 1  node-a", " x  node-a", 1)).unwrap();
    let twin = scratch("rt-refuse-twin");
    let (rc, _, err) = lksim(&[
        "twin",
        "create",
        "--from",
        dest.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(rc, 1);
    assert!(err.contains(&format!("{}:4:", f.display())), "{err}");
    assert!(
        std::fs::read_dir(&twin).unwrap().next().is_none(),
        "a refused capture left a half twin"
    );
    std::fs::write(&f, good).unwrap();
    std::fs::remove_file(dest.join("node-b/rpm-qa.out")).unwrap();
    let (rc, _, err) = lksim(&[
        "twin",
        "create",
        "--from",
        dest.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(rc, 1);
    assert!(err.contains("node-b/rpm-qa.out: missing"), "{err}");
}

// ------------------------------------------------------------------ replay

/// Every capture under tests/fixtures/captures/<name>/ is a test: the lkops parsers accept every
/// captured output, and the twin built from it passes twin check.
#[test]
fn replay_every_shipped_capture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captures");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    assert!(
        names.len() >= 4,
        "expected the shipped captures in {}",
        root.display()
    );
    for cap in names {
        let name = cap.file_name().unwrap().to_string_lossy().into_owned();
        for node in std::fs::read_dir(&cap)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
        {
            let read = |f: &str| std::fs::read_to_string(node.join(f)).ok();
            for f in ["lcdstatus-e.out", "lcdstatus-q.out"] {
                if let Some(t) = read(f) {
                    let s = lkops::lifekeeper::status::parse(&t)
                        .unwrap_or_else(|e| panic!("{name}/{}/{f}: {e}", node.display()));
                    assert!(
                        !s.comm_paths.is_empty() || t.contains("Communication"),
                        "{name} {f}"
                    );
                }
            }
            if let Some(t) = read("lcdstatus.out") {
                lkops::lifekeeper::capture::parse_detailed_strict(&t)
                    .unwrap_or_else(|e| panic!("{name}/{}/lcdstatus.out: {e}", node.display()));
            }
            let rpm =
                read("rpm-qa.out").unwrap_or_else(|| panic!("{name}: rpm-qa.out is required"));
            let p = lkops::lifekeeper::capture::parse_rpm_qa(&rpm)
                .unwrap_or_else(|e| panic!("{name}/{}/rpm-qa.out: {e}", node.display()));
            assert!(p.iter().any(|x| x.name == "steeleye-lk"), "{name}");
            if let Some(t) = read("defaults.txt") {
                lkops::lifekeeper::defaults_file::parse(&t).unwrap_or_else(|(l, e)| {
                    panic!("{name}/{}/defaults.txt:{l}: {e}", node.display())
                });
            }
            if node.join("SHA256SUMS").exists() {
                let ok = Command::new("sha256sum")
                    .args(["-c", "--quiet", "SHA256SUMS"])
                    .current_dir(&node)
                    .output()
                    .unwrap();
                assert!(
                    ok.status.success(),
                    "{name}: {}",
                    String::from_utf8_lossy(&ok.stdout)
                );
            }
        }
        twin_round_trip(&cap, &scratch(&format!("replay-{name}")));
    }
}

/// tests/docs.rs checks the other modules' sidecars; this one is checked here.
#[test]
fn committed_sidecar_matches_the_declaration_and_help_lists_every_parameter() {
    let out = Command::new(bin("lk_capture"))
        .arg("--doc")
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("modules/lk_capture.yml");
    assert_eq!(
        generated,
        std::fs::read_to_string(&path).unwrap(),
        "{} drifted from the declaration: run `make docs`",
        path.display()
    );
    let help = String::from_utf8(
        Command::new(bin("lk_capture"))
            .arg("--help")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for p in [
        "lkroot",
        "defaults_file",
        "dest",
        "redact",
        "media",
        "license_dir",
        "os_release",
        "node",
        "timeout",
    ] {
        assert!(
            help.contains(&format!("\n  {p} (")),
            "--help lacks {p}: {help}"
        );
        assert!(
            generated.contains(&format!("\n    {p}:\n")),
            "sidecar lacks {p}"
        );
    }
    assert!(
        generated.contains("check_mode:") && generated.contains("support: \"full\""),
        "{generated}"
    );
}

#[test]
fn a_node_captured_while_lifekeeper_was_stopped_becomes_a_stopped_twin_node() {
    let c = Cluster::create("rt-stopped", &["node-a", "node-b"], "9.4.0", &[]);
    let b = c.node("node-b");
    assert!(b.lk("lkstop", &[]).status.success());
    let dest = scratch("rt-stopped-cap");
    capture_all(&c, &dest);
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(dest.join("node-b/manifest.json")).unwrap())
            .unwrap();
    let e = m["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["file"] == "lcdstatus-e.out")
        .unwrap();
    // lksim prints the real sentence on stdout with exit 0 (the worst case; the real stream and
    // exit code are not public): the twin must tell it is stopped from the text.
    assert_eq!(e["rc"], 0, "{e}");
    assert_eq!(
        std::fs::read_to_string(dest.join("node-b/lcdstatus-e.out")).unwrap(),
        "LifeKeeper does not appear to be running.\n"
    );
    let t = twin_round_trip(&dest, &scratch("rt-stopped-twin"));
    assert!(
        t["guesses"].as_array().unwrap().iter().any(|g| g
            .as_str()
            .unwrap()
            .contains("node-b: LifeKeeper was not running")),
        "{t}"
    );
}

#[test]
fn round_trip_mirror_paused_witness_node_and_a_kit_no_package_owns() {
    let spec = json!([
        {"tag": "/data", "id": "/data", "type": "filesys", "children": ["datarep-dk"]},
        {"tag": "datarep-dk", "id": "/dev/md0", "app": "scsi", "type": "netraid"},
        {"tag": "ip-データ", "id": "IP-10.9.0.1", "app": "comm", "type": "ip"}
    ]);
    let c = Cluster::create(
        "rt-mirror",
        &["node-a", "node-b", "wit"],
        "9.5.1",
        &["--hierarchies", &spec.to_string(), "--witness", "wit"],
    );
    let d = c.dir.to_str().unwrap();
    c.sim(&["kit", "install", "node-a", "HANA2-ARK", "--dir", d]);
    let a = c.node("node-a");
    let o = a.lk("mirror_action", &["datarep-dk", "pause"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dest = scratch("rt-mirror-cap");
    capture_all(&c, &dest);
    let ms = std::fs::read_to_string(dest.join("node-a/mirror_status-datarep-dk.out")).unwrap();
    assert!(ms.contains("paused"), "{ms}");
    let unowned = std::fs::read_to_string(dest.join("node-a/unowned-files.txt")).unwrap();
    assert!(unowned.contains("HANA2-ARK"), "{unowned}");
    let twin = scratch("rt-mirror-twin");
    let t = twin_round_trip(&dest, &twin);
    assert!(twin.join("node-a/opt/LifeKeeper/HANA2-ARK").is_dir(), "{t}");
    // The twin's rpm does not own the recreated kit either.
    let rpm = Command::new(twin.join("node-a/bin/rpm"))
        .arg("-qf")
        .arg(twin.join("node-a/opt/LifeKeeper/HANA2-ARK/setup"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&rpm.stdout).contains("not owned"),
        "{rpm:?}"
    );
}

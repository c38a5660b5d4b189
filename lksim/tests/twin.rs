//! `lksim twin create|check` from hand-written captures (what an administrator pastes), and the
//! twin's journal of placement changes.
mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

const SVR2_E: &str = "Resource Hierarchy Information

BACKUP   TAG                ID          STATE     PRIO  PRIMARY
svr1     appfs3910-on-svr1  appfs4238   ISP          1  svr2
svr1      filesys4083       /jrl1       ISP          1  svr2

Communication Status Information

MACHINE  NETWORK ADDRESSES/DEVICE         STATE     PRIO
svr1     TCP     100.10.1.20/100.11.1.21  ALIVE        1
";
const SVR1_E: &str = "Resource Hierarchy Information

BACKUP   TAG                ID          STATE     PRIO  PRIMARY
------   appfs3910-on-svr1  appfs4238   OSU         10  svr2
------    filesys4083       /jrl1       OSU         10  svr2

Communication Status Information

MACHINE  NETWORK ADDRESSES/DEVICE         STATE     PRIO
svr2     TCP     100.11.1.21/100.10.1.20  ALIVE        1
";
const RPM: &str =
    "steeleye-lk-9.4.0-7963.x86_64\nsteeleye-lkIP-9.4.0-7963.noarch\nbash-4.4.20-1.el8.x86_64\n";

fn pasted(dir: &Path) {
    for (n, e) in [("svr1", SVR1_E), ("svr2", SVR2_E)] {
        std::fs::create_dir_all(dir.join(n)).unwrap();
        std::fs::write(dir.join(n).join("lcdstatus-e.out"), e).unwrap();
        std::fs::write(dir.join(n).join("rpm-qa.out"), RPM).unwrap();
    }
}

#[test]
fn a_pasted_capture_makes_a_twin_that_prints_it_back() {
    let cap = tmpdir("twin-cap");
    pasted(&cap);
    let twin = tmpdir("twin-dir");
    let o = lksim(&[
        "twin",
        "create",
        "--from",
        cap.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let v: Value = serde_json::from_str(&o.out).unwrap();
    assert_eq!(v["nodes"][0]["name"], "svr1");
    assert!(v["nodes"][0]["lkroot"]
        .as_str()
        .unwrap()
        .ends_with("svr1/opt/LifeKeeper"));
    let guesses = v["guesses"].as_array().unwrap();
    assert!(
        guesses
            .iter()
            .any(|g| g.as_str().unwrap().contains("name order")),
        "{guesses:?}"
    );
    assert!(
        guesses
            .iter()
            .any(|g| g.as_str().unwrap().contains("no detailed display")),
        "{guesses:?}"
    );
    assert!(o.err.contains("guessed:"), "{}", o.err);
    // The inventory is YAML (JSON is YAML) with one host per node.
    let inv: Value = serde_json::from_str(
        std::fs::read_to_string(twin.join("inventory.yml"))
            .unwrap()
            .split_once('\n')
            .unwrap()
            .1,
    )
    .unwrap();
    let hosts = &inv["all"]["children"]["lifekeeper"]["children"];
    let group = hosts.as_object().unwrap().values().next().unwrap();
    assert!(group["hosts"]["svr2"]["lk_lkroot"].as_str().is_some());
    let c = lksim(&[
        "twin",
        "check",
        "--from",
        cap.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
    ]);
    assert_eq!(c.code, 0, "{}{}", c.out, c.err);
    // The twin is a cluster like any other.
    let st = lksim(&["state", twin.to_str().unwrap()]);
    let st: Value = serde_json::from_str(&st.out).unwrap();
    assert_eq!(st["nodes"][1]["version"], "9.4.0");
    assert_eq!(st["nodes"][1]["resources"][0]["state"], "ISP");
}

#[test]
fn a_capture_with_a_stray_line_is_refused_naming_file_and_line() {
    let cap = tmpdir("twin-bad");
    pasted(&cap);
    let f = cap.join("svr2/lcdstatus-e.out");
    std::fs::write(&f, format!("{SVR2_E}some pasted prompt $ \n")).unwrap();
    let twin = tmpdir("twin-bad-dir");
    let o = lksim(&[
        "twin",
        "create",
        "--from",
        cap.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.code, 1);
    assert!(o.err.contains(&format!("{}:11:", f.display())), "{}", o.err);
    std::fs::write(cap.join("svr1/rpm-qa.out"), "steeleye-lk\n").unwrap();
    std::fs::write(&f, SVR2_E).unwrap();
    let o = lksim(&[
        "twin",
        "create",
        "--from",
        cap.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.code, 1);
    assert!(o.err.contains("svr1/rpm-qa.out:1:"), "{}", o.err);
}

#[test]
fn a_twin_journals_each_switchover_and_a_plain_cluster_does_not() {
    let cap = tmpdir("twin-j");
    pasted(&cap);
    let twin = tmpdir("twin-j-dir");
    let o = lksim(&[
        "twin",
        "create",
        "--from",
        cap.to_str().unwrap(),
        "--dir",
        twin.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let pa = twin.join("svr1/opt/LifeKeeper/bin/perform_action");
    let r = run_cmd(
        {
            let mut c = std::process::Command::new(&pa);
            c.args(["-t", "appfs3910-on-svr1", "-a", "restore"]);
            c
        },
        None,
    );
    assert_eq!(r.code, 0, "{}", r.err);
    let j = std::fs::read_to_string(twin.join(".lksim/journal.jsonl")).unwrap();
    let lines: Vec<Value> = j
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{j}");
    assert_eq!(lines[0]["tag"], "appfs3910-on-svr1");
    assert_eq!(lines[0]["from"], "svr2");
    assert_eq!(lines[0]["to"], "svr1");
    let c = Cluster::create("plain-j", &[]);
    let o = c.lk(
        "node-b",
        "perform_action",
        &["-t", "app-pgsql", "-a", "restore"],
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(!c.dir.join(".lksim/journal.jsonl").exists());
}

//! Issue 28: a capture is data, never code or a path. Hostile captures given to
//! `lksim twin create` (S1, S2, S3, W5), each test named after the defect it guards.
mod common;
use common::*;
use std::path::{Path, PathBuf};

const E_ACTIVE: &str = "Resource Hierarchy Information

BACKUP   TAG     ID     STATE     PRIO  PRIMARY
n2       app1    a1     ISP          1  n2

Communication Status Information

MACHINE  NETWORK ADDRESSES/DEVICE         STATE     PRIO
n2       TCP     10.0.0.1/10.0.0.2        ALIVE        1
";
const E_STANDBY: &str = "Resource Hierarchy Information

BACKUP   TAG     ID     STATE     PRIO  PRIMARY
------   app1    a1     OSU         10  n2

Communication Status Information

MACHINE  NETWORK ADDRESSES/DEVICE         STATE     PRIO
n1       TCP     10.0.0.2/10.0.0.1        ALIVE        1
";
const RPM: &str = "steeleye-lk-9.4.0-7963.x86_64\nbash-4.4.20-1.el8.x86_64\n";

/// A plain two-node capture (folders n1, n2); `name_of` gives each folder's manifest node name
/// (None: no manifest).
fn capture(dir: &Path, name_of: impl Fn(&str) -> Option<String>, lkroot: &str) {
    for (n, e) in [("n1", E_ACTIVE), ("n2", E_STANDBY)] {
        let d = dir.join(n);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("lcdstatus-e.out"), e).unwrap();
        std::fs::write(d.join("rpm-qa.out"), RPM).unwrap();
        if let Some(name) = name_of(n) {
            let m = serde_json::json!({"node": name, "commands": [
                {"file": "lcdstatus-e.out", "rc": 0, "argv": [format!("{lkroot}/bin/lcdstatus"), "-e"]}
            ]});
            std::fs::write(d.join("manifest.json"), m.to_string()).unwrap();
        }
    }
}

fn create(cap: &Path, twin: &Path, inv: Option<&Path>) -> Out {
    let mut a = vec![
        "twin".to_string(),
        "create".into(),
        "--from".into(),
        cap.display().to_string(),
        "--dir".into(),
        twin.display().to_string(),
        "--force".into(),
    ];
    if let Some(i) = inv {
        a.extend(["--inventory".into(), i.display().to_string()]);
    }
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    lksim(&a)
}

/// Every path under `d` (not following links).
fn tree(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut todo = vec![d.to_path_buf()];
    while let Some(x) = todo.pop() {
        for e in std::fs::read_dir(&x).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                todo.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// S1: vars.json's values went into the twin's inventory as they were; Ansible templates
/// inventory values, so a Jinja lookup there ran a command on the controller. Capture data never
/// becomes a template: such a capture is refused before anything is written, and only the
/// procedure variables a capture records reach the inventory.
#[test]
fn s1_capture_vars_with_a_jinja_lookup_never_reach_the_twin_inventory() {
    let base = tmpdir("s1");
    let cap = base.join("erp");
    capture(&cap, |_| None, "/opt/LifeKeeper");
    let twin = base.join("twin");
    let inv = base.join("inventory.yml");
    for hostile in [
        r#"{"lk_target_version": "{{ lookup('ansible.builtin.pipe', 'touch /tmp/x') }}"}"#,
        r#"{"lk_preflight_skip": ["LK-X", "{% set x = 1 %}"]}"#,
        r#"{"lk_datakeeper_mirrors": {"\u007b\u007b x }}": 1}}"#,
    ] {
        std::fs::write(cap.join("vars.json"), hostile).unwrap();
        let o = create(&cap, &twin, Some(&inv));
        assert_ne!(o.code, 0, "{hostile}: {}", o.out);
        assert!(o.err.contains("never templated"), "{}", o.err);
        assert!(!inv.exists(), "no inventory is written for {hostile}");
        assert!(!twin.exists(), "nothing is written for {hostile}");
    }
    // Connection settings and paths are no procedure variables: left out, and said so.
    std::fs::write(
        cap.join("vars.json"),
        r#"{"lk_target_version": "9.6.1", "ansible_python_interpreter": "/tmp/evil", "lk_node_env": {"PATH": "/tmp/evil"}}"#,
    )
    .unwrap();
    let o = create(&cap, &twin, Some(&inv));
    assert_eq!(o.code, 0, "{}", o.err);
    let text = std::fs::read_to_string(&inv).unwrap();
    assert!(text.contains("\"lk_target_version\": \"9.6.1\""), "{text}");
    assert!(!text.contains("/tmp/evil"), "{text}");
    assert!(o.err.contains("ansible_python_interpreter"), "{}", o.err);
}

/// S2: the stand-ins were written `exec 'LKSIM' --node-root 'ROOT' ...` with the root unescaped:
/// a quote and `$(...)` in it ran that command whenever the twin ran a LifeKeeper command.
#[test]
fn s2_a_node_root_with_a_quote_and_command_substitution_runs_nothing() {
    let base = tmpdir("s2");
    let marker = base.join("s2-ran");
    // The twin directory is the operator's; every path in a generated script is one quoted word.
    let twin = base.join(format!("tw'$(touch {})'in", marker.display()));
    let cap = base.join("cap");
    capture(&cap, |_| None, "/opt/LifeKeeper");
    let o = create(&cap, &twin, None);
    assert_eq!(o.code, 0, "{}", o.err);
    let lcdstatus = twin.join("n1/opt/LifeKeeper/bin/lcdstatus");
    let r = run_cmd(
        {
            let mut c = std::process::Command::new(&lcdstatus);
            c.arg("-q");
            c
        },
        None,
    );
    assert!(!marker.exists(), "the node root ran as a command");
    assert_eq!(r.code, 0, "the stand-in runs lksim for its node: {}", r.err);
    assert!(r.out.contains("app1"), "{}", r.out);
    // A node name (folder or manifest) holding a quote and `$(...)` never gets that far.
    let cap2 = base.join("cap2");
    let evil = format!("x'$(touch {})'", marker.display());
    capture(
        &cap2,
        |n| (n == "n1").then(|| evil.clone()),
        "/opt/LifeKeeper",
    );
    let twin2 = base.join("twin2");
    let o = create(&cap2, &twin2, None);
    assert_ne!(o.code, 0, "{}", o.out);
    assert!(o.err.contains("cannot be part of a path"), "{}", o.err);
    assert!(!marker.exists());
}

/// S3: twin create wrote outside the twin directory: a node name `../x` or an absolute path
/// became a node root, a resource's app=/type= became path components, and a symbolic link in
/// the capture was followed (a controller file copied into the twin).
#[test]
fn s3_a_hostile_capture_writes_nothing_outside_the_twin_directory() {
    let base = tmpdir("s3");
    let outside = base.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let twin = base.join("twin");
    let escape = format!("../outside/{}", "esc");
    for (i, name) in [escape.clone(), outside.join("abs").display().to_string()]
        .iter()
        .enumerate()
    {
        let cap = base.join(format!("cap-name-{i}"));
        capture(
            &cap,
            |n| (n == "n1").then(|| name.clone()),
            "/opt/LifeKeeper",
        );
        let o = create(&cap, &twin, None);
        assert_ne!(o.code, 0, "node name {name}: {}", o.out);
        assert!(o.err.contains("cannot be part of a path"), "{}", o.err);
        assert!(tree(&outside).is_empty(), "{:?}", tree(&outside));
    }
    // app= and type= of the detailed display.
    for (app, ty) in [
        ("../../../../../outside/app", "app"),
        ("gen", "../../../../../../../outside/ty"),
    ] {
        let cap = base.join(format!("cap-app-{}", ty.len()));
        capture(&cap, |_| None, "/opt/LifeKeeper");
        for n in ["n1", "n2"] {
            std::fs::write(
                cap.join(n).join("lcdstatus.out"),
                format!("app1: id=a1 app={app} type={ty} state=ISP\n    Local priority = 1\n"),
            )
            .unwrap();
        }
        let o = create(&cap, &twin, None);
        assert_ne!(o.code, 0, "app={app} type={ty}: {}", o.out);
        assert!(o.err.contains("cannot be part of a path"), "{}", o.err);
        assert!(tree(&outside).is_empty(), "{:?}", tree(&outside));
    }
    // A symbolic link in the capture (a file or a node folder) is never followed.
    let secret = outside.join("controller-secret");
    std::fs::write(&secret, "CONTROLLER-ONLY-Qz7\n").unwrap();
    let cap = base.join("cap-link");
    capture(&cap, |_| None, "/opt/LifeKeeper");
    std::os::unix::fs::symlink(&secret, cap.join("n1/defaults.txt")).unwrap();
    let o = create(&cap, &twin, None);
    assert_ne!(o.code, 0, "{}", o.out);
    assert!(o.err.contains("symbolic link"), "{}", o.err);
    let copied: Vec<PathBuf> = tree(&base)
        .into_iter()
        .filter(|p| p.starts_with(&twin) && p.is_file())
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("CONTROLLER-ONLY")))
        .collect();
    assert!(copied.is_empty(), "{copied:?}");
    std::fs::remove_file(cap.join("n1/defaults.txt")).unwrap();
    std::os::unix::fs::symlink(cap.join("n2"), cap.join("n3")).unwrap();
    let o = create(&cap, &twin, None);
    assert_ne!(o.code, 0, "{}", o.out);
    assert!(o.err.contains("symbolic link"), "{}", o.err);
}

/// W5: placeholders of files no package owned were built in memory at the captured size: a line
/// `1099511627776 <lkroot>/x` aborted the rehearsal. They are written sparse, and sizes no twin
/// should read are refused up front.
#[test]
fn w5_a_huge_unowned_file_is_refused_and_placeholders_are_never_allocated() {
    let base = tmpdir("w5");
    let twin = base.join("twin");
    let cap = base.join("cap");
    let lk = "/opt/LifeKeeper";
    capture(&cap, |n| Some(n.to_string()), lk);
    std::fs::write(
        cap.join("n1/unowned-files.txt"),
        format!("1099511627776 {lk}/x\n"),
    )
    .unwrap();
    let o = create(&cap, &twin, None);
    assert_ne!(o.code, 0, "{}", o.out);
    assert!(o.code > 0, "refused, not killed by a signal: {}", o.err);
    assert!(o.err.contains("unowned-files.txt:1"), "{}", o.err);
    assert!(!twin.exists(), "refused before anything is written");
    // Within the bounds: the captured size, sparse (its blocks are not allocated).
    let size: u64 = 512 << 20;
    std::fs::write(
        cap.join("n1/unowned-files.txt"),
        format!("{size} {lk}/site/big.bin\n10 {lk}/site/small\n"),
    )
    .unwrap();
    let o = create(&cap, &twin, None);
    assert_eq!(o.code, 0, "{}", o.err);
    let big = twin.join("n1/opt/LifeKeeper/site/big.bin");
    let m = std::fs::metadata(&big).unwrap();
    assert_eq!(m.len(), size);
    use std::os::unix::fs::MetadataExt;
    assert!(
        m.blocks() * 512 < 1 << 20,
        "allocated {} blocks",
        m.blocks()
    );
    assert_eq!(
        std::fs::metadata(twin.join("n1/opt/LifeKeeper/site/small"))
            .unwrap()
            .len(),
        10
    );
    // A path that leaves $LKROOT is refused too.
    std::fs::write(
        cap.join("n1/unowned-files.txt"),
        format!("10 {lk}/../../etc/x\n"),
    )
    .unwrap();
    let o = create(&cap, &twin, None);
    assert_ne!(o.code, 0, "{}", o.out);
    assert!(o.err.contains("does not stay under"), "{}", o.err);
}

//! lk_backup against the simulator: backups that survive the uninstall, verified and restored.

use crate::common;

use common::pin::{self, assert_pinned, Redactor};
use common::{tree_hash, Cluster, Node};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Run lk_backup on `node` through an args file (the Ansible contract). Each call gets its own
/// args file: common::run_module_env shares one scratch dir per process, which parallel tests
/// would remove under each other.
fn run(node: &Node, args: Value) -> (Value, i32) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("lkops-backup-args-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join(N.fetch_add(1, Ordering::SeqCst).to_string());
    fs::write(&file, args.to_string()).unwrap();
    let out = Command::new(common::bin("lk_backup"))
        .arg(&file)
        .env("PATH", node.path_env())
        .output()
        .unwrap();
    let _ = fs::remove_file(&file);
    common::parse_output(&out)
}

/// Args for `node` with dest, merged with `extra`.
fn args(node: &Node, dest: &Path, extra: Value) -> Value {
    let mut a = json!({
        "dest": dest,
        "lkroot": node.lkroot,
        "defaults_file": node.defaults_file,
    });
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

fn setup(name: &str) -> (Cluster, Node, PathBuf) {
    let c = Cluster::create(
        &format!("backup-{name}"),
        &["node-a", "node-b"],
        "9.4.0",
        &[],
    );
    let n = c.node("node-a").clone();
    let dest = c.dir.join("backups");
    (c, n, dest)
}

fn ok(r: &(Value, i32)) -> &Value {
    assert_eq!(r.1, 0, "module failed: {}", r.0);
    assert_eq!(r.0["failed"], false, "{}", r.0);
    &r.0
}

fn failed(r: &(Value, i32)) -> &Value {
    assert_eq!(r.1, 1, "module should have failed: {}", r.0);
    assert_eq!(r.0["failed"], true, "{}", r.0);
    &r.0
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn dest_files(dest: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dest)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn config_archives(node: &Node) -> Vec<String> {
    dest_files(&node.lkroot.join("config"))
        .into_iter()
        .filter(|n| n.starts_with("archive."))
        .collect()
}

fn sha256sum_c(dest: &Path) -> std::process::Output {
    Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dest)
        .output()
        .unwrap()
}

/// Replace `YYYYMMDDTHHMMSSZ` stamps so two runs seconds apart compare equal.
fn unstamp(s: &str) -> String {
    Redactor::new().stamps(pin::STAMP).string(s)
}

fn append(path: &Path, text: &str) {
    let mut s = fs::read_to_string(path).unwrap();
    s.push_str(text);
    fs::write(path, s).unwrap();
}

#[test]
fn first_backup_is_copied_verified_recorded_and_a_second_run_changes_nothing() {
    let (_c, a, dest) = setup("first");
    let r = run(&a, args(&a, &dest, json!({})));
    let v = ok(&r);
    assert_eq!(v["changed"], true);
    assert_eq!(v["host"], "node-a");
    let archive = PathBuf::from(v["archive"].as_str().unwrap());
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("node-a.lkbackup.") && name.ends_with(".tar.gz"),
        "{name}"
    );
    assert_eq!(archive.parent().unwrap(), dest);
    assert_eq!(
        v["sha256"],
        lkops::runtime::fs::sha256_file(&archive).unwrap()
    );
    assert_eq!(v["size"], fs::metadata(&archive).unwrap().len());
    let defaults_copy = PathBuf::from(v["defaults_copy"].as_str().unwrap());
    assert_eq!(
        fs::read(&defaults_copy).unwrap(),
        fs::read(&a.defaults_file).unwrap()
    );
    // dest 0700, files 0600
    assert_eq!(mode(&dest), 0o700);
    for f in [
        &archive,
        &defaults_copy,
        &dest.join("SHA256SUMS"),
        &dest.join("lkops-backups.json"),
    ] {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // The archive is a real gzip tar holding the configuration.
    let tar = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(tar.status.success());
    assert!(String::from_utf8_lossy(&tar.stdout).contains("opt/LifeKeeper/config/hierarchy.json"));
    // lkbackup's own archive was removed from lkroot/config after the verified copy.
    assert_eq!(config_archives(&a), Vec::<String>::new());
    // The manifest records host, version, fingerprint and the checksum.
    let m: Value =
        serde_json::from_str(&fs::read_to_string(dest.join("lkops-backups.json")).unwrap())
            .unwrap();
    let e = &m["backups"][0];
    assert_eq!(e["host"], "node-a");
    assert_eq!(e["lifekeeper_version"], "9.4.0");
    assert_eq!(e["sha256"], v["sha256"]);
    assert_eq!(
        e["fingerprint"],
        lkops::modules::backup::fingerprint(&a.lkroot, &a.defaults_file).unwrap()
    );
    assert!(e["source"].as_str().unwrap().contains("/config/archive."));
    // find_verified, as lk_upgrade calls it
    let found = lkops::modules::backup::find_verified(&dest, "node-a")
        .unwrap()
        .unwrap();
    assert_eq!(found.archive, name);
    assert!(lkops::modules::backup::find_verified(&dest, "node-b")
        .unwrap()
        .is_none());

    let before = tree_hash(&dest);
    let r2 = run(&a, args(&a, &dest, json!({})));
    let v2 = ok(&r2);
    assert_eq!(v2["changed"], false, "{v2}");
    assert_eq!(v2["archive"], v["archive"]);
    assert_eq!(v2["sha256"], v["sha256"]);
    assert_eq!(tree_hash(&dest), before);
    assert_eq!(config_archives(&a), Vec::<String>::new());
}

#[test]
fn changed_configuration_takes_a_new_backup_as_check_mode_predicted() {
    let (_c, a, dest) = setup("changed");
    ok(&run(&a, args(&a, &dest, json!({}))));
    append(&a.defaults_file, "LKOPS_TEST_TUNABLE=1\n");
    let check = run(
        &a,
        args(
            &a,
            &dest,
            json!({"_ansible_check_mode": true, "_ansible_diff": true}),
        ),
    );
    let check = ok(&check).clone();
    assert_eq!(check["changed"], true);
    assert!(
        check["msg"]
            .as_str()
            .unwrap()
            .contains("configuration changed"),
        "{check}"
    );
    let real = run(&a, args(&a, &dest, json!({"_ansible_diff": true})));
    let real = ok(&real).clone();
    assert_eq!(real["changed"], true);
    assert!(
        real["archive"] != check["archive"]
            || unstamp(real["archive"].as_str().unwrap())
                == unstamp(check["archive"].as_str().unwrap())
    );
    // Check mode predicted the same diff (modulo the time stamp in the new names) and fingerprint.
    assert_eq!(
        unstamp(&check["diff"].to_string()),
        unstamp(&real["diff"].to_string())
    );
    assert_eq!(check["fingerprint"], real["fingerprint"]);
    assert_eq!(real["diff"]["before"].as_str().unwrap().lines().count(), 2);
    assert_eq!(real["diff"]["after"].as_str().unwrap().lines().count(), 4);
    // The new defaults copy holds the edit; the old one does not.
    let newc = fs::read_to_string(real["defaults_copy"].as_str().unwrap()).unwrap();
    assert!(newc.contains("LKOPS_TEST_TUNABLE=1"));
    assert_eq!(real["backups"].as_array().unwrap().len(), 2);
    // and it is stable again
    assert_eq!(ok(&run(&a, args(&a, &dest, json!({}))))["changed"], false);
    // force takes one anyway
    assert_eq!(
        ok(&run(&a, args(&a, &dest, json!({"force": true}))))["changed"],
        true
    );
}

#[test]
fn retention_prunes_only_recorded_backups_oldest_first_never_the_newest() {
    let (_c, a, dest) = setup("retention");
    for _ in 0..3 {
        ok(&run(&a, args(&a, &dest, json!({"force": true, "keep": 5}))));
    }
    // a file we did not record, even one named like ours, is never pruned
    fs::write(
        dest.join("node-a.lkbackup.19990101T000000Z.tar.gz"),
        "admin's own",
    )
    .unwrap();
    fs::write(dest.join("notes.txt"), "keep me").unwrap();
    let m0: Value =
        serde_json::from_str(&fs::read_to_string(dest.join("lkops-backups.json")).unwrap())
            .unwrap();
    let names: Vec<String> = m0["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["archive"].as_str().unwrap().to_string())
        .collect();

    // keep=2 with an unchanged configuration: prune one, take none; check mode predicts it.
    let before = tree_hash(&dest);
    let check = run(
        &a,
        args(&a, &dest, json!({"keep": 2, "_ansible_check_mode": true})),
    );
    assert_eq!(tree_hash(&dest), before, "check mode wrote in dest");
    let r = run(&a, args(&a, &dest, json!({"keep": 2})));
    let v = ok(&r);
    assert_eq!(v["changed"], true);
    assert_eq!(ok(&check)["pruned"], v["pruned"]);
    let pruned: Vec<String> = v["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert_eq!(pruned.len(), 2, "archive + defaults copy: {pruned:?}");
    assert!(
        pruned.contains(&names[0]),
        "oldest first: {pruned:?} vs {names:?}"
    );
    assert!(!dest.join(&names[0]).exists());
    assert!(dest.join(&names[1]).exists() && dest.join(&names[2]).exists());
    assert!(dest
        .join("node-a.lkbackup.19990101T000000Z.tar.gz")
        .exists());
    assert!(dest.join("notes.txt").exists());
    assert!(!fs::read_to_string(dest.join("SHA256SUMS"))
        .unwrap()
        .contains(&names[0]));
    assert!(sha256sum_c(&dest).status.success());

    // keep=1 with a new backup: everything older goes, the new one stays.
    let r = run(&a, args(&a, &dest, json!({"keep": 1, "force": true})));
    let v = ok(&r);
    assert_eq!(v["pruned"].as_array().unwrap().len(), 4);
    assert_eq!(v["backups"].as_array().unwrap().len(), 1);
    assert!(Path::new(v["archive"].as_str().unwrap()).exists());
    assert_eq!(
        ok(&run(&a, args(&a, &dest, json!({"keep": 1}))))["changed"],
        false
    );

    let bad = run(&a, args(&a, &dest, json!({"keep": 0})));
    assert_eq!(failed(&bad)["invalid_parameter"], "keep");
}

#[test]
fn sha256sum_c_passes_on_dest_with_two_hosts() {
    let (c, a, dest) = setup("sha256sum");
    let b = c.node("node-b").clone();
    ok(&run(&a, args(&a, &dest, json!({}))));
    ok(&run(&b, args(&b, &dest, json!({}))));
    append(&a.defaults_file, "X=1\n");
    ok(&run(&a, args(&a, &dest, json!({}))));
    let out = sha256sum_c(&dest);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": OK")).count(),
        6,
        "{stdout}"
    );
    // Each host is found under its own name (uname -n of the node).
    let fa = lkops::modules::backup::find_verified(&dest, "node-a")
        .unwrap()
        .unwrap();
    let fb = lkops::modules::backup::find_verified(&dest, "node-b")
        .unwrap()
        .unwrap();
    assert!(fa.archive.starts_with("node-a.") && fb.archive.starts_with("node-b."));
    // the newer of node-a's two
    assert_eq!(
        fa.fingerprint,
        lkops::modules::backup::fingerprint(&a.lkroot, &a.defaults_file).unwrap()
    );
    // the host parameter overrides uname -n
    let r = run(&a, args(&a, &dest, json!({"host": "svr1"})));
    assert!(ok(&r)["archive"]
        .as_str()
        .unwrap()
        .contains("/svr1.lkbackup."));
    let bad = run(&a, args(&a, &dest, json!({"host": "../x"})));
    assert_eq!(failed(&bad)["invalid_parameter"], "host");
}

#[test]
fn corrupted_backup_is_caught_by_verified_refused_by_restored_and_replaced_by_present() {
    let (_c, a, dest) = setup("corrupt");
    let v = ok(&run(&a, args(&a, &dest, json!({})))).clone();
    let archive = PathBuf::from(v["archive"].as_str().unwrap());
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    let vr = run(&a, json!({"state": "verified", "dest": dest}));
    assert_eq!(ok(&vr)["changed"], false);
    assert_eq!(ok(&vr)["checked"].as_array().unwrap().len(), 2);

    // flip one byte, same size
    let mut data = fs::read(&archive).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    fs::write(&archive, &data).unwrap();
    let before = tree_hash(&dest);
    let vr = run(&a, json!({"state": "verified", "dest": dest}));
    let f = failed(&vr);
    assert_eq!(f["corrupt"], json!([name]));
    assert_eq!(f["missing"], json!([]));
    assert!(f["msg"].as_str().unwrap().contains(&name), "{f}");
    assert!(!sha256sum_c(&dest).status.success(), "sha256sum -c agrees");
    assert_eq!(tree_hash(&dest), before, "verified is read-only");

    // restored refuses before running lkbackup -x
    a.lk("lkstop", &[]);
    let node_before = tree_hash(&a.root);
    let rr = run(
        &a,
        json!({"state": "restored", "dest": dest, "archive": name,
        "lkroot": a.lkroot, "defaults_file": a.defaults_file}),
    );
    let f = failed(&rr);
    assert_eq!(f["invalid_parameter"], "archive");
    assert!(
        f["msg"].as_str().unwrap().contains("refusing to restore"),
        "{f}"
    );
    assert_eq!(f["expected_sha256"], v["sha256"]);
    assert_eq!(f["changed"], false);
    assert_eq!(tree_hash(&a.root), node_before);
    // a wrong sha256 parameter is refused too (even for an intact archive elsewhere)
    let elsewhere = a.root.parent().unwrap().join("copy.tar.gz");
    fs::write(&elsewhere, b"not what you think").unwrap();
    let rr = run(
        &a,
        json!({"state": "restored", "archive": elsewhere, "sha256": "0".repeat(64),
        "lkroot": a.lkroot, "defaults_file": a.defaults_file}),
    );
    assert!(failed(&rr)["msg"]
        .as_str()
        .unwrap()
        .contains("refusing to restore"));
    // and no checksum at all is refused
    let rr = run(
        &a,
        json!({"state": "restored", "archive": elsewhere,
        "lkroot": a.lkroot, "defaults_file": a.defaults_file}),
    );
    assert_eq!(failed(&rr)["invalid_parameter"], "sha256");

    // present does not trust a damaged newest backup: it takes a new one
    let r = run(&a, args(&a, &dest, json!({})));
    let v2 = ok(&r);
    assert_eq!(v2["changed"], true);
    assert!(
        v2["warnings"]
            .to_string()
            .contains("does not match its checksum"),
        "{v2}"
    );
    // find_verified skips the damaged one
    let found = lkops::modules::backup::find_verified(&dest, "node-a")
        .unwrap()
        .unwrap();
    assert_ne!(found.archive, name);
}

#[test]
fn restore_brings_back_the_configuration_and_is_idempotent() {
    let (_c, a, dest) = setup("restore");
    let v = ok(&run(&a, args(&a, &dest, json!({})))).clone();
    let name = Path::new(v["archive"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let original = fs::read_to_string(&a.defaults_file).unwrap();
    append(&a.defaults_file, "LKOPS_TEST_TUNABLE=1\n");
    let rargs = |extra: Value| {
        let mut x = json!({"state": "restored", "dest": dest, "archive": name,
            "lkroot": a.lkroot, "defaults_file": a.defaults_file, "_ansible_diff": true});
        for (k, v) in extra.as_object().unwrap() {
            x[k] = v.clone();
        }
        x
    };

    // Issue 16: refused while lktest says LifeKeeper runs, before lkbackup -x is run (no cmd),
    // in check mode too, naming the way out; nothing changed
    let node_running = tree_hash(&a.root);
    for extra in [json!({}), json!({"_ansible_check_mode": true})] {
        let r = run(&a, rargs(extra));
        let f = failed(&r);
        assert_eq!(f["changed"], false, "{f}");
        assert_eq!(f["lifekeeper_running"], true, "{f}");
        let msg = f["msg"].as_str().unwrap();
        assert!(
            msg.contains("LifeKeeper is running") && msg.contains("playbooks/restore.yml"),
            "{f}"
        );
        assert!(f.get("cmd").is_none(), "lkbackup must not run: {f}");
        assert!(f["would_restore"]
            .to_string()
            .contains("etc/default/LifeKeeper"));
    }
    assert_eq!(tree_hash(&a.root), node_running);

    a.lk("lkstop", &[]);
    let node_before = tree_hash(&a.root);
    let dest_before = tree_hash(&dest);
    let check = run(&a, rargs(json!({"_ansible_check_mode": true})));
    let check = ok(&check).clone();
    assert_eq!(
        tree_hash(&a.root),
        node_before,
        "check mode changed the node"
    );
    assert_eq!(tree_hash(&dest), dest_before);
    assert_eq!(check["changed"], true);
    assert!(
        check["would_restore"]
            .to_string()
            .contains("etc/default/LifeKeeper"),
        "{check}"
    );
    let d = &check["diff"][1];
    assert!(d["before"]
        .as_str()
        .unwrap()
        .contains("LKOPS_TEST_TUNABLE=1"));
    assert_eq!(d["after"], original);
    // Regression (field evidence [MH]): without lktest, lcdstatus's stopped sentence (lksim:
    // stdout, exit 0) reads as stopped, so the restore is planned, not refused as "running".
    let lktest = a.lkroot.join("bin/lktest");
    let aside = a.root.join("lktest.aside");
    fs::rename(&lktest, &aside).unwrap();
    let fallback = run(&a, rargs(json!({"_ansible_check_mode": true})));
    fs::rename(&aside, &lktest).unwrap();
    assert_eq!(ok(&fallback)["changed"], true, "{:?}", fallback);
    assert_eq!(ok(&fallback)["diff"], check["diff"]);

    let real = run(&a, rargs(json!({})));
    let real = ok(&real).clone();
    assert_eq!(real["changed"], true);
    assert_eq!(fs::read_to_string(&a.defaults_file).unwrap(), original);
    assert_eq!(real["diff"], check["diff"], "check mode predicted the diff");
    assert_eq!(real["restored_files"], json!([a.defaults_file]));
    assert_eq!(real["checked_against"], json!(["SHA256SUMS"]));
    assert!(real.get("warnings").is_none(), "{real}");

    let again = run(&a, rargs(json!({})));
    assert_eq!(ok(&again)["changed"], false);
    // an explicit matching sha256 is accepted as well
    let r = run(&a, rargs(json!({"sha256": v["sha256"]})));
    assert_eq!(ok(&r)["checked_against"], json!(["sha256", "SHA256SUMS"]));
}

#[test]
fn failing_lkbackup_leaves_dest_and_previous_backups_untouched() {
    let (c, a, dest) = setup("fault");
    ok(&run(&a, args(&a, &dest, json!({}))));
    append(&a.defaults_file, "Y=2\n");
    let dir = c.dir.to_str().unwrap();
    for mode in ["fail", "halfway"] {
        c.sim(&["fault", "set", "node-a", "lkbackup", mode, "--dir", dir]);
        let before = tree_hash(&dest);
        let r = run(&a, args(&a, &dest, json!({})));
        let f = failed(&r);
        assert_eq!(f["rc"], 1, "{f}");
        assert!(f["cmd"].to_string().contains("lkbackup"), "{f}");
        assert!(!f["stderr_tail"].as_str().unwrap().is_empty());
        assert!(
            f["msg"]
                .as_str()
                .unwrap()
                .contains("previous backups are untouched"),
            "{f}"
        );
        assert_eq!(tree_hash(&dest), before, "{mode}: dest changed");
        assert_eq!(
            config_archives(&a),
            Vec::<String>::new(),
            "{mode}: partial archive left"
        );
        if mode == "halfway" {
            assert!(
                f["stderr_tail"].as_str().unwrap().contains("No space left"),
                "{f}"
            );
            assert_eq!(
                f["partial_archives_removed"].as_array().unwrap().len(),
                1,
                "{f}"
            );
        }
        c.sim(&["fault", "clear", "--dir", dir]);
    }
    assert!(sha256sum_c(&dest).status.success());
    // after the fault is cleared, the changed configuration is backed up
    assert_eq!(ok(&run(&a, args(&a, &dest, json!({}))))["changed"], true);
}

#[test]
fn failing_lkbackup_on_a_fresh_dest_leaves_no_backup_looking_file() {
    let (c, a, dest) = setup("fault-fresh");
    c.sim(&[
        "fault",
        "set",
        "node-a",
        "lkbackup",
        "halfway",
        "--dir",
        c.dir.to_str().unwrap(),
    ]);
    let r = run(&a, args(&a, &dest, json!({})));
    failed(&r);
    let left: Vec<String> = dest_files(&dest)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

#[test]
fn dest_inside_lkroot_or_a_symlink_is_refused() {
    let (c, a, _dest) = setup("inside");
    let node_before = tree_hash(&a.root);
    let inside = a.lkroot.join("config/backups");
    let r = run(&a, args(&a, &inside, json!({})));
    let f = failed(&r);
    assert_eq!(f["invalid_parameter"], "backup_dir");
    assert!(f["msg"].as_str().unwrap().contains("uninstaller"), "{f}");
    // literally inside via ..
    let dotted = c.dir.join("x/../node-a/opt/LifeKeeper/b");
    assert_eq!(
        failed(&run(&a, args(&a, &dotted, json!({}))))["invalid_parameter"],
        "backup_dir"
    );
    // through a symlink that leads into lkroot
    std::os::unix::fs::symlink(a.lkroot.join("config"), c.dir.join("sneaky")).unwrap();
    let via = c.dir.join("sneaky/new");
    assert!(failed(&run(&a, args(&a, &via, json!({}))))["msg"]
        .as_str()
        .unwrap()
        .contains("uninstaller"));
    assert_eq!(tree_hash(&a.root), node_before);
    // a dest that is itself a symlink (to somewhere harmless) is refused as well
    fs::create_dir_all(c.dir.join("real")).unwrap();
    std::os::unix::fs::symlink(c.dir.join("real"), c.dir.join("link")).unwrap();
    let f = run(&a, args(&a, &c.dir.join("link"), json!({})));
    assert!(failed(&f)["msg"]
        .as_str()
        .unwrap()
        .contains("symbolic link"));
    assert_eq!(dest_files(&c.dir.join("real")), Vec::<String>::new());
    // relative dest and missing dest are parameter errors
    assert_eq!(
        failed(&run(&a, args(&a, Path::new("rel/dir"), json!({}))))["invalid_parameter"],
        "backup_dir"
    );
    let r = run(
        &a,
        json!({"lkroot": a.lkroot, "defaults_file": a.defaults_file}),
    );
    assert_eq!(failed(&r)["invalid_parameter"], "backup_dir");
}

#[test]
fn check_mode_writes_nothing_on_node_or_dest() {
    let (_c, a, dest) = setup("check");
    let node_before = tree_hash(&a.root);
    let r = run(
        &a,
        args(
            &a,
            &dest,
            json!({"_ansible_check_mode": true, "_ansible_diff": true}),
        ),
    );
    let v = ok(&r);
    assert_eq!(v["changed"], true);
    assert_eq!(v["sha256"], Value::Null);
    assert!(!dest.exists(), "check mode created dest");
    assert_eq!(tree_hash(&a.root), node_before);
    // with an existing dest and a changed configuration
    ok(&run(&a, args(&a, &dest, json!({}))));
    append(&a.defaults_file, "Z=3\n");
    let node_before = tree_hash(&a.root);
    let dest_before = tree_hash(&dest);
    for extra in [
        json!({}),
        json!({"force": true, "keep": 1}),
        json!({"keep": 1}),
    ] {
        let mut x = extra.clone();
        x["_ansible_check_mode"] = json!(true);
        let r = run(&a, args(&a, &dest, x));
        assert_eq!(ok(&r)["changed"], true, "{extra}");
        assert_eq!(tree_hash(&a.root), node_before, "{extra}");
        assert_eq!(tree_hash(&dest), dest_before, "{extra}");
    }
}

#[test]
fn parallel_runs_on_one_dest_serialise_and_lose_no_record() {
    let (c, a, dest) = setup("parallel");
    let b = c.node("node-b").clone();
    ok(&run(&a, args(&a, &dest, json!({}))));
    let ta = {
        let (a, dest) = (a.clone(), dest.clone());
        std::thread::spawn(move || run(&a, args(&a, &dest, json!({"force": true}))))
    };
    let tb = {
        let (b, dest) = (b.clone(), dest.clone());
        std::thread::spawn(move || run(&b, args(&b, &dest, json!({"force": true}))))
    };
    ok(&ta.join().unwrap());
    ok(&tb.join().unwrap());
    let m: Value =
        serde_json::from_str(&fs::read_to_string(dest.join("lkops-backups.json")).unwrap())
            .unwrap();
    assert_eq!(m["backups"].as_array().unwrap().len(), 3);
    let sums = fs::read_to_string(dest.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), 6);
    assert!(sha256sum_c(&dest).status.success());
}

/// Stable text for pinning: the scratch dir, stamps and run-dependent values replaced.
fn redacted(v: Value, c: &Cluster) -> Value {
    let mut r = Redactor::new()
        .path(&c.dir, "<DIR>")
        .stamps(pin::STAMP)
        // lkbackup's own name: archive.<YYMMDDhhmm>.tar.gz
        .n_digits_after("archive.", 10, "<MIN>");
    for k in ["time", "timestamp", "sha256", "size", "fingerprint"] {
        r = r.key(k, pin::REDACTED);
    }
    r.apply(&v)
}

#[test]
fn pinned_full_json_of_present_verified_and_restored() {
    let (c, a, dest) = setup("pinned");
    let r = run(&a, args(&a, &dest, json!({"_ansible_diff": true})));
    let recorded_fp = ok(&r)["fingerprint"].as_str().unwrap().to_string();
    let v = redacted(ok(&r).clone(), &c);
    let defaults_sha = lkops::runtime::fs::sha256_file(&a.defaults_file).unwrap();
    let entry = json!({
        "archive": "node-a.lkbackup.<STAMP>.tar.gz",
        "defaults_copy": "node-a.LifeKeeper.defaults.<STAMP>",
        "defaults_sha256": defaults_sha,
        "fingerprint": "<redacted>",
        "host": "node-a",
        "lifekeeper_version": "9.4.0",
        "sha256": "<redacted>",
        "size": "<redacted>",
        "source": "<DIR>/node-a/opt/LifeKeeper/config/archive.<MIN>.tar.gz",
        "time": "<redacted>",
        "timestamp": "<redacted>"
    });
    assert_pinned(
        &v,
        &json!({
            "archive": "<DIR>/backups/node-a.lkbackup.<STAMP>.tar.gz",
            "backups": [entry],
            "changed": true,
            "comment": "took backup node-a.lkbackup.<STAMP>.tar.gz (no backup of node-a in <DIR>/backups)",
            "defaults_copy": "<DIR>/backups/node-a.LifeKeeper.defaults.<STAMP>",
            "diff": {
                "after": "node-a.LifeKeeper.defaults.<STAMP>\nnode-a.lkbackup.<STAMP>.tar.gz\n",
                "after_header": "<DIR>/backups backups (after)",
                "before": "",
                "before_header": "<DIR>/backups backups (before)"
            },
            "failed": false,
            "fingerprint": "<redacted>",
            "host": "node-a",
            "invocation": {"module_args": {
                "defaults_file": "<DIR>/node-a/etc/default/LifeKeeper",
                "backup_dir": "<DIR>/backups",
                "force": false,
                "include_defaults": true,
                "keep": 5,
                "keep_source": false,
                "lkroot": "<DIR>/node-a/opt/LifeKeeper",
                "state": "present",
                "timeout": 600
            }},
            "msg": "took backup node-a.lkbackup.<STAMP>.tar.gz (no backup of node-a in <DIR>/backups)",
            "pruned": [],
            "sha256": "<redacted>",
            "size": "<redacted>"
        }),
    );

    let r = run(&a, json!({"state": "verified", "dest": dest}));
    assert_pinned(
        &redacted(ok(&r).clone(), &c),
        &json!({
            "backups": [entry],
            "changed": false,
            "checked": ["node-a.lkbackup.<STAMP>.tar.gz", "node-a.LifeKeeper.defaults.<STAMP>"],
            "comment": "all 2 files in <DIR>/backups match SHA256SUMS",
            "corrupt": [],
            "failed": false,
            "invocation": {"module_args": {
                "defaults_file": "/etc/default/LifeKeeper",
                "backup_dir": "<DIR>/backups",
                "force": false,
                "include_defaults": true,
                "keep": 5,
                "keep_source": false,
                "lkroot": "/opt/LifeKeeper",
                "state": "verified",
                "timeout": 600
            }},
            "missing": [],
            "msg": "all 2 files in <DIR>/backups match SHA256SUMS",
            "not_recorded": []
        }),
    );

    a.lk("lkstop", &[]);
    fs::write(&a.defaults_file, "CHANGED=1\n").unwrap();
    let archive = v["archive"]
        .as_str()
        .unwrap()
        .replace("<DIR>", c.dir.to_str().unwrap());
    let archive = fs::read_dir(&dest)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| unstamp(&p.display().to_string()) == unstamp(&archive))
        .unwrap();
    let changed_fp = lkops::modules::backup::fingerprint(&a.lkroot, &a.defaults_file).unwrap();
    let r = run(
        &a,
        json!({"state": "restored", "archive": archive, "lkroot": a.lkroot,
        "defaults_file": a.defaults_file, "_ansible_diff": true}),
    );
    let got = redacted(ok(&r).clone(), &c);
    let original = fs::read_to_string(&a.defaults_file).unwrap();
    assert_pinned(
        &got,
        &json!({
            "archive": "<DIR>/backups/node-a.lkbackup.<STAMP>.tar.gz",
            "backups": [entry],
            "changed": true,
            "checked_against": ["SHA256SUMS"],
            "comment": "restored <DIR>/backups/node-a.lkbackup.<STAMP>.tar.gz (1 configuration files changed)",
            "diff": [
                {
                    "after": format!("{recorded_fp}\n"),
                    "after_header": "configuration fingerprint of <DIR>/node-a/opt/LifeKeeper/config (after)",
                    "before": format!("{changed_fp}\n"),
                    "before_header": "configuration fingerprint of <DIR>/node-a/opt/LifeKeeper/config (before)"
                },
                {
                    "after": original,
                    "after_header": "<DIR>/node-a/etc/default/LifeKeeper (after)",
                    "before": "CHANGED=1\n",
                    "before_header": "<DIR>/node-a/etc/default/LifeKeeper (before)"
                }
            ],
            "failed": false,
            "fingerprint": "<redacted>",
            "invocation": {"module_args": {
                "archive": "<DIR>/backups/node-a.lkbackup.<STAMP>.tar.gz",
                "defaults_file": "<DIR>/node-a/etc/default/LifeKeeper",
                "force": false,
                "include_defaults": true,
                "keep": 5,
                "keep_source": false,
                "lkroot": "<DIR>/node-a/opt/LifeKeeper",
                "state": "restored",
                "timeout": 600
            }},
            "msg": "restored <DIR>/backups/node-a.lkbackup.<STAMP>.tar.gz (1 configuration files changed)",
            "restored_files": ["<DIR>/node-a/etc/default/LifeKeeper"],
            "sha256": "<redacted>",
            "size": "<redacted>",
            "would_restore": [
                "opt/LifeKeeper/config/commpaths.json",
                "opt/LifeKeeper/config/hierarchy.json",
                "opt/LifeKeeper/subsys/comm/resources/ip/ip-10.0.0.50.conf",
                "opt/LifeKeeper/subsys/database/resources/pgsql/pgsql-5432.conf",
                "opt/LifeKeeper/subsys/gen/resources/app/app-pgsql.conf",
                "opt/LifeKeeper/subsys/gen/resources/filesys/filesys1234.conf",
                "opt/LifeKeeper/subsys/scsi/resources/device/device5678.conf",
                "opt/LifeKeeper/subsys/scsi/resources/disk/disk9012.conf",
                "etc/default/LifeKeeper"
            ]
        }),
    );
}

#[test]
fn keep_source_leaves_lkbackups_archive_and_stale_temps_of_a_killed_run_are_cleaned() {
    let (_c, a, dest) = setup("keep-source");
    let r = run(&a, args(&a, &dest, json!({"keep_source": true})));
    let v = ok(&r).clone();
    let kept = config_archives(&a);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        lkops::runtime::fs::sha256_file(&a.lkroot.join("config").join(&kept[0])).unwrap(),
        v["sha256"].as_str().unwrap()
    );
    // lkbackup's archive in config is not configuration: still unchanged
    assert_eq!(ok(&run(&a, args(&a, &dest, json!({}))))["changed"], false);

    // a copy interrupted by a kill leaves `.<name>.lkops-tmp.<pid>`; a dead pid's is removed
    let stale = dest.join(".node-a.lkbackup.20000101T000000Z.tar.gz.lkops-tmp.999999999");
    fs::write(&stale, "half an archive").unwrap();
    let before = tree_hash(&dest);
    ok(&run(
        &a,
        args(&a, &dest, json!({"_ansible_check_mode": true})),
    ));
    assert_eq!(tree_hash(&dest), before, "check mode removed the temp file");
    let r = run(&a, args(&a, &dest, json!({})));
    let v = ok(&r);
    assert!(!stale.exists());
    assert!(v["warnings"].to_string().contains("interrupted run"), "{v}");
    assert_eq!(
        v["changed"], false,
        "cleaning our own temp file is not a change of state"
    );
}

/// Issue 21: `backup_dir` means the same in lk_backup, lk_preflight and lk_upgrade; lk_backup's
/// old name `dest` is kept as an alias. Both names take a real backup into the same directory
/// (the second run finds it and changes nothing), and both at once is refused naming both,
/// before anything is written.
#[test]
fn backup_dir_and_its_old_alias_dest_both_work_and_both_at_once_is_refused() {
    let (_c, a, dest) = setup("alias");
    let base = json!({"lkroot": a.lkroot, "defaults_file": a.defaults_file});
    let with = |k: &str, v: &Path| {
        let mut x = base.clone();
        x[k] = json!(v);
        x
    };
    let first = run(&a, with("backup_dir", &dest));
    assert_eq!(ok(&first)["changed"], true, "{}", first.0);
    assert_eq!(
        first.0["invocation"]["module_args"]["backup_dir"],
        json!(dest),
        "{}",
        first.0
    );
    let files = dest_files(&dest);
    let again = run(&a, with("dest", &dest));
    assert_eq!(ok(&again)["changed"], false, "{}", again.0);
    assert_eq!(again.0["archive"], first.0["archive"]);
    assert_eq!(dest_files(&dest), files);

    // The alias is checked as the option it stands for, and errors name the option.
    for k in ["backup_dir", "dest"] {
        let r = run(&a, with(k, Path::new("relative/dir")));
        assert_eq!(
            failed(&r)["invalid_parameter"],
            "backup_dir",
            "{k}: {}",
            r.0
        );
    }

    let other = dest.with_file_name("other-backups");
    for (x, y) in [(&dest, &other), (&dest, &dest)] {
        let mut both = with("backup_dir", x);
        both["dest"] = json!(y);
        let r = run(&a, both);
        let f = failed(&r);
        assert_eq!(f["invalid_parameter"], "backup_dir", "{f}");
        assert!(
            f["msg"]
                .as_str()
                .unwrap()
                .contains("are the same parameter (backup_dir, dest): give only one of them"),
            "{f}"
        );
    }
    assert!(!other.exists(), "a refused run wrote {}", other.display());
    assert_eq!(dest_files(&dest), files);
}

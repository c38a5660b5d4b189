//! Regression tests for the backup, lock and reinstall defects of issue 22 (1, 2, 5, 8, 9, 10,
//! 15, 17), each named after the defect it guards. They run the real module binaries against
//! lksim.

use crate::common::{media, procs_where, procs_with_arg, Cluster, Node};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A 9.2.2 cluster (node-b is reinstalled to 9.6.1), its 9.6.1 media and the backup dir.
fn reinstall_cluster(name: &str) -> (Cluster, PathBuf, PathBuf) {
    let c = Cluster::create(name, &["node-a", "node-b"], "9.2.2", &[]);
    let img = media(name, "9.6.1");
    let backups = c.dir.join("backups");
    (c, img, backups)
}

fn upgrade_args(c: &Cluster, n: &Node, img: &Path, backups: &Path, extra: Value) -> Value {
    let mut a = json!({
        "version": "9.6.1",
        "generate_setup_config": true,
        "setup_mode": "args",
        "media": s(img),
        "allow_reinstall": true,
        "backup_dir": s(backups),
        "lkroot": s(&n.lkroot),
        "defaults_file": s(&n.defaults_file),
        "work_dir": s(&c.dir.join("work")),
        "state_dir": s(&c.dir.join("state")),
        "timeout": 60,
    });
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

fn backup(n: &Node, backups: &Path, extra: Value) -> Value {
    let mut a =
        json!({"dest": s(backups), "lkroot": s(&n.lkroot), "defaults_file": s(&n.defaults_file)});
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    let (v, rc) = n.module("lk_backup", a);
    assert_eq!(rc, 0, "lk_backup: {v:#}");
    v
}

fn installed(n: &Node) -> String {
    String::from_utf8_lossy(&n.lk("lcdstatus", &["-e"]).stdout).into_owned()
        + &std::fs::read_to_string(&n.defaults_file).unwrap_or_default()
}

fn append(f: &Path, text: &str) {
    let old = std::fs::read_to_string(f).unwrap();
    std::fs::write(f, old + text).unwrap();
}

/// Defect 1: with the newest backup damaged, the reinstall fell back to an older one; and a
/// backup older than the current configuration was restored without a word.
#[test]
fn reinstall_restores_older_or_stale_backup_without_a_word() {
    let (c, img, backups) = reinstall_cluster("defect1");
    let b = c.node("node-b");
    let first = backup(b, &backups, json!({}));
    // A site change after backup 1 (the fingerprint covers the defaults file and lkroot/config).
    append(&b.defaults_file, "SITE_TUNABLE=42\n");
    let second = backup(b, &backups, json!({}));
    assert_eq!(second["changed"], true, "{second:#}");
    assert_ne!(first["archive"], second["archive"]);
    let archive2 = PathBuf::from(second["archive"].as_str().unwrap());
    let good = std::fs::read(&archive2).unwrap();
    let mut bad = good.clone();
    bad[10] ^= 1;
    std::fs::write(&archive2, &bad).unwrap();
    let before = installed(b);

    // Damaged newest: refused in check mode and for real, never backup 1.
    for check in [true, false] {
        let mut a = upgrade_args(&c, b, &img, &backups, json!({}));
        a["_ansible_check_mode"] = json!(check);
        let (v, rc) = b.module("lk_upgrade", a);
        assert_eq!(rc, 1, "check={check}: {v:#}");
        let msg = v["msg"].as_str().unwrap();
        assert!(msg.contains("does not verify"), "{msg}");
        assert!(
            !v.to_string().contains(
                Path::new(first["archive"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
            ) || msg.contains("never used"),
            "{v:#}"
        );
        assert_eq!(installed(b), before, "nothing touched");
    }

    // Intact again, but the configuration changed after the newest backup: refused.
    std::fs::write(&archive2, &good).unwrap();
    append(&b.defaults_file, "ANOTHER_SITE_TUNABLE=1\n");
    let before = installed(b);
    for check in [true, false] {
        let mut a = upgrade_args(&c, b, &img, &backups, json!({}));
        a["_ansible_check_mode"] = json!(check);
        let (v, rc) = b.module("lk_upgrade", a);
        assert_eq!(rc, 1, "check={check}: {v:#}");
        let msg = v["msg"].as_str().unwrap();
        assert!(msg.contains("changed after the newest backup"), "{msg}");
        assert!(msg.contains("allow_stale_backup"), "{msg}");
        assert_eq!(installed(b), before, "nothing touched");
    }
    // With the explicit parameter: a warning (check mode predicts the run).
    let mut a = upgrade_args(&c, b, &img, &backups, json!({"allow_stale_backup": true}));
    a["_ansible_check_mode"] = json!(true);
    let (v, rc) = b.module("lk_upgrade", a);
    assert_eq!(rc, 0, "{v:#}");
    assert!(
        v["warnings"].to_string().contains("allow_stale_backup"),
        "{v:#}"
    );
    // A fresh backup makes it current: the real run goes through.
    backup(b, &backups, json!({}));
    let (v, rc) = b.module("lk_upgrade", upgrade_args(&c, b, &img, &backups, json!({})));
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["version"], "9.6.1");
}

fn verify(n: &Node, dest: &Path) -> (Value, i32) {
    n.module("lk_backup", json!({"state": "verified", "dest": s(dest)}))
}

/// Defect 10: a deleted manifest passed; "0 files checked" passed; intact files missing only from
/// SHA256SUMS were called "corrupt".
#[test]
fn backup_verified_misses_or_misnames_damage() {
    let c = Cluster::create("defect10", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let dest = c.dir.join("backups");
    let v = backup(a, &dest, json!({}));
    let archive = Path::new(v["archive"].as_str().unwrap())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let (v, rc) = verify(a, &dest);
    assert_eq!(rc, 0, "{v:#}");
    let sums_path = dest.join("SHA256SUMS");
    let sums = std::fs::read_to_string(&sums_path).unwrap();
    let manifest_path = dest.join("lkops-backups.json");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();

    // The archive's line removed from SHA256SUMS: "not recorded", not "corrupt".
    let without: String = sums
        .lines()
        .filter(|l| !l.ends_with(&archive))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&sums_path, &without).unwrap();
    let (v, rc) = verify(a, &dest);
    assert_eq!(rc, 1, "{v:#}");
    assert_eq!(v["not_recorded"], json!([archive]), "{v:#}");
    assert_eq!(v["corrupt"], json!([]), "{v:#}");
    assert!(v["msg"].as_str().unwrap().contains("not recorded"), "{v:#}");
    std::fs::write(&sums_path, &sums).unwrap();

    // The manifest deleted: fails, naming it.
    std::fs::remove_file(&manifest_path).unwrap();
    let (v, rc) = verify(a, &dest);
    assert_eq!(rc, 1, "{v:#}");
    assert!(
        v["msg"].as_str().unwrap().contains("lkops-backups.json"),
        "{v:#}"
    );

    // Nothing checked (an empty manifest and SHA256SUMS): fails.
    let mut m: Value = serde_json::from_str(&manifest).unwrap();
    m["backups"] = json!([]);
    std::fs::write(&manifest_path, m.to_string()).unwrap();
    std::fs::write(&sums_path, "").unwrap();
    let (v, rc) = verify(a, &dest);
    assert_eq!(rc, 1, "{v:#}");
    assert!(v["msg"].as_str().unwrap().contains("checked"), "{v:#}");
}

fn fault(c: &Cluster, node: &str, cmd: &str, mode: &str) {
    c.sim(&[
        "fault",
        "set",
        node,
        cmd,
        mode,
        "--dir",
        c.dir.to_str().unwrap(),
    ]);
}

fn clear(c: &Cluster) {
    c.sim(&["fault", "clear", "--dir", c.dir.to_str().unwrap()]);
}

/// Defect 2: with keep: 1, a backup taken while a reinstall is unfinished pruned the archive the
/// journal names; the rerun then refused and the node was left with no hierarchies.
#[test]
fn retention_deletes_the_archive_an_unfinished_reinstall_depends_on() {
    let (c, img, backups) = reinstall_cluster("defect2");
    let b = c.node("node-b");
    let first = backup(b, &backups, json!({"keep": 1}));
    let archive = PathBuf::from(first["archive"].as_str().unwrap());
    fault(&c, "node-b", "lkstart", "fail");
    let (v, rc) = b.module("lk_upgrade", upgrade_args(&c, b, &img, &backups, json!({})));
    assert_eq!(rc, 1, "{v:#}");
    clear(&c);
    // The playbook's backup task on the rerun (reinstalled and restored, not started yet): a new
    // backup is taken (force), and keep: 1 would prune the one the journal names.
    let v = backup(b, &backups, json!({"keep": 1, "force": true}));
    assert!(archive.is_file(), "the journal's archive was pruned: {v:#}");
    let w = v["warnings"].to_string();
    assert!(w.contains("unfinished"), "{v:#}");
    // The rerun resumes and restores the journal's archive.
    let (v, rc) = b.module("lk_upgrade", upgrade_args(&c, b, &img, &backups, json!({})));
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["backup"], json!(s(&archive)), "{v:#}");
    // Finished: retention applies again.
    backup(b, &backups, json!({"keep": 1, "force": true}));
    assert!(
        !archive.exists(),
        "finished: the old archive is pruned again"
    );
}

fn direct_args(c: &Cluster, n: &Node, img: &Path, state_dir: &str) -> Value {
    json!({
        "version": "9.6.1",
        "generate_setup_config": true,
        "setup_mode": "args",
        "media": s(img),
        "lkroot": s(&n.lkroot),
        "defaults_file": s(&n.defaults_file),
        "work_dir": s(&c.dir.join(format!("work-{state_dir}"))),
        "state_dir": s(&c.dir.join(state_dir)),
        "timeout": 60,
    })
}

/// Run `module` on `n` in two threads at once with the two argument sets.
fn together(n: &Node, module: &str, a1: Value, a2: Value) -> [(Value, i32); 2] {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let spawn = |a: Value| {
        let (n, m, b) = (n.clone(), module.to_string(), barrier.clone());
        std::thread::spawn(move || {
            b.wait();
            n.module(&m, a)
        })
    };
    let (t1, t2) = (spawn(a1), spawn(a2));
    [t1.join().unwrap(), t2.join().unwrap()]
}

/// Defect 8: the lock was keyed on the journal's location, so two lk_upgrade runs that differed
/// only in state_dir both ran setup at once. Now one node lock per lkroot: one run upgrades, the
/// other plans after it and finds nothing to do.
#[test]
fn two_lk_upgrade_runs_on_one_node_run_setup_at_once() {
    let c = Cluster::create("defect8", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("defect8", "9.6.1");
    let b = c.node("node-b");
    let r = together(
        b,
        "lk_upgrade",
        direct_args(&c, b, &img, "state1"),
        direct_args(&c, b, &img, "state2"),
    );
    for (v, rc) in &r {
        assert_eq!(*rc, 0, "{v:#}");
        assert_eq!(v["version"], "9.6.1", "{v:#}");
    }
    let changed: Vec<bool> = r.iter().map(|(v, _)| v["changed"] == true).collect();
    assert_eq!(changed.iter().filter(|c| **c).count(), 1, "{r:#?}");
    let setups: usize = r
        .iter()
        .map(|(v, _)| v["setup_logs"].as_array().map_or(0, |l| l.len()))
        .sum();
    assert_eq!(setups, 1, "setup ran once: {r:#?}");
}

/// Defect 15: the plan was made before the lock was taken; two identical reinstall runs started
/// together both reinstalled and the second overwrote the saved old-release defaults.
#[test]
fn stale_plan_after_waiting_for_the_lock() {
    let (c, img, backups) = reinstall_cluster("defect15");
    let b = c.node("node-b");
    append(&b.defaults_file, "SITE_TUNABLE=42\n");
    let old = std::fs::read_to_string(&b.defaults_file).unwrap();
    backup(b, &backups, json!({}));
    let a = upgrade_args(&c, b, &img, &backups, json!({}));
    let r = together(b, "lk_upgrade", a.clone(), a);
    for (v, rc) in &r {
        assert_eq!(*rc, 0, "{v:#}");
    }
    let changed = r.iter().filter(|(v, _)| v["changed"] == true).count();
    assert_eq!(changed, 1, "exactly one run reinstalls: {r:#?}");
    let saved = r
        .iter()
        .find(|(v, _)| v["changed"] == true)
        .map(|(v, _)| v["saved_defaults"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        old,
        "the saved old-release defaults are the old release's"
    );
    assert!(std::fs::read_to_string(&b.defaults_file)
        .unwrap()
        .contains("SITE_TUNABLE=42"));
}

/// Defect 5: require_standby was checked only while planning and no lock spanned the modules:
/// lk_resource moved the hierarchies onto the node between lk_upgrade's plan and its setup.
/// Here, between the plan and setup (at the next status read), lk_resource tries to bring the
/// hierarchies into service on the node (it must find the node locked), and then a hierarchy is
/// brought into service behind lkops' back (perform_action): the re-check must stop the run
/// before setup.
#[test]
fn require_standby_checked_only_while_planning_no_lock_spans_the_modules() {
    let c = Cluster::create("defect5", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("defect5", "9.6.1");
    let b = c.node("node-b");
    let res_args = c.dir.join("resource-args.json");
    std::fs::write(
        &res_args,
        json!({"state": "active", "lkroot": s(&b.lkroot), "timeout": 2}).to_string(),
    )
    .unwrap();
    let res_out = c.dir.join("resource-out.json");
    let count = c.dir.join("lcdstatus-count");
    let cmd = b.lkroot.join("bin/lcdstatus");
    let real = b.lkroot.join("bin/lcdstatus.real");
    std::fs::rename(&cmd, &real).unwrap();
    std::fs::write(
        &cmd,
        format!(
            "#!/bin/sh\nn=$(cat '{count}' 2>/dev/null || echo 0)\necho $((n+1)) > '{count}'\nif [ \"$n\" = 1 ]; then\n  '{res}' '{args}' > '{out}' 2>/dev/null\n  \"$(dirname \"$0\")/perform_action\" -t ip-10.0.0.50 -a restore >/dev/null 2>&1\nfi\nexec \"$0.real\" \"$@\"\n",
            count = s(&count),
            res = s(&crate::common::bin("lk_resource")),
            args = s(&res_args),
            out = s(&res_out),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755)).unwrap();

    let (v, rc) = b.module("lk_upgrade", direct_args(&c, b, &img, "state"));
    let res = std::fs::read_to_string(&res_out).unwrap_or_default();
    assert!(
        res.contains("another lkops module is changing this node"),
        "lk_resource ran while lk_upgrade held the node: {res}"
    );
    assert_eq!(rc, 1, "{v:#}");
    assert!(
        v["msg"].as_str().unwrap().contains("came into service"),
        "{v:#}"
    );
    assert_eq!(
        v["in_service"][0]
            .as_str()
            .map(|t| t.starts_with("ip-10.0.0.50")),
        Some(true),
        "{v:#}"
    );
    let st = String::from_utf8_lossy(&b.lk("lcdstatus", &["-e"]).stdout).into_owned();
    assert!(st.contains("ip-10.0.0.50"), "{st}");
    // setup never ran: still 9.4.0.
    assert_eq!(v["setup_logs"], json!([]), "{v:#}");
}

/// Defect 17: dest swapped for a symbolic link into `lkroot/config` during a run (here by a
/// wrapped lkbackup) made lk_backup write the backups where rmlk deletes them, and report success.
#[test]
fn toctou_on_dest_backup_dir() {
    let c = Cluster::create("defect17", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let dest = c.dir.join("backups");
    backup(a, &dest, json!({}));
    append(&a.defaults_file, "SITE_TUNABLE=1\n");
    let config = a.lkroot.join("config");
    let cmd = a.lkroot.join("bin/lkbackup");
    std::fs::rename(&cmd, a.lkroot.join("bin/lkbackup.real")).unwrap();
    std::fs::write(
        &cmd,
        format!(
            "#!/bin/sh\n\"$0.real\" \"$@\"; rc=$?\nmv '{d}' '{d}.moved' && ln -s '{cfg}' '{d}'\nexit $rc\n",
            d = s(&dest),
            cfg = s(&config)
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before: Vec<String> = std::fs::read_dir(&config)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("archive."))
        .collect();
    let (v, rc) = a.module(
        "lk_backup",
        json!({"dest": s(&dest), "lkroot": s(&a.lkroot), "defaults_file": s(&a.defaults_file)}),
    );
    let after: Vec<String> = std::fs::read_dir(&config)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("archive."))
        .collect();
    assert_eq!(after, before, "the run wrote into lkroot/config: {v:#}");
    assert_eq!(rc, 1, "the run must not report success: {v:#}");
    assert!(v["msg"].as_str().unwrap().contains("was replaced"), "{v:#}");
    // What was written is in the directory dest was, complete and verifiable.
    std::fs::remove_file(&dest).unwrap();
    std::fs::rename(dest.with_extension("moved"), &dest).unwrap();
    let (v, rc) = a.module("lk_backup", json!({"state": "verified", "dest": s(&dest)}));
    assert_eq!(rc, 0, "{v:#}");
}

/// Defect 9 (the lk_backup part): a backup copy renamed into dest by a run killed before it was
/// recorded stayed for ever and `verified` warned about it on every run. A stale temp of a dead
/// pid left beside the records is removed too.
#[test]
fn temp_and_orphan_files_never_cleaned_after_a_kill() {
    let c = Cluster::create("defect9", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let dest = c.dir.join("backups");
    let v = backup(a, &dest, json!({}));
    // What a run killed after its renames and before the records leaves behind.
    let orphan = dest.join("node-a.lkbackup.29990101T000000Z.tar.gz");
    let orphan_defaults = dest.join("node-a.LifeKeeper.defaults.29990101T000000Z");
    std::fs::copy(v["archive"].as_str().unwrap(), &orphan).unwrap();
    std::fs::copy(&a.defaults_file, &orphan_defaults).unwrap();
    // A temp of a dead writer (pid 999999 does not exist).
    let temp = dest.join(".lkops-backups.json.lkops-tmp.999999");
    std::fs::write(&temp, "{").unwrap();
    let (v, rc) = verify(a, &dest);
    assert_eq!(rc, 0, "{v:#}");
    assert!(v["warnings"].to_string().contains("not listed"), "{v:#}");
    let v = backup(a, &dest, json!({}));
    assert!(!orphan.exists() && !orphan_defaults.exists(), "{v:#}");
    assert!(!temp.exists(), "{v:#}");
    assert!(
        v["warnings"].to_string().contains("never recorded"),
        "{v:#}"
    );
    let (v, rc) = verify(a, &dest);
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["warnings"], Value::Null, "{v:#}");
}

/// Files under `dir` whose content holds `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut out = vec![];
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            out.extend(files_holding(&p, needle));
        } else if t.is_file()
            && std::fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle))
        {
            out.push(s(&p));
        }
    }
    out
}

/// Start lk_upgrade on `n` (not waiting), with the node's PATH.
fn spawn_module(c: &Cluster, n: &Node, module: &str, args: &Value) -> std::process::Child {
    // The args file (Ansible's, holding the parameters as given) is kept outside the cluster.
    let dir = crate::common::scratch(&format!(
        "{}-args",
        c.dir.file_name().unwrap().to_string_lossy()
    ));
    let file = dir.join(format!("{module}.json"));
    std::fs::write(&file, args.to_string()).unwrap();
    std::process::Command::new(crate::common::bin(module))
        .arg(&file)
        .env("PATH", n.path_env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// SIGKILL `child` and then every process left with an argument containing `needle`.
fn kill_all(child: &mut std::process::Child, needle: &str) {
    // SAFETY: kill(2) on the pid of the child we started, then on the orphans it left, by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    for pid in procs_with_arg(needle) {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Defect 9 (the lk_upgrade part): the generated setup configuration, which names the no_log
/// license files, was a file in work_dir that a SIGKILLed run left until the next run. Now it is
/// a memory file setup inherits (`-f /dev/fd/N`): while setup runs it reads it, and once the
/// module is killed nothing on disk holds the license paths, before any rerun. With
/// generated_config_fd: false (the fallback while the real setup's handling of /dev/fd is
/// UNCONFIRMED) the file is left by the kill and removed by the next run. And every real run,
/// even one with nothing to do, removes the temps of dead writers beside each file lk_upgrade
/// writes.
#[test]
fn temp_and_orphan_files_never_cleaned_after_a_kill_lk_upgrade() {
    for fd in [true, false] {
        let name = format!("defect9-upgrade-{fd}");
        let c = Cluster::create(&name, &["node-a", "node-b"], "9.4.0", &[]);
        let img = media(&name, "9.6.1");
        let b = c.node("node-b");
        let lic_dir = c.dir.join("licenses");
        std::fs::create_dir_all(&lic_dir).unwrap();
        let lic = lic_dir.join("SECRET-LICENSE-7f3a9c.lic");
        std::fs::write(&lic, "license key\n").unwrap();
        let secret = "SECRET-LICENSE-7f3a9c";
        let mut args = direct_args(&c, b, &img, "state");
        args["license_files"] = json!([s(&lic)]);
        args["generated_config_fd"] = json!(fd);
        args["media_mode"] = json!("extract");
        let work = c.dir.join("work-state");
        fault(&c, "node-b", "setup", "hang");
        let mut child = spawn_module(&c, b, "lk_upgrade", &args);
        let needle = format!("{}/media-9.6.1-", s(&work));
        let t = std::time::Instant::now();
        let setup_pid = loop {
            let found = procs_where(|args| {
                args.iter()
                    .any(|a| String::from_utf8_lossy(a).contains(&needle))
                    && String::from_utf8_lossy(&args.join(&0u8)).contains("-q")
            });
            if let Some(p) = found.first() {
                break *p;
            }
            assert!(
                t.elapsed() < std::time::Duration::from_secs(120),
                "setup never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let cmdline = String::from_utf8_lossy(
            &std::fs::read(format!("/proc/{setup_pid}/cmdline")).unwrap_or_default(),
        )
        .replace('\0', " ");
        if fd {
            // setup was given its inherited descriptor, and reads the configuration there.
            let path = cmdline
                .split(' ')
                .skip_while(|a| *a != "-f")
                .nth(1)
                .unwrap_or_default()
                .to_string();
            assert!(path.starts_with("/dev/fd/"), "{cmdline}");
            let n = path.trim_start_matches("/dev/fd/");
            let link = std::fs::read_link(format!("/proc/{setup_pid}/fd/{n}")).unwrap();
            assert!(
                link.to_string_lossy().ends_with(".conf (deleted)"),
                "{link:?} ({cmdline})"
            );
            let conf = std::fs::read_to_string(format!("/proc/{setup_pid}/fd/{n}")).unwrap();
            assert!(conf.contains(secret), "{conf}");
        } else {
            assert!(cmdline.contains(&s(&work)), "{cmdline}");
        }
        kill_all(&mut child, &s(&c.dir));
        clear(&c);
        let holding = files_holding(&c.dir, secret);
        if fd {
            assert_eq!(
                holding,
                Vec::<String>::new(),
                "a killed run left the license paths on disk"
            );
        } else {
            assert_eq!(holding.len(), 1, "{holding:?}");
            assert!(holding[0].contains("/setup-"), "{holding:?}");
        }
        // The rerun resumes and leaves nothing holding the license paths.
        let (v, rc) = b.module("lk_upgrade", args.clone());
        assert_eq!(rc, 0, "{v:#}");
        assert_eq!(v["version"], "9.6.1", "{v:#}");
        assert_eq!(
            files_holding(&c.dir, secret),
            Vec::<String>::new(),
            "after the rerun"
        );
        assert!(!v.to_string().contains(secret), "{v:#}");

        // Temps of dead writers beside every file lk_upgrade writes are removed by a run with
        // nothing to do (changed: false).
        let dead = 999_999_999;
        let planted = [
            c.dir
                .join("state")
                .join(format!(".upgrade-journal.node-b.json.lkops-tmp.{dead}")),
            work.join(format!(".lkops-setup.node-b.9.6.1.log.lkops-tmp.{dead}")),
            b.defaults_file.with_file_name(format!(
                ".{}.lkops-tmp.{dead}",
                b.defaults_file.file_name().unwrap().to_string_lossy()
            )),
            work.join(format!("setup-{dead}.conf")),
        ];
        for p in &planted {
            std::fs::write(p, "half").unwrap();
        }
        let (v, rc) = b.module("lk_upgrade", args.clone());
        assert_eq!(rc, 0, "{v:#}");
        assert_eq!(v["changed"], false, "{v:#}");
        for p in &planted {
            assert!(!p.exists(), "{} left: {v:#}", p.display());
        }
        assert!(
            v["warnings"]
                .to_string()
                .contains("an interrupted run left"),
            "{v:#}"
        );
    }
}

/// Defect 17 (the lk_upgrade part): lk_upgrade wrote into backup_dir by path, so backup_dir
/// swapped for a symbolic link into `lkroot/config` during a run (here by a wrapped lkstop, right
/// before rmlk) received the journal (and would have received the site files and setup log),
/// where rmlk deletes them. Now every write goes through the directory opened at the start, and
/// the run stops before the next step (rmlk never runs) saying backup_dir was replaced; with the
/// directory put back, the rerun resumes and finishes.
#[test]
fn toctou_on_dest_backup_dir_lk_upgrade() {
    let (c, img, backups) = reinstall_cluster("defect17-upgrade");
    let b = c.node("node-b");
    backup(b, &backups, json!({}));
    let config = b.lkroot.join("config");
    let moved = backups.with_extension("moved");
    let cmd = b.lkroot.join("bin/lkstop");
    std::fs::rename(&cmd, b.lkroot.join("bin/lkstop.real")).unwrap();
    std::fs::write(
        &cmd,
        format!(
            "#!/bin/sh\n\"$0.real\" \"$@\"; rc=$?\n[ -L '{d}' ] || {{ mv '{d}' '{m}' && ln -s '{cfg}' '{d}'; }}\nexit $rc\n",
            d = s(&backups),
            m = s(&moved),
            cfg = s(&config)
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ours = |n: &str| {
        n.starts_with("upgrade-journal.")
            || n.contains(".LifeKeeper.defaults.")
            || n.starts_with("lkops-")
            || n.contains(".lkops-tmp.")
            || n.contains(".lksite.")
            || n == "SHA256SUMS"
    };
    let listing = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let a = upgrade_args(&c, b, &img, &backups, json!({}));
    let (v, rc) = b.module("lk_upgrade", a.clone());
    let written: Vec<String> = listing(&config).into_iter().filter(|n| ours(n)).collect();
    assert_eq!(
        written,
        Vec::<String>::new(),
        "lk_upgrade wrote into lkroot/config: {v:#}"
    );
    assert_eq!(rc, 1, "the run must stop: {v:#}");
    let msg = v["msg"].as_str().unwrap();
    assert!(msg.contains("was replaced"), "{msg}");
    assert_eq!(v["invalid_parameter"], "backup_dir", "{v:#}");
    // rmlk never ran: the old release is still installed.
    assert!(
        b.lk("lcdstatus", &["-e"]).status.code().is_some(),
        "lkroot is still there"
    );
    assert!(b.lkroot.join("bin/rmlk").is_file(), "rmlk ran: {v:#}");
    // What the run wrote is in the directory backup_dir was: the journal records the stop.
    let j = std::fs::read_to_string(moved.join("upgrade-journal.node-b.json")).unwrap();
    assert!(j.contains("stop LifeKeeper") || j.contains("lkstop"), "{j}");
    // Put back, the rerun resumes and finishes.
    std::fs::remove_file(&backups).unwrap();
    std::fs::rename(&moved, &backups).unwrap();
    let (v, rc) = b.module("lk_upgrade", a.clone());
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["version"], "9.6.1", "{v:#}");

    // Defect 9 in backup_dir: a site-files archive a killed run copied in but never recorded,
    // and a dead writer's temp, are removed by the next real run (here one with nothing to do);
    // lk_upgrade's own saved defaults copy is not reported as an unrecorded backup.
    let orphan = backups.join("node-b.lksite.29990101T000000Z.tar.gz");
    let temp = backups.join(".SHA256SUMS.lkops-tmp.999999999");
    std::fs::write(&orphan, "half").unwrap();
    std::fs::write(&temp, "half").unwrap();
    let (v, rc) = b.module("lk_upgrade", a);
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["changed"], false, "{v:#}");
    assert!(!orphan.exists() && !temp.exists(), "{v:#}");
    let (v, rc) = verify(b, &backups);
    assert_eq!(rc, 0, "{v:#}");
    assert!(
        !v["warnings"].to_string().contains(".saved"),
        "lk_upgrade's saved defaults called a backup: {v:#}"
    );
}

/// Defect 5 (lk_defaults_merge): one node-wide lock that every module that changes the node
/// takes — lk_defaults_merge took none, so it could rewrite /etc/default/LifeKeeper while
/// lk_upgrade (which re-applies that file after a reinstall) or lk_resource changed the node.
/// With the node lock held elsewhere, a real run waits lock_wait and fails cleanly, having
/// changed nothing; check mode takes no lock; once the lock is free the run merges.
#[test]
fn lk_defaults_merge_takes_no_node_wide_lock() {
    let c = Cluster::create("defect5-merge", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let src = c.dir.join("LifeKeeper.saved");
    std::fs::write(&src, "SITE_TUNABLE=42\n").unwrap();
    let before = std::fs::read(&a.defaults_file).unwrap();
    let args = json!({"src": s(&src), "dest": s(&a.defaults_file), "lkroot": s(&a.lkroot),
                      "lock_wait": 1});
    let held =
        lkops::lifekeeper::node_lock::take(&a.lkroot, "test", std::time::Duration::from_secs(5))
            .unwrap();
    let t = std::time::Instant::now();
    let (v, rc) = a.module("lk_defaults_merge", args.clone());
    assert_eq!(rc, 1, "{v:#}");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("another lkops module is changing this node"),
        "{v:#}"
    );
    assert_eq!(v["changed"], false, "{v:#}");
    assert!(t.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(std::fs::read(&a.defaults_file).unwrap(), before);
    // Check mode only reads: no lock, the prediction as usual.
    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    let (v, rc) = a.module("lk_defaults_merge", check);
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["changed"], true, "{v:#}");
    assert_eq!(std::fs::read(&a.defaults_file).unwrap(), before);
    // A module waiting for the lock goes on once the holder is done.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(held);
    });
    let mut wait = args;
    wait["lock_wait"] = json!(30);
    let (v, rc) = a.module("lk_defaults_merge", wait);
    releaser.join().unwrap();
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["changed"], true, "{v:#}");
    assert!(std::fs::read_to_string(&a.defaults_file)
        .unwrap()
        .contains("SITE_TUNABLE=42"));
}

//! Issue 28: a capture or a manifest is data, never a path (S4); a lock error names its real
//! cause (C1); a backup is stale when anything lkbackup archives changed (D1). Each test is named
//! after the defect it guards and runs the real module binaries against lksim.

use crate::common::{media, Cluster};
use serde_json::json;
use std::path::Path;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// S4: lk_capture (run as root) deleted the files an earlier capture's DEST/<node>/manifest.json
/// listed without checking the names: a planted manifest naming `../../victim` or an absolute
/// path made it delete that file. Only plain file names of the capture directory are touched.
#[test]
fn s4_a_planted_capture_manifest_deletes_nothing_outside_its_directory() {
    let c = Cluster::create("s4-manifest", &["node-a", "node-b"], "9.4.0", &[]);
    let n = c.node("node-a");
    let base = c.dir.join("s4");
    let dest = base.join("dest");
    let dir = dest.join(&n.name);
    std::fs::create_dir_all(&dir).unwrap();
    let beside = base.join("victim");
    let absolute = base.join("abs-victim");
    let inside = dir.join("stale.out");
    for f in [&beside, &absolute, &inside] {
        std::fs::write(f, "keep me\n").unwrap();
    }
    let planted = json!({"schema_version": 1, "node": n.name, "commands": [
        {"file": "../../victim"},
        {"file": s(&absolute)},
        {"file": "stale.out"},
    ]});
    std::fs::write(dir.join("manifest.json"), planted.to_string()).unwrap();
    let (v, rc) = n.module(
        "lk_capture",
        json!({"lkroot": n.lkroot, "defaults_file": n.defaults_file,
               "license_dir": n.root.join("var/LifeKeeper/license"), "dest": dest}),
    );
    assert_eq!(rc, 0, "{v:#}");
    assert!(beside.exists(), "deleted {}: {v:#}", beside.display());
    assert!(absolute.exists(), "deleted {}: {v:#}", absolute.display());
    // A plain name an earlier capture wrote (and this one does not) is still cleaned up.
    assert!(!inside.exists(), "{v:#}");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("../../victim") && warnings.contains("not a file name"),
        "the planted names are reported: {v:#}"
    );
}

/// C1: with a lock file that cannot be created (a read-only state_dir; here the lock's name is
/// taken by a directory), lk_upgrade said "another lk_upgrade run holds ...": no other run
/// exists. The message names the real cause, for every lock user (runtime::fs::lock_failure).
#[test]
fn c1_a_lock_file_that_cannot_be_created_is_not_blamed_on_another_run() {
    let c = Cluster::create("c1-lock", &["node-a", "node-b"], "9.4.0", &[]);
    let img = media("c1-lock", "9.6.1");
    let b = c.node("node-b");
    let state = c.dir.join("state");
    let lock = state.join(format!("upgrade-journal.{}.lock", b.name));
    std::fs::create_dir_all(&lock).unwrap();
    let (v, rc) = b.module(
        "lk_upgrade",
        json!({
            "version": "9.6.1", "generate_setup_config": true, "media": s(&img),
            "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file),
            "work_dir": s(&c.dir.join("work")), "state_dir": s(&state), "timeout": 60,
        }),
    );
    assert_ne!(rc, 0, "{v:#}");
    let msg = v["msg"].as_str().unwrap_or_default();
    assert!(!msg.contains("another"), "no other run exists: {msg}");
    assert!(
        msg.contains(&s(&lock)) && msg.contains("Is a directory"),
        "the lock file and the real cause are named: {msg}"
    );
    assert_eq!(v["changed"], false, "{v:#}");
}

/// D1: lk_backup's configuration fingerprint covered <lkroot>/config and the defaults file only,
/// but lkbackup -c also archives the resources' configuration files: a change there was reported
/// as "the newest backup holds the current configuration" and no backup was taken. (lk_upgrade's
/// stale-backup refusal compares the same fingerprint, backup_store::fingerprint.)
#[test]
fn d1_a_changed_resource_conf_file_makes_the_newest_backup_stale() {
    // 9.2.2: lk_upgrade's reinstall path, which refuses a backup older than the configuration.
    let c = Cluster::create("d1-resconf", &["node-a", "node-b"], "9.2.2", &[]);
    let img = media("d1-resconf", "9.6.1");
    let n = c.node("node-b");
    let backups = c.dir.join("backups");
    let args =
        json!({"dest": s(&backups), "lkroot": s(&n.lkroot), "defaults_file": s(&n.defaults_file)});
    let (v, rc) = n.module("lk_backup", args.clone());
    assert_eq!(rc, 0, "{v:#}");
    let (v, rc) = n.module("lk_backup", args.clone());
    assert_eq!((rc, v["changed"].as_bool()), (0, Some(false)), "{v:#}");
    // A resource's configuration file, as lkbackup -c archives it.
    let subsys = n.lkroot.join("subsys");
    let conf = walkdir_conf(&subsys).expect("lksim's resources have .conf files under subsys");
    let old = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, old + "SITE_SETTING=changed\n").unwrap();
    // lk_upgrade (check mode: nothing is touched) refuses the stale backup ...
    let up = json!({
        "version": "9.6.1", "generate_setup_config": true, "setup_mode": "args", "media": s(&img),
        "allow_reinstall": true, "backup_dir": s(&backups),
        "lkroot": s(&n.lkroot), "defaults_file": s(&n.defaults_file),
        "work_dir": s(&c.dir.join("work")), "state_dir": s(&c.dir.join("state")),
        "timeout": 60, "_ansible_check_mode": true,
    });
    let (v, rc) = n.module("lk_upgrade", up.clone());
    assert_eq!(rc, 1, "{v:#}");
    assert!(
        v["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("changed after the newest backup"),
        "{v:#}"
    );
    // ... and lk_backup takes a new one, after which lk_upgrade accepts it.
    let (v, rc) = n.module("lk_backup", args);
    assert_eq!(rc, 0, "{v:#}");
    assert_eq!(v["changed"], true, "the newest backup is stale: {v:#}");
    let (v, rc) = n.module("lk_upgrade", up);
    assert_eq!(rc, 0, "{v:#}");
}

/// The first `<subsys>/<app>/resources/<type>/*.conf`.
fn walkdir_conf(subsys: &Path) -> Option<std::path::PathBuf> {
    let list = |d: &Path| -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    for app in list(subsys) {
        for ty in list(&app.join("resources")) {
            if let Some(f) = list(&ty)
                .into_iter()
                .find(|f| f.extension().is_some_and(|x| x == "conf"))
            {
                return Some(f);
            }
        }
    }
    None
}

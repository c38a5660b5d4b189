//! The fault matrix: every module step that calls LifeKeeper or writes a file, with a fault
//! injected (non-zero exit, half-done work, a hang past the timeout, a full or read-only disk, the
//! module killed mid-write). For each: a failed result that names the step; no half-written file
//! (no `*.lkops-tmp.*` left after the rerun); previous backups and saved defaults intact (hashed);
//! a rerun with the same arguments completes. The matrix is printed as a table
//! (`cargo test --test fault_matrix -- --nocapture`).
//!
//! Full / read-only disks are tmpfs mounts (needs root and mount permission); where mounting is not
//! permitted those rows fall back to RLIMIT_FSIZE (EFBIG instead of ENOSPC) or are reported as
//! SKIPPED. "Killed mid-write" is real: the module is killed by SIGXFSZ at the exact write that
//! crosses a file-size limit (defaults_merge), or by SIGKILL while lkbackup runs (lk_backup).

use crate::common;

use common::{media, procs_with_arg, tree_hash, wait_running_as, Cluster, Node};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// ---- the matrix ---------------------------------------------------------------------------------

static MATRIX: Mutex<Vec<[String; 5]>> = Mutex::new(Vec::new());
static DONE: AtomicUsize = AtomicUsize::new(0);
/// Tests that add rows; the last one to finish prints the whole matrix.
const MATRIX_TESTS: usize = 7;

fn row(module: &str, step: &str, fault: &str, result: &str, rerun: &str) {
    MATRIX.lock().unwrap().push([
        module.into(),
        step.into(),
        fault.into(),
        result.into(),
        rerun.into(),
    ]);
}

fn table(rows: &[[String; 5]]) -> String {
    let head = ["module", "step", "fault", "result", "rerun"];
    let mut w = head.map(str::len);
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let cols: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c}{}", " ".repeat(w[i] - c.chars().count())))
            .collect();
        format!("| {} |\n", cols.join(" | "))
    };
    let mut out = line(head);
    out.push_str(&line(
        w.map(|n| "-".repeat(n)).each_ref().map(|s| s.as_str()),
    ));
    for r in rows {
        out.push_str(&line(r.each_ref().map(|s| s.as_str())));
    }
    out
}

/// Print this module's rows; the last matrix test prints the whole table.
fn finish(module: &str) {
    let rows = MATRIX.lock().unwrap().clone();
    let mine: Vec<_> = rows.iter().filter(|r| r[0] == module).cloned().collect();
    println!("\nfault matrix, {module}:\n{}", table(&mine));
    if DONE.fetch_add(1, Ordering::SeqCst) + 1 == MATRIX_TESTS {
        let mut all = rows;
        all.sort_by(|a, b| a[0].cmp(&b[0]));
        println!("\nFAULT MATRIX ({} rows):\n{}", all.len(), table(&all));
    }
}

/// First clause of a message, for the table.
fn short(msg: &str) -> String {
    let scratch = common::bin_dir().join("scratch").display().to_string();
    let m = msg.replace('\n', " ").replace(&scratch, "…");
    let s: String = m.chars().take(90).collect();
    if m.chars().count() > 90 {
        format!("{s}…")
    } else {
        s
    }
}

// ---- running modules --------------------------------------------------------------------------

/// How a run is constrained.
#[derive(Clone, Copy, Default)]
struct Limits {
    /// RLIMIT_FSIZE in bytes; with `ignore_xfsz` the write fails with EFBIG (a full disk),
    /// without it the kernel kills the process with SIGXFSZ at that write (killed mid-write).
    fsize: Option<u64>,
    ignore_xfsz: bool,
}

struct Runner {
    dir: PathBuf,
    n: AtomicUsize,
}

impl Runner {
    fn new(name: &str) -> Runner {
        Runner {
            dir: common::scratch(&format!("fm-args-{name}")),
            n: AtomicUsize::new(0),
        }
    }
    fn command(&self, module: &str, node: Option<&Node>, args: &Value, lim: Limits) -> Command {
        let file = self
            .dir
            .join(format!("{}.json", self.n.fetch_add(1, Ordering::SeqCst)));
        fs::write(&file, args.to_string()).unwrap();
        let mut c = Command::new(common::bin(module));
        c.arg(&file).env("LKOPS_PROGRESS", "1");
        if let Some(n) = node {
            c.env("PATH", n.path_env());
        }
        if let Some(limit) = lim.fsize {
            let ignore = lim.ignore_xfsz;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    let r = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if ignore {
                        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    }
                    Ok(())
                });
            }
        }
        c
    }
    /// Run to completion: (result, rc, seconds). A module killed by a signal gives Value::Null.
    fn run(&self, module: &str, node: Option<&Node>, args: &Value, lim: Limits) -> Ran {
        let t = Instant::now();
        let out = self.command(module, node, args, lim).output().unwrap();
        let secs = t.elapsed().as_secs_f64();
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = out.status.signal() {
            return Ran {
                v: Value::Null,
                rc: -1,
                signal: Some(sig),
                secs,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            };
        }
        let (v, rc) = common::parse_output(&out);
        Ran {
            v,
            rc,
            signal: None,
            secs,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

struct Ran {
    v: Value,
    rc: i32,
    signal: Option<i32>,
    secs: f64,
    stderr: String,
}

impl Ran {
    fn msg(&self) -> String {
        self.v["msg"].as_str().unwrap_or_default().to_string()
    }
    /// A failed result whose message contains every one of `words` (the step it names).
    fn failed_naming(&self, words: &[&str]) -> String {
        assert_eq!(self.rc, 1, "should have failed: {}", self.v);
        assert_eq!(self.v["failed"], true, "{}", self.v);
        let m = self.msg();
        for w in words {
            assert!(m.contains(w), "message does not name {w:?}: {m}");
        }
        format!("failed: {}", short(&m))
    }
    fn ok(&self) -> &Value {
        assert_eq!(
            self.rc, 0,
            "should have succeeded: {}\n{}",
            self.v, self.stderr
        );
        assert_eq!(self.v["failed"], false, "{}", self.v);
        &self.v
    }
    fn rerun_text(&self) -> String {
        format!("ok, changed={}", self.ok()["changed"])
    }
}

// ---- file-system helpers ----------------------------------------------------------------------

/// Every `*.lkops-tmp.*` under `dir` (recursively).
fn temps(dir: &Path) -> Vec<String> {
    tree_hash(dir)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.contains(".lkops-tmp."))
        .collect()
}

/// The hash of every file under `dir` whose name satisfies `keep`.
fn hashes(dir: &Path, keep: impl Fn(&str) -> bool) -> BTreeMap<String, String> {
    tree_hash(dir)
        .into_iter()
        .filter(|(p, _)| keep(p))
        .collect()
}

/// A pid that is certainly dead (a child we started and reaped).
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// A tmpfs of `kib` KiB at `dir`, unmounted on drop. Err when mounting is not permitted.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, kib: u32) -> Result<Tmpfs, String> {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k,mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
    fn remount(&self, opt: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{opt}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success(), "remount {opt}");
    }
    /// Fill the file system: a filler file grown until ENOSPC.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let p = self.0.join("filler");
        let mut f = fs::File::create(&p).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        // a page's worth of slack may remain; use it up byte by byte
        while f.write_all(&[0]).is_ok() {}
        p
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn append(path: &Path, text: &str) {
    let mut s = fs::read_to_string(path).unwrap();
    s.push_str(text);
    fs::write(path, s).unwrap();
}

// ---- lk_backup ----------------------------------------------------------------------------------

fn backup_args(node: &Node, dest: &Path, extra: Value) -> Value {
    let mut a = json!({"dest": dest, "lkroot": node.lkroot, "defaults_file": node.defaults_file});
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

/// The backup files (archives, defaults copies) recorded before: byte-identical after.
fn backup_files(dest: &Path) -> BTreeMap<String, String> {
    hashes(dest, |p| {
        p.contains(".lkbackup.") || p.contains(".defaults.")
    })
}

fn assert_backups_intact(before: &BTreeMap<String, String>, dest: &Path) {
    let now = backup_files(dest);
    for (f, h) in before {
        assert_eq!(
            now.get(f),
            Some(h),
            "previous backup {f} changed or vanished"
        );
    }
    let sums = Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(dest)
        .output()
        .unwrap();
    assert!(
        sums.status.success(),
        "sha256sum -c: {}",
        String::from_utf8_lossy(&sums.stdout)
    );
}

fn config_archives(node: &Node) -> Vec<String> {
    fs::read_dir(node.lkroot.join("config"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("archive."))
        .collect()
}

#[test]
fn fault_matrix_lk_backup() {
    let c = Cluster::create("fm-backup", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a").clone();
    let dir = c.dir.to_str().unwrap().to_string();
    let r = Runner::new("backup");
    let dest = c.dir.join("backups");
    let args = backup_args(&a, &dest, json!({"timeout": 3}));
    r.run("lk_backup", Some(&a), &args, Limits::default()).ok();
    let mut edit = 0;
    let mut change_config = || {
        edit += 1;
        append(&a.defaults_file, &format!("LKOPS_FM_EDIT={edit}\n"));
    };

    // lkbackup -c: exits non-zero, half-writes its archive, hangs past the timeout.
    for fault in ["fail", "halfway", "hang"] {
        change_config();
        let before = tree_hash(&dest);
        let files = backup_files(&dest);
        c.sim(&["fault", "set", "node-a", "lkbackup", fault, "--dir", &dir]);
        let ran = r.run("lk_backup", Some(&a), &args, Limits::default());
        let mut result = ran.failed_naming(&["lkbackup", "previous backups are untouched"]);
        if fault == "hang" {
            assert!(ran.msg().contains("timed out"), "{}", ran.v);
            assert!(ran.secs < 20.0, "the hang was not bounded: {}s", ran.secs);
            assert!(
                procs_with_arg(&a.root.display().to_string()).is_empty(),
                "the hung lkbackup outlived its timeout"
            );
            result = format!("{result} ({:.1}s)", ran.secs);
        }
        assert_eq!(tree_hash(&dest), before, "{fault}: dest changed");
        assert_eq!(
            config_archives(&a),
            Vec::<String>::new(),
            "{fault}: partial archive left in config"
        );
        c.sim(&["fault", "clear", "--dir", &dir]);
        let again = r.run("lk_backup", Some(&a), &args, Limits::default());
        assert_eq!(again.ok()["changed"], true);
        assert_backups_intact(&files, &dest);
        row(
            "lk_backup",
            "lkbackup -c (state=present)",
            fault,
            &result,
            &again.rerun_text(),
        );
    }

    // Killed (SIGKILL) while lkbackup runs, plus what a kill during the copy into dest leaves:
    // a half-written temp of the archive and of the manifest (planted with a dead writer's pid).
    change_config();
    let files = backup_files(&dest);
    c.sim(&["fault", "set", "node-a", "lkbackup", "hang", "--dir", &dir]);
    let mut child = r
        .command(
            "lk_backup",
            Some(&a),
            &backup_args(&a, &dest, json!({})),
            Limits::default(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let root = a.root.display().to_string();
    assert!(
        !wait_running_as(&root, "lkbackup", 60).is_empty(),
        "lkbackup never started"
    );
    // SAFETY: kill(2) on the pid of the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    // The orphaned hung lkbackup (its own process group) is ours to end, by pid.
    for pid in procs_with_arg(&root) {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    c.sim(&["fault", "clear", "--dir", &dir]);
    let pid = dead_pid();
    let newest = backup_files(&dest)
        .keys()
        .filter(|k| k.contains(".lkbackup."))
        .max()
        .unwrap()
        .clone();
    fs::write(
        dest.join(format!(".{newest}.lkops-tmp.{pid}")),
        b"\x1f\x8b half",
    )
    .unwrap();
    fs::write(
        dest.join(format!(".lkops-backups.json.lkops-tmp.{pid}")),
        b"{\"backups\": [",
    )
    .unwrap();
    assert_eq!(temps(&dest).len(), 2);
    let again = r.run("lk_backup", Some(&a), &args, Limits::default());
    assert_eq!(again.ok()["changed"], true);
    let warned = again.v["warnings"].to_string();
    assert!(warned.contains("interrupted run"), "{}", again.v);
    assert_eq!(
        temps(&dest),
        Vec::<String>::new(),
        "stale temp files survived the rerun"
    );
    assert_backups_intact(&files, &dest);
    row(
        "lk_backup",
        "lkbackup -c / copy into dest",
        "killed (SIGKILL) + half-written temps",
        "no result (killed); dest untouched",
        &format!("{}; 2 stale temps removed", again.rerun_text()),
    );

    // dest on a full disk: the copy into dest fails; nothing half-written; the previous backups
    // are intact; with space again the rerun completes.
    let mnt = c.dir.join("small");
    match Tmpfs::mount(&mnt, 256) {
        Ok(fsys) => {
            let sdest = mnt.join("backups");
            let sargs = backup_args(&a, &sdest, json!({}));
            r.run("lk_backup", Some(&a), &sargs, Limits::default()).ok();
            change_config();
            let files = backup_files(&sdest);
            let before = tree_hash(&sdest);
            let filler = fsys.fill();
            let ran = r.run("lk_backup", Some(&a), &sargs, Limits::default());
            let result = ran.failed_naming(&["No space left", "cannot copy"]);
            assert_eq!(tree_hash(&sdest), before, "full disk: dest changed");
            assert_eq!(temps(&mnt), Vec::<String>::new());
            fs::remove_file(filler).unwrap();
            let again = r.run("lk_backup", Some(&a), &sargs, Limits::default());
            assert_eq!(again.ok()["changed"], true);
            assert_backups_intact(&files, &sdest);
            row(
                "lk_backup",
                "copy archive into dest",
                "dest disk full (tmpfs ENOSPC)",
                &result,
                &format!("{} (space freed)", again.rerun_text()),
            );

            // dest read-only: refused before lkbackup runs, nothing changed.
            change_config();
            let before = tree_hash(&sdest);
            fsys.remount("ro");
            let ran = r.run("lk_backup", Some(&a), &sargs, Limits::default());
            let result = ran.failed_naming(&[]);
            assert!(ran.msg().contains("Read-only"), "{}", ran.v);
            assert_eq!(tree_hash(&sdest), before);
            fsys.remount("rw");
            let again = r.run("lk_backup", Some(&a), &sargs, Limits::default());
            assert_eq!(again.ok()["changed"], true);
            row(
                "lk_backup",
                "write into dest",
                "dest read-only (tmpfs ro)",
                &result,
                &format!("{} (made writable)", again.rerun_text()),
            );
            assert!(
                config_archives(&a).is_empty(),
                "lkbackup archives left in config: {:?}",
                config_archives(&a)
            );
        }
        Err(e) => row(
            "lk_backup",
            "copy archive into dest",
            "dest disk full",
            &format!("SKIPPED (cannot mount tmpfs: {})", short(&e)),
            "-",
        ),
    }

    // lkbackup -x (state=restored): LifeKeeper must be stopped for a restore.
    let out = a.lk("lkstop", &[]);
    assert!(out.status.success());
    let newest = r.run(
        "lk_backup",
        Some(&a),
        &json!({"state": "verified", "dest": dest, "lkroot": a.lkroot}),
        Limits::default(),
    );
    let archive = newest.ok()["backups"].as_array().unwrap().last().unwrap()["archive"].clone();
    let rargs = backup_args(
        &a,
        &dest,
        json!({"state": "restored", "archive": archive, "timeout": 3}),
    );
    append(&a.defaults_file, "LKOPS_FM_AFTER_BACKUP=1\n");
    for fault in ["fail", "halfway", "hang"] {
        let files = backup_files(&dest);
        c.sim(&["fault", "set", "node-a", "lkbackup", fault, "--dir", &dir]);
        let ran = r.run("lk_backup", Some(&a), &rargs, Limits::default());
        let mut result = ran.failed_naming(&["lkbackup could not restore"]);
        if fault == "hang" {
            assert!(
                ran.msg().contains("timed out") && ran.secs < 20.0,
                "{} {}s",
                ran.v,
                ran.secs
            );
            result = format!("{result} ({:.1}s)", ran.secs);
        }
        c.sim(&["fault", "clear", "--dir", &dir]);
        assert_backups_intact(&files, &dest);
        let again = r.run("lk_backup", Some(&a), &rargs, Limits::default());
        assert_eq!(again.ok()["changed"], true);
        assert!(!fs::read_to_string(&a.defaults_file)
            .unwrap()
            .contains("LKOPS_FM_AFTER_BACKUP"));
        append(&a.defaults_file, "LKOPS_FM_AFTER_BACKUP=1\n");
        row(
            "lk_backup",
            "lkbackup -x (state=restored)",
            fault,
            &result,
            &again.rerun_text(),
        );
    }
    finish("lk_backup");
}

// ---- lk_defaults_merge ----------------------------------------------------------------------------

const OLD: &str = "# site-edited 9.2 defaults\nLKROOT=/opt/LifeKeeper\nREMOTETIMEOUT=900\nLCMHBEATTIME=7\nSITE_NOTE=\"maintenance window # 2\"\n";
const NEW: &str = "# LifeKeeper 9.6.1 defaults\nLKROOT=/opt/LifeKeeper\n# seconds to wait for a remote reply\nREMOTETIMEOUT=1200\n#LCMHBEATTIME=5\nQUORUM_MODE=majority\n";

#[test]
fn fault_matrix_lk_defaults_merge() {
    let r = Runner::new("merge");
    let d = common::scratch("fm-merge");
    let src = d.join("LifeKeeper.saved");
    fs::write(&src, OLD).unwrap();
    let saved = fs::read(&src).unwrap();

    // dest on a full / read-only disk (tmpfs), or RLIMIT_FSIZE (EFBIG) where mounting is refused.
    let mnt = d.join("small");
    let fsys = Tmpfs::mount(&mnt, 64);
    let dir = if fsys.is_ok() {
        mnt.clone()
    } else {
        d.join("plain")
    };
    fs::create_dir_all(&dir).unwrap();
    let dest = dir.join("LifeKeeper");
    for backup in [true, false] {
        fs::write(&dest, NEW).unwrap();
        let args = json!({"src": src, "dest": dest, "backup": backup});
        let (fault, lim, filler) = match &fsys {
            Ok(f) => (
                "dest disk full (tmpfs ENOSPC)",
                Limits::default(),
                Some(f.fill()),
            ),
            Err(_) => (
                "dest disk full (RLIMIT_FSIZE EFBIG; tmpfs not permitted)",
                Limits {
                    fsize: Some(8),
                    ignore_xfsz: true,
                },
                None,
            ),
        };
        let ran = r.run("lk_defaults_merge", None, &args, lim);
        let step = if backup {
            "cannot back up"
        } else {
            "cannot write"
        };
        let result = ran.failed_naming(&[step, "dest left untouched"]);
        assert_eq!(fs::read_to_string(&dest).unwrap(), NEW, "dest half-written");
        assert_eq!(temps(&dir), Vec::<String>::new());
        if let Some(f) = filler {
            fs::remove_file(f).unwrap();
        }
        let again = r.run("lk_defaults_merge", None, &args, Limits::default());
        assert_eq!(again.ok()["changed"], true);
        assert!(fs::read_to_string(&dest)
            .unwrap()
            .contains("REMOTETIMEOUT=900"));
        let third = r.run("lk_defaults_merge", None, &args, Limits::default());
        assert_eq!(third.ok()["changed"], false);
        assert_eq!(fs::read(&src).unwrap(), saved, "the saved defaults changed");
        let s = if backup {
            "backup copy of dest"
        } else {
            "write dest (backup=false)"
        };
        row(
            "lk_defaults_merge",
            s,
            fault,
            &result,
            &format!("{}; then changed=false", again.rerun_text()),
        );
    }
    if let Ok(f) = &fsys {
        fs::write(&dest, NEW).unwrap();
        let args = json!({"src": src, "dest": dest});
        f.remount("ro");
        let ran = r.run("lk_defaults_merge", None, &args, Limits::default());
        let result = ran.failed_naming(&["Read-only", "dest left untouched"]);
        f.remount("rw");
        assert_eq!(fs::read_to_string(&dest).unwrap(), NEW);
        let again = r.run("lk_defaults_merge", None, &args, Limits::default());
        assert_eq!(again.ok()["changed"], true);
        row(
            "lk_defaults_merge",
            "backup copy + write dest",
            "dest unwritable (tmpfs ro)",
            &result,
            &again.rerun_text(),
        );
    } else {
        row(
            "lk_defaults_merge",
            "write dest",
            "dest unwritable",
            "SKIPPED (tmpfs not permitted)",
            "-",
        );
    }
    drop(fsys);

    // Killed mid-write: SIGXFSZ kills the module at the write that crosses a 16-byte file size
    // limit, leaving a half-written temp file; dest and src are intact; the rerun cleans up.
    let dir = d.join("killed");
    fs::create_dir_all(&dir).unwrap();
    let dest = dir.join("LifeKeeper");
    for backup in [true, false] {
        fs::write(&dest, NEW).unwrap();
        let args = json!({"src": src, "dest": dest, "backup": backup});
        let ran = r.run(
            "lk_defaults_merge",
            None,
            &args,
            Limits {
                fsize: Some(16),
                ignore_xfsz: false,
            },
        );
        assert_eq!(
            ran.signal,
            Some(libc::SIGXFSZ),
            "not killed mid-write: {}",
            ran.v
        );
        let left = temps(&dir);
        assert_eq!(left.len(), 1, "expected one half-written temp: {left:?}");
        assert_eq!(fs::metadata(dir.join(&left[0])).unwrap().len(), 16);
        assert_eq!(fs::read_to_string(&dest).unwrap(), NEW, "dest half-written");
        let again = r.run("lk_defaults_merge", None, &args, Limits::default());
        assert_eq!(again.ok()["changed"], true);
        assert_eq!(
            temps(&dir),
            Vec::<String>::new(),
            "stale temp {left:?} survived the rerun"
        );
        assert_eq!(fs::read(&src).unwrap(), saved);
        let s = if backup {
            "backup copy of dest"
        } else {
            "write dest (backup=false)"
        };
        row(
            "lk_defaults_merge",
            s,
            "killed mid-write (SIGXFSZ)",
            &format!(
                "killed; temp {} left, dest intact",
                left[0].split(".lkops-tmp.").next().unwrap()
            ),
            &format!("{}; stale temp removed", again.rerun_text()),
        );
        for e in fs::read_dir(&dir).unwrap().flatten() {
            if e.file_name().to_string_lossy().ends_with('~') {
                fs::remove_file(e.path()).unwrap();
            }
        }
    }
    finish("lk_defaults_merge");
}

// ---- lk_resource --------------------------------------------------------------------------------

const HIER: &[&str] = &[
    "ip-10.0.0.50",
    "app-pgsql",
    "pgsql-5432",
    "filesys1234",
    "device5678",
    "disk9012",
];

/// tag -> (state on node-a, state on node-b), from the simulator's own record.
fn placement(c: &Cluster) -> BTreeMap<String, (String, String)> {
    let st = c.state();
    let of = |node: &str, tag: &str| -> String {
        st["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == node)
            .unwrap()["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["tag"] == tag)
            .map(|r| r["state"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    HIER.iter()
        .map(|t| (t.to_string(), (of("node-a", t), of("node-b", t))))
        .collect()
}

/// Never in service on both nodes at once, whatever failed.
fn assert_consistent(c: &Cluster, when: &str) {
    for (t, (a, b)) in placement(c) {
        let isp = |s: &str| matches!(s, "ISP" | "ISU");
        assert!(
            !(isp(&a) && isp(&b)),
            "{when}: {t} in service on both nodes ({a}/{b})"
        );
    }
}

#[test]
fn fault_matrix_lk_resource() {
    let c = Cluster::create("fm-resource", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a").clone();
    let dir = c.dir.to_str().unwrap().to_string();
    let r = Runner::new("resource");
    let args = |state: &str| json!({"state": state, "lkroot": a.lkroot, "wait": 20, "timeout": 3});
    let cases: &[(&str, &str, &str, &str, &[&str])] = &[
        // (state run on node-a, faulty node, command, fault, words the message must contain)
        (
            "standby",
            "node-b",
            "perform_action",
            "fail",
            &["restore", "node-b", "failed"],
        ),
        (
            "active",
            "node-a",
            "perform_action",
            "fail",
            &["restore", "node-a", "failed"],
        ),
        (
            "standby",
            "node-b",
            "perform_action",
            "halfway",
            &["restore", "node-b", "failed"],
        ),
        (
            "active",
            "node-a",
            "perform_action",
            "halfway",
            &["restore", "node-a", "failed"],
        ),
        (
            "standby",
            "node-b",
            "perform_action",
            "hang",
            &["restore", "node-b", "timed out"],
        ),
        (
            "active",
            "node-a",
            "perform_action",
            "hang",
            &["restore", "node-a", "timed out"],
        ),
        (
            "standby",
            "node-a",
            "lcdremexec",
            "fail",
            &["restore", "node-b", "lcdremexec"],
        ),
        (
            "query",
            "node-a",
            "lcdstatus",
            "hang",
            &["lcdstatus", "timed out"],
        ),
        ("standby", "node-a", "lcdstatus", "fail", &["lcdstatus"]),
    ];
    for (state, node, cmd, fault, words) in cases {
        c.sim(&["fault", "set", node, cmd, fault, "--dir", &dir]);
        let ran = r.run("lk_resource", Some(&a), &args(state), Limits::default());
        let mut result = ran.failed_naming(words);
        if *fault == "hang" {
            assert!(ran.secs < 25.0, "the hang was not bounded: {}s", ran.secs);
            for n in &c.nodes {
                assert!(
                    procs_with_arg(&n.root.display().to_string()).is_empty(),
                    "a hung command outlived its timeout"
                );
            }
            result = format!("{result} ({:.1}s)", ran.secs);
        }
        c.sim(&["fault", "clear", "--dir", &dir]);
        assert_consistent(&c, &format!("{state} with {cmd} {fault}"));
        let again = r.run("lk_resource", Some(&a), &args(state), Limits::default());
        let mut rerun = again.rerun_text();
        assert_consistent(&c, "rerun");
        let warned = again.v["warnings"].to_string();
        match *state {
            // Out of service here and served by node-b: when the failed run left a hierarchy
            // OSF there (halfway), the rerun restores it on node-b rather than leave it served
            // by nobody (regression: a rerun used to report ok with the IP down everywhere).
            "standby" => {
                for (t, (a_st, b_st)) in placement(&c) {
                    assert_eq!(
                        (t.as_str(), a_st.as_str(), b_st.as_str()),
                        (t.as_str(), "OSU", "ISP"),
                        "{}",
                        again.v
                    );
                }
                if warned.contains("was in service on no node") {
                    rerun.push_str(", restored on node-b what the failed run left OSF there");
                }
            }
            "active" => {
                for (t, (a_st, b_st)) in placement(&c) {
                    assert_eq!((t.as_str(), a_st.as_str()), (t.as_str(), "ISP"));
                    assert_ne!(b_st, "ISP");
                }
            }
            _ => {}
        }
        let on = if *node == "node-a" { "" } else { " on node-b" };
        row(
            "lk_resource",
            &format!("state={state}: {cmd}{on}"),
            fault,
            &result,
            &rerun,
        );
    }
    finish("lk_resource");
}

// ---- lk_preflight ---------------------------------------------------------------------------------

fn check<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id}: {v}"))
}

#[test]
fn fault_matrix_lk_preflight() {
    let c = Cluster::create("fm-preflight", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a").clone();
    let dir = c.dir.to_str().unwrap().to_string();
    let r = Runner::new("preflight");
    let args = json!({"lkroot": a.lkroot, "timeout": 2, "required_packages": ["bash"], "package_manager": "rpm", "media_dir": c.dir, "min_free_mb": 0});
    let clean = r.run("lk_preflight", Some(&a), &args, Limits::default());
    clean.ok();
    let status = |v: &Value, id: &str| check(v, id)["status"].as_str().unwrap().to_string();
    // (command, fault, the check that reads it): it reports warn or skip, never hangs the run;
    // a failed lcdstatus fails the checks that need the status (issue 28 W1: a stuck LifeKeeper
    // passed the pre-flight with them `skip`).
    let cases = [
        // LK-SERVICE asks lktest (issue 16); lcdstatus feeds the comm-path check.
        ("lcdstatus", "hang", "LK-COMM-PATHS"),
        ("lcdstatus", "fail", "LK-COMM-PATHS"),
        ("rpm", "hang", "LK-VERSION-PATH"),
        ("rpm", "fail", "LK-VERSION-PATH"),
    ];
    for (cmd, fault, id) in cases {
        c.sim(&["fault", "set", "node-a", cmd, fault, "--dir", &dir]);
        let ran = r.run("lk_preflight", Some(&a), &args, Limits::default());
        assert!(
            ran.secs < 30.0,
            "{cmd} {fault}: not bounded ({}s)",
            ran.secs
        );
        assert!(
            !ran.v.is_null() && ran.v.get("checks").is_some(),
            "{}",
            ran.v
        );
        let ck = check(&ran.v, id);
        let want = status(&ran.v, id);
        if cmd == "lcdstatus" {
            assert_eq!(want, "fail", "{ck}");
            assert_eq!(ran.rc, 1, "{}", ran.v);
        } else {
            assert!(want == "warn" || want == "skip", "{ck}");
        }
        if fault == "hang" {
            assert!(ck.to_string().contains("timed out"), "{ck}");
            assert!(procs_with_arg(&a.root.display().to_string()).is_empty());
        }
        let result = format!(
            "{}: {id} {want}: {} ({:.1}s)",
            if ran.rc == 0 { "ok" } else { "failed" },
            short(ck["msg"].as_str().unwrap_or_default()),
            ran.secs
        );
        c.sim(&["fault", "clear", "--dir", &dir]);
        let again = r.run("lk_preflight", Some(&a), &args, Limits::default());
        assert_eq!(
            again.ok()["checks"],
            clean.v["checks"],
            "rerun differs from the clean run"
        );
        row(
            "lk_preflight",
            &format!("probe `{cmd}`"),
            fault,
            &result,
            "ok, same checks as a clean run",
        );
    }
    finish("lk_preflight");
}

/// Bug: a run of lk_defaults_merge killed while it copied dest to its timestamped backup left
/// `.<dest>.<pid>.<stamp>~.lkops-tmp.<pid>` behind for ever: the next run cleaned only dest's own
/// temp files (`.<dest>.lkops-tmp.*`).
#[test]
fn defaults_merge_stale_temp_of_an_interrupted_backup_copy_is_removed_on_rerun() {
    let d = common::scratch("fm-merge-backup-temp");
    let (src, dest) = (d.join("saved"), d.join("LifeKeeper"));
    fs::write(&src, OLD).unwrap();
    fs::write(&dest, NEW).unwrap();
    let pid = dead_pid();
    let stale = d.join(format!(
        ".LifeKeeper.{pid}.2024-01-01@00:00:00~.lkops-tmp.{pid}"
    ));
    let own = d.join(format!(".LifeKeeper.lkops-tmp.{pid}"));
    // a temp file of a live writer (this test process) must be left alone
    let live = d.join(format!(
        ".LifeKeeper.{0}.2024-01-01@00:00:00~.lkops-tmp.{0}",
        std::process::id()
    ));
    let other = d.join(format!(".Other.1.x~.lkops-tmp.{pid}"));
    for f in [&stale, &own, &live, &other] {
        fs::write(f, "half").unwrap();
    }
    let r = Runner::new("merge-backup-temp");
    let ran = r.run(
        "lk_defaults_merge",
        None,
        &json!({"src": src, "dest": dest}),
        Limits::default(),
    );
    assert_eq!(ran.ok()["changed"], true);
    assert!(!stale.exists() && !own.exists(), "stale temps survived");
    assert!(live.exists(), "a live writer's temp file was removed");
    assert!(other.exists(), "another file's temp was touched");
}

// ---- lk_upgrade ---------------------------------------------------------------------------------

/// The reinstall path (9.2.2 -> 9.6.1: stop, uninstall, setup, re-apply the saved defaults),
/// with each of its LifeKeeper steps failing in turn under `fault`; every failure is followed by
/// a rerun with the same arguments, which resumes and meets the next fault, and the last rerun
/// completes the upgrade.
fn upgrade_chain(fault: &str) {
    let name = format!("fm-upgrade-{fault}");
    let c = Cluster::create(&name, &["node-a", "node-b"], "9.2.2", &[]);
    let img = media(&name, "9.6.1");
    let b = c.node("node-b").clone();
    let dir = c.dir.to_str().unwrap().to_string();
    let r = Runner::new(&name);
    append(&b.defaults_file, "SITE_TUNABLE=42\n");
    let backups = c.dir.join("backups");
    r.run(
        "lk_backup",
        Some(&b),
        &backup_args(&b, &backups, json!({})),
        Limits::default(),
    )
    .ok();
    let files = backup_files(&backups);
    let args = json!({
        "version": "9.6.1", "generate_setup_config": true, "media": img, "media_mode": "extract", "allow_reinstall": true, "restore_config": true,
        "backup_dir": backups, "lkroot": b.lkroot, "defaults_file": b.defaults_file,
        "work_dir": c.dir.join("work"), "state_dir": c.dir.join("state"), "timeout": 3,
    });
    let mut saved: Option<(PathBuf, Vec<u8>)> = None;
    let steps = [
        ("lkstop", "stop LifeKeeper"),
        ("rmlk", "uninstall LifeKeeper"),
        ("setup", "setup 9.6.1"),
    ];
    let mut prev_rerun: Option<usize> = None;
    for (i, (cmd, step)) in steps.iter().enumerate() {
        c.sim(&["fault", "set", "node-b", cmd, fault, "--dir", &dir]);
        let ran = r.run("lk_upgrade", Some(&b), &args, Limits::default());
        let mut result = ran.failed_naming(&[]);
        assert_eq!(ran.v["failed_step"], *step, "{}", ran.v);
        assert!(
            ran.msg()
                .contains("rerun with the same arguments to resume")
                || ran.msg().contains(step),
            "{}",
            ran.v
        );
        if fault == "hang" {
            assert!(ran.msg().contains("timed out"), "{}", ran.v);
            assert!(ran.secs < 30.0, "the hang was not bounded: {}s", ran.secs);
            assert!(
                procs_with_arg(&b.root.display().to_string()).is_empty(),
                "a hung {cmd} outlived its timeout"
            );
            result = format!("{result} ({:.1}s)", ran.secs);
        }
        c.sim(&["fault", "clear", "--dir", &dir]);
        // the saved defaults (taken before the uninstall) never change once written
        if let Some(p) = ran.v["saved_defaults"].as_str() {
            let now = fs::read(p).unwrap();
            match &saved {
                Some((sp, bytes)) => {
                    assert_eq!(sp, Path::new(p));
                    assert_eq!(&now, bytes, "saved defaults changed");
                }
                None => saved = Some((PathBuf::from(p), now)),
            }
        }
        assert_backups_intact(&files, &backups);
        for d in [&backups, &c.dir.join("work"), &c.dir.join("state"), &b.root] {
            assert_eq!(
                temps(d),
                Vec::<String>::new(),
                "temp files left in {}",
                d.display()
            );
        }
        if let Some(k) = prev_rerun {
            // the previous row's rerun got past its step and failed at this one
            let mut m = MATRIX.lock().unwrap();
            m[k][4] = format!(
                "resumed; past {}, stopped at the next fault",
                steps[i - 1].1
            );
        }
        row(
            "lk_upgrade",
            &format!("{step} (`{cmd}`, reinstall path)"),
            fault,
            &result,
            "",
        );
        prev_rerun = Some(MATRIX.lock().unwrap().len() - 1);
    }
    let done = r.run("lk_upgrade", Some(&b), &args, Limits::default());
    assert_eq!(done.ok()["changed"], true);
    assert_eq!(done.v["version"], "9.6.1");
    let text = fs::read_to_string(&b.defaults_file).unwrap();
    assert!(
        text.contains("SITE_TUNABLE=42"),
        "site value not re-applied: {text}"
    );
    let (sp, bytes) = saved.expect("saved defaults reported");
    assert_eq!(fs::read(&sp).unwrap(), bytes, "saved defaults changed");
    assert_backups_intact(&files, &backups);
    for d in [&backups, &c.dir.join("work"), &c.dir.join("state"), &b.root] {
        assert_eq!(temps(d), Vec::<String>::new());
    }
    let again = r.run("lk_upgrade", Some(&b), &args, Limits::default());
    assert_eq!(again.ok()["changed"], false);
    let k = prev_rerun.unwrap();
    MATRIX.lock().unwrap()[k][4] = format!(
        "{}: upgraded to 9.6.1, site defaults re-applied; next run changed=false",
        done.rerun_text()
    );
}

/// The module killed (SIGKILL, e.g. a lost connection) while setup runs on the direct path; the
/// rerun resumes from the journal and finishes; nothing of the killed run is left behind.
/// Bug: the killed run's generated `work_dir/setup-<pid>.conf` (it names the license files) was
/// never removed; the rerun now removes those of dead runs with their media directories.
#[test]
fn upgrade_killed_during_setup_leaves_no_generated_setup_conf_after_the_rerun() {
    let name = "fm-upgrade-killed";
    let c = Cluster::create(name, &["node-a", "node-b"], "9.4.0", &[]);
    let img = media(name, "9.6.1");
    let b = c.node("node-b").clone();
    let dir = c.dir.to_str().unwrap().to_string();
    let r = Runner::new(name);
    let before_defaults = fs::read(&b.defaults_file).unwrap();
    let args = json!({
        "version": "9.6.1", "generate_setup_config": true, "media": img, "media_mode": "extract", "lkroot": b.lkroot,
        "defaults_file": b.defaults_file, "work_dir": c.dir.join("work"),
        "state_dir": c.dir.join("state"), "timeout": 600,
    });
    c.sim(&["fault", "set", "node-b", "setup", "hang", "--dir", &dir]);
    let mut child = r
        .command("lk_upgrade", Some(&b), &args, Limits::default())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let root = b.root.display().to_string();
    assert!(
        !wait_running_as(&root, "lksim-setup", 180).is_empty(),
        "setup never started"
    );
    // SAFETY: kill(2) on the pid of the child we started, then on the orphans it left, by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    for pid in procs_with_arg(&root) {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    c.sim(&["fault", "clear", "--dir", &dir]);
    assert_eq!(fs::read(&b.defaults_file).unwrap(), before_defaults);
    let done = r.run("lk_upgrade", Some(&b), &args, Limits::default());
    assert_eq!(done.ok()["version"], "9.6.1", "{}", done.v);
    for d in [&c.dir.join("work"), &c.dir.join("state"), &b.root] {
        assert_eq!(temps(d), Vec::<String>::new());
    }
    let left: Vec<String> = fs::read_dir(c.dir.join("work"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.iter().all(|n| n.starts_with("lkops-setup.")),
        "the killed run's media/config left in work_dir: {left:?}"
    );
    let again = r.run("lk_upgrade", Some(&b), &args, Limits::default());
    assert_eq!(again.ok()["changed"], false);
    row(
        "lk_upgrade (killed)",
        "setup 9.6.1 (`setup`, direct path)",
        "module killed (SIGKILL) during setup",
        "no result (killed); defaults untouched",
        &format!(
            "{}: resumed from the journal, upgraded; work_dir clean; next run changed=false",
            done.rerun_text()
        ),
    );
    finish("lk_upgrade (killed)");
}

#[test]
fn fault_matrix_lk_upgrade() {
    for fault in ["fail", "halfway", "hang"] {
        upgrade_chain(fault);
    }
    finish("lk_upgrade");
}

/// Two `state=standby` runs at once on node-a (e.g. a play run twice by accident): both finish
/// without failing or leaving a hierarchy in service on two nodes, and the placement is the one a
/// single run gives (everything OSU on node-a, ISP on node-b).
#[test]
fn lk_resource_two_standby_runs_at_once_end_in_a_consistent_placement() {
    let c = Cluster::create("fm-resource-parallel", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a").clone();
    let r = Runner::new("resource-parallel");
    let args = json!({"state": "standby", "lkroot": a.lkroot, "wait": 30, "timeout": 60});
    let kids: Vec<_> = (0..2)
        .map(|_| {
            r.command("lk_resource", Some(&a), &args, Limits::default())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let results: Vec<(Value, i32)> = kids
        .into_iter()
        .map(|k| common::parse_output(&k.wait_with_output().unwrap()))
        .collect();
    for (v, rc) in &results {
        // one of them may lose the race for a restore the other already did; it must say so
        // clearly, never succeed with a wrong picture
        if *rc != 0 {
            assert_eq!(v["failed"], true);
            assert!(!v["msg"].as_str().unwrap_or_default().is_empty());
        }
    }
    assert!(
        results.iter().any(|(_, rc)| *rc == 0),
        "neither run succeeded: {results:?}"
    );
    assert_consistent(&c, "after two parallel standby runs");
    // a rerun converges: all on node-b, nothing left to do
    let again = r.run("lk_resource", Some(&a), &args, Limits::default());
    again.ok();
    for (t, (a_st, b_st)) in placement(&c) {
        assert_eq!(
            (t.as_str(), a_st.as_str(), b_st.as_str()),
            (t.as_str(), "OSU", "ISP")
        );
    }
    println!(
        "parallel standby runs: rc {:?}, rerun changed={}",
        results.iter().map(|r| r.1).collect::<Vec<_>>(),
        again.v["changed"]
    );
}

/// Issue 22, defect 3 ("a node can be left uninstalled for good"), by class: lk_upgrade killed
/// (SIGKILL) at spread-out moments of the reinstall path — before, during and after lkstop,
/// rmlk, setup and the restore, including after a step's effect but before its journal entry —
/// and rerun with the same arguments: every rerun converges (9.6.1 installed, journal finished,
/// the next run changed=false). 60 trials; LKSIM_TIME_SCALE 0 keeps each one short.
#[test]
fn node_left_uninstalled_for_good_random_kills_of_the_reinstall_path_all_converge() {
    let name = "fm-upgrade-randkill";
    let img = media(name, "9.6.1");
    let r = Runner::new(name);
    let trial = |kill_after: Option<Duration>| -> (f64, String) {
        let c = Cluster::create(name, &["node-a", "node-b"], "9.2.2", &[]);
        let b = c.node("node-b").clone();
        let backups = c.dir.join("backups");
        r.run(
            "lk_backup",
            Some(&b),
            &backup_args(&b, &backups, json!({})),
            Limits::default(),
        )
        .ok();
        let args = json!({
            "version": "9.6.1", "generate_setup_config": true, "media": img, "media_mode": "extract",
            "allow_reinstall": true, "restore_config": true, "backup_dir": backups,
            "lkroot": b.lkroot, "defaults_file": b.defaults_file, "work_dir": c.dir.join("work"),
            "state_dir": c.dir.join("state"), "timeout": 60,
        });
        let t = Instant::now();
        let mut what = "not killed".to_string();
        if let Some(d) = kill_after {
            let mut child = r
                .command("lk_upgrade", Some(&b), &args, Limits::default())
                .env("LKSIM_TIME_SCALE", "0")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(d);
            // SAFETY: kill(2) on the pid of the child we started, then on the orphans it left.
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            child.wait().unwrap();
            for pid in procs_with_arg(&b.root.display().to_string()) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let j =
                fs::read_to_string(backups.join("upgrade-journal.node-b.json")).unwrap_or_default();
            what = format!("killed after {d:?}; journal: {}", short(&j));
        }
        let done = r.run("lk_upgrade", Some(&b), &args, Limits::default());
        assert_eq!(
            done.v["version"], "9.6.1",
            "{what}: the rerun did not converge: {}",
            done.v
        );
        assert_eq!(done.v["failed"], false, "{what}: {}", done.v);
        let again = r.run("lk_upgrade", Some(&b), &args, Limits::default());
        assert_eq!(again.v["changed"], false, "{what}: {}", again.v);
        (t.elapsed().as_secs_f64(), what)
    };
    // How long a whole run takes here, then kill points spread over it (with a jitter).
    let (whole, _) = trial(None);
    let whole = whole.clamp(0.5, 20.0);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..60 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let jitter = (seed % 1000) as f64 / 1000.0;
        let at = whole * 0.9 * (i as f64 + jitter) / 60.0;
        trial(Some(Duration::from_secs_f64(at)));
    }
    row(
        "lk_upgrade (random kills)",
        "reinstall path, 60 kill points spread over the run",
        "module killed (SIGKILL)",
        "no result (killed)",
        "every rerun converged to 9.6.1; the next run changed=false",
    );
    finish("lk_upgrade (random kills)");
}

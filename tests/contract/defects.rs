//! Regression tests for the runtime defects of issue 22 (6, 7, 11, 12, 13, 14, 16), each named
//! after the defect it guards. They run the real binaries (against lksim where a node is needed)
//! or the runtime's command runner directly; the shell appears only here, as hostile test input.

use crate::common::{self, bin, run_module, scratch, Cluster};
use lkops::runtime::cmd::{Cmd, Runner, KEEP_HEAD, KEEP_TAIL};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Replace `<lkroot>/bin/<name>` by a script that runs `body` (with `"$0.real" "$@"` meaning
/// the simulator's own command).
fn wrap_lk_command(lkroot: &Path, name: &str, body: &str) {
    let cmd = lkroot.join("bin").join(name);
    let real = lkroot.join("bin").join(format!("{name}.real"));
    std::fs::rename(&cmd, &real).unwrap();
    std::fs::write(&cmd, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Run a module binary under an address-space limit (KiB), so that unbounded buffering ends in
/// an allocation failure (no JSON at all) instead of exhausting the machine.
fn run_limited(module: &str, args: &Value, path_env: &str, kib: u64) -> (Value, i32, Duration) {
    let dir = scratch(&format!("defects-args-{module}-{}", std::process::id()));
    let file = dir.join("args.json");
    std::fs::write(&file, args.to_string()).unwrap();
    let t = Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$1\""))
        .arg(bin(module))
        .arg(&file)
        .env("PATH", path_env)
        .output()
        .unwrap();
    let took = t.elapsed();
    let (v, rc) = common::parse_output(&out);
    (v, rc, took)
}

/// Defect 6: `lcdstatus` printing a valid display and then blank lines for ever drove lk_resource
/// to 5.4 GB and 23.9 s with timeout 5 s. Now the kept output is capped and the timeout holds.
#[test]
fn command_output_buffered_without_limit_timeout_overshoots() {
    // The runner itself: a display, then blank lines for ever, under timeout 2 s.
    let t = Instant::now();
    let out = Runner::default()
        .run(
            &Cmd::new("sh")
                .arg("-c")
                .arg("printf 'Resource Hierarchy Information\\n\\n'; exec yes ''")
                .timeout(Duration::from_secs(2)),
        )
        .unwrap();
    let took = t.elapsed();
    assert!(
        out.stdout.len() <= KEEP_HEAD + KEEP_TAIL + 100,
        "kept {} bytes",
        out.stdout.len()
    );
    assert!(took < Duration::from_secs(6), "timeout 2 s took {took:?}");
    assert!(out.timed_out);
    assert!(out.truncated);
    assert!(out.stdout.starts_with("Resource Hierarchy Information\n"));

    // The modules: lk_resource and lk_preflight reading such an lcdstatus, in 512 MiB of
    // address space, answer with a failed (or warned) JSON result close to their timeout.
    let c = Cluster::create("defect6", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    wrap_lk_command(&a.lkroot, "lcdstatus", "\"$0.real\" \"$@\"\nexec yes ''");
    let (v, rc, took) = run_limited(
        "lk_resource",
        &json!({"state": "query", "lkroot": a.lkroot, "timeout": 2}),
        &a.path_env(),
        512 << 10,
    );
    assert_eq!(rc, 1, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("timed out"), "{v}");
    assert!(took < Duration::from_secs(10), "lk_resource took {took:?}");
    assert!(
        v.to_string().len() < 64 << 10,
        "result of {} bytes",
        v.to_string().len()
    );
    let (v, _, took) = run_limited(
        "lk_preflight",
        &json!({"lkroot": a.lkroot, "timeout": 2, "min_free_mb": 0, "media_dir": c.dir}),
        &a.path_env(),
        512 << 10,
    );
    assert!(v.get("failed").is_some(), "no JSON result: {v}");
    assert!(took < Duration::from_secs(40), "lk_preflight took {took:?}");
}

/// Defect 7: a grandchild that keeps the inherited stdout open (a daemon started by setup or
/// lkstart) blocked the call until it exited, whatever the timeout.
#[test]
fn grandchild_holding_stdout_defeats_the_timeout() {
    let r = Runner::default();
    // The command exits at once; its background child holds stdout for 8 s.
    let t = Instant::now();
    let out = r
        .run(
            &Cmd::new("sh")
                .arg("-c")
                .arg("sleep 8 & echo hi")
                .timeout(Duration::from_secs(30)),
        )
        .unwrap();
    assert_eq!((out.rc, out.timed_out), (0, false), "{out:?}");
    assert_eq!(out.stdout, "hi\n");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t.elapsed()
    );
    // The command hangs and is killed with its process group at the timeout; a grandchild that
    // left the group (setsid) still holds the pipes.
    let t = Instant::now();
    let out = r
        .run(
            &Cmd::new("sh")
                .arg("-c")
                .arg("setsid sleep 8 & echo started; sleep 30")
                .timeout(Duration::from_secs(1)),
        )
        .unwrap();
    assert!(out.timed_out, "{out:?}");
    assert!(out.stdout.starts_with("started"), "{out:?}");
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t.elapsed()
    );

    // Through a module: an lcdstatus whose child lingers does not hold lk_resource.
    let c = Cluster::create("defect7", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    wrap_lk_command(&a.lkroot, "lcdstatus", "sleep 8 &\nexec \"$0.real\" \"$@\"");
    let t = Instant::now();
    let (v, rc) = a.module(
        "lk_resource",
        json!({"state": "query", "lkroot": a.lkroot, "timeout": 30}),
    );
    assert_eq!(rc, 0, "{v}");
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "took {:?}",
        t.elapsed()
    );
}

/// Defect 11: `wait: 9223372036854775807` ran the switchover and then panicked (reporting
/// changed: false); `min_free_mb: 18014398509481984` wrapped and LK-DISK-FREE passed. Every
/// integer parameter of every module now declares its bounds, checked before anything runs.
#[test]
fn integer_overflow_in_parameters_is_refused_before_anything_runs() {
    use lkops::modules::{backup, defaults_merge, preflight, resource, upgrade};
    use lkops::runtime::Kind;
    for spec in [
        &backup::SPEC,
        &defaults_merge::SPEC,
        &preflight::SPEC,
        &resource::SPEC,
        &upgrade::SPEC,
    ] {
        for p in spec.params {
            if matches!(p.kind, Kind::Int | Kind::IntList) {
                let (min, max) = p
                    .range
                    .unwrap_or_else(|| panic!("{} {} declares no range", spec.name, p.name));
                // Seconds, MiB and counts: nothing beyond what u32 arithmetic can hold.
                assert!(min >= 0 && max <= 1 << 32, "{} {}", spec.name, p.name);
            }
        }
    }

    let c = Cluster::create("defect11", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let before = c.state();
    let huge = 9_223_372_036_854_775_807i64;
    let cases = [
        (
            "lk_resource",
            json!({"state": "standby", "lkroot": a.lkroot, "wait": huge}),
            "wait",
        ),
        (
            "lk_resource",
            json!({"state": "standby", "lkroot": a.lkroot, "timeout": huge}),
            "timeout",
        ),
        (
            "lk_preflight",
            json!({"lkroot": a.lkroot, "min_free_mb": 18_014_398_509_481_984i64}),
            "min_free_mb",
        ),
        (
            "lk_preflight",
            json!({"lkroot": a.lkroot, "timeout": huge}),
            "timeout",
        ),
        (
            "lk_preflight",
            json!({"lkroot": a.lkroot, "datakeeper_mirrors": [huge]}),
            "datakeeper_mirrors",
        ),
        (
            "lk_backup",
            json!({"lkroot": a.lkroot, "dest": c.dir.join("b"), "keep": huge}),
            "keep",
        ),
        (
            "lk_backup",
            json!({"lkroot": a.lkroot, "dest": c.dir.join("b"), "timeout": huge}),
            "timeout",
        ),
        (
            "lk_upgrade",
            json!({"lkroot": a.lkroot, "timeout": huge}),
            "timeout",
        ),
    ];
    for (module, args, param) in cases {
        let (v, rc) = a.module(module, args.clone());
        assert_eq!(rc, 1, "{module} {args}: {v}");
        assert_eq!(v["invalid_parameter"], param, "{module} {args}: {v}");
        assert_eq!(v["changed"], false, "{module} {args}: {v}");
        assert!(
            v["msg"].as_str().unwrap().contains("must be between"),
            "{module} {args}: {v}"
        );
    }
    assert_eq!(c.state(), before, "a refused run changed the cluster");
}

/// Defect 16: a 100 MB unknown key produced 314 MB of output (msg, comment, invalid_parameter).
/// Whatever input is huge — a key, a value, a list, a dict key — and wherever it is echoed
/// (invocation, messages naming keys or values, the parameter named), the result stays small.
#[test]
fn huge_input_echoed_back_in_the_result() {
    let dir = scratch("defect16");
    let dest = dir.join("LifeKeeper");
    std::fs::write(&dest, "A=1\n").unwrap();
    let src = dir.join("old");
    std::fs::write(&src, "A=2\n").unwrap();
    let big = "A".repeat(4 << 20);
    let many: Vec<String> = (0..200_000).map(|i| format!("K{i}")).collect();
    let cases = [
        ("unknown key", json!({ big.clone(): 1, "src": src })),
        (
            "wrong type",
            json!({"src": src, "dest": dest, "backup": big}),
        ),
        (
            "missing file",
            json!({"src": big, "dest": dest, "_ansible_check_mode": true}),
        ),
        (
            "set key",
            json!({"src": src, "dest": dest, "set": { big.clone(): "x\ny" }}),
        ),
        (
            "set value",
            json!({"src": src, "dest": dest, "set": { "A": [big.clone()] }}),
        ),
        (
            "bad drop",
            json!({"src": src, "dest": dest, "drop": [format!("-{big}")]}),
        ),
        (
            "long list",
            json!({"src": src, "dest": dest, "drop": many, "_ansible_check_mode": true}),
        ),
    ];
    for (what, args) in cases {
        let t = Instant::now();
        let (v, rc) = run_module("lk_defaults_merge", args);
        let size = v.to_string().len();
        assert!(v.get("failed").is_some(), "{what}: no result");
        assert!(
            size < 64 << 10,
            "{what}: a result of {size} bytes (rc {rc})"
        );
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{what}: took {:?}",
            t.elapsed()
        );
    }
    // Input beyond any real argument set is not read whole, and says why.
    let huge = vec![b' '; (64 << 20) + 1];
    let (v, rc) = common::run_module_stdin("lk_defaults_merge", &["-"], &huge);
    assert_eq!(rc, 1, "{v}");
    assert!(
        v["msg"].as_str().unwrap().contains("larger than 64 MiB"),
        "{v}"
    );
    // A module's command failing on a huge argument: the cmd echoed in the failure is clipped.
    let c = Cluster::create("defect16", &["node-a", "node-b"], "9.4.0", &[]);
    let a = c.node("node-a");
    let (v, rc) = a.module(
        "lk_resource",
        json!({"state": "active", "lkroot": a.lkroot, "tags": [format!("x{}", "y".repeat(1 << 20))]}),
    );
    assert_eq!(rc, 1, "{}", common_short(&v));
    assert!(
        v.to_string().len() < 64 << 10,
        "{} bytes",
        v.to_string().len()
    );
}

fn common_short(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(500).collect()
}

/// Defect 12, as lk_upgrade meets it: the reinstall re-applies the site's defaults after setup,
/// and the merge now refuses a CRLF file. Such a file must stop the reinstall while planning
/// (and in check mode), before lkstop, never after the new release is installed.
#[test]
fn crlf_defaults_file_stops_a_reinstall_before_lkstop() {
    let c = Cluster::create("defect12-upgrade", &["node-a", "node-b"], "9.2.2", &[]);
    let b = c.node("node-b");
    let media_dir = scratch("defect12-upgrade-media");
    let img = media_dir.join("sps_961.img");
    let o = Command::new(bin("lksim"))
        .args(["media", "create", "--version", "9.6.1", "--out"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let backups = c.dir.join("backups");
    let (v, rc) = b.module(
        "lk_backup",
        json!({"dest": backups, "lkroot": b.lkroot, "defaults_file": b.defaults_file}),
    );
    assert_eq!(rc, 0, "lk_backup: {v}");
    let crlf = std::fs::read_to_string(&b.defaults_file)
        .unwrap()
        .replace('\n', "\r\n");
    std::fs::write(&b.defaults_file, &crlf).unwrap();
    let before = c.state();
    for check in [true, false] {
        let (v, rc) = b.module(
            "lk_upgrade",
            json!({"version": "9.6.1", "lkroot": b.lkroot, "defaults_file": b.defaults_file,
                   "media": img, "backup_dir": backups, "allow_reinstall": true, "generate_setup_config": true, "setup_mode": "args",
                   "work_dir": c.dir.join("work"), "state_dir": c.dir.join("state"),
                   "timeout": 60, "_ansible_check_mode": check}),
        );
        assert_eq!(rc, 1, "{v}");
        assert_eq!(v["invalid_parameter"], "defaults_file", "{v}");
        assert!(v["msg"].as_str().unwrap().contains("CRLF"), "{v}");
    }
    assert_eq!(c.state(), before, "the node was touched");
    assert_eq!(std::fs::read_to_string(&b.defaults_file).unwrap(), crlf);
}

/// Defect 9 (the defaults part): every re-apply of the defaults (lk_defaults_merge, and
/// lk_upgrade's reinstall through the same `defaults_reapply::apply`) left another
/// `LifeKeeper.<pid>.<stamp>~` copy beside the defaults file, so they accumulated without
/// bound. Now each change keeps the copy of the file as it was (0600), the newest
/// `BACKUPS_KEPT` of lkops's copies stay, older ones are removed and named in the warnings; a
/// copy another tool left (its own mode) is never touched.
#[test]
fn each_defaults_reapply_leaves_another_backup_copy() {
    use lkops::lifekeeper::defaults_reapply::BACKUPS_KEPT;
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("defect9-defaults-copies");
    let dest = dir.join("LifeKeeper");
    let src = dir.join("old");
    std::fs::write(&src, "A=2\n").unwrap();
    let foreign = dir.join("LifeKeeper.1.2020-01-01@00:00:00~");
    std::fs::write(&foreign, "A=0\n").unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o644)).unwrap();
    let copies = || {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("LifeKeeper.") && n.ends_with('~'))
            .collect();
        v.sort();
        v
    };
    let runs = BACKUPS_KEPT + 3;
    for i in 0..runs {
        // As after each reinstall: the file is the fresh release's again, so the merge changes it.
        std::fs::write(&dest, format!("A=1\nRUN={i}\n")).unwrap();
        let (v, rc) = run_module("lk_defaults_merge", json!({"src": src, "dest": dest}));
        assert_eq!(rc, 0, "run {i}: {v}");
        assert_eq!(v["changed"], true, "run {i}: {v}");
        let backup = v["backup_file"].as_str().unwrap().to_string();
        assert_eq!(
            std::fs::read_to_string(&backup).unwrap(),
            format!("A=1\nRUN={i}\n"),
            "run {i}: the copy is the file as it was before this change"
        );
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "run {i}: {backup}");
        let warned = v["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| w.as_str().is_some_and(|w| w.contains("older backup cop")));
        assert_eq!(warned, i >= BACKUPS_KEPT, "run {i}: {v}");
        let ours = copies().len() - 1;
        assert_eq!(ours, (i + 1).min(BACKUPS_KEPT), "run {i}: {:?}", copies());
    }
    assert!(foreign.exists(), "another tool's copy is left alone");
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "A=0\n");
}

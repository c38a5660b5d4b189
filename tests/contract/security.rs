//! Security properties that hold for the whole product code (src/), checked on the source.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Product code without its `#[cfg(test)] mod tests` blocks (tests may use a shell).
fn product_sources() -> Vec<(PathBuf, String)> {
    let mut files = vec![];
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let product = text.split("#[cfg(test)]").next().unwrap().to_string();
            (p, product)
        })
        .collect()
}

#[test]
fn no_shell_is_ever_started_by_product_code() {
    for (path, src) in product_sources() {
        for (n, line) in src.lines().enumerate() {
            let l = line.trim();
            if l.starts_with("//") {
                continue;
            }
            for bad in [
                "\"sh\"",
                "\"/bin/sh\"",
                "\"bash\"",
                "\"/bin/bash\"",
                "\"dash\"",
                "\"zsh\"",
                "sh -c",
            ] {
                assert!(
                    !l.contains(bad),
                    "{}:{}: shell invocation {bad}: {l}",
                    path.display(),
                    n + 1
                );
            }
        }
    }
}

#[test]
fn every_command_goes_through_the_shared_runner() {
    for (path, src) in product_sources() {
        // The runtime's two runners: pipes (cmd.rs) and a pseudo-terminal for setup's menu.
        if path.ends_with("runtime/cmd.rs") || path.ends_with("runtime/pty.rs") {
            continue;
        }
        for (n, line) in src.lines().enumerate() {
            assert!(
                (!line.contains("Command::new(") || line.contains("clap::Command"))
                    && !line.contains("process::Command"),
                "{}:{}: use runtime::Cmd and ctx.runner, not std::process::Command directly",
                path.display(),
                n + 1
            );
        }
    }
}

// ---- through the binaries -------------------------------------------------------------------

use crate::common;

use common::{media, Cluster, Node};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// Run `module` with `args` on `node` (PATH) in `cwd`, with extra env; (result, rc, stderr).
fn run_in(
    module: &str,
    node: &Node,
    args: &Value,
    cwd: &Path,
    env: &[(&str, &str)],
) -> (Value, i32, String) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let f = cwd.parent().unwrap().join(format!(
        "sec-args-{}-{}.json",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&f, args.to_string()).unwrap();
    let mut c = Command::new(common::bin(module));
    c.arg(&f).current_dir(cwd).env("PATH", node.path_env());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let _ = std::fs::remove_file(&f);
    let (v, rc) = common::parse_output(&out);
    (v, rc, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum K {
    Str,
    Path,
    List,
    PathList,
    SetKey,
    SetValue,
}

/// Hostile values: (label, value, must be refused). Shell syntax must stay literal; a newline, a
/// NUL or a leading '-' must be refused naming the parameter.
fn hostile(kind: K) -> Vec<(&'static str, String, bool)> {
    let abs = |s: &str| match kind {
        K::Path | K::PathList => format!("/tmp/lkops-sec/{s}"),
        _ => s.to_string(),
    };
    vec![
        ("`;` `#`", abs("x; touch PWNED #"), false),
        ("$( )", abs("$(touch PWNED)"), false),
        ("backticks | & < > * ?", abs("`touch PWNED`|&<>*?"), false),
        (
            "..",
            match kind {
                K::Path | K::PathList => "/tmp/lkops-sec/../../etc/passwd".to_string(),
                _ => "../../etc/passwd".to_string(),
            },
            false,
        ),
        ("newline", abs("a\nb=PWNED"), true),
        ("NUL", abs("a\u{0}b"), true),
        // a value written into a file (set) is never an argument: a leading '-' is data there
        ("leading -", "-rf".to_string(), kind != K::SetValue),
        ("leading --", "--help".to_string(), kind != K::SetValue),
    ]
}

fn with_value(base: &Value, param: &str, kind: K, v: &str) -> Value {
    let mut a = base.clone();
    match kind {
        K::Str | K::Path => a[param] = json!(v),
        K::List | K::PathList => a[param] = json!([v]),
        K::SetKey => a["set"] = json!({ v: "1" }),
        K::SetValue => a["set"] = json!({"LKOPS_X": v}),
    }
    a
}

#[test]
fn hostile_tags_paths_and_versions_are_refused_or_passed_literally() {
    let c = Cluster::create("sec-hostile", &["node-a", "node-b"], "9.4.0", &[]);
    let (a, b) = (c.node("node-a").clone(), c.node("node-b").clone());
    let img = media("sec-hostile", "9.6.1");
    let cwd = c.dir.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let saved = c.dir.join("saved-defaults");
    std::fs::copy(&a.defaults_file, &saved).unwrap();
    let s = |p: &Path| p.display().to_string();
    let backup = json!({"backup_dir": s(&c.dir.join("bk")), "lkroot": s(&a.lkroot), "defaults_file": s(&a.defaults_file)});
    std::fs::create_dir_all(c.dir.join("bk")).unwrap();
    std::fs::write(c.dir.join("bk/some.tar.gz"), "x").unwrap();
    let restore = json!({"state": "restored", "archive": s(&c.dir.join("bk/some.tar.gz")), "sha256": "0".repeat(64), "backup_dir": s(&c.dir.join("bk")), "lkroot": s(&a.lkroot), "defaults_file": s(&a.defaults_file)});
    let resource = json!({"state": "standby", "lkroot": s(&a.lkroot), "wait": 5, "timeout": 10});
    let merge = json!({"src": s(&saved), "defaults_file": s(&a.defaults_file), "_ansible_check_mode": true});
    let preflight =
        json!({"lkroot": s(&a.lkroot), "media_dir": s(&c.dir), "min_free_mb": 0, "timeout": 5});
    let upgrade = json!({"version": "9.6.1", "generate_setup_config": true, "setup_mode": "args", "media": s(&img), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file), "work_dir": s(&c.dir.join("work")), "state_dir": s(&c.dir.join("state")), "timeout": 30, "_ansible_check_mode": true});
    #[rustfmt::skip]
    let cases: Vec<(&str, &Node, &Value, &str, K)> = vec![
        ("lk_backup", &a, &backup, "backup_dir", K::Path),
        ("lk_backup", &a, &backup, "host", K::Str),
        ("lk_backup", &a, &backup, "defaults_file", K::Path),
        ("lk_backup", &a, &backup, "lkroot", K::Path),
        ("lk_backup", &a, &restore, "archive", K::Path),
        ("lk_backup", &a, &restore, "sha256", K::Str),
        ("lk_resource", &a, &resource, "tags", K::List),
        ("lk_resource", &a, &resource, "switch_to", K::Str),
        ("lk_resource", &a, &resource, "lkroot", K::Path),
        ("lk_resource", &a, &resource, "remote_lkroot", K::Path),
        ("lk_defaults_merge", &a, &merge, "src", K::Path),
        ("lk_defaults_merge", &a, &merge, "defaults_file", K::Path),
        ("lk_defaults_merge", &a, &merge, "base", K::Path),
        ("lk_defaults_merge", &a, &merge, "drop", K::List),
        ("lk_defaults_merge", &a, &merge, "keep_new", K::List),
        ("lk_defaults_merge", &a, &merge, "set", K::SetKey),
        ("lk_defaults_merge", &a, &merge, "set", K::SetValue),
        ("lk_preflight", &a, &preflight, "target_version", K::Str),
        ("lk_preflight", &a, &preflight, "stepping_versions", K::List),
        ("lk_preflight", &a, &preflight, "nodes", K::List),
        ("lk_preflight", &a, &preflight, "required_packages", K::List),
        ("lk_preflight", &a, &preflight, "skip", K::List),
        ("lk_preflight", &a, &preflight, "media_dir", K::Path),
        ("lk_preflight", &a, &preflight, "backup_dir", K::Path),
        ("lk_preflight", &a, &preflight, "services_file", K::Path),
        ("lk_preflight", &a, &preflight, "license_files", K::PathList),
        ("lk_preflight", &a, &preflight, "lkroot", K::Path),
        ("lk_upgrade", &b, &upgrade, "version", K::Str),
        ("lk_upgrade", &b, &upgrade, "media", K::Path),
        ("lk_upgrade", &b, &upgrade, "stepping_media", K::PathList),
        ("lk_upgrade", &b, &upgrade, "setup_config", K::Path),
        ("lk_upgrade", &b, &upgrade, "recovery_kits", K::List),
        ("lk_upgrade", &b, &upgrade, "license_files", K::PathList),
        ("lk_upgrade", &b, &upgrade, "backup_dir", K::Path),
        ("lk_upgrade", &b, &upgrade, "work_dir", K::Path),
        ("lk_upgrade", &b, &upgrade, "state_dir", K::Path),
        ("lk_upgrade", &b, &upgrade, "defaults_base", K::Path),
        ("lk_upgrade", &b, &upgrade, "lkroot", K::Path),
    ];
    let (mut refused, mut literal, mut bad) = (0, 0, vec![]);
    for (module, node, base, param, kind) in &cases {
        for (label, value, must_refuse) in hostile(*kind) {
            let args = with_value(base, param, *kind, &value);
            let (v, rc, stderr) = run_in(module, node, &args, &cwd, &[]);
            let msg = v["msg"].as_str().unwrap_or_default();
            assert!(
                !msg.contains("internal error"),
                "{module} {param} {label}: panic: {v}"
            );
            let named = v["invalid_parameter"] == json!(param) || msg.contains(param);
            let pwned = walk_names(&c.dir)
                .into_iter()
                .chain(walk_names(Path::new("/tmp/lkops-sec")))
                .find(|n| {
                    n.contains("PWNED") && !n.contains("PWNED #") && !n.contains("touch PWNED")
                });
            assert!(
                pwned.is_none(),
                "{module} {param}={value:?}: a shell ran it: {pwned:?}"
            );
            let is_refused = rc == 1 && v["failed"] == true && named && v["changed"] != true;
            if must_refuse && !is_refused {
                bad.push(format!(
                    "{module} {param} {label}: not refused naming {param}: rc={rc} {v} {stderr}"
                ));
            }
            if is_refused {
                refused += 1;
            } else {
                literal += 1;
            }
        }
    }
    println!(
        "hostile inputs: {} runs over {} (module, parameter) pairs: {refused} refused naming the parameter, {literal} accepted and passed literally (no shell ran)",
        refused + literal,
        cases.len()
    );
    assert!(
        bad.is_empty(),
        "{} hostile values not refused:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

fn walk_names(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            out.push(e.file_name().to_string_lossy().into_owned());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk_names(&e.path()));
            }
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Backups hold the cluster configuration: lk_backup's dest is 0700 and every file in it 0600;
/// what lk_upgrade keeps beside them (saved defaults, setup log, journal) is not readable by
/// other users either.
#[test]
fn backup_dir_is_0700_and_its_files_0600() {
    let c = Cluster::create("sec-perms", &["node-a", "node-b"], "9.2.2", &[]);
    let b = c.node("node-b").clone();
    let img = media("sec-perms", "9.6.1");
    let dest = c.dir.join("deep/backups");
    let cwd = c.dir.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let s = |p: &Path| p.display().to_string();
    let (v, rc, _) = run_in(
        "lk_backup",
        &b,
        &json!({"dest": s(&dest), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)}),
        &cwd,
        &[],
    );
    assert_eq!(rc, 0, "{v}");
    assert_eq!(mode(&dest), 0o700);
    let mut n = 0;
    for e in std::fs::read_dir(&dest).unwrap().flatten() {
        assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
        n += 1;
    }
    assert!(n >= 4, "archive, defaults copy, manifest, sums, lock");
    let (v, rc, _) = run_in(
        "lk_upgrade",
        &b,
        &json!({"version": "9.6.1", "generate_setup_config": true, "setup_mode": "args", "media": s(&img), "media_mode": "extract", "allow_reinstall": true, "restore_config": true,
                "backup_dir": s(&dest), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file),
                "work_dir": s(&c.dir.join("work")), "state_dir": s(&c.dir.join("state"))}),
        &cwd,
        &[],
    );
    assert_eq!(rc, 0, "{v}");
    assert_eq!(mode(&dest), 0o700);
    for e in std::fs::read_dir(&dest).unwrap().flatten() {
        assert_eq!(
            mode(&e.path()) & 0o077,
            0,
            "{} is readable by others",
            e.path().display()
        );
    }
    assert_eq!(mode(&c.dir.join("work")) & 0o077, 0, "work_dir");
}

/// A license file's contents never appear in any result, progress log (stderr), diff or file
/// the modules write beside the backups (setup log, journal); lk_upgrade's no_log license_files
/// are masked in `invocation` and their paths scrubbed from every message.
#[test]
fn license_canary_never_appears_in_any_output_log_or_diff() {
    let c = Cluster::create("sec-canary", &["node-a", "node-b"], "8.1.2", &[]);
    let b = c.node("node-b").clone();
    let img = media("sec-canary", "9.6.1");
    let canary = format!("LKOPS-CANARY-{}-7f3a9c", std::process::id());
    let lic_dir = c.dir.join("licenses");
    std::fs::create_dir_all(&lic_dir).unwrap();
    let lic = lic_dir.join("node-b.lic");
    std::fs::write(&lic, format!("SERIAL={canary}\nKEY={canary}\n")).unwrap();
    let cwd = c.dir.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let s = |p: &Path| p.display().to_string();
    let backups = c.dir.join("backups");
    let env = [("LKOPS_PROGRESS", "1")];
    let mut outputs = vec![];
    let mut run = |module: &str, mut args: Value, check: bool| {
        args["_ansible_check_mode"] = json!(check);
        args["_ansible_diff"] = json!(true);
        args["_ansible_verbosity"] = json!(4);
        let (v, rc, stderr) = run_in(module, &b, &args, &cwd, &env);
        outputs.push((format!("{module} check={check}"), v.to_string(), stderr));
        (v, rc)
    };
    let pre = json!({"lkroot": s(&b.lkroot), "license_files": [s(&lic)], "media_dir": s(&c.dir), "min_free_mb": 0});
    run("lk_preflight", pre.clone(), true);
    run("lk_preflight", pre, false);
    let bk =
        json!({"dest": s(&backups), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)});
    let (v, rc) = run("lk_backup", bk.clone(), false);
    assert_eq!(rc, 0, "{v}");
    let up = json!({"version": "9.6.1", "generate_setup_config": true, "setup_mode": "args", "media": s(&img), "media_mode": "extract", "allow_reinstall": true, "restore_config": true,
                    "license_files": [s(&lic)], "backup_dir": s(&backups), "lkroot": s(&b.lkroot),
                    "defaults_file": s(&b.defaults_file), "work_dir": s(&c.dir.join("work")),
                    "state_dir": s(&c.dir.join("state"))});
    let (plan, _) = run("lk_upgrade", up.clone(), true);
    let (done, rc) = run("lk_upgrade", up.clone(), false);
    assert_eq!(rc, 0, "{done}");
    // setup installed the license: the node now holds the canary, and every module runs on it
    let installed = walk_names(&b.root).iter().any(|n| n.ends_with(".lic"));
    assert!(installed, "setup did not install the license");
    run("lk_upgrade", up, false);
    run("lk_backup", bk.clone(), true);
    run(
        "lk_backup",
        json!({"force": true, "dest": s(&backups), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)}),
        false,
    );
    run(
        "lk_backup",
        json!({"state": "verified", "dest": s(&backups), "lkroot": s(&b.lkroot)}),
        false,
    );
    run("lk_resource", json!({"lkroot": s(&b.lkroot)}), false);
    let saved = c.dir.join("saved");
    std::fs::copy(&b.defaults_file, &saved).unwrap();
    run(
        "lk_defaults_merge",
        json!({"src": s(&saved), "dest": s(&b.defaults_file), "set": {"X": 1}}),
        true,
    );
    for (what, stdout, stderr) in &outputs {
        assert!(
            !stdout.contains(&canary),
            "{what}: canary in the result: {stdout}"
        );
        assert!(
            !stderr.contains(&canary),
            "{what}: canary on stderr: {stderr}"
        );
    }
    // files the modules wrote beside the backups and in their work/state dirs
    for dir in [&backups, &c.dir.join("work"), &c.dir.join("state")] {
        for (f, _) in common::tree_hash(dir) {
            let p = dir.join(&f);
            if p.is_file() && !f.contains(".lkbackup.") {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                assert!(!text.contains(&canary), "canary in {}", p.display());
            }
        }
    }
    // no_log: masked in invocation, the path scrubbed everywhere in lk_upgrade's results
    for v in [&plan, &done] {
        assert_eq!(
            v["invocation"]["module_args"]["license_files"], "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
            "{v}"
        );
        assert!(
            !v.to_string().contains(&s(&lic)),
            "license path not scrubbed: {v}"
        );
    }
    println!("canary checked in {} module runs (stdout, stderr) and the files under backups/, work/, state/", outputs.len());
}

/// `_ansible_no_log: true` masks every parameter value in `invocation`, for every module.
#[test]
fn ansible_no_log_masks_every_invocation_value_of_every_module() {
    let c = Cluster::create("sec-nolog", &["node-a"], "9.4.0", &[]);
    let a = c.node("node-a").clone();
    let cwd = c.dir.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let s = |p: &Path| p.display().to_string();
    let saved = c.dir.join("saved");
    std::fs::copy(&a.defaults_file, &saved).unwrap();
    for (module, args) in [
        (
            "lk_backup",
            json!({"dest": s(&c.dir.join("bk")), "lkroot": s(&a.lkroot), "defaults_file": s(&a.defaults_file)}),
        ),
        (
            "lk_defaults_merge",
            json!({"src": s(&saved), "dest": s(&a.defaults_file), "set": {"SECRET_KEY": "hunter2"}}),
        ),
        (
            "lk_preflight",
            json!({"lkroot": s(&a.lkroot), "nodes": ["node-a"]}),
        ),
        ("lk_resource", json!({"lkroot": s(&a.lkroot)})),
        (
            "lk_upgrade",
            json!({"version": "9.6.1", "generate_setup_config": true, "setup_mode": "args", "media_dir": s(&c.dir), "lkroot": s(&a.lkroot), "license_files": ["/x/secret.lic"], "work_dir": s(&c.dir.join("w")), "state_dir": s(&c.dir.join("st"))}),
        ),
    ] {
        let mut a2 = args.clone();
        a2["_ansible_no_log"] = json!(true);
        a2["_ansible_check_mode"] = json!(true);
        let (v, _, _) = run_in(module, &a, &a2, &cwd, &[]);
        let inv = v["invocation"]["module_args"]
            .as_object()
            .unwrap_or_else(|| panic!("{module}: no invocation: {v}"));
        assert!(!inv.is_empty());
        for (k, val) in inv {
            assert!(
                val.is_null() || val == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
                "{module}: {k} not masked: {val}"
            );
        }
        // and without it, only no_log parameters are masked
        let mut a3 = args.clone();
        a3["_ansible_check_mode"] = json!(true);
        let (v, _, _) = run_in(module, &a, &a3, &cwd, &[]);
        for (k, val) in v["invocation"]["module_args"].as_object().unwrap() {
            let masked = val == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER";
            assert_eq!(
                masked,
                module == "lk_upgrade" && k == "license_files",
                "{module} {k}: {val}"
            );
        }
    }
}

/// Make `link` a symlink to `target` owned by another user (uid 65534), as if planted by them.
fn plant_symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
    std::os::unix::fs::lchown(link, Some(65534), Some(65534)).unwrap();
}

/// Symlinks planted by another user where a module writes (backup dest, defaults dest,
/// lk_upgrade's backup_dir/work_dir/state_dir, lock files in shared directories) are refused;
/// the file or directory they point at is untouched.
#[test]
fn symlinks_planted_by_another_user_are_refused() {
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIPPED: needs root to plant a symlink owned by another user");
        return;
    }
    let c = Cluster::create("sec-symlink", &["node-a", "node-b"], "9.4.0", &[]);
    let b = c.node("node-b").clone();
    let img = media("sec-symlink", "9.6.1");
    let cwd = c.dir.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let s = |p: &Path| p.display().to_string();
    let victim = c.dir.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("passwd"), "root:x:0:0\n").unwrap();
    let untouched = || common::tree_hash(&victim);
    let before = untouched();
    let mut rows = vec![];

    // lk_backup dest
    let link = c.dir.join("backups-link");
    plant_symlink(&victim, &link);
    let (v, rc, _) = run_in(
        "lk_backup",
        &b,
        &json!({"dest": s(&link), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)}),
        &cwd,
        &[],
    );
    assert!(
        rc == 1
            && v["invalid_parameter"] == "backup_dir"
            && v["msg"].as_str().unwrap().contains("symbolic link"),
        "{v}"
    );
    rows.push("lk_backup dest");

    // lk_defaults_merge dest
    let link = c.dir.join("LifeKeeper-link");
    plant_symlink(&victim.join("passwd"), &link);
    let saved = c.dir.join("saved");
    std::fs::copy(&b.defaults_file, &saved).unwrap();
    let (v, rc, _) = run_in(
        "lk_defaults_merge",
        &b,
        &json!({"src": s(&saved), "dest": s(&link), "set": {"X": 1}}),
        &cwd,
        &[],
    );
    assert!(
        rc == 1
            && v["invalid_parameter"] == "defaults_file"
            && v["msg"].as_str().unwrap().contains("symbolic link"),
        "{v}"
    );
    rows.push("lk_defaults_merge dest");

    // lk_upgrade backup_dir / work_dir / state_dir (work_dir defaults to /var/tmp/lkops-upgrade,
    // a predictable name in a world-writable directory)
    for param in ["backup_dir", "work_dir", "state_dir"] {
        let link = c.dir.join(format!("{param}-link"));
        plant_symlink(&victim, &link);
        let mut args = json!({"version": "9.6.1", "generate_setup_config": true, "setup_mode": "args", "media": s(&img), "media_mode": "extract", "lkroot": s(&b.lkroot),
                              "defaults_file": s(&b.defaults_file), "work_dir": s(&c.dir.join("work")),
                              "state_dir": s(&c.dir.join("state"))});
        args[param] = json!(s(&link));
        let (v, rc, _) = run_in("lk_upgrade", &b, &args, &cwd, &[]);
        assert_eq!(rc, 1, "lk_upgrade {param} symlink accepted: {v}");
        assert!(
            v["invalid_parameter"] == param || v["msg"].as_str().unwrap().contains(param),
            "{v}"
        );
        assert!(c.node("node-b").lk("lcdstatus", &["-e"]).status.success());
        rows.push(param);
    }

    // lk_defaults_merge's lock file lives in TMPDIR under a predictable name: a symlink planted
    // there must not make root create (or open) the file it points at.
    let tmp = c.dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let dest = c.dir.join("LifeKeeper");
    std::fs::copy(&b.defaults_file, &dest).unwrap();
    let id = lkops::runtime::fs::sha256_bytes(s(&dest).as_bytes());
    let lock = tmp.join(format!(".lkops-defaults-merge-{}.lock", &id[..16]));
    let planted_target = victim.join("created-by-root");
    plant_symlink(&planted_target, &lock);
    let (v, rc, _) = run_in(
        "lk_defaults_merge",
        &b,
        &json!({"src": s(&saved), "dest": s(&dest), "set": {"X": 1}}),
        &cwd,
        &[("TMPDIR", &s(&tmp))],
    );
    assert!(
        !planted_target.exists(),
        "the lock followed a planted symlink and created {}",
        planted_target.display()
    );
    assert_eq!(rc, 1, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("lock"), "{v}");
    rows.push("lk_defaults_merge lock in TMPDIR");

    // lk_backup's lock file in a dest another user can write to
    let shared = c.dir.join("shared-dest");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    plant_symlink(
        &victim.join("via-backup-lock"),
        &shared.join(".lkops-backup.lock"),
    );
    let (v, rc, _) = run_in(
        "lk_backup",
        &b,
        &json!({"dest": s(&shared), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file)}),
        &cwd,
        &[],
    );
    assert!(
        !victim.join("via-backup-lock").exists(),
        "the backup lock followed a planted symlink"
    );
    assert_eq!(rc, 1, "{v}");
    rows.push("lk_backup lock in dest");

    assert_eq!(untouched(), before, "the symlinks' targets changed");
    println!("planted symlinks refused: {}", rows.join(", "));
}

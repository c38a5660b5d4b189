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
        if path.ends_with("runtime/cmd.rs") {
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

mod common;

use common::{Cluster, Node};
use serde_json::{json, Value};
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

fn media(name: &str, version: &str) -> PathBuf {
    let dir = common::scratch(&format!("{name}-media"));
    let out = dir.join(format!("sps_{}.img", version.replace('.', "")));
    let o = Command::new(common::bin("lksim"))
        .args(["media", "create", "--version", version, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
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
    let backup = json!({"dest": s(&c.dir.join("bk")), "lkroot": s(&a.lkroot), "defaults_file": s(&a.defaults_file)});
    std::fs::create_dir_all(c.dir.join("bk")).unwrap();
    std::fs::write(c.dir.join("bk/some.tar.gz"), "x").unwrap();
    let restore = json!({"state": "restored", "archive": s(&c.dir.join("bk/some.tar.gz")), "sha256": "0".repeat(64), "dest": s(&c.dir.join("bk")), "lkroot": s(&a.lkroot), "defaults_file": s(&a.defaults_file)});
    let resource = json!({"state": "standby", "lkroot": s(&a.lkroot), "wait": 5, "timeout": 10});
    let merge = json!({"src": s(&saved), "dest": s(&a.defaults_file), "_ansible_check_mode": true});
    let preflight =
        json!({"lkroot": s(&a.lkroot), "media_dir": s(&c.dir), "min_free_mb": 0, "timeout": 5});
    let upgrade = json!({"version": "9.6.1", "media": s(&img), "lkroot": s(&b.lkroot), "defaults_file": s(&b.defaults_file), "work_dir": s(&c.dir.join("work")), "state_dir": s(&c.dir.join("state")), "timeout": 30, "_ansible_check_mode": true});
    #[rustfmt::skip]
    let cases: Vec<(&str, &Node, &Value, &str, K)> = vec![
        ("lk_backup", &a, &backup, "dest", K::Path),
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
        ("lk_defaults_merge", &a, &merge, "dest", K::Path),
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

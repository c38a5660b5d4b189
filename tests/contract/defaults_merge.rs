//! lk_defaults_merge through its real binary: the three input contracts, pinned outputs, bad
//! input, check mode, and the invariant that the written file means what the report says.

use crate::common;

use common::pin::{assert_pinned, Redactor};
use common::{bin, parse_output, run_module, run_module_stdin, scratch, tree_hash};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const OLD: &str = "# LifeKeeper 9.2 defaults (site-edited)\nLKROOT=/opt/LifeKeeper\nREMOTETIMEOUT=900\nLCMHBEATTIME=7\nQUORUM_MODE=majority\nSITE_NOTE=\"maintenance window # 2\"\nOBSOLETE=1\n";
const NEW: &str = "# LifeKeeper 9.6.1 defaults\nLKROOT=/opt/LifeKeeper\n# seconds to wait for a remote reply\nREMOTETIMEOUT=1200\n#LCMHBEATTIME=5\nQUORUM_MODE=majority\n";

fn setup(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let d = scratch(name);
    std::fs::write(d.join("old"), OLD).unwrap();
    std::fs::write(d.join("LifeKeeper"), NEW).unwrap();
    (d.join("old"), d.join("LifeKeeper"))
}

/// Replace the scratch dir and the backup stamp so outputs can be pinned.
fn normalise(v: &mut Value, dir: &Path) {
    *v = Redactor::new().path(dir, "<dir>").apply(v);
    if let Some(b) = v.get("backup_file").and_then(|b| b.as_str()) {
        assert!(
            b.starts_with("<dir>/LifeKeeper.") && b.ends_with('~'),
            "{b}"
        );
        v["backup_file"] = json!("<dir>/LifeKeeper.<pid>.<stamp>~");
    }
}

/// What `sh` assigns to each key when it sources the file.
fn sourced(file: &Path, keys: &[&str]) -> Vec<String> {
    let mut script = format!(". '{}'", file.display());
    for k in keys {
        script.push_str(&format!("; printf '%s\\n' \"${k}\""));
    }
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn ansible_args_file_contract_pinned_output() {
    let (old, dest) = setup("dm-pinned");
    let dir = dest.parent().unwrap().to_path_buf();
    let (mut v, rc) = run_module(
        "lk_defaults_merge",
        json!({"src": old, "dest": dest, "drop": ["OBSOLETE"], "_ansible_diff": true, "_ansible_check_mode": false,
               "_ansible_no_log": false, "_ansible_verbosity": 0, "_ansible_version": "2.19.14",
               "_ansible_module_name": "lk_defaults_merge"}),
    );
    assert_eq!(rc, 0);
    normalise(&mut v, &dir);
    let after = "# LifeKeeper 9.6.1 defaults\nLKROOT=/opt/LifeKeeper\n# seconds to wait for a remote reply\nREMOTETIMEOUT=900\n#LCMHBEATTIME=5\nLCMHBEATTIME=7\nQUORUM_MODE=majority\n\n# Carried over from <dir>/old by lk_defaults_merge\nSITE_NOTE=\"maintenance window # 2\"\n";
    assert_pinned(
        &v,
        &json!({
            "changed": true, "failed": false,
            "msg": "carried 3 key(s) into <dir>/LifeKeeper; dropped OBSOLETE; 1 conflict(s) without base",
            "comment": "carried 3 key(s) into <dir>/LifeKeeper; dropped OBSOLETE; 1 conflict(s) without base",
            "carried": {"REMOTETIMEOUT": "900", "LCMHBEATTIME": "7", "SITE_NOTE": "maintenance window # 2"},
            "dropped": ["OBSOLETE"], "kept_new": [], "set_values": {},
            "conflicts": [{"key": "REMOTETIMEOUT", "src": "900", "dest": "1200"}],
            "backup_file": "<dir>/LifeKeeper.<pid>.<stamp>~",
            "dest": "<dir>/LifeKeeper",
            "warnings": ["REMOTETIMEOUT carried from src (900) over the new default (1200): without base it may be an old default rather than a site choice"],
            "diff": {"before": NEW, "after": after,
                     "before_header": "<dir>/LifeKeeper (before)", "after_header": "<dir>/LifeKeeper (after)"},
            "invocation": {"module_args": {"src": "<dir>/old", "defaults_file": "<dir>/LifeKeeper", "drop": ["OBSOLETE"], "backup": true, "lock_wait": 600, "lkroot": "/opt/LifeKeeper"}}
        }),
    );
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        after.replace("<dir>", &dir.display().to_string())
    );
    // The report means what sh reads from the file.
    assert_eq!(
        sourced(
            &dest,
            &["REMOTETIMEOUT", "LCMHBEATTIME", "SITE_NOTE", "OBSOLETE"]
        ),
        vec!["900", "7", "maintenance window # 2", ""]
    );
}

#[test]
fn second_run_reports_no_change_and_touches_nothing() {
    let (old, dest) = setup("dm-idem");
    let args = json!({"src": old, "dest": dest});
    assert_eq!(
        run_module("lk_defaults_merge", args.clone()).0["changed"],
        true
    );
    let before = tree_hash(dest.parent().unwrap());
    let (v, rc) = run_module("lk_defaults_merge", args);
    assert_eq!((v["changed"].clone(), rc), (json!(false), 0), "{v}");
    assert_eq!(v["backup_file"], Value::Null);
    assert_eq!(tree_hash(dest.parent().unwrap()), before);
}

#[test]
fn check_mode_writes_nothing_and_predicts_the_real_run() {
    let (old, dest) = setup("dm-check");
    let dir = dest.parent().unwrap();
    let before = tree_hash(dir);
    let args = json!({"src": old, "dest": dest, "_ansible_diff": true});
    let mut check_args = args.clone();
    check_args["_ansible_check_mode"] = json!(true);
    let (mut predicted, rc) = run_module("lk_defaults_merge", check_args);
    assert_eq!(rc, 0);
    assert_eq!(tree_hash(dir), before, "check mode changed the directory");
    let (mut real, _) = run_module("lk_defaults_merge", args);
    for v in [&mut predicted, &mut real] {
        v["msg"] = json!(null);
        v["comment"] = json!(null);
        v["backup_file"] = json!(null);
    }
    assert_eq!(predicted, real);
}

#[test]
fn stdin_and_key_value_contracts_give_the_same_result() {
    let (old, dest) = setup("dm-stdin");
    let args = json!({"src": old, "dest": dest, "backup": false, "_ansible_check_mode": true});
    let (from_stdin, rc) =
        run_module_stdin("lk_defaults_merge", &["-"], args.to_string().as_bytes());
    assert_eq!(rc, 0);
    let (no_arg, _) = run_module_stdin("lk_defaults_merge", &[], args.to_string().as_bytes());
    let out = Command::new(bin("lk_defaults_merge"))
        .args([
            "--check",
            &format!("src={}", old.display()),
            &format!("dest={}", dest.display()),
            "backup=no",
        ])
        .output()
        .unwrap();
    let (from_kv, rc) = parse_output(&out);
    assert_eq!(rc, 0);
    assert_eq!(from_stdin, no_arg);
    assert_eq!(
        from_stdin, from_kv,
        "k=v strings are coerced (backup=no is a bool)"
    );
    assert_eq!(from_kv["invocation"]["module_args"]["backup"], json!(false));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), NEW);
}

#[test]
fn bad_input_fails_with_one_json_object_naming_the_problem() {
    let (old, dest) = setup("dm-bad");
    let cases: Vec<(&[u8], &str)> = vec![
        (b"{not json", "arguments in stdin are not valid JSON"),
        (b"", "no arguments: stdin is empty"),
        (b"[1,2]", "must be one JSON object, got a JSON array"),
        (b"\xff\xfe", "not valid UTF-8"),
    ];
    for (input, needle) in cases {
        let (v, rc) = run_module_stdin("lk_defaults_merge", &["-"], input);
        assert_eq!(rc, 1);
        assert_eq!(v["failed"], true);
        assert!(v["msg"].as_str().unwrap().contains(needle), "{v}");
    }
    let bad_args = [
        (
            json!({"src": old, "dest": dest, "bakup": true}),
            "unsupported parameter: bakup. Did you mean 'backup'?",
            "bakup",
        ),
        (
            json!({"src": old, "backup": "maybe"}),
            "backup must be of type bool, got: maybe",
            "backup",
        ),
        (
            json!({"dest": dest}),
            "missing required parameter: src",
            "src",
        ),
        (
            json!({"src": old, "set": {"BAD-KEY": "1"}}),
            "set: 'BAD-KEY' is not a valid shell variable name",
            "set",
        ),
        (
            json!({"src": old, "dest": dest, "set": {"A": "x\nB=y"}}),
            "set: the value of A contains a line break",
            "set",
        ),
    ];
    for (args, needle, param) in bad_args {
        let (v, rc) = run_module("lk_defaults_merge", args);
        assert_eq!(rc, 1, "{v}");
        assert!(v["msg"].as_str().unwrap().contains(needle), "{v}");
        assert_eq!(v["invalid_parameter"], param);
    }
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), NEW);
}

#[test]
fn unparsable_line_names_file_and_line_and_leaves_dest_untouched() {
    let (old, dest) = setup("dm-syntax");
    std::fs::write(&old, "A=1\nB=two words\n").unwrap();
    let (v, rc) = run_module("lk_defaults_merge", json!({"src": old, "dest": dest}));
    assert_eq!(rc, 1);
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains(&format!("src {} line 2: unquoted space", old.display())),
        "{msg}"
    );
    assert_eq!(v["line"], 2);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), NEW);
}

#[test]
fn symlinked_or_directory_dest_is_refused() {
    let (old, dest) = setup("dm-symlink");
    let link = dest.parent().unwrap().join("link");
    std::os::unix::fs::symlink(&dest, &link).unwrap();
    let (v, rc) = run_module("lk_defaults_merge", json!({"src": old, "dest": link}));
    assert_eq!(rc, 1);
    assert!(
        v["msg"].as_str().unwrap().contains("is a symbolic link"),
        "{v}"
    );
    let (v, _) = run_module(
        "lk_defaults_merge",
        json!({"src": old, "dest": dest.parent().unwrap()}),
    );
    assert!(v["msg"].as_str().unwrap().contains("is a directory"), "{v}");
    let (v, _) = run_module(
        "lk_defaults_merge",
        json!({"src": "/nonexistent/old", "dest": dest}),
    );
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .starts_with("cannot read src /nonexistent/old"),
        "{v}"
    );
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), NEW);
}

#[test]
fn mode_is_preserved_and_backup_keeps_the_old_content() {
    use std::os::unix::fs::PermissionsExt;
    let (old, dest) = setup("dm-mode");
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (v, _) = run_module("lk_defaults_merge", json!({"src": old, "dest": dest}));
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let backup = v["backup_file"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(backup).unwrap(), NEW);
}

#[test]
fn two_concurrent_runs_serialise_and_both_end_correct() {
    let (old, dest) = setup("dm-concurrent");
    let args = json!({"src": old, "dest": dest, "backup": false});
    let a = std::thread::spawn({
        let args = args.clone();
        move || run_module("lk_defaults_merge", args)
    });
    let b = run_module("lk_defaults_merge", args);
    let a = a.join().unwrap();
    let changed: Vec<bool> = [&a.0, &b.0]
        .iter()
        .map(|v| v["changed"].as_bool().unwrap())
        .collect();
    assert_eq!(
        changed.iter().filter(|c| **c).count(),
        1,
        "exactly one run changes the file: {changed:?}"
    );
    assert_eq!(sourced(&dest, &["LCMHBEATTIME"]), vec!["7"]);
    let leftovers: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("lkops-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

/// Issue 22 defect 12: a CRLF dest with nothing to carry reported changed: true, "carried 0
/// key(s)", and was rewritten to LF. A CRLF file (src, dest or base) is now refused, naming the
/// file, the line and the line endings, and left byte for byte as it was.
#[test]
fn crlf_defaults_file_is_refused_not_rewritten() {
    let (old, dest) = setup("dm-crlf");
    let crlf = NEW.replace('\n', "\r\n");
    std::fs::write(&dest, &crlf).unwrap();
    std::fs::write(&old, "LKROOT=/opt/LifeKeeper\n").unwrap();
    for check in [true, false] {
        let (v, rc) = run_module(
            "lk_defaults_merge",
            json!({"src": old, "dest": dest, "_ansible_check_mode": check}),
        );
        assert_eq!(rc, 1, "{v}");
        assert_eq!(v["invalid_parameter"], "defaults_file", "{v}");
        assert_eq!(v["changed"], false, "{v}");
        let msg = v["msg"].as_str().unwrap();
        assert!(
            msg.contains(&format!("defaults_file {} line 1: ", dest.display()))
                && msg.contains("carriage return (CRLF line endings)"),
            "{msg}"
        );
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), crlf);
    }
    std::fs::write(&dest, NEW).unwrap();
    std::fs::write(&old, OLD.replace('\n', "\r\n")).unwrap();
    let (v, _) = run_module("lk_defaults_merge", json!({"src": old, "dest": dest}));
    assert_eq!(v["invalid_parameter"], "src", "{v}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), NEW);
}

/// Issue 22 defect 13: a UTF-8 byte order mark was refused with a message naming a variable
/// ("'\u{feff}LKROOT' is not a valid shell variable name"); it now names the byte order mark.
#[test]
fn utf8_bom_is_refused_naming_the_byte_order_mark() {
    let (old, dest) = setup("dm-bom");
    let bom = format!("\u{feff}{NEW}");
    std::fs::write(&dest, &bom).unwrap();
    let (v, rc) = run_module("lk_defaults_merge", json!({"src": old, "dest": dest}));
    assert_eq!(rc, 1, "{v}");
    assert_eq!(v["invalid_parameter"], "defaults_file", "{v}");
    let msg = v["msg"].as_str().unwrap();
    assert!(msg.contains("byte order mark"), "{msg}");
    assert!(!msg.contains("variable name"), "{msg}");
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), bom);
}

/// Issue 22 defect 14: the merge was quadratic — 322 s for 27,000 carried keys in a 59 MB file.
/// 30,000 keys, each landing in one of the three places (in place, after its commented default,
/// appended), through the real binary, must finish well inside a generous bound; the merge is
/// linear, so it takes seconds (the side-by-side ratio is in bench/defaults_merge_scaling.md).
#[test]
fn defaults_merge_of_30000_keys_is_linear_not_quadratic() {
    let d = scratch("dm-linear");
    let n = 30_000;
    let pad = "x".repeat(64);
    let mut src = String::new();
    let mut dest = String::new();
    for i in 0..n {
        src.push_str(&format!("K{i}=site{i}{pad}\n"));
        match i % 3 {
            0 => dest.push_str(&format!("# about K{i}\nK{i}=new{i}\n")),
            1 => dest.push_str(&format!("#K{i}=default\n")),
            _ => dest.push_str(&format!("# unrelated line {i}\n")),
        }
    }
    let (s, t) = (d.join("old"), d.join("LifeKeeper"));
    std::fs::write(&s, &src).unwrap();
    std::fs::write(&t, &dest).unwrap();
    let start = std::time::Instant::now();
    let (v, rc) = run_module(
        "lk_defaults_merge",
        json!({"src": s, "dest": t, "backup": false}),
    );
    let took = start.elapsed();
    assert_eq!(rc, 0, "{}", v["msg"]);
    assert_eq!(v["carried"].as_object().unwrap().len(), n);
    assert!(
        took < std::time::Duration::from_secs(60),
        "30,000 keys took {took:?}"
    );
    let (again, _) = run_module(
        "lk_defaults_merge",
        json!({"src": s, "dest": t, "backup": false}),
    );
    assert_eq!(again["changed"], false);
}

/// Issue 21: `defaults_file` is LifeKeeper's defaults file in every module; lk_defaults_merge's
/// old name for it, `dest`, is kept as an alias. Either name merges into the file (the same
/// result); both at once is refused naming both, and the file is left alone.
#[test]
fn defaults_file_and_its_old_alias_dest_both_work_and_both_at_once_is_refused() {
    let mut results = Vec::new();
    for key in ["defaults_file", "dest"] {
        let (old, dest) = setup(&format!("dm-alias-{key}"));
        let dir = dest.parent().unwrap().to_path_buf();
        let (mut v, rc) = run_module(
            "lk_defaults_merge",
            json!({"src": old, key: dest, "backup": false}),
        );
        assert_eq!(rc, 0, "{key}: {v}");
        assert_eq!(v["changed"], true, "{key}: {v}");
        assert_ne!(
            std::fs::read_to_string(&dest).unwrap(),
            NEW,
            "{key}: not merged"
        );
        let (again, _) = run_module(
            "lk_defaults_merge",
            json!({"src": old, key: dest, "backup": false}),
        );
        assert_eq!(again["changed"], false, "{key}: {again}");
        normalise(&mut v, &dir);
        results.push(v);
    }
    assert_eq!(results[0], results[1], "the alias gives another result");

    let (old, dest) = setup("dm-alias-both");
    let (v, rc) = run_module(
        "lk_defaults_merge",
        json!({"src": old, "defaults_file": dest, "dest": dest}),
    );
    assert_eq!(rc, 1, "{v}");
    assert_eq!(v["invalid_parameter"], "defaults_file", "{v}");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("are the same parameter (defaults_file, dest): give only one of them"),
        "{v}"
    );
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), NEW);
}

//! Property tests (proptest): argument intake never panics and always answers with one JSON
//! object; the defaults-file parser round-trips and agrees with `sh`; the merged file sourced by
//! `sh` means what the module reports; version ordering is a total order consistent with parsing.
//! Each test prints how many cases it ran.

mod common;

use lkops::lifekeeper::defaults_file;
use lkops::lifekeeper::version::{upgrade_path, Path as UpPath, Version};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn any_bytes_on_stdin_give_one_failed_json_object() {
    let n = AtomicUsize::new(0);
    runner(200)
        .run(&proptest::collection::vec(any::<u8>(), 0..200), |bytes| {
            n.fetch_add(1, Ordering::Relaxed);
            let (v, rc) = common::run_module_stdin("lk_defaults_merge", &["-"], &bytes);
            prop_assert_eq!(rc, 1);
            prop_assert_eq!(&v["failed"], &json!(true));
            prop_assert!(!v["msg"].as_str().unwrap().is_empty());
            Ok(())
        })
        .unwrap();
    println!("intake/stdin: {} cases", n.load(Ordering::Relaxed));
}

/// JSON objects with arbitrary keys and values of every JSON type: unknown keys, wrong types.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z/ .=_-]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn any_json_args_file_gives_one_json_object_and_never_panics() {
    let n = AtomicUsize::new(0);
    let keys = prop_oneof![
        Just("src".to_string()),
        Just("dest".to_string()),
        Just("drop".to_string()),
        Just("set".to_string()),
        Just("backup".to_string()),
        Just("_ansible_check_mode".to_string()),
        "[a-z_]{1,8}",
    ];
    runner(150)
        .run(
            &proptest::collection::btree_map(keys, arb_json(), 0..5),
            |m| {
                n.fetch_add(1, Ordering::Relaxed);
                let mut args: serde_json::Map<String, Value> = m.into_iter().collect();
                // Never let a generated case write somewhere real.
                args.insert("_ansible_check_mode".into(), json!(true));
                let (v, rc) = common::run_module("lk_defaults_merge", Value::Object(args));
                prop_assert!(v.get("failed").is_some());
                prop_assert_eq!(rc == 1, v["failed"] == json!(true));
                prop_assert!(
                    !v["msg"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("internal error"),
                    "{}",
                    v
                );
                Ok(())
            },
        )
        .unwrap();
    println!("intake/args-file: {} cases", n.load(Ordering::Relaxed));
}

/// A literal value in one of the shell's spellings, and the value sh assigns.
fn arb_value() -> impl Strategy<Value = (String, String)> {
    let text = "[a-zA-Z0-9 =#./:,'\"$\\\\-]{0,12}";
    prop_oneof![
        "[a-zA-Z0-9_./:,+@%=-]{0,10}".prop_map(|s| (s.clone(), s)),
        text.prop_map(|s| (defaults_file::quote(&s), s)),
        "[a-zA-Z0-9 =#./:,']{0,10}".prop_map(|s| {
            let esc = s
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('$', "\\$")
                .replace('`', "\\`");
            (format!("\"{esc}\""), s)
        }),
    ]
}

fn arb_line() -> impl Strategy<Value = (String, Option<(String, String)>)> {
    let key = "[A-E]";
    prop_oneof![
        Just((String::new(), None)),
        "# [a-z =]{0,10}".prop_map(|c| (c, None)),
        key.prop_map(|k| (format!("#{k}=old"), None)),
        (key, arb_value(), any::<bool>(), any::<bool>()).prop_map(
            |(k, (raw, val), export, comment)| {
                let line = format!(
                    "{}{k}={raw}{}",
                    if export { "export " } else { "" },
                    if comment { " # note" } else { "" }
                );
                (line, Some((k.to_string(), val)))
            }
        ),
    ]
}

fn sh_values(file: &std::path::Path, keys: &[&str]) -> Vec<String> {
    let mut script = format!(". '{}'", file.display());
    for k in keys {
        script.push_str(&format!("; printf '%s\\0' \"${{{k}-<unset>}}\""));
    }
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "sh failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|_| true)
        .map(String::from)
        .take(keys.len())
        .collect()
}

#[test]
fn defaults_parser_round_trips_and_agrees_with_sh() {
    let dir = common::scratch("prop-parse");
    let n = AtomicUsize::new(0);
    runner(120)
        .run(&proptest::collection::vec(arb_line(), 0..8), |lines| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let text: String = lines.iter().map(|(l, _)| format!("{l}\n")).collect();
            let parsed = defaults_file::parse(&text)
                .map_err(|e| TestCaseError::fail(format!("{e:?} in {text:?}")))?;
            prop_assert_eq!(parsed.render(), text.clone());
            let file = dir.join(format!("f{i}"));
            std::fs::write(&file, &text).unwrap();
            let keys = ["A", "B", "C", "D", "E"];
            let sh = sh_values(&file, &keys);
            let eff = parsed.effective();
            for (k, got) in keys.iter().zip(sh) {
                let want = eff
                    .get(*k)
                    .map(|a| a.value.clone().unwrap())
                    .unwrap_or_else(|| "<unset>".into());
                prop_assert_eq!(&got, &want, "key {} in {:?}", k, text);
            }
            Ok(())
        })
        .unwrap();
    println!("defaults-file parser: {} cases", n.load(Ordering::Relaxed));
}

#[test]
fn merged_file_sourced_by_sh_means_what_the_report_says() {
    let dir = common::scratch("prop-merge");
    let n = AtomicUsize::new(0);
    let files = (
        proptest::collection::vec(arb_line(), 0..7),
        proptest::collection::vec(arb_line(), 0..7),
    );
    runner(60)
        .run(&files, |(src, dest)| {
            let i = n.fetch_add(1, Ordering::Relaxed);
            let src_text: String = src.iter().map(|(l, _)| format!("{l}\n")).collect();
            let dest_text: String = dest.iter().map(|(l, _)| format!("{l}\n")).collect();
            let (s, d) = (dir.join(format!("src{i}")), dir.join(format!("dest{i}")));
            std::fs::write(&s, &src_text).unwrap();
            std::fs::write(&d, &dest_text).unwrap();
            let (v, rc) = common::run_module(
                "lk_defaults_merge",
                json!({"src": s, "dest": d, "backup": false}),
            );
            prop_assert_eq!(rc, 0, "{}", v);
            let keys = ["A", "B", "C", "D", "E"];
            let merged = sh_values(&d, &keys);
            let src_vals = sh_values(&s, &keys);
            let dest_vals = sh_values_text(&dir.join(format!("orig{i}")), &dest_text, &keys);
            for (idx, k) in keys.iter().enumerate() {
                let expected = match v["carried"].get(*k) {
                    Some(c) => c.as_str().unwrap().to_string(),
                    None => dest_vals[idx].clone(),
                };
                prop_assert_eq!(
                    &merged[idx],
                    &expected,
                    "key {}: src {:?} dest {:?} report {}",
                    k,
                    src_text,
                    dest_text,
                    v
                );
                // Every key the site set in src ends up with the site's value (no base, no drop).
                if src_vals[idx] != "<unset>" {
                    prop_assert_eq!(&merged[idx], &src_vals[idx]);
                }
            }
            let (again, _) = common::run_module(
                "lk_defaults_merge",
                json!({"src": s, "dest": d, "backup": false}),
            );
            prop_assert_eq!(
                &again["changed"],
                &json!(false),
                "second run changed: {}",
                again
            );
            Ok(())
        })
        .unwrap();
    println!(
        "defaults merge invariant: {} cases",
        n.load(Ordering::Relaxed)
    );
}

fn sh_values_text(path: &std::path::Path, text: &str, keys: &[&str]) -> Vec<String> {
    std::fs::write(path, text).unwrap();
    sh_values(path, keys)
}

#[test]
fn version_order_matches_parsing_and_paths_are_consistent() {
    let n = AtomicUsize::new(0);
    let v = (0u32..12, 0u32..12, 0u32..5).prop_map(|(a, b, c)| Version::new(a, b, c));
    runner(2000)
        .run(
            &(v.clone(), v.clone(), proptest::collection::vec(v, 0..3)),
            |(a, b, steps)| {
                n.fetch_add(1, Ordering::Relaxed);
                prop_assert_eq!(Version::parse(&a.to_string()).unwrap(), a);
                prop_assert_eq!(
                    a.cmp(&b),
                    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch))
                );
                let (path, step) = upgrade_path(Some(&a), &b, &steps);
                match path {
                    UpPath::None => prop_assert_eq!(a, b),
                    UpPath::Direct => prop_assert!(a < b),
                    UpPath::Stepwise => {
                        let s = step.unwrap();
                        prop_assert!(a < s && s < b && steps.contains(&s));
                    }
                    UpPath::Reinstall => prop_assert!(a < b),
                    UpPath::Unsupported => prop_assert!(a > b),
                }
                Ok(())
            },
        )
        .unwrap();
    println!("version ordering: {} cases", n.load(Ordering::Relaxed));
}

//! The ansible-doc sidecars in modules/ are generated from each module's one declaration
//! (`lk_x --doc`); a committed file that drifted from the code fails here.

use crate::common;

use std::process::Command;

#[test]
fn committed_sidecars_match_the_declarations() {
    for m in common::ALL_MODULES {
        let out = Command::new(common::bin(m)).arg("--doc").output().unwrap();
        assert!(out.status.success(), "{m} --doc failed");
        let generated = String::from_utf8(out.stdout).unwrap();
        let path = common::repo().join(format!("modules/{m}.yml"));
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is not committed: run `make docs`", path.display()));
        assert_eq!(
            generated,
            committed,
            "{} drifted from the declaration: run `make docs`",
            path.display()
        );
    }
}

#[test]
fn help_lists_every_declared_parameter() {
    for m in common::ALL_MODULES {
        let out = Command::new(common::bin(m)).arg("--help").output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        let doc = String::from_utf8(
            Command::new(common::bin(m))
                .arg("--doc")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        // Every option in the sidecar appears in --help: both come from the same table.
        let options: Vec<&str> = doc
            .split("\n  options:\n")
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| l.starts_with("    "))
            .filter(|l| l.starts_with("    ") && !l.starts_with("     ") && l.ends_with(':'))
            .map(|l| l.trim().trim_end_matches(':'))
            .collect();
        assert!(!options.is_empty(), "{m}");
        for o in options {
            assert!(help.contains(&format!("\n  {o} (")), "{m} --help lacks {o}");
        }
    }
}

/// Issue 21: the shared option names mean the same in every module that has them (one
/// module_defaults group setting is right for all): the same type and default, and the old
/// names of two of them kept as aliases. Read from each module's --help (its one declaration).
#[test]
fn shared_option_names_have_one_type_and_default_in_every_module_and_old_names_are_aliases() {
    let want = [
        ("lkroot", "(path, default \"/opt/LifeKeeper\""),
        (
            "defaults_file",
            "(path, default \"/etc/default/LifeKeeper\"",
        ),
        ("backup_dir", "(path"),
        ("timeout", "(int"),
    ];
    let mut seen = std::collections::BTreeMap::<&str, Vec<&str>>::new();
    for m in common::ALL_MODULES {
        let out = Command::new(common::bin(m)).arg("--help").output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        for (name, head) in want {
            let prefix = format!("  {name} (");
            let Some(line) = help.lines().find(|l| l.starts_with(&prefix)) else {
                continue;
            };
            assert!(
                line[name.len() + 3..].starts_with(head),
                "{m}: {line:?} is not {name} {head}..."
            );
            seen.entry(name).or_default().push(m);
        }
        // `dest` is no longer the name of the backup directory or of the defaults file.
        if m == "lk_backup" || m == "lk_defaults_merge" {
            let canonical = if m == "lk_backup" {
                "backup_dir"
            } else {
                "defaults_file"
            };
            let line = help
                .lines()
                .find(|l| l.starts_with(&format!("  {canonical} (")))
                .unwrap_or_else(|| panic!("{m} has no {canonical}"));
            assert!(line.contains("alias dest"), "{m}: {line}");
            assert!(!help.lines().any(|l| l.starts_with("  dest (")), "{m}");
        }
    }
    let mut with_backup_dir = seen["backup_dir"].clone();
    with_backup_dir.sort();
    assert_eq!(
        with_backup_dir,
        // lk_info reads lk_upgrade's journals there (issue 28 O2).
        ["lk_backup", "lk_info", "lk_preflight", "lk_upgrade"],
        "{seen:?}"
    );
    assert!(
        seen["defaults_file"].contains(&"lk_defaults_merge"),
        "{seen:?}"
    );
}

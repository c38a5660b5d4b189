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

//! Issue 27, docs that cannot drift: every module the Makefile ships (`MODULES :=`) and every
//! playbook in playbooks/ is named in the collection README, the collection changelog and docs/;
//! the README's table of shared options names exactly the modules whose declaration has the
//! option (it once said lk_defaults_merge has no lkroot); the words about the binaries and the
//! node requirements are the true ones (dynamically linked against glibc 2.17, not static;
//! backups copied with raw by default, no Python).

use crate::common;

use std::process::Command;

fn read(rel: &str) -> String {
    std::fs::read_to_string(common::repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The modules the collection ships: the Makefile's `MODULES :=`, the one list build.sh gets.
fn shipped_modules() -> Vec<String> {
    read("Makefile")
        .lines()
        .find_map(|l| l.strip_prefix("MODULES :="))
        .expect("MODULES := in the Makefile")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Every playbook that ships (build.sh copies playbooks/*.yml), by name without `.yml`.
fn shipped_playbooks() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(common::repo().join("playbooks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every Markdown file under docs/, concatenated.
fn docs_dir() -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(common::repo().join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "md") {
            all.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    all
}

#[test]
fn every_shipped_module_and_playbook_is_in_the_collection_readme_changelog_and_docs() {
    let readme = read("collection/README.md");
    let changelog = read("collection/changelogs/changelog.yaml");
    let rst = read("collection/CHANGELOG.rst");
    let docs = docs_dir();
    let modules = shipped_modules();
    assert_eq!(modules.len(), common::ALL_MODULES.len(), "{modules:?}");
    for m in &modules {
        assert!(
            readme.contains(&format!("| `lkops.lifekeeper.{m}` |")),
            "collection/README.md: no row for the module {m} in its module table"
        );
        assert!(
            changelog.contains(&format!("        name: {m}\n")),
            "collection/changelogs/changelog.yaml: the module {m} is in no release"
        );
        assert!(
            rst.contains(&format!("- lkops.lifekeeper.{m} - ")),
            "collection/CHANGELOG.rst lacks {m}: run antsibull-changelog generate in collection/"
        );
        // docs/distribution.md sizes every binary `make dist` builds.
        assert!(
            docs.lines()
                .any(|l| l.starts_with(&format!("| {m} | ")) && l.contains("GLIBC_2.17")),
            "docs/: no size row for {m} (`| {m} | bytes | MiB | GLIBC_2.17 |`)"
        );
    }
    let playbooks = shipped_playbooks();
    assert!(playbooks.len() >= 9, "{playbooks:?}");
    for p in &playbooks {
        assert!(
            readme.contains(&format!("| `lkops.lifekeeper.{p}` |")),
            "collection/README.md: no row for the playbook {p}"
        );
        assert!(
            changelog.contains(&format!("          name: {p}\n")),
            "collection/changelogs/changelog.yaml: the playbook {p} is in no release"
        );
        assert!(
            rst.contains(&format!("- lkops.lifekeeper.{p} - ")),
            "collection/CHANGELOG.rst lacks the playbook {p}: run antsibull-changelog generate"
        );
        assert!(
            docs.contains(&format!("`{p}.yml`"))
                || docs.contains(&format!("lkops.lifekeeper.{p}`")),
            "docs/ never names the playbook {p}"
        );
    }
}

/// The README's shared-options table lists, per option, exactly the modules whose declaration
/// (`lk_x --help`) has it.
#[test]
fn readme_shared_option_table_names_exactly_the_modules_that_have_each_option() {
    let readme = read("collection/README.md");
    let helps: Vec<(String, String)> = common::ALL_MODULES
        .iter()
        .map(|m| {
            let out = Command::new(common::bin(m)).arg("--help").output().unwrap();
            (m.to_string(), String::from_utf8(out.stdout).unwrap())
        })
        .collect();
    let mut rows = 0;
    for opt in ["lkroot", "timeout", "backup_dir", "defaults_file"] {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{opt}` |")))
            .unwrap_or_else(|| panic!("collection/README.md: no shared-option row for {opt}"));
        let listed: Vec<&str> = row
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap()
            .split(',')
            .map(str::trim)
            .collect();
        let mut has: Vec<&str> = helps
            .iter()
            .filter(|(_, h)| h.contains(&format!("\n  {opt} (")))
            .map(|(m, _)| m.as_str())
            .collect();
        has.sort();
        let mut listed_sorted = listed.clone();
        listed_sorted.sort();
        assert_eq!(
            listed_sorted, has,
            "collection/README.md, the row of {opt}: {row}"
        );
        rows += 1;
    }
    assert_eq!(rows, 4);
    assert!(
        !readme.contains("has no\n`lkroot`") && !readme.contains("has no `lkroot`"),
        "the README says a module lacks lkroot; every module has it"
    );
}

/// The binaries are dynamically linked (against glibc, symbol versions up to 2.17: see
/// tests/delivery/dist.rs and the collection test, which run `file` on them): nothing the
/// collection says may call them static. And the backups' copy to the controller needs no
/// Python by default (lk_fetch_method: raw), which the README must say.
#[test]
fn collection_words_match_the_binaries_and_the_defaults() {
    for f in [
        "collection/README.md",
        "collection/galaxy.yml",
        "collection/changelogs/changelog.yaml",
        "collection/CHANGELOG.rst",
        "collection/meta/execution-environment.yml",
    ] {
        let text = read(f).to_lowercase();
        assert!(
            !text.contains("static binar")
                && !text.contains("static rust")
                && !text.contains("statically"),
            "{f} calls the binaries static; they are dynamically linked against glibc 2.17"
        );
    }
    let readme = read("collection/README.md");
    assert!(
        readme.contains("dynamically linked"),
        "README: say how the binaries are linked"
    );
    let defaults = read("playbooks/roles/lk/defaults/main.yml");
    assert!(
        defaults.contains("\nlk_fetch_method: raw\n"),
        "the backup copy's default changed"
    );
    assert!(
        readme.contains("`ansible.builtin.raw` by default (`lk_fetch_method: raw`"),
        "README: the backups are copied with raw by default, no Python"
    );
}

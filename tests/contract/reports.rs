//! Report snapshots (issue 26: templates only render): every report the playbooks write, in
//! English and in Japanese (`lk_report_lang: ja`), and of a dry run (check mode), rendered by the real role tasks
//! (tasks/report.yml, tasks/summary.yml with lk_plan's summary) and rehearse.yml's templates from
//! fixed inputs (tests/fixtures/reports/: the host variables as an inventory, a cluster's
//! events.jsonl, a rehearsal's data, and a rehearsal's runs through lk_plan's rehearsal mode),
//! compared byte for byte with the snapshots committed in
//! tests/fixtures/reports/snapshots/. Also pinned: what set_stats publishes (`lkops_readiness`,
//! `lkops_backups`, `lkops_summary`, `lkops_pauses`).
//!
//! One ansible-playbook run (the venv's, tests/ansible/reports.yml, local connection), lk_plan
//! from this build (ANSIBLE_LIBRARY). What differs from run to run is masked: the scratch
//! directory (`<DIR>`) and the run report's "generated" time (`<generated>`).
//!
//! A report changed on purpose: `LKOPS_UPDATE_SNAPSHOTS=1 cargo test --test contract reports::`
//! rewrites the snapshots; review their diff before committing it.

use crate::common::{ansible, bin, fixture, repo, scratch};
use std::path::Path;

const LANGS: [&str; 2] = ["en", "ja"];
const CLUSTERS: [&str; 3] = ["alpha", "beta", "gamma"];

/// `text` with the scratch dir as `<DIR>` and each time right after "generated: " (en) or
/// "作成: " (ja) as `<generated>`.
fn mask(text: &str, dir: &Path) -> String {
    let mut t = text.replace(&dir.display().to_string(), "<DIR>");
    for label in ["generated: ", "作成: "] {
        let mut out = String::new();
        let mut rest = t.as_str();
        while let Some(i) = rest.find(label) {
            let (head, tail) = rest.split_at(i + label.len());
            out.push_str(head);
            let ts: String = tail.chars().take(20).collect();
            let is_time = ts.len() == 20
                && ts.ends_with('Z')
                && ts.as_bytes()[10] == b'T'
                && ts.chars().filter(|c| c.is_ascii_digit()).count() == 14;
            if is_time {
                out.push_str("<generated>");
                rest = &tail[20..];
            } else {
                rest = tail;
            }
        }
        out.push_str(rest);
        t = out;
    }
    t
}

/// Renders every report into a scratch dir: (snapshot name, masked content), in a fixed order.
fn render() -> Vec<(String, String)> {
    let dir = scratch("report-snapshots");
    let lib = dir.join("library");
    std::fs::create_dir_all(&lib).unwrap();
    std::os::unix::fs::symlink(bin("lk_plan"), lib.join("lk_plan")).unwrap();
    for lang in ["en", "ja", "check"] {
        let d = dir.join(lang).join("alpha");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(
            fixture("reports/events.alpha.jsonl"),
            d.join("events.jsonl"),
        )
        .unwrap();
    }
    let inventory = fixture("reports/inventory.json");
    let playbook = repo().join("tests/ansible/reports.yml");
    let extra = format!("lk_snap_dir={}", dir.display());
    let run = |more: &[&str]| {
        let mut args = vec![
            "-i",
            inventory.to_str().unwrap(),
            playbook.to_str().unwrap(),
            "-e",
            &extra,
        ];
        args.extend_from_slice(more);
        let out = ansible::ansible_playbook(
            &args,
            &[
                ("ANSIBLE_LIBRARY", lib.to_str().unwrap()),
                ("ANSIBLE_STDOUT_CALLBACK", "ansible.posix.json"),
                ("ANSIBLE_SHOW_CUSTOM_STATS", "true"),
                ("ANSIBLE_JSON_INDENT", "0"),
            ],
        );
        assert!(out.status.success(), "{}", ansible::text(&out));
        out
    };
    // The dry run first (its set_stats are not pinned), then the run.
    run(&["--check", "--tags", "dry_run"]);
    let out = run(&[]);
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let read = |p: &Path| {
        mask(
            &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            &dir,
        )
    };
    let mut files = vec![];
    for lang in LANGS {
        let d = dir.join(lang);
        for f in ["readiness.md", "readiness.html", "summary.json"] {
            files.push((format!("{lang}/{f}"), read(&d.join(f))));
        }
        for c in CLUSTERS {
            for f in ["run.md", "run.html"] {
                files.push((format!("{lang}/{c}/{f}"), read(&d.join(c).join(f))));
            }
            // This run's summary of the cluster: summary-<UTC time>.json, one.
            let own: Vec<_> = std::fs::read_dir(d.join(c))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy();
                    n.starts_with("summary-") && n.ends_with(".json")
                })
                .collect();
            assert_eq!(own.len(), 1, "{own:?}");
            files.push((format!("{lang}/{c}/summary-TIME.json"), read(&own[0])));
        }
    }
    // A dry run (check mode): the run reports say PLAN; summary.json predicts.
    let d = dir.join("check");
    files.push((
        "check/summary.json".to_string(),
        read(&d.join("summary.json")),
    ));
    for c in CLUSTERS {
        for f in ["run.md", "run.html"] {
            files.push((format!("check/{c}/{f}"), read(&d.join(c).join(f))));
        }
    }
    for f in [
        "rehearsal.md",
        "rehearsal.html",
        "rehearsal-runs.json",
        "rehearsal-runs.md",
        "rehearsal-runs.html",
    ] {
        files.push((f.to_string(), read(&dir.join(f))));
    }
    let stats = &result["global_custom_stats"];
    let keys = [
        "lkops_backups",
        "lkops_pauses",
        "lkops_readiness",
        "lkops_summary",
    ];
    let got: Vec<&str> = stats
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(got, keys, "set_stats keys");
    files.push((
        "set_stats.json".to_string(),
        mask(&(serde_json::to_string_pretty(stats).unwrap() + "\n"), &dir),
    ));
    files
}

/// Every report, byte for byte as committed (tests/fixtures/reports/snapshots/).
#[test]
fn reports_match_their_snapshots_in_english_and_japanese() {
    let snaps = fixture("reports/snapshots");
    let update = std::env::var_os("LKOPS_UPDATE_SNAPSHOTS").is_some();
    let mut differ = vec![];
    for (name, got) in render() {
        let path = snaps.join(&name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != got {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(got.lines().count()));
            differ.push(format!(
                "{name}: differs from line {}\n  snapshot: {:?}\n  rendered: {:?}",
                line + 1,
                want.lines().nth(line).unwrap_or("<end>"),
                got.lines().nth(line).unwrap_or("<end>"),
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "reports differ from tests/fixtures/reports/snapshots/ (LKOPS_UPDATE_SNAPSHOTS=1 to \
         rewrite them after review):\n{}",
        differ.join("\n")
    );
}

#[test]
fn mask_replaces_the_scratch_dir_and_the_generated_time_only() {
    let dir = Path::new("/t/x");
    assert_eq!(
        mask(
            "- generated: 2026-12-07T17:47:26Z; log: /t/x/a (created 2026-12-07T14:48:37Z)\n作成: 2026-12-07T17:47:26Z;",
            dir
        ),
        "- generated: <generated>; log: <DIR>/a (created 2026-12-07T14:48:37Z)\n作成: <generated>;"
    );
    assert_eq!(mask("generated: soon", dir), "generated: soon");
}

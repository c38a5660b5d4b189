//! Issue 28 through the real ansible-playbook: a capture's data is never templated on the
//! controller (S1), and an inventory's lk_cluster is never a path (W6). Each test is named after
//! the defect it guards.

use crate::common::{self, ansible};

use ansible::{ansible_playbook, repo, text};
use common::{bin, scratch};
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// S1: rehearse.yml copied every key of a capture's vars.json into the twin's inventory, and
/// Ansible templates inventory values: a Jinja lookup there ran a command on the controller. Now
/// the rehearsal is refused at `lksim twin create`, before any run, and nothing runs.
#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn s1_capture_vars_with_a_jinja_lookup_run_nothing_on_the_controller() {
    let dir = scratch("s1-rehearse");
    let capture = dir.join("erp");
    copy_dir(
        &repo().join("tests/fixtures/captures/lksim-2node-9.4.0"),
        &capture,
    );
    let marker = dir.join("s1-lookup-ran");
    std::fs::write(
        capture.join("vars.json"),
        serde_json::json!({"lk_required_packages": [
            "bash",
            format!("{{{{ lookup('ansible.builtin.pipe', 'touch {}') }}}}", marker.display())
        ]})
        .to_string(),
    )
    .unwrap();
    let rehearsal = dir.join("rehearsal");
    let out = ansible_playbook(
        &[
            "playbooks/rehearse.yml",
            "-e",
            &format!("lk_capture={}", capture.display()),
            "-e",
            &format!("lk_rehearsal_dir={}", rehearsal.display()),
            "-e",
            &format!("lk_lksim={}", bin("lksim").display()),
        ],
        &[],
    );
    let log = text(&out);
    assert!(
        !marker.exists(),
        "the capture's lookup ran on the controller:\n{log}"
    );
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("capture data is never templated"),
        "the refusal says why:\n{log}"
    );
    assert!(
        !rehearsal.join("logs/real.json").exists(),
        "no run against the twin"
    );
}

/// W6: lk_cluster was used as a path component unchecked: `lk_cluster: "../../../x"` wrote
/// report files outside lk_report_dir (and captures outside lk_capture_dir). Every playbook now
/// refuses such a name before any node is touched.
#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn w6_an_lk_cluster_that_is_a_path_is_refused_before_anything_runs() {
    let dir = scratch("w6-cluster");
    let inv = dir.join("inventory.yml");
    let out_dir = dir.join("out");
    let spec = serde_json::json!({
        "sim_dir": dir.join("sim"), "lksim": bin("lksim"), "sim_inventory": inv,
        "sim_clusters": [{"name": "alpha", "nodes": ["node-a", "node-b"]}],
        "sim_vars": {"lk_output_dir": out_dir, "lk_verify_delay": 1}
    });
    let spec_file = dir.join("spec.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let o = ansible_playbook(
        &[
            "tests/ansible/simulate.yml",
            "-e",
            &format!("@{}", spec_file.display()),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let before = common::tree_hash(&dir.join("sim"));
    // lk_output_dir/report/../../../<escape> is beside this test's scratch dir.
    let escape = format!("w6-escape-{}", std::process::id());
    let outside = dir.parent().unwrap().join(&escape);
    let cluster = format!("lk_cluster=../../../{escape}");
    let node_dir = format!("lk_capture_node_dir={}", dir.join("nodecap").display());
    for args in [
        vec!["playbooks/rolling_upgrade.yml", "-e", cluster.as_str()],
        vec![
            "playbooks/capture.yml",
            "-e",
            cluster.as_str(),
            "-e",
            node_dir.as_str(),
        ],
    ] {
        let mut a = vec!["-i", inv.to_str().unwrap()];
        a.extend(args.iter().copied());
        let o = ansible_playbook(&a, &[]);
        let log = text(&o);
        assert!(!o.status.success(), "{args:?} must fail:\n{log}");
        assert!(
            log.contains("a cluster name becomes a folder"),
            "{args:?}: the refusal names lk_cluster:\n{log}"
        );
        assert!(!outside.exists(), "{args:?} wrote {}", outside.display());
        assert_eq!(
            common::tree_hash(&dir.join("sim")),
            before,
            "{args:?} touched a node"
        );
        assert!(
            !out_dir.join("report/summary.json").exists(),
            "{args:?} got as far as the summary"
        );
    }
}

//! Real `ansible-playbook` runs (ansible-core from the project's .venv) against the modules in
//! modules/ (built by `make build`). Ignored by a plain `cargo test`; `make test` runs them with
//! `--include-ignored` after creating the venv and building the modules.

use crate::common::{self, ansible};

use ansible::{ansible_playbook, repo, venv};
use std::process::{Command, Output};

fn recap(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .rfind(|l| l.starts_with("localhost"))
        .unwrap_or_default()
        .to_string()
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn defaults_merge_reports_changed_then_ok_and_check_diff_touches_nothing() {
    let work = common::scratch("ansible-dm");
    std::fs::write(
        work.join("old"),
        "REMOTETIMEOUT=900\nLCMHBEATTIME=7\nOBSOLETE=1\n",
    )
    .unwrap();
    let new = "REMOTETIMEOUT=1200\n#LCMHBEATTIME=5\n";
    std::fs::write(work.join("LifeKeeper"), new).unwrap();
    let vars = format!("work={}", work.display());
    let pb = "tests/ansible/defaults_merge.yml";
    let base = ["-i", "localhost,", "-c", "local", "-e", &vars, pb];

    let check = ansible_playbook(&[&["--check", "--diff"][..], &base[..]].concat(), &[]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        stdout.contains("-REMOTETIMEOUT=1200\n+REMOTETIMEOUT=900"),
        "diff shown in check mode:\n{stdout}"
    );
    assert!(recap(&check).contains("changed=1"), "{}", recap(&check));
    assert_eq!(
        std::fs::read_to_string(work.join("LifeKeeper")).unwrap(),
        new,
        "--check touched the file"
    );

    let first = ansible_playbook(&base, &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    assert!(recap(&first).contains("changed=1"), "{}", recap(&first));
    let second = ansible_playbook(&base, &[]);
    assert!(recap(&second).contains("changed=0"), "{}", recap(&second));
    assert!(recap(&second).contains("failed=0"), "{}", recap(&second));
}

#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn ansible_doc_shows_every_module_from_its_sidecar() {
    let venv = venv();
    for m in [
        "lk_defaults_merge",
        "lk_backup",
        "lk_preflight",
        "lk_resource",
        "lk_upgrade",
    ] {
        let out = Command::new(venv.join("bin/ansible-doc"))
            .current_dir(repo())
            .args(["-M", "modules", m])
            .env("ANSIBLE_NOCOLOR", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{m}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(&format!("MODULE {m}")), "{m}: {text}");
        assert!(
            text.contains("ATTRIBUTES") && text.contains("check_mode"),
            "{m}: {text}"
        );
    }
}

/// Issue 21: the role `lk` is private to the lkops playbooks. Applied by a playbook of someone
/// else it refuses, naming the playbooks to run; the same play with `lk_role_caller` (what
/// restore.yml, support.yml and switchover.yml set) gets its defaults.
#[test]
#[ignore = "needs the .venv and modules/ built: run by `make test`"]
fn the_role_applied_on_its_own_refuses_naming_the_playbooks() {
    let work = common::scratch("ansible-role-private");
    let pb = work.join("mine.yml");
    let play = |vars: &str| {
        format!(
            "- name: Apply the role\n  hosts: localhost\n  gather_facts: false\n  roles:\n    - role: lk\n{vars}  tasks:\n    - name: Show a default\n      ansible.builtin.debug:\n        msg: \"target {{{{ lk_target_version }}}}\"\n"
        )
    };
    std::fs::write(&pb, play("")).unwrap();
    let out = ansible_playbook(&[pb.to_str().unwrap()], &[]);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("is private to the lkops playbooks")
            && log.contains("Run a playbook instead: rolling_upgrade"),
        "{log}"
    );
    assert!(!log.contains("target 9.6.1"), "{log}");

    std::fs::write(&pb, play("      vars:\n        lk_role_caller: mine.yml\n")).unwrap();
    let out = ansible_playbook(&[pb.to_str().unwrap()], &[]);
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{log}");
    assert!(log.contains("target 9.6.1"), "{log}");
}

//! Real `ansible-playbook` runs for the delivery tests (tests/delivery: playbooks, ansible_playbooks).
//! ansible-core comes from the project's .venv (or $LKOPS_VENV); the modules from modules/
//! (built by `make build`); the repository's ansible.cfg (library = modules, roles_path).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use super::repo;

/// The controller's venv: $LKOPS_VENV, else the project's .venv (`make venv`).
pub fn venv() -> PathBuf {
    std::env::var("LKOPS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join(".venv"))
}

/// A tool from the venv's bin/, asserting it is there.
pub fn venv_bin(tool: &str) -> PathBuf {
    let p = venv().join("bin").join(tool);
    assert!(
        p.exists(),
        "{} missing: run `make test` (it creates the venv)",
        p.display()
    );
    p
}

/// Run ansible-playbook from the venv with the repository's ansible.cfg.
pub fn ansible_playbook(args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    ansible_playbook_cmd(args, extra_env).output().unwrap()
}

/// The ansible-playbook command `ansible_playbook` runs, for a test that spawns it (and kills it).
pub fn ansible_playbook_cmd(args: &[&str], extra_env: &[(&str, &str)]) -> Command {
    let exe = venv_bin("ansible-playbook");
    for m in super::MODULES {
        assert!(
            repo().join("modules").join(m).exists(),
            "modules/{m} missing: run `make build`"
        );
    }
    let scratch = super::bin_dir().join("scratch");
    let path = format!(
        "{}:{}",
        venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new(exe);
    c.current_dir(repo())
        .args(args)
        .env("PATH", path)
        .env("ANSIBLE_CONFIG", repo().join("ansible.cfg"))
        .env("ANSIBLE_LOCAL_TEMP", scratch.join("ansible-local"))
        .env("ANSIBLE_REMOTE_TEMP", scratch.join("ansible-remote"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0");
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c
}

/// stdout + stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// PLAY RECAP counters per host: host -> {"ok": n, "changed": n, "failed": n, ...}.
pub fn recap(out: &Output) -> BTreeMap<String, BTreeMap<String, u64>> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut map = BTreeMap::new();
    let Some(start) = stdout.find("PLAY RECAP") else {
        return map;
    };
    for line in stdout[start..].lines().skip(1) {
        let Some((host, counters)) = line.split_once(" : ") else {
            continue;
        };
        let c: BTreeMap<String, u64> = counters
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(0)))
            .collect();
        map.insert(host.trim().to_string(), c);
    }
    map
}

/// Sum of one recap counter over every host.
pub fn recap_total(out: &Output, key: &str) -> u64 {
    recap(out)
        .values()
        .map(|c| c.get(key).copied().unwrap_or(0))
        .sum()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

//! Delivery tests: the product the way a user gets it — real ansible-playbook runs of the
//! modules and playbooks, the Ansible collection tarball, the portable dist binaries, Salt.
//! One test binary (`cargo test --test delivery`); most tests need the venvs and artifacts
//! `make test` prepares (`make deps venv build dist collection salt-venv`) and are #[ignore]d
//! by a plain `cargo test`. Shared helpers: tests/common/.

#[path = "../common/mod.rs"]
mod common;

mod ansible_playbooks;
mod collection;
mod datakeeper_playbooks;
mod dist;
mod issue28_sec;
mod playbooks;
mod rehearse;
mod salt;
mod salt_formula;
mod window;

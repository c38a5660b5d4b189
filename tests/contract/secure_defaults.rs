//! Issue 27, secure defaults: the README tells admins to run the playbooks from the repository,
//! whose ansible.cfg used to set `host_key_checking = false` for real clusters too. No
//! ansible.cfg in the repository turns it off; the simulated inventories need no such setting
//! (their hosts use the local connection).

use crate::common;

#[test]
fn no_repository_ansible_cfg_disables_host_key_checking() {
    let mut checked = 0;
    for rel in ["ansible.cfg", "molecule/ansible.cfg", "demo/ansible.cfg"] {
        let Ok(text) = std::fs::read_to_string(common::repo().join(rel)) else {
            continue;
        };
        checked += 1;
        for line in text.lines() {
            let l = line
                .split(['#', ';'])
                .next()
                .unwrap()
                .replace(' ', "")
                .to_lowercase();
            assert!(
                !(l.starts_with("host_key_checking=")
                    && ["false", "no", "0", "off"].contains(&&l["host_key_checking=".len()..])),
                "{rel} disables host key checking: {line}"
            );
        }
    }
    assert!(checked >= 1, "no ansible.cfg read");
    // The simulator's inventories reach their nodes without ssh.
    let twin = std::fs::read_to_string(common::repo().join("lksim/src/twin.rs")).unwrap();
    assert!(twin.contains("\"ansible_connection\": \"local\""));
}

//! Issue 27, a CLI for people: `lk_x --check --diff key=value ...` at a terminal prints a
//! unified diff and one line saying what happened (so does `--human` anywhere); runners (a pipe,
//! Ansible's args file, JSON on stdin) keep getting exactly one JSON object.

use crate::common;

use std::io::Read;
use std::process::{Command, Stdio};

const NEW: &str = "REMOTETIMEOUT=1200\n#LCMHBEATTIME=5\n";

fn files(name: &str) -> (String, String) {
    let dir = common::scratch(name);
    std::fs::write(dir.join("old"), "REMOTETIMEOUT=900\nLCMHBEATTIME=7\n").unwrap();
    std::fs::write(dir.join("LifeKeeper"), NEW).unwrap();
    (
        format!("src={}", dir.join("old").display()),
        format!("defaults_file={}", dir.join("LifeKeeper").display()),
    )
}

/// The outcome line (warnings, if any, come before it).
fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or("")
}

#[test]
fn check_diff_on_a_terminal_prints_a_unified_diff_and_one_outcome_line() {
    let (src, dest) = files("human-cli-tty");
    let (mut master, slave) = common::pty();
    let mut child = Command::new(common::bin("lk_defaults_merge"))
        .args(["--check", "--diff", &src, &dest])
        .stdin(Stdio::null())
        .stdout(slave)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    let mut raw = Vec::new();
    // Once the child has exited and our copy of the slave is gone, reading the master ends with
    // EIO: everything written is in `raw` by then.
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let shown = String::from_utf8(raw).unwrap().replace('\r', "");
    assert!(status.success(), "{shown}");
    let dest_path = dest.trim_start_matches("defaults_file=");
    assert!(
        shown.starts_with(&format!(
            "--- {dest_path} (before)\n+++ {dest_path} (after)\n@@ "
        )),
        "{shown}"
    );
    assert!(
        shown.contains("\n-REMOTETIMEOUT=1200\n+REMOTETIMEOUT=900\n"),
        "{shown}"
    );
    assert!(last_line(&shown).starts_with("would change: "), "{shown}");
    assert!(
        !shown.contains("\"changed\""),
        "JSON at a terminal with --diff: {shown}"
    );
    assert_eq!(
        std::fs::read_to_string(dest_path).unwrap(),
        NEW,
        "--check changed the file"
    );
}

#[test]
fn human_flag_reads_plainly_without_a_terminal_and_runners_keep_json() {
    let (src, dest) = files("human-cli-flag");
    let out = Command::new(common::bin("lk_defaults_merge"))
        .args(["--check", "--diff", "--human", &src, &dest])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("+REMOTETIMEOUT=900\n"), "{text}");
    assert!(last_line(&text).starts_with("would change: "), "{text}");

    // A pipe without --human: the one JSON object, diff as data.
    let out = Command::new(common::bin("lk_defaults_merge"))
        .args(["--check", "--diff", &src, &dest])
        .output()
        .unwrap();
    let (v, rc) = common::parse_output(&out);
    assert_eq!(rc, 0);
    assert_eq!(v["changed"], true);
    assert!(
        v["diff"]["after"]
            .as_str()
            .unwrap()
            .contains("REMOTETIMEOUT=900"),
        "{v}"
    );

    // A failure reads as one FAILED line and still exits 1.
    let out = Command::new(common::bin("lk_defaults_merge"))
        .args(["--human", "src=relative/path", &dest])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("FAILED: ") && text.lines().count() == 1,
        "{text}"
    );

    // The real run, then the rerun: changed, then ok.
    let out = Command::new(common::bin("lk_defaults_merge"))
        .args(["--human", &src, &dest])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(last_line(&text).starts_with("changed: "), "{text}");
    let out = Command::new(common::bin("lk_defaults_merge"))
        .args(["--human", &src, &dest])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("ok: "), "{text}");
}

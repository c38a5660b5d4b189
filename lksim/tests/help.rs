//! `lksim --help` lists every command the front end (src/front.rs) dispatches: a command added
//! there without a help line fails here.

use std::process::Command;

#[test]
fn help_lists_every_front_end_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_lksim"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "lksim --help exited {:?}", out.status);
    let help = String::from_utf8(out.stdout).unwrap();
    let front =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/front.rs")).unwrap();
    let body = &front[front.find("pub fn main(").unwrap()..];
    let body = &body[..body.find("\n}\n").unwrap()];
    let mut seen = 0;
    // `["cluster", "create", ..] =>`, `["node", op @ ("down" | "up"), ..] =>`, `["state", ..] =>`
    for arm in body.lines().map(str::trim).filter(|l| l.starts_with("[\"")) {
        let pattern = &arm[1..arm.find(']').unwrap()];
        let words: Vec<String> = pattern
            .split(", ")
            .take_while(|w| w.starts_with('"'))
            .map(|w| w.trim_matches('"').to_string())
            .collect();
        let command = words.join(" ");
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(&command)),
            "lksim --help does not list `{command}`:\n{help}"
        );
        seen += 1;
    }
    assert!(seen >= 10, "read only {seen} commands from front.rs");
    // The old one-line usage is still what a wrong call gets, on stderr, exit 2.
    let bad = Command::new(env!("CARGO_BIN_EXE_lksim")).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("usage: lksim COMMAND"));
}

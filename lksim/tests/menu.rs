//! setup's full-screen menu, driven as a user (or lk_upgrade's driver) would: through a real
//! pseudo-terminal, reading the screen with a terminal emulator (vt100), sending only the
//! documented keys.
mod common;
use common::*;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An upper bound only (the machine may be busy); a healthy run takes milliseconds.
const WAIT: Duration = Duration::from_secs(30);

const UP: &[u8] = b"\x1b[A";
const DOWN: &[u8] = b"\x1b[B";
const RIGHT: &[u8] = b"\x1b[C";
const LEFT: &[u8] = b"\x1b[D";
const ENTER: &[u8] = b"\r";

struct Term {
    child: Child,
    master: std::fs::File,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    // The reader got the end of the output (setup and every copy of the terminal gone).
    drained: Arc<std::sync::atomic::AtomicBool>,
}

fn nz(v: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(v).unwrap()
}

impl Term {
    /// `./setup ARGS` of node `n`, started in `cwd` on a `rows`x`cols` terminal.
    fn start(c: &Cluster, n: &str, m: &Path, cwd: &Path, args: &[&str], size: (u16, u16)) -> Term {
        Term::start_env(c, n, m, cwd, args, size, &[("TERM", "xterm")])
    }
    fn start_env(
        c: &Cluster,
        n: &str,
        m: &Path,
        cwd: &Path,
        args: &[&str],
        (rows, cols): (u16, u16),
        envs: &[(&str, &str)],
    ) -> Term {
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let p = nix::pty::openpty(&ws, None).unwrap();
        let slave: OwnedFd = p.slave;
        let mut cmd = Command::new(m.join("setup"));
        cmd.args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", c.path(n).display()))
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        cmd.envs(envs.iter().copied());
        let child = cmd.spawn().unwrap();
        // the parent's copies of the slave are gone: reading the master ends when setup does
        let master = std::fs::File::from(p.master);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(nz(rows), nz(cols), 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (p2, r2, mut rd) = (parser.clone(), raw.clone(), master.try_clone().unwrap());
        let drained = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d2 = drained.clone();
        std::thread::spawn(move || {
            let mut b = [0u8; 4096];
            while let Ok(n) = rd.read(&mut b) {
                if n == 0 {
                    break;
                }
                p2.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .process(&b[..n]);
                r2.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&b[..n]);
            }
            d2.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        Term {
            child,
            master,
            parser,
            raw,
            drained,
        }
    }
    fn screen(&self) -> String {
        self.parser
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .screen()
            .contents()
    }
    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).to_string()
    }
    fn wait_for(&self, what: &str) {
        let t = Instant::now();
        while !self.screen().contains(what) {
            assert!(
                t.elapsed() < WAIT,
                "no {what:?} on the screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    fn wait_gone(&self, what: &str) {
        let t = Instant::now();
        while self.screen().contains(what) {
            assert!(
                t.elapsed() < WAIT,
                "{what:?} still on the screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    fn send(&mut self, k: &[u8]) {
        self.master.write_all(k).unwrap();
    }
    /// Sends a key and waits until the screen shows `what`.
    fn key(&mut self, k: &[u8], what: &str) {
        self.send(k);
        self.wait_for(what);
    }
    fn exit(&mut self) -> i32 {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // The reader drains what setup printed last: wait for its end of file (setup
                // gone, every copy of the slave closed), not a fixed 50 ms, which a loaded
                // machine overran (the CI run saw an empty screen:
                // wrong_cwd_is_refused_before_anything).
                while !self.drained.load(std::sync::atomic::Ordering::SeqCst) {
                    assert!(t.elapsed() < WAIT, "the terminal's output did not end");
                    std::thread::sleep(Duration::from_millis(5));
                }
                return s.code().unwrap_or(-1);
            }
            assert!(t.elapsed() < WAIT, "setup did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    fn running_after(&mut self, d: Duration) -> bool {
        std::thread::sleep(d);
        self.child.try_wait().unwrap().is_none()
    }
    /// Whether `label` (a button) is drawn highlighted; panics when it is not on the screen.
    fn highlighted(&self, label: &str) -> bool {
        self.find_highlighted(label)
            .unwrap_or_else(|| panic!("no {label} on the screen:\n{}", self.screen()))
    }
    /// Waits (a redraw may be under way) until `label` is on the screen and highlighted.
    fn wait_highlighted(&self, label: &str) {
        let t = Instant::now();
        while self.find_highlighted(label) != Some(true) {
            assert!(
                t.elapsed() < WAIT,
                "{label} not highlighted:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    fn wait_highlighted_by(&self, ok: impl Fn(&Term) -> bool) {
        let t = Instant::now();
        while !ok(self) {
            assert!(t.elapsed() < WAIT, "not highlighted:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    fn find_highlighted(&self, label: &str) -> Option<bool> {
        let p = self.parser.lock().unwrap_or_else(|e| e.into_inner());
        let s = p.screen();
        let (rows, cols) = s.size();
        for r in 0..rows.get() {
            let line: String = (0..cols.get())
                .map(|c| {
                    s.cell(r, c)
                        .map(|x| x.contents().chars().next().unwrap_or(' '))
                        .unwrap_or(' ')
                })
                .collect();
            if let Some(i) = line.find(label) {
                let col = line[..i].chars().count() as u16;
                return Some(s.cell(r, col).unwrap().inverse());
            }
        }
        None
    }
    fn row(&self, r: u16) -> String {
        let p = self.parser.lock().unwrap();
        let cols = p.screen().size().1.get();
        let row: String = p.screen().rows(0, cols).nth(r as usize).unwrap();
        row
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const MAIN: &str = "< Load >";
const CONFIRM: &str = "Would you like to start installing SPS for";
// Screens are drawn top to bottom, buttons last: waiting for the last button of a screen waits
// for the whole screen.
const CONFIRM_DRAWN: &str = "< Cancel >";

#[test]
fn menu_draws_title_items_and_buttons_select_highlighted() {
    let c = Cluster::create("menu-draw", &[]);
    let m = media_dir(&c, "9.6.1");
    let t = Term::start(&c, "node-b", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    assert_eq!(
        t.row(0).trim(),
        "SIOS Protection Suite for Linux 9.6.1-8580 setup"
    );
    assert!(t.row(1).trim().chars().all(|c| c == '─'), "{}", t.row(1));
    let s = t.screen();
    for want in [
        "Main configuration",
        "Arrow keys navigate the menu.  <Enter> selects submenus --->.",
        "<Y> Installs features, <N> Removes features",
        "*** Your OS is Red Hat Enterprise Linux 8.9 ***",
        "[ ] Use Quorum / Witness Functions",
        "LifeKeeper Authentication  --->",
        "() Install License Key File(s)",
        "Recovery Kit Selection Menu  --->",
        "<Select>    < Done >    < Help >    < Save >    < Load >",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
    // an upgrade: the node has its JRE; the startup item needs a license path on a fresh node
    assert!(!s.contains("Java") && !s.contains("Startup"), "{s}");
    assert!(t.highlighted("<Select>"));
    for b in ["< Done >", "< Help >", "< Save >", "< Load >"] {
        assert!(!t.highlighted(b), "{b}");
    }
}

#[test]
fn done_yes_installs_with_the_menu_settings() {
    let c = Cluster::create("menu-yes", &[]);
    let m = media_dir(&c, "9.6.1");
    let mut t = Term::start(&c, "node-b", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    t.send(RIGHT);
    t.wait_highlighted("< Done >");
    assert_eq!(
        c.node_state("node-b")["version"],
        "9.4.0",
        "nothing before Yes"
    );
    t.key(ENTER, CONFIRM_DRAWN);
    assert!(t.screen().contains(CONFIRM));
    assert!(t.highlighted("< Yes >") && !t.highlighted("< No >"));
    assert!(t.screen().contains("< Cancel >"));
    t.send(ENTER);
    assert_eq!(t.exit(), 0, "{}", t.raw());
    let raw = t.raw();
    assert!(raw.contains("Setup complete."), "{raw}");
    assert!(
        !raw.contains("Install licenses."),
        "no license given: {raw}"
    );
    let s = c.node_state("node-b");
    assert_eq!(s["version"], "9.6.1");
    let q = c.sys(
        "node-b",
        "rpm",
        &["-q", "steeleye-lkPGSQL", "steeleye-lkIP"],
    );
    assert_eq!(q.code, 0, "installed kits kept (pre-ticked): {}", q.out);
}

#[test]
fn done_no_changes_nothing_and_exits_non_zero() {
    let c = Cluster::create("menu-no", &[]);
    let m = media_dir(&c, "9.6.1");
    let before = c.state();
    let mut t = Term::start(&c, "node-b", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    t.send(RIGHT);
    t.key(ENTER, CONFIRM);
    t.send(RIGHT);
    t.send(ENTER);
    assert_eq!(t.exit(), 1);
    assert!(t.raw().contains("setup will abort"), "{}", t.raw());
    assert_eq!(c.state(), before);
}

#[test]
fn cancel_returns_to_the_menu() {
    let c = Cluster::create("menu-cancel", &[]);
    let m = media_dir(&c, "9.6.1");
    let mut t = Term::start(&c, "node-a", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    t.send(RIGHT);
    t.key(ENTER, CONFIRM);
    t.send(LEFT); // wraps to < Cancel >
    t.send(ENTER);
    t.wait_gone(CONFIRM);
    t.wait_for(MAIN);
    assert!(t.screen().contains("Main configuration"));
    assert!(t.highlighted("< Done >"));
    assert!(t.running_after(Duration::from_millis(100)));
    assert_eq!(c.node_state("node-a")["version"], "9.4.0");
}

#[test]
fn kit_submenu_is_pre_ticked_from_installed_kits() {
    let c = Cluster::create("menu-kits", &["--kits", "lkIP,lkNFS"]);
    let m = media_dir(&c, "9.6.1");
    let mut t = Term::start(&c, "node-a", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    // comment, quorum, authentication, license, kits
    for _ in 0..4 {
        t.send(DOWN);
    }
    t.key(ENTER, "< Exit >");
    let s = t.screen();
    assert!(s.contains("[*] IP Recovery Kit (steeleye-lkIP)"), "{s}");
    assert!(
        s.contains("[*] NFS Server Recovery Kit (steeleye-lkNFS)"),
        "{s}"
    );
    assert!(
        s.contains("[ ] PostgreSQL Recovery Kit (steeleye-lkPGSQL)"),
        "{s}"
    );
    // the quorum package is the main menu's item, not a kit
    assert!(!s.contains("lkQWK"), "{s}");
    t.send(RIGHT);
    t.key(ENTER, "Main configuration");
    t.send(UP);
    t.wait_for(MAIN);
}

#[test]
fn save_then_load_round_trips_and_matches_the_cli() {
    let c = Cluster::create("menu-save", &[]);
    let m = media_dir(&c, "9.6.1");
    let mut t = Term::start(&c, "node-b", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    // untick PostgreSQL in the kit sub-menu, tick quorum
    t.send(DOWN);
    t.send(b"y");
    t.wait_for("[*] Use Quorum");
    for _ in 0..3 {
        t.send(DOWN);
    }
    t.key(ENTER, "< Exit >");
    t.send(DOWN);
    t.send(DOWN);
    t.key(b"n", "[ ] PostgreSQL");
    t.send(RIGHT);
    t.key(ENTER, "Main configuration");
    // Save: the input box holds .config; replace it
    for _ in 0..3 {
        t.send(RIGHT);
    }
    t.key(ENTER, "<  Ok  >");
    assert!(t.screen().contains("Save Configuration"));
    assert!(t.screen().contains(".config"));
    assert!(t.highlighted("<  Ok  >"));
    for _ in 0..7 {
        t.send(b"\x7f");
    }
    t.key(b"my.config", "my.config");
    t.send(ENTER);
    t.wait_gone("Save Configuration");
    let saved = std::fs::read_to_string(m.join("my.config")).expect("saved in the cwd");
    assert!(saved.contains("CONFIG_QUORUM=y\n"), "{saved}");
    assert!(
        saved.contains("# CONFIG_KIT_LKPGSQL is not set\n"),
        "{saved}"
    );
    assert!(saved.contains("CONFIG_KIT_LKIP=y\n"), "{saved}");
    // the CLI writes the same file without the menu
    let out = c.dir.join("cli.config");
    let o = lksim(&[
        "setup-config",
        "save",
        "--node-root",
        c.root("node-b").to_str().unwrap(),
        "--media",
        m.to_str().unwrap(),
        "--kits",
        "lkIP",
        "--quorum",
        "y",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), saved);
    drop(t);
    // a new run starts from the node's defaults; Load brings the saved settings back
    let mut t = Term::start(&c, "node-b", &m, &m, &[], (24, 80));
    t.wait_for("[ ] Use Quorum");
    for _ in 0..4 {
        t.send(RIGHT);
    }
    t.key(ENTER, "Load Configuration");
    for _ in 0..7 {
        t.send(b"\x7f");
    }
    t.send(b"my.config");
    t.send(ENTER);
    t.wait_for("[*] Use Quorum");
    assert!(c.node_state("node-b")["version"] == "9.4.0");
    // a file that is not there: an error box with < Exit >, back to the menu
    t.key(ENTER, "Load Configuration");
    for _ in 0..9 {
        t.send(b"\x7f");
    }
    t.send(b"nope.config");
    t.key(ENTER, "File does not exist!");
    t.wait_for("< Exit >");
    assert!(t.highlighted("< Exit >"));
    t.send(ENTER);
    t.wait_gone("File does not exist!");
    t.wait_for(MAIN);
    assert!(t.screen().contains("[*] Use Quorum"));
}

#[test]
fn wrong_cwd_is_refused_before_anything() {
    let c = Cluster::create("menu-cwd", &[]);
    let m = media_dir(&c, "9.6.1");
    let before = c.state();
    for args in [&[][..], &["--help"][..], &["-f", "x", "-q", "y"][..]] {
        let mut t = Term::start(&c, "node-a", &m, &c.dir, args, (24, 80));
        assert_eq!(t.exit(), 1, "{args:?}");
        assert!(
            t.raw().contains("setup must be run from the top directory"),
            "{}",
            t.raw()
        );
        assert!(!t.raw().contains("Usage"));
    }
    assert_eq!(c.state(), before);
}

/// lk_upgrade once probed `setup --help` on a `setup` extracted alone into a temp folder: a
/// real setup away from the image's packages cannot run, so lksim's refuses too.
#[test]
fn setup_extracted_alone_is_refused_even_from_its_own_folder() {
    let c = Cluster::create("menu-alone", &[]);
    let m = media_dir(&c, "9.6.1");
    let alone = c.dir.join("probe");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::copy(m.join("setup"), alone.join("setup")).unwrap();
    let mut t = Term::start(&c, "node-a", &alone, &alone, &["--help"], (24, 80));
    assert_eq!(t.exit(), 1);
    assert!(
        t.raw()
            .contains("no SIOS Protection Suite packages next to setup"),
        "{}",
        t.raw()
    );
    assert!(!t.raw().contains("Usage"));
}

#[test]
fn no_terminal_is_refused() {
    let c = Cluster::create("menu-notty", &[]);
    let m = media_dir(&c, "9.6.1");
    // stdin not a terminal
    let mut cmd = Command::new(m.join("setup"));
    cmd.current_dir(&m).env_clear().env("TERM", "xterm").env(
        "PATH",
        format!("{}:/usr/bin:/bin", c.path("node-a").display()),
    );
    let o = run_cmd(cmd, None);
    assert_eq!(
        (o.code, o.err.as_str()),
        (1, "Error opening terminal: unknown.\n")
    );
    // a terminal, but TERM unset or dumb
    for env in [&[][..], &[("TERM", "dumb")][..]] {
        let mut t = Term::start_env(&c, "node-a", &m, &m, &[], (24, 80), env);
        assert_eq!(t.exit(), 1);
        assert!(
            t.raw().contains("Error opening terminal: unknown."),
            "{}",
            t.raw()
        );
    }
    // too small a display
    let mut t = Term::start(&c, "node-a", &m, &m, &[], (18, 80));
    assert_eq!(t.exit(), 1);
    assert!(t
        .raw()
        .contains("Your display is too small to run Menuconfig!"));
    assert_eq!(c.node_state("node-a")["version"], "9.4.0");
}

#[test]
fn unknown_options_open_the_menu_and_wait() {
    let c = Cluster::create("menu-unknown", &[]);
    let m = media_dir(&c, "9.6.1");
    let mut t = Term::start(&c, "node-a", &m, &m, &["--silent", "--yes"], (24, 80));
    t.wait_for(MAIN);
    assert!(t.running_after(Duration::from_millis(300)), "setup waits");
    assert_eq!(c.node_state("node-a")["version"], "9.4.0");
}

#[test]
fn fault_title_shows_another_release() {
    let c = Cluster::create("menu-ftitle", &[]);
    let m = media_dir(&c, "9.6.1");
    let o = lksim(&[
        "fault",
        "set",
        "node-a",
        "setup",
        "title",
        "--text",
        "SIOS Protection Suite for Linux 9.5.0-7001 setup",
        "--dir",
        c.d(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let t = Term::start(&c, "node-a", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    assert_eq!(
        t.row(0).trim(),
        "SIOS Protection Suite for Linux 9.5.0-7001 setup"
    );
}

#[test]
fn menu_faults_are_setup_only_and_title_errorbox_need_a_text() {
    let c = Cluster::create("menu-fset", &[]);
    let set = |args: &[&str]| {
        let mut a = vec!["fault", "set"];
        a.extend(args);
        a.extend(["--dir", c.d()]);
        lksim(&a)
    };
    assert_ne!(set(&["node-a", "setup", "title"]).code, 0, "needs --text");
    assert_ne!(set(&["node-a", "lkstart", "nomenu"]).code, 0, "setup only");
    assert_eq!(set(&["node-a", "lksim-setup", "nomenu"]).code, 0);
    assert_eq!(c.node_state("node-a")["faults"]["setup"]["mode"], "nomenu");
}

#[test]
fn setup_config_cli_refuses_a_kit_not_on_the_media() {
    let c = Cluster::create("menu-cli", &[]);
    let m = media_dir(&c, "9.6.1");
    let o = lksim(&[
        "setup-config",
        "save",
        "--node-root",
        c.root("node-a").to_str().unwrap(),
        "--media",
        m.to_str().unwrap(),
        "--kits",
        "lkORA",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.err.contains("lkORA"), "{}", o.err);
    assert!(o.out.is_empty());
    // without --out: the file on stdout, the node's defaults (installed kits ticked)
    let o = lksim(&[
        "setup-config",
        "save",
        "--node-root",
        c.root("node-a").to_str().unwrap(),
        "--media",
        m.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.out.starts_with("#\n# Automatically generated file; DO NOT EDIT.\n# SIOS Protection Suite for Linux 9.6.1-8580 setup\n"), "{}", o.out);
    assert!(
        o.out
            .contains("CONFIG_KIT_LKIP=y\n# CONFIG_KIT_LKNFS is not set\nCONFIG_KIT_LKPGSQL=y\n"),
        "{}",
        o.out
    );
}

#[test]
fn fault_errorbox_instead_of_the_confirmation() {
    let c = Cluster::create("menu-ferr", &[]);
    let m = media_dir(&c, "9.6.1");
    let o = lksim(&[
        "fault",
        "set",
        "node-a",
        "setup",
        "errorbox",
        "--text",
        "Unexpected error 42",
        "--dir",
        c.d(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let mut t = Term::start(&c, "node-a", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    t.send(RIGHT);
    t.key(ENTER, "Unexpected error 42");
    t.wait_for("<  Ok  >");
    assert!(!t.screen().contains(CONFIRM));
    assert!(
        !t.screen().contains("< Done >"),
        "the box is alone on the screen"
    );
    assert!(t.highlighted("<  Ok  >"));
    t.send(ENTER);
    t.wait_gone("Unexpected error 42");
    assert!(t.running_after(Duration::from_millis(50)));
    assert_eq!(c.node_state("node-a")["version"], "9.4.0");
}

#[test]
fn fault_nomenu_draws_nothing_and_waits() {
    let c = Cluster::create("menu-fnomenu", &[]);
    let m = media_dir(&c, "9.6.1");
    lksim(&["fault", "set", "node-a", "setup", "nomenu", "--dir", c.d()]);
    let mut t = Term::start(&c, "node-a", &m, &m, &[], (24, 80));
    assert!(t.running_after(Duration::from_millis(300)));
    assert_eq!(t.screen().trim(), "");
    // killable
    t.child.kill().unwrap();
    assert!(t.child.wait().is_ok());
}

#[test]
fn fault_fail_acts_only_after_yes() {
    let c = Cluster::create("menu-ffail", &[]);
    let m = media_dir(&c, "9.6.1");
    lksim(&["fault", "set", "node-b", "setup", "fail", "--dir", c.d()]);
    let mut t = Term::start(&c, "node-b", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    t.send(RIGHT);
    t.key(ENTER, CONFIRM);
    t.send(ENTER);
    assert_ne!(t.exit(), 0);
    assert!(t.raw().contains("lksim injected fault"), "{}", t.raw());
    assert_eq!(c.node_state("node-b")["version"], "9.4.0");
}

#[test]
fn fresh_node_license_entry_shows_startup_and_yes_installs_licenses() {
    let c = Cluster::create("menu-fresh", &[]);
    assert_eq!(c.lk_in("node-b", "rmlk", &[], Some("y\n")).code, 0);
    let lic = c.write_conf("LKLinux-Core_node-b.lic", "SECRET-LICENSE-KEY\n");
    let m = media_dir(&c, "9.6.1");
    let mut t = Term::start(&c, "node-b", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    let s = t.screen();
    assert!(s.contains("[ ] Install Java Runtime (JRE)"), "{s}");
    assert!(!s.contains("Startup"), "no license path yet: {s}");
    // comment, JRE, quorum, authentication, license
    for _ in 0..4 {
        t.send(DOWN);
    }
    t.key(ENTER, "<  Ok  >");
    t.send(lic.to_str().unwrap().as_bytes());
    t.send(ENTER);
    t.wait_for("[*] LifeKeeper Startup After Install");
    t.send(RIGHT);
    t.key(ENTER, CONFIRM);
    t.send(ENTER);
    assert_eq!(t.exit(), 0, "{}", t.raw());
    let raw = t.raw();
    assert!(raw.contains("Install licenses."), "{raw}");
    assert!(!raw.contains("SECRET"));
    let s = c.node_state("node-b");
    assert_eq!(s["version"], "9.6.1");
    assert_eq!(s["running"], true, "startup item ticked");
    assert!(c
        .root("node-b")
        .join("var/LifeKeeper/license/LKLinux-Core_node-b.lic")
        .exists());
    // nothing ticked in the kit sub-menu on a fresh node: no kit installed
    assert_eq!(c.sys("node-b", "rpm", &["-q", "steeleye-lkPGSQL"]).code, 1);
}

#[test]
fn small_display_scrolls_the_item_list() {
    let c = Cluster::create("menu-small", &[]);
    assert_eq!(c.lk_in("node-b", "rmlk", &[], Some("y\n")).code, 0);
    let m = media_dir(&c, "9.6.1");
    let mut t = Term::start(&c, "node-b", &m, &m, &[], (19, 80));
    t.wait_for(MAIN);
    // 6 items, 5 rows: the last is below, marked (+)
    assert!(!t.screen().contains("Recovery Kit Selection Menu"));
    assert!(t.screen().contains("(+)"));
    for _ in 0..5 {
        t.send(DOWN);
    }
    t.wait_for("Recovery Kit Selection Menu  --->");
    assert!(t.screen().contains("(-)"));
    assert!(!t.screen().contains("Your OS is"));
}

/// The vendor guide: Save writes the file a non-interactive install uses.  `setup -f` reads it
/// as Load does, and `# ... is not set` on an installed kit removes it ("<N> Removes features").
#[test]
fn args_path_reads_a_saved_menu_file_and_removes_an_unticked_kit() {
    let c = Cluster::create("menu-args-saved", &[]);
    let m = media_dir(&c, "9.6.1");
    let conf = c.dir.join("saved.config");
    let o = lksim(&[
        "setup-config",
        "save",
        "--node-root",
        c.root("node-b").to_str().unwrap(),
        "--media",
        m.to_str().unwrap(),
        "--kits",
        "lkIP,lkNFS",
        "--out",
        conf.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let mut cmd = Command::new(m.join("setup"));
    cmd.args(["-f", conf.to_str().unwrap(), "-q", "y"])
        .current_dir(&m)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", c.path("node-b").display()),
        );
    let o = run_cmd(cmd, None);
    assert_eq!(o.code, 0, "{}\n{}", o.out, o.err);
    assert_eq!(c.node_state("node-b")["version"], "9.6.1");
    assert_eq!(c.sys("node-b", "rpm", &["-q", "steeleye-lkPGSQL"]).code, 1);
    assert_eq!(c.sys("node-b", "rpm", &["-q", "steeleye-lkNFS"]).code, 0);
    // a saved file naming a symbol setup does not know is refused before anything
    let bad = c.write_conf("bad.config", "CONFIG_BOGUS=y\n");
    let mut cmd = Command::new(m.join("setup"));
    cmd.args(["-f", bad.to_str().unwrap(), "-q", "y"])
        .current_dir(&m)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", c.path("node-a").display()),
        );
    let o = run_cmd(cmd, None);
    assert_eq!(o.code, 1);
    assert!(o.err.contains("CONFIG_BOGUS"), "{}", o.err);
    assert_eq!(c.node_state("node-a")["version"], "9.4.0");
}

#[test]
fn help_button_shows_the_items_help_and_exit_returns() {
    let c = Cluster::create("menu-help", &[]);
    let m = media_dir(&c, "9.6.1");
    let mut t = Term::start(&c, "node-a", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    t.send(DOWN); // quorum
    t.send(RIGHT);
    t.send(RIGHT);
    t.key(ENTER, "steeleye-lkQWK");
    t.wait_for("< Exit >");
    assert!(t.highlighted("< Exit >"));
    t.send(b"x"); // ignored
    t.send(ENTER);
    t.wait_gone("steeleye-lkQWK");
    t.wait_for(MAIN);
    assert!(t.highlighted("< Help >"));
}

/// lxdialog draws in colour unless MENUCONFIG_COLOR=mono (lksim's default is mono).  In colour
/// the hotkey letter of every button has its own colour and no button is in reverse video: the
/// active button is the one whose attributes differ from the others'.
#[test]
fn colour_theme_highlights_one_button_by_its_colours() {
    let c = Cluster::create("menu-colour", &[]);
    let m = media_dir(&c, "9.6.1");
    let mut t = Term::start_env(
        &c,
        "node-a",
        &m,
        &m,
        &[],
        (24, 80),
        &[("TERM", "xterm"), ("MENUCONFIG_COLOR", "classic")],
    );
    t.wait_for(MAIN);
    // the attributes of each button's `<`; None while the button row is being redrawn (found by
    // a loaded fresh-clone run: the row was not on the screen for a moment after RIGHT, and the
    // unwrap in here panicked instead of waiting)
    let attrs = |t: &Term| -> Option<Vec<(String, bool)>> {
        let p = t.parser.lock().unwrap_or_else(|e| e.into_inner());
        let s = p.screen();
        let row = (0..24).find(|&r| {
            s.contents_between(r, 0, r, 80)
                .contains("<Select>    < Done >")
        })?;
        let line = s.contents_between(row, 0, row, 80);
        ["<Select>", "< Done >", "< Help >", "< Save >", "< Load >"]
            .iter()
            .map(|b| {
                let col = line[..line.find(b)?].chars().count() as u16;
                let cell = s.cell(row, col)?;
                assert!(!cell.inverse(), "colour theme: no reverse video");
                // the hotkey letter (D of Done) is coloured apart from the rest of the label
                if *b == "< Done >" {
                    let (k, l) = (s.cell(row, col + 2)?, s.cell(row, col + 3)?);
                    assert_ne!(k.fgcolor(), l.fgcolor());
                }
                Some((
                    format!("{:?}/{:?}", cell.fgcolor(), cell.bgcolor()),
                    cell.bold(),
                ))
            })
            .collect()
    };
    t.wait_highlighted_by(|t| attrs(t).is_some());
    let a = attrs(&t).unwrap();
    assert!(a[1..].iter().all(|x| x == &a[1]), "{a:?}");
    assert_ne!(a[0], a[1], "<Select> highlighted: {a:?}");
    t.send(RIGHT);
    t.wait_highlighted_by(|t| attrs(t).is_some_and(|a| a[0] == a[2] && a[1] != a[2]));
}

/// The existing faults act at `< Yes >`, as on the args path: halfway leaves the node with
/// its LifeKeeper packages removed and its configuration kept; a probe that leaves through
/// `< No >` never meets them.
#[test]
fn fault_halfway_acts_at_yes_and_not_on_a_probe() {
    let c = Cluster::create("menu-fhalf", &[]);
    let m = media_dir(&c, "9.6.1");
    lksim(&["fault", "set", "node-b", "setup", "halfway", "--dir", c.d()]);
    let before = c.state();
    let mut t = Term::start(&c, "node-b", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    t.send(RIGHT);
    t.key(ENTER, CONFIRM_DRAWN);
    t.send(RIGHT);
    t.send(ENTER);
    assert_eq!(t.exit(), 1);
    assert_eq!(
        c.state(),
        before,
        "the probe (No) changed nothing, fault not counted"
    );
    drop(t);
    let mut t = Term::start(&c, "node-b", &m, &m, &[], (24, 80));
    t.wait_for(MAIN);
    t.send(RIGHT);
    t.key(ENTER, CONFIRM_DRAWN);
    t.send(ENTER);
    assert_eq!(t.exit(), 1);
    assert!(t.raw().contains("Failed dependencies"), "{}", t.raw());
    let s = c.node_state("node-b");
    assert_eq!(s["installed"], false);
    assert!(c.lkroot("node-b").join("config/hierarchy.json").exists());
}

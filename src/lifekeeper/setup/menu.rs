//! Drive setup's menu the way the vendor documents it (`cd <media>; ./setup`, then the menu):
//! setup runs on a pseudo-terminal of a fixed size (its own session, the pty its controlling
//! terminal, TERM=xterm), its output is fed to a terminal emulator (`vt100`) and every decision
//! is taken from the rendered screen.
//!
//! Only the keys the vendor guide documents are sent: ↑↓ (items), ←→ (the bottom buttons),
//! Enter, Y/N/Space; typing a path into the Load box is the one exception the box itself asks
//! for. A button is found by its text on the screen and chosen by its highlight (the highlighted
//! button is the one whose cells are drawn unlike the others'), one key at a time, re-reading the
//! screen after each key: never by counting key presses blindly.
//!
//! The steps: wait for the main menu and read the release in its title bar; (a wrong release:
//! leave through the documented abort, `< Done >` then `< No >`); Load a saved configuration
//! (optional); `< Done >`; at "Would you like to start installing SPS for Linux with the current
//! settings?" `< Yes >` (or `< No >` for a probe); then follow the console until setup exits.
//! Any screen that is not the one expected stops the run before `< Yes >`, with that screen's
//! text in the message. Each wait has a timeout, the whole session is bounded, and on a timeout
//! or an abort setup's whole process group (its session) is killed.

use crate::lifekeeper::setup::strip_ansi;
use crate::lifekeeper::version::Version;
use crate::runtime::{pty, Cmd};
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// The terminal setup gets: rows × columns (lxdialog needs at least 19 × 80).
pub const ROWS: u16 = 40;
pub const COLS: u16 = 120;
/// The terminal type setup is told (its terminfo entry is in every distribution's base set).
pub const TERM: &str = "xterm";
/// Output quiet for this long: the screen is drawn and can be read.
const SETTLE: Duration = Duration::from_millis(250);
/// A screen that is drawn, not the one expected, and stays for this long is an unexpected one.
const UNEXPECTED_AFTER: Duration = Duration::from_millis(1500);
/// How long one key may take to change the screen.
const KEY_WAIT: Duration = Duration::from_secs(10);
/// The most of setup's raw output kept for the transcript.
const RAW_MAX: usize = 8 << 20;

/// The texts of the screens the driver knows. `SIOS` is the real menu's (field evidence [AZ],
/// vendor guide §4); tests use another dialect to drive the Kconfig menu of Debian's
/// kconfig-frontends, the same lxdialog code with other labels.
#[derive(Debug, Clone)]
pub struct Dialect {
    /// The title of the main menu's box.
    pub main_title: String,
    /// The main menu's bottom buttons, left to right.
    pub main_buttons: Vec<String>,
    pub done: String,
    pub load: String,
    /// The question after Done.
    pub confirm: String,
    /// Its buttons, left to right.
    pub confirm_buttons: Vec<String>,
    pub yes: String,
    pub no: String,
    /// The Load box's buttons and the one that accepts.
    pub input_buttons: Vec<String>,
    pub ok: String,
}

impl Dialect {
    pub fn sios() -> Dialect {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Dialect {
            main_title: "Main configuration".into(),
            main_buttons: s(&["<Select>", "< Done >", "< Help >", "< Save >", "< Load >"]),
            done: "< Done >".into(),
            load: "< Load >".into(),
            confirm: "Would you like to start installing SPS for Linux with the current settings?"
                .into(),
            confirm_buttons: s(&["< Yes >", "< No >", "< Cancel >"]),
            yes: "< Yes >".into(),
            no: "< No >".into(),
            input_buttons: s(&["<  Ok  >", "< Help >"]),
            ok: "<  Ok  >".into(),
        }
    }
}

/// The release in the menu's title bar: `SIOS Protection Suite for Linux 9.6.1-7200 setup`.
pub const TITLE_RE: &str = r"SIOS Protection Suite for Linux (\d+\.\d+\.\d+)-(\w+) setup";

/// What to do once the menu is up.
#[derive(Debug, Clone, PartialEq)]
pub enum Goal {
    /// Read the title and the main menu, then leave through `< Done >`, `< No >`.
    Probe,
    /// Load `load` (if any), `< Done >`, `< Yes >`, follow the console to setup's exit.
    Install { load: Option<PathBuf> },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Version,
    /// The most each screen may take to appear (the main menu, a dialog).
    pub step_timeout: Duration,
    /// The whole session, the installation included.
    pub total: Duration,
    pub dialect: Dialect,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// `9.6.1-7200`, read in the title bar.
    pub release: String,
    /// setup's exit code (-1: killed after the abort because it did not exit).
    pub rc: i32,
    /// Probe: left through the abort; Install: `< Yes >` was chosen.
    pub installed: bool,
    /// Everything setup printed (ANSI escapes kept, for the success text).
    pub output: String,
}

/// Why the session stopped early; `before_yes` is true when `< Yes >` was never chosen (the
/// vendor's installer did not start installing: nothing was changed by it).
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    pub msg: String,
    pub before_yes: bool,
    pub timed_out: bool,
}

/// A session's record, whatever happened: the transcript (ANSI escapes removed; the screens the
/// driver read follow it) and the last screen as rendered.
#[derive(Debug, Clone)]
pub struct Ran {
    pub result: Result<Finished, Stopped>,
    pub transcript: String,
    pub screen: String,
}

/// Run `program args` from `cwd` on a pseudo-terminal and drive its menu towards `goal`.
pub fn drive(program: &Path, args: &[String], cwd: &Path, goal: &Goal, s: &Settings) -> Ran {
    let mut sess = match Session::spawn(program, args, cwd, s.total) {
        Ok(x) => x,
        Err(e) => {
            return Ran {
                result: Err(Stopped {
                    msg: e,
                    before_yes: true,
                    timed_out: false,
                }),
                transcript: String::new(),
                screen: String::new(),
            }
        }
    };
    let result = sess.run(goal, s);
    if result.is_err() || sess.exit.is_none() {
        sess.kill();
    }
    let screen = render(sess.parser.screen()).join("\n");
    let drawn = Acs::default().feed(&sess.raw);
    let mut transcript = strip_ansi(&String::from_utf8_lossy(&drawn));
    for (what, text) in &sess.screens {
        transcript.push_str(&format!("\n===== lk_upgrade read: {what} =====\n{text}\n"));
    }
    Ran {
        result,
        transcript,
        screen,
    }
}

/// The screen as text, one string per row, one char per column (so a column index is a char
/// index); trailing blanks removed.
pub fn render(screen: &vt100::Screen) -> Vec<String> {
    let (rows, cols) = screen.size();
    (0..rows.get())
        .map(|r| {
            let mut line = String::new();
            for c in 0..cols.get() {
                let cell = screen.cell(r, c);
                match cell.map(|c| c.contents()).filter(|t| !t.is_empty()) {
                    Some(t) => line.push(t.chars().next().unwrap_or(' ')),
                    None => line.push(' '),
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// The screen's text as one line: the box borders removed, blanks collapsed (for finding a
/// dialog's question however lxdialog wrapped it).
pub fn flat(rows: &[String]) -> String {
    let mut words = vec![];
    for r in rows {
        for w in r.split(|c: char| c.is_whitespace() || is_border(c)) {
            if !w.is_empty() {
                words.push(w);
            }
        }
    }
    words.join(" ")
}

fn is_border(c: char) -> bool {
    matches!(
        c,
        '│' | '─' | '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '▒'
    )
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A row of buttons: the row and, per label, its first column.
#[derive(Debug, Clone, PartialEq)]
pub struct Buttons {
    pub row: u16,
    pub cols: Vec<u16>,
}

/// The row holding every one of `labels`, left to right (the lowest such row).
pub fn find_buttons(rows: &[String], labels: &[String]) -> Option<Buttons> {
    for (r, line) in rows.iter().enumerate().rev() {
        let chars: Vec<char> = line.chars().collect();
        let mut cols = vec![];
        let mut from = 0usize;
        for l in labels {
            let lc: Vec<char> = l.chars().collect();
            let Some(at) = (from..chars.len().saturating_sub(lc.len().saturating_sub(1)))
                .find(|&i| chars[i..].starts_with(&lc))
            else {
                break;
            };
            cols.push(at as u16);
            from = at + lc.len();
        }
        if cols.len() == labels.len() {
            return Some(Buttons {
                row: r as u16,
                cols,
            });
        }
    }
    None
}

/// Whether any row looks like a dialog's buttons (`< Word >` or `<Word>`): a screen with buttons
/// that is not the expected one is an unexpected dialog, not a screen still being drawn.
pub fn has_buttons(rows: &[String]) -> bool {
    let re = regex_lite::Regex::new(r"<\s*[A-Za-z][A-Za-z ]*\s*>").expect("valid");
    rows.iter().any(|r| re.is_match(r))
}

type Look = (vt100::Color, vt100::Color, bool, bool);

fn look(screen: &vt100::Screen, row: u16, col: u16) -> Option<Look> {
    screen
        .cell(row, col)
        .map(|c| (c.fgcolor(), c.bgcolor(), c.bold(), c.inverse()))
}

/// How a button is drawn: the look of its label's last letter (lxdialog draws the brackets and
/// the hot-key letter apart; labels differ in length, so one cell stands for the label).
fn button_look(screen: &vt100::Screen, b: &Buttons, i: usize, label: &str) -> Vec<Look> {
    let last = label
        .chars()
        .enumerate()
        .filter(|(_, c)| c.is_alphanumeric())
        .map(|(k, _)| k)
        .last()
        .unwrap_or(0);
    look(screen, b.row, b.cols[i] + last as u16)
        .into_iter()
        .collect()
}

/// Which button is highlighted: the one drawn unlike the others (three or more buttons), or, of
/// two, the one drawn unlike the blank beside the row. `Err` when that is not one button.
pub fn highlighted(
    screen: &vt100::Screen,
    b: &Buttons,
    labels: &[String],
) -> Result<usize, String> {
    let looks: Vec<Vec<Look>> = (0..labels.len())
        .map(|i| button_look(screen, b, i, &labels[i]))
        .collect();
    let unlike: Vec<usize> = (0..looks.len())
        .filter(|&i| {
            (0..looks.len())
                .filter(|&j| j != i)
                .all(|j| looks[j] != looks[i])
        })
        .collect();
    if looks.len() >= 3 {
        let others_alike = unlike.len() == 1
            && (0..looks.len()).filter(|&j| j != unlike[0]).all(|j| {
                looks[j] == looks[(0..looks.len()).find(|&k| k != unlike[0]).unwrap_or(0)]
            });
        if others_alike {
            return Ok(unlike[0]);
        }
        return Err(format!(
            "cannot tell which of {} is highlighted",
            labels.join(" ")
        ));
    }
    // Two buttons (the Load box's Ok/Help): compare with the blank just left of the first one.
    let base = b.cols[0]
        .checked_sub(1)
        .and_then(|c| look(screen, b.row, c));
    // Lit: another background or reverse video than the box around it (bold alone is how
    // lxdialog draws an inactive label too).
    let ground = |l: &Look| (l.1, l.3);
    let lit: Vec<usize> = (0..looks.len())
        .filter(|&i| {
            looks[i]
                .iter()
                .any(|l| base.as_ref().map(ground) != Some(ground(l)))
        })
        .collect();
    match lit.as_slice() {
        [one] => Ok(*one),
        _ => Err(format!(
            "cannot tell which of {} is highlighted",
            labels.join(" ")
        )),
    }
}

/// The text of an input box's field: the row framed twice (`│ │text   │ │`, the field's own box
/// inside the dialog's), else the cursor's row (where lxdialog leaves the cursor).
pub fn input_field(rows: &[String], cursor_row: u16) -> String {
    let framed = rows.iter().find_map(|r| {
        let bars: Vec<usize> = r
            .char_indices()
            .filter(|(_, c)| *c == '│')
            .map(|(i, _)| i)
            .collect();
        (bars.len() == 4).then(|| r[bars[1] + '│'.len_utf8()..bars[2]].trim().to_string())
    });
    framed.unwrap_or_else(|| {
        rows.get(cursor_row as usize)
            .map(|l| {
                l.trim_matches(|c: char| c.is_whitespace() || is_border(c))
                    .to_string()
            })
            .unwrap_or_default()
    })
}

/// The release and build in the title: `("9.6.1", "7200")`.
pub fn title_release(rows: &[String]) -> Option<(String, String)> {
    let re = regex_lite::Regex::new(TITLE_RE).expect("valid");
    rows.iter()
        .find_map(|r| re.captures(r).map(|c| (c[1].to_string(), c[2].to_string())))
}

/// What a screen is, for one step.
#[derive(Debug, Clone, PartialEq)]
enum Seen<T> {
    Want(T),
    /// A drawn screen that is not the expected one (a dialog with buttons).
    Other,
    /// Nothing recognisable yet (being drawn, console text).
    Pending,
}

/// Translates the DEC line-drawing character set (`ESC ( 0` / `ESC ( B`, SO/SI with `ESC ) 0`),
/// which curses uses for box borders in the C locale and `vt100` does not, into the Unicode box
/// characters, so a border is never read as the letters q, x, l, k.
#[derive(Debug, Default)]
struct Acs {
    g0_graphics: bool,
    g1_graphics: bool,
    shifted: bool,
    /// An escape sequence cut by a read, completed by the next.
    pending: Vec<u8>,
}

impl Acs {
    fn map(c: u8) -> Option<&'static str> {
        Some(match c {
            b'j' => "┘",
            b'k' => "┐",
            b'l' => "┌",
            b'm' => "└",
            b'n' => "┼",
            b'q' => "─",
            b't' => "├",
            b'u' => "┤",
            b'v' => "┴",
            b'w' => "┬",
            b'x' => "│",
            b'a' => "▒",
            b'`' => "◆",
            b'~' => "·",
            b'0' => "█",
            _ => return None,
        })
    }

    fn feed(&mut self, input: &[u8]) -> Vec<u8> {
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(input);
        let mut out = Vec::with_capacity(data.len());
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            if b == 0x1b {
                if i + 2 >= data.len()
                    && (i + 1 >= data.len() || matches!(data[i + 1], b'(' | b')'))
                {
                    self.pending = data[i..].to_vec();
                    break;
                }
                if matches!(data[i + 1], b'(' | b')') {
                    let graphics = data[i + 2] == b'0';
                    if data[i + 1] == b'(' {
                        self.g0_graphics = graphics;
                    } else {
                        self.g1_graphics = graphics;
                    }
                    i += 3;
                    continue;
                }
                // Any other escape sequence passes through whole (its letters are no text).
                out.push(b);
                i += 1;
                if data[i] == b'[' {
                    out.push(b'[');
                    i += 1;
                    while i < data.len() {
                        out.push(data[i]);
                        i += 1;
                        if (0x40..=0x7e).contains(&data[i - 1]) {
                            break;
                        }
                    }
                }
                continue;
            }
            match b {
                0x0e => self.shifted = true,
                0x0f => self.shifted = false,
                _ => {
                    let graphics = if self.shifted {
                        self.g1_graphics
                    } else {
                        self.g0_graphics
                    };
                    match Acs::map(b).filter(|_| graphics) {
                        Some(s) => out.extend_from_slice(s.as_bytes()),
                        None => out.push(b),
                    }
                }
            }
            i += 1;
        }
        out
    }
}

struct Session {
    child: Child,
    master: File,
    parser: vt100::Parser,
    acs: Acs,
    raw: Vec<u8>,
    /// (what the driver was waiting for, the screen it read), in order.
    screens: Vec<(String, String)>,
    exit: Option<i32>,
    /// When setup's exit was seen: what a grandchild that kept the terminal (a daemon setup
    /// started) prints afterwards is read for `PIPE_GRACE` at most, never waited for.
    exited_at: Option<Instant>,
    eof: bool,
    last_output: Instant,
    deadline: Instant,
    /// Where the console output after `< Yes >` starts in `raw`.
    yes_at: Option<usize>,
}

impl Session {
    fn spawn(
        program: &Path,
        args: &[String],
        cwd: &Path,
        total: Duration,
    ) -> Result<Session, String> {
        let pty::PtyChild { child, master } =
            pty::spawn(&Cmd::new(program).args(args).cwd(cwd), ROWS, COLS, TERM)?;
        Ok(Session {
            child,
            master,
            parser: vt100::Parser::new(
                std::num::NonZeroU16::new(ROWS).expect("rows"),
                std::num::NonZeroU16::new(COLS).expect("cols"),
                0,
            ),
            acs: Acs::default(),
            raw: vec![],
            screens: vec![],
            exit: None,
            exited_at: None,
            eof: false,
            last_output: Instant::now(),
            deadline: Instant::now() + total,
            yes_at: None,
        })
    }

    /// Read what setup printed within `wait` (less when output comes or setup is gone).
    fn pump(&mut self, wait: Duration) {
        if self.exit.is_none() {
            if let Ok(Some(st)) = self.child.try_wait() {
                use std::os::unix::process::ExitStatusExt;
                self.exit = Some(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)));
                self.exited_at = Some(Instant::now());
            }
        }
        if self
            .exited_at
            .is_some_and(|t| t.elapsed() >= crate::runtime::cmd::PIPE_GRACE)
        {
            self.eof = true;
        }
        if self.eof {
            std::thread::sleep(wait.min(Duration::from_millis(50)));
            return;
        }
        let ms = wait.as_millis().min(1000) as u16;
        let ready = {
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            poll(&mut fds, ms).map(|n| n > 0).unwrap_or(false)
        };
        if !ready {
            if self.exit.is_some() {
                // Gone and nothing more to read: what a grandchild keeps open is not waited for.
                self.eof = true;
            }
            return;
        }
        let mut buf = [0u8; 16384];
        match self.master.read(&mut buf) {
            // EIO: every holder of the terminal's other side closed it (setup exited).
            Ok(0) | Err(_) => self.eof = true,
            Ok(n) => {
                if self.raw.len() < RAW_MAX {
                    self.raw
                        .extend_from_slice(&buf[..n.min(RAW_MAX - self.raw.len())]);
                }
                let text = self.acs.feed(&buf[..n]);
                self.parser.process(&text);
                self.last_output = Instant::now();
            }
        }
    }

    fn rows(&self) -> Vec<String> {
        render(self.parser.screen())
    }

    fn stopped(&mut self, msg: String, timed_out: bool) -> Stopped {
        Stopped {
            msg,
            before_yes: self.yes_at.is_none(),
            timed_out,
        }
    }

    /// Wait until `classify` recognises the screen; an unexpected screen, setup's exit or the
    /// step's timeout stops the session with the screen's text in the message.
    fn wait<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        classify: impl Fn(&vt100::Screen, &[String]) -> Seen<T>,
    ) -> Result<T, Stopped> {
        let end = (Instant::now() + timeout).min(self.deadline);
        loop {
            self.pump(Duration::from_millis(100));
            let quiet = self.last_output.elapsed();
            if quiet >= SETTLE || self.eof {
                let rows = self.rows();
                match classify(self.parser.screen(), &rows) {
                    Seen::Want(t) => {
                        self.screens.push((what.to_string(), rows.join("\n")));
                        return Ok(t);
                    }
                    Seen::Other if quiet >= UNEXPECTED_AFTER || self.eof => {
                        let text = rows.join("\n");
                        self.screens
                            .push((format!("{what} (unexpected)"), text.clone()));
                        return Err(self.stopped(
                            format!(
                                "setup showed a screen lk_upgrade does not recognise while waiting for {what}; stopped there: {}",
                                flat(&rows)
                            ),
                            false,
                        ));
                    }
                    _ => {}
                }
            }
            if self.eof && self.exit.is_some() {
                let rows = self.rows();
                self.screens
                    .push((format!("{what} (setup exited)"), rows.join("\n")));
                let rc = self.exit.unwrap_or(-1);
                return Err(self.stopped(
                    format!(
                        "setup exited (rc={rc}) while lk_upgrade waited for {what}; its last screen: {}",
                        flat(&rows)
                    ),
                    false,
                ));
            }
            if Instant::now() >= end {
                let rows = self.rows();
                self.screens
                    .push((format!("{what} (timed out)"), rows.join("\n")));
                let shown = flat(&rows);
                return Err(self.stopped(
                    format!(
                        "setup did not show {what} within {} s; killed it. Its screen: {}",
                        timeout.as_secs(),
                        if shown.is_empty() {
                            "(nothing drawn)".to_string()
                        } else {
                            shown
                        }
                    ),
                    true,
                ));
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Stopped> {
        self.master
            .write_all(bytes)
            .and_then(|()| self.master.flush())
            .map_err(|e| Stopped {
                msg: format!("cannot send a key to setup: {e}"),
                before_yes: self.yes_at.is_none(),
                timed_out: false,
            })
    }

    /// Left/Right as the terminal would send it (application cursor mode or not).
    fn arrow(&mut self, right: bool) -> Result<(), Stopped> {
        let app = self.parser.screen().application_cursor();
        let k: &[u8] = match (app, right) {
            (true, true) => b"\x1bOC",
            (true, false) => b"\x1bOD",
            (false, true) => b"\x1b[C",
            (false, false) => b"\x1b[D",
        };
        self.send(k)
    }

    /// Move the highlight onto `target` among `labels` (found on the screen), one Left/Right at a
    /// time, re-reading the screen after each key; then check the screen is still `what`.
    fn choose(&mut self, what: &str, labels: &[String], target: &str) -> Result<(), Stopped> {
        let t = labels
            .iter()
            .position(|l| l == target)
            .expect("target among labels");
        for _ in 0..=labels.len() * 2 {
            let rows = self.rows();
            let Some(b) = find_buttons(&rows, labels) else {
                return Err(self.stopped(
                    format!(
                        "the buttons {} of {what} are gone from the screen; stopped there: {}",
                        labels.join(" "),
                        flat(&rows)
                    ),
                    false,
                ));
            };
            let h = highlighted(self.parser.screen(), &b, labels).map_err(|e| {
                self.stopped(
                    format!("{what}: {e}; stopped there: {}", flat(&rows)),
                    false,
                )
            })?;
            if h == t {
                return Ok(());
            }
            self.arrow(t > h)?;
            // Until the highlight moved (or the key's time is up).
            let end = Instant::now() + KEY_WAIT;
            loop {
                self.pump(Duration::from_millis(50));
                let rows = self.rows();
                let moved = find_buttons(&rows, labels)
                    .and_then(|b| highlighted(self.parser.screen(), &b, labels).ok())
                    .is_some_and(|n| n != h);
                if (moved && self.last_output.elapsed() >= Duration::from_millis(60))
                    || Instant::now() >= end
                {
                    break;
                }
            }
        }
        let rows = self.rows();
        Err(self.stopped(
            format!(
                "{what}: the highlight did not reach {target} with the arrow keys; stopped there: {}",
                flat(&rows)
            ),
            false,
        ))
    }

    fn kill(&mut self) {
        let pg = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(pg, Signal::SIGTERM);
        let end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(pg, Signal::SIGKILL);
        if self.exit.is_none() {
            let _ = self.child.wait();
        }
    }

    fn run(&mut self, goal: &Goal, s: &Settings) -> Result<Finished, Stopped> {
        let d = &s.dialect;
        let main = |d: &Dialect| {
            let d = d.clone();
            move |_: &vt100::Screen, rows: &[String]| {
                let f = squash(&rows.join("\n"));
                if find_buttons(rows, &d.main_buttons).is_some() && f.contains(&d.main_title) {
                    match title_release(rows) {
                        Some(r) => Seen::Want(r),
                        None => Seen::Other,
                    }
                } else if has_buttons(rows) {
                    Seen::Other
                } else {
                    Seen::Pending
                }
            }
        };
        let (release, build) = self.wait("the main menu", s.step_timeout, main(d))?;
        let seen = format!("{release}-{build}");
        let wrong = Version::parse(&release).is_ok_and(|v| v != s.target)
            || Version::parse(&release).is_err();
        let load = match goal {
            Goal::Install { load } if !wrong => load.clone(),
            _ => None,
        };
        if let Some(path) = load {
            self.choose("the main menu", &d.main_buttons, &d.load)?;
            self.send(b"\r")?;
            let ib = d.input_buttons.clone();
            self.wait("the Load box", s.step_timeout, |_, rows| {
                if find_buttons(rows, &ib).is_some() {
                    Seen::Want(())
                } else if has_buttons(rows) {
                    Seen::Other
                } else {
                    Seen::Pending
                }
            })?;
            self.fill_field(&path)?;
            self.choose("the Load box", &d.input_buttons, &d.ok)?;
            self.send(b"\r")?;
            self.wait("the main menu after Load", s.step_timeout, main(d))?;
        }
        self.choose("the main menu", &d.main_buttons, &d.done)?;
        self.send(b"\r")?;
        let (q, cb) = (squash(&d.confirm), d.confirm_buttons.clone());
        let confirm = self.wait("the confirmation dialog", s.step_timeout, move |_, rows| {
            if find_buttons(rows, &cb).is_some() && flat(rows).contains(&q) {
                Seen::Want(())
            } else if has_buttons(rows) {
                Seen::Other
            } else {
                Seen::Pending
            }
        });
        let install = matches!(goal, Goal::Install { .. }) && !wrong;
        if let Err(e) = confirm {
            if wrong {
                return Err(self.stopped(self.wrong_release(&seen, s.target, Some(&e.msg)), false));
            }
            return Err(e);
        }
        if !install {
            self.choose("the confirmation dialog", &d.confirm_buttons, &d.no)?;
            self.send(b"\r")?;
            let rc = self.wait_exit(Duration::from_secs(30).min(s.step_timeout));
            if wrong {
                return Err(self.stopped(self.wrong_release(&seen, s.target, None), false));
            }
            return Ok(Finished {
                release: seen,
                rc,
                installed: false,
                output: String::from_utf8_lossy(&self.raw).into_owned(),
            });
        }
        self.choose("the confirmation dialog", &d.confirm_buttons, &d.yes)?;
        // The last look before the one key that starts the installation.
        let rows = self.rows();
        if !flat(&rows).contains(&squash(&d.confirm)) {
            return Err(self.stopped(
                format!(
                    "the confirmation dialog is gone before < Yes >; stopped there: {}",
                    flat(&rows)
                ),
                false,
            ));
        }
        self.yes_at = Some(self.raw.len());
        self.send(b"\r")?;
        // The console until setup exits, bounded by the whole session's time.
        while !(self.exit.is_some() && self.eof) {
            if Instant::now() >= self.deadline {
                let rows = self.rows();
                self.screens
                    .push(("the installation (timed out)".into(), rows.join("\n")));
                return Err(self.stopped(
                    "setup did not finish the installation within timeout; killed its process group".into(),
                    true,
                ));
            }
            self.pump(Duration::from_millis(200));
        }
        let rows = self.rows();
        self.screens
            .push(("the end of the installation".into(), rows.join("\n")));
        let start = self.yes_at.unwrap_or(0);
        Ok(Finished {
            release: seen,
            rc: self.exit.unwrap_or(-1),
            installed: true,
            output: String::from_utf8_lossy(&self.raw[start..]).into_owned(),
        })
    }

    fn wrong_release(&self, seen: &str, target: Version, why: Option<&str>) -> String {
        format!(
            "the menu of this setup names release {seen} in its title bar, not the target {target}: {}",
            match why {
                None => "left through the documented abort (< Done >, then < No >: setup will abort); nothing was installed".to_string(),
                Some(w) => format!("leaving through < Done > then < No > failed ({w}); setup was killed before anything was installed"),
            }
        )
    }

    /// After `< No >`: setup's exit code, or -1 when it had to be killed.
    fn wait_exit(&mut self, within: Duration) -> i32 {
        let end = Instant::now() + within;
        while Instant::now() < end && !(self.exit.is_some() && self.eof) {
            self.pump(Duration::from_millis(100));
        }
        let rows = self.rows();
        self.screens.push(("the abort".into(), rows.join("\n")));
        self.exit.unwrap_or(-1)
    }

    /// The Load box's field (the cursor's row): cleared with Backspace, `path` typed, and
    /// checked on the screen before `<  Ok  >`.
    fn fill_field(&mut self, path: &Path) -> Result<(), Stopped> {
        let want = path.display().to_string();
        let field = |s: &Session| input_field(&s.rows(), s.parser.screen().cursor_position().0);
        for _ in 0..4 {
            let now = field(self);
            if now.is_empty() {
                break;
            }
            // One Backspace per character shown, then look again (a field may scroll).
            self.send(&vec![0x7f; now.chars().count() + 1])?;
            self.settle(KEY_WAIT);
        }
        if !field(self).is_empty() {
            let rows = self.rows();
            return Err(self.stopped(
                format!(
                    "the Load box's field could not be cleared; stopped there: {}",
                    flat(&rows)
                ),
                false,
            ));
        }
        self.send(want.as_bytes())?;
        self.settle(KEY_WAIT);
        let shown = field(self);
        let enough = want.chars().count().min(20);
        if shown.is_empty() || !want.ends_with(&shown) || shown.chars().count() < enough {
            let rows = self.rows();
            return Err(self.stopped(
                format!(
                    "the Load box does not show {want} after typing it (it shows {shown:?}); stopped there: {}",
                    flat(&rows)
                ),
                false,
            ));
        }
        let rows = self.rows();
        self.screens
            .push(("the Load box, filled".into(), rows.join("\n")));
        Ok(())
    }

    /// Read until the output has been quiet for SETTLE (at most `within`).
    fn settle(&mut self, within: Duration) {
        let end = Instant::now() + within;
        let start = Instant::now();
        while Instant::now() < end {
            self.pump(Duration::from_millis(50));
            if self.last_output.elapsed() >= SETTLE && start.elapsed() >= SETTLE {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(bytes: &[u8]) -> vt100::Parser {
        let mut p = vt100::Parser::new(
            std::num::NonZeroU16::new(ROWS).unwrap(),
            std::num::NonZeroU16::new(COLS).unwrap(),
            0,
        );
        p.process(&Acs::default().feed(bytes));
        p
    }

    /// A setup that never draws its menu: the step's timeout holds and its session is killed.
    #[test]
    fn a_setup_that_draws_nothing_times_out_and_is_killed() {
        let t = Instant::now();
        let ran = drive(
            Path::new("/bin/sleep"),
            &["60".to_string()],
            &std::env::temp_dir(),
            &Goal::Probe,
            &Settings {
                target: Version::new(9, 6, 1),
                step_timeout: Duration::from_secs(1),
                total: Duration::from_secs(30),
                dialect: Dialect::sios(),
            },
        );
        let e = ran.result.unwrap_err();
        assert!(e.timed_out && e.before_yes, "{e:?}");
        assert!(
            e.msg.contains("did not show the main menu within 1 s"),
            "{}",
            e.msg
        );
        assert!(e.msg.contains("(nothing drawn)"), "{}", e.msg);
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    }

    #[test]
    fn dec_line_drawing_becomes_box_characters_and_text_stays_text() {
        let mut a = Acs::default();
        let out = a.feed(b"\x1b(0lqk\x1b(B lqk \x1b[1mx\x1b");
        assert_eq!(String::from_utf8_lossy(&out), "┌─┐ lqk \x1b[1mx");
        // The cut sequence is completed by the next read.
        let out = a.feed(b"(0x\x1b(B");
        assert_eq!(String::from_utf8_lossy(&out), "│");
    }

    #[test]
    fn the_highlighted_button_is_the_one_drawn_unlike_the_others() {
        let labels = Dialect::sios().main_buttons;
        // < Done > in reverse video, the others plain.
        let p =
            screen(b"\x1b[39;1H  <Select>  \x1b[7m< Done >\x1b[0m  < Help >  < Save >  < Load >");
        let rows = render(p.screen());
        let b = find_buttons(&rows, &labels).unwrap();
        assert_eq!(b.row, 38);
        assert_eq!(highlighted(p.screen(), &b, &labels), Ok(1));
        // Nothing highlighted: refused, not guessed.
        let p = screen(b"\x1b[39;1H  <Select>  < Done >  < Help >  < Save >  < Load >");
        let b = find_buttons(&render(p.screen()), &labels).unwrap();
        assert!(highlighted(p.screen(), &b, &labels).is_err());
        // Two buttons: against the blank beside them.
        let two = Dialect::sios().input_buttons;
        let p = screen(b"\x1b[10;1H\x1b[47m   \x1b[44m<  Ok  >\x1b[47m   < Help >   ");
        let b = find_buttons(&render(p.screen()), &two).unwrap();
        assert_eq!(highlighted(p.screen(), &b, &two), Ok(0));
    }

    #[test]
    fn the_release_is_read_in_the_title_bar_and_the_question_however_wrapped() {
        let rows: Vec<String> = vec![
            "SIOS Protection Suite for Linux 9.6.1-7200 setup".into(),
            " │ Would you like to start installing SPS   │".into(),
            " │ for Linux with the current settings?     │".into(),
        ];
        assert_eq!(
            title_release(&rows),
            Some(("9.6.1".to_string(), "7200".to_string()))
        );
        assert!(flat(&rows).contains(&Dialect::sios().confirm));
        assert!(!has_buttons(&rows));
        assert!(has_buttons(&["   <  Ok  >".to_string()]));
    }
}

/// Against the real lxdialog: Debian's kconfig-frontends (`kconfig-mconf`), the Kconfig menu
/// SIOS's setup is built on. Its labels differ (`< Exit >`, and its exit dialog asks about
/// saving), which is exactly an unexpected screen for the SIOS dialect.
#[cfg(test)]
mod lxdialog {
    use super::*;

    fn kconfig(test: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lkops-mconf-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("Kconfig"),
            "mainmenu \"SIOS Protection Suite for Linux 9.6.1-7200 setup\"\n\nconfig INSTALL_JRE\n\tbool \"Install Java Runtime (JRE)\"\n\tdefault y\n\nconfig QUORUM\n\tbool \"Use Quorum / Witness Functions\"\n",
        )
        .unwrap();
        d
    }

    fn mconf() -> PathBuf {
        let p = PathBuf::from("/usr/bin/kconfig-mconf");
        assert!(
            p.is_file(),
            "kconfig-mconf is missing: apt-get install kconfig-frontends (make deps)"
        );
        p
    }

    fn dialect() -> Dialect {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Dialect {
            main_title: "SIOS Protection Suite for Linux 9.6.1-7200 setup".into(),
            main_buttons: s(&["<Select>", "< Exit >", "< Help >", "< Save >", "< Load >"]),
            done: "< Exit >".into(),
            load: "< Load >".into(),
            ..Dialect::sios()
        }
    }

    fn settings(target: Version) -> Settings {
        Settings {
            target,
            step_timeout: Duration::from_secs(20),
            total: Duration::from_secs(60),
            dialect: dialect(),
        }
    }

    #[test]
    fn real_lxdialog_menu_is_read_and_its_exit_dialog_stops_the_run_before_yes() {
        let d = kconfig("exit");
        let t = Instant::now();
        let ran = drive(
            &mconf(),
            &["Kconfig".to_string()],
            &d,
            &Goal::Install { load: None },
            &settings(Version::new(9, 6, 1)),
        );
        let e = ran.result.clone().unwrap_err();
        assert!(e.before_yes, "{e:?}");
        assert!(!e.timed_out, "{e:?}");
        assert!(
            e.msg.contains("does not recognise") && e.msg.contains("save your new configuration"),
            "{e:?}\n{}",
            ran.screen
        );
        // The main menu was read (title, items, buttons) and kept in the transcript.
        assert!(
            ran.transcript.contains("lk_upgrade read: the main menu"),
            "{}",
            ran.transcript
        );
        assert!(ran.transcript.contains("Install Java Runtime (JRE)"));
        assert!(
            ran.screen.contains("save your new configuration"),
            "{}",
            ran.screen
        );
        // No answer was given: nothing saved.
        assert!(!d.join(".config").exists());
        assert!(t.elapsed() < Duration::from_secs(30));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn real_lxdialog_title_naming_another_release_is_refused_naming_both() {
        let d = kconfig("title");
        let ran = drive(
            &mconf(),
            &["Kconfig".to_string()],
            &d,
            &Goal::Install { load: None },
            &settings(Version::new(9, 6, 2)),
        );
        let e = ran.result.unwrap_err();
        assert!(e.before_yes);
        assert!(
            e.msg.contains("9.6.1-7200") && e.msg.contains("9.6.2"),
            "{e:?}"
        );
        assert!(!d.join(".config").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn real_lxdialog_load_box_is_cleared_filled_and_accepted() {
        let d = kconfig("load");
        let saved = d.join("saved.config");
        std::fs::write(&saved, "# CONFIG_INSTALL_JRE is not set\nCONFIG_QUORUM=y\n").unwrap();
        let ran = drive(
            &mconf(),
            &["Kconfig".to_string()],
            &d,
            &Goal::Install {
                load: Some(saved.clone()),
            },
            &settings(Version::new(9, 6, 1)),
        );
        let e = ran.result.unwrap_err();
        assert!(e.before_yes);
        // Loaded: back at the main menu with the loaded values, then Exit's dialog stopped it.
        assert!(
            ran.transcript
                .contains("lk_upgrade read: the Load box, filled"),
            "{}",
            ran.transcript
        );
        assert!(ran.transcript.contains(&saved.display().to_string()));
        let after = ran
            .transcript
            .split("lk_upgrade read: the main menu after Load =====")
            .nth(1)
            .unwrap_or_else(|| panic!("{e:?}\n{}", ran.screen));
        assert!(after.contains("[ ] Install Java Runtime (JRE)"), "{after}");
        assert!(
            after.contains("[*] Use Quorum / Witness Functions"),
            "{after}"
        );
        assert!(e.msg.contains("save your new configuration"), "{e:?}");
        let _ = std::fs::remove_dir_all(&d);
    }
}

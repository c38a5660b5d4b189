//! setup's full-screen menu: Kconfig's menuconfig (lxdialog), as the real SIOS setup shows it
//! (field evidence, [AZ] screenshots, vendor guide §4).  A pure state machine (`App::key`) and
//! a pure renderer (`App::render`, VT100/ANSI escapes) are driven by `main`, which owns the
//! terminal.  Every screen is a function of the keys received: nothing depends on timing.
//!
//! Only the documented keys act: ↑↓ items, ←→ bottom buttons, Enter, Y / N / Space; every other
//! key is ignored and draws nothing.

use crate::setup_config::{self as sc, Facts, Settings};
use std::io::{Read, Write};
use std::path::Path;

/// mconf's minimum (lxdialog WINDOW_HEIGTH_MIN / WINDOW_WIDTH_MIN).
pub const MIN_ROWS: u16 = 19;
pub const MIN_COLS: u16 = 80;
pub const TOO_SMALL: &str = "Your display is too small to run Menuconfig!";
/// ncurses' text when it cannot open the terminal (UNCONFIRMED: ncurses names the TERM value;
/// lksim always says `unknown`).
pub const NO_TERMINAL: &str = "Error opening terminal: unknown.";
pub const CONFIRM_TEXT: &str =
    "Would you like to start installing SPS for Linux with the current settings?";
/// What `< No >` prints (UNCONFIRMED wording; [AZ] only says "setup will abort").
pub const ABORTED: &str = "setup will abort.";
/// The help lines (the quoted parts are real [AZ]; the rest is lksim's wording).
pub const HELP_TEXT: &str = "Arrow keys navigate the menu.  <Enter> selects submenus --->.  \
    Pressing <Y> Installs features, <N> Removes features, <Space> changes them.  \
    Legend: [*] install  [ ] do not install";
pub const MAIN_TITLE: &str = "Main configuration";
pub const KITS_TITLE: &str = "Recovery Kit Selection Menu";
pub const AUTH_TITLE: &str = "LifeKeeper Authentication";
pub const JRE_LABEL: &str = "Install Java Runtime (JRE)";
pub const QUORUM_LABEL: &str = "Use Quorum / Witness Functions";
pub const LICENSE_LABEL: &str = "Install License Key File(s)";
pub const START_LABEL: &str = "LifeKeeper Startup After Install";
pub const DEFAULT_CONFIG_FILE: &str = ".config";

/// Terminal types ncurses would find a terminfo entry for that can draw the menu.
const KNOWN_TERMS: &[&str] = &[
    "xterm",
    "vt100",
    "vt102",
    "vt220",
    "linux",
    "screen",
    "tmux",
    "rxvt",
    "ansi",
    "konsole",
    "gnome",
    "putty",
    "st",
    "alacritty",
    "kitty",
];

pub fn term_known(term: Option<&str>) -> bool {
    match term {
        None | Some("") | Some("dumb") | Some("unknown") => false,
        Some(t) => KNOWN_TERMS
            .iter()
            .any(|k| t == *k || t.starts_with(&format!("{k}-"))),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Key {
    Up,
    Down,
    Left,
    Right,
    Enter,
    Backspace,
    Char(char),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SubId {
    Auth,
    Kits,
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Sym {
    Jre,
    Quorum,
    Start,
    Kit(String),
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Entry {
    Comment(String),
    Bool(Sym, String),
    Sub(SubId, String),
    License,
}

#[derive(Clone, Copy, Default, Debug)]
struct List {
    cursor: usize,
    scroll: usize,
    button: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum InputKind {
    Save,
    Load,
    License,
}

#[derive(Clone, Debug)]
enum Dialog {
    /// Yes / No / Cancel.
    Confirm { button: usize },
    /// An lxdialog inputbox: `<  Ok  >` `< Help >`.
    Input {
        kind: InputKind,
        text: String,
        button: usize,
    },
    /// A text box with one button; Enter returns.
    Text {
        title: String,
        text: String,
        button: &'static str,
    },
}

/// What a key did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Not a key this screen knows: nothing is drawn.
    Ignored,
    Redraw,
    /// `< Yes >` at the confirmation.
    Install,
    /// `< No >` at the confirmation.
    Abort,
}

/// Faults that change the menu (`lksim fault set NODE setup title|errorbox|nomenu`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MenuFault {
    pub title: Option<String>,
    pub errorbox: Option<String>,
}

pub struct App {
    pub theme: Theme,
    pub facts: Facts,
    pub settings: Settings,
    fault: MenuFault,
    main: List,
    sub: Option<(SubId, List)>,
    dialogs: Vec<Dialog>,
}

const MAIN_BUTTONS: [&str; 5] = ["Select", " Done ", " Help ", " Save ", " Load "];
const SUB_BUTTONS: [&str; 5] = ["Select", " Exit ", " Help ", " Save ", " Load "];
const CONFIRM_BUTTONS: [&str; 3] = [" Yes ", " No ", " Cancel "];
const INPUT_BUTTONS: [&str; 2] = ["  Ok  ", " Help "];

impl App {
    pub fn new(facts: Facts, fault: MenuFault) -> App {
        let settings = Settings::defaults(&facts);
        App {
            theme: Theme::Mono,
            facts,
            settings,
            fault,
            main: List::default(),
            sub: None,
            dialogs: vec![],
        }
    }

    fn entries(&self, which: Option<SubId>) -> Vec<Entry> {
        let f = &self.facts;
        match which {
            None => {
                let mut v = vec![Entry::Comment(format!("Your OS is {}", f.os))];
                if f.jre_visible() {
                    v.push(Entry::Bool(Sym::Jre, JRE_LABEL.into()));
                }
                v.push(Entry::Bool(Sym::Quorum, QUORUM_LABEL.into()));
                v.push(Entry::Sub(SubId::Auth, AUTH_TITLE.into()));
                v.push(Entry::License);
                v.push(Entry::Sub(SubId::Kits, KITS_TITLE.into()));
                if self.settings.start_visible(f) {
                    v.push(Entry::Bool(Sym::Start, START_LABEL.into()));
                }
                v
            }
            Some(SubId::Kits) => f
                .media_kits
                .iter()
                .map(|k| Entry::Bool(Sym::Kit(k.clone()), kit_label(k)))
                .collect(),
            // What this sub-menu holds on a real node is not public (UNCONFIRMED): lksim shows
            // no setting there.
            Some(SubId::Auth) => vec![Entry::Comment(
                "No authentication settings to change".into(),
            )],
        }
    }

    fn get(&self, s: &Sym) -> bool {
        match s {
            Sym::Jre => self.settings.jre,
            Sym::Quorum => self.settings.quorum,
            Sym::Start => self.settings.start,
            Sym::Kit(k) => self.settings.kits.contains(k),
        }
    }

    fn set(&mut self, s: &Sym, on: bool) {
        match s {
            Sym::Jre => self.settings.jre = on,
            Sym::Quorum => self.settings.quorum = on,
            Sym::Start => self.settings.start = on,
            Sym::Kit(k) => {
                if on {
                    self.settings.kits.insert(k.clone());
                } else {
                    self.settings.kits.remove(k);
                }
            }
        }
    }

    fn list(&mut self) -> &mut List {
        match &mut self.sub {
            Some((_, l)) => l,
            None => &mut self.main,
        }
    }

    /// Keeps the cursor on an item and in view after the item list changed.
    fn clamp(&mut self, visible: usize) {
        for which in [None, self.sub.map(|s| s.0)] {
            let n = self.entries(which).len();
            let l = match which {
                None => &mut self.main,
                Some(_) => match &mut self.sub {
                    Some((_, l)) => l,
                    None => continue,
                },
            };
            l.cursor = l.cursor.min(n.saturating_sub(1));
            scroll_into_view(l, visible);
        }
    }

    /// One key.  `visible` is how many list rows the screen shows (for scrolling).
    pub fn key(&mut self, k: Key, visible: usize) -> Outcome {
        let out = if let Some(d) = self.dialogs.last().cloned() {
            self.dialog_key(d, k)
        } else {
            self.menu_key(k)
        };
        if out == Outcome::Redraw {
            self.clamp(visible.max(1));
        }
        out
    }

    fn menu_key(&mut self, k: Key) -> Outcome {
        let which = self.sub.map(|s| s.0);
        let entries = self.entries(which);
        let cur = self.list().cursor;
        let entry = entries.get(cur).cloned();
        match k {
            Key::Up if cur > 0 => self.list().cursor -= 1,
            Key::Down if cur + 1 < entries.len() => self.list().cursor += 1,
            Key::Left => {
                let b = &mut self.list().button;
                *b = if *b == 0 { 4 } else { *b - 1 };
            }
            Key::Right => {
                let b = &mut self.list().button;
                *b = (*b + 1) % 5;
            }
            Key::Char(c @ ('y' | 'Y' | 'n' | 'N' | ' ')) => match entry {
                Some(Entry::Bool(s, _)) => {
                    let on = match c {
                        'y' | 'Y' => true,
                        'n' | 'N' => false,
                        _ => !self.get(&s),
                    };
                    self.set(&s, on);
                }
                _ => return Outcome::Ignored,
            },
            Key::Enter => match self.list().button {
                0 => match entry {
                    Some(Entry::Bool(s, _)) => {
                        let on = !self.get(&s);
                        self.set(&s, on);
                    }
                    Some(Entry::Sub(id, _)) if which.is_none() => {
                        self.sub = Some((id, List::default()));
                    }
                    Some(Entry::License) => self.dialogs.push(Dialog::Input {
                        kind: InputKind::License,
                        text: self.settings.license.clone(),
                        button: 0,
                    }),
                    _ => return Outcome::Ignored,
                },
                1 => {
                    if which.is_some() {
                        self.sub = None;
                    } else if let Some(t) = &self.fault.errorbox {
                        // fault "errorbox": an unexpected error instead of the confirmation
                        self.dialogs.push(Dialog::Text {
                            title: "Error".into(),
                            text: t.clone(),
                            button: "  Ok  ",
                        });
                    } else {
                        self.dialogs.push(Dialog::Confirm { button: 0 });
                    }
                }
                2 => self.dialogs.push(Dialog::Text {
                    title: entry
                        .as_ref()
                        .map(|e| entry_label(e).to_string())
                        .unwrap_or_default(),
                    text: entry.as_ref().map(entry_help).unwrap_or_default().into(),
                    button: " Exit ",
                }),
                b => self.dialogs.push(Dialog::Input {
                    kind: if b == 3 {
                        InputKind::Save
                    } else {
                        InputKind::Load
                    },
                    text: DEFAULT_CONFIG_FILE.into(),
                    button: 0,
                }),
            },
            _ => return Outcome::Ignored,
        }
        Outcome::Redraw
    }

    fn dialog_key(&mut self, d: Dialog, k: Key) -> Outcome {
        match d {
            Dialog::Text { .. } => match k {
                Key::Enter => {
                    self.dialogs.pop();
                }
                _ => return Outcome::Ignored,
            },
            Dialog::Confirm { button } => match k {
                Key::Left | Key::Right => {
                    let b = if k == Key::Left {
                        (button + 2) % 3
                    } else {
                        (button + 1) % 3
                    };
                    *self.dialogs.last_mut().unwrap() = Dialog::Confirm { button: b };
                }
                Key::Enter => match button {
                    0 => return Outcome::Install,
                    1 => return Outcome::Abort,
                    _ => {
                        self.dialogs.pop();
                    }
                },
                _ => return Outcome::Ignored,
            },
            Dialog::Input {
                kind,
                mut text,
                button,
            } => {
                let mut b = button;
                match k {
                    Key::Left | Key::Right => b = 1 - b,
                    Key::Backspace => {
                        if text.pop().is_none() {
                            return Outcome::Ignored;
                        }
                    }
                    Key::Char(c) => text.push(c),
                    Key::Enter if b == 1 => {
                        self.dialogs.push(Dialog::Text {
                            title: "Help".into(),
                            text: input_help(kind).into(),
                            button: " Exit ",
                        });
                        return Outcome::Redraw;
                    }
                    Key::Enter => {
                        self.dialogs.pop();
                        self.input_ok(kind, text.trim());
                        return Outcome::Redraw;
                    }
                    _ => return Outcome::Ignored,
                }
                *self.dialogs.last_mut().unwrap() = Dialog::Input {
                    kind,
                    text,
                    button: b,
                };
            }
        }
        Outcome::Redraw
    }

    /// `<  Ok  >` of an input box.  File names are relative to the working directory.
    fn input_ok(&mut self, kind: InputKind, text: &str) {
        match kind {
            InputKind::License => self.settings.license = text.to_string(),
            // blank: abort, as mconf's Save/Load
            _ if text.is_empty() => {}
            InputKind::Save => {
                if std::fs::write(text, sc::render(&self.facts, &self.settings)).is_err() {
                    self.dialogs.push(Dialog::Text {
                        title: String::new(),
                        text: "Error while writing of the configuration.  Your configuration \
                               changes were NOT saved."
                            .into(),
                        button: " Exit ",
                    });
                }
            }
            InputKind::Load => {
                let r = std::fs::read_to_string(text)
                    .map_err(|_| "File does not exist!".to_string())
                    .and_then(|t| sc::load(&self.facts, &t).map_err(|e| format!("{text}: {e}")));
                match r {
                    Ok(s) => self.settings = s,
                    Err(e) => self.dialogs.push(Dialog::Text {
                        title: String::new(),
                        text: e,
                        button: " Exit ",
                    }),
                }
            }
        }
    }

    fn title(&self) -> String {
        self.fault
            .title
            .clone()
            .unwrap_or_else(|| self.facts.title())
    }

    fn entry_text(&self, e: &Entry) -> String {
        match e {
            Entry::Comment(t) => format!("    *** {t} ***"),
            Entry::Bool(s, l) => format!("[{}] {l}", if self.get(s) { '*' } else { ' ' }),
            Entry::Sub(_, l) => format!("    {l}  --->"),
            Entry::License => format!("({}) {LICENSE_LABEL}", self.settings.license),
        }
    }

    /// How many list rows a screen of `rows` lines shows.
    pub fn visible_rows(rows: u16) -> usize {
        (rows as usize).saturating_sub(4 + 10).max(1)
    }

    /// The whole screen, as VT100/ANSI escapes (cleared and drawn from the top).
    pub fn render(&self, rows: u16, cols: u16) -> String {
        let mut g = Grid::new(rows as usize, cols as usize, self.theme);
        let (rows, cols) = (rows as usize, cols as usize);
        g.put(0, 1, &self.title(), St::Back);
        g.hline(1, 1, cols.saturating_sub(2));
        // mconf clears the screen to the back title (dialog_clear) before every dialog: a
        // dialog is alone on the screen, the menu's buttons are not visible behind it
        if let Some(d) = self.dialogs.last() {
            self.draw_dialog(&mut g, d, rows, cols);
            return g.ansi();
        }
        let (h, w, y0, x0) = (rows - 4, cols - 5, 2, 2);
        let which = self.sub.map(|s| s.0);
        let title = match which {
            None => MAIN_TITLE,
            Some(SubId::Kits) => KITS_TITLE,
            Some(SubId::Auth) => AUTH_TITLE,
        };
        g.frame(y0, x0, h, w, Some(title));
        for (i, l) in wrap(HELP_TEXT, w - 4).iter().take(3).enumerate() {
            g.put(y0 + 1 + i, x0 + 2, l, St::Dialog);
        }
        let mh = h - 10;
        let (by, bx, bw) = (y0 + 5, x0 + 2, w - 4);
        g.frame(by, bx, mh + 2, bw, None);
        let list = self.sub.map(|s| s.1).unwrap_or(self.main);
        let entries = self.entries(which);
        for (row, (i, e)) in entries
            .iter()
            .enumerate()
            .skip(list.scroll)
            .take(mh)
            .enumerate()
        {
            let t: String = self.entry_text(e).chars().take(bw - 6).collect();
            let a = if i == list.cursor {
                St::ItemSel
            } else {
                St::Item
            };
            g.put(by + 1 + row, bx + 3, &t, a);
        }
        if list.scroll > 0 {
            g.put(by, bx + 3, "(-)", St::Arrow);
        }
        if list.scroll + mh < entries.len() {
            g.put(by + mh + 1, bx + 3, "(+)", St::Arrow);
        }
        g.separator(y0 + h - 3, x0, w);
        let labels = if which.is_some() {
            SUB_BUTTONS
        } else {
            MAIN_BUTTONS
        };
        let bx0 = x0 + w / 2 - 28;
        for (i, l) in labels.iter().enumerate() {
            g.button(y0 + h - 2, bx0 + 12 * i, l, i == list.button);
        }
        g.ansi()
    }

    fn draw_dialog(&self, g: &mut Grid, d: &Dialog, rows: usize, cols: usize) {
        let dw = 60.min(cols - 4);
        let (title, text, buttons, sel, field): (&str, String, Vec<&str>, usize, Option<&str>) =
            match d {
                Dialog::Confirm { button } => (
                    "",
                    CONFIRM_TEXT.into(),
                    CONFIRM_BUTTONS.to_vec(),
                    *button,
                    None,
                ),
                Dialog::Input { kind, text, button } => (
                    match kind {
                        InputKind::Save => "Save Configuration",
                        InputKind::Load => "Load Configuration",
                        InputKind::License => LICENSE_LABEL,
                    },
                    input_prompt(*kind).into(),
                    INPUT_BUTTONS.to_vec(),
                    *button,
                    Some(text.as_str()),
                ),
                Dialog::Text {
                    title,
                    text,
                    button,
                } => (title.as_str(), text.clone(), vec![*button], 0, None),
            };
        let lines = wrap(&text, dw - 4);
        let lines: Vec<&String> = lines.iter().take(rows.saturating_sub(10)).collect();
        let dh = 2 + 1 + lines.len() + 1 + if field.is_some() { 3 } else { 0 } + 2;
        let (y, x) = ((rows - dh) / 2, (cols - dw) / 2);
        g.frame(y, x, dh, dw, (!title.is_empty()).then_some(title));
        for (i, l) in lines.iter().enumerate() {
            g.put(y + 2 + i, x + 2, l, St::Dialog);
        }
        if let Some(f) = field {
            let fy = y + 3 + lines.len();
            g.frame(fy, x + 2, 3, dw - 4, None);
            let room = dw - 7;
            let n = f.chars().count();
            let shown: String = f.chars().skip(n.saturating_sub(room)).collect();
            g.put(fy + 1, x + 3, &shown, St::Input);
        }
        g.separator(y + dh - 3, x, dw);
        let total: usize =
            buttons.iter().map(|b| b.chars().count() + 2).sum::<usize>() + 2 * (buttons.len() - 1);
        let mut bx = x + (dw - total) / 2;
        for (i, b) in buttons.iter().enumerate() {
            g.button(y + dh - 2, bx, b, i == sel);
            bx += b.chars().count() + 4;
        }
    }
}

fn scroll_into_view(l: &mut List, visible: usize) {
    if l.cursor < l.scroll {
        l.scroll = l.cursor;
    } else if l.cursor >= l.scroll + visible {
        l.scroll = l.cursor + 1 - visible;
    }
}

/// The kit sub-menu's item text (UNCONFIRMED: the real labels are not public).
fn kit_label(k: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("lkAPA", "Apache Web Server"),
        ("lkDB2", "DB2"),
        ("lkDMMP", "Device Mapper Multipath"),
        ("lkIP", "IP"),
        ("lkLVM", "LVM"),
        ("lkMD", "Software RAID (md)"),
        ("lkNAS", "NAS"),
        ("lkNFS", "NFS Server"),
        ("lkORA", "Oracle"),
        ("lkPGSQL", "PostgreSQL"),
        ("lkPOSTFIX", "Postfix"),
        ("lkSAP", "SAP"),
        ("lkSAPDB", "SAP MaxDB"),
        ("lkSMB", "Samba"),
        ("lkSQL", "MySQL"),
        ("lkSYBASE", "Sybase"),
    ];
    match NAMES.iter().find(|(n, _)| *n == k) {
        Some((_, d)) => format!("{d} Recovery Kit (steeleye-{k})"),
        None => format!("steeleye-{k}"),
    }
}

fn entry_label(e: &Entry) -> &str {
    match e {
        Entry::Comment(t) => t,
        Entry::Bool(_, l) | Entry::Sub(_, l) => l,
        Entry::License => LICENSE_LABEL,
    }
}

fn entry_help(e: &Entry) -> &'static str {
    match e {
        Entry::Comment(_) => "There is no help available for this item.",
        Entry::Bool(Sym::Jre, _) => "Installs the Java Runtime the LifeKeeper GUI needs.",
        Entry::Bool(Sym::Quorum, _) => {
            "Installs the Quorum / Witness package (steeleye-lkQWK).  <N> removes it."
        }
        Entry::Bool(Sym::Start, _) => "Starts LifeKeeper when the installation has finished.",
        Entry::Bool(Sym::Kit(_), _) => {
            "<Y> installs or upgrades this Recovery Kit, <N> removes it."
        }
        Entry::Sub(..) => "Opens a sub-menu.",
        Entry::License => "The license key file(s) to install, separated by blanks.",
    }
}

fn input_prompt(k: InputKind) -> &'static str {
    match k {
        InputKind::Save => {
            "Enter a file name to save this configuration to.  Leave blank to abort."
        }
        InputKind::Load => {
            "Enter the name of the configuration file to load.  Leave blank to abort."
        }
        InputKind::License => "Enter the license key file name(s), separated by blanks.",
    }
}

fn input_help(k: InputKind) -> &'static str {
    match k {
        InputKind::Save | InputKind::Load => {
            "A saved configuration can be loaded again with <Load>.  Names are relative to \
             the current directory."
        }
        InputKind::License => "Full path names of the license key files.",
    }
}

/// Word wrap (lxdialog print_autowrap): breaks at blanks, never inside a word shorter than
/// the width.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut gap = 0;
    for word in text.split(' ') {
        if word.is_empty() {
            // the text's own runs of blanks (two after a sentence) are kept
            gap += 1;
            continue;
        }
        let sep = if cur.is_empty() { 0 } else { gap + 1 };
        if !cur.is_empty() && cur.chars().count() + sep + word.chars().count() > width {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push_str(&" ".repeat(sep));
        }
        cur.push_str(word);
        gap = 0;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// What a cell is part of; the theme gives its SGR attributes (lxdialog's attribute names).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    Screen,
    Back,
    Dialog,
    Border,
    BoxTitle,
    Item,
    ItemSel,
    Arrow,
    Input,
    BtnAct,
    BtnInact,
    KeyAct,
    KeyInact,
    LblAct,
    LblInact,
}

/// mconf's MENUCONFIG_COLOR: `mono` (lksim's default: reverse video) or a colour theme
/// (`classic`, `bluetitle`, `blackbg`: one lxdialog-like palette, UNCONFIRMED colours).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Theme {
    Mono,
    Colour,
}

impl Theme {
    pub fn from_env(v: Option<&str>) -> Theme {
        match v {
            Some("classic" | "bluetitle" | "blackbg") => Theme::Colour,
            _ => Theme::Mono,
        }
    }
    /// SGR parameters ("" = the terminal's default).
    fn sgr(self, st: St) -> &'static str {
        use St::*;
        match self {
            Theme::Mono => match st {
                ItemSel => "7",
                BtnAct | KeyAct | LblAct => "1;7",
                BoxTitle => "1",
                _ => "",
            },
            Theme::Colour => match st {
                Screen | Back => "1;36;44",
                Dialog | Item | Input | BtnInact => "30;47",
                Border => "1;37;47",
                BoxTitle => "1;33;47",
                ItemSel | BtnAct | KeyAct => "1;37;44",
                Arrow => "1;32;47",
                KeyInact => "31;47",
                LblAct => "1;33;44",
                LblInact => "1;30;47",
            },
        }
    }
}

struct Grid {
    cells: Vec<Vec<(char, St)>>,
    theme: Theme,
}

impl Grid {
    fn new(rows: usize, cols: usize, theme: Theme) -> Grid {
        Grid {
            cells: vec![vec![(' ', St::Screen); cols]; rows],
            theme,
        }
    }
    fn put(&mut self, r: usize, c: usize, s: &str, a: St) {
        let Some(row) = self.cells.get_mut(r) else {
            return;
        };
        for (i, ch) in s.chars().enumerate() {
            if let Some(cell) = row.get_mut(c + i) {
                *cell = (ch, a);
            }
        }
    }
    fn hline(&mut self, r: usize, c: usize, n: usize) {
        self.put(r, c, &"─".repeat(n), St::Back);
    }
    fn clear(&mut self, r: usize, c: usize, h: usize, w: usize) {
        for i in 0..h {
            self.put(r + i, c, &" ".repeat(w), St::Dialog);
        }
    }
    fn frame(&mut self, r: usize, c: usize, h: usize, w: usize, title: Option<&str>) {
        self.clear(r, c, h, w);
        self.put(r, c, &format!("┌{}┐", "─".repeat(w - 2)), St::Border);
        for i in 1..h - 1 {
            self.put(r + i, c, "│", St::Border);
            self.put(r + i, c + w - 1, "│", St::Border);
        }
        self.put(
            r + h - 1,
            c,
            &format!("└{}┘", "─".repeat(w - 2)),
            St::Border,
        );
        if let Some(t) = title {
            let t = format!(" {t} ");
            let n = t.chars().count();
            self.put(r, c + (w.saturating_sub(n)) / 2, &t, St::BoxTitle);
        }
    }
    fn separator(&mut self, r: usize, c: usize, w: usize) {
        self.put(r, c, &format!("├{}┤", "─".repeat(w - 2)), St::Border);
    }
    /// lxdialog print_button: `<label>`, the label's first letter in the key attribute; the
    /// active button in button_active (mono: reverse bold).
    fn button(&mut self, r: usize, c: usize, label: &str, active: bool) {
        let (b, k, l) = if active {
            (St::BtnAct, St::KeyAct, St::LblAct)
        } else {
            (St::BtnInact, St::KeyInact, St::LblInact)
        };
        self.put(r, c, "<", b);
        let mut key_done = false;
        for (i, ch) in label.chars().enumerate() {
            let st = if !key_done && ch != ' ' {
                key_done = true;
                k
            } else {
                l
            };
            self.put(r, c + 1 + i, &ch.to_string(), st);
        }
        self.put(r, c + 1 + label.chars().count(), ">", b);
    }
    fn ansi(&self) -> String {
        let mut o = String::from("\x1b[0m\x1b[H\x1b[2J");
        let sgr = |st: St| self.theme.sgr(st);
        for (r, row) in self.cells.iter().enumerate() {
            let end = row
                .iter()
                .rposition(|&(ch, a)| ch != ' ' || !sgr(a).is_empty())
                .map(|p| p + 1)
                .unwrap_or(0);
            if end == 0 {
                continue;
            }
            o.push_str(&format!("\x1b[{};1H", r + 1));
            let mut cur = "";
            for &(ch, a) in &row[..end] {
                if sgr(a) != cur {
                    cur = sgr(a);
                    if cur.is_empty() {
                        o.push_str("\x1b[0m");
                    } else {
                        o.push_str(&format!("\x1b[0;{cur}m"));
                    }
                }
                o.push(ch);
            }
            if !cur.is_empty() {
                o.push_str("\x1b[0m");
            }
        }
        o
    }
}

/// Reads one documented key; None at end of input.  Escape sequences that are not arrows are
/// read whole and ignored.  No timing is involved: a lone ESC waits for the next byte.
fn read_key(inp: &mut impl Read) -> Option<Option<Key>> {
    let mut b = [0u8; 1];
    let mut next = |inp: &mut dyn Read| -> Option<u8> {
        loop {
            match inp.read(&mut b) {
                Ok(1) => return Some(b[0]),
                // a signal is not the end of the input
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                _ => return None,
            }
        }
    };
    let c = next(inp)?;
    Some(match c {
        0x1b => match next(inp)? {
            b'[' | b'O' => {
                let mut f = next(inp)?;
                while (0x20..0x40).contains(&f) {
                    f = next(inp)?;
                }
                match f {
                    b'A' => Some(Key::Up),
                    b'B' => Some(Key::Down),
                    b'C' => Some(Key::Right),
                    b'D' => Some(Key::Left),
                    _ => None,
                }
            }
            _ => None,
        },
        b'\r' | b'\n' => Some(Key::Enter),
        0x7f | 0x08 => Some(Key::Backspace),
        0x20..=0x7e => Some(Key::Char(c as char)),
        _ => None,
    })
}

/// The node's menu faults; `Err(code)` when the node is down.  Counts a call only for these
/// modes (the others are counted by `fault_gate` after `< Yes >`).
fn menu_fault(root: &Path) -> Result<(MenuFault, bool), i32> {
    let (mut w, i) = match crate::model::World::open_for_root(root) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("setup: {e}");
            return Err(1);
        }
    };
    if w.nodes[i].rt.down {
        eprintln!(
            "setup: node {} is down (lksim simulated crash)",
            w.nodes[i].name
        );
        return Err(crate::DOWN_EXIT);
    }
    let mut mf = MenuFault::default();
    let mut nomenu = false;
    if let Some(f) = w.nodes[i].rt.faults.get_mut("setup") {
        if matches!(f.mode.as_str(), "title" | "errorbox" | "nomenu") {
            f.calls += 1;
            if f.calls > f.after {
                match f.mode.as_str() {
                    "title" => mf.title = Some(f.text.clone()),
                    "errorbox" => mf.errorbox = Some(f.text.clone()),
                    _ => nomenu = true,
                }
            }
            if let Err(e) = w.save() {
                eprintln!("setup: {e}");
                return Err(1);
            }
        }
    }
    Ok((mf, nomenu))
}

fn winsize() -> Option<(u16, u16)> {
    let ws = rustix::termios::tcgetwinsize(std::io::stdout()).ok()?;
    Some((ws.ws_row, ws.ws_col))
}

/// `./setup` without (known) options: the menu.  Nothing changes before `< Yes >`.
pub fn main(ctx: &crate::Ctx, media_dir: &Path, mv: &str) -> i32 {
    use std::io::IsTerminal;
    let term = std::env::var("TERM").ok();
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !tty || !term_known(term.as_deref()) {
        eprintln!("{NO_TERMINAL}");
        return 1;
    }
    let (fault, nomenu) = match menu_fault(&ctx.root) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let facts = match sc::facts(&ctx.root, media_dir, mv) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("setup: {e}");
            return 1;
        }
    };
    let Some((rows, cols)) = winsize() else {
        eprintln!("{NO_TERMINAL}");
        return 1;
    };
    if rows < MIN_ROWS || cols < MIN_COLS {
        eprintln!("{TOO_SMALL}");
        eprintln!("It must be at least {MIN_ROWS} lines by {MIN_COLS} columns.");
        return 1;
    }
    if nomenu {
        // fault "nomenu": nothing is drawn; setup waits until it is killed
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    // cbreak, no echo (ncurses' mode for mconf); signals stay on, so setup can be interrupted
    let stdin = std::io::stdin();
    let saved = rustix::termios::tcgetattr(&stdin).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        raw.local_modes &=
            !(rustix::termios::LocalModes::ICANON | rustix::termios::LocalModes::ECHO);
        raw.special_codes[rustix::termios::SpecialCodeIndex::VMIN] = 1;
        raw.special_codes[rustix::termios::SpecialCodeIndex::VTIME] = 0;
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw);
    }
    let mut out = std::io::stdout();
    let mut app = App::new(facts, fault);
    app.theme = Theme::from_env(std::env::var("MENUCONFIG_COLOR").ok().as_deref());
    let visible = App::visible_rows(rows);
    // the alternate screen and keypad transmit mode, as ncurses' smcup and smkx for xterm (the
    // terminal then sends the arrows as ESC O A...; both forms are read)
    let _ = write!(out, "\x1b[?1049h\x1b[?1h\x1b={}", app.render(rows, cols));
    let _ = out.flush();
    let mut inp = stdin.lock();
    let end = loop {
        let Some(k) = read_key(&mut inp) else {
            break Outcome::Abort;
        };
        let Some(k) = k else { continue };
        match app.key(k, visible) {
            Outcome::Ignored => {}
            Outcome::Redraw => {
                let _ = write!(out, "{}", app.render(rows, cols));
                let _ = out.flush();
            }
            o => break o,
        }
    };
    drop(inp);
    let _ = write!(out, "\x1b[0m\x1b[H\x1b[2J\x1b[?1l\x1b>\x1b[?1049l");
    let _ = out.flush();
    if let Some(t) = &saved {
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, t);
    }
    if end != Outcome::Install {
        println!("{ABORTED}");
        return 1;
    }
    let g = match crate::fault_gate(&ctx.root, "setup", "setup") {
        Ok(g) => g,
        Err(c) => return c,
    };
    let plan = app.settings.plan(&app.facts);
    crate::setup::install(ctx, media_dir, mv, g, &plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn facts(installed: bool) -> Facts {
        Facts {
            version: "9.6.1".into(),
            build: "8580".into(),
            os: "Red Hat Enterprise Linux 8.9".into(),
            installed: installed.then(|| "9.4.0".to_string()),
            kits_installed: if installed {
                vec!["lkIP".into()]
            } else {
                vec![]
            },
            quorum_installed: installed,
            jre_present: false,
            media_kits: vec!["lkIP".into(), "lkNFS".into()],
        }
    }

    fn screen(app: &App) -> String {
        let n = |v| std::num::NonZeroU16::new(v).unwrap();
        let mut p = vt100::Parser::new(n(24), n(80), 0);
        p.process(app.render(24, 80).as_bytes());
        p.screen().contents()
    }

    #[test]
    fn upgrade_menu_hides_jre_and_startup_and_pre_ticks_quorum() {
        let app = App::new(facts(true), MenuFault::default());
        let s = screen(&app);
        assert!(
            s.contains("SIOS Protection Suite for Linux 9.6.1-8580 setup"),
            "{s}"
        );
        assert!(s.contains("*** Your OS is Red Hat Enterprise Linux 8.9 ***"));
        assert!(!s.contains("Java") && !s.contains("Startup"), "{s}");
        assert!(s.contains("[*] Use Quorum / Witness Functions"));
        assert!(s.contains("() Install License Key File(s)"));
        assert!(s.contains("<Select>    < Done >    < Help >    < Save >    < Load >"));
    }

    #[test]
    fn fresh_menu_shows_startup_only_once_a_license_is_entered() {
        let mut app = App::new(facts(false), MenuFault::default());
        assert!(screen(&app).contains("[ ] Install Java Runtime (JRE)"));
        assert!(!screen(&app).contains("Startup"));
        // down to the license item (comment, JRE, quorum, auth, license), Select, type, Ok
        for _ in 0..4 {
            assert_eq!(app.key(Key::Down, 5), Outcome::Redraw);
        }
        app.key(Key::Enter, 5);
        for c in "/l.lic".chars() {
            app.key(Key::Char(c), 5);
        }
        app.key(Key::Enter, 5);
        let s = screen(&app);
        assert!(s.contains("(/l.lic) Install License Key File(s)"), "{s}");
        assert!(s.contains("[*] LifeKeeper Startup After Install"), "{s}");
    }

    /// The one real title bar seen [AZ]: `SIOS Protection Suite for Linux 9.3.1-6750 setup`.
    #[test]
    fn title_bar_of_9_3_1_media_is_the_real_one() {
        let mut f = facts(true);
        f.version = "9.3.1".into();
        f.build = crate::versions::release_of("9.3.1");
        let app = App::new(f, MenuFault::default());
        assert_eq!(
            screen(&app).lines().next().unwrap().trim(),
            "SIOS Protection Suite for Linux 9.3.1-6750 setup"
        );
    }

    #[test]
    fn undocumented_keys_are_ignored() {
        let mut app = App::new(facts(true), MenuFault::default());
        for k in [Key::Char('x'), Key::Char('?'), Key::Backspace, Key::Up] {
            assert_eq!(app.key(k, 5), Outcome::Ignored, "{k:?}");
        }
    }

    #[test]
    fn kit_submenu_toggles_and_the_plan_removes_an_unticked_installed_kit() {
        let mut app = App::new(facts(true), MenuFault::default());
        // comment, quorum, auth, license, kits
        for _ in 0..4 {
            app.key(Key::Down, 5);
        }
        app.key(Key::Enter, 5);
        let s = screen(&app);
        assert!(s.contains("[*] IP Recovery Kit (steeleye-lkIP)"), "{s}");
        assert!(
            s.contains("[ ] NFS Server Recovery Kit (steeleye-lkNFS)"),
            "{s}"
        );
        assert!(s.contains("< Exit >"));
        app.key(Key::Char('n'), 5);
        app.key(Key::Down, 5);
        app.key(Key::Char(' '), 5);
        assert_eq!(app.settings.kits, BTreeSet::from(["lkNFS".to_string()]));
        let p = app.settings.plan(&app.facts);
        assert_eq!(p.remove_kits, vec!["lkIP".to_string()]);
        // Exit returns to the main menu
        app.key(Key::Right, 5);
        app.key(Key::Enter, 5);
        assert!(screen(&app).contains("Main configuration"));
    }

    #[test]
    fn done_confirms_and_cancel_returns() {
        let mut app = App::new(facts(true), MenuFault::default());
        app.key(Key::Right, 5);
        app.key(Key::Enter, 5);
        let s = screen(&app);
        assert!(
            s.contains("Would you like to start installing SPS for Linux"),
            "{s}"
        );
        // alone on a screen cleared to the back title (mconf's dialog_clear)
        assert!(s.contains("SIOS Protection Suite for Linux 9.6.1-8580 setup"));
        assert!(
            !s.contains("< Done >") && !s.contains("Main configuration"),
            "{s}"
        );
        // Left wraps from < Yes > to < Cancel >
        app.key(Key::Left, 5);
        assert_eq!(app.key(Key::Enter, 5), Outcome::Redraw, "Cancel");
        assert!(!screen(&app).contains("Would you like"));
        app.key(Key::Enter, 5);
        app.key(Key::Right, 5);
        assert_eq!(app.key(Key::Enter, 5), Outcome::Abort, "No");
    }

    #[test]
    fn read_key_knows_the_arrows_in_both_forms() {
        let mut b: &[u8] = b"\x1b[A\x1bOB\x1b[C\x1b[D\r \x7f\x1b[3~q";
        let mut v = vec![];
        while let Some(k) = read_key(&mut b) {
            v.push(k);
        }
        assert_eq!(
            v,
            vec![
                Some(Key::Up),
                Some(Key::Down),
                Some(Key::Right),
                Some(Key::Left),
                Some(Key::Enter),
                Some(Key::Char(' ')),
                Some(Key::Backspace),
                None,
                Some(Key::Char('q'))
            ]
        );
    }

    #[test]
    fn terms() {
        assert!(term_known(Some("xterm-256color")) && term_known(Some("vt100")));
        assert!(!term_known(None) && !term_known(Some("dumb")) && !term_known(Some("foo")));
    }
}

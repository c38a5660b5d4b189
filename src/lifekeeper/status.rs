//! `lcdstatus -e` (the short status display): its parser, the resource state and what counts as
//! "in service", and the one probe of the node (not installed / stopped / failed / up) every
//! module uses.
//!
//! The layout (reference lifekeeper.md §1.2, vendor docs 9.6.0/short-status-display):
//!
//! ```text
//! Resource Hierarchy Information
//!
//! BACKUP   TAG                ID          STATE     PRIO  PRIMARY
//! svr1     appfs3910-on-svr1  appfs4238   ISP          1  svr2
//! svr1      filesys4083       /jrl1       ISP          1  svr2
//!
//! Communication Status Information
//!
//! MACHINE  NETWORK ADDRESSES/DEVICE         STATE     PRIO
//! svr1     TCP     100.10.1.20/100.11.1.21  ALIVE        1
//! svr1     TTY     /dev/ttyS0               ALIVE       --
//! ```
//!
//! Column widths are computed per output by LifeKeeper, so nothing here relies on fixed widths.
//! A resource line is read from both ends: the first word is BACKUP (a node name or `------`),
//! the last three words are STATE, PRIO (a number) and PRIMARY; the TAG starts after BACKUP and
//! the ID is everything between TAG and STATE, so an ID may contain spaces. When the header's
//! `ID` column position is consistent with the line, the TAG/ID boundary is taken from it (this
//! keeps a tag with a space intact); otherwise the TAG is the second word.
//!
//! The hierarchy comes from indentation: a tag indented further than the line above is that
//! line's child; depth counts indentation levels, whatever the number of spaces per level.
//! A shared child is printed once (under its first parent), so `parent` is the parent shown.
//!
//! The parser is strict on purpose: a line it cannot read is an error naming the line, because a
//! silently dropped resource would make lk_resource or lk_upgrade act on a wrong picture.

use crate::runtime::{Cmd, Failure, Runner};
use serde::Serialize;
use std::path::Path;

/// One resource line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub tag: String,
    /// The resource's identifier string (may contain spaces, dots, slashes; may be empty).
    pub id: String,
    /// ISP, ISU, OSU, OSF, ILLSTATE (kept verbatim, e.g. UNKNOWN is passed through).
    pub state: String,
    /// This node's failover priority for the resource (1 = highest).
    pub prio: u32,
    /// The node with the highest priority for the resource.
    pub primary: String,
    /// The next node in priority order after this one; `None` when LifeKeeper shows `------`
    /// (this node is the lowest priority).
    pub backup: Option<String>,
    /// The tag this one is displayed under; `None` for a root hierarchy.
    pub parent: Option<String>,
    /// 0 for a root, 1 for its child, ...
    pub depth: usize,
}

/// A resource state as LifeKeeper shows it. `Resource::state` keeps the verbatim text (it is
/// shown and compared verbatim elsewhere); this is the typed reading of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// In service, protected.
    Isp,
    /// In service, unprotected.
    Isu,
    /// Out of service, unimpaired.
    Osu,
    /// Out of service, failed.
    Osf,
    /// LifeKeeper cannot tell (the state LifeKeeper prints as ILLSTATE).
    Illstate,
    /// Anything else, kept verbatim (e.g. UNKNOWN).
    Other(String),
}

impl State {
    pub fn of(s: &str) -> State {
        match s {
            "ISP" => State::Isp,
            "ISU" => State::Isu,
            "OSU" => State::Osu,
            "OSF" => State::Osf,
            "ILLSTATE" => State::Illstate,
            other => State::Other(other.to_string()),
        }
    }
    /// ISP or ISU: the resource is serving on this node (protected or not), so stopping or
    /// uninstalling LifeKeeper here would take it down.
    pub fn in_service(&self) -> bool {
        matches!(self, State::Isp | State::Isu)
    }
}

impl Resource {
    pub fn state(&self) -> State {
        State::of(&self.state)
    }
    /// See `State::in_service`.
    pub fn in_service(&self) -> bool {
        self.state().in_service()
    }
}

/// One communication path line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommPath {
    /// The remote node.
    pub machine: String,
    /// `TCP` or `TTY`.
    pub network: String,
    /// `localIP/remoteIP` for TCP, the device for TTY.
    pub address: String,
    /// ALIVE or DEAD (verbatim).
    pub state: String,
    /// Path priority; `None` for TTY paths (shown as `--`).
    pub prio: Option<u32>,
}

/// The whole short status display of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Status {
    pub resources: Vec<Resource>,
    pub comm_paths: Vec<CommPath>,
}

impl Status {
    /// Root hierarchies (depth 0), in display order.
    pub fn roots(&self) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(|r| r.depth == 0)
    }
    pub fn resource(&self, tag: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.tag == tag)
    }
    /// The root tag and every tag below it (depth-first, as displayed).
    pub fn hierarchy(&self, root: &str) -> Vec<&Resource> {
        let Some(start) = self.resources.iter().position(|r| r.tag == root) else {
            return vec![];
        };
        let base = self.resources[start].depth;
        let mut out = vec![&self.resources[start]];
        out.extend(
            self.resources[start + 1..]
                .iter()
                .take_while(|r| r.depth > base),
        );
        out
    }
    /// Comm paths to `machine`.
    pub fn paths_to<'a>(&'a self, machine: &'a str) -> impl Iterator<Item = &'a CommPath> + 'a {
        self.comm_paths.iter().filter(move |p| p.machine == machine)
    }
    /// The resources in service (ISP or ISU) on this node, in display order.
    pub fn in_service(&self) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(|r| r.in_service())
    }
    /// The remote nodes this node has comm paths to, in display order, without duplicates.
    pub fn peers(&self) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        for p in &self.comm_paths {
            if !out.contains(&p.machine) {
                out.push(p.machine.clone());
            }
        }
        out
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    Resources,
    Comm,
}

/// Column starts (in chars) read from the resource header line.
#[derive(Clone, Copy)]
struct Columns {
    id: usize,
}

/// Parse the output of `lcdstatus -e`.
pub fn parse(text: &str) -> Result<Status, String> {
    let mut st = Status::default();
    let mut section = Section::None;
    let mut res_header: Option<Columns> = None;
    let mut comm_header = false;
    let mut seen_anything = false;
    // (indent, tag) of the current line's ancestors, for parent/depth.
    let mut stack: Vec<(usize, String)> = vec![];
    // Tags seen so far: a set, so a 10,000-resource display is not quadratic to check.
    let mut tags: std::collections::HashSet<String> = std::collections::HashSet::new();

    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches(['\r', ' ', '\t']);
        let lineno = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match line.trim() {
            "Resource Hierarchy Information" => {
                section = Section::Resources;
                seen_anything = true;
                continue;
            }
            "Communication Status Information" => {
                section = Section::Comm;
                seen_anything = true;
                continue;
            }
            _ => {}
        }
        if words.len() >= 2 && matches!(words[0], "BACKUP" | "LOCAL") && words[1] == "TAG" {
            let chars: Vec<char> = line.chars().collect();
            let id = find_word(&chars, "ID").ok_or_else(|| {
                format!("line {lineno}: resource header without an ID column: {line:?}")
            })?;
            res_header = Some(Columns { id });
            section = Section::Resources;
            seen_anything = true;
            stack.clear();
            continue;
        }
        if words.len() >= 2 && words[0] == "MACHINE" && words[1] == "NETWORK" {
            comm_header = true;
            section = Section::Comm;
            seen_anything = true;
            continue;
        }
        match section {
            Section::Resources => {
                let Some(cols) = res_header else {
                    return Err(format!(
                        "line {lineno}: resource line before the BACKUP/TAG header: {line:?}"
                    ));
                };
                let r = parse_resource(line, cols, &mut stack)
                    .map_err(|e| format!("line {lineno}: {e}: {line:?}"))?;
                if !tags.insert(r.tag.clone()) {
                    return Err(format!("line {lineno}: tag {} listed twice", r.tag));
                }
                st.resources.push(r);
            }
            Section::Comm => {
                if !comm_header {
                    return Err(format!(
                        "line {lineno}: comm path line before the MACHINE/NETWORK header: {line:?}"
                    ));
                }
                st.comm_paths.push(
                    parse_comm(line).map_err(|e| format!("line {lineno}: {e}: {line:?}"))?,
                );
            }
            Section::None => {
                return Err(format!(
                    "line {lineno}: not lcdstatus -e output (expected \"Resource Hierarchy Information\"): {line:?}"
                ))
            }
        }
    }
    if !seen_anything {
        return Err("empty output: expected the lcdstatus -e short status display".into());
    }
    Ok(st)
}

/// Char index where `word` starts as a whole word in `chars`.
fn find_word(chars: &[char], word: &str) -> Option<usize> {
    let w: Vec<char> = word.chars().collect();
    (0..chars.len()).find(|&i| {
        chars[i..].starts_with(&w)
            && (i == 0 || chars[i - 1].is_whitespace())
            && chars.get(i + w.len()).is_none_or(|c| c.is_whitespace())
    })
}

/// Whitespace-separated words with their char spans [start, end).
fn spans(chars: &[char]) -> Vec<(usize, usize)> {
    let mut out = vec![];
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let s = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        out.push((s, i));
    }
    out
}

fn text(chars: &[char], from: usize, to: usize) -> String {
    chars[from..to]
        .iter()
        .collect::<String>()
        .trim()
        .to_string()
}

fn parse_resource(
    line: &str,
    cols: Columns,
    stack: &mut Vec<(usize, String)>,
) -> Result<Resource, String> {
    let chars: Vec<char> = line.chars().collect();
    let sp = spans(&chars);
    if sp.len() < 5 {
        return Err("expected BACKUP TAG [ID] STATE PRIO PRIMARY".into());
    }
    if chars[0].is_whitespace() {
        return Err("BACKUP column is empty".into());
    }
    let w = |k: usize| text(&chars, sp[k].0, sp[k].1);
    let n = sp.len();
    let backup = w(0);
    let primary = w(n - 1);
    let prio_s = w(n - 2);
    let prio: u32 = prio_s
        .parse()
        .map_err(|_| format!("PRIO {prio_s:?} is not a number"))?;
    let state = w(n - 3);
    if !state.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("STATE {state:?} is not a state"));
    }
    let state_start = sp[n - 3].0;
    let tag_start = sp[1].0;
    // Prefer the header's ID column for the TAG/ID boundary when the line agrees with it: the
    // character before it is blank and the tag text starts before it.
    let by_header = cols.id > tag_start
        && cols.id <= state_start
        && chars.get(cols.id - 1).is_some_and(|c| c.is_whitespace())
        && (cols.id == state_start || !chars[cols.id].is_whitespace());
    let (tag, id) = if by_header {
        (
            text(&chars, tag_start, cols.id),
            text(&chars, cols.id, state_start),
        )
    } else {
        if n - 3 < 2 {
            return Err("no TAG".into());
        }
        (w(1), text(&chars, sp[1].1, state_start))
    };
    if tag.is_empty() {
        return Err("no TAG".into());
    }
    // Indentation: pop ancestors that are not to the left of this tag.
    while stack.last().is_some_and(|(ind, _)| *ind >= tag_start) {
        stack.pop();
    }
    let parent = stack.last().map(|(_, t)| t.clone());
    let depth = stack.len();
    stack.push((tag_start, tag.clone()));
    Ok(Resource {
        tag,
        id,
        state,
        prio,
        primary,
        backup: if !backup.is_empty() && backup.chars().all(|c| c == '-') {
            None
        } else {
            Some(backup)
        },
        parent,
        depth,
    })
}

fn parse_comm(line: &str) -> Result<CommPath, String> {
    let chars: Vec<char> = line.chars().collect();
    let sp = spans(&chars);
    if sp.len() < 5 {
        return Err("expected MACHINE NETWORK ADDRESSES/DEVICE STATE PRIO".into());
    }
    let n = sp.len();
    let w = |k: usize| text(&chars, sp[k].0, sp[k].1);
    let prio_s = w(n - 1);
    let prio = if prio_s.chars().all(|c| c == '-') {
        None
    } else {
        Some(
            prio_s
                .parse()
                .map_err(|_| format!("PRIO {prio_s:?} is neither a number nor --"))?,
        )
    };
    let state = w(n - 2);
    if !state.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("STATE {state:?} is not a state"));
    }
    Ok(CommPath {
        machine: w(0),
        network: w(1),
        address: text(&chars, sp[2].0, sp[n - 2].0),
        state,
        prio,
    })
}

/// What a stopped node's `lcdstatus -q` prints (field evidence [MH], 9.8.1). Its stream and exit
/// code are not public, so it is recognised on stdout or stderr, with any exit code.
pub const NOT_RUNNING: &str = "LifeKeeper does not appear to be running.";

/// Does lcdstatus's output say that LifeKeeper is not running? The real sentence (`NOT_RUNNING`)
/// and, where other releases may word it otherwise (UNCONFIRMED, reference Gaps 2), the
/// plausible phrasings, matched case-insensitively. Only asked of an output that is not the
/// status display (a failed lcdstatus, or one whose output does not parse).
pub fn says_not_running(output: &str) -> bool {
    let o = output.to_ascii_lowercase();
    [
        "does not appear to be running",
        "not running",
        "is stopped",
        "lifekeeper is not started",
        "lcm is not",
        "lcd is not",
    ]
    .iter()
    .any(|p| o.contains(p))
}

/// What `lcdstatus -e` says about LifeKeeper on this node: the one probe of the node.
#[derive(Debug, Clone)]
pub enum Probe {
    /// lcdstatus cannot be found (no LifeKeeper at lkroot); the reason it could not be started.
    NotInstalled(String),
    /// lcdstatus failed saying LifeKeeper is not running.
    Stopped,
    /// lcdstatus failed otherwise, timed out, or printed something that is not the status
    /// display (cmd, rc and output tail in the failure's data).
    Failed(Failure),
    /// LifeKeeper runs; its status.
    Up(Status),
}

impl Probe {
    pub fn is_up(&self) -> bool {
        matches!(self, Probe::Up(_))
    }
    pub fn status(&self) -> Option<&Status> {
        match self {
            Probe::Up(s) => Some(s),
            _ => None,
        }
    }
    /// The status, `None` when LifeKeeper is not installed or not running, the failure otherwise.
    pub fn into_result(self) -> Result<Option<Status>, Failure> {
        match self {
            Probe::Up(s) => Ok(Some(s)),
            Probe::NotInstalled(_) | Probe::Stopped => Ok(None),
            Probe::Failed(f) => Err(f),
        }
    }
}

/// Whether this node has the vendor's own "is it running" probe, `$LKROOT/bin/lktest`.
pub fn has_lktest(lkroot: &Path) -> bool {
    lkroot.join("bin/lktest").is_file()
}

/// The warning modules give when they had to fall back to matching lcdstatus's wording.
pub fn lktest_missing_warning(lkroot: &Path) -> Option<String> {
    (!has_lktest(lkroot) && lkroot.join("bin/lcdstatus").is_file()).then(|| {
        format!(
            "{}/bin/lktest is missing: whether LifeKeeper runs was judged from lcdstatus's message wording (UNCONFIRMED)",
            lkroot.display()
        )
    })
}

/// Is LifeKeeper running, by the vendor's own probe: `$LKROOT/bin/lktest` exits 0 [field
/// evidence, AWS scripts]; any other exit is "not running". `None` when lktest is missing (older
/// or partial installs: callers fall back to the lcdstatus wording and say so), cannot run or did
/// not answer in time. UNCONFIRMED: what lktest prints, and whether an exit other than 0/1 can
/// mean anything but "not running".
pub fn lktest(runner: &Runner, lkroot: &Path) -> Option<bool> {
    if !has_lktest(lkroot) {
        return None;
    }
    runner
        .run(&Cmd::lk(lkroot, "lktest").timeout(std::time::Duration::from_secs(60)))
        .ok()
        .filter(|o| !o.timed_out)
        .map(|o| o.rc == 0)
}

/// Wait until start-up has finished (`$LKROOT/config/LK_INITDONE` exists), up to `timeout`,
/// saying so on stderr every 10 s. The vendor's scripts wait the same way after `lkstart`.
pub fn wait_initdone(
    lkroot: &Path,
    timeout: std::time::Duration,
    progress: &dyn Fn(&str),
) -> Result<(), String> {
    let flag = lkroot.join("config/LK_INITDONE");
    let start = std::time::Instant::now();
    let mut said = std::time::Duration::ZERO;
    while !flag.exists() {
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(format!(
                "{} did not appear within {} s of the start (start_timeout)",
                flag.display(),
                timeout.as_secs()
            ));
        }
        if waited >= said {
            progress(&format!(
                "waiting for {} ({} s of {} s)",
                flag.display(),
                waited.as_secs(),
                timeout.as_secs()
            ));
            said += std::time::Duration::from_secs(10);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(())
}

/// Probe LifeKeeper on this node: `lktest` decides whether it runs (where lktest exists; else
/// lcdstatus's failure wording, the fallback), then `<lkroot>/bin/lcdstatus -e` gives the status.
pub fn probe(runner: &Runner, lkroot: &Path) -> Probe {
    match lktest(runner, lkroot) {
        Some(false) => return Probe::Stopped,
        Some(true) => {
            return match runner.run(&Cmd::lk(lkroot, "lcdstatus").arg("-e")) {
                Err(e) => Probe::Failed(e.into()),
                Ok(out) if !out.ok() => Probe::Failed(out.failure("reading the resource status")),
                Ok(out) => interpret(out),
            }
        }
        None => {}
    }
    match runner.run(&Cmd::lk(lkroot, "lcdstatus").arg("-e")) {
        Err(e) if e.not_found => Probe::NotInstalled(e.msg),
        Err(e) => Probe::Failed(e.into()),
        Ok(out) => interpret(out),
    }
}

fn interpret(out: crate::runtime::CmdOutput) -> Probe {
    let says_stopped =
        || !out.timed_out && says_not_running(&format!("{}\n{}", out.stdout, out.stderr));
    if !out.ok() {
        if says_stopped() {
            return Probe::Stopped;
        }
        return Probe::Failed(out.failure("reading the resource status"));
    }
    match parse(&out.stdout) {
        Ok(s) => Probe::Up(s),
        // A stopped node's sentence with exit 0 (its exit code is not public): stopped, never a
        // status with no resources. A display that parses always wins over the wording.
        Err(_) if says_stopped() => Probe::Stopped,
        Err(e) => Probe::Failed(
            Failure::new(format!("cannot parse `{}`: {e}", out.cmd.join(" ")))
                .with("cmd", serde_json::json!(out.cmd))
                .with("rc", out.rc)
                .with("stdout_tail", out.tail()),
        ),
    }
}

/// Run `<lkroot>/bin/lcdstatus -e` and parse it. `Ok(None)` when LifeKeeper is not running
/// (lcdstatus fails saying so); a `Failure` (cmd, rc, output tail) when lcdstatus is missing, fails otherwise, or prints
/// something that is not the short status display.
pub fn read(runner: &Runner, lkroot: &Path) -> Result<Option<Status>, Failure> {
    if lktest(runner, lkroot) == Some(false) {
        return Ok(None);
    }
    read_cmd(runner, Cmd::lk(lkroot, "lcdstatus").arg("-e"))
}

/// The same for any command that prints `lcdstatus -e` output (e.g. through `lcdremexec`).
pub fn read_cmd(runner: &Runner, cmd: Cmd) -> Result<Option<Status>, Failure> {
    match interpret(runner.run(&cmd)?) {
        Probe::NotInstalled(_) | Probe::Stopped => Ok(None),
        Probe::Failed(f) => Err(f),
        Probe::Up(s) => Ok(Some(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vendor sample, docs 9.6.0/short-status-display (reference §1.2), verbatim; one file
    /// shared with lksim's layout test.
    const VENDOR: &str = include_str!("../../tests/fixtures/lcdstatus-e.vendor.txt");

    fn res(
        tag: &str,
        id: &str,
        state: &str,
        backup: Option<&str>,
        parent: Option<&str>,
        depth: usize,
    ) -> Resource {
        Resource {
            tag: tag.into(),
            id: id.into(),
            state: state.into(),
            prio: 1,
            primary: "svr2".into(),
            backup: backup.map(String::from),
            parent: parent.map(String::from),
            depth,
        }
    }

    #[test]
    fn vendor_sample_parses_exactly() {
        let st = parse(VENDOR).unwrap();
        assert_eq!(
            st.resources,
            vec![
                res(
                    "appfs3910-on-svr1",
                    "appfs4238",
                    "ISP",
                    Some("svr1"),
                    None,
                    0
                ),
                res(
                    "filesys4083",
                    "/jrl1",
                    "ISP",
                    Some("svr1"),
                    Some("appfs3910-on-svr1"),
                    1
                ),
                res(
                    "device2126",
                    "000…300-1",
                    "ISP",
                    Some("svr1"),
                    Some("filesys4083"),
                    2
                ),
                res(
                    "disk2083",
                    "000…300",
                    "ISP",
                    Some("svr1"),
                    Some("device2126"),
                    3
                ),
            ]
        );
        assert_eq!(
            st.comm_paths,
            vec![
                CommPath {
                    machine: "svr1".into(),
                    network: "TCP".into(),
                    address: "100.10.1.20/100.11.1.21".into(),
                    state: "ALIVE".into(),
                    prio: Some(1)
                },
                CommPath {
                    machine: "svr1".into(),
                    network: "TTY".into(),
                    address: "/dev/ttyS0".into(),
                    state: "ALIVE".into(),
                    prio: None
                },
            ]
        );
        assert_eq!(
            st.roots().map(|r| r.tag.as_str()).collect::<Vec<_>>(),
            vec!["appfs3910-on-svr1"]
        );
        assert_eq!(st.hierarchy("filesys4083").len(), 3);
        assert_eq!(st.peers(), vec!["svr1".to_string()]);
    }

    #[test]
    fn deep_and_branching_hierarchies_with_shared_widths() {
        // Two roots; the second branches (two children at depth 1, one of which has its own
        // subtree), ids with spaces and dots, the lowest-priority node shows ------ as BACKUP,
        // OSU/OSF/ILLSTATE states, and wider columns than the vendor sample.
        let text = "Resource Hierarchy Information

BACKUP         TAG                          ID                                  STATE     PRIO  PRIMARY
------         ip-10.0.0.50                 IP-10.0.0.50                        OSU         10  node-a.example.com
------         pgsql-5432                   /var/lib/pgsql/data  (PostgreSQL)   OSF         10  node-a.example.com
------          fs-pgdata                   /var/lib/pgsql                      OSU         10  node-a.example.com
------           dev-sdb1                   6001405a8c9e3b4f2d1e.1              OSU         10  node-a.example.com
------            disk-sdb                  6001405a8c9e3b4f2d1e                ILLSTATE    10  node-a.example.com
------          ip-10.0.0.51                IP-10.0.0.51                        OSU        100  node-a.example.com
------         gen app                      my app id                           ISU         10  node-a.example.com

Communication Status Information

MACHINE        NETWORK ADDRESSES/DEVICE               STATE     PRIO
node-a.example.com TCP 192.168.10.2/192.168.10.1      DEAD         1
node-a         TCP     10.1.1.2/10.1.1.1              ALIVE       12
node-a         TTY     /dev/ttyUSB0                   DEAD        --
";
        let st = parse(text).unwrap();
        type Row<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, usize, u32);
        let got: Vec<Row> = st
            .resources
            .iter()
            .map(|r| {
                (
                    r.tag.as_str(),
                    r.id.as_str(),
                    r.state.as_str(),
                    r.parent.as_deref(),
                    r.depth,
                    r.prio,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("ip-10.0.0.50", "IP-10.0.0.50", "OSU", None, 0, 10),
                (
                    "pgsql-5432",
                    "/var/lib/pgsql/data  (PostgreSQL)",
                    "OSF",
                    None,
                    0,
                    10
                ),
                (
                    "fs-pgdata",
                    "/var/lib/pgsql",
                    "OSU",
                    Some("pgsql-5432"),
                    1,
                    10
                ),
                (
                    "dev-sdb1",
                    "6001405a8c9e3b4f2d1e.1",
                    "OSU",
                    Some("fs-pgdata"),
                    2,
                    10
                ),
                (
                    "disk-sdb",
                    "6001405a8c9e3b4f2d1e",
                    "ILLSTATE",
                    Some("dev-sdb1"),
                    3,
                    10
                ),
                (
                    "ip-10.0.0.51",
                    "IP-10.0.0.51",
                    "OSU",
                    Some("pgsql-5432"),
                    1,
                    100
                ),
                ("gen app", "my app id", "ISU", None, 0, 10),
            ]
        );
        assert!(st.resources.iter().all(|r| r.backup.is_none()));
        assert!(st
            .resources
            .iter()
            .all(|r| r.primary == "node-a.example.com"));
        assert_eq!(
            st.hierarchy("pgsql-5432")
                .iter()
                .map(|r| r.tag.as_str())
                .collect::<Vec<_>>(),
            vec![
                "pgsql-5432",
                "fs-pgdata",
                "dev-sdb1",
                "disk-sdb",
                "ip-10.0.0.51"
            ]
        );
        // A machine name wider than its column still parses (words, not widths).
        assert_eq!(st.comm_paths[0].machine, "node-a.example.com");
        assert_eq!(st.comm_paths[0].address, "192.168.10.2/192.168.10.1");
        assert_eq!(st.comm_paths[1].prio, Some(12));
        assert_eq!(st.comm_paths[2].prio, None);
        assert_eq!(st.peers(), vec!["node-a.example.com", "node-a"]);
    }

    #[test]
    fn id_with_spaces_when_the_header_does_not_line_up() {
        // A header whose ID column does not line up with the data (e.g. a tag wider than its
        // column): fall back to words; the ID keeps its inner spaces.
        let text = "Resource Hierarchy Information

BACKUP TAG ID STATE PRIO PRIMARY
node-b  averyveryverylongtag-0001 Volume Group vg01 ISP 1 node-a
node-b   child.tag.2 0000-1111 OSU 2 node-a
";
        let st = parse(text).unwrap();
        assert_eq!(st.resources[0].tag, "averyveryverylongtag-0001");
        assert_eq!(st.resources[0].id, "Volume Group vg01");
        assert_eq!(st.resources[1].tag, "child.tag.2");
        assert_eq!(
            st.resources[1].parent.as_deref(),
            Some("averyveryverylongtag-0001")
        );
        assert_eq!(st.resources[1].prio, 2);
        assert!(st.comm_paths.is_empty());
    }

    #[test]
    fn empty_id_and_empty_sections() {
        let text = "Resource Hierarchy Information

BACKUP  TAG     ID  STATE     PRIO  PRIMARY
b       app1        ISP          1  a

Communication Status Information

MACHINE NETWORK ADDRESSES/DEVICE STATE PRIO
";
        let st = parse(text).unwrap();
        assert_eq!(st.resources[0].tag, "app1");
        assert_eq!(st.resources[0].id, "");
        let none = parse(
            "Resource Hierarchy Information\n\nBACKUP TAG ID STATE PRIO PRIMARY\n\nCommunication Status Information\n\nMACHINE NETWORK ADDRESSES/DEVICE STATE PRIO\n",
        )
        .unwrap();
        assert_eq!(none, Status::default());
    }

    #[test]
    fn garbage_is_an_error_naming_the_line_never_a_silent_drop() {
        let e = parse("").unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = parse("LifeKeeper is not running\n").unwrap_err();
        assert!(e.starts_with("line 1:"), "{e}");
        let bad_prio = VENDOR.replace(
            "ISP          1  svr2\nsvr1      filesys",
            "ISP          x  svr2\nsvr1      filesys",
        );
        let e = parse(&bad_prio).unwrap_err();
        assert!(e.starts_with("line 4:") && e.contains("PRIO"), "{e}");
        let e = parse("Resource Hierarchy Information\nsvr1 a b ISP 1 svr2\n").unwrap_err();
        assert!(e.contains("header"), "{e}");
        let e = parse(&VENDOR.replace("ALIVE       --", "ALIVE       x1")).unwrap_err();
        assert!(e.contains("PRIO"), "{e}");
    }

    #[test]
    fn crlf_and_trailing_spaces_are_tolerated() {
        let st = parse(&VENDOR.replace('\n', "  \r\n")).unwrap();
        assert_eq!(st.resources.len(), 4);
        assert_eq!(st.resources[3].depth, 3);
        assert_eq!(st.comm_paths.len(), 2);
    }

    #[test]
    fn not_running_wording() {
        assert!(says_not_running("lcdstatus: LifeKeeper is not running"));
        assert!(says_not_running(NOT_RUNNING));
        assert!(!says_not_running("lcdstatus: permission denied"));
    }

    fn ran(rc: i32, stdout: &str, stderr: &str) -> crate::runtime::CmdOutput {
        crate::runtime::CmdOutput {
            cmd: vec!["/opt/LifeKeeper/bin/lcdstatus".into(), "-q".into()],
            rc,
            stdout: stdout.into(),
            stderr: stderr.into(),
            timed_out: false,
            truncated: false,
        }
    }

    /// Regression: the real stopped sentence (field evidence [MH]) was not recognised, and its
    /// stream and exit code are not public. Every variant is "stopped", never a status with no
    /// resources (exit 0) nor a failure (exit 1).
    #[test]
    fn stopped_sentence_is_stopped_on_either_stream_with_any_exit_code() {
        let line = format!("{NOT_RUNNING}\n");
        for (rc, out, err) in [
            (0, line.as_str(), ""),
            (1, line.as_str(), ""),
            (0, "", line.as_str()),
            (1, "", line.as_str()),
            (3, "", line.as_str()),
        ] {
            assert!(
                matches!(interpret(ran(rc, out, err)), Probe::Stopped),
                "rc={rc} stdout={out:?} stderr={err:?}"
            );
        }
        // A display that parses wins over any wording; a timed-out run is never "stopped".
        assert!(interpret(ran(0, VENDOR, NOT_RUNNING)).is_up());
        let mut t = ran(1, &line, "");
        t.timed_out = true;
        assert!(matches!(interpret(t), Probe::Failed(_)));
        // Something else that does not parse, with exit 0, is still a failure.
        assert!(matches!(
            interpret(ran(0, "lcdstatus: permission denied\n", "")),
            Probe::Failed(_)
        ));
    }

    /// A running node with no resource and no comm path prints the header alone (field
    /// evidence [MH], verbatim): an empty status, not an error.
    #[test]
    fn header_alone_is_an_empty_status() {
        for q in [
            "LOCAL      TAG   ID    STATE     PRIO  PRIMARY\n",
            "LOCAL       TAG   ID    STATE     PRIO  PRIMARY\n",
            "BACKUP    TAG   ID    STATE     PRIO  PRIMARY\n",
        ] {
            assert_eq!(parse(q).unwrap(), Status::default(), "{q:?}");
            assert!(interpret(ran(0, q, "")).is_up());
        }
    }

    #[test]
    fn serializes_with_null_for_dashes() {
        let st = parse(VENDOR).unwrap();
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(v["comm_paths"][1]["prio"], serde_json::Value::Null);
        assert_eq!(v["resources"][0]["parent"], serde_json::Value::Null);
        assert_eq!(v["resources"][1]["parent"], "appfs3910-on-svr1");
    }
}

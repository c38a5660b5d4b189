//! `lksim twin create|check --from CAPTURE_DIR --dir DIR` (issue 18): a simulated twin of a real
//! cluster, rebuilt from what `lk_capture` (or an administrator's paste) recorded on each node.
//!
//! CAPTURE_DIR holds one folder per node; only `lcdstatus-e.out` and `rpm-qa.out` are required
//! in each. The other files refine the twin: `lcdstatus.out` (types, apps, every dependency,
//! equivalencies), `defaults.txt`, `getenforce.out`, `license-files.txt`, `manifest.json` (the
//! node's LifeKeeper name). At the top, `nodes.txt` (the inventory order, one name a line) and
//! `vars.json` (the real inventory's lk_* variables) are optional too. Everything not captured
//! is guessed, and every guess is reported.
//!
//! The parsers here are lksim's own (lksim does not link lkops): a second, independent reading of
//! the same outputs, so a capture that only one of them reads is itself a finding.
//!
//! A twin's cluster dir has `.lksim/twin.json`; in a twin every `perform_action` appends the
//! placement changes it caused to `.lksim/journal.jsonl`, so a test can compare what a run
//! really switched with what a report says it switched.

use crate::model::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn die(msg: &str) -> i32 {
    eprintln!("lksim twin: {msg}");
    1
}

pub fn main(args: &[String]) -> i32 {
    let (sub, rest) = match args.split_first() {
        Some((s, r)) => (s.as_str(), r),
        None => return die("usage: lksim twin create|check --from CAPTURE_DIR --dir DIR"),
    };
    let opt = match options(rest) {
        Ok(o) => o,
        Err(e) => return die(&e),
    };
    let (Some(from), Some(dir)) = (opt.get("from"), opt.get("dir")) else {
        return die(&format!(
            "usage: lksim twin {sub} --from CAPTURE_DIR --dir DIR"
        ));
    };
    match sub {
        "create" => create(Path::new(from), Path::new(dir), &opt),
        "check" => check(Path::new(from), Path::new(dir), opt.contains_key("exact")),
        _ => die("usage: lksim twin create|check --from CAPTURE_DIR --dir DIR"),
    }
}

fn options(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    const FLAGS: &[&str] = &["force", "exact"];
    const VALUED: &[&str] = &["from", "dir", "cluster", "media", "inventory", "order"];
    let mut o = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let k = args[i]
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {:?}", args[i]))?;
        if FLAGS.contains(&k) {
            o.insert(k.to_string(), String::new());
        } else if VALUED.contains(&k) {
            let v = args
                .get(i + 1)
                .ok_or_else(|| format!("--{k} needs a value"))?;
            o.insert(k.to_string(), v.clone());
            i += 1;
        } else {
            return Err(format!("unknown option --{k}"));
        }
        i += 1;
    }
    Ok(o)
}

// ------------------------------------------------------------------ parsers

/// One resource line of the short display.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub first: String,
    pub tag: String,
    pub depth: usize,
    pub id: String,
    pub state: String,
    pub prio: u32,
    pub primary: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PathLine {
    pub machine: String,
    pub network: String,
    pub address: String,
    pub state: String,
    pub prio: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Short {
    pub rows: Vec<Row>,
    pub paths: Vec<PathLine>,
}

/// Parse `lcdstatus -e` or `-q`. Widths are computed per output (field evidence), so columns are
/// found from both ends of the line: first word, then STATE PRIO PRIMARY from the right; the TAG
/// starts at its indentation and the header's ID column separates TAG from ID when it can.
pub fn parse_short(text: &str) -> Result<Short, (usize, String)> {
    #[derive(PartialEq)]
    enum Sec {
        None,
        Res,
        Comm,
    }
    let mut s = Short::default();
    let mut sec = Sec::None;
    let mut tag_col: Option<usize> = None;
    let mut id_col: Option<usize> = None;
    let mut comm_header = false;
    let mut seen = false;
    // indentation of each depth level seen so far
    let mut levels: Vec<usize> = vec![];
    for (n, raw) in text.lines().enumerate() {
        let ln = n + 1;
        let line = raw.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        match line.trim() {
            "Resource Hierarchy Information" => {
                sec = Sec::Res;
                seen = true;
                continue;
            }
            "Communication Status Information" => {
                sec = Sec::Comm;
                seen = true;
                continue;
            }
            _ => {}
        }
        let chars: Vec<char> = line.chars().collect();
        let words = spans(&chars);
        let word = |k: usize| -> String { chars[words[k].0..words[k].1].iter().collect() };
        if words.len() >= 2 && matches!(word(0).as_str(), "BACKUP" | "LOCAL") && word(1) == "TAG" {
            tag_col = Some(words[1].0);
            id_col = (2..words.len())
                .find(|&k| word(k) == "ID")
                .map(|k| words[k].0);
            sec = Sec::Res;
            seen = true;
            levels.clear();
            continue;
        }
        if words.len() >= 2 && word(0) == "MACHINE" && word(1) == "NETWORK" {
            comm_header = true;
            sec = Sec::Comm;
            seen = true;
            continue;
        }
        match sec {
            Sec::Res => {
                let Some(tc) = tag_col else {
                    return Err((ln, "resource line before the BACKUP/TAG header".into()));
                };
                if words.len() < 5 {
                    return Err((ln, format!("too few columns in a resource line: {line:?}")));
                }
                let k = words.len();
                let prio: u32 = word(k - 2)
                    .parse()
                    .map_err(|_| (ln, format!("PRIO is not a number: {line:?}")))?;
                let tag_start = words[1].0;
                if tag_start < tc {
                    return Err((ln, format!("TAG starts left of the TAG column: {line:?}")));
                }
                let indent = tag_start - tc;
                let depth = match levels.iter().position(|&l| l == indent) {
                    Some(d) => {
                        levels.truncate(d + 1);
                        d
                    }
                    None if levels.last().is_none_or(|&l| indent > l) => {
                        levels.push(indent);
                        levels.len() - 1
                    }
                    None => {
                        return Err((ln, format!("indentation matches no level above: {line:?}")))
                    }
                };
                // TAG/ID boundary: the header's ID column when a word starts exactly there.
                let state_start = words[k - 3].0;
                let id_word = id_col
                    .and_then(|c| (2..k - 3).find(|&j| words[j].0 == c))
                    .unwrap_or(2);
                let tag_end = if id_word < k - 3 {
                    words[id_word - 1].1
                } else {
                    words[1].1
                };
                let tag: String = chars[tag_start..tag_end].iter().collect();
                let id: String = if id_word < k - 3 {
                    chars[words[id_word].0..state_start]
                        .iter()
                        .collect::<String>()
                        .trim()
                        .to_string()
                } else {
                    String::new()
                };
                s.rows.push(Row {
                    first: word(0),
                    tag,
                    depth,
                    id,
                    state: word(k - 3),
                    prio,
                    primary: word(k - 1),
                });
            }
            Sec::Comm => {
                if !comm_header {
                    return Err((ln, "comm path line before the MACHINE/NETWORK header".into()));
                }
                if words.len() < 5 {
                    return Err((ln, format!("too few columns in a comm path line: {line:?}")));
                }
                let k = words.len();
                let p = word(k - 1);
                let prio = if p == "--" {
                    None
                } else {
                    Some(
                        p.parse()
                            .map_err(|_| (ln, format!("comm path PRIO is not a number: {line:?}")))?,
                    )
                };
                s.paths.push(PathLine {
                    machine: word(0),
                    network: word(1),
                    address: chars[words[2].0..words[k - 3].1].iter().collect(),
                    state: word(k - 2),
                    prio,
                });
            }
            Sec::None => {
                return Err((
                    ln,
                    format!("not lcdstatus short display output (no \"Resource Hierarchy Information\"): {line:?}"),
                ))
            }
        }
    }
    if !seen {
        return Err((
            1,
            "empty: expected the lcdstatus -e short status display".into(),
        ));
    }
    Ok(s)
}

fn spans(chars: &[char]) -> Vec<(usize, usize)> {
    let mut out = vec![];
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let st = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        out.push((st, i));
    }
    out
}

/// One resource block of the detailed display.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    pub tag: String,
    pub id: String,
    pub app: String,
    pub rtype: String,
    pub state: String,
    pub depends: Vec<String>,
    pub prio: Option<u32>,
    pub equivs: Vec<(String, String, u32)>,
}

/// The detailed display, free-form: the real one-line `<tag>: id=... app=... type=... state=...`
/// and lksim's `<tag>:` + `    id=...` forms; unknown lines are skipped.
pub fn parse_detailed(text: &str) -> Result<Vec<Block>, (usize, String)> {
    let mut out: Vec<Block> = vec![];
    let mut pending: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let ln = n + 1;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        let at = if t.starts_with("id=") {
            Some(0)
        } else {
            t.find(": id=").map(|i| i + 2)
        };
        if let Some(at) =
            at.filter(|_| t.contains(" app=") && t.contains(" type=") && t.contains(" state="))
        {
            let tag = if at == 0 {
                pending.take().ok_or((
                    ln,
                    "resource attributes without a `<tag>:` line".to_string(),
                ))?
            } else {
                t[..at - 2].to_string()
            };
            let a = &t[at + 3..];
            let cut = |s: &str, k: &str| {
                s.rfind(k)
                    .map(|i| (s[..i].to_string(), s[i + k.len()..].to_string()))
            };
            let (r, state) = cut(a, " state=").ok_or((ln, "no state=".to_string()))?;
            let (r, rtype) = cut(&r, " type=").ok_or((ln, "no type=".to_string()))?;
            let (id, app) = cut(&r, " app=").ok_or((ln, "no app=".to_string()))?;
            out.push(Block {
                tag,
                id,
                app,
                rtype,
                state: state.split_whitespace().next().unwrap_or("").to_string(),
                ..Default::default()
            });
            continue;
        }
        pending = None;
        if let Some(tag) = t.strip_suffix(':') {
            if !tag.contains(' ') {
                pending = Some(tag.to_string());
            }
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if let Some(v) = t.strip_prefix("depends on resources:") {
            cur.depends = v
                .split([',', ' '])
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
        } else if let Some(v) = t.strip_prefix("Local priority =") {
            cur.prio = Some(
                v.trim()
                    .parse()
                    .map_err(|_| (ln, format!("bad priority: {t:?}")))?,
            );
        } else if let Some(v) = t.strip_prefix("SHARED equivalency with ") {
            let q: Vec<&str> = v.split('"').collect();
            let prio = q
                .get(4)
                .and_then(|r| r.rsplit('=').next())
                .and_then(|p| p.trim().parse().ok());
            match (q.get(1), q.get(3), prio) {
                (Some(tag), Some(node), Some(p)) => {
                    cur.equivs.push((tag.to_string(), node.to_string(), p))
                }
                _ => return Err((ln, format!("unreadable equivalency: {t:?}"))),
            }
        }
    }
    Ok(out)
}

/// Plain `rpm -qa`: name-version-release.arch per line.
pub fn parse_rpm(text: &str) -> Result<Vec<Package>, (usize, String)> {
    let mut out = vec![];
    for (n, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() {
            continue;
        }
        let bad = || (n + 1, format!("not name-version-release.arch: {l:?}"));
        let (rest, arch) = l.rsplit_once('.').ok_or_else(bad)?;
        let (rest, release) = rest.rsplit_once('-').ok_or_else(bad)?;
        let (name, version) = rest.rsplit_once('-').ok_or_else(bad)?;
        if [name, version, release, arch].iter().any(|x| x.is_empty()) || arch.contains('-') {
            return Err(bad());
        }
        out.push(Package {
            name: name.into(),
            version: version.into(),
            release: release.into(),
            arch: arch.into(),
        });
    }
    Ok(out)
}

// ------------------------------------------------------------------ the capture

struct NodeCap {
    name: String,
    dir: PathBuf,
    short: Short,
    detailed: Option<Vec<Block>>,
    packages: Vec<Package>,
    version: String,
    running: bool,
    /// unowned-files.txt read and checked: (size, path relative to $LKROOT).
    unowned: Vec<(u64, PathBuf)>,
}

/// A capture file's text, never through a symbolic link (`safe::read_no_follow`); None when it
/// is missing or unreadable. `read_capture` has already refused a capture holding links.
fn read_opt(p: &Path) -> Option<String> {
    crate::safe::read_no_follow(p).ok().flatten()
}

/// Placeholders of files no package owned are written sparse (nothing of their size is ever
/// allocated, issue 28 W5), but the twin's own tools read them (rmlk, the site-files archive
/// before it): one larger than this, or all of them together larger than [`MAX_UNOWNED_TOTAL`],
/// refuses the capture rather than let a rehearsal read terabytes.
pub const MAX_UNOWNED_FILE: u64 = 1 << 30;
pub const MAX_UNOWNED_TOTAL: u64 = 4 << 30;

/// The entries of a capture directory, refusing a symbolic link or anything but a regular file
/// or a directory (issue 28 S3: a capture's links are never followed).
fn capture_entries(d: &Path) -> Result<Vec<(PathBuf, bool)>, String> {
    let rd = fs::read_dir(d).map_err(|e| format!("{}: {e}", d.display()))?;
    let mut out = vec![];
    for e in rd {
        let e = e.map_err(|e| format!("{}: {e}", d.display()))?;
        let ft = e
            .file_type()
            .map_err(|x| format!("{}: {x}", e.path().display()))?;
        if ft.is_symlink() {
            return Err(format!(
                "{}: a symbolic link in the capture (a capture holds plain files; links are never followed)",
                e.path().display()
            ));
        }
        if !ft.is_dir() && !ft.is_file() {
            return Err(format!(
                "{}: not a plain file or folder",
                e.path().display()
            ));
        }
        out.push((e.path(), ft.is_dir()));
    }
    out.sort();
    Ok(out)
}

/// unowned-files.txt (`SIZE PATH` a line, PATH under the captured $LKROOT): each path must stay
/// under $LKROOT (`safe::relative_under`) and the sizes within the bounds; lines that name no
/// file under `cap_lk` are skipped as before.
fn parse_unowned(file: &Path, text: &str, cap_lk: &str) -> Result<Vec<(u64, PathBuf)>, String> {
    let mut out = vec![];
    let mut total: u64 = 0;
    for (n, l) in text.lines().enumerate() {
        let Some((size, path)) = l.trim().split_once(' ') else {
            continue;
        };
        let Some(rel) = path.strip_prefix(cap_lk).and_then(|p| p.strip_prefix('/')) else {
            continue;
        };
        let size: u64 = size.parse().map_err(|_| {
            format!(
                "{}:{}: size {size:?} is not a number",
                file.display(),
                n + 1
            )
        })?;
        let rel = crate::safe::relative_under(rel).ok_or_else(|| {
            format!(
                "{}:{}: {path:?} does not stay under $LKROOT",
                file.display(),
                n + 1
            )
        })?;
        total = total.saturating_add(size);
        if size > MAX_UNOWNED_FILE || total > MAX_UNOWNED_TOTAL {
            return Err(format!(
                "{}:{}: {size} bytes: the twin refuses placeholders over {MAX_UNOWNED_FILE} bytes each or {MAX_UNOWNED_TOTAL} in all (its tools would read them)",
                file.display(),
                n + 1
            ));
        }
        out.push((size, rel));
    }
    Ok(out)
}

fn at(p: &Path, (line, msg): (usize, String)) -> String {
    format!("{}:{line}: {msg}", p.display())
}

/// Read and parse every node folder; an unreadable capture is refused naming file and line.
fn read_capture(
    from: &Path,
    order: Option<&str>,
    guesses: &mut Vec<String>,
) -> Result<Vec<NodeCap>, String> {
    let dirs: Vec<PathBuf> = capture_entries(from)?
        .into_iter()
        .filter(|(_, is_dir)| *is_dir)
        .map(|(p, _)| p)
        .collect();
    if dirs.is_empty() {
        return Err(format!(
            "{}: no node folders (one folder per node, each with lcdstatus-e.out and rpm-qa.out)",
            from.display()
        ));
    }
    let mut caps = vec![];
    for d in dirs {
        capture_entries(&d)?;
        let e_file = d.join("lcdstatus-e.out");
        let r_file = d.join("rpm-qa.out");
        for f in [&e_file, &r_file] {
            if !f.is_file() {
                return Err(format!("{}: missing (lcdstatus-e.out and rpm-qa.out are required in every node folder)", f.display()));
            }
        }
        let manifest: Option<Value> =
            read_opt(&d.join("manifest.json")).and_then(|t| serde_json::from_str(&t).ok());
        let name = manifest
            .as_ref()
            .and_then(|m| m["node"].as_str().map(String::from))
            .unwrap_or_else(|| {
                d.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            });
        // The name becomes the twin node's root folder and goes into its scripts (S2, S3).
        crate::safe::path_name("node name", &name).map_err(|e| format!("{}: {e}", d.display()))?;
        if manifest.is_none() {
            guesses.push(format!(
                "{name}: no manifest.json, the node's name is taken from its folder name"
            ));
        }
        let e_rc = manifest.as_ref().and_then(|m| {
            m["commands"]
                .as_array()?
                .iter()
                .find(|c| c["file"] == "lcdstatus-e.out")?["rc"]
                .as_i64()
        });
        let e_text =
            read_opt(&e_file).ok_or_else(|| format!("{}: unreadable", e_file.display()))?;
        // Stopped: lcdstatus failed, or printed the stopped sentence (whose exit code is not
        // public: a real one may exit 0).
        let running = e_rc.unwrap_or(0) == 0 && !crate::status::says_not_running(&e_text);
        let short = if running {
            parse_short(&e_text).map_err(|x| at(&e_file, x))?
        } else {
            guesses.push(format!("{name}: LifeKeeper was not running at capture time (lcdstatus -e rc={}: {:?}); the twin node is stopped and has no resources", e_rc.unwrap_or(0), e_text.trim()));
            Short::default()
        };
        let r_text =
            read_opt(&r_file).ok_or_else(|| format!("{}: unreadable", r_file.display()))?;
        let packages = parse_rpm(&r_text).map_err(|x| at(&r_file, x))?;
        let core = packages
            .iter()
            .find(|p| p.name == "steeleye-lk")
            .ok_or_else(|| {
                format!(
                    "{}: no steeleye-lk package: cannot tell the installed LifeKeeper version",
                    r_file.display()
                )
            })?;
        if crate::versions::parse(&core.version).is_none() {
            let ln = r_text
                .lines()
                .position(|l| l.trim().starts_with("steeleye-lk-"))
                .unwrap_or(0)
                + 1;
            return Err(format!(
                "{}:{ln}: steeleye-lk version {:?} is not N.N.N",
                r_file.display(),
                core.version
            ));
        }
        let version = core.version.clone();
        let lkroot = manifest.as_ref().and_then(|m| {
            m["commands"]
                .as_array()?
                .iter()
                .find(|c| c["file"] == "lcdstatus-e.out")?["argv"][0]
                .as_str()?
                .strip_suffix("/bin/lcdstatus")
                .map(String::from)
        });
        let dfile = d.join("lcdstatus.out");
        let detailed = match read_opt(&dfile) {
            Some(t) if !t.trim().is_empty() => Some(parse_detailed(&t).map_err(|x| at(&dfile, x))?),
            _ => None,
        };
        // A resource's app and type become folders of its configuration file (S3).
        for b in detailed.iter().flatten() {
            for (what, v) in [("app", &b.app), ("type", &b.rtype)] {
                crate::safe::path_name(&format!("resource {} {what}", b.tag), v)
                    .map_err(|e| format!("{}: {e}", dfile.display()))?;
            }
        }
        let ufile = d.join("unowned-files.txt");
        let unowned = match (read_opt(&ufile), lkroot.as_deref()) {
            (Some(t), Some(lk)) => parse_unowned(&ufile, &t, lk)?,
            (Some(_), None) => {
                guesses.push(format!(
                    "{name}: unowned-files.txt without a manifest naming $LKROOT: not recreated"
                ));
                vec![]
            }
            (None, _) => vec![],
        };
        caps.push(NodeCap {
            name,
            dir: d,
            short,
            detailed,
            packages,
            version,
            running,
            unowned,
        });
    }
    let mut seen = BTreeSet::new();
    for c in &caps {
        if !seen.insert(c.name.clone()) {
            return Err(format!(
                "{}: node {} captured twice",
                c.dir.display(),
                c.name
            ));
        }
    }
    // Wave order: --order, nodes.txt, else by name (reported).
    let listed: Option<Vec<String>> = match order {
        Some(o) => Some(
            o.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        ),
        None => read_opt(&from.join("nodes.txt")).map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect()
        }),
    };
    match listed {
        Some(l) => {
            for n in &l {
                if !caps.iter().any(|c| &c.name == n) {
                    return Err(format!(
                        "{}: node {n} has no capture folder",
                        from.join("nodes.txt").display()
                    ));
                }
            }
            caps.sort_by_key(|c| l.iter().position(|n| *n == c.name).unwrap_or(usize::MAX));
        }
        None => {
            caps.sort_by(|a, b| a.name.cmp(&b.name));
            guesses.push(format!(
                "no nodes.txt: the nodes are upgraded in name order ({})",
                caps.iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(caps)
}

// ------------------------------------------------------------------ create

fn create(from: &Path, dir: &Path, opt: &BTreeMap<String, String>) -> i32 {
    let mut guesses: Vec<String> = vec![];
    let caps = match read_capture(from, opt.get("order").map(String::as_str), &mut guesses) {
        Ok(c) => c,
        Err(e) => return die(&format!("refused: {e}")),
    };
    let cluster = opt.get("cluster").cloned().unwrap_or_else(|| {
        from.canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "twin".into())
    });
    // lk_cluster becomes a folder of the reports (W6): the same rule as the playbooks'.
    if let Err(e) = crate::safe::path_name(
        "cluster name (--cluster, else the capture folder's name)",
        &cluster,
    ) {
        return die(&format!("refused: {e}"));
    }
    let vars: Value = match read_opt(&from.join("vars.json")) {
        Some(t) => match serde_json::from_str(&t) {
            Ok(v @ Value::Object(_)) => match capture_vars(&v, &mut guesses) {
                Ok(v) => v,
                Err(e) => {
                    return die(&format!(
                        "refused: {}: {e}",
                        from.join("vars.json").display()
                    ))
                }
            },
            _ => {
                return die(&format!(
                    "refused: {}:1: not a JSON object of inventory variables",
                    from.join("vars.json").display()
                ))
            }
        },
        None => json!({}),
    };
    // Everything is read before anything is written: a refused capture leaves no half twin.
    if dir.exists()
        && fs::read_dir(dir)
            .map(|mut r| r.next().is_some())
            .unwrap_or(true)
    {
        if !opt.contains_key("force") {
            return die(&format!(
                "{} already exists (use --force to wipe it)",
                dir.display()
            ));
        }
        if let Err(e) = fs::remove_dir_all(dir) {
            return die(&format!("cannot wipe {}: {e}", dir.display()));
        }
    }
    if let Err(e) = fs::create_dir_all(dir) {
        return die(&format!("{}: {e}", dir.display()));
    }
    let dir = match dir.canonicalize() {
        Ok(d) => d,
        Err(e) => return die(&e.to_string()),
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return die(&e.to_string()),
    };
    let names: Vec<String> = caps.iter().map(|c| c.name.clone()).collect();
    let mut cf = ClusterFile::default();
    let mut out = vec![];
    for c in &caps {
        let root = dir.join(&c.name);
        if let Err(e) = make_twin_node(c, &caps, &root, &dir, &exe, &mut guesses) {
            return die(&format!("creating node {}: {e}", c.name));
        }
        cf.nodes.push(ClusterNode {
            name: c.name.clone(),
            root: root.to_string_lossy().into_owned(),
            addr: None,
        });
        out.push(json!({
            "name": c.name, "root": root, "lkroot": lkroot(&root),
            "defaults_file": defaults_file(&root), "path": path_dir(&root),
        }));
    }
    let meta = meta_dir(&dir);
    if let Err(e) = write_json(&meta.join("cluster.json"), &cf) {
        return die(&e.to_string());
    }
    if let Err(e) = lock(&meta) {
        return die(&e.to_string());
    }
    let inv_path = opt
        .get("inventory")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("inventory.yml"));
    let inv = inventory(&cluster, &out, &vars, opt.get("media").map(String::as_str));
    let text = format!(
        "# Generated by `lksim twin create --from {}` (the twin of cluster {cluster}). JSON is YAML.\n{}\n",
        from.display(),
        serde_json::to_string_pretty(&inv).unwrap_or_default()
    );
    if let Err(e) = fs::write(&inv_path, text) {
        return die(&format!("{}: {e}", inv_path.display()));
    }
    let from_abs = from.canonicalize().unwrap_or_else(|_| from.to_path_buf());
    let marker = json!({"from": from_abs, "cluster": cluster, "nodes": names, "guesses": guesses, "inventory": inv_path});
    if let Err(e) = write_json(&meta.join("twin.json"), &marker) {
        return die(&e.to_string());
    }
    for g in &guesses {
        eprintln!("lksim twin: guessed: {g}");
    }
    println!(
        "{}",
        serde_json::to_string_pretty(
            &json!({"nodes": out, "cluster": cluster, "inventory": inv_path, "guesses": guesses})
        )
        .unwrap()
    );
    0
}

/// The procedure variables a capture may carry into the twin's inventory: those
/// playbooks/capture.yml records (its lk_capture_procedure_vars). Anything else (ansible_*
/// connection settings, paths, lk_node_env) would act on the controller, where the twin runs.
pub const CAPTURE_VARS: &[&str] = &[
    "lk_target_version",
    "lk_recovery_kits",
    "lk_install_jre",
    "lk_allow_reinstall",
    "lk_restore_config",
    "lk_quorum",
    "lk_start_after",
    "lk_stepping_versions",
    "lk_allow_selinux_permissive",
    "lk_min_free_mb",
    "lk_preflight_skip",
    "lk_preflight_fail_on",
    "lk_required_packages",
    "lk_datakeeper_mirrors",
    "lk_switch_to",
    "lk_resource_wait",
    "lk_backup_keep",
    "lk_verify_retries",
    "lk_verify_delay",
];

/// vars.json as the twin's inventory may hold it (issue 28 S1). Ansible templates every
/// inventory value, so capture data must never reach it as a template: a key or string anywhere
/// in a value holding a Jinja delimiter (`{{`, `{%`, `{#`) refuses the capture (no real run's
/// variable holds one: capture.yml records values after templating). Keys outside
/// [`CAPTURE_VARS`] are left out, each reported.
pub fn capture_vars(v: &Value, guesses: &mut Vec<String>) -> Result<Value, String> {
    fn jinja(v: &Value) -> Option<String> {
        let bad = |s: &str| ["{{", "{%", "{#"].iter().any(|d| s.contains(d));
        match v {
            Value::String(s) if bad(s) => Some(s.clone()),
            Value::Array(a) => a.iter().find_map(jinja),
            Value::Object(o) => o
                .iter()
                .find_map(|(k, x)| if bad(k) { Some(k.clone()) } else { jinja(x) }),
            _ => None,
        }
    }
    let mut out = serde_json::Map::new();
    for (k, x) in v.as_object().into_iter().flatten() {
        // The real run's saved setup configuration is a path on the real nodes (see inventory).
        if k == "lk_setup_config" {
            continue;
        }
        if !CAPTURE_VARS.contains(&k.as_str()) {
            guesses.push(format!(
                "vars.json: {k:?} is not a procedure variable a capture records: left out of the twin's inventory"
            ));
            continue;
        }
        if let Some(s) = jinja(x) {
            return Err(format!(
                "{k} holds a Jinja template ({s:?}): capture data is never templated; remove it from vars.json (or give the value with -e)"
            ));
        }
        out.insert(k.clone(), x.clone());
    }
    Ok(Value::Object(out))
}

fn inventory(cluster: &str, nodes: &[Value], vars: &Value, media: Option<&str>) -> Value {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut hosts = serde_json::Map::new();
    for n in nodes {
        let root = n["root"].as_str().unwrap_or_default();
        hosts.insert(
            n["name"].as_str().unwrap_or_default().to_string(),
            json!({
                "lk_lkroot": n["lkroot"], "lk_defaults_file": n["defaults_file"],
                "lk_backup_dir": format!("{root}/var/backups/lifekeeper"),
                "lk_sim_root": root,
                "lk_upgrade_work_dir": format!("{root}/var/tmp/lkops-upgrade"),
                "lk_node_env": {"PATH": format!("{}:{path}", n["path"].as_str().unwrap_or_default())},
            }),
        );
    }
    let mut group_vars = json!({
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "lk_media_mode": "extract",
        // The twin's setup is lksim's: it takes the generated configuration. A saved real one
        // (the real run's lk_setup_config) is a path on the real nodes, and a menuconfig file
        // lksim could not judge anyway; the rehearsal tests the procedure, not that file.
        "lk_generate_setup_config": true,
    });
    if let Some(m) = media {
        group_vars["lk_media"] = json!(m);
    }
    let mut cluster_vars = vars.clone();
    if let Some(o) = cluster_vars.as_object_mut() {
        o.remove("lk_setup_config");
    }
    cluster_vars["lk_cluster"] = json!(cluster);
    json!({"all": {"children": {"lifekeeper": {"vars": group_vars, "children": {
        format!("cluster_{}", cluster.replace(['-', '.', ' '], "_")): {"vars": cluster_vars, "hosts": hosts}
    }}}}})
}

fn make_twin_node(
    c: &NodeCap,
    all: &[NodeCap],
    root: &Path,
    cluster_dir: &Path,
    exe: &Path,
    guesses: &mut Vec<String>,
) -> Result<(), String> {
    let e = |x: std::io::Error| x.to_string();
    for d in [
        "etc/default",
        "var/LifeKeeper/license",
        "tmp",
        "var/lib/lksim",
    ] {
        fs::create_dir_all(root.join(d)).map_err(e)?;
    }
    fs::create_dir_all(lkroot(root).join("config")).map_err(e)?;
    write_wrappers(root, exe, true, true).map_err(e)?;
    // defaults file
    let defaults = match read_opt(&c.dir.join("defaults.txt")) {
        Some(t) => {
            if t.contains("<redacted>") {
                guesses.push(format!(
                    "{}: defaults.txt has redacted values; the twin keeps the text <redacted>",
                    c.name
                ));
            }
            t
        }
        None => {
            guesses.push(format!(
                "{}: no defaults.txt, the twin has lksim's {} defaults file",
                c.name, c.version
            ));
            crate::versions::defaults_text(&c.version).to_string()
        }
    };
    fs::write(defaults_file(root), defaults).map_err(e)?;
    let selinux = match read_opt(&c.dir.join("getenforce.out")) {
        Some(t) => {
            let m = t.trim().to_ascii_lowercase();
            if ["disabled", "permissive", "enforcing"].contains(&m.as_str()) {
                m
            } else {
                return Err(format!(
                    "{}:1: not a getenforce answer: {:?}",
                    c.dir.join("getenforce.out").display(),
                    t.trim()
                ));
            }
        }
        None => {
            guesses.push(format!(
                "{}: no getenforce.out, SELinux is taken as disabled",
                c.name
            ));
            "disabled".into()
        }
    };
    match read_opt(&c.dir.join("license-files.txt")) {
        Some(t) => {
            for l in t.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if !crate::safe::is_path_name(l) {
                    guesses.push(format!(
                        "{}: license file name {l:?} cannot be a file name in the twin: left out",
                        c.name
                    ));
                    continue;
                }
                fs::write(
                    root.join("var/LifeKeeper/license").join(l),
                    "lksim twin: license placeholder (the capture holds names only)\n",
                )
                .map_err(e)?;
            }
        }
        None => guesses.push(format!(
            "{}: no license-files.txt, the twin has no license files",
            c.name
        )),
    }
    let detailed = c.detailed.as_ref();
    if detailed.is_none() && !c.short.rows.is_empty() {
        guesses.push(format!(
            "{}: no detailed display (lcdstatus.out): resource types and apps are unknown (gen/app), and a child shared by two parents depends only on the parent it is shown under",
            c.name
        ));
    }
    let mut res = vec![];
    let mut states = BTreeMap::new();
    let mut stack: Vec<String> = vec![];
    for (i, r) in c.short.rows.iter().enumerate() {
        stack.truncate(r.depth);
        stack.push(r.tag.clone());
        let block = detailed.and_then(|d| d.iter().find(|b| b.tag == r.tag));
        let children: Vec<String> = match block {
            Some(b) => b.depends.clone(),
            None => c.short.rows[i + 1..]
                .iter()
                .take_while(|x| x.depth > r.depth)
                .filter(|x| x.depth == r.depth + 1)
                .map(|x| x.tag.clone())
                .collect(),
        };
        let mut equivalents = vec![];
        for o in all.iter().filter(|o| o.name != c.name) {
            if let Some(or) = o.short.rows.iter().find(|x| x.tag == r.tag) {
                equivalents.push(Equiv {
                    node: o.name.clone(),
                    tag: r.tag.clone(),
                    prio: or.prio,
                });
            } else if let Some((t, _, p)) =
                block.and_then(|b| b.equivs.iter().find(|(_, n, _)| *n == o.name))
            {
                equivalents.push(Equiv {
                    node: o.name.clone(),
                    tag: t.clone(),
                    prio: *p,
                });
            }
        }
        res.push(ResourceDef {
            tag: r.tag.clone(),
            id: r.id.clone(),
            app: block.map(|b| b.app.clone()).unwrap_or_else(|| "gen".into()),
            rtype: block
                .map(|b| b.rtype.clone())
                .unwrap_or_else(|| "app".into()),
            prio: r.prio,
            children,
            equivalents,
        });
        states.insert(r.tag.clone(), r.state.clone());
    }
    for r in &res {
        for ch in &r.children {
            if !res.iter().any(|x| &x.tag == ch) {
                return Err(format!(
                    "{}: {} depends on {ch}, which its short display does not list",
                    c.dir.join("lcdstatus.out").display(),
                    r.tag
                ));
            }
        }
    }
    let mut paths = vec![];
    let mut dead = vec![];
    for p in &c.short.paths {
        paths.push(CommPathDef {
            peer: p.machine.clone(),
            kind: p.network.clone(),
            address: p.address.clone(),
            prio: p.prio,
        });
        if p.state != "ALIVE" {
            dead.push(format!("{}/{}", p.machine, p.prio.unwrap_or(0)));
        }
        if !all.iter().any(|o| o.name == p.machine) {
            guesses.push(format!(
                "{}: comm path to {} which has no capture folder: it is DEAD in the twin",
                c.name, p.machine
            ));
        }
    }
    let rt = NodeRuntime {
        name: c.name.clone(),
        cluster_dir: cluster_dir.to_string_lossy().into_owned(),
        running: c.running,
        down: false,
        selinux,
        packages: c.packages.clone(),
        states,
        resume_on_start: vec![],
        faults: BTreeMap::new(),
        dead_paths: dead,
        disk_free_kb: 41_943_040,
        listen: None,
        ..Default::default()
    };
    let mut node = Node::new_local(root.to_path_buf(), rt, res, paths);
    mirrors_from_capture(c, &mut node, guesses);
    node.save().map_err(e)?;
    unowned_files(c, root, guesses).map_err(e)
}

/// One target line of `mirror_status`: (target, state, progress %, remaining seconds).
pub type MirrorTarget = (String, String, u32, Option<u64>);

/// One captured `mirror_status TAG` output: the tag and its targets.
pub fn parse_mirror_status(text: &str) -> Option<(String, Vec<MirrorTarget>)> {
    let mut tag = None;
    let mut targets = vec![];
    for l in text.lines() {
        let t = l.trim();
        if let Some(m) = t.strip_prefix("Mirror:") {
            tag = Some(m.trim().to_string());
        } else if let Some(rest) = t.strip_prefix("Target:") {
            let name = rest.split_whitespace().next()?.to_string();
            let state = rest
                .split("State:")
                .nth(1)?
                .split("Progress:")
                .next()?
                .trim()
                .to_string();
            let progress = rest
                .split("Progress:")
                .nth(1)
                .and_then(|p| p.trim().split('%').next())
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(0);
            let remaining = rest
                .split("Remaining:")
                .nth(1)
                .and_then(|r| r.trim().trim_end_matches('s').parse().ok());
            targets.push((name, state, progress, remaining));
        }
    }
    Some((tag?, targets))
}

fn mirror_captures(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|f| f.to_string_lossy().starts_with("mirror_status-"))
                })
                .filter_map(|p| fs::read_to_string(&p).ok().map(|t| (p, t)))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// DataKeeper mirrors (type netraid): the node where one is in service is its source; each
/// captured target that was paused or resyncing is set so (a resync keeps the captured progress
/// and remaining time, from now). Targets captured in sync, or not captured, are in sync.
fn mirrors_from_capture(c: &NodeCap, node: &mut Node, guesses: &mut Vec<String>) {
    let sources: Vec<String> = node
        .res
        .iter()
        .filter(|r| crate::datakeeper::is_mirror(r))
        .filter(|r| matches!(node.state_of(&r.tag).as_str(), "ISP" | "ISU"))
        .map(|r| r.tag.clone())
        .collect();
    for t in &sources {
        crate::datakeeper::created_source(&mut node.rt, t);
    }
    let now = crate::clock::now_ms();
    for (file, text) in mirror_captures(&c.dir) {
        let Some((tag, targets)) = parse_mirror_status(&text) else {
            guesses.push(format!(
                "{}: {} is not mirror_status output: ignored",
                c.name,
                file.display()
            ));
            continue;
        };
        if !sources.contains(&tag) {
            continue;
        }
        let Some(rec) = node.rt.mirrors.get_mut(&tag) else {
            continue;
        };
        for (target, state, progress, remaining) in targets {
            match state.as_str() {
                "paused" => {
                    rec.paused.insert(target, progress);
                }
                "resyncing" => {
                    let left_ms = remaining.unwrap_or(0) * 1000;
                    let dur_ms = if progress < 100 {
                        left_ms * 100 / u64::from(100 - progress)
                    } else {
                        left_ms
                    };
                    rec.targets.insert(
                        target,
                        crate::datakeeper::Window {
                            start_ms: now.saturating_sub(dur_ms - left_ms),
                            dur_ms,
                        },
                    );
                }
                _ => {}
            }
        }
    }
    let mirrors: Vec<&ResourceDef> = node
        .res
        .iter()
        .filter(|r| crate::datakeeper::is_mirror(r))
        .collect();
    if !mirrors.is_empty() && mirror_captures(&c.dir).is_empty() && !sources.is_empty() {
        guesses.push(format!(
            "{}: no mirror_status captured: the twin's mirrors are in sync",
            c.name
        ));
    }
}

/// Files under $LKROOT that no package owned on the captured node (kits shipped apart from the
/// media, site scripts): recreated as placeholders of the captured size, so the twin's rpm -qf and
/// rmlk see them. Files lksim itself keeps there (its commands, config) are left alone.
fn unowned_files(c: &NodeCap, root: &Path, guesses: &mut Vec<String>) -> std::io::Result<()> {
    use std::io::Write;
    let mut made = 0;
    for (size, rel) in &c.unowned {
        let dest = lkroot(root).join(rel);
        if fs::symlink_metadata(&dest).is_ok() {
            continue;
        }
        if let Some(d) = dest.parent() {
            fs::create_dir_all(d)?;
        }
        let head = b"lksim twin: placeholder for a file no package owned on the captured node\n";
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)?;
        // Sparse: the header, then the captured size by set_len (W5: never allocated).
        f.write_all(&head[..head.len().min(*size as usize)])?;
        f.set_len(*size)?;
        made += 1;
    }
    if made > 0 {
        guesses.push(format!("{}: {made} file(s) under $LKROOT that no package owned are placeholders of the captured size (contents not captured)", c.name));
    }
    Ok(())
}

// ------------------------------------------------------------------ check

fn run_cmd(prog: &Path, args: &[&str]) -> Result<String, String> {
    let o = std::process::Command::new(prog)
        .args(args)
        .env("LANG", "C")
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("{}: {e}", prog.display()))?;
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn norm(l: &str) -> String {
    l.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Line-by-line differences of a short display. Without `exact`, runs of spaces compare equal
/// (LifeKeeper computes widths per output) but each tag's hierarchy depth must match.
pub fn diff_short(file: &str, captured: &str, twin: &str, exact: bool) -> Vec<String> {
    // (file line number, text); blank lines only count in exact mode
    let keep = |t: &str| -> Vec<(usize, String)> {
        t.lines()
            .enumerate()
            .filter(|(_, l)| exact || !l.trim().is_empty())
            .map(|(i, l)| (i + 1, l.to_string()))
            .collect()
    };
    let (a, b) = (keep(captured), keep(twin));
    let mut out = vec![];
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        let same = match (x, y) {
            (Some(x), Some(y)) if exact => x.1 == y.1,
            (Some(x), Some(y)) => norm(&x.1) == norm(&y.1),
            _ => false,
        };
        if !same {
            let line = x.or(y).map(|l| l.0).unwrap_or(0);
            out.push(format!(
                "{file} line {line}: captured {} | twin {}",
                x.map(|s| format!("{:?}", s.1))
                    .unwrap_or_else(|| "(none)".into()),
                y.map(|s| format!("{:?}", s.1))
                    .unwrap_or_else(|| "(none)".into())
            ));
        }
    }
    if !exact {
        if let (Ok(pa), Ok(pb)) = (parse_short(captured), parse_short(twin)) {
            for (ra, rb) in pa.rows.iter().zip(pb.rows.iter()) {
                if ra.tag == rb.tag && ra.depth != rb.depth {
                    out.push(format!(
                        "{file}: {} is at depth {} in the capture, {} in the twin",
                        ra.tag, ra.depth, rb.depth
                    ));
                }
            }
        }
    }
    out
}

fn check(from: &Path, dir: &Path, exact: bool) -> i32 {
    let mut guesses = vec![];
    let caps = match read_capture(from, None, &mut guesses) {
        Ok(c) => c,
        Err(e) => return die(&format!("refused: {e}")),
    };
    let cf: ClusterFile = match read_json(&meta_dir(dir).join("cluster.json")) {
        Ok(c) => c,
        Err(e) => return die(&format!("{}: not a twin: {e}", dir.display())),
    };
    let mut diffs: Vec<String> = vec![];
    for c in &caps {
        let Some(n) = cf.nodes.iter().find(|n| n.name == c.name) else {
            diffs.push(format!(
                "{}: captured, but the twin has no such node",
                c.name
            ));
            continue;
        };
        let root = PathBuf::from(&n.root);
        let bin = lkroot(&root).join("bin");
        let mut d = vec![];
        for (file, args) in [("lcdstatus-e.out", ["-e"]), ("lcdstatus-q.out", ["-q"])] {
            let Some(captured) = read_opt(&c.dir.join(file)) else {
                continue;
            };
            // A stopped node's sentence may have gone to stderr on the real node (not captured).
            if !c.running {
                continue;
            }
            match run_cmd(&bin.join("lcdstatus"), &args) {
                Ok(t) => d.extend(diff_short(file, &captured, &t, exact)),
                Err(e) => d.push(format!("{file}: the twin's lcdstatus did not run: {e}")),
            }
        }
        if let Some(captured) = read_opt(&c.dir.join("rpm-qa.out")) {
            let twin = run_cmd(&path_dir(&root).join("rpm"), &["-qa"]).unwrap_or_default();
            let sa: BTreeSet<&str> = captured
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let sb: BTreeSet<&str> = twin
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            for p in sa.difference(&sb) {
                d.push(format!("rpm-qa.out: {p} captured, not in the twin"));
            }
            for p in sb.difference(&sa) {
                d.push(format!("rpm-qa.out: {p} in the twin, not captured"));
            }
        }
        for (file, text) in mirror_captures(&c.dir) {
            let fname = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let Some((tag, cap_t)) = parse_mirror_status(&text) else {
                continue;
            };
            let twin = run_cmd(&bin.join("mirror_status"), &[tag.as_str()]).unwrap_or_default();
            let twin_t = parse_mirror_status(&twin).map(|x| x.1).unwrap_or_default();
            // A resync's progress moves on by itself: the target and its state must match, and
            // the progress of a paused target.
            let key = |v: &[MirrorTarget]| -> Vec<String> {
                v.iter()
                    .map(|(t, s, p, _)| {
                        if s == "paused" {
                            format!("{t} {s} {p}%")
                        } else {
                            format!("{t} {s}")
                        }
                    })
                    .collect()
            };
            if key(&cap_t) != key(&twin_t) {
                d.push(format!(
                    "{fname}: captured {:?} | twin {:?}",
                    key(&cap_t),
                    key(&twin_t)
                ));
            }
        }
        if let Some(captured) = read_opt(&c.dir.join("getenforce.out")) {
            let twin = run_cmd(&path_dir(&root).join("getenforce"), &[]).unwrap_or_default();
            if captured.trim() != twin.trim() {
                d.push(format!(
                    "getenforce.out: captured {:?} | twin {:?}",
                    captured.trim(),
                    twin.trim()
                ));
            }
        }
        if let Some(captured) = read_opt(&c.dir.join("defaults.txt")) {
            let twin = fs::read_to_string(defaults_file(&root)).unwrap_or_default();
            if captured != twin {
                d.push("defaults.txt: the twin's defaults file differs from the capture".into());
            }
        }
        if let Some(Ok(cap_blocks)) =
            read_opt(&c.dir.join("lcdstatus.out")).map(|t| parse_detailed(&t))
        {
            if !cap_blocks.is_empty() {
                let twin = run_cmd(&bin.join("lcdstatus"), &[]).unwrap_or_default();
                let tb = parse_detailed(&twin).unwrap_or_default();
                for b in &cap_blocks {
                    match tb.iter().find(|x| x.tag == b.tag) {
                        None => d.push(format!("lcdstatus.out: resource {} captured, not in the twin's detailed display", b.tag)),
                        Some(t) => {
                            let mut be = b.equivs.clone();
                            let mut te = t.equivs.clone();
                            be.sort();
                            te.sort();
                            let mut bd = b.depends.clone();
                            let mut td = t.depends.clone();
                            bd.sort();
                            td.sort();
                            for (what, x, y) in [
                                ("id", b.id.clone(), t.id.clone()),
                                ("app", b.app.clone(), t.app.clone()),
                                ("type", b.rtype.clone(), t.rtype.clone()),
                                ("state", b.state.clone(), t.state.clone()),
                                ("depends on", bd.join(","), td.join(",")),
                                ("local priority", format!("{:?}", b.prio), format!("{:?}", t.prio)),
                                ("equivalencies", format!("{be:?}"), format!("{te:?}")),
                            ] {
                                if x != y {
                                    d.push(format!("lcdstatus.out: {} {what}: captured {x:?} | twin {y:?}", b.tag));
                                }
                            }
                        }
                    }
                }
            }
        }
        for x in d {
            diffs.push(format!("{}: {x}", c.name));
        }
    }
    for n in &cf.nodes {
        if !caps.iter().any(|c| c.name == n.name) {
            diffs.push(format!("{}: in the twin, not captured", n.name));
        }
    }
    for l in &diffs {
        println!("{l}");
    }
    if diffs.is_empty() {
        println!("twin check: no difference ({} nodes)", caps.len());
        0
    } else {
        println!("twin check: {} difference(s)", diffs.len());
        1
    }
}

// ------------------------------------------------------------------ journal

/// Root hierarchies in service (ISP/ISU) and where: tag -> node.
fn placement(cluster_dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(w) = World::open(cluster_dir) else {
        return out;
    };
    for n in &w.nodes {
        for r in &n.res {
            if n.parents_of(&r.tag).is_empty()
                && matches!(n.state_of(&r.tag).as_str(), "ISP" | "ISU")
            {
                out.insert(r.tag.clone(), n.name.clone());
            }
        }
    }
    out
}

/// Run `f` (perform_action); in a twin, append the placement changes it caused to the journal.
pub fn journaled(ctx: &crate::Ctx, f: fn(&crate::Ctx) -> i32) -> i32 {
    let cluster_dir = read_json::<NodeRuntime>(&runtime_file(&ctx.root))
        .ok()
        .map(|rt| PathBuf::from(rt.cluster_dir))
        .filter(|d| meta_dir(d).join("twin.json").exists());
    let Some(cd) = cluster_dir else { return f(ctx) };
    let before = placement(&cd);
    let rc = f(ctx);
    let after = placement(&cd);
    let mut lines = String::new();
    for (tag, to) in &after {
        if before.get(tag) != Some(to) {
            lines.push_str(&format!(
                "{}\n",
                json!({"tag": tag, "from": before.get(tag), "to": to, "rc": rc, "args": ctx.args})
            ));
        }
    }
    for (tag, from) in &before {
        if !after.contains_key(tag) {
            lines.push_str(&format!(
                "{}\n",
                json!({"tag": tag, "from": from, "to": null, "rc": rc, "args": ctx.args})
            ));
        }
    }
    if !lines.is_empty() {
        use std::io::Write;
        if let Ok(mut fh) = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(meta_dir(&cd).join("journal.jsonl"))
        {
            let _ = fh.write_all(lines.as_bytes());
        }
    }
    rc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_9_6_0_sample_parses_with_its_hierarchy() {
        let t = "Resource Hierarchy Information\n\nBACKUP   TAG                ID          STATE     PRIO  PRIMARY\nsvr1     appfs3910-on-svr1  appfs4238   ISP          1  svr2\nsvr1      filesys4083       /jrl1       ISP          1  svr2\nsvr1       device2126       000300-1    ISP          1  svr2\nsvr1        disk2083        000300      ISP          1  svr2\n\nCommunication Status Information\n\nMACHINE  NETWORK ADDRESSES/DEVICE         STATE     PRIO\nsvr1     TCP     100.10.1.20/100.11.1.21  ALIVE        1\nsvr1     TTY     /dev/ttyS0               ALIVE       --\n";
        let s = parse_short(t).unwrap();
        assert_eq!(s.rows.len(), 4);
        assert_eq!(s.rows[3].depth, 3);
        assert_eq!(s.rows[1].id, "/jrl1");
        assert_eq!(s.paths[1].prio, None);
    }

    #[test]
    fn an_unreadable_line_is_named() {
        let t = "Resource Hierarchy Information\n\nBACKUP TAG ID STATE PRIO PRIMARY\nsvr1 tag id ISP high svr2\n";
        assert_eq!(parse_short(t).unwrap_err().0, 4);
    }
}

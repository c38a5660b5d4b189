//! Read-only gathering of what a LifeKeeper node prints (issue 18), shared by lk_capture and a
//! future lk_info (issue 21).
//!
//! Every command our modules rely on is run once, as an argument vector, and recorded with its
//! argv, exit code, stdout, stderr and duration. Nothing here changes the node: the only write
//! is the media's `setup` extracted into a private temporary directory (removed again) so that
//! `setup --help` can run without mounting the image.
//!
//! Secrets: license files are listed by NAME only (never opened). The values of the defaults-file
//! keys named in `redact` are replaced in `defaults.txt` and scrubbed from every other captured
//! text, so they never leave the node.

/// `rpm -qa` lines are read by the package-name rules in `packages`.
pub use crate::lifekeeper::packages::{parse_rpm_qa, Nevra};
use crate::lifekeeper::{defaults_file, node, packages};
use crate::runtime::{Cmd, Runner};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Version of the manifest.json layout; bump when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// What replaces a redacted value, in defaults.txt and everywhere else.
pub const REDACTED: &str = "<redacted>";

/// What to gather.
#[derive(Debug, Clone)]
pub struct Spec {
    pub lkroot: PathBuf,
    pub defaults_file: PathBuf,
    pub license_dir: PathBuf,
    pub os_release: PathBuf,
    pub redact: Vec<String>,
    pub media: Option<PathBuf>,
    /// The node's LifeKeeper name when the caller knows it better than the node.
    pub node: Option<String>,
}

/// One recorded command (or file read). `file` is the capture file holding its stdout.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub file: String,
    pub argv: Vec<String>,
    pub rc: i32,
    pub duration_ms: u64,
    pub timed_out: bool,
    #[serde(skip)]
    pub stdout: String,
    pub stderr: String,
}

/// A file under $LKROOT that no package owns.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unowned {
    pub path: String,
    pub size: u64,
}

/// Everything gathered on one node.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub node: String,
    /// Where the node name came from: lcduname, config/UNAME, lcdstatus -q, uname -n, parameter.
    pub node_source: String,
    pub entries: Vec<Entry>,
    pub license_files: Vec<String>,
    /// None when the package database could not say which files it owns.
    pub unowned: Option<Vec<Unowned>>,
    /// Tags of the mirrors (type netraid) whose mirror_status was captured.
    pub mirrors: Vec<String>,
    /// Keys of `redact` found in the defaults file (their values were replaced).
    pub redacted: Vec<String>,
    pub warnings: Vec<String>,
}

impl Capture {
    pub fn entry(&self, file: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.file == file)
    }
}

/// Run `cmd` once and record it (a command that cannot start is recorded with rc 127).
pub fn record(runner: &Runner, file: &str, cmd: Cmd) -> Entry {
    let t = Instant::now();
    let argv = cmd.display();
    match runner.run(&cmd) {
        Ok(o) => Entry {
            file: file.into(),
            argv,
            rc: o.rc,
            duration_ms: t.elapsed().as_millis() as u64,
            timed_out: o.timed_out,
            stdout: o.stdout,
            stderr: o.stderr,
        },
        // Not installed / not startable: recorded like the shell would report it.
        Err(e) => Entry {
            file: file.into(),
            argv,
            rc: 127,
            duration_ms: t.elapsed().as_millis() as u64,
            timed_out: false,
            stdout: String::new(),
            stderr: format!("{}\n", e.msg),
        },
    }
}

/// A file read, recorded like a command (`argv` is `["read", path]`).
fn read_file(file: &str, path: &Path) -> Entry {
    let t = Instant::now();
    let (rc, stdout, stderr) = match std::fs::read(path) {
        Ok(b) => (0, String::from_utf8_lossy(&b).into_owned(), String::new()),
        Err(e) => (1, String::new(), format!("{}: {e}\n", path.display())),
    };
    Entry {
        file: file.into(),
        argv: vec!["read".into(), path.display().to_string()],
        rc,
        duration_ms: t.elapsed().as_millis() as u64,
        timed_out: false,
        stdout,
        stderr,
    }
}

/// A file name for a mirror tag (tags may hold `/` and any character).
pub fn mirror_file(tag: &str) -> String {
    let safe: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("mirror_status-{safe}.out")
}

/// Gather everything. Never fails as a whole: a command that cannot run is recorded with rc 127.
pub fn gather(runner: &Runner, spec: &Spec) -> Capture {
    let runner = runner.clone();
    let lk = |name: &str| Cmd::lk(&spec.lkroot, name);
    let mut c = Capture::default();
    let mut entries = vec![
        record(&runner, "lcdstatus-e.out", lk("lcdstatus").arg("-e")),
        record(&runner, "lcdstatus-q.out", lk("lcdstatus").arg("-q")),
        record(&runner, "lcdstatus.out", lk("lcdstatus")),
        record(&runner, "lktest.out", lk("lktest")),
        record(&runner, "rpm-qa.out", Cmd::new("rpm").arg("-qa")),
        read_file("defaults.txt", &spec.defaults_file),
        record(&runner, "uname-a.out", Cmd::new("uname").arg("-a")),
        read_file("os-release.txt", &spec.os_release),
        record(&runner, "getenforce.out", Cmd::new("getenforce")),
    ];
    // Redaction first: every later text is scrubbed of the redacted values.
    let (defaults_text, redacted, secrets) = redact_defaults(&entries[5].stdout, &spec.redact);
    entries[5].stdout = defaults_text;
    c.redacted = redacted;
    for k in &spec.redact {
        if !c.redacted.contains(k) {
            c.warnings
                .push(format!("redact: {k} is not set in the defaults file"));
        }
    }

    // The node's LifeKeeper name: lcduname, config/UNAME, then what lcdstatus -q shows.
    let lcduname = record(&runner, "lcduname.out", lk("lcduname"));
    let (node, source) = if let Some(n) = &spec.node {
        (n.clone(), "parameter node".to_string())
    } else if let Some(found) = node::recorded(
        lcduname.rc,
        &lcduname.stdout,
        &spec.lkroot,
        &entries[1].stdout,
    ) {
        (found.name, found.source)
    } else {
        let u = record(&runner, "uname-n.out", Cmd::new("uname").arg("-n"));
        c.warnings.push(node::NOT_RECORDED.into());
        let n = node::from_uname(u.rc, &u.stdout).unwrap_or_default();
        (n, node::FROM_UNAME.into())
    };
    entries.push(lcduname);
    c.node = node;
    c.node_source = source;

    // License files: names only, never opened.
    c.license_files = match std::fs::read_dir(&spec.license_dir) {
        Ok(rd) => {
            let mut v: Vec<String> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
        Err(e) => {
            c.warnings.push(format!(
                "license files: cannot list {}: {e}",
                spec.license_dir.display()
            ));
            vec![]
        }
    };

    c.unowned = unowned_files(&runner, &spec.lkroot, &mut c.warnings);

    // mirror_status of every DataKeeper mirror the detailed display names (type netraid).
    let detailed = parse_detailed(&entries[2].stdout);
    for r in detailed
        .iter()
        .filter(|r| r.rtype.as_deref() == Some("netraid"))
    {
        entries.push(record(
            &runner,
            &mirror_file(&r.tag),
            lk("mirror_status").arg(&r.tag),
        ));
        c.mirrors.push(r.tag.clone());
    }

    if let Some(m) = &spec.media {
        entries.extend(media_entries(&runner, m, &mut c.warnings));
    }

    for e in entries.iter_mut() {
        e.stdout = scrub(&e.stdout, &secrets);
        e.stderr = scrub(&e.stderr, &secrets);
    }
    c.entries = entries;
    c
}

/// defaults text with the values of `keys` replaced; the keys found; the values to scrub.
pub fn redact_defaults(text: &str, keys: &[String]) -> (String, Vec<String>, Vec<String>) {
    if keys.is_empty() {
        return (text.to_string(), vec![], vec![]);
    }
    let mut found = vec![];
    let mut secrets = vec![];
    let mut out = String::new();
    // The value of an assignment is the shell word after `=`, read as `sh` reads it: quotes and
    // a backslash-newline carry it over line ends (issue 28 S5), so the whole word is replaced,
    // not just its first line.
    let mut pos = 0;
    while pos < text.len() {
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        let body = text[pos..line_end].trim_end_matches('\n');
        let t = body.trim_start();
        let t2 = t.strip_prefix("export ").unwrap_or(t).trim_start();
        let hit = keys.iter().find(|k| {
            t2.strip_prefix(k.as_str())
                .is_some_and(|rest| rest.starts_with('='))
        });
        let Some(k) = hit else {
            out.push_str(&text[pos..line_end]);
            pos = line_end;
            continue;
        };
        let eq = pos + body.find('=').map_or(body.len(), |i| i + 1);
        // `KEY= x` is not valid in a defaults file, but redacting `x` too is the safe reading.
        let start = eq + text[eq..].len() - text[eq..].trim_start_matches([' ', '\t']).len();
        let end = start + sh_word_end(&text[start..]);
        let value = &text[start..end];
        let unq: String = value.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
        // The word, its unquoted text, and each of its lines (a value spanning lines may be
        // printed elsewhere one line at a time).
        let mut cands = vec![value.to_string(), unq.clone()];
        cands.extend(unq.lines().map(|l| l.trim().to_string()));
        for v in cands {
            if v.len() >= 3 && !secrets.contains(&v) {
                secrets.push(v);
            }
        }
        if !found.contains(k) {
            found.push(k.clone());
        }
        out.push_str(&text[pos..start]);
        out.push_str(REDACTED);
        // What follows the word on its last line (blanks, a `# comment`) is kept; the rest of
        // the text is scanned on from there.
        let rest_end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        out.push_str(&text[end..rest_end]);
        pos = rest_end;
    }
    // Also catch keys the line scan missed (e.g. `A=1 B=secret` on one line): the parser's view.
    if let Ok(f) = defaults_file::parse(text) {
        for (k, a) in f.effective() {
            if keys.contains(&k) {
                let v = a.meaning();
                if v.len() >= 3 && !secrets.contains(&v) {
                    secrets.push(v);
                }
                if !found.contains(&k) {
                    found.push(k);
                }
            }
        }
    }
    // Longest first, so a value containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let out = scrub(&out, &secrets);
    (out, found, secrets)
}

/// Length in bytes of the shell word at the start of `s`: it ends at an unquoted blank or newline;
/// single quotes, double quotes (with their backslash escapes) and a backslash outside quotes
/// (a backslash-newline included) continue it, over line ends too. An unterminated quote runs
/// to the end of `s` (so everything after it is treated as the value: redacting too much is
/// safe, too little is not).
fn sh_word_end(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' => return i,
            b'\\' => i += 2,
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    b.len()
}

pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut t = text.to_string();
    for s in secrets {
        if !s.is_empty() && t.contains(s.as_str()) {
            t = t.replace(s.as_str(), REDACTED);
        }
    }
    t
}

/// The regular files under `lkroot` that no package owns, with their sizes (the twin recreates
/// them as placeholders): the one query of `packages::unowned_files`, symbolic links left out.
/// `None` (with a warning) when rpm cannot answer.
fn unowned_files(
    runner: &Runner,
    lkroot: &Path,
    warnings: &mut Vec<String>,
) -> Option<Vec<Unowned>> {
    if !lkroot.is_dir() {
        return Some(vec![]);
    }
    let files = match packages::unowned_files(runner, lkroot) {
        Ok(f) => f,
        Err(e) => {
            warnings.push(format!("unowned files: {e}; not captured"));
            return None;
        }
    };
    Some(
        files
            .into_iter()
            .filter_map(|p| {
                let m = std::fs::symlink_metadata(&p).ok()?;
                m.is_file().then(|| Unowned {
                    path: p.display().to_string(),
                    size: m.len(),
                })
            })
            .collect(),
    )
}

/// The volume id of an ISO9660 image: 32 bytes at offset 40 of the primary volume descriptor
/// (sector 16). Read directly, no mount and no tool.
pub fn iso_volume_id(path: &Path) -> Result<String, String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = [0u8; 2048];
    f.seek(SeekFrom::Start(16 * 2048))
        .and_then(|_| f.read_exact(&mut buf))
        .map_err(|e| format!("{}: not an ISO9660 image: {e}", path.display()))?;
    if buf[0] != 1 || &buf[1..6] != b"CD001" {
        return Err(format!(
            "{}: no ISO9660 primary volume descriptor",
            path.display()
        ));
    }
    Ok(String::from_utf8_lossy(&buf[40..72]).trim_end().to_string())
}

fn media_entries(runner: &Runner, media: &Path, warnings: &mut Vec<String>) -> Vec<Entry> {
    let mut out = vec![];
    if media.is_dir() {
        // Already mounted or extracted media.
        out.push(record(
            runner,
            "media-files.out",
            Cmd::new("find").arg(media).arg("-printf").arg("%P\\n"),
        ));
        out.push(record(
            runner,
            "setup-help.out",
            Cmd::new(media.join("setup")).arg("--help"),
        ));
        return out;
    }
    let t = Instant::now();
    let vol = iso_volume_id(media);
    out.push(Entry {
        file: "media-volid.out".into(),
        argv: vec!["iso9660-volume-id".into(), media.display().to_string()],
        rc: i32::from(vol.is_err()),
        duration_ms: t.elapsed().as_millis() as u64,
        timed_out: false,
        stdout: vol.as_ref().map(|v| format!("{v}\n")).unwrap_or_default(),
        stderr: vol.err().map(|e| format!("{e}\n")).unwrap_or_default(),
    });
    let list = record(
        runner,
        "media-files.out",
        Cmd::new("bsdtar").arg("-tf").arg(media),
    );
    let has_setup = list
        .stdout
        .lines()
        .any(|l| l.trim_start_matches("./") == "setup");
    out.push(list);
    if !has_setup {
        warnings.push(format!(
            "media {}: no setup at its top level",
            media.display()
        ));
        return out;
    }
    // setup --help needs the file: extract that one file into a private temp dir.
    let tmp = std::env::temp_dir().join(format!("lk_capture.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    if let Err(e) = std::fs::create_dir(&tmp) {
        warnings.push(format!("media: cannot create {}: {e}", tmp.display()));
        return out;
    }
    let x = runner.run(
        &Cmd::new("bsdtar")
            .arg("-xf")
            .arg(media)
            .arg("-C")
            .arg(&tmp)
            .arg("setup"),
    );
    match x {
        Ok(o) if o.ok() => {
            let mut e = record(
                runner,
                "setup-help.out",
                Cmd::new(tmp.join("setup")).arg("--help"),
            );
            e.argv = vec![format!("{}!/setup", media.display()), "--help".into()];
            out.push(e);
        }
        Ok(o) => warnings.push(format!("media: cannot extract setup: {}", o.tail())),
        Err(e) => warnings.push(format!("media: {}", e.msg)),
    }
    let _ = std::fs::remove_dir_all(&tmp);
    out
}

/// One resource block of the detailed display (plain `lcdstatus`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Detailed {
    pub tag: String,
    pub id: Option<String>,
    pub app: Option<String>,
    pub rtype: Option<String>,
    pub state: Option<String>,
    pub depends_on: Vec<String>,
    pub dependents: Vec<String>,
    pub local_priority: Option<u32>,
    /// (remote tag, node, priority)
    pub equivalencies: Vec<(String, String, u32)>,
}

/// Parse the detailed display, free-form on purpose (its layout is only partly public): both
/// the one-line `<tag>: id=... app=... type=... state=...` form of real nodes and lksim's
/// `<tag>:` / `    id=...` two-line form. Lines it does not know are ignored.
pub fn parse_detailed(text: &str) -> Vec<Detailed> {
    parse_detailed_strict(text).unwrap_or_default()
}

/// As `parse_detailed`, but a resource line it cannot read is an error naming the line.
pub fn parse_detailed_strict(text: &str) -> Result<Vec<Detailed>, String> {
    let mut out: Vec<Detailed> = vec![];
    let mut pending: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 1;
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        let attrs_at = t
            .find(" id=")
            .map(|i| i + 1)
            .or_else(|| t.starts_with("id=").then_some(0));
        if let Some(at) = attrs_at.filter(|_| t.contains(" app=") && t.contains(" state=")) {
            let tag = if at == 0 {
                pending.take().ok_or_else(|| {
                    format!("line {lineno}: resource attributes without a tag line: {raw:?}")
                })?
            } else {
                t[..at - 1]
                    .strip_suffix(':')
                    .ok_or_else(|| format!("line {lineno}: no `<tag>:` before id=: {raw:?}"))?
                    .to_string()
            };
            let attrs = &t[at..];
            let (rest, state) = split_last(attrs, " state=")
                .ok_or_else(|| format!("line {lineno}: no state=: {raw:?}"))?;
            let (rest, rtype) = split_last(rest, " type=")
                .ok_or_else(|| format!("line {lineno}: no type=: {raw:?}"))?;
            let (rest, app) = split_last(rest, " app=")
                .ok_or_else(|| format!("line {lineno}: no app=: {raw:?}"))?;
            let id = rest.strip_prefix("id=").unwrap_or(rest);
            out.push(Detailed {
                tag,
                id: Some(id.to_string()),
                app: Some(app.to_string()),
                rtype: Some(rtype.to_string()),
                state: Some(state.split_whitespace().next().unwrap_or("").to_string()),
                ..Default::default()
            });
            continue;
        }
        pending = None;
        if let Some(tag) = t.strip_suffix(':') {
            let known_heading = matches!(
                tag,
                "The following LifeKeeper machines are known" | "MACHINE"
            );
            if !known_heading && !tag.contains(' ') || tag.starts_with('/') {
                pending = Some(tag.to_string());
            }
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if let Some(v) = t.strip_prefix("depends on resources:") {
            cur.depends_on = list(v);
        } else if let Some(v) = t.strip_prefix("these resources are dependent:") {
            cur.dependents = list(v);
        } else if let Some(v) = t.strip_prefix("Local priority =") {
            cur.local_priority = v.trim().parse().ok();
        } else if let Some(v) = t.strip_prefix("SHARED equivalency with ") {
            // "<tag>" on "<node>", priority = N
            let q: Vec<&str> = v.split('"').collect();
            if q.len() >= 5 {
                let prio = q[4]
                    .rsplit('=')
                    .next()
                    .and_then(|p| p.trim().parse().ok())
                    .ok_or_else(|| format!("line {lineno}: no priority: {raw:?}"))?;
                cur.equivalencies
                    .push((q[1].to_string(), q[3].to_string(), prio));
            } else {
                return Err(format!("line {lineno}: unreadable equivalency: {raw:?}"));
            }
        }
    }
    Ok(out)
}

fn split_last<'a>(s: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
    let i = s.rfind(key)?;
    Some((&s[..i], &s[i + key.len()..]))
}

fn list(v: &str) -> Vec<String> {
    v.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_replaces_values_and_returns_them_for_scrubbing() {
        let text = "A=1\nSECRET_KEY=\"canary-Xy1\"\nexport TOKEN=abc123\n";
        let (out, found, secrets) = redact_defaults(text, &["SECRET_KEY".into(), "TOKEN".into()]);
        assert_eq!(out, "A=1\nSECRET_KEY=<redacted>\nexport TOKEN=<redacted>\n");
        assert_eq!(found, vec!["SECRET_KEY".to_string(), "TOKEN".to_string()]);
        assert!(secrets.contains(&"canary-Xy1".to_string()));
        assert_eq!(scrub("x canary-Xy1 y", &secrets), "x <redacted> y");
    }

    /// Issue 28 S5: a quoted value spanning two lines (valid sh) was replaced on its first line
    /// only; the rest reached defaults.txt, the result and the controller.
    #[test]
    fn s5_a_quoted_value_spanning_lines_is_redacted_whole() {
        let keys = ["SECRET_KEY".to_string(), "TOKEN".to_string()];
        let text = "A=1\nSECRET_KEY=\"first-half\nsecond-half-Zq9\" # site key\nB=2\nTOKEN='one\ntwo-Kx7\nthree-Kx7'\nC=3\nexport TOKEN=tail\\\ncontinued-Mm4\n";
        let (out, found, secrets) = redact_defaults(text, &keys);
        assert_eq!(
            out,
            "A=1\nSECRET_KEY=<redacted> # site key\nB=2\nTOKEN=<redacted>\nC=3\nexport TOKEN=<redacted>\n"
        );
        for leak in [
            "first-half",
            "second-half",
            "two-Kx7",
            "three-Kx7",
            "continued-Mm4",
        ] {
            assert!(!out.contains(leak), "{leak} leaked: {out}");
        }
        assert_eq!(found, keys.to_vec());
        // Each line of the value is scrubbed from every other captured text too.
        assert_eq!(
            scrub("log: second-half-Zq9 and three-Kx7", &secrets),
            "log: <redacted> and <redacted>"
        );
        // An unterminated quote: everything after it is taken as the value (too much, never too
        // little).
        let (out, _, _) = redact_defaults("SECRET_KEY=\"open\nrest-of-file\n", &keys);
        assert_eq!(out, "SECRET_KEY=<redacted>");
    }

    #[test]
    fn detailed_display_real_one_line_and_lksim_two_line_forms() {
        let real = "ROOT of RESOURCE HIERARCHY\n\n/datamnt: id=/datamnt app=gen type=filesys state=ISP\n    initialize=(AUTORES_ISP) automatic restore to IN-SERVICE by LifeKeeper\n    depends on resources: datarep-dk\n    Local priority = 1\n    SHARED equivalency with \"/datamnt\" on \"node-b\", priority = 10\n        FAILOVER ALLOWED\ndatarep-dk: id=/dev/md0 x app=scsi type=netraid state=ISP\n    these resources are dependent: /datamnt\n\nThe following LifeKeeper machines are known:\nmachine=node-b state=ALIVE\n";
        let d = parse_detailed_strict(real).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].tag, "/datamnt");
        assert_eq!(d[0].depends_on, vec!["datarep-dk"]);
        assert_eq!(
            d[0].equivalencies,
            vec![("/datamnt".into(), "node-b".into(), 10)]
        );
        assert_eq!(d[1].id.as_deref(), Some("/dev/md0 x"));
        assert_eq!(d[1].rtype.as_deref(), Some("netraid"));
        let sim = "MACHINE: a\n\nip-1:\n    id=IP-1 app=comm type=ip state=OSU\n    Local priority = 10\n";
        let d = parse_detailed_strict(sim).unwrap();
        assert_eq!(d[0].tag, "ip-1");
        assert_eq!(d[0].local_priority, Some(10));
    }
}

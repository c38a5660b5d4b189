//! DataKeeper mirrors (resource type `netraid`, issue 17): which resources are mirrors, and
//! whether a mirror is in sync toward a node.
//!
//! Detection: the detailed `lcdstatus` display (no options) prints one line per resource,
//! `<tag>: id=... app=... type=... state=...` (fact, field evidence [AWS image]). A resource is a
//! mirror when its type is `netraid`. The line is matched against the tags we already know from
//! `lcdstatus -e`, so a tag holding `: ` or ` type=` cannot confuse the split.
//!
//! Sync state: `mirror_status TAG`. Its layout is NOT public (UNCONFIRMED, lksim/FIDELITY.md);
//! the parser accepts the layout lksim prints:
//!
//! ```text
//! Mirror: datarep-x
//! Source: node-a
//! Target: node-b  State: in sync  Progress: 100%
//! Target: node-c  State: resyncing  Progress: 45%  Remaining: 12s
//! Target: node-d  State: paused  Progress: 45%
//! ```
//!
//! and fails safe: any line it does not understand, a `Mirror:` line naming another tag, a
//! missing `Source:`, a contradiction (in sync below 100%) or a missing target line makes the
//! mirror "not known to be in sync" toward every target concerned. Callers then refuse to
//! switch a hierarchy onto that target; the command is a module parameter
//! (`mirror_status_cmd`), so a site whose real output differs can put a wrapper there.

use crate::runtime::{Cmd, Failure, Runner};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;

/// The sync state of one mirror toward one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sync {
    InSync,
    Resyncing,
    Paused,
    /// Anything we could not read: never treated as in sync.
    Unknown,
}

impl Sync {
    pub fn as_str(&self) -> &'static str {
        match self {
            Sync::InSync => "in_sync",
            Sync::Resyncing => "resyncing",
            Sync::Paused => "paused",
            Sync::Unknown => "unknown",
        }
    }
}

/// One target line of `mirror_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub node: String,
    pub state: Sync,
    /// Percent, when shown.
    pub progress: Option<u8>,
    /// Seconds left, when shown.
    pub remaining_s: Option<u64>,
}

/// What `mirror_status TAG` told us about one mirror.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MirrorStatus {
    pub tag: String,
    pub source: Option<String>,
    pub targets: Vec<Target>,
    /// Why the output is not trusted (empty: every line was understood). Non-empty makes the
    /// mirror unknown toward every target.
    pub problems: Vec<String>,
}

impl MirrorStatus {
    /// A status we could not obtain at all (command failed, LifeKeeper stopped, ...).
    pub fn unreadable(tag: &str, why: impl Into<String>) -> MirrorStatus {
        MirrorStatus {
            tag: tag.to_string(),
            problems: vec![why.into()],
            ..Default::default()
        }
    }

    /// The state toward `node`. The source itself needs no sync (the data is there).
    pub fn toward(&self, node: &str) -> Target {
        let unknown = || Target {
            node: node.to_string(),
            state: Sync::Unknown,
            progress: None,
            remaining_s: None,
        };
        if !self.problems.is_empty() {
            return unknown();
        }
        if self.source.as_deref() == Some(node) {
            return Target {
                node: node.to_string(),
                state: Sync::InSync,
                progress: Some(100),
                remaining_s: None,
            };
        }
        self.targets
            .iter()
            .find(|t| t.node == node)
            .cloned()
            .unwrap_or_else(unknown)
    }

    pub fn in_sync_toward(&self, node: &str) -> bool {
        self.toward(node).state == Sync::InSync
    }

    /// The result entry for the mirror toward `node`: tag, source, target, state, progress
    /// (and remaining_s / problem when known).
    pub fn json_toward(&self, node: &str) -> Value {
        let t = self.toward(node);
        let mut v = json!({
            "tag": self.tag,
            "source": self.source,
            "target": node,
            "state": t.state.as_str(),
            "progress": t.progress,
        });
        if let Some(r) = t.remaining_s {
            v["remaining_s"] = json!(r);
        }
        if t.state == Sync::Unknown {
            v["problem"] = json!(self.why_unknown(node));
        }
        v
    }

    /// "resyncing 45% (12s left)", "unknown (line 3 not understood: ...)" for messages.
    pub fn describe_toward(&self, node: &str) -> String {
        let t = self.toward(node);
        let mut s = match t.state {
            Sync::InSync => "in sync".to_string(),
            Sync::Resyncing => "resyncing".into(),
            Sync::Paused => "paused".into(),
            Sync::Unknown => {
                return format!("not known to be in sync ({})", self.why_unknown(node))
            }
        };
        if let Some(p) = t.progress {
            s.push_str(&format!(" {p}%"));
        }
        if let Some(r) = t.remaining_s {
            s.push_str(&format!(" ({r}s left)"));
        }
        s
    }

    fn why_unknown(&self, node: &str) -> String {
        if self.problems.is_empty() {
            format!("mirror_status shows no target {node}")
        } else {
            self.problems.join("; ")
        }
    }
}

/// Parse `mirror_status TAG` output. Never fails: what it does not understand goes to
/// `problems`, which makes the mirror unknown (fail safe).
pub fn parse_status(tag: &str, text: &str) -> MirrorStatus {
    let mut st = MirrorStatus {
        tag: tag.to_string(),
        ..Default::default()
    };
    let mut saw_mirror = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}: {:?}", n + 1, clip(line));
        if let Some(m) = line.strip_prefix("Mirror: ") {
            if saw_mirror {
                st.problems.push(bad("a second Mirror line"));
            } else if m != tag {
                st.problems
                    .push(bad(&format!("names another mirror than {tag:?}")));
            }
            saw_mirror = true;
        } else if let Some(s) = line.strip_prefix("Source: ") {
            if st.source.is_some() || s.trim().is_empty() || s.contains(char::is_whitespace) {
                st.problems.push(bad("unexpected Source line"));
            } else {
                st.source = Some(s.to_string());
            }
        } else if let Some(rest) = line.strip_prefix("Target: ") {
            match parse_target(rest) {
                Ok(t) if st.targets.iter().any(|x| x.node == t.node) => {
                    st.problems.push(bad("target listed twice"));
                }
                Ok(t) => st.targets.push(t),
                Err(why) => st.problems.push(bad(&why)),
            }
        } else {
            st.problems.push(bad("not understood"));
        }
    }
    if !saw_mirror {
        st.problems.push("no `Mirror:` line".into());
    }
    match st.source.as_deref() {
        None => st.problems.push("no `Source:` line".into()),
        // lksim prints `none` when the mirror is in service nowhere yet: no node has the data
        // for sure, so nothing is in sync.
        Some("none") => st
            .problems
            .push("the mirror has no source (Source: none)".into()),
        Some(_) => {}
    }
    st
}

/// `node-b  State: resyncing  Progress: 45%  Remaining: 12s` (fields separated by 2+ blanks).
fn parse_target(rest: &str) -> Result<Target, String> {
    let fields: Vec<&str> = rest
        .split("  ")
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let (node, fields) = fields.split_first().ok_or("no target name")?;
    if node.contains(char::is_whitespace) {
        return Err("target name with a blank".into());
    }
    let mut state = None;
    let mut progress = None;
    let mut remaining = None;
    for f in fields {
        if let Some(s) = f.strip_prefix("State: ") {
            state = Some(match s {
                "in sync" => Sync::InSync,
                "resyncing" => Sync::Resyncing,
                "paused" => Sync::Paused,
                other => return Err(format!("unknown state {other:?}")),
            });
        } else if let Some(p) = f.strip_prefix("Progress: ") {
            let v: u8 = p
                .strip_suffix('%')
                .and_then(|x| x.parse().ok())
                .filter(|v| *v <= 100)
                .ok_or_else(|| format!("unreadable progress {p:?}"))?;
            progress = Some(v);
        } else if let Some(r) = f.strip_prefix("Remaining: ") {
            let v: u64 = r
                .strip_suffix('s')
                .and_then(|x| x.parse().ok())
                .ok_or_else(|| format!("unreadable remaining time {r:?}"))?;
            remaining = Some(v);
        } else {
            return Err(format!("unknown field {f:?}"));
        }
    }
    let state = state.ok_or("no State field")?;
    if state == Sync::InSync && progress != Some(100) {
        return Err("in sync but progress is not 100%".into());
    }
    Ok(Target {
        node: node.to_string(),
        state,
        progress,
        remaining_s: remaining,
    })
}

fn clip(s: &str) -> String {
    s.chars().take(120).collect()
}

/// The tags among `known` whose resource type in the detailed `lcdstatus` display is `netraid`.
/// Returns an error when a known tag has no line there (the display is not what we expect; we
/// must not conclude "no mirror" from a display we cannot read).
pub fn netraid_tags(detailed: &str, known: &[&str]) -> Result<Vec<String>, String> {
    let resources = crate::lifekeeper::capture::parse_detailed_strict(detailed)?;
    let mut out = vec![];
    for tag in known {
        let r = resources.iter().find(|r| r.tag == *tag).ok_or_else(|| {
            format!("no line `{tag}: id=... type=...` in the detailed lcdstatus display")
        })?;
        if r.rtype.as_deref() == Some("netraid") {
            out.push(tag.to_string());
        }
    }
    Ok(out)
}

/// Run the detailed `lcdstatus` (no options) and return the netraid tags among `known`.
pub fn detect(runner: &Runner, lkroot: &Path, known: &[&str]) -> Result<Vec<String>, Failure> {
    if known.is_empty() {
        return Ok(vec![]);
    }
    let out = runner.run_ok(
        &Cmd::lk(lkroot, "lcdstatus"),
        "reading the resource types (detailed lcdstatus) to find DataKeeper mirrors",
    )?;
    netraid_tags(&out.stdout, known).map_err(|e| {
        Failure::param(
            "mirror_tags",
            format!("cannot tell which resources are DataKeeper mirrors: {e}; give mirror_tags explicitly ([] when there is none)"),
        )
    })
}

/// Run `<cmd> TAG` and parse it; a failing command gives an unreadable (unknown) status.
pub fn read_status(runner: &Runner, cmd: &Path, tag: &str) -> Result<MirrorStatus, Failure> {
    let out = runner.run(&Cmd::new(cmd).arg(tag))?;
    if !out.ok() {
        return Ok(MirrorStatus::unreadable(
            tag,
            format!(
                "`{} {tag}` failed (rc {}): {}",
                cmd.display(),
                out.rc,
                clip(out.tail().trim())
            ),
        ));
    }
    Ok(parse_status(tag, &out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LKSIM: &str = "Mirror: datarep-x
Source: node-a
Target: node-b  State: in sync  Progress: 100%
Target: node-c  State: resyncing  Progress: 45%  Remaining: 12s
Target: node-d  State: paused  Progress: 45%
";

    #[test]
    fn reads_the_simulator_layout() {
        let s = parse_status("datarep-x", LKSIM);
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.source.as_deref(), Some("node-a"));
        assert!(s.in_sync_toward("node-b"));
        assert!(s.in_sync_toward("node-a"), "the source has the data");
        let c = s.toward("node-c");
        assert_eq!(
            (c.state, c.progress, c.remaining_s),
            (Sync::Resyncing, Some(45), Some(12))
        );
        assert_eq!(s.toward("node-d").state, Sync::Paused);
        assert_eq!(s.toward("node-e").state, Sync::Unknown);
        assert_eq!(
            s.json_toward("node-c"),
            json!({"tag": "datarep-x", "source": "node-a", "target": "node-c",
                   "state": "resyncing", "progress": 45, "remaining_s": 12})
        );
        assert_eq!(s.describe_toward("node-c"), "resyncing 45% (12s left)");
    }

    #[test]
    fn garbage_is_never_in_sync() {
        for text in [
            "",
            "\0\u{fffd}garbage",
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: in sync  Progress: 100%\nBitmap: dirty\n",
            "Mirror: other\nSource: node-a\nTarget: node-b  State: in sync  Progress: 100%\n",
            "Source: node-a\nTarget: node-b  State: in sync  Progress: 100%\n",
            "Mirror: datarep-x\nTarget: node-b  State: in sync  Progress: 100%\n",
            "Mirror: datarep-x\nSource: none\nTarget: node-b  State: in sync  Progress: 100%\n",
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: in sync  Progress: 50%\n",
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: In Sync  Progress: 100%\n",
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: in sync\n",
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  Progress: 100%\n",
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: in sync  Progress: 100%  Extra: 1\n",
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: in sync  Progress: 900%\n",
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: in sync  Progress: 100%\nTarget: node-b  State: resyncing  Progress: 1%\n",
            "Mirror: datarep-x\nMirror: datarep-x\nSource: node-a\nTarget: node-b  State: in sync  Progress: 100%\n",
        ] {
            let s = parse_status("datarep-x", text);
            assert!(!s.in_sync_toward("node-b"), "{text:?} read as in sync");
            assert_eq!(s.json_toward("node-b")["state"], "unknown", "{text:?}");
            assert!(s.describe_toward("node-b").starts_with("not known to be in sync"));
        }
        let s = MirrorStatus::unreadable("m", "rc 1");
        assert!(!s.in_sync_toward("node-b"));
        assert!(!s.in_sync_toward(""));
    }

    #[test]
    fn detects_netraid_in_the_detailed_display() {
        let d = "ROOT of RESOURCE HIERARCHY
app-x: id=app x app=gen type=app state=ISP
    initialize=(AUTORES_ISP) automatic restore to IN-SERVICE by LifeKeeper
/data: id=/data app=gen type=filesys state=ISP
datarep-x: id=/dev/md0 app=scsi type=netraid state=ISP
The following LifeKeeper machines are known:
machine=node-b state=ALIVE
";
        assert_eq!(
            netraid_tags(d, &["app-x", "/data", "datarep-x"]).unwrap(),
            vec!["datarep-x"]
        );
        assert!(netraid_tags(d, &["app-x", "missing"]).is_err());
        assert!(netraid_tags("app-x: id=a app=gen state=ISP", &["app-x"]).is_err());
        assert_eq!(netraid_tags("", &[]).unwrap(), Vec::<String>::new());
    }
}

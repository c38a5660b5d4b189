//! lk_capture: a read-only capture of what a LifeKeeper node prints (issue 18).
//!
//! facts (every command run once, `lifekeeper::capture::gather`) -> plan (the capture directory's
//! files, compared with what `dest/<node>/` holds now) -> apply (atomic writes, SHA256SUMS last).
//! The node itself is never changed: the module's only writes are into `dest`.

use crate::lifekeeper::capture::{self, Capture, Spec};
use crate::runtime::{
    diff, fs, time, Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support, LKROOT,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PARAMS: &[Param] = &[
    LKROOT,
    Param::new(
        "defaults_file",
        Kind::Path,
        "The LifeKeeper defaults file; captured as defaults.txt with the values of the keys in redact replaced.",
    )
    .default("\"/etc/default/LifeKeeper\""),
    Param::new(
        "dest",
        Kind::Path,
        "Directory on the node under which the capture directory DEST/<node>/ is written (<node> is the node's LifeKeeper name). Without it the capture is returned in the result only. Must not be under lkroot (the uninstaller deletes lkroot).",
    ),
    Param::new(
        "redact",
        Kind::List,
        "Keys of the defaults file whose values never leave the node: replaced by <redacted> in defaults.txt and scrubbed from every captured output and from the result.",
    ),
    Param::new(
        "media",
        Kind::Path,
        "The installation media (an ISO image such as sps.img, or a directory with mounted media): adds its volume id, its file listing and the output of its setup --help. The image is read without mounting it.",
    ),
    Param::new(
        "license_dir",
        Kind::Path,
        "Where the license files are; only their names are captured, never their contents.",
    )
    .default("\"/var/LifeKeeper/license\""),
    Param::new(
        "os_release",
        Kind::Path,
        "The os-release file captured as os-release.txt.",
    )
    .default("\"/etc/os-release\""),
    Param::new(
        "node",
        Kind::Str,
        "The node's LifeKeeper name, when it should not be read from lcduname, $LKROOT/config/UNAME or lcdstatus -q.",
    ),
    Param::new(
        "timeout",
        Kind::Int,
        "Seconds each captured command may take (a hung command is recorded as timed out, and the capture goes on).",
    )
    .default("120"),
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_capture",
    short: "Capture, read-only, what a LifeKeeper node prints, to rebuild it as a simulated twin",
    description: &[
        "Runs the commands the lkops modules rely on (lcdstatus -e, lcdstatus -q, the detailed lcdstatus, lktest, rpm -qa, uname -a, getenforce, the node's LifeKeeper name, mirror_status of every mirror) and reads /etc/default/LifeKeeper and /etc/os-release, recording for each its argv, exit code, stdout, stderr and duration.",
        "With dest, writes the capture directory DEST/<node>/: one file per command holding its stdout exactly as printed (lcdstatus-e.out, lcdstatus-q.out, lcdstatus.out, lktest.out, rpm-qa.out, defaults.txt, uname-a.out, os-release.txt, getenforce.out, lcduname.out, mirror_status-<tag>.out, license-files.txt, unowned-files.txt; with media media-volid.out, media-files.out, setup-help.out), manifest.json (schema version, node, time, each command's argv, rc, duration and file name) and SHA256SUMS (sha256sum -c format).",
        "lksim twin create --from rebuilds a simulated cluster from such captures (one directory per node), and playbooks/rehearse.yml runs the rolling upgrade against that twin first.",
        "It changes nothing on the node: license files are listed by name only and never opened, and values of keys named in redact never leave the node.",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Runs the same read-only commands and reports whether the capture directory would change, writing nothing.",
    ),
    diff_mode: (
        Support::Full,
        "Returns the capture directory's file list with checksums before and after.",
    ),
    notes: &[
        "A second run on an unchanged node reports changed=false and rewrites nothing: manifest.json is compared without its time and durations.",
        "UNCONFIRMED: the files under lkroot that no package owns are asked of rpm -qf (its 'is not owned by any package' answer); when rpm cannot answer, unowned_files is null and a warning says so.",
        "UNCONFIRMED: setup --help of the media; its options are not public. It runs with stdin closed and the timeout, from a copy of setup extracted (bsdtar) into a private temporary directory that is removed afterwards.",
        "Redacted values shorter than 3 characters are replaced in defaults.txt only (scrubbing them from every text would destroy it).",
    ],
    examples: r#"
- name: Capture this node for a rehearsal
  lk_capture:
    dest: /var/tmp/lkops-capture
    redact: [LK_LICENSE_KEY]
    media: /tmp/sps.img

- name: Only look (nothing written)
  lk_capture:
  register: cap
"#,
    returns: &[
        Ret::new("node", "str", "always", "The node's LifeKeeper name.").sample("\"node-a\""),
        Ret::new("node_source", "str", "always", "Where the name was read: lcduname, the config/UNAME file, lcdstatus -q, uname -n, or the node parameter."),
        Ret::new("dir", "str", "when dest is given", "The capture directory DEST/<node>.").sample("\"/var/tmp/lkops-capture/node-a\""),
        Ret::new("files", "list", "always", "The capture directory's file names, SHA256SUMS last."),
        Ret::new("commands", "list", "always", "Each captured command: file, argv, rc, duration_ms, timed_out, stdout, stderr."),
        Ret::new("license_files", "list", "always", "Names (never contents) of the license files."),
        Ret::new("unowned_files", "list", "always", "Files under lkroot no package owns ({path, size}); null when rpm could not say."),
        Ret::new("mirrors", "list", "always", "Tags of the mirrors (type netraid) whose mirror_status was captured."),
        Ret::new("redacted", "list", "always", "Keys of redact that were found and replaced."),
        Ret::new("schema_version", "int", "always", "The manifest.json layout version.").sample("1"),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub lkroot: PathBuf,
    pub defaults_file: PathBuf,
    pub dest: Option<PathBuf>,
    #[serde(default)]
    pub redact: Vec<String>,
    pub media: Option<PathBuf>,
    pub license_dir: PathBuf,
    pub os_release: PathBuf,
    pub node: Option<String>,
    pub timeout: i64,
}

pub struct CaptureModule;

impl Module for CaptureModule {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        let ctx = ctx.bounded("timeout", p.timeout)?;
        validate(&p)?;
        let spec = Spec {
            lkroot: p.lkroot.clone(),
            defaults_file: p.defaults_file.clone(),
            license_dir: p.license_dir.clone(),
            os_release: p.os_release.clone(),
            redact: p.redact.clone(),
            media: p.media.clone(),
            node: p.node.clone(),
        };
        ctx.progress("capturing (read-only)");
        let mut cap = capture::gather(&ctx.runner, &spec);
        if let Err(e) = crate::lifekeeper::node::check(&cap.node) {
            return Err(Failure::new(format!(
                "{e} (read from {}), so it cannot name the capture directory; pass node",
                cap.node_source
            ))
            .with("invalid_parameter", "node"));
        }
        let files = render(&cap, time::now_secs());
        let names: Vec<String> = files
            .keys()
            .cloned()
            .chain(["SHA256SUMS".to_string()])
            .collect();
        let mut changed = false;
        let mut dir_out = None;
        let mut the_diff = None;
        if let Some(dest) = &p.dest {
            let dir = dest.join(&cap.node);
            let plan = plan_dir(&dir, &files)?;
            for n in &plan.ignored {
                cap.warnings.push(format!(
                    "{}/manifest.json lists {n:?}, which is not a file name of that directory: left alone (a planted manifest?)",
                    dir.display()
                ));
            }
            changed = plan.changed();
            the_diff = Some(diff::text(
                &dir.display().to_string(),
                &plan.before_listing,
                &plan.after_listing,
            ));
            if changed && !ctx.check_mode {
                apply(&dir, &files, &plan)?;
            }
            dir_out = Some(dir.display().to_string());
        }
        let msg = match (&dir_out, changed, ctx.check_mode) {
            (None, _, _) => format!(
                "captured {} outputs of node {} (read-only; nothing written)",
                cap.entries.len(),
                cap.node
            ),
            (Some(d), false, _) => format!("capture of node {} in {d} is up to date", cap.node),
            (Some(d), true, true) => format!("would write the capture of node {} to {d}", cap.node),
            (Some(d), true, false) => format!("wrote the capture of node {} to {d}", cap.node),
        };
        let mut out = Outcome::new(changed, msg)
            .with("node", cap.node.clone())
            .with("node_source", cap.node_source.clone())
            .with("dir", dir_out)
            .with("files", names)
            .with("commands", commands_json(&cap, true))
            .with("license_files", cap.license_files.clone())
            .with(
                "unowned_files",
                serde_json::to_value(&cap.unowned).unwrap_or(Value::Null),
            )
            .with("mirrors", cap.mirrors.clone())
            .with("redacted", cap.redacted.clone())
            .with("schema_version", capture::SCHEMA_VERSION)
            .diff(the_diff);
        for w in &cap.warnings {
            out.warn(w.clone());
        }
        Ok(out)
    }
}

fn validate(p: &Params) -> Result<(), Failure> {
    if let Some(d) = &p.dest {
        crate::runtime::spec::check_abs_path("dest", &d.to_string_lossy())?;
        let lk = p.lkroot.canonicalize().unwrap_or_else(|_| p.lkroot.clone());
        let dd = nearest_existing(d);
        if dd.starts_with(&lk) || d.starts_with(&p.lkroot) {
            return Err(Failure::param(
                "dest",
                format!("dest {} is under lkroot {}: the uninstaller deletes it, and it would be captured as unowned files", d.display(), p.lkroot.display()),
            ));
        }
    }
    if let Some(n) = &p.node {
        crate::lifekeeper::node::check(n)
            .map_err(|e| Failure::param("node", format!("node: {e}")))?;
    }
    for k in &p.redact {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Failure::param(
                "redact",
                format!("redact: {k:?} is not a defaults-file key"),
            ));
        }
    }
    if let Some(m) = &p.media {
        if !m.exists() {
            return Err(Failure::param(
                "media",
                format!("media {} does not exist", m.display()),
            ));
        }
    }
    Ok(())
}

/// `d` resolved through its nearest existing ancestor (so a dest not created yet is judged too).
fn nearest_existing(d: &Path) -> PathBuf {
    let mut cur = d.to_path_buf();
    let mut tail = vec![];
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut r = c;
            for t in tail.iter().rev() {
                r.push(t);
            }
            return r;
        }
        match (cur.file_name().map(|s| s.to_os_string()), cur.parent()) {
            (Some(f), Some(p)) => {
                tail.push(f);
                cur = p.to_path_buf();
            }
            _ => return d.to_path_buf(),
        }
    }
}

fn commands_json(cap: &Capture, with_output: bool) -> Value {
    Value::Array(
        cap.entries
            .iter()
            .map(|e| {
                let mut v = json!({"file": e.file, "argv": e.argv, "rc": e.rc,
                    "duration_ms": e.duration_ms, "timed_out": e.timed_out, "stderr": e.stderr});
                if with_output {
                    v["stdout"] = Value::from(e.stdout.clone());
                }
                v
            })
            .collect(),
    )
}

/// The capture directory's files (name -> content), without SHA256SUMS.
pub fn render(cap: &Capture, now: i64) -> BTreeMap<String, Vec<u8>> {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for e in &cap.entries {
        files.insert(e.file.clone(), e.stdout.clone().into_bytes());
    }
    let lic: String = cap.license_files.iter().map(|l| format!("{l}\n")).collect();
    files.insert("license-files.txt".into(), lic.into_bytes());
    if let Some(u) = &cap.unowned {
        let t: String = u
            .iter()
            .map(|x| format!("{} {}\n", x.size, x.path))
            .collect();
        files.insert("unowned-files.txt".into(), t.into_bytes());
    }
    let manifest = json!({
        "schema_version": capture::SCHEMA_VERSION,
        "node": cap.node,
        "node_source": cap.node_source,
        "time": time::iso8601(now),
        "tool": "lk_capture",
        "commands": commands_json(cap, false),
        "license_files": cap.license_files,
        "unowned_files_known": cap.unowned.is_some(),
        "mirrors": cap.mirrors,
        "redacted": cap.redacted,
        "warnings": cap.warnings,
    });
    let mut m = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    m.push('\n');
    files.insert("manifest.json".into(), m.into_bytes());
    files
}

pub fn sha256sums(files: &BTreeMap<String, Vec<u8>>) -> String {
    files
        .iter()
        .map(|(n, b)| format!("{}  {n}\n", fs::sha256_bytes(b)))
        .collect()
}

/// manifest.json without what changes on every run (time, durations): the idempotency key.
fn stable_manifest(bytes: &[u8]) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(bytes).ok()?;
    v.as_object_mut()?.remove("time");
    if let Some(cmds) = v.get_mut("commands").and_then(Value::as_array_mut) {
        for c in cmds {
            if let Some(o) = c.as_object_mut() {
                o.remove("duration_ms");
            }
        }
    }
    Some(v)
}

struct DirPlan {
    write: Vec<String>,
    remove: Vec<String>,
    /// Names the old manifest lists that are not plain file names of the directory (ignored).
    ignored: Vec<String>,
    before_listing: String,
    after_listing: String,
}

impl DirPlan {
    fn changed(&self) -> bool {
        !self.write.is_empty() || !self.remove.is_empty()
    }
}

fn plan_dir(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<DirPlan, Failure> {
    if let Ok(m) = std::fs::symlink_metadata(dir) {
        if !m.is_dir() {
            return Err(Failure::param(
                "dest",
                format!("{} exists and is not a directory", dir.display()),
            ));
        }
    }
    let old_manifest = std::fs::read(dir.join("manifest.json")).ok();
    // Files an earlier capture wrote (and only those) may be removed. The manifest is data that
    // anyone who could write DEST may have planted (its default is under world-writable /var/tmp,
    // and this module runs as root): a name that is not one plain file name of this directory
    // (the one path-name rule) is never touched, and said so.
    let mut ignored = vec![];
    let old_files: Vec<String> = old_manifest
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .map(|v| {
            let mut names: Vec<String> = v["commands"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["file"].as_str().map(String::from))
                .collect();
            names.extend(
                [
                    "license-files.txt",
                    "unowned-files.txt",
                    "manifest.json",
                    "SHA256SUMS",
                ]
                .map(String::from),
            );
            names
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|n| {
            let ok = fs::is_path_name(n);
            if !ok {
                ignored.push(n.clone());
            }
            ok
        })
        .collect();
    let mut write = vec![];
    let mut before = String::new();
    for (name, content) in files {
        let cur = std::fs::read(dir.join(name)).ok();
        let same = match (name.as_str(), &cur) {
            ("manifest.json", Some(c)) => {
                stable_manifest(c).is_some() && stable_manifest(c) == stable_manifest(content)
            }
            (_, Some(c)) => c == content,
            (_, None) => false,
        };
        if !same {
            write.push(name.clone());
        }
    }
    let remove: Vec<String> = old_files
        .iter()
        .filter(|n| !files.contains_key(*n) && n.as_str() != "SHA256SUMS" && dir.join(n).exists())
        .cloned()
        .collect();
    let mut listed: Vec<String> = old_files.clone();
    listed.sort();
    listed.dedup();
    for n in &listed {
        if let Ok(h) = fs::sha256_file(&dir.join(n)) {
            before.push_str(&format!("{h}  {n}\n"));
        }
    }
    // Unchanged data files keep their bytes; SHA256SUMS follows whatever is on disk afterwards.
    let after = if write.is_empty() && remove.is_empty() {
        before.clone()
    } else {
        let mut s = sha256sums(files);
        s.push_str("(SHA256SUMS)\n");
        s
    };
    if write.is_empty() && remove.is_empty() && !dir.join("SHA256SUMS").exists() {
        write.push("SHA256SUMS".into());
    }
    Ok(DirPlan {
        write,
        remove,
        ignored,
        before_listing: before,
        after_listing: after,
    })
}

fn apply(dir: &Path, files: &BTreeMap<String, Vec<u8>>, plan: &DirPlan) -> Result<(), Failure> {
    let fail = |what: &str, e: std::io::Error| {
        Failure::new(format!(
            "cannot write the capture into {}: {what}: {e}",
            dir.display()
        ))
        .changed(true)
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("mkdir", e))?;
    for (name, content) in files {
        fs::write_atomic(&dir.join(name), content, 0o644).map_err(|e| fail(name, e))?;
    }
    for n in &plan.remove {
        let _ = std::fs::remove_file(dir.join(n));
    }
    // Last, so a directory with SHA256SUMS is complete.
    fs::write_atomic(&dir.join("SHA256SUMS"), sha256sums(files).as_bytes(), 0o644)
        .map_err(|e| fail("SHA256SUMS", e))
}

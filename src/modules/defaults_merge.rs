//! lk_defaults_merge: re-apply a site's `/etc/default/LifeKeeper` parameters to a new release's file.
//!
//! After a reinstall (or an upgrade that ships a new defaults file) the seed procedure says: edit
//! the new file using the saved old one as reference. This module does that edit, and says exactly
//! which keys it carried, dropped, kept and why. With `base` (the old release's pristine file) it is
//! a three-way merge that carries only what the site changed, so a default the new release changed
//! is not reverted to the old default.

use crate::lifekeeper::defaults_file::{self, Assign, DefaultsFile, Line};
use crate::runtime::{
    diff, fs, Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PARAMS: &[Param] = &[
    Param::new(
        "src",
        Kind::Path,
        "The copy of the old /etc/default/LifeKeeper saved before the uninstall or upgrade.",
    )
    .required(),
    Param::new(
        "dest",
        Kind::Path,
        "The new release's defaults file, edited in place (atomically, mode and owner kept).",
    )
    .default("\"/etc/default/LifeKeeper\""),
    Param::new(
        "base",
        Kind::Path,
        "The old release's pristine shipped defaults file. With it the merge is three-way: only keys the site changed (src differs from base) are carried, so a default the new release changed is not reverted. Without it every key whose value in src differs from dest is carried and reported in conflicts.",
    ),
    Param::new("drop", Kind::List, "Keys never carried (obsolete parameters); reported in dropped."),
    Param::new(
        "keep_new",
        Kind::List,
        "Keys whose value in dest always wins; reported in kept_new.",
    ),
    Param::new(
        "set",
        Kind::Dict,
        "Final explicit values (key to value), applied after the merge.",
    ),
    Param::new(
        "backup",
        Kind::Bool,
        "Keep a timestamped copy of dest before changing it; its path is returned as backup_file.",
    )
    .default("true"),
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_defaults_merge",
    short: "Re-apply site parameters from a saved /etc/default/LifeKeeper to a new release's file",
    description: &[
        "Merges the site's parameters from the saved old /etc/default/LifeKeeper (src) into the new release's file (dest), as the vendor's upgrade procedure asks an administrator to do by hand after a reinstall.",
        "The file is treated as what it is, a shell file that LifeKeeper sources: comments, blank lines, quoting, export prefixes and duplicate keys (the last one wins) are understood, and lines the shell would execute as commands are refused.",
        "A carried key replaces the value on its existing line in dest (position and neighbouring comments kept); a key present in dest only as a commented-out default gets its line right after that comment; other keys go into one appended block headed by a comment naming src.",
        "This module merges, it never replaces: keys in dest that src does not mention are left alone.",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Computes the merge and reports changed, the carried keys and the diff without writing anything.",
    ),
    diff_mode: (Support::Full, "Returns the before and after text of dest."),
    notes: &[
        "Values that use shell expansions such as $LKROOT are compared and carried verbatim.",
        "Two runs on the same dest serialise on a lock.",
    ],
    examples: r#"
- name: Re-apply the site's LifeKeeper parameters after reinstalling 9.6.1
  lk_defaults_merge:
    src: /var/backups/lifekeeper/node-a.LifeKeeper.defaults.20261125T020000Z
    base: /var/backups/lifekeeper/LifeKeeper.defaults.9.2.2.pristine
    drop: [OBSOLETE_TUNABLE]
    keep_new: [LK_SERV_ENV]
    set:
      LCMHBEATTIME: "5"

- name: Preview the merge without touching the file
  lk_defaults_merge:
    src: /root/LifeKeeper.old
  check_mode: true
  diff: true
"#,
    returns: &[
        Ret::new("carried", "dict", "always", "Keys carried from src into dest, with the value written.")
            .sample(r#"{"REMOTETIMEOUT": "1200"}"#),
        Ret::new("dropped", "list", "always", "Keys in src that were not carried because of drop."),
        Ret::new(
            "kept_new",
            "list",
            "always",
            "Keys whose dest value was kept because of keep_new although src differs.",
        ),
        Ret::new(
            "conflicts",
            "list",
            "always",
            "Without base: keys carried over a different dest value ({key, src, dest}); each may be an old default rather than a site choice.",
        ),
        Ret::new("set_values", "dict", "always", "Keys written from the set parameter."),
        Ret::new("backup_file", "str", "when changed and backup is true (not in check mode)", "The copy of dest taken before the change."),
        Ret::new("dest", "str", "always", "The file that was (or would be) edited."),
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub src: PathBuf,
    pub dest: PathBuf,
    pub base: Option<PathBuf>,
    #[serde(default)]
    pub drop: Vec<String>,
    #[serde(default)]
    pub keep_new: Vec<String>,
    #[serde(default)]
    pub set: Map<String, Value>,
    pub backup: bool,
}

pub struct DefaultsMerge;

impl Module for DefaultsMerge {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        let r = merge(&p, !ctx.check_mode)?;
        let mut out = Outcome::new(
            r.changed,
            summary(&r.plan, r.changed, ctx.check_mode, &p.dest),
        )
        .with("carried", r.plan.carried_json())
        .with("dropped", r.plan.dropped.clone())
        .with("kept_new", r.plan.kept_new.clone())
        .with("conflicts", r.plan.conflicts.clone())
        .with("set_values", r.plan.set_json())
        .with(
            "backup_file",
            r.backup_file.as_ref().map(|b| b.display().to_string()),
        )
        .with("dest", p.dest.display().to_string())
        .diff(Some(diff::text(
            &p.dest.display().to_string(),
            &r.before,
            &r.after,
        )));
        for w in r.warnings() {
            out.warn(w);
        }
        Ok(out)
    }
}

/// What one merge did (or, with `write: false`, would do). Used by this module and by lk_upgrade,
/// which re-applies the saved parameters after a reinstall.
#[derive(Debug)]
pub struct MergeReport {
    pub changed: bool,
    /// dest before and after the merge.
    pub before: String,
    pub after: String,
    pub backup_file: Option<PathBuf>,
    plan: Plan,
}

impl MergeReport {
    /// Keys carried from src, with the value written.
    pub fn carried(&self) -> Value {
        self.plan.carried_json()
    }
    /// Without base: keys carried over a different dest value.
    pub fn conflicts(&self) -> &[Value] {
        &self.plan.conflicts
    }
    /// One warning per conflict (a carried key that may be an old default, not a site choice).
    pub fn warnings(&self) -> Vec<String> {
        self.plan
            .conflicts
            .iter()
            .map(|c| {
                format!(
                    "{} carried from src ({}) over the new default ({}): without base it may be an old default rather than a site choice",
                    c["key"].as_str().unwrap_or_default(),
                    c["src"].as_str().unwrap_or_default(),
                    c["dest"].as_str().unwrap_or_default()
                )
            })
            .collect()
    }
}

/// Merge `src` into `dest` (three-way with `base`), no drop/keep_new/set, keeping a backup copy
/// of dest. `write: false` only computes.
pub fn merge_files(
    src: &Path,
    dest: &Path,
    base: Option<&Path>,
    write: bool,
) -> Result<MergeReport, Failure> {
    let p = Params {
        src: src.to_path_buf(),
        dest: dest.to_path_buf(),
        base: base.map(Path::to_path_buf),
        drop: vec![],
        keep_new: vec![],
        set: Map::new(),
        backup: true,
    };
    merge(&p, write)
}

/// The whole merge for validated parameters; writes dest (atomically, under a lock) when `write`.
pub fn merge(p: &Params, write: bool) -> Result<MergeReport, Failure> {
    let set = explicit_values(&p.set)?;
    for (param, keys) in [("drop", &p.drop), ("keep_new", &p.keep_new)] {
        if let Some(bad) = keys.iter().find(|k| !valid_key(k)) {
            return Err(Failure::param(
                param,
                format!("{param}: '{bad}' is not a valid shell variable name"),
            ));
        }
    }
    if let Err(e) = fs::check_regular_target(&p.dest) {
        return Err(Failure::param("dest", format!("dest: {e}")));
    }
    // Serialise with a concurrent run on the same file; a check run only reads.
    let _lock = if write {
        Some(lock_for(&p.dest)?)
    } else {
        None
    };
    let src = load("src", &p.src)?;
    let dest_text = fs::read_text(&p.dest, "dest").map_err(|e| Failure::param("dest", e))?;
    let dest = parse_named("dest", &p.dest, &dest_text)?;
    let base = match &p.base {
        Some(b) => Some(load("base", b)?),
        None => None,
    };
    let plan = plan(&src, &dest, base.as_ref(), p, &set);
    let merged = apply(&dest, &plan, &p.src);
    let after = merged.render();
    let changed = after != dest_text;
    let mut backup_file = None;
    if changed && write {
        let _ = fs::clean_stale_temps(&p.dest);
        if p.backup {
            let b = fs::backup_copy(&p.dest).map_err(|e| {
                Failure::new(format!(
                    "cannot back up {}: {e}; dest left untouched",
                    p.dest.display()
                ))
            })?;
            backup_file = Some(b);
        }
        fs::write_atomic(&p.dest, after.as_bytes(), 0o644).map_err(|e| {
            Failure::new(format!(
                "cannot write {}: {e}; dest left untouched",
                p.dest.display()
            ))
        })?;
    }
    Ok(MergeReport {
        changed,
        before: dest_text,
        after,
        backup_file,
        plan,
    })
}

fn valid_key(k: &str) -> bool {
    defaults_file::parse(&format!("{k}=x")).is_ok_and(|f| f.effective().contains_key(k))
}

/// `set` values as literal strings; numbers and bools are written as the shell would see them.
fn explicit_values(set: &Map<String, Value>) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    for (k, v) in set {
        if !valid_key(k) {
            return Err(Failure::param(
                "set",
                format!("set: '{k}' is not a valid shell variable name"),
            ));
        }
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(Failure::param(
                    "set",
                    format!("set: the value of {k} must be a string or number, got {other}"),
                ))
            }
        };
        if s.contains(['\n', '\r', '\0']) {
            return Err(Failure::param(
                "set",
                format!("set: the value of {k} contains a line break"),
            ));
        }
        out.insert(k.clone(), s);
    }
    Ok(out)
}

fn lock_for(dest: &Path) -> Result<fs::Lock, Failure> {
    let id = fs::sha256_bytes(dest.display().to_string().as_bytes());
    let path = std::env::temp_dir().join(format!(".lkops-defaults-merge-{}.lock", &id[..16]));
    fs::lock(&path, std::time::Duration::from_secs(120))
        .map_err(|e| Failure::new(format!("cannot lock {}: {e}", dest.display())))
}

fn parse_named(param: &str, path: &Path, text: &str) -> Result<DefaultsFile, Failure> {
    defaults_file::parse(text).map_err(|(line, msg)| {
        Failure::param(
            param,
            format!(
                "{param} {} line {line}: {msg}; nothing was changed",
                path.display()
            ),
        )
        .with("line", line)
    })
}

fn load(param: &str, path: &Path) -> Result<DefaultsFile, Failure> {
    let text = fs::read_text(path, param).map_err(|e| Failure::param(param, e))?;
    parse_named(param, path, &text)
}

/// What the merge decided, key by key.
#[derive(Debug, Default)]
struct Plan {
    /// (key, assignment to write) in src order.
    carried: Vec<(String, Assign)>,
    dropped: Vec<String>,
    kept_new: Vec<String>,
    conflicts: Vec<Value>,
    /// (key, literal value) from `set`.
    set: Vec<(String, String)>,
}

impl Plan {
    fn carried_json(&self) -> Value {
        Value::Object(
            self.carried
                .iter()
                .map(|(k, a)| (k.clone(), Value::from(a.meaning())))
                .collect(),
        )
    }
    fn set_json(&self) -> Value {
        Value::Object(
            self.set
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect(),
        )
    }
}

fn plan(
    src: &DefaultsFile,
    dest: &DefaultsFile,
    base: Option<&DefaultsFile>,
    p: &Params,
    set: &BTreeMap<String, String>,
) -> Plan {
    let s = src.effective();
    let d = dest.effective();
    let b = base.map(|b| b.effective());
    let mut plan = Plan::default();
    for key in src.keys_in_order() {
        if set.contains_key(&key) {
            continue; // an explicit value wins over anything carried
        }
        let sv = s[&key];
        let dv = d.get(&key);
        if dv.is_some_and(|dv| dv.meaning() == sv.meaning()) {
            continue; // already the same
        }
        if let Some(b) = &b {
            // Three-way: the site did not change this key, so the new release's default stands.
            if b.get(&key).is_some_and(|bv| bv.meaning() == sv.meaning()) {
                continue;
            }
        }
        if p.drop.contains(&key) {
            plan.dropped.push(key);
            continue;
        }
        if p.keep_new.contains(&key) {
            plan.kept_new.push(key);
            continue;
        }
        if let (None, Some(dv)) = (&b, dv) {
            plan.conflicts
                .push(json!({"key": key, "src": sv.meaning(), "dest": dv.meaning()}));
        }
        plan.carried.push((key, sv.clone()));
    }
    for (k, v) in set {
        plan.set.push((k.clone(), v.clone()));
    }
    plan
}

/// Write the plan into a copy of dest: in place, after a commented-out default, or appended.
fn apply(dest: &DefaultsFile, plan: &Plan, src_path: &Path) -> DefaultsFile {
    let mut out = dest.clone();
    let mut appended_carried: Vec<Line> = vec![];
    let mut appended_set: Vec<Line> = vec![];
    let writes = plan
        .carried
        .iter()
        .map(|(k, a)| (k.clone(), a.raw.clone(), true))
        .chain(
            plan.set
                .iter()
                .map(|(k, v)| (k.clone(), defaults_file::quote(v), false)),
        );
    for (key, raw, from_src) in writes {
        if let Some(i) = out.last_assign(&key) {
            if let Line::Assign(a) = &mut out.lines[i] {
                if a.raw == raw {
                    continue;
                }
                a.raw = raw;
            }
            continue;
        }
        let line = Line::Assign(Assign {
            key: key.clone(),
            raw,
            value: None,
            export: false,
            prefix: String::new(),
            trailer: String::new(),
        });
        if let Some(i) = out.commented_default(&key) {
            out.lines.insert(i + 1, line);
        } else if from_src {
            appended_carried.push(line);
        } else {
            appended_set.push(line);
        }
    }
    for (lines, header) in [
        (
            appended_carried,
            format!(
                "# Carried over from {} by lk_defaults_merge",
                src_path.display()
            ),
        ),
        (
            appended_set,
            "# Set explicitly by lk_defaults_merge".to_string(),
        ),
    ] {
        if lines.is_empty() {
            continue;
        }
        if !matches!(out.lines.last(), None | Some(Line::Blank(_))) {
            out.lines.push(Line::Blank(String::new()));
        }
        out.lines.push(Line::Comment {
            text: header,
            commented_key: None,
        });
        out.lines.extend(lines);
        out.trailing_newline = true;
    }
    out
}

fn summary(plan: &Plan, changed: bool, check: bool, dest: &Path) -> String {
    if !changed {
        return format!("{} already holds the site's parameters", dest.display());
    }
    let verb = if check { "would carry" } else { "carried" };
    let mut parts = vec![format!(
        "{verb} {} key(s) into {}",
        plan.carried.len(),
        dest.display()
    )];
    if !plan.set.is_empty() {
        parts.push(format!("{} set explicitly", plan.set.len()));
    }
    if !plan.dropped.is_empty() {
        parts.push(format!("dropped {}", plan.dropped.join(", ")));
    }
    if !plan.kept_new.is_empty() {
        parts.push(format!("kept new {}", plan.kept_new.join(", ")));
    }
    if !plan.conflicts.is_empty() {
        parts.push(format!("{} conflict(s) without base", plan.conflicts.len()));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            src: "/old".into(),
            dest: "/etc/default/LifeKeeper".into(),
            base: None,
            drop: vec![],
            keep_new: vec![],
            set: Map::new(),
            backup: true,
        }
    }

    fn merge(src: &str, dest: &str, base: Option<&str>, p: &Params) -> (String, Plan) {
        let s = defaults_file::parse(src).unwrap();
        let d = defaults_file::parse(dest).unwrap();
        let b = base.map(|b| defaults_file::parse(b).unwrap());
        let set = explicit_values(&p.set).unwrap();
        let plan = plan(&s, &d, b.as_ref(), p, &set);
        (apply(&d, &plan, &p.src).render(), plan)
    }

    #[test]
    fn carried_value_replaces_the_line_in_place() {
        let (out, plan) = merge(
            "A=1\nB=site\n",
            "# about A\nA=1\n# about B\nB=new\nC=3\n",
            None,
            &params(),
        );
        assert_eq!(out, "# about A\nA=1\n# about B\nB=site\nC=3\n");
        assert_eq!(plan.conflicts.len(), 1);
    }

    #[test]
    fn commented_default_gets_the_line_after_it_and_others_are_appended() {
        let (out, _) = merge(
            "LCMHBEATTIME=7\nSITE_ONLY='a b'\n",
            "X=1\n#LCMHBEATTIME=5\nY=2\n",
            None,
            &params(),
        );
        assert_eq!(
            out,
            "X=1\n#LCMHBEATTIME=5\nLCMHBEATTIME=7\nY=2\n\n# Carried over from /old by lk_defaults_merge\nSITE_ONLY='a b'\n"
        );
    }

    #[test]
    fn three_way_does_not_revert_a_changed_default() {
        // Old default 900, new default 1200, site never touched it: keep 1200.
        let (out, plan) = merge(
            "REMOTETIMEOUT=900\nLCMNUMHBEATS=6\n",
            "REMOTETIMEOUT=1200\nLCMNUMHBEATS=3\n",
            Some("REMOTETIMEOUT=900\nLCMNUMHBEATS=3\n"),
            &params(),
        );
        assert_eq!(out, "REMOTETIMEOUT=1200\nLCMNUMHBEATS=6\n");
        assert!(plan.conflicts.is_empty());
    }

    #[test]
    fn drop_keep_new_and_set() {
        let mut p = params();
        p.drop = vec!["OLD".into()];
        p.keep_new = vec!["K".into()];
        p.set = json!({"S": "x y", "K": 9}).as_object().unwrap().clone();
        let (out, plan) = merge("OLD=1\nK=site\n", "K=new\n", None, &p);
        assert_eq!(
            out,
            "K=9\n\n# Set explicitly by lk_defaults_merge\nS='x y'\n"
        );
        assert_eq!(plan.dropped, vec!["OLD"]);
        assert!(
            plan.kept_new.is_empty(),
            "K is set explicitly, so it is not 'kept new'"
        );
    }

    #[test]
    fn second_merge_changes_nothing() {
        let dest = "A=1\n#B=2\n";
        let (once, _) = merge("A=5\nB=3\nC=4\n", dest, None, &params());
        let (twice, plan) = merge("A=5\nB=3\nC=4\n", &once, None, &params());
        assert_eq!(once, twice);
        assert!(plan.carried.is_empty());
    }
}

//! lk_defaults_merge: re-apply a site's `/etc/default/LifeKeeper` parameters to a new release's file.
//!
//! After a reinstall (or an upgrade that ships a new defaults file) the seed procedure says: edit
//! the new file using the saved old one as reference. This module does that edit, and says exactly
//! which keys it carried, dropped, kept and why. With `base` (the old release's pristine file) it is
//! a three-way merge that carries only what the site changed, so a default the new release changed
//! is not reverted to the old default.

use crate::lifekeeper::defaults_merge::{self as three_way, Merged, Options};
use crate::lifekeeper::defaults_reapply as reapply;
use crate::runtime::result::clip;
use crate::runtime::{
    diff, Ctx, Failure, Kind, Module, ModuleSpec, Outcome, Param, Ret, Support, LKROOT,
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
        "defaults_file",
        Kind::Path,
        "The new release's defaults file, edited in place (atomically, mode and owner kept): LifeKeeper's defaults file, the same O(defaults_file) as lk_backup's and lk_upgrade's. The old name C(dest) is an alias.",
    )
    .aliases(&["dest"])
    .default("\"/etc/default/LifeKeeper\""),
    Param::new(
        "base",
        Kind::Path,
        "The old release's pristine shipped defaults file. With it the merge is three-way: only keys the site changed (src differs from base) are carried, so a default the new release changed is not reverted. Without it every key whose value in src differs from defaults_file is carried and reported in conflicts.",
    ),
    Param::new("drop", Kind::List, "Keys never carried (obsolete parameters); reported in dropped."),
    Param::new(
        "keep_new",
        Kind::List,
        "Keys whose value in defaults_file always wins; reported in kept_new.",
    ),
    Param::new(
        "set",
        Kind::Dict,
        "Final explicit values (key to value), applied after the merge.",
    ),
    Param::new(
        "backup",
        Kind::Bool,
        "Keep a timestamped copy (mode 0600) of defaults_file before changing it; its path is returned as backup_file. The 3 newest of lkops's copies of that file are kept; older ones are removed and named in the warnings.",
    )
    .default("true"),
    Param::new(
        "lock_wait",
        Kind::Int,
        "Seconds to wait for the node lock (per lkroot) while another lkops module (lk_upgrade, lk_resource, lk_backup) changes this node; then the run fails saying so, having changed nothing. Check mode takes no lock.",
    )
    .default("600")
    .range(0, 86400),
    LKROOT,
];

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "lk_defaults_merge",
    short: "Re-apply site parameters from a saved /etc/default/LifeKeeper to a new release's file",
    description: &[
        "Merges the site's parameters from the saved old /etc/default/LifeKeeper (src) into the new release's file (defaults_file), as the vendor's upgrade procedure asks an administrator to do by hand after a reinstall.",
        "The file is treated as what it is, a shell file that LifeKeeper sources: comments, blank lines, quoting, export prefixes and duplicate keys (the last one wins) are understood, and lines the shell would execute as commands are refused.",
        "A carried key replaces the value on its existing line in defaults_file (position and neighbouring comments kept); a key present in defaults_file only as a commented-out default gets its line right after that comment; other keys go into one appended block headed by a comment naming src.",
        "This module merges, it never replaces: keys in defaults_file that src does not mention are left alone.",
    ],
    params: PARAMS,
    check_mode: (
        Support::Full,
        "Computes the merge and reports changed, the carried keys and the diff without writing anything.",
    ),
    diff_mode: (Support::Full, "Returns the before and after text of defaults_file."),
    notes: &[
        "Values that use shell expansions such as $LKROOT are compared and carried verbatim.",
        "Two runs on the same defaults_file serialise on a lock. A real run also takes the node-wide lock of lkroot that every lkops module changing the node takes (issue 22 defect 5), so it never rewrites the defaults file while lk_upgrade (which re-applies the same file after a reinstall) or another module changes the node.",
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
        Ret::new("carried", "dict", "always", "Keys carried from src into defaults_file, with the value written.")
            .sample(r#"{"REMOTETIMEOUT": "1200"}"#),
        Ret::new("dropped", "list", "always", "Keys in src that were not carried because of drop."),
        Ret::new(
            "kept_new",
            "list",
            "always",
            "Keys whose defaults_file value was kept because of keep_new although src differs.",
        ),
        Ret::new(
            "conflicts",
            "list",
            "always",
            "Without base: keys carried over a different defaults_file value ({key, src, dest}); each may be an old default rather than a site choice.",
        ),
        Ret::new("set_values", "dict", "always", "Keys written from the set parameter."),
        Ret::new("backup_file", "str", "when changed and backup is true (not in check mode)", "The copy of defaults_file taken before the change."),
        Ret::new("dest", "str", "always", "The file that was (or would be) edited (O(defaults_file)).") ,
    ],
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub src: PathBuf,
    /// The parameter `defaults_file` (alias `dest`).
    #[serde(rename = "defaults_file")]
    pub dest: PathBuf,
    pub base: Option<PathBuf>,
    #[serde(default)]
    pub drop: Vec<String>,
    #[serde(default)]
    pub keep_new: Vec<String>,
    #[serde(default)]
    pub set: Map<String, Value>,
    pub backup: bool,
    #[serde(default = "default_lock_wait")]
    pub lock_wait: i64,
    #[serde(default = "default_lkroot")]
    pub lkroot: PathBuf,
}

fn default_lock_wait() -> i64 {
    600
}

fn default_lkroot() -> PathBuf {
    PathBuf::from("/opt/LifeKeeper")
}

pub struct DefaultsMerge;

impl Module for DefaultsMerge {
    type Params = Params;
    fn spec() -> &'static ModuleSpec {
        &SPEC
    }
    fn run(p: Params, ctx: &Ctx) -> Result<Outcome, Failure> {
        // The node lock (issue 22 defect 5): no other lkops module changes the node while dest
        // is rewritten. Check mode changes nothing: no lock.
        let _node_lock = if ctx.check_mode {
            None
        } else {
            Some(crate::lifekeeper::node_lock::take(
                &p.lkroot,
                "lk_defaults_merge",
                std::time::Duration::from_secs(p.lock_wait.max(0) as u64),
            )?)
        };
        let r = merge(&p, !ctx.check_mode)?;
        let mut out = Outcome::new(
            r.changed,
            summary(&r.merged, r.changed, ctx.check_mode, &p.dest),
        )
        .with("carried", r.carried())
        .with("dropped", r.merged.dropped.clone())
        .with("kept_new", r.merged.kept_new.clone())
        .with("conflicts", r.conflicts())
        .with("set_values", pairs_json(&r.merged.set))
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
    /// Older backup copies of dest removed to keep `reapply::BACKUPS_KEPT`.
    pub pruned: Vec<PathBuf>,
    /// The decisions of the pure merge (`lifekeeper::defaults_merge`).
    pub merged: Merged,
}

impl MergeReport {
    /// Keys carried from src, with the value written.
    pub fn carried(&self) -> Value {
        pairs_json(&self.merged.carried)
    }
    /// Without base: keys carried over a different dest value ({key, src, dest}).
    pub fn conflicts(&self) -> Vec<Value> {
        self.merged
            .conflicts
            .iter()
            .map(|c| json!({"key": c.key, "src": c.src, "dest": c.dest}))
            .collect()
    }
    /// One warning per conflict (a carried key that may be an old default, not a site choice),
    /// and one naming the older backup copies removed, if any.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.merged.warnings();
        w.extend(reapply::pruned_warning(&self.pruned));
        w
    }
}

fn pairs_json(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

/// The whole merge for validated parameters: read the three files, merge them with the pure
/// `lifekeeper::defaults_merge::merge`, and write dest (atomically, under a lock) when `write`.
pub fn merge(p: &Params, write: bool) -> Result<MergeReport, Failure> {
    let set = explicit_values(&p.set)?;
    let src_name = p.src.display().to_string();
    let opts = Options {
        drop: &p.drop,
        keep_new: &p.keep_new,
        set: &set,
        src_name: &src_name,
    };
    // Bad parameters are refused before any file is read.
    three_way::check_options(&opts).map_err(|e| Failure::param(e.input.name(), e.msg))?;
    let files = reapply::Files {
        src: &p.src,
        dest: &p.dest,
        base: p.base.as_deref(),
    };
    let a = reapply::apply(files, &opts, write, p.backup)?;
    Ok(MergeReport {
        changed: a.changed,
        before: a.before,
        after: a.merged.after.clone(),
        backup_file: a.backup_file,
        pruned: a.pruned,
        merged: a.merged,
    })
}

/// `set` values as literal strings; numbers and bools are written as the shell would see them.
/// (Keys and line breaks are checked by the merge itself.)
fn explicit_values(set: &Map<String, Value>) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    for (k, v) in set {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(Failure::param(
                    "set",
                    format!(
                        "set: the value of {} must be a string or number, got {}",
                        clip(k),
                        clip(&other.to_string())
                    ),
                ))
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

fn summary(plan: &Merged, changed: bool, check: bool, dest: &Path) -> String {
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
    use super::PARAMS;
    use crate::lifekeeper::defaults_reapply::BACKUPS_KEPT;

    /// The help is a literal (`Param` help is `&'static str`); it must still say the bound the
    /// code keeps, so changing the constant without the help fails here.
    #[test]
    fn backup_help_names_how_many_copies_are_kept() {
        let p = PARAMS.iter().find(|p| p.name == "backup").unwrap();
        assert!(
            p.help.contains(&format!("The {BACKUPS_KEPT} newest")),
            "{}",
            p.help
        );
    }
}

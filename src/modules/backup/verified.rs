//! `state=verified`: read-only; every file SHA256SUMS lists, and every manifest entry, checked
//! against its sha256.

use super::Params;
use crate::lifekeeper::backup_store::{
    dest_exists, entries_json, lock_dest, read_manifest, read_sums, sum_of, unrecorded, Check,
    SumLine, SUMS,
};
use crate::runtime::{Failure, Outcome};
use std::collections::BTreeSet;

pub(super) fn verified(p: &Params) -> Result<Outcome, Failure> {
    let dest = p
        .dest
        .as_deref()
        .ok_or_else(|| Failure::param("dest", "dest is required with state=verified"))?;
    if !dest_exists(dest)? {
        return Err(Failure::param(
            "dest",
            format!("dest {} does not exist", dest.display()),
        ));
    }
    let _lock = lock_dest(dest, false)?;
    let manifest = read_manifest(dest).map_err(|e| Failure::param("dest", e))?;
    let Some(sums) = read_sums(dest).map_err(|e| Failure::param("dest", e))? else {
        return Err(Failure::param(
            "dest",
            format!(
                "{} has no {SUMS}: nothing to verify (is dest the right directory?)",
                dest.display()
            ),
        ));
    };
    let mut check = Check::default();
    let mut listed = BTreeSet::new();
    for l in &sums {
        if let SumLine::Entry { sha256, name } = l {
            if listed.insert(name.clone()) {
                check.file(dest, name, sum_of(&sums, name).unwrap_or(sha256));
            }
        }
    }
    // The manifest must agree with SHA256SUMS: a file recorded with another checksum (or not in
    // SHA256SUMS at all) is as suspect as a corrupt one.
    let mut disagree = vec![];
    for e in &manifest.backups {
        for (name, sha) in e.files() {
            if sum_of(&sums, name) != Some(sha) {
                disagree.push(name.to_string());
                if !dest.join(name).exists() {
                    check.missing.push(name.to_string());
                } else if !check.corrupt.iter().any(|c| c == name) {
                    check.corrupt.push(name.to_string());
                }
            }
        }
    }
    check.missing.sort();
    check.missing.dedup();
    let out_data = |o: Outcome| {
        o.with("checked", check.checked.clone())
            .with("corrupt", check.corrupt.clone())
            .with("missing", check.missing.clone())
            .with("backups", entries_json(&manifest))
    };
    if check.ok() {
        let mut o = out_data(Outcome::new(
            false,
            format!(
                "all {} files in {} match {SUMS}",
                check.checked.len(),
                dest.display()
            ),
        ));
        for u in unrecorded(dest, &listed) {
            o.warn(format!(
                "{u} looks like a backup but is not listed in {SUMS}"
            ));
        }
        return Ok(o);
    }
    let mut f = Failure::new(format!(
        "backups in {} failed verification: corrupt: [{}]; missing: [{}]",
        dest.display(),
        check.corrupt.join(", "),
        check.missing.join(", ")
    ))
    .with("checked", check.checked.clone())
    .with("corrupt", check.corrupt.clone())
    .with("missing", check.missing.clone())
    .with("backups", entries_json(&manifest));
    if !disagree.is_empty() {
        f = f.with("manifest_disagrees", disagree);
    }
    Err(f)
}

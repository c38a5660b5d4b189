//! `state=verified`: read-only; every file SHA256SUMS lists, and every manifest entry, checked
//! against its sha256.

use super::Params;
use crate::lifekeeper::backup_store::{
    dest_exists, entries_json, lock_dest, read_manifest, read_sums, sum_of, unrecorded, Check,
    SumLine, MANIFEST, SUMS,
};
use crate::runtime::fs::sha256_file;
use crate::runtime::{Failure, Outcome};
use std::collections::BTreeSet;

pub(super) fn verified(p: &Params) -> Result<Outcome, Failure> {
    let dest = p.dest.as_deref().ok_or_else(|| {
        Failure::param("backup_dir", "backup_dir is required with state=verified")
    })?;
    if !dest_exists(dest)? {
        return Err(Failure::param(
            "backup_dir",
            format!("backup_dir {} does not exist", dest.display()),
        ));
    }
    let _lock = lock_dest(dest, false)?;
    // A deleted manifest is damage, not "no backups": without it no entry can be checked
    // against its recorded host, time and checksum (issue 22 defect 10).
    if !dest.join(MANIFEST).is_file() {
        return Err(Failure::param(
            "backup_dir",
            format!(
                "{} has no {MANIFEST}: the backup manifest is missing, so nothing can be verified (restore it from your copy, or take a new backup into an empty backup_dir)",
                dest.display()
            ),
        ));
    }
    let manifest = read_manifest(dest).map_err(|e| Failure::param("backup_dir", e))?;
    let Some(sums) = read_sums(dest).map_err(|e| Failure::param("backup_dir", e))? else {
        return Err(Failure::param(
            "backup_dir",
            format!(
                "{} has no {SUMS}: nothing to verify (is backup_dir the right directory?)",
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
    // A file whose content matches the manifest but that SHA256SUMS does not list is intact,
    // only not recorded there: reported as such, never as corrupt.
    let mut disagree = vec![];
    let mut not_recorded = vec![];
    for e in &manifest.backups {
        for (name, sha) in e.files() {
            if sum_of(&sums, name) != Some(sha) {
                disagree.push(name.to_string());
                if !dest.join(name).exists() {
                    check.missing.push(name.to_string());
                } else if sum_of(&sums, name).is_none()
                    && sha256_file(&dest.join(name)).is_ok_and(|h| h == sha)
                {
                    not_recorded.push(name.to_string());
                } else if !check.corrupt.iter().any(|c| c == name) {
                    check.corrupt.push(name.to_string());
                }
            }
        }
    }
    not_recorded.sort();
    not_recorded.dedup();
    check.missing.sort();
    check.missing.dedup();
    let out_data = |o: Outcome| {
        o.with("checked", check.checked.clone())
            .with("corrupt", check.corrupt.clone())
            .with("missing", check.missing.clone())
            .with("not_recorded", not_recorded.clone())
            .with("backups", entries_json(&manifest))
    };
    // Nothing checked is nothing verified: an empty SHA256SUMS proves nothing.
    if check.checked.is_empty() && check.ok() && not_recorded.is_empty() {
        return Err(Failure::new(format!(
            "no file in {} was checked: {SUMS} lists none, so nothing is verified",
            dest.display()
        ))
        .with("checked", Vec::<String>::new())
        .with("backups", entries_json(&manifest)));
    }
    if check.ok() && not_recorded.is_empty() {
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
        "backups in {} failed verification: corrupt: [{}]; missing: [{}]; not recorded in {SUMS} (content intact): [{}]",
        dest.display(),
        check.corrupt.join(", "),
        check.missing.join(", "),
        not_recorded.join(", ")
    ))
    .with("checked", check.checked.clone())
    .with("corrupt", check.corrupt.clone())
    .with("missing", check.missing.clone())
    .with("not_recorded", not_recorded.clone())
    .with("backups", entries_json(&manifest));
    if !disagree.is_empty() {
        f = f.with("manifest_disagrees", disagree);
    }
    Err(f)
}

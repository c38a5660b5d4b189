//! `state=restored`: the archive's checksum verified (the `sha256` parameter and/or SHA256SUMS
//! beside it), then `lkbackup -x -f`; the result says which configuration files changed.

use super::{archive_members, Params};
use crate::lifekeeper::backup_store::{
    changed_files, config_files, entries_json, fingerprint, fingerprint_of, lexical, read_manifest,
    read_sums, sum_of, DEFAULTS_LABEL, SUMS,
};
use crate::lifekeeper::status;
use crate::runtime::{check_abs_path, diff, fs as rfs, Cmd, Ctx, Failure, Outcome};
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

pub(super) fn restored(p: &Params, ctx: &Ctx) -> Result<Outcome, Failure> {
    let given = p
        .archive
        .as_deref()
        .ok_or_else(|| Failure::param("archive", "archive is required with state=restored"))?;
    let archive = if given.is_absolute() {
        given.to_path_buf()
    } else {
        match &p.dest {
                Some(d) => d.join(given),
                None => return Err(Failure::param(
                    "archive",
                    "archive must be an absolute path (or a file name in backup_dir, with backup_dir given)",
                )),
            }
    };
    check_abs_path("archive", &archive.to_string_lossy())?;
    let archive = lexical(&archive);
    if !archive.is_file() {
        return Err(Failure::param(
            "archive",
            format!(
                "archive {} does not exist or is not a file",
                archive.display()
            ),
        ));
    }
    let dir = archive.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expected_param = match &p.sha256 {
        Some(s) => {
            let s = s.trim().to_ascii_lowercase();
            if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Failure::param("sha256", "sha256 must be 64 hex digits"));
            }
            Some(s)
        }
        None => None,
    };
    let sums = read_sums(&dir).map_err(Failure::new)?.unwrap_or_default();
    let expected_sums = sum_of(&sums, &name).map(String::from);
    let actual = rfs::sha256_file(&archive).map_err(|e| {
        Failure::param("archive", format!("cannot read {}: {e}", archive.display()))
    })?;
    let mut checked_against = vec![];
    for (what, exp) in [("sha256", &expected_param), (SUMS, &expected_sums)] {
        if let Some(exp) = exp {
            if *exp != actual {
                return Err(Failure::param(
                    "archive",
                    format!(
                        "refusing to restore {}: its sha256 is {actual}, but {what} says {exp}; the archive is corrupt or not the one you meant",
                        archive.display()
                    ),
                )
                .with("expected_sha256", exp.clone())
                .with("actual_sha256", actual.clone()));
            }
            checked_against.push(what);
        }
    }
    if checked_against.is_empty() {
        return Err(Failure::param(
            "sha256",
            format!(
                "refusing to restore {} unverified: there is no {SUMS} entry for it beside it; pass sha256 (e.g. from `sha256sum`)",
                archive.display()
            ),
        ));
    }
    let members = archive_members(ctx, &archive)?;

    // What the manifest beside it knows: the fingerprint it was taken of, the defaults copy.
    let manifest = read_manifest(&dir).unwrap_or_default();
    let entry = manifest.backups.iter().find(|e| e.archive == name).cloned();
    let recorded_defaults = entry.as_ref().and_then(|e| {
        let (f, s) = (e.defaults_copy.as_ref()?, e.defaults_sha256.as_ref()?);
        let data = fs::read(dir.join(f)).ok()?;
        (rfs::sha256_bytes(&data) == *s).then(|| String::from_utf8_lossy(&data).into_owned())
    });

    let before_files = config_files(&p.lkroot, &p.defaults_file).map_err(Failure::new)?;
    let fp_before = fingerprint_of(&before_files);
    let defaults_before = fs::read_to_string(&p.defaults_file).unwrap_or_default();
    let base = |o: Outcome| {
        o.with("archive", archive.display().to_string())
            .with("sha256", actual.clone())
            .with("size", fs::metadata(&archive).map(|m| m.len()).unwrap_or(0))
            .with("checked_against", json!(checked_against))
            .with("would_restore", members.clone())
            .with("backups", entries_json(&manifest))
    };

    if let Some(e) = &entry {
        if e.fingerprint == fp_before {
            return Ok(base(Outcome::new(
                false,
                format!("the configuration already is the one in {name} (fingerprint {fp_before})"),
            ))
            .with("fingerprint", fp_before));
        }
    }
    // lkbackup -x under a running LifeKeeper would rewrite the configuration under its feet
    // (and the real lkbackup refuses then): refuse before anything, in check mode too, by the
    // vendor's probe (lktest), falling back to the lcdstatus probe where lktest is missing.
    if lifekeeper_running(ctx, &p.lkroot) {
        return Err(Failure::new(format!(
            "refusing to restore {}: LifeKeeper is running on this node (lktest); stop LifeKeeper first (switch the hierarchies away, then lkstop), or use playbooks/restore.yml, which does that, restores and starts it again",
            archive.display()
        ))
        .with("lifekeeper_running", true)
        .with("would_restore", members.clone()));
    }
    let fp_diff = |after: &str| {
        diff::text(
            &format!("configuration fingerprint of {}/config", p.lkroot.display()),
            &format!("{fp_before}\n"),
            &format!("{after}\n"),
        )
    };
    let defaults_diff = |after: &str| {
        (after != defaults_before).then(|| {
            diff::text(
                &p.defaults_file.display().to_string(),
                &defaults_before,
                after,
            )
        })
    };
    let mut warnings = vec![];
    if entry.is_none() {
        warnings.push(format!(
            "{name} is not in a manifest beside it: its configuration fingerprint is unknown, so it is restored every run"
        ));
    }

    if ctx.check_mode {
        let predicted_fp = entry
            .as_ref()
            .map(|e| e.fingerprint.clone())
            .unwrap_or_else(|| "unknown".into());
        let mut d = vec![fp_diff(&predicted_fp)];
        d.extend(recorded_defaults.as_deref().and_then(defaults_diff));
        let mut o = base(Outcome::new(
            true,
            format!(
                "would restore {} with lkbackup -x -f ({} members)",
                archive.display(),
                members.len()
            ),
        ))
        .with("fingerprint", predicted_fp)
        .diff(Some(Value::Array(d)));
        for w in warnings {
            o.warn(w);
        }
        return Ok(o);
    }

    let cmd = Cmd::lk(&p.lkroot, "lkbackup")
        .arg("-x")
        .arg("-f")
        .arg(&archive);
    if let Err(f) = ctx
        .runner
        .run_ok(&cmd, "lkbackup could not restore the archive")
    {
        // lkbackup may have got part-way: say "changed" exactly when the configuration moved.
        let now = fingerprint(&p.lkroot, &p.defaults_file).unwrap_or_default();
        return Err(f.changed(now != fp_before).with("fingerprint", now));
    }
    // Judged by the result, not by lkbackup's exit code alone: every file the archive holds
    // is there now.
    let missing = missing_members(&members, &p.lkroot, &p.defaults_file);
    if !missing.is_empty() {
        let now = fingerprint(&p.lkroot, &p.defaults_file).unwrap_or_default();
        return Err(Failure::new(format!(
            "lkbackup -x -f {} exited 0, but {} file(s) of the archive are not there: {}",
            archive.display(),
            missing.len(),
            missing.join(", ")
        ))
        .changed(now != fp_before)
        .with("missing", json!(missing))
        .with("fingerprint", now));
    }
    let after_files = config_files(&p.lkroot, &p.defaults_file).map_err(Failure::new)?;
    let fp_after = fingerprint_of(&after_files);
    let restored_files: Vec<String> = changed_files(&before_files, &after_files)
        .into_iter()
        .map(|f| {
            if f == DEFAULTS_LABEL {
                p.defaults_file.display().to_string()
            } else {
                f
            }
        })
        .collect();
    if let Some(e) = &entry {
        if e.fingerprint != fp_after {
            warnings.push(format!(
                "after the restore the configuration fingerprint is {fp_after}, not the {} recorded for {name}",
                e.fingerprint
            ));
        }
    }
    let defaults_after = fs::read_to_string(&p.defaults_file).unwrap_or_default();
    let mut d = vec![fp_diff(&fp_after)];
    d.extend(defaults_diff(&defaults_after));
    let mut o = base(Outcome::new(
        true,
        format!(
            "restored {} ({} configuration files changed)",
            archive.display(),
            restored_files.len()
        ),
    ))
    .with("fingerprint", fp_after)
    .with("restored_files", restored_files)
    .diff(Some(Value::Array(d)));
    for w in warnings {
        o.warn(w);
    }
    Ok(o)
}

/// Is LifeKeeper running here: `lktest` where it exists, else whether `lcdstatus -e` reads a
/// status (its wording while stopped is UNCONFIRMED; a status that cannot be read counts as
/// running: stricter, the restore is refused).
fn lifekeeper_running(ctx: &Ctx, lkroot: &Path) -> bool {
    match status::lktest(&ctx.runner, lkroot) {
        Some(r) => r,
        None => !matches!(
            status::probe(&ctx.runner, lkroot),
            status::Probe::Stopped | status::Probe::NotInstalled(_)
        ),
    }
}

/// The archive's file members (as `tar -tzf` lists them, relative to /) that are not on disk
/// after the restore: `opt/LifeKeeper/...` is looked for under `lkroot` (the archive names the
/// standard path), `etc/default/LifeKeeper` at `defaults_file`, anything else at `/<member>`.
/// Directories (`.../`) are not checked.
fn missing_members(members: &[String], lkroot: &Path, defaults_file: &Path) -> Vec<String> {
    members
        .iter()
        .filter(|m| !m.ends_with('/') && !m.is_empty())
        .filter(|m| {
            let rel = m.trim_start_matches("./").trim_start_matches('/');
            let on_disk = if let Some(r) = rel.strip_prefix("opt/LifeKeeper/") {
                lkroot.join(r)
            } else if rel == "etc/default/LifeKeeper" {
                defaults_file.to_path_buf()
            } else {
                Path::new("/").join(rel)
            };
            fs::symlink_metadata(on_disk).is_err()
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_members_maps_the_standard_paths() {
        let d = std::env::temp_dir().join(format!("lkops-mm-{}", std::process::id()));
        let lk = d.join("lk");
        fs::create_dir_all(lk.join("config")).unwrap();
        fs::write(lk.join("config/hierarchy.json"), "{}").unwrap();
        fs::write(d.join("defaults"), "X=1").unwrap();
        let members: Vec<String> = [
            "opt/LifeKeeper/config/",
            "opt/LifeKeeper/config/hierarchy.json",
            "opt/LifeKeeper/subsys/gen/resources/app/x.conf",
            "etc/default/LifeKeeper",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            missing_members(&members, &lk, &d.join("defaults")),
            vec!["opt/LifeKeeper/subsys/gen/resources/app/x.conf"]
        );
        let _ = fs::remove_dir_all(&d);
    }
}

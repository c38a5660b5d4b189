//! LifeKeeper's RPM packages: what is installed (`rpm -q`, `rpm -qa`), the package-name rules
//! (`name-version-release.arch`, `steeleye-<kit>`), and the core set a fresh install brings.

use crate::lifekeeper::version::Version;
use crate::runtime::{Cmd, Runner};
use std::path::Path;

/// The packages every fresh install brings. UNCONFIRMED against real media (lk_upgrade uses it
/// only to predict the package diff in check mode).
pub const CORE: [&str; 3] = ["steeleye-lk", "steeleye-lkGUI", "steeleye-lkDR"];

/// The quorum/witness kit's package.
pub const QUORUM: &str = "steeleye-lkQWK";

/// The package of a recovery kit: `lkIP` → `steeleye-lkIP`.
pub fn kit_package(kit: &str) -> String {
    format!("steeleye-{kit}")
}

/// The package name of `name-version-release.arch` (`steeleye-lkIP-9.4.0-1.noarch` →
/// `steeleye-lkIP`); a name may itself contain dashes (`HADR-generic-2.6`).
pub fn name(nevra: &str) -> &str {
    let rest = nevra.rsplit_once('-').map(|x| x.0).unwrap_or(nevra);
    rest.rsplit_once('-').map(|x| x.0).unwrap_or(rest)
}

/// The installed LifeKeeper core version, from the RPM database (`rpm -q steeleye-lk`), as fvorge
/// and admins do. `Ok(None)` when the package is not installed; `Err` when rpm itself is missing
/// or answers something unexpected.
pub fn installed(runner: &Runner) -> Result<Option<Version>, String> {
    let cmd = Cmd::new("rpm").args(["-q", "--qf", "%{VERSION}\\n", "steeleye-lk"]);
    let out = runner.run(&cmd).map_err(|e| e.msg)?;
    if out.rc != 0 {
        if out.stdout.contains("is not installed") || out.stderr.contains("is not installed") {
            return Ok(None);
        }
        return Err(out.failure("querying the installed LifeKeeper version").msg);
    }
    let line = out.stdout.lines().next().unwrap_or_default();
    Version::parse(line)
        .map(Some)
        .map_err(|e| format!("rpm reported an unexpected version: {e}"))
}

/// Every installed LifeKeeper package (`steeleye-*`, `HADR-*`) as `name-version-release.arch`.
pub fn packages(runner: &Runner) -> Result<Vec<String>, String> {
    let out = runner
        .run(&Cmd::new("rpm").args(["-qa", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"]))
        .map_err(|e| e.msg)?;
    if out.rc != 0 {
        return Err(out.failure("listing installed packages").msg);
    }
    let mut pkgs: Vec<String> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| {
            (l.starts_with("steeleye-") || l.starts_with("HADR-"))
                && !l.starts_with("steeleye-lk-testsuite-")
        })
        .map(String::from)
        .collect();
    pkgs.sort();
    Ok(pkgs)
}

/// Files under lkroot that no installed package owns, relative to lkroot, sorted (the
/// configuration under `config/` is left out: the lkbackup archive holds it). One `rpm -qf`
/// query for all of them, not one per file.
pub fn unowned_files(runner: &Runner, lkroot: &Path) -> Result<Vec<String>, String> {
    let mut files = vec![];
    let mut stack = vec![lkroot.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                if p != lkroot.join("config") {
                    stack.push(p);
                }
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Ok(vec![]);
    }
    let out = runner
        .run(
            &Cmd::new("rpm")
                .arg("-qf")
                .args(&files)
                .timeout(std::time::Duration::from_secs(300)),
        )
        .map_err(|e| e.msg)?;
    let mut unowned = vec![];
    for l in out.stdout.lines().chain(out.stderr.lines()) {
        if let Some(f) = l
            .strip_prefix("file ")
            .and_then(|r| r.strip_suffix(" is not owned by any package"))
        {
            if let Ok(rel) = Path::new(f).strip_prefix(lkroot) {
                unowned.push(rel.display().to_string());
            }
        }
    }
    if out.rc != 0 && unowned.is_empty() {
        return Err(out
            .failure("asking rpm which files under lkroot it owns")
            .msg);
    }
    unowned.sort();
    unowned.dedup();
    Ok(unowned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_from_nevra() {
        assert_eq!(name("steeleye-lk-9.6.1-8580.x86_64"), "steeleye-lk");
        assert_eq!(
            name("steeleye-lkPGSQL-9.4.0-7963.noarch"),
            "steeleye-lkPGSQL"
        );
        assert_eq!(name("steeleye-lkSAPDB-9.4.0-6.noarch"), "steeleye-lkSAPDB");
        assert_eq!(name("HADR-generic-2.6-7.5.0-1.noarch"), "HADR-generic-2.6");
        assert_eq!(kit_package("lkIP"), "steeleye-lkIP");
    }
}

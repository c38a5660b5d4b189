//! LifeKeeper's RPM packages: what is installed (`rpm -q`, `rpm -qa`), the package-name rules
//! (`name-version-release.arch`, `steeleye-<kit>`), and the core set a fresh install brings.

use crate::lifekeeper::version::Version;
use crate::runtime::{Cmd, Runner};
use std::path::{Path, PathBuf};

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
/// `steeleye-lkIP`); a name may itself contain dashes (`HADR-generic-2.6`). What is not a
/// whole `name-version-release.arch` loses its last two `-` parts (at most).
pub fn name(nevra: &str) -> &str {
    match split(nevra) {
        Some((name, ..)) => name,
        None => {
            let rest = nevra.rsplit_once('-').map(|x| x.0).unwrap_or(nevra);
            rest.rsplit_once('-').map(|x| x.0).unwrap_or(rest)
        }
    }
}

/// `name-version-release.arch` split from the right into its four parts (a name may hold
/// dashes); `None` when a part is missing or the arch word holds a dash or blank (the split
/// was wrong, e.g. `gpg-pubkey-xxx-yyy` has no arch).
pub fn split(l: &str) -> Option<(&str, &str, &str, &str)> {
    let (rest, arch) = l.rsplit_once('.')?;
    let (rest, release) = rest.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    let parts = [name, version, release, arch];
    (!parts.iter().any(|p| p.is_empty()) && !arch.contains(['-', ' ']))
        .then_some((name, version, release, arch))
}

/// One line of `rpm -qa`: name-version-release.arch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Nevra {
    pub name: String,
    pub version: String,
    pub release: String,
    pub arch: String,
}

/// Parse plain `rpm -qa` output; a line that is not name-version-release.arch is an error.
pub fn parse_rpm_qa(text: &str) -> Result<Vec<Nevra>, String> {
    let mut out = vec![];
    for (n, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() {
            continue;
        }
        let (name, version, release, arch) = split(l)
            .ok_or_else(|| format!("line {}: not name-version-release.arch: {l:?}", n + 1))?;
        out.push(Nevra {
            name: name.into(),
            version: version.into(),
            release: release.into(),
            arch: arch.into(),
        });
    }
    Ok(out)
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

/// Most paths passed to one `rpm -qf` call: bounded so a large `$LKROOT` stays far below the
/// kernel's argument-size limit, while a typical installation (a few thousand files) still takes
/// one or two rpm processes, never one per file.
pub const QF_BATCH: usize = 2000;

/// Every file (and symbolic link) under `lkroot` that no installed package owns, sorted:
/// separately shipped kits (`HANA2-ARK/`), site scripts (`lkadm/subsys/gen/app/bin/`), but also
/// the configuration and runtime files LifeKeeper writes itself (callers filter those, see
/// [`site_files`]). One `rpm -qf FILE...` per [`QF_BATCH`] files; a file is unowned when rpm
/// prints `file X is not owned by any package` for it. Directories are not listed (their files
/// are); symbolic links are not followed. `Err` when rpm cannot run or answers nothing we can
/// read.
pub fn unowned_files(runner: &Runner, lkroot: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = vec![];
    walk(lkroot, &mut files).map_err(|e| format!("cannot list {}: {e}", lkroot.display()))?;
    files.sort();
    let mut unowned = vec![];
    for chunk in files.chunks(QF_BATCH) {
        let out = runner
            .run(&Cmd::new("rpm").arg("-qf").args(chunk))
            .map_err(|e| e.msg)?;
        if out.timed_out {
            return Err(out.failure("asking rpm which package owns the files").msg);
        }
        let mut read = 0;
        for line in out.stdout.lines().chain(out.stderr.lines()) {
            if let Some(f) = line
                .strip_prefix("file ")
                .and_then(|l| l.strip_suffix(" is not owned by any package"))
            {
                unowned.push(PathBuf::from(f));
                read += 1;
            }
        }
        // rpm exits with the number of files it could not attribute; a failure with none of
        // them named is rpm itself failing.
        if out.rc != 0 && read == 0 {
            return Err(out.failure("asking rpm which package owns the files").msg);
        }
    }
    unowned.sort();
    unowned.dedup();
    Ok(unowned)
}

/// Paths under `$LKROOT` (relative) that LifeKeeper writes itself and `lkbackup -c` archives or
/// that are runtime state: not "site files". UNCONFIRMED: the exact set a real lkbackup holds
/// (field evidence: `config/`, the resources' configuration files and /etc/default/LifeKeeper).
pub const LIFEKEEPER_OWN: &[&str] = &["config/", "out/", "tmp/"];

/// Whether `rel` (relative to `$LKROOT`) is a resource's configuration file
/// (`subsys/<app>/resources/...`), which lkbackup archives.
fn is_resource_config(rel: &Path) -> bool {
    let parts: Vec<_> = rel.components().collect();
    parts.len() >= 4 && parts[0].as_os_str() == "subsys" && parts[2].as_os_str() == "resources"
}

/// The files under `lkroot` that no package owns and no lkbackup holds: kits shipped apart and
/// site scripts. `rmlk` deletes them with `/opt/LifeKeeper`, so they must be saved (and
/// reinstalled) separately. Built on [`unowned_files`].
pub fn site_files(runner: &Runner, lkroot: &Path) -> Result<Vec<PathBuf>, String> {
    Ok(unowned_files(runner, lkroot)?
        .into_iter()
        .filter(|f| {
            let Ok(rel) = f.strip_prefix(lkroot) else {
                return true;
            };
            let r = rel.to_string_lossy();
            !LIFEKEEPER_OWN.iter().any(|p| r.starts_with(p)) && !is_resource_config(rel)
        })
        .collect())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            walk(&e.path(), out)?;
        } else {
            out.push(e.path());
        }
    }
    Ok(())
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
        assert_eq!(name("garbage"), "garbage");
    }

    #[test]
    fn rpm_qa_lines_split_from_the_right() {
        let p = parse_rpm_qa("steeleye-lk-9.6.1-7154.x86_64\nHADR-generic-2.6-1.noarch\n").unwrap();
        assert_eq!(p[0].name, "steeleye-lk");
        assert_eq!(p[0].version, "9.6.1");
        assert_eq!(p[1].name, "HADR-generic");
        assert!(parse_rpm_qa("garbage\n").unwrap_err().starts_with("line 1"));
    }

    #[test]
    fn resource_configs_are_recognised() {
        assert!(is_resource_config(Path::new(
            "subsys/gen/resources/app/x.conf"
        )));
        assert!(!is_resource_config(Path::new(
            "lkadm/subsys/gen/app/bin/restore"
        )));
        assert!(!is_resource_config(Path::new("subsys/gen/app/bin/x")));
    }
}

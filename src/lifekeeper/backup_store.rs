//! The backup store: the one owner of a backup directory (lk_backup's `dest`, lk_upgrade's
//! `backup_dir`): its file names, the manifest, SHA256SUMS, locking and temps, the configuration
//! fingerprint, finding the newest verified backup of a host, retention, and the extra files
//! lk_upgrade keeps beside the backups.
//!
//! Layout of a backup directory:
//! - `<host>.lkbackup.<YYYYMMDDTHHMMSSZ>.tar.gz`        the lkbackup archive (0600)
//! - `<host>.LifeKeeper.defaults.<YYYYMMDDTHHMMSSZ>`    the defaults file as it was (0600)
//! - `SHA256SUMS`                                       `<hex>  <file>` lines for both
//! - `lkops-backups.json`                               the manifest (one entry per backup)
//! - `.lkops-backup.lock`                               flock: two runs on one dest serialise
//! - written by lk_upgrade (see "files lk_upgrade keeps here" below): `upgrade-journal.<host>.json`
//!   (+ `.lock`), `<host>.LifeKeeper.defaults.<version>.saved` / `.fresh`,
//!   `lkops-setup.<host>.<version>.log`, `<host>.lksite.<stamp>.tar.gz` (files under lkroot no
//!   package owns, saved before rmlk; listed in SHA256SUMS).

use crate::runtime::{fs as rfs, time, Failure};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

// ---- files in a backup directory -----------------------------------------------------------------------------

pub const SUMS: &str = "SHA256SUMS";
pub const MANIFEST: &str = "lkops-backups.json";
pub const LOCK: &str = ".lkops-backup.lock";
pub const TMP_MARK: &str = ".lkops-tmp.";

/// One backup recorded in the manifest. File names are relative to dest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupEntry {
    pub host: String,
    /// ISO 8601 UTC.
    pub time: String,
    /// Unix seconds; orders the entries.
    pub timestamp: i64,
    pub lifekeeper_version: Option<String>,
    pub fingerprint: String,
    pub archive: String,
    pub sha256: String,
    pub size: u64,
    pub defaults_copy: Option<String>,
    pub defaults_sha256: Option<String>,
    /// Where lkbackup wrote the archive.
    pub source: String,
}

impl BackupEntry {
    /// The files this entry owns in dest, with their checksums.
    pub fn files(&self) -> Vec<(&str, &str)> {
        let mut v = vec![(self.archive.as_str(), self.sha256.as_str())];
        if let (Some(f), Some(s)) = (&self.defaults_copy, &self.defaults_sha256) {
            v.push((f.as_str(), s.as_str()));
        }
        v
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub backups: Vec<BackupEntry>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            format: 1,
            backups: vec![],
        }
    }
}

pub fn read_manifest(dest: &Path) -> Result<Manifest, String> {
    let path = dest.join(MANIFEST);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Manifest::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not an lkops backup manifest ({e}); refusing to touch it",
            path.display()
        )
    })?;
    if m.format != 1 {
        return Err(format!(
            "{} has manifest format {}, this lkops understands format 1; refusing to touch it",
            path.display(),
            m.format
        ));
    }
    Ok(m)
}

/// One `SHA256SUMS` line: `<hex>  <name>` (text mode) or `<hex> *<name>` (binary mode).
#[derive(Debug, Clone, PartialEq)]
pub enum SumLine {
    Entry {
        sha256: String,
        name: String,
    },
    /// Anything else (comments, other tools' lines) is kept verbatim.
    Other(String),
}

pub fn parse_sums(text: &str) -> Vec<SumLine> {
    text.lines()
        .map(|l| {
            let parsed = l.split_once(' ').and_then(|(h, rest)| {
                let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
                let ok = h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
                (ok && !name.is_empty()).then(|| SumLine::Entry {
                    sha256: h.to_ascii_lowercase(),
                    name: name.to_string(),
                })
            });
            parsed.unwrap_or_else(|| SumLine::Other(l.to_string()))
        })
        .collect()
}

pub fn render_sums(lines: &[SumLine]) -> String {
    let mut s = String::new();
    for l in lines {
        match l {
            SumLine::Entry { sha256, name } => s.push_str(&format!("{sha256}  {name}\n")),
            SumLine::Other(o) => {
                s.push_str(o);
                s.push('\n');
            }
        }
    }
    s
}

pub fn read_sums(dir: &Path) -> Result<Option<Vec<SumLine>>, String> {
    let path = dir.join(SUMS);
    match fs::read_to_string(&path) {
        Ok(t) => Ok(Some(parse_sums(&t))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

pub fn sum_of<'a>(sums: &'a [SumLine], file: &str) -> Option<&'a str> {
    sums.iter().rev().find_map(|l| match l {
        SumLine::Entry { sha256, name } if name == file => Some(sha256.as_str()),
        _ => None,
    })
}

/// `.` and `..` resolved without touching the file system.
pub fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Symlinks resolved for the part of `p` that exists; the rest appended lexically.
pub fn canonical_prefix(p: &Path) -> PathBuf {
    let p = lexical(p);
    let mut existing = p.clone();
    let mut rest = vec![];
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(n), Some(parent)) => {
                rest.push(n);
                existing = parent.to_path_buf();
            }
            _ => return p,
        }
    }
}

/// dest must survive the uninstall: not lkroot or anything under it, literally or via symlinks.
pub fn check_outside_lkroot(dest: &Path, lkroot: &Path) -> Result<(), Failure> {
    let inside = lexical(dest).starts_with(lexical(lkroot))
        || canonical_prefix(dest).starts_with(canonical_prefix(lkroot));
    if inside {
        return Err(Failure::param(
            "backup_dir",
            format!(
                "backup_dir {} is inside lkroot {}: the uninstaller (rmlk) deletes {}/config and every backup kept under lkroot, which is exactly what these backups must survive. Choose a directory outside lkroot, e.g. /var/backups/lifekeeper.",
                dest.display(),
                lkroot.display(),
                lkroot.display()
            ),
        ));
    }
    Ok(())
}

/// Whether dest exists as a real directory (Ok(false): not yet created). Symlinks are refused:
/// a link could be re-pointed (e.g. into lkroot) between our check and our writes.
pub fn dest_exists(dest: &Path) -> Result<bool, Failure> {
    match fs::symlink_metadata(dest) {
        Ok(m) if m.file_type().is_symlink() => Err(Failure::param(
            "backup_dir",
            format!(
                "backup_dir {} is a symbolic link; refusing it (point backup_dir at the real directory)",
                dest.display()
            ),
        )),
        Ok(m) if !m.is_dir() => Err(Failure::param(
            "backup_dir",
            format!("backup_dir {} exists and is not a directory", dest.display()),
        )),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Failure::param(
            "backup_dir",
            format!("cannot stat backup_dir {}: {e}", dest.display()),
        )),
    }
}

/// Take the dest lock. A read-only run (check mode, verified) never creates the lock file: it
/// locks only when an earlier real run left one.
pub fn lock_dest(dest: &Path, create: bool) -> Result<Option<rfs::Lock>, Failure> {
    let path = dest.join(LOCK);
    if !create && !path.exists() {
        return Ok(None);
    }
    rfs::lock(&path, Duration::from_secs(120))
        .map(Some)
        .map_err(|e| {
            Failure::new(rfs::lock_failure(&e, &path, || {
                format!("cannot lock {}: {e}", path.display())
            }))
        })
}

/// Temp files of interrupted earlier runs (`.<name>.lkops-tmp.<pid>`), whatever the target name.
pub fn clean_temps(dest: &Path) -> Result<Vec<String>, Failure> {
    let mut removed = vec![];
    let Ok(entries) = fs::read_dir(dest) else {
        return Ok(removed);
    };
    let mut targets = BTreeSet::new();
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if let Some((target, _pid)) = n.strip_prefix('.').and_then(|s| s.split_once(TMP_MARK)) {
            targets.insert(target.to_string());
        }
    }
    for t in targets {
        let gone = rfs::clean_stale_temps(&dest.join(&t)).map_err(|e| {
            Failure::new(format!(
                "cannot remove stale temp files in {}: {e}",
                dest.display()
            ))
        })?;
        removed.extend(gone.iter().map(|p| p.display().to_string()));
    }
    Ok(removed)
}

// ---- fingerprint -------------------------------------------------------------------------------

/// Runtime markers LifeKeeper writes under `<lkroot>/config` that say how it runs, not how it is
/// configured: `LK_INITDONE` appears once start-up has finished and goes away on stop (field
/// evidence [AWS]), so a restore done while stopped, or a backup taken while running, must not
/// count it as a configuration change.
pub const RUNTIME_FILES: &[&str] = &["LK_INITDONE"];

/// Files under `<lkroot>/config` that are not configuration: lkbackup's own archives, our temp
/// files, pid/lock files, the runtime markers ([`RUNTIME_FILES`]). (Which other volatile files a
/// real /opt/LifeKeeper/config holds is UNCONFIRMED; they would make every run take a new
/// backup, never skip one.)
pub fn volatile(name: &str) -> bool {
    RUNTIME_FILES.contains(&name)
        || (name.starts_with("archive.") && name.ends_with(".tar.gz"))
        || name.contains(TMP_MARK)
        || name.ends_with(".tmp~")
        || name.ends_with(".pid")
        || name.ends_with(".lock")
}

pub const DEFAULTS_LABEL: &str = "@defaults_file";

/// Every configuration file: (path relative to lkroot, or DEFAULTS_LABEL) →
/// sha256 of its content ("link -> target" for symlinks).
pub fn config_files(lkroot: &Path, defaults_file: &Path) -> Result<Vec<(String, String)>, String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) -> Result<(), String> {
        let rd = match fs::read_dir(dir) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = p
                .strip_prefix(base)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let m = fs::symlink_metadata(&p)
                .map_err(|e| format!("cannot stat {}: {e}", p.display()))?;
            if m.file_type().is_symlink() {
                let t = fs::read_link(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                out.push((rel, format!("link -> {}", t.display())));
            } else if m.is_dir() {
                walk(&p, base, out)?;
            } else if m.is_file() && !volatile(&name) {
                let h = rfs::sha256_file(&p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                out.push((rel, h));
            }
        }
        Ok(())
    }
    let mut out = vec![];
    walk(&lkroot.join("config"), lkroot, &mut out)?;
    // lkbackup -c also archives the created resources' configuration files (issue 28 D1): a
    // change there is a configuration change, so the newest backup no longer holds it.
    for f in resource_conf_files(lkroot)? {
        let rel = f
            .strip_prefix(lkroot)
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        let h = rfs::sha256_file(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        out.push((rel, h));
    }
    out.sort();
    match rfs::sha256_file(defaults_file) {
        // Labelled, not by its path: the fingerprint is about content, wherever the file lives.
        Ok(h) => out.push((DEFAULTS_LABEL.to_string(), h)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", defaults_file.display())),
    }
    Ok(out)
}

/// The resources' configuration files lkbackup archives with `config/`:
/// `<lkroot>/subsys/<app>/resources/<type>/*.conf` (regular files; a missing level is none).
pub fn resource_conf_files(lkroot: &Path) -> Result<Vec<PathBuf>, String> {
    fn dirs(d: &Path) -> Result<Vec<PathBuf>, String> {
        match fs::read_dir(d) {
            Ok(rd) => Ok(rd.flatten().map(|e| e.path()).collect()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(vec![])
            }
            Err(e) => Err(format!("cannot read {}: {e}", d.display())),
        }
    }
    let mut out = vec![];
    for app in dirs(&lkroot.join("subsys"))? {
        for ty in dirs(&app.join("resources"))? {
            for f in dirs(&ty)? {
                let regular = fs::symlink_metadata(&f).is_ok_and(|m| m.is_file());
                if regular && f.extension().is_some_and(|x| x == "conf") {
                    out.push(f);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn fingerprint_of(files: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    h.update(b"lkops-config-fingerprint-v1\n");
    for (path, digest) in files {
        // Length-prefixed so no two different file sets hash the same text.
        h.update(format!("{}:{path}\n{digest}\n", path.len()).as_bytes());
    }
    rfs::hex(&h.finalize())
}

/// The configuration fingerprint: sha256 over the sorted relative paths and content digests of
/// the configuration files under `<lkroot>/config` (archives and volatile files excluded), the
/// resources' configuration files ([`resource_conf_files`]) and the defaults file: what
/// `lkbackup -c` archives. Read-only.
pub fn fingerprint(lkroot: &Path, defaults_file: &Path) -> Result<String, String> {
    config_files(lkroot, defaults_file).map(|f| fingerprint_of(&f))
}

// ---- verification ------------------------------------------------------------------------------

#[derive(Debug, Default)]
pub struct Check {
    pub checked: Vec<String>,
    pub corrupt: Vec<String>,
    pub missing: Vec<String>,
}

impl Check {
    pub fn file(&mut self, dir: &Path, name: &str, expected: &str) {
        match rfs::sha256_file(&dir.join(name)) {
            Ok(h) if h == expected => self.checked.push(name.to_string()),
            Ok(_) => self.corrupt.push(name.to_string()),
            Err(_) => self.missing.push(name.to_string()),
        }
    }
    pub fn ok(&self) -> bool {
        self.corrupt.is_empty() && self.missing.is_empty()
    }
}

/// An entry verifies when each of its files exists, matches the manifest, and SHA256SUMS agrees.
pub fn entry_ok(dest: &Path, e: &BackupEntry, sums: &[SumLine]) -> bool {
    e.files().iter().all(|(name, sha)| {
        sum_of(sums, name) == Some(*sha)
            && rfs::sha256_file(&dest.join(name)).is_ok_and(|h| h == *sha)
    })
}

/// The newest backup of `host` in `dest` when its files exist and match both the manifest and
/// SHA256SUMS; `Ok(None)` when `dest` holds no backup of `host`; `Err` when the newest does not
/// verify. Never an older one: restoring a backup older than the newest silently loses every
/// change recorded after it (issue 22 defect 1). Read-only.
pub fn find_verified(dest: &Path, host: &str) -> Result<Option<BackupEntry>, String> {
    let m = read_manifest(dest)?;
    let sums = read_sums(dest)?.unwrap_or_default();
    match newest_of(&m, host) {
        None => Ok(None),
        Some(e) if entry_ok(dest, e, &sums) => Ok(Some(e.clone())),
        Some(e) => Err(format!(
            "the newest backup of {host} in {}, {}, does not verify (a file is missing, damaged or not recorded in {SUMS}); an older backup is never used instead, since it would lose the changes made after it. Take a new backup with lk_backup, then rerun",
            dest.display(),
            e.archive
        )),
    }
}

/// The backup of `host` whose archive is `archive`, when its files still verify; `None`
/// otherwise. Read-only.
pub fn find_verified_archive(
    dest: &Path,
    host: &str,
    archive: &str,
) -> Result<Option<BackupEntry>, String> {
    let m = read_manifest(dest)?;
    let sums = read_sums(dest)?.unwrap_or_default();
    Ok(m.backups
        .iter()
        .find(|e| e.host == host && e.archive == archive && entry_ok(dest, e, &sums))
        .cloned())
}

pub fn newest_of<'a>(m: &'a Manifest, host: &str) -> Option<&'a BackupEntry> {
    m.backups
        .iter()
        .filter(|e| e.host == host)
        .max_by(|a, b| (a.timestamp, &a.archive).cmp(&(b.timestamp, &b.archive)))
}

/// Entries of `host` that retention removes: all but the newest `retain`, oldest first.
pub fn select_prune(m: &Manifest, host: &str, retain: usize) -> Vec<BackupEntry> {
    let mut mine: Vec<&BackupEntry> = m.backups.iter().filter(|e| e.host == host).collect();
    mine.sort_by(|a, b| (a.timestamp, &a.archive).cmp(&(b.timestamp, &b.archive)));
    let n = mine.len().saturating_sub(retain);
    mine[..n].iter().map(|e| (*e).clone()).collect()
}

/// One line per backup file recorded in dest, for the diff.
pub fn listing(m: &Manifest) -> String {
    let mut names: Vec<&str> = m
        .backups
        .iter()
        .flat_map(|e| e.files().into_iter().map(|(n, _)| n))
        .collect();
    names.sort();
    names.iter().map(|n| format!("{n}\n")).collect()
}

/// File names for a new backup taken at `now`, not colliding with anything in dest or recorded.
/// `_2`, `_3`... sort after the plain name, so names still sort by time.
pub fn new_names(dest: &Path, m: &Manifest, host: &str, now: i64) -> (String, String) {
    let stamp = time::compact(now);
    let taken = |n: &str| {
        dest.join(n).exists()
            || m.backups
                .iter()
                .any(|e| e.archive == n || e.defaults_copy.as_deref() == Some(n))
    };
    for i in 1.. {
        let s = if i == 1 {
            stamp.clone()
        } else {
            format!("{stamp}_{i}")
        };
        let (a, d) = (
            format!("{host}.lkbackup.{s}.tar.gz"),
            format!("{host}.LifeKeeper.defaults.{s}"),
        );
        if !taken(&a) && !taken(&d) {
            return (a, d);
        }
    }
    unreachable!()
}

pub fn entries_json(m: &Manifest) -> Value {
    serde_json::to_value(&m.backups).unwrap_or(Value::Null)
}

pub fn create_dest(dest: &Path) -> Result<(), Failure> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| {
            Failure::param(
                "backup_dir",
                format!("cannot create {}: {e}", parent.display()),
            )
        })?;
    }
    fs::DirBuilder::new()
        .mode(0o700)
        .create(dest)
        .and_then(|()| fs::set_permissions(dest, fs::Permissions::from_mode(0o700)))
        .map_err(|e| {
            Failure::param(
                "backup_dir",
                format!("cannot create backup_dir {}: {e}", dest.display()),
            )
        })
}

/// dest opened once (`O_DIRECTORY|O_NOFOLLOW`): every write of a run is made relative to this
/// descriptor (`openat` with `O_NOFOLLOW`, `renameat`, `unlinkat`), so dest swapped for a symbolic
/// link during the run (into `lkroot/config`, where rmlk deletes everything) cannot redirect
/// them (issue 22 defect 17). `path` is for messages only.
#[derive(Debug)]
pub struct DestDir {
    fd: std::os::fd::OwnedFd,
    pub path: PathBuf,
}

impl DestDir {
    pub fn open(dest: &Path) -> Result<DestDir, Failure> {
        Self::open_as(dest, "backup_dir")
    }

    /// [`DestDir::open`] for a module whose parameter naming the directory is `param`
    /// (lk_upgrade's `backup_dir`).
    pub fn open_as(dest: &Path, param: &str) -> Result<DestDir, Failure> {
        nix::fcntl::open(
            dest,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(|fd| DestDir {
            fd,
            path: dest.to_path_buf(),
        })
        .map_err(|e| {
            Failure::param(
                param,
                format!(
                    "cannot open {param} {} as a directory (a symbolic link is refused): {e}",
                    dest.display()
                ),
            )
        })
    }

    /// Whether `path` still names the directory opened (not replaced, e.g. by a symbolic link).
    pub fn still_at_path(&self) -> bool {
        let Ok(st) = nix::sys::stat::fstat(&self.fd) else {
            return false;
        };
        fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_dir() && m.dev() == st.st_dev && m.ino() == st.st_ino)
    }

    /// `name` when it is one entry of this directory ([`rfs::is_entry_name`]): every call here
    /// is relative to the descriptor, and a name read back from the records (`../../x`, an
    /// absolute path) must never reach outside it (issue 28 S4's class).
    fn entry<'a>(&self, name: &'a str) -> io::Result<&'a str> {
        if rfs::is_entry_name(name) {
            Ok(name)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is not a file name in {}", self.path.display()),
            ))
        }
    }

    fn open_file(&self, name: &str, flags: OFlag, mode: u32) -> io::Result<File> {
        let name = self.entry(name)?;
        nix::fcntl::openat(
            &self.fd,
            name,
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .map(File::from)
        .map_err(io::Error::from)
    }

    /// Write what `input` yields to `name` atomically (a `.<name>.lkops-tmp.<pid>` temp, fsync,
    /// renameat, fsync of the directory), mode `mode`; the sha256 of what was written.
    pub fn put(&self, name: &str, input: &mut dyn Read, mode: u32) -> io::Result<String> {
        let name = self.entry(name)?;
        let tmp = format!(".{name}{TMP_MARK}{}", std::process::id());
        let _ = nix::unistd::unlinkat(&self.fd, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
        let result = (|| {
            let mut out = self.open_file(
                &tmp,
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
                0o600,
            )?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = input.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])?;
            }
            out.set_permissions(fs::Permissions::from_mode(mode))?;
            out.sync_all()?;
            nix::fcntl::renameat(&self.fd, tmp.as_str(), &self.fd, name)?;
            nix::unistd::fsync(&self.fd)?;
            Ok(hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect())
        })();
        if result.is_err() {
            let _ = nix::unistd::unlinkat(&self.fd, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
        }
        result
    }

    /// sha256 and size of `name` in the directory.
    pub fn sha256(&self, name: &str) -> io::Result<(String, u64)> {
        let mut f = self.open_file(name, OFlag::O_RDONLY, 0)?;
        let mut hasher = Sha256::new();
        let size = io::copy(&mut f, &mut HashWriter(&mut hasher))?;
        Ok((
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            size,
        ))
    }

    /// Write `data` to `name` atomically (see [`DestDir::put`]).
    pub fn put_bytes(&self, name: &str, data: &[u8], mode: u32) -> io::Result<String> {
        self.put(name, &mut &data[..], mode)
    }

    /// Copy the file `src` (anywhere) to `name` atomically; its sha256.
    pub fn copy_in(&self, src: &Path, name: &str, mode: u32) -> io::Result<String> {
        let mut f = File::open(src)?;
        self.put(name, &mut f, mode)
    }

    /// The content of `name`; `None` when it does not exist.
    pub fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match self.open_file(name, OFlag::O_RDONLY, 0) {
            Ok(mut f) => {
                let mut v = vec![];
                f.read_to_end(&mut v)?;
                Ok(Some(v))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An exclusive lock on the file `name` in the directory (created 0600), as [`rfs::lock`].
    pub fn lock(&self, name: &str, wait: Duration) -> io::Result<rfs::Lock> {
        let f = self.open_file(name, OFlag::O_RDWR | OFlag::O_CREAT, 0o600)?;
        rfs::lock_file(f, wait, &self.path.join(name))
    }

    /// The names in the directory opened (read through the descriptor, via /proc, so a path
    /// swapped since cannot change the listing; by path where /proc is missing).
    pub fn names(&self) -> Vec<String> {
        use std::os::fd::AsRawFd;
        let via_fd = PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()));
        let rd = fs::read_dir(&via_fd).or_else(|_| fs::read_dir(&self.path));
        let mut v: Vec<String> = rd
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Remove the temp files (`.<name>.lkops-tmp.<pid>`) of writers that are no longer alive;
    /// the names removed.
    pub fn clean_temps(&self) -> Vec<String> {
        let me = std::process::id().to_string();
        let mut removed = vec![];
        for n in self.names() {
            let Some((_, pid)) = n.strip_prefix('.').and_then(|s| s.rsplit_once(TMP_MARK)) else {
                continue;
            };
            let alive = pid == me
                || (pid.parse::<u32>().is_ok() && Path::new(&format!("/proc/{pid}")).exists());
            if !alive && self.remove(&n).is_ok() {
                removed.push(self.path.join(&n).display().to_string());
            }
        }
        removed
    }

    /// Record (or re-record) `name` in the directory's SHA256SUMS with the sha256 of its
    /// content, keeping every other line; atomic, relative to the descriptor. The sha256.
    pub fn record_sum(&self, name: &str) -> Result<String, String> {
        let (sha, _) = self
            .sha256(name)
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        let text = self
            .read(SUMS)
            .map_err(|e| format!("cannot read {}: {e}", self.path.join(SUMS).display()))?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let mut lines = parse_sums(&text);
        lines.retain(|l| !matches!(l, SumLine::Entry { name: n, .. } if n == name));
        lines.push(SumLine::Entry {
            sha256: sha.clone(),
            name: name.to_string(),
        });
        self.put_bytes(SUMS, render_sums(&lines).as_bytes(), 0o600)
            .map_err(|e| format!("cannot write {}: {e}", self.path.join(SUMS).display()))?;
        Ok(sha)
    }

    /// Remove `name` from the directory (absent is fine).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let name = self.entry(name)?;
        match nix::unistd::unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copy `src` into dest as `name` (0600) and prove the copy on disk equals the source.
pub fn copy_verified(src: &Path, dest: &DestDir, name: &str) -> Result<(String, u64), Failure> {
    let target = dest.path.join(name);
    let fail = |what: String| {
        let _ = dest.remove(name);
        Failure::new(what).with("source", src.display().to_string())
    };
    let src_sha =
        rfs::sha256_file(src).map_err(|e| fail(format!("cannot read {}: {e}", src.display())))?;
    let written = File::open(src)
        .and_then(|mut f| dest.put(name, &mut f, 0o600))
        .map_err(|e| {
            fail(format!(
                "cannot copy {} to {}: {e}",
                src.display(),
                target.display()
            ))
        })?;
    let (on_disk, size) = dest
        .sha256(name)
        .map_err(|e| fail(format!("cannot read back {}: {e}", target.display())))?;
    if written != src_sha || on_disk != src_sha {
        return Err(fail(format!(
            "the copy {} does not match its source {} (sha256 {on_disk} != {src_sha}); removed it",
            target.display(),
            src.display()
        )));
    }
    Ok((src_sha, size))
}

/// Rewrite the manifest and SHA256SUMS atomically: drop pruned files, add the new entry's files,
/// keep every line we did not write ourselves.
pub fn write_records(
    dest: &DestDir,
    after: &Manifest,
    sums: &[SumLine],
    pruned: &[String],
) -> Result<(), Failure> {
    let mut lines: Vec<SumLine> = sums
        .iter()
        .filter(|l| !matches!(l, SumLine::Entry { name, .. } if pruned.contains(name)))
        .cloned()
        .collect();
    for e in &after.backups {
        for (name, sha) in e.files() {
            if sum_of(&lines, name) != Some(sha) {
                lines.retain(|l| !matches!(l, SumLine::Entry { name: n, .. } if n == name));
                lines.push(SumLine::Entry {
                    sha256: sha.to_string(),
                    name: name.to_string(),
                });
            }
        }
    }
    let mut text = serde_json::to_string_pretty(after).expect("manifest serialises");
    text.push('\n');
    dest.put(MANIFEST, &mut text.as_bytes(), 0o600)
        .and_then(|_| dest.put(SUMS, &mut render_sums(&lines).as_bytes(), 0o600))
        .map(|_| ())
        .map_err(|e| {
            Failure::new(format!(
                "cannot write the backup records in {}: {e}",
                dest.path.display()
            ))
        })
}

/// Backup copies of `host` that an interrupted run renamed into dest but never recorded (killed
/// between the copy and the manifest): exactly the names `new_names` makes, in neither the
/// manifest nor SHA256SUMS. Nothing can rely on them (lk_upgrade only restores recorded
/// backups), so a real run under the dest lock removes them (issue 22 defect 9). Only those
/// stamped at or after the newest recorded backup of `host` (a killed run names its copies by
/// its own time): an older look-alike was put there by someone, and is left alone.
pub fn orphans(dest: &Path, m: &Manifest, sums: &[SumLine], host: &str) -> Vec<String> {
    let newest = newest_of(m, host).and_then(|e| {
        e.archive
            .strip_prefix(&format!("{host}.lkbackup."))
            .and_then(|r| r.strip_suffix(".tar.gz"))
            .map(|s| s[..s.len().min(16)].to_string())
    });
    let recent = |s: &str| newest.as_deref().is_none_or(|n| &s[..16] >= n);
    let stamp = |s: &str| {
        let (base, n) = s.split_once('_').unwrap_or((s, "1"));
        let b = base.as_bytes();
        b.len() == 16
            && b[8] == b'T'
            && b[15] == b'Z'
            && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
            && !n.is_empty()
            && n.bytes().all(|c| c.is_ascii_digit())
            && recent(s)
    };
    let ours = |n: &str| {
        n.strip_prefix(&format!("{host}.lkbackup."))
            .and_then(|r| r.strip_suffix(".tar.gz"))
            .is_some_and(stamp)
            || n.strip_prefix(&format!("{host}.LifeKeeper.defaults."))
                .is_some_and(stamp)
    };
    let recorded = |n: &str| {
        sum_of(sums, n).is_some()
            || m.backups
                .iter()
                .any(|e| e.archive == n || e.defaults_copy.as_deref() == Some(n))
    };
    let mut v: Vec<String> = fs::read_dir(dest)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| ours(n) && !recorded(n))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Files named like our backups that nothing records.
pub fn unrecorded(dest: &Path, listed: &BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dest)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    !n.starts_with('.')
                        && (n.contains(".lkbackup.") || n.contains(".LifeKeeper.defaults."))
                        // lk_upgrade's own copies (saved/fresh defaults) are not backups.
                        && !n.ends_with(".saved")
                        && !n.ends_with(".fresh")
                        && !listed.contains(n)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Paths whose digest differs, appeared or disappeared.
pub fn changed_files(before: &[(String, String)], after: &[(String, String)]) -> Vec<String> {
    let b: BTreeSet<&(String, String)> = before.iter().collect();
    let a: BTreeSet<&(String, String)> = after.iter().collect();
    let names: BTreeSet<&str> = b
        .symmetric_difference(&a)
        .map(|(n, _)| n.as_str())
        .collect();
    names.into_iter().map(String::from).collect()
}

// ---- files lk_upgrade keeps here ---------------------------------------------------------------
// lk_upgrade keeps its journal, the defaults files it must not lose across rmlk and its setup logs
// beside the backups (the directory survives the uninstall). Their names are decided here, so the
// store knows every file in its directory. These files are not backups: they are in neither the
// manifest nor SHA256SUMS.

/// The upgrade journal of `host` (kept in the backup directory, else lk_upgrade's state_dir).
pub fn journal_name(host: &str) -> String {
    format!("upgrade-journal.{host}.json")
}

/// The host whose upgrade journal the file `name` is (the inverse of [`journal_name`]); `None`
/// for any other file.
pub fn journal_host(name: &str) -> Option<&str> {
    name.strip_prefix("upgrade-journal.")
        .and_then(|h| h.strip_suffix(".json"))
}

/// An upgrade recorded in `dest` that has not finished: whose journal it is and the archive it
/// restores (if it names one).
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    pub host: String,
    pub journal: String,
    pub archive: Option<String>,
}

/// The unfinished upgrade journals in `dest` (every host's): what retention must never prune
/// (issue 22 defect 2). Only the two fields the store needs are read; a journal that cannot be
/// read or parsed counts as unfinished with no archive known (then nothing of its host is
/// pruned: being wrong there costs disk space, not a node).
pub fn unfinished_upgrades(dest: &Path) -> Vec<Unfinished> {
    #[derive(Deserialize)]
    struct J {
        #[serde(default)]
        finished: bool,
        #[serde(default)]
        backup: Option<String>,
    }
    let mut out = vec![];
    let Ok(entries) = fs::read_dir(dest) else {
        return out;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(host) = journal_host(&n) else {
            continue;
        };
        let j = fs::read_to_string(e.path())
            .ok()
            .and_then(|t| serde_json::from_str::<J>(&t).ok());
        match j {
            Some(j) if j.finished => {}
            Some(j) => out.push(Unfinished {
                host: host.to_string(),
                journal: n,
                archive: j.backup,
            }),
            None => out.push(Unfinished {
                host: host.to_string(),
                journal: n,
                archive: None,
            }),
        }
    }
    out.sort_by(|a, b| a.journal.cmp(&b.journal));
    out
}

/// The copy of the old release's defaults file the reinstall path takes before rmlk.
/// `previous` is the installed version (`None`: unknown).
pub fn saved_defaults_path(dir: &Path, host: &str, previous: Option<&str>) -> PathBuf {
    dir.join(format!(
        "{host}.LifeKeeper.defaults.{}.saved",
        previous.unwrap_or("unknown")
    ))
}

/// The copy of the fresh release's defaults file kept across `lkbackup -x` (which brings back
/// the old one).
pub fn fresh_defaults_path(dir: &Path, host: &str, target: &str) -> PathBuf {
    dir.join(format!("{host}.LifeKeeper.defaults.{target}.fresh"))
}

/// The log of one setup run of `version` on `host`.
pub fn setup_log_name(host: &str, version: &str) -> String {
    format!("lkops-setup.{host}.{version}.log")
}

/// The archive of the files under lkroot that no package owns (kits shipped apart, site
/// scripts), taken by lk_upgrade before rmlk deletes them: `<host>.lksite.<stamp>.tar.gz`.
pub fn site_files_name(host: &str, now: i64) -> String {
    format!("{host}.lksite.{}.tar.gz", time::compact(now))
}

/// Record (or re-record) `name` in dir's SHA256SUMS with the sha256 of its content, keeping every
/// other line; atomic. Returns the sha256.
pub fn record_sum(dir: &Path, name: &str) -> Result<String, String> {
    let sha = rfs::sha256_file(&dir.join(name)).map_err(|e| format!("cannot read {name}: {e}"))?;
    let mut lines = read_sums(dir)?.unwrap_or_default();
    lines.retain(|l| !matches!(l, SumLine::Entry { name: n, .. } if n == name));
    lines.push(SumLine::Entry {
        sha256: sha.clone(),
        name: name.to_string(),
    });
    rfs::write_atomic(&dir.join(SUMS), render_sums(&lines).as_bytes(), 0o600)
        .map_err(|e| format!("cannot write {}: {e}", dir.join(SUMS).display()))?;
    Ok(sha)
}

/// Keep a copy of `src` at `to` (a path from the functions above): atomic, 0600 like every file
/// beside the backups. Returns the sha256 of what was written.
pub fn save_copy(src: &Path, to: &Path) -> io::Result<String> {
    rfs::copy_atomic(src, to, 0o600)
}

/// Write `data` to `to` (a path from the functions above): atomic, 0600.
pub fn save_file(to: &Path, data: &[u8]) -> io::Result<()> {
    rfs::write_atomic(to, data, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lkops-backup-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn entry(host: &str, ts: i64) -> BackupEntry {
        BackupEntry {
            host: host.into(),
            time: time::iso8601(ts),
            timestamp: ts,
            lifekeeper_version: Some("9.4.0".into()),
            fingerprint: "f".into(),
            archive: format!("{host}.lkbackup.{}.tar.gz", time::compact(ts)),
            sha256: "0".repeat(64),
            size: 1,
            defaults_copy: None,
            defaults_sha256: None,
            source: String::new(),
        }
    }

    #[test]
    fn sums_round_trip_in_sha256sum_format_and_keep_foreign_lines() {
        let h = "a".repeat(64);
        let text = format!("{h}  x.tar.gz\n# note\n{h} *y\n");
        let lines = parse_sums(&text);
        assert_eq!(sum_of(&lines, "y"), Some(h.as_str()));
        assert_eq!(
            render_sums(&lines),
            format!("{h}  x.tar.gz\n# note\n{h}  y\n")
        );
    }

    #[test]
    fn retention_prunes_oldest_of_this_host_only_and_never_the_newest() {
        let m = Manifest {
            format: 1,
            backups: vec![
                entry("a", 30),
                entry("a", 10),
                entry("b", 5),
                entry("a", 20),
            ],
        };
        let p = select_prune(&m, "a", 2);
        assert_eq!(p.iter().map(|e| e.timestamp).collect::<Vec<_>>(), vec![10]);
        // retain 0 (a new backup is about to be added with keep=1) prunes all old ones
        assert_eq!(select_prune(&m, "a", 0).len(), 3);
        assert!(select_prune(&m, "b", 1).is_empty());
        assert_eq!(newest_of(&m, "a").unwrap().timestamp, 30);
    }

    #[test]
    fn dest_inside_lkroot_is_refused_literally_and_through_symlinks() {
        let d = tmpdir("inside");
        let lk = d.join("opt/LifeKeeper");
        fs::create_dir_all(lk.join("config")).unwrap();
        assert!(check_outside_lkroot(&lk.join("config/bk"), &lk).is_err());
        assert!(check_outside_lkroot(&d.join("x/../opt/LifeKeeper/bk"), &lk).is_err());
        assert!(check_outside_lkroot(&lk, &lk).is_err());
        std::os::unix::fs::symlink(lk.join("config"), d.join("link")).unwrap();
        let e = check_outside_lkroot(&d.join("link/new/bk"), &lk).unwrap_err();
        assert!(e.msg.contains("uninstaller"), "{}", e.msg);
        assert!(check_outside_lkroot(&d.join("backups"), &lk).is_ok());
        // a sibling whose name merely starts with lkroot's is outside
        assert!(check_outside_lkroot(&d.join("opt/LifeKeeper2"), &lk).is_ok());
    }

    const PINNED_FP: &str = "6b6d3c818d8722c2e5b51318f39b00181f37c160572bdd56ea80f99400311ea7";

    #[test]
    fn fingerprint_ignores_archives_and_temps_but_sees_config_and_defaults() {
        let d = tmpdir("fp");
        let lk = d.join("lk");
        fs::create_dir_all(lk.join("config/sub")).unwrap();
        fs::write(lk.join("config/hierarchy.json"), "h").unwrap();
        fs::write(lk.join("config/sub/x"), "x").unwrap();
        let def = d.join("LifeKeeper");
        fs::write(&def, "A=1\n").unwrap();
        let f0 = fingerprint(&lk, &def).unwrap();
        fs::write(lk.join("config/archive.2511251542.tar.gz"), "z").unwrap();
        fs::write(lk.join("config/.x.lkops-tmp.1"), "z").unwrap();
        assert_eq!(fingerprint(&lk, &def).unwrap(), f0);
        fs::write(&def, "A=2\n").unwrap();
        let f1 = fingerprint(&lk, &def).unwrap();
        assert_ne!(f1, f0);
        // The algorithm is pinned: changing it makes every node take a new backup.
        assert_eq!(f1, PINNED_FP);
        fs::rename(lk.join("config/sub/x"), lk.join("config/sub/y")).unwrap();
        assert_ne!(fingerprint(&lk, &def).unwrap(), f1);
    }

    /// Issue 28 D1: the fingerprint covered config/ and the defaults file only, but lkbackup -c
    /// also archives the resources' .conf files; a change there was called "current".
    #[test]
    fn d1_a_changed_resource_conf_file_changes_the_fingerprint() {
        let d = tmpdir("d1fp");
        let lk = d.join("lk");
        fs::create_dir_all(lk.join("config")).unwrap();
        fs::write(lk.join("config/hierarchy.json"), "h").unwrap();
        let conf_dir = lk.join("subsys/gen/resources/app");
        fs::create_dir_all(&conf_dir).unwrap();
        fs::write(conf_dir.join("app1.conf"), "TAG=app1\nID=a\n").unwrap();
        let def = d.join("LifeKeeper");
        fs::write(&def, "A=1\n").unwrap();
        let f0 = fingerprint(&lk, &def).unwrap();
        fs::write(conf_dir.join("app1.conf"), "TAG=app1\nID=b\n").unwrap();
        let f1 = fingerprint(&lk, &def).unwrap();
        assert_ne!(
            f1, f0,
            "a changed resource .conf must change the fingerprint"
        );
        fs::write(conf_dir.join("app2.conf"), "TAG=app2\n").unwrap();
        assert_ne!(
            fingerprint(&lk, &def).unwrap(),
            f1,
            "a new resource .conf too"
        );
        // Files lkbackup does not archive stay out.
        let f2 = fingerprint(&lk, &def).unwrap();
        fs::write(conf_dir.join("notes.txt"), "x").unwrap();
        assert_eq!(fingerprint(&lk, &def).unwrap(), f2);
    }

    /// Issue 28 S4's class in backup_dir: names read back from the records (an archive a planted
    /// or damaged lkops-backups.json lists) were removed relative to the directory without a
    /// check, so `../victim` deleted a file beside it.
    #[test]
    fn s4_a_recorded_name_outside_backup_dir_is_never_removed_or_written() {
        let d = tmpdir("s4dest");
        let dest = d.join("backups");
        fs::create_dir_all(&dest).unwrap();
        let victim = d.join("victim");
        fs::write(&victim, "keep").unwrap();
        let dir = DestDir::open(&dest).unwrap();
        let abs = victim.display().to_string();
        for name in ["../victim", abs.as_str(), "", ".", ".."] {
            assert!(dir.remove(name).is_err(), "{name:?}");
            assert!(dir.put_bytes(name, b"x", 0o600).is_err(), "{name:?}");
            assert!(dir.read(name).is_err(), "{name:?}");
        }
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        dir.put_bytes("ok.tar.gz", b"x", 0o600).unwrap();
        dir.remove("ok.tar.gz").unwrap();
    }

    #[test]
    fn orphans_are_only_unrecorded_copies_named_like_new_names() {
        let d = tmpdir("orphans");
        for n in [
            "node-a.lkbackup.20261201T105000Z.tar.gz",
            "node-a.lkbackup.20261201T105000Z_2.tar.gz",
            "node-a.LifeKeeper.defaults.20261201T105000Z",
            "node-a.LifeKeeper.defaults.9.2.2.saved",
            "node-b.lkbackup.20261201T105000Z.tar.gz",
            "node-a.lkbackup.recorded.tar.gz",
            "node-a.lkbackup.19990101T000000Z.tar.gz",
        ] {
            fs::write(d.join(n), "x").unwrap();
        }
        let mut m = Manifest::default();
        let mut e = entry("node-a", 1);
        e.archive = "node-a.lkbackup.20261201T105000Z.tar.gz".into();
        m.backups.push(e);
        assert_eq!(
            orphans(&d, &m, &[], "node-a"),
            [
                "node-a.LifeKeeper.defaults.20261201T105000Z",
                "node-a.lkbackup.20261201T105000Z_2.tar.gz"
            ]
        );
    }

    #[test]
    fn new_names_sort_by_time_and_never_collide() {
        let d = tmpdir("names");
        let m = Manifest::default();
        let (a, def) = new_names(&d, &m, "node-a", 1_795_619_573);
        assert_eq!(a, "node-a.lkbackup.20261125T151253Z.tar.gz");
        assert_eq!(def, "node-a.LifeKeeper.defaults.20261125T151253Z");
        fs::write(d.join(&a), "x").unwrap();
        let (a2, _) = new_names(&d, &m, "node-a", 1_795_619_573);
        assert_eq!(a2, "node-a.lkbackup.20261125T151253Z_2.tar.gz");
        assert!(a2 > a);
    }

    #[test]
    fn upgrade_file_names_are_the_ones_lk_upgrade_always_wrote() {
        let d = Path::new("/b");
        assert_eq!(journal_name("n1"), "upgrade-journal.n1.json");
        assert_eq!(journal_host(&journal_name("n1")), Some("n1"));
        assert_eq!(journal_host("lkbackup.n1.tar.gz"), None);
        assert_eq!(
            saved_defaults_path(d, "n1", Some("9.4.0")),
            Path::new("/b/n1.LifeKeeper.defaults.9.4.0.saved")
        );
        assert_eq!(
            saved_defaults_path(d, "n1", None),
            Path::new("/b/n1.LifeKeeper.defaults.unknown.saved")
        );
        assert_eq!(
            fresh_defaults_path(d, "n1", "9.6.1"),
            Path::new("/b/n1.LifeKeeper.defaults.9.6.1.fresh")
        );
        assert_eq!(setup_log_name("n1", "9.6.1"), "lkops-setup.n1.9.6.1.log");
    }
}

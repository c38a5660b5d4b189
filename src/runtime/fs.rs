//! File helpers: atomic writes, locks, checksums, backup copies.
//!
//! Nothing is lost: a file is replaced by writing a temp file in the same directory, fsyncing it,
//! renaming it over the target and fsyncing the directory, so a crash leaves either the old or the
//! new file, never half of one. Mode and owner of the old file carry over.

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const TMP_MARK: &str = ".lkops-tmp.";

fn tmp_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = target.parent().unwrap_or(Path::new("."));
    dir.join(format!(".{name}{TMP_MARK}{}", std::process::id()))
}

/// Remove temp files an interrupted earlier run left beside `target`.
pub fn clean_stale_temps(target: &Path) -> io::Result<Vec<PathBuf>> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = format!(".{name}{TMP_MARK}");
    let mut removed = vec![];
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(removed);
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = n.strip_prefix(&prefix) {
            // Leave a temp file alone while its writer is still alive.
            let alive = pid.parse::<i32>().is_ok_and(|p| {
                p != std::process::id() as i32 && Path::new(&format!("/proc/{p}")).exists()
            });
            if !alive {
                fs::remove_file(e.path())?;
                removed.push(e.path());
            }
        }
    }
    Ok(removed)
}

/// Refuse targets that are symlinks or directories: we replace regular files only.
pub fn check_regular_target(path: &Path) -> Result<Option<fs::Metadata>, String> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "{} is a symbolic link; refusing to replace it (point the parameter at the real file)",
            path.display()
        )),
        Ok(m) if m.is_dir() => Err(format!("{} is a directory, not a file", path.display())),
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot stat {}: {e}", path.display())),
    }
}

/// Atomically replace (or create) `path` with `data`. An existing file's mode and owner are kept;
/// a new file gets `new_mode`.
pub fn write_atomic(path: &Path, data: &[u8], new_mode: u32) -> io::Result<()> {
    let old = match fs::symlink_metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mode = old
        .as_ref()
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(new_mode);
    let tmp = tmp_name(path);
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        if let Some(m) = &old {
            // Only root may give a file away; keep going if we are not allowed.
            let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
        }
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Copy `src` to `dest` atomically (same guarantees as `write_atomic`), streaming, and return
/// the sha256 of what was written.
pub fn copy_atomic(src: &Path, dest: &Path, mode: u32) -> io::Result<String> {
    let tmp = tmp_name(dest);
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut input = File::open(src)?;
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
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
        fs::rename(&tmp, dest)?;
        sync_dir(dest)?;
        Ok(hex(&hasher.finalize()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a file, streamed in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub fn sha256_bytes(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Keep a timestamped copy of `path` beside it, the way Ansible's `backup: yes` names it
/// (`<path>.<pid>.<YYYY-MM-DD@HH:MM:SS>~`), readable by its owner only. It only adds a copy:
/// bounding how many are kept is the caller's (`lifekeeper::defaults_reapply::BACKUPS_KEPT`).
pub fn backup_copy(path: &Path) -> io::Result<PathBuf> {
    let stamp = super::time::now_backup_stamp();
    let dest = PathBuf::from(format!(
        "{}.{}.{stamp}~",
        path.display(),
        std::process::id()
    ));
    // The copy is private (owner read/write at most) whatever the original's mode: it is a
    // second copy of site configuration that nobody else needs to read, and one is left per run
    // (issue 22 defect 9: each reinstall left another world-readable copy).
    let mode = fs::metadata(path)?.permissions().mode() & 0o600;
    copy_atomic(path, &dest, mode)?;
    Ok(dest)
}

/// A secret handed to a child process (setup's generated configuration, which names the no_log
/// license files) as a file with no name: created 0600 (`O_EXCL|O_NOFOLLOW`) in `dir` and
/// unlinked at once, its descriptor kept open without close-on-exec, so the next command started
/// inherits it and reads it at [`InheritedSecret::path`] (`/dev/fd/N`). Only descriptors reach
/// it, so it cannot outlive the run, not even a SIGKILL of this process (issue 22 defect 9): the
/// kernel frees it when the last holder closes it. (Between create and unlink it has a name,
/// `dir/NAME`: a kill there leaves it to the next run's clean-up of dead pids' files.) Dropping
/// it truncates it to nothing first, so a process the child left running with the descriptor
/// inherited (a daemon) keeps no copy either.
///
/// Not `memfd_create(2)`: the portable binaries link against glibc 2.17, which lacks it, and the
/// RHEL 7 kernel (3.10) does not have the system call either.
///
/// While it exists every command started inherits it: create it right before the one command
/// that needs it and drop it right after.
#[derive(Debug)]
pub struct InheritedSecret {
    file: File,
}

impl InheritedSecret {
    /// `name` is the file's name in `dir` for the instant before it is unlinked; give it one the
    /// stale-file clean-up recognises (it carries the pid).
    pub fn new(dir: &Path, name: &str, data: &[u8]) -> io::Result<InheritedSecret> {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        use std::io::{Seek, SeekFrom};
        let path = dir.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path)?;
        fs::remove_file(&path)?;
        // No close-on-exec: the descriptor is meant to survive the child's exec.
        fcntl(&file, FcntlArg::F_SETFD(FdFlag::empty()))?;
        let mut file = file;
        file.write_all(data)?;
        file.flush()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(InheritedSecret { file })
    }

    /// The path the child opens: `/dev/fd/N` (`/proc/self/fd/N` where there is no `/dev/fd`);
    /// it names the child's own inherited descriptor N.
    pub fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        let n = self.file.as_raw_fd();
        if Path::new("/dev/fd").is_dir() {
            PathBuf::from(format!("/dev/fd/{n}"))
        } else {
            PathBuf::from(format!("/proc/self/fd/{n}"))
        }
    }
}

impl Drop for InheritedSecret {
    fn drop(&mut self) {
        let _ = nix::unistd::ftruncate(&self.file, 0);
    }
}

/// The one rule for a name that becomes a component of a path (a node or cluster name in a
/// capture, backup or report directory, a file name read back from a manifest): letters, digits,
/// `-`, `.` and `_`, at most 253 bytes, not starting with `-` or `.`. So never empty, `.`, `..`,
/// a `/`, an absolute path, a NUL, a newline or a quote: joined to a directory, such a name stays
/// one entry of that directory. (The playbooks apply the same rule to lk_cluster, the role's
/// lk_path_name_pattern.)
pub fn is_path_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

/// The containment rule for a name looked up in a directory we opened (a name we did not form,
/// read back from a manifest or a listing; our temp files start with `.`): one component, so not
/// empty, `.` or `..`, and no `/` or NUL. Weaker than [`is_path_name`], never weaker than this.
pub fn is_entry_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// Whether a failed [`lock`] / [`lock_file`] means that another process holds the lock (and
/// only then). Any other failure is the lock file itself (a read-only or full file system,
/// permissions, a symbolic link): no other run is involved, and waiting will not help.
pub fn lock_held(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// The one wording of a failed lock for every lock user: `held` (the caller's words for "another
/// run holds it") when another process really holds it, else what went wrong with the lock file.
pub fn lock_failure(e: &io::Error, path: &Path, held: impl FnOnce() -> String) -> String {
    if lock_held(e) {
        held()
    } else {
        format!(
            "cannot create or lock the lock file {}: {e} (no other run holds it; fix this and rerun)",
            path.display()
        )
    }
}

/// An exclusive advisory lock (flock) held until dropped. Two runs on the same node serialise.
#[derive(Debug)]
pub struct Lock {
    _file: Flock<File>,
}

/// Lock `lock_path` (created 0600 if needed), waiting up to `wait` for another holder.
/// A symbolic link at `lock_path` is refused (O_NOFOLLOW, ELOOP): lock files live at predictable
/// names, some in shared directories (TMPDIR), where another user could plant a link that would
/// make root create or open a file anywhere.
pub fn lock(lock_path: &Path, wait: std::time::Duration) -> io::Result<Lock> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(OFlag::O_NOFOLLOW.bits())
        .open(lock_path)
        .map_err(|e| {
            if e.raw_os_error() == Some(Errno::ELOOP as i32) {
                io::Error::other(format!(
                    "{} is a symbolic link; refusing to use it as a lock file",
                    lock_path.display()
                ))
            } else {
                e
            }
        })?;
    lock_file(file, wait, lock_path)
}

/// Lock an already opened lock file (see [`lock`]); `shown` names it in messages.
pub fn lock_file(file: File, wait: std::time::Duration, shown: &Path) -> io::Result<Lock> {
    let start = std::time::Instant::now();
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => return Ok(Lock { _file: locked }),
            // Held by another run (EWOULDBLOCK), or interrupted: try again until `wait` is up.
            Err((f, _)) => file = f,
        }
        if start.elapsed() >= wait {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked by another run", shown.display()),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A small JSON document lkops keeps on a node (a plan, a run lease): its text and its value, or
/// `(None, None)` when there is no file. A symbolic link or a file that is not `what` (a JSON
/// `T`) is an error, whose message ends with `remedy`.
pub fn read_json_doc<T: serde::de::DeserializeOwned>(
    file: &Path,
    what: &str,
    remedy: &str,
) -> Result<(Option<String>, Option<T>), String> {
    if check_regular_target(file)?.is_none() {
        return Ok((None, None));
    }
    let text = read_text(file, what)?;
    let v = serde_json::from_str::<T>(&text)
        .map_err(|e| format!("{} is not {what} ({e}): {remedy}", file.display()))?;
    Ok((Some(text), Some(v)))
}

/// A directory only root reads (0700), created with its parents when missing; an existing one
/// is left as it is.
pub fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Read a file as text, with a message that names it.
pub fn read_text(path: &Path, what: &str) -> Result<String, String> {
    match fs::read(path) {
        Ok(b) => String::from_utf8(b)
            .map_err(|_| format!("{what} {} is not valid UTF-8 text", path.display())),
        Err(e) => Err(format!("cannot read {what} {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 22 defect 9): every reinstall left another
    /// `/etc/default/LifeKeeper.<pid>.<stamp>~` copy at 0644 beside the original.
    #[test]
    fn defaults_copies_pile_up_world_readable() {
        let dir = std::env::temp_dir().join(format!("lkops-bcopy-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("LifeKeeper");
        fs::write(&f, "A=1\n").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        let copy = backup_copy(&f).unwrap();
        assert_eq!(fs::read(&copy).unwrap(), b"A=1\n");
        assert_eq!(
            fs::metadata(&copy).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
            0o644
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Regression (issue 22 defect 9): the generated setup configuration (it names the no_log
    /// license files) was a file in work_dir that a SIGKILLed run left behind. Now it is a
    /// nameless file a child inherits: readable by the child at its path, in no directory, and
    /// empty once dropped.
    #[test]
    fn secret_temp_outlives_its_run() {
        let dir = tmpdir("secret");
        let s =
            InheritedSecret::new(&dir, "setup-1.conf", b"LKCONF_LICENSE_FILES=\"/l\"\n").unwrap();
        // It has no name in any directory from the moment it exists for the caller.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        let path = s.path();
        let out = std::process::Command::new("cat")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(out.stdout, b"LKCONF_LICENSE_FILES=\"/l\"\n");
        let target = fs::read_link(&path).unwrap();
        assert!(
            target.to_string_lossy().ends_with(" (deleted)"),
            "{target:?}"
        );
        // A process that still holds the descriptor after the run sees nothing.
        let held = File::open(&path).unwrap();
        drop(s);
        assert_eq!(held.metadata().unwrap().len(), 0);
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lkops-fs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn atomic_write_keeps_mode_and_leaves_no_temp() {
        let d = tmpdir("aw");
        let p = d.join("f");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        write_atomic(&d.join("g"), b"x", 0o600).unwrap();
        assert_eq!(
            fs::metadata(d.join("g")).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn stale_temp_files_of_dead_writers_are_removed() {
        let d = tmpdir("stale");
        let p = d.join("f");
        let stale = d.join(format!(".f{TMP_MARK}999999999"));
        fs::write(&stale, "half").unwrap();
        assert_eq!(clean_stale_temps(&p).unwrap(), vec![stale.clone()]);
        assert!(!stale.exists());
    }

    #[test]
    fn symlink_and_directory_targets_are_refused() {
        let d = tmpdir("sym");
        std::os::unix::fs::symlink("/etc/hostname", d.join("l")).unwrap();
        assert!(check_regular_target(&d.join("l"))
            .unwrap_err()
            .contains("symbolic link"));
        assert!(check_regular_target(&d).unwrap_err().contains("directory"));
        assert!(check_regular_target(&d.join("none")).unwrap().is_none());
    }

    #[test]
    fn sha256_matches_known_vector() {
        let d = tmpdir("sha");
        fs::write(d.join("abc"), "abc").unwrap();
        assert_eq!(
            sha256_file(&d.join("abc")).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let copy = copy_atomic(&d.join("abc"), &d.join("abc2"), 0o600).unwrap();
        assert_eq!(copy, sha256_bytes(b"abc"));
    }

    #[test]
    fn lock_is_exclusive() {
        let d = tmpdir("lock");
        let l = lock(&d.join("lk"), std::time::Duration::from_secs(1)).unwrap();
        let e = lock(&d.join("lk"), std::time::Duration::from_millis(50)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(l);
        lock(&d.join("lk"), std::time::Duration::from_millis(50)).unwrap();
    }
}

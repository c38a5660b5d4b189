//! LifeKeeper media (`sps.img` ISO images or mounted/extracted directories): reading the release
//! and the package list without side effects, opening a media for setup (loop mount, or
//! extraction where mounting is not permitted), and cleaning up what an earlier run left.
//!
//! Media are probed without side effects before anything changes (`probe`): the file list
//! (`bsdtar -tf`), the version from the core package file `steeleye-lk-V-...rpm` (real media
//! `sps.img` show no version marker [field evidence]; `media_version` overrides), `setup` present,
//! and `setup --help` naming the options lk_upgrade passes. Check mode runs the same probe.

use crate::lifekeeper::version::Version;
use crate::runtime::{Cmd, Runner};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A media as given: an ISO image, or a directory holding an already mounted or extracted one.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaSrc {
    Image(PathBuf),
    Dir(PathBuf),
}

impl MediaSrc {
    /// A directory is a media directory, anything else an image (reads the file system).
    pub fn of(p: &Path) -> MediaSrc {
        if p.is_dir() {
            MediaSrc::Dir(p.to_path_buf())
        } else {
            MediaSrc::Image(p.to_path_buf())
        }
    }
    pub fn path(&self) -> &Path {
        match self {
            MediaSrc::Image(p) | MediaSrc::Dir(p) => p,
        }
    }
}

crate::choice_enum! {
    /// How an image is opened for setup (lk_upgrade's `media_mode`).
    pub enum Mode {
        /// Mount; where mounting is not permitted (an unprivileged container), extract.
        Auto = "auto",
        /// Loop-mount read-only, nothing else.
        Mount = "mount",
        /// Copy out with xorriso (or bsdtar).
        Extract = "extract",
    }
}

/// The per-run directory a media is mounted on or extracted to: `<work_dir>/media-<v>-<pid>`.
/// `clean_stale` recognises these by name.
pub fn temp_dir(work_dir: &Path, v: Version, pid: &str) -> PathBuf {
    work_dir.join(format!("media-{v}-{pid}"))
}

/// A version written in a label: `9.4.3`, `SPS_9_4_3`, `sps_943.img`.
pub fn version_in_label(label: &str) -> Option<Version> {
    let tokens: Vec<&str> = label
        .split(|c: char| !c.is_ascii_digit() && c != '.' && c != '_')
        .collect();
    for t in tokens {
        let parts: Vec<&str> = t.split(['.', '_']).filter(|s| !s.is_empty()).collect();
        if parts.len() == 3 && parts.iter().all(|s| s.bytes().all(|b| b.is_ascii_digit())) {
            if let Ok(v) = Version::parse(&parts.join(".")) {
                return Some(v);
            }
        }
        // `sps_943`: one digit per part, the vendor's image naming.
        if let Some(d) = parts
            .iter()
            .find(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        {
            let b = d.as_bytes();
            return Some(Version::new(
                (b[0] - b'0') as u32,
                (b[1] - b'0') as u32,
                (b[2] - b'0') as u32,
            ));
        }
    }
    None
}

/// The file paths a media holds (relative, `./` removed), read without side effects: a walk of a
/// directory, `bsdtar -tf` of an image. `Err` when it cannot be read as an archive at all.
pub fn listing(runner: &Runner, src: &MediaSrc) -> Result<Vec<String>, String> {
    match src {
        MediaSrc::Dir(d) => {
            let mut out = vec![];
            let mut stack = vec![(d.clone(), String::new())];
            while let Some((dir, rel)) = stack.pop() {
                let rd = fs::read_dir(&dir)
                    .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
                for e in rd.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let r = if rel.is_empty() {
                        name.clone()
                    } else {
                        format!("{rel}/{name}")
                    };
                    // Packages sit one or two levels down (core/, RPMS/); a mounted media is not
                    // walked further.
                    if e.file_type().is_ok_and(|t| t.is_dir()) && r.matches('/').count() < 3 {
                        stack.push((e.path(), r.clone()));
                    }
                    out.push(r);
                }
            }
            out.sort();
            Ok(out)
        }
        MediaSrc::Image(f) => {
            if !f.is_file() {
                return Err("no such image file".into());
            }
            let o = runner
                .run(
                    &Cmd::new("bsdtar")
                        .arg("-tf")
                        .arg(f)
                        .timeout(Duration::from_secs(120)),
                )
                .map_err(|e| e.msg)?;
            if !o.ok() {
                return Err(format!(
                    "it cannot be read as an ISO image ({})",
                    o.tail().lines().next().unwrap_or("bsdtar failed")
                ));
            }
            Ok(o.stdout
                .lines()
                .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
                .filter(|l| !l.is_empty() && l != ".")
                .collect())
        }
    }
}

/// The version of the core package file `steeleye-lk-V-REL.ARCH.rpm` among a media's files.
pub fn core_package_version(files: &[String]) -> Option<Version> {
    files.iter().find_map(|f| {
        let base = f.rsplit('/').next().unwrap_or(f);
        let rest = base.strip_prefix("steeleye-lk-")?.strip_suffix(".rpm")?;
        Version::parse(rest.split('-').next()?).ok()
    })
}

/// The release on a media, read without side effects. `given` (`media_version`) skips the
/// detection. Otherwise what the media really holds decides: the core package file
/// (`steeleye-lk-V-...rpm`); lksim's `sps.version` marker (nothing public shows one on real
/// media) only where no package file is named. `Err` says why it cannot be told.
pub fn version(
    runner: &Runner,
    src: &MediaSrc,
    files: &Result<Vec<String>, String>,
    given: Option<Version>,
) -> Result<Version, String> {
    if let Some(v) = given {
        return Ok(v);
    }
    let files = files.as_ref().map_err(|e| e.clone())?;
    if let Some(v) = core_package_version(files) {
        return Ok(v);
    }
    if files.iter().any(|f| f == "sps.version") {
        let text = match src {
            MediaSrc::Dir(d) => {
                fs::read_to_string(d.join("sps.version")).map_err(|e| e.to_string())
            }
            MediaSrc::Image(f) => runner
                .run(
                    &Cmd::new("bsdtar")
                        .arg("-xOf")
                        .arg(f)
                        .arg("sps.version")
                        .timeout(Duration::from_secs(120)),
                )
                .map_err(|e| e.msg)
                .map(|o| o.stdout),
        };
        if let Ok(v) = text.and_then(|t| Version::parse(t.trim())) {
            return Ok(v);
        }
    }
    Err("cannot tell its version: it holds no steeleye-lk package file and no readable version marker; give media_version (the release of this media) if it is the right one".into())
}

/// What the media probe found: the version, the package files, setup's usage text.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    pub version: Version,
    pub packages: Vec<String>,
    pub usage: String,
    pub warnings: Vec<String>,
}

/// Why a media was refused: the media itself (name its parameter) or `setup_args`.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeError {
    Media(String),
    SetupArgs(String),
}

static PROBES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Open and validate a media before anything is changed, read-only (so check mode runs it too):
/// `setup` present and executable, the core package `steeleye-lk` of the media's version present
/// (a warning only when `media_version` was given: the admin vouches for the media), and, with
/// `setup_args` (`setup_mode: args`), `setup --help` naming every option of them. setup runs
/// from inside the media, as the vendor documents: an image is extracted whole into a private
/// temporary directory (removed afterwards) and `--help` runs from its root. Without
/// `setup_args` (`setup_mode: menu`) setup is not started here: the real run probes its menu
/// from the opened media before anything is changed.
pub fn probe(
    runner: &Runner,
    src: &MediaSrc,
    given: Option<Version>,
    setup_args: Option<&[String]>,
) -> Result<Probed, ProbeError> {
    let files = listing(runner, src);
    let version = version(runner, src, &files, given).map_err(ProbeError::Media)?;
    let files = files.map_err(ProbeError::Media)?;
    let mut warnings = vec![];
    if !files.iter().any(|f| f == "setup") {
        return Err(ProbeError::Media(
            "it holds no setup: not LifeKeeper media".into(),
        ));
    }
    match core_package_version(&files) {
        Some(v) if v == version => {}
        Some(v) => {
            return Err(ProbeError::Media(format!(
                "its core package steeleye-lk is release {v}, not {version}"
            )))
        }
        None if given.is_some() => warnings.push(format!(
            "{}: no steeleye-lk package file found; trusting media_version {version}",
            src.path().display()
        )),
        None => {
            return Err(ProbeError::Media(
                "it holds no steeleye-lk package: not LifeKeeper media".into(),
            ))
        }
    }
    let packages = files
        .iter()
        .filter_map(|f| {
            f.rsplit('/')
                .next()
                .and_then(|b| b.strip_suffix(".rpm"))
                .map(String::from)
        })
        .collect();
    let Some(setup_args) = setup_args else {
        if let MediaSrc::Dir(d) = src {
            let meta = fs::metadata(d.join("setup"))
                .map_err(|e| ProbeError::Media(format!("setup: {e}")))?;
            if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
                return Err(ProbeError::Media(
                    "its setup is not an executable file".into(),
                ));
            }
        }
        return Ok(Probed {
            version,
            packages,
            usage: String::new(),
            warnings,
        });
    };
    let (root, temp) = match src {
        MediaSrc::Dir(d) => (d.clone(), None),
        MediaSrc::Image(f) => {
            let t = std::env::temp_dir().join(format!(
                "lkops-probe-{}-{}",
                std::process::id(),
                PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            let _ = remove_tree(&t);
            fs::create_dir(&t)
                .map_err(|e| ProbeError::Media(format!("cannot create {}: {e}", t.display())))?;
            let _ = fs::set_permissions(&t, fs::Permissions::from_mode(0o700));
            // The whole image: setup runs beside its siblings, as from the mounted media.
            if let Err(e) = room_for(f, &t) {
                let _ = remove_tree(&t);
                return Err(ProbeError::Media(e));
            }
            let o = runner.run(
                &Cmd::new("bsdtar")
                    .arg("-xf")
                    .arg(f)
                    .arg("-C")
                    .arg(&t)
                    .timeout(Duration::from_secs(600)),
            );
            if !o.as_ref().is_ok_and(|o| o.ok()) {
                let _ = remove_tree(&t);
                return Err(ProbeError::Media("it cannot be extracted whole".into()));
            }
            // An ISO without Rock Ridge data loses the execute bit (open() restores it the same way).
            let s = t.join("setup");
            let _ = fs::set_permissions(&s, fs::Permissions::from_mode(0o700));
            (t.clone(), Some(t))
        }
    };
    let setup = root.join("setup");
    let r = (|| {
        let meta = fs::metadata(&setup).map_err(|e| ProbeError::Media(format!("setup: {e}")))?;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Err(ProbeError::Media(
                "its setup is not an executable file".into(),
            ));
        }
        crate::lifekeeper::setup::probe_usage(runner, &root, setup_args)
            .map_err(ProbeError::SetupArgs)
    })();
    if let Some(t) = temp {
        let _ = remove_tree(&t);
    }
    let usage = r?;
    Ok(Probed {
        version,
        packages,
        usage,
        warnings,
    })
}

/// Whether `dir`'s file system has room to extract `img` into it (about the image's size; a
/// small margin for the directories); `Err` says how much is free and how much is needed.
pub fn room_for(img: &Path, dir: &Path) -> Result<(), String> {
    let need = fs::metadata(img)
        .map_err(|e| format!("{}: {e}", img.display()))?
        .len();
    let st = nix::sys::statvfs::statvfs(dir)
        .map_err(|e| format!("cannot tell the free space of {}: {e}", dir.display()))?;
    let free = st.blocks_available() as u64 * st.fragment_size() as u64;
    let want = need + need / 20 + (64 << 10);
    if free < want {
        return Err(format!(
            "{} has {} KiB free, extracting {} ({} KiB) needs about {} KiB: give a work_dir with room (or media_mode: mount, or media_dir)",
            dir.display(),
            free >> 10,
            img.display(),
            need >> 10,
            want >> 10
        ));
    }
    Ok(())
}

/// A media opened for setup; removes what it mounted or extracted when cleaned up or dropped.
pub struct OpenMedia {
    /// Where the media's files are (holds `setup`).
    pub dir: PathBuf,
    temp: Option<PathBuf>,
    mounted: bool,
    runner: Runner,
    /// How it was opened, for the step's detail.
    pub how: String,
}

impl OpenMedia {
    pub fn cleanup(&mut self) -> Result<(), String> {
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        if self.mounted {
            let out = self
                .runner
                .run(
                    &Cmd::new("umount")
                        .arg(&temp)
                        .timeout(Duration::from_secs(300)),
                )
                .map_err(|e| e.msg)?;
            if !out.ok() {
                return Err(format!(
                    "umount {} failed: {}; unmount it by hand",
                    temp.display(),
                    out.tail()
                ));
            }
            return fs::remove_dir(&temp)
                .map_err(|e| format!("cannot remove {}: {e}", temp.display()));
        }
        remove_tree(&temp)
    }
}

impl Drop for OpenMedia {
    fn drop(&mut self) {
        let _ = self.cleanup();
    }
}

/// Remove an extracted tree; ISO extraction can leave read-only directories, so make them writable.
pub fn remove_tree(dir: &Path) -> Result<(), String> {
    fn writable(d: &Path) {
        let _ = fs::set_permissions(d, fs::Permissions::from_mode(0o700));
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    writable(&e.path());
                }
            }
        }
    }
    writable(dir);
    fs::remove_dir_all(dir).map_err(|e| format!("cannot remove {}: {e}", dir.display()))
}

/// Remove media directories that a killed earlier run left in work_dir (unmounting them first),
/// and its generated setup configuration (`setup-<pid>.conf`, which names the license files).
pub fn clean_stale(runner: &Runner, work_dir: &Path) -> Vec<String> {
    let mut removed = vec![];
    let Ok(rd) = fs::read_dir(work_dir) else {
        return removed;
    };
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("setup-")
            .and_then(|r| r.strip_suffix(".conf"))
        {
            if pid
                .parse::<u32>()
                .is_ok_and(|p| !Path::new(&format!("/proc/{p}")).exists())
                && fs::remove_file(e.path()).is_ok()
            {
                removed.push(e.path().display().to_string());
            }
            continue;
        }
        let Some(pid) = name
            .strip_prefix("media-")
            .and_then(|r| r.rsplit_once('-'))
            .map(|x| x.1.to_string())
        else {
            continue;
        };
        let alive = pid
            .parse::<u32>()
            .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if alive {
            continue;
        }
        let path = e.path();
        let shown = path.to_string_lossy().into_owned();
        if mounts
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(shown.as_str()))
        {
            let _ = runner.run(&Cmd::new("umount").arg(&path));
        }
        if remove_tree(&path).is_ok() {
            removed.push(shown);
        }
    }
    removed
}

/// The `lkops-probe-<pid>-<n>` directories (a copy of an image's setup, see `probe`) that runs
/// killed while probing left in TMPDIR; the paths removed.
pub fn clean_stale_probes() -> Vec<String> {
    let mut removed = vec![];
    let tmp = std::env::temp_dir();
    let me = std::process::id().to_string();
    for e in fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((pid, n)) = name
            .strip_prefix("lkops-probe-")
            .and_then(|r| r.split_once('-'))
        else {
            continue;
        };
        let ours = e.file_type().is_ok_and(|t| t.is_dir())
            && n.bytes().all(|b| b.is_ascii_digit())
            && pid.parse::<u32>().is_ok()
            && pid != me
            && e.metadata()
                .is_ok_and(|m| m.uid() == nix::unistd::geteuid().as_raw());
        if ours && !Path::new(&format!("/proc/{pid}")).exists() && remove_tree(&e.path()).is_ok() {
            removed.push(e.path().display().to_string());
        }
    }
    removed
}

/// Open a media for setup: a directory is used as it is; an image is mounted read-only on, or
/// extracted to, `temp_dir(work_dir, v, <our pid>)` (work_dir must exist). Warnings (mounting
/// not permitted, extracted instead) go to `warnings`.
pub fn open(
    runner: &Runner,
    src: &MediaSrc,
    v: Version,
    work_dir: &Path,
    mode: Mode,
    t: Duration,
    warnings: &mut Vec<String>,
) -> Result<OpenMedia, String> {
    let img = match src {
        MediaSrc::Dir(d) => {
            return Ok(OpenMedia {
                dir: d.clone(),
                temp: None,
                mounted: false,
                runner: runner.clone(),
                how: format!("using {}", d.display()),
            })
        }
        MediaSrc::Image(f) => f,
    };
    let temp = temp_dir(work_dir, v, &std::process::id().to_string());
    if temp.exists() {
        remove_tree(&temp)?;
    }
    fs::create_dir(&temp).map_err(|e| format!("cannot create {}: {e}", temp.display()))?;
    let mut m = OpenMedia {
        dir: temp.clone(),
        temp: Some(temp.clone()),
        mounted: false,
        runner: runner.clone(),
        how: String::new(),
    };
    if mode != Mode::Extract {
        let cmd = Cmd::new("mount")
            .args(["-o", "loop,ro", "-t", "iso9660"])
            .arg(img)
            .arg(&temp)
            .timeout(t);
        let out = runner.run(&cmd).map_err(|e| e.msg);
        match out {
            Ok(o) if o.ok() => {
                m.mounted = true;
                m.how = format!("mounted {} read-only on {}", img.display(), temp.display());
                return Ok(m);
            }
            Ok(o) if mode == Mode::Mount => return Err(o.failure("mounting the media").msg),
            Err(e) if mode == Mode::Mount => return Err(e),
            Ok(o) => warnings.push(format!(
                "mounting {} was not possible ({}); extracted it instead",
                img.display(),
                o.tail().lines().next().unwrap_or("no reason given")
            )),
            Err(e) => warnings.push(format!(
                "mounting {} was not possible ({e}); extracted it instead",
                img.display()
            )),
        }
    }
    // Everything needed after rmlk is checked before lkstop (issue 28 O4): the media is opened
    // before the first destructive step, and an extraction that cannot fit is refused up front.
    room_for(img, &temp)?;
    let x = Cmd::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(img)
        .args(["-extract", "/"])
        .arg(&temp)
        .timeout(t);
    let out = match runner.run(&x) {
        Ok(o) => {
            m.how = format!(
                "extracted {} with xorriso to {}",
                img.display(),
                temp.display()
            );
            o
        }
        Err(e) if e.not_found => {
            m.how = format!(
                "extracted {} with bsdtar to {}",
                img.display(),
                temp.display()
            );
            runner
                .run(
                    &Cmd::new("bsdtar")
                        .arg("-xf")
                        .arg(img)
                        .arg("-C")
                        .arg(&temp)
                        .timeout(t),
                )
                .map_err(|e| {
                    format!(
                        "neither xorriso nor bsdtar can extract the media: {}",
                        e.msg
                    )
                })?
        }
        Err(e) => return Err(e.msg),
    };
    if !out.ok() {
        return Err(out.failure("extracting the media").msg);
    }
    // An extracted copy may lose the execute bit the ISO's Rock Ridge data would give it.
    let setup = temp.join("setup");
    if let Ok(meta) = fs::metadata(&setup) {
        if meta.permissions().mode() & 0o111 == 0 {
            fs::set_permissions(&setup, fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {}: {e}", setup.display()))?;
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_media_labels() {
        let v = |s: &str| version_in_label(s).map(|v| v.to_string());
        assert_eq!(v("SPS_9_6_1").as_deref(), Some("9.6.1"));
        assert_eq!(v("sps_943.img").as_deref(), Some("9.4.3"));
        assert_eq!(v("/srv/media/sps_9.4.3.img").as_deref(), Some("9.4.3"));
        assert_eq!(v("SPS-L-9.6.1-x86_64").as_deref(), Some("9.6.1"));
        assert_eq!(v("media.img"), None);
        assert_eq!(v("sps_96.img"), None);
    }

    #[test]
    fn the_core_package_file_tells_the_version() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            core_package_version(&f(&["setup", "core/steeleye-lk-9.6.1-8580.x86_64.rpm"])),
            Some(Version::new(9, 6, 1))
        );
        assert_eq!(
            core_package_version(&f(&["core/steeleye-lkGUI-9.6.1-8580.noarch.rpm"])),
            None
        );
        assert_eq!(core_package_version(&f(&["sps.version", "setup"])), None);
    }
}

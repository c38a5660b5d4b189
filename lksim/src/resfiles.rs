//! The per-resource configuration files a created resource leaves under `$LKROOT/subsys`
//! (UNCONFIRMED layout: `subsys/<app>/resources/<type>/<tag>.conf`, the tag with `%` and `/`
//! percent-encoded).  `lkbackup` archives them with `config/` and the defaults file, as the
//! real one archives the configuration files of created resources.

use crate::model::{lkroot, ResourceDef};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub fn encode_tag(tag: &str) -> String {
    tag.replace('%', "%25").replace('/', "%2F")
}

/// Where the resource's configuration file is. Its app and type are path components and pass the
/// one path-name rule (`safe::is_path_name`; issue 28 S3): a twin reads them from a capture.
pub fn file_of(root: &Path, r: &ResourceDef) -> io::Result<PathBuf> {
    for (what, v) in [("app", &r.app), ("type", &r.rtype)] {
        crate::safe::path_name(&format!("resource {} {what}", r.tag), v)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    }
    Ok(lkroot(root)
        .join("subsys")
        .join(&r.app)
        .join("resources")
        .join(&r.rtype)
        .join(format!("{}.conf", encode_tag(&r.tag))))
}

fn text_of(r: &ResourceDef) -> String {
    format!(
        "TAG={}\nID={}\nAPP={}\nTYPE={}\n",
        r.tag, r.id, r.app, r.rtype
    )
}

/// Every `.conf` file under `$LKROOT/subsys/*/resources/*/` (paths absolute, sorted).
pub fn existing(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let base = lkroot(root).join("subsys");
    let list = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(d)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    for app in list(&base) {
        for ty in list(&app.join("resources")) {
            for f in list(&ty) {
                if f.extension().is_some_and(|e| e == "conf") && f.is_file() {
                    out.push(f);
                }
            }
        }
    }
    out
}

/// Make the files match the resource definitions; unchanged files are not rewritten, so
/// that two lkbackups of an unchanged configuration hold identical files.
pub fn sync(root: &Path, res: &[ResourceDef]) -> io::Result<()> {
    let mut want = Vec::new();
    for r in res {
        let f = file_of(root, r)?;
        let t = text_of(r);
        if fs::read_to_string(&f).ok().as_deref() != Some(t.as_str()) {
            if let Some(d) = f.parent() {
                fs::create_dir_all(d)?;
            }
            crate::model::write_atomic(&f, t.as_bytes())?;
        }
        want.push(f);
    }
    for f in existing(root) {
        if !want.contains(&f) {
            fs::remove_file(&f)?;
        }
    }
    Ok(())
}

//! LifeKeeper versions and the upgrade path between two versions (what is installed: `packages`).
//!
//! The path rules (seed §3.8) live here once; lk_preflight's `LK-VERSION-PATH` check and
//! lk_upgrade's plan both call `upgrade_path`.

use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;

/// A dotted version such as `9.4.0` or `8.1.2` (missing parts are 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Parse `9`, `9.6`, `9.6.1`; anything else (letters, empty parts, > 3 parts) is an error
    /// naming the text, so a malformed `version` parameter fails clearly.
    pub fn parse(s: &str) -> Result<Version, String> {
        let t = s.trim();
        let parts: Vec<&str> = t.split('.').collect();
        if t.is_empty() || parts.len() > 3 {
            return Err(format!("'{s}' is not a version like 9.6.1"));
        }
        let mut n = [0u32; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 6 {
                return Err(format!("'{s}' is not a version like 9.6.1"));
            }
            n[i] = p
                .parse()
                .map_err(|_| format!("'{s}' is not a version like 9.6.1"))?;
        }
        Ok(Version::new(n[0], n[1], n[2]))
    }

    /// Same major.minor release line (9.4.0 and 9.4.3).
    pub fn same_line(&self, other: &Version) -> bool {
        self.major == other.major && self.minor == other.minor
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(o.major, o.minor, o.patch))
    }
}

/// How to get from the installed version to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    /// Already at the target.
    None,
    /// setup from the target media upgrades in place (resource hierarchies kept).
    Direct,
    /// Upgrade in place to an intermediate 9.4.x first, then to the target (hierarchies kept).
    Stepwise,
    /// Uninstall and install fresh (hierarchies lost; configuration re-applied from backup).
    Reinstall,
    /// Not possible (downgrade, or nothing installed to upgrade from).
    Unsupported,
    /// An explicit downgrade (lk_upgrade allow_downgrade): uninstall the newer release, install
    /// the older one, restore the backup taken of it before the upgrade. `upgrade_path` never
    /// returns it.
    Rollback,
}

impl Path {
    pub fn name(self) -> &'static str {
        match self {
            Path::None => "none",
            Path::Direct => "direct",
            Path::Stepwise => "stepwise",
            Path::Reinstall => "reinstall",
            Path::Unsupported => "unsupported",
            Path::Rollback => "rollback",
        }
    }
}

/// The release train, in order: "two releases back" counts along it, across a major number
/// (10.0 follows 9.9 and upgrades 9.8.x in place [field evidence, DOCS 10.0]). lksim's rule
/// (`lksim/src/versions.rs`) uses the same train.
const TRAIN: &[(u32, u32)] = &[
    (9, 0),
    (9, 1),
    (9, 2),
    (9, 3),
    (9, 4),
    (9, 5),
    (9, 6),
    (9, 7),
    (9, 8),
    (9, 9),
    (10, 0),
];

fn train_index(v: &Version) -> Option<usize> {
    TRAIN
        .iter()
        .position(|&(a, b)| a == v.major && b == v.minor)
}

/// Which installed versions a release's setup upgrades in place: up to two releases back along
/// the release train (docs 10.0/upgrading-sps); for 9.6.1 the seed names 9.4.x and 9.5.x.
/// Releases off the train (8.x) upgrade in place only within their own major number's
/// two-minor rule, never across it.
pub fn direct_from(installed: &Version, target: &Version) -> bool {
    if installed >= target {
        return false;
    }
    match (train_index(installed), train_index(target)) {
        (Some(i), Some(t)) => t - i <= 2,
        _ => installed.major == target.major && target.minor - installed.minor <= 2,
    }
}

/// The path from `installed` to `target`. `stepping` are the versions of intermediate media
/// available (e.g. 9.4.3): a stepwise path needs one that `installed` upgrades to directly and
/// that upgrades directly to `target`. Without such media an older install can only be
/// reinstalled.
pub fn upgrade_path(
    installed: Option<&Version>,
    target: &Version,
    stepping: &[Version],
) -> (Path, Option<Version>) {
    let Some(inst) = installed else {
        return (Path::Unsupported, None);
    };
    match inst.cmp(target) {
        Ordering::Equal => (Path::None, None),
        Ordering::Greater => (Path::Unsupported, None),
        Ordering::Less if direct_from(inst, target) => (Path::Direct, None),
        Ordering::Less => {
            let step = stepping
                .iter()
                .filter(|s| direct_from(inst, s) && direct_from(s, target))
                .max()
                .copied();
            match step {
                Some(s) => (Path::Stepwise, Some(s)),
                None => (Path::Reinstall, None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parse_and_order() {
        assert!(v("9.10.0") > v("9.9.9"));
        assert_eq!(v("9.6"), v("9.6.0"));
        for bad in ["", "9..1", "9.6.1.2", "v9", "9.6.1-1", "-1", "9.6.x"] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seed_paths_to_961() {
        let t = v("9.6.1");
        assert_eq!(upgrade_path(Some(&v("9.6.1")), &t, &[]), (Path::None, None));
        assert_eq!(
            upgrade_path(Some(&v("9.4.0")), &t, &[]),
            (Path::Direct, None)
        );
        assert_eq!(
            upgrade_path(Some(&v("9.5.2")), &t, &[]),
            (Path::Direct, None)
        );
        assert_eq!(
            upgrade_path(Some(&v("9.6.0")), &t, &[]),
            (Path::Direct, None)
        );
        assert_eq!(
            upgrade_path(Some(&v("9.3.2")), &t, &[]),
            (Path::Reinstall, None)
        );
        assert_eq!(
            upgrade_path(Some(&v("9.3.2")), &t, &[v("9.4.3")]),
            (Path::Stepwise, Some(v("9.4.3")))
        );
        // 9.4.x media upgrades 9.2/9.3 in place, not 9.1 or 8.x.
        assert_eq!(
            upgrade_path(Some(&v("9.2.2")), &t, &[v("9.4.3")]),
            (Path::Stepwise, Some(v("9.4.3")))
        );
        assert_eq!(
            upgrade_path(Some(&v("9.1.0")), &t, &[v("9.4.3")]),
            (Path::Reinstall, None)
        );
        assert_eq!(
            upgrade_path(Some(&v("8.1.2")), &t, &[v("9.4.3")]),
            (Path::Reinstall, None)
        );
        assert_eq!(
            upgrade_path(Some(&v("9.7.0")), &t, &[]),
            (Path::Unsupported, None)
        );
        assert_eq!(upgrade_path(None, &t, &[]), (Path::Unsupported, None));
    }

    #[test]
    fn release_train_paths_to_10_0() {
        let t = v("10.0.0");
        assert_eq!(
            upgrade_path(Some(&v("9.8.2")), &t, &[]),
            (Path::Direct, None)
        );
        assert_eq!(
            upgrade_path(Some(&v("9.9.0")), &t, &[]),
            (Path::Direct, None)
        );
        assert_eq!(
            upgrade_path(Some(&v("9.7.0")), &t, &[]),
            (Path::Reinstall, None)
        );
        assert_eq!(
            upgrade_path(Some(&v("9.7.0")), &t, &[v("9.8.1")]),
            (Path::Stepwise, Some(v("9.8.1")))
        );
        assert_eq!(
            upgrade_path(Some(&v("8.4.0")), &t, &[v("9.8.1")]),
            (Path::Reinstall, None)
        );
        assert!(!direct_from(&v("8.4.0"), &v("9.0.0")));
        assert!(direct_from(&v("8.1.0"), &v("8.3.0")));
    }
}

//! Version facts: RPM release numbers, per-version `/etc/default/LifeKeeper`
//! contents and the in-place upgrade rule.

/// Parse "9.4.0" (or "9.4") into a comparable triple.
pub fn parse(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.trim().split('.');
    let a = it.next()?.parse().ok()?;
    let b = it.next()?.parse().ok()?;
    let c = match it.next() {
        Some(x) => x.parse().ok()?,
        None => 0,
    };
    if it.next().is_some() {
        return None;
    }
    Some((a, b, c))
}

/// RPM release number of the core package for a version, also the build number in setup's
/// title bar (UNCONFIRMED: only 9.4.0-7963 comes from the brief and 9.3.1-6750 from setup's
/// title bar in the field evidence [AZ]; the others are invented but stable and ascending).
pub fn release_of(v: &str) -> String {
    match v {
        "9.2.0" => "6494",
        "9.2.1" => "6590",
        "9.2.2" => "6640",
        "9.3.0" => "6700",
        "9.3.1" => "6750",
        "9.3.2" => "7550",
        "9.4.0" => "7963",
        "9.4.1" => "8005",
        "9.5.0" => "8223",
        "9.5.1" => "8340",
        "9.5.2" => "8411",
        "9.6.0" => "8529",
        "9.6.1" => "8580",
        "9.6.2" => "8650",
        "9.7.0" => "8790",
        "9.8.0" => "8920",
        "9.8.1" => "8960",
        "9.9.0" => "9100",
        "10.0.0" => "9300",
        _ => "1",
    }
    .to_string()
}

/// The release train used by the "up to two versions back" rule.
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

fn train_index(v: (u32, u32, u32)) -> Option<usize> {
    TRAIN.iter().position(|&(a, b)| a == v.0 && b == v.1)
}

/// May media of version `to` upgrade an installation of version `from` in
/// place?  Vendor rule (docs 10.0/upgrading-sps): "up to two versions back";
/// the 9.6.1 guide: 9.6.1 directly from 9.4.x or 9.5.x.  A reinstall of the
/// same minor series is allowed, a downgrade is refused.
pub fn upgrade_rule(from: &str, to: &str) -> Result<(), String> {
    let f = parse(from).ok_or_else(|| format!("cannot parse installed version '{from}'"))?;
    let t = parse(to).ok_or_else(|| format!("cannot parse media version '{to}'"))?;
    if f > t {
        return Err(format!(
            "The installed version {from} is newer than this media ({to}); downgrade is not supported."
        ));
    }
    let (fi, ti) = match (train_index(f), train_index(t)) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(format!(
                "Upgrading LifeKeeper {from} in place to {to} is not supported."
            ))
        }
    };
    if ti - fi <= 2 {
        Ok(())
    } else {
        Err(format!(
            "Upgrading LifeKeeper {from} in place to {to} is not supported. \
             {to} can upgrade only from the two previous versions. Upgrade to an \
             intermediate version first, or uninstall LifeKeeper (rmlk) and install {to}."
        ))
    }
}

pub const DEFAULTS_9_2: &str = include_str!("../data/defaults-9.2.2");
pub const DEFAULTS_9_3: &str = include_str!("../data/defaults-9.3.2");
pub const DEFAULTS_9_4: &str = include_str!("../data/defaults-9.4.0");
pub const DEFAULTS_9_5: &str = include_str!("../data/defaults-9.5.1");
pub const DEFAULTS_9_6: &str = include_str!("../data/defaults-9.6.1");

/// The `/etc/default/LifeKeeper` a fresh install of `v` writes.
pub fn defaults_text(v: &str) -> &'static str {
    match parse(v) {
        Some((9, m, _)) if m <= 2 => DEFAULTS_9_2,
        Some((9, 3, _)) => DEFAULTS_9_3,
        Some((9, 4, _)) => DEFAULTS_9_4,
        Some((9, 5, _)) => DEFAULTS_9_5,
        Some((9, _, _)) | Some((10, _, _)) => DEFAULTS_9_6,
        _ => DEFAULTS_9_2,
    }
}

/// Active `KEY` names of a shell KEY=VALUE file (commented lines ignored).
pub fn active_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            if l.starts_with('#') {
                return None;
            }
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, _) = l.split_once('=')?;
            let k = k.trim();
            if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                Some(k.to_string())
            } else {
                None
            }
        })
        .collect()
}

/// Upgrade merge of the defaults file: keep every existing line (site
/// values), append the new version's active keys that are missing.
pub fn merge_defaults(existing: &str, new_version: &str) -> String {
    let have = active_keys(existing);
    let mut out = existing.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let mut added = Vec::new();
    for line in defaults_text(new_version).lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some((k, _)) = line.split_once('=') {
            if !have.iter().any(|h| h == k.trim()) {
                added.push(line.to_string());
            }
        }
    }
    if !added.is_empty() {
        out.push_str(&format!("# Added by LifeKeeper {new_version} setup\n"));
        for a in added {
            out.push_str(&a);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rule() {
        assert!(upgrade_rule("9.4.0", "9.6.1").is_ok());
        assert!(upgrade_rule("9.5.1", "9.6.1").is_ok());
        assert!(upgrade_rule("9.3.2", "9.6.1").is_err());
        assert!(upgrade_rule("9.2.2", "9.4.0").is_ok());
        assert!(upgrade_rule("9.3.2", "9.4.1").is_ok());
        assert!(upgrade_rule("9.1.0", "9.4.0").is_err());
        assert!(upgrade_rule("9.6.1", "9.6.1").is_ok());
        assert!(upgrade_rule("9.6.1", "9.4.0").is_err());
        assert!(upgrade_rule("8.4.0", "9.4.0").is_err());
        // the release train crosses the major number: 10.0 upgrades 9.8.x (field evidence)
        assert!(upgrade_rule("9.8.0", "10.0.0").is_ok());
        assert!(upgrade_rule("9.8.1", "10.0").is_ok());
        assert!(upgrade_rule("9.9.0", "10.0.0").is_ok());
        assert!(upgrade_rule("9.7.0", "10.0.0").is_err());
        assert!(upgrade_rule("8.4.0", "10.0.0").is_err());
    }
    #[test]
    fn defaults_differ() {
        assert_ne!(defaults_text("9.4.0"), defaults_text("9.6.1"));
        assert_ne!(defaults_text("9.3.2"), defaults_text("9.4.0"));
        assert_ne!(defaults_text("9.2.2"), defaults_text("9.3.2"));
        let m = merge_defaults("LKROOT=/opt/LifeKeeper\nREMOTETIMEOUT=42\n", "9.6.1");
        assert!(m.contains("REMOTETIMEOUT=42\n"));
        assert!(!m.contains("REMOTETIMEOUT=900"));
        assert!(m.contains("API_SSL_PORT=778"));
    }
}

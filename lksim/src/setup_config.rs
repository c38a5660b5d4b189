//! What setup's menu shows for a node (its facts and defaults), and the menu's Save/Load file
//! in Kconfig `.config` form; `lksim setup-config save` writes the same file without the menu.
//!
//! Facts (field evidence "Further facts"): the menu is pre-filled with what is installed; the
//! JRE item is hidden on a node that has a JRE; the startup item appears on a fresh node only
//! once a license path is entered; Save writes `SYMBOL=y`, `# SYMBOL is not set`,
//! `SYMBOL="text"`.  The symbol names are not public: all of them are lksim's invention
//! (UNCONFIRMED, see FIDELITY.md).

use crate::catalog::{CORE_PACKAGES, MEDIA_KITS};
use crate::model::World;
use crate::setup::InstallPlan;
use std::collections::BTreeSet;
use std::path::Path;

/// The quorum/witness package's kit name; the menu's "Use Quorum / Witness Functions" item
/// stands for it, so the kit sub-menu leaves it out.
pub const QUORUM_KIT: &str = "lkQWK";

/// What the menu needs to know about the node and the media.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The media's release, e.g. `9.6.1`.
    pub version: String,
    /// The media's build number (UNCONFIRMED: lksim uses the packages' release number).
    pub build: String,
    /// `<distribution> <release>` for the `*** Your OS is ... ***` line.
    pub os: String,
    /// The installed LifeKeeper release (None on a fresh node).
    pub installed: Option<String>,
    /// Installed kits (without the core packages and the quorum package).
    pub kits_installed: Vec<String>,
    pub quorum_installed: bool,
    pub jre_present: bool,
    /// Kits on the media (without the quorum package), sorted.
    pub media_kits: Vec<String>,
}

impl Facts {
    /// The title bar: `SIOS Protection Suite for Linux 9.3.1-6750 setup` is the form [AZ] shows.
    pub fn title(&self) -> String {
        format!(
            "SIOS Protection Suite for Linux {}-{} setup",
            self.version, self.build
        )
    }
    pub fn jre_visible(&self) -> bool {
        self.installed.is_none() && !self.jre_present
    }
}

/// What the menu's items are set to.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub jre: bool,
    pub quorum: bool,
    /// The license item's string (space-separated file names).
    pub license: String,
    pub start: bool,
    /// Ticked kits.
    pub kits: BTreeSet<String>,
}

impl Settings {
    /// The menu's first screen: pre-filled with what is installed.
    pub fn defaults(f: &Facts) -> Settings {
        Settings {
            jre: false,
            quorum: f.quorum_installed,
            license: String::new(),
            start: true,
            kits: f
                .kits_installed
                .iter()
                .filter(|k| f.media_kits.contains(k))
                .cloned()
                .collect(),
        }
    }
    /// The startup item: only on a fresh node, once a license path is entered [AZ].
    pub fn start_visible(&self, f: &Facts) -> bool {
        f.installed.is_none() && !self.license.trim().is_empty()
    }
    /// What `< Yes >` installs: ticked kits, unticked installed kits removed ("<N> Removes
    /// features"), the quorum package as ticked.
    pub fn plan(&self, f: &Facts) -> InstallPlan {
        InstallPlan {
            kits: self.kits.iter().cloned().collect(),
            remove_kits: f
                .kits_installed
                .iter()
                .filter(|k| f.media_kits.contains(k) && !self.kits.contains(*k))
                .cloned()
                .collect(),
            quorum: Some(self.quorum),
            licenses: self
                .license
                .split_whitespace()
                .map(|s| s.to_string())
                .collect(),
            start: self.start_visible(f) && self.start,
        }
    }
}

/// The node's facts, read without changing anything.
pub fn facts(root: &Path, media_dir: &Path, version: &str) -> Result<Facts, String> {
    let (w, me) = World::open_for_root(root).map_err(|e| e.to_string())?;
    let pk = &w.nodes[me].rt.packages;
    let kit_of = |name: &str| -> Option<String> {
        let k = name.strip_prefix("steeleye-")?;
        (k != "lk" && !CORE_PACKAGES.contains(&name)).then(|| k.to_string())
    };
    let installed_kits: Vec<String> = pk.iter().filter_map(|p| kit_of(&p.name)).collect();
    Ok(Facts {
        version: version.to_string(),
        build: crate::versions::release_of(version),
        os: os_name(pk.iter().map(|p| (p.name.as_str(), p.version.as_str()))),
        installed: w.nodes[me].installed_version(),
        quorum_installed: installed_kits.iter().any(|k| k == QUORUM_KIT),
        kits_installed: installed_kits
            .into_iter()
            .filter(|k| k != QUORUM_KIT)
            .collect(),
        jre_present: pk.iter().any(|p| {
            p.name.starts_with("java-") || p.name.starts_with("jre") || p.name.contains("openjdk")
        }),
        media_kits: media_kits(media_dir),
    })
}

/// Kits on the media: `steeleye-<kit>-<v>-<r>.<arch>.rpm` files; the catalogue when the media
/// has no package folder.
pub fn media_kits(media_dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match crate::setup::media_packages(media_dir) {
        Some(names) => names
            .iter()
            .filter_map(|n| n.strip_prefix("steeleye-"))
            .filter_map(|n| n.split('-').next())
            .filter(|k| *k != "lk" && !CORE_PACKAGES.contains(&format!("steeleye-{k}").as_str()))
            .map(|k| k.to_string())
            .collect(),
        None => MEDIA_KITS.iter().map(|s| s.to_string()).collect(),
    };
    v.retain(|k| k != QUORUM_KIT);
    v.sort();
    v.dedup();
    v
}

/// `<distribution> <release>` from the node's release package (UNCONFIRMED wording).
fn os_name<'a>(pk: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("redhat-release", "Red Hat Enterprise Linux"),
        ("sles-release", "SUSE Linux Enterprise Server"),
        ("oraclelinux-release", "Oracle Linux"),
        ("rocky-release", "Rocky Linux"),
        ("almalinux-release", "AlmaLinux"),
        ("centos-release", "CentOS Linux"),
        ("miraclelinux-release", "MIRACLE LINUX"),
    ];
    for (n, v) in pk {
        if let Some((_, d)) = NAMES.iter().find(|(p, _)| *p == n) {
            return format!("{d} {v}");
        }
    }
    "Linux unknown".to_string()
}

// The symbols of the saved file (UNCONFIRMED: invented; the real names are not public).
pub const SYM_JRE: &str = "CONFIG_INSTALL_JRE";
pub const SYM_QUORUM: &str = "CONFIG_QUORUM";
pub const SYM_LICENSE: &str = "CONFIG_LICENSE_FILES";
pub const SYM_START: &str = "CONFIG_START_LIFEKEEPER";
pub const SYM_KIT_PREFIX: &str = "CONFIG_KIT_";

pub fn kit_symbol(kit: &str) -> String {
    format!("{SYM_KIT_PREFIX}{}", kit.to_uppercase())
}

fn bool_line(sym: &str, on: bool) -> String {
    if on {
        format!("{sym}=y\n")
    } else {
        format!("# {sym} is not set\n")
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The file the menu's Save writes (Kconfig `.config` style).  Hidden items are not written,
/// as Kconfig does with invisible symbols.
pub fn render(f: &Facts, s: &Settings) -> String {
    let mut o = String::new();
    o.push_str("#\n# Automatically generated file; DO NOT EDIT.\n");
    o.push_str(&format!("# {}\n#\n\n", f.title()));
    o.push_str(&format!("#\n# Your OS is {}\n#\n", f.os));
    if f.jre_visible() {
        o.push_str(&bool_line(SYM_JRE, s.jre));
    }
    o.push_str(&bool_line(SYM_QUORUM, s.quorum));
    o.push_str(&format!("{SYM_LICENSE}={}\n", quote(&s.license)));
    if s.start_visible(f) {
        o.push_str(&bool_line(SYM_START, s.start));
    }
    o.push_str("\n#\n# Recovery Kit Selection Menu\n#\n");
    for k in &f.media_kits {
        o.push_str(&bool_line(&kit_symbol(k), s.kits.contains(k)));
    }
    o
}

fn unquote(v: &str, n: usize) -> Result<String, String> {
    let inner = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .ok_or_else(|| format!("line {n}: a string value must be in double quotes"))?;
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => out.push(it.next().unwrap_or('\\')),
            '"' => return Err(format!("line {n}: unescaped '\"' in a string value")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Whether a text is a saved menu configuration (any `CONFIG_` symbol line).
pub fn is_saved_config(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        l.starts_with("CONFIG_") || (l.starts_with("# CONFIG_") && l.ends_with(" is not set"))
    })
}

/// The menu's Load: the node's defaults, then every symbol of the file.  Strict (lksim is
/// never kinder than a real node): an unknown symbol, a kit that is not on this media, a bad
/// value or a line that is neither a comment nor `SYMBOL=value` is an error naming the line.
pub fn load(f: &Facts, text: &str) -> Result<Settings, String> {
    let mut s = Settings::defaults(f);
    let mut any = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let l = line.trim();
        if l.is_empty() {
            continue;
        }
        let (sym, val): (&str, Option<String>) = if let Some(c) = l.strip_prefix('#') {
            match c
                .trim()
                .strip_suffix(" is not set")
                .filter(|x| x.starts_with("CONFIG_"))
            {
                Some(sym) => (sym, None),
                None => continue,
            }
        } else {
            let Some((k, v)) = l.split_once('=') else {
                return Err(format!("line {n}: expected SYMBOL=value"));
            };
            (k, Some(v.to_string()))
        };
        any = true;
        let as_bool = |v: &Option<String>| -> Result<bool, String> {
            match v.as_deref() {
                None | Some("n") => Ok(false),
                Some("y") => Ok(true),
                Some(o) => Err(format!("line {n}: {sym} must be y or n, not {o}")),
            }
        };
        match sym {
            SYM_JRE => s.jre = as_bool(&val)?,
            SYM_QUORUM => s.quorum = as_bool(&val)?,
            SYM_START => s.start = as_bool(&val)?,
            SYM_LICENSE => {
                s.license = match &val {
                    Some(v) => unquote(v, n)?,
                    None => String::new(),
                }
            }
            k if k.starts_with(SYM_KIT_PREFIX) => {
                let Some(kit) = f.media_kits.iter().find(|m| kit_symbol(m) == k) else {
                    return Err(format!("line {n}: {k}: no such Recovery Kit on this media"));
                };
                if as_bool(&val)? {
                    s.kits.insert(kit.clone());
                } else {
                    s.kits.remove(kit);
                }
            }
            k => return Err(format!("line {n}: unknown symbol {k}")),
        }
    }
    if !any {
        return Err("no configuration symbol in the file".into());
    }
    Ok(s)
}

/// The args path given a file saved from the menu: None when the text is not one (the
/// `LKCONF_*` form is read instead).
pub fn plan_from_saved(
    root: &Path,
    media_dir: &Path,
    version: &str,
    text: &str,
) -> Option<Result<InstallPlan, String>> {
    if !is_saved_config(text) {
        return None;
    }
    let f = match facts(root, media_dir, version) {
        Ok(f) => f,
        Err(e) => return Some(Err(e)),
    };
    Some(load(&f, text).map(|s| s.plan(&f)))
}

/// `lksim setup-config save --node-root R [--media DIR] [--version V] [--kits a,b]
/// [--quorum y|n] [--license FILES] [--start y|n] [--jre y|n] [--out FILE]`: what the menu's
/// Save writes on that node after those changes (tests and simulated inventories need a saved
/// file without driving the menu).  `--kits` is the whole ticked set.
pub fn cli(args: &[String]) -> i32 {
    let usage = "usage: lksim setup-config save --node-root R [--media DIR] [--version V] \
                 [--kits a,b] [--quorum y|n] [--license FILES] [--start y|n] [--jre y|n] [--out FILE]";
    if args.first().map(|s| s.as_str()) != Some("save") {
        eprintln!("{usage}");
        return 2;
    }
    let mut opt = std::collections::BTreeMap::new();
    let mut i = 1;
    while i < args.len() {
        let Some(k) = args[i].strip_prefix("--") else {
            eprintln!("lksim setup-config: unexpected {}\n{usage}", args[i]);
            return 2;
        };
        if ![
            "node-root",
            "media",
            "version",
            "kits",
            "quorum",
            "license",
            "start",
            "jre",
            "out",
        ]
        .contains(&k)
        {
            eprintln!("lksim setup-config: unknown option --{k}\n{usage}");
            return 2;
        }
        let Some(v) = args.get(i + 1) else {
            eprintln!("lksim setup-config: --{k} needs a value");
            return 2;
        };
        opt.insert(k.to_string(), v.clone());
        i += 2;
    }
    let Some(root) = opt.get("node-root") else {
        eprintln!("{usage}");
        return 2;
    };
    let version = opt
        .get("version")
        .cloned()
        .unwrap_or_else(|| "9.6.1".into());
    // no media: the catalogue's kits (a folder without packages gives the same)
    let media = opt
        .get("media")
        .cloned()
        .unwrap_or_else(|| "/nonexistent-lksim-media".into());
    let f = match facts(Path::new(root), Path::new(&media), &version) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("lksim setup-config: {e}");
            return 1;
        }
    };
    let mut s = Settings::defaults(&f);
    let yn = |k: &str, cur: bool| -> Result<bool, String> {
        match opt.get(k).map(|s| s.as_str()) {
            None => Ok(cur),
            Some("y") => Ok(true),
            Some("n") => Ok(false),
            Some(o) => Err(format!("--{k} must be y or n, not {o}")),
        }
    };
    let r = (|| -> Result<(), String> {
        s.quorum = yn("quorum", s.quorum)?;
        s.start = yn("start", s.start)?;
        s.jre = yn("jre", s.jre)?;
        if let Some(l) = opt.get("license") {
            s.license = l.clone();
        }
        if let Some(k) = opt.get("kits") {
            s.kits.clear();
            for k in k.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if !f.media_kits.iter().any(|m| m == k) {
                    return Err(format!("Recovery Kit {k} is not on the media"));
                }
                s.kits.insert(k.to_string());
            }
        }
        Ok(())
    })();
    if let Err(e) = r {
        eprintln!("lksim setup-config: {e}");
        return 2;
    }
    let text = render(&f, &s);
    match opt.get("out") {
        Some(out) => match std::fs::write(out, &text) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("lksim setup-config: {out}: {e}");
                1
            }
        },
        None => {
            print!("{text}");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(installed: bool) -> Facts {
        Facts {
            version: "9.6.1".into(),
            build: "8580".into(),
            os: "Red Hat Enterprise Linux 8.9".into(),
            installed: installed.then(|| "9.4.0".to_string()),
            kits_installed: if installed {
                vec!["lkIP".into(), "lkPGSQL".into()]
            } else {
                vec![]
            },
            quorum_installed: false,
            jre_present: false,
            media_kits: vec!["lkIP".into(), "lkNFS".into(), "lkPGSQL".into()],
        }
    }

    #[test]
    fn save_then_load_round_trips() {
        let f = facts(false);
        let mut s = Settings::defaults(&f);
        s.license = "/root/a b\"c.lic".into();
        s.kits.insert("lkNFS".into());
        s.jre = true;
        s.start = false;
        let t = render(&f, &s);
        assert!(t.contains("CONFIG_INSTALL_JRE=y\n"), "{t}");
        assert!(t.contains("# CONFIG_START_LIFEKEEPER is not set\n"), "{t}");
        assert!(t.contains("CONFIG_KIT_LKNFS=y\n# CONFIG_KIT_LKPGSQL is not set\n"));
        assert_eq!(load(&f, &t).unwrap(), s);
    }

    #[test]
    fn upgrade_defaults_hide_jre_and_startup_and_tick_installed_kits() {
        let f = facts(true);
        let s = Settings::defaults(&f);
        let t = render(&f, &s);
        assert!(!t.contains("JRE") && !t.contains("START"), "{t}");
        assert!(
            t.contains("CONFIG_KIT_LKIP=y\n# CONFIG_KIT_LKNFS is not set\nCONFIG_KIT_LKPGSQL=y\n")
        );
        // Done straight away changes no kit
        let p = s.plan(&f);
        assert!(p.remove_kits.is_empty());
        assert_eq!(p.kits, vec!["lkIP".to_string(), "lkPGSQL".into()]);
    }

    #[test]
    fn a_saved_file_that_unticks_an_installed_kit_removes_it() {
        let f = facts(true);
        let s = load(&f, "# CONFIG_KIT_LKPGSQL is not set\n").unwrap();
        assert_eq!(s.plan(&f).remove_kits, vec!["lkPGSQL".to_string()]);
        // a kit the file does not name keeps its default (installed: ticked)
        assert!(s.kits.contains("lkIP"));
    }

    #[test]
    fn load_is_strict() {
        let f = facts(true);
        assert!(load(&f, "CONFIG_BOGUS=y\n").unwrap_err().contains("line 1"));
        assert!(load(&f, "CONFIG_KIT_LKORA=y\n")
            .unwrap_err()
            .contains("no such Recovery Kit on this media"));
        assert!(load(&f, "CONFIG_KIT_LKNOPE=y\n").is_err());
        assert!(load(&f, "CONFIG_QUORUM=maybe\n").is_err());
        assert!(load(&f, "CONFIG_LICENSE_FILES=/x\n").is_err());
        assert!(load(&f, "garbage\n").is_err());
        assert!(load(&f, "# only a comment\n").is_err());
        assert!(!is_saved_config("LKCONF_QUORUM=y\n"));
    }
}

//! The media `setup` installer (run through the node-bound `lksim-setup`)
//! and `lksim media create`.

use crate::catalog::{CORE_PACKAGES, MEDIA_KITS};
use crate::model::{defaults_file, lkroot, write_wrappers, Package, World};
use crate::{fault_gate, ops, versions, Ctx, FaultGate};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const KNOWN_KEYS: &[&str] = &[
    "LKCONF_INSTALL_JRE",
    "LKCONF_RECOVERY_KITS",
    "LKCONF_LICENSE_FILES",
    "LKCONF_START_LIFEKEEPER",
    "LKCONF_QUORUM",
];

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Parse a saved setup configuration (shell KEY=VALUE lines).
pub fn parse_conf(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut m = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let l = l.strip_prefix("export ").unwrap_or(l);
        let Some((k, v)) = l.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", n + 1));
        };
        let k = k.trim();
        if !KNOWN_KEYS.contains(&k) {
            return Err(format!("line {}: unknown configuration key {k}", n + 1));
        }
        let v = unquote(v);
        if matches!(
            k,
            "LKCONF_INSTALL_JRE" | "LKCONF_START_LIFEKEEPER" | "LKCONF_QUORUM"
        ) && v != "y"
            && v != "n"
        {
            return Err(format!("line {}: {k} must be y or n", n + 1));
        }
        m.insert(k.to_string(), v);
    }
    Ok(m)
}

fn fail(msg: &str) -> i32 {
    eprintln!("setup: {msg}");
    1
}

// The console output of a real run is coloured with ANSI escape sequences (field evidence,
// [AZ] "Further facts"): the title line and "Performing package installation ..." green, the
// words `information` and `Starting` cyan, `done.` uncoloured, the last line green.  The exact
// escape codes are UNCONFIRMED.
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// The usage text `setup --help` prints (UNCONFIRMED: the real option letters are not public;
/// these are the ones lksim's setup accepts).
pub const USAGE: &str = "Usage: setup [-f CONFFILE -q y] [-h|--help]
  (no options)   the interactive configuration menu (needs a terminal)
  -f CONFFILE    use the configuration saved from the menu (non-interactive)
  -q y           answer every question with the saved/default answer (non-interactive)
  -h, --help     this text
";

/// What setup prints when it is not started from the media's root (text UNCONFIRMED: a real
/// setup run away from its siblings most likely fails; every public run is `cd <image>; ./setup`).
pub fn wrong_cwd(media: &Path) -> String {
    format!(
        "setup: setup must be run from the top directory of the SIOS Protection Suite media \
         (cd {}; ./setup)",
        media.display()
    )
}

/// What a setup run installs; the args path and the menu's `< Yes >` both end here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstallPlan {
    /// Kits to install or upgrade (each must be on the media).
    pub kits: Vec<String>,
    /// Installed kits to remove (the menu's `[ ]` on an installed kit: "<N> Removes features").
    pub remove_kits: Vec<String>,
    /// `Some(true)`: install the quorum/witness package; `Some(false)`: remove it; `None`: as is.
    pub quorum: Option<bool>,
    pub licenses: Vec<String>,
    /// Start LifeKeeper after a fresh install.
    pub start: bool,
}

pub fn main(ctx: &Ctx) -> i32 {
    let mut media_dir: Option<PathBuf> = None;
    let mut media_version: Option<String> = None;
    let mut conf: Option<String> = None;
    let mut quiet: Option<String> = None;
    let mut help = false;
    let mut unknown = false;
    let a = &ctx.args;
    let mut i = 0;
    let mut user_args = 0;
    while i < a.len() {
        match a[i].as_str() {
            "--media-dir" => {
                i += 1;
                media_dir = a.get(i).map(PathBuf::from);
            }
            "--media-version" => {
                i += 1;
                media_version = a.get(i).cloned();
            }
            "-f" => {
                user_args += 1;
                i += 1;
                conf = a.get(i).cloned();
            }
            "-q" => {
                user_args += 1;
                i += 1;
                quiet = a.get(i).cloned();
            }
            "-h" | "--help" => help = true,
            // Options setup does not know: the real menu ignores what it does not parse, so a
            // wrong guess of the option letters opens the menu and waits (a timeout, never a
            // success).  UNCONFIRMED.
            _ => unknown = true,
        }
        i += 1;
    }
    let (Some(media_dir), Some(mv)) = (media_dir, media_version) else {
        return fail("must be run from the product media (setup on the sps image)");
    };
    // Every public run is `cd <mounted image>; ./setup` (field evidence "Further facts"):
    // started anywhere else, setup refuses before anything, --help included.
    let here = std::env::current_dir().and_then(|d| d.canonicalize()).ok();
    if here.is_none() || here != media_dir.canonicalize().ok() {
        eprintln!("{}", wrong_cwd(&media_dir));
        return 1;
    }
    // setup is a front end to the image's packages: extracted alone, away from its siblings,
    // it cannot run (UNCONFIRMED text)
    if media_packages(&media_dir).is_none() {
        eprintln!(
            "setup: no SIOS Protection Suite packages next to setup in {}; run setup from the \
             mounted (or wholly extracted) image",
            media_dir.display()
        );
        return 1;
    }
    if help && !unknown {
        print!("{USAGE}");
        return 0;
    }
    if user_args == 0 || unknown {
        return crate::menu::main(ctx, &media_dir, &mv);
    }
    let Some(conf) = conf else {
        return fail("-q y requires -f CONFFILE");
    };
    if quiet.as_deref() != Some("y") {
        return fail("non-interactive mode requires -q y");
    }
    let g = match fault_gate(&ctx.root, "setup", "setup") {
        Ok(g) => g,
        Err(c) => return c,
    };
    let text = match fs::read_to_string(&conf) {
        Ok(t) => t,
        Err(e) => return fail(&format!("{conf}: {e}")),
    };
    let plan = match crate::setup_config::plan_from_saved(&ctx.root, &media_dir, &mv, &text) {
        Some(r) => match r {
            Ok(p) => p,
            Err(e) => return fail(&format!("{conf}: {e}")),
        },
        None => match parse_conf(&text) {
            Ok(cfg) => plan_from_lkconf(&cfg),
            Err(e) => return fail(&format!("{conf}: {e}")),
        },
    };
    install(ctx, &media_dir, &mv, g, &plan)
}

/// The args path's reading of `LKCONF_*` keys: kits are added, none removed; quorum `y` adds
/// the package, `n` leaves it as it is.
fn plan_from_lkconf(cfg: &BTreeMap<String, String>) -> InstallPlan {
    let yes = |k: &str| cfg.get(k).map(|v| v == "y").unwrap_or(false);
    let words = |k: &str| -> Vec<String> {
        cfg.get(k)
            .map(|s| s.split_whitespace().map(|x| x.to_string()).collect())
            .unwrap_or_default()
    };
    InstallPlan {
        kits: words("LKCONF_RECOVERY_KITS"),
        remove_kits: vec![],
        quorum: yes("LKCONF_QUORUM").then_some(true),
        licenses: words("LKCONF_LICENSE_FILES"),
        start: yes("LKCONF_START_LIFEKEEPER"),
    }
}

/// The installation itself, after the fault gate: console output as a real run (field
/// evidence), exit 0 on success.
pub fn install(ctx: &Ctx, media_dir: &Path, mv: &str, g: FaultGate, plan: &InstallPlan) -> i32 {
    let kits = &plan.kits;
    let licenses = &plan.licenses;
    println!("{GREEN}SIOS Protection Suite for Linux setup{RESET}");
    let (mut w, me) = match World::open_for_root(&ctx.root) {
        Ok(x) => x,
        Err(e) => return fail(&e.to_string()),
    };
    let failed = || println!("{RED}failed.{RESET}");
    // dot runs of 31 and 32 after "information" [AZ]
    print!(
        "Collecting system {CYAN}information{RESET}{}",
        ".".repeat(31)
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());
    if w.nodes[me].rt.selinux == "enforcing" {
        failed();
        return fail("SELinux is enabled (enforcing). LifeKeeper cannot be installed while SELinux is enforcing; set it to disabled or permissive and rerun setup.");
    }
    let installed = w.nodes[me].installed_version();
    if let Some(from) = &installed {
        if let Err(e) = versions::upgrade_rule(from, mv) {
            failed();
            return fail(&e);
        }
    }
    println!("done.");
    print!(
        "Preparing configuration {CYAN}information{RESET}{}",
        ".".repeat(32)
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());
    for l in licenses {
        if !Path::new(l).is_file() {
            failed();
            return fail(&format!("license file {l} does not exist"));
        }
    }
    let on_media = media_packages(media_dir);
    if let Some(names) = &on_media {
        for k in kits {
            let pre = format!("steeleye-{k}-");
            if !names.iter().any(|n| n.starts_with(&pre)) {
                failed();
                return fail(&format!("Recovery Kit {k} is not on this media"));
            }
        }
    } else if let Some(k) = kits.iter().find(|k| !MEDIA_KITS.contains(&k.as_str())) {
        failed();
        return fail(&format!("Recovery Kit {k} is not on this media"));
    }
    println!("done.");
    println!(
        "{GREEN}Performing package installation and updating configuration information for SPS for Linux.{RESET}"
    );
    // setup takes minutes on a real node; LifeKeeper runs during the first part
    let t = w.nodes[me].rt.timings.clone();
    let total = t.scaled(t.setup);
    if let Err(e) = w.pace(total / 5) {
        return fail(&e.to_string());
    }
    let was_running = w.nodes[me].rt.running;
    if was_running {
        ops::stop(&mut w, me, false);
    }
    let old_kits: Vec<String> = w.nodes[me]
        .rt
        .packages
        .iter()
        .filter_map(|p| p.name.strip_prefix("steeleye-").map(|s| s.to_string()))
        .filter(|s| s != "lk" && !CORE_PACKAGES.contains(&format!("steeleye-{s}").as_str()))
        .filter(|s| !plan.remove_kits.contains(s))
        .filter(|s| !(s == "lkQWK" && plan.quorum == Some(false)))
        .collect();
    if installed.is_some() {
        w.nodes[me].rt.packages.retain(|p| !p.is_lifekeeper());
    }
    if matches!(g, FaultGate::Halfway) {
        let _ = w.save();
        eprintln!("error: Failed dependencies:\n\tsteeleye-lk = {mv} is needed by (installed) steeleye-lkGUI\nsetup: Installation of the core packages failed. Fix the problem and rerun setup.");
        return 1;
    }
    let mut want: Vec<String> = CORE_PACKAGES.iter().map(|s| s.to_string()).collect();
    for k in old_kits.iter().chain(kits.iter()) {
        let p = format!("steeleye-{k}");
        if !want.contains(&p) {
            want.push(p);
        }
    }
    if plan.quorum == Some(true) && !want.iter().any(|p| p == "steeleye-lkQWK") {
        want.push("steeleye-lkQWK".into());
    }
    for p in &want {
        w.nodes[me].rt.packages.push(Package::new(p, mv));
    }
    let root = w.nodes[me].root.clone();
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("lksim"));
    if let Err(e) = write_wrappers(&root, &exe, true, false) {
        return fail(&format!("cannot install commands: {e}"));
    }
    if !w.nodes[me].has_config {
        let _ = fs::create_dir_all(lkroot(&root).join("config"));
        w.nodes[me].has_config = true;
        w.nodes[me].res.clear();
        w.nodes[me].paths.clear();
        w.nodes[me].rt.states.clear();
    }
    let df = defaults_file(&root);
    match fs::read_to_string(&df) {
        Ok(old) => {
            let merged = versions::merge_defaults(&old, mv);
            if merged != old {
                let _ = fs::write(root.join("etc/default/LifeKeeper.old"), &old);
                if let Err(e) = fs::write(&df, merged) {
                    return fail(&format!("{}: {e}", df.display()));
                }
            }
        }
        Err(_) => {
            let _ = fs::create_dir_all(root.join("etc/default"));
            if let Err(e) = fs::write(&df, versions::defaults_text(mv)) {
                return fail(&format!("{}: {e}", df.display()));
            }
        }
    }
    println!("Install LifeKeeper and dependent packages done.");
    println!("Configure LifeKeeper management group");
    // only when a license file was given (field evidence [AZ])
    if !licenses.is_empty() {
        println!("Install licenses.");
    }
    let lic = root.join("var/LifeKeeper/license");
    let _ = fs::create_dir_all(&lic);
    for l in licenses {
        let name = Path::new(l)
            .file_name()
            .map(|s| s.to_os_string())
            .unwrap_or_default();
        if let Err(e) = fs::copy(l, lic.join(&name)) {
            return fail(&format!("cannot install license file {l}: {e}"));
        }
    }
    let (w, me) = match g {
        FaultGate::Delay(secs) => {
            // fault "delay": the node stays half-way (packages replaced,
            // LifeKeeper stopped) for a while, with the cluster lock released
            if let Err(e) = w.save() {
                return fail(&e.to_string());
            }
            drop(w);
            std::thread::sleep(std::time::Duration::from_secs(secs));
            match World::open_for_root(&ctx.root) {
                Ok(x) => x,
                Err(e) => return fail(&e.to_string()),
            }
        }
        _ => (w, me),
    };
    let (mut w, me) = (w, me);
    if let Err(e) = w.pace(total - total / 5) {
        return fail(&e.to_string());
    }
    if was_running || (installed.is_none() && plan.start) {
        println!("{CYAN}Starting{RESET} LifeKeeper...");
        ops::start(&mut w, me);
    }
    if let Err(e) = w.save() {
        return fail(&e.to_string());
    }
    // the last line of a real run: lower-case "c" (field evidence, [AZ] two transcripts)
    println!("{GREEN}Setup complete.{RESET}");
    0
}

/// The package files on the media: `RPMS/` (lksim layout) or `core/` and `kits/` (the
/// `--layout real` guess).  None when the media has no package folder at all.
pub fn media_packages(media: &Path) -> Option<Vec<String>> {
    let mut names = Vec::new();
    let mut any = false;
    for d in MEDIA_PACKAGE_DIRS {
        if let Ok(r) = fs::read_dir(media.join(d)) {
            any = true;
            names.extend(
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string()),
            );
        }
    }
    any.then_some(names)
}

const MEDIA_PACKAGE_DIRS: &[&str] = &["RPMS", "core", "kits"];

/// The media's `setup`: a script that runs the node's `lksim-setup`, naming its own folder.
pub fn setup_script(v: &str) -> String {
    format!(
        "#!/bin/sh\n# SIOS Protection Suite for Linux {v} setup (lksim simulated media).\n\
         # Runs the node's lksim-setup, found on PATH.\n\
         MEDIA_DIR=\"$(cd \"$(dirname \"$0\")\" && pwd)\"\n\
         if ! command -v lksim-setup >/dev/null 2>&1; then\n\
         \techo \"setup: lksim-setup not found on PATH (not a simulated LifeKeeper node)\" >&2\n\
         \texit 127\n\
         fi\n\
         exec lksim-setup --media-dir \"$MEDIA_DIR\" --media-version {v} \"$@\"\n"
    )
}

fn which(p: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(|d| Path::new(d).join(p))
        .find(|c| c.is_file())
}

pub fn media_create(args: &[String]) -> i32 {
    use std::os::unix::fs::PermissionsExt;
    let mut version = None;
    let mut out = None;
    let mut real = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--version" => {
                i += 1;
                version = args.get(i).cloned();
            }
            "--layout" => {
                i += 1;
                match args.get(i).map(|s| s.as_str()) {
                    Some("lksim") => real = false,
                    Some("real") => real = true,
                    o => {
                        eprintln!(
                            "lksim media create: --layout {} (lksim|real)",
                            o.unwrap_or("")
                        );
                        return 2;
                    }
                }
            }
            "--out" => {
                i += 1;
                out = args.get(i).cloned();
            }
            o => {
                eprintln!("lksim media create: unknown option {o}");
                return 2;
            }
        }
        i += 1;
    }
    let (Some(v), Some(out)) = (version, out) else {
        eprintln!("usage: lksim media create --version V --out FILE|DIR [--layout lksim|real]");
        return 2;
    };
    // an existing folder gets the media under the real image's name
    let out = if Path::new(&out).is_dir() {
        Path::new(&out)
            .join("sps.img")
            .to_string_lossy()
            .to_string()
    } else {
        out
    };
    if versions::parse(&v).is_none() {
        eprintln!("lksim media create: bad version {v}");
        return 2;
    }
    let tool = if let Some(x) = which("xorriso") {
        (x, true)
    } else if let Some(g) = which("genisoimage").or_else(|| which("mkisofs")) {
        (g, false)
    } else {
        eprintln!("lksim media create: neither xorriso nor genisoimage is installed (apt-get install xorriso)");
        return 1;
    };
    let stage = std::env::temp_dir().join(format!("lksim-media-{}-{}", std::process::id(), v));
    let _ = fs::remove_dir_all(&stage);
    let r = (|| -> std::io::Result<()> {
        let s = stage.join("setup");
        fs::create_dir_all(&stage)?;
        fs::write(&s, setup_script(&v))?;
        fs::set_permissions(&s, fs::Permissions::from_mode(0o755))?;
        // lksim layout: RPMS/ and a sps.version marker (both invented).  Real layout: no
        // marker, core packages in core/ and kits in kits/ (where a real image keeps its
        // packages is not public: UNCONFIRMED)
        let (core_dir, kit_dir) = if real {
            ("core", "kits")
        } else {
            fs::write(stage.join("sps.version"), format!("{v}\n"))?;
            ("RPMS", "RPMS")
        };
        fs::create_dir_all(stage.join(core_dir))?;
        fs::create_dir_all(stage.join(kit_dir))?;
        let names: Vec<(String, &str)> = CORE_PACKAGES
            .iter()
            .map(|s| (s.to_string(), core_dir))
            .chain(
                MEDIA_KITS
                    .iter()
                    .map(|k| (format!("steeleye-{k}"), kit_dir)),
            )
            .collect();
        for (n, d) in names {
            let p = Package::new(&n, &v);
            fs::write(
                stage.join(d).join(format!("{}.rpm", p.nevra())),
                "lksim fake rpm\n",
            )?;
        }
        Ok(())
    })();
    if let Err(e) = r {
        eprintln!("lksim media create: {e}");
        return 1;
    }
    let vol = format!("SPS_{}", v.replace('.', "_"));
    let mut c = std::process::Command::new(&tool.0);
    if tool.1 {
        c.args(["-as", "mkisofs"]);
    }
    c.args(["-quiet", "-R", "-J"]);
    if !real {
        c.args(["-V", &vol]);
    }
    c.args(["-o", &out]).arg(&stage);
    let res = c.output();
    let _ = fs::remove_dir_all(&stage);
    match res {
        Ok(o) if o.status.success() => {
            println!("{out}");
            0
        }
        Ok(o) => {
            eprintln!("lksim media create: {}", String::from_utf8_lossy(&o.stderr));
            1
        }
        Err(e) => {
            eprintln!("lksim media create: {e}");
            1
        }
    }
}

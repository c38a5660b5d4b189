mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn setup(c: &Cluster, node: &str, media: &Path, v: &str, conf: &Path) -> Out {
    let mut cmd = Command::new(c.path(node).join("lksim-setup"));
    cmd.args([
        "--media-dir",
        media.to_str().unwrap(),
        "--media-version",
        v,
        "-f",
        conf.to_str().unwrap(),
        "-q",
        "y",
    ])
    // every public run is `cd <image>; ./setup`: setup refuses any other working directory
    .current_dir(media)
    .env_clear()
    .env("PATH", format!("{}:/usr/bin:/bin", c.path(node).display()));
    run_cmd(cmd, None)
}

const CONF: &str = "LKCONF_INSTALL_JRE=y\nLKCONF_RECOVERY_KITS=\"lkIP lkNFS\"\nLKCONF_START_LIFEKEEPER=y\nLKCONF_QUORUM=n\n";

#[test]
fn upgrade_in_place_keeps_hierarchies_and_restarts() {
    let c = Cluster::create("up", &[]);
    let df = c.root("node-b").join("etc/default/LifeKeeper");
    let mut d = std::fs::read_to_string(&df).unwrap();
    d = d.replace("REMOTETIMEOUT=900", "REMOTETIMEOUT=1200");
    std::fs::write(&df, d).unwrap();
    let m = media_dir(&c, "9.6.1");
    let conf = c.write_conf("up.conf", CONF);
    let o = setup(&c, "node-b", &m, "9.6.1", &conf);
    assert_eq!(o.code, 0, "{}\n{}", o.out, o.err);
    // the real console sequence, colours included, ending "Setup complete." (field evidence)
    assert_eq!(
        o.out,
        include_str!("../../tests/fixtures/transcripts/setup-console.ansi")
    );
    assert!(o.out.ends_with("Setup complete.\x1b[0m\n"));
    let q = c.sys(
        "node-b",
        "rpm",
        &[
            "-q",
            "--qf",
            "%{VERSION}\\n",
            "steeleye-lk",
            "steeleye-lkPGSQL",
            "steeleye-lkNFS",
        ],
    );
    assert_eq!(q.out, "9.6.1\n9.6.1\n9.6.1\n");
    let s = c.node_state("node-b");
    assert_eq!(s["running"], true);
    assert_eq!(s["resources"].as_array().unwrap().len(), 6);
    assert_eq!(s["comm_paths"][0]["state"], "ALIVE");
    let d = std::fs::read_to_string(&df).unwrap();
    assert!(d.contains("REMOTETIMEOUT=1200"));
    assert!(d.contains("API_SSL_PORT=778"));
    assert!(
        d.contains("LKGUI_JAVA_OPTS=\"-Xms64m -Xmx256m"),
        "site values kept"
    );
    // active node: running before -> restarted, its resources back in service
    let o = setup(&c, "node-a", &m, "9.6.1", &conf);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(c.node_state("node-a")["running"], true);
    assert_eq!(c.res_state("node-a", "app-pgsql"), "ISP");
}

#[test]
fn not_running_before_stays_stopped() {
    let c = Cluster::create("up-stopped", &[]);
    assert_eq!(c.lk("node-b", "lkstop", &[]).code, 0);
    let o = setup(
        &c,
        "node-b",
        &media_dir(&c, "9.6.1"),
        "9.6.1",
        &c.write_conf("c", CONF),
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(c.node_state("node-b")["running"], false);
    assert_eq!(c.node_state("node-b")["version"], "9.6.1");
}

#[test]
fn refuses_upgrade_from_too_old() {
    let c = Cluster::create("old", &["--version", "9.3.2"]);
    let before = c.state();
    let df = std::fs::read_to_string(c.root("node-a").join("etc/default/LifeKeeper")).unwrap();
    let o = setup(
        &c,
        "node-a",
        &media_dir(&c, "9.6.1"),
        "9.6.1",
        &c.write_conf("c", CONF),
    );
    assert_ne!(o.code, 0);
    assert!(o.err.contains("not supported"), "{}", o.err);
    assert!(!o.out.contains("Setup Complete."));
    assert_eq!(c.state(), before, "nothing changed");
    assert_eq!(
        std::fs::read_to_string(c.root("node-a").join("etc/default/LifeKeeper")).unwrap(),
        df
    );
    // stepwise: 9.4.x media accepts 9.3.2
    let o = setup(
        &c,
        "node-a",
        &media_dir(&c, "9.4.1"),
        "9.4.1",
        &c.write_conf("c", CONF),
    );
    assert_eq!(o.code, 0, "{}", o.err);
    let o = setup(
        &c,
        "node-a",
        &media_dir(&c, "9.6.1"),
        "9.6.1",
        &c.write_conf("c", CONF),
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(
        c.node_state("node-a")["resources"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
}

#[test]
fn fresh_install_after_rmlk() {
    let c = Cluster::create("fresh", &["--version", "9.3.2"]);
    assert_eq!(c.lk_in("node-b", "rmlk", &[], Some("y\n")).code, 0);
    let lic = c.write_conf("LKLinux-Core_node-b.lic", "SECRET-LICENSE-KEY\n");
    let conf = c.write_conf(
        "fresh.conf",
        &format!("# saved by setup\nLKCONF_INSTALL_JRE=y\nLKCONF_RECOVERY_KITS=\"lkIP\"\nLKCONF_LICENSE_FILES=\"{}\"\nLKCONF_START_LIFEKEEPER=y\nLKCONF_QUORUM=n\n", lic.display()),
    );
    let o = setup(&c, "node-b", &media_dir(&c, "9.6.1"), "9.6.1", &conf);
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(!o.out.contains("SECRET"));
    // a license file was given: the line the upgrade without one does not print [AZ]
    assert!(o.out.contains("\nInstall licenses.\n"), "{}", o.out);
    let s = c.node_state("node-b");
    assert_eq!(s["version"], "9.6.1");
    assert_eq!(s["running"], true);
    assert_eq!(s["resources"].as_array().unwrap().len(), 0);
    let d = std::fs::read_to_string(c.root("node-b").join("etc/default/LifeKeeper")).unwrap();
    assert_eq!(d, lksim::versions::DEFAULTS_9_6);
    assert!(c
        .root("node-b")
        .join("var/LifeKeeper/license/LKLinux-Core_node-b.lic")
        .exists());
    // no resource, no comm path: the header alone (field evidence [MH] for -q; -e alike)
    let o = c.lk("node-b", "lcdstatus", &["-e"]);
    assert_eq!(
        (o.code, o.out.as_str()),
        (0, "BACKUP  TAG   ID    STATE     PRIO  PRIMARY\n")
    );
    assert_eq!(c.sys("node-b", "rpm", &["-q", "steeleye-lkPGSQL"]).code, 1);
    // node-a still has its paths to node-b, which has none back: DEAD
    let o = c.lk("node-a", "lcdstatus", &["-e"]);
    assert!(
        o.out.contains("DEAD") && !o.out.contains("ALIVE"),
        "{}",
        o.out
    );
}

#[test]
fn conf_errors_and_interactive() {
    let c = Cluster::create("conf", &[]);
    let m = media_dir(&c, "9.6.1");
    let o = setup(
        &c,
        "node-a",
        &m,
        "9.6.1",
        &c.write_conf("bad", "LKCONF_BOGUS=1\n"),
    );
    assert_ne!(o.code, 0);
    assert!(o.err.contains("LKCONF_BOGUS"));
    let o = setup(
        &c,
        "node-a",
        &m,
        "9.6.1",
        &c.write_conf("bad2", "LKCONF_RECOVERY_KITS=lkNOPE\n"),
    );
    assert_ne!(o.code, 0);
    let mut cmd = Command::new(c.path("node-a").join("lksim-setup"));
    cmd.args([
        "--media-dir",
        m.to_str().unwrap(),
        "--media-version",
        "9.6.1",
    ])
    .current_dir(&m);
    // without options setup opens its menu: with no terminal it cannot (and never waits)
    let o = run_cmd(cmd, None);
    assert_eq!(o.code, 1);
    assert_eq!(o.err, "Error opening terminal: unknown.\n");
    assert_eq!(c.node_state("node-a")["version"], "9.4.0");
    // --help names the options this setup accepts
    let mut cmd = Command::new(c.path("node-a").join("lksim-setup"));
    cmd.args([
        "--media-dir",
        m.to_str().unwrap(),
        "--media-version",
        "9.6.1",
        "--help",
    ])
    .current_dir(&m);
    let o = run_cmd(cmd, None);
    assert_eq!(o.code, 0);
    assert!(
        o.out.contains("-f CONFFILE") && o.out.contains("-q y"),
        "{}",
        o.out
    );
}

#[test]
fn selinux_enforcing_refused() {
    let c = Cluster::create("selinux", &["--selinux", "enforcing"]);
    assert_eq!(c.sys("node-a", "getenforce", &[]).out, "Enforcing\n");
    let o = setup(
        &c,
        "node-a",
        &media_dir(&c, "9.6.1"),
        "9.6.1",
        &c.write_conf("c", CONF),
    );
    assert_ne!(o.code, 0);
    assert!(o.err.contains("SELinux"));
}

#[test]
fn setup_faults() {
    let c = Cluster::create("setup-fault", &[]);
    let m = media_dir(&c, "9.6.1");
    let conf = c.write_conf("c", CONF);
    lksim(&["fault", "set", "node-b", "setup", "fail", "--dir", c.d()]);
    let o = setup(&c, "node-b", &m, "9.6.1", &conf);
    assert_ne!(o.code, 0);
    assert_eq!(c.node_state("node-b")["version"], "9.4.0");
    lksim(&["fault", "set", "node-b", "setup", "halfway", "--dir", c.d()]);
    let o = setup(&c, "node-b", &m, "9.6.1", &conf);
    assert_ne!(o.code, 0);
    let s = c.node_state("node-b");
    assert_eq!(s["installed"], false);
    assert_eq!(s["running"], false);
    assert_eq!(c.sys("node-b", "rpm", &["-q", "steeleye-lk"]).code, 1);
    assert!(
        c.lkroot("node-b").join("config/hierarchy.json").exists(),
        "config kept"
    );
    lksim(&["fault", "clear", "node-b", "--dir", c.d()]);
    // rerun: fresh-ish install that keeps the config
    let o = setup(&c, "node-b", &m, "9.6.1", &conf);
    assert_eq!(o.code, 0, "{}", o.err);
    let s = c.node_state("node-b");
    assert_eq!(s["version"], "9.6.1");
    assert_eq!(s["resources"].as_array().unwrap().len(), 6);
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn media_create_iso_and_run_setup() {
    if !have("xorriso") {
        eprintln!("NOTE: xorriso missing; skipping media_create_iso_and_run_setup");
        return;
    }
    let c = Cluster::create("media", &[]);
    let iso = c.dir.join("sps.img");
    let o = lksim(&[
        "media",
        "create",
        "--version",
        "9.6.1",
        "--out",
        iso.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let head = std::fs::read(&iso).unwrap();
    assert_eq!(&head[0x8001..0x8006], b"CD001", "ISO9660 signature");
    let x = c.dir.join("mnt");
    let st = Command::new("xorriso")
        .args([
            "-osirrox",
            "on",
            "-indev",
            iso.to_str().unwrap(),
            "-extract",
            "/",
            x.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(x.join("sps.version").exists());
    assert!(std::fs::read_dir(x.join("RPMS"))
        .unwrap()
        .flatten()
        .any(|e| e
            .file_name()
            .to_string_lossy()
            .starts_with("steeleye-lk-9.6.1-")));
    let conf = c.write_conf("c", CONF);
    let mut cmd = Command::new(x.join("setup"));
    cmd.args(["-f", conf.to_str().unwrap(), "-q", "y"])
        .current_dir(&x)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", c.path("node-b").display()),
        );
    let o = run_cmd(cmd, None);
    assert_eq!(o.code, 0, "{}\n{}", o.out, o.err);
    assert!(o.out.ends_with("Setup complete.\x1b[0m\n"));
    assert_eq!(c.node_state("node-b")["version"], "9.6.1");
    assert_eq!(c.node_state("node-a")["version"], "9.4.0");
}

/// `--layout real`: an image named `sps.img` with no invented version marker, no `RPMS/`
/// folder and no version in the volume id (nothing public shows them); setup still works.
#[test]
fn media_real_layout_named_sps_img_without_invented_markers() {
    if !have("xorriso") {
        eprintln!("NOTE: xorriso missing; skipping media_real_layout_named_sps_img_without_invented_markers");
        return;
    }
    let c = Cluster::create("media-real", &[]);
    let dir = c.dir.join("cd");
    std::fs::create_dir_all(&dir).unwrap();
    let o = lksim(&[
        "media",
        "create",
        "--version",
        "9.6.1",
        "--layout",
        "real",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.err);
    let iso = dir.join("sps.img");
    assert_eq!(o.out.trim(), iso.to_str().unwrap());
    let head = std::fs::read(&iso).unwrap();
    // primary volume descriptor: volume id at 0x8028, 32 bytes
    let vol = String::from_utf8_lossy(&head[0x8028..0x8048]).to_string();
    assert!(
        !vol.contains("SPS") && !vol.contains('9'),
        "volume id {vol:?}"
    );
    let x = c.dir.join("mnt");
    let st = Command::new("xorriso")
        .args([
            "-osirrox",
            "on",
            "-indev",
            iso.to_str().unwrap(),
            "-extract",
            "/",
        ])
        .arg(&x)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(!x.join("sps.version").exists());
    assert!(!x.join("RPMS").exists());
    assert!(std::fs::read_dir(x.join("core"))
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy() == "steeleye-lk-9.6.1-8580.x86_64.rpm"));
    let conf = c.write_conf("c", CONF);
    let mut cmd = Command::new(x.join("setup"));
    cmd.args(["-f", conf.to_str().unwrap(), "-q", "y"])
        .current_dir(&x)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", c.path("node-b").display()),
        );
    let o = run_cmd(cmd, None);
    assert_eq!(o.code, 0, "{}\n{}", o.out, o.err);
    assert_eq!(c.node_state("node-b")["version"], "9.6.1");
    // a kit that is not on the media is refused before anything changes
    let bad = c.write_conf("bad", "LKCONF_RECOVERY_KITS=lkNOPE\n");
    let mut cmd = Command::new(x.join("setup"));
    cmd.args(["-f", bad.to_str().unwrap(), "-q", "y"])
        .current_dir(&x)
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", c.path("node-a").display()),
        );
    let o = run_cmd(cmd, None);
    assert_eq!(o.code, 1);
    assert_eq!(c.node_state("node-a")["version"], "9.4.0");
}

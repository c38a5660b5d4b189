//! lk_preflight against simulated nodes: every check driven to its outcomes.
//!
//! Each run gets a PATH of (extra stand-ins written by the test) + (the node's lksim stand-ins)
//! and nothing else, so no probe ever reaches the host's real firewall, rpm or dpkg.

use crate::common;

use common::pin::{assert_pinned, Redactor};
use common::{parse_output, scratch, tree_hash, Cluster, Node};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Extra stand-ins and hidden probes for one run.
#[derive(Default)]
struct Host<'a> {
    /// (program, shell script body) written into a directory placed first on PATH.
    scripts: Vec<(&'a str, &'a str)>,
    /// Node stand-ins to leave out of PATH (a missing probe).
    hide: Vec<&'a str>,
}

fn write_script(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Run lk_preflight on `node` with `args` (lkroot, media_dir and required_packages defaulted to
/// what fits the simulated node) and the stand-ins of `host`.
fn preflight(test: &str, node: &Node, host: Host, mut args: Value) -> (Value, i32) {
    let dir = scratch(&format!("pfrun-{test}"));
    let over = dir.join("over");
    std::fs::create_dir_all(&over).unwrap();
    for (name, body) in &host.scripts {
        write_script(&over, name, body);
    }
    let node_path = if host.hide.is_empty() {
        node.path.clone()
    } else {
        let kept = dir.join("kept");
        std::fs::create_dir_all(&kept).unwrap();
        for e in std::fs::read_dir(&node.path).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !host.hide.contains(&name.as_str()) {
                std::os::unix::fs::symlink(e.path(), kept.join(&name)).unwrap();
            }
        }
        kept
    };
    let o = args.as_object_mut().unwrap();
    o.entry("lkroot").or_insert(json!(node.lkroot));
    o.entry("media_dir").or_insert(json!(node.root.join("tmp")));
    // The simulated RHEL node has these OS packages (lksim OS_PACKAGES).
    o.entry("required_packages")
        .or_insert(json!(["bash", "coreutils", "glibc"]));
    let path = format!("{}:{}", over.display(), node_path.display());
    // The args file lives in this test's own scratch dir: common::run_module_env shares one
    // per-process dir between parallel tests, which races.
    let file = dir.join("args");
    std::fs::write(&file, args.to_string()).unwrap();
    let out = std::process::Command::new(common::bin("lk_preflight"))
        .arg(&file)
        .env("PATH", path)
        .output()
        .unwrap();
    parse_output(&out)
}

fn check<'a>(out: &'a Value, id: &str) -> &'a Value {
    out["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {out}"))
}

fn status(out: &Value, id: &str) -> String {
    check(out, id)["status"].as_str().unwrap().to_string()
}

fn cluster(name: &str, version: &str, extra: &[&str]) -> Cluster {
    Cluster::create(name, &["node-a", "node-b"], version, extra)
}

/// Replace the scratch paths so the pinned JSON does not depend on where target/ is.
fn redact_paths(v: &Value, dir: &Path) -> Value {
    Redactor::new().path(dir, "<dir>").apply(v)
}

#[test]
fn healthy_940_node_full_json_is_pinned_and_check_mode_is_identical() {
    let c = cluster("pf-healthy", "9.4.0", &[]);
    let a = c.node("node-a");
    let svc = c.dir.join("services");
    std::fs::write(
        &svc,
        "ssh 22/tcp\nscp-config 10001/tcp # taken on some distros\n",
    )
    .unwrap();
    let args =
        json!({"datakeeper_mirrors": [0], "services_file": svc, "backup_dir": a.root.join("var")});
    // Any lksim stand-in creates the cluster lock file on first use; do that before the baseline.
    c.state();
    let before = tree_hash(&c.dir);
    let (out, rc) = preflight("healthy", a, Host::default(), args.clone());
    assert_eq!(rc, 0, "{out:#}");
    let mut check_args = args.clone();
    check_args["_ansible_check_mode"] = json!(true);
    let (out_check, rc_check) = preflight("healthy", a, Host::default(), check_args);
    assert_eq!(rc_check, 0);
    assert_eq!(
        tree_hash(&c.dir),
        before,
        "preflight must not change anything"
    );
    let mut a1 = out.clone();
    let mut a2 = out_check.clone();
    a1.as_object_mut().unwrap().remove("invocation");
    a2.as_object_mut().unwrap().remove("invocation");
    assert_eq!(a1, a2, "check mode reports exactly what a real run reports");

    let mut pinned = redact_paths(&out, &c.dir);
    pinned.as_object_mut().unwrap().remove("invocation");
    let expected = json!({
      "changed": false,
      "failed": false,
      "msg": "preflight passed (15 pass, 0 warn, 0 fail, 1 skip)",
      "comment": "preflight passed (15 pass, 0 warn, 0 fail, 1 skip)",
      "installed_version": "9.4.0",
      "target_version": "9.6.1",
      "upgrade_path": "direct",
      "upgrade_via": null,
      "license_action_required": false,
      "lifekeeper_running": true,
      "datakeeper_ports": {"0": 10257},
      "summary": {"pass": 15, "warn": 0, "fail": 0, "skip": 1},
      "ansible_facts": {"lk_preflight": {
        "installed_version": "9.4.0", "target_version": "9.6.1", "upgrade_path": "direct",
        "upgrade_via": null, "license_action_required": false, "lifekeeper_running": true,
        "summary": {"pass": 15, "warn": 0, "fail": 0, "skip": 1}, "failed": [], "warned": []
      }},
      "checks": [
        {"id": "LK-ARCH-64BIT", "title": "64-bit OS (uname -m); 32-bit is not supported since v8.2.", "status": "pass", "severity": "critical",
         "expected": "64-bit (x86_64, aarch64, ppc64le, s390x)", "actual": "x86_64", "msg": "64-bit architecture x86_64", "remedy": null},
        {"id": "LK-NET-RESOLVE", "title": "Every cluster node name resolves (getent ahosts, following nsswitch and /etc/hosts).", "status": "pass", "severity": "high",
         "expected": "every cluster node name resolves", "actual": "node-b=10.0.0.2", "msg": "1 node name(s) resolve (communication paths)", "remedy": null},
        {"id": "LK-NET-LOCALHOST", "title": "localhost resolves to 127.0.0.1 (the GUI needs it).", "status": "pass", "severity": "medium",
         "expected": "localhost resolves to 127.0.0.1", "actual": "127.0.0.1", "msg": "localhost resolves to 127.0.0.1", "remedy": null},
        {"id": "LK-FW-PORTS", "title": "The active firewall (firewalld, nftables or iptables) allows 7365/tcp, 778/tcp (API/SSL between nodes, 9.5+; warns), 81-82/tcp, 1024-65535/tcp and each DataKeeper mirror port 10001+mirror+256*i.", "status": "pass", "severity": "high",
         "expected": "7365/tcp (communication paths), 778/tcp (API/SSL between nodes), 81/tcp (GUI server), 82/tcp (GUI server), 1024-65535/tcp (GUI RMI), 10257/tcp (DataKeeper mirror 0) allowed",
         "actual": "no active firewall",
         "msg": "no firewall is active; every port is reachable (firewalld is not running; nft not found on PATH; iptables not found on PATH)",
         "remedy": null,
         "details": {"firewall": null, "datakeeper_ports": {"0": 10257}, "notes": ["firewalld is not running", "nft not found on PATH", "iptables not found on PATH"]}},
        {"id": "LK-SELINUX", "title": "SELinux disabled; permissive only with tested Recovery Kits and allow_selinux_permissive; enforcing fails.", "status": "pass", "severity": "high",
         "expected": "Disabled (Permissive only with tested kits and allow_selinux_permissive)", "actual": "Disabled", "msg": "SELinux is disabled", "remedy": null},
        {"id": "LK-PKG-DEPS", "title": "The OS packages the installer needs are installed (rpm -q or dpkg-query).", "status": "pass", "severity": "high",
         "expected": "installed: bash coreutils glibc", "actual": "all installed", "msg": "all 3 required packages are installed (rpm)", "remedy": null},
        {"id": "LK-PKG-SG3UTILS", "title": "sg3_utils is installed when a multipath Recovery Kit (DMMP, PowerPath, HDLM, SDD, NEC SPS) is.", "status": "pass", "severity": "medium",
         "expected": "sg3_utils installed when a multipath kit is installed", "actual": "no multipath kit", "msg": "sg3_utils is not required (no multipath Recovery Kit installed)", "remedy": null},
        {"id": "LK-VERSION-PATH", "title": "Upgrade path from the installed version to target_version: none, direct, stepwise, reinstall or unsupported.", "status": "pass", "severity": "high",
         "expected": "an upgrade path to 9.6.1 (none, direct or stepwise)", "actual": "9.4.0: direct", "msg": "9.4.0 upgrades to 9.6.1 directly (hierarchies kept)", "remedy": null},
        {"id": "LK-LICENSE", "title": "Upgrading from 8.1.x needs new licenses: license_files must be supplied and readable.", "status": "pass", "severity": "high",
         "expected": "new license files supplied when upgrading from 8.1.x", "actual": "9.4.0; 0 license file(s) supplied", "msg": "9.4.0 keeps its licenses when upgrading", "remedy": null},
        {"id": "LK-DISK-FREE", "title": "min_free_mb free for each of the installation (lkroot), the media (media_dir) and the backups (backup_dir); requirements add up on a shared filesystem.", "status": "pass", "severity": "high",
         "expected": "1024 MiB free for each of installation, media, backups", "actual": "/: 40960 MiB free", "msg": "enough free space", "remedy": null,
         "details": [{"mount": "/", "free_mb": 40960, "required_mb": 3072,
                      "for": ["installation (<dir>/node-a/opt/LifeKeeper)", "media (<dir>/node-a/tmp)", "backups (<dir>/node-a/var)"]}]},
        {"id": "LK-COMM-PATHS", "title": "Every communication path is ALIVE (a DEAD path warns, all DEAD fails).", "status": "pass", "severity": "high",
         "expected": "every communication path ALIVE", "actual": "node-b TCP 10.0.0.1/10.0.0.2 ALIVE; node-b TCP 192.168.10.1/192.168.10.2 ALIVE",
         "msg": "all 2 communication paths are ALIVE", "remedy": null},
        {"id": "LK-STATE-STANDBY", "title": "With require_standby, no resource is ISP or ISU on this node (rolling upgrade).", "status": "skip", "severity": "high",
         "expected": "no resource ISP or ISU on this node", "actual": "not checked", "msg": "not required (require_standby is false)", "remedy": null},
        {"id": "LK-MIRRORS-SYNCED", "title": "Every DataKeeper mirror (netraid resource) on this node is in sync (mirror_status); with require_standby a mirror resyncing toward this node fails, otherwise not in sync warns.", "status": "pass", "severity": "high",
         "expected": "every DataKeeper mirror on this node in sync", "actual": "no mirror", "msg": "no DataKeeper (netraid) resource on this node", "remedy": null},
        {"id": "LK-SERVICE", "title": "Whether LifeKeeper is running (lktest, the vendor's probe; the lcdstatus wording only where lktest is missing, with a warning), so a playbook knows whether to start it again afterwards.", "status": "pass", "severity": "info",
         "expected": "informational", "actual": "running", "msg": "LifeKeeper is running (lktest)", "remedy": null},
        {"id": "LK-KIT-HANA-GENAPP", "title": "No SAP HANA gen/app based kit (HANA2-ARK under lkroot, or its hana* scripts under lkadm/subsys/gen/app/bin/) when target_version is 9.5.0 or later: it is not supported from 9.5.0 and must first be converted to the built-in SAP HANA Recovery Kit (the vendor's 9.5 upgrading page). How a node shows the kit is UNCONFIRMED; skip the check to override.", "status": "pass", "severity": "critical",
         "expected": "no SAP HANA gen/app based kit (HANA2-ARK) when upgrading to 9.5.0 or later", "actual": "none", "msg": "no SAP HANA gen/app based kit on this node", "remedy": null},
        {"id": "LK-SITE-FILES", "title": "Files under lkroot that no installed package owns and no lkbackup holds (kits shipped apart such as HANA2-ARK, gen/app scripts under lkadm/subsys/gen/app/bin/): rmlk deletes them; warns listing them.", "status": "pass", "severity": "medium",
         "expected": "every file under lkroot is owned by a package or held by lkbackup", "actual": "none", "msg": "no file under lkroot is outside the packages and the lkbackup", "remedy": null}
      ]
    });
    assert_pinned(&pinned, &expected);
}

#[test]
fn version_paths_none_direct_stepwise_reinstall() {
    let c961 = cluster("pf-v961", "9.6.1", &[]);
    let (out, rc) = preflight("v961", c961.node("node-a"), Host::default(), json!({}));
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(out["upgrade_path"], "none");
    assert_eq!(status(&out, "LK-VERSION-PATH"), "pass");

    let c93 = cluster("pf-v93", "9.3.2", &[]);
    let b = c93.node("node-b");
    let (out, rc) = preflight("v93", b, Host::default(), json!({}));
    assert_eq!(
        rc, 0,
        "a reinstall path warns; fail_on=fail does not fail: {out:#}"
    );
    assert_eq!(out["upgrade_path"], "reinstall");
    assert_eq!(out["installed_version"], "9.3.2");
    let vp = check(&out, "LK-VERSION-PATH");
    assert_eq!(vp["status"], "warn");
    assert!(
        vp["msg"]
            .as_str()
            .unwrap()
            .contains("via 9.4.x first (stepping_versions) keeps them"),
        "{vp}"
    );
    assert!(out["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().starts_with("LK-VERSION-PATH: ")));

    let (out, rc) = preflight("v93-warn", b, Host::default(), json!({"fail_on": "warn"}));
    assert_eq!(rc, 1);
    assert_eq!(out["failed"], true);
    assert!(
        out["msg"]
            .as_str()
            .unwrap()
            .contains("LK-VERSION-PATH [warn]"),
        "{}",
        out["msg"]
    );
    assert!(
        out["msg"]
            .as_str()
            .unwrap()
            .contains("remedy: Get 9.4.x media"),
        "{}",
        out["msg"]
    );
    assert_eq!(
        out["upgrade_path"], "reinstall",
        "the report is returned with the failure"
    );

    let (out, rc) = preflight(
        "v93-step",
        b,
        Host::default(),
        json!({"stepping_versions": ["9.4.3"]}),
    );
    assert_eq!(rc, 0);
    assert_eq!(out["upgrade_path"], "stepwise");
    assert_eq!(out["upgrade_via"], "9.4.3");
    assert_eq!(out["ansible_facts"]["lk_preflight"]["upgrade_via"], "9.4.3");
    assert_eq!(
        check(&out, "LK-VERSION-PATH")["actual"],
        "9.3.2: stepwise via 9.4.3"
    );

    // Newer than the target: unsupported fails.
    let (out, rc) = preflight(
        "v961-down",
        c961.node("node-a"),
        Host::default(),
        json!({"target_version": "9.5.1"}),
    );
    assert_eq!(rc, 1);
    assert_eq!(out["upgrade_path"], "unsupported");
    assert_eq!(status(&out, "LK-VERSION-PATH"), "fail");
}

#[test]
fn node_81_needs_licenses_and_never_shows_their_contents() {
    let c = cluster("pf-v81", "8.1.2", &[]);
    let a = c.node("node-a");
    let (out, rc) = preflight("v81", a, Host::default(), json!({}));
    assert_eq!(rc, 1, "{out:#}");
    assert_eq!(out["license_action_required"], true);
    assert_eq!(status(&out, "LK-LICENSE"), "fail");
    assert_eq!(out["upgrade_path"], "reinstall");
    let vp = check(&out, "LK-VERSION-PATH");
    assert!(
        vp["msg"].as_str().unwrap().contains("nor via 9.4.x"),
        "8.1 cannot step via 9.4: {vp}"
    );
    let msg = out["msg"].as_str().unwrap();
    assert!(msg.starts_with("preflight failed on LK-LICENSE "), "{msg}");
    assert!(msg.contains("Entitlement ID"), "{msg}");

    let lic = c.dir.join("node-a.lic");
    std::fs::write(&lic, "SECRET-LICENSE-KEY-0123456789\n").unwrap();
    let (out, rc) = preflight(
        "v81-lic",
        a,
        Host::default(),
        json!({"license_files": [lic]}),
    );
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(status(&out, "LK-LICENSE"), "pass");
    assert_eq!(
        out["license_action_required"], true,
        "still an action: the new licenses get installed"
    );
    assert!(
        !out.to_string().contains("SECRET-LICENSE-KEY"),
        "license contents leaked: {out}"
    );

    let (out, rc) = preflight(
        "v81-missing",
        a,
        Host::default(),
        json!({"license_files": [c.dir.join("nope.lic")]}),
    );
    assert_eq!(rc, 1);
    let l = check(&out, "LK-LICENSE");
    assert_eq!(l["status"], "fail");
    assert!(
        l["msg"].as_str().unwrap().contains("nope.lic (not found)"),
        "{l}"
    );
}

#[test]
fn selinux_enforcing_fails_permissive_depends_on_kits_and_flag() {
    let c = cluster("pf-sel-enf", "9.4.0", &["--selinux", "enforcing"]);
    let (out, rc) = preflight("sel-enf", c.node("node-a"), Host::default(), json!({}));
    assert_eq!(rc, 1);
    assert_eq!(status(&out, "LK-SELINUX"), "fail");
    assert_eq!(check(&out, "LK-SELINUX")["actual"], "Enforcing");

    // Default kits include lkPGSQL, which is not tested with permissive.
    let c = cluster("pf-sel-perm", "9.4.0", &["--selinux", "permissive"]);
    let (out, rc) = preflight(
        "sel-perm",
        c.node("node-a"),
        Host::default(),
        json!({"allow_selinux_permissive": true}),
    );
    assert_eq!(rc, 1);
    let s = check(&out, "LK-SELINUX");
    assert_eq!(s["status"], "fail");
    assert_eq!(s["details"]["untested_kits"], json!(["steeleye-lkPGSQL"]));

    // Only tested kits (IP, SAP; DataKeeper comes with the simulated core).
    let c = cluster(
        "pf-sel-ok",
        "9.4.0",
        &["--selinux", "permissive", "--kits", "lkIP,lkSAP"],
    );
    let a = c.node("node-a");
    let (out, rc) = preflight("sel-ok-noflag", a, Host::default(), json!({}));
    assert_eq!(rc, 1);
    assert!(check(&out, "LK-SELINUX")["msg"]
        .as_str()
        .unwrap()
        .contains("needs allow_selinux_permissive: true"));
    let (out, rc) = preflight(
        "sel-ok",
        a,
        Host::default(),
        json!({"allow_selinux_permissive": true}),
    );
    assert_eq!(rc, 0, "{out:#}");
    let s = check(&out, "LK-SELINUX");
    assert_eq!(s["status"], "warn");
    assert!(s["msg"].as_str().unwrap().contains("IP, SAP"), "{s}");
    assert_eq!(
        out["ansible_facts"]["lk_preflight"]["warned"],
        json!(["LK-SELINUX"])
    );

    // skip suppresses a failing check.
    let c = cluster("pf-sel-skip", "9.4.0", &["--selinux", "enforcing"]);
    let (out, rc) = preflight(
        "sel-skip",
        c.node("node-a"),
        Host::default(),
        json!({"skip": ["LK-SELINUX"]}),
    );
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(
        check(&out, "LK-SELINUX")["msg"],
        "skipped by request (skip parameter)"
    );
}

const FIREWALLD_NO_7365: &str = r#"case "$1" in
--state) echo running ;;
--list-ports) echo "22/tcp 81-82/tcp 53/udp" ;;
*) exit 2 ;;
esac"#;

const FIREWALLD_ALL: &str = r#"case "$1" in
--state) echo running ;;
--list-ports) echo "7365/tcp 778/tcp 81-82/tcp 1024-65535/tcp" ;;
*) exit 2 ;;
esac"#;

/// nftables that opens 7365, 778 and the DataKeeper range but not the GUI.
const NFT_NO_GUI: &str = r#"/bin/cat <<'EOF'
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport { 22, 778, 7365, 10001-10512 } accept
	}
}
EOF"#;

/// iptables that allows everything LifeKeeper needs except 10257 (REJECT catch-all last).
const IPTABLES_NO_10257: &str = r#"/bin/cat <<'EOF'
-P INPUT ACCEPT
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 7365 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 778 -j ACCEPT
-A INPUT -p tcp -m multiport --dports 81,82 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 1024:10256 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 10258:65535 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
EOF"#;

#[test]
fn firewall_closed_7365_gui_only_and_datakeeper_port() {
    let c = cluster("pf-fw", "9.4.0", &[]);
    let a = c.node("node-a");
    let (out, rc) = preflight(
        "fw-7365",
        a,
        Host {
            scripts: vec![("firewall-cmd", FIREWALLD_NO_7365)],
            ..Host::default()
        },
        json!({}),
    );
    assert_eq!(rc, 1);
    let f = check(&out, "LK-FW-PORTS");
    assert_eq!(f["status"], "fail");
    assert_eq!(
        f["actual"],
        "firewalld: closed 7365/tcp (communication paths), 778/tcp (API/SSL between nodes), 1024-65535/tcp (GUI RMI)"
    );
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .starts_with("firewall-cmd --permanent --add-port=7365/tcp && firewall-cmd --permanent --add-port=778/tcp && firewall-cmd --permanent --add-port=1024-65535/tcp && firewall-cmd --reload"),
        "{f}"
    );
    assert!(out["msg"].as_str().unwrap().contains("LK-FW-PORTS [fail]"));

    let (out, rc) = preflight(
        "fw-open",
        a,
        Host {
            scripts: vec![("firewall-cmd", FIREWALLD_ALL)],
            ..Host::default()
        },
        json!({}),
    );
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(
        check(&out, "LK-FW-PORTS")["actual"],
        "firewalld: all allowed"
    );

    // firewalld not running (sim stand-in) → nftables decides; the GUI ports only warn.
    let (out, rc) = preflight(
        "fw-nft",
        a,
        Host {
            scripts: vec![("nft", NFT_NO_GUI)],
            ..Host::default()
        },
        json!({}),
    );
    assert_eq!(rc, 0, "{out:#}");
    let f = check(&out, "LK-FW-PORTS");
    assert_eq!(f["status"], "warn", "{f}");
    assert_eq!(f["details"]["firewall"], "nftables");
    assert_eq!(
        f["details"]["closed"],
        json!([
            "81/tcp (GUI server)",
            "82/tcp (GUI server)",
            "1024-65535/tcp (GUI RMI)"
        ])
    );

    // A firewall probe that fails (not root) is not "no firewall": warn.
    let (out, rc) = preflight(
        "fw-nft-eperm",
        a,
        Host {
            scripts: vec![("nft", "echo 'Error: Operation not permitted' >&2; exit 1")],
            ..Host::default()
        },
        json!({}),
    );
    assert_eq!(rc, 0, "{out:#}");
    let f = check(&out, "LK-FW-PORTS");
    assert_eq!(f["status"], "warn", "{f}");
    assert_eq!(f["actual"], "unknown");
    assert!(
        f["msg"]
            .as_str()
            .unwrap()
            .contains("`nft list ruleset` failed: Error: Operation not permitted"),
        "{f}"
    );

    // iptables: mirror 0's first port is in the services file, so DataKeeper uses 10257 — closed.
    let svc = c.dir.join("services");
    std::fs::write(&svc, "scp-config 10001/tcp\n").unwrap();
    let (out, rc) = preflight(
        "fw-ipt",
        a,
        Host {
            scripts: vec![("iptables", IPTABLES_NO_10257)],
            ..Host::default()
        },
        json!({"datakeeper_mirrors": [0], "services_file": svc}),
    );
    assert_eq!(rc, 1);
    let f = check(&out, "LK-FW-PORTS");
    assert_eq!(f["status"], "fail");
    assert_eq!(
        f["actual"],
        "iptables: closed 10257/tcp (DataKeeper mirror 0), 1024-65535/tcp (GUI RMI)"
    );
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("iptables -I INPUT -p tcp --dport 10257 -j ACCEPT"),
        "{f}"
    );
    assert_eq!(out["datakeeper_ports"], json!({"0": 10257}));
}

#[test]
fn datakeeper_port_skips_a_listening_port_and_ports_of_other_mirrors() {
    let c = cluster("pf-dk", "9.4.0", &[]);
    let ss = r#"echo "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process"
echo "LISTEN 0      128          0.0.0.0:10002      0.0.0.0:*""#;
    let svc = c.dir.join("services");
    std::fs::write(&svc, "").unwrap();
    let (out, rc) = preflight(
        "dk",
        c.node("node-a"),
        Host {
            scripts: vec![("ss", ss)],
            ..Host::default()
        },
        json!({"datakeeper_mirrors": [1, 257], "services_file": svc}),
    );
    assert_eq!(rc, 0, "{out:#}");
    // mirror 1: 10002 listens → 10258; mirror 257: 10258 is mirror 1's → 10514.
    assert_eq!(out["datakeeper_ports"], json!({"1": 10258, "257": 10514}));
}

#[test]
fn comm_paths_one_dead_warns_all_dead_fails_and_standby() {
    let c = cluster("pf-comm", "9.4.0", &[]);
    let dir = c.dir.to_str().unwrap();
    c.sim(&[
        "commpath", "down", "node-a", "node-b", "--prio", "2", "--dir", dir,
    ]);
    let (out, rc) = preflight("comm-one", c.node("node-a"), Host::default(), json!({}));
    assert_eq!(rc, 0, "{out:#}");
    let p = check(&out, "LK-COMM-PATHS");
    assert_eq!(p["status"], "warn");
    assert_eq!(
        p["msg"],
        "1 of 2 communication paths are down: node-b TCP 192.168.10.1/192.168.10.2 DEAD"
    );

    c.sim(&["node", "down", "node-b", "--dir", dir]);
    let (out, rc) = preflight("comm-all", c.node("node-a"), Host::default(), json!({}));
    assert_eq!(rc, 1);
    assert_eq!(status(&out, "LK-COMM-PATHS"), "fail");

    // require_standby: node-a has the hierarchies in service.
    let (out, _) = preflight(
        "standby-a",
        c.node("node-a"),
        Host::default(),
        json!({"require_standby": true}),
    );
    let s = check(&out, "LK-STATE-STANDBY");
    assert_eq!(s["status"], "fail");
    assert!(
        s["actual"].as_str().unwrap().contains("ip-10.0.0.50 ISP"),
        "{s}"
    );
    assert!(s["remedy"].as_str().unwrap().contains("app-pgsql"), "{s}");

    let c2 = cluster("pf-standby", "9.4.0", &[]);
    let (out, rc) = preflight(
        "standby-b",
        c2.node("node-b"),
        Host::default(),
        json!({"require_standby": true}),
    );
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(status(&out, "LK-STATE-STANDBY"), "pass");
}

#[test]
fn stopped_lifekeeper_is_reported_and_cluster_checks_skip() {
    let c = cluster("pf-stopped", "9.4.0", &["--stopped"]);
    let (out, rc) = preflight("stopped", c.node("node-a"), Host::default(), json!({}));
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(out["lifekeeper_running"], false);
    assert_eq!(check(&out, "LK-SERVICE")["actual"], "stopped");
    assert_eq!(status(&out, "LK-COMM-PATHS"), "skip");
    assert_eq!(
        status(&out, "LK-NET-RESOLVE"),
        "skip",
        "no peers known and no nodes given"
    );
    // With nodes given, names are resolved anyway.
    let (out, _) = preflight(
        "stopped-nodes",
        c.node("node-a"),
        Host::default(),
        json!({"nodes": ["node-a", "node-b"]}),
    );
    assert_eq!(
        check(&out, "LK-NET-RESOLVE")["actual"],
        "node-a=10.0.0.1, node-b=10.0.0.2"
    );
}

#[test]
fn resolution_failures_arch_packages_and_disk() {
    let c = cluster("pf-misc", "9.4.0", &["--kits", "lkIP,lkDMMP"]);
    let a = c.node("node-a");
    let (out, rc) = preflight(
        "resolve",
        a,
        Host::default(),
        json!({"nodes": ["node-b", "ghost"]}),
    );
    assert_eq!(rc, 1);
    let r = check(&out, "LK-NET-RESOLVE");
    assert_eq!(r["status"], "fail");
    assert_eq!(r["actual"], "node-b=10.0.0.2, ghost=UNRESOLVED");

    // localhost only on ::1, and a 32-bit kernel.
    let getent = r#"[ "$2" = localhost ] && { echo "::1  STREAM localhost"; exit 0; }; exit 2"#;
    let (out, _) = preflight(
        "local-arch",
        a,
        Host {
            scripts: vec![("getent", getent), ("uname", "echo i686")],
            ..Host::default()
        },
        json!({}),
    );
    assert_eq!(status(&out, "LK-NET-LOCALHOST"), "fail");
    assert_eq!(check(&out, "LK-NET-LOCALHOST")["actual"], "::1");
    assert_eq!(status(&out, "LK-ARCH-64BIT"), "fail");
    assert_eq!(check(&out, "LK-ARCH-64BIT")["actual"], "i686");

    // The default package list is not on the minimal simulated node; DMMP needs sg3_utils.
    let (out, rc) = preflight(
        "pkgs",
        a,
        Host::default(),
        json!({"required_packages": null}),
    );
    assert_eq!(rc, 1);
    let p = check(&out, "LK-PKG-DEPS");
    assert_eq!(p["status"], "fail");
    assert!(
        p["remedy"]
            .as_str()
            .unwrap()
            .starts_with("yum install -y bzip2 cpio"),
        "{p}"
    );
    let s = check(&out, "LK-PKG-SG3UTILS");
    assert_eq!(s["status"], "fail");
    assert_eq!(s["remedy"], "yum install -y sg3_utils");

    // 40 GiB free on the simulated root; three purposes on it need 3 x 20000 MiB.
    let (out, rc) = preflight(
        "disk",
        a,
        Host::default(),
        json!({"min_free_mb": 20000, "backup_dir": a.root.join("var")}),
    );
    assert_eq!(rc, 1);
    let d = check(&out, "LK-DISK-FREE");
    assert_eq!(d["status"], "fail");
    assert!(
        d["msg"]
            .as_str()
            .unwrap()
            .contains("/ has 40960 MiB free, 60000 MiB needed"),
        "{d}"
    );
}

#[test]
fn missing_probes_skip_with_a_note_never_crash() {
    let c = cluster("pf-missing", "9.4.0", &[]);
    let host = Host {
        hide: vec!["getenforce", "rpm", "firewall-cmd", "df", "uname"],
        ..Host::default()
    };
    let (out, rc) = preflight(
        "missing",
        c.node("node-a"),
        host,
        json!({"package_manager": "rpm"}),
    );
    assert_eq!(rc, 0, "{out:#}");
    for id in [
        "LK-ARCH-64BIT",
        "LK-SELINUX",
        "LK-PKG-DEPS",
        "LK-PKG-SG3UTILS",
        "LK-VERSION-PATH",
        "LK-LICENSE",
        "LK-DISK-FREE",
        "LK-FW-PORTS",
        "LK-SITE-FILES",
    ] {
        assert_eq!(status(&out, id), "skip", "{id}: {}", check(&out, id));
    }
    assert_eq!(
        check(&out, "LK-SELINUX")["msg"],
        "cannot read the SELinux mode: getenforce not found on PATH"
    );
    assert_eq!(out["upgrade_path"], Value::Null);
    assert_eq!(out["installed_version"], Value::Null);
    assert_eq!(
        status(&out, "LK-COMM-PATHS"),
        "pass",
        "lcdstatus is not a PATH probe"
    );
}

#[test]
fn bad_parameters_name_the_parameter() {
    let c = cluster("pf-params", "9.4.0", &[]);
    let a = c.node("node-a");
    for (args, param, needle) in [
        (
            json!({"skip": ["LK-NOPE"]}),
            "skip",
            "unknown check ID 'LK-NOPE'",
        ),
        (
            json!({"nodes": ["-s"]}),
            "nodes",
            "would be read as an option",
        ),
        (
            json!({"target_version": "latest"}),
            "target_version",
            "not a version",
        ),
        (
            json!({"stepping_versions": ["9.x"]}),
            "stepping_versions",
            "not a version",
        ),
        (
            json!({"datakeeper_mirrors": [-1]}),
            "datakeeper_mirrors",
            "must be between 0 and 55534",
        ),
        (
            json!({"required_packages": ["a b"]}),
            "required_packages",
            "whitespace",
        ),
        (json!({"fail_on": "pass"}), "fail_on", "must be one of"),
    ] {
        let (out, rc) = preflight("params", a, Host::default(), args.clone());
        assert_eq!(rc, 1, "{args}");
        assert_eq!(out["invalid_parameter"], param, "{args}: {out}");
        assert!(
            out["msg"].as_str().unwrap().contains(needle),
            "{args}: {}",
            out["msg"]
        );
        assert!(out.get("checks").is_none(), "no probe runs on bad input");
    }
}

#[test]
fn doc_lists_every_check_id() {
    let out = std::process::Command::new(common::bin("lk_preflight"))
        .arg("--doc")
        .output()
        .unwrap();
    let doc = String::from_utf8(out.stdout).unwrap();
    for id in [
        "LK-ARCH-64BIT",
        "LK-NET-RESOLVE",
        "LK-NET-LOCALHOST",
        "LK-FW-PORTS",
        "LK-SELINUX",
        "LK-PKG-DEPS",
        "LK-PKG-SG3UTILS",
        "LK-VERSION-PATH",
        "LK-LICENSE",
        "LK-DISK-FREE",
        "LK-COMM-PATHS",
        "LK-STATE-STANDBY",
        "LK-SERVICE",
    ] {
        assert!(doc.contains(&format!("C({id})")), "{id} missing from --doc");
    }
}

#[test]
fn debian_family_host_uses_dpkg_query() {
    let c = cluster("pf-deb", "9.4.0", &[]);
    // dpkg-query knows bzip2 only; rpm is absent, so auto picks dpkg.
    let dpkg = r#"[ "$1" = --version ] && { echo "Debian dpkg-query"; exit 0; }
[ "$3" = bzip2 ] && { printf 'install ok installed'; exit 0; }
echo "dpkg-query: no packages found matching $3" >&2; exit 1"#;
    let host = Host {
        scripts: vec![("dpkg-query", dpkg)],
        hide: vec!["rpm"],
    };
    let (out, rc) = preflight(
        "deb",
        c.node("node-a"),
        host,
        json!({"required_packages": ["bzip2", "lsof"]}),
    );
    assert_eq!(rc, 1, "{out:#}");
    let p = check(&out, "LK-PKG-DEPS");
    assert_eq!(p["status"], "fail");
    assert_eq!(p["actual"], "missing: lsof");
    assert!(
        p["remedy"]
            .as_str()
            .unwrap()
            .starts_with("apt-get install -y lsof"),
        "{p}"
    );
}

/// Issue 16: kits shipped apart from the media (HANA2-ARK.run) and gen/app scripts live under
/// lkroot, owned by no package; rmlk deletes them and no lkbackup holds them. LK-SITE-FILES
/// warns listing them; a node without them passes.
#[test]
fn site_files_lists_kits_shipped_apart_that_rmlk_would_delete() {
    let c = cluster("pf-site-files", "9.4.0", &[]);
    let (out, rc) = preflight("site-clean", c.node("node-b"), Host::default(), json!({}));
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(
        status(&out, "LK-SITE-FILES"),
        "pass",
        "{}",
        check(&out, "LK-SITE-FILES")
    );
    let kit: Value = serde_json::from_str(&c.sim(&[
        "kit",
        "install",
        "node-a",
        "HANA2-ARK",
        "--dir",
        c.dir.to_str().unwrap(),
    ]))
    .unwrap();
    let mut laid: Vec<String> = kit["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    laid.sort();
    assert!(laid
        .iter()
        .any(|f| f.contains("/lkadm/subsys/gen/app/bin/")));
    // (the kit is HANA2-ARK, which LK-KIT-HANA-GENAPP fails for 9.6.1: its own test below)
    let (out, rc) = preflight(
        "site-kit",
        c.node("node-a"),
        Host::default(),
        json!({"skip": ["LK-KIT-HANA-GENAPP"]}),
    );
    assert_eq!(rc, 0, "a warning does not fail with fail_on=fail: {out:#}");
    let f = check(&out, "LK-SITE-FILES");
    assert_eq!(f["status"], "warn", "{f}");
    let mut listed: Vec<String> = f["details"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let abs = |p: &str| {
        if Path::new(p).is_absolute() {
            p.to_string()
        } else {
            c.node("node-a").lkroot.join(p).display().to_string()
        }
    };
    let laid: Vec<String> = laid.iter().map(|p| abs(p)).collect();
    assert_eq!(
        listed, laid,
        "exactly the kit's files, nothing LifeKeeper owns: {f}"
    );
    let msg = f["msg"].as_str().unwrap();
    assert!(
        msg.contains("rmlk deletes them") && msg.contains("no lkbackup holds them"),
        "{msg}"
    );
}

/// Issue 25: the SAP HANA gen/app based kit is not supported from 9.5.0 [UP95]. A node with
/// HANA2-ARK (lksim kit install: its folder and gen/app scripts) fails LK-KIT-HANA-GENAPP for
/// an upgrade to 9.5 or later, with the conversion remedy; the module fails naming it.
#[test]
fn hana_genapp_kit_fails_an_upgrade_to_95_or_later_with_the_conversion_remedy() {
    let c = cluster("pf-hana-kit", "9.4.0", &[]);
    let (out, rc) = preflight("hana-none", c.node("node-a"), Host::default(), json!({}));
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(status(&out, "LK-KIT-HANA-GENAPP"), "pass");
    c.sim(&[
        "kit",
        "install",
        "node-a",
        "HANA2-ARK",
        "--dir",
        c.dir.to_str().unwrap(),
    ]);
    for target in ["9.5.1", "9.6.1"] {
        let (out, rc) = preflight(
            &format!("hana-kit-{target}"),
            c.node("node-a"),
            Host::default(),
            json!({"target_version": target}),
        );
        assert_ne!(rc, 0, "{out:#}");
        assert_eq!(out["failed"], true, "{out:#}");
        let f = check(&out, "LK-KIT-HANA-GENAPP");
        assert_eq!(f["status"], "fail", "{f}");
        assert!(
            f["remedy"]
                .as_str()
                .unwrap()
                .contains("built-in SAP HANA Recovery Kit"),
            "{f}"
        );
        assert!(
            f["actual"].as_str().unwrap().contains("HANA2-ARK")
                && f["actual"]
                    .as_str()
                    .unwrap()
                    .contains("gen/app/bin/hana2-ark-"),
            "{f}"
        );
        assert!(
            out["msg"].as_str().unwrap().contains("LK-KIT-HANA-GENAPP"),
            "{}",
            out["msg"]
        );
    }
    // below 9.5 the kit is still supported; and the guess can be overridden with skip
    let (out, rc) = preflight(
        "hana-kit-943",
        c.node("node-a"),
        Host::default(),
        json!({"target_version": "9.4.3"}),
    );
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(status(&out, "LK-KIT-HANA-GENAPP"), "pass");
    let (out, rc) = preflight(
        "hana-kit-skip",
        c.node("node-a"),
        Host::default(),
        json!({"skip": ["LK-KIT-HANA-GENAPP"]}),
    );
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(status(&out, "LK-KIT-HANA-GENAPP"), "skip");
}

/// Issue 16: `lktest` (the vendor's probe) decides LK-SERVICE and lifekeeper_running where it
/// exists, whatever lcdstatus says; without it the lcdstatus fallback is used and a warning
/// says so.
#[test]
fn lktest_decides_lk_service_and_lifekeeper_running() {
    let c = cluster("pf-lktest", "9.4.0", &["--stopped"]);
    let a = c.node("node-a");
    let lktest = a.lkroot.join("bin/lktest");
    // lksim says stopped; a lktest that answers "running" wins
    std::fs::write(&lktest, "#!/bin/sh\nexit 0\n").unwrap();
    let (out, rc) = preflight("lktest-up", a, Host::default(), json!({}));
    // Running by lktest, yet lcdstatus gives no status: the checks that need it fail (issue 28
    // W1: a stuck LifeKeeper must not pass the pre-flight).
    assert_eq!(rc, 1, "{out:#}");
    assert_eq!(
        out["ansible_facts"]["lk_preflight"]["failed"],
        json!(["LK-COMM-PATHS", "LK-MIRRORS-SYNCED"]),
        "{out:#}"
    );
    assert_eq!(out["lifekeeper_running"], true);
    assert_eq!(check(&out, "LK-SERVICE")["actual"], "running");
    assert_eq!(status(&out, "LK-SERVICE"), "pass");
    // lktest missing: lcdstatus fallback, as a warning naming it
    std::fs::remove_file(&lktest).unwrap();
    let (out, rc) = preflight("lktest-missing", a, Host::default(), json!({}));
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(out["lifekeeper_running"], false);
    let s = check(&out, "LK-SERVICE");
    assert_eq!(
        (s["actual"].as_str(), s["status"].as_str()),
        (Some("stopped"), Some("warn"))
    );
    assert!(
        s["msg"].as_str().unwrap().contains("lktest not found"),
        "{s}"
    );
}

/// Issue 16: 10.0 upgrades 9.8.x in place (field evidence [DOCS 10.0]); lksim's rule already
/// says so (lifekeeper::version::direct_from follows the release train).
#[test]
fn installed_98x_to_100_is_a_direct_upgrade() {
    let c = cluster("pf-v98", "9.8.1", &[]);
    let (out, rc) = preflight(
        "v98",
        c.node("node-a"),
        Host::default(),
        json!({"target_version": "10.0"}),
    );
    assert_eq!(rc, 0, "{out:#}");
    assert_eq!(out["installed_version"], "9.8.1");
    assert_eq!(out["upgrade_path"], "direct");
    assert_eq!(status(&out, "LK-VERSION-PATH"), "pass");
}

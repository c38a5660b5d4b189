//! The simulator's catalogue: which commands a node has, which packages an installation and
//! the media carry.  Plain data, imported by the front (`cluster create`), `setup` and the
//! rpm stand-in, so that none of them imports another for its constants.

pub const LK_COMMANDS: &[&str] = &[
    "lcdstatus",
    "perform_action",
    "lcdremexec",
    "lkstart",
    "lkstop",
    "lkcli",
    "lkbackup",
    "lksupport",
    "rmlk",
    "lktest",
    "mirror_status",
    "mirror_action",
];

pub const SYS_COMMANDS: &[&str] = &[
    "rpm",
    "getenforce",
    "uname",
    "getent",
    "df",
    "ss",
    "firewall-cmd",
    "hostname",
    "lksim-setup",
];

pub const DEFAULT_KITS: &[&str] = &["lkIP", "lkPGSQL"];
pub const CORE_PACKAGES: &[&str] = &["steeleye-lk", "steeleye-lkGUI", "steeleye-lkDR"];
pub const OS_PACKAGES: &[(&str, &str)] = &[
    ("bash", "4.4.20"),
    ("coreutils", "8.30"),
    ("glibc", "2.28"),
    ("redhat-release", "8.9"),
];
/// Kits shipped on simulated media.
pub const MEDIA_KITS: &[&str] = &[
    "lkAPA",
    "lkDB2",
    "lkDMMP",
    "lkIP",
    "lkLVM",
    "lkMD",
    "lkNAS",
    "lkNFS",
    "lkORA",
    "lkPGSQL",
    "lkPOSTFIX",
    "lkQWK",
    "lkSAP",
    "lkSAPDB",
    "lkSMB",
    "lkSQL",
    "lkSYBASE",
];

/// What the core package `steeleye-lk` owns under `$LKROOT` (paths relative to it; folders
/// end in `/`).  Everything else there — the configuration, the resources' files, kits
/// shipped apart from the media, site scripts — is owned by no package, as `rpm -qf` tells.
/// UNCONFIRMED: a real steeleye-lk owns many more files; the kits own their `subsys/` trees.
pub fn owned_by(package: &str) -> Vec<String> {
    if package != "steeleye-lk" {
        return vec![];
    }
    let mut v: Vec<String> = [
        "",
        "bin/",
        "config/",
        "subsys/",
        "lkadm/",
        "lkadm/subsys/",
        "lkadm/subsys/gen/",
        "lkadm/subsys/gen/app/",
        "lkadm/subsys/gen/app/bin/",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(LK_COMMANDS.iter().map(|c| format!("bin/{c}")));
    v
}

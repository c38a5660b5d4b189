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

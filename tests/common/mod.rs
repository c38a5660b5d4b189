//! Shared test support for both harness binaries (tests/contract, tests/delivery): the module
//! binaries, scratch dirs, simulated clusters and media from lksim, and (pin.rs) pinning a whole
//! JSON result. tests/common/ansible.rs runs the real ansible-playbook for the delivery tests.
#![allow(dead_code)]

pub mod ansible;
pub mod pin;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The module binaries, in the order of the vendor's upgrade procedure (the Salt formula and
/// the playbooks run them in this order too).
pub const MODULES: [&str; 5] = [
    "lk_preflight",
    "lk_resource",
    "lk_backup",
    "lk_upgrade",
    "lk_defaults_merge",
];

/// Every module binary the project ships (the procedure's and the read-only ones): what the
/// docs, dist and collection checks cover.
pub const ALL_MODULES: [&str; 9] = [
    "lk_preflight",
    "lk_resource",
    "lk_backup",
    "lk_upgrade",
    "lk_defaults_merge",
    "lk_capture",
    "lk_info",
    "lk_plan",
    "lk_lease",
];

/// The repository (this crate's manifest dir).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One of the files in tests/fixtures/ (shared with lksim's tests and the unit tests in src/).
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// target/<profile>: where Cargo put this package's binaries (the scratch dirs live under it).
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_lk_backup"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Path of a binary the tests run. This package's binaries come from Cargo
/// (`CARGO_BIN_EXE_<name>`, built before the tests, always the current code). lksim is the
/// workspace's other crate: Cargo gives no CARGO_BIN_EXE for another package's binaries, so it is
/// looked up by `lksim_bin`.
pub fn bin(name: &str) -> PathBuf {
    let built = match name {
        "lk_preflight" => env!("CARGO_BIN_EXE_lk_preflight"),
        "lk_resource" => env!("CARGO_BIN_EXE_lk_resource"),
        "lk_backup" => env!("CARGO_BIN_EXE_lk_backup"),
        "lk_upgrade" => env!("CARGO_BIN_EXE_lk_upgrade"),
        "lk_defaults_merge" => env!("CARGO_BIN_EXE_lk_defaults_merge"),
        "lk_capture" => env!("CARGO_BIN_EXE_lk_capture"),
        "lk_info" => env!("CARGO_BIN_EXE_lk_info"),
        "lk_plan" => env!("CARGO_BIN_EXE_lk_plan"),
        "lk_lease" => env!("CARGO_BIN_EXE_lk_lease"),
        "lksim" => return lksim_bin(),
        other => panic!(
            "{other}: not a binary of this package; add `\"{other}\" => env!(\"CARGO_BIN_EXE_{other}\")` \
             to common::bin in tests/common/mod.rs"
        ),
    };
    PathBuf::from(built)
}

/// A binary that may not exist in this build yet.
fn not_yet(name: &str, built: Option<&'static str>) -> &'static str {
    match built {
        Some(p) => p,
        None => panic!("{name}: no such binary in this build (src/bin/{name}.rs)"),
    }
}

/// The simulator's binary: `$LKSIM` when set, else target/<profile>/lksim next to this
/// package's binaries. `cargo test --workspace` builds it; `cargo test --test contract` alone
/// does not, hence the message.
pub fn lksim_bin() -> PathBuf {
    let p = std::env::var_os("LKSIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| bin_dir().join("lksim"));
    assert!(
        p.exists(),
        "{} not built: run `cargo build -p lksim` (or `cargo test --workspace`), or set LKSIM",
        p.display()
    );
    p
}

/// A simulated ISO image of `version` (`lksim media create`), in the scratch dir
/// `<name>-media` outside every cluster dir. The dir is kept, not emptied: a test may make
/// several versions under one name (the 9.6.1 image and the 9.4.3 step).
pub fn media(name: &str, version: &str) -> PathBuf {
    let dir = bin_dir().join("scratch").join(format!("{name}-media"));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("sps_{}.img", version.replace('.', "")));
    let o = Command::new(bin("lksim"))
        .args(["media", "create", "--version", version, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// A fresh, empty scratch directory under target/ (removed at the start of the next run).
pub fn scratch(name: &str) -> PathBuf {
    let d = bin_dir().join("scratch").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub root: PathBuf,
    pub lkroot: PathBuf,
    pub defaults_file: PathBuf,
    pub path: PathBuf,
}

impl Node {
    /// PATH for this node: its stand-ins first, then the system's.
    pub fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.path.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }
    /// Run a module on this node with JSON args (Ansible's args-file contract).
    pub fn module(&self, module: &str, args: Value) -> (Value, i32) {
        run_module_env(module, args, &[("PATH", &self.path_env())])
    }
    /// Run one of this node's LifeKeeper commands.
    pub fn lk(&self, cmd: &str, args: &[&str]) -> Output {
        Command::new(self.lkroot.join("bin").join(cmd))
            .args(args)
            .env("PATH", self.path_env())
            .output()
            .unwrap()
    }
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub dir: PathBuf,
    pub nodes: Vec<Node>,
}

impl Cluster {
    /// `lksim cluster create --dir <scratch> --nodes a,b --version V [extra...]`
    pub fn create(name: &str, nodes: &[&str], version: &str, extra: &[&str]) -> Cluster {
        let dir = scratch(name);
        let out = Command::new(bin("lksim"))
            .args(["cluster", "create", "--dir"])
            .arg(&dir)
            .args(["--nodes", &nodes.join(","), "--version", version])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lksim cluster create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let nodes = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| Node {
                name: n["name"].as_str().unwrap().into(),
                root: n["root"].as_str().unwrap().into(),
                lkroot: n["lkroot"].as_str().unwrap().into(),
                defaults_file: n["defaults_file"].as_str().unwrap().into(),
                path: n["path"].as_str().unwrap().into(),
            })
            .collect();
        Cluster { dir, nodes }
    }
    pub fn node(&self, name: &str) -> &Node {
        self.nodes.iter().find(|n| n.name == name).unwrap()
    }
    /// `lksim <args...>` (fault, node, media, state), asserting success; returns stdout.
    pub fn sim(&self, args: &[&str]) -> String {
        let out = Command::new(bin("lksim")).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "lksim {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// `lksim state DIR` as JSON.
    pub fn state(&self) -> Value {
        serde_json::from_str(&self.sim(&["state", self.dir.to_str().unwrap()])).unwrap()
    }
}

/// Run a module binary with an args file (the Ansible contract); returns (JSON result, exit code).
pub fn run_module_env(module: &str, args: Value, env: &[(&str, &str)]) -> (Value, i32) {
    // One args file per call: tests in one binary run in parallel threads of one process.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = bin_dir().join("scratch").join("args");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{module}-{}-{n}.json", std::process::id()));
    std::fs::write(&file, args.to_string()).unwrap();
    let mut c = Command::new(bin(module));
    c.arg(&file);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    parse_output(&out)
}

pub fn run_module(module: &str, args: Value) -> (Value, i32) {
    run_module_env(module, args, &[])
}

/// Run a module with JSON on stdin (the runner contract).
pub fn run_module_stdin(module: &str, argv: &[&str], stdin: &[u8]) -> (Value, i32) {
    let mut child = Command::new(bin(module))
        .args(argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    parse_output(&out)
}

/// Exactly one JSON object on stdout, and nothing else.
pub fn parse_output(out: &Output) -> (Value, i32) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim_end().lines().count(),
        1,
        "stdout must be one JSON line, got: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    assert!(v.is_object(), "not an object: {v}");
    (v, out.status.code().unwrap_or(-1))
}

/// Every file under `root` with its sha256 and mode, for "nothing changed" assertions.
pub fn tree_hash(root: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map(|r| r.flatten().collect())
            .unwrap_or_default();
        entries.sort_by_key(|e: &std::fs::DirEntry| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                out.push((rel.clone(), format!("dir {mode:o}")));
                walk(&p, root, out);
            } else if meta.file_type().is_symlink() {
                out.push((
                    rel,
                    format!("link {}", std::fs::read_link(&p).unwrap().display()),
                ));
            } else {
                let data = std::fs::read(&p).unwrap();
                out.push((
                    rel,
                    format!("{mode:o} {}", lkops::runtime::fs::sha256_bytes(&data)),
                ));
            }
        }
    }
    let mut out = vec![];
    walk(root, root, &mut out);
    out
}

/// Mark the JSON value of a top-level key as "anything" before pinning a whole result.
pub fn redact(v: &mut Value, keys: &[&str]) {
    let mut r = pin::Redactor::new();
    for k in keys {
        r = r.top_key(k, pin::REDACTED);
    }
    *v = r.apply(v);
}

/// Processes (not this one) whose command line, as its arguments, satisfies `keep`.
pub fn procs_where(keep: impl Fn(&[&[u8]]) -> bool) -> Vec<i32> {
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == std::process::id() as i32 {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if keep(&args) {
                out.push(pid);
            }
        }
    }
    out
}

/// Processes whose command line has an argument containing `needle` (the simulator's wrappers
/// run `lksim --node-root <root> --as <cmd>`), so hung commands left behind can be found by id.
pub fn procs_with_arg(needle: &str) -> Vec<i32> {
    procs_where(|args| {
        args.iter()
            .any(|a| String::from_utf8_lossy(a).contains(needle))
    })
}

/// Processes of node `root` running the simulated command `cmd` (`lksim --node-root <root> --as
/// <cmd>`). Waiting for "any process naming the root" raced: a short probe (`lktest`, `rpm`) run
/// before the hung command matched, was gone by the next look, and the test saw no hung command.
pub fn procs_running_as(root: &str, cmd: &str) -> Vec<i32> {
    procs_where(|args| {
        args.iter()
            .any(|a| String::from_utf8_lossy(a).contains(root))
            && args
                .windows(2)
                .any(|w| w[0] == b"--as" && w[1] == cmd.as_bytes())
    })
}

/// Waits up to `secs` for node `root` to be running the simulated command `cmd`; its pids.
pub fn wait_running_as(root: &str, cmd: &str, secs: u64) -> Vec<i32> {
    let t = std::time::Instant::now();
    loop {
        let found = procs_running_as(root, cmd);
        if !found.is_empty() || t.elapsed() > std::time::Duration::from_secs(secs) {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A pseudo-terminal: (master, slave). The slave goes to a child as its terminal (the human CLI at
/// a terminal; the operator's side of `lk_pause_between_waves=prompt`), the master is the test's.
pub fn pty() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    // SAFETY: posix_openpt/grantpt/unlockpt/ptsname_r on a descriptor we just opened and own
    // (handed to File at once), ptsname_r into a buffer of the length we pass.
    let (master, name) = unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = std::fs::File::from_raw_fd(m);
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let mut buf = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(m, buf.as_mut_ptr(), buf.len()), 0);
        let name = std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_string_lossy()
            .into_owned();
        (master, name)
    };
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(name)
        .unwrap();
    (master, slave)
}

//! lksim — a LifeKeeper for Linux simulator.  See README.md and FIDELITY.md.

#![forbid(unsafe_code)]

pub mod catalog;
pub mod clock;
pub mod datakeeper;
pub mod front;
pub mod menu;
pub mod model;
pub mod ops;
pub mod resfiles;
pub mod safe;
pub mod setup;
pub mod setup_config;
pub mod status;
pub mod sys;
pub mod timing;
pub mod tools;
pub mod transport;
pub mod twin;
pub mod versions;

use std::path::{Path, PathBuf};

/// Exit code used when a command is run on a crashed node.
pub const DOWN_EXIT: i32 = 255;

pub struct Ctx {
    pub root: PathBuf,
    pub cmd: String,
    pub args: Vec<String>,
}

pub fn err(cmd: &str, msg: &str) {
    eprintln!("{cmd}: {msg}");
}

/// Commands with a command-specific "halfway" fault; for the others
/// "halfway" behaves like "fail".
pub const HALFWAY_CMDS: &[&str] = &["setup", "perform_action", "lkbackup"];

/// Result of checking injected faults before a command runs.
pub enum FaultGate {
    Proceed,
    Halfway,
    /// setup only: pause this many seconds half-way, with LifeKeeper stopped.
    Delay(u64),
}

/// Checks whether the node is down and whether a fault is armed for `key`.
/// `Err(code)` means: exit now with that code.
pub fn fault_gate(root: &Path, key: &str, display: &str) -> Result<FaultGate, i32> {
    let mode = {
        let (mut w, i) = match model::World::open_for_root(root) {
            Ok(x) => x,
            Err(e) => {
                err(display, &e.to_string());
                return Err(1);
            }
        };
        if w.nodes[i].rt.down {
            eprintln!(
                "{display}: node {} is down (lksim simulated crash)",
                w.nodes[i].name
            );
            return Err(DOWN_EXIT);
        }
        let n = &mut w.nodes[i];
        let mode = match n.rt.faults.get_mut(key) {
            Some(f) => {
                f.calls += 1;
                if f.calls > f.after {
                    Some((f.mode.clone(), f.seconds))
                } else {
                    None
                }
            }
            None => None,
        };
        if n.rt.faults.contains_key(key) {
            let _ = w.save();
        }
        mode
    };
    let (mode, seconds) = match mode {
        Some((m, s)) => (Some(m), s),
        None => (None, 0),
    };
    match mode.as_deref() {
        None => Ok(FaultGate::Proceed),
        Some("delay") if key == "setup" => Ok(FaultGate::Delay(seconds)),
        Some("delay") => {
            std::thread::sleep(std::time::Duration::from_secs(seconds));
            Ok(FaultGate::Proceed)
        }
        Some("hang") => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            err(display, "timed out (lksim fault: hang)");
            Err(1)
        }
        Some("halfway") if HALFWAY_CMDS.contains(&key) => Ok(FaultGate::Halfway),
        // setup's menu faults act on the menu (`menu.rs`), not here
        Some("title" | "errorbox" | "nomenu") if key == "setup" => Ok(FaultGate::Proceed),
        Some(_) => {
            err(display, "operation failed (lksim injected fault)");
            Err(1)
        }
    }
}

/// `lksim --help`: every command of the simulator's front end (front.rs), one line each; the
/// options of each are in lksim/README.md.
const HELP: &str = "lksim: a LifeKeeper for Linux simulator (tests, demo, Molecule, rehearsal)

usage: lksim COMMAND ...
  cluster create --dir DIR --nodes a,b[,c] [--version V] [--hierarchies SPEC] [--force] ...
                                 a simulated cluster, one node root per node
  install --root R --node NAME [--peers a,b,...] [--version V] ...
                                 one node (e.g. in a container, --root /)
  media create --version V --out FILE|DIR [--layout lksim|real]
                                 simulated installation media (sps.img)
  state DIR                      the whole cluster as JSON
  setup-config save --node-root R [--kits a,b] [--quorum y|n] [--license FILES] [--out FILE] ...
                                 what setup's menu Save writes for a node (a saved configuration)
  fault set NODE COMMAND MODE [--after N] [--seconds N] [--text T] [--dir DIR]
  fault clear [NODE [COMMAND]] [--dir DIR]
                                 make a LifeKeeper command fail, hang, ... on a node
                                 (setup's menu: MODE title|errorbox --text T, nomenu)
  node down|up NODE [--dir DIR]  a node crashes / comes back
  commpath down|up NODE PEER [--prio N] [--dir DIR]
  mirror resync NODE TAG [--seconds N] [--dir DIR]
  mirror resync-restore refuses|removes-source [--dir DIR]
  kit install NODE KIT [--dir DIR]
                                 a Recovery Kit shipped apart (e.g. HANA2-ARK)
  twin create|check --from CAPTURE_DIR --dir DIR ...
                                 a simulated twin of a captured cluster (rehearsal)
  daemon [--root R] [--listen HOST:PORT] [--detach]
                                 a node's TCP transport server
  boot [--root R]                a node starts again after a crash or a stop
  initdone --root R --gen N      (internal: lkstart's LK_INITDONE helper)
  --node-root ROOT --as COMMAND -- ARGS...
                                 run one simulated LifeKeeper command on a node root
  --help                         this text

Every option: lksim/README.md.
";

fn usage() -> i32 {
    eprint!("{HELP}");
    2
}

pub fn run(argv: Vec<String>) -> i32 {
    let base = argv
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let rest: Vec<String> = argv.iter().skip(1).cloned().collect();
    if !base.is_empty() && base != "lksim" {
        // multi-call: act by argv[0]; node root from LKSIM_NODE_ROOT or "/"
        let root = std::env::var("LKSIM_NODE_ROOT").unwrap_or_else(|_| "/".into());
        return dispatch(Ctx {
            root: PathBuf::from(root),
            cmd: base,
            args: rest,
        });
    }
    if rest.first().map(|s| s.as_str()) == Some("--node-root") {
        let mut root = None;
        let mut cmd = None;
        let mut i = 0;
        while i < rest.len() {
            match rest[i].as_str() {
                "--node-root" => {
                    root = rest.get(i + 1).cloned();
                    i += 2;
                }
                "--as" => {
                    cmd = rest.get(i + 1).cloned();
                    i += 2;
                }
                "--" => {
                    i += 1;
                    break;
                }
                _ => break,
            }
        }
        let (Some(root), Some(cmd)) = (root, cmd) else {
            return usage();
        };
        return dispatch(Ctx {
            root: PathBuf::from(root),
            cmd,
            args: rest[i..].to_vec(),
        });
    }
    if rest.is_empty() {
        return usage();
    }
    if matches!(rest[0].as_str(), "--help" | "-h" | "help") {
        print!("{HELP}");
        return 0;
    }
    front::main(&rest)
}

pub fn dispatch(ctx: Ctx) -> i32 {
    match ctx.cmd.as_str() {
        "lcdstatus" => tools::lcdstatus(&ctx),
        // A twin journals the placement changes (lksim twin, issue 18).
        "perform_action" => twin::journaled(&ctx, tools::perform_action),
        "lcdremexec" => tools::lcdremexec(&ctx),
        "lkstart" => tools::lkstart(&ctx),
        "lkstop" => tools::lkstop(&ctx),
        "lkcli" => tools::lkcli(&ctx),
        "lkbackup" => tools::lkbackup(&ctx),
        "lksupport" => tools::lksupport(&ctx),
        "rmlk" => tools::rmlk(&ctx),
        "lktest" => tools::lktest(&ctx),
        "mirror_status" => tools::mirror_status(&ctx),
        "mirror_action" => tools::mirror_action(&ctx),
        "lksim-setup" | "setup" => setup::main(&ctx),
        "rpm" | "getenforce" | "uname" | "getent" | "df" | "ss" | "firewall-cmd" | "hostname" => {
            sys::main(&ctx)
        }
        other => {
            eprintln!("lksim: unknown command '{other}'");
            127
        }
    }
}

pub use clock::local_time;

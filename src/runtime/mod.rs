//! The shared module runtime: every lk_* binary is `runtime::main::<TheModule>()`.
//!
//! One code path takes input (Ansible args file, JSON on stdin, or a person's `key=value`),
//! validates it against the module's declared parameters, runs the module's logic as a plain
//! function of (params, context), and prints exactly one JSON object. Panics become a failed
//! result; nothing but that object ever reaches stdout.

pub mod cmd;
pub mod diff;
pub mod fs;
pub mod human;
pub mod intake;
pub mod pty;
pub mod result;
pub mod spec;
pub mod time;
pub mod yaml;

pub use cmd::{Cmd, CmdOutput, Runner};
pub use result::{Failure, Outcome};
pub use spec::{check_abs_path, Choice, Kind, ModuleSpec, Param, Ret, Support, LKROOT};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// What a module knows about the run besides its parameters.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Predict, do not act: no side effect at all.
    pub check_mode: bool,
    /// Return `diff` (the runtime drops it when not asked for, so modules may always compute it).
    pub diff: bool,
    pub verbosity: u64,
    /// Show progress on stderr (a person at a terminal, or LKOPS_PROGRESS=1).
    pub progress: bool,
    pub runner: Runner,
}

impl Ctx {
    pub fn new(check_mode: bool, diff: bool) -> Ctx {
        Ctx {
            check_mode,
            diff,
            verbosity: 0,
            progress: false,
            runner: Runner::default(),
        }
    }
    /// This context with every command bounded by `secs` (a module's `timeout` parameter), so a
    /// hung LifeKeeper command can never hang the play. Refuses a value below one second.
    pub fn bounded(&self, param: &str, secs: i64) -> Result<Ctx, Failure> {
        let secs = u64::try_from(secs)
            .ok()
            .filter(|s| *s >= 1)
            .ok_or_else(|| {
                Failure::param(
                    param,
                    format!("{param} must be at least 1 second, got {secs}"),
                )
            })?;
        Ok(Ctx {
            runner: Runner {
                default_timeout: std::time::Duration::from_secs(secs),
            },
            ..self.clone()
        })
    }

    /// A progress line on stderr, for people watching a long step (never on stdout).
    pub fn progress(&self, msg: &str) {
        if self.progress {
            let _ = writeln!(std::io::stderr(), "[{}] {msg}", time::now_hms());
        }
    }
}

/// A module: its declaration and its logic.
pub trait Module {
    /// The typed parameters (`#[serde(deny_unknown_fields)]`), filled from the validated input.
    type Params: DeserializeOwned;
    fn spec() -> &'static ModuleSpec;
    fn run(params: Self::Params, ctx: &Ctx) -> Result<Outcome, Failure>;
}

static PANIC_MSG: Mutex<Option<String>> = Mutex::new(None);

/// Run a module from already-parsed input: validation, typing, execution, rendering.
/// Returns the JSON result and whether it failed. Used by `main` and by tests.
pub fn execute<M: Module>(raw: Map<String, Value>, forced: intake::Forced) -> (Value, bool) {
    let spec = M::spec();
    let (params, meta) = match spec.validate(&raw) {
        Ok(x) => x,
        Err(e) => {
            let v = result::render(&Err(e.into()), false, None);
            return (v, true);
        }
    };
    let secrets: Vec<String> = spec
        .secret_params()
        .filter_map(|p| params.get(p.name))
        .flat_map(|v| match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => vec![],
        })
        .filter(|s| s.len() >= 3)
        .collect();
    let invocation = invocation(spec, &params, meta.no_log);
    let ctx = Ctx {
        check_mode: meta.check_mode || forced.check,
        diff: meta.diff || forced.diff,
        verbosity: meta.verbosity,
        progress: std::env::var_os("LKOPS_PROGRESS").is_some_and(|v| v == "1")
            || (forced.human && std::io::stderr().is_terminal()),
        runner: Runner::default(),
    };
    let typed: Result<M::Params, Failure> =
        serde_json::from_value(Value::Object(params)).map_err(|e| {
            Failure::new(format!(
                "invalid parameters: {}",
                result::clip(&e.to_string())
            ))
        });
    let outcome = typed.and_then(|p| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| M::run(p, &ctx))) {
            Ok(r) => r,
            Err(_) => {
                let m = PANIC_MSG
                    .lock()
                    .ok()
                    .and_then(|mut g| g.take())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(Failure::new(format!(
                    "internal error in {}: {m}. This is a bug in lkops; nothing after this point was done. Please report it with the invocation.",
                    spec.name
                )))
            }
        }
    });
    let failed = outcome.is_err();
    let mut v = result::render(&outcome, ctx.diff, Some(invocation));
    result::scrub(&mut v, &secrets);
    (v, failed)
}

fn invocation(spec: &ModuleSpec, params: &Map<String, Value>, mask_all: bool) -> Value {
    let mut args = Map::new();
    for (k, v) in params {
        let secret = spec.param(k).is_some_and(|p| p.no_log);
        let v = if (secret || mask_all) && !v.is_null() {
            Value::from("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")
        } else {
            // What was asked is echoed, but not at length (a 100 MB value stays in the input).
            result::clip_value(v)
        };
        args.insert(k.clone(), v);
    }
    serde_json::json!({ "module_args": args })
}

/// The whole binary: `fn main() { lkops::runtime::main::<Mod>() }`.
pub fn main<M: Module>() -> ! {
    // A panic must never reach the user as a stack trace: record its message for the JSON result.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut g) = PANIC_MSG.lock() {
            *g = Some(format!("{msg}{loc}"));
        }
    }));
    let spec = M::spec();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let (v, failed) = match intake::read_input(spec, &args) {
        intake::Input::Print(text) => {
            print!("{text}");
            std::process::exit(0)
        }
        intake::Input::Invalid(msg) => (result::render(&Err(Failure::new(msg)), false, None), true),
        intake::Input::Args(raw, forced) if forced.pretty => {
            let (v, failed) = execute::<M>(raw, forced);
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", human::render(&v, forced.check));
            let _ = out.flush();
            std::process::exit(i32::from(failed))
        }
        intake::Input::Args(raw, forced) => execute::<M>(raw, forced),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
    std::process::exit(i32::from(failed))
}

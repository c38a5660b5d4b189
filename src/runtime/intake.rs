//! The three ways input arrives, turned into one JSON object.
//!
//! 1. Ansible: `lk_x ARGS_FILE` — argv[1] names a file holding one JSON object.
//! 2. Runners (Salt, scripts): `lk_x -`, or no argument while stdin is not a terminal.
//! 3. People: `lk_x [--check] [--diff] key=value ...` or `--args '<json>'` (clap).

use super::spec::ModuleSpec;
use serde_json::{Map, Value};
use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::Path;

/// Modes a person asked for on the command line (Ansible says the same through `_ansible_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Forced {
    pub check: bool,
    pub diff: bool,
    /// Input came from the human command line (progress may go to a terminal).
    pub human: bool,
    /// Print the result for a person (a unified diff and one outcome line) instead of JSON:
    /// `--human`, or `--diff` with stdout on a terminal. Runners never get this.
    pub pretty: bool,
}

#[derive(Debug)]
pub enum Input {
    Args(Map<String, Value>, Forced),
    /// Text to print and exit 0 (`--help`, `--doc`, `--version`).
    Print(String),
    Invalid(String),
}

/// The largest argument input read (args file or stdin). Real arguments are a few KiB; this bound
/// keeps a runaway or hostile input from being read into memory whole.
pub const INPUT_MAX: u64 = 64 << 20;

fn too_large(origin: &str) -> String {
    format!(
        "arguments in {origin} are larger than {} MiB; nothing was done",
        INPUT_MAX >> 20
    )
}

/// Parse one JSON object; anything else is a clear error.
pub fn parse_object(text: &str, origin: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Err(format!(
            "no arguments: {origin} is empty; expected one JSON object such as {{\"key\": \"value\"}}"
        ));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!(
            "arguments in {origin} must be one JSON object, got a JSON {}",
            match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "boolean",
                _ => "null",
            }
        )),
        Err(e) => Err(format!("arguments in {origin} are not valid JSON: {e}")),
    }
}

fn from_stdin(forced: Forced) -> Input {
    let mut buf = Vec::new();
    if let Err(e) = std::io::stdin().take(INPUT_MAX + 1).read_to_end(&mut buf) {
        return Input::Invalid(format!("cannot read stdin: {e}"));
    }
    if buf.len() as u64 > INPUT_MAX {
        return Input::Invalid(too_large("stdin"));
    }
    match String::from_utf8(buf) {
        Ok(text) => match parse_object(&text, "stdin") {
            Ok(m) => Input::Args(m, forced),
            Err(e) => Input::Invalid(e),
        },
        Err(_) => Input::Invalid("arguments on stdin are not valid UTF-8".into()),
    }
}

fn from_file(path: &Path, forced: Forced) -> Input {
    let origin = format!("args file {}", path.display());
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(INPUT_MAX + 1).read_to_end(&mut bytes))
        .map(|_| bytes);
    if read.as_ref().is_ok_and(|b| b.len() as u64 > INPUT_MAX) {
        return Input::Invalid(too_large(&origin));
    }
    match read {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => match parse_object(&text, &origin) {
                Ok(m) => Input::Args(m, forced),
                Err(e) => Input::Invalid(e),
            },
            Err(_) => Input::Invalid(format!("args file {} is not valid UTF-8", path.display())),
        },
        Err(e) => Input::Invalid(format!("cannot read args file {}: {e}", path.display())),
    }
}

fn command(spec: &ModuleSpec) -> clap::Command {
    use clap::{Arg, ArgAction};
    clap::Command::new(spec.name)
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::SetTrue),
        )
        .arg(
            Arg::new("check")
                .long("check")
                .short('C')
                .action(ArgAction::SetTrue),
        )
        .arg(
            Arg::new("diff")
                .long("diff")
                .short('D')
                .action(ArgAction::SetTrue),
        )
        .arg(Arg::new("human").long("human").action(ArgAction::SetTrue))
        .arg(Arg::new("doc").long("doc").action(ArgAction::SetTrue))
        .arg(Arg::new("args").long("args").num_args(1).value_name("JSON"))
        .arg(
            Arg::new("rest")
                .num_args(0..)
                .value_parser(clap::value_parser!(OsString))
                .allow_hyphen_values(false),
        )
}

/// Decide which contract the caller used and read its input.
pub fn read_input(spec: &ModuleSpec, argv: &[OsString]) -> Input {
    let rest = &argv[1.min(argv.len())..];
    // Ansible: exactly one argument naming an existing file (no flags, no '=').
    if rest.len() == 1 {
        let a = &rest[0];
        let s = a.to_string_lossy();
        if s != "-" && !s.starts_with('-') && !s.contains('=') {
            return from_file(Path::new(a), Forced::default());
        }
    }
    if rest.is_empty() {
        if std::io::stdin().is_terminal() {
            return Input::Print(spec.help_text());
        }
        return from_stdin(Forced::default());
    }
    let m = match command(spec).try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => {
            return match e.kind() {
                clap::error::ErrorKind::DisplayVersion => Input::Print(e.to_string()),
                _ => Input::Invalid(format!(
                    "{} (run `{} --help` for usage)",
                    e.to_string()
                        .lines()
                        .next()
                        .unwrap_or("invalid command line")
                        .trim_start_matches("error: "),
                    spec.name
                )),
            }
        }
    };
    if m.get_flag("help") {
        return Input::Print(spec.help_text());
    }
    if m.get_flag("doc") {
        return Input::Print(spec.sidecar_yaml());
    }
    let forced = Forced {
        check: m.get_flag("check"),
        diff: m.get_flag("diff"),
        human: true,
        pretty: m.get_flag("human") || (m.get_flag("diff") && std::io::stdout().is_terminal()),
    };
    let positional: Vec<String> = m
        .get_many::<OsString>("rest")
        .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let mut args = match m.get_one::<String>("args") {
        Some(json) => match parse_object(json, "--args") {
            Ok(m) => m,
            Err(e) => return Input::Invalid(e),
        },
        None => Map::new(),
    };
    if positional.len() == 1 && positional[0] == "-" {
        return match from_stdin(forced) {
            Input::Args(mut m, f) => {
                m.extend(args);
                Input::Args(m, f)
            }
            other => other,
        };
    }
    if positional.len() == 1 && !positional[0].contains('=') && args.is_empty() {
        return from_file(Path::new(&positional[0]), forced);
    }
    for kv in positional {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                args.insert(k.to_string(), Value::String(v.to_string()));
            }
            _ => {
                return Input::Invalid(format!(
                    "expected key=value, got '{kv}' (run `{} --help` for usage)",
                    spec.name
                ))
            }
        }
    }
    Input::Args(args, forced)
}

//! A module's interface, declared once.
//!
//! Every parameter, its type, default, choices and help text live in one `ModuleSpec`. The same
//! declaration validates input (`validate`), renders `--help`, and renders the ansible-doc sidecar
//! (`modules/<name>.yml`) — so the three can never disagree (ripgrep's "define each flag once").

use super::result::clip;
use serde_json::{Map, Value};

/// The declared type of a parameter, with Ansible's names in `ansible_name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Path,
    /// A path that must be absolute and on one line: it reaches commands as an argument (never
    /// read as an option) and files as a name. Ansible sees a `path`.
    AbsPath,
    Bool,
    Int,
    /// A list whose elements are strings (a single string is accepted as a one-element list).
    List,
    /// A list of integers.
    IntList,
    Dict,
}

impl Kind {
    pub fn ansible_name(self) -> &'static str {
        match self {
            Kind::Str => "str",
            Kind::Path | Kind::AbsPath => "path",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::List | Kind::IntList => "list",
            Kind::Dict => "dict",
        }
    }
    fn elements(self) -> Option<&'static str> {
        match self {
            Kind::List => Some("str"),
            Kind::IntList => Some("int"),
            _ => None,
        }
    }
}

/// A parameter's closed set of values as a Rust enum. Declare it with [`choice_enum!`]: the
/// serde names, `NAMES` (what `Param::choices` takes, so `--help` and the ansible-doc sidecar
/// list them) and `Display` all come from the one list, so they cannot drift.
pub trait Choice: Copy + Eq + 'static {
    /// Every value with its name, in declaration order.
    const ALL: &'static [(Self, &'static str)];
    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(v, _)| *v == self)
            .map(|(_, n)| *n)
            .expect("every variant is in ALL")
    }
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(v, _)| *v)
    }
}

/// Declares a parameter's choices as an enum:
///
/// ```text
/// choice_enum! {
///     /// What the module makes true.
///     pub enum State { Present = "present", Absent = "absent" }
/// }
/// Param::new("state", Kind::Str, "...").choices(State::NAMES).default("\"present\"")
/// ```
///
/// The enum derives serde with each variant renamed to its name, implements [`Choice`] and
/// `Display` (the name), and has `NAMES` (the names in order) and `as_str`.
#[macro_export]
macro_rules! choice_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
        $vis enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $var),+
        }
        impl $name {
            /// The declared choices, in order (for `Param::choices`).
            pub const NAMES: &'static [&'static str] = &[$($s),+];
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$var => $s),+
                }
            }
        }
        impl $crate::runtime::spec::Choice for $name {
            const ALL: &'static [(Self, &'static str)] = &[$(($name::$var, $s)),+];
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// One parameter. Built with `const fn` so a module's parameter table is a `const`.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub required: bool,
    /// JSON text of the default, e.g. `"true"`, `"300"`, `"\"/opt/LifeKeeper\""`.
    pub default: Option<&'static str>,
    pub choices: &'static [&'static str],
    /// Masked in `invocation` and scrubbed from every output string.
    pub no_log: bool,
    /// For `Int` and `IntList`: the inclusive bounds every value must lie in, checked at
    /// validation, so a module never computes with a value that overflows a duration or a size.
    pub range: Option<(i64, i64)>,
    /// Other names accepted for this parameter (older names kept when options were renamed to
    /// mean the same in every module). Validation maps them to `name`; giving two of the names
    /// at once is an error. `--help` and the ansible-doc sidecar list them.
    pub aliases: &'static [&'static str],
}

impl Param {
    pub const fn new(name: &'static str, kind: Kind, help: &'static str) -> Param {
        Param {
            name,
            kind,
            help,
            required: false,
            default: None,
            choices: &[],
            no_log: false,
            range: None,
            aliases: &[],
        }
    }
    pub const fn required(mut self) -> Param {
        self.required = true;
        self
    }
    pub const fn default(mut self, json: &'static str) -> Param {
        self.default = Some(json);
        self
    }
    pub const fn choices(mut self, c: &'static [&'static str]) -> Param {
        self.choices = c;
        self
    }
    pub const fn no_log(mut self) -> Param {
        self.no_log = true;
        self
    }
    /// Other accepted names (see `aliases`).
    pub const fn aliases(mut self, a: &'static [&'static str]) -> Param {
        self.aliases = a;
        self
    }
    /// Every name this parameter is accepted under: its own, then its aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
    /// Inclusive bounds for an `Int` (or each element of an `IntList`).
    pub const fn range(mut self, min: i64, max: i64) -> Param {
        self.range = Some((min, max));
        self
    }
}

/// How far a module supports check or diff mode, as ansible-doc's `attributes` say it.
#[derive(Clone, Copy, Debug)]
pub enum Support {
    Full,
    Partial,
    None,
}

impl Support {
    fn name(self) -> &'static str {
        match self {
            Support::Full => "full",
            Support::Partial => "partial",
            Support::None => "none",
        }
    }
}

/// One documented return value.
#[derive(Clone, Copy, Debug)]
pub struct Ret {
    pub name: &'static str,
    pub kind: &'static str,
    pub returned: &'static str,
    pub help: &'static str,
    /// JSON text of a sample value.
    pub sample: Option<&'static str>,
}

impl Ret {
    pub const fn new(
        name: &'static str,
        kind: &'static str,
        returned: &'static str,
        help: &'static str,
    ) -> Ret {
        Ret {
            name,
            kind,
            returned,
            help,
            sample: None,
        }
    }
    pub const fn sample(mut self, json: &'static str) -> Ret {
        self.sample = Some(json);
        self
    }
}

#[derive(Debug)]
pub struct ModuleSpec {
    pub name: &'static str,
    pub short: &'static str,
    pub description: &'static [&'static str],
    pub params: &'static [Param],
    pub check_mode: (Support, &'static str),
    pub diff_mode: (Support, &'static str),
    pub notes: &'static [&'static str],
    pub examples: &'static str,
    pub returns: &'static [Ret],
}

/// Parameters every module shares. Declared here once.
pub const LKROOT: Param = Param::new(
    "lkroot",
    Kind::AbsPath,
    "Where LifeKeeper is installed; its commands are run from C(<lkroot>/bin).",
)
.default("\"/opt/LifeKeeper\"");

/// An input problem, naming the parameter when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    pub param: Option<String>,
    pub msg: String,
}

impl ParamError {
    pub fn new(param: &str, msg: impl Into<String>) -> ParamError {
        ParamError {
            param: Some(param.to_string()),
            msg: msg.into(),
        }
    }
}

/// What Ansible says about the run itself (the `_ansible_*` keys we honour).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    pub check_mode: bool,
    pub diff: bool,
    pub no_log: bool,
    pub verbosity: u64,
}

impl ModuleSpec {
    /// The parameter named `name`, or that has `name` as an alias.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .or_else(|| self.params.iter().find(|p| p.aliases.contains(&name)))
    }

    /// Validate and normalise raw input: unknown keys fail (naming the closest valid one), values
    /// are coerced to the declared type (strings from `k=v` become bools, ints, lists), choices are
    /// enforced, required keys checked and defaults filled in. `_ansible_*` keys become `Meta`.
    pub fn validate(
        &self,
        raw: &Map<String, Value>,
    ) -> Result<(Map<String, Value>, Meta), ParamError> {
        let mut meta = Meta::default();
        let mut out = Map::new();
        for (key, value) in raw {
            if let Some(flag) = key.strip_prefix("_ansible_") {
                let on = || coerce_bool(value).unwrap_or(false);
                match flag {
                    "check_mode" => meta.check_mode = on(),
                    "diff" => meta.diff = on(),
                    "no_log" => meta.no_log = on(),
                    "verbosity" => meta.verbosity = value.as_u64().unwrap_or(0),
                    _ => {} // every other _ansible_* key is accepted and ignored
                }
                continue;
            }
            let Some(param) = self.param(key) else {
                return Err(self.unknown_key(key));
            };
            if value.is_null() {
                continue; // Ansible's `omit`/null means "not given"
            }
            // An alias stands for its parameter: the value is validated and returned under the
            // parameter's name, and a second name for the same parameter is refused.
            if let Some(other) = param
                .names()
                .find(|n| *n != key.as_str() && raw.get(*n).is_some_and(|v| !v.is_null()))
            {
                let names = param.names().collect::<Vec<_>>().join(", ");
                return Err(ParamError::new(
                    param.name,
                    format!(
                        "{key} and {other} are the same parameter ({names}): give only one of them"
                    ),
                ));
            }
            let key = &param.name.to_string();
            let v = coerce(param, value)?;
            if !param.choices.is_empty() {
                // A list with choices (Ansible's `elements` + `choices`): each element must be one.
                let bad = match &v {
                    Value::Array(items) => items
                        .iter()
                        .find(|i| !param.choices.contains(&i.as_str().unwrap_or_default())),
                    _ => (!param.choices.contains(&v.as_str().unwrap_or_default())).then_some(&v),
                };
                if let Some(bad) = bad {
                    return Err(ParamError::new(
                        key,
                        format!(
                            "value of {key} must be one of: {}, got: {}",
                            param.choices.join(", "),
                            display(bad)
                        ),
                    ));
                }
            }
            check_range(param, &v)?;
            out.insert(key.clone(), v);
        }
        for param in self.params {
            if out.contains_key(param.name) {
                continue;
            }
            if param.required {
                return Err(ParamError::new(
                    param.name,
                    format!("missing required parameter: {}", param.name),
                ));
            }
            if let Some(d) = param.default {
                let v: Value = serde_json::from_str(d).expect("spec default is valid JSON");
                out.insert(param.name.to_string(), v);
            }
        }
        Ok((out, meta))
    }

    fn unknown_key(&self, key: &str) -> ParamError {
        let valid: Vec<&str> = self.params.iter().flat_map(|p| p.names()).collect();
        // A key more than twice as long as a name is never within the hint's distance of it;
        // skipping those keeps a huge key from costing a huge edit-distance computation.
        let closest = valid
            .iter()
            .filter(|v| key.len() <= 2 * v.len() + 2)
            .map(|v| (levenshtein(key, v), *v))
            .min()
            .filter(|(d, v)| *d <= (v.len().max(key.len()) / 2).max(2))
            .map(|(_, v)| format!(" Did you mean '{v}'?"))
            .unwrap_or_default();
        let key = clip(key);
        ParamError::new(
            &key,
            format!(
                "unsupported parameter: {key}.{closest} Supported parameters: {}.",
                self.params
                    .iter()
                    .map(|p| if p.aliases.is_empty() {
                        p.name.to_string()
                    } else {
                        format!("{} ({})", p.name, p.aliases.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }

    /// Parameter names whose values must never be shown.
    pub fn secret_params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| p.no_log)
    }
}

/// Every integer within the parameter's declared range.
fn check_range(p: &Param, v: &Value) -> Result<(), ParamError> {
    let Some((min, max)) = p.range else {
        return Ok(());
    };
    let values: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    for n in values.into_iter().filter_map(Value::as_i64) {
        if !(min..=max).contains(&n) {
            let what = if p.kind == Kind::IntList {
                format!("each element of {}", p.name)
            } else {
                p.name.to_string()
            };
            return Err(ParamError::new(
                p.name,
                format!("{what} must be between {min} and {max}, got: {n}"),
            ));
        }
    }
    Ok(())
}

/// A value as an error message quotes it (clipped: input is never echoed at length).
fn display(v: &Value) -> String {
    match v {
        Value::String(s) => clip(s).into_owned(),
        other => clip(&super::result::clip_value(other).to_string()).into_owned(),
    }
}

fn type_error(p: &Param, v: &Value) -> ParamError {
    ParamError::new(
        p.name,
        format!(
            "{} must be of type {}{}, got: {}",
            p.name,
            p.kind.ansible_name(),
            p.kind
                .elements()
                .map(|e| format!(" (elements {e})"))
                .unwrap_or_default(),
            display(v)
        ),
    )
}

pub fn coerce_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "y" => Some(true),
            "false" | "no" | "off" | "0" | "n" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn coerce_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn coerce(p: &Param, v: &Value) -> Result<Value, ParamError> {
    let err = || type_error(p, v);
    Ok(match p.kind {
        Kind::Str | Kind::Path | Kind::AbsPath => match v {
            Value::String(s) => {
                if p.kind == Kind::Path && s.contains('\0') {
                    return Err(ParamError::new(
                        p.name,
                        format!("{} contains a NUL byte", p.name),
                    ));
                }
                if p.kind == Kind::AbsPath {
                    check_abs_path(p.name, s)?;
                }
                Value::String(s.clone())
            }
            Value::Number(n) if p.kind == Kind::Str => Value::String(n.to_string()),
            Value::Bool(b) if p.kind == Kind::Str => Value::String(b.to_string()),
            _ => return Err(err()),
        },
        Kind::Bool => Value::Bool(coerce_bool(v).ok_or_else(err)?),
        Kind::Int => Value::from(coerce_int(v).ok_or_else(err)?),
        Kind::List | Kind::IntList => {
            let items: Vec<Value> = match v {
                Value::Array(a) => a.clone(),
                Value::String(s) if s.trim_start().starts_with('[') => {
                    match serde_json::from_str::<Value>(s) {
                        Ok(Value::Array(a)) => a,
                        _ => return Err(err()),
                    }
                }
                Value::String(s) if s.trim().is_empty() => vec![],
                Value::String(s) => s
                    .split(',')
                    .map(|x| Value::String(x.trim().into()))
                    .collect(),
                Value::Number(_) => vec![v.clone()],
                _ => return Err(err()),
            };
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                out.push(if p.kind == Kind::IntList {
                    Value::from(coerce_int(item).ok_or_else(err)?)
                } else {
                    match item {
                        Value::String(s) => Value::String(s.clone()),
                        Value::Number(n) => Value::String(n.to_string()),
                        _ => return Err(err()),
                    }
                });
            }
            Value::Array(out)
        }
        Kind::Dict => match v {
            Value::Object(_) => v.clone(),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(o @ Value::Object(_)) => o,
                _ => return Err(err()),
            },
            _ => return Err(err()),
        },
    })
}

/// The one absolute-path check (`Kind::AbsPath`): one line, no NUL, starting with `/`. Modules
/// call it for paths composed at run time (e.g. a file name joined to a directory parameter).
pub fn check_abs_path(name: &str, s: &str) -> Result<(), ParamError> {
    if s.contains(['\n', '\r', '\0']) {
        return Err(ParamError::new(
            name,
            format!("{name} must not contain a newline or NUL"),
        ));
    }
    if !s.starts_with('/') {
        return Err(ParamError::new(
            name,
            format!("{name} must be an absolute path, got: {s}"),
        ));
    }
    Ok(())
}

/// Edit distance, for "did you mean" hints.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---- documentation rendered from the spec -------------------------------------------------

impl ModuleSpec {
    /// The ansible-doc sidecar (`modules/<name>.yml`) as a YAML document.
    pub fn sidecar_yaml(&self) -> String {
        let mut options = Map::new();
        for p in self.params {
            let mut o = Map::new();
            o.insert("description".into(), split_sentences(p.help));
            o.insert("type".into(), p.kind.ansible_name().into());
            if let Some(e) = p.kind.elements() {
                o.insert("elements".into(), e.into());
            }
            if !p.aliases.is_empty() {
                o.insert(
                    "aliases".into(),
                    p.aliases.iter().map(|a| Value::from(*a)).collect(),
                );
            }
            if p.required {
                o.insert("required".into(), true.into());
            }
            if let Some(d) = p.default {
                o.insert(
                    "default".into(),
                    serde_json::from_str(d).expect("valid default"),
                );
            }
            if !p.choices.is_empty() {
                o.insert(
                    "choices".into(),
                    p.choices.iter().map(|c| Value::from(*c)).collect(),
                );
            }
            // `no_log` is not a documentation key (ansible-test validate-modules refuses it): the
            // secret options are named in a comment line of the sidecar instead (below).
            options.insert(p.name.into(), Value::Object(o));
        }
        let attr = |(s, d): (Support, &str)| {
            let mut m = Map::new();
            m.insert("support".into(), s.name().into());
            m.insert("description".into(), d.into());
            Value::Object(m)
        };
        let mut attributes = Map::new();
        attributes.insert("check_mode".into(), attr(self.check_mode));
        attributes.insert("diff_mode".into(), attr(self.diff_mode));
        attributes.insert(
            "platform".into(),
            serde_json::json!({"support": "full", "platforms": "posix",
                "description": "Runs on the cluster node itself; a static binary module, no Python needed on the target."}),
        );
        let mut doc = Map::new();
        doc.insert("module".into(), self.name.into());
        doc.insert("short_description".into(), self.short.into());
        doc.insert("version_added".into(), env!("CARGO_PKG_VERSION").into());
        doc.insert(
            "description".into(),
            self.description.iter().map(|d| Value::from(*d)).collect(),
        );
        doc.insert(
            "author".into(),
            // ansible-doc's author format: "Name (@github-handle)".
            vec![Value::from("lkops maintainers (@lkops)")].into(),
        );
        doc.insert("options".into(), Value::Object(options));
        doc.insert("attributes".into(), Value::Object(attributes));
        if !self.notes.is_empty() {
            doc.insert(
                "notes".into(),
                self.notes.iter().map(|d| Value::from(*d)).collect(),
            );
        }
        let mut ret = Map::new();
        for r in self.returns {
            let mut o = Map::new();
            o.insert("description".into(), r.help.into());
            o.insert("returned".into(), r.returned.into());
            o.insert("type".into(), r.kind.into());
            if let Some(s) = r.sample {
                o.insert(
                    "sample".into(),
                    serde_json::from_str(s).expect("valid sample"),
                );
            }
            ret.insert(r.name.into(), Value::Object(o));
        }
        let own = |name: &str| self.params.iter().any(|p| p.name == name);
        let doc = foreign_options_as_code(Value::Object(doc), &own);
        let ret = foreign_options_as_code(Value::Object(ret), &own);
        let (Value::Object(doc), Value::Object(ret)) = (doc, ret) else {
            unreachable!("maps stay maps")
        };
        let mut out = String::new();
        out.push_str(&format!(
            "# Generated by `{} --doc` from the parameter declaration in src/modules/. Do not edit.\n",
            self.name
        ));
        let secret: Vec<&str> = self.secret_params().map(|p| p.name).collect();
        if !secret.is_empty() {
            // Read by the collection's action plugins (plugins/plugin_utils/lk_action.py).
            out.push_str(&format!("# lkops-no-log: {}\n", secret.join(" ")));
        }
        out.push_str("DOCUMENTATION:\n");
        super::yaml::emit_map(&doc, 2, &mut out);
        out.push_str("EXAMPLES: |\n");
        for line in self.examples.trim_matches('\n').lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str("RETURN:\n");
        super::yaml::emit_map(&ret, 2, &mut out);
        out
    }

    /// `--help` text for people.
    pub fn help_text(&self) -> String {
        let mut s = format!("{} — {}\n\n", self.name, self.short);
        for d in self.description {
            s.push_str(&wrap(d, 0));
        }
        s.push_str(&format!(
            "\nUsage:\n  {n} ARGS_FILE                      (Ansible: a file holding one JSON object)\n  {n} -                              (one JSON object on stdin)\n  {n} [--check] [--diff] key=value ... (people; values are coerced by type)\n  {n} [--check] [--diff] --args JSON\n  {n} ... --human                   (a unified diff and one outcome line instead of JSON;\n                                     also with --diff when stdout is a terminal)\n  {n} --doc                          (ansible-doc sidecar YAML)\n\nParameters:\n",
            n = self.name
        ));
        for p in self.params {
            let mut head = format!("  {} ({}", p.name, p.kind.ansible_name());
            if let Some(e) = p.kind.elements() {
                head.push_str(&format!(" of {e}"));
            }
            if p.required {
                head.push_str(", required");
            }
            if let Some(d) = p.default {
                head.push_str(&format!(", default {d}"));
            }
            if !p.choices.is_empty() {
                head.push_str(&format!(", one of {}", p.choices.join("|")));
            }
            if let Some((min, max)) = p.range {
                head.push_str(&format!(", {min} to {max}"));
            }
            if !p.aliases.is_empty() {
                head.push_str(&format!(", alias {}", p.aliases.join("|")));
            }
            if p.no_log {
                head.push_str(", secret");
            }
            head.push_str(")\n");
            s.push_str(&head);
            s.push_str(&wrap(p.help, 6));
        }
        s.push_str(
            "\nOutput: one JSON object on stdout (changed, failed, msg, comment, diff, ...); exit 0 on success, 1 on failure.\n",
        );
        s
    }
}

/// `O(name)` in documentation text must name an option of the documented module (ansible-doc
/// links it; validate-modules refuses others): a reference to another module's option, such as
/// lk_preflight's mention of lk_upgrade's `restore_config`, is rendered as code, `C(name)`.
fn foreign_options_as_code(v: Value, own: &dyn Fn(&str) -> bool) -> Value {
    match v {
        Value::String(t) => {
            let mut out = String::with_capacity(t.len());
            let mut rest = t.as_str();
            while let Some(at) = rest.find("O(") {
                let (before, from) = rest.split_at(at);
                out.push_str(before);
                let Some(end) = from.find(')') else {
                    out.push_str(from);
                    rest = "";
                    break;
                };
                let inner = &from[2..end];
                let name = inner.split(['=', '.', '[']).next().unwrap_or_default();
                out.push_str(if own(name) { "O(" } else { "C(" });
                out.push_str(inner);
                out.push(')');
                rest = &from[end + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|x| foreign_options_as_code(x, own))
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (k, foreign_options_as_code(x, own)))
                .collect(),
        ),
        other => other,
    }
}

fn split_sentences(text: &str) -> Value {
    Value::Array(
        text.split(". ")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.ends_with('.') || s.ends_with(')') && s.contains('.') {
                    Value::from(s)
                } else {
                    Value::from(format!("{s}."))
                }
            })
            .collect(),
    )
}

/// Ansible doc markup (`C(code)`, `I(option)`, `B(bold)`) as plain text, for `--help`.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['C', 'I', 'B']) {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let boundary = out.chars().last().is_none_or(|c| !c.is_alphanumeric());
        match (boundary && tail[1..].starts_with('('), tail.find(')')) {
            (true, Some(close)) => {
                out.push_str(&tail[2..close]);
                rest = &tail[close + 1..];
            }
            _ => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn wrap(text: &str, indent: usize) -> String {
    let text = plain(text);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + word.len() + 1 > 96 {
            out.push_str(&" ".repeat(indent));
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&" ".repeat(indent));
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PARAMS: &[Param] = &[
        Param::new("path", Kind::Path, "A path.").required(),
        Param::new("count", Kind::Int, "A count.")
            .default("5")
            .range(0, 100),
        Param::new("flag", Kind::Bool, "A flag.").default("false"),
        Param::new("tags", Kind::List, "Tags."),
        Param::new("ports", Kind::IntList, "Ports.").range(1, 65535),
        Param::new("state", Kind::Str, "State.")
            .choices(&["present", "absent"])
            .default("\"present\""),
        Param::new("secret", Kind::Str, "Secret.").no_log(),
        Param::new("backup_dir", Kind::AbsPath, "Backups.").aliases(&["dest", "folder"]),
    ];
    const SPEC: ModuleSpec = ModuleSpec {
        name: "lk_test",
        short: "test",
        description: &["A test module."],
        params: PARAMS,
        check_mode: (Support::Full, "yes"),
        diff_mode: (Support::None, "no"),
        notes: &[],
        examples: "- lk_test: {}\n",
        returns: &[],
    };

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn an_alias_is_validated_and_returned_as_its_parameter_and_two_names_are_refused() {
        for key in ["backup_dir", "dest", "folder"] {
            let (p, _) = SPEC
                .validate(&obj(json!({"path": "/x", key: "/b"})))
                .unwrap();
            assert_eq!(p["backup_dir"], "/b", "{key}");
            assert!(!p.contains_key("dest") && !p.contains_key("folder"));
        }
        // The alias is checked as the parameter (an AbsPath), and the error names the parameter.
        let e = SPEC
            .validate(&obj(json!({"path": "/x", "dest": "rel"})))
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("backup_dir"), "{e:?}");
        for both in [
            json!({"path": "/x", "backup_dir": "/a", "dest": "/b"}),
            json!({"path": "/x", "dest": "/a", "folder": "/a"}),
        ] {
            let e = SPEC.validate(&obj(both.clone())).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("backup_dir"), "{both}: {e:?}");
            assert!(
                e.msg
                    .contains("are the same parameter (backup_dir, dest, folder)"),
                "{e:?}"
            );
        }
        // null (omit) under one name is "not given", so no conflict.
        let (p, _) = SPEC
            .validate(&obj(
                json!({"path": "/x", "backup_dir": "/a", "dest": null}),
            ))
            .unwrap();
        assert_eq!(p["backup_dir"], "/a");
        assert!(SPEC
            .help_text()
            .contains("backup_dir (path, alias dest|folder)"));
        assert!(
            SPEC.sidecar_yaml().contains("aliases:"),
            "{}",
            SPEC.sidecar_yaml()
        );
        let e = SPEC
            .validate(&obj(json!({"path": "/x", "dst": "/a"})))
            .unwrap_err();
        assert!(e.msg.contains("backup_dir (dest, folder)"), "{e:?}");
    }

    #[test]
    fn strings_from_key_value_form_are_coerced_by_declared_type() {
        let (p, _) = SPEC
            .validate(&obj(json!({"path": "/x", "count": "7", "flag": "yes", "tags": "a, b", "ports": "[1,2]"})))
            .unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"path": "/x", "count": 7, "flag": true, "tags": ["a", "b"], "ports": [1, 2], "state": "present"})
        );
    }

    #[test]
    fn unknown_key_names_the_closest_valid_one() {
        let e = SPEC
            .validate(&obj(json!({"path": "/x", "cuont": 1})))
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("cuont"));
        assert!(e.msg.contains("Did you mean 'count'?"), "{}", e.msg);
        assert!(
            e.msg.contains("Supported parameters: path, count"),
            "{}",
            e.msg
        );
    }

    #[test]
    fn ansible_keys_are_meta_not_params() {
        let (_, m) = SPEC
            .validate(&obj(
                json!({"path": "/x", "_ansible_check_mode": true, "_ansible_diff": true,
                "_ansible_verbosity": 2, "_ansible_future_key": [1]}),
            ))
            .unwrap();
        assert_eq!(
            m,
            Meta {
                check_mode: true,
                diff: true,
                no_log: false,
                verbosity: 2
            }
        );
    }

    #[test]
    fn wrong_type_missing_and_bad_choice_name_the_parameter() {
        let e = SPEC
            .validate(&obj(json!({"path": "/x", "count": "many"})))
            .unwrap_err();
        assert_eq!(e.msg, "count must be of type int, got: many");
        let e = SPEC.validate(&obj(json!({}))).unwrap_err();
        assert_eq!(e.msg, "missing required parameter: path");
        let e = SPEC
            .validate(&obj(json!({"path": "/x", "state": "gone"})))
            .unwrap_err();
        assert_eq!(
            e.msg,
            "value of state must be one of: present, absent, got: gone"
        );
        let e = SPEC
            .validate(&obj(json!({"path": "/x", "ports": ["a"]})))
            .unwrap_err();
        assert_eq!(
            e.msg,
            "ports must be of type list (elements int), got: [\"a\"]"
        );
    }

    /// Defect 11 (issue 22): integers were taken whatever their size, and overflowed later.
    #[test]
    fn integer_parameters_outside_their_declared_range_are_refused() {
        for (args, msg) in [
            (
                json!({"path": "/x", "count": 9223372036854775807i64}),
                "count must be between 0 and 100, got: 9223372036854775807",
            ),
            (
                json!({"path": "/x", "count": "-1"}),
                "count must be between 0 and 100, got: -1",
            ),
            (
                json!({"path": "/x", "ports": [80, 0]}),
                "each element of ports must be between 1 and 65535, got: 0",
            ),
        ] {
            let e = SPEC.validate(&obj(args)).unwrap_err();
            assert_eq!(e.msg, msg);
        }
        let (p, _) = SPEC
            .validate(&obj(
                json!({"path": "/x", "count": 100, "ports": [1, 65535]}),
            ))
            .unwrap();
        assert_eq!(p["count"], 100);
    }

    #[test]
    fn null_means_not_given() {
        let (p, _) = SPEC
            .validate(&obj(json!({"path": "/x", "count": null})))
            .unwrap();
        assert_eq!(p["count"], json!(5));
    }

    #[test]
    fn help_text_drops_ansible_markup() {
        assert_eq!(
            plain("Run C(setup -f FILE) with I(version). ICMP, BC(x)"),
            "Run setup -f FILE with version. ICMP, BC(x)"
        );
    }

    crate::choice_enum! {
        enum Mode { Fast = "fast", SlowAndSteady = "slow_and_steady" }
    }

    #[test]
    fn choice_enum_names_serde_and_display_come_from_one_list() {
        assert_eq!(Mode::NAMES, &["fast", "slow_and_steady"]);
        assert_eq!(
            serde_json::from_value::<Mode>(json!("slow_and_steady")).unwrap(),
            Mode::SlowAndSteady
        );
        assert_eq!(serde_json::to_value(Mode::Fast).unwrap(), json!("fast"));
        assert_eq!(Mode::SlowAndSteady.to_string(), "slow_and_steady");
        assert_eq!(Mode::from_name("fast"), Some(Mode::Fast));
        assert_eq!(Mode::Fast.name(), "fast");
        for (v, n) in Mode::ALL {
            assert_eq!(v.as_str(), *n);
        }
    }

    #[test]
    fn abs_path_kind_refuses_relative_and_multi_line_paths() {
        const P: &[Param] = &[Param::new("dir", Kind::AbsPath, "A directory.")];
        let spec = ModuleSpec { params: P, ..SPEC };
        let ok = spec.validate(&obj(json!({"dir": "/var/x"}))).unwrap().0;
        assert_eq!(ok["dir"], json!("/var/x"));
        let e = spec.validate(&obj(json!({"dir": "var/x"}))).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("dir"));
        assert_eq!(e.msg, "dir must be an absolute path, got: var/x");
        let e = spec.validate(&obj(json!({"dir": "-rf"}))).unwrap_err();
        assert_eq!(e.msg, "dir must be an absolute path, got: -rf");
        let e = spec.validate(&obj(json!({"dir": "/a\nb"}))).unwrap_err();
        assert_eq!(e.msg, "dir must not contain a newline or NUL");
        assert_eq!(Kind::AbsPath.ansible_name(), "path");
    }

    /// Regression (issue 21): lk_preflight's docs wrote O(restore_config), an option of
    /// lk_upgrade; ansible-test refused the reference to a non-existing option.
    #[test]
    fn option_references_to_other_modules_render_as_code() {
        let own = |n: &str| n == "dest";
        let v = foreign_options_as_code(
            json!(["O(dest) and O(dest=/x), not O(restore_config); O(unclosed"]),
            &own,
        );
        assert_eq!(
            v,
            json!(["O(dest) and O(dest=/x), not C(restore_config); O(unclosed"])
        );
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
    }
}

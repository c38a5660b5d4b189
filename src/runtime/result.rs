//! What a module returns, and how it becomes the one JSON object on stdout.

use serde_json::{Map, Value};
use std::borrow::Cow;

/// The most characters of one piece of input (a key, a value, a line) that a message echoes.
pub const ECHO_MAX: usize = 200;

/// The most characters of a message (`msg`, `comment`, each warning) in a result.
pub const MSG_MAX: usize = 8192;
/// The most characters of one string, and elements of one list or dict, echoed in `invocation`.
pub const ARG_MAX: usize = 4096;
pub const ARG_ITEMS_MAX: usize = 1000;

/// `s` itself when short; else its first [`ECHO_MAX`] characters and how long it was. Every
/// message that quotes input goes through this, so a huge argument is never echoed back whole.
pub fn clip(s: &str) -> Cow<'_, str> {
    clip_to(s, ECHO_MAX)
}

/// [`clip`] with another limit.
pub fn clip_to(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((i, _)) => Cow::Owned(format!("{}... ({} bytes in all)", &s[..i], s.len())),
    }
}

/// A copy of an input value fit to echo back: strings clipped to [`ARG_MAX`] characters, lists
/// and dicts to [`ARG_ITEMS_MAX`] elements (the rest replaced by one string saying how many).
pub fn clip_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(clip_to(s, ARG_MAX).into_owned()),
        Value::Array(a) => {
            let mut out: Vec<Value> = a.iter().take(ARG_ITEMS_MAX).map(clip_value).collect();
            if a.len() > ARG_ITEMS_MAX {
                out.push(Value::from(format!("... ({} elements in all)", a.len())));
            }
            Value::Array(out)
        }
        Value::Object(o) => {
            let mut out: Map<String, Value> = o
                .iter()
                .take(ARG_ITEMS_MAX)
                .map(|(k, v)| (clip_to(k, ARG_MAX).into_owned(), clip_value(v)))
                .collect();
            if o.len() > ARG_ITEMS_MAX {
                out.insert(
                    "...".into(),
                    Value::from(format!("{} keys in all", o.len())),
                );
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// A successful run: whether anything changed (or, in check mode, would change), a message, the
/// diff (emitted only in diff mode, only when changed), warnings and module data.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub changed: bool,
    pub msg: String,
    pub diff: Option<Value>,
    pub warnings: Vec<String>,
    pub data: Map<String, Value>,
}

impl Outcome {
    pub fn new(changed: bool, msg: impl Into<String>) -> Outcome {
        Outcome {
            changed,
            msg: msg.into(),
            ..Outcome::default()
        }
    }
    /// Add a module data key (builder style).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Outcome {
        self.data.insert(key.to_string(), value.into());
        self
    }
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.data.insert(key.to_string(), value.into());
    }
    pub fn diff(mut self, diff: Option<Value>) -> Outcome {
        self.diff = diff;
        self
    }
    pub fn warn(&mut self, w: impl Into<String>) {
        self.warnings.push(w.into());
    }
}

/// A failed run. `data` carries what helps the operator (cmd, rc, stderr tail, states...).
/// `changed` is true when the module got part-way (e.g. a resumable upgrade).
#[derive(Debug, Default, Clone)]
pub struct Failure {
    pub msg: String,
    pub changed: bool,
    pub data: Map<String, Value>,
}

impl Failure {
    pub fn new(msg: impl Into<String>) -> Failure {
        Failure {
            msg: msg.into(),
            ..Failure::default()
        }
    }
    /// A bad parameter value: the message names the parameter.
    pub fn param(name: &str, msg: impl Into<String>) -> Failure {
        Failure::new(msg).with("invalid_parameter", name)
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Failure {
        self.data.insert(key.to_string(), value.into());
        self
    }
    pub fn changed(mut self, changed: bool) -> Failure {
        self.changed = changed;
        self
    }
}

impl From<super::spec::ParamError> for Failure {
    fn from(e: super::spec::ParamError) -> Failure {
        let mut f = Failure::new(e.msg);
        if let Some(p) = e.param {
            f = f.with("invalid_parameter", p);
        }
        f
    }
}

/// Build the final JSON object. `invocation` holds the (masked) module args.
pub fn render(
    result: &Result<Outcome, Failure>,
    want_diff: bool,
    invocation: Option<Value>,
) -> Value {
    let mut out = Map::new();
    match result {
        Ok(o) => {
            out.extend(o.data.clone());
            out.insert("changed".into(), o.changed.into());
            out.insert("failed".into(), false.into());
            out.insert("msg".into(), o.msg.clone().into());
            out.insert("comment".into(), o.msg.clone().into());
            if want_diff && o.changed {
                if let Some(d) = &o.diff {
                    out.insert("diff".into(), d.clone());
                }
            }
            if !o.warnings.is_empty() {
                out.insert("warnings".into(), o.warnings.clone().into());
            }
        }
        Err(f) => {
            out.extend(f.data.clone());
            out.insert("changed".into(), f.changed.into());
            out.insert("failed".into(), true.into());
            out.insert("msg".into(), f.msg.clone().into());
            out.insert("comment".into(), f.msg.clone().into());
        }
    }
    // Messages quote input (paths, keys, values, command output): however a module built them,
    // none is echoed back at length.
    for key in ["msg", "comment"] {
        if let Some(Value::String(s)) = out.get_mut(key) {
            if let Cow::Owned(c) = clip_to(s, MSG_MAX) {
                *s = c;
            }
        }
    }
    if let Some(Value::Array(ws)) = out.get_mut("warnings") {
        for w in ws.iter_mut() {
            if let Value::String(s) = w {
                if let Cow::Owned(c) = clip_to(s, MSG_MAX) {
                    *s = c;
                }
            }
        }
    }
    if let Some(Value::String(s)) = out.get_mut("invalid_parameter") {
        if let Cow::Owned(c) = clip(s) {
            *s = c;
        }
    }
    if let Some(inv) = invocation {
        out.insert("invocation".into(), inv);
    }
    Value::Object(out)
}

/// Replace every occurrence of a secret in every string of `v` (Ansible's `remove_values`).
pub fn scrub(v: &mut Value, secrets: &[String]) {
    if secrets.is_empty() {
        return;
    }
    match v {
        Value::String(s) => {
            for secret in secrets {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), "********");
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, secrets)),
        Value::Object(o) => o.values_mut().for_each(|x| scrub(x, secrets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(ECHO_MAX + 5);
        let c = clip(&long);
        assert!(c.starts_with(&"é".repeat(ECHO_MAX)));
        assert!(c.ends_with(&format!("... ({} bytes in all)", long.len())));
        let v = clip_value(&json!({"k": "x".repeat(ARG_MAX + 1), "l": vec![1; ARG_ITEMS_MAX + 1]}));
        assert!(v["k"].as_str().unwrap().len() < ARG_MAX + 40);
        assert_eq!(v["l"].as_array().unwrap().len(), ARG_ITEMS_MAX + 1);
        assert_eq!(
            v["l"][ARG_ITEMS_MAX],
            format!("... ({} elements in all)", ARG_ITEMS_MAX + 1)
        );
    }
}

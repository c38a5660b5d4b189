//! Pinning a whole JSON result: one redactor that replaces what differs from run to run by a
//! named placeholder, and `assert_pinned`, which shows a line diff of the two results on a
//! mismatch (a pinned result is dozens of lines; "left != right" on one line is unreadable).
//!
//! A placeholder says what it stands for. The standard names are the constants below; a test
//! whose pinned text predates them names its own (`<DIR>`, `<cluster>`, `<media>`), so that every
//! pinned result stays byte-identical. A rule only replaces what it matches, so a value that is
//! not what the rule expects (a sha256 that is not 64 hex digits, a missing stamp) stays in the
//! result and fails the comparison.
#![allow(dead_code)]

use serde_json::{Map, Value};
use std::path::Path;

/// A scratch directory (a path under target/).
pub const TMP: &str = "<TMP>";
/// A 64-digit lower-case hex sha256.
pub const SHA256: &str = "<SHA256>";
/// A UTC time stamp `YYYYMMDDThhmmssZ` (with its `_N` collision suffix, if any).
pub const STAMP: &str = "<STAMP>";
/// An RFC 3339 time `YYYY-MM-DDThh:mm:ss` (fraction and zone included).
pub const TIME: &str = "<TIME>";
/// A process id.
pub const PID: &str = "<PID>";
/// Any value of a key (a size, a fingerprint): the key must be there, its value is not pinned.
pub const REDACTED: &str = "<redacted>";

#[derive(Debug, Clone)]
enum Rule {
    /// Every occurrence of a text (a path), in every string and object key.
    Text(String, String),
    /// `YYYYMMDDThhmmssZ`, and the `_N` suffix that depends on the second the run lands in.
    Stamp(String),
    /// `YYYY-MM-DDThh:mm:ss[.frac][Z|+hh:mm]`.
    Time(String),
    /// A run of exactly 64 lower-case hex digits.
    Sha256(String),
    /// The run of digits right after `prefix` (`setup-<pid>.conf`).
    DigitsAfter(String, String),
    /// Exactly `n` digits right after `prefix` (lkbackup's `archive.<YYMMDDhhmm>`).
    NDigitsAfter(String, usize, String),
    /// The value of a key at any depth, when it is not null.
    Key(String, String),
    /// The value of a top-level key, when the key is there.
    TopKey(String, String),
    /// A top-level key removed.
    DropTopKey(String),
}

/// The rules, applied in the order they were added, to every string and object key of a result.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    rules: Vec<Rule>,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }
    /// `path` (as text) -> `placeholder`. Add the longer of two nested paths first.
    pub fn path(self, path: &Path, placeholder: &str) -> Redactor {
        self.text(path.to_str().unwrap(), placeholder)
    }
    pub fn text(mut self, text: &str, placeholder: &str) -> Redactor {
        assert!(!text.is_empty(), "an empty text would match everywhere");
        self.rules
            .push(Rule::Text(text.to_string(), placeholder.to_string()));
        self
    }
    /// The scratch root (target/<profile>/scratch) -> `<TMP>`.
    pub fn tmp(self) -> Redactor {
        let root = super::bin_dir().join("scratch");
        self.path(&root, TMP)
    }
    pub fn stamps(mut self, placeholder: &str) -> Redactor {
        self.rules.push(Rule::Stamp(placeholder.to_string()));
        self
    }
    pub fn times(mut self) -> Redactor {
        self.rules.push(Rule::Time(TIME.to_string()));
        self
    }
    pub fn sha256s(mut self) -> Redactor {
        self.rules.push(Rule::Sha256(SHA256.to_string()));
        self
    }
    pub fn digits_after(mut self, prefix: &str, placeholder: &str) -> Redactor {
        self.rules.push(Rule::DigitsAfter(
            prefix.to_string(),
            placeholder.to_string(),
        ));
        self
    }
    pub fn n_digits_after(mut self, prefix: &str, n: usize, placeholder: &str) -> Redactor {
        self.rules.push(Rule::NDigitsAfter(
            prefix.to_string(),
            n,
            placeholder.to_string(),
        ));
        self
    }
    pub fn key(mut self, key: &str, placeholder: &str) -> Redactor {
        self.rules
            .push(Rule::Key(key.to_string(), placeholder.to_string()));
        self
    }
    pub fn top_key(mut self, key: &str, placeholder: &str) -> Redactor {
        self.rules
            .push(Rule::TopKey(key.to_string(), placeholder.to_string()));
        self
    }
    pub fn drop_top_key(mut self, key: &str) -> Redactor {
        self.rules.push(Rule::DropTopKey(key.to_string()));
        self
    }

    /// The redacted copy of `v`.
    pub fn apply(&self, v: &Value) -> Value {
        let mut v = self.walk(v);
        if let Some(o) = v.as_object_mut() {
            for r in &self.rules {
                match r {
                    Rule::TopKey(k, with) if o.contains_key(k) => {
                        o.insert(k.clone(), Value::String(with.clone()));
                    }
                    Rule::DropTopKey(k) => {
                        o.remove(k);
                    }
                    _ => {}
                }
            }
        }
        v
    }

    fn walk(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.string(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.walk(x)).collect()),
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, x) in o {
                    let keyed = self.rules.iter().find_map(|r| match r {
                        Rule::Key(name, with) if name == k && !x.is_null() => Some(with),
                        _ => None,
                    });
                    let x = match keyed {
                        Some(with) => Value::String(with.clone()),
                        None => self.walk(x),
                    };
                    out.insert(self.string(k), x);
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    /// The text rules, in order, on one string.
    pub fn string(&self, s: &str) -> String {
        let mut t = s.to_string();
        for r in &self.rules {
            t = match r {
                Rule::Text(find, with) => t.replace(find.as_str(), with),
                Rule::Stamp(with) => scan(&t, with, stamp_len),
                Rule::Time(with) => scan(&t, with, time_len),
                Rule::Sha256(with) => scan(&t, with, sha256_len),
                Rule::DigitsAfter(prefix, with) => after(&t, prefix, with, None),
                Rule::NDigitsAfter(prefix, n, with) => after(&t, prefix, with, Some(*n)),
                Rule::Key(..) | Rule::TopKey(..) | Rule::DropTopKey(..) => t,
            };
        }
        t
    }
}

/// Replace every match of `len_at` (the length of a match starting at a byte, or None).
fn scan(s: &str, with: &str, len_at: fn(&[u8], usize) -> Option<usize>) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        match len_at(b, i) {
            Some(n) => {
                out.push_str(&s[copied..i]);
                out.push_str(with);
                i += n;
                copied = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&s[copied..]);
    out
}

fn digits(b: &[u8], from: usize) -> usize {
    b.get(from..)
        .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
}

fn all_digits(b: &[u8], from: usize, n: usize) -> bool {
    b.get(from..from + n)
        .is_some_and(|r| r.iter().all(u8::is_ascii_digit))
}

fn stamp_len(b: &[u8], i: usize) -> Option<usize> {
    let is_stamp = all_digits(b, i, 8)
        && b.get(i + 8) == Some(&b'T')
        && all_digits(b, i + 9, 6)
        && b.get(i + 15) == Some(&b'Z');
    if !is_stamp {
        return None;
    }
    let suffix = match b.get(i + 16) {
        Some(b'_') if digits(b, i + 17) > 0 => 1 + digits(b, i + 17),
        _ => 0,
    };
    Some(16 + suffix)
}

fn time_len(b: &[u8], i: usize) -> Option<usize> {
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let ok = shape
        .iter()
        .enumerate()
        .all(|(k, c)| match (c, b.get(i + k)) {
            (b'd', Some(x)) => x.is_ascii_digit(),
            (c, Some(x)) => c == x,
            _ => false,
        });
    if !ok {
        return None;
    }
    let mut n = shape.len();
    if b.get(i + n) == Some(&b'.') && digits(b, i + n + 1) > 0 {
        n += 1 + digits(b, i + n + 1);
    }
    match b.get(i + n) {
        Some(b'Z') => n += 1,
        Some(b'+' | b'-') if all_digits(b, i + n + 1, 2) && b.get(i + n + 3) == Some(&b':') => {
            n += 6
        }
        _ => {}
    }
    Some(n)
}

fn sha256_len(b: &[u8], i: usize) -> Option<usize> {
    let hex = |x: &u8| x.is_ascii_digit() || (b'a'..=b'f').contains(x);
    let before_ok = i == 0 || !hex(&b[i - 1]);
    let run = b[i..].iter().take_while(|x| hex(x)).count();
    (before_ok && run == 64).then_some(64)
}

fn after(s: &str, prefix: &str, with: &str, n: Option<usize>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(prefix) {
        out.push_str(&rest[..i + prefix.len()]);
        rest = &rest[i + prefix.len()..];
        let run = digits(rest.as_bytes(), 0);
        let take = match n {
            Some(n) if all_digits(rest.as_bytes(), 0, n) => n,
            Some(_) => 0,
            None => run,
        };
        if take > 0 {
            out.push_str(with);
            rest = &rest[take..];
        }
    }
    out.push_str(rest);
    out
}

/// `actual == expected`, else a panic showing a unified line diff of the two pretty-printed
/// results (`-` expected, `+` actual) and then the whole actual result.
pub fn assert_pinned(actual: &Value, expected: &Value) {
    if actual == expected {
        return;
    }
    let (a, e) = (pretty(actual), pretty(expected));
    let diff = similar::TextDiff::from_lines(&e, &a);
    panic!(
        "the result differs from the pinned one (- pinned, + actual):\n{}\nactual: {a}",
        diff.unified_diff()
            .context_radius(3)
            .header("pinned", "actual")
    );
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

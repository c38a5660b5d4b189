//! A minimal block-style YAML writer for the ansible-doc sidecars.
//!
//! Scalars are written as JSON (a JSON string is a valid YAML double-quoted scalar), so no value
//! can be misread as another type; structure is written in block style so people can read it.

use serde_json::{Map, Value};

fn scalar(v: &Value) -> String {
    match v {
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

/// Longest sidecar line wanted: yamllint (as ansible-lint runs it on a collection) allows 160.
const WIDTH: usize = 120;

/// `scalar`, with a long string folded over several lines (indented `indent`) so that no line
/// passes WIDTH when it starts at column `col`. A line break inside a YAML double-quoted scalar
/// reads back as one space, so it only replaces a single space between two non-space characters
/// (never one inside an escape: JSON has no escape containing a space).
fn scalar_at(v: &Value, col: usize, indent: usize) -> String {
    let text = scalar(v);
    if !v.is_string() || col + text.len() <= WIDTH {
        return text;
    }
    let b = text.as_bytes();
    let mut out = String::new();
    let (mut start, mut room, mut space) = (0, WIDTH.saturating_sub(col), None);
    let cut = |out: &mut String, start: &mut usize, at: usize| {
        out.push_str(&text[*start..at]);
        out.push('\n');
        out.push_str(&" ".repeat(indent));
        *start = at + 1;
    };
    for i in 1..b.len() - 1 {
        if b[i] == b' ' && b[i - 1] != b' ' && b[i + 1] != b' ' {
            if let Some(at) = space.filter(|&at| at > start && i - start > room) {
                cut(&mut out, &mut start, at);
                room = WIDTH.saturating_sub(indent);
            }
            space = Some(i);
        }
    }
    if let Some(at) = space.filter(|&at| at > start && b.len() - start > room) {
        cut(&mut out, &mut start, at);
    }
    out.push_str(&text[start..]);
    out
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty()) || matches!(v, Value::Object(o) if !o.is_empty())
}

/// A mapping key as written: plain when YAML reads it back as that same string, else quoted
/// (a key `0` read back as the integer 0, which made lk_preflight's datakeeper_ports sample a
/// dict with an int key; `yes`, `null`, ... would turn into booleans and nulls).
fn key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain {
        k.to_string()
    } else {
        Value::from(k).to_string()
    }
}

pub fn emit_map(m: &Map<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in m {
        let k = &key(k);
        if is_block(v) {
            out.push_str(&format!("{pad}{k}:\n"));
            emit(v, indent + 2, out);
        } else {
            out.push_str(&format!(
                "{pad}{k}: {}\n",
                scalar_at(v, indent + k.len() + 2, indent + 2)
            ));
        }
    }
}

pub fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => emit_map(m, indent, out),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(m) = item {
                    if !m.is_empty() {
                        // The first key shares the line with the dash.
                        let mut inner = String::new();
                        emit_map(m, indent + 2, &mut inner);
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(&inner[indent + 2..]);
                        continue;
                    }
                }
                if is_block(item) {
                    out.push_str(&format!("{pad}-\n"));
                    emit(item, indent + 2, out);
                } else {
                    out.push_str(&format!(
                        "{pad}- {}\n",
                        scalar_at(item, indent + 2, indent + 2)
                    ));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Regression (issue 21): one-line descriptions of 200-330 characters failed ansible-lint's
    /// yamllint line-length (160) on the installed collection.
    #[test]
    fn long_strings_fold_under_the_width_and_read_back_unchanged() {
        let long = "word ".repeat(60) + "end \"quoted\" back\\slash  two spaces";
        let v = json!({"description": [long.clone()], "short": long.clone()});
        let mut out = String::new();
        emit(&v, 2, &mut out);
        assert!(out.lines().count() > 4, "{out}");
        for line in out.lines() {
            assert!(line.len() <= WIDTH, "{} chars: {line}", line.len());
        }
        // Folded lines join back with one space: the same string as the JSON value.
        let joined: String = out.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        let expect = format!("description: - {0} short: {0}", json!(long));
        assert_eq!(joined, expect);
    }

    /// Regression (issue 21): lk_preflight's datakeeper_ports sample `{"0": 10257}` was written
    /// `0: 10257`, an integer key, and ansible-test refused the sample's type.
    #[test]
    fn keys_yaml_would_read_as_other_types_are_quoted() {
        let v = json!({"0": 1, "yes": 2, "Null": 3, "lk_x": 4, "LK-VERSION-PATH": 5, "a b": 6});
        let mut out = String::new();
        emit(&v, 0, &mut out);
        assert_eq!(
            out,
            "\"0\": 1\nLK-VERSION-PATH: 5\n\"Null\": 3\n\"a b\": 6\nlk_x: 4\n\"yes\": 2\n"
        );
    }

    #[test]
    fn nested_maps_and_lists_render_in_block_style() {
        let v = json!({"a": {"b": [1, "x: y"], "c": []}, "d": [{"e": true, "f": null}]});
        let mut out = String::new();
        emit(&v, 0, &mut out);
        assert_eq!(
            out,
            "a:\n  b:\n    - 1\n    - \"x: y\"\n  c: []\nd:\n  - e: true\n    f: null\n"
        );
    }
}

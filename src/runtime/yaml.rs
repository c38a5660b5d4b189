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

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty()) || matches!(v, Value::Object(o) if !o.is_empty())
}

pub fn emit_map(m: &Map<String, Value>, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for (k, v) in m {
        if is_block(v) {
            out.push_str(&format!("{pad}{k}:\n"));
            emit(v, indent + 2, out);
        } else {
            out.push_str(&format!("{pad}{k}: {}\n", scalar(v)));
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
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
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

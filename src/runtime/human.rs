//! The result for a person at a terminal: the diff as a unified diff, then one line saying what
//! happened. Runners (Ansible, Salt, scripts) keep the one JSON object: this is used only with
//! `--human`, or with `--diff` when stdout is a terminal (intake decides, `Forced::pretty`).

use super::diff;
use serde_json::Value;

/// The readable form of a module's JSON result.
pub fn render(result: &Value, check_mode: bool) -> String {
    let mut out = String::new();
    if let Some(d) = result.get("diff") {
        for one in match d {
            Value::Array(all) => all.iter().collect(),
            other => vec![other],
        } {
            out.push_str(&diff_text(one));
        }
    }
    if let Some(Value::Array(ws)) = result.get("warnings") {
        for w in ws.iter().filter_map(Value::as_str) {
            out.push_str(&format!("warning: {w}\n"));
        }
    }
    out.push_str(&outcome_line(result, check_mode));
    out.push('\n');
    out
}

/// One diff of the result: `{prepared}` is already a unified diff; `{before, after, *_header}`
/// is made into one here (Ansible does that itself when it gets the JSON).
fn diff_text(d: &Value) -> String {
    let s = |k: &str| d.get(k).and_then(Value::as_str);
    let mut text = match (s("prepared"), s("before"), s("after")) {
        (Some(p), _, _) => p.to_string(),
        (None, Some(before), Some(after)) => {
            let header = s("before_header")
                .map(|h| h.trim_end_matches(" (before)").to_string())
                .unwrap_or_else(|| "state".into());
            diff::unified(&header, before, after)
        }
        _ => String::new(),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// `changed: ...`, `ok: ...` or `FAILED: ...`, with `(check mode)` when the result was a
/// prediction.
fn outcome_line(result: &Value, check_mode: bool) -> String {
    let flag = |k: &str| result.get(k).and_then(Value::as_bool).unwrap_or(false);
    let msg = result
        .get("msg")
        .and_then(Value::as_str)
        .unwrap_or("")
        .replace('\n', " ");
    let word = if flag("failed") {
        "FAILED"
    } else if flag("changed") {
        if check_mode {
            "would change"
        } else {
            "changed"
        }
    } else {
        "ok"
    };
    if msg.is_empty() {
        word.to_string()
    } else {
        format!("{word}: {msg}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn before_after_diff_becomes_a_unified_diff_and_one_outcome_line() {
        let r = json!({
            "changed": true, "failed": false, "msg": "merged 1 parameter",
            "diff": {"before": "A=1\n", "after": "A=2\n",
                     "before_header": "/etc/default/LifeKeeper (before)",
                     "after_header": "/etc/default/LifeKeeper (after)"}
        });
        assert_eq!(
            render(&r, false),
            "--- /etc/default/LifeKeeper (before)\n+++ /etc/default/LifeKeeper (after)\n@@ -1 +1 @@\n-A=1\n+A=2\nchanged: merged 1 parameter\n"
        );
    }

    #[test]
    fn prepared_list_warnings_failure_and_check_mode_read_plainly() {
        let r = json!({
            "changed": true, "failed": false, "msg": "would do it",
            "diff": [{"prepared": "--- a\n+++ b\n"}, {"prepared": "--- c\n+++ d"}],
            "warnings": ["careful"]
        });
        assert_eq!(
            render(&r, true),
            "--- a\n+++ b\n--- c\n+++ d\nwarning: careful\nwould change: would do it\n"
        );
        let f = json!({"changed": false, "failed": true, "msg": "src: no such file\nsecond"});
        assert_eq!(render(&f, true), "FAILED: src: no such file second\n");
        assert_eq!(render(&json!({"changed": false}), false), "ok\n");
    }
}

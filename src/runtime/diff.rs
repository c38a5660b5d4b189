//! Diffs as data: Ansible renders `{before, after, before_header, after_header}` itself, and
//! prints `{prepared}` verbatim. Non-file state (versions, placement) is diffed as text too, one
//! fact per line, so `--diff` reads the same for files and for cluster state.

use serde_json::{json, Value};

/// A before/after diff with headers (Ansible renders the unified diff).
pub fn text(header: &str, before: &str, after: &str) -> Value {
    json!({
        "before": before,
        "after": after,
        "before_header": format!("{header} (before)"),
        "after_header": format!("{header} (after)"),
    })
}

/// A unified diff made here (for runners other than Ansible, and for messages).
pub fn unified(header: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{header} (before)"), &format!("{header} (after)"))
        .to_string()
}

/// `{prepared: <unified diff>}`.
pub fn prepared(header: &str, before: &str, after: &str) -> Value {
    json!({ "prepared": unified(header, before, after) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff_has_headers_and_hunks() {
        let d = unified("/etc/default/LifeKeeper", "A=1\nB=2\n", "A=1\nB=3\n");
        assert_eq!(
            d,
            "--- /etc/default/LifeKeeper (before)\n+++ /etc/default/LifeKeeper (after)\n@@ -1,2 +1,2 @@\n A=1\n-B=2\n+B=3\n"
        );
    }
}

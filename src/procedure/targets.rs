//! Where a hierarchy goes when the node serving it stands by: the one switchover rule, shared by
//! lk_resource (its default target) and the planner (which node takes each hierarchy in each
//! wave).

/// The node a hierarchy goes to by default when `me` stands by: its BACKUP node, or its PRIMARY
/// when BACKUP is `------` (this node is the lowest priority) and PRIMARY is not this node;
/// `None` when there is none. lk_resource's default for `state=standby` without `switch_to`.
pub fn default_target(primary: &str, backup: Option<&str>, me: &str) -> Option<String> {
    backup
        .map(str::to_string)
        .or_else(|| (primary != me).then(|| primary.to_string()))
}

/// Where the planner sends root hierarchy `tag` off `me` (the node about to be upgraded), so
/// that a hierarchy is switched at most twice in a run, away from its home and back:
/// - `switch_to` when the operator gave it;
/// - else, among the `settled` nodes (not upgraded after `me`: earlier in the inventory, or
///   already at the target) that `carry` the hierarchy (it is extended to them): its `home` when
///   that is one of them (the second switchover is then the way back), else its `default`
///   target when that is one of them, else the first of them;
/// - else its default target (a 2-node cluster's first wave: the one peer, upgraded later; the
///   return brings the hierarchy home).
///
/// `settled` and `carry` are in inventory order. The same choice standby_targets.j2 made.
pub fn standby_target(
    switch_to: Option<&str>,
    home: Option<&str>,
    default: Option<&str>,
    settled: &[&str],
    carry: impl Fn(&str) -> bool,
) -> Option<String> {
    if let Some(t) = switch_to {
        return Some(t.to_string());
    }
    let can: Vec<&str> = settled.iter().copied().filter(|n| carry(n)).collect();
    let pick = match (home, default) {
        (Some(h), _) if can.contains(&h) => Some(h),
        (_, Some(d)) if can.contains(&d) => Some(d),
        _ => can.first().copied().or(default),
    };
    pick.map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_target_is_backup_else_primary_unless_that_is_me() {
        let cases = [
            (("node-a", Some("node-b"), "node-a"), Some("node-b")),
            (("node-a", None, "node-b"), Some("node-a")),
            (("node-b", None, "node-b"), None),
            (("node-a", Some("node-c"), "node-b"), Some("node-c")),
        ];
        for ((p, b, me), want) in cases {
            assert_eq!(default_target(p, b, me).as_deref(), want, "{p} {b:?} {me}");
        }
    }

    /// switch_to, home, default, settled -> the target.
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        &'a [&'a str],
        Option<&'a str>,
    );

    #[test]
    fn standby_target_prefers_switch_to_then_home_then_default_then_first_settled() {
        let all = |_: &str| true;
        let cases: [Case; 6] = [
            (
                Some("node-c"),
                Some("node-a"),
                Some("node-b"),
                &["node-a"],
                Some("node-c"),
            ),
            (
                None,
                Some("node-a"),
                Some("node-b"),
                &["node-a", "node-b"],
                Some("node-a"),
            ),
            (
                None,
                Some("node-x"),
                Some("node-b"),
                &["node-a", "node-b"],
                Some("node-b"),
            ),
            (
                None,
                None,
                Some("node-c"),
                &["node-a", "node-b"],
                Some("node-a"),
            ),
            (None, None, Some("node-c"), &[], Some("node-c")),
            (None, None, None, &[], None),
        ];
        for (sw, home, dflt, settled, want) in cases {
            assert_eq!(
                standby_target(sw, home, dflt, settled, all).as_deref(),
                want,
                "{sw:?} {home:?} {dflt:?} {settled:?}"
            );
        }
        // A settled node the hierarchy is not extended to cannot take it.
        assert_eq!(
            standby_target(None, None, Some("node-c"), &["node-a", "node-b"], |n| n
                == "node-b")
            .as_deref(),
            Some("node-b")
        );
    }
}

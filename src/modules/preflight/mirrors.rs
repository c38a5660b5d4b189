//! LK-MIRRORS-SYNCED (issue 17): every DataKeeper mirror on this node is in sync. Gather (the
//! netraid tags from the detailed `lcdstatus`, each mirror's `mirror_status`, this node's name)
//! -> pure `judge_mirrors`.
//!
//! Why it matters: a target still resynchronizing cannot bring the mirror (or its parents) into
//! service, so upgrading or switching while a mirror is not in sync risks an outage. With
//! `require_standby` (this node is about to be upgraded) a mirror resyncing toward this node
//! fails: its data here is incomplete, and restarting LifeKeeper starts the resync again.
//! Anything the `mirror_status` parser does not understand counts as not in sync (a warning).

use super::env::{lcd_why, Env, Lcd};
use super::Finding;
use crate::lifekeeper::mirrors::{MirrorStatus, Sync};
use serde_json::Value;

pub(super) fn check_mirrors(env: &Env) -> Finding {
    let expected = "every DataKeeper mirror on this node in sync";
    let st = match env.lcd() {
        Lcd::Up(s) => s,
        Lcd::Failed(e) => {
            return super::checks_lk::lcd_failed(expected, "the mirrors and their sync state", e)
        }
        other => {
            return Finding::skip(expected, format!("mirrors not read: {}", lcd_why(other)));
        }
    };
    let statuses =
        match env.mirror_statuses(st) {
            Ok(s) => s,
            Err(e) => return Finding::warn(expected, "not known", e.msg).remedy(
                "Check the detailed lcdstatus display; the mirrors' sync state could not be read",
            ),
        };
    judge_mirrors(env.p.require_standby, env.local_name(), &statuses)
}

/// The verdict from the mirrors' statuses and this node's name.
pub(super) fn judge_mirrors(
    require_standby: bool,
    me: Option<&str>,
    statuses: &[MirrorStatus],
) -> Finding {
    let expected = "every DataKeeper mirror on this node in sync";
    if statuses.is_empty() {
        return Finding::pass(
            expected,
            "no mirror",
            "no DataKeeper (netraid) resource on this node",
        );
    }
    let mut entries: Vec<Value> = vec![];
    let mut behind: Vec<String> = vec![];
    let mut fail: Vec<String> = vec![];
    for s in statuses {
        // every target the status names; an unreadable status counts toward this node
        let mut targets: Vec<String> = s.targets.iter().map(|t| t.node.clone()).collect();
        if targets.is_empty() || !s.problems.is_empty() {
            targets = vec![me.unwrap_or("this node").to_string()];
        }
        for t in &targets {
            entries.push(s.json_toward(t));
            let state = s.toward(t).state;
            if state == Sync::InSync {
                continue;
            }
            let line = format!("{} toward {}: {}", s.tag, t, s.describe_toward(t));
            if require_standby && me == Some(t.as_str()) && state == Sync::Resyncing {
                fail.push(line.clone());
            }
            behind.push(line);
        }
    }
    let actual = if behind.is_empty() {
        format!("{} mirror(s) in sync", statuses.len())
    } else {
        behind.join("; ")
    };
    let remedy = "Wait until the resync finishes (mirror_status TAG; lk_resource waits with wait_for_mirror_sync), or resume a paused mirror with mirror_action TAG resume";
    let f = if !fail.is_empty() {
        Finding::fail(
            expected,
            actual,
            format!(
                "a mirror this node is the target of is resynchronizing: {}",
                fail.join("; ")
            ),
        )
        .remedy(remedy)
    } else if !behind.is_empty() {
        Finding::warn(
            expected,
            actual,
            format!("mirrors not known to be in sync: {}", behind.join("; ")),
        )
        .remedy(remedy)
    } else {
        Finding::pass(expected, actual, "every DataKeeper mirror is in sync")
    };
    f.details(Value::Array(entries))
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;
    use crate::lifekeeper::mirrors::parse_status;

    fn st(text: &str) -> MirrorStatus {
        parse_status("datarep-x", text)
    }

    #[test]
    fn in_sync_passes_resyncing_toward_this_node_fails_only_with_require_standby() {
        let ok = st(
            "Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: in sync  Progress: 100%\n",
        );
        assert_eq!(
            judge_mirrors(true, Some("node-b"), &[ok]).status,
            Status::Pass
        );
        assert_eq!(
            judge_mirrors(true, Some("node-b"), &[]).status,
            Status::Pass
        );
        let rs = st("Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: resyncing  Progress: 40%  Remaining: 3s\n");
        let f = judge_mirrors(true, Some("node-b"), std::slice::from_ref(&rs));
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.msg.contains("datarep-x toward node-b: resyncing 40%"),
            "{}",
            f.msg
        );
        assert_eq!(
            judge_mirrors(false, Some("node-b"), std::slice::from_ref(&rs)).status,
            Status::Warn
        );
        // the source (node-a) is not the target of its resync: a warning, even when standby
        assert_eq!(
            judge_mirrors(true, Some("node-a"), &[rs]).status,
            Status::Warn
        );
    }

    #[test]
    fn unreadable_or_garbage_status_warns_never_passes() {
        for s in [
            MirrorStatus::unreadable("datarep-x", "rc 1"),
            st("garbage"),
            st("Mirror: datarep-x\nSource: node-a\nTarget: node-b  State: ok\n"),
        ] {
            let f = judge_mirrors(true, Some("node-b"), &[s]);
            assert_eq!(f.status, Status::Warn, "{}", f.msg);
        }
    }
}

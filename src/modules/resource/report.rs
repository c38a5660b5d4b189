use super::*;

// ---- output -------------------------------------------------------------------------------

/// `root: ISP on node-a, OSU on node-b` per root; a node's resources whose state differs from
/// its root are named in parentheses, so a half-restored hierarchy shows in the diff.
pub(super) fn placement(view: &View, roots: &[String]) -> Vec<String> {
    roots
        .iter()
        .map(|root| {
            let parts: Vec<String> = view
                .nodes()
                .into_iter()
                .filter_map(|(node, st)| match st {
                    None => Some(format!("unknown on {node}")),
                    Some(st) => {
                        let h = st.hierarchy(root);
                        let top = h.first()?;
                        let odd: Vec<String> = h[1..]
                            .iter()
                            .filter(|r| r.state != top.state)
                            .map(|r| format!("{} {}", r.tag, r.state))
                            .collect();
                        Some(if odd.is_empty() {
                            format!("{} on {node}", top.state)
                        } else {
                            format!("{} on {node} ({})", top.state, odd.join(", "))
                        })
                    }
                })
                .collect();
            format!("{root}: {}", parts.join(", "))
        })
        .collect()
}

pub(super) fn lines(v: &[String]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}

pub(super) fn describe(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("{} {} on {}", s.action, s.tag, s.node))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn summary(st: &Status) -> String {
    let roots: Vec<String> = st
        .roots()
        .map(|r| format!("{} {}", r.tag, r.state))
        .collect();
    if roots.is_empty() {
        "LifeKeeper is running; no resource hierarchies on this node".into()
    } else {
        format!("{} root hierarchies: {}", roots.len(), roots.join(", "))
    }
}

/// The data keys every successful run returns, also as `ansible_facts.lifekeeper`.
/// The result of `active`/`standby`, predicted (check mode) or done: the report, the placement
/// and its before/after diff. One function, so check mode and the real run cannot drift apart.
pub(super) fn placed(
    o: Outcome,
    view: &View,
    actions: &[Value],
    before: &[String],
    after: &[String],
    warnings: Vec<String>,
) -> Outcome {
    let mut o = report(o, true, view.me.as_deref(), &view.local, actions)
        .with("placement", after.to_vec())
        .diff(Some(diff::text(
            "resource placement",
            &lines(before),
            &lines(after),
        )));
    o.warnings = warnings;
    o
}

pub(super) fn report(
    o: Outcome,
    running: bool,
    me: Option<&str>,
    st: &Status,
    actions: &[Value],
) -> Outcome {
    let facts = json!({
        "lifekeeper_running": running,
        "node": me,
        "resources": st.resources,
        "comm_paths": st.comm_paths,
        "actions": actions,
    });
    // What the rolling upgrade waits for after a node's upgrade (lk_node_steps `until`): one
    // comm path at least, and every one ALIVE. Decided here, not in the playbook.
    let alive = !st.comm_paths.is_empty() && st.comm_paths.iter().all(|c| c.state == "ALIVE");
    o.with("lifekeeper_running", running)
        .with("comm_paths_alive", running && alive)
        .with("node", me)
        .with("resources", json!(st.resources))
        .with("comm_paths", json!(st.comm_paths))
        .with("actions", actions.to_vec())
        .with("ansible_facts", json!({ "lifekeeper": facts }))
}

pub(super) fn not_running(p: &Params) -> Result<Outcome, Failure> {
    if p.state == State::Query {
        return Ok(report(
            Outcome::new(false, "LifeKeeper is not running on this node"),
            false,
            None,
            &Status::default(),
            &[],
        ));
    }
    Err(Failure::new(format!(
        "LifeKeeper is not running on this node; state={} needs it (start it with {}/bin/lkstart)",
        p.state,
        p.lkroot.display()
    ))
    .with("lifekeeper_running", false))
}

/// state=query: this node's view and name (`lcdstatus -q`: the playbooks match it to the
/// inventory host before anything moves), and with mirror_sync_target the mirrors toward it.
pub(super) fn query(ctx: &Ctx, p: &Params, local: &Status) -> Result<Outcome, Failure> {
    let me = local_name(ctx, &p.lkroot)?;
    let o = report(
        Outcome::new(false, summary(local)),
        true,
        me.as_deref(),
        local,
        &[],
    );
    match &p.mirror_sync_target {
        None => Ok(o),
        Some(t) => query_mirror_sync(ctx, p, local, t, o),
    }
}

/// Check mode, or nothing to do: what a real run would report, with the mirrors as they are now
/// (the wait a real run would do; no waiting here).
pub(super) fn predicted(ctx: &Ctx, p: &Params, mut d: Decided) -> Result<Outcome, Failure> {
    let changed = !d.steps.is_empty();
    let all: Vec<Need> = d.needs.iter().flatten().cloned().collect();
    let waits = sync_wait(ctx, p, &all, d.deadline, true)?;
    if ctx.check_mode {
        for s in &d.steps {
            d.view.apply(s);
        }
    }
    let after = placement(&d.view, &d.roots);
    let pending: Vec<String> = waits
        .iter()
        .filter(|w| w["state"] != "in_sync")
        .map(|w| {
            format!(
                "{} toward {}",
                w["tag"].as_str().unwrap_or("?"),
                w["target"].as_str().unwrap_or("?")
            )
        })
        .collect();
    let msg = if changed && !pending.is_empty() {
        format!(
            "would wait up to {}s for mirror {} to be in sync, then {}",
            p.wait_for_mirror_sync,
            pending.join(", "),
            describe(&d.steps)
        )
    } else if changed {
        format!("would {}", describe(&d.steps))
    } else {
        "all hierarchies already in the wanted state".to_string()
    };
    let moves: Vec<Value> = d
        .steps
        .iter()
        .zip(&d.from)
        .map(|(s, f)| switchover(s, f.as_deref(), None))
        .collect();
    Ok(placed(
        Outcome::new(changed, msg),
        &d.view,
        &d.actions,
        &d.before,
        &after,
        d.warnings,
    )
    .with("mirrors", waits)
    .with("switchovers", moves))
}

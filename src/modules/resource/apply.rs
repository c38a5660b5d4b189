use super::*;

// ---- acting and settling ------------------------------------------------------------------

/// Is every managed hierarchy where the steps put it (and nothing in ILLSTATE)?
pub(super) fn settled(view: &View, roots: &[String], steps: &[Step]) -> bool {
    let me = view.me();
    for root in roots {
        if view
            .local
            .hierarchy(root)
            .iter()
            .any(|r| r.state() == status::State::Illstate)
        {
            return false;
        }
        for s in steps.iter().filter(|s| &s.tag == root) {
            let want_here = if s.node == me && s.action == "restore" {
                status::State::Isp
            } else {
                status::State::Osu
            };
            if !all_in(&view.local, root, want_here) {
                return false;
            }
            if s.node != me {
                if let Some(Some(tv)) = view.peers.get(&s.node) {
                    if !all_in(tv, root, status::State::Isp) {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Poll until settled or `wait` seconds have passed.
pub(super) fn settle(
    ctx: &Ctx,
    p: &Params,
    roots: &[String],
    steps: &[Step],
    actions: &[Value],
) -> Result<View, Failure> {
    let deadline = Instant::now() + Duration::from_secs(p.wait as u64);
    loop {
        let local = status::read(&ctx.runner, &p.lkroot)
            .map_err(|f| f.changed(true))?
            .ok_or_else(|| {
                Failure::new("LifeKeeper stopped running while the hierarchies were settling")
                    .changed(true)
            })?;
        let view = View::read(ctx, p, local).map_err(|f| f.changed(true))?;
        if settled(&view, roots, steps) {
            return Ok(view);
        }
        if Instant::now() >= deadline {
            return Err(Failure::new(format!(
                "the hierarchies did not settle within {}s after {}; current placement: {}",
                p.wait,
                describe(steps),
                placement(&view, roots).join("; ")
            ))
            .changed(true)
            .with("resources", json!(view.local.resources))
            .with("comm_paths", json!(view.local.comm_paths))
            .with("actions", actions.to_vec())
            .with("placement", placement(&view, roots)));
        }
        std::thread::sleep(
            Duration::from_secs(2)
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(100)),
        );
    }
}

/// A failed perform_action: the failure plus the states read right after it.
pub(super) fn failed_with_states(
    ctx: &Ctx,
    p: &Params,
    f: Failure,
    actions: &[Value],
    roots: &[String],
) -> Failure {
    let mut f = f.changed(true).with("actions", actions.to_vec());
    match status::read(&ctx.runner, &p.lkroot) {
        Ok(Some(st)) => {
            let placement = View::read(ctx, p, st.clone())
                .map(|v| placement(&v, roots))
                .unwrap_or_default();
            f = f
                .with("resources", json!(st.resources))
                .with("comm_paths", json!(st.comm_paths))
                .with("placement", placement)
                .with("lifekeeper_running", true);
        }
        Ok(None) => f = f.with("lifekeeper_running", false),
        Err(e) => f.msg.push_str(&format!(
            " (and the status could not be read afterwards: {})",
            e.msg
        )),
    }
    f
}

/// The switchovers, one step at a time (each right after its mirrors are in sync), then the
/// wait until the states settle. A failed step stops the run with the actions done so far.
pub(super) fn execute(ctx: &Ctx, p: &Params, d: Decided) -> Result<Outcome, Failure> {
    let mut waits: Vec<Value> = vec![];
    let mut moves = vec![];
    for (i, s) in d.steps.iter().enumerate() {
        // Right before the switch (a mirror may have gone out of sync since the plan):
        // never remove a hierarchy from its source toward a target not in sync.
        waits.extend(
            sync_wait(ctx, p, &d.needs[i], d.deadline, false)
                .map_err(|f| f.changed(i > 0).with("d.actions", d.actions[..i].to_vec()))?,
        );
        ctx.progress(&format!("{} {} on {}", s.action, s.tag, s.node));
        // perform_action is synchronous: the remove on the old node starts after t0 and the
        // restore on the target has finished when it returns, so [t0, t1] bounds the time
        // the root was served by nobody (it cannot be measured closer from here).
        let t0 = time::now_ms();
        for cmd in &s.cmds {
            let out = ctx.runner.run(cmd)?;
            if !out.ok() {
                let remote = s.node != d.view.me();
                let f = match node_lock_remote::other_refusal(out.rc, &s.node) {
                    _ if !remote => {
                        out.failure(&format!("{} of {} on {} failed", s.action, s.tag, s.node))
                    }
                    _ if out.rc == node_lock_remote::HELD && !out.timed_out => {
                        Failure::new(node_lock_remote::held_message(&s.tag, &s.node))
                            .with("target", s.node.clone())
                    }
                    Some(m) if !out.timed_out => Failure::new(m),
                    _ => remote_failure(&out, s),
                };
                return Err(failed_with_states(ctx, p, f, &d.actions[..=i], &d.roots)
                    .with("switchovers", moves));
            }
        }
        moves.push(switchover(
            s,
            d.from[i].as_deref(),
            Some((t0, time::now_ms())),
        ));
    }
    let view = settle(ctx, p, &d.roots, &d.steps, &d.actions)?;
    let after = placement(&view, &d.roots);
    Ok(placed(
        Outcome::new(true, describe(&d.steps)),
        &view,
        &d.actions,
        &d.before,
        &after,
        d.warnings,
    )
    .with("mirrors", waits)
    .with("switchovers", moves))
}

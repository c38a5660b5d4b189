use super::*;

// ---- planning -----------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(super) struct Step {
    pub(super) tag: String,
    pub(super) action: &'static str,
    pub(super) node: String,
    /// Usually one command; a remove is one per in-service leaf (see `remove_cmds`).
    pub(super) cmds: Vec<Cmd>,
}

impl Step {
    pub(super) fn json(&self) -> Value {
        json!({"tag": self.tag, "action": self.action, "node": self.node})
    }
}

/// The node where `root` is in service (ISP) before a step, if any.
pub(super) fn serving(view: &View, root: &str) -> Option<String> {
    view.nodes().into_iter().find_map(|(n, st)| {
        st.and_then(|st| st.resource(root))
            .filter(|r| r.state() == status::State::Isp)
            .map(|_| n)
    })
}

/// One `switchovers` entry; `times` (ms) is None in check mode.
pub(super) fn switchover(s: &Step, from: Option<&str>, times: Option<(i64, i64)>) -> Value {
    let to = (s.action == "restore").then_some(s.node.as_str());
    let (started, ended, secs) = match times {
        Some((a, b)) => (
            Some(time::iso8601_ms(a)),
            Some(time::iso8601_ms(b)),
            Some((b - a) as f64 / 1000.0),
        ),
        None => (None, None, None),
    };
    json!({"tag": s.tag, "from": from, "to": to, "started": started, "ended": ended, "interruption_s": secs})
}

pub(super) fn all_in(st: &Status, root: &str, want: status::State) -> bool {
    st.hierarchy(root).iter().all(|r| r.state() == want)
}

/// perform_action may run a long restore script: at least the settle time, unless the caller
/// bounded every command with `timeout`.
pub(super) fn action_timeout(p: &Params) -> Duration {
    Duration::from_secs(
        p.timeout
            .map_or((p.wait.max(0) as u64).max(600), |t| t.max(1) as u64),
    )
}

pub(super) fn perform_action(lkroot: &Path, p: &Params, tag: &str, action: &str) -> Cmd {
    let mut c = Cmd::lk(lkroot, "perform_action");
    if p.bottom_up {
        c = c.arg("-b");
    }
    // perform_action runs the applications' own restore/remove scripts: they keep the site's
    // locale (we only quote its output, never parse it).
    // A switchover must not stop half-way when this module dies with the controller (issue 28:
    // perform_action took the hierarchy down on the peer, then died writing to our pipe).
    c.args(["-t", tag, "-a", action])
        .timeout(action_timeout(p))
        .site_locale()
        .outlives_caller()
}

/// A remote restore that failed: the command is a long script (`node_lock_remote`), so the
/// message names what it runs; the result keeps the whole command line (cmd), rc and tail.
pub(super) fn remote_failure(out: &crate::runtime::CmdOutput, s: &Step) -> Failure {
    let mut f = out.failure("restore");
    f.msg = format!(
        "{} of {} on {} failed: `lcdremexec -d {} -- perform_action -t {} -a {}` (run holding {}'s lkops node lock) {}{}",
        s.action,
        s.tag,
        s.node,
        s.node,
        s.tag,
        s.action,
        s.node,
        if out.timed_out {
            "timed out".to_string()
        } else {
            format!("exited with rc={}", out.rc)
        },
        match out.tail().lines().last() {
            Some(l) if !l.trim().is_empty() => format!(": {l}"),
            _ => String::new(),
        }
    );
    f
}

/// Issue 28 O1: every node a step restores a hierarchy on (a switchover target) must not be
/// locked by another lkops module: an lk_upgrade there holds its node lock from its plan to its
/// last step, and its setup stops LifeKeeper. Read-only (`node_lock_remote::probe`), so check
/// mode predicts the refusal; the restore itself runs holding the lock (no window between).
pub(super) fn targets_free(
    ctx: &Ctx,
    p: &Params,
    view: &View,
    steps: &[Step],
) -> Result<(), Failure> {
    let me = view.me();
    let mut seen: Vec<&str> = vec![];
    for s in steps
        .iter()
        .filter(|s| s.action == "restore" && s.node != me)
    {
        if seen.contains(&s.node.as_str()) {
            continue;
        }
        seen.push(&s.node);
        let cmd = node_lock_remote::probe(&p.lkroot, remote_lkroot(p), &s.node)?
            .timeout(Duration::from_secs(p.timeout.unwrap_or(60).max(1) as u64));
        let out = ctx.runner.run(&cmd)?;
        if out.ok() {
            continue;
        }
        let what: Vec<&str> = steps
            .iter()
            .filter(|x| x.node == s.node)
            .map(|x| x.tag.as_str())
            .collect();
        return Err(if out.rc == node_lock_remote::HELD && !out.timed_out {
            Failure::new(node_lock_remote::held_message(&what.join(", "), &s.node))
                .with("target", s.node.clone())
        } else if let Some(m) = node_lock_remote::other_refusal(out.rc, &s.node) {
            Failure::new(m)
        } else {
            // The command is a long script: the message says what it is for, the result keeps
            // the command line (cmd), rc and output tail.
            let mut f = out.failure("probe");
            f.msg = format!(
                "cannot restore {} on {}: lcdremexec could not check first that no lkops module is changing {} ({}{})",
                what.join(", "),
                s.node,
                s.node,
                if out.timed_out {
                    "timed out".to_string()
                } else {
                    format!("rc={}", out.rc)
                },
                match out.tail().lines().last() {
                    Some(l) if !l.trim().is_empty() => format!(": {l}"),
                    _ => String::new(),
                }
            );
            f
        });
    }
    Ok(())
}

/// One step per root hierarchy that is not in the wanted state, plus warnings.
pub(super) fn plan(
    p: &Params,
    view: &View,
    roots: &[String],
) -> Result<(Vec<Step>, Vec<String>), Failure> {
    let me = view.me();
    let mut steps = vec![];
    let mut warnings = vec![];
    if let Some(t) = p.switch_to.as_deref().filter(|t| *t != "none") {
        if t == me {
            return Err(Failure::param(
                "switch_to",
                format!("switch_to {t:?} is this node; use state=active to bring hierarchies here"),
            ));
        }
        if !view.peers.contains_key(t) {
            let peers: Vec<&str> = view.peers.keys().map(String::as_str).collect();
            return Err(Failure::param(
                "switch_to",
                format!(
                    "switch_to {t:?} is not a node this one has comm paths to (known: {})",
                    peers.join(", ")
                ),
            ));
        }
    }
    refuse_failed_here(p, view, roots)?;
    for root in roots {
        let here = view
            .local
            .resource(root)
            .expect("selected from the local status");
        if p.state == State::Active {
            if !all_in(&view.local, root, status::State::Isp) {
                steps.push(Step {
                    tag: root.clone(),
                    action: "restore",
                    node: me.clone(),
                    cmds: vec![perform_action(&p.lkroot, p, root, "restore")],
                });
            }
            continue;
        }
        // standby
        let out_here = all_in(&view.local, root, status::State::Osu);
        match p.switch_to.as_deref() {
            Some("none") => {
                if !out_here {
                    steps.push(Step {
                        tag: root.clone(),
                        action: "remove",
                        node: me.clone(),
                        cmds: remove_cmds(p, &view.local, root),
                    });
                }
            }
            explicit => {
                let target = match explicit {
                    Some(t) => t.to_string(),
                    None => match default_target(&here.primary, here.backup.as_deref(), &me) {
                        Some(t) => t,
                        None if out_here => continue,
                        None => {
                            return Err(Failure::param("switch_to", format!(
                                "{root}: no node to switch over to (BACKUP is ------ and PRIMARY is this node); give switch_to, or switch_to=none to leave it served by nobody"
                            )))
                        }
                    },
                };
                let target_view = view.peers.get(&target);
                let serving = target_view.and_then(|v| v.as_ref()).is_some_and(|v| {
                    v.resource(root)
                        .is_some_and(|r| r.state() == status::State::Isp)
                });
                // Already out of service here and served elsewhere: nothing to do. Served by
                // nobody (e.g. an earlier switchover left it OSF on the target): restore it on
                // the target, since leaving a hierarchy served by nobody needs switch_to=none.
                if out_here && (serving || (explicit.is_none() && served_anywhere(view, root))) {
                    continue;
                }
                if out_here && !serving {
                    warnings.push(format!(
                        "{root} was in service on no node; restoring it on {target}"
                    ));
                }
                if target_view.is_none() {
                    return Err(Failure::param("switch_to", format!("{root}: the target {target:?} is not a node this one has comm paths to")));
                }
                if !any_alive(&view.local, &target) {
                    return Err(Failure::new(format!(
                        "refusing to switch {root} over to {target}: all comm paths to {target} are DEAD; bring them up, choose another node with switch_to, or take it out of service with switch_to=none"
                    ))
                    .with("resources", json!(view.local.resources))
                    .with("comm_paths", json!(view.local.comm_paths)));
                }
                if let Some(Some(tv)) = target_view {
                    if tv.resource(root).is_none() {
                        return Err(Failure::new(format!("refusing to switch {root} over to {target}: {target} has no resource {root}")));
                    }
                }
                // Every word quoted for the far side's shell (lcdremexec re-parses the line);
                // a word that cannot be quoted safely refuses the run before anything changes.
                let action = remote_lkroot(p).join("bin").join("perform_action");
                let mut words = vec![action.to_string_lossy().into_owned()];
                if p.bottom_up {
                    words.push("-b".into());
                }
                words.extend(["-t".into(), root.clone(), "-a".into(), "restore".into()]);
                // Run holding the target's lkops node lock (issue 28 O1): never while an
                // lk_upgrade there (whose setup stops LifeKeeper) is in progress.
                let cmd = node_lock_remote::run_holding(
                    &p.lkroot,
                    remote_lkroot(p),
                    &target,
                    &words,
                    "tags",
                )?
                .timeout(action_timeout(p))
                .site_locale()
                .outlives_caller();
                steps.push(Step {
                    tag: root.clone(),
                    action: "restore",
                    node: target,
                    cmds: vec![cmd],
                });
            }
        }
    }
    Ok((steps, warnings))
}

/// Issue 28 W2: a switchover away from this node while a resource of a managed hierarchy is OSF
/// (failed) here. The restore on the target brought the hierarchy into service there, but the
/// failed resource stays OSF here, never the OSU a standby waits for: the run failed after
/// `wait` with changed: true and no switchover listed, while check mode had predicted a clean
/// run. Refused up front (this is the plan, so check mode predicts it), naming each failed
/// resource and the remedy. `switch_to=none` (take out of service only) is not a switchover.
pub(super) fn refuse_failed_here(p: &Params, view: &View, roots: &[String]) -> Result<(), Failure> {
    if p.state != State::Standby || p.switch_to.as_deref() == Some("none") {
        return Ok(());
    }
    let failed: Vec<(&str, &str)> = roots
        .iter()
        .flat_map(|root| {
            view.local
                .hierarchy(root)
                .into_iter()
                .filter(|r| r.state() == status::State::Osf)
                .map(move |r| (root.as_str(), r.tag.as_str()))
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    let me = view.me();
    let named: Vec<String> = failed
        .iter()
        .map(|(root, tag)| {
            if root == tag {
                format!("{tag} (a root)")
            } else {
                format!("{tag} (in the hierarchy {root})")
            }
        })
        .collect();
    let first = failed[0];
    Err(Failure::new(format!(
        "refusing to switch over: {} is OSF (failed) on {me}; a switchover would bring the hierarchy into service on the target but leave the failed resource OSF here, so {me} would never be out of service. Nothing was moved. Find why it failed (the LifeKeeper log on {me}), then clear the failure: bring the hierarchy back into service here (lk_resource state=active tags={}) or take it out of service here ({}/bin/perform_action -t {} -a remove), and rerun; or leave that hierarchy out of this run with tags",
        named.join(", "),
        first.0,
        p.lkroot.display(),
        first.1,
    ))
    .with(
        "failed_resources",
        failed
            .iter()
            .map(|(root, tag)| json!({"tag": tag, "root": root, "state": "OSF", "node": me}))
            .collect::<Vec<Value>>(),
    )
    .with("resources", json!(view.local.resources)))
}

/// `perform_action -a remove` takes a tag and the resources *above* it out of service, not its
/// children (reference §3: "remove stops every object above the tag and then the tag itself").
/// So a whole hierarchy goes out of service by removing each of its leaves that is not OSU yet:
/// each remove clears its branch up to the root. Limitation: a leaf shared with another root
/// hierarchy also takes that one down (lcdstatus -e shows a shared child under one parent only,
/// so it cannot be seen from here).
pub(super) fn remove_cmds(p: &Params, st: &Status, root: &str) -> Vec<Cmd> {
    let h = st.hierarchy(root);
    h.iter()
        .filter(|r| {
            !h.iter()
                .any(|c| c.parent.as_deref() == Some(r.tag.as_str()))
        })
        .filter(|leaf| {
            // a leaf whose branch (leaf and ancestors up to the root) is all OSU needs nothing
            let mut cur: Option<&Res> = Some(leaf);
            let mut all_osu = true;
            while let Some(r) = cur {
                all_osu &= r.state() == status::State::Osu;
                cur = r
                    .parent
                    .as_deref()
                    .and_then(|t| h.iter().copied().find(|x| x.tag == t));
            }
            !all_osu
        })
        .map(|leaf| perform_action(&p.lkroot, p, &leaf.tag, "remove"))
        .collect()
}

pub(super) fn served_anywhere(view: &View, root: &str) -> bool {
    view.nodes().values().any(|s| match s {
        Some(s) => s.resource(root).is_some_and(|r| r.in_service()),
        None => true, // unknown: do not claim nobody serves it
    })
}

/// Everything decided before anything moves: the view of the cluster, the managed roots, the
/// steps and what each needs, and the placement before.
pub(super) struct Decided {
    pub(super) view: View,
    pub(super) roots: Vec<String>,
    pub(super) steps: Vec<Step>,
    pub(super) warnings: Vec<String>,
    pub(super) actions: Vec<Value>,
    /// Per step, the mirrors that must be in sync toward its node first.
    pub(super) needs: Vec<Vec<Need>>,
    /// Per step, who served its root before anything ran (a step changes it).
    pub(super) from: Vec<Option<String>>,
    pub(super) before: Vec<String>,
    pub(super) deadline: Instant,
}

/// Read the peers, choose the roots, plan the steps; refuse, before anything moves, a switchover
/// onto a node another lkops module is changing, and a mirror display that cannot be read.
pub(super) fn decide(ctx: &Ctx, p: &Params, local: Status) -> Result<Decided, Failure> {
    let view = View::read(ctx, p, local)?;
    let roots = select_roots(p, &view.local)?;
    let (steps, warnings) = plan(p, &view, &roots)?;
    // Before anything moves, and in check mode too: no switchover onto a node that another
    // lkops module is changing (issue 28 O1). The restore itself holds that node's lock.
    targets_free(ctx, p, &view, &steps)?;
    let before = placement(&view, &roots);
    let actions: Vec<Value> = steps.iter().map(Step::json).collect();
    // DataKeeper: which mirrors each restore needs in sync toward its node. Read before
    // anything moves; a display we cannot read fails here, never half-way.
    let mirror_tags = mirror_tags(ctx, p, &view.local, &steps)?;
    let needs: Vec<Vec<Need>> = steps
        .iter()
        .map(|s| mirror_needs(&view.local, &mirror_tags, s))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(p.wait_for_mirror_sync as u64);
    let from: Vec<Option<String>> = steps.iter().map(|s| serving(&view, &s.tag)).collect();
    Ok(Decided {
        view,
        roots,
        steps,
        warnings,
        actions,
        needs,
        from,
        before,
        deadline,
    })
}

use super::*;

// ---- DataKeeper mirrors ---------------------------------------------------------------------

/// One mirror that must be in sync toward `target` before `root` is restored there.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Need {
    pub(super) root: String,
    pub(super) tag: String,
    pub(super) target: String,
}

pub(super) fn mirror_cmd(p: &Params) -> PathBuf {
    p.mirror_status_cmd
        .clone()
        .unwrap_or_else(|| p.lkroot.join("bin").join("mirror_status"))
}

/// The mirror tags: given, or detected (only when some step restores a hierarchy, so the
/// common no-op run costs no extra command).
pub(super) fn mirror_tags(
    ctx: &Ctx,
    p: &Params,
    st: &Status,
    steps: &[Step],
) -> Result<Vec<String>, Failure> {
    if let Some(t) = &p.mirror_tags {
        return Ok(t.clone());
    }
    if !steps.iter().any(|s| s.action == "restore") {
        return Ok(vec![]);
    }
    let known: Vec<&str> = st.resources.iter().map(|r| r.tag.as_str()).collect();
    mirrors::detect(&ctx.runner, &p.lkroot, &known)
}

/// A restore onto `s.node` needs every mirror of the hierarchy in sync toward that node.
pub(super) fn mirror_needs(st: &Status, mirror_tags: &[String], s: &Step) -> Vec<Need> {
    if s.action != "restore" {
        return vec![];
    }
    st.hierarchy(&s.tag)
        .iter()
        .filter(|r| mirror_tags.contains(&r.tag))
        .map(|r| Need {
            root: s.tag.clone(),
            tag: r.tag.clone(),
            target: s.node.clone(),
        })
        .collect()
}

/// Wait until every need is in sync (`once`: read once, do not wait — check mode, which fails
/// only when the real run would fail at once, i.e. `wait_for_mirror_sync: 0`). Returns one
/// entry per need: tag, source, target, state, progress, waited_s, root. Not in sync by
/// `deadline`: a failure naming the mirror, its target and its progress; nothing was done.
pub(super) fn sync_wait(
    ctx: &Ctx,
    p: &Params,
    needs: &[Need],
    deadline: Instant,
    once: bool,
) -> Result<Vec<Value>, Failure> {
    if needs.is_empty() {
        return Ok(vec![]);
    }
    let start = Instant::now();
    let cmd = mirror_cmd(p);
    let mut waited: Vec<Option<f64>> = vec![None; needs.len()];
    loop {
        let mut read: BTreeMap<&str, mirrors::MirrorStatus> = BTreeMap::new();
        for n in needs {
            if !read.contains_key(n.tag.as_str()) {
                read.insert(&n.tag, mirrors::read_status(&ctx.runner, &cmd, &n.tag)?);
            }
        }
        let secs = start.elapsed().as_secs_f64();
        for (i, n) in needs.iter().enumerate() {
            if waited[i].is_none() && read[n.tag.as_str()].in_sync_toward(&n.target) {
                waited[i] = Some(secs);
            }
        }
        let entries: Vec<Value> = needs
            .iter()
            .zip(&waited)
            .map(|(n, w)| {
                let mut v = read[n.tag.as_str()].json_toward(&n.target);
                v["root"] = json!(n.root);
                v["waited_s"] = json!(w.map_or(secs, |w| (w * 10.0).round() / 10.0));
                v
            })
            .collect();
        let pending: Vec<&Need> = needs
            .iter()
            .zip(&waited)
            .filter(|(_, w)| w.is_none())
            .map(|(n, _)| n)
            .collect();
        if pending.is_empty() || (once && p.wait_for_mirror_sync > 0) {
            return Ok(entries);
        }
        let what: Vec<String> = pending
            .iter()
            .map(|n| {
                format!(
                    "mirror {} toward {} is {}",
                    n.tag,
                    n.target,
                    read[n.tag.as_str()].describe_toward(&n.target)
                )
            })
            .collect();
        if once || Instant::now() >= deadline {
            let n = pending[0];
            let source = read[n.tag.as_str()].source.clone();
            if p.state == State::Query {
                return Err(Failure::new(format!(
                    "not every mirror is in sync toward {}: {} after waiting {}s (wait_for_mirror_sync)",
                    n.target,
                    what.join("; "),
                    start.elapsed().as_secs()
                ))
                .with("mirrors", entries));
            }
            return Err(Failure::new(format!(
                "refusing to switch {} over to {}: {} after waiting {}s (wait_for_mirror_sync); {} stays in service where it is{}",
                n.root,
                n.target,
                what.join("; "),
                start.elapsed().as_secs(),
                n.root,
                source.map(|s| format!(" (mirror source {s})")).unwrap_or_default()
            ))
            .with("mirrors", entries));
        }
        ctx.progress(&format!(
            "waiting for DataKeeper: {} ({}s of {}s)",
            what.join("; "),
            start.elapsed().as_secs(),
            p.wait_for_mirror_sync
        ));
        std::thread::sleep(
            Duration::from_secs(1)
                .min(deadline.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(100)),
        );
    }
}

/// `state=query` with `mirror_sync_target`: wait for every mirror known here toward that node.
pub(super) fn query_mirror_sync(
    ctx: &Ctx,
    p: &Params,
    local: &Status,
    target: &str,
    o: Outcome,
) -> Result<Outcome, Failure> {
    let target = if target == "this" {
        match local_name(ctx, &p.lkroot)? {
            Some(n) => n,
            // no resource here: no mirror here either
            None => return Ok(o.with("mirrors", Vec::<Value>::new())),
        }
    } else {
        target.to_string()
    };
    let tags = match &p.mirror_tags {
        Some(t) => t.clone(),
        None => {
            let known: Vec<&str> = local.resources.iter().map(|r| r.tag.as_str()).collect();
            mirrors::detect(&ctx.runner, &p.lkroot, &known)?
        }
    };
    let needs: Vec<Need> = tags
        .iter()
        .map(|t| Need {
            root: root_of(local, t).unwrap_or_else(|| t.clone()),
            tag: t.clone(),
            target: target.clone(),
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(p.wait_for_mirror_sync as u64);
    let waits = sync_wait(ctx, p, &needs, deadline, ctx.check_mode)?;
    Ok(o.with("mirrors", waits))
}

use super::*;

// ---- input --------------------------------------------------------------------------------

/// A value passed as one literal argument must not be read as an option or break a line.
pub(super) fn literal(name: &str, v: &str) -> Result<(), Failure> {
    if v.trim().is_empty() {
        return Err(Failure::param(name, format!("{name} must not be empty")));
    }
    if v.starts_with('-') {
        return Err(Failure::param(
            name,
            format!("{name} {v:?} starts with '-' and would be read as an option"),
        ));
    }
    if v.contains(['\n', '\r', '\0']) {
        return Err(Failure::param(
            name,
            format!("{name} {v:?} contains a newline or NUL"),
        ));
    }
    Ok(())
}

pub(super) fn validate(p: &Params) -> Result<(), Failure> {
    for t in p.tags.iter().flatten() {
        literal("tags", t)?;
    }
    if let Some(s) = &p.switch_to {
        literal("switch_to", s)?;
        if p.state != State::Standby {
            return Err(Failure::param(
                "switch_to",
                format!(
                    "switch_to only applies to state=standby (state is {})",
                    p.state
                ),
            ));
        }
    }
    if p.timeout.is_some_and(|t| t < 1) {
        return Err(Failure::param(
            "timeout",
            format!(
                "timeout must be at least 1 second, got {}",
                p.timeout.unwrap_or_default()
            ),
        ));
    }
    // wait_for_mirror_sync (range) and mirror_status_cmd (AbsPath): the runtime checked them.
    for t in p.mirror_tags.iter().flatten() {
        literal("mirror_tags", t)?;
    }
    if let Some(t) = &p.mirror_sync_target {
        literal("mirror_sync_target", t)?;
        if p.state != State::Query {
            return Err(Failure::param(
                "mirror_sync_target",
                format!(
                    "mirror_sync_target only applies to state=query (state is {}); active and standby wait for the mirrors toward the node they switch to",
                    p.state
                ),
            ));
        }
    }
    if p.wait < 0 {
        return Err(Failure::param(
            "wait",
            format!("wait must be 0 or more seconds, got {}", p.wait),
        ));
    }
    // lkroot and remote_lkroot are Kind::AbsPath: the runtime checked them.
    Ok(())
}

/// The root hierarchies to manage: the given tags (each must be a root known here) or all.
pub(super) fn select_roots(p: &Params, st: &Status) -> Result<Vec<String>, Failure> {
    let Some(tags) = &p.tags else {
        return Ok(st.roots().map(|r| r.tag.clone()).collect());
    };
    let known: Vec<&str> = st.roots().map(|r| r.tag.as_str()).collect();
    let mut out: Vec<String> = vec![];
    for t in tags {
        match st.resource(t) {
            None => {
                return Err(Failure::param(
                    "tags",
                    format!(
                        "no resource {t:?} on this node; root hierarchies here: {}",
                        known.join(", ")
                    ),
                ));
            }
            Some(r) if r.depth > 0 => {
                let root = root_of(st, t).unwrap_or_default();
                return Err(Failure::param("tags", format!("{t:?} is not a root tag (it is part of the hierarchy {root:?}); give the root tag")));
            }
            Some(_) if !out.contains(t) => out.push(t.clone()),
            Some(_) => {}
        }
    }
    Ok(out)
}

pub(super) fn root_of(st: &Status, tag: &str) -> Option<String> {
    let mut cur = st.resource(tag)?;
    while let Some(p) = &cur.parent {
        cur = st.resource(p)?;
    }
    Some(cur.tag.clone())
}

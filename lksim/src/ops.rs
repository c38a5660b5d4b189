//! Resource operations: restore/remove (with switchover), start/stop,
//! node crash (failover) and recovery.

use crate::datakeeper;
use crate::model::{ActionRec, Node, World, MAX_ACTIONS};
use std::collections::HashSet;

pub fn in_service(s: &str) -> bool {
    s == "ISP" || s == "ISU"
}

fn postorder(
    n: &Node,
    tag: &str,
    allowed: &HashSet<String>,
    seen: &mut HashSet<String>,
    out: &mut Vec<String>,
) {
    if !allowed.contains(tag) || !seen.insert(tag.to_string()) {
        return;
    }
    if let Some(r) = n.res(tag) {
        for c in &r.children {
            postorder(n, c, allowed, seen, out);
        }
    }
    out.push(tag.to_string());
}

fn descendants(n: &Node, tag: &str, acc: &mut HashSet<String>) {
    if !acc.insert(tag.to_string()) {
        return;
    }
    if let Some(r) = n.res(tag) {
        for c in r.children.clone() {
            descendants(n, &c, acc);
        }
    }
}

fn ancestors(n: &Node, tag: &str, acc: &mut HashSet<String>) {
    for p in n.parents_of(tag) {
        if acc.insert(p.clone()) {
            ancestors(n, &p, acc);
        }
    }
}

/// Order in which `restore` handles resources: children before parents.
/// Without `bottom_only`: the tag, everything below it, everything above it
/// and what those parents need below them.  With `bottom_only` (-b): the tag
/// and what is below it.
pub fn restore_order(n: &Node, tag: &str, bottom_only: bool) -> Vec<String> {
    let mut set = HashSet::new();
    descendants(n, tag, &mut set);
    if !bottom_only {
        let mut anc = HashSet::new();
        ancestors(n, tag, &mut anc);
        for a in anc {
            descendants(n, &a, &mut set);
        }
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    // walk from roots (within the set) so the order is stable
    let roots: Vec<String> = n
        .res
        .iter()
        .filter(|r| set.contains(&r.tag))
        .filter(|r| n.parents_of(&r.tag).iter().all(|p| !set.contains(p)))
        .map(|r| r.tag.clone())
        .collect();
    for r in roots {
        postorder(n, &r, &set, &mut seen, &mut out);
    }
    for r in &n.res {
        postorder(n, &r.tag, &set, &mut seen, &mut out);
    }
    out
}

/// Order in which `remove` handles resources: parents first, then the tag.
pub fn remove_order(n: &Node, tag: &str) -> Vec<String> {
    fn go(n: &Node, t: &str, seen: &mut HashSet<String>, out: &mut Vec<String>) {
        if !seen.insert(t.to_string()) {
            return;
        }
        for p in n.parents_of(t) {
            go(n, &p, seen, out);
        }
        out.push(t.to_string());
    }
    let mut out = Vec::new();
    go(n, tag, &mut HashSet::new(), &mut out);
    out
}

pub struct ActionOpts {
    pub bottom_only: bool,
    /// Fault "halfway": the named tag goes OSF instead of ISP (or during
    /// remove, the tag goes OSF after its parents were removed).
    pub fail_tag: bool,
}

fn step_time(world: &World, i: usize) -> std::time::Duration {
    let t = &world.nodes[i].rt.timings;
    t.scaled(t.perform_action)
}

/// Keep the start and end of one resource's restore or remove in the node's state.
fn record(n: &mut Node, action: &str, tag: &str, started_ms: u64, ok: bool) {
    let ended_ms = crate::clock::now_ms();
    n.rt.actions.push(ActionRec {
        action: action.to_string(),
        tag: tag.to_string(),
        started: crate::clock::rfc3339_utc(started_ms),
        ended: crate::clock::rfc3339_utc(ended_ms),
        started_ms,
        ended_ms,
        result: if ok { "ok" } else { "failed" }.to_string(),
    });
    let extra = n.rt.actions.len().saturating_sub(MAX_ACTIONS);
    n.rt.actions.drain(..extra);
}

/// One resource takes `perform_action` time: the other commands (lcdstatus) run meanwhile.
fn pace(world: &mut World, i: usize, log: &[String]) -> Result<(), (Vec<String>, String)> {
    let d = step_time(world, i);
    world
        .pace(d)
        .map_err(|e| (log.to_vec(), format!("cannot save state: {e}")))
}

/// Remove `tag` (and its parents first) on node `i`.  Returns log lines.
pub fn remove(
    world: &mut World,
    i: usize,
    tag: &str,
    fail_tag: bool,
) -> Result<Vec<String>, (Vec<String>, String)> {
    let mut log = Vec::new();
    if world.nodes[i].res(tag).is_none() {
        let nm = world.nodes[i].name.clone();
        return Err((log, format!("resource \"{tag}\" does not exist on {nm}")));
    }
    for t in remove_order(&world.nodes[i], tag) {
        let st = world.nodes[i].state_of(&t);
        let name = world.nodes[i].name.clone();
        if fail_tag && t == tag {
            let started = crate::clock::now_ms();
            let n = &mut world.nodes[i];
            n.set_state(&t, "OSF");
            record(n, "remove", &t, started, false);
            log.push(format!("remove of \"{t}\" on \"{name}\" failed"));
            return Err((log, format!("remove of resource \"{t}\" failed")));
        }
        if st == "OSU" {
            continue;
        }
        log.push(format!("Removing resource \"{t}\" on server \"{name}\""));
        let started = crate::clock::now_ms();
        pace(world, i, &log)?;
        let n = &mut world.nodes[i];
        n.set_state(&t, "OSU");
        record(n, "remove", &t, started, true);
        log.push(format!("Remove of \"{t}\" on server \"{name}\" completed"));
    }
    Ok(log)
}

/// Restore `tag` on node `i`, switching resources over from other nodes.
/// Nodes in `ignore` are treated as gone (used by failover).
pub fn restore(
    world: &mut World,
    i: usize,
    tag: &str,
    opts: &ActionOpts,
) -> Result<Vec<String>, (Vec<String>, String)> {
    let mut log = Vec::new();
    if world.nodes[i].res(tag).is_none() {
        let nm = world.nodes[i].name.clone();
        return Err((log, format!("resource \"{tag}\" does not exist on {nm}")));
    }
    let order = restore_order(&world.nodes[i], tag, opts.bottom_only);
    // 0. a mirror that is not in sync here cannot come into service here: refuse before
    //    anything changes, unless the worst case (--resync-restore removes-source) is set
    let blocked = datakeeper::blocked(world, i, &order);
    if let Some((_, why)) = blocked.first() {
        if !world.nodes[i].rt.resync_removes_source {
            return Err((log, why.clone()));
        }
    }
    // 1. switchover: remove on the remote systems what is in service there
    let mut remote: Vec<(usize, String)> = Vec::new();
    for t in &order {
        if in_service(&world.nodes[i].state_of(t)) {
            continue;
        }
        let eqs = world.nodes[i]
            .res(t)
            .map(|r| r.equivalents.clone())
            .unwrap_or_default();
        for e in eqs {
            let j = match world.idx(&e.node) {
                Some(j) => j,
                None => continue,
            };
            let peer = &world.nodes[j];
            if peer.rt.down || peer.res(&e.tag).is_none() {
                continue;
            }
            if in_service(&peer.state_of(&e.tag)) {
                if !peer.alive() {
                    return Err((
                        log,
                        format!(
                            "resource \"{}\" is in service on \"{}\" where LifeKeeper is not running; cannot switch it over",
                            e.tag, peer.name
                        ),
                    ));
                }
                remote.push((j, e.tag.clone()));
            }
        }
    }
    for (j, t) in remote {
        if world.nodes[j].remote.is_some() {
            // a peer in another container: its daemon removes it there
            match crate::transport::remote_remove(&world.nodes[j], &t) {
                Ok((l, snap)) => {
                    log.extend(l);
                    if let Some(n) = snap {
                        world.nodes[j] = n;
                    }
                }
                Err((l, e)) => {
                    log.extend(l);
                    return Err((log, e));
                }
            }
            continue;
        }
        match remove(world, j, &t, false) {
            Ok(l) => log.extend(l),
            Err((l, e)) => {
                log.extend(l);
                return Err((log, e));
            }
        }
    }
    // 2. local restore, bottom up
    for t in &order {
        let st = world.nodes[i].state_of(t);
        let name = world.nodes[i].name.clone();
        if st == "ISP" {
            continue;
        }
        if st == "ISU" {
            world.nodes[i].set_state(t, "ISP");
            continue;
        }
        log.push(format!("Restoring resource \"{t}\" on server \"{name}\""));
        let why = blocked
            .iter()
            .find(|(b, _)| b == t)
            .map(|(_, w)| w.clone())
            .or_else(|| {
                (opts.fail_tag && t == tag).then(|| format!("restore of resource \"{t}\" failed"))
            });
        if let Some(why) = why {
            let started = crate::clock::now_ms();
            let n = &mut world.nodes[i];
            n.set_state(t, "OSF");
            record(n, "restore", t, started, false);
            log.push(format!("Restore of \"{t}\" on server \"{name}\" failed"));
            return Err((log, why));
        }
        let started = crate::clock::now_ms();
        pace(world, i, &log)?;
        let n = &mut world.nodes[i];
        n.set_state(t, "ISP");
        record(n, "restore", t, started, true);
        if n.res(t).is_some_and(datakeeper::is_mirror) {
            datakeeper::on_restored(world, i, t);
        }
        log.push(format!("Restore of \"{t}\" on server \"{name}\" completed"));
    }
    Ok(log)
}

/// `lkstop` (full): take resources out of service, stop LifeKeeper.
pub fn stop(world: &mut World, i: usize, force: bool) {
    let n = &mut world.nodes[i];
    if !force {
        let isp: Vec<String> =
            n.rt.states
                .iter()
                .filter(|(_, s)| in_service(s))
                .map(|(t, _)| t.clone())
                .collect();
        n.rt.resume_on_start = isp;
        for t in n.res.iter().map(|r| r.tag.clone()).collect::<Vec<_>>() {
            n.set_state(&t, "OSU");
        }
        // a plain lkstop also disables the systemd unit (field evidence)
        n.rt.boot_disabled = true;
    }
    n.rt.running = false;
}

/// LifeKeeper's start-up begins on node `i`: `LK_INITDONE` appears after the `lkstart` time,
/// and every mirror this node is a target of starts to resync.
fn begin_start(world: &mut World, i: usize) {
    let n = &mut world.nodes[i];
    n.rt.running = true;
    n.rt.boot_disabled = false;
    let d = n.rt.timings.scaled(n.rt.timings.lkstart);
    n.rt.start_gen += 1;
    n.rt.initdone_at_ms = crate::clock::now_ms() + d.as_millis() as u64;
    n.spawn_initdone = !d.is_zero();
}

/// `lkstart`: start LifeKeeper; resources taken down by a full lkstop come
/// back unless they are in service on another node.
pub fn start(world: &mut World, i: usize) {
    begin_start(world, i);
    let tags = std::mem::take(&mut world.nodes[i].rt.resume_on_start);
    for t in tags {
        let eqs = match world.nodes[i].res(&t) {
            Some(r) => r.equivalents.clone(),
            None => continue,
        };
        let elsewhere = eqs.iter().any(|e| {
            world
                .idx(&e.node)
                .map(|j| {
                    let p = &world.nodes[j];
                    !p.rt.down && in_service(&p.state_of(&e.tag))
                })
                .unwrap_or(false)
        });
        if !elsewhere {
            world.nodes[i].set_state(&t, "ISP");
        }
    }
    // resources without a state get OSU
    let n = &mut world.nodes[i];
    for t in n.res.iter().map(|r| r.tag.clone()).collect::<Vec<_>>() {
        if !n.rt.states.contains_key(&t) {
            n.set_state(&t, "OSU");
        }
    }
    datakeeper::on_started(world, i);
}

/// Crash node `d`; the surviving node with the next priority restores what
/// was in service on it.  Returns log lines.
pub fn node_down(world: &mut World, d: usize) -> Vec<String> {
    let mut log = Vec::new();
    let was: Vec<String> = world.nodes[d]
        .rt
        .states
        .iter()
        .filter(|(_, s)| in_service(s))
        .map(|(t, _)| t.clone())
        .collect();
    let was_alive = world.nodes[d].alive();
    {
        let n = &mut world.nodes[d];
        n.rt.down = true;
        n.rt.running = false;
        n.rt.resume_on_start.clear();
        n.rt.states.clear();
    }
    if !was_alive && was.is_empty() {
        return log;
    }
    // pick a failover target for each tag
    let mut targets: Vec<(usize, String)> = Vec::new();
    for t in &was {
        let eqs = match world.nodes[d].res(t) {
            Some(r) => r.equivalents.clone(),
            None => continue,
        };
        let mut cands: Vec<(u32, usize, String)> = eqs
            .iter()
            .filter_map(|e| {
                let j = world.idx(&e.node)?;
                let p = &world.nodes[j];
                // a peer reached over TCP takes over by itself (its daemon's heartbeat)
                if p.alive() && p.res(&e.tag).is_some() && p.remote.is_none() {
                    Some((e.prio, j, e.tag.clone()))
                } else {
                    None
                }
            })
            .collect();
        cands.sort();
        if let Some((_, j, tag)) = cands.into_iter().next() {
            targets.push((j, tag));
        }
    }
    let opts = ActionOpts {
        bottom_only: false,
        fail_tag: false,
    };
    for (j, tag) in targets {
        if in_service(&world.nodes[j].state_of(&tag)) {
            continue;
        }
        let nm = world.nodes[j].name.clone();
        log.push(format!("failover: restoring \"{tag}\" on \"{nm}\""));
        match restore(world, j, &tag, &opts) {
            Ok(l) => log.extend(l),
            Err((l, e)) => {
                log.extend(l);
                log.push(format!("failover of \"{tag}\" to \"{nm}\" failed: {e}"));
            }
        }
    }
    log
}

/// A node's boot after a crash or a stop of its container (`lksim boot`):
/// LifeKeeper starts, and what was in service before comes back unless it
/// is in service on another node now (it failed over).
pub fn boot(world: &mut World, d: usize) {
    let n = &mut world.nodes[d];
    let mut resume: Vec<String> =
        n.rt.states
            .iter()
            .filter(|(_, s)| in_service(s))
            .map(|(t, _)| t.clone())
            .collect();
    if n.rt.down {
        resume.clear(); // a node crashed with `lksim node down` lost its resources then
    }
    for t in std::mem::take(&mut n.rt.resume_on_start) {
        if !resume.contains(&t) {
            resume.push(t);
        }
    }
    n.rt.down = false;
    n.rt.running = false;
    n.rt.states.clear();
    if n.installed_version().is_none() {
        return;
    }
    n.rt.resume_on_start = resume;
    start(world, d);
}

/// Bring a crashed node back: LifeKeeper running, resources OSU there.
pub fn node_up(world: &mut World, d: usize) {
    let n = &mut world.nodes[d];
    n.rt.down = false;
    n.rt.states.clear();
    n.rt.resume_on_start.clear();
    if n.installed_version().is_some() {
        for t in n.res.iter().map(|r| r.tag.clone()).collect::<Vec<_>>() {
            n.set_state(&t, "OSU");
        }
        begin_start(world, d);
        datakeeper::on_started(world, d);
    }
}

//! `lcdstatus` short display (-e / -q) rendering and the detailed display.

use crate::model::World;

/// What a stopped node's `lcdstatus -q` prints (field evidence [MH], 9.8.1).  lksim prints it for
/// every form of lcdstatus, on stdout with exit 0: the stream and exit code are not public, and
/// that is the worst case for a parser (a caller that trusts the exit code reads a "status").
pub const NOT_RUNNING: &str = "LifeKeeper does not appear to be running.";

/// Does an lcdstatus output say LifeKeeper is stopped (the real sentence, or lksim's older
/// wording in captures made before it)?
pub fn says_not_running(text: &str) -> bool {
    let t = text.trim();
    t == NOT_RUNNING || t.ends_with("LifeKeeper is not running")
}

#[derive(Clone, Debug)]
pub struct ResRow {
    /// BACKUP (-e) or LOCAL (-q) column value
    pub first: String,
    pub tag: String,
    /// 0 for a root tag, 1 for its child, ...
    pub depth: usize,
    pub id: String,
    pub state: String,
    pub prio: String,
    pub primary: String,
}

#[derive(Clone, Debug)]
pub struct PathRow {
    pub machine: String,
    pub network: String,
    pub address: String,
    pub state: String,
    pub prio: String,
}

fn w(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, width: usize) -> String {
    let mut o = s.to_string();
    for _ in w(s)..width {
        o.push(' ');
    }
    o
}

fn rpad(s: &str, width: usize) -> String {
    let mut o = String::new();
    for _ in w(s)..width {
        o.push(' ');
    }
    o.push_str(s);
    o
}

/// Render the short status display.  Column widths (UNCONFIRMED rule, fitted
/// to the 9.6.0 vendor sample): first column shared by both sections is the
/// longest value/header plus 2; TAG is the longest indented tag plus 2; ID is
/// the longest id plus 3; STATE is fixed at 10 (len("ILLSTATE") plus 2); PRIO
/// is right-aligned in 4; two spaces; PRIMARY.  Comm section: NETWORK is the
/// longest plus 1; ADDRESSES/DEVICE the longest plus 2; STATE 10; PRIO
/// right-aligned in 4.
///
/// With no resource and no comm path the display is the header line alone (field evidence [MH]:
/// a running node's `lcdstatus -q`); `local_name` (this node's name) sets the first column's
/// width then.  UNCONFIRMED: that `-e` does the same, with the same widths.
pub fn render_short(
    first_header: &str,
    local_name: Option<&str>,
    res: &[ResRow],
    paths: &[PathRow],
) -> String {
    let first_w = res
        .iter()
        .map(|r| w(&r.first))
        .chain(paths.iter().map(|p| w(&p.machine)))
        .chain([w(first_header), w("MACHINE")])
        .max()
        .unwrap_or(0)
        + 2;
    let tag_w = res
        .iter()
        .map(|r| r.depth + w(&r.tag))
        .chain([w("TAG")])
        .max()
        .unwrap_or(0)
        + 2;
    let id_w = res
        .iter()
        .map(|r| w(&r.id))
        .chain([w("ID")])
        .max()
        .unwrap_or(0)
        + 3;
    let state_w = res
        .iter()
        .map(|r| w(&r.state))
        .chain(paths.iter().map(|p| w(&p.state)))
        .chain([w("ILLSTATE")])
        .max()
        .unwrap_or(0)
        + 2;
    let prio_w = res
        .iter()
        .map(|r| w(&r.prio))
        .chain(paths.iter().map(|p| w(&p.prio)))
        .chain([4])
        .max()
        .unwrap_or(4);
    let mut o = String::new();
    if res.is_empty() && paths.is_empty() {
        // No resource and no comm path: the header line alone (field evidence [MH]), TAG and ID
        // 6 wide; the first column is the local node name (or the header) plus 2.
        let first_w = w(first_header).max(local_name.map(w).unwrap_or(0)) + 2;
        o.push_str(&format!(
            "{}{}{}{}{}  {}\n",
            pad(first_header, first_w),
            pad("TAG", 6),
            pad("ID", 6),
            pad("STATE", 10),
            rpad("PRIO", 4),
            "PRIMARY"
        ));
        return o;
    }
    o.push_str("Resource Hierarchy Information\n\n");
    o.push_str(&format!(
        "{}{}{}{}{}  {}\n",
        pad(first_header, first_w),
        pad("TAG", tag_w),
        pad("ID", id_w),
        pad("STATE", state_w),
        rpad("PRIO", prio_w),
        "PRIMARY"
    ));
    for r in res {
        let tag = format!("{}{}", " ".repeat(r.depth), r.tag);
        o.push_str(&format!(
            "{}{}{}{}{}  {}\n",
            pad(&r.first, first_w),
            pad(&tag, tag_w),
            pad(&r.id, id_w),
            pad(&r.state, state_w),
            rpad(&r.prio, prio_w),
            r.primary
        ));
    }
    let net_w = paths
        .iter()
        .map(|p| w(&p.network))
        .chain([w("NETWORK")])
        .max()
        .unwrap_or(0)
        + 1;
    let addr_w = paths
        .iter()
        .map(|p| w(&p.address))
        .chain([w("ADDRESSES/DEVICE")])
        .max()
        .unwrap_or(0)
        + 2;
    o.push_str("\nCommunication Status Information\n\n");
    o.push_str(&format!(
        "{}{}{}{}{}\n",
        pad("MACHINE", first_w),
        pad("NETWORK", net_w),
        pad("ADDRESSES/DEVICE", addr_w),
        pad("STATE", state_w),
        rpad("PRIO", prio_w)
    ));
    for p in paths {
        o.push_str(&format!(
            "{}{}{}{}{}\n",
            pad(&p.machine, first_w),
            pad(&p.network, net_w),
            pad(&p.address, addr_w),
            pad(&p.state, state_w),
            rpad(&p.prio, prio_w)
        ));
    }
    o
}

/// Depth-first order of node `i`'s resources: (tag, depth), parents first,
/// shared children only once (under the first parent).
pub fn dfs_order(world: &World, i: usize) -> Vec<(String, usize)> {
    let n = &world.nodes[i];
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    fn go(
        n: &crate::model::Node,
        tag: &str,
        d: usize,
        out: &mut Vec<(String, usize)>,
        seen: &mut std::collections::HashSet<String>,
    ) {
        if !seen.insert(tag.to_string()) {
            return;
        }
        out.push((tag.to_string(), d));
        if let Some(r) = n.res(tag) {
            for c in &r.children {
                go(n, c, d + 1, out, seen);
            }
        }
    }
    for r in &n.res {
        if n.parents_of(&r.tag).is_empty() {
            go(n, &r.tag, 0, &mut out, &mut seen);
        }
    }
    for r in &n.res {
        // cycles or orphans: still list them
        go(n, &r.tag, 0, &mut out, &mut seen);
    }
    out
}

/// (backup, primary) for a resource of node `i`.
pub fn backup_primary(world: &World, i: usize, tag: &str) -> (String, String) {
    let n = &world.nodes[i];
    let r = match n.res(tag) {
        Some(r) => r,
        None => return ("------".into(), n.name.clone()),
    };
    let mut order: Vec<(u32, String)> = vec![(r.prio, n.name.clone())];
    for e in &r.equivalents {
        order.push((e.prio, e.node.clone()));
    }
    order.sort();
    let primary = order[0].1.clone();
    let pos = order.iter().position(|(_, m)| *m == n.name).unwrap_or(0);
    let backup = order
        .get(pos + 1)
        .map(|x| x.1.clone())
        .unwrap_or_else(|| "------".into());
    (backup, primary)
}

pub fn rows_for(world: &World, i: usize, local: bool) -> (Vec<ResRow>, Vec<PathRow>) {
    let n = &world.nodes[i];
    let mut rows = Vec::new();
    for (tag, depth) in dfs_order(world, i) {
        let r = match n.res(&tag) {
            Some(r) => r,
            None => continue,
        };
        let (backup, primary) = backup_primary(world, i, &tag);
        rows.push(ResRow {
            first: if local { n.name.clone() } else { backup },
            tag: tag.clone(),
            depth,
            id: r.id.clone(),
            state: n.state_of(&tag),
            prio: r.prio.to_string(),
            primary,
        });
    }
    let mut paths = Vec::new();
    let mut defs = n.paths.clone();
    // TCP paths (by priority) before TTY paths of the same peer, as the vendor's 9.6.0 sample
    // shows them (a TTY path has no priority; sorting None first put it above TCP).
    defs.sort_by(|a, b| {
        (&a.peer, a.prio.is_none(), a.prio, &a.kind).cmp(&(
            &b.peer,
            b.prio.is_none(),
            b.prio,
            &b.kind,
        ))
    });
    for p in &defs {
        paths.push(PathRow {
            machine: p.peer.clone(),
            network: p.kind.clone(),
            address: p.address.clone(),
            state: if world.path_alive(i, p) {
                "ALIVE".into()
            } else {
                "DEAD".into()
            },
            prio: match (p.kind.as_str(), p.prio) {
                ("TCP", Some(x)) => x.to_string(),
                _ => "--".into(),
            },
        });
    }
    (rows, paths)
}

/// Detailed display (plain `lcdstatus`), in the layout of a real one (field evidence, [AWS]
/// image): per hierarchy a `ROOT of RESOURCE HIERARCHY` heading, per resource
/// `<tag>: id=... app=... type=... state=...` and its indented details, then the machines
/// LifeKeeper knows.  No blank line after the heading nor between resources (of one hierarchy or
/// two), attribute lines
/// indented 8 blanks (field evidence [GA, AWS]).  The comm-path lines under each machine and the
/// blank line before the machines are UNCONFIRMED.
pub fn render_long(world: &World, i: usize) -> String {
    let n = &world.nodes[i];
    let mut o = String::new();
    for (tag, depth) in dfs_order(world, i) {
        let r = match n.res(&tag) {
            Some(r) => r,
            None => continue,
        };
        if depth == 0 {
            o.push_str("ROOT of RESOURCE HIERARCHY\n");
        }
        o.push_str(&format!(
            "{}: id={} app={} type={} state={}\n",
            r.tag,
            r.id,
            r.app,
            r.rtype,
            n.state_of(&tag)
        ));
        o.push_str(
            "        initialize=(AUTORES_ISP) automatic restore to IN-SERVICE by LifeKeeper\n",
        );
        o.push_str(&format!("        info={}\n", r.id));
        if !r.children.is_empty() {
            o.push_str(&format!(
                "        depends on resources: {}\n",
                r.children.join(",")
            ));
        }
        let parents = n.parents_of(&tag);
        if !parents.is_empty() {
            o.push_str(&format!(
                "        these resources are dependent: {}\n",
                parents.join(",")
            ));
        }
        o.push_str(&format!("        Local priority = {}\n", r.prio));
        for e in &r.equivalents {
            o.push_str(&format!(
                "        SHARED equivalency with \"{}\" on \"{}\", priority = {}\n",
                e.tag, e.node, e.prio
            ));
            o.push_str("        FAILOVER ALLOWED\n");
        }
    }
    if !o.is_empty() {
        o.push('\n');
    }
    o.push_str("The following LifeKeeper machines are known:\n");
    o.push_str(&format!(
        "machine={} state={}\n",
        n.name,
        if n.alive() { "ALIVE" } else { "DEAD" }
    ));
    let mut peers: Vec<&str> = n.paths.iter().map(|p| p.peer.as_str()).collect();
    peers.dedup();
    for peer in peers {
        let alive = n
            .paths
            .iter()
            .any(|p| p.peer == peer && world.path_alive(i, p));
        o.push_str(&format!(
            "machine={peer} state={}\n",
            if alive { "ALIVE" } else { "DEAD" }
        ));
        for p in n.paths.iter().filter(|p| p.peer == peer) {
            o.push_str(&format!(
                "        to machine={} type={} addresses={} state=\"{}\" priority={}\n",
                p.peer,
                p.kind,
                p.address,
                if world.path_alive(i, p) {
                    "ALIVE"
                } else {
                    "DEAD"
                },
                p.prio.map(|x| x.to_string()).unwrap_or_else(|| "--".into())
            ));
        }
    }
    o
}

use super::*;

// ---- reading the cluster ------------------------------------------------------------------

/// What we know: this node's status and name, and each peer's status (None: unreadable/DEAD).
#[derive(Debug, Clone)]
pub(super) struct View {
    pub(super) me: Option<String>,
    pub(super) local: Status,
    pub(super) peers: BTreeMap<String, Option<Status>>,
}

impl View {
    pub(super) fn read(ctx: &Ctx, p: &Params, local: Status) -> Result<View, Failure> {
        let me = local_name(ctx, &p.lkroot)?;
        let mut peers = BTreeMap::new();
        for peer in local.peers() {
            let v = if any_alive(&local, &peer) {
                read_peer(ctx, p, &peer, me.as_deref())?
            } else {
                None
            };
            peers.insert(peer, v);
        }
        Ok(View { me, local, peers })
    }

    pub(super) fn me(&self) -> String {
        self.me.clone().unwrap_or_else(|| "this node".into())
    }

    /// Every node's status we know, this node included, keyed by name.
    pub(super) fn nodes(&self) -> BTreeMap<String, Option<&Status>> {
        let mut m: BTreeMap<String, Option<&Status>> = self
            .peers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref()))
            .collect();
        m.insert(self.me(), Some(&self.local));
        m
    }

    pub(super) fn status_mut(&mut self, node: &str) -> Option<&mut Status> {
        if node == self.me() {
            Some(&mut self.local)
        } else {
            self.peers.get_mut(node).and_then(|s| s.as_mut())
        }
    }

    /// Predict the effect of a step, as perform_action behaves: restore brings the whole
    /// hierarchy ISP on its node and removes it (ISP/ISU → OSU) wherever else it was in
    /// service; remove takes it OSU on its node.
    pub(super) fn apply(&mut self, s: &Step) {
        let set = |st: &mut Status, root: &str, f: &dyn Fn(&str) -> Option<&'static str>| {
            let tags: Vec<String> = st.hierarchy(root).iter().map(|r| r.tag.clone()).collect();
            for r in st.resources.iter_mut().filter(|r| tags.contains(&r.tag)) {
                if let Some(n) = f(&r.state) {
                    r.state = n.into();
                }
            }
        };
        match s.action {
            "restore" => {
                let names: Vec<String> = self.nodes().keys().cloned().collect();
                for n in names {
                    if let Some(st) = self.status_mut(&n) {
                        if n == s.node {
                            set(st, &s.tag, &|_| Some("ISP"));
                        } else {
                            set(st, &s.tag, &|x| {
                                status::State::of(x).in_service().then_some("OSU")
                            });
                        }
                    }
                }
            }
            _ => {
                if let Some(st) = self.status_mut(&s.node) {
                    set(st, &s.tag, &|_| Some("OSU"));
                }
            }
        }
    }
}

pub(super) fn any_alive(st: &Status, node: &str) -> bool {
    st.paths_to(node).any(|c| c.state == "ALIVE")
}

pub(super) fn remote_lkroot(p: &Params) -> &Path {
    p.remote_lkroot.as_deref().unwrap_or(&p.lkroot)
}

/// This node's LifeKeeper name (`lcdstatus -q`, see `lifekeeper::node::in_status`).
pub(super) fn local_name(ctx: &Ctx, lkroot: &Path) -> Result<Option<String>, Failure> {
    node::in_status(&ctx.runner, lkroot)
}

/// A peer's `lcdstatus -e` through lcdremexec. Unreadable → None (shown as unknown). A status
/// that lists the peer itself as a remote machine is not the peer's: refuse it loudly rather than
/// act on a wrong picture (this is what a misrouted lcdremexec would return).
pub(super) fn read_peer(
    ctx: &Ctx,
    p: &Params,
    peer: &str,
    me: Option<&str>,
) -> Result<Option<Status>, Failure> {
    let lcdstatus = remote_lkroot(p).join("bin").join("lcdstatus");
    let cmd = remote::lcdremexec(
        &p.lkroot,
        peer,
        &[lcdstatus.to_string_lossy().as_ref(), "-e"],
        "remote_lkroot",
    )?;
    let st = match status::read_cmd(&ctx.runner, cmd) {
        Ok(Some(st)) => st,
        Ok(None) | Err(_) => return Ok(None),
    };
    let machines = st.peers();
    if machines.iter().any(|m| m == peer)
        || me.is_some_and(|m| !machines.is_empty() && !machines.iter().any(|x| x == m))
    {
        return Err(Failure::new(format!(
            "`lcdremexec -d {peer} -- {}/bin/lcdstatus -e` answered with a status that is not {peer}'s (its comm paths go to {}); check remote_lkroot",
            remote_lkroot(p).display(),
            machines.join(", ")
        )));
    }
    Ok(Some(st))
}

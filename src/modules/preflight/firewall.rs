//! LK-FW-PORTS: gather (the firewall tools' rules, the DataKeeper ports, whether DataKeeper is
//! installed) → `judge`, a pure function of those facts. The rules themselves (which ports,
//! how each tool's rules read) are `lifekeeper::ports`.

use super::env::{Env, Probe};
use super::Finding;
use crate::lifekeeper::ports::{
    closed_ports, firewalld_filter, iptables_filter, nft_filter, required_ports, Filter, PortRule,
};
use crate::runtime::Cmd;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Everything LK-FW-PORTS decides on.
pub(super) struct FirewallFacts {
    /// Mirror → the DataKeeper port chosen for it.
    pub(super) dk_ports: BTreeMap<u16, u16>,
    /// How the ports were chosen, and hints (no free port, DataKeeper installed).
    pub(super) notes: Vec<String>,
    /// The active firewall; `Err` when no firewall tool exists at all.
    pub(super) probe: Result<FwProbe, String>,
}

/// Run the probes LK-FW-PORTS needs.
pub(super) fn gather(env: &Env) -> FirewallFacts {
    let mut notes: Vec<String> = vec![];
    let dk_ports = env.dk_ports(&mut notes).clone();
    for m in &env.mirrors {
        if !dk_ports.contains_key(m) {
            notes.push(format!("mirror {m}: no free port up to 65535"));
        }
    }
    if env.mirrors.is_empty() {
        if let Ok(pk) = env.lk_packages() {
            if pk.iter().any(|n| n == "steeleye-lkDR") {
                notes.push(
                    "DataKeeper is installed: pass datakeeper_mirrors to check its ports".into(),
                );
            }
        }
    }
    FirewallFacts {
        dk_ports,
        notes,
        probe: active_filter(env),
    }
}

pub(super) fn check_firewall(env: &Env) -> Finding {
    judge(gather(env))
}

/// The finding, from the facts alone.
pub(super) fn judge(facts: FirewallFacts) -> Finding {
    let mut notes = facts.notes;
    let dk = facts.dk_ports;
    let wanted = required_ports(&dk);
    let expected = wanted
        .iter()
        .map(PortRule::label)
        .collect::<Vec<_>>()
        .join(", ")
        + " allowed";
    let dk_json: Map<String, Value> = dk.iter().map(|(m, p)| (m.to_string(), json!(p))).collect();
    let probe = match facts.probe {
        Ok(x) => x,
        Err(e) => {
            return Finding::skip(expected, format!("no firewall tool found: {e}"))
                .details(json!({ "datakeeper_ports": dk_json }))
        }
    };
    notes.extend(probe.notes);
    let Some(f) = probe.filter else {
        if probe.inconclusive {
            return Finding::warn(
                expected,
                "unknown",
                format!(
                    "no active firewall found, but a firewall probe failed ({})",
                    notes.join("; ")
                ),
            )
            .remedy("Run lk_preflight as root (become: true) so the firewall rules can be read.")
            .details(json!({ "firewall": null, "datakeeper_ports": dk_json, "notes": notes }));
        }
        let mut f = Finding::pass(
            expected,
            "no active firewall",
            "no firewall is active; every port is reachable",
        );
        f.msg = format!("{} ({})", f.msg, notes.join("; "));
        return f.details(json!({ "firewall": null, "datakeeper_ports": dk_json, "notes": notes }));
    };
    let (closed_fail, closed_warn) = closed_ports(&f, &wanted);
    let closed: Vec<String> = closed_fail
        .iter()
        .chain(closed_warn.iter())
        .cloned()
        .collect();
    let actual = if closed.is_empty() {
        format!("{}: all allowed", f.name)
    } else {
        format!("{}: closed {}", f.name, closed.join(", "))
    };
    let details = json!({ "firewall": f.name, "closed": closed, "datakeeper_ports": dk_json, "notes": notes });
    let port_args: Vec<String> = closed_fail
        .iter()
        .chain(closed_warn.iter())
        .map(|l| l.split('/').next().unwrap_or_default().to_string())
        .collect();
    let remedy = match f.name {
        "firewalld" => format!(
            "{} && firewall-cmd --reload (seed §3.3; for the GUI, ssh X forwarding avoids opening the RMI range)",
            port_args.iter().map(|p| format!("firewall-cmd --permanent --add-port={p}/tcp")).collect::<Vec<_>>().join(" && ")
        ),
        "nftables" => format!(
            "Add an accept rule to the input chain for tcp dport {{ {} }} (seed §3.3)",
            port_args.join(", ")
        ),
        _ => format!(
            "{} and save the rules (seed §3.3)",
            port_args.iter().map(|p| format!("iptables -I INPUT -p tcp --dport {} -j ACCEPT", p.replace('-', ":"))).collect::<Vec<_>>().join("; ")
        ),
    };
    let note = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    if !closed_fail.is_empty() {
        Finding::fail(
            expected,
            actual,
            format!("{} blocks {}{note}", f.name, closed.join(", ")),
        )
        .remedy(remedy)
        .details(details)
    } else if !closed_warn.is_empty() {
        Finding::warn(
            expected,
            actual,
            format!(
                "{} blocks the optional ports {}{note}",
                f.name,
                closed_warn.join(", ")
            ),
        )
        .remedy(remedy)
        .details(details)
    } else {
        Finding::pass(
            expected,
            actual,
            format!("{} allows every LifeKeeper port{note}", f.name),
        )
        .details(details)
    }
}

/// Reads one tool's rules; `None` when it has no input filter.
pub(super) type FilterParser = fn(&str) -> Option<Filter>;

/// What the firewall probes found.
pub(super) struct FwProbe {
    /// The active firewall's input filter; `None` when no firewall filters input.
    pub(super) filter: Option<Filter>,
    pub(super) notes: Vec<String>,
    /// A probe ran but failed (e.g. not root), so "none active" is not certain.
    pub(super) inconclusive: bool,
}

/// Find the active firewall: firewalld, else nftables, else iptables.
/// `Err` when no firewall tool exists at all (→ skip).
pub(super) fn active_filter(env: &Env) -> Result<FwProbe, String> {
    let mut p = FwProbe {
        filter: None,
        notes: vec![],
        inconclusive: false,
    };
    let mut ran_any = false;
    match env.probe(Cmd::new("firewall-cmd").arg("--state")) {
        Probe::Ran(o) => {
            ran_any = true;
            if o.ok() && o.stdout.trim() == "running" {
                return match env.probe(Cmd::new("firewall-cmd").arg("--list-ports")) {
                    Probe::Ran(l) if l.ok() => {
                        p.filter = Some(firewalld_filter(&l.stdout));
                        Ok(p)
                    }
                    Probe::Ran(l) => Err(l.failure("listing firewalld ports").msg),
                    Probe::Missing(m) => Err(m),
                };
            }
            p.notes.push("firewalld is not running".into());
        }
        Probe::Missing(m) => p.notes.push(m),
    }
    let others: [(Cmd, FilterParser); 2] = [
        (Cmd::new("nft").args(["list", "ruleset"]), nft_filter),
        (Cmd::new("iptables").args(["-S", "INPUT"]), |t| {
            Some(iptables_filter(t))
        }),
    ];
    for (cmd, parse) in others {
        let shown = cmd.display().join(" ");
        let name = cmd.display()[0].clone();
        match env.probe(cmd) {
            Probe::Ran(o) if o.ok() => {
                ran_any = true;
                match parse(&o.stdout) {
                    Some(f) if f.active() => {
                        p.filter = Some(f);
                        return Ok(p);
                    }
                    _ => p.notes.push(format!("{name} does not filter input")),
                }
            }
            Probe::Ran(o) => {
                ran_any = true;
                p.inconclusive = true;
                p.notes.push(format!("`{shown}` failed: {}", o.tail()));
            }
            Probe::Missing(m) => p.notes.push(m),
        }
    }
    if ran_any {
        Ok(p)
    } else {
        Err(p.notes.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifekeeper::ports::Rule;

    fn facts(probe: Result<FwProbe, String>, dk: &[(u16, u16)]) -> FirewallFacts {
        FirewallFacts {
            dk_ports: dk.iter().copied().collect(),
            notes: vec![],
            probe,
        }
    }

    fn found(filter: Filter) -> Result<FwProbe, String> {
        Ok(FwProbe {
            filter: Some(filter),
            notes: vec![],
            inconclusive: false,
        })
    }

    fn status(f: &Finding) -> &'static str {
        f.status.name()
    }

    #[test]
    fn judge_fails_on_a_closed_comm_path_or_mirror_port_and_warns_on_gui_ports() {
        // firewalld opening only 7365: the GUI ports warn, nothing fails.
        let f = judge(facts(found(firewalld_filter("7365/tcp")), &[]));
        assert_eq!(status(&f), "warn", "{}", f.msg);
        assert!(f.msg.contains("81/tcp (GUI server)"), "{}", f.msg);
        assert!(
            f.msg.contains("778/tcp (API/SSL between nodes)"),
            "{}",
            f.msg
        );
        assert!(f
            .remedy
            .as_deref()
            .unwrap_or_default()
            .contains("firewall-cmd --permanent --add-port=81/tcp"));
        // 778 alone closed: a warning, not a failure
        let f = judge(facts(
            found(firewalld_filter("7365/tcp 81-82/tcp 1024-65535/tcp")),
            &[],
        ));
        assert_eq!(status(&f), "warn", "{}", f.msg);
        assert!(
            f.msg.contains("778/tcp (API/SSL between nodes)"),
            "{}",
            f.msg
        );
        // the mirror's port closed: fail, and the mirror is named.
        let f = judge(facts(
            found(firewalld_filter(
                "7365/tcp 778/tcp 81-82/tcp 1024-65535/tcp",
            )),
            &[(0, 10001)],
        ));
        assert_eq!(status(&f), "pass", "{}", f.msg);
        let f = judge(facts(
            found(iptables_filter(
                "-P INPUT DROP\n-A INPUT -p tcp --dport 81:82 -j ACCEPT\n",
            )),
            &[(0, 10001)],
        ));
        assert_eq!(status(&f), "fail", "{}", f.msg);
        assert!(
            f.msg.contains("7365/tcp (communication paths)")
                && f.msg.contains("10001/tcp (DataKeeper mirror 0)"),
            "{}",
            f.msg
        );
        assert!(f
            .remedy
            .as_deref()
            .unwrap_or_default()
            .contains("iptables -I INPUT -p tcp --dport 1024:65535 -j ACCEPT"));
    }

    #[test]
    fn judge_without_a_firewall_passes_skips_or_warns_when_unsure() {
        let none = Ok(FwProbe {
            filter: None,
            notes: vec!["firewalld is not running".into()],
            inconclusive: false,
        });
        let f = judge(facts(none, &[]));
        assert_eq!(status(&f), "pass");
        assert!(f.msg.contains("firewalld is not running"), "{}", f.msg);
        let unsure = Ok(FwProbe {
            filter: None,
            notes: vec![],
            inconclusive: true,
        });
        assert_eq!(status(&judge(facts(unsure, &[]))), "warn");
        assert_eq!(
            status(&judge(facts(Err("nft not found on PATH".into()), &[]))),
            "skip"
        );
        // a catch-all accept before any drop lets everything in
        let open = Filter {
            name: "nftables",
            rules: vec![Rule {
                ports: None,
                accept: true,
            }],
            policy_accept: false,
        };
        assert_eq!(status(&judge(facts(found(open), &[(1, 10002)]))), "pass");
    }
}

//! LifeKeeper and DataKeeper port rules (seed §3.3) and the firewall rule readers that decide
//! whether a port is reachable: firewalld's port list, the nftables input chains, iptables INPUT;
//! the services file and `ss -ltn` for choosing DataKeeper mirror ports. Pure text → data.

use std::collections::{BTreeMap, BTreeSet};

/// Ports LifeKeeper needs open (seed §3.3): (first, last, what, a closed port fails?).
/// The GUI ports only warn: the GUI is optional and ssh X forwarding is the documented alternative.
/// 778 (API/SSL) warns too.
pub const LK_PORTS: &[(u16, u16, &str, bool)] = &[
    (7365, 7365, "communication paths", true),
    // field evidence [AWS template]: 778/tcp carries the API/SSL traffic between nodes in 9.5+.
    // A warning: older releases do not use it, and what breaks without it is not public.
    (778, 778, "API/SSL between nodes", false),
    (81, 81, "GUI server", false),
    (82, 82, "GUI server", false),
    (1024, 65535, "GUI RMI", false),
];

/// A TCP port range and the verdict of one firewall rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `None`: the rule matches every new TCP connection (a catch-all).
    pub ports: Option<Vec<(u16, u16)>>,
    pub accept: bool,
}

/// The input filter of the active firewall, reduced to what decides a new TCP connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub name: &'static str,
    pub rules: Vec<Rule>,
    pub policy_accept: bool,
}

impl Filter {
    /// First matching rule wins, else the policy.
    pub fn allows(&self, port: u16) -> bool {
        for r in &self.rules {
            match &r.ports {
                None => return r.accept,
                Some(ranges) if ranges.iter().any(|(a, b)| *a <= port && port <= *b) => {
                    return r.accept
                }
                _ => {}
            }
        }
        self.policy_accept
    }
    /// Filtering at all: a restrictive policy or some rule that drops.
    pub fn active(&self) -> bool {
        !self.policy_accept || self.rules.iter().any(|r| !r.accept)
    }
}

/// Parse `80`, `1024-65535` (nft), `1024:65535` (iptables), lists `81,82` / `{ 81, 82 }`.
pub fn parse_ports(spec: &str) -> Vec<(u16, u16)> {
    spec.split([',', ' ', '{', '}'])
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let (a, b) = s.split_once(['-', ':']).unwrap_or((s, s));
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        })
        .collect()
}

/// `firewall-cmd --list-ports` → `7365/tcp 81-82/tcp` (tcp only); firewalld rejects the rest.
pub fn firewalld_filter(list_ports: &str) -> Filter {
    let ranges = list_ports
        .split_whitespace()
        .filter_map(|t| t.strip_suffix("/tcp"))
        .flat_map(parse_ports)
        .collect();
    Filter {
        name: "firewalld",
        rules: vec![Rule {
            ports: Some(ranges),
            accept: true,
        }],
        policy_accept: false,
    }
}

/// `nft list ruleset`: the chains hooked on input, their rules in order. `None` when no chain
/// filters input (nftables is not active for inbound traffic).
pub fn nft_filter(ruleset: &str) -> Option<Filter> {
    let mut rules = vec![];
    let mut policy_accept = true;
    let mut found = false;
    let mut in_input = false;
    let mut depth_at_chain = 0usize;
    let mut depth = 0usize;
    for line in ruleset.lines() {
        let l = line.trim();
        if l.starts_with("chain ") && l.ends_with('{') {
            depth_at_chain = depth;
            in_input = false;
        }
        if l.contains("hook input") && l.contains("type filter") {
            in_input = true;
            found = true;
            if l.contains("policy drop") || l.contains("policy reject") {
                policy_accept = false;
            }
        } else if in_input && !l.starts_with("chain ") && !l.is_empty() && l != "}" {
            if let Some(r) = rule_from_words(
                l,
                "tcp dport",
                &["accept"],
                &["drop", "reject"],
                &[
                    "ct state",
                    "iif",
                    "iifname",
                    "icmp",
                    "udp",
                    "meta l4proto",
                    "jump",
                    "goto",
                ],
            ) {
                rules.push(r);
            }
        }
        depth += l.matches('{').count();
        depth = depth.saturating_sub(l.matches('}').count());
        if depth <= depth_at_chain {
            in_input = false;
        }
    }
    found.then_some(Filter {
        name: "nftables",
        rules,
        policy_accept,
    })
}

/// `iptables -S INPUT`: `-P INPUT DROP`, `-A INPUT -p tcp -m tcp --dport 7365 -j ACCEPT`, ...
pub fn iptables_filter(rules_text: &str) -> Filter {
    let mut rules = vec![];
    let mut policy_accept = true;
    for l in rules_text.lines().map(str::trim) {
        if let Some(p) = l.strip_prefix("-P INPUT ") {
            policy_accept = p.trim() == "ACCEPT";
            continue;
        }
        if !l.starts_with("-A INPUT") {
            continue;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        let target = words
            .iter()
            .position(|w| *w == "-j")
            .and_then(|i| words.get(i + 1))
            .copied()
            .unwrap_or("");
        let accept = match target {
            "ACCEPT" => true,
            "DROP" | "REJECT" => false,
            _ => continue, // jumps to other chains are not followed
        };
        let port_spec = words
            .iter()
            .position(|w| *w == "--dport" || *w == "--dports" || *w == "--destination-port")
            .and_then(|i| words.get(i + 1));
        let proto = words
            .iter()
            .position(|w| *w == "-p")
            .and_then(|i| words.get(i + 1))
            .copied();
        let other_match = ["-i", "--state", "--ctstate", "icmp"]
            .iter()
            .any(|m| words.contains(m));
        match (port_spec, proto) {
            (Some(spec), Some("tcp")) => rules.push(Rule {
                ports: Some(parse_ports(spec)),
                accept,
            }),
            (Some(_), _) => {} // udp ports
            (None, Some(p)) if p != "tcp" => {}
            (None, _) if other_match => {}
            (None, _) => rules.push(Rule {
                ports: None,
                accept,
            }),
        }
    }
    Filter {
        name: "iptables",
        rules,
        policy_accept,
    }
}

/// One nft rule line → Rule: a port rule when it names `tcp dport`, a catch-all when it has a
/// verdict and no other match, ignored otherwise (established traffic, loopback, icmp, jumps).
pub fn rule_from_words(
    l: &str,
    port_kw: &str,
    accept: &[&str],
    deny: &[&str],
    other: &[&str],
) -> Option<Rule> {
    let words: Vec<&str> = l.split_whitespace().collect();
    let verdict = if words.iter().any(|w| accept.contains(w)) {
        true
    } else if words.iter().any(|w| deny.contains(w)) {
        false
    } else {
        return None;
    };
    if let Some(i) = l.find(port_kw) {
        let rest = &l[i + port_kw.len()..];
        let spec = if let Some(open) = rest.trim_start().strip_prefix('{') {
            open.split('}').next().unwrap_or_default().to_string()
        } else {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        };
        return Some(Rule {
            ports: Some(parse_ports(&spec)),
            accept: verdict,
        });
    }
    if other.iter().any(|o| l.contains(o)) || l.contains("dport") {
        return None;
    }
    Some(Rule {
        ports: None,
        accept: verdict,
    })
}

/// Ports listed in a services file (`name port/proto [aliases] [# comment]`).
pub fn services_ports(text: &str) -> BTreeSet<u16> {
    text.lines()
        .filter_map(|l| l.split('#').next())
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|pp| pp.split('/').next()?.parse().ok())
        .collect()
}

/// Listening TCP ports from `ss -ltn` (local address is the 4th column, `addr:port`).
pub fn listening_ports(ss: &str) -> BTreeSet<u16> {
    ss.lines()
        .filter(|l| !l.starts_with("State"))
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|a| a.rsplit(':').next()?.parse().ok())
        .collect()
}

/// DataKeeper port per mirror (seed §3.3): the first 10001 + m + 256*i that is not in the
/// services file, not listening and not chosen for another mirror.
pub fn datakeeper_ports(mirrors: &[u16], taken: &BTreeSet<u16>) -> BTreeMap<u16, u16> {
    let mut used: BTreeSet<u16> = BTreeSet::new();
    let mut out = BTreeMap::new();
    for &m in mirrors {
        let mut port = 10001u32 + u32::from(m);
        while port <= 65535 {
            let p = port as u16;
            if !taken.contains(&p) && !used.contains(&p) {
                used.insert(p);
                out.insert(m, p);
                break;
            }
            port += 256;
        }
    }
    out
}

/// One port range that must be reachable.
#[derive(Debug, Clone, PartialEq)]
pub struct PortRule {
    pub first: u16,
    pub last: u16,
    pub what: String,
    /// A closed port fails the check (else it warns).
    pub required: bool,
}

impl PortRule {
    /// `7365/tcp (communication paths)`, `1024-65535/tcp (GUI RMI)`.
    pub fn label(&self) -> String {
        if self.first == self.last {
            format!("{}/tcp ({})", self.first, self.what)
        } else {
            format!("{}-{}/tcp ({})", self.first, self.last, self.what)
        }
    }
}

/// The ports a node needs open: LifeKeeper's (`LK_PORTS`) and each DataKeeper mirror's.
pub fn required_ports(dk_ports: &BTreeMap<u16, u16>) -> Vec<PortRule> {
    let mut v: Vec<PortRule> = LK_PORTS
        .iter()
        .map(|(a, b, w, f)| PortRule {
            first: *a,
            last: *b,
            what: w.to_string(),
            required: *f,
        })
        .collect();
    for (m, p) in dk_ports {
        v.push(PortRule {
            first: *p,
            last: *p,
            what: format!("DataKeeper mirror {m}"),
            required: true,
        });
    }
    v
}

/// The labels of the wanted ranges `filter` does not allow entirely: (required, GUI-only).
pub fn closed_ports(filter: &Filter, wanted: &[PortRule]) -> (Vec<String>, Vec<String>) {
    let mut fail = vec![];
    let mut warn = vec![];
    for r in wanted {
        if !(r.first..=r.last).all(|p| filter.allows(p)) {
            if r.required {
                fail.push(r.label());
            } else {
                warn.push(r.label());
            }
        }
    }
    (fail, warn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datakeeper_port_skips_services_listening_and_other_mirrors() {
        let taken: BTreeSet<u16> = [10001].into_iter().collect();
        let ports = datakeeper_ports(&[0, 1], &taken);
        assert_eq!(ports[&0], 10257);
        assert_eq!(ports[&1], 10002);
        // mirror 256 would collide with mirror 0's second choice
        let ports = datakeeper_ports(&[0, 256], &taken);
        assert_eq!(ports[&0], 10257);
        assert_eq!(ports[&256], 10513);
    }

    #[test]
    fn services_and_ss_parsing() {
        let s = services_ports("# c\nscp-config 10001/tcp # x\nfoo 22/udp\n\n");
        assert!(s.contains(&10001) && s.contains(&22));
        let l = listening_ports("State Recv-Q Send-Q Local Address:Port Peer Address:Port\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nLISTEN 0 128 [::]:10002 [::]:*\n");
        assert_eq!(l.into_iter().collect::<Vec<_>>(), vec![22, 10002]);
    }

    #[test]
    fn firewall_rules_first_match_then_policy() {
        let f = firewalld_filter("7365/tcp 81-82/tcp 53/udp\n");
        assert!(f.allows(7365) && f.allows(82) && !f.allows(53) && !f.allows(1024));
        let ipt = iptables_filter(
            "-P INPUT ACCEPT\n-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 7365 -j ACCEPT\n-A INPUT -p tcp -m multiport --dports 81,82,1024:65535 -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\n",
        );
        assert!(ipt.active());
        assert!(ipt.allows(7365) && ipt.allows(81) && ipt.allows(40000) && !ipt.allows(22));
        let open = iptables_filter("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n");
        assert!(!open.active());
        let nft = nft_filter(
            "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t\tiif \"lo\" accept\n\t\ttcp dport { 81, 82, 1024-65535 } accept\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n",
        )
        .unwrap();
        assert!(nft.active() && nft.allows(81) && nft.allows(7365) && !nft.allows(22));
        let nft = nft_filter("table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 22 accept\n\t}\n}\n").unwrap();
        assert!(!nft.allows(7365) && nft.allows(22));
        assert!(nft_filter("").is_none());
    }
}

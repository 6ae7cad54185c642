//! IPv6 for dual-stack networks: subnets, and the nftables table of a root's IPv6 rules.
//!
//! A network with an IPv6 subnet has its gateway address on the bridge too, every container
//! an address of the subnet and a default route via the gateway, and (unless internal or
//! without NAT) its traffic leaving elsewhere masqueraded (NAT66), as Docker does. Published
//! ports without a host address are forwarded from the host's IPv6 addresses as well.
//!
//! The rules live in a table of their own per `$CTRKIT_ROOT`, `ip6 ctrkit6-ID`, rebuilt
//! whole in one nft transaction on each change (IPv6 networks are few; the IPv4 table keeps
//! the incremental scheme).

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::error::Error;
use crate::store::Network;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv6Net {
    addr: Ipv6Addr,
    prefix: u8,
}

fn mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

impl Ipv6Net {
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Ipv6Net {
        let prefix = prefix.min(128);
        Ipv6Net {
            addr: Ipv6Addr::from(u128::from(addr) & mask(prefix)),
            prefix,
        }
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn network(&self) -> Ipv6Addr {
        self.addr
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask(self.prefix) == u128::from(self.addr)
    }

    pub fn overlaps(&self, other: &Ipv6Net) -> bool {
        let p = self.prefix.min(other.prefix);
        u128::from(self.addr) & mask(p) == u128::from(other.addr) & mask(p)
    }

    /// The subnet's Nth address (1: the usual gateway), if inside it.
    pub fn nth(&self, n: u128) -> Option<Ipv6Addr> {
        let ip = Ipv6Addr::from(u128::from(self.addr).checked_add(n)?);
        self.contains(ip).then_some(ip)
    }
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl From<Ipv6Net> for String {
    fn from(n: Ipv6Net) -> String {
        n.to_string()
    }
}

impl TryFrom<String> for Ipv6Net {
    type Error = String;
    fn try_from(s: String) -> Result<Ipv6Net, String> {
        s.parse()
    }
}

impl FromStr for Ipv6Net {
    type Err = String;

    /// `ADDR/N`, N from 48 to 120 (room for containers, not more than a site); host bits
    /// must be zero.
    fn from_str(s: &str) -> Result<Ipv6Net, String> {
        let bad =
            || format!("invalid IPv6 subnet '{s}' (expected an IPv6 CIDR such as fd00:db8:1::/64)");
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv6Addr = a.parse().map_err(|_| bad())?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
            return Err(bad());
        }
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if !(48..=120).contains(&prefix) {
            return Err(format!(
                "IPv6 subnet '{s}': prefix length must be between 48 and 120"
            ));
        }
        let net = Ipv6Net::new(addr, prefix);
        if net.addr != addr {
            return Err(format!(
                "IPv6 subnet '{s}' has host bits set (did you mean {net}?)"
            ));
        }
        Ok(net)
    }
}

/// The table of root `id`'s IPv6 rules.
fn table_name(id: &str) -> String {
    format!("ctrkit6-{id}")
}

/// The transaction that makes root `id`'s IPv6 table match its networks: the table is
/// dropped and made anew (or only dropped, when no network of it has IPv6).
pub fn plan(id: &str, networks: &[Network]) -> Vec<Value> {
    let name = table_name(id);
    let t = json!({"family": "ip6", "name": name});
    // (add first: deleting a table that is not there would fail the transaction)
    let mut batch = vec![
        json!({"add": {"table": t.clone()}}),
        json!({"delete": {"table": t}}),
    ];
    let v6: Vec<&Network> = networks.iter().filter(|n| n.subnet6.is_some()).collect();
    if v6.is_empty() {
        return batch;
    }
    batch.push(json!({"add": {"table": {"family": "ip6", "name": name}}}));
    for (chain, kind, hook, prio) in [
        ("postrouting", "nat", "postrouting", 100),
        ("prerouting", "nat", "prerouting", -100),
        ("output", "nat", "output", -100),
        ("forward", "filter", "forward", 0),
    ] {
        batch.push(
            json!({"add": {"chain": {"family": "ip6", "table": name, "name": chain,
            "type": kind, "hook": hook, "prio": prio, "policy": "accept"}}}),
        );
    }
    let rule = |chain: &str, expr: Vec<Value>| json!({"add": {"rule": {"family": "ip6", "table": name, "chain": chain, "expr": expr}}});
    let m = |op: &str, left: Value, right: Value| json!({"match": {"op": op, "left": left, "right": right}});
    let ip6 = |field: &str| json!({"payload": {"protocol": "ip6", "field": field}});
    let meta = |key: &str| json!({"meta": {"key": key}});
    let local = m(
        "==",
        json!({"fib": {"result": "type", "flags": ["daddr"]}}),
        json!("local"),
    );
    for n in v6 {
        let Some(sub) = n.subnet6 else { continue };
        let pre = json!({"prefix": {"addr": sub.network().to_string(), "len": sub.prefix()}});
        let br = json!(n.br());
        let any_port = n
            .leases
            .iter()
            .any(|l| l.ip6.is_some() && !l.ports.is_empty());
        if n.nat && !n.internal {
            batch.push(rule(
                "postrouting",
                vec![
                    m("==", ip6("saddr"), pre.clone()),
                    m("!=", ip6("daddr"), pre.clone()),
                    json!({"masquerade": null}),
                ],
            ));
        }
        batch.push(rule(
            "forward",
            vec![
                m("==", meta("iifname"), br.clone()),
                m("!=", ip6("saddr"), pre.clone()),
                json!({"drop": null}),
            ],
        ));
        let mut inbound = vec![
            m("==", meta("oifname"), br.clone()),
            m("!=", meta("iifname"), br.clone()),
            m(
                "!",
                json!({"ct": {"key": "state"}}),
                json!(["established", "related"]),
            ),
        ];
        if any_port {
            inbound.push(m("!", json!({"ct": {"key": "status"}}), json!("dnat")));
        }
        inbound.push(json!({"drop": null}));
        batch.push(rule("forward", inbound));
        if n.internal {
            batch.push(rule(
                "forward",
                vec![
                    m("==", meta("iifname"), br.clone()),
                    m("!=", meta("oifname"), br.clone()),
                    json!({"drop": null}),
                ],
            ));
        }
        for l in &n.leases {
            let Some(addr) = l.ip6 else { continue };
            // (ports bound to an IPv4 host address are not published on IPv6; one bound to
            // an IPv6 address only there, `::` on every one)
            for p in l
                .ports
                .iter()
                .filter(|p| !p.host_ip.is_some_and(|a| a.is_ipv4()))
            {
                let only = match p.host_ip {
                    Some(std::net::IpAddr::V6(a)) if !a.is_unspecified() => {
                        Some(m("==", ip6("daddr"), json!(a.to_string())))
                    }
                    _ => None,
                };
                for chain in ["prerouting", "output"] {
                    batch.push(rule(
                        chain,
                        [local.clone()]
                            .into_iter()
                            .chain(only.clone())
                            .chain([m(
                                "==",
                                json!({"payload": {"protocol": p.protocol.as_str(), "field": "dport"}}),
                                json!(p.host_port),
                            ),
                            json!({"dnat": {"addr": addr.to_string(), "port": p.container_port}})])
                            .collect(),
                    ));
                }
            }
        }
        if any_port {
            // a container reaching a published port of its own bridge
            batch.push(rule(
                "postrouting",
                vec![
                    m("==", meta("oifname"), br.clone()),
                    m("==", ip6("saddr"), pre),
                    m("in", json!({"ct": {"key": "status"}}), json!("dnat")),
                    json!({"masquerade": null}),
                ],
            ));
        }
    }
    batch
}

/// Make root `id`'s IPv6 table match its networks of this namespace. Nothing is run when
/// none has IPv6 and `had_v6` is false (the table cannot exist then).
pub fn sync(id: &str, networks: &[Network], had_v6: bool) -> Result<(), Error> {
    if !had_v6 && networks.iter().all(|n| n.subnet6.is_none()) {
        return Ok(());
    }
    crate::firewall::apply(&json!({"nftables": plan(id, networks)}), false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_members() {
        let n: Ipv6Net = "fd00:db8:1::/64".parse().unwrap();
        assert_eq!(n.nth(1).unwrap().to_string(), "fd00:db8:1::1");
        assert!(n.contains("fd00:db8:1::ffff".parse().unwrap()));
        assert!(!n.contains("fd00:db8:2::1".parse().unwrap()));
        assert!(n.overlaps(&"fd00:db8:1::/48".parse().unwrap()));
        assert!(!n.overlaps(&"fd00:db8::/48".parse().unwrap()));
        for bad in [
            "fd00::1/64",
            "fd00::/129",
            "fd00::/8",
            "10.0.0.0/8",
            "fd00::",
            "x/64",
        ] {
            assert!(bad.parse::<Ipv6Net>().is_err(), "{bad}");
        }
    }

    #[test]
    fn no_v6_network_only_drops_the_table() {
        let n = Network::sample("nb0", "10.88.0.0/16", "10.88.0.1", true);
        let p = plan("0123abcd", std::slice::from_ref(&n));
        assert_eq!(p.len(), 2);
        let mut n6 = n;
        n6.subnet6 = Some("fd00:1::/64".parse().unwrap());
        let text = serde_json::to_string(&plan("0123abcd", &[n6])).unwrap();
        assert!(text.contains("masquerade"));
        assert!(text.contains("ctrkit6-0123abcd"));
    }
}

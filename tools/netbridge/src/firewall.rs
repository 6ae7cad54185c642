//! NAT, published ports, isolation and the loopback guard, in nftables table `ip ctrkit`
//! and nowhere else.
//!
//! The table is shared by every `$CTRKIT_ROOT` using this network namespace; each root's
//! rules carry its id in their comment (`netbridge[ID] NETWORK: ...`). A change rewrites
//! only the calling root's rules, in one nft transaction: delete its rules by handle, add
//! the ones its networks call for now. The table goes with the last rule of the last root.
//! The listing and the transaction run under a lock of the network namespace (an abstract
//! unix socket, which exists per network namespace exactly like the table), so two roots
//! never build on a stale listing. Other tables are never read or touched. nft is driven
//! with its JSON syntax on stdin (`nft -j -f -`).
//!
//! What the rules do, per network (bridge `BR`, subnet `NET`):
//! - postrouting: masquerade `NET` leaving elsewhere (unless `--no-nat`); the hairpins
//!   (from the host's loopback, and a container to a published port of its own bridge).
//! - published (from prerouting and output, for the host's own addresses): DNAT per port.
//! - forward: nothing from `BR` with a source outside `NET`; nothing into `BR` from
//!   elsewhere but replies and DNAT'd flows, which also keeps containers of different
//!   networks apart; `--internal`: nothing in or out at all.
//! - input: nothing from `BR` to 127.0.0.0/8 except replies of DNAT'd flows (CVE-2020-8558:
//!   `route_localnet`, which the host's loopback path to published ports needs, would
//!   otherwise let a container reach services bound to the host's 127.0.0.1).
//!
//! A network's rules are the same whether it publishes ports or not: only the DNAT rules
//! of chain `published` (and `route_localnet` on the bridge, on only while a port is
//! published) come and go with its ports, so that a network's first and last published
//! ports are one incremental change like any other ([`change`]).

use std::io::Write;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::error::Error;
use crate::store::{Lease, Network, Port};

pub const TABLE: &str = "ctrkit";

/// The comments of the jumps every root's published ports share.
const JUMPS: [(&str, &str); 2] = [
    ("prerouting", "netbridge: published ports"),
    ("output", "netbridge: published ports from the host"),
];

fn table() -> Value {
    json!({"family": "ip", "name": TABLE})
}

/// The comment prefix of a root's rules.
fn tag(id: &str) -> String {
    format!("netbridge[{id}]")
}

fn prefix(net: &crate::ipnet::Ipv4Net) -> Value {
    json!({"prefix": {"addr": net.network().to_string(), "len": net.prefix()}})
}

fn m(op: &str, left: Value, right: Value) -> Value {
    json!({"match": {"op": op, "left": left, "right": right}})
}

fn ip(field: &str) -> Value {
    json!({"payload": {"protocol": "ip", "field": field}})
}

fn meta(key: &str) -> Value {
    json!({"meta": {"key": key}})
}

fn ct(key: &str) -> Value {
    json!({"ct": {"key": key}})
}

fn rule(chain: &str, expr: Vec<Value>, comment: &str) -> Value {
    json!({"add": {"rule": {"family": "ip", "table": TABLE, "chain": chain, "expr": expr, "comment": comment}}})
}

fn chain(name: &str, kind: Option<(&str, &str, i32)>) -> Value {
    match kind {
        Some((t, hook, prio)) => json!({"add": {"chain": {
            "family": "ip", "table": TABLE, "name": name,
            "type": t, "hook": hook, "prio": prio, "policy": "accept"}}}),
        None => json!({"add": {"chain": {"family": "ip", "table": TABLE, "name": name}}}),
    }
}

/// The table's chains, shared by all roots (`add` leaves an existing one as it is).
fn chains() -> Vec<Value> {
    vec![
        chain("postrouting", Some(("nat", "postrouting", 100))),
        chain("prerouting", Some(("nat", "prerouting", -100))),
        chain("output", Some(("nat", "output", -100))),
        chain("published", None),
        chain("forward", Some(("filter", "forward", 0))),
        chain("input", Some(("filter", "input", 0))),
    ]
}

fn jump_rule(chain: &str, comment: &str) -> Value {
    let local = m(
        "==",
        json!({"fib": {"result": "type", "flags": ["daddr"]}}),
        json!("local"),
    );
    rule(
        chain,
        vec![local, json!({"jump": {"target": "published"}})],
        comment,
    )
}

/// The rules the networks of root `id` call for (empty when there are none).
pub fn rules(id: &str, networks: &[Network]) -> Vec<Value> {
    let tag = tag(id);
    let mut out = Vec::new();
    for n in networks {
        let br = json!(n.br());
        let note = |what: &str| format!("{tag} {}: {what}", n.name);
        let loopback = json!({"prefix": {"addr": "127.0.0.0", "len": 8}});
        let not_dnat = || m("!", ct("status"), json!("dnat"));
        if n.nat && !n.internal {
            out.push(rule(
                "postrouting",
                vec![
                    m("==", ip("saddr"), prefix(&n.subnet)),
                    m("!=", ip("daddr"), prefix(&n.subnet)),
                    json!({"masquerade": null}),
                ],
                &note("masquerade"),
            ));
        }
        out.push(rule(
            "forward",
            vec![
                m("==", meta("iifname"), br.clone()),
                m("!=", ip("saddr"), prefix(&n.subnet)),
                json!({"drop": null}),
            ],
            &note("no forwarding from outside the subnet"),
        ));
        out.push(rule(
            "forward",
            vec![
                m("==", meta("oifname"), br.clone()),
                m("!=", meta("iifname"), br.clone()),
                m("!", ct("state"), json!(["established", "related"])),
                not_dnat(),
                json!({"drop": null}),
            ],
            &note("nothing in but replies and published ports"),
        ));
        if n.internal {
            out.push(rule(
                "forward",
                vec![
                    m("==", meta("iifname"), br.clone()),
                    m("!=", meta("oifname"), br.clone()),
                    json!({"drop": null}),
                ],
                &note("internal"),
            ));
            out.push(rule(
                "forward",
                vec![
                    m("==", meta("oifname"), br.clone()),
                    m("!=", meta("iifname"), br.clone()),
                    json!({"drop": null}),
                ],
                &note("internal"),
            ));
        }
        out.push(rule(
            "input",
            vec![
                m("==", meta("iifname"), br.clone()),
                m("==", ip("daddr"), loopback.clone()),
                not_dnat(),
                json!({"drop": null}),
            ],
            &note("no way to the host's loopback"),
        ));
        // the host itself through 127.0.0.1 (route_localnet is on for the bridge while
        // it has published ports)
        out.push(rule(
            "postrouting",
            vec![
                m("==", meta("oifname"), br.clone()),
                m("==", ip("saddr"), loopback),
                json!({"masquerade": null}),
            ],
            &note("hairpin from loopback"),
        ));
        // a container reaching a published port of its own bridge (the rule
        // [`publishing`] looks for)
        out.push(rule(
            "postrouting",
            vec![
                m("==", meta("oifname"), br.clone()),
                m("==", ip("saddr"), prefix(&n.subnet)),
                m("in", ct("status"), json!("dnat")),
                json!({"masquerade": null}),
            ],
            &hairpin(id, &n.name),
        ));
        for l in &n.leases {
            out.extend(lease_rules(id, &n.name, l));
        }
    }
    out
}

/// The comment of network `net`'s hairpin rule (root `id`).
fn hairpin(id: &str, net: &str) -> String {
    format!("{} {net}: hairpin", tag(id))
}

/// The rules of one published port of lease `l` on network `net` (all in chain
/// `published`; each carries the lease's veth in its comment, which is how a full rebuild
/// hands each lease its rules' handles).
pub fn port_rules(id: &str, net: &str, l: &Lease, p: &Port) -> Vec<Value> {
    // (a port published on an IPv6 host address is the IPv6 table's alone)
    if p.host_ip.is_some_and(|a| a.is_ipv6()) {
        return vec![];
    }
    let proto = p.protocol.as_str();
    // (-p IP:...: only traffic to that address of the host)
    let mut expr: Vec<Value> = p
        .host_ip
        .map(|a| m("==", ip("daddr"), json!(a.to_string())))
        .into_iter()
        .collect();
    expr.push(m(
        "==",
        json!({"payload": {"protocol": proto, "field": "dport"}}),
        json!(p.host_port),
    ));
    expr.push(json!({"dnat": {"addr": l.ip.to_string(), "port": p.container_port}}));
    vec![rule(
        "published",
        expr,
        &format!("{} {net} {}: {p}", tag(id), l.veth),
    )]
}

/// The rules of every published port of lease `l`.
pub fn lease_rules(id: &str, net: &str, l: &Lease) -> Vec<Value> {
    l.ports
        .iter()
        .flat_map(|p| port_rules(id, net, l, p))
        .collect()
}

/// The handles of published-port rules in nft's echo of a transaction, by the veth their
/// comment names (only root `id`'s rules).
fn handles_by_veth(id: &str, echo: &[u8]) -> Result<Handles, Error> {
    let mut out = Handles::new();
    if echo.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    let doc: Value = serde_json::from_slice(echo)
        .map_err(|e| Error::Nft(format!("cannot read nft's echo of the change: {e}")))?;
    let tag = format!("{} ", tag(id));
    for item in doc["nftables"].as_array().into_iter().flatten() {
        let Some(r) = item.get("add").and_then(|a| a.get("rule")) else {
            continue;
        };
        if r["chain"] != "published" {
            continue;
        }
        let (Some(c), Some(h)) = (r["comment"].as_str(), r["handle"].as_u64()) else {
            continue;
        };
        let Some(rest) = c.strip_prefix(&tag) else {
            continue;
        };
        // "NETWORK VETH: PORT" (neither name has whitespace or ':')
        if let Some(veth) = rest
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.strip_suffix(':'))
        {
            out.entry(veth.to_string()).or_default().push(h);
        }
    }
    Ok(out)
}

/// Handles of rules, by the veth of the lease they belong to.
pub type Handles = std::collections::HashMap<String, Vec<u64>>;

/// The same rule as [`port_rules`] makes, for nftables over netlink ([`crate::nftnl`]):
/// change both together.
pub fn port_dnat(id: &str, net: &str, l: &Lease, p: &Port) -> Option<crate::nftnl::DnatRule> {
    let daddr = match p.host_ip {
        Some(std::net::IpAddr::V6(_)) => return None, // the IPv6 table's
        Some(std::net::IpAddr::V4(a)) => Some(a),
        None => None,
    };
    Some(crate::nftnl::DnatRule {
        l4proto: match p.protocol {
            crate::store::Proto::Tcp => 6,
            crate::store::Proto::Udp => 17,
            crate::store::Proto::Sctp => 132,
        },
        daddr,
        host_port: p.host_port,
        addr: l.ip,
        port: p.container_port,
        comment: format!("{} {net} {}: {p}", tag(id), l.veth),
    })
}

/// One change of root `id`'s published ports on network `net`, without rebuilding
/// anything: delete the rules with handles `delete` (chain `published`), add those of the
/// leases `add`, in one transaction over netlink (no nft process); returns the added rules'
/// handles by veth. With `first` (the network has published no port until now), the table
/// is checked first to hold the network's rules in the form that lets DNAT'd flows in
/// (a table built by an older netbridge, or flushed, does not): an error when it does not,
/// and the caller rebuilds. The caller holds the lock of the network namespace.
pub fn change(
    _locked: &NetnsLock,
    id: &str,
    net: &str,
    delete: &[u64],
    add: &[&Lease],
    first: bool,
) -> Result<Handles, Error> {
    let rules: Vec<(String, crate::nftnl::DnatRule)> = add
        .iter()
        .flat_map(|l| {
            l.ports
                .iter()
                .filter_map(|p| Some((l.veth.clone(), port_dnat(id, net, l, p)?)))
        })
        .collect();
    if delete.is_empty() && rules.is_empty() {
        return Ok(Handles::new());
    }
    if first && !publishing(id, net)? {
        return Err(Error::Nft(format!(
            "table ip {TABLE} has no rule '{}'",
            hairpin(id, net)
        )));
    }
    let only: Vec<crate::nftnl::DnatRule> = rules.iter().map(|(_, r)| r.clone()).collect();
    common::debug!(
        "nftables over netlink: delete handles {delete:?}, add {} rules",
        only.len()
    );
    let got = crate::nftnl::change(TABLE, "published", delete, &only)
        .map_err(|e| Error::Nft(format!("netlink: {e}")))?;
    let mut out = Handles::new();
    for ((veth, _), h) in rules.iter().zip(got) {
        out.entry(veth.clone()).or_default().push(h);
    }
    Ok(out)
}

/// Does the table hold network `net`'s rules for published ports (its hairpin rule, which
/// goes with the others, stands for them)? Read over netlink: no nft process.
fn publishing(id: &str, net: &str) -> Result<bool, Error> {
    let want = hairpin(id, net);
    let comments = crate::nftnl::comments(TABLE, "postrouting")
        .map_err(|e| Error::Nft(format!("netlink: {e}")))?;
    Ok(comments.contains(&want))
}

/// A rule of the table as listed: where it is and whose it is.
#[derive(Debug)]
struct Listed {
    chain: String,
    handle: u64,
    comment: String,
}

/// The rules of table `ip ctrkit`, or None when there is no such table.
fn list() -> Result<Option<Vec<Listed>>, Error> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", "ip", TABLE])
        .stdin(Stdio::null())
        .output()
        .map_err(Error::NftSpawn)?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        if msg.contains("No such file or directory") {
            return Ok(None);
        }
        return Err(Error::Nft(
            msg.split_whitespace().collect::<Vec<_>>().join(" "),
        ));
    }
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Nft(format!("cannot read 'nft -j list table ip {TABLE}': {e}")))?;
    let mut rules = Vec::new();
    for item in doc["nftables"].as_array().into_iter().flatten() {
        let Some(r) = item.get("rule") else { continue };
        rules.push(Listed {
            chain: r["chain"].as_str().unwrap_or_default().to_string(),
            handle: r["handle"].as_u64().unwrap_or_default(),
            comment: r["comment"].as_str().unwrap_or_default().to_string(),
        });
    }
    Ok(Some(rules))
}

/// The transaction that replaces root `id`'s rules by `mine`, given the table's rules now.
fn plan(id: &str, listed: Option<&[Listed]>, mine: Vec<Value>) -> Vec<Value> {
    let tag = tag(id);
    let exists = listed.is_some();
    let listed = listed.unwrap_or_default();
    // a rule of ours, or one from before rules carried a root's id (rebuilt by each root)
    let ours = |l: &Listed| {
        l.comment.starts_with(&format!("{tag} "))
            || (l.comment.starts_with("netbridge ") && !l.comment.starts_with("netbridge: "))
    };
    let others = listed
        .iter()
        .any(|l| !ours(l) && !JUMPS.iter().any(|(_, c)| l.comment == *c));
    let mut batch = Vec::new();
    if mine.is_empty() && !others {
        if exists {
            batch.push(json!({"delete": {"table": table()}}));
        }
        return batch;
    }
    batch.push(json!({"add": {"table": table()}}));
    batch.extend(chains());
    for l in listed.iter().filter(|l| ours(l)) {
        batch.push(json!({"delete": {"rule": {
            "family": "ip", "table": TABLE, "chain": l.chain, "handle": l.handle}}}));
    }
    for (chain, comment) in JUMPS {
        if !listed
            .iter()
            .any(|l| l.chain == chain && l.comment == comment)
        {
            batch.push(jump_rule(chain, comment));
        }
    }
    batch.extend(mine);
    batch
}

/// Make root `id`'s rules in table `ip ctrkit` match its networks (those of this network
/// namespace), leaving every other root's rules as they are. Returns the handles of the
/// published ports' rules now, by veth.
pub fn sync(id: &str, networks: &[Network]) -> Result<Handles, Error> {
    let _lock = NetnsLock::acquire()?;
    let listed = list()?;
    let mine = rules(id, networks);
    let echo = !mine.is_empty();
    let batch = plan(id, listed.as_deref(), mine);
    if batch.is_empty() {
        return Ok(Handles::new());
    }
    let out = apply(&json!({"nftables": batch}), echo)?;
    handles_by_veth(id, &out)
}

/// A lock of the current network namespace: an abstract unix socket bound to a fixed
/// name (abstract socket names are per network namespace, like nftables tables). Released
/// when dropped, or when the process ends however it ends.
pub struct NetnsLock {
    _fd: OwnedFd,
}

const LOCK_NAME: &[u8] = b"ctrkit-netbridge-nft";

impl NetnsLock {
    pub fn acquire() -> Result<NetnsLock, Error> {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let lock_err = |e: rustix::io::Errno| Error::NftLock(e.into());
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(lock_err)?;
        let addr = SocketAddrUnix::new_abstract_name(LOCK_NAME).map_err(lock_err)?;
        let start = Instant::now();
        let mut wait = Duration::from_micros(200);
        loop {
            let e = match rustix::net::bind(&fd, &addr) {
                Ok(()) => return Ok(NetnsLock { _fd: fd }),
                Err(e) => std::io::Error::from(e),
            };
            if e.raw_os_error() != Some(libc::EADDRINUSE)
                || start.elapsed() > Duration::from_secs(30)
            {
                return Err(Error::NftLock(e));
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(20));
        }
    }
}

/// Run one nft transaction; with `echo`, nft prints what it added with the handles
/// (`-e -a`), which is returned.
pub(crate) fn apply(doc: &Value, echo: bool) -> Result<Vec<u8>, Error> {
    let text = doc.to_string();
    let args: &[&str] = if echo {
        &["-j", "-e", "-a", "-f", "-"]
    } else {
        &["-j", "-f", "-"]
    };
    common::debug!("nft {} <<< {text}", args.join(" "));
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(if echo { Stdio::piped() } else { Stdio::null() })
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Error::NftSpawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).map_err(Error::NftSpawn)?;
    }
    let out = child.wait_with_output().map_err(Error::NftSpawn)?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
        return Err(Error::Nft(msg));
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_networks_no_rules() {
        assert!(rules("0123abcd", &[]).is_empty());
        assert!(plan("0123abcd", None, vec![]).is_empty());
    }

    #[test]
    fn a_nat_network_masquerades_and_has_no_port_without_leases() {
        let n = Network::sample("nb0", "10.88.0.0/16", "10.88.0.1", true);
        let r = rules("0123abcd", &[n]);
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("masquerade"));
        assert!(!text.contains("\"dnat\":{"), "{text}");
        assert!(!r.iter().any(|x| x["add"]["rule"]["chain"] == "published"));
        // every rule carries the root's id
        assert!(r.iter().all(|x| {
            x["add"]["rule"]["comment"]
                .as_str()
                .unwrap()
                .starts_with("netbridge[0123abcd] nb0: ")
        }));
    }

    #[test]
    fn every_network_gets_the_loopback_guard_and_the_forward_rules() {
        use crate::store::{Lease, Port, Proto};
        let mut n = Network::sample("nb0", "10.88.0.0/24", "10.88.0.1", false);
        let of = |r: &[Value], chain: &str| -> Vec<String> {
            r.iter()
                .filter(|x| x["add"]["rule"]["chain"] == chain)
                .map(|x| x["add"]["rule"]["expr"].to_string())
                .collect()
        };
        let not_dnat = r#"{"match":{"left":{"ct":{"key":"status"}},"op":"!","right":"dnat"}}"#;
        let r = rules("0123abcd", std::slice::from_ref(&n));
        let input = of(&r, "input");
        assert_eq!(input.len(), 1);
        assert!(input[0].contains("127.0.0.0") && input[0].contains("drop"));
        // DNAT'd flows are let through (in, and back to loopback) and hairpinned, ports
        // or not: only the DNAT rules come with ports
        assert!(input[0].contains(not_dnat));
        let forward = of(&r, "forward");
        assert_eq!(forward.len(), 2);
        assert!(forward[1].contains(not_dnat));
        assert_eq!(of(&r, "postrouting").len(), 2);
        assert!(of(&r, "published").is_empty());
        let without = serde_json::to_string(&r).unwrap();
        n.leases.push(Lease {
            ip: "10.88.0.2".parse().unwrap(),
            veth: "nb0000aaaaaaaa".into(),
            ifname: "eth0".into(),
            mac: String::new(),
            netns: "/x".into(),
            netns_inode: 1,
            name: None,
            container_id: None,
            ports: vec![Port {
                host_ip: None,
                host_port: 8080,
                container_port: 80,
                protocol: Proto::Tcp,
            }],
            etc_dir: None,
            rule_handles: vec![],
            delegated: None,
            aliases: vec![],
            hostname: None,
            extra_hosts: vec![],
            ip6: None,
        });
        let r = rules("0123abcd", std::slice::from_ref(&n));
        let published = of(&r, "published");
        assert_eq!(published.len(), 1);
        assert!(published[0].contains(r#""dnat":{"addr":"10.88.0.2","port":80}"#));
        let rest: Vec<Value> = r
            .into_iter()
            .filter(|x| x["add"]["rule"]["chain"] != "published")
            .collect();
        assert_eq!(serde_json::to_string(&rest).unwrap(), without);
    }

    #[test]
    fn handles_are_read_back_by_veth_from_the_echo_and_only_for_this_root() {
        let echo = br#"{"nftables": [{"add": {"table": {"family": "ip", "name": "ctrkit"}}},
            {"add": {"rule": {"family": "ip", "table": "ctrkit", "chain": "published", "expr": [],
              "comment": "netbridge[0123abcd] nb0 nb0123aaaaaaaa: 8080:80/tcp", "handle": 7}}},
            {"add": {"rule": {"family": "ip", "table": "ctrkit", "chain": "published", "expr": [],
              "comment": "netbridge[0123abcd] nb0 nb0123aaaaaaaa: 53:53/udp", "handle": 9}}},
            {"add": {"rule": {"family": "ip", "table": "ctrkit", "chain": "published", "expr": [],
              "comment": "netbridge[ffffffff] nb0 nbffffbbbbbbbb: 81:80/tcp", "handle": 10}}},
            {"add": {"rule": {"family": "ip", "table": "ctrkit", "chain": "postrouting", "expr": [],
              "comment": "netbridge[0123abcd] nb0: masquerade", "handle": 11}}}]}"#;
        let h = handles_by_veth("0123abcd", echo).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h["nb0123aaaaaaaa"], vec![7, 9]);
        assert!(handles_by_veth("0123abcd", b"\n").unwrap().is_empty());
    }

    fn listed(chain: &str, handle: u64, comment: &str) -> Listed {
        Listed {
            chain: chain.into(),
            handle,
            comment: comment.into(),
        }
    }

    #[test]
    fn a_root_deletes_only_its_own_rules_and_the_table_goes_with_the_last() {
        let table = [
            listed("prerouting", 1, JUMPS[0].1),
            listed("output", 2, JUMPS[1].1),
            listed("postrouting", 3, "netbridge[aaaaaaaa] nb0: masquerade"),
            listed("postrouting", 4, "netbridge[bbbbbbbb] nb1: masquerade"),
            listed("forward", 5, "netbridge nbold: internal"),
        ];
        let text = serde_json::to_string(&plan("aaaaaaaa", Some(&table), vec![])).unwrap();
        assert!(!text.contains("\"delete\":{\"table\""), "{text}");
        for h in [3, 5] {
            assert!(text.contains(&format!("\"handle\":{h}")), "{h}: {text}");
        }
        for h in [1, 2, 4] {
            assert!(!text.contains(&format!("\"handle\":{h}")), "{h}: {text}");
        }
        // root b alone is left: its last change deletes the table
        let table = [
            listed("prerouting", 1, JUMPS[0].1),
            listed("output", 2, JUMPS[1].1),
            listed("postrouting", 4, "netbridge[bbbbbbbb] nb1: masquerade"),
        ];
        let text = serde_json::to_string(&plan("bbbbbbbb", Some(&table), vec![])).unwrap();
        assert!(text.contains("\"delete\":{\"table\""), "{text}");
    }
}

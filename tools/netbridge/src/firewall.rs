//! NAT, published ports and `--internal` isolation, in nftables table `ip ctrkit` and
//! nowhere else.
//!
//! The table is derived from the state: every change rebuilds it whole in one nft
//! transaction (add, delete, add again, so it works whether or not it existed), and an
//! empty result deletes it: the table goes with its last user. Other tables are never
//! read or touched. nft is driven with its JSON syntax on stdin (`nft -j -f -`).

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::error::Error;
use crate::store::Network;

pub const TABLE: &str = "ctrkit";

fn table() -> Value {
    json!({"family": "ip", "name": TABLE})
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

/// The rules the networks call for (empty when none needs any).
pub fn rules(networks: &[Network]) -> Vec<Value> {
    let mut post = Vec::new();
    let mut published = Vec::new();
    let mut forward = Vec::new();
    for n in networks {
        let br = json!(n.name);
        if n.nat && !n.internal {
            post.push(rule(
                "postrouting",
                vec![
                    m("==", ip("saddr"), prefix(&n.subnet)),
                    m("!=", ip("daddr"), prefix(&n.subnet)),
                    json!({"masquerade": null}),
                ],
                &format!("netbridge {}: masquerade", n.name),
            ));
        }
        if n.internal {
            forward.push(rule(
                "forward",
                vec![
                    m("==", meta("iifname"), br.clone()),
                    m("!=", meta("oifname"), br.clone()),
                    json!({"drop": null}),
                ],
                &format!("netbridge {}: internal", n.name),
            ));
            forward.push(rule(
                "forward",
                vec![
                    m("==", meta("oifname"), br.clone()),
                    m("!=", meta("iifname"), br.clone()),
                    json!({"drop": null}),
                ],
                &format!("netbridge {}: internal", n.name),
            ));
        }
        let mut any_port = false;
        for l in &n.leases {
            for p in &l.ports {
                any_port = true;
                let proto = p.protocol.as_str();
                published.push(rule(
                    "published",
                    vec![
                        m(
                            "==",
                            json!({"payload": {"protocol": proto, "field": "dport"}}),
                            json!(p.host_port),
                        ),
                        json!({"dnat": {"addr": l.ip.to_string(), "port": p.container_port}}),
                    ],
                    &format!("netbridge {} {}: {}", n.name, l.veth, p),
                ));
            }
        }
        if any_port {
            // the host itself through 127.0.0.1 (route_localnet is on for the bridge)
            post.push(rule(
                "postrouting",
                vec![
                    m("==", meta("oifname"), br.clone()),
                    m(
                        "==",
                        ip("saddr"),
                        json!({"prefix": {"addr": "127.0.0.0", "len": 8}}),
                    ),
                    json!({"masquerade": null}),
                ],
                &format!("netbridge {}: hairpin from loopback", n.name),
            ));
            // a container reaching a published port of its own bridge
            post.push(rule(
                "postrouting",
                vec![
                    m("==", meta("oifname"), br.clone()),
                    m("==", ip("saddr"), prefix(&n.subnet)),
                    m("in", json!({"ct": {"key": "status"}}), json!("dnat")),
                    json!({"masquerade": null}),
                ],
                &format!("netbridge {}: hairpin", n.name),
            ));
        }
    }
    if post.is_empty() && published.is_empty() && forward.is_empty() {
        return Vec::new();
    }
    let local = m(
        "==",
        json!({"fib": {"result": "type", "flags": ["daddr"]}}),
        json!("local"),
    );
    let mut out = vec![json!({"add": {"table": table()}})];
    out.push(chain("postrouting", Some(("nat", "postrouting", 100))));
    out.push(chain("prerouting", Some(("nat", "prerouting", -100))));
    out.push(chain("output", Some(("nat", "output", -100))));
    out.push(chain("published", None));
    if !forward.is_empty() {
        out.push(chain("forward", Some(("filter", "forward", 0))));
    }
    let jump = vec![local, json!({"jump": {"target": "published"}})];
    out.push(rule(
        "prerouting",
        jump.clone(),
        "netbridge: published ports",
    ));
    out.push(rule(
        "output",
        jump,
        "netbridge: published ports from the host",
    ));
    out.extend(post);
    out.extend(published);
    out.extend(forward);
    out
}

/// Make table `ip ctrkit` match the networks (deleting it when nothing needs it).
pub fn sync(networks: &[Network]) -> Result<(), Error> {
    let mut batch = vec![
        json!({"add": {"table": table()}}),
        json!({"delete": {"table": table()}}),
    ];
    batch.extend(rules(networks));
    apply(&json!({"nftables": batch}))
}

fn apply(doc: &Value) -> Result<(), Error> {
    let text = doc.to_string();
    common::debug!("nft -j -f - <<< {text}");
    let mut child = Command::new("nft")
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_networks_no_rules() {
        assert!(rules(&[]).is_empty());
    }

    #[test]
    fn nat_network_gets_masquerade_only() {
        let n = Network {
            name: "nb0".into(),
            subnet: "10.88.0.0/16".parse().unwrap(),
            gateway: "10.88.0.1".parse().unwrap(),
            mtu: None,
            nat: true,
            internal: false,
            gateway_on_bridge: true,
            last_ip: None,
            leases: vec![],
        };
        let r = rules(&[n]);
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("masquerade"));
        assert!(!text.contains("dnat\":{"));
    }
}

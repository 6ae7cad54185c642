//! The JSON netbridge prints: `ls`, `inspect`, `leases`, `gc` (house style: snake_case,
//! every key always present) and the CNI result (the CNI spec's shape and key names).

use serde::Serialize;

use crate::ops::Attached;
use crate::store::{Lease, Network};

#[derive(Debug, Serialize)]
pub struct NetworkJson {
    pub name: String,
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
    pub mtu: Option<u32>,
    pub nat: bool,
    pub internal: bool,
    pub attachments: usize,
    pub id: Option<String>,
    pub created: Option<String>,
    pub ip_range: Option<String>,
    pub labels: std::collections::BTreeMap<String, String>,
    pub options: std::collections::BTreeMap<String, String>,
    pub subnet6: Option<String>,
    pub gateway6: Option<String>,
}

impl NetworkJson {
    pub fn of(n: &Network) -> NetworkJson {
        NetworkJson {
            name: n.name.clone(),
            bridge: n.br().to_string(),
            subnet: n.subnet.to_string(),
            gateway: n.gateway.to_string(),
            mtu: n.mtu,
            nat: n.nat,
            internal: n.internal,
            attachments: n.leases.len(),
            id: n.id.clone(),
            created: n.created.clone(),
            ip_range: n.ip_range.map(|r| r.to_string()),
            labels: n.labels.clone(),
            options: n.options.clone(),
            subnet6: n.subnet6.map(|s| s.to_string()),
            gateway6: n.gateway6.map(|g| g.to_string()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct InspectJson {
    #[serde(flatten)]
    pub network: NetworkJson,
    pub leases: Vec<LeaseJson>,
}

#[derive(Debug, Serialize)]
pub struct LeaseJson {
    pub network: String,
    pub ip: String,
    pub mac: String,
    pub veth: String,
    pub ifname: String,
    pub netns: String,
    pub name: Option<String>,
    pub container_id: Option<String>,
    pub ports: Vec<String>,
    pub etc_dir: Option<String>,
    pub aliases: Vec<String>,
    pub ip6: Option<String>,
    /// The namespace (seen through its veth) still exists.
    pub alive: bool,
}

impl LeaseJson {
    pub fn of(network: &str, l: &Lease, alive: bool) -> LeaseJson {
        LeaseJson {
            network: network.to_string(),
            ip: l.ip.to_string(),
            mac: l.mac.clone(),
            veth: l.veth.clone(),
            ifname: l.ifname.clone(),
            netns: l.netns.clone(),
            name: l.name.clone(),
            container_id: l.container_id.clone(),
            ports: l.ports.iter().map(|p| p.to_string()).collect(),
            etc_dir: l.etc_dir.as_ref().map(|d| d.display().to_string()),
            aliases: l.aliases.clone(),
            ip6: l.ip6.map(|a| a.to_string()),
            alive,
        }
    }
}

// --- CNI result (spec 1.0) ----------------------------------------------------------------

#[derive(Debug, Serialize, Clone)]
pub struct CniInterface {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
}

#[derive(Debug, Serialize, Clone)]
pub struct CniIp {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

#[derive(Debug, Serialize, Clone)]
pub struct CniRoute {
    pub dst: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
}

#[derive(Debug, Serialize, Clone)]
pub struct CniResult {
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    pub interfaces: Vec<CniInterface>,
    pub ips: Vec<CniIp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<CniRoute>,
    pub dns: serde_json::Value,
}

impl CniResult {
    /// The result of an attach: bridge, host veth, container interface (as the reference
    /// bridge plugin lists them), the address on the container interface (index 2).
    pub fn of(a: &Attached, version: &str, routes: Vec<CniRoute>) -> CniResult {
        CniResult {
            cni_version: version.to_string(),
            interfaces: vec![
                CniInterface {
                    name: a.network.name.clone(),
                    mac: a.bridge_mac.clone(),
                    sandbox: None,
                },
                CniInterface {
                    name: a.lease.veth.clone(),
                    mac: a.veth_mac.clone(),
                    sandbox: None,
                },
                CniInterface {
                    name: a.lease.ifname.clone(),
                    mac: Some(a.lease.mac.clone()),
                    sandbox: Some(a.sandbox.clone()),
                },
            ],
            ips: std::iter::once(CniIp {
                address: format!("{}/{}", a.lease.ip, a.network.subnet.prefix()),
                gateway: Some(a.network.gateway.to_string()),
                interface: Some(2),
            })
            .chain(a.lease.ip6.zip(a.network.subnet6).map(|(ip6, s6)| CniIp {
                address: format!("{ip6}/{}", s6.prefix()),
                gateway: a.network.gateway6.map(|g| g.to_string()),
                interface: Some(2),
            }))
            .collect(),
            routes,
            dns: serde_json::json!({}),
        }
    }
}

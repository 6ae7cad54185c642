//! CNI plugin mode (spec 1.0, plus STATUS and GC of 1.1): chosen when `CNI_COMMAND` is in
//! the environment. The network configuration comes on stdin, the result or the error
//! object goes to stdout, as the spec says.
//!
//! Config fields are the reference bridge plugin's: `bridge` (default `cni0`),
//! `isGateway`, `isDefaultGateway`, `ipMasq`, `mtu`, `ipam`, and the `portMappings`
//! capability (`runtimeConfig.portMappings`). An `ipam` of type `netbridge` (or none, with
//! a top-level `subnet`) uses netbridge's own IPAM; any other type is delegated to that
//! plugin found in `CNI_PATH`, as the reference bridge plugin does.

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, NlContext};
use crate::ipnet::{Ipv4Net, parse_if_addr};
use crate::model::{CniResult, CniRoute};
use crate::netlink::Netlink;
use crate::ops::{self, AttachSpec, CreateSpec, Which};
use crate::store::{Delegated, Port, Proto, Store};

const SUPPORTED: [&str; 6] = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", "1.1"];

/// A CNI error object: spec code, message, details.
#[derive(Debug)]
pub struct CniError {
    code: u32,
    msg: String,
    details: String,
}

impl CniError {
    fn new(code: u32, msg: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }
}

impl From<Error> for CniError {
    fn from(e: Error) -> CniError {
        let code = match &e {
            Error::Netns { .. } => 3,
            Error::State { .. } | Error::Write { .. } | Error::NftSpawn(_) => 5,
            Error::BridgeName(_)
            | Error::Gateway { .. }
            | Error::Overlap { .. }
            | Error::IfName(_)
            | Error::AddressOutside { .. }
            | Error::AddressReserved { .. }
            | Error::PortTaken { .. }
            | Error::PortTwice(_)
            | Error::LinkExists(_)
            | Error::Usage(_) => 7,
            Error::SubnetFull { .. } => 11,
            _ => 100,
        };
        CniError {
            code,
            msg: common::run::error_line(&e),
            details: String::new(),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Conf {
    cni_version: Option<String>,
    name: Option<String>,
    bridge: Option<String>,
    #[serde(default)]
    is_gateway: bool,
    #[serde(default)]
    is_default_gateway: bool,
    #[serde(default)]
    ip_masq: bool,
    mtu: Option<u32>,
    ipam: Option<Value>,
    subnet: Option<String>,
    #[serde(default)]
    runtime_config: RuntimeConfig,
    /// Where netbridge keeps its state (as `$CTRKIT_ROOT`): runtimes such as Podman run
    /// DEL from a cleanup process whose environment is not the ADD's.
    data_dir: Option<PathBuf>,
    #[serde(rename = "cni.dev/valid-attachments")]
    valid_attachments: Option<Vec<Attachment>>,
    /// The keys not named above (checked by [`refuse_unimplemented`]).
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// Keys of the reference bridge plugin that netbridge does not implement: given a value
/// other than their default (off, 0, empty), they are refused rather than ignored.
const UNIMPLEMENTED: [&str; 8] = [
    "vlan",
    "vlanTrunk",
    "preserveDefaultVlan",
    "promiscMode",
    "forceAddress",
    "enabledad",
    "macspoofchk",
    "disableContainerInterface",
];

fn refuse_unimplemented(conf: &Conf) -> Result<(), CniError> {
    for k in UNIMPLEMENTED {
        let set = match conf.rest.get(k) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Number(n)) => n.as_f64() != Some(0.0),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        if set {
            return Err(CniError::new(
                7,
                format!("network configuration key '{k}' is not supported by netbridge"),
            ));
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RuntimeConfig {
    #[serde(default)]
    port_mappings: Vec<PortMapping>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PortMapping {
    host_port: u16,
    container_port: u16,
    protocol: Option<String>,
    #[serde(default, rename = "hostIP")]
    host_ip: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Attachment {
    #[serde(rename = "containerID")]
    container_id: String,
    ifname: String,
}

struct Env {
    container_id: String,
    netns: String,
    ifname: String,
    path: String,
}

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_default()
}

/// Run the plugin and exit: 0 with the result on stdout, or 1 with the error object.
pub fn main() -> ! {
    let mut input = Vec::new();
    let command = env("CNI_COMMAND");
    // VERSION and STATUS may come without stdin content; never block on a terminal.
    let _ = std::io::stdin().read_to_end(&mut input);
    let version = serde_json::from_slice::<Value>(&input)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(|s| s.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "1.0.0".to_string());
    let code = match run(&command, &input) {
        Ok(Some(out)) => {
            print_json(&out);
            0
        }
        Ok(None) => 0,
        Err(e) => {
            let mut o = json!({"cniVersion": version, "code": e.code, "msg": e.msg});
            if !e.details.is_empty() {
                o["details"] = json!(e.details);
            }
            print_json(&o);
            eprintln!("netbridge: error: {}", e.msg);
            1
        }
    };
    std::process::exit(code)
}

fn print_json(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = common::output::write_json(&mut out, v);
    let _ = out.flush();
}

fn run(command: &str, input: &[u8]) -> Result<Option<Value>, CniError> {
    if command == "VERSION" {
        return Ok(Some(
            json!({"cniVersion": "1.1.0", "supportedVersions": SUPPORTED[..5]}),
        ));
    }
    let conf: Conf = serde_json::from_slice(input)
        .map_err(|e| CniError::new(6, format!("cannot decode the network configuration: {e}")))?;
    let version = conf.cni_version.clone().unwrap_or_default();
    if !SUPPORTED.contains(&version.as_str()) {
        return Err(CniError {
            code: 1,
            msg: format!("incompatible CNI version '{version}'"),
            details: format!("supported: {}", SUPPORTED[..5].join(", ")),
        });
    }
    if conf.name.as_deref().unwrap_or("").is_empty() {
        return Err(CniError::new(7, "network configuration has no 'name'"));
    }
    if command == "ADD" || command == "CHECK" {
        refuse_unimplemented(&conf)?;
    }
    let need = |k: &str| -> Result<String, CniError> {
        let v = env(k);
        if v.is_empty() {
            Err(CniError::new(
                4,
                format!("missing environment variable {k}"),
            ))
        } else {
            Ok(v)
        }
    };
    let root = conf
        .data_dir
        .clone()
        .or_else(|| {
            let d = conf.ipam.as_ref()?.get("dataDir")?.as_str()?;
            (ipam_kind(&conf).ok()?.is_none()).then(|| PathBuf::from(d))
        })
        .unwrap_or_else(|| common::state::Dirs::from_env().root);
    match command {
        "ADD" | "CHECK" | "DEL" => {
            let e = Env {
                container_id: need("CNI_CONTAINERID")?,
                netns: if command == "DEL" {
                    env("CNI_NETNS")
                } else {
                    need("CNI_NETNS")?
                },
                ifname: need("CNI_IFNAME")?,
                path: env("CNI_PATH"),
            };
            match command {
                "ADD" => add(&conf, input, &e, &root, &version).map(Some),
                "CHECK" => check(&conf, &e, &root).map(|_| None),
                _ => del(&conf, input, &e, &root).map(|_| None),
            }
        }
        "STATUS" => {
            // ready when nft is there to run and the state folder is usable
            Store::open(&root).map_err(|e| CniError {
                code: 50,
                ..CniError::from(e)
            })?;
            Ok(None)
        }
        "GC" => gc(&conf, &root).map(|_| None),
        other => Err(CniError::new(4, format!("unknown CNI_COMMAND '{other}'"))),
    }
}

fn bridge_name(conf: &Conf) -> String {
    conf.bridge.clone().unwrap_or_else(|| "cni0".to_string())
}

/// Own IPAM (`ipam.type` netbridge, or no ipam) or a delegated plugin's name.
fn ipam_kind(conf: &Conf) -> Result<Option<String>, CniError> {
    match &conf.ipam {
        None => Ok(None),
        Some(v) => match v.get("type").and_then(|t| t.as_str()) {
            None | Some("") => Err(CniError::new(7, "ipam section has no 'type'")),
            Some("netbridge") => Ok(None),
            Some(t) => Ok(Some(t.to_string())),
        },
    }
}

fn ports(conf: &Conf) -> Result<Vec<Port>, CniError> {
    conf.runtime_config
        .port_mappings
        .iter()
        .map(|p| {
            let protocol = match p.protocol.as_deref().unwrap_or("tcp") {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                "sctp" => Proto::Sctp,
                o => {
                    return Err(CniError::new(
                        7,
                        format!("unsupported port mapping protocol '{o}'"),
                    ));
                }
            };
            if p.host_port == 0 || p.container_port == 0 {
                return Err(CniError::new(
                    7,
                    "port mappings need hostPort and containerPort",
                ));
            }
            // (an empty hostIP, or 0.0.0.0, is every address, as in the portmap plugin)
            let host_ip = match p.host_ip.as_deref().unwrap_or("") {
                "" | "0.0.0.0" => None,
                a => Some(
                    a.parse::<Ipv4Addr>()
                        .map(std::net::IpAddr::V4)
                        .map_err(|_| {
                            CniError::new(
                                7,
                                format!("port mapping hostIP '{a}' is not an IPv4 address"),
                            )
                        })?,
                ),
            };
            Ok(Port {
                host_ip,
                host_port: p.host_port,
                container_port: p.container_port,
                protocol,
            })
        })
        .collect()
}

fn parse_subnet(s: &str) -> Result<Ipv4Net, CniError> {
    s.parse::<Ipv4Net>().map_err(|e| CniError::new(7, e))
}

/// The network's state, created (bridge, gateway, NAT) on first use.
fn ensure_network(
    store: &Store,
    conf: &Conf,
    subnet: Ipv4Net,
    gateway: Option<Ipv4Addr>,
) -> Result<crate::store::Network, CniError> {
    let name = bridge_name(conf);
    if let Some(net) = store.load_settings(&name)? {
        if net.subnet != subnet {
            return Err(CniError::new(
                7,
                format!(
                    "network '{name}' exists with subnet {}, not {subnet}",
                    net.subnet
                ),
            ));
        }
        return Ok(net);
    }
    Ok(ops::create(
        store,
        CreateSpec {
            name,
            subnet: Some(subnet),
            gateway,
            mtu: conf.mtu,
            nat: conf.ip_masq,
            internal: false,
            gateway_on_bridge: conf.is_gateway || conf.is_default_gateway,
            bridge: None,
            ip_range: None,
            labels: Default::default(),
            options: Default::default(),
            subnet6: None,
            gateway6: None,
        },
    )?)
}

fn add(
    conf: &Conf,
    input: &[u8],
    e: &Env,
    root: &std::path::Path,
    version: &str,
) -> Result<Value, CniError> {
    let ports = ports(conf)?;
    let ns = ops::open_netns(&e.netns)?;
    let delegated = ipam_kind(conf)?;
    let store = Store::open(root)?;
    let (subnet, gateway, ip, routes, dns, deleg) = match &delegated {
        None => {
            let ipam = conf.ipam.as_ref();
            let s = ipam
                .and_then(|i| i.get("subnet").and_then(|v| v.as_str()))
                .or(conf.subnet.as_deref())
                .ok_or_else(|| CniError::new(7, "no subnet: give 'subnet' or an ipam section"))?;
            let gw = ipam
                .and_then(|i| i.get("gateway").and_then(|v| v.as_str()))
                .map(|g| {
                    g.parse::<Ipv4Addr>()
                        .map_err(|_| CniError::new(7, format!("invalid gateway '{g}'")))
                })
                .transpose()?;
            let routes = ipam.and_then(|i| i.get("routes")).cloned();
            (parse_subnet(s)?, gw, None, routes, json!({}), None)
        }
        Some(plugin) => {
            let res = exec_ipam(
                plugin,
                "ADD",
                input,
                &e.container_id,
                &e.netns,
                &e.ifname,
                &e.path,
            )?;
            let first = res
                .get("ips")
                .and_then(|v| v.as_array())
                .and_then(|a| a.first())
                .ok_or_else(|| {
                    CniError::new(100, format!("ipam plugin '{plugin}' returned no address"))
                })?;
            let addr = first.get("address").and_then(|v| v.as_str()).unwrap_or("");
            let (ip, prefix) = parse_if_addr(addr).ok_or_else(|| {
                CniError::new(
                    100,
                    format!("ipam plugin '{plugin}' returned address '{addr}'"),
                )
            })?;
            let gw = first
                .get("gateway")
                .and_then(|v| v.as_str())
                .and_then(|g| g.parse().ok());
            let d = Delegated {
                plugin: plugin.clone(),
                config: String::from_utf8_lossy(input).into_owned(),
                cni_path: e.path.clone(),
                ifname: e.ifname.clone(),
            };
            let routes = res.get("routes").cloned();
            let dns = res.get("dns").cloned().unwrap_or(json!({}));
            (Ipv4Net::new(ip, prefix), gw, Some(ip), routes, dns, Some(d))
        }
    };
    let release = |d: &Option<Delegated>| {
        if let Some(d) = d {
            let _ = ipam_del(d, &e.container_id, &e.netns);
        }
    };
    let net = match ensure_network(&store, conf, subnet, gateway) {
        Ok(n) => n,
        Err(err) => {
            release(&deleg);
            return Err(err);
        }
    };
    let has_default = routes.as_ref().and_then(|r| r.as_array()).is_some_and(|a| {
        a.iter()
            .any(|x| x.get("dst").and_then(|d| d.as_str()) == Some("0.0.0.0/0"))
    });
    // (a delegated IPAM's routes say it all; netbridge's own IPAM adds its routes to the
    // default route that isGateway gives)
    let default_route = if deleg.is_some() && routes.is_some() {
        has_default
    } else {
        conf.is_gateway || conf.is_default_gateway || has_default
    };
    // the routes other than the default one: added in the namespace, via their gw or the
    // network's gateway
    let mut extra = Vec::new();
    for r in routes
        .as_ref()
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
    {
        let dst = r.get("dst").and_then(|d| d.as_str()).unwrap_or("");
        if dst == "0.0.0.0/0" {
            continue;
        }
        let Some((addr, len)) = parse_if_addr(dst) else {
            release(&deleg);
            return Err(CniError::new(
                7,
                format!("invalid route destination '{dst}'"),
            ));
        };
        let gw = match r.get("gw").and_then(|g| g.as_str()) {
            None => None,
            Some(g) => match g.parse::<Ipv4Addr>() {
                Ok(g) => Some(g),
                Err(_) => {
                    release(&deleg);
                    return Err(CniError::new(7, format!("invalid route gateway '{g}'")));
                }
            },
        };
        extra.push((addr, len, gw));
    }
    let attached = ops::attach(
        &store,
        &ns,
        AttachSpec {
            bridge: net.name.clone(),
            ip,
            ip6: None,
            ifname: e.ifname.clone(),
            mac: None,
            name: None,
            container_id: Some(e.container_id.clone()),
            ports: ports.into_iter().map(Into::into).collect(),
            etc: None,
            aliases: vec![],
            hostname: None,
            extra_hosts: vec![],
            dns: ops::Dns::default(),
            default_route,
            routes: extra.clone(),
            delegated: deleg.clone(),
        },
    );
    let attached = match attached {
        Ok(a) => a,
        Err(err) => {
            release(&deleg);
            return Err(err.into());
        }
    };
    let mut routes = if default_route {
        vec![CniRoute {
            dst: "0.0.0.0/0".into(),
            gw: Some(net.gateway.to_string()),
        }]
    } else {
        vec![]
    };
    routes.extend(extra.iter().map(|(a, l, gw)| CniRoute {
        dst: format!("{a}/{l}"),
        gw: Some(gw.unwrap_or(net.gateway).to_string()),
    }));
    let mut result = CniResult::of(&attached, version, routes);
    result.dns = dns;
    let mut v = serde_json::to_value(&result).map_err(|e| CniError::new(5, e.to_string()))?;
    if version.starts_with("0.") {
        for ip in v["ips"].as_array_mut().into_iter().flatten() {
            ip["version"] = json!("4");
        }
    }
    Ok(v)
}

fn del(conf: &Conf, input: &[u8], e: &Env, root: &std::path::Path) -> Result<(), CniError> {
    let delegated = ipam_kind(conf)?;
    let store = Store::open(root)?;
    let name = bridge_name(conf);
    let which = Which::ContainerId {
        id: e.container_id.clone(),
        ifname: e.ifname.clone(),
    };
    let gone = if store.load_settings(&name)?.is_some() {
        ops::detach(&store, &name, &which)?
    } else {
        vec![]
    };
    if gone.is_empty() {
        if let Some(plugin) = delegated {
            // nothing of ours, but the IPAM plugin may still hold the address
            exec_ipam(
                &plugin,
                "DEL",
                input,
                &e.container_id,
                &e.netns,
                &e.ifname,
                &e.path,
            )?;
        }
    }
    Ok(())
}

fn check(conf: &Conf, e: &Env, root: &std::path::Path) -> Result<(), CniError> {
    let store = Store::open(root)?;
    let name = bridge_name(conf);
    let net = store
        .load(&name)?
        .ok_or_else(|| CniError::new(100, format!("network '{name}' does not exist")))?;
    let lease = net
        .leases
        .iter()
        .find(|l| l.container_id.as_deref() == Some(&e.container_id) && l.ifname == e.ifname)
        .ok_or_else(|| {
            CniError::new(
                3,
                format!(
                    "container {} is not attached to '{name}' as {}",
                    e.container_id, e.ifname
                ),
            )
        })?;
    let mut nl = Netlink::open().nl(|| "open a netlink socket".into())?;
    if !ops::lease_alive(&mut nl, lease)? {
        return Err(CniError::new(
            100,
            format!(
                "veth '{}' of container {} is gone",
                lease.veth, e.container_id
            ),
        ));
    }
    let ns = ops::open_netns(&e.netns)?;
    let mut cnl = Netlink::open_in(std::os::fd::AsFd::as_fd(&ns.file))
        .nl(|| format!("open a netlink socket in {}", e.netns))?;
    let link = cnl
        .link(&e.ifname)
        .nl(|| format!("look up '{}'", e.ifname))?;
    let Some(link) = link else {
        return Err(CniError::new(
            100,
            format!("interface '{}' is missing in {}", e.ifname, e.netns),
        ));
    };
    if !link.up {
        return Err(CniError::new(
            100,
            format!("interface '{}' is down", e.ifname),
        ));
    }
    let addrs = cnl
        .addresses_v4()
        .nl(|| format!("list addresses in {}", e.netns))?;
    if !addrs.iter().any(|(a, _)| *a == lease.ip) {
        return Err(CniError::new(
            100,
            format!("address {} is missing on '{}'", lease.ip, e.ifname),
        ));
    }
    Ok(())
}

fn gc(conf: &Conf, root: &std::path::Path) -> Result<(), CniError> {
    let store = Store::open(root)?;
    let name = bridge_name(conf);
    let valid = conf.valid_attachments.as_deref().unwrap_or(&[]);
    ops::gc(&store, Some(&name))?;
    let Some(net) = store.load(&name)? else {
        return Ok(());
    };
    for l in &net.leases {
        let Some(id) = &l.container_id else { continue };
        if !valid
            .iter()
            .any(|a| &a.container_id == id && a.ifname == l.ifname)
        {
            let which = Which::ContainerId {
                id: id.clone(),
                ifname: l.ifname.clone(),
            };
            ops::detach(&store, &name, &which)?;
        }
    }
    Ok(())
}

fn find_plugin(plugin: &str, cni_path: &str) -> Option<PathBuf> {
    if plugin.contains('/') {
        return None;
    }
    cni_path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join(plugin))
        .find(|p| p.is_file())
}

/// Run an IPAM plugin the way the reference bridge plugin does: same stdin, same
/// environment, CNI_COMMAND set.
fn exec_ipam(
    plugin: &str,
    command: &str,
    input: &[u8],
    container_id: &str,
    netns: &str,
    ifname: &str,
    cni_path: &str,
) -> Result<Value, CniError> {
    let path = find_plugin(plugin, cni_path).ok_or_else(|| {
        CniError::new(
            7,
            format!("ipam plugin '{plugin}' not found in CNI_PATH '{cni_path}'"),
        )
    })?;
    let mut child = Command::new(&path)
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", container_id)
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", ifname)
        .env("CNI_PATH", cni_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| CniError::new(5, format!("cannot run ipam plugin {}: {e}", path.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| CniError::new(5, format!("cannot run ipam plugin {}: {e}", path.display())))?;
    let v: Value = if out.stdout.iter().all(|b| b.is_ascii_whitespace()) {
        json!({})
    } else {
        serde_json::from_slice(&out.stdout).map_err(|e| {
            CniError::new(
                100,
                format!("ipam plugin '{plugin}' printed something not JSON: {e}"),
            )
        })?
    };
    if !out.status.success() {
        // pass the plugin's own error object on
        let code = v.get("code").and_then(|c| c.as_u64()).unwrap_or(100) as u32;
        let msg = v
            .get("msg")
            .and_then(|m| m.as_str())
            .unwrap_or("failed")
            .to_string();
        return Err(CniError {
            code,
            msg: format!("ipam plugin '{plugin}': {msg}"),
            details: v
                .get("details")
                .and_then(|d| d.as_str())
                .unwrap_or("")
                .to_string(),
        });
    }
    Ok(v)
}

/// Release a delegated IPAM plugin's address (DEL), for detach and gc.
pub fn ipam_del(d: &Delegated, container_id: &str, netns: &str) -> Result<(), Error> {
    exec_ipam(
        &d.plugin,
        "DEL",
        d.config.as_bytes(),
        container_id,
        netns,
        &d.ifname,
        &d.cni_path,
    )
    .map(|_| ())
    .map_err(|e| {
        Error::Failed(format!(
            "cannot release the address of container {container_id}: {}",
            e.msg
        ))
    })
}

//! The operations behind the commands and the CNI plugin mode: networks, attachments,
//! garbage collection. Each takes the locked [`Store`]; each undoes its own steps when it
//! fails halfway.

use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::PathBuf;

use common::undo::{Undo, with_cleanup_errors};

use crate::error::{Error, NlContext};
use crate::etcfiles;
use crate::firewall;
use crate::ipnet::Ipv4Net;
use crate::netlink::{Netlink, format_mac};
use crate::netns::HostNs;
use crate::netns::{self, NetNs};
use crate::store::{Lease, Network, Place, Port, Store};

/// Interface and bridge names: what the kernel accepts (IFNAMSIZ - 1 bytes, no '/', ':'
/// or whitespace, not '.' or '..').
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}

pub struct CreateSpec {
    pub name: String,
    /// The subnet; none: the first free one of Docker's pools ([`free_subnet`]).
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub mtu: Option<u32>,
    pub nat: bool,
    pub internal: bool,
    pub gateway_on_bridge: bool,
    /// The bridge's name when not the network's.
    pub bridge: Option<String>,
    pub ip_range: Option<Ipv4Net>,
    pub labels: std::collections::BTreeMap<String, String>,
    pub options: std::collections::BTreeMap<String, String>,
    /// Dual stack: the IPv6 subnet and gateway (default: the subnet's first address).
    pub subnet6: Option<crate::ipv6::Ipv6Net>,
    pub gateway6: Option<std::net::Ipv6Addr>,
}

/// Docker's default address pools, in its order: 172.17-31.0.0/16, then 192.168.0-240.0/20.
pub fn pools() -> impl Iterator<Item = Ipv4Net> {
    let b = (17..=31u8).map(|x| Ipv4Net::new(Ipv4Addr::new(172, x, 0, 0), 16));
    let c = (0..16u8).map(|x| Ipv4Net::new(Ipv4Addr::new(192, 168, x * 16, 0), 20));
    b.chain(c)
}

/// What on this host `subnet` overlaps, if anything: another network of this root, a
/// route or an address (a default route aside, as Docker does).
fn conflict(nl: &mut Netlink, all: &[Network], subnet: Ipv4Net) -> Result<Option<String>, Error> {
    for other in all {
        if other.subnet.overlaps(&subnet) {
            return Ok(Some(format!("network '{}' ({})", other.name, other.subnet)));
        }
    }
    for (dst, len) in nl.routes_v4().nl(|| "list routes".into())? {
        if len == 0 {
            continue;
        }
        let r = Ipv4Net::new(dst, len);
        if r.overlaps(&subnet) {
            return Ok(Some(format!("route {r}")));
        }
    }
    for (addr, len) in nl.addresses_v4().nl(|| "list addresses".into())? {
        if addr.is_loopback() {
            continue;
        }
        let r = Ipv4Net::new(addr, len);
        if r.overlaps(&subnet) {
            return Ok(Some(format!("address {addr}/{len}")));
        }
    }
    Ok(None)
}

/// 64 random hex digits (a network's id, as Docker's).
fn random_id() -> Result<String, Error> {
    let mut b = [0u8; 32];
    let n = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty());
    if n.ok() != Some(32) {
        return Err(Error::Failed("cannot get random bytes for an id".into()));
    }
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Now in RFC 3339 (UTC, seconds), as Docker's `Created`.
fn now_rfc3339() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, secs) = (t.div_euclid(86400), t.rem_euclid(86400));
    // days since 1970-01-01 to a civil date (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn write_sysctl(path: &str, value: &str) -> Result<(), Error> {
    std::fs::write(path, value).map_err(|source| Error::Write {
        path: PathBuf::from(path),
        source,
    })
}

/// The network namespace netbridge runs in.
pub fn here() -> Result<HostNs, Error> {
    netns::current_host().map_err(Error::HostNs)
}

/// Refuse a network made in another network namespace or before a reboot.
fn require_here(net: &Network, here: &HostNs) -> Result<(), Error> {
    let where_ = match net.place(here) {
        Place::Here => return Ok(()),
        Place::Elsewhere => "in another network namespace",
        Place::Stale => "before the last reboot ('netbridge rm' clears it)",
    };
    Err(Error::NotHere {
        name: net.name.clone(),
        where_,
    })
}

/// Bring the kernel in line with this root's networks of this network namespace: its
/// firewall rules (no other root's, rebuilt whole), then `route_localnet` on each bridge,
/// on only while the network publishes ports (the host's 127.0.0.1 path to them needs it;
/// the input rules keep containers off the host's loopback all the same). The rebuild gives
/// every published port's rule a new handle: each lease in `all` gets its new ones, and each
/// network whose leases' handles changed is saved.
pub fn apply_rules(store: &Store, here: &HostNs, all: &mut [Network]) -> Result<(), Error> {
    let nets: Vec<Network> = all
        .iter()
        .filter(|n| n.place(here) == Place::Here)
        .cloned()
        .collect();
    let mut handles = firewall::sync(store.id(), &nets)?;
    crate::ipv6::sync(store.id(), &nets, false)?;
    for n in all.iter_mut().filter(|n| n.place(here) == Place::Here) {
        let mut changed = false;
        for l in n.leases.iter_mut() {
            let h = handles.remove(&l.veth).unwrap_or_default();
            if h != l.rule_handles {
                l.rule_handles = h;
                changed = true;
            }
        }
        if changed {
            store.save(n)?;
        }
    }
    for n in &nets {
        route_localnet(n.br(), publishes(n.leases.iter()))?;
    }
    Ok(())
}

/// `route_localnet` of bridge `br` on or off (the host's loopback path to published ports).
fn route_localnet(br: &str, on: bool) -> Result<(), Error> {
    let want = if on { "1" } else { "0" };
    let path = format!("/proc/sys/net/ipv4/conf/{br}/route_localnet");
    match std::fs::read_to_string(&path) {
        Ok(v) if v.trim() == want => Ok(()),
        Ok(_) => write_sysctl(&path, want),
        // the bridge is gone behind netbridge's back: nothing to set
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Write {
            path: path.into(),
            source,
        }),
    }
}

/// Does any of `leases` publish a port?
fn publishes<'a>(mut leases: impl Iterator<Item = &'a Lease>) -> bool {
    leases.any(|l| !l.ports.is_empty())
}

/// The published-port change of one attach or detach on `net`, without a rebuild when it
/// can: `gone` leases' rules deleted by their handles and `new`'s added, in one netlink
/// transaction (a network's other rules do not depend on its ports), and `route_localnet`
/// on the bridge turned on with the network's first published port and off with its last.
/// When that fails, or for an IPv6 network (whose ports are also in the IPv6 table), every
/// rule of this root is rebuilt. The store already holds the change (`gone` removed, `new`
/// recorded); `new`'s handles are set here (the caller records them). Returns whether
/// the network published no port before the change and does after.
fn change_ports(
    store: &Store,
    here: &HostNs,
    net: &Network,
    gone: &[Lease],
    new: Option<&mut Lease>,
) -> Result<bool, Error> {
    let new_ip = new.as_ref().map(|l| l.ip);
    // (whether other leases publish: two of the index are enough to know)
    let others = |store: &Store| -> Result<bool, Error> {
        Ok(store
            .publishers(&net.name, 2)?
            .into_iter()
            .any(|ip| Some(ip) != new_ip))
    };
    let new_ports = new.as_ref().is_some_and(|l| !l.ports.is_empty());
    // (no rule to delete or add: nothing changes, route_localnet included)
    if !publishes(gone.iter()) && !new_ports {
        return Ok(false);
    }
    let had = publishes(gone.iter()) || others(store)?;
    let stale = gone.iter().any(|l| l.rule_handles.len() != l.ports.len());
    let mut new = new;
    // (an IPv6 network's ports are also in its IPv6 table, which only a rebuild writes)
    if !stale && net.subnet6.is_none() {
        let delete: Vec<u64> = gone.iter().flat_map(|l| l.rule_handles.clone()).collect();
        let add: Vec<&Lease> = new.iter().map(|l| &**l).collect();
        let lock = firewall::NetnsLock::acquire()?;
        match firewall::change(&lock, store.id(), &net.name, &delete, &add, !had) {
            Ok(mut h) => {
                let done = match new.as_deref_mut() {
                    Some(l) => {
                        l.rule_handles = h.remove(&l.veth).unwrap_or_default();
                        l.rule_handles.len() == l.ports.len()
                    }
                    None => true,
                };
                if done {
                    // (from the store read again under the lock, whatever `had` said: a
                    // first port and a last one changed at once by two processes leave it
                    // as the store says)
                    let on = new_ports || others(store)?;
                    route_localnet(net.br(), on)?;
                    return Ok(!had);
                }
            }
            Err(e) => common::debug!(
                "the incremental change failed ({}): rebuilding",
                common::run::error_line(&e)
            ),
        }
    }
    let mut all = store.networks()?;
    apply_rules(store, here, &mut all)?;
    if let Some(l) = new {
        if let Some(x) = all
            .iter()
            .filter(|n| n.name == net.name)
            .flat_map(|n| n.leases.iter())
            .find(|x| x.veth == l.veth)
        {
            l.rule_handles = x.rule_handles.clone();
        }
    }
    Ok(!had)
}

/// Create a network: the bridge, its gateway address, forwarding, NAT rules, the state.
pub fn create(store: &Store, spec: CreateSpec) -> Result<Network, Error> {
    let bridge = spec.bridge.clone().unwrap_or_else(|| spec.name.clone());
    if spec.bridge.is_some() && common::parse::parse_container_name(&spec.name).is_err() {
        return Err(Error::NetworkName(spec.name));
    }
    if !valid_ifname(&bridge) {
        return Err(Error::BridgeName(bridge));
    }
    if store.load_settings(&spec.name)?.is_some() {
        return Err(Error::NetworkExists(spec.name));
    }
    let here = here()?;
    let mut nl = Netlink::open().nl(|| "open a netlink socket".into())?;
    if nl
        .link(&bridge)
        .nl(|| format!("look up link '{bridge}'"))?
        .is_some()
    {
        return Err(Error::LinkExists(bridge));
    }
    let all = store.networks()?;
    let subnet = match spec.subnet {
        Some(subnet) => {
            if let Some(other) = conflict(&mut nl, &all, subnet)? {
                return Err(Error::Overlap { subnet, other });
            }
            subnet
        }
        None => {
            let mut found = None;
            for p in pools() {
                if conflict(&mut nl, &all, p)?.is_none() {
                    found = Some(p);
                    break;
                }
            }
            found.ok_or_else(|| {
                Error::Failed("no free subnet left in the default pools (give --subnet)".into())
            })?
        }
    };
    let gateway = spec.gateway.unwrap_or_else(|| subnet.first_host());
    if !subnet.contains(gateway) || gateway == subnet.network() || gateway == subnet.broadcast() {
        return Err(Error::Gateway { gateway, subnet });
    }
    if let Some(r) = spec.ip_range {
        if !subnet.contains(r.network()) || !subnet.contains(r.broadcast()) {
            return Err(Error::Failed(format!(
                "ip range {r} is not inside subnet {subnet}"
            )));
        }
    }
    let gateway6 = match spec.subnet6 {
        None => None,
        Some(s6) => {
            for other in &all {
                if let Some(o6) = other.subnet6 {
                    if o6.overlaps(&s6) {
                        return Err(Error::Failed(format!(
                            "IPv6 subnet {s6} overlaps network '{}' ({o6})",
                            other.name
                        )));
                    }
                }
            }
            let g = spec.gateway6.or_else(|| s6.nth(1)).unwrap_or(s6.network());
            if !s6.contains(g) || g == s6.network() {
                return Err(Error::Failed(format!(
                    "IPv6 gateway {g} is not a host address of {s6}"
                )));
            }
            Some(g)
        }
    };
    let (id, created) = (Some(random_id()?), Some(now_rfc3339()));

    let mut undo = Undo::new();
    let result = (|| -> Result<Network, Error> {
        nl.create_bridge(&bridge, spec.mtu)
            .nl(|| format!("create bridge '{bridge}'"))?;
        let name = bridge.clone();
        undo.push(format!("delete bridge '{name}'"), move || {
            delete_link_named(&name)
        });
        let br = nl
            .link(&bridge)
            .nl(|| format!("look up bridge '{bridge}'"))?
            .ok_or_else(|| Error::BridgeMissing(bridge.clone()))?;
        if spec.gateway_on_bridge {
            nl.add_address(br.index, gateway, subnet.prefix())
                .nl(|| format!("add {gateway}/{} to bridge '{bridge}'", subnet.prefix()))?;
        }
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        if let (Some(s6), Some(g6)) = (spec.subnet6, gateway6) {
            write_sysctl(
                &format!("/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6"),
                "0",
            )?;
            nl.add_address6(br.index, g6, s6.prefix())
                .nl(|| format!("add {g6}/{} to bridge '{bridge}'", s6.prefix()))?;
            write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")?;
        }
        let net = Network {
            name: spec.name.clone(),
            subnet,
            gateway,
            mtu: spec.mtu,
            nat: spec.nat,
            internal: spec.internal,
            gateway_on_bridge: spec.gateway_on_bridge,
            last_ip: None,
            leases: Vec::new(),
            lease_files: true,
            next_seq: 0,
            partial: false,
            host: Some(here.clone()),
            bridge: spec.bridge.clone(),
            ip_range: spec.ip_range,
            id: id.clone(),
            created: created.clone(),
            labels: spec.labels.clone(),
            options: spec.options.clone(),
            subnet6: spec.subnet6,
            gateway6,
        };
        store.save(&net)?;
        let mut all = all.clone();
        all.push(net.clone());
        if let Err(e) = apply_rules(store, &here, &mut all) {
            let _ = store.remove(&net.name);
            all.pop();
            let _ = apply_rules(store, &here, &mut all);
            let _ = crate::ipv6::sync(store.id(), &all, true);
            return Err(e);
        }
        Ok(net)
    })();
    finish(undo, result)
}

/// Disarm the undo stack on success; roll back on failure, adding cleanup failures.
pub fn finish<T>(undo: Undo, result: Result<T, Error>) -> Result<T, Error> {
    match result {
        Ok(v) => {
            undo.disarm();
            Ok(v)
        }
        Err(e) => {
            let errs = undo.rollback();
            if errs.is_empty() {
                Err(e)
            } else {
                Err(Error::Failed(with_cleanup_errors(
                    common::run::error_line(&e),
                    &errs,
                )))
            }
        }
    }
}

fn delete_link_named(name: &str) -> Result<(), Error> {
    let mut nl = Netlink::open().nl(|| "open a netlink socket".into())?;
    if let Some(l) = nl.link(name).nl(|| format!("look up link '{name}'"))? {
        match nl.delete_link(l.index) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {}
            Err(e) => {
                return Err(Error::Netlink {
                    what: format!("delete link '{name}'"),
                    source: e,
                });
            }
        }
    }
    Ok(())
}

/// Is the attachment still alive? Its host veth end exists exactly as long as the
/// container's network namespace does (the kernel deletes the pair with the namespace).
pub fn lease_alive(nl: &mut Netlink, lease: &Lease) -> Result<bool, Error> {
    Ok(nl
        .link(&lease.veth)
        .nl(|| format!("look up link '{}'", lease.veth))?
        .is_some())
}

/// Remove a network: its bridge, rules and state. Refuses while attachments are alive,
/// unless `force`, which detaches them.
pub fn remove(store: &Store, name: &str, force: bool) -> Result<(), Error> {
    let Some(net) = store.load(name)? else {
        return Err(Error::NoNetwork(name.to_string()));
    };
    let here = here()?;
    match net.place(&here) {
        Place::Here => {}
        // its bridge, veths and rules are in the other namespace (or died with the last
        // boot): only the record is here, and it goes only when no attachment lives on
        place => {
            let live = net.leases.iter().filter(|l| netns_reachable(l)).count();
            if place == Place::Elsewhere && live > 0 {
                return Err(Error::InUseElsewhere {
                    name: name.to_string(),
                    count: live,
                });
            }
            let mut errors = Vec::new();
            for l in &net.leases {
                if let Some(d) = &l.delegated {
                    if let Err(e) =
                        crate::cni::ipam_del(d, l.container_id.as_deref().unwrap_or(""), &l.netns)
                    {
                        errors.push(common::run::error_line(&e));
                    }
                }
            }
            store.remove(name)?;
            return if errors.is_empty() {
                Ok(())
            } else {
                Err(Error::Failed(errors.join("; ")))
            };
        }
    }
    let mut nl = Netlink::open().nl(|| "open a netlink socket".into())?;
    let mut live = Vec::new();
    for l in &net.leases {
        if lease_alive(&mut nl, l)? {
            live.push(l.clone());
        }
    }
    if !live.is_empty() && !force {
        return Err(Error::InUse {
            name: name.to_string(),
            count: live.len(),
        });
    }
    let mut errors = Vec::new();
    for l in &net.leases {
        if let Err(e) = release_lease(&mut nl, l, true) {
            errors.push(common::run::error_line(&e));
        }
    }
    if let Err(e) = delete_link_named(net.br()) {
        errors.push(common::run::error_line(&e));
    }
    store.remove(name)?;
    let mut rest = store.networks()?;
    if let Err(e) = apply_rules(store, &here, &mut rest) {
        errors.push(common::run::error_line(&e));
    }
    if net.subnet6.is_some() {
        let mine: Vec<Network> = rest
            .iter()
            .filter(|n| n.place(&here) == Place::Here)
            .cloned()
            .collect();
        if let Err(e) = crate::ipv6::sync(store.id(), &mine, true) {
            errors.push(common::run::error_line(&e));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(errors.join("; ")))
    }
}

/// Is the lease's namespace still there under the name it was attached by (the same
/// inode)? A container launcher removes its pin (or its process ends) before detaching.
pub fn netns_reachable(l: &Lease) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(&l.netns).is_ok_and(|m| m.ino() == l.netns_inode)
}

/// Undo an attachment's kernel side: the veth (if still there, and unless `delete_link` is
/// false) and a delegated IPAM plugin's lease.
/// Detach leaves the veth of a namespace that is gone to the kernel, which removes the pair
/// with the namespace, in the background: deleting it here waits for the kernel's network
/// device teardown (RCU grace periods, 10 to 20 ms here) on the caller's time.
fn release_lease(nl: &mut Netlink, l: &Lease, delete_link: bool) -> Result<(), Error> {
    let link = if delete_link {
        nl.link(&l.veth)
            .nl(|| format!("look up link '{}'", l.veth))?
    } else {
        common::debug!(
            "namespace {} is gone: its veth {} goes with it",
            l.netns,
            l.veth
        );
        None
    };
    if let Some(link) = link {
        match nl.delete_link(link.index) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {}
            Err(e) => {
                return Err(Error::Netlink {
                    what: format!("delete veth '{}'", l.veth),
                    source: e,
                });
            }
        }
    }
    if let Some(d) = &l.delegated {
        crate::cni::ipam_del(d, l.container_id.as_deref().unwrap_or(""), &l.netns)?;
    }
    Ok(())
}

pub struct AttachSpec {
    pub bridge: String,
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<std::net::Ipv6Addr>,
    pub ifname: String,
    pub mac: Option<[u8; 6]>,
    pub name: Option<String>,
    pub container_id: Option<String>,
    pub ports: Vec<crate::ports::PortReq>,
    pub etc: Option<PathBuf>,
    /// More names for the container in the network's hosts files, its own host name (and
    /// domain), extra hosts lines, and its resolv.conf's settings.
    pub aliases: Vec<String>,
    pub hostname: Option<String>,
    pub extra_hosts: Vec<(String, String)>,
    pub dns: Dns,
    /// Add a default route via the gateway in the namespace.
    pub default_route: bool,
    /// More routes in the namespace (CNI: an IPAM's routes other than the default one):
    /// destination, prefix length, gateway (none: the network's).
    pub routes: Vec<(Ipv4Addr, u8, Option<Ipv4Addr>)>,
    /// The addresses came from another IPAM plugin (CNI mode): how to release them.
    pub delegated: Option<crate::store::Delegated>,
}

/// A container's resolv.conf settings (Docker's --dns, --dns-search, --dns-option): each,
/// when given, replaces the host's.
#[derive(Debug, Clone, Default)]
pub struct Dns {
    pub servers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl Dns {
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.search.is_empty() && self.options.is_empty()
    }
}

/// What an attach made, for the result output.
pub struct Attached {
    /// The network's settings (its leases left out).
    pub network: Network,
    pub lease: Lease,
    pub bridge_mac: Option<String>,
    pub veth_mac: Option<String>,
    pub sandbox: String,
}

/// A host-side veth name that is free: the root's prefix (`nb` and 4 hex digits of its id,
/// so `gc` knows its own strays) and 8 random hex digits.
fn veth_name(nl: &mut Netlink, prefix: &str) -> Result<String, Error> {
    for _ in 0..8 {
        let mut b = [0u8; 4];
        let n = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty());
        if n.ok() != Some(4) {
            return Err(Error::Failed(
                "cannot get random bytes for a veth name".into(),
            ));
        }
        let name = format!("{prefix}{:08x}", u32::from_ne_bytes(b));
        if nl
            .link(&name)
            .nl(|| format!("look up link '{name}'"))?
            .is_none()
        {
            return Ok(name);
        }
    }
    Err(Error::Failed("cannot find a free veth name".into()))
}

/// Drop the leases of `net` whose namespace is gone; returns them.
pub fn reclaim_dead(nl: &mut Netlink, net: &mut Network) -> Result<Vec<Lease>, Error> {
    let mut dead = Vec::new();
    let mut keep = Vec::new();
    for l in net.leases.drain(..) {
        if lease_alive(nl, &l)? {
            keep.push(l);
        } else {
            dead.push(l);
        }
    }
    net.leases = keep;
    Ok(dead)
}

/// The leases of the stored network `name` whose namespace is gone (not yet removed from
/// the store: the attach that looks for them removes them once it commits).
fn dead_in_store(nl: &mut Netlink, store: &Store, name: &str) -> Result<Vec<Lease>, Error> {
    let Some(mut net) = store.load(name)? else {
        return Ok(Vec::new());
    };
    reclaim_dead(nl, &mut net)
}

fn taken_by(l: &Lease) -> String {
    match (&l.name, &l.container_id) {
        (Some(n), _) => format!("container '{n}'"),
        (None, Some(id)) => format!("container {id}"),
        _ => format!("namespace {}", l.netns),
    }
}

/// Pick an address: the one asked for, or the next free one after the last handed out.
/// `leased` says which lease holds an address, if any.
fn pick_address(
    net: &Network,
    want: Option<Ipv4Addr>,
    leased: &dyn Fn(Ipv4Addr) -> Result<Option<Lease>, Error>,
) -> Result<Option<Ipv4Addr>, Error> {
    let reserved = |ip: Ipv4Addr| {
        ip == net.subnet.network() || ip == net.subnet.broadcast() || ip == net.gateway
    };
    if let Some(ip) = want {
        if !net.subnet.contains(ip) {
            return Err(Error::AddressOutside {
                ip,
                subnet: net.subnet,
                network: net.name.clone(),
            });
        }
        if reserved(ip) {
            return Err(Error::AddressReserved {
                ip,
                network: net.name.clone(),
            });
        }
        if let Some(l) = leased(ip)? {
            return Err(Error::AddressTaken {
                ip,
                network: net.name.clone(),
                by: taken_by(&l),
            });
        }
        return Ok(Some(ip));
    }
    // (the hosts are the addresses lo..hi: walked from after the last one handed out, with
    // no list of the subnet made, so a /16 costs what a /24 does; each a lookup of a lease
    // file, so the next free one after the last is found at once)
    let mut lo = u32::from(net.subnet.network()) + 1;
    let mut hi = u32::from(net.subnet.broadcast());
    // (--ip-range: only its addresses are handed out)
    if let Some(r) = net.ip_range {
        lo = lo.max(u32::from(r.network()));
        hi = hi.min(u32::from(r.broadcast()).saturating_add(1));
    }
    let n = hi.saturating_sub(lo);
    let start = net
        .last_ip
        .map(u32::from)
        .filter(|last| (lo..hi).contains(last))
        .map(|last| last - lo + 1)
        .unwrap_or(0);
    for i in 0..n {
        let ip = Ipv4Addr::from(lo + (start + i) % n);
        if !reserved(ip) && leased(ip)?.is_none() {
            return Ok(Some(ip));
        }
    }
    Ok(None)
}

/// Refuse ports that collide with each other or with one another lease publishes (by the
/// store's index of published ports; the leases in `skip`, network and address, do not
/// count).
fn check_ports(store: &Store, ports: &[Port], skip: &[(String, Ipv4Addr)]) -> Result<(), Error> {
    for (i, p) in ports.iter().enumerate() {
        if ports[..i].iter().any(|q| crate::ports::collide(p, q)) {
            return Err(Error::PortTwice(format!(
                "{}/{}",
                p.host_port,
                p.protocol.as_str()
            )));
        }
        if let Some((n, l)) = port_user(store, p, skip)? {
            return Err(Error::PortTaken {
                port: format!("{}/{}", p.host_port, p.protocol.as_str()),
                by: format!("{} on '{}'", taken_by(&l), n),
            });
        }
    }
    Ok(())
}

/// A lease of any network (but those in `skip`) that publishes a port colliding with `p`.
fn port_user(
    store: &Store,
    p: &Port,
    skip: &[(String, Ipv4Addr)],
) -> Result<Option<(String, Lease)>, Error> {
    Ok(store
        .port_users(p.protocol, p.host_port)?
        .into_iter()
        .find(|(n, l)| {
            !skip.iter().any(|(sn, sip)| sn == n && *sip == l.ip)
                && l.ports.iter().any(|q| crate::ports::collide(p, q))
        }))
}

/// Attach the namespace `ns` to a network.
pub fn attach(store: &Store, ns: &NetNs, spec: AttachSpec) -> Result<Attached, Error> {
    if !valid_ifname(&spec.ifname) {
        return Err(Error::IfName(spec.ifname));
    }
    let Some(mut net) = store.load_settings(&spec.bridge)? else {
        return Err(Error::NoNetwork(spec.bridge));
    };
    let here = here()?;
    require_here(&net, &here)?;
    let mut nl = Netlink::open().nl(|| "open a netlink socket".into())?;
    let br = nl
        .link(net.br())
        .nl(|| format!("look up bridge '{}'", net.br()))?
        .ok_or_else(|| Error::BridgeMissing(net.br().to_string()))?;
    let netns_name = ns.path.display().to_string();
    for l in store.leases_of_inode(&net.name, ns.inode)? {
        // the same inode may be a new namespace reusing a dead one's number
        if l.ifname == spec.ifname && lease_alive(&mut nl, &l)? {
            return Err(Error::AlreadyAttached {
                netns: netns_name,
                network: net.name.clone(),
                ifname: l.ifname.clone(),
            });
        }
    }

    // Dead leases go first when they stand in the way: a crash never fills a subnet.
    // (found by loading the network whole, only then; removed from the store when this
    // attach commits)
    let mut reclaimed: Vec<Lease> = Vec::new();
    if net.subnet6.is_none() {
        if let Some(p) = spec
            .ports
            .iter()
            .find(|p| p.host_ip.is_some_and(|a| a.is_ipv6()))
        {
            return Err(Error::Failed(format!(
                "network '{}' has no IPv6 subnet: nothing to publish on [{}]",
                net.name,
                p.host_ip.map(|a| a.to_string()).unwrap_or_default()
            )));
        }
    }
    if let Some(want) = spec.ip6 {
        let ok = match net.subnet6 {
            None => Err(format!("network '{}' has no IPv6 subnet", net.name)),
            Some(s6) if !s6.contains(want) => Err(format!(
                "address {want} is outside IPv6 subnet {s6} of network '{}'",
                net.name
            )),
            Some(s6) if want == s6.network() || Some(want) == net.gateway6 => Err(format!(
                "address {want} is reserved in network '{}' (network or gateway address)",
                net.name
            )),
            Some(_) => match store.lease_of_ip6(&net.name, want)? {
                Some(l) => Err(format!(
                    "address {want} is already leased in network '{}' (to {})",
                    net.name,
                    taken_by(&l)
                )),
                None => Ok(()),
            },
        };
        ok.map_err(Error::Failed)?;
    }
    let skip_of = |r: &[Lease]| -> Vec<(String, Ipv4Addr)> {
        r.iter().map(|l| (net.name.clone(), l.ip)).collect()
    };
    let ports = {
        let taken = |p: &Port| port_user(store, p, &[]).map(|u| u.is_some());
        crate::ports::resolve(&taken, &spec.ports)?
    };
    if let Err(e) = check_ports(store, &ports, &[]) {
        reclaimed.extend(dead_in_store(&mut nl, store, &net.name)?);
        check_ports(store, &ports, &skip_of(&reclaimed)).map_err(|_| e)?;
    }
    let net_name = net.name.clone();
    let leased_but = |gone: &[Lease]| {
        let gone: Vec<Ipv4Addr> = gone.iter().map(|l| l.ip).collect();
        let name = net_name.clone();
        move |ip: Ipv4Addr| -> Result<Option<Lease>, Error> {
            if gone.contains(&ip) {
                return Ok(None);
            }
            store.lease_at(&name, ip)
        }
    };
    let ip = match pick_address(&net, spec.ip, &leased_but(&reclaimed)) {
        Ok(Some(ip)) => ip,
        Ok(None) | Err(Error::AddressTaken { .. }) => {
            if reclaimed.is_empty() {
                reclaimed.extend(dead_in_store(&mut nl, store, &net.name)?);
            }
            match pick_address(&net, spec.ip, &leased_but(&reclaimed))? {
                Some(ip) => ip,
                None => {
                    return Err(Error::SubnetFull {
                        subnet: net.subnet,
                        network: net.name,
                    });
                }
            }
        }
        Err(e) => return Err(e),
    };

    let mut undo = Undo::new();
    let result = (|| -> Result<Attached, Error> {
        let veth = veth_name(&mut nl, &store.veth_prefix())?;
        nl.create_veth(
            &veth,
            br.index,
            &spec.ifname,
            ns.file.as_fd(),
            spec.mac,
            net.mtu,
        )
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::EEXIST) {
                Error::IfExists {
                    ifname: spec.ifname.clone(),
                    netns: netns_name.clone(),
                }
            } else {
                Error::Netlink {
                    what: format!(
                        "create veth '{veth}' with peer '{}' in {netns_name}",
                        spec.ifname
                    ),
                    source: e,
                }
            }
        })?;
        let v = veth.clone();
        undo.push(format!("delete veth '{v}'"), move || delete_link_named(&v));
        let host = nl
            .link(&veth)
            .nl(|| format!("look up '{veth}'"))?
            .ok_or_else(|| Error::Failed(format!("veth '{veth}' vanished")))?;
        // No IPv6 on the host end, before it goes up: a bridge port forwards IPv6 all the
        // same, and the link-local address and multicast route each port would otherwise
        // get grow the host's IPv6 routing table with the containers, which every later
        // link change walks (7 to 13% of the CPU of an attach and detach at 1000).
        // Best effort: without it (a kernel without IPv6, a read-only /proc/sys) the port
        // merely keeps its IPv6.
        let sysctl = format!("/proc/sys/net/ipv6/conf/{veth}/disable_ipv6");
        if let Err(e) = std::fs::write(&sysctl, "1") {
            common::debug!("cannot write {sysctl}: {e}");
        }
        nl.set_up(host.index).nl(|| format!("bring '{veth}' up"))?;

        let mut cnl = Netlink::open_in(ns.file.as_fd())
            .nl(|| format!("open a netlink socket in {netns_name}"))?;
        let eth = cnl
            .link(&spec.ifname)
            .nl(|| format!("look up '{}' in {netns_name}", spec.ifname))?
            .ok_or_else(|| {
                Error::Failed(format!("'{}' vanished from {netns_name}", spec.ifname))
            })?;
        // On a network without IPv6, no IPv6 address on the container's end, before it goes
        // up (Docker turns IPv6 off there): its link-local address would send
        // DAD probes, MLD reports and router solicitations, multicast which a bridge with no
        // querier floods to every port -- each start cost every other container on the
        // bridge its share (a kworker at 5% of the CPU while starting the 1000th). By
        // netlink, not the disable_ipv6 sysctl: every namespace that looks up
        // /proc/sys/net/ipv6 leaves a dentry in one dcache hash chain that all such lookups
        // walk (0.2 ms each with 1000 containers). Best effort, as for the host end.
        if net.subnet6.is_none() {
            if let Err(e) = cnl.set_no_ipv6_addr_gen(eth.index) {
                common::debug!("cannot turn IPv6 addresses off on '{}': {e}", spec.ifname);
            }
        }
        cnl.add_address(eth.index, ip, net.subnet.prefix())
            .nl(|| format!("add {ip}/{} to '{}'", net.subnet.prefix(), spec.ifname))?;
        cnl.set_up(eth.index)
            .nl(|| format!("bring '{}' up", spec.ifname))?;
        // lo is interface 1 in every network namespace
        cnl.set_up(1)
            .nl(|| format!("bring 'lo' up in {netns_name}"))?;
        if spec.default_route && !net.internal {
            match cnl.add_route(Ipv4Addr::UNSPECIFIED, 0, Some(net.gateway), Some(eth.index)) {
                Ok(()) => {}
                // another network already gave the namespace its default route
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(source) => {
                    return Err(Error::Netlink {
                        what: format!("add the default route via {} in {netns_name}", net.gateway),
                        source,
                    });
                }
            }
        }
        for &(dst, len, gw) in &spec.routes {
            let gw = gw.unwrap_or(net.gateway);
            match cnl.add_route(dst, len, Some(gw), Some(eth.index)) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(source) => {
                    return Err(Error::Netlink {
                        what: format!("add the route {dst}/{len} via {gw} in {netns_name}"),
                        source,
                    });
                }
            }
        }
        let ip6 = match net.subnet6 {
            None => None,
            Some(s6) => {
                // (the lowest free one from ::2, each a lookup in the store's index)
                let taken = |a: std::net::Ipv6Addr| -> Result<bool, Error> {
                    if Some(a) == net.gateway6 {
                        return Ok(true);
                    }
                    Ok(store
                        .lease_of_ip6(&net.name, a)?
                        .is_some_and(|l| !reclaimed.iter().any(|r| r.ip == l.ip)))
                };
                let a = match spec.ip6 {
                    Some(a) => a,
                    None => {
                        let mut found = None;
                        for n in 2u128.. {
                            let Some(a) = s6.nth(n) else { break };
                            if !taken(a)? {
                                found = Some(a);
                                break;
                            }
                        }
                        found
                            .ok_or_else(|| Error::Failed(format!("no free address left in {s6}")))?
                    }
                };
                cnl.add_address6(eth.index, a, s6.prefix())
                    .nl(|| format!("add {a}/{} to '{}'", s6.prefix(), spec.ifname))?;
                if let (true, false, Some(g6)) = (spec.default_route, net.internal, net.gateway6) {
                    match cnl.add_default_route6(g6, eth.index) {
                        Ok(()) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                        Err(source) => {
                            return Err(Error::Netlink {
                                what: format!(
                                    "add the IPv6 default route via {g6} in {netns_name}"
                                ),
                                source,
                            });
                        }
                    }
                }
                Some(a)
            }
        };
        let lease = Lease {
            ip,
            veth: veth.clone(),
            ifname: spec.ifname.clone(),
            mac: eth.mac.as_ref().map(format_mac).unwrap_or_default(),
            netns: netns_name.clone(),
            netns_inode: ns.inode,
            name: spec.name.clone(),
            container_id: spec.container_id.clone(),
            ports: ports.clone(),
            etc_dir: spec.etc.clone(),
            rule_handles: Vec::new(),
            delegated: spec.delegated.clone(),
            aliases: spec.aliases.clone(),
            hostname: spec.hostname.clone(),
            // (Docker's host-gateway: the host's address on this network)
            extra_hosts: spec
                .extra_hosts
                .iter()
                .map(|(n, a)| match a.as_str() {
                    "host-gateway" => (n.clone(), net.gateway.to_string()),
                    _ => (n.clone(), a.clone()),
                })
                .collect(),
            ip6,
        };
        let mut lease = lease;
        // (the store: the dead leases this attach reclaims go, this one is recorded)
        for l in &reclaimed {
            store.drop_lease(&net.name, l)?;
        }
        let seq = net.next_seq;
        net.next_seq += 1;
        net.last_ip = Some(ip);
        store.put_lease(&net.name, &lease, seq)?;
        {
            // (the undo removes the files by their paths: it holds no borrow of the store)
            let paths = store.lease_undo(&net.name, &lease);
            undo.push(format!("forget the lease of {ip}"), move || {
                for p in &paths {
                    let _ = std::fs::remove_file(p);
                }
                Ok::<(), Error>(())
            });
        }
        if let Some(dir) = &spec.etc {
            write_etc(store, dir, &net, &lease, &spec.dns)?;
        }
        let first = change_ports(store, &here, &net, &reclaimed, Some(&mut lease))?;
        if !lease.rule_handles.is_empty() {
            let handles = lease.rule_handles.clone();
            let (id, name, br) = (
                store.id().to_string(),
                net.name.clone(),
                net.br().to_string(),
            );
            undo.push(format!("delete the rules of '{veth}'"), move || {
                let lock = firewall::NetnsLock::acquire()?;
                firewall::change(&lock, &id, &name, &handles, &[], false)?;
                if first {
                    route_localnet(&br, false)?;
                }
                Ok::<(), Error>(())
            });
            store.put_lease(&net.name, &lease, seq)?;
        }
        store.save_settings(&net)?;
        hosts_attached(store, &net, &lease, spec.etc.is_some())?;
        refresh_private_hosts(store, &net, Some(&lease.veth));
        let network = net.clone();
        Ok(Attached {
            network,
            lease,
            bridge_mac: br.mac.as_ref().map(format_mac),
            veth_mac: host.mac.as_ref().map(format_mac),
            sandbox: netns_name.clone(),
        })
    })();
    finish(undo, result)
}

/// The hostname a lease's files carry.
pub fn hostname(l: &Lease) -> String {
    if let Some(h) = &l.hostname {
        return h.clone();
    }
    if let Some(n) = &l.name {
        return n.clone();
    }
    if let Some(id) = &l.container_id {
        return id.chars().take(12).collect();
    }
    format!("ctr-{}", l.ip.to_string().replace('.', "-"))
}

/// The names others know a lease by: its container name (or hostname) and its aliases.
fn names_of(l: &Lease) -> String {
    let mut s = l.name.clone().unwrap_or_else(|| hostname(l));
    for a in &l.aliases {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// A container's hosts file: itself (on each network it is attached to with this etc
/// folder), its --add-host lines, then the named containers of each of its networks.
/// `net` is the network being changed (its leases may be newer than the store's).
fn hosts_for(store: &Store, net: &Network, lease: &Lease) -> String {
    // (a network loaded without its leases: the store has them, this lease among them)
    let whole;
    let net = match net.partial {
        true => {
            whole = store.load(&net.name).ok().flatten();
            whole.as_ref().unwrap_or(net)
        }
        false => net,
    };
    let mine = |l: &Lease| l.etc_dir.is_some() && l.etc_dir == lease.etc_dir;
    // (the container's other networks, as its folder's list names them: no scan of the
    // store, so a single-network container costs one small read)
    let mut nets: Vec<Network> = vec![net.clone()];
    if let Some(dir) = &lease.etc_dir {
        for name in etc_networks(dir) {
            if name != net.name {
                if let Ok(Some(n)) = store.load(&name) {
                    if n.leases.iter().any(mine) {
                        nets.push(n);
                    }
                }
            }
        }
    }
    let own_name = {
        let h = hostname(lease);
        match h.split_once('.') {
            Some((short, _)) => format!("{h} {short}"),
            None => h,
        }
    };
    let mut others: Vec<(Ipv4Addr, String)> = Vec::new();
    let mut extra: Vec<(String, String)> = Vec::new();
    for n in &nets {
        for l in &n.leases {
            if mine(l) || l.veth == lease.veth {
                if l.veth != lease.veth {
                    others.push((l.ip, own_name.clone()));
                }
                for e in &l.extra_hosts {
                    if !extra.contains(e) {
                        extra.push(e.clone());
                    }
                }
            }
        }
    }
    for n in &nets {
        for l in &n.leases {
            if !mine(l) && l.veth != lease.veth && l.name.is_some() {
                others.push((l.ip, names_of(l)));
            }
        }
    }
    let mut entries = vec![etcfiles::HostEntry {
        key: lease.veth.clone(),
        ip: lease.ip,
        names: vec![own_name.clone()],
    }];
    for (ip, name) in others.into_iter().filter(|(_, n)| *n != own_name) {
        entries.push(etcfiles::HostEntry {
            key: String::new(),
            ip,
            names: vec![name],
        });
    }
    let mut text = etcfiles::network_hosts(&entries);
    for (name, addr) in extra {
        text.push_str(&format!("{addr}\t{name}\n"));
    }
    text
}

/// The networks a container's etc folder is attached to (`DIR/.networks`, one a line).
fn etc_networks(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(".networks"))
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Add or remove `network` in the etc folder's list (best effort, as the hosts files).
fn set_etc_network(dir: &std::path::Path, network: &str, on: bool) {
    let mut list = etc_networks(dir);
    let had = list.iter().any(|n| n == network);
    if had == on {
        return;
    }
    if on {
        list.push(network.to_string());
    } else {
        list.retain(|n| n != network);
    }
    let text: String = list.iter().map(|n| format!("{n}\n")).collect();
    let _ = common::state::atomic_write(&dir.join(".networks"), text.as_bytes());
}

/// The names a lease answers to in its network's hosts file: its hostname (none for an
/// unnamed attachment made without `--etc`, which nothing resolves).
pub fn host_names(l: &Lease) -> Vec<String> {
    if l.name.is_none() && l.etc_dir.is_none() {
        return Vec::new();
    }
    let mut v = names_of(l)
        .split(' ')
        .map(str::to_string)
        .collect::<Vec<_>>();
    // (its own host name too, and a dotted one's short form, as the container knows itself)
    let h = hostname(l);
    let short = h.split_once('.').map(|(s, _)| s.to_string());
    for x in std::iter::once(h).chain(short) {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

/// The network's hosts file as its leases call for it.
fn network_hosts(net: &Network) -> String {
    let entries: Vec<etcfiles::HostEntry> = net
        .leases
        .iter()
        .map(|l| etcfiles::HostEntry {
            key: l.veth.clone(),
            ip: l.ip,
            names: host_names(l),
        })
        .collect();
    etcfiles::network_hosts(&entries)
}

/// Bring the network's hosts file up to date (one write, seen by every container on it).
/// Only written once some attachment asked for `--etc` (the file exists) or `create` is
/// true.
fn update_hosts(store: &Store, net: &Network, create: bool) -> Result<(), Error> {
    let path = store.hosts_path(&net.name);
    if !create && !path.exists() {
        return Ok(());
    }
    store.hosts_dir()?;
    etcfiles::update_in_place(&path, &network_hosts(net))?;
    Ok(())
}

/// A lease's line in its network's hosts file, if it has one.
fn hosts_line(l: &Lease) -> Option<String> {
    let names = host_names(l);
    (!names.is_empty()).then(|| format!("{}\t{}\n", l.ip, names.join(" ")))
}

/// The network's hosts file after an attach: the new lease's line appended (the file is in
/// attach order), or the whole file written when it is not there yet and `create`.
fn hosts_attached(store: &Store, net: &Network, lease: &Lease, create: bool) -> Result<(), Error> {
    let path = store.hosts_path(&net.name);
    if !path.exists() {
        if !create {
            return Ok(());
        }
        let Some(whole) = store.load(&net.name)? else {
            return Ok(());
        };
        return update_hosts(store, &whole, true);
    }
    let Some(line) = hosts_line(lease) else {
        return Ok(());
    };
    let res = (|| -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        f.write_all(line.as_bytes())
    })();
    res.map_err(|source| Error::Write { path, source })
}

/// The network's hosts file after a detach: the gone leases' lines taken out (the file
/// rebuilt from the store if one is not found as written).
fn hosts_detached(store: &Store, net: &Network, gone: &[Lease]) -> Result<(), Error> {
    let path = store.hosts_path(&net.name);
    let Ok(mut text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    for l in gone {
        let Some(line) = hosts_line(l) else { continue };
        let at = text
            .match_indices(&line)
            .map(|(i, _)| i)
            .find(|&i| i == 0 || text.as_bytes()[i - 1] == b'\n');
        match at {
            Some(i) => text.replace_range(i..i + line.len(), ""),
            None => {
                let Some(whole) = store.load(&net.name)? else {
                    return Ok(());
                };
                return update_hosts(store, &whole, false);
            }
        }
    }
    etcfiles::update_in_place(&path, &text)?;
    Ok(())
}

/// The container's own files in DIR: resolv.conf, hostname, and hosts -- a symlink to its
/// network's one hosts file (which the caller then brings up to date), or a file of its own
/// when it has --add-host lines or several networks.
fn write_etc(
    store: &Store,
    dir: &std::path::Path,
    net: &Network,
    lease: &Lease,
    dns: &Dns,
) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    set_etc_network(dir, &net.name, true);
    // (a second network's attach keeps the resolv.conf the first one wrote)
    let resolv = dir.join("resolv.conf");
    if !dns.is_empty() || !resolv.exists() {
        let (host, up) = etcfiles::host_resolv();
        let mut text = etcfiles::resolv_conf(&host, up.as_deref());
        if !dns.is_empty() {
            text = etcfiles::with_dns(&text, &dns.servers, &dns.search, &dns.options);
        }
        etcfiles::write_in_place(&resolv, &text)?;
    }
    // (and the hostname file too: a second network leaves it as the first wrote it)
    let host = dir.join("hostname");
    if !host.exists() {
        etcfiles::write_in_place(&host, &format!("{}\n", hostname(lease)))?;
    }
    let hosts = dir.join("hosts");
    if lease.extra_hosts.is_empty() && etc_networks(dir).len() <= 1 {
        // the network's one hosts file (the caller brings it up to date)
        return etcfiles::symlink_replace(&store.hosts_path(&net.name), &hosts);
    }
    // --add-host lines, or the names of several networks: a file of the container's own
    // (never written through the symlink to the network's)
    if hosts
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        let _ = std::fs::remove_file(&hosts);
    }
    etcfiles::write_in_place(&hosts, &hosts_for(store, net, lease))?;
    // (each of its networks now has to rewrite this file when its containers change)
    for name in etc_networks(dir) {
        note_private_hosts(store, &name, dir);
    }
    Ok(())
}

/// Add `dir` to network `name`'s index of private hosts files (best effort, as the files:
/// without the index, the next change there looks at every container's folder).
fn note_private_hosts(store: &Store, name: &str, dir: &std::path::Path) {
    let Some(mut dirs) = store.private_hosts(name) else {
        return; // no index yet: the next change looks at every folder anyway
    };
    if !dirs.iter().any(|d| d == dir) {
        dirs.push(dir.to_path_buf());
        let _ = store.set_private_hosts(name, &dirs);
    }
}

/// Rewrite the hosts files of their own (see [`write_etc`]) of the containers on the
/// network; the others share the network's file (best effort: a container whose folder is
/// gone is not an error of this command). Only the folders in the network's index of
/// private hosts files are looked at (with no index yet, every lease's folder is, once,
/// and the index is made from what is found); folders no lease of the network has any
/// more leave the index.
fn refresh_private_hosts(store: &Store, net: &Network, except: Option<&str>) {
    let private = |dir: &std::path::Path| {
        dir.join("hosts")
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_file())
    };
    let listed = store.private_hosts(&net.name);
    if listed.as_ref().is_some_and(|d| d.is_empty()) {
        return; // (the usual case: no container of the network has a file of its own)
    }
    // (the network's leases are wanted whole from here on)
    let whole;
    let net = match net.partial {
        true => match store.load(&net.name) {
            Ok(Some(n)) => {
                whole = n;
                &whole
            }
            _ => return,
        },
        false => net,
    };
    let dirs: Vec<PathBuf> = match &listed {
        Some(dirs) => dirs
            .iter()
            .filter(|d| net.leases.iter().any(|l| l.etc_dir.as_ref() == Some(*d)))
            .cloned()
            .collect(),
        None => {
            let mut found: Vec<PathBuf> = Vec::new();
            for l in &net.leases {
                if let Some(d) = &l.etc_dir {
                    if !found.contains(d) && private(d) {
                        found.push(d.clone());
                    }
                }
            }
            found
        }
    };
    if listed.as_ref() != Some(&dirs) {
        let _ = store.set_private_hosts(&net.name, &dirs);
    }
    for dir in &dirs {
        if !private(dir) {
            continue;
        }
        for l in &net.leases {
            if l.etc_dir.as_ref() == Some(dir) && Some(l.veth.as_str()) != except {
                let _ = etcfiles::write_in_place(&dir.join("hosts"), &hosts_for(store, net, l));
            }
        }
    }
}

/// Which attachments a detach removes.
pub enum Which {
    Netns { path: String, inode: Option<u64> },
    Name(String),
    ContainerId { id: String, ifname: String },
}

impl Which {
    fn matches(&self, l: &Lease) -> bool {
        match self {
            Which::Netns { path, inode } => match inode {
                Some(i) => l.netns_inode == *i || l.netns == *path,
                None => l.netns == *path,
            },
            Which::Name(n) => l.name.as_deref() == Some(n),
            Which::ContainerId { id, ifname } => {
                l.container_id.as_deref() == Some(id) && l.ifname == *ifname
            }
        }
    }
}

/// Detach: remove the veth, the port rules and the lease. Nothing attached is not an error.
/// Goes as far as it can and reports every failure.
pub fn detach(store: &Store, network: &str, which: &Which) -> Result<Vec<Lease>, Error> {
    let Some(net) = store.load_settings(network)? else {
        return Err(Error::NoNetwork(network.to_string()));
    };
    // (the leases it names, by the store's indexes)
    let mut gone: Vec<Lease> = match which {
        Which::Netns { path, inode } => {
            let mut v = match inode {
                Some(i) => store.leases_of_inode(&net.name, *i)?,
                None => Vec::new(),
            };
            for l in store.leases_of_path(&net.name, path)? {
                if !v.iter().any(|x| x.ip == l.ip) {
                    v.push(l);
                }
            }
            v
        }
        Which::Name(n) => store.leases_named(&net.name, n)?,
        Which::ContainerId { id, .. } => store.leases_of_container(&net.name, id)?,
    };
    gone.retain(|l| which.matches(l));
    if gone.is_empty() {
        return Ok(gone);
    }
    let here = here()?;
    // (a network of another namespace: its veths and rules are not here to remove)
    let local = net.place(&here) == Place::Here;
    let mut nl = Netlink::open().nl(|| "open a netlink socket".into())?;
    let mut errors = Vec::new();
    // (the rules before the veths: the kernel frees deleted rules after a grace period,
    // which then runs while the veths go; see nftnl's LINGER)
    for l in &gone {
        store.drop_lease(&net.name, l)?;
    }
    if local {
        if let Err(e) = change_ports(store, &here, &net, &gone, None) {
            errors.push(common::run::error_line(&e));
        }
    }
    for l in &gone {
        if let Some(dir) = &l.etc_dir {
            set_etc_network(dir, &net.name, false);
        }
        if let Err(e) = release_lease(&mut nl, l, local && netns_reachable(l)) {
            errors.push(common::run::error_line(&e));
        }
    }
    if let Err(e) = hosts_detached(store, &net, &gone) {
        errors.push(common::run::error_line(&e));
    }
    refresh_private_hosts(store, &net, None);
    if errors.is_empty() {
        Ok(gone)
    } else {
        Err(Error::Failed(errors.join("; ")))
    }
}

/// Release every attachment whose namespace is gone, in every network (or one) of this
/// root made in this network namespace (or before the last reboot, when all are gone).
/// Another namespace's networks are left alone: their veths are not here to look at.
pub fn gc(store: &Store, only: Option<&str>) -> Result<Vec<(String, Lease)>, Error> {
    let here = here()?;
    let prefix = store.veth_prefix();
    let mut nl = Netlink::open().nl(|| "open a netlink socket".into())?;
    let mut released = Vec::new();
    let mut ports_changed = false;
    let mut errors = Vec::new();
    for mut net in store.networks()? {
        if only.is_some_and(|o| o != net.name) {
            continue;
        }
        match net.place(&here) {
            Place::Here => {}
            Place::Elsewhere => continue,
            Place::Stale => {
                // a reboot ended every namespace and veth of it
                let dead: Vec<Lease> = std::mem::take(&mut net.leases);
                if dead.is_empty() {
                    continue;
                }
                for l in &dead {
                    if let Some(d) = &l.delegated {
                        if let Err(e) = crate::cni::ipam_del(
                            d,
                            l.container_id.as_deref().unwrap_or(""),
                            &l.netns,
                        ) {
                            errors.push(common::run::error_line(&e));
                        }
                    }
                }
                store.save(&net)?;
                released.extend(dead.into_iter().map(|l| (net.name.clone(), l)));
                continue;
            }
        }
        // veths of this root on the bridge that no lease names: an attach killed between
        // creating the pair and recording the lease (a failing attach undoes its own)
        if let Some(br) = nl
            .link(net.br())
            .nl(|| format!("look up bridge '{}'", net.br()))?
        {
            for l in nl.links().nl(|| "list links".into())? {
                let ours = l.controller == Some(br.index)
                    && l.kind.as_deref() == Some("veth")
                    && l.name.len() == prefix.len() + 8
                    && l.name.starts_with(&prefix);
                if ours && !net.leases.iter().any(|x| x.veth == l.name) {
                    if let Err(e) = nl.delete_link(l.index) {
                        if e.raw_os_error() != Some(libc::ENODEV) {
                            errors.push(format!("cannot delete stray veth '{}': {e}", l.name));
                        }
                    }
                }
            }
        }
        let dead = reclaim_dead(&mut nl, &mut net)?;
        if dead.is_empty() {
            continue;
        }
        for l in &dead {
            if let Some(d) = &l.delegated {
                if let Err(e) =
                    crate::cni::ipam_del(d, l.container_id.as_deref().unwrap_or(""), &l.netns)
                {
                    errors.push(common::run::error_line(&e));
                }
            }
            ports_changed |= !l.ports.is_empty();
        }
        store.save(&net)?;
        if let Err(e) = update_hosts(store, &net, false) {
            errors.push(common::run::error_line(&e));
        }
        refresh_private_hosts(store, &net, None);
        released.extend(dead.into_iter().map(|l| (net.name.clone(), l)));
    }
    if ports_changed {
        apply_rules(store, &here, &mut store.networks()?)?;
    }
    if errors.is_empty() {
        Ok(released)
    } else {
        Err(Error::Failed(errors.join("; ")))
    }
}

/// `attach --none`: only `lo`, up.
pub fn attach_none(ns: &NetNs) -> Result<(), Error> {
    let name = ns.path.display().to_string();
    let mut cnl =
        Netlink::open_in(ns.file.as_fd()).nl(|| format!("open a netlink socket in {name}"))?;
    let lo = cnl
        .link("lo")
        .nl(|| format!("look up 'lo' in {name}"))?
        .ok_or_else(|| Error::Failed(format!("no 'lo' in {name}")))?;
    cnl.set_up(lo.index)
        .nl(|| format!("bring 'lo' up in {name}"))
}

/// Open NETNS (a PID or a namespace file) with an error naming it.
pub fn open_netns(arg: &str) -> Result<NetNs, Error> {
    netns::open(arg).map_err(|source| Error::Netns {
        netns: arg.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> Network {
        Network::sample("nb0", "10.0.0.0/29", "10.0.0.1", true)
    }

    /// A lookup of the leases in `n`.
    fn in_net(n: &Network) -> impl Fn(Ipv4Addr) -> Result<Option<Lease>, Error> + '_ {
        |ip| Ok(n.leases.iter().find(|l| l.ip == ip).cloned())
    }

    fn lease(ip: &str) -> Lease {
        Lease {
            ip: ip.parse().unwrap(),
            veth: format!("v{ip}"),
            ifname: "eth0".into(),
            mac: String::new(),
            netns: "/x".into(),
            netns_inode: 1,
            name: None,
            container_id: None,
            ports: vec![],
            etc_dir: None,
            rule_handles: vec![],
            delegated: None,
            aliases: vec![],
            hostname: None,
            extra_hosts: vec![],
            ip6: None,
        }
    }

    #[test]
    fn never_hands_out_network_gateway_broadcast() {
        let mut n = net();
        let mut got = Vec::new();
        loop {
            let Some(ip) = pick_address(&n, None, &in_net(&n)).unwrap() else {
                break;
            };
            got.push(ip.to_string());
            n.leases.push(lease(&ip.to_string()));
            n.last_ip = Some(ip);
        }
        assert_eq!(
            got,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
    }

    #[test]
    fn round_robin_after_last() {
        let mut n = net();
        n.last_ip = Some("10.0.0.4".parse().unwrap());
        assert_eq!(
            pick_address(&n, None, &in_net(&n))
                .unwrap()
                .unwrap()
                .to_string(),
            "10.0.0.5"
        );
        n.last_ip = Some("10.0.0.6".parse().unwrap());
        assert_eq!(
            pick_address(&n, None, &in_net(&n))
                .unwrap()
                .unwrap()
                .to_string(),
            "10.0.0.2"
        );
    }

    #[test]
    fn asked_for_addresses_are_checked() {
        let mut n = net();
        n.leases.push(lease("10.0.0.3"));
        assert!(matches!(
            pick_address(&n, Some("10.0.1.3".parse().unwrap()), &in_net(&n)),
            Err(Error::AddressOutside { .. })
        ));
        assert!(matches!(
            pick_address(&n, Some("10.0.0.1".parse().unwrap()), &in_net(&n)),
            Err(Error::AddressReserved { .. })
        ));
        assert!(matches!(
            pick_address(&n, Some("10.0.0.7".parse().unwrap()), &in_net(&n)),
            Err(Error::AddressReserved { .. })
        ));
        assert!(matches!(
            pick_address(&n, Some("10.0.0.3".parse().unwrap()), &in_net(&n)),
            Err(Error::AddressTaken { .. })
        ));
    }

    #[test]
    fn ifnames() {
        assert!(valid_ifname("eth0"));
        assert!(!valid_ifname("a-very-long-name0"));
        assert!(!valid_ifname("a/b"));
        assert!(!valid_ifname(""));
    }
}

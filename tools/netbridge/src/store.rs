//! netbridge's state under `$CTRKIT_ROOT/netbridge/`, every read-modify-write under one
//! flock (`lock`), so concurrent attaches never hand out one address twice:
//!
//! - `networks/NAME.json`: a network's settings;
//! - `networks/NAME.d/lease/IP`: one file per lease, named by its address (so picking a
//!   free address is a lookup), with small indexes beside them: `ns/INODE`, `path/NETNS`,
//!   `name/NAME`, `cid/ID` (files listing the addresses of the leases with that key, one a
//!   line), `ip6/ADDRESS` (a file holding the IPv4 address) and `ported/IP` (the leases
//!   that publish ports);
//! - `ports/PROTO-PORT/IP-NETWORK-N`: the published host ports of every network (the file
//!   holds the host address, if any);
//! - `format`: the store's layout has been brought to this one (records of a version that
//!   kept every lease in the network's JSON file are split up on first use).
//!
//! So an attach or detach reads and writes only its own lease, whatever the number of
//! others; the indexes are hints (every lookup reads the lease it names and checks it), the
//! lease files are the truth (written after their index entries, removed before them).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use common::state::Lock;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ipnet::Ipv4Net;
use crate::netns::HostNs;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    /// The network's name: the bridge's name.
    pub name: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub mtu: Option<u32>,
    /// Masquerade traffic from the subnet leaving through other links.
    pub nat: bool,
    /// No traffic between the bridge and other links, and no default route in containers.
    pub internal: bool,
    /// The gateway address is on the bridge (CNI `isGateway: false` leaves it off).
    #[serde(default = "yes")]
    pub gateway_on_bridge: bool,
    /// The last address handed out: the next search starts after it (round robin, so a
    /// freed address is not reused at once).
    pub last_ip: Option<Ipv4Addr>,
    /// Every lease, in attach order, when loaded whole ([`Store::load`]); empty when only
    /// the settings were ([`Store::load_settings`]). Records of older versions kept them
    /// here, in the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leases: Vec<Lease>,
    /// The leases live in files of their own (`NAME.d/`); false in older records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lease_files: bool,
    /// The attach order number the next lease gets.
    #[serde(default)]
    pub next_seq: u64,
    /// Only the settings were loaded: a save writes only them.
    #[serde(skip)]
    pub partial: bool,
    /// The network namespace the bridge was made in (none in records from before it was
    /// kept: those count as made here).
    #[serde(default)]
    pub host: Option<HostNs>,
    /// The bridge's name when it differs from the network's (ctr-network: `br-` and 12
    /// digits of the id, or `com.docker.network.bridge.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// Addresses are handed out only from this range of the subnet (Docker's --ip-range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Ipv4Net>,
    /// Docker-style metadata: a 64-hex-digit id, the creation time (RFC 3339), labels and
    /// driver options as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Dual stack: the IPv6 subnet and the bridge's address in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<crate::ipv6::Ipv6Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<std::net::Ipv6Addr>,
}

/// Where a network lives, seen from the namespace netbridge runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Made in this network namespace (its bridge, veths and rules are here).
    Here,
    /// Made in another network namespace of this boot: nothing of it is here to touch.
    Elsewhere,
    /// Made before the last reboot: its bridge, veths and rules are gone.
    Stale,
}

#[cfg(test)]
impl Network {
    /// A network for tests: NAME on SUBNET with the gateway GATEWAY on the bridge, no
    /// leases, made here.
    pub fn sample(name: &str, subnet: &str, gateway: &str, nat: bool) -> Network {
        Network {
            name: name.into(),
            subnet: subnet.parse().unwrap(),
            gateway: gateway.parse().unwrap(),
            mtu: None,
            nat,
            internal: false,
            gateway_on_bridge: true,
            last_ip: None,
            leases: vec![],
            lease_files: true,
            next_seq: 0,
            partial: false,
            host: None,
            bridge: None,
            ip_range: None,
            id: None,
            created: None,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            subnet6: None,
            gateway6: None,
        }
    }
}

impl Network {
    /// The bridge's link name.
    pub fn br(&self) -> &str {
        self.bridge.as_deref().unwrap_or(&self.name)
    }

    pub fn place(&self, here: &HostNs) -> Place {
        match &self.host {
            None => Place::Here,
            Some(h) if h == here => Place::Here,
            Some(h) if h.boot_id != here.boot_id => Place::Stale,
            Some(_) => Place::Elsewhere,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub ip: Ipv4Addr,
    /// The host end of the veth pair (on the bridge).
    pub veth: String,
    /// The container end's name, inside its namespace.
    pub ifname: String,
    pub mac: String,
    /// The namespace as named at attach time (`/proc/PID/ns/net` or a file).
    pub netns: String,
    pub netns_inode: u64,
    pub name: Option<String>,
    /// The CNI container id (CNI_CONTAINERID), when attached by a CNI runtime.
    pub container_id: Option<String>,
    pub ports: Vec<Port>,
    pub etc_dir: Option<PathBuf>,
    /// The handles of its published ports' rules in table `ip ctrkit` (chain `published`),
    /// so a detach deletes exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_handles: Vec<u64>,
    /// For CNI attachments whose addresses came from another IPAM plugin: how to release
    /// them again (the plugin and the network configuration it was given).
    #[serde(default)]
    pub delegated: Option<Delegated>,
    /// More names the other containers of the network know it by (--network-alias).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The container's own host name (and domain) in its hosts file, when not its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Extra lines of its hosts file (--add-host): NAME, ADDRESS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<(String, String)>,
    /// The IPv6 address, on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<std::net::Ipv6Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegated {
    pub plugin: String,
    pub config: String,
    pub cni_path: String,
    pub ifname: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// Published only on this address of the host (`-p IP:HOST:PORT`; an IPv6 one only
    /// on IPv6, `::` on every IPv6 address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<std::net::IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Proto,
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.host_ip {
            Some(std::net::IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        write!(
            f,
            "{}:{}/{}",
            self.host_port,
            self.container_port,
            self.protocol.as_str()
        )
    }
}

/// Parse `HOSTPORT:PORT[/tcp|udp]`.
#[cfg(test)]
pub fn parse_port(s: &str) -> Result<Port, String> {
    let bad = || format!("invalid port mapping '{s}' (expected HOSTPORT:PORT[/tcp|udp])");
    let (ports, proto) = match s.split_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some(_) => return Err(bad()),
        None => (s, Proto::Tcp),
    };
    let (h, c) = ports.split_once(':').ok_or_else(bad)?;
    let num = |x: &str| -> Result<u16, String> {
        match x.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad()),
            Ok(n) => Ok(n),
        }
    };
    Ok(Port {
        host_ip: None,
        host_port: num(h)?,
        container_port: num(c)?,
        protocol: proto,
    })
}

/// A lease's file: the lease and its attach order number.
#[derive(Deserialize)]
struct LeaseFile {
    seq: u64,
    #[serde(flatten)]
    lease: Lease,
}

#[derive(Serialize)]
struct LeaseFileRef<'a> {
    seq: u64,
    #[serde(flatten)]
    lease: &'a Lease,
}

/// A key as a file name: '%' and '/' escaped (and a leading '.'), too long ones hashed
/// (index lookups check the leases they find, so a shared hash costs nothing but a read).
fn enc(key: &str) -> String {
    let mut s = String::with_capacity(key.len() + 1);
    for (i, c) in key.chars().enumerate() {
        match c {
            '%' => s.push_str("%25"),
            '/' => s.push_str("%2F"),
            '.' if i == 0 => s.push_str("%2E"),
            c => s.push(c),
        }
    }
    if s.is_empty() {
        s.push('%');
    }
    if s.len() > 200 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        s = format!("%{h:016x}");
    }
    s
}

/// Hex digits back to a string.
fn unhex(s: &str) -> Option<String> {
    if s.len() % 2 != 0 {
        return None;
    }
    let b: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(b?).ok()
}

/// The state folder, locked for as long as this value lives.
pub struct Store {
    dir: PathBuf,
    /// `dir` as an absolute path without symlinks (what symlinks to its files name).
    canon: PathBuf,
    id: String,
    _lock: Lock,
}

/// A short id of a state folder (8 hex digits of an FNV-1a hash of its canonical path):
/// what marks the firewall rules and veths that this `$CTRKIT_ROOT` made.
pub fn root_id(dir: &Path) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in dir.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:08x}", (h ^ (h >> 32)) as u32)
}

impl Store {
    /// Lock `$ROOT/netbridge` (exclusive: every command that changes something).
    pub fn open(root: &Path) -> Result<Store, Error> {
        let dir = root.join("netbridge");
        let lock_path = dir.join("lock");
        let lock = Lock::exclusive(&lock_path).map_err(|source| Error::State {
            path: lock_path.clone(),
            source,
        })?;
        let nets = dir.join("networks");
        fs::create_dir_all(&nets).map_err(|source| Error::State { path: nets, source })?;
        let canon = fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        let id = root_id(&canon);
        let store = Store {
            dir,
            canon,
            id,
            _lock: lock,
        };
        store.migrate_all()?;
        Ok(store)
    }

    /// This state folder's short id ([`root_id`]).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The prefix of the host-side veth names this state folder makes: `nb` and the first
    /// four digits of its id.
    pub fn veth_prefix(&self) -> String {
        format!("nb{}", &self.id[..4])
    }

    /// The network's hosts file (see [`crate::etcfiles`]), an absolute path.
    pub fn hosts_path(&self, network: &str) -> PathBuf {
        self.canon.join("hosts").join(network)
    }

    /// Make the folder of the networks' hosts files.
    pub fn hosts_dir(&self) -> Result<PathBuf, Error> {
        let d = self.canon.join("hosts");
        fs::create_dir_all(&d).map_err(|source| Error::State {
            path: d.clone(),
            source,
        })?;
        Ok(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join("networks").join(format!("{name}.json"))
    }

    /// The folder of a network's lease files and indexes.
    fn lease_dir(&self, name: &str) -> PathBuf {
        self.dir.join("networks").join(format!("{name}.d"))
    }

    fn lease_path(&self, name: &str, ip: Ipv4Addr) -> PathBuf {
        self.lease_dir(name).join("lease").join(ip.to_string())
    }

    /// Bring every network to the layout of one file per lease, once per store (a store
    /// written by an older version: see the module's notes).
    fn migrate_all(&self) -> Result<(), Error> {
        let marker = self.dir.join("format");
        if marker.exists() {
            return Ok(());
        }
        for n in self.network_names("")? {
            self.load_settings(&n)?;
        }
        common::state::atomic_write(&marker, b"2\n").map_err(|source| Error::State {
            path: marker,
            source,
        })
    }

    fn read_record(&self, name: &str) -> Result<Option<Network>, Error> {
        let path = self.path(name);
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|e| Error::State {
                    path,
                    source: io::Error::other(e),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::State { path, source }),
        }
    }

    /// A network's settings, without its leases (see [`Network::partial`]). A record of an
    /// older version (its leases inside) is split into lease files here.
    pub fn load_settings(&self, name: &str) -> Result<Option<Network>, Error> {
        let Some(mut net) = self.read_record(name)? else {
            return Ok(None);
        };
        if !net.lease_files {
            let leases = std::mem::take(&mut net.leases);
            let dir = self.lease_dir(name);
            match fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::State { path: dir, source }),
            }
            net.lease_files = true;
            net.next_seq = 0;
            for l in &leases {
                let seq = net.next_seq;
                net.next_seq += 1;
                self.put_lease(name, l, seq)?;
            }
            self.save_settings(&net)?;
        }
        net.partial = true;
        Ok(Some(net))
    }

    /// A network with all its leases, in attach order.
    pub fn load(&self, name: &str) -> Result<Option<Network>, Error> {
        let Some(mut net) = self.load_settings(name)? else {
            return Ok(None);
        };
        let mut all: Vec<(u64, Lease)> = self.lease_files(name)?.into_values().collect();
        all.sort_by_key(|(seq, l)| (*seq, u32::from(l.ip)));
        net.leases = all.into_iter().map(|(_, l)| l).collect();
        net.partial = false;
        Ok(Some(net))
    }

    /// Every lease file of a network: address to attach order number and lease.
    fn lease_files(&self, name: &str) -> Result<BTreeMap<Ipv4Addr, (u64, Lease)>, Error> {
        let mut out = BTreeMap::new();
        for ip in ip_names(&self.lease_dir(name).join("lease"))? {
            if let Some((seq, l)) = self.read_lease(name, ip)? {
                out.insert(ip, (seq, l));
            }
        }
        Ok(out)
    }

    fn read_lease(&self, name: &str, ip: Ipv4Addr) -> Result<Option<(u64, Lease)>, Error> {
        let path = self.lease_path(name, ip);
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice::<LeaseFile>(&data)
                .map(|f| Some((f.seq, f.lease)))
                .map_err(|e| Error::State {
                    path,
                    source: io::Error::other(e),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::State { path, source }),
        }
    }

    /// The lease of address `ip` on network `name`, if any.
    pub fn lease_at(&self, name: &str, ip: Ipv4Addr) -> Result<Option<Lease>, Error> {
        Ok(self.read_lease(name, ip)?.map(|(_, l)| l))
    }

    /// The leases an index folder (`NAME.d/KIND/KEY/`) names.
    fn indexed(&self, name: &str, kind: &str, key: &str) -> Result<Vec<Lease>, Error> {
        let path = self.lease_dir(name).join(kind).join(enc(key));
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::State { path, source }),
        };
        let mut ips: Vec<Ipv4Addr> = text.lines().filter_map(|l| l.parse().ok()).collect();
        ips.sort();
        ips.dedup();
        let mut out = Vec::new();
        for ip in ips {
            if let Some(l) = self.lease_at(name, ip)? {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// The leases of network namespace inode `inode` on the network.
    pub fn leases_of_inode(&self, name: &str, inode: u64) -> Result<Vec<Lease>, Error> {
        Ok(self
            .indexed(name, "ns", &inode.to_string())?
            .into_iter()
            .filter(|l| l.netns_inode == inode)
            .collect())
    }

    /// The leases of a network namespace attached by the name `path`.
    pub fn leases_of_path(&self, name: &str, path: &str) -> Result<Vec<Lease>, Error> {
        Ok(self
            .indexed(name, "path", path)?
            .into_iter()
            .filter(|l| l.netns == path)
            .collect())
    }

    /// The leases of container name `cname` on the network.
    pub fn leases_named(&self, name: &str, cname: &str) -> Result<Vec<Lease>, Error> {
        Ok(self
            .indexed(name, "name", cname)?
            .into_iter()
            .filter(|l| l.name.as_deref() == Some(cname))
            .collect())
    }

    /// The leases of CNI container id `id` on the network.
    pub fn leases_of_container(&self, name: &str, id: &str) -> Result<Vec<Lease>, Error> {
        Ok(self
            .indexed(name, "cid", id)?
            .into_iter()
            .filter(|l| l.container_id.as_deref() == Some(id))
            .collect())
    }

    /// The lease holding IPv6 address `ip6` on the network, if any.
    pub fn lease_of_ip6(
        &self,
        name: &str,
        ip6: std::net::Ipv6Addr,
    ) -> Result<Option<Lease>, Error> {
        let path = self.lease_dir(name).join("ip6").join(ip6.to_string());
        let Some(ip) = fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse::<Ipv4Addr>().ok())
        else {
            return Ok(None);
        };
        Ok(self.lease_at(name, ip)?.filter(|l| l.ip6 == Some(ip6)))
    }

    /// Up to `max` addresses of the network's leases that publish ports.
    pub fn publishers(&self, name: &str, max: usize) -> Result<Vec<Ipv4Addr>, Error> {
        let mut out = Vec::new();
        for ip in ip_names(&self.lease_dir(name).join("ported"))? {
            if self
                .lease_at(name, ip)?
                .is_some_and(|l| !l.ports.is_empty())
            {
                out.push(ip);
                if out.len() >= max {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The published ports of any network on `port`/`proto`: network and lease.
    pub fn port_users(&self, proto: Proto, port: u16) -> Result<Vec<(String, Lease)>, Error> {
        let dir = self
            .dir
            .join("ports")
            .join(format!("{}-{port}", proto.as_str()));
        let mut seen: Vec<(String, Ipv4Addr)> = Vec::new();
        for n in dir_names(&dir)? {
            let n = n.to_string_lossy().into_owned();
            let mut it = n.splitn(3, '-');
            let (Some(ip), Some(net)) = (
                it.next().and_then(|x| x.parse::<Ipv4Addr>().ok()),
                it.next().and_then(unhex),
            ) else {
                continue;
            };
            if !seen.contains(&(net.clone(), ip)) {
                seen.push((net, ip));
            }
        }
        seen.sort();
        let mut out = Vec::new();
        for (net, ip) in seen {
            if let Some(l) = self.lease_at(&net, ip)? {
                out.push((net, l));
            }
        }
        Ok(out)
    }

    /// The keyed index entries of a lease: files listing the addresses of the leases
    /// with that key, one a line (a file, not a folder, per key: every folder or file made
    /// costs the filesystem an inode).
    fn list_entries(&self, name: &str, l: &Lease) -> Vec<PathBuf> {
        let d = self.lease_dir(name);
        let mut v = vec![
            d.join("ns").join(l.netns_inode.to_string()),
            d.join("path").join(enc(&l.netns)),
        ];
        if let Some(n) = &l.name {
            v.push(d.join("name").join(enc(n)));
        }
        if let Some(c) = &l.container_id {
            v.push(d.join("cid").join(enc(c)));
        }
        v
    }

    /// The other index entries of a lease: its files under the network's folder and under
    /// `ports/`, each with what it holds.
    fn index_entries(&self, name: &str, l: &Lease) -> Vec<(PathBuf, String)> {
        let d = self.lease_dir(name);
        let ip = l.ip.to_string();
        let mut v = Vec::new();
        if let Some(a) = l.ip6 {
            v.push((d.join("ip6").join(a.to_string()), format!("{ip}\n")));
        }
        if !l.ports.is_empty() {
            v.push((d.join("ported").join(&ip), String::new()));
        }
        let net_hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
        for (i, p) in l.ports.iter().enumerate() {
            v.push((
                self.dir
                    .join("ports")
                    .join(format!("{}-{}", p.protocol.as_str(), p.host_port))
                    .join(format!("{ip}-{net_hex}-{i}")),
                p.host_ip.map(|a| format!("{a}\n")).unwrap_or_default(),
            ));
        }
        v
    }

    /// Record a lease (attach order number `seq`): its index entries, then its file.
    pub fn put_lease(&self, name: &str, l: &Lease, seq: u64) -> Result<(), Error> {
        let line = format!("{}\n", l.ip);
        for path in self.list_entries(name, l) {
            let res = (|| -> io::Result<()> {
                use std::io::Write;
                match fs::read_to_string(&path) {
                    Ok(t) if t.lines().any(|x| x == l.ip.to_string()) => return Ok(()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        if let Some(p) = path.parent() {
                            if !p.is_dir() {
                                fs::create_dir_all(p)?;
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
                fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&path)?
                    .write_all(line.as_bytes())
            })();
            res.map_err(|source| Error::State { path, source })?;
        }
        for (path, data) in self.index_entries(name, l) {
            let res = (|| {
                if let Some(p) = path.parent() {
                    fs::create_dir_all(p)?;
                }
                fs::write(&path, data.as_bytes())
            })();
            res.map_err(|source| Error::State { path, source })?;
        }
        let path = self.lease_path(name, l.ip);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(|source| Error::State {
                path: p.to_path_buf(),
                source,
            })?;
        }
        let data =
            serde_json::to_vec(&LeaseFileRef { seq, lease: l }).map_err(|e| Error::State {
                path: path.clone(),
                source: io::Error::other(e),
            })?;
        // (no fsync, as the settings: leases describe live namespaces, which a reboot ends)
        common::state::atomic_write(&path, &data).map_err(|source| Error::State { path, source })
    }

    /// The files a lease's record made (its file and index entries), for an undo.
    pub fn lease_undo(&self, name: &str, l: &Lease) -> Vec<PathBuf> {
        let mut v = vec![self.lease_path(name, l.ip)];
        v.extend(self.index_entries(name, l).into_iter().map(|(p, _)| p));
        // (an undo of a new lease: its keyed entries are its own unless another lease
        // shares the key, which the undo then leaves to the lookups' check)
        v.extend(
            self.list_entries(name, l)
                .into_iter()
                .filter(|p| fs::read_to_string(p).is_ok_and(|t| t.trim() == l.ip.to_string())),
        );
        v
    }

    /// Remove a lease: its file, then its index entries (and index folders left empty).
    pub fn drop_lease(&self, name: &str, l: &Lease) -> Result<(), Error> {
        let path = self.lease_path(name, l.ip);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::State { path, source }),
        }
        let ip = l.ip.to_string();
        for path in self.list_entries(name, l) {
            let Ok(t) = fs::read_to_string(&path) else {
                continue;
            };
            let rest: String = t
                .lines()
                .filter(|x| *x != ip)
                .map(|x| format!("{x}\n"))
                .collect();
            let _ = if rest.is_empty() {
                fs::remove_file(&path)
            } else if rest != t {
                fs::write(&path, rest)
            } else {
                Ok(())
            };
        }
        let d = self.lease_dir(name);
        for (path, _) in self.index_entries(name, l) {
            // (an ip6 entry may have been taken over by another lease since)
            if path.starts_with(d.join("ip6")) {
                let ours = fs::read_to_string(&path).is_ok_and(|s| s.trim() == l.ip.to_string());
                if !ours {
                    continue;
                }
            }
            let _ = fs::remove_file(&path);
            if let Some(p) = path.parent() {
                if p.parent() == Some(&self.dir.join("ports")) {
                    let _ = fs::remove_dir(p);
                }
            }
        }
        Ok(())
    }

    /// The network names in the store but `except`, sorted.
    fn network_names(&self, except: &str) -> Result<Vec<String>, Error> {
        let dir = self.dir.join("networks");
        let rd = fs::read_dir(&dir).map_err(|source| Error::State {
            path: dir.clone(),
            source,
        })?;
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_suffix(".json").map(str::to_string)
            })
            .filter(|n| !n.starts_with('.') && n != except)
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn networks(&self) -> Result<Vec<Network>, Error> {
        self.networks_except("")
    }

    /// Every network but `name`, with its leases.
    pub fn networks_except(&self, name: &str) -> Result<Vec<Network>, Error> {
        let mut out = Vec::new();
        for n in self.network_names(name)? {
            if let Some(net) = self.load(&n)? {
                out.push(net);
            }
        }
        Ok(out)
    }

    /// Write a network's settings (not its leases).
    pub fn save_settings(&self, net: &Network) -> Result<(), Error> {
        let path = self.path(&net.name);
        let mut rec = Network {
            leases: Vec::new(),
            ..net.clone()
        };
        rec.lease_files = true;
        let mut data = Vec::with_capacity(1024);
        serde_json::to_writer(&mut data, &rec).map_err(|e| Error::State {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        data.push(b'\n');
        // temp file + rename, no fsync: leases describe live network namespaces, which a
        // reboot ends anyway (and `gc` then releases), while an fsync costs an attach
        // several milliseconds on a busy disk. The flock already serializes writers.
        common::state::atomic_write(&path, &data).map_err(|source| Error::State { path, source })
    }

    /// Write a network: its settings and, unless only they were loaded, its leases (the
    /// files of leases it no longer has go, changed ones are rewritten, new ones added).
    pub fn save(&self, net: &Network) -> Result<(), Error> {
        if net.partial {
            return self.save_settings(net);
        }
        let mut net = net.clone();
        let old = self.lease_files(&net.name)?;
        for (ip, (_, l)) in &old {
            if !net.leases.iter().any(|x| x.ip == *ip) {
                self.drop_lease(&net.name, l)?;
            }
        }
        for l in &net.leases {
            match old.get(&l.ip) {
                Some((_, o)) if o == l => {}
                Some((seq, o)) => {
                    self.drop_lease(&net.name, o)?;
                    self.put_lease(&net.name, l, *seq)?;
                }
                None => {
                    let seq = net.next_seq;
                    net.next_seq += 1;
                    self.put_lease(&net.name, l, seq)?;
                }
            }
        }
        self.save_settings(&net)
    }

    /// Where the network's index of private hosts files lives (see [`Store::private_hosts`]).
    fn private_path(&self, name: &str) -> PathBuf {
        self.dir
            .join("networks")
            .join(format!("{name}.private-hosts"))
    }

    /// The etc folders of the network's containers whose hosts file is one of their own
    /// (--add-host, or several networks) rather than the network's shared one: the only
    /// ones an attach or detach has to rewrite, so it need not look at every container's
    /// folder. `None`: no index yet (a record from before it was kept), every lease's
    /// folder has to be looked at once.
    pub fn private_hosts(&self, name: &str) -> Option<Vec<PathBuf>> {
        let data = fs::read(self.private_path(name)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// Replace the network's index of private hosts files.
    pub fn set_private_hosts(&self, name: &str, dirs: &[PathBuf]) -> Result<(), Error> {
        let path = self.private_path(name);
        let mut data = serde_json::to_vec(dirs).map_err(|e| Error::State {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        data.push(b'\n');
        common::state::atomic_write(&path, &data).map_err(|source| Error::State { path, source })
    }

    /// Remove a network's record, its leases, its index of private hosts files and its
    /// hosts file.
    pub fn remove(&self, name: &str) -> Result<(), Error> {
        // (the ports' entries live outside the network's folder)
        for (_, l) in self.lease_files(name)?.into_values() {
            self.drop_lease(name, &l)?;
        }
        let dir = self.lease_dir(name);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::State { path: dir, source }),
        }
        for path in [
            self.path(name),
            self.private_path(name),
            self.hosts_path(name),
        ] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::State { path, source }),
            }
        }
        Ok(())
    }
}

/// The names in folder `dir`, in the order the filesystem gives them; none if it does not
/// exist.
fn dir_names(dir: &Path) -> Result<impl Iterator<Item = std::ffi::OsString>, Error> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => Some(rd),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(Error::State {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    Ok(rd
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.file_name())))
}

/// The names in folder `dir` that are IPv4 addresses (lease files, index entries).
fn ip_names(dir: &Path) -> Result<impl Iterator<Item = Ipv4Addr>, Error> {
    Ok(dir_names(dir)?.filter_map(|n| n.to_str().and_then(|n| n.parse().ok())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse() {
        assert_eq!(
            parse_port("8080:80").unwrap(),
            Port {
                host_ip: None,
                host_port: 8080,
                container_port: 80,
                protocol: Proto::Tcp
            }
        );
        assert_eq!(parse_port("53:53/udp").unwrap().protocol, Proto::Udp);
        for bad in ["8080", "0:80", "8080:80/sctp", "x:80", "70000:80", ":80"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn network_round_trips_through_the_store() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let net = Network::sample("nb0", "10.88.0.0/16", "10.88.0.1", true);
        s.save(&net).unwrap();
        let back = s.load("nb0").unwrap().unwrap();
        assert_eq!(back.subnet, net.subnet);
        assert_eq!(s.networks().unwrap().len(), 1);
        s.remove("nb0").unwrap();
        assert!(s.load("nb0").unwrap().is_none());
    }

    #[test]
    fn root_ids_differ_per_folder_and_are_stable() {
        let a = root_id(Path::new("/var/lib/ctrkit/netbridge"));
        assert_eq!(a, root_id(Path::new("/var/lib/ctrkit/netbridge")));
        assert_ne!(a, root_id(Path::new("/tmp/other/netbridge")));
        assert_eq!(a.len(), 8);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn a_network_made_elsewhere_or_before_a_reboot_is_not_here() {
        let here = HostNs {
            boot_id: "b1".into(),
            netns: "cookie:1".into(),
        };
        let mut n = Network::sample("nb0", "10.88.0.0/16", "10.88.0.1", true);
        assert_eq!(n.place(&here), Place::Here);
        n.host = Some(here.clone());
        assert_eq!(n.place(&here), Place::Here);
        n.host = Some(HostNs {
            boot_id: "b1".into(),
            netns: "cookie:2".into(),
        });
        assert_eq!(n.place(&here), Place::Elsewhere);
        n.host = Some(HostNs {
            boot_id: "b0".into(),
            netns: "cookie:1".into(),
        });
        assert_eq!(n.place(&here), Place::Stale);
    }
}

//! netbridge's state: one JSON file per network (its settings and its leases) under
//! `$CTRKIT_ROOT/netbridge/networks/`, every read-modify-write under one flock
//! (`$CTRKIT_ROOT/netbridge/lock`), so concurrent attaches never hand out one address twice.

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
    pub leases: Vec<Lease>,
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
        Ok(Store {
            dir,
            canon,
            id,
            _lock: lock,
        })
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

    pub fn load(&self, name: &str) -> Result<Option<Network>, Error> {
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

    pub fn networks(&self) -> Result<Vec<Network>, Error> {
        self.networks_except("")
    }

    /// Every network but `name` (read from disk: a network loaded already need not be
    /// parsed again, and with a thousand leases that costs).
    pub fn networks_except(&self, name: &str) -> Result<Vec<Network>, Error> {
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
            .filter(|n| !n.starts_with('.') && n != name)
            .collect();
        names.sort();
        let mut out = Vec::new();
        for n in names {
            if let Some(net) = self.load(&n)? {
                out.push(net);
            }
        }
        Ok(out)
    }

    pub fn save(&self, net: &Network) -> Result<(), Error> {
        let path = self.path(&net.name);
        // (compact: with a thousand leases the record is read and written on every attach
        // and detach, and indentation doubled its size)
        // (room for it all at once: growing a buffer of a few hundred KiB copies it)
        let mut data = Vec::with_capacity(1024 + 512 * net.leases.len());
        serde_json::to_writer(&mut data, net).map_err(|e| Error::State {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        data.push(b'\n');
        // temp file + rename, no fsync: leases describe live network namespaces, which a
        // reboot ends anyway (and `gc` then releases), while an fsync costs an attach
        // several milliseconds on a busy disk. The flock already serializes writers.
        common::state::atomic_write(&path, &data).map_err(|source| Error::State { path, source })
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

    /// Remove a network's record, its index of private hosts files and its hosts file.
    pub fn remove(&self, name: &str) -> Result<(), Error> {
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

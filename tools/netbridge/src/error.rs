use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use common::HasExitCode;

use crate::ipnet::Ipv4Net;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot use state file {path}")]
    State {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot {what}")]
    Netlink {
        what: String,
        #[source]
        source: io::Error,
    },
    /// Rootless (issue 21): bridges, veths and firewall rules need root.
    #[error(
        "bridges need root (uid {0} is not root); rootless containers use ctr-run's user-mode network (pasta) or --network none"
    )]
    NeedsRoot(u32),
    #[error("no network named '{0}' (create it with 'netbridge create')")]
    NoNetwork(String),
    #[error("network '{0}' already exists")]
    NetworkExists(String),
    #[error("cannot create bridge '{0}': a link with that name already exists")]
    LinkExists(String),
    #[error(
        "bridge '{0}' does not exist (network state without its link; 'netbridge rm {0}' clears it)"
    )]
    BridgeMissing(String),
    #[error("subnet {subnet} overlaps {other}")]
    Overlap { subnet: Ipv4Net, other: String },
    #[error("gateway {gateway} is not a host address of {subnet}")]
    Gateway { gateway: Ipv4Addr, subnet: Ipv4Net },
    #[error("invalid bridge name '{0}' (1 to 15 characters, no '/', ':' or whitespace)")]
    BridgeName(String),
    #[error("invalid network name '{0}' (want [a-zA-Z0-9][a-zA-Z0-9_.-]*)")]
    NetworkName(String),
    #[error("network namespace '{netns}' cannot be opened")]
    Netns {
        netns: String,
        #[source]
        source: io::Error,
    },
    #[error("address {ip} is outside subnet {subnet} of network '{network}'")]
    AddressOutside {
        ip: Ipv4Addr,
        subnet: Ipv4Net,
        network: String,
    },
    #[error(
        "address {ip} is reserved in network '{network}' (network, gateway or broadcast address)"
    )]
    AddressReserved { ip: Ipv4Addr, network: String },
    #[error("address {ip} is already leased in network '{network}' (to {by})")]
    AddressTaken {
        ip: Ipv4Addr,
        network: String,
        by: String,
    },
    #[error("no free address left in subnet {subnet} of network '{network}'")]
    SubnetFull { subnet: Ipv4Net, network: String },
    #[error("invalid interface name '{0}' (1 to 15 characters, no '/', ':' or whitespace)")]
    IfName(String),
    #[error("interface '{ifname}' already exists in network namespace '{netns}'")]
    IfExists { ifname: String, netns: String },
    #[error("network namespace '{netns}' is already attached to '{network}' as '{ifname}'")]
    AlreadyAttached {
        netns: String,
        network: String,
        ifname: String,
    },
    #[error("host port {port} is already published (by {by})")]
    PortTaken { port: String, by: String },
    #[error("host port {0} is given twice")]
    PortTwice(String),
    #[error("network '{name}' still has {count} attachment(s) (detach them, or use --force)")]
    InUse { name: String, count: usize },
    #[error("cannot run nft")]
    NftSpawn(#[source] io::Error),
    #[error("cannot tell which network namespace this is")]
    HostNs(#[source] io::Error),
    #[error("network '{name}' was made {where_}; nothing of it is here to use")]
    NotHere { name: String, where_: &'static str },
    #[error(
        "network '{name}' was made in another network namespace and still has {count} attachment(s) there (remove it from that namespace)"
    )]
    InUseElsewhere { name: String, count: usize },
    #[error("cannot take the nftables lock of this network namespace")]
    NftLock(#[source] io::Error),
    #[error("nft refused the ruleset: {0}")]
    Nft(String),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

impl HasExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => common::exit::USAGE,
            _ => common::exit::FAILURE,
        }
    }
}

/// Add the operation to a netlink error.
pub trait NlContext<T> {
    fn nl(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> NlContext<T> for io::Result<T> {
    fn nl(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Netlink {
            what: what(),
            source,
        })
    }
}

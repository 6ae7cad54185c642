use std::net::Ipv4Addr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::ipnet::Ipv4Net;
use crate::store::Port;

/// container networks: bridge, veth, IPAM, NAT, published ports
///
/// Bridge networks for containers, made with netlink and nftables: a Linux bridge with a
/// gateway address and masquerade, veth pairs into container network namespaces,
/// addresses leased from the subnet, published ports. With CNI_COMMAND in its environment
/// netbridge is a CNI plugin instead (see the man page).
#[derive(Debug, Parser)]
pub struct Cli {
    #[command(flatten)]
    pub dirs: common::state::Dirs,
    /// Print debugging output on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a network: a bridge with the gateway address, forwarding and masquerade
    Create(CreateArgs),
    /// Remove a network: its bridge, rules and state
    Rm(RmArgs),
    /// List networks
    Ls(LsArgs),
    /// Show one network and its attachments
    Inspect(InspectArgs),
    /// Attach a network namespace to a network (or, with --none, bring up only lo)
    Attach(AttachArgs),
    /// Detach a namespace or container from a network (detaching twice is not an error)
    Detach(DetachArgs),
    /// List a network's leases
    Leases(LeasesArgs),
    /// Release leases, veths and port rules whose namespace is gone
    Gc(GcArgs),
}

fn parse_subnet(s: &str) -> Result<Ipv4Net, String> {
    s.parse()
}

fn parse_port(s: &str) -> Result<Port, String> {
    crate::store::parse_port(s)
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    crate::netlink::parse_mac(s)
}

fn parse_mtu(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (68..=65535).contains(&n) => Ok(n),
        _ => Err(format!("invalid MTU '{s}' (expected 68 to 65535)")),
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The bridge (and network) name, at most 15 characters
    #[arg(value_name = "BRIDGE")]
    pub bridge: String,
    /// The network's IPv4 subnet, e.g. 10.88.0.0/16
    #[arg(long, value_name = "CIDR", value_parser = parse_subnet)]
    pub subnet: Ipv4Net,
    /// The gateway address on the bridge [default: the subnet's first address]
    #[arg(long, value_name = "IP")]
    pub gateway: Option<Ipv4Addr>,
    /// MTU of the bridge and of the veths attached to it
    #[arg(long, value_name = "N", value_parser = parse_mtu)]
    pub mtu: Option<u32>,
    /// Do not masquerade traffic from the subnet leaving through other links
    #[arg(long)]
    pub no_nat: bool,
    /// No traffic between the network and other links; containers get no default route
    #[arg(long)]
    pub internal: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(value_name = "BRIDGE")]
    pub bridge: String,
    /// Detach the live attachments first instead of refusing
    #[arg(long, short)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print a JSON array
    #[arg(long)]
    pub json: bool,
    /// Omit the header line
    #[arg(long)]
    pub no_headers: bool,
    /// Print only the network names
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(value_name = "BRIDGE")]
    pub bridge: String,
    /// Print a JSON object (the default prints key: value lines)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The network namespace: a PID or a namespace file (/run/netns/NAME, /proc/PID/ns/net)
    #[arg(value_name = "NETNS")]
    pub netns: String,
    /// The network to attach to
    #[arg(long, value_name = "BRIDGE")]
    pub bridge: Option<String>,
    /// Docker's none mode: bring up only lo, no other interface
    #[arg(long, conflicts_with_all = ["bridge", "ip", "mac", "publish", "etc", "name", "json"])]
    pub none: bool,
    /// The address to lease [default: the next free one]
    #[arg(long, value_name = "IP")]
    pub ip: Option<Ipv4Addr>,
    /// The interface name inside the namespace
    #[arg(long, value_name = "NAME", default_value = "eth0")]
    pub ifname: String,
    /// The interface's MAC address [default: random]
    #[arg(long, value_name = "MAC", value_parser = parse_mac)]
    pub mac: Option<[u8; 6]>,
    /// The container's name: its hostname and its entry in the other containers' hosts files
    #[arg(long, value_name = "CONTAINER", value_parser = common::parse::parse_container_name)]
    pub name: Option<String>,
    /// Publish a port: HOSTPORT:PORT[/tcp|udp] (repeatable)
    #[arg(long, short, value_name = "HOSTPORT:PORT", value_parser = parse_port)]
    pub publish: Vec<Port>,
    /// Write resolv.conf, hosts and hostname for the container into DIR
    #[arg(long, value_name = "DIR")]
    pub etc: Option<PathBuf>,
    /// Print the result as JSON in the shape of a CNI result
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DetachArgs {
    /// The network namespace: a PID or a namespace file
    #[arg(value_name = "NETNS", conflicts_with = "name")]
    pub netns: Option<String>,
    /// Detach the container attached with --name
    #[arg(long, value_name = "CONTAINER")]
    pub name: Option<String>,
    /// The network to detach from
    #[arg(long, value_name = "BRIDGE")]
    pub bridge: String,
}

#[derive(Debug, Args)]
pub struct LeasesArgs {
    #[arg(value_name = "BRIDGE")]
    pub bridge: String,
    /// Print a JSON array
    #[arg(long)]
    pub json: bool,
    /// Omit the header line
    #[arg(long)]
    pub no_headers: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only this network
    #[arg(long, value_name = "BRIDGE")]
    pub bridge: Option<String>,
    /// Print the released leases as a JSON array
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

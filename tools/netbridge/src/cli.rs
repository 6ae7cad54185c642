use std::net::Ipv4Addr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::ipnet::Ipv4Net;
use crate::ports::PortReqs;

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

fn parse_port(s: &str) -> Result<PortReqs, String> {
    crate::ports::parse(s)
}

/// An address range of a subnet: `A.B.C.D/N`, N from 8 to 32, no host bits.
fn parse_range(s: &str) -> Result<Ipv4Net, String> {
    let bad = || format!("invalid ip range '{s}' (expected an IPv4 CIDR such as 10.88.1.0/24)");
    let (a, p) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let prefix: u8 = match p.parse() {
        Ok(n) if (8..=32).contains(&n) && p.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => return Err(bad()),
    };
    let net = Ipv4Net::new(addr, prefix);
    if net.network() != addr {
        return Err(format!(
            "ip range '{s}' has host bits set (did you mean {net}?)"
        ));
    }
    Ok(net)
}

/// `KEY=VALUE` (a label or an option).
fn parse_kv(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        None if !s.is_empty() => Ok((s.to_string(), String::new())),
        _ => Err(format!("invalid '{s}' (expected KEY=VALUE)")),
    }
}

/// `NAME:ADDRESS` (Docker's --add-host; `NAME=ADDRESS` too).
fn parse_add_host(s: &str) -> Result<(String, String), String> {
    let bad = || format!("invalid host entry '{s}' (expected NAME:ADDRESS)");
    let (n, a) = s.split_once([':', '=']).ok_or_else(bad)?;
    let a = a.trim_start_matches('[').trim_end_matches(']');
    if n.is_empty() || n.bytes().any(|b| b.is_ascii_whitespace() || b == b'#') {
        return Err(bad());
    }
    if a != "host-gateway" {
        a.parse::<std::net::IpAddr>().map_err(|_| bad())?;
    }
    Ok((n.to_string(), a.to_string()))
}

/// A host name or alias: letters, digits, '-', '_' and '.' (what a hosts file can carry).
fn parse_hostname(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && !s.starts_with(['.', '-'])
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("invalid host name '{s}'"))
    }
}

/// A resolv.conf word (a server address, search domain or option): no whitespace.
fn parse_word(s: &str) -> Result<String, String> {
    if s.is_empty() || s.bytes().any(|b| b.is_ascii_whitespace() || b == b'#') {
        Err(format!("invalid value '{s}' (one word expected)"))
    } else {
        Ok(s.to_string())
    }
}

fn parse_dns(s: &str) -> Result<String, String> {
    s.parse::<std::net::IpAddr>()
        .map(|_| s.to_string())
        .map_err(|_| format!("invalid DNS server '{s}' (expected an IP address)"))
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
    /// The network's IPv4 subnet, e.g. 10.88.0.0/16 [default: the first free one of
    /// 172.17-31.0.0/16, 192.168.0-240.0/20, as Docker picks]
    #[arg(long, value_name = "CIDR", value_parser = parse_subnet)]
    pub subnet: Option<Ipv4Net>,
    /// Dual stack: the network's IPv6 subnet too, e.g. fd00:db8:1::/64 (NAT66 unless
    /// --no-nat)
    #[arg(long, value_name = "CIDR")]
    pub subnet6: Option<crate::ipv6::Ipv6Net>,
    /// The bridge's IPv6 address [default: the IPv6 subnet's first address]
    #[arg(long, value_name = "IP", requires = "subnet6")]
    pub gateway6: Option<std::net::Ipv6Addr>,
    /// Hand out addresses only from this range of the subnet
    #[arg(long, value_name = "CIDR", value_parser = parse_range)]
    pub ip_range: Option<Ipv4Net>,
    /// The bridge's name when not the network's (then the network's name may be longer)
    #[arg(long, value_name = "NAME")]
    pub bridge_name: Option<String>,
    /// A label on the network, KEY=VALUE (repeatable)
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub label: Vec<(String, String)>,
    /// A driver option to record, KEY=VALUE (repeatable; shown by inspect)
    #[arg(long = "option", value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub options: Vec<(String, String)>,
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
    #[arg(
        value_name = "NETNS",
        required_unless_present = "new_pin",
        conflicts_with = "new_pin"
    )]
    pub netns: Option<String>,
    /// Attach a new network namespace, pinned at DIR/net (as `nsenter-rs --new=net --pin
    /// DIR` pins one; DIR is made when missing, in a folder that exists); the pin goes again
    /// if the attach fails
    #[arg(long, value_name = "DIR", conflicts_with = "none")]
    pub new_pin: Option<PathBuf>,
    /// The network to attach to
    #[arg(long, value_name = "BRIDGE")]
    pub bridge: Option<String>,
    /// Docker's none mode: bring up only lo, no other interface
    #[arg(long, conflicts_with_all = ["bridge", "ip", "ip6", "mac", "publish", "etc", "name", "json", "alias"])]
    pub none: bool,
    /// The address to lease [default: the next free one]
    #[arg(long, value_name = "IP")]
    pub ip: Option<Ipv4Addr>,
    /// The IPv6 address to lease, on a dual-stack network [default: the next free one]
    #[arg(long, value_name = "IP")]
    pub ip6: Option<std::net::Ipv6Addr>,
    /// The interface name inside the namespace
    #[arg(long, value_name = "NAME", default_value = "eth0")]
    pub ifname: String,
    /// The interface's MAC address [default: random]
    #[arg(long, value_name = "MAC", value_parser = parse_mac)]
    pub mac: Option<[u8; 6]>,
    /// The container's name: its hostname and its entry in the other containers' hosts files
    #[arg(long, value_name = "CONTAINER", value_parser = common::parse::parse_container_name)]
    pub name: Option<String>,
    /// Publish a port, as Docker's -p: [IP:][HOSTPORT[-END]:]PORT[-END][/tcp|udp|sctp]
    /// (an IPv6 IP in brackets); without HOSTPORT a free host port is picked (repeatable)
    #[arg(long, short, value_name = "[IP:][HOST:]PORT", value_parser = parse_port)]
    pub publish: Vec<PortReqs>,
    /// Another name the network's containers know this one by (repeatable)
    #[arg(long, value_name = "NAME", value_parser = parse_hostname)]
    pub alias: Vec<String>,
    /// The container's own host name in its hosts and hostname files [default: --name]
    #[arg(long, value_name = "NAME", value_parser = parse_hostname)]
    pub hostname: Option<String>,
    /// A line of the container's hosts file, NAME:ADDRESS (repeatable; the address
    /// host-gateway is the network's gateway, the host)
    #[arg(long, value_name = "NAME:IP", value_parser = parse_add_host)]
    pub add_host: Vec<(String, String)>,
    /// A name server for the container's resolv.conf, in place of the host's (repeatable)
    #[arg(long, value_name = "IP", value_parser = parse_dns)]
    pub dns: Vec<String>,
    /// A search domain for the container's resolv.conf, in place of the host's (repeatable)
    #[arg(long, value_name = "DOMAIN", value_parser = parse_word)]
    pub dns_search: Vec<String>,
    /// A resolv.conf option (ndots:2, ...), in place of the host's (repeatable)
    #[arg(long, value_name = "OPT", value_parser = parse_word)]
    pub dns_option: Vec<String>,
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

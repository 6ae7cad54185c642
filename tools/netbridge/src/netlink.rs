//! A small typed rtnetlink socket: one request at a time, each reply checked against the
//! request's sequence number, `NLM_F_ACK` on every change so a failure is never silent.
//!
//! A socket belongs to the network namespace it was opened in; [`Netlink::open_in`] opens
//! one inside another namespace (the container's) and returns to ours right away.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoData, InfoKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// What the kernel knows about one link.
#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    pub up: bool,
    pub controller: Option<u32>,
    pub kind: Option<String>,
    pub mtu: Option<u32>,
}

impl Netlink {
    /// A socket in the current network namespace.
    pub fn open() -> io::Result<Netlink> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink {
            sock,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    /// A socket in the network namespace `ns` (an open nsfs file).
    pub fn open_in(ns: BorrowedFd<'_>) -> io::Result<Netlink> {
        crate::netns::with_netns(ns, Netlink::open)?
    }

    /// Send one request and collect its replies: the messages of a dump, or nothing for an
    /// acknowledged change. An error reply becomes an `io::Error` with the kernel's errno.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.sock.send(&out, 0)?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut replies = Vec::new();
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            let mut off = 0;
            while off < n {
                let reply =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..n])
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
                if reply.header.sequence_number != seq {
                    // a late answer to an earlier request: not ours to read
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            Some(_) => Err(e.to_io()),
                            None => Ok(replies), // the ACK
                        };
                    }
                    NetlinkPayload::InnerMessage(m) => {
                        replies.push(m);
                        if !dump && flags & NLM_F_ACK == 0 {
                            return Ok(replies);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn change(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        let replies = self.request(msg, flags | NLM_F_ACK)?;
        if !replies.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("netlink: {} unexpected replies to a change", replies.len()),
            ));
        }
        Ok(())
    }

    /// The link named `name`, or `None`.
    pub fn link(&mut self, name: &str) -> io::Result<Option<Link>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(mut r) => match r.pop() {
                Some(RouteNetlinkMessage::NewLink(m)) => Ok(Some(link_of(m))),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "netlink: expected one link in the reply",
                )),
            },
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every link in the namespace.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let replies = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(m) => Some(link_of(m)),
                _ => None,
            })
            .collect())
    }

    /// Create a bridge, up, with an optional MTU. Fails with EEXIST if the name is taken.
    pub fn create_bridge(&mut self, name: &str, mtu: Option<u32>) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        if let Some(m) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(m));
        }
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Create a veth pair in one request: `host` here, enslaved to `controller` and down
    /// (the caller brings it up: see [`crate::ops`]'s attach); `peer` created directly
    /// inside the namespace `peer_ns` (no move afterwards).
    pub fn create_veth(
        &mut self,
        host: &str,
        controller: u32,
        peer: &str,
        peer_ns: BorrowedFd<'_>,
        peer_mac: Option<[u8; 6]>,
        mtu: Option<u32>,
    ) -> io::Result<()> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        p.attributes
            .push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
        if let Some(mac) = peer_mac {
            p.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(m) = mtu {
            p.attributes.push(LinkAttribute::Mtu(m));
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(host.to_string()));
        if let Some(m) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(m));
        }
        msg.attributes.push(LinkAttribute::Controller(controller));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Bring a link up.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.change(RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// No IPv6 address generation on a link (`addrgenmode none`): no link-local address, so
    /// none of the multicast that comes with one (DAD probes, MLD reports, router
    /// solicitations). Set before the link goes up.
    pub fn set_no_ipv6_addr_gen(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes
            .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
            )]));
        self.change(RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// Delete a link (for a veth, both ends go).
    pub fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.change(RouteNetlinkMessage::DelLink(msg), 0)
    }

    /// Add `ip/prefix` to a link.
    pub fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.header.scope = AddressScope::Universe;
        msg.attributes.push(AddressAttribute::Local(ip.into()));
        msg.attributes.push(AddressAttribute::Address(ip.into()));
        if prefix < 31 {
            let mask = u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0);
            let bcast = Ipv4Addr::from(u32::from(ip) | !mask);
            msg.attributes.push(AddressAttribute::Broadcast(bcast));
        }
        self.change(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Add the IPv6 address `ip/prefix` to a link, usable at once (no duplicate address
    /// detection: netbridge hands out each address once).
    pub fn add_address6(&mut self, index: u32, ip: Ipv6Addr, prefix: u8) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet6;
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        msg.header.scope = AddressScope::Universe;
        msg.attributes.push(AddressAttribute::Address(ip.into()));
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        self.change(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Add the IPv6 default route via `gw` through `oif`.
    pub fn add_default_route6(&mut self, gw: Ipv6Addr, oif: u32) -> io::Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet6;
        msg.header.destination_prefix_length = 0;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet6(gw)));
        msg.attributes.push(RouteAttribute::Oif(oif));
        self.change(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Add a route `dst/prefix` via `gw` (or on-link through `oif` when `gw` is `None`).
    pub fn add_route(
        &mut self,
        dst: Ipv4Addr,
        prefix: u8,
        gw: Option<Ipv4Addr>,
        oif: Option<u32>,
    ) -> io::Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = prefix;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = if gw.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        msg.header.kind = RouteType::Unicast;
        if prefix > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
        }
        if let Some(g) = gw {
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(g)));
        }
        if let Some(i) = oif {
            msg.attributes.push(RouteAttribute::Oif(i));
        }
        self.change(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// The destinations (`addr`, `prefix`) of every IPv4 route in the main table.
    pub fn routes_v4(&mut self) -> io::Result<Vec<(Ipv4Addr, u8)>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        let replies = self.request(RouteNetlinkMessage::GetRoute(msg), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for m in replies {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            if r.header.table != RouteHeader::RT_TABLE_MAIN || r.header.kind != RouteType::Unicast {
                continue;
            }
            let dst = r
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(*ip),
                    _ => None,
                })
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            out.push((dst, r.header.destination_prefix_length));
        }
        Ok(out)
    }

    /// The IPv4 addresses (`addr`, `prefix`) on every link.
    pub fn addresses_v4(&mut self) -> io::Result<Vec<(Ipv4Addr, u8)>> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        let replies = self.request(RouteNetlinkMessage::GetAddress(msg), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for m in replies {
            let RouteNetlinkMessage::NewAddress(a) = m else {
                continue;
            };
            for attr in &a.attributes {
                if let AddressAttribute::Local(std::net::IpAddr::V4(ip)) = attr {
                    out.push((*ip, a.header.prefix_len));
                }
            }
        }
        Ok(out)
    }
}

impl AsFd for Netlink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

fn link_of(m: LinkMessage) -> Link {
    let mut l = Link {
        index: m.header.index,
        name: String::new(),
        mac: None,
        up: m.header.flags.contains(LinkFlags::Up),
        controller: None,
        kind: None,
        mtu: None,
    };
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n,
            LinkAttribute::Address(a) if a.len() == 6 => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&a);
                l.mac = Some(mac);
            }
            LinkAttribute::Controller(c) => l.controller = Some(c),
            LinkAttribute::Mtu(m) => l.mtu = Some(m),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        l.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    l
}

/// `aa:bb:cc:dd:ee:ff`
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parse `aa:bb:cc:dd:ee:ff`: a unicast address (the low bit of the first octet clear).
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!(
            "invalid MAC address '{s}' (expected aa:bb:cc:dd:ee:ff)"
        ));
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(format!(
                "invalid MAC address '{s}' (expected aa:bb:cc:dd:ee:ff)"
            ));
        }
        mac[i] = u8::from_str_radix(p, 16)
            .map_err(|_| format!("invalid MAC address '{s}' (expected aa:bb:cc:dd:ee:ff)"))?;
    }
    if mac[0] & 1 == 1 {
        return Err(format!("MAC address '{s}' is a multicast address"));
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trip() {
        let m = parse_mac("02:42:ac:11:00:02").unwrap();
        assert_eq!(format_mac(&m), "02:42:ac:11:00:02");
        assert!(parse_mac("01:00:5e:00:00:01").is_err());
        assert!(parse_mac("02:42:ac:11:00").is_err());
        assert!(parse_mac("zz:42:ac:11:00:02").is_err());
    }
}

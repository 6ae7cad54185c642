//! Published ports as asked for on the command line, in every form of Docker's `-p`:
//! `[IP:][HOST[-HOST]:]PORT[-PORT][/tcp|udp|sctp]`, with `IP::PORT` and `PORT` alone for a
//! free host port chosen here. A request becomes a [`Port`] when the attach picks its host
//! port ([`resolve`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use crate::error::Error;
use crate::store::{Port, Proto};

/// One container port to publish; the host port is `lo` when `lo == hi`, else a free one
/// of `lo..=hi` (0..=0: a free one of the kernel's ephemeral range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortReq {
    pub host_ip: Option<IpAddr>,
    pub lo: u16,
    pub hi: u16,
    pub container_port: u16,
    pub protocol: Proto,
}

impl From<Port> for PortReq {
    fn from(p: Port) -> PortReq {
        PortReq {
            host_ip: p.host_ip,
            lo: p.host_port,
            hi: p.host_port,
            container_port: p.container_port,
            protocol: p.protocol,
        }
    }
}

/// A list of requests from one `--publish` value (a range gives several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortReqs(pub Vec<PortReq>);

fn range(s: &str) -> Option<(u16, u16)> {
    let num = |x: &str| match x.parse::<u16>() {
        Ok(0) | Err(_) => None,
        Ok(n) if x.bytes().all(|b| b.is_ascii_digit()) => Some(n),
        Ok(_) => None,
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            (a <= b).then_some((a, b))
        }
        None => num(s).map(|n| (n, n)),
    }
}

/// Parse one `--publish` value.
pub fn parse(s: &str) -> Result<PortReqs, String> {
    let bad = |why: &str| {
        format!(
            "invalid port mapping '{s}': {why} (expected [IP:][HOSTPORT[-END]:]PORT[-END][/tcp|udp|sctp])"
        )
    };
    let (spec, protocol) = match s.rsplit_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some((p, "sctp")) => (p, Proto::Sctp),
        Some((_, o)) => return Err(bad(&format!("unknown protocol '{o}'"))),
        None => (s, Proto::Tcp),
    };
    // an IPv6 host address in brackets: [ADDR]:HOST:PORT
    let (ip, rest) = match spec.strip_prefix('[') {
        Some(r) => {
            let (a, rest) = r
                .split_once("]:")
                .ok_or_else(|| bad("an IPv6 address is written [ADDR]:HOSTPORT:PORT"))?;
            let a: std::net::Ipv6Addr = a
                .parse()
                .map_err(|_| bad(&format!("'{a}' is not an IPv6 address")))?;
            if a.is_loopback() {
                return Err(bad("IPv6 loopback cannot be forwarded to a container"));
            }
            (Some(IpAddr::V6(a)), rest)
        }
        None => (None, spec),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip4, host, cont) = match (ip, &parts[..]) {
        (None, [c]) => (None, "", *c),
        (None, [h, c]) => (None, *h, *c),
        (None, [ip, h, c]) => (Some(*ip), *h, *c),
        (Some(_), [h, c]) => (None, *h, *c),
        _ => return Err(bad("too many ':'")),
    };
    let host_ip = match ip4 {
        None => ip,
        Some("0.0.0.0") => None,
        Some(a) => {
            Some(IpAddr::V4(a.parse::<Ipv4Addr>().map_err(|_| {
                bad(&format!("'{a}' is not an IPv4 address"))
            })?))
        }
    };
    let (c_lo, c_hi) = range(cont).ok_or_else(|| bad(&format!("bad container port '{cont}'")))?;
    let (h_lo, h_hi) = if host.is_empty() {
        (0, 0)
    } else {
        range(host).ok_or_else(|| bad(&format!("bad host port '{host}'")))?
    };
    let n = c_hi - c_lo;
    let mut out = Vec::new();
    if n == 0 {
        out.push(PortReq {
            host_ip,
            lo: h_lo,
            hi: h_hi,
            container_port: c_lo,
            protocol,
        });
    } else {
        if h_lo != 0 && h_hi - h_lo != n {
            return Err(bad("the host and container ranges differ in length"));
        }
        for i in 0..=n {
            let h = if h_lo == 0 { 0 } else { h_lo + i };
            out.push(PortReq {
                host_ip,
                lo: h,
                hi: h,
                container_port: c_lo + i,
                protocol,
            });
        }
    }
    Ok(PortReqs(out))
}

/// Two published ports collide: same protocol and port, and an address in common.
pub fn collide(a: &Port, b: &Port) -> bool {
    a.protocol == b.protocol
        && a.host_port == b.host_port
        && (a.host_ip.is_none() || b.host_ip.is_none() || a.host_ip == b.host_ip)
}

/// The kernel's ephemeral port range (where Docker picks a free host port too).
fn ephemeral() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// Nothing on this host listens on the port now (a bind succeeds; not tried for sctp).
fn bindable(ip: Option<IpAddr>, port: u16, proto: Proto) -> bool {
    let a = SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port);
    match proto {
        Proto::Tcp => TcpListener::bind(a).is_ok(),
        Proto::Udp => UdpSocket::bind(a).is_ok(),
        Proto::Sctp => true,
    }
}

/// Give every request its host port: the one asked for, else a free one of its range
/// (published by no lease, as `used` says, by none picked before, and bindable here).
pub fn resolve(
    used: &dyn Fn(&Port) -> Result<bool, Error>,
    reqs: &[PortReq],
) -> Result<Vec<Port>, Error> {
    let mut out: Vec<Port> = Vec::with_capacity(reqs.len());
    let taken = |p: &Port, out: &[Port]| -> Result<bool, Error> {
        Ok(out.iter().any(|q| collide(p, q)) || used(p)?)
    };
    for r in reqs {
        let mut p = Port {
            host_ip: r.host_ip,
            host_port: r.lo,
            container_port: r.container_port,
            protocol: r.protocol,
        };
        if r.lo == 0 || r.lo != r.hi {
            let (lo, hi) = if r.lo == 0 { ephemeral() } else { (r.lo, r.hi) };
            let span = u32::from(hi - lo) + 1;
            // start at a random place so that two launchers rarely try the same port
            let mut b = [0u8; 4];
            let _ = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty());
            let start = u32::from_ne_bytes(b) % span;
            let mut found = None;
            for port in (0..span).map(|i| lo + ((start + i) % span) as u16) {
                p.host_port = port;
                if !taken(&p, &out)? && bindable(r.host_ip, port, r.protocol) {
                    found = Some(port);
                    break;
                }
            }
            match found {
                Some(port) => p.host_port = port,
                None => {
                    return Err(Error::Failed(format!(
                        "no free host port in {lo}-{hi}/{} for container port {}",
                        r.protocol.as_str(),
                        r.container_port
                    )));
                }
            }
        }
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> PortReq {
        let v = parse(s).unwrap().0;
        assert_eq!(v.len(), 1, "{s}");
        v[0]
    }

    #[test]
    fn every_docker_form() {
        let r = one("8080:80");
        assert_eq!(
            (r.host_ip, r.lo, r.hi, r.container_port),
            (None, 8080, 8080, 80)
        );
        let r = one("127.0.0.1:8080:80/udp");
        assert_eq!(r.host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(r.protocol, Proto::Udp);
        let r = one("[fd00::1]:8080:80");
        assert_eq!(
            (r.host_ip.unwrap().to_string(), r.lo),
            ("fd00::1".into(), 8080)
        );
        assert_eq!(one("[::]::80").lo, 0);
        let r = one("127.0.0.1::80");
        assert_eq!((r.lo, r.hi), (0, 0));
        let r = one("80/sctp");
        assert_eq!((r.lo, r.protocol), (0, Proto::Sctp));
        let r = one("8000-8010:80");
        assert_eq!((r.lo, r.hi), (8000, 8010));
        let v = parse("8000-8002:80-82").unwrap().0;
        assert_eq!(
            v.iter()
                .map(|r| (r.lo, r.container_port))
                .collect::<Vec<_>>(),
            [(8000, 80), (8001, 81), (8002, 82)]
        );
        assert_eq!(parse("80-81").unwrap().0.len(), 2);
    }

    #[test]
    fn bad_forms() {
        for bad in [
            "",
            "0:80",
            "x:80",
            "70000:80",
            "80/icmp",
            "1.2.3:80:80",
            "8000-8001:80-82",
            "90-80",
            "[::1]:80:80",
            "a:b:c:d",
            "80:",
            "[fd00::1]:1:2:3",
            "[zz]:80:80",
            "fd00::1:80:80",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_collide_only_when_shared() {
        let p = |ip: Option<&str>| Port {
            host_ip: ip.map(|x| x.parse().unwrap()),
            host_port: 80,
            container_port: 80,
            protocol: Proto::Tcp,
        };
        assert!(collide(&p(None), &p(Some("127.0.0.1"))));
        assert!(collide(&p(Some("127.0.0.1")), &p(Some("127.0.0.1"))));
        assert!(!collide(&p(Some("127.0.0.1")), &p(Some("127.0.0.2"))));
    }
}

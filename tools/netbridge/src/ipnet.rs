//! IPv4 subnets: parsing CIDR text, membership, overlap.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Ipv4Net {
        let prefix = prefix.min(32);
        Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        }
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn network(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !mask(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.addr) & mask(p) == u32::from(other.addr) & mask(p)
    }

    /// The first address after the network address (the usual gateway).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }

    /// Every usable host address, in order (not the network nor the broadcast address).
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let lo = u32::from(self.addr) + 1;
        let hi = u32::from(self.broadcast());
        (lo..hi).map(Ipv4Addr::from)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix as u32)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl From<Ipv4Net> for String {
    fn from(n: Ipv4Net) -> String {
        n.to_string()
    }
}

impl TryFrom<String> for Ipv4Net {
    type Error = String;
    fn try_from(s: String) -> Result<Ipv4Net, String> {
        s.parse()
    }
}

impl FromStr for Ipv4Net {
    type Err = String;

    /// `A.B.C.D/N`, N from 8 to 30 (a bridge network needs room for a gateway and a
    /// container); host bits must be zero.
    fn from_str(s: &str) -> Result<Ipv4Net, String> {
        let bad = || format!("invalid subnet '{s}' (expected an IPv4 CIDR such as 10.88.0.0/16)");
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 2 {
            return Err(bad());
        }
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(format!(
                "subnet '{s}': prefix length must be between 8 and 30"
            ));
        }
        let net = Ipv4Net::new(addr, prefix);
        if net.addr != addr {
            return Err(format!(
                "subnet '{s}' has host bits set (did you mean {net}?)"
            ));
        }
        Ok(net)
    }
}

/// Parse an `A.B.C.D/N` interface address (host bits allowed), as CNI results carry them.
pub fn parse_if_addr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, p) = s.split_once('/')?;
    let ip: Ipv4Addr = a.parse().ok()?;
    let prefix: u8 = p.parse().ok()?;
    (prefix <= 32).then_some((ip, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_good_and_bad() {
        let n: Ipv4Net = "10.88.0.0/16".parse().unwrap();
        assert_eq!(n.to_string(), "10.88.0.0/16");
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 88, 255, 255));
        assert_eq!(n.first_host(), Ipv4Addr::new(10, 88, 0, 1));
        for bad in [
            "10.88.0.0",
            "10.88.0.0/",
            "10.88.0.0/33",
            "10.88.0/16",
            "x/16",
            "10.88.0.1/16",
            "10.0.0.0/31",
            "10.0.0.0/+8",
        ] {
            assert!(bad.parse::<Ipv4Net>().is_err(), "{bad}");
        }
    }

    #[test]
    fn membership_and_overlap() {
        let a: Ipv4Net = "10.88.0.0/16".parse().unwrap();
        let b: Ipv4Net = "10.88.5.0/24".parse().unwrap();
        let c: Ipv4Net = "10.89.0.0/16".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(a.contains(Ipv4Addr::new(10, 88, 1, 2)));
        assert!(!a.contains(Ipv4Addr::new(10, 89, 1, 2)));
        let small: Ipv4Net = "10.0.0.0/30".parse().unwrap();
        let hosts: Vec<_> = small.hosts().collect();
        assert_eq!(
            hosts,
            vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
        );
    }
}

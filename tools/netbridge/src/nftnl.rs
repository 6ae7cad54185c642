//! nftables over netlink, for the one change on the hot path: a published port's DNAT rule
//! added to (or deleted by handle from) chain `published` of table `ip ctrkit`, in one
//! batch (one transaction), with the new rules' handles read back from the kernel's echo;
//! and the comments of a chain's rules, which tell whether the table is ready for it.
//! No `nft` process: everything else (the table, the chains, a rebuild) stays with
//! `nft -j` in [`crate::firewall`].
//!
//! The rule is the bytecode nft makes of `tcp dport HOSTPORT dnat to IP:PORT` (with its
//! implicit `meta l4proto tcp`), so `nft list` shows it as nft would have written it, and
//! its comment (userdata) is nft's too, which is how a rebuild tells whose rule it is.

use std::io;
use std::net::Ipv4Addr;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_ECHO: u16 = 0x8;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
const NLMSG_ERROR: u16 = 0x2;
const NLMSG_DONE: u16 = 0x3;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NLM_F_DUMP: u16 = 0x300;
const NFT_MSG_DELRULE: u16 = 8;
const NFPROTO_IPV4: u8 = 2;
const NLA_F_NESTED: u16 = 0x8000;

// rule attributes
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
/// nft's userdata type of a rule's comment.
const NFTNL_UDATA_RULE_COMMENT: u8 = 0;
const NFT_REG_1: u32 = 1;
const NFT_REG_2: u32 = 2;

/// A netlink message under construction: header, nfgenmsg, attributes.
struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    fn new(kind: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> Msg {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in done()
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        buf.push(family);
        buf.push(0); // NFNETLINK_V0
        buf.extend_from_slice(&res_id.to_be_bytes());
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Msg {
        self.buf
            .extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    fn str(&mut self, kind: u16, s: &str) -> &mut Msg {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v)
    }

    fn u32(&mut self, kind: u16, v: u32) -> &mut Msg {
        self.attr(kind, &v.to_be_bytes())
    }

    fn begin(&mut self, kind: u16) -> &mut Msg {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        self
    }

    fn end(&mut self) -> &mut Msg {
        let at = self.nests.pop().expect("nests balance");
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// `NFTA_DATA_VALUE` nested in `kind`.
    fn data(&mut self, kind: u16, value: &[u8]) -> &mut Msg {
        self.begin(kind).attr(NFTA_DATA_VALUE, value).end()
    }

    /// One expression of the rule's list: its name and its data.
    fn expr(&mut self, name: &str, data: impl FnOnce(&mut Msg)) -> &mut Msg {
        self.begin(NFTA_LIST_ELEM).str(NFTA_EXPR_NAME, name);
        self.begin(NFTA_EXPR_DATA);
        data(self);
        self.end().end()
    }

    fn done(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

fn nft_type(msg: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | msg
}

/// A DNAT rule of a published port: `[ip daddr DADDR] PROTO dport HOST_PORT dnat to
/// ADDR:PORT`, IPPROTO `l4proto` (6 tcp, 17 udp, 132 sctp), with `comment`.
#[derive(Clone)]
pub struct DnatRule {
    pub l4proto: u8,
    /// `ip daddr` to match (a port published on one host address), or any
    pub daddr: Option<Ipv4Addr>,
    pub host_port: u16,
    pub addr: Ipv4Addr,
    pub port: u16,
    pub comment: String,
}

fn new_rule(table: &str, chain: &str, r: &DnatRule, seq: u32) -> Vec<u8> {
    let mut m = Msg::new(
        nft_type(NFT_MSG_NEWRULE),
        NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK | NLM_F_ECHO,
        seq,
        NFPROTO_IPV4,
        0,
    );
    m.str(NFTA_RULE_TABLE, table).str(NFTA_RULE_CHAIN, chain);
    m.begin(NFTA_RULE_EXPRESSIONS);
    // payload load 4b @ network header + 16 => reg 1; cmp eq reg 1 DADDR
    if let Some(a) = r.daddr {
        m.expr("payload", |m| {
            m.u32(1, NFT_REG_1).u32(2, 1).u32(3, 16).u32(4, 4); // DREG, BASE = network, OFFSET, LEN
        });
        m.expr("cmp", |m| {
            m.u32(1, NFT_REG_1).u32(2, 0).data(3, &a.octets());
        });
    }
    // meta load l4proto => reg 1; cmp eq reg 1 PROTO
    m.expr("meta", |m| {
        m.u32(1, NFT_REG_1).u32(2, 16); // NFTA_META_DREG, NFTA_META_KEY = NFT_META_L4PROTO
    });
    m.expr("cmp", |m| {
        m.u32(1, NFT_REG_1).u32(2, 0).data(3, &[r.l4proto]); // SREG, OP = EQ, DATA
    });
    // payload load 2b @ transport header + 2 => reg 1; cmp eq reg 1 HOST_PORT
    m.expr("payload", |m| {
        m.u32(1, NFT_REG_1).u32(2, 2).u32(3, 2).u32(4, 2); // DREG, BASE = transport, OFFSET, LEN
    });
    m.expr("cmp", |m| {
        m.u32(1, NFT_REG_1)
            .u32(2, 0)
            .data(3, &r.host_port.to_be_bytes());
    });
    // immediate reg 1 ADDR; immediate reg 2 PORT; nat dnat ip addr_min reg 1 proto_min reg 2
    m.expr("immediate", |m| {
        m.u32(1, NFT_REG_1).data(2, &r.addr.octets());
    });
    m.expr("immediate", |m| {
        m.u32(1, NFT_REG_2).data(2, &r.port.to_be_bytes());
    });
    m.expr("nat", |m| {
        // TYPE = DNAT, FAMILY = ipv4, REG_ADDR_MIN, REG_PROTO_MIN
        m.u32(1, 1)
            .u32(2, u32::from(NFPROTO_IPV4))
            .u32(3, NFT_REG_1)
            .u32(5, NFT_REG_2);
    });
    m.end();
    let c = r.comment.as_bytes();
    let mut ud = vec![NFTNL_UDATA_RULE_COMMENT, (c.len() + 1) as u8];
    ud.extend_from_slice(c);
    ud.push(0);
    m.attr(NFTA_RULE_USERDATA, &ud);
    m.done()
}

fn del_rule(table: &str, chain: &str, handle: u64, seq: u32) -> Vec<u8> {
    let mut m = Msg::new(nft_type(NFT_MSG_DELRULE), NLM_F_ACK, seq, NFPROTO_IPV4, 0);
    m.str(NFTA_RULE_TABLE, table)
        .str(NFTA_RULE_CHAIN, chain)
        .attr(NFTA_RULE_HANDLE, &handle.to_be_bytes());
    m.done()
}

/// Netfilter sockets left open until the process exits. Closing the socket of a
/// transaction that deleted rules waits for the kernel to free them, after an RCU grace
/// period (8 ms and more here; nf_tables flushes its destroy work when a netfilter socket
/// is released): left open, the grace period runs alongside the rest of the caller's work
/// (a detach removes the veth next) instead of after it.
static LINGER: std::sync::Mutex<Vec<Socket>> = std::sync::Mutex::new(Vec::new());

/// In one transaction: delete the rules `delete` (handles) of `table`'s `chain` and append
/// `add`. Returns the handles of the added rules, in order.
pub fn change(table: &str, chain: &str, delete: &[u64], add: &[DnatRule]) -> io::Result<Vec<u64>> {
    for r in add {
        if r.comment.len() > 127 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "rule comment too long",
            ));
        }
    }
    let sock = open()?;
    let base = std::process::id().wrapping_mul(65536);
    let mut seq = base;
    let mut out = Msg::new(NFNL_MSG_BATCH_BEGIN, 0, seq, 0, NFNL_SUBSYS_NFTABLES).done();
    let mut acks = Vec::new();
    let mut adds = Vec::new();
    for h in delete {
        seq += 1;
        out.extend(del_rule(table, chain, *h, seq));
        acks.push(seq);
    }
    for r in add {
        seq += 1;
        out.extend(new_rule(table, chain, r, seq));
        acks.push(seq);
        adds.push(seq);
    }
    seq += 1;
    out.extend(Msg::new(NFNL_MSG_BATCH_END, 0, seq, 0, NFNL_SUBSYS_NFTABLES).done());
    sock.send(&out, 0)?;

    let mut handles: Vec<Option<u64>> = vec![None; adds.len()];
    let mut pending = acks.len();
    let mut failure: Option<io::Error> = None;
    let mut buf = vec![0u8; 64 * 1024];
    while pending > 0 {
        let n = sock.recv(&mut &mut buf[..], 0)?;
        for (kind, mseq, body) in messages(&buf[..n]) {
            if !acks.contains(&mseq) {
                continue;
            }
            match kind {
                NLMSG_ERROR => {
                    pending -= 1;
                    let code = error_code(body);
                    if code != 0 && failure.is_none() {
                        failure = Some(io::Error::from_raw_os_error(code));
                    }
                }
                k if k == nft_type(NFT_MSG_NEWRULE) => {
                    if let Some(i) = adds.iter().position(|s| *s == mseq) {
                        handles[i] = rule_handle(body.get(4..).unwrap_or_default());
                    }
                }
                _ => {}
            }
        }
    }
    if !delete.is_empty() {
        if let Ok(mut v) = LINGER.lock() {
            v.push(sock);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    handles
        .into_iter()
        .map(|h| h.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no handle echoed")))
        .collect()
}

/// The comments of the rules of `table`'s `chain` (one dump); none when there is no such
/// table or chain. A rule without a comment is left out.
pub fn comments(table: &str, chain: &str) -> io::Result<Vec<String>> {
    let sock = open()?;
    let seq = std::process::id().wrapping_mul(65536);
    let mut m = Msg::new(nft_type(NFT_MSG_GETRULE), NLM_F_DUMP, seq, NFPROTO_IPV4, 0);
    m.str(NFTA_RULE_TABLE, table).str(NFTA_RULE_CHAIN, chain);
    sock.send(&m.done(), 0)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = sock.recv(&mut &mut buf[..], 0)?;
        for (kind, mseq, body) in messages(&buf[..n]) {
            if mseq != seq {
                continue;
            }
            match kind {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    return match error_code(body) {
                        0 | libc::ENOENT => Ok(out),
                        e => Err(io::Error::from_raw_os_error(e)),
                    };
                }
                k if k == nft_type(NFT_MSG_NEWRULE) => {
                    let ud = attr(body.get(4..).unwrap_or_default(), NFTA_RULE_USERDATA);
                    if let Some(c) = ud.and_then(comment) {
                        out.push(c);
                    }
                }
                _ => {}
            }
        }
    }
}

/// A netfilter netlink socket, connected to the kernel.
fn open() -> io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_NETFILTER)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    Ok(sock)
}

/// The netlink messages of one datagram: type, sequence number and what follows the header.
fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, u32, &[u8])> {
    let mut off = 0;
    std::iter::from_fn(move || {
        let h = buf.get(off..).filter(|h| h.len() >= 16)?;
        let len = u32::from_ne_bytes(h[0..4].try_into().unwrap()) as usize;
        if len < 16 || len > h.len() {
            return None;
        }
        off += (len + 3) & !3;
        let kind = u16::from_ne_bytes(h[4..6].try_into().unwrap());
        let seq = u32::from_ne_bytes(h[8..12].try_into().unwrap());
        Some((kind, seq, &h[16..len]))
    })
}

/// The errno of an NLMSG_ERROR message's body (0: an acknowledgement).
fn error_code(body: &[u8]) -> i32 {
    body.get(0..4)
        .map(|b| -i32::from_ne_bytes(b.try_into().unwrap()))
        .unwrap_or(libc::EPROTO)
}

/// The comment in a rule's userdata (nft's TLVs: type, length, value).
fn comment(mut ud: &[u8]) -> Option<String> {
    while ud.len() >= 2 {
        let (kind, len) = (ud[0], ud[1] as usize);
        let value = ud.get(2..2 + len)?;
        if kind == NFTNL_UDATA_RULE_COMMENT {
            let value = value.strip_suffix(&[0]).unwrap_or(value);
            return Some(String::from_utf8_lossy(value).into_owned());
        }
        ud = &ud[2 + len..];
    }
    None
}

/// The value of attribute `want` among a message's attributes.
fn attr(mut attrs: &[u8], want: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & !NLA_F_NESTED;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == want {
            return Some(&attrs[4..len]);
        }
        attrs = &attrs[((len + 3) & !3).min(attrs.len())..];
    }
    None
}

/// NFTA_RULE_HANDLE among a rule message's attributes.
fn rule_handle(attrs: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(
        attr(attrs, NFTA_RULE_HANDLE)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nests_sized() {
        let mut m = Msg::new(nft_type(NFT_MSG_NEWRULE), 0, 7, NFPROTO_IPV4, 0);
        m.begin(NFTA_RULE_EXPRESSIONS)
            .str(NFTA_EXPR_NAME, "cmp")
            .end();
        let b = m.done();
        assert_eq!(b.len() % 4, 0);
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        // the nest: 4 bytes of header + "cmp\0" attribute (8)
        assert_eq!(u16::from_ne_bytes([b[20], b[21]]), 12);
        assert_eq!(
            u16::from_ne_bytes([b[22], b[23]]),
            NFTA_RULE_EXPRESSIONS | NLA_F_NESTED
        );
    }

    #[test]
    fn the_handle_is_found_among_the_attributes() {
        let mut m = Msg::new(0, 0, 0, 0, 0);
        m.str(NFTA_RULE_TABLE, "ctrkit")
            .attr(NFTA_RULE_HANDLE, &42u64.to_be_bytes());
        let b = m.done();
        assert_eq!(rule_handle(&b[20..]), Some(42));
        assert_eq!(rule_handle(&b[20..28]), None);
    }

    #[test]
    fn a_datagram_is_split_into_its_messages_and_errors_read() {
        let mut buf = Msg::new(NLMSG_ERROR, 0, 7, 0, 0).done();
        buf.splice(16..16, (-libc::ENOENT).to_ne_bytes());
        let len = buf.len() as u32;
        buf[0..4].copy_from_slice(&len.to_ne_bytes());
        let mut m = Msg::new(NLMSG_DONE, 0, 8, 0, 0);
        m.str(NFTA_RULE_TABLE, "t");
        buf.extend(m.done());
        let got: Vec<_> = messages(&buf).collect();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[0].1), (NLMSG_ERROR, 7));
        assert_eq!(error_code(got[0].2), libc::ENOENT);
        assert_eq!((got[1].0, got[1].1), (NLMSG_DONE, 8));
        // a message that claims more than the datagram holds ends the walk
        assert_eq!(messages(&buf[..buf.len() - 4]).count(), 1);
        assert_eq!(error_code(&[]), libc::EPROTO);
    }

    #[test]
    fn the_comment_is_read_from_the_userdata() {
        assert_eq!(comment(b"\x00\x04abc\x00").as_deref(), Some("abc"));
        // another TLV first, then the comment
        assert_eq!(comment(b"\x05\x01x\x00\x03ab\x00").as_deref(), Some("ab"));
        assert_eq!(comment(b"\x00\x09abc"), None);
        assert_eq!(comment(b""), None);
    }
}

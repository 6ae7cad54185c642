//! Device access control: which device nodes the processes of a cgroup may create (mknod),
//! read and write. A list of allow rules in Docker's `--device-cgroup-rule` syntax
//! (`c 10:237 rwm`, `b 8:* r`, `a`), everything else denied; on cgroup v1 through
//! `devices.deny`/`devices.allow`, on cgroup v2 through a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program generated from the rules and attached to the cgroup (replacing our earlier one
//! atomically). `cgset get` reads the rules back: v1 from `devices.list`, v2 by decoding the
//! program the kernel holds.

use std::fmt;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use common::cgroup::Version;

use crate::cg::{Cg, read_file, write_file};
use crate::error::{Error, Result};

/// `--devices`: the base list the rules are added to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// runc's and Docker's default for containers: mknod of any char or block device;
    /// read/write of null, zero, full, random, urandom, tty, console, ptmx, pts/*, net/tun
    Container,
    /// every device (Docker's --privileged)
    All,
    /// no device at all
    None,
}

/// Block, char, or all devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    All,
    Block,
    Char,
}

/// One allow rule: `TYPE MAJOR:MINOR ACCESS`, `*` for any number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// bits: 1 mknod, 2 read, 4 write (the kernel's BPF_DEVCG_ACC_*)
    pub access: u8,
}

const MKNOD: u8 = 1;
const READ: u8 = 2;
const WRITE: u8 = 4;
const RWM: u8 = MKNOD | READ | WRITE;

impl Rule {
    const fn c(major: u32, minor: Option<u32>, access: u8) -> Rule {
        Rule {
            kind: Kind::Char,
            major: Some(major),
            minor,
            access,
        }
    }

    const ALL: Rule = Rule {
        kind: Kind::All,
        major: None,
        minor: None,
        access: RWM,
    };

    /// Docker's syntax: `a`, or `TYPE MAJOR:MINOR [ACCESS]` with TYPE a|b|c, numbers or
    /// `*`, ACCESS a non-empty subset of rwm (default rwm).
    pub fn parse(s: &str) -> std::result::Result<Rule, String> {
        let bad = |why: &str| {
            format!("device rule '{s}': {why} (want e.g. 'c 10:237 rwm', 'b 8:* r' or 'a')")
        };
        let words: Vec<&str> = s.split_whitespace().collect();
        let kind = match words.first().copied() {
            Some("a") => Kind::All,
            Some("b") => Kind::Block,
            Some("c") => Kind::Char,
            _ => return Err(bad("the type is not a, b or c")),
        };
        if kind == Kind::All && words.len() == 1 {
            return Ok(Rule::ALL);
        }
        let (major, minor) = match words.get(1).and_then(|n| n.split_once(':')) {
            Some((ma, mi)) => (
                number(ma).map_err(|e| bad(&e))?,
                number(mi).map_err(|e| bad(&e))?,
            ),
            None => return Err(bad("no MAJOR:MINOR")),
        };
        let access = match words.get(2) {
            None => RWM,
            Some(a) => {
                let mut bits = 0u8;
                for ch in a.chars() {
                    let b = match ch {
                        'r' => READ,
                        'w' => WRITE,
                        'm' => MKNOD,
                        _ => return Err(bad(&format!("'{ch}' is not r, w or m"))),
                    };
                    if bits & b != 0 {
                        return Err(bad(&format!("'{ch}' is given twice")));
                    }
                    bits |= b;
                }
                if bits == 0 {
                    return Err(bad("no access"));
                }
                bits
            }
        };
        if words.len() > 3 {
            return Err(bad("too many words"));
        }
        if kind == Kind::All && (major.is_some() || minor.is_some()) {
            return Err(bad("type a takes no numbers: write 'a' or 'a *:* rwm'"));
        }
        Ok(Rule {
            kind,
            major,
            minor,
            access,
        })
    }
}

fn number(s: &str) -> std::result::Result<Option<u32>, String> {
    if s == "*" {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(n) if n < (1 << 31) => Ok(Some(n)),
        _ => Err(format!("'{s}' is not a device number or *")),
    }
}

impl fmt::Display for Rule {
    /// The form `devices.list` shows: `c 1:3 rwm`, `a *:* rwm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match self.kind {
            Kind::All => 'a',
            Kind::Block => 'b',
            Kind::Char => 'c',
        };
        let n = |x: Option<u32>| x.map_or("*".to_string(), |n| n.to_string());
        let mut acc = String::new();
        for (bit, ch) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
            if self.access & bit != 0 {
                acc.push(ch);
            }
        }
        write!(f, "{t} {}:{} {acc}", n(self.major), n(self.minor))
    }
}

/// runc's default allow list (libcontainer/specconv AllowedDevices), which Docker uses.
pub const CONTAINER: [Rule; 12] = [
    // mknod of any device; opening one needs a rule below
    Rule {
        kind: Kind::Char,
        major: None,
        minor: None,
        access: MKNOD,
    },
    Rule {
        kind: Kind::Block,
        major: None,
        minor: None,
        access: MKNOD,
    },
    Rule::c(1, Some(3), RWM),    // null
    Rule::c(1, Some(8), RWM),    // random
    Rule::c(1, Some(7), RWM),    // full
    Rule::c(5, Some(0), RWM),    // tty
    Rule::c(1, Some(5), RWM),    // zero
    Rule::c(1, Some(9), RWM),    // urandom
    Rule::c(5, Some(1), RWM),    // console
    Rule::c(136, None, RWM),     // pts/*
    Rule::c(5, Some(2), RWM),    // ptmx
    Rule::c(10, Some(200), RWM), // net/tun
];

/// The rules a policy plus extra rules stand for.
pub fn rules(policy: Policy, extra: &[Rule]) -> Vec<Rule> {
    let mut v: Vec<Rule> = match policy {
        Policy::Container => CONTAINER.to_vec(),
        Policy::All => vec![Rule::ALL],
        Policy::None => Vec::new(),
    };
    for r in extra {
        if !v.contains(r) {
            v.push(*r);
        }
    }
    // everything allowed: nothing else to say
    if v.contains(&Rule::ALL) {
        return vec![Rule::ALL];
    }
    v
}

/// Where the cgroup's device rules live.
enum Place {
    V1(std::path::PathBuf),
    V2(std::path::PathBuf),
}

fn place(cg: &Cg, path: &str) -> Result<Place> {
    match cg.h.version_of("devices") {
        Some(Version::V1) => {
            let (_, d) = cg.dir_of("devices", path)?;
            Ok(Place::V1(d))
        }
        _ => match cg.h.unified_dir(path) {
            Some(d) if d.is_dir() => Ok(Place::V2(d)),
            Some(_) => Err(Error::NotFound {
                path: path.to_string(),
            }),
            None => Err(cg.unavailable("devices")),
        },
    }
}

/// Replace the cgroup's device rules with `rules`, all or nothing.
pub fn apply(cg: &Cg, path: &str, rules: &[Rule]) -> Result<()> {
    match place(cg, path)? {
        Place::V1(d) => apply_v1(&d, rules),
        Place::V2(d) => apply_v2(&d, rules),
    }
}

/// The cgroup's allow rules: v1 `devices.list`; v2 the rules of the program cgset attached
/// (None: no such program here, or the kernel would not show it).
pub fn read(cg: &Cg, path: &str) -> Option<Vec<String>> {
    match place(cg, path).ok()? {
        Place::V1(d) => Some(
            read_file(&d.join("devices.list"))
                .ok()?
                .lines()
                .map(str::to_string)
                .collect(),
        ),
        Place::V2(d) => {
            let dir = File::open(&d).ok()?;
            let (prog, _) = ours(&dir).ok()?.into_iter().next()?;
            let insns = xlated(&prog)?;
            decode(&insns).map(|rs| rs.iter().map(Rule::to_string).collect())
        }
    }
}

// ---------------------------------------------------------------------------- cgroup v1

/// Deny all, then allow each rule; on a refusal put the old list back the same way.
fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<()> {
    let old: Vec<String> = read_file(&dir.join("devices.list"))?
        .lines()
        .map(str::to_string)
        .collect();
    let write_all = |list: &[String]| -> Result<()> {
        write_file(&dir.join("devices.deny"), "a")?;
        for r in list {
            common::debug!("allow {r} in {}", dir.display());
            write_file(&dir.join("devices.allow"), r)?;
        }
        Ok(())
    };
    let new: Vec<String> = rules.iter().map(Rule::to_string).collect();
    match write_all(&new) {
        Ok(()) => Ok(()),
        Err(e) => match write_all(&old) {
            Ok(()) => Err(e),
            Err(re) => Err(Error::Several(common::undo::with_cleanup_errors(
                common::run::error_line(&e),
                &[format!(
                    "restore {}: {}",
                    dir.display(),
                    common::run::error_line(&re)
                )],
            ))),
        },
    }
}

// ---------------------------------------------------------------------------- cgroup v2

/// The name cgset gives its programs: how it finds its own among others attached.
const PROG_NAME: &[u8] = b"ctrkit_devices";

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_F_REPLACE: u32 = 4;
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// One instruction, as `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insn {
    code: u8,
    regs: u8, // dst in the low nibble, src in the high one
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}
const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const MOV_X: u8 = 0xbf; // dst = src
const MOV_K: u8 = 0xb7; // dst = imm
const AND_K: u8 = 0x57; // dst &= imm
const RSH_K: u8 = 0x77; // dst >>= imm
const JNE_K: u8 = 0x55; // if dst != imm goto pc + 1 + off
const EXIT: u8 = 0x95;

/// The program: r1 is the `struct bpf_cgroup_dev_ctx` (access_type = access << 16 | type,
/// major, minor). r3 = type, r2 = access, r4 = major, r5 = minor; each rule is a block that
/// returns 1 (allow) when all its conditions hold and otherwise jumps to the next; at the
/// end 0 (deny). A rule without conditions (`a *:* rwm`) ends the program.
pub fn generate(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(MOV_X, 3, 2, 0, 0),
        insn(AND_K, 3, 0, 0, 0xffff),
        insn(RSH_K, 2, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for r in rules {
        let mut block: Vec<Insn> = Vec::new();
        // (the jump offsets are filled in once the block's length is known)
        match r.kind {
            Kind::All => {}
            Kind::Block => block.push(insn(JNE_K, 3, 0, 0, DEV_BLOCK)),
            Kind::Char => block.push(insn(JNE_K, 3, 0, 0, DEV_CHAR)),
        }
        if r.access != RWM {
            // the access asked for must lie within the rule's
            block.push(insn(MOV_X, 1, 2, 0, 0));
            block.push(insn(AND_K, 1, 0, 0, i32::from(!r.access & RWM)));
            block.push(insn(JNE_K, 1, 0, 0, 0));
        }
        if let Some(m) = r.major {
            block.push(insn(JNE_K, 4, 0, 0, m as i32));
        }
        if let Some(m) = r.minor {
            block.push(insn(JNE_K, 5, 0, 0, m as i32));
        }
        block.push(insn(MOV_K, 0, 0, 0, 1));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let n = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K {
                // to the first instruction after the block
                ins.off = (n - i - 1) as i16;
            }
        }
        p.extend(block);
        if n == 2 {
            // no condition: it allows everything, and the verifier refuses code after it
            // that nothing reaches
            return p;
        }
    }
    p.push(insn(MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// The rules of a program [`generate`] made; None for any other program.
pub fn decode(p: &[Insn]) -> Option<Vec<Rule>> {
    let prologue = generate(&[]);
    if p.len() < prologue.len() || p[..6] != prologue[..6] {
        return None;
    }
    let mut rules = Vec::new();
    let mut i = 6;
    loop {
        let at = |k: usize| p.get(k).copied();
        if at(i)? == insn(MOV_K, 0, 0, 0, 0) && at(i + 1)? == insn(EXIT, 0, 0, 0, 0) {
            return (i + 2 == p.len()).then_some(rules);
        }
        let mut r = Rule::ALL;
        let reg = |x: Insn| x.regs & 0x0f;
        let ins = at(i)?;
        if ins.code == JNE_K && reg(ins) == 3 {
            r.kind = match ins.imm {
                DEV_BLOCK => Kind::Block,
                DEV_CHAR => Kind::Char,
                _ => return None,
            };
            i += 1;
        }
        if at(i)? == insn(MOV_X, 1, 2, 0, 0) {
            let and = at(i + 1)?;
            if and.code != AND_K || reg(and) != 1 || at(i + 2)?.code != JNE_K {
                return None;
            }
            r.access = !(and.imm as u8) & RWM;
            i += 3;
        }
        let ins = at(i)?;
        if ins.code == JNE_K && reg(ins) == 4 {
            r.major = Some(ins.imm as u32);
            i += 1;
        }
        let ins = at(i)?;
        if ins.code == JNE_K && reg(ins) == 5 {
            r.minor = Some(ins.imm as u32);
            i += 1;
        }
        if at(i)? != insn(MOV_K, 0, 0, 0, 1) || at(i + 1)? != insn(EXIT, 0, 0, 0, 0) {
            return None;
        }
        i += 2;
        rules.push(r);
        if r == Rule::ALL {
            return (i == p.len()).then_some(rules);
        }
    }
}

/// bpf(2), which no crate wraps here; for the commands that make a descriptor
/// (BPF_PROG_LOAD, BPF_PROG_GET_FD_BY_ID) that descriptor, owned.
fn bpf(cmd: libc::c_long, attr: &mut [u8]) -> std::io::Result<Option<OwnedFd>> {
    let makes_fd = cmd == BPF_PROG_LOAD || cmd == BPF_PROG_GET_FD_BY_ID;
    // SAFETY: attr is a zero-padded bpf_attr of the size passed; the kernel reads and
    // writes only within it and within the buffers its pointers name, which the callers
    // keep alive across the call (they are locals of the calling function). What these two
    // commands return is a new descriptor that nothing else owns.
    unsafe {
        match libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) {
            r if r < 0 => Err(std::io::Error::last_os_error()),
            r if makes_fd => Ok(Some(OwnedFd::from_raw_fd(r as RawFd))),
            _ => Ok(None),
        }
    }
}

/// A `union bpf_attr`-sized buffer, with fields put in at byte offsets.
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32(&mut self, at: usize, v: u32) -> &mut Attr {
        self.0[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(&mut self, at: usize, v: u64) -> &mut Attr {
        self.0[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn get_u32(&self, at: usize) -> u32 {
        u32::from_ne_bytes(self.0[at..at + 4].try_into().unwrap_or([0; 4]))
    }
}

fn load(insns: &[Insn]) -> std::result::Result<OwnedFd, String> {
    let license = b"Apache-2.0\0";
    let mut log = vec![0u8; 64 * 1024];
    let mut a = Attr::new();
    a.u32(0, BPF_PROG_TYPE_CGROUP_DEVICE)
        .u32(4, insns.len() as u32)
        .u64(8, insns.as_ptr() as u64)
        .u64(16, license.as_ptr() as u64)
        .u32(24, 1) // log_level
        .u32(28, log.len() as u32)
        .u64(32, log.as_mut_ptr() as u64);
    a.0[48..48 + PROG_NAME.len()].copy_from_slice(PROG_NAME); // prog_name[16]
    a.u32(68, BPF_CGROUP_DEVICE); // expected_attach_type
    match bpf(BPF_PROG_LOAD, &mut a.0) {
        Ok(Some(fd)) => Ok(fd),
        Ok(None) => Err("no descriptor".to_string()),
        Err(e) => {
            let msg = String::from_utf8_lossy(&log);
            let last = msg
                .trim_end_matches('\0')
                .trim()
                .lines()
                .last()
                .unwrap_or("")
                .to_string();
            Err(if last.is_empty() {
                e.to_string()
            } else {
                format!("{e} ({last})")
            })
        }
    }
}

/// The programs directly attached to the cgroup `dir` that cgset made, with their ids.
fn ours(dir: &File) -> std::io::Result<Vec<(OwnedFd, u32)>> {
    let mut ids = [0u32; 64];
    let mut a = Attr::new();
    a.u32(0, dir.as_raw_fd() as u32)
        .u32(4, BPF_CGROUP_DEVICE)
        .u64(16, ids.as_mut_ptr() as u64)
        .u32(24, ids.len() as u32);
    bpf(BPF_PROG_QUERY, &mut a.0)?;
    let n = (a.get_u32(24) as usize).min(ids.len());
    let mut v = Vec::new();
    for id in &ids[..n] {
        let mut g = Attr::new();
        g.u32(0, *id);
        let Ok(Some(fd)) = bpf(BPF_PROG_GET_FD_BY_ID, &mut g.0) else {
            continue;
        };
        if prog_name(&fd).as_deref() == Some(PROG_NAME) {
            v.push((fd, *id));
        }
    }
    Ok(v)
}

/// `struct bpf_prog_info` up to its name.
#[repr(C)]
#[derive(Default)]
struct ProgInfo {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; 16],
}

fn info(fd: &OwnedFd, info: &mut ProgInfo) -> std::io::Result<()> {
    let mut a = Attr::new();
    a.u32(0, fd.as_raw_fd() as u32)
        .u32(4, std::mem::size_of::<ProgInfo>() as u32)
        .u64(8, info as *mut ProgInfo as u64);
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a.0).map(drop)
}

fn prog_name(fd: &OwnedFd) -> Option<Vec<u8>> {
    let mut i = ProgInfo::default();
    info(fd, &mut i).ok()?;
    Some(i.name.iter().copied().take_while(|b| *b != 0).collect())
}

/// The instructions of a loaded program, as the kernel keeps them.
fn xlated(fd: &OwnedFd) -> Option<Vec<Insn>> {
    let mut i = ProgInfo::default();
    info(fd, &mut i).ok()?;
    let n = i.xlated_prog_len as usize / std::mem::size_of::<Insn>();
    if n == 0 {
        return None;
    }
    let mut buf = vec![Insn::default(); n];
    let mut j = ProgInfo {
        xlated_prog_len: (n * std::mem::size_of::<Insn>()) as u32,
        xlated_prog_insns: buf.as_mut_ptr() as u64,
        ..ProgInfo::default()
    };
    info(fd, &mut j).ok()?;
    (j.xlated_prog_insns != 0).then_some(buf)
}

/// Load the rules' program and attach it to the cgroup, in place of the one cgset attached
/// before (BPF_F_REPLACE: there is no moment without a program); other programs stay.
fn apply_v2(dir: &Path, rules: &[Rule]) -> Result<()> {
    let fail = |what: String| Error::Devices {
        path: dir.to_path_buf(),
        what,
    };
    let cgroup = File::open(dir).map_err(|e| fail(format!("cannot open it: {e}")))?;
    let prog =
        load(&generate(rules)).map_err(|e| fail(format!("cannot load the device program: {e}")))?;
    let old = ours(&cgroup).map_err(|e| fail(format!("cannot list its device programs: {e}")))?;
    let mut a = Attr::new();
    a.u32(0, cgroup.as_raw_fd() as u32)
        .u32(4, prog.as_raw_fd() as u32)
        .u32(8, BPF_CGROUP_DEVICE);
    match old.first() {
        Some((old_fd, id)) => {
            common::debug!("replace device program {id} of {}", dir.display());
            a.u32(12, BPF_F_ALLOW_MULTI | BPF_F_REPLACE)
                .u32(16, old_fd.as_raw_fd() as u32);
        }
        None => {
            a.u32(12, BPF_F_ALLOW_MULTI);
        }
    }
    bpf(BPF_PROG_ATTACH, &mut a.0)
        .map_err(|e| fail(format!("cannot attach the device program: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_print() {
        assert_eq!(
            Rule::parse("c 10:237 rwm").unwrap().to_string(),
            "c 10:237 rwm"
        );
        assert_eq!(Rule::parse("b 8:* r").unwrap().to_string(), "b 8:* r");
        assert_eq!(Rule::parse("c *:* m").unwrap().to_string(), "c *:* m");
        assert_eq!(Rule::parse("a").unwrap().to_string(), "a *:* rwm");
        assert_eq!(Rule::parse("c 1:3").unwrap().access, RWM);
        for bad in [
            "",
            "x 1:2 r",
            "c 1 r",
            "c 1:2 rx",
            "c 1:2 rr",
            "c a:2",
            "a 1:2",
            "c 1:2 r w",
        ] {
            let e = Rule::parse(bad).unwrap_err();
            assert!(e.contains("device rule"), "{bad}: {e}");
        }
    }

    #[test]
    fn container_list_is_runcs() {
        let v: Vec<String> = rules(Policy::Container, &[])
            .iter()
            .map(Rule::to_string)
            .collect();
        for want in [
            "c *:* m",
            "b *:* m",
            "c 1:3 rwm",
            "c 136:* rwm",
            "c 10:200 rwm",
            "c 5:2 rwm",
        ] {
            assert!(v.contains(&want.to_string()), "{want} in {v:?}");
        }
        assert_eq!(v.len(), 12);
        // an extra rule once, even if given twice
        let r = Rule::parse("c 10:237 rwm").unwrap();
        assert_eq!(rules(Policy::None, &[r, r]), vec![r]);
        assert_eq!(
            rules(Policy::Container, &[Rule::parse("a").unwrap()]),
            vec![Rule::ALL]
        );
    }

    #[test]
    fn program_round_trips() {
        for rs in [
            rules(Policy::Container, &[]),
            rules(Policy::All, &[]),
            rules(Policy::None, &[]),
            vec![
                Rule::parse("b 8:* r").unwrap(),
                Rule::parse("c 10:237 rw").unwrap(),
            ],
        ] {
            let p = generate(&rs);
            assert_eq!(decode(&p).unwrap(), rs);
            // every jump lands inside the program
            for (i, ins) in p.iter().enumerate() {
                if ins.code == JNE_K {
                    assert!(i + 1 + (ins.off as usize) < p.len());
                }
            }
        }
        assert!(decode(&[insn(EXIT, 0, 0, 0, 0)]).is_none());
    }

    /// The program's verdicts, by running it in a tiny interpreter of the few opcodes used.
    fn run(p: &[Insn], kind: i32, access: u8, major: u32, minor: u32) -> u64 {
        let ctx = [((access as u32) << 16) | kind as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (d, s) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[d] = u64::from(ctx[i.off as usize / 4]),
                MOV_X => r[d] = r[s],
                MOV_K => r[d] = i.imm as i64 as u64,
                AND_K => r[d] &= i.imm as i64 as u64,
                RSH_K => r[d] >>= i.imm,
                JNE_K => {
                    if r[d] != i.imm as i64 as u64 {
                        pc += i.off as usize;
                    }
                }
                EXIT => return r[0],
                _ => panic!("opcode {:#x}", i.code),
            }
        }
    }

    #[test]
    fn program_verdicts() {
        let p = generate(&rules(
            Policy::Container,
            &[Rule::parse("b 8:* r").unwrap()],
        ));
        let c = DEV_CHAR;
        let b = DEV_BLOCK;
        assert_eq!(run(&p, c, READ | WRITE, 1, 3), 1, "null rw");
        assert_eq!(run(&p, c, MKNOD, 10, 237), 1, "mknod of anything");
        assert_eq!(run(&p, c, READ, 10, 237), 0, "loop-control read");
        assert_eq!(run(&p, c, READ, 136, 7), 1, "pts/7");
        assert_eq!(run(&p, b, READ, 8, 1), 1, "the extra block rule");
        assert_eq!(run(&p, b, WRITE, 8, 1), 0, "but not write");
        assert_eq!(run(&p, b, READ, 9, 0), 0);
        let none = generate(&[]);
        assert_eq!(run(&none, c, READ, 1, 3), 0);
        let all = generate(&rules(Policy::All, &[]));
        assert_eq!(run(&all, b, READ | WRITE | MKNOD, 8, 0), 1);
    }
}

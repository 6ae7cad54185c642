//! Reading one process's files under `/proc/PID`: command line, status, uid maps, mounts,
//! and its network namespace's addresses (read through `/proc/PID/net/*`, without
//! entering the namespace). Every reader returns `None` when the file is gone or denied.
//!
//! The procfs crate parses what it can (cmdline, status, net/route, btime in /proc/stat);
//! hand readers stay where it has no parser (uid_map, net/fib_trie, net/if_inet6), where
//! it would change the output (mountinfo: see `common::mounts`; net/dev: its map loses the
//! kernel's interface order).

use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::procfs::process::Process;
use common::mounts::{Mount, parse_mountinfo};
use serde::Serialize;

fn proc_file(pid: i32, name: &str) -> String {
    format!("/proc/{pid}/{name}")
}

/// Read a small kernel file into `buf` with plain system calls, into a reused buffer
/// (see [`common::discover::read_small`]); `None` when it is gone or denied.
pub fn read_file(path: &Path, buf: &mut Vec<u8>, one_shot: bool) -> Option<()> {
    common::discover::read_small(path, buf, one_shot).ok()
}

/// The command line, arguments joined by spaces; `None` when it is empty (zombies).
/// Arguments that are not UTF-8 (a file name) are read lossily.
pub fn cmdline(pid: i32) -> Option<String> {
    let mut buf = Vec::with_capacity(512);
    cmdline_with(pid, &mut buf)
}

/// [`cmdline`] reading into a caller's buffer (a listing reuses one for every row).
pub fn cmdline_with(pid: i32, buf: &mut Vec<u8>) -> Option<String> {
    read_file(Path::new(&proc_file(pid, "cmdline")), buf, true)?;
    let args = common::discover::split_cmdline(buf);
    (!args.is_empty()).then(|| args.join(" "))
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn clock_ticks() -> u64 {
    match rustix::param::clock_ticks_per_second() {
        0 => 100,
        t => t,
    }
}

pub fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

/// Boot time (`btime` in `/proc/stat`), seconds since the epoch.
pub fn boot_time() -> Option<u64> {
    ::procfs::boot_time_secs().ok()
}

/// Converts start ticks after boot into wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub ticks: u64,
    pub boot: Option<u64>,
    pub now: SystemTime,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            ticks: clock_ticks(),
            boot: boot_time(),
            now: SystemTime::now(),
        }
    }

    pub fn started(&self, start_ticks: u64) -> Option<SystemTime> {
        let boot = self.boot?;
        let ms = boot * 1000 + start_ticks * 1000 / self.ticks;
        Some(UNIX_EPOCH + Duration::from_millis(ms))
    }

    pub fn uptime(&self, start_ticks: u64) -> Option<Duration> {
        self.now.duration_since(self.started(start_ticks)?).ok()
    }

    pub fn ticks_to_usec(&self, ticks: u64) -> u64 {
        ticks * 1_000_000 / self.ticks
    }
}

/// RFC 3339 UTC, seconds precision.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `1h5m`, `3m12s`, `42s`, `2d3h`: the two largest units.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if days > 0 {
        format!("{days}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}

/// CPU time for tables: `0.42s`, `12.3s`, `5m12s`.
pub fn cpu_time(usec: u64) -> String {
    let secs = usec as f64 / 1e6;
    if secs < 10.0 {
        format!("{secs:.2}s")
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        short_duration(Duration::from_micros(usec))
    }
}

/// The fields of `/proc/PID/status` ctr-ps uses.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The pid in each pid namespace, outermost first.
    pub nspid: Vec<i32>,
    /// real, effective, saved, fs
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub cap_inh: u64,
    pub cap_prm: u64,
    pub cap_eff: u64,
    pub cap_bnd: u64,
    pub cap_amb: u64,
    pub no_new_privs: Option<bool>,
    pub seccomp: Option<u32>,
}

impl From<::procfs::process::Status> for Status {
    fn from(s: ::procfs::process::Status) -> Status {
        Status {
            nspid: s.nspid.unwrap_or_default(),
            uid: [s.ruid, s.euid, s.suid, s.fuid],
            gid: [s.rgid, s.egid, s.sgid, s.fgid],
            cap_inh: s.capinh,
            cap_prm: s.capprm,
            cap_eff: s.capeff,
            cap_bnd: s.capbnd.unwrap_or(0),
            cap_amb: s.capamb.unwrap_or(0),
            no_new_privs: s.nonewprivs.map(|n| n != 0),
            seccomp: s.seccomp,
        }
    }
}

/// Parse the text of `/proc/PID/status` (`None` when a field every kernel writes is missing).
#[cfg(test)]
fn parse_status(text: &str) -> Option<Status> {
    use ::procfs::FromRead;
    ::procfs::process::Status::from_read(text.as_bytes())
        .ok()
        .map(Status::from)
}

pub fn status(pid: i32) -> Option<Status> {
    Process::new(pid).ok()?.status().ok().map(Status::from)
}

/// One line of `uid_map` / `gid_map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

pub fn parse_id_map(text: &str) -> Vec<IdMap> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|x| x.parse::<u32>().ok());
            Some(IdMap {
                inside: it.next()??,
                outside: it.next()??,
                count: it.next()??,
            })
        })
        .collect()
}

pub fn id_map(pid: i32, which: &str) -> Option<Vec<IdMap>> {
    fs::read_to_string(proc_file(pid, which))
        .ok()
        .map(|t| parse_id_map(&t))
}

/// A host id as seen inside a user namespace with `map` (`None` when unmapped).
pub fn map_to_inside(map: &[IdMap], host_id: u32) -> Option<u32> {
    map.iter().find_map(|m| {
        let off = host_id.checked_sub(m.outside)?;
        (off < m.count).then(|| m.inside + off)
    })
}

pub fn mounts(pid: i32) -> Option<Vec<Mount>> {
    fs::read_to_string(proc_file(pid, "mountinfo"))
        .ok()
        .map(|t| parse_mountinfo(&t))
}

// --- network ------------------------------------------------------------------------------

/// The local IPv4 addresses in a `fib_trie` dump (`/32 host LOCAL` leaves), in order.
pub fn parse_fib_trie_locals(text: &str) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim_start_matches([' ', '|', '+', '-', '`']);
        if let Ok(a) = t.trim().parse::<Ipv4Addr>() {
            last = Some(a);
        } else if t.contains("/32 host LOCAL") {
            if let Some(a) = last {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
    }
    out
}

/// The routes of a process's network namespace: (interface, destination, mask).
fn routes(pid: i32) -> Vec<(String, Ipv4Addr, Ipv4Addr)> {
    Process::new(pid)
        .and_then(|p| p.route())
        .map(|r| {
            r.into_iter()
                .map(|e| (e.iface, e.destination, e.mask))
                .collect()
        })
        .unwrap_or_default()
}

/// `/proc/PID/net/if_inet6` lines: (interface, address, prefix length).
pub fn parse_if_inet6(text: &str) -> Vec<(String, Ipv6Addr, u8)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = f.first()?;
            if hex.len() != 32 {
                return None;
            }
            let v = u128::from_str_radix(hex, 16).ok()?;
            let plen = u8::from_str_radix(f.get(2)?, 16).ok()?;
            Some((f.get(5)?.to_string(), Ipv6Addr::from(v), plen))
        })
        .collect()
}

/// (interface, address, prefix length), each unknown part `None`.
type V4Addr = (Option<String>, Ipv4Addr, Option<u32>);

/// The local IPv4 addresses of a process's network namespace with the interface each is
/// on (found by the longest matching subnet route) and its prefix length.
fn ipv4_addresses(pid: i32) -> Option<Vec<V4Addr>> {
    let locals = parse_fib_trie_locals(&fs::read_to_string(proc_file(pid, "net/fib_trie")).ok()?);
    let routes = routes(pid);
    Some(
        locals
            .into_iter()
            .map(|a| {
                if a.is_loopback() {
                    return (Some("lo".to_string()), a, Some(8));
                }
                let best = routes
                    .iter()
                    .filter(|(_, dst, mask)| {
                        u32::from(*mask) != 0 && u32::from(a) & u32::from(*mask) == u32::from(*dst)
                    })
                    .max_by_key(|(_, _, mask)| u32::from(*mask).count_ones());
                (
                    best.map(|(i, _, _)| i.clone()),
                    a,
                    best.map(|(_, _, m)| u32::from(*m).count_ones()),
                )
            })
            .collect(),
    )
}

/// The first IPv4 address of a process's network namespace that is not on `lo`.
pub fn first_ipv4(pid: i32) -> Option<Ipv4Addr> {
    ipv4_addresses(pid)?
        .into_iter()
        .find(|(ifname, a, _)| !a.is_loopback() && ifname.as_deref() != Some("lo"))
        .map(|(_, a, _)| a)
}

/// One interface of a network namespace and its addresses.
#[derive(Debug, Clone, Serialize)]
pub struct Interface {
    pub name: String,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
}

/// Every interface (from `net/dev`) with its addresses: IPv4 from `fib_trie` matched to an
/// interface by its subnet route, IPv6 from `if_inet6`.
pub fn interfaces(pid: i32) -> Option<Vec<Interface>> {
    // the names only, in the file's order (procfs's dev_status() is a HashMap: it would
    // shuffle the interfaces, lo first no more)
    let dev = fs::read_to_string(proc_file(pid, "net/dev")).ok()?;
    let mut out: Vec<Interface> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .map(|name| Interface {
            name,
            ipv4: Vec::new(),
            ipv6: Vec::new(),
        })
        .collect();
    for (ifname, a, prefix) in ipv4_addresses(pid).unwrap_or_default() {
        let text = match prefix {
            Some(p) => format!("{a}/{p}"),
            None => a.to_string(),
        };
        let name = ifname.unwrap_or_else(|| "?".into());
        match out.iter_mut().find(|i| i.name == name) {
            Some(i) => i.ipv4.push(text),
            None => out.push(Interface {
                name,
                ipv4: vec![text],
                ipv6: Vec::new(),
            }),
        }
    }
    if let Ok(t) = fs::read_to_string(proc_file(pid, "net/if_inet6")) {
        for (name, a, plen) in parse_if_inet6(&t) {
            if let Some(i) = out.iter_mut().find(|i| i.name == name) {
                i.ipv6.push(format!("{a}/{plen}"));
            }
        }
    }
    Some(out)
}

// --- capabilities ---------------------------------------------------------------------------

const CAP_NAMES: [&str; 41] = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// Capability names in a mask (`cap_net_admin`, ...; unknown bits as `cap_N`).
pub fn cap_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| match CAP_NAMES.get(b as usize) {
            Some(n) => format!("cap_{n}"),
            None => format!("cap_{b}"),
        })
        .collect()
}

pub fn seccomp_mode(n: u32) -> &'static str {
    match n {
        0 => "disabled",
        1 => "strict",
        2 => "filter",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB: &str = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.88.0.0/16 2 0 2
        +-- 10.88.0.0/28 2 0 2
           |-- 10.88.0.0
              /16 link UNICAST
           |-- 10.88.0.5
              /32 host LOCAL
     +-- 127.0.0.0/8 2 0 2
        |-- 127.0.0.1
           /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 10.88.0.5
        /32 host LOCAL
";

    #[test]
    fn fib_trie_locals() {
        let l = parse_fib_trie_locals(FIB);
        assert_eq!(
            l,
            vec![Ipv4Addr::new(10, 88, 0, 5), Ipv4Addr::new(127, 0, 0, 1)]
        );
    }

    #[test]
    fn routes_and_inet6() {
        let me = std::process::id() as i32;
        let want = fs::read_to_string(format!("/proc/{me}/net/route")).unwrap();
        assert_eq!(routes(me).len(), want.lines().count() - 1, "{want}");
        let v6 = parse_if_inet6("fe800000000000000000000000000001 02 40 20 80     eth0\n");
        assert_eq!(v6[0].0, "eth0");
        assert_eq!(v6[0].2, 64);
    }

    const STATUS: &str = "Name:\tsh\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nNgid:\t0\n\
        Pid:\t42\nPPid:\t1\nTracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\nGid:\t0\t0\t0\t0\n\
        FDSize:\t64\nGroups:\t\nNStgid:\t4242\t1\nNSpid:\t4242\t1\nNSpgid:\t4242\t1\n\
        NSsid:\t4242\t1\nThreads:\t1\nSigQ:\t0/96365\nSigPnd:\t0000000000000000\n\
        ShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n\
        SigCgt:\t0000000000010002\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n\
        CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n\
        NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n\
        voluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n";

    #[test]
    fn status_fields() {
        let s = parse_status(STATUS).unwrap();
        assert_eq!(s.nspid, vec![4242, 1]);
        assert_eq!(s.uid[0], 1000);
        assert_eq!(s.no_new_privs, Some(true));
        assert_eq!(seccomp_mode(s.seccomp.unwrap()), "filter");
        assert!(cap_names(s.cap_eff).contains(&"cap_net_bind_service".to_string()));
        assert!(!cap_names(s.cap_eff).contains(&"cap_sys_admin".to_string()));
        let me = status(std::process::id() as i32).unwrap();
        assert_eq!(*me.nspid.last().unwrap(), std::process::id() as i32);
    }

    #[test]
    fn command_lines_not_in_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 5"])
            .arg(std::ffi::OsStr::from_bytes(b"a\xffb"))
            .spawn()
            .unwrap();
        // until the child has exec'd sh (before, it shows this test's command line)
        let mut got = None;
        for _ in 0..200 {
            got = cmdline(child.id() as i32);
            if got.as_deref().is_some_and(|c| c.starts_with("sh ")) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(got.as_deref(), Some("sh -c sleep 5 a\u{fffd}b"));
    }

    #[test]
    fn id_maps() {
        let m = parse_id_map("         0     100000      65536\n");
        assert_eq!(map_to_inside(&m, 100005), Some(5));
        assert_eq!(map_to_inside(&m, 5), None);
    }

    #[test]
    fn durations() {
        assert_eq!(short_duration(Duration::from_secs(42)), "42s");
        assert_eq!(short_duration(Duration::from_secs(3 * 60 + 12)), "3m12s");
        assert_eq!(
            short_duration(Duration::from_secs(2 * 86400 + 3 * 3600)),
            "2d3h"
        );
        assert_eq!(cpu_time(420_000), "0.42s");
    }
}

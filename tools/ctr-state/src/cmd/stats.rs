//! `ctr-state stats`: `docker stats` for the containers of the state folders: CPU % over an
//! interval, memory (usage without the inactive page cache, as Docker counts it) against its
//! limit (the host's memory when there is none), network bytes of the container's own
//! network namespace (every interface but lo), block I/O bytes and the number of processes.
//! Read from cgroupfs -- v1 (`cpuacct.usage`, `memory.usage_in_bytes`, `memory.stat`
//! `total_inactive_file`, `blkio.throttle.io_service_bytes`, `pids.current`) or v2
//! (`cpu.stat`, `memory.current`, `memory.stat` `inactive_file`, `io.stat`) -- at the path
//! in DIR/cgroup, and from /proc/PID/net/dev of the container's first process.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::cgroup::{Hierarchy, Limit, Usage, Version, read_flat_keyed};
use common::ns::{NsKind, ns_inode};
use serde_json::{Value, json};

use super::ls::{self, short};
use super::pid::Init;
use super::template::{Format, render};
use crate::cli::StatsArgs;
use crate::error::Error;

/// The fields of `--format` (Docker's names).
const FIELDS: &[&str] = &[
    "Container",
    "ID",
    "Name",
    "CPUPerc",
    "MemUsage",
    "MemPerc",
    "NetIO",
    "BlockIO",
    "PIDs",
];

/// One reading of one container (all zero when it does not run).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub running: bool,
    pub cpu_usec: Option<u64>,
    pub mem: u64,
    pub limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
}

/// A container to show: its folder, name and ID.
struct Target {
    dir: PathBuf,
    name: String,
    id: String,
    /// named on the command line (its row stays, as `docker stats NAME` keeps it)
    named: bool,
}

pub fn run(a: &StatsArgs) -> Result<(), Error> {
    let format = Format::parse(a.format.as_deref(), a.json, FIELDS)?;
    let containers = a.state_dir.join("containers");
    // the named containers must exist now (the script resolved them: a missing one is a
    // container removed meanwhile)
    for n in &a.containers {
        if n.is_empty() || n.starts_with('.') || n.contains('/') || !containers.join(n).is_dir() {
            return Err(Error::NoSuchContainer(n.clone()));
        }
    }
    let hier = Hierarchy::detect().ok();
    let host_mem = host_memory();
    let own_net = ns_inode(std::process::id() as i32, NsKind::Net).ok();
    let read_all = |targets: &[Target]| -> HashMap<PathBuf, Reading> {
        targets
            .iter()
            .map(|t| {
                (
                    t.dir.clone(),
                    read(hier.as_ref(), &t.dir, host_mem, own_net),
                )
            })
            .collect()
    };
    let mut targets = targets(a, &containers);
    let mut before = read_all(&targets);
    let mut at = Instant::now();
    let mut out = std::io::stdout().lock();
    loop {
        std::thread::sleep(a.interval);
        if !a.no_stream {
            // a container started (or removed) meanwhile joins (leaves) the list
            targets = targets_keep_named(a, &containers, targets);
        }
        let now = read_all(&targets);
        let wall = at.elapsed().as_micros().max(1) as f64;
        at = Instant::now();
        let rows: Vec<Value> = targets
            .iter()
            .filter_map(|t| {
                let r = now.get(&t.dir)?;
                let cpu = match (before.get(&t.dir).and_then(|b| b.cpu_usec), r.cpu_usec) {
                    (Some(b), Some(n)) if r.running => n.saturating_sub(b) as f64 * 100.0 / wall,
                    _ => 0.0,
                };
                Some(fields(t, r, cpu, a.no_trunc))
            })
            .collect();
        let mut text = String::new();
        if !a.no_stream {
            // as docker does: the screen cleared, the cursor home, then the table
            text.push_str("\x1b[2J\x1b[H");
        }
        match &format {
            Format::Json => {
                for r in &rows {
                    text.push_str(&r.to_string());
                    text.push('\n');
                }
            }
            Format::Template { table, parts } => {
                if *table {
                    text.push_str(&render(parts, &header_fields()));
                    text.push('\n');
                }
                for r in &rows {
                    text.push_str(&render(parts, r));
                    text.push('\n');
                }
            }
            Format::Default => {
                let mut t = common::output::Table::new([
                    "CONTAINER ID",
                    "NAME",
                    "CPU %",
                    "MEM USAGE / LIMIT",
                    "MEM %",
                    "NET I/O",
                    "BLOCK I/O",
                    "PIDS",
                ]);
                for r in &rows {
                    let cell = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                    t.row([
                        cell("ID"),
                        cell("Name"),
                        cell("CPUPerc"),
                        cell("MemUsage"),
                        cell("MemPerc"),
                        cell("NetIO"),
                        cell("BlockIO"),
                        cell("PIDs"),
                    ]);
                }
                text.push_str(&t.render(true));
            }
        }
        out.write_all(text.as_bytes()).map_err(Error::Output)?;
        out.flush().map_err(Error::Output)?;
        if a.no_stream {
            return Ok(());
        }
        before = now;
    }
}

/// The containers to show: the named ones, else the running (every one with --all),
/// newest first as ctr-ls lists them.
fn targets(a: &StatsArgs, containers: &Path) -> Vec<Target> {
    if !a.containers.is_empty() {
        return a
            .containers
            .iter()
            .map(|n| {
                let dir = containers.join(n);
                Target {
                    id: first_line(&dir.join("id")).unwrap_or_default(),
                    name: n.clone(),
                    dir,
                    named: true,
                }
            })
            .collect();
    }
    ls::list(containers, a.all)
        .into_iter()
        .map(|(name, id)| Target {
            dir: containers.join(&name),
            name,
            id,
            named: false,
        })
        .collect()
}

/// The list again for the next frame: named containers stay while their folder does.
fn targets_keep_named(a: &StatsArgs, containers: &Path, old: Vec<Target>) -> Vec<Target> {
    if a.containers.is_empty() {
        return targets(a, containers);
    }
    old.into_iter().filter(|t| t.dir.is_dir()).collect()
}

fn first_line(p: &Path) -> Option<String> {
    fs::read_to_string(p)
        .ok()
        .map(|s| s.lines().next().unwrap_or_default().to_string())
}

/// One reading of the container of `dir`: zeros unless it runs (checked as `pid` checks).
pub fn read(hier: Option<&Hierarchy>, dir: &Path, host_mem: u64, own_net: Option<u64>) -> Reading {
    let Ok(init) = Init::find(dir) else {
        return Reading::default();
    };
    let mut r = Reading {
        running: true,
        limit: host_mem,
        ..Reading::default()
    };
    let (rx, tx) = net_bytes(init.pid, own_net);
    r.net_rx = rx;
    r.net_tx = tx;
    let cgroup = first_line(&dir.join("cgroup")).map(|c| c.trim().trim_matches('/').to_string());
    if let (Some(h), Some(cg)) = (hier, cgroup.filter(|c| !c.is_empty())) {
        let u = Usage::read_with(h, |_| Some(cg.clone()));
        fill_from_cgroup(&mut r, h, &cg, &u);
    }
    r
}

/// The cgroup's numbers into `r` (Docker's arithmetic).
fn fill_from_cgroup(r: &mut Reading, h: &Hierarchy, cg: &str, u: &Usage) {
    r.cpu_usec = u.cpu_usage_usec;
    if let Some(Limit::Value(v)) = u.memory_max_bytes {
        // (a v1 limit above the host's memory means none, as Docker shows it)
        r.limit = if r.limit > 0 { v.min(r.limit) } else { v };
    }
    if let Some(cur) = u.memory_current_bytes {
        let inactive = h
            .mount_of("memory")
            .map(|m| {
                let key = match m.version {
                    Version::V1 => "total_inactive_file",
                    Version::V2 => "inactive_file",
                };
                let stat = read_flat_keyed(&common::cgroup::join(&m.path, cg).join("memory.stat"));
                stat.and_then(|s| s.get(key).copied()).unwrap_or(0)
            })
            .unwrap_or(0);
        r.mem = if inactive < cur { cur - inactive } else { cur };
    }
    for d in &u.io {
        r.blk_read += d.read_bytes.unwrap_or(0);
        r.blk_write += d.write_bytes.unwrap_or(0);
    }
    r.pids = u.pids_current.unwrap_or_else(|| {
        // no pids controller: the processes of the cgroup
        let procs = h
            .unified_dir(cg)
            .or_else(|| h.dir("memory", cg))
            .and_then(|d| fs::read_to_string(d.join("cgroup.procs")).ok());
        procs.map(|t| t.lines().count() as u64).unwrap_or(0)
    });
}

/// Received and sent bytes of every interface but lo in the network namespace of `pid`;
/// none when it is ours (a container on the host's network: Docker shows 0B too).
fn net_bytes(pid: i32, own_net: Option<u64>) -> (u64, u64) {
    let theirs = ns_inode(pid, NsKind::Net).ok();
    if theirs.is_none() || theirs == own_net {
        return (0, 0);
    }
    fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|t| parse_net_dev(&t))
        .unwrap_or((0, 0))
}

/// /proc/net/dev: two header lines, then `IFACE: rx_bytes packets ... (8 fields) tx_bytes ...`.
pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for line in text.lines().skip(2) {
        let Some((iface, rest)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

/// MemTotal of /proc/meminfo, in bytes (0 when unreadable).
fn host_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// A row under Docker's field names (`docker stats --format '{{json .}}'`), plus the raw
/// numbers behind them.
fn fields(t: &Target, r: &Reading, cpu: f64, no_trunc: bool) -> Value {
    let id = short(&t.id, no_trunc).to_string();
    let mem_perc = if r.limit > 0 {
        r.mem as f64 * 100.0 / r.limit as f64
    } else {
        0.0
    };
    json!({
        "Container": if t.named { t.name.clone() } else { id.clone() },
        "ID": id,
        "Name": t.name,
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(r.mem), bytes_size(r.limit)),
        "MemPerc": format!("{mem_perc:.2}%"),
        "NetIO": format!("{} / {}", human_size(r.net_rx), human_size(r.net_tx)),
        "BlockIO": format!("{} / {}", human_size(r.blk_read), human_size(r.blk_write)),
        "PIDs": r.pids.to_string(),
        "CPUPercent": (cpu * 100.0).round() / 100.0,
        "MemUsageBytes": r.mem,
        "MemLimitBytes": r.limit,
        "NetRxBytes": r.net_rx,
        "NetTxBytes": r.net_tx,
        "BlockReadBytes": r.blk_read,
        "BlockWriteBytes": r.blk_write,
        "Running": r.running,
    })
}

fn header_fields() -> Value {
    json!({
        "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

/// Go's `%.Ng`: N significant digits, trailing zeros dropped.
fn sig(v: f64, n: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = v.abs().log10().floor() as i32 + 1;
    let decimals = (n - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn scaled(b: u64, base: f64, units: &[&str], n: i32) -> String {
    let mut v = b as f64;
    let mut i = 0;
    while v >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
    }
    format!("{}{}", sig(v, n), units[i])
}

/// Docker's memory sizes (go-units `BytesSize`): binary units, 4 significant digits.
pub fn bytes_size(b: u64) -> String {
    scaled(
        b,
        1024.0,
        &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"],
        4,
    )
}

/// Docker's I/O sizes (go-units `HumanSizeWithPrecision(_, 3)`): decimal units.
pub fn human_size(b: u64) -> String {
    scaled(b, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB", "EB"], 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_sizes() {
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(64 << 20), "64MiB");
        assert_eq!(bytes_size(1_500_000), "1.431MiB");
        assert_eq!(human_size(648), "648B");
        assert_eq!(human_size(1450), "1.45kB");
        assert_eq!(human_size(12_345_678), "12.3MB");
    }

    #[test]
    fn net_dev_without_lo() {
        let t = "Inter-|   Receive                                                |  Transmit\n \
                 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
                 lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  \
                 eth0:    1500      10    0    0    0     0          0         0      700       5    0    0    0     0       0          0\n";
        assert_eq!(parse_net_dev(t), (1500, 700));
    }

    /// A fake cgroupfs of each version, read as a container's.
    fn fake(version: Version) -> (tempfile::TempDir, Hierarchy) {
        let root = tempfile::tempdir().unwrap();
        let w = |p: PathBuf, s: &str| {
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, s).unwrap();
        };
        let r = root.path();
        match version {
            Version::V2 => {
                w(r.join("cgroup.controllers"), "cpu memory pids io\n");
                let d = r.join("ctrkit/web");
                w(d.join("cgroup.procs"), "10\n11\n");
                w(
                    d.join("cpu.stat"),
                    "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\n",
                );
                w(d.join("memory.current"), "10485760\n");
                w(d.join("memory.max"), "67108864\n");
                w(d.join("memory.stat"), "anon 1000\ninactive_file 2097152\n");
                w(d.join("pids.current"), "2\n");
                w(
                    d.join("io.stat"),
                    "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
                );
            }
            Version::V1 => {
                for c in ["cpu,cpuacct", "memory", "pids", "blkio"] {
                    w(r.join(c).join("cgroup.procs"), "");
                }
                w(r.join("cpu,cpuacct/ctrkit/web/cpuacct.usage"), "5000000\n");
                w(r.join("cpu,cpuacct/ctrkit/web/cgroup.procs"), "10\n11\n");
                let m = r.join("memory/ctrkit/web");
                w(m.join("cgroup.procs"), "10\n11\n");
                w(m.join("memory.usage_in_bytes"), "10485760\n");
                w(m.join("memory.limit_in_bytes"), "67108864\n");
                w(
                    m.join("memory.stat"),
                    "cache 3000000\ntotal_inactive_file 2097152\n",
                );
                w(r.join("pids/ctrkit/web/pids.current"), "2\n");
                w(
                    r.join("blkio/ctrkit/web/blkio.throttle.io_service_bytes"),
                    "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\nTotal 12288\n",
                );
            }
        }
        let h = Hierarchy::at(r).unwrap();
        (root, h)
    }

    #[test]
    fn cgroup_numbers_v1_and_v2() {
        for v in [Version::V1, Version::V2] {
            let (_keep, h) = fake(v);
            let u = Usage::read_with(&h, |_| Some("ctrkit/web".into()));
            let mut r = Reading {
                limit: 1 << 34,
                ..Reading::default()
            };
            fill_from_cgroup(&mut r, &h, "ctrkit/web", &u);
            assert_eq!(r.cpu_usec, Some(5000), "{v:?}");
            assert_eq!(r.mem, 10485760 - 2097152, "{v:?}");
            assert_eq!(r.limit, 64 << 20, "{v:?}");
            assert_eq!((r.blk_read, r.blk_write), (4096, 8192), "{v:?}");
            assert_eq!(r.pids, 2, "{v:?}");
        }
    }
}

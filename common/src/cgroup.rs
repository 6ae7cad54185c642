//! Control-group hierarchies, read side: which hierarchy holds which controller (v1, hybrid
//! or pure v2, detected by filesystem magic), cgroup paths, a process's cgroups, and one
//! usage/limits schema read from either kernel interface.
//!
//! Shared by `cgset` (which owns everything that writes: limits, create/delete, freeze,
//! kill) and `ctr-ps` (which shows a container's memory, cpu and pids).
//!
//! Each controller is treated on whichever hierarchy holds it: on a hybrid machine
//! `memory` may be a v1 hierarchy at `/sys/fs/cgroup/memory` while the v2 mount at
//! `/sys/fs/cgroup/unified` holds only `hugetlb`, yet its core files (`cgroup.procs`,
//! `cgroup.freeze`, `cgroup.kill`) still work.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

// nix's statfs magics, not integers: the field's type differs between glibc and musl
use nix::sys::statfs::{CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, FsType};
use serde::Serialize;

use crate::parse::ParseError;

/// Where cgroup hierarchies are mounted by default.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// Controllers that exist as v1 hierarchies (named hierarchies such as `name=systemd`
/// are not controllers).
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// How the machine's cgroups are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Only v1 hierarchies.
    V1,
    /// v1 hierarchies plus a v2 mount (usually `/sys/fs/cgroup/unified`).
    Hybrid,
    /// One v2 hierarchy at the root.
    V2,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::V1 => "v1",
            Mode::Hybrid => "hybrid",
            Mode::V2 => "v2",
        })
    }
}

/// The interface version of one mounted hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub path: PathBuf,
    pub version: Version,
    /// v1: the controllers bound to it; v2: the root's `cgroup.controllers`.
    pub controllers: Vec<String>,
}

/// Every hierarchy under one root, and which holds each controller.
#[derive(Debug, Clone, Serialize)]
pub struct Hierarchy {
    pub mode: Mode,
    pub root: PathBuf,
    /// The v2 mount, if any (the root itself on a pure v2 machine).
    pub unified: Option<Mount>,
    /// v1 hierarchies, one per mount (`cpu,cpuacct` co-mounted count once).
    pub v1: Vec<Mount>,
}

fn statfs_magic(p: &Path) -> Option<FsType> {
    nix::sys::statfs::statfs(p)
        .ok()
        .map(|s| s.filesystem_type())
}

fn read_controllers(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("cgroup.controllers"))
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

impl Hierarchy {
    /// The machine's hierarchies under `/sys/fs/cgroup`.
    pub fn detect() -> io::Result<Hierarchy> {
        Hierarchy::at(Path::new(DEFAULT_ROOT))
    }

    /// The hierarchies under `root`. Real mounts are recognised by `statfs` magic; a plain
    /// directory tree (a test fixture) by its layout: `cgroup.controllers` marks a v2
    /// hierarchy, `cgroup.procs` without it a v1 one named after its controllers.
    pub fn at(root: &Path) -> io::Result<Hierarchy> {
        let meta = fs::metadata(root)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a directory",
            ));
        }
        let root = root.to_path_buf();
        let magic = statfs_magic(&root);
        let is_v2 = |d: &Path, m: Option<FsType>| {
            m == Some(CGROUP2_SUPER_MAGIC)
                || (m != Some(CGROUP_SUPER_MAGIC) && d.join("cgroup.controllers").is_file())
        };
        if is_v2(&root, magic) {
            let controllers = read_controllers(&root);
            return Ok(Hierarchy {
                mode: Mode::V2,
                unified: Some(Mount {
                    path: root.clone(),
                    version: Version::V2,
                    controllers,
                }),
                root,
                v1: Vec::new(),
            });
        }
        let mut unified = None;
        let mut v1 = Vec::new();
        let mut entries: Vec<_> = fs::read_dir(&root)?.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            // co-mounted hierarchies appear once as a directory plus symlinks: skip links
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let path = e.path();
            let m = statfs_magic(&path);
            if is_v2(&path, m) {
                if unified.is_none() {
                    let controllers = read_controllers(&path);
                    unified = Some(Mount {
                        path,
                        version: Version::V2,
                        controllers,
                    });
                }
                continue;
            }
            if m != Some(CGROUP_SUPER_MAGIC) && !path.join("cgroup.procs").is_file() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let controllers: Vec<String> = name
                .split(',')
                .filter(|c| V1_CONTROLLERS.contains(c))
                .map(str::to_string)
                .collect();
            if !controllers.is_empty() {
                v1.push(Mount {
                    path,
                    version: Version::V1,
                    controllers,
                });
            }
        }
        let mode = match (v1.is_empty(), unified.is_some()) {
            (false, true) => Mode::Hybrid,
            (false, false) => Mode::V1,
            (true, true) => Mode::V2,
            (true, false) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no cgroup hierarchy found under {}", root.display()),
                ));
            }
        };
        Ok(Hierarchy {
            mode,
            root,
            unified,
            v1,
        })
    }

    /// The hierarchy that holds `controller`: a v1 hierarchy if one has it, else the v2
    /// mount if its `cgroup.controllers` lists it.
    pub fn mount_of(&self, controller: &str) -> Option<&Mount> {
        let c = v1_name(controller);
        if let Some(m) = self
            .v1
            .iter()
            .find(|m| m.controllers.iter().any(|x| x == c))
        {
            return Some(m);
        }
        let c = v2_name(controller);
        self.unified
            .as_ref()
            .filter(|u| u.controllers.iter().any(|x| x == c))
    }

    /// The interface version `controller` is used through, if it is available at all.
    pub fn version_of(&self, controller: &str) -> Option<Version> {
        self.mount_of(controller).map(|m| m.version)
    }

    /// Every available controller with the version it is used through (v1 names for v1
    /// hierarchies, v2 names for the v2 mount), sorted by name.
    pub fn controllers(&self) -> BTreeMap<String, Version> {
        let mut out = BTreeMap::new();
        if let Some(u) = &self.unified {
            for c in &u.controllers {
                out.insert(c.clone(), Version::V2);
            }
        }
        for m in &self.v1 {
            for c in &m.controllers {
                out.insert(c.clone(), Version::V1);
            }
        }
        out
    }

    /// The directory of cgroup `path` (relative, see [`clean_path`]) in the hierarchy
    /// holding `controller`, whether or not it exists.
    pub fn dir(&self, controller: &str, path: &str) -> Option<PathBuf> {
        self.mount_of(controller).map(|m| join(&m.path, path))
    }

    /// The directory of cgroup `path` in the v2 mount (core files: `cgroup.procs`,
    /// `cgroup.freeze`, `cgroup.kill`, `cgroup.events`), if there is one.
    pub fn unified_dir(&self, path: &str) -> Option<PathBuf> {
        self.unified.as_ref().map(|m| join(&m.path, path))
    }
}

/// `mount/path`, `mount` itself for the root cgroup.
pub fn join(mount: &Path, path: &str) -> PathBuf {
    let p = path.trim_matches('/');
    if p.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(p)
    }
}

/// The v1 name of a controller (`io` is `blkio` on v1).
pub fn v1_name(controller: &str) -> &str {
    match controller {
        "io" => "blkio",
        c => c,
    }
}

/// The v2 name of a controller (`blkio` is `io`, `cpuacct` is part of `cpu`).
pub fn v2_name(controller: &str) -> &str {
    match controller {
        "blkio" => "io",
        "cpuacct" => "cpu",
        c => c,
    }
}

/// Check a cgroup path given by a user: relative to the hierarchy root (`ctrkit/web`; a
/// leading `/` is allowed), no `.` or `..` components, no empty names. Returns it without
/// leading and trailing slashes (`""` is the root).
pub fn clean_path(s: &str) -> Result<String, ParseError> {
    if s.contains('\0') || s.contains('\n') {
        return Err(ParseError::new(format!("{s:?} is not a cgroup path")));
    }
    let t = s.trim_matches('/');
    if t.is_empty() {
        return Ok(String::new());
    }
    for part in t.split('/') {
        match part {
            "" => {
                return Err(ParseError::new(format!(
                    "'{s}' has an empty component ('//')"
                )));
            }
            "." | ".." => {
                return Err(ParseError::new(format!(
                    "'{s}' leaves the hierarchy or is not canonical: '{part}' is not allowed"
                )));
            }
            p if p.starts_with("cgroup.") => {
                return Err(ParseError::new(format!(
                    "'{s}': '{p}' is a cgroup file name, not a cgroup"
                )));
            }
            _ => {}
        }
    }
    Ok(t.to_string())
}

/// Where one process is, per hierarchy (from `/proc/PID/cgroup`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PidCgroups {
    /// The path in the v2 hierarchy (`0::/path`), without the leading `/`.
    pub unified: Option<String>,
    /// v1 controller -> path, without the leading `/`.
    pub v1: BTreeMap<String, String>,
}

impl PidCgroups {
    /// The process's cgroup path for `controller` on hierarchy `h`.
    pub fn path_for(&self, h: &Hierarchy, controller: &str) -> Option<&str> {
        match h.version_of(controller)? {
            Version::V1 => self.v1.get(v1_name(controller)).map(String::as_str),
            Version::V2 => self.unified.as_deref(),
        }
    }
}

/// Parse `/proc/PID/cgroup` text into per-hierarchy paths.
pub fn parse_pid_cgroups(text: &str) -> PidCgroups {
    let mut out = PidCgroups::default();
    for e in crate::ns::parse_proc_cgroup(text) {
        let path = e.path.trim_start_matches('/').to_string();
        if e.hierarchy == 0 && e.controllers.is_empty() {
            out.unified = Some(path);
        } else {
            for c in e.controllers {
                out.v1.insert(c, path.clone());
            }
        }
    }
    out
}

/// The cgroups `pid` is in.
pub fn cgroup_of_pid(pid: i32) -> io::Result<PidCgroups> {
    Ok(parse_pid_cgroups(&fs::read_to_string(format!(
        "/proc/{pid}/cgroup"
    ))?))
}

/// A limit: a number, or `"max"` (none) in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Value(u64),
    Max,
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Limit::Value(v) => s.serialize_u64(*v),
            Limit::Max => s.serialize_str("max"),
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Value(v) => write!(f, "{v}"),
            Limit::Max => f.write_str("max"),
        }
    }
}

/// v1 writes "no limit" as a huge number (`PAGE_COUNTER_MAX * PAGE_SIZE`, ~2^63).
const V1_UNLIMITED: u64 = 1 << 62;

/// Parse a v2 limit (`max` or a number) or a v1 one (a huge number or `-1` = none).
pub fn parse_limit(s: &str) -> Option<Limit> {
    let t = s.trim();
    if t == "max" || t == "-1" {
        return Some(Limit::Max);
    }
    let v: u64 = t.parse().ok()?;
    Some(if v >= V1_UNLIMITED {
        Limit::Max
    } else {
        Limit::Value(v)
    })
}

/// Per-device I/O counters (`MAJ:MIN`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IoDevice {
    pub device: String,
    pub read_bytes: Option<u64>,
    pub write_bytes: Option<u64>,
    pub read_ios: Option<u64>,
    pub write_ios: Option<u64>,
}

/// Usage and limits of one cgroup, one schema for v1 and v2. Every key is always present
/// (`null` when the kernel interface in use does not know it or the controller is absent);
/// limits are a number or `"max"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub memory_current_bytes: Option<u64>,
    pub memory_peak_bytes: Option<u64>,
    pub memory_max_bytes: Option<Limit>,
    /// v2 only (`memory.high`).
    pub memory_high_bytes: Option<Limit>,
    /// memory + swap (Docker's meaning): v1 `memsw.limit_in_bytes`, v2 `max + swap.max`.
    pub memory_swap_max_bytes: Option<Limit>,
    /// v2 `memory.events` `oom` (v1 has no such counter).
    pub memory_oom_count: Option<u64>,
    /// v2 `memory.events` `oom_kill`, v1 `memory.oom_control` `oom_kill`.
    pub memory_oom_kill_count: Option<u64>,
    pub cpu_usage_usec: Option<u64>,
    pub cpu_user_usec: Option<u64>,
    pub cpu_system_usec: Option<u64>,
    pub cpu_nr_periods: Option<u64>,
    pub cpu_nr_throttled: Option<u64>,
    pub cpu_throttled_usec: Option<u64>,
    /// Quota per period (`cpu.max` first field, v1 `cfs_quota_us`).
    pub cpu_quota_usec: Option<Limit>,
    pub cpu_period_usec: Option<u64>,
    /// v2 `cpu.weight` (1..10000); on v1 converted from `cpu.shares`.
    pub cpu_weight: Option<u64>,
    /// v1 `cpu.shares` (2..262144); on v2 converted from `cpu.weight`.
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_current: Option<u64>,
    pub pids_max: Option<Limit>,
    pub io: Vec<IoDevice>,
}

/// cpu.shares (2..262144, default 1024) to cpu.weight (1..10000, default 100), the
/// conversion the kernel documentation, runc and crun use.
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// cpu.weight (1..10000) to cpu.shares (2..262144): the inverse of [`shares_to_weight`]
/// (rounded up so that a round trip gives the weight back).
pub fn weight_to_shares(weight: u64) -> u64 {
    let w = weight.clamp(1, 10_000);
    2 + ((w - 1) * 262_142).div_ceil(9999)
}

fn read_u64(p: &Path) -> Option<u64> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

fn read_str(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// `key value` lines (`memory.events`, `cpu.stat`, `memory.oom_control`).
pub fn read_flat_keyed(p: &Path) -> Option<BTreeMap<String, u64>> {
    let text = fs::read_to_string(p).ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(char::is_whitespace)?;
                Some((k.to_string(), v.trim().parse().ok()?))
            })
            .collect(),
    )
}

impl Usage {
    /// Read cgroup `path` (the same relative path in every hierarchy). Fails with
    /// `NotFound` when the cgroup exists in none of them.
    pub fn read(h: &Hierarchy, path: &str) -> io::Result<Usage> {
        let exists = h.unified_dir(path).is_some_and(|d| d.is_dir())
            || h.v1.iter().any(|m| join(&m.path, path).is_dir());
        if !exists {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no cgroup '{path}' under {}", h.root.display()),
            ));
        }
        Ok(Usage::read_with(h, |_| Some(path.to_string())))
    }

    /// Read the cgroups process `pid` is in, per controller.
    pub fn of_pid(h: &Hierarchy, pid: i32) -> io::Result<Usage> {
        let pc = cgroup_of_pid(pid)?;
        Ok(Usage::read_with(h, |c| {
            pc.path_for(h, c).map(str::to_string)
        }))
    }

    /// Read with a per-controller path (`path_of("memory")` etc.); controllers whose
    /// path is `None` or whose directory is missing stay `null`.
    pub fn read_with(h: &Hierarchy, path_of: impl Fn(&str) -> Option<String>) -> Usage {
        let mut u = Usage::default();
        let dir = |c: &str| -> Option<(Version, PathBuf)> {
            let m = h.mount_of(c)?;
            let d = join(&m.path, &path_of(c)?);
            d.is_dir().then_some((m.version, d))
        };
        if let Some((v, d)) = dir("memory") {
            match v {
                Version::V2 => {
                    u.memory_current_bytes = read_u64(&d.join("memory.current"));
                    u.memory_peak_bytes = read_u64(&d.join("memory.peak"));
                    u.memory_max_bytes =
                        read_str(&d.join("memory.max")).and_then(|s| parse_limit(&s));
                    u.memory_high_bytes =
                        read_str(&d.join("memory.high")).and_then(|s| parse_limit(&s));
                    let swap = read_str(&d.join("memory.swap.max")).and_then(|s| parse_limit(&s));
                    u.memory_swap_max_bytes = match (u.memory_max_bytes, swap) {
                        (Some(Limit::Value(m)), Some(Limit::Value(s))) => Some(Limit::Value(m + s)),
                        (Some(_), Some(_)) => Some(Limit::Max),
                        _ => None,
                    };
                    if let Some(ev) = read_flat_keyed(&d.join("memory.events")) {
                        u.memory_oom_count = ev.get("oom").copied();
                        u.memory_oom_kill_count = ev.get("oom_kill").copied();
                    }
                }
                Version::V1 => {
                    u.memory_current_bytes = read_u64(&d.join("memory.usage_in_bytes"));
                    u.memory_peak_bytes = read_u64(&d.join("memory.max_usage_in_bytes"));
                    u.memory_max_bytes =
                        read_str(&d.join("memory.limit_in_bytes")).and_then(|s| parse_limit(&s));
                    u.memory_swap_max_bytes = read_str(&d.join("memory.memsw.limit_in_bytes"))
                        .and_then(|s| parse_limit(&s));
                    if let Some(oc) = read_flat_keyed(&d.join("memory.oom_control")) {
                        u.memory_oom_kill_count = oc.get("oom_kill").copied();
                    }
                }
            }
        }
        // usage: v1 cpuacct, else the v2 cpu.stat (a core file, present without +cpu)
        if let Some((Version::V1, d)) = dir("cpuacct") {
            u.cpu_usage_usec = read_u64(&d.join("cpuacct.usage")).map(|ns| ns / 1000);
            if let Some(st) = read_flat_keyed(&d.join("cpuacct.stat")) {
                let tick = clock_tick_usec();
                u.cpu_user_usec = st.get("user").map(|t| t * tick);
                u.cpu_system_usec = st.get("system").map(|t| t * tick);
            }
        } else if let Some(d) = path_of("cpu")
            .and_then(|p| h.unified_dir(&p))
            .filter(|d| d.is_dir())
        {
            if let Some(st) = read_flat_keyed(&d.join("cpu.stat")) {
                u.cpu_usage_usec = st.get("usage_usec").copied();
                u.cpu_user_usec = st.get("user_usec").copied();
                u.cpu_system_usec = st.get("system_usec").copied();
            }
        }
        if let Some((v, d)) = dir("cpu") {
            let st = read_flat_keyed(&d.join("cpu.stat")).unwrap_or_default();
            u.cpu_nr_periods = st.get("nr_periods").copied();
            u.cpu_nr_throttled = st.get("nr_throttled").copied();
            match v {
                Version::V2 => {
                    u.cpu_throttled_usec = st.get("throttled_usec").copied();
                    if let Some(max) = read_str(&d.join("cpu.max")) {
                        let mut it = max.split_whitespace();
                        u.cpu_quota_usec = it.next().and_then(parse_limit);
                        u.cpu_period_usec = it.next().and_then(|p| p.parse().ok());
                    }
                    u.cpu_weight = read_u64(&d.join("cpu.weight"));
                    u.cpu_shares = u.cpu_weight.map(weight_to_shares);
                }
                Version::V1 => {
                    u.cpu_throttled_usec = st.get("throttled_time").map(|ns| ns / 1000);
                    u.cpu_quota_usec =
                        read_str(&d.join("cpu.cfs_quota_us")).and_then(|s| parse_limit(&s));
                    u.cpu_period_usec = read_u64(&d.join("cpu.cfs_period_us"));
                    u.cpu_shares = read_u64(&d.join("cpu.shares"));
                    u.cpu_weight = u.cpu_shares.map(shares_to_weight);
                }
            }
        }
        if let Some((_, d)) = dir("cpuset") {
            u.cpuset_cpus = read_str(&d.join("cpuset.cpus"));
            u.cpuset_mems = read_str(&d.join("cpuset.mems"));
        }
        if let Some((_, d)) = dir("pids") {
            u.pids_current = read_u64(&d.join("pids.current"));
            u.pids_max = read_str(&d.join("pids.max")).and_then(|s| parse_limit(&s));
        }
        if let Some((v, d)) = dir("io") {
            u.io = match v {
                Version::V2 => read_io_v2(&d.join("io.stat")),
                Version::V1 => read_io_v1(&d),
            };
        }
        u
    }
}

fn clock_tick_usec() -> u64 {
    1_000_000u64
        .checked_div(rustix::param::clock_ticks_per_second())
        .unwrap_or(10_000)
}

/// v2 `io.stat`: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`.
pub fn parse_io_stat_v2(text: &str) -> Vec<IoDevice> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(dev) = it.next() else { continue };
        let mut d = IoDevice {
            device: dev.to_string(),
            ..IoDevice::default()
        };
        for kv in it {
            if let Some((k, v)) = kv.split_once('=') {
                let v = v.parse().ok();
                match k {
                    "rbytes" => d.read_bytes = v,
                    "wbytes" => d.write_bytes = v,
                    "rios" => d.read_ios = v,
                    "wios" => d.write_ios = v,
                    _ => {}
                }
            }
        }
        out.push(d);
    }
    out
}

fn read_io_v2(p: &Path) -> Vec<IoDevice> {
    fs::read_to_string(p)
        .map(|t| parse_io_stat_v2(&t))
        .unwrap_or_default()
}

/// v1 `blkio.throttle.io_service_bytes` / `io_serviced`: `8:0 Read 123` lines.
fn read_io_v1(d: &Path) -> Vec<IoDevice> {
    let mut devs: BTreeMap<String, IoDevice> = BTreeMap::new();
    for (file, bytes) in [
        ("blkio.throttle.io_service_bytes", true),
        ("blkio.throttle.io_serviced", false),
    ] {
        let Ok(text) = fs::read_to_string(d.join(file)) else {
            continue;
        };
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() != 3 || !f[0].contains(':') {
                continue;
            }
            let v = f[2].parse().ok();
            let e = devs.entry(f[0].to_string()).or_insert_with(|| IoDevice {
                device: f[0].to_string(),
                ..IoDevice::default()
            });
            match (f[1], bytes) {
                ("Read", true) => e.read_bytes = v,
                ("Write", true) => e.write_bytes = v,
                ("Read", false) => e.read_ios = v,
                ("Write", false) => e.write_ios = v,
                _ => {}
            }
        }
    }
    devs.into_values().collect()
}

// ---- freezing, for tools that read a container's files while it runs ------------------------

/// A cgroup frozen while this lives: dropping it thaws the cgroup (unless it was frozen
/// before, by someone else) and lets the signals blocked meanwhile through, so that an error,
/// an early return or a Ctrl-C never leaves a container frozen. (`cgset freeze` is the
/// command; this is for a tool that must hold a container still while it reads its files.)
#[derive(Debug)]
pub struct Frozen {
    /// the state file written, and what to write there to thaw
    file: PathBuf,
    thaw: &'static str,
    /// it was frozen already: leave it so
    was_frozen: bool,
    old_mask: nix::sys::signal::SigSet,
}

/// Freeze cgroup `path` (relative, see [`clean_path`]) and wait up to `wait` for the kernel
/// to finish: the v1 freezer when that controller is a v1 hierarchy, else the v2 mount's
/// `cgroup.freeze`. `Ok(None)` when the cgroup is in neither (nothing there to freeze).
pub fn freeze(h: &Hierarchy, path: &str, wait: std::time::Duration) -> io::Result<Option<Frozen>> {
    let (file, on, off, done, events) = match h.version_of("freezer") {
        Some(Version::V1) => match h.dir("freezer", path).filter(|d| d.is_dir()) {
            Some(d) => (d.join("freezer.state"), "FROZEN", "THAWED", "FROZEN", None),
            None => return Ok(None),
        },
        _ => match h
            .unified_dir(path)
            .filter(|d| d.join("cgroup.freeze").is_file())
        {
            Some(d) => (
                d.join("cgroup.freeze"),
                "1",
                "0",
                "frozen 1",
                Some(d.join("cgroup.events")),
            ),
            None => return Ok(None),
        },
    };
    let state = events.clone().unwrap_or_else(|| file.clone());
    let is_frozen = || -> io::Result<bool> {
        Ok(fs::read_to_string(&state)?
            .lines()
            .any(|l| l.trim() == done))
    };
    let was_frozen = match &events {
        // v2: the request, not the effective state (a frozen parent freezes us too)
        Some(_) => fs::read_to_string(&file)?.trim() == "1",
        None => is_frozen()?,
    };
    // no signal may end us while the cgroup is frozen: they wait until it is thawed
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    let mut block = SigSet::empty();
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        block.add(sig);
    }
    let mut old_mask = SigSet::empty();
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&block), Some(&mut old_mask));
    let frozen = Frozen {
        file,
        thaw: off,
        was_frozen,
        old_mask,
    };
    if !was_frozen {
        fs::write(&frozen.file, on)?;
    }
    let deadline = std::time::Instant::now() + wait;
    while !is_frozen()? {
        if std::time::Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("not frozen after {:.1} s", wait.as_secs_f64()),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Ok(Some(frozen))
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if !self.was_frozen {
            let _ = fs::write(&self.file, self.thaw);
        }
        // the mask saved when blocking
        let _ = nix::sys::signal::pthread_sigmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&self.old_mask),
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }

    #[test]
    fn paths() {
        assert_eq!(clean_path("/ctrkit/web/").unwrap(), "ctrkit/web");
        assert_eq!(clean_path("/").unwrap(), "");
        for bad in ["../x", "a/../../b", "a//b", "./a", "a/cgroup.procs"] {
            assert!(clean_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weight_shares_round_trip() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(10_000), 262_144);
        for w in 1..=10_000 {
            assert_eq!(shares_to_weight(weight_to_shares(w)), w, "weight {w}");
        }
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit("max"), Some(Limit::Max));
        assert_eq!(parse_limit("-1"), Some(Limit::Max));
        assert_eq!(parse_limit("9223372036854771712"), Some(Limit::Max));
        assert_eq!(parse_limit("33554432"), Some(Limit::Value(33_554_432)));
        assert_eq!(serde_json::to_string(&Limit::Max).unwrap(), "\"max\"");
    }

    #[test]
    fn pid_cgroups_hybrid() {
        let pc = parse_pid_cgroups("4:memory:/a/b\n1:cpu,cpuacct:/\n0::/u\n");
        assert_eq!(pc.unified.as_deref(), Some("u"));
        assert_eq!(pc.v1.get("memory").map(String::as_str), Some("a/b"));
        assert_eq!(pc.v1.get("cpuacct").map(String::as_str), Some(""));
    }

    #[test]
    fn fake_v2_tree() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(&r.join("cgroup.controllers"), "cpu memory pids io\n");
        let c = r.join("x");
        write(&c.join("memory.current"), "4096\n");
        write(&c.join("memory.max"), "max\n");
        write(&c.join("memory.swap.max"), "1048576\n");
        write(
            &c.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n",
        );
        write(
            &c.join("cpu.stat"),
            "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 5\nnr_throttled 2\nthrottled_usec 7\n",
        );
        write(&c.join("cpu.max"), "50000 100000\n");
        write(&c.join("pids.max"), "20\n");
        write(&c.join("io.stat"), "8:0 rbytes=1 wbytes=2 rios=3 wios=4\n");
        let h = Hierarchy::at(r).unwrap();
        assert_eq!(h.mode, Mode::V2);
        assert_eq!(h.version_of("memory"), Some(Version::V2));
        assert_eq!(h.version_of("freezer"), None);
        let u = Usage::read(&h, "x").unwrap();
        assert_eq!(u.memory_current_bytes, Some(4096));
        assert_eq!(u.memory_max_bytes, Some(Limit::Max));
        assert_eq!(u.memory_swap_max_bytes, Some(Limit::Max));
        assert_eq!(u.memory_oom_kill_count, Some(1));
        assert_eq!(u.cpu_nr_throttled, Some(2));
        assert_eq!(u.cpu_quota_usec, Some(Limit::Value(50_000)));
        assert_eq!(u.pids_max, Some(Limit::Value(20)));
        assert_eq!(u.io[0].write_ios, Some(4));
        assert!(Usage::read(&h, "nope").is_err());
        let j = serde_json::to_value(&u).unwrap();
        assert!(j.get("memory_peak_bytes").unwrap().is_null());
    }

    #[test]
    fn fake_hybrid_tree() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(&r.join("memory/cgroup.procs"), "");
        write(&r.join("cpu,cpuacct/cgroup.procs"), "");
        write(&r.join("unified/cgroup.controllers"), "hugetlb\n");
        write(&r.join("systemd/cgroup.procs"), "");
        let c = r.join("memory/x");
        write(&c.join("memory.limit_in_bytes"), "33554432\n");
        write(
            &c.join("memory.memsw.limit_in_bytes"),
            "9223372036854771712\n",
        );
        write(
            &c.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        );
        let c = r.join("cpu,cpuacct/x");
        write(&c.join("cpuacct.usage"), "2000000\n");
        write(&c.join("cpu.shares"), "1024\n");
        write(&c.join("cpu.cfs_quota_us"), "-1\n");
        write(
            &c.join("cpu.stat"),
            "nr_periods 4\nnr_throttled 1\nthrottled_time 5000\n",
        );
        let h = Hierarchy::at(r).unwrap();
        assert_eq!(h.mode, Mode::Hybrid);
        assert_eq!(h.version_of("memory"), Some(Version::V1));
        assert_eq!(h.version_of("hugetlb"), Some(Version::V2));
        assert_eq!(h.version_of("io"), None);
        assert_eq!(h.dir("cpuacct", "x").unwrap(), r.join("cpu,cpuacct/x"));
        let u = Usage::read(&h, "x").unwrap();
        assert_eq!(u.memory_max_bytes, Some(Limit::Value(32 << 20)));
        assert_eq!(u.memory_swap_max_bytes, Some(Limit::Max));
        assert_eq!(u.memory_oom_kill_count, Some(3));
        assert_eq!(u.memory_oom_count, None);
        assert_eq!(u.cpu_usage_usec, Some(2000));
        assert_eq!(u.cpu_throttled_usec, Some(5));
        assert_eq!(u.cpu_quota_usec, Some(Limit::Max));
        assert_eq!(u.cpu_weight, Some(39));
        assert_eq!(u.pids_current, None);
    }

    #[test]
    fn this_machine() {
        // whatever the layout, detection must not fail where /sys/fs/cgroup exists
        if Path::new(DEFAULT_ROOT).is_dir() {
            let h = Hierarchy::detect().unwrap();
            assert!(h.unified.is_some() || !h.v1.is_empty());
        }
    }
}

//! Container discovery from the host, for any runtime, with no daemon's help.
//!
//! A container is a group of processes that share one set of namespaces differing from the
//! host's (pid 1's). Its init is the group's top process (the oldest whose parent is outside
//! the group). A launcher left in between (the `unshare` of `unshare -fp --mount-proc`,
//! whose namespaces are a subset of its child's) is folded into the child's container.
//!
//! Identity comes from, in order:
//! 1. ctrkit's state dir: `$CTRKIT_STATE/containers/<name>/pid` holds the init's host pid;
//! 2. the init's cgroup path (`/docker/<id>`, `docker-<id>.scope`, `libpod-<id>.scope`,
//!    `crio-<id>.scope`, `cri-containerd-<id>.scope`, `kubepods...`, `/lxc.payload.<name>`,
//!    `machine.slice/machine-<name>.scope`);
//! 3. runtime state dirs, where readable: `/run/runc/<id>/state.json`,
//!    `/run/crun/<id>/status`, `/run/containerd/...` (by init pid, or by the cgroup path a
//!    runc/crun `--cgroup` gave it);
//! 4. else a stable synthetic id made from the namespace inode numbers (runtime `unshare`).
//!
//! Then each runtime's own records name it and say more (image, status, ports, Kubernetes
//! pod): see [`records`] for the files read. A ctrkit pidfile counts only while its process
//! started before the file was written, has no `exit` file beside it, and sits in the
//! recorded `cgroup` (a pid reused by another process is not the container).
//!
//! The walk reads, per process, `/proc/PID/stat` once and `fstatat` on the `ns/*` links,
//! relative to a directory fd; cgroup files are read for inits only. Processes that exit
//! mid-scan, unreadable files and kernel threads are skipped, never an error.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::ns::{CgroupEntry, NsKind, proc_cgroup_at};
use crate::state::Dirs;
use procfs::{FromRead, FromReadSI};

pub mod records;
pub use records::{Records, Sources};

/// `/proc`, unless `CTRKIT_PROC` points elsewhere (tests).
fn proc_root() -> PathBuf {
    std::env::var_os("CTRKIT_PROC")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/proc"))
}

/// Namespace inode numbers in [`NsKind::ALL`] order; 0 = unknown (unreadable or absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NsSet(pub [u64; 8]);

impl NsSet {
    pub fn get(&self, kind: NsKind) -> u64 {
        self.0[kind_index(kind)]
    }

    /// True when no inode could be read (zombie, permission denied, gone).
    pub fn is_unknown(&self) -> bool {
        self.0.iter().all(|&i| i == 0)
    }

    /// The kinds where both sets are known and differ.
    pub fn differing(&self, other: &NsSet) -> Vec<NsKind> {
        NsKind::ALL
            .into_iter()
            .filter(|&k| {
                let (a, b) = (self.get(k), other.get(k));
                a != 0 && b != 0 && a != b
            })
            .collect()
    }

    /// `kind -> inode` for the known kinds.
    pub fn to_map(&self) -> BTreeMap<NsKind, u64> {
        NsKind::ALL
            .into_iter()
            .filter(|&k| self.get(k) != 0)
            .map(|k| (k, self.get(k)))
            .collect()
    }
}

fn kind_index(kind: NsKind) -> usize {
    NsKind::ALL.iter().position(|&k| k == kind).unwrap_or(0)
}

/// One process as the walk saw it (from `/proc/PID/ns/*` and `/proc/PID/stat`).
///
/// To stay fast, `stat` is read only for processes outside the host's namespaces (and for
/// those whose namespaces are unreadable); for a process in the host's namespaces
/// `detailed` is false and `ppid`, `state`, `comm` and the times are zero or empty: use
/// [`read_proc`] when they matter.
#[derive(Debug, Clone)]
pub struct ProcInfo {
    /// False for a host process whose `stat` was not read.
    pub detailed: bool,
    pub pid: i32,
    pub ppid: i32,
    /// `R`, `S`, `D`, `Z`, ...
    pub state: char,
    pub comm: String,
    /// Start time in clock ticks after boot.
    pub start_ticks: u64,
    /// User and system CPU time in clock ticks.
    pub utime: u64,
    pub stime: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
    pub ns: NsSet,
}

impl ProcInfo {
    fn host_only(pid: i32, ns: NsSet) -> ProcInfo {
        ProcInfo {
            detailed: false,
            pid,
            ppid: 0,
            state: '?',
            comm: String::new(),
            start_ticks: 0,
            utime: 0,
            stime: 0,
            rss_pages: 0,
            ns,
        }
    }
}

/// Read one process in full (`None` when it is gone, unreadable or a kernel thread).
pub fn read_proc(pid: i32) -> Option<ProcInfo> {
    let dir = DirFd::open(&proc_root().join(pid.to_string())).ok()?;
    let ns = dir.ns_set();
    read_stat_at(&dir, pid, ns, &mut Vec::new())
}

/// Read `stat` relative to the process's directory fd (the walk's hot path) and parse it
/// with procfs. Measured on ~2100 processes in 20 containers (`bench/bench-ctr-ps.sh`'s
/// set-up, two runs of 90 interleaved `hyperfine -N` runs each, 2026-12-04): procfs's
/// `Process::new_with_root` + `stat()` per process made `ctr-ps` 7-12% slower (80.0 ->
/// 86.0 ms, 84.1 -> 94.1 ms median wall) and `ctr-ps --json` 13-14%, over the 10% allowed,
/// so the read stays on the `/proc/PID` fd the walk already holds; procfs's parser on that
/// buffer costs 1-5%.
fn read_stat_at(dir: &DirFd, pid: i32, ns: NsSet, buf: &mut Vec<u8>) -> Option<ProcInfo> {
    dir.read("stat", buf).ok()?;
    let st = parse_stat(buf)?;
    if st.flags & PF_KTHREAD != 0 {
        return None;
    }
    Some(ProcInfo {
        detailed: true,
        pid,
        ppid: st.ppid,
        state: st.state,
        comm: st.comm,
        start_ticks: st.starttime,
        utime: st.utime,
        stime: st.stime,
        rss_pages: st.rss,
        ns,
    })
}

/// A container seen from the host.
#[derive(Debug, Clone)]
pub struct Container {
    /// The runtime's id (64 hex for docker-likes), the ctrkit name, or a synthetic id.
    pub id: String,
    pub name: Option<String>,
    /// `ctrkit`, `docker`, `podman`, `containerd`, `cri-o`, `kubernetes`, `lxc`, `nspawn`,
    /// `runc`, `crun` or `unshare`.
    pub runtime: String,
    /// Host pid of the init.
    pub pid: i32,
    /// The launcher folded into this container (e.g. `unshare` waiting for its child).
    pub launcher_pid: Option<i32>,
    /// Every namespace of the init: kind -> inode.
    pub namespaces: BTreeMap<NsKind, u64>,
    /// The kinds the init does not share with the host.
    pub private_namespaces: Vec<NsKind>,
    /// The init's cgroup path that named it, else its v2 (or first) cgroup path.
    pub cgroup: Option<String>,
    /// Every line of the init's `/proc/PID/cgroup`.
    pub cgroups: Vec<CgroupEntry>,
    /// The cgroup its runtime made for it alone and the init was found in (ctrkit's, from
    /// its state folder), without the leading `/`; `None` when not recorded.
    pub own_cgroup: Option<String>,
    /// Host pids of every process in the container, ascending (launcher excluded).
    pub pids: Vec<i32>,
    /// The init's start time in clock ticks after boot.
    pub start_ticks: u64,
    /// The init's command name (`comm`).
    pub comm: String,
    /// What its runtime recorded about it (image, status, pod, ...).
    pub records: Records,
}

impl Container {
    /// True when the container shares the host's namespace of `kind`.
    pub fn shares_host(&self, kind: NsKind) -> bool {
        !self.private_namespaces.contains(&kind)
    }
}

/// One full look at the host: its namespaces, every process, every container.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The host's namespaces (pid 1's, or this process's when pid 1 is unreadable).
    pub host: NsSet,
    /// True when pid 1's namespaces could not be read (not root) and ours stood in.
    pub host_is_self: bool,
    /// Every process but kernel threads, by pid.
    pub procs: Vec<ProcInfo>,
    pub containers: Vec<Container>,
}

impl Snapshot {
    pub fn proc(&self, pid: i32) -> Option<&ProcInfo> {
        self.procs
            .binary_search_by_key(&pid, |p| p.pid)
            .ok()
            .map(|i| &self.procs[i])
    }

    /// The container a host pid belongs to (its launcher counts too).
    pub fn container_of(&self, pid: i32) -> Option<&Container> {
        self.containers
            .iter()
            .find(|c| c.pids.binary_search(&pid).is_ok())
            .or_else(|| self.containers.iter().find(|c| c.launcher_pid == Some(pid)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("no container '{0}' on this host")]
    NotFound(String),
    #[error("'{query}' is ambiguous: it matches {}", .matches.join(", "))]
    Ambiguous { query: String, matches: Vec<String> },
    #[error("ctrkit container '{name}' is not running: {why}")]
    Stale { name: String, why: String },
    #[error("cannot scan {path} for containers")]
    Scan {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Every container on the host.
pub fn scan(dirs: &Dirs) -> io::Result<Vec<Container>> {
    Ok(snapshot(dirs)?.containers)
}

/// Find one container by name, full id or unique id prefix (runtime roots from the
/// environment, see [`Sources::from_env`]).
pub fn resolve(query: &str, dirs: &Dirs) -> Result<Container, DiscoverError> {
    resolve_with(query, dirs, &Sources::from_env())
}

/// [`resolve`] with the runtimes' roots given.
pub fn resolve_with(
    query: &str,
    dirs: &Dirs,
    sources: &Sources,
) -> Result<Container, DiscoverError> {
    let snap = snapshot_with(dirs, sources).map_err(|source| DiscoverError::Scan {
        path: proc_root(),
        source,
    })?;
    resolve_in(query, &snap.containers).cloned()
}

/// Find one container in a list: by name (its ctrkit or runtime name, or `POD/CONTAINER`
/// for Kubernetes), then by full id, then by id prefix. A name or prefix that more than one
/// container answers to is an error listing them all, never the first.
pub fn resolve_in<'a>(
    query: &str,
    containers: &'a [Container],
) -> Result<&'a Container, DiscoverError> {
    if query.is_empty() {
        return Err(DiscoverError::NotFound(query.to_string()));
    }
    let one = |found: Vec<&'a Container>| -> Result<Option<&'a Container>, DiscoverError> {
        match found.len() {
            0 => Ok(None),
            1 => Ok(Some(found[0])),
            _ => Err(DiscoverError::Ambiguous {
                query: query.to_string(),
                matches: found.iter().map(|c| candidate(c)).collect(),
            }),
        }
    };
    let by_name = containers
        .iter()
        .filter(|c| c.name.as_deref() == Some(query))
        .collect();
    if let Some(c) = one(by_name)? {
        return Ok(c);
    }
    if let Some(c) = containers.iter().find(|c| c.id == query) {
        return Ok(c);
    }
    let by_prefix = containers
        .iter()
        .filter(|c| c.id.starts_with(query))
        .collect();
    one(by_prefix)?.ok_or_else(|| DiscoverError::NotFound(query.to_string()))
}

/// How an ambiguity error names one candidate: `ID (RUNTIME NAME, pid PID)`, with the
/// full id (short ones may not tell the candidates apart).
fn candidate(c: &Container) -> String {
    match &c.name {
        Some(n) => format!("{} ({} {n}, pid {})", c.id, c.runtime, c.pid),
        None => format!("{} ({}, pid {})", c.id, c.runtime, c.pid),
    }
}

/// The init's host pid of a container, fast: a ctrkit name or a runc/crun id is looked up
/// in the state dirs without walking `/proc`; anything else falls back to [`resolve`].
/// A ctrkit pidfile whose process is gone or not the one it was written for is skipped
/// (and named in the error when nothing else answers to the name).
pub fn resolve_pid(query: &str, dirs: &Dirs) -> Result<i32, DiscoverError> {
    resolve_pid_with(query, dirs, &Sources::from_env())
}

/// [`resolve_pid`] with the runtimes' roots given.
pub fn resolve_pid_with(query: &str, dirs: &Dirs, sources: &Sources) -> Result<i32, DiscoverError> {
    let mut stale = None;
    if crate::parse::parse_container_name(query).is_ok() {
        let dir = dirs.container_dir(query);
        match check_ctrkit_pid(&dir, None) {
            Ok(Some(pid)) if alive_in_container(pid) => return Ok(pid),
            Ok(_) => {}
            Err(why) => stale = Some(why),
        }
    }
    if !query.contains('/') && !query.starts_with('.') {
        for dir in state_dirs(sources) {
            if let Some(st) = read_runtime_state(&dir.path.join(query), dir.kind) {
                if alive_in_container(st.pid) {
                    return Ok(st.pid);
                }
            }
        }
    }
    match resolve_with(query, dirs, sources) {
        Err(DiscoverError::NotFound(_)) if stale.is_some() => Err(DiscoverError::Stale {
            name: query.to_string(),
            why: stale.unwrap_or_default(),
        }),
        r => r.map(|c| c.pid),
    }
}

/// The pid in a ctrkit state folder, if it still is the container's process:
/// `Ok(None)` when there is no pidfile, `Err(why)` when it is stale (an `exit` file, the
/// process gone, started after the pidfile was written, or out of the recorded cgroup).
/// `start_ticks` is the process's start time when the caller has it.
fn check_ctrkit_pid(dir: &Path, start_ticks: Option<u64>) -> Result<Option<i32>, String> {
    let Some(pid) = read_pid_file(&dir.join("pid")) else {
        return Ok(None);
    };
    check_ctrkit_pid_known(dir, pid, start_ticks, None, None).map(|o| o.map(|(pid, _)| pid))
}

/// [`check_ctrkit_pid`] for a pid already read from the folder's pidfile, with its start
/// time and its `/proc/PID/cgroup` lines when the caller has them (a scan has both: a
/// thousand containers then cost no second read of either). Also gives the cgroup the
/// folder records (without the leading `/`), which the process was found in.
/// `written` is the pidfile's mtime when the caller read it with the pid.
fn check_ctrkit_pid_known(
    dir: &Path,
    pid: i32,
    start_ticks: Option<u64>,
    cgroups: Option<&[CgroupEntry]>,
    written: Option<std::time::SystemTime>,
) -> Result<Option<(i32, Option<String>)>, String> {
    let pidfile = dir.join("pid");
    if dir.join("exit").exists() {
        return Err(format!(
            "it has exited (pid {pid}; {} exists)",
            dir.join("exit").display()
        ));
    }
    let written = match written {
        Some(w) => w,
        None => fs::metadata(&pidfile)
            .and_then(|m| m.modified())
            .map_err(|_| format!("{} vanished", pidfile.display()))?,
    };
    let ticks = match start_ticks {
        Some(t) => t,
        None => read_proc(pid)
            .map(|p| p.start_ticks)
            .ok_or_else(|| format!("its process {pid} is gone"))?,
    };
    if let Some(started) = started_at(ticks) {
        if started > written + std::time::Duration::from_secs(1) {
            return Err(format!(
                "pid {pid} is another process, started after {} was written",
                pidfile.display()
            ));
        }
    }
    let mut recorded = None;
    let mut buf = Vec::new();
    if read_small(&dir.join("cgroup"), &mut buf, true).is_ok() {
        let cg = String::from_utf8_lossy(&buf);
        let cg = cg.trim().trim_matches('/');
        let in_it = |es: &[CgroupEntry]| es.iter().any(|e| e.path.trim_matches('/') == cg);
        let inside = match cgroups {
            Some(es) => in_it(es),
            None => proc_cgroup_at(&proc_root().join(pid.to_string()))
                .map(|es| in_it(&es))
                .unwrap_or(false),
        };
        if !cg.is_empty() && !inside {
            return Err(format!("pid {pid} is not in the container's cgroup {cg}"));
        }
        recorded = (!cg.is_empty()).then(|| cg.to_string());
    }
    Ok(Some((pid, recorded)))
}

/// When a process that started `ticks` clock ticks after boot started, as wall-clock time
/// (boot time from `/proc/stat`, ticks per second from `sysconf`): at most one
/// second early, never late.
fn started_at(ticks: u64) -> Option<std::time::SystemTime> {
    // read once per run: /proc/stat is long (a line per CPU, every interrupt's count), and
    // a scan checks every ctrkit container's pidfile
    static BTIME: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let btime = (*BTIME.get_or_init(|| {
        let stat = proc_root().join("stat");
        procfs::KernelStats::from_file(stat, procfs::current_system_info())
            .ok()
            .map(|k| k.btime)
    }))?;
    let hz = clock_ticks_per_sec()?;
    let since_boot = std::time::Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / hz);
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(btime) + since_boot)
}

/// `sysconf(_SC_CLK_TCK)` (`AT_CLKTCK` in the auxiliary vector).
fn clock_ticks_per_sec() -> Option<u64> {
    Some(procfs::ticks_per_second()).filter(|&v| v > 0)
}

/// A process's arguments, with procfs; arguments that are not UTF-8 (a file name) are
/// read lossily instead of losing the whole command line, as procfs's `cmdline()` would.
pub fn cmdline_of(p: &procfs::process::Process) -> Option<Vec<String>> {
    if let Ok(args) = p.cmdline() {
        return Some(args);
    }
    let mut raw = Vec::new();
    io::Read::read_to_end(&mut p.open_relative("cmdline").ok()?, &mut raw).ok()?;
    Some(
        raw.split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// The arguments in the text of `/proc/PID/cmdline`, as [`cmdline_of`] gives them.
pub fn split_cmdline(raw: &[u8]) -> Vec<String> {
    raw.split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The first 12 characters of an id (`docker ps` style).
pub fn short_id(id: &str) -> &str {
    match id.char_indices().nth(12) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

fn read_pid_file(path: &Path) -> Option<i32> {
    fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&p| p > 0)
}

/// The process exists and is in some namespace other than the host's.
fn alive_in_container(pid: i32) -> bool {
    let proc = proc_root();
    let Ok(dir) = DirFd::open(&proc.join(pid.to_string())) else {
        return false;
    };
    let mine = dir.ns_set();
    if mine.is_unknown() {
        return false;
    }
    let host = DirFd::open(&proc.join("1"))
        .map(|d| d.ns_set())
        .ok()
        .filter(|s| !s.is_unknown())
        .unwrap_or_else(|| {
            DirFd::open(&proc.join("self"))
                .map(|d| d.ns_set())
                .unwrap_or_default()
        });
    !mine.differing(&host).is_empty()
}

// --- the walk --------------------------------------------------------------------------

/// Walk `/proc` once and group processes into containers (runtime roots from the
/// environment, see [`Sources::from_env`]).
pub fn snapshot(dirs: &Dirs) -> io::Result<Snapshot> {
    snapshot_with(dirs, &Sources::from_env())
}

/// [`snapshot`] with the runtimes' roots given.
pub fn snapshot_with(dirs: &Dirs, sources: &Sources) -> io::Result<Snapshot> {
    let proc = proc_root();
    let host_pid1 = DirFd::open(&proc.join("1"))
        .map(|d| d.ns_set())
        .ok()
        .filter(|s| !s.is_unknown());
    let host_is_self = host_pid1.is_none();
    let host = match host_pid1 {
        Some(h) => h,
        None => DirFd::open(&proc.join("self"))?.ns_set(),
    };

    let mut procs = Vec::with_capacity(1024);
    let mut buf = Vec::with_capacity(1024);
    for entry in fs::read_dir(&proc)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(pid) = std::str::from_utf8(name.as_bytes())
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(dir) = DirFd::open(&entry.path()) else {
            continue;
        };
        let ns = dir.ns_set();
        // a process in the host's namespaces needs nothing more (that is most of them):
        // stat is read for the rest, and for the unreadable (zombies, permission denied)
        if ns == host {
            procs.push(ProcInfo::host_only(pid, ns));
            continue;
        }
        let Some(p) = read_stat_at(&dir, pid, ns, &mut buf) else {
            continue;
        };
        procs.push(p);
    }
    procs.sort_by_key(|p| p.pid);
    let containers = group(&proc, &host, &procs, dirs, sources);
    Ok(Snapshot {
        host,
        host_is_self,
        procs,
        containers,
    })
}

/// Group processes into containers and name them.
fn group(
    proc: &Path,
    host: &NsSet,
    procs: &[ProcInfo],
    dirs: &Dirs,
    sources: &Sources,
) -> Vec<Container> {
    let index: HashMap<i32, usize> = procs.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();

    // group key per process: its ns set when it differs from the host's; processes whose
    // namespaces are unreadable (zombies) follow their parent
    // (a zombie keeps only its user and pid namespace links: it counts as unreadable)
    let unreadable = |p: &ProcInfo| p.state == 'Z' || p.ns.get(NsKind::Mnt) == 0;
    let mut key: Vec<Option<NsSet>> = procs
        .iter()
        .map(|p| (!unreadable(p) && !p.ns.differing(host).is_empty()).then_some(p.ns))
        .collect();
    for i in 0..procs.len() {
        if unreadable(&procs[i]) {
            let mut cur = procs[i].ppid;
            for _ in 0..64 {
                let Some(&j) = index.get(&cur) else { break };
                if !unreadable(&procs[j]) {
                    key[i] = key[j];
                    break;
                }
                cur = procs[j].ppid;
            }
        }
    }

    let mut groups: HashMap<NsSet, Vec<usize>> = HashMap::new();
    for (i, k) in key.iter().enumerate() {
        if let Some(k) = k {
            groups.entry(*k).or_default().push(i);
        }
    }

    struct Group {
        ns: NsSet,
        members: Vec<usize>,
        init: usize,
        launcher: Option<usize>,
        folded: bool,
    }
    let mut gs: Vec<Group> = groups
        .into_iter()
        .map(|(ns, members)| {
            let init = members
                .iter()
                .copied()
                .filter(|&i| {
                    index
                        .get(&procs[i].ppid)
                        .is_none_or(|&j| key[j] != Some(ns))
                })
                .min_by_key(|&i| (procs[i].start_ticks, procs[i].pid))
                .unwrap_or(members[0]);
            Group {
                ns,
                members,
                init,
                launcher: None,
                folded: false,
            }
        })
        .collect();
    gs.sort_by_key(|g| (procs[g.init].start_ticks, procs[g.init].pid));

    // fold launchers: a group whose init is the parent of another group's init and whose
    // private namespaces are all shared by that child group
    let by_init: HashMap<i32, usize> = gs
        .iter()
        .enumerate()
        .map(|(gi, g)| (procs[g.init].pid, gi))
        .collect();
    // (a map, not a search of the groups for each: quadratic with thousands of containers)
    let by_ns: HashMap<NsSet, usize> = gs.iter().enumerate().map(|(gi, g)| (g.ns, gi)).collect();
    for gi in 0..gs.len() {
        let parent_pid = procs[gs[gi].init].ppid;
        let Some(&pi) = index.get(&parent_pid) else {
            continue;
        };
        let Some(pk) = key[pi] else { continue };
        let Some(&pg) = by_ns.get(&pk) else {
            continue;
        };
        if pg == gi
            || gs[pg].folded
            || gs[pg].members.len() > 1
            || by_init.get(&parent_pid) != Some(&pg)
        {
            continue;
        }
        let child_ns = gs[gi].ns;
        let subset = pk
            .differing(host)
            .into_iter()
            .all(|k| child_ns.get(k) == pk.get(k));
        if subset {
            gs[pg].folded = true;
            gs[gi].launcher = Some(pi);
        }
    }

    let ctx = IdentityContext::load(dirs, sources);
    let reader = records::Reader::new(sources);
    let mut buf = Vec::with_capacity(4096);
    let start_of = |pid: i32| {
        index
            .get(&pid)
            .map(|&i| &procs[i])
            .filter(|p| p.detailed)
            .map(|p| p.start_ticks)
            .or_else(|| read_proc(pid).map(|p| p.start_ticks))
    };
    let mut out = Vec::new();
    for g in gs.iter().filter(|g| !g.folded) {
        let init = &procs[g.init];
        let cgroups: Vec<CgroupEntry> =
            read_small(&proc.join(format!("{}/cgroup", init.pid)), &mut buf, true)
                .ok()
                .and_then(|()| procfs::ProcessCGroups::from_read(&buf[..]).ok())
                .map(|c| c.into_iter().map(CgroupEntry::from).collect())
                .unwrap_or_default();
        let mut pids: Vec<i32> = g.members.iter().map(|&i| procs[i].pid).collect();
        pids.sort_unstable();
        let launcher_pid = g.launcher.map(|i| procs[i].pid);
        let ident = ctx.identify(
            init.pid,
            launcher_pid,
            &pids,
            &cgroups,
            &g.ns,
            host,
            &start_of,
        );
        let state = ctx
            .runtime
            .iter()
            .find(|s| s.id == ident.id || s.pid == init.pid || Some(s.pid) == launcher_pid);
        let found = reader.read(&records::Seen {
            id: &ident.id,
            runtime: ident.runtime,
            name: ident.name.as_deref(),
            ppid: launcher_pid
                .and_then(|l| index.get(&l).map(|&i| procs[i].ppid))
                .unwrap_or(init.ppid),
            pid: init.pid,
            launcher: launcher_pid,
            bundle: state.and_then(|s| s.bundle.as_deref()),
        });
        let runtime = match found.runtime {
            Some(r) if matches!(ident.runtime, "runc" | "crun" | "containerd" | "unshare") => r,
            _ => ident.runtime,
        };
        out.push(Container {
            id: found.id.unwrap_or(ident.id),
            name: ident.name.or(found.name),
            runtime: runtime.to_string(),
            pid: init.pid,
            launcher_pid,
            namespaces: g.ns.to_map(),
            private_namespaces: g.ns.differing(host),
            cgroup: ident.cgroup.or_else(|| default_cgroup(&cgroups)),
            cgroups,
            own_cgroup: ident.own_cgroup,
            pids,
            start_ticks: init.start_ticks,
            comm: init.comm.clone(),
            records: found.records,
        });
    }
    out
}

/// The v2 path when it says something, else the first controller's path.
fn default_cgroup(cgroups: &[CgroupEntry]) -> Option<String> {
    cgroups
        .iter()
        .find(|e| e.hierarchy == 0 && e.path != "/")
        .or_else(|| {
            cgroups
                .iter()
                .find(|e| e.controllers.iter().any(|c| c == "memory"))
        })
        .or_else(|| cgroups.first())
        .map(|e| e.path.clone())
}

// --- identity --------------------------------------------------------------------------

struct Identity {
    id: String,
    name: Option<String>,
    runtime: &'static str,
    cgroup: Option<String>,
    own_cgroup: Option<String>,
}

#[derive(Debug, Clone)]
struct RuntimeState {
    runtime: &'static str,
    id: String,
    pid: i32,
    /// cgroup paths (absolute under the hierarchy mounts, or relative) the runtime recorded
    cgroup_paths: Vec<String>,
    /// The OCI bundle (runc's `bundle=` label, crun's `bundle`, containerd's task folder).
    bundle: Option<PathBuf>,
}

struct StateDir {
    path: &'static str,
    kind: StateKind,
    runtime: &'static str,
}

/// A runtime state root to read: the built-in ones, then `--runtime-root` folders.
struct StateRoot {
    path: PathBuf,
    kind: StateKind,
    runtime: &'static str,
}

/// The state roots to read: [`RUNTIME_STATE_DIRS`] and each of `sources.runtime_roots`
/// (as runc's, whose entries may be crun's `status` too).
fn state_dirs(sources: &Sources) -> Vec<StateRoot> {
    RUNTIME_STATE_DIRS
        .iter()
        .map(|d| StateRoot {
            path: PathBuf::from(d.path),
            kind: d.kind,
            runtime: d.runtime,
        })
        .chain(sources.runtime_roots.iter().map(|p| StateRoot {
            path: p.clone(),
            kind: StateKind::Any,
            runtime: "runc",
        }))
        .collect()
}

#[derive(Clone, Copy)]
enum StateKind {
    /// `<dir>/<id>/state.json` (libcontainer)
    Runc,
    /// `<dir>/<id>/status` (crun)
    Crun,
    /// `<dir>/<namespace>/<id>/state.json`
    RuncNamespaced,
    /// `<dir>/<namespace>/<id>/init.pid` (containerd shim v2 tasks)
    Task,
    /// `<dir>/<id>/state.json` or `<dir>/<id>/status`: a `--runtime-root` of runc or crun
    Any,
}

const RUNTIME_STATE_DIRS: &[StateDir] = &[
    StateDir {
        path: "/run/runc",
        kind: StateKind::Runc,
        runtime: "runc",
    },
    StateDir {
        path: "/run/crun",
        kind: StateKind::Crun,
        runtime: "crun",
    },
    StateDir {
        path: "/run/docker/runtime-runc/moby",
        kind: StateKind::Runc,
        runtime: "docker",
    },
    StateDir {
        path: "/run/containerd/runc",
        kind: StateKind::RuncNamespaced,
        runtime: "containerd",
    },
    StateDir {
        path: "/run/containerd/io.containerd.runtime.v2.task",
        kind: StateKind::Task,
        runtime: "containerd",
    },
];

#[derive(serde::Deserialize)]
struct RuncStateJson {
    #[serde(default)]
    init_process_pid: i32,
    #[serde(default)]
    cgroup_paths: BTreeMap<String, String>,
    #[serde(default)]
    config: Option<RuncStateConfig>,
}

#[derive(serde::Deserialize)]
struct RuncStateConfig {
    /// `bundle=/path` among others
    #[serde(default)]
    labels: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct CrunStatusJson {
    #[serde(default)]
    pid: i32,
    #[serde(default, rename = "cgroup-path")]
    cgroup_path: Option<String>,
    #[serde(default)]
    bundle: Option<PathBuf>,
}

/// Read one runtime state folder (`<root>/<id>`) of the given kind.
fn read_runtime_state(dir: &Path, kind: StateKind) -> Option<RuntimeState> {
    let id = dir.file_name()?.to_string_lossy().into_owned();
    match kind {
        StateKind::Runc | StateKind::RuncNamespaced => {
            let text = fs::read(dir.join("state.json")).ok()?;
            let st: RuncStateJson = serde_json::from_slice(&text).ok()?;
            let bundle = st
                .config
                .and_then(|c| c.labels)
                .unwrap_or_default()
                .iter()
                .find_map(|l| l.strip_prefix("bundle="))
                .map(PathBuf::from);
            Some(RuntimeState {
                runtime: "runc",
                id,
                pid: st.init_process_pid,
                cgroup_paths: st.cgroup_paths.into_values().collect(),
                bundle,
            })
        }
        StateKind::Crun => {
            let text = fs::read(dir.join("status")).ok()?;
            let st: CrunStatusJson = serde_json::from_slice(&text).ok()?;
            Some(RuntimeState {
                runtime: "crun",
                id,
                pid: st.pid,
                cgroup_paths: st.cgroup_path.into_iter().collect(),
                bundle: st.bundle,
            })
        }
        StateKind::Task => {
            let pid = read_pid_file(&dir.join("init.pid"))?;
            Some(RuntimeState {
                runtime: "containerd",
                id,
                pid,
                cgroup_paths: Vec::new(),
                bundle: Some(dir.to_path_buf()),
            })
        }
        StateKind::Any => read_runtime_state(dir, StateKind::Runc)
            .or_else(|| read_runtime_state(dir, StateKind::Crun)),
    }
    .filter(|s| s.pid > 0)
}

/// One ctrkit state folder with a pidfile: its name, its `id` file when there is one,
/// the folder, and the pidfile's mtime.
type CtrkitEntry = (String, Option<String>, PathBuf, std::time::SystemTime);

/// Everything read once per scan to name containers.
struct IdentityContext {
    /// host pid -> its ctrkit state folder
    ctrkit: HashMap<i32, CtrkitEntry>,
    runtime: Vec<RuntimeState>,
}

impl IdentityContext {
    fn load(dirs: &Dirs, sources: &Sources) -> IdentityContext {
        let mut ctrkit = HashMap::new();
        if let Ok(rd) = fs::read_dir(dirs.containers_dir()) {
            let mut buf = Vec::with_capacity(128);
            for e in rd.flatten() {
                let dir = e.path();
                // the pid and, from the same open file, when it was written
                let Ok(fd) = rustix::fs::open(
                    dir.join("pid"),
                    OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                ) else {
                    continue;
                };
                let Ok(st) = rustix::fs::fstat(&fd) else {
                    continue;
                };
                let written = std::time::UNIX_EPOCH
                    + std::time::Duration::new(
                        u64::try_from(st.st_mtime).unwrap_or(0),
                        u32::try_from(st.st_mtime_nsec).unwrap_or(0),
                    );
                let pid = read_fd(&fd, &mut buf, true)
                    .ok()
                    .and_then(|()| std::str::from_utf8(&buf).ok()?.trim().parse::<i32>().ok())
                    .filter(|&p| p > 0);
                let Some(pid) = pid else { continue };
                let name = e.file_name().to_string_lossy().into_owned();
                let id = read_small(&dir.join("id"), &mut buf, true)
                    .ok()
                    .and_then(|()| Some(std::str::from_utf8(&buf).ok()?.trim_end().to_string()))
                    .filter(|s| !s.is_empty());
                ctrkit.insert(pid, (name, id, dir, written));
            }
        }
        let mut runtime = Vec::new();
        for sd in state_dirs(sources) {
            let Ok(rd) = fs::read_dir(&sd.path) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                let found: Vec<RuntimeState> = match sd.kind {
                    StateKind::RuncNamespaced | StateKind::Task => fs::read_dir(&p)
                        .map(|rd| {
                            rd.flatten()
                                .filter_map(|e| read_runtime_state(&e.path(), sd.kind))
                                .collect()
                        })
                        .unwrap_or_default(),
                    _ => read_runtime_state(&p, sd.kind).into_iter().collect(),
                };
                for mut st in found {
                    if !matches!(sd.kind, StateKind::Any) {
                        st.runtime = sd.runtime;
                    }
                    runtime.push(st);
                }
            }
        }
        IdentityContext { ctrkit, runtime }
    }

    fn identify(
        &self,
        pid: i32,
        launcher: Option<i32>,
        pids: &[i32],
        cgroups: &[CgroupEntry],
        ns: &NsSet,
        host: &NsSet,
        start_of: &dyn Fn(i32) -> Option<u64>,
    ) -> Identity {
        // 1. ctrkit state: the init, its launcher, or (last) any member, while its pidfile
        // is not stale
        let fresh = |p: &i32| {
            let hit = self.ctrkit.get(p)?;
            let ticks = start_of(*p)?;
            let known = (*p == pid).then_some(cgroups);
            match check_ctrkit_pid_known(&hit.2, *p, Some(ticks), known, Some(hit.3)) {
                Ok(Some((_, cg))) => Some((hit, cg.filter(|_| *p == pid))),
                _ => None,
            }
        };
        let hit = fresh(&pid)
            .or_else(|| launcher.and_then(|l| fresh(&l)))
            .or_else(|| pids.iter().find_map(fresh));
        if let Some(((name, id, _, _), own_cgroup)) = hit {
            return Identity {
                id: id.clone().unwrap_or_else(|| synthetic_id(ns, host)),
                name: Some(name.clone()),
                runtime: "ctrkit",
                cgroup: None,
                own_cgroup,
            };
        }
        // 2. the cgroup path
        let mut paths: Vec<&str> = Vec::new();
        for e in cgroups {
            if !paths.contains(&e.path.as_str()) {
                paths.push(&e.path);
            }
        }
        for p in &paths {
            if let Some((runtime, id, name)) = identify_cgroup(p) {
                return Identity {
                    id,
                    name,
                    runtime,
                    cgroup: Some(p.to_string()),
                    own_cgroup: None,
                };
            }
        }
        // 3. runtime state dirs: by pid, then by cgroup path
        let by_pid = self
            .runtime
            .iter()
            .find(|s| s.pid == pid || Some(s.pid) == launcher);
        let by_cgroup = || {
            self.runtime.iter().find(|s| {
                s.cgroup_paths.iter().any(|rp| {
                    paths
                        .iter()
                        .any(|p| *p != "/" && (rp == p || rp.ends_with(p)))
                })
            })
        };
        if let Some(st) = by_pid.or_else(by_cgroup) {
            let cg = paths
                .iter()
                .find(|p| **p != "/" && st.cgroup_paths.iter().any(|rp| rp.ends_with(*p)))
                .map(|p| p.to_string());
            return Identity {
                id: st.id.clone(),
                name: None,
                runtime: st.runtime,
                cgroup: cg,
                own_cgroup: None,
            };
        }
        // 4. synthetic
        Identity {
            id: synthetic_id(ns, host),
            name: None,
            runtime: "unshare",
            cgroup: None,
            own_cgroup: None,
        }
    }
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Name a container from one cgroup path: `(runtime, id, name)`.
pub fn identify_cgroup(path: &str) -> Option<(&'static str, String, Option<String>)> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let kube = segs.iter().any(|s| s.starts_with("kubepods"));
    // innermost match wins (docker in docker nests /docker/<id>/docker/<id2>)
    for i in (0..segs.len()).rev() {
        let seg = segs[i];
        let base = seg.strip_suffix(".scope").unwrap_or(seg);
        let prefixed = [
            ("docker-", "docker"),
            ("libpod-", "podman"),
            ("crio-", "cri-o"),
            ("cri-containerd-", "containerd"),
        ];
        for (prefix, runtime) in prefixed {
            if let Some(id) = base.strip_prefix(prefix) {
                if is_hex_id(id) {
                    let runtime = if kube { "kubernetes" } else { runtime };
                    return Some((runtime, id.to_string(), None));
                }
            }
        }
        if i > 0 && is_hex_id(seg) {
            match segs[i - 1] {
                "docker" => return Some(("docker", seg.to_string(), None)),
                "libpod_parent" => return Some(("podman", seg.to_string(), None)),
                _ if kube => return Some(("kubernetes", seg.to_string(), None)),
                _ => {}
            }
        }
        if let Some(name) = seg.strip_prefix("lxc.payload.") {
            if !name.is_empty() {
                return Some(("lxc", name.to_string(), Some(name.to_string())));
            }
        }
        if i > 0 && segs[i - 1] == "lxc" && !seg.is_empty() {
            return Some(("lxc", seg.to_string(), Some(seg.to_string())));
        }
        if let Some(rest) = base.strip_prefix("machine-") {
            if seg.ends_with(".scope") && segs[..i].contains(&"machine.slice") {
                let name = systemd_unescape(rest);
                let name = name
                    .strip_prefix("nspawn-")
                    .map(str::to_string)
                    .unwrap_or(name);
                return Some(("nspawn", name.clone(), Some(name)));
            }
        }
        if seg.contains("nspawn") && segs[..i].contains(&"machine.slice") {
            let name = systemd_unescape(base);
            return Some(("nspawn", name.clone(), Some(name)));
        }
    }
    None
}

/// Undo systemd's unit-name escaping (`\x2d` -> `-`).
fn systemd_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            if let Ok(v) = u8::from_str_radix(&s[i + 2..i + 4], 16) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A stable 64-hex id from the namespaces a container does not share with the host.
pub fn synthetic_id(ns: &NsSet, host: &NsSet) -> String {
    let mut data = Vec::new();
    for k in ns.differing(host) {
        data.extend_from_slice(k.proc_name().as_bytes());
        data.extend_from_slice(&ns.get(k).to_le_bytes());
    }
    let mut s = String::with_capacity(64);
    for seed in 0u64..4 {
        // FNV-1a 64, seeded per quarter, then a final avalanche (splitmix64)
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for &b in &data {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= h >> 30;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 27;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        s.push_str(&format!("{h:016x}"));
    }
    s
}

// --- /proc reading -----------------------------------------------------------------------

const PF_KTHREAD: u32 = 0x0020_0000;

/// Parse `/proc/PID/stat` (the command name may hold spaces and parentheses) with procfs;
/// `None` when malformed.
fn parse_stat(buf: &[u8]) -> Option<procfs::process::Stat> {
    // procfs slices the text around the parentheses without checking: a kernel's line
    // always has the pid before them and the fields after, a malformed one must not panic
    let line = buf.trim_ascii();
    let open = line.iter().position(|&b| b == b'(')?;
    let close = line.iter().rposition(|&b| b == b')')?;
    if open == 0 || close < open || close + 2 > line.len() {
        return None;
    }
    procfs::process::Stat::from_read(line).ok()
}

/// Read the whole of a small kernel file into `buf` (cleared first) with plain system
/// calls: open, read, close. A file the kernel writes as one record (`stat`, `cmdline`,
/// `cgroup`, a cgroup's value file) is `one_shot`: a read that comes back short is its end,
/// so the closing empty read is skipped; anything else (`fib_trie`, `cgroup.procs`: a
/// seq_file of many records stops a read short at a page) is read until a read returns 0.
///
/// A thousand-container listing reads a few files per container: through `std::fs` each
/// costs open, fcntl (musl's `O_CLOEXEC` fallback), fstat, lseek, two reads and close, and
/// a fresh `String`; this is three or four calls into a reused buffer.
pub fn read_small(path: &Path, buf: &mut Vec<u8>, one_shot: bool) -> io::Result<()> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    read_fd(&fd, buf, one_shot)
}

fn read_fd(fd: &OwnedFd, buf: &mut Vec<u8>, one_shot: bool) -> io::Result<()> {
    buf.clear();
    loop {
        if buf.capacity() - buf.len() < 512 {
            buf.reserve(4096);
        }
        let room = buf.capacity() - buf.len();
        match rustix::io::read(fd, rustix::buffer::spare_capacity(buf)) {
            Ok(0) => return Ok(()),
            Ok(n) if one_shot && n < room => return Ok(()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// An `O_PATH` directory fd for `/proc/PID`, so later look-ups skip path resolution.
struct DirFd(OwnedFd);

impl DirFd {
    fn open(path: &Path) -> io::Result<DirFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(DirFd(rustix::fs::open(path, flags, Mode::empty())?))
    }

    /// Read a small file under the directory that the kernel writes as one record
    /// (`stat`) into `buf`: see [`read_small`].
    fn read(&self, name: &str, buf: &mut Vec<u8>) -> io::Result<()> {
        let fd = rustix::fs::openat(
            &self.0,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        read_fd(&fd, buf, true)
    }

    /// The inode number of namespace link `name` (`ns/net` reads `net:[4026531840]`);
    /// 0 when unreadable. readlink is cheaper than stat on nsfs.
    fn ns_inode(&self, name: &std::ffi::CStr) -> u64 {
        let mut buf = [0u8; 64];
        match rustix::fs::readlinkat_raw(&self.0, name, &mut buf[..]) {
            Ok(n) if n > 0 => parse_ns_link(&buf[..n]),
            _ => 0,
        }
    }

    /// Every namespace inode; all 0 when the mount namespace link is unreadable (a zombie
    /// or a process we may not look at), without trying the rest.
    ///
    /// Read by hand, not with procfs's `Process::namespaces()` (which lists `ns/` and
    /// `statat`s each entry): with it `ctr-ps` took twice as long on ~2100 processes in 20
    /// containers (88.5 -> 176.1 ms median wall, 90 interleaved `hyperfine -N` runs,
    /// 2026-12-04), far over the 10% the walk may spend on the crate.
    fn ns_set(&self) -> NsSet {
        const NAMES: [&std::ffi::CStr; 8] = [
            c"ns/user",
            c"ns/cgroup",
            c"ns/ipc",
            c"ns/uts",
            c"ns/net",
            c"ns/pid",
            c"ns/time",
            c"ns/mnt",
        ];
        let mut s = NsSet::default();
        s.0[7] = self.ns_inode(NAMES[7]);
        if s.0[7] == 0 {
            return s;
        }
        for (i, n) in NAMES.iter().enumerate().take(7) {
            s.0[i] = self.ns_inode(n);
        }
        s
    }
}

/// `net:[4026531840]` -> 4026531840 (0 when malformed).
fn parse_ns_link(b: &[u8]) -> u64 {
    let Some(open) = b.iter().position(|&c| c == b'[') else {
        return 0;
    };
    let mut v: u64 = 0;
    for &c in &b[open + 1..] {
        match c {
            b'0'..=b'9' => v = v.wrapping_mul(10).wrapping_add(u64::from(c - b'0')),
            b']' => return v,
            _ => return 0,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_names_follow_kind_order() {
        for (i, k) in NsKind::ALL.iter().enumerate() {
            assert_eq!(kind_index(*k), i);
        }
    }

    #[test]
    fn cgroup_paths_name_their_runtime() {
        let id = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f";
        let cases: Vec<(String, &str, &str)> = vec![
            (format!("/docker/{id}"), "docker", id),
            (format!("/system.slice/docker-{id}.scope"), "docker", id),
            (
                format!("/machine.slice/libpod-{id}.scope/container"),
                "podman",
                id,
            ),
            (format!("/libpod_parent/libpod-{id}"), "podman", id),
            (format!("/system.slice/crio-{id}.scope"), "cri-o", id),
            (
                format!("/system.slice/cri-containerd-{id}.scope"),
                "containerd",
                id,
            ),
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-{id}.scope"
                ),
                "kubernetes",
                id,
            ),
            (
                format!("/kubepods/besteffort/pod0a1b/{id}"),
                "kubernetes",
                id,
            ),
            ("/lxc.payload.web/init.scope".to_string(), "lxc", "web"),
            (
                "/machine.slice/machine-my\\x2dbox.scope/payload".to_string(),
                "nspawn",
                "my-box",
            ),
            (
                format!("/docker/{id}/docker/abcdefabcdef12"),
                "docker",
                "abcdefabcdef12",
            ),
        ];
        for (path, runtime, want) in cases {
            let (r, got, _) = identify_cgroup(&path).unwrap_or_else(|| panic!("{path} not named"));
            assert_eq!((r, got.as_str()), (runtime, want), "{path}");
        }
        for path in [
            "/",
            "/user.slice/user-0.slice/session-1.scope",
            "/docker",
            "/x/libpod-conmon-zz",
        ] {
            assert!(identify_cgroup(path).is_none(), "{path}");
        }
    }

    #[test]
    fn stat_with_odd_command_names() {
        let line = b"42 (a) b (c)) S 1 42 42 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 12345 1000 77 \
            18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(
            (s.state, s.ppid, s.utime, s.stime, s.starttime, s.rss),
            ('S', 1, 7, 3, 12345, 77)
        );
        for bad in [
            &b"garbage"[..],
            b"(a) S",
            b"42 (a)",
            b"42 (a) \n",
            b"42 (a) S 1",
        ] {
            assert!(parse_stat(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn ns_links_parse() {
        assert_eq!(parse_ns_link(b"net:[4026531840]"), 4026531840);
        assert_eq!(parse_ns_link(b"net:[12x]"), 0);
        assert_eq!(parse_ns_link(b"garbage"), 0);
        let me = std::process::id() as i32;
        let dir = DirFd::open(Path::new(&format!("/proc/{me}"))).unwrap();
        assert_eq!(
            dir.ns_set().get(NsKind::Net),
            crate::ns::ns_inode(me, NsKind::Net).unwrap()
        );
    }

    #[test]
    fn synthetic_ids_are_stable_and_distinct() {
        let host = NsSet([1, 2, 3, 4, 5, 6, 7, 8]);
        let mut a = host;
        a.0[5] = 99;
        let mut b = host;
        b.0[5] = 100;
        assert_eq!(synthetic_id(&a, &host), synthetic_id(&a, &host));
        assert_ne!(synthetic_id(&a, &host), synthetic_id(&b, &host));
        assert_eq!(synthetic_id(&a, &host).len(), 64);
    }

    #[test]
    fn resolve_by_name_id_and_prefix() {
        let mk = |id: &str, name: Option<&str>| Container {
            id: id.into(),
            name: name.map(Into::into),
            runtime: "runc".into(),
            pid: 1,
            launcher_pid: None,
            namespaces: BTreeMap::new(),
            private_namespaces: vec![],
            cgroup: None,
            cgroups: vec![],
            own_cgroup: None,
            pids: vec![1],
            start_ticks: 0,
            comm: "sh".into(),
            records: Records::default(),
        };
        let cs = vec![
            mk("abc123", Some("web")),
            mk("abd456", None),
            mk("web", None),
        ];
        assert_eq!(
            resolve_in("web", &cs).unwrap().id,
            "abc123",
            "a name beats an id"
        );
        assert_eq!(resolve_in("abd", &cs).unwrap().id, "abd456");
        let e = resolve_in("ab", &cs).unwrap_err();
        assert!(e.to_string().contains("ambiguous"), "{e}");
        assert!(matches!(
            resolve_in("zz", &cs),
            Err(DiscoverError::NotFound(_))
        ));
        assert!(resolve_in("", &cs).is_err());
        // two containers by one name: an error naming both, not the first
        let cs = vec![
            mk("abc123", Some("web")),
            mk("def456", Some("web")),
            mk("fed789", None),
        ];
        let e = resolve_in("web", &cs).unwrap_err().to_string();
        assert!(
            e.contains("ambiguous") && e.contains("abc123") && e.contains("def456"),
            "{e}"
        );
        assert!(!e.contains("fed789"), "{e}");
        assert_eq!(resolve_in("fed", &cs).unwrap().id, "fed789");
    }

    #[test]
    fn stale_ctrkit_pidfiles_are_told() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("web");
        fs::create_dir(&dir).unwrap();
        assert_eq!(check_ctrkit_pid(&dir, None), Ok(None), "no pidfile");
        let me = std::process::id() as i32;
        fs::write(dir.join("pid"), format!("{me}\n")).unwrap();
        assert_eq!(check_ctrkit_pid(&dir, None), Ok(Some(me)));
        // written before this process started: the pid names another process now
        let f = fs::File::options()
            .write(true)
            .open(dir.join("pid"))
            .unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
            .unwrap();
        let e = check_ctrkit_pid(&dir, None).unwrap_err();
        assert!(e.contains("started after"), "{e}");
        fs::write(dir.join("pid"), format!("{me}\n")).unwrap();
        fs::write(dir.join("cgroup"), "/no/such/cgroup\n").unwrap();
        let e = check_ctrkit_pid(&dir, None).unwrap_err();
        assert!(e.contains("cgroup"), "{e}");
        fs::remove_file(dir.join("cgroup")).unwrap();
        fs::write(dir.join("exit"), "0\n").unwrap();
        assert!(check_ctrkit_pid(&dir, None).is_err());
        fs::remove_file(dir.join("exit")).unwrap();
        fs::write(dir.join("pid"), "999999999\n").unwrap();
        assert!(check_ctrkit_pid(&dir, None).unwrap_err().contains("gone"));
        assert!(clock_ticks_per_sec().is_some());
    }

    #[test]
    fn this_host_scans_without_error() {
        let dirs = Dirs {
            root: "/nonexistent".into(),
            state_dir: "/nonexistent".into(),
        };
        let snap = snapshot(&dirs).unwrap();
        let me = std::process::id() as i32;
        assert!(snap.proc(me).is_some(), "the scan sees this process");
    }
}

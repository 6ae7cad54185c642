//! One container's row: identity from discovery plus the details read on demand (command
//! line, uptime, cgroup usage, address). The JSON schema of `ctr-ps --json` is [`Row`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use common::cgroup::{
    Hierarchy, Limit, PidCgroups, Usage, Version, join, parse_limit, parse_pid_cgroups,
    read_flat_keyed,
};
use common::discover::{Container, Snapshot};
use common::ns::NsKind;
use serde::Serialize;

use crate::netlink;
use crate::procfs::{self, Clock};

/// Everything a command needs from one look at the host.
pub struct Ctx {
    pub snap: Snapshot,
    pub clock: Clock,
    pub hier: Option<Hierarchy>,
    pub page: u64,
    /// cgroup dir -> its `cgroup.procs`, read once per run (containers often share one)
    procs_cache: RefCell<HashMap<PathBuf, Option<Vec<i32>>>>,
    /// network namespace inode -> its first address, asked once per run (a pod's
    /// containers share one)
    ip_cache: RefCell<HashMap<u64, Option<Ipv4Addr>>>,
    net: RefCell<netlink::Probe>,
    /// one buffer for every small file a listing reads
    buf: RefCell<Vec<u8>>,
}

impl Ctx {
    pub fn new(
        dirs: &common::state::Dirs,
        sources: &common::discover::Sources,
    ) -> std::io::Result<Ctx> {
        Ok(Ctx {
            snap: common::discover::snapshot_with(dirs, sources)?,
            clock: Clock::new(),
            hier: Hierarchy::detect().ok(),
            page: procfs::page_size(),
            procs_cache: RefCell::new(HashMap::new()),
            ip_cache: RefCell::new(HashMap::new()),
            net: RefCell::new(netlink::Probe::default()),
            buf: RefCell::new(Vec::with_capacity(4096)),
        })
    }

    /// The init's command line (`[comm]` for a zombie or a kernel-emptied one).
    pub fn command(&self, c: &Container) -> String {
        procfs::cmdline_with(c.pid, &mut self.buf.borrow_mut())
            .unwrap_or_else(|| format!("[{}]", c.comm))
    }

    /// The first IPv4 address of the container's network namespace that is not on `lo`
    /// (the lowest, as `/proc/PID/net/fib_trie` lists them), once per namespace. Asked by
    /// netlink from inside the namespace when we may enter it, else read from
    /// `/proc/PID/net`.
    pub fn first_ipv4(&self, c: &Container) -> Option<Ipv4Addr> {
        let ns = c.namespaces.get(&NsKind::Net).copied();
        if let Some(hit) = ns.and_then(|n| self.ip_cache.borrow().get(&n).copied()) {
            return hit;
        }
        let got = match self.net.borrow_mut().ipv4(c.pid) {
            Some(addrs) => addrs
                .iter()
                .filter(|a| !a.on_lo && !a.addr.is_loopback())
                .map(|a| a.addr)
                .min(),
            None => procfs::first_ipv4(c.pid),
        };
        if let Some(n) = ns {
            self.ip_cache.borrow_mut().insert(n, got);
        }
        got
    }

    /// A cgroup file holding one number.
    fn read_u64(&self, path: &Path) -> Option<u64> {
        self.read_with(path, |s| s.parse().ok())
    }

    /// A cgroup file holding one value, trimmed, given to `parse`.
    fn read_with<T>(&self, path: &Path, parse: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let mut buf = self.buf.borrow_mut();
        procfs::read_file(path, &mut buf, true)?;
        parse(std::str::from_utf8(buf.trim_ascii()).ok()?)
    }

    /// Summed user+system time of the container's processes, in µs.
    pub fn proc_cpu_usec(&self, c: &Container) -> u64 {
        let ticks: u64 = c
            .pids
            .iter()
            .filter_map(|p| self.snap.proc(*p))
            .map(|p| p.utime + p.stime)
            .sum();
        self.clock.ticks_to_usec(ticks)
    }

    /// Summed resident memory of the container's processes.
    pub fn rss_bytes(&self, c: &Container) -> u64 {
        c.pids
            .iter()
            .filter_map(|p| self.snap.proc(*p))
            .map(|p| p.rss_pages * self.page)
            .sum()
    }

    /// The usage of the container's own cgroups: a controller counts only when the init's
    /// cgroup for it differs from its parent's (an `unshare`d process sitting in its
    /// launcher's cgroup has none of its own, and the host's numbers would mislead).
    pub fn usage(&self, c: &Container) -> Option<(Usage, HashMap<String, String>)> {
        let h = self.hier.as_ref()?;
        let own = self.own_cgroups(
            c,
            &["memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "io"],
        )?;
        let u = Usage::read_with(h, |ctl| own.get(ctl).cloned());
        Some((u, own))
    }

    /// What a row shows of [`Ctx::usage`] (memory use and limit, CPU time), read from
    /// those files alone: a listing of a thousand containers reads three cgroup files
    /// each, not every controller's.
    pub fn row_usage(&self, c: &Container, want: Want) -> Option<RowUsage> {
        let h = self.hier.as_ref()?;
        let cpu = if h.version_of("cpuacct") == Some(Version::V1) {
            "cpuacct"
        } else {
            "cpu"
        };
        let ctls: Vec<&str> = [(want.memory, "memory"), (want.cpu, cpu)]
            .into_iter()
            .filter_map(|(w, ctl)| w.then_some(ctl))
            .collect();
        let own = self.own_cgroups(c, &ctls)?;
        let mut u = RowUsage::default();
        if let Some((m, path)) = h.mount_of("memory").zip(own.get("memory")) {
            let d = join(&m.path, path);
            let (cur, max) = match m.version {
                Version::V1 => ("memory.usage_in_bytes", "memory.limit_in_bytes"),
                Version::V2 => ("memory.current", "memory.max"),
            };
            u.memory_current_bytes = self.read_u64(&d.join(cur));
            if want.limit {
                u.memory_max_bytes = self.read_with(&d.join(max), parse_limit);
            }
        }
        if let Some(path) = own.get(cpu) {
            u.cpu_usage_usec = if cpu == "cpuacct" {
                h.dir(cpu, path)
                    .and_then(|d| self.read_u64(&d.join("cpuacct.usage")))
                    .map(|ns| ns / 1000)
            } else {
                h.unified_dir(path)
                    .and_then(|d| read_flat_keyed(&d.join("cpu.stat")))
                    .and_then(|st| st.get("usage_usec").copied())
            };
        }
        Some(u)
    }

    /// The container's own cgroup path for each of `ctls` it has one for (see
    /// [`Ctx::usage`]); `None` when it has none. The init's cgroups come from the scan.
    fn own_cgroups(&self, c: &Container, ctls: &[&str]) -> Option<HashMap<String, String>> {
        let h = self.hier.as_ref()?;
        let mine = pid_cgroups(&c.cgroups);
        // the cgroup its runtime made for it (ctrkit's, checked to hold the init by the
        // scan): each controller whose path it is counts, with no file read
        if let Some(cg) = &c.own_cgroup {
            let own: HashMap<String, String> = ctls
                .iter()
                .filter_map(|ctl| {
                    let p = mine.path_for(h, ctl)?;
                    (p.trim_matches('/') == cg).then(|| (ctl.to_string(), p.to_string()))
                })
                .collect();
            return (!own.is_empty()).then_some(own);
        }
        let parent_pid = c
            .launcher_pid
            .and_then(|l| self.snap.proc(l))
            .map(|p| p.ppid)
            .or_else(|| self.snap.proc(c.pid).map(|p| p.ppid))
            .unwrap_or(0);
        let parent = (parent_pid > 0)
            .then(|| {
                let mut buf = self.buf.borrow_mut();
                let path = format!("/proc/{parent_pid}/cgroup");
                procfs::read_file(Path::new(&path), &mut buf, true)?;
                Some(parse_pid_cgroups(&String::from_utf8_lossy(&buf)))
            })
            .flatten();
        let mut own: HashMap<String, String> = HashMap::new();
        for ctl in ctls {
            let Some(p) = mine.path_for(h, ctl) else {
                continue;
            };
            let differs = match &parent {
                Some(pp) => pp.path_for(h, ctl) != Some(p),
                None => !p.is_empty(),
            };
            if differs {
                own.insert(ctl.to_string(), p.to_string());
            }
        }
        // and holds only the container's processes (not a supervisor's cgroup it sits in)
        let mut cache = self.procs_cache.borrow_mut();
        own.retain(|ctl, path| {
            let Some(dir) = h.dir(ctl, path) else {
                return false;
            };
            let members = cache.entry(dir.clone()).or_insert_with(|| {
                let mut buf = self.buf.borrow_mut();
                procfs::read_file(&dir.join("cgroup.procs"), &mut buf, false)?;
                Some(
                    buf.split(|&b| b == b'\n')
                        .filter_map(|l| std::str::from_utf8(l.trim_ascii()).ok()?.parse().ok())
                        .collect(),
                )
            });
            members.as_ref().is_some_and(|m| {
                m.iter()
                    .all(|p| c.pids.binary_search(p).is_ok() || c.launcher_pid == Some(*p))
            })
        });
        drop(cache);
        (!own.is_empty()).then_some(own)
    }
}

/// The init's `/proc/PID/cgroup` lines, as [`parse_pid_cgroups`] gives them.
fn pid_cgroups(entries: &[common::ns::CgroupEntry]) -> PidCgroups {
    let mut out = PidCgroups::default();
    for e in entries {
        let path = e.path.trim_start_matches('/').to_string();
        if e.hierarchy == 0 && e.controllers.is_empty() {
            out.unified = Some(path);
        } else {
            for c in &e.controllers {
                out.v1.insert(c.clone(), path.clone());
            }
        }
    }
    out
}

/// The cgroup numbers a row shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct RowUsage {
    pub memory_current_bytes: Option<u64>,
    pub memory_max_bytes: Option<Limit>,
    pub cpu_usage_usec: Option<u64>,
}

/// What the caller will show, so the rest is not read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    pub command: bool,
    /// memory use; its limit; CPU time
    pub memory: bool,
    pub limit: bool,
    pub cpu: bool,
    pub ip: bool,
}

impl Want {
    pub const ALL: Want = Want {
        command: true,
        memory: true,
        limit: true,
        cpu: true,
        ip: true,
    };
}

/// One container, flat. Keys are always present; `null` when unknown or unreadable.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: String,
    /// The runtime's name for it; `POD/CONTAINER` for Kubernetes.
    pub name: Option<String>,
    pub runtime: String,
    /// Host pid of the init.
    pub pid: i32,
    /// The launcher folded into the container (`unshare` waiting for its child), if any.
    pub launcher_pid: Option<i32>,
    /// The init's command line.
    pub command: Option<String>,
    pub started_at: Option<String>,
    pub uptime_seconds: Option<u64>,
    /// Number of processes.
    pub pids: usize,
    /// The container's own memory cgroup usage (null without a cgroup of its own).
    pub memory_current_bytes: Option<u64>,
    pub memory_max_bytes: Option<Limit>,
    /// Resident memory of its processes, summed.
    pub rss_bytes: u64,
    /// CPU time: the cgroup's when it has its own, else its processes' user+system time.
    pub cpu_usage_usec: u64,
    /// The first non-loopback IPv4 address of its network namespace.
    pub ip: Option<String>,
    /// The namespace kinds it does not share with the host.
    pub namespaces: Vec<NsKind>,
    pub shares_host_pid: bool,
    pub shares_host_net: bool,
    pub ns_mnt: Option<u64>,
    pub ns_uts: Option<u64>,
    pub ns_ipc: Option<u64>,
    pub ns_net: Option<u64>,
    pub ns_pid: Option<u64>,
    pub ns_user: Option<u64>,
    pub ns_cgroup: Option<u64>,
    pub ns_time: Option<u64>,
    /// The cgroup path that named it (or its v2/memory cgroup path).
    pub cgroup: Option<String>,
    /// Kubernetes: the pod, its namespace, the container's name in the pod.
    pub pod: Option<String>,
    pub pod_namespace: Option<String>,
    pub container_name: Option<String>,
    /// From the runtime's records.
    pub image: Option<String>,
    pub status: Option<String>,
    /// When the runtime created it (RFC 3339, as recorded).
    pub created: Option<String>,
    /// Published ports (`HOST_IP:HOST_PORT->PORT/PROTO`); null when not recorded.
    pub ports: Option<Vec<String>>,
    pub hostname: Option<String>,
}

pub fn row(ctx: &Ctx, c: &Container, want: Want) -> Row {
    let ns = |k: NsKind| c.namespaces.get(&k).copied();
    let usage = if want.memory || want.cpu {
        ctx.row_usage(c, want)
    } else {
        None
    };
    let shares_host_net = c.shares_host(NsKind::Net);
    Row {
        id: c.id.clone(),
        name: c.name.clone(),
        runtime: c.runtime.clone(),
        pid: c.pid,
        launcher_pid: c.launcher_pid,
        command: if want.command {
            Some(ctx.command(c))
        } else {
            None
        },
        started_at: ctx.clock.started(c.start_ticks).map(procfs::rfc3339),
        uptime_seconds: ctx.clock.uptime(c.start_ticks).map(|d| d.as_secs()),
        pids: c.pids.len(),
        memory_current_bytes: usage.as_ref().and_then(|u| u.memory_current_bytes),
        memory_max_bytes: usage.as_ref().and_then(|u| u.memory_max_bytes),
        rss_bytes: ctx.rss_bytes(c),
        cpu_usage_usec: usage
            .as_ref()
            .and_then(|u| u.cpu_usage_usec)
            .unwrap_or_else(|| ctx.proc_cpu_usec(c)),
        ip: if want.ip && !shares_host_net {
            ctx.first_ipv4(c).map(|a| a.to_string())
        } else {
            None
        },
        namespaces: c.private_namespaces.clone(),
        shares_host_pid: c.shares_host(NsKind::Pid),
        shares_host_net,
        ns_mnt: ns(NsKind::Mnt),
        ns_uts: ns(NsKind::Uts),
        ns_ipc: ns(NsKind::Ipc),
        ns_net: ns(NsKind::Net),
        ns_pid: ns(NsKind::Pid),
        ns_user: ns(NsKind::User),
        ns_cgroup: ns(NsKind::Cgroup),
        ns_time: ns(NsKind::Time),
        cgroup: c.cgroup.clone(),
        pod: c.records.pod.clone(),
        pod_namespace: c.records.pod_namespace.clone(),
        container_name: c.records.container_name.clone(),
        image: c.records.image.clone(),
        status: c.records.status.clone(),
        created: c.records.created.clone(),
        ports: c.records.ports.clone(),
        hostname: c.records.hostname.clone(),
    }
}

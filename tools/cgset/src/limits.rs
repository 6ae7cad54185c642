//! The limit vocabulary mapped onto v2 or v1 files, and applying it all or nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::cgroup::{Limit, Version, parse_limit, shares_to_weight, weight_to_shares};
use common::parse::Size;
use common::undo::with_cleanup_errors;

use crate::cg::{Cg, fill_cpuset_ancestors, read_file, write_file};
use crate::cli::{Cpus, IoMax, Limits};
use crate::error::{Error, Result};

/// One file write of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The controller (v2 name where it is on v2).
    pub controller: String,
    pub file: PathBuf,
    pub value: String,
    /// What to write back on rollback when it is not simply the file's previous content
    /// (files holding one line per device).
    pub restore: Option<String>,
}

const DEFAULT_PERIOD_US: u64 = 100_000;

/// v2 file, v1 file, flag: knobs with an equivalent on the other kernel.
const EQUIVALENTS: &[(&str, &str, &str)] = &[
    ("memory.max", "memory.limit_in_bytes", "--memory"),
    (
        "memory.swap.max",
        "memory.memsw.limit_in_bytes",
        "--memory-swap",
    ),
    ("memory.high", "", "--memory-high"),
    ("cpu.max", "cpu.cfs_quota_us", "--cpus"),
    ("cpu.max", "cpu.cfs_period_us", "--cpu-period"),
    ("cpu.weight", "cpu.shares", "--cpu-weight/--cpu-shares"),
    ("io.weight", "blkio.weight", "--io-weight"),
    ("io.max", "blkio.throttle.read_bps_device", "--io-max"),
    ("io.max", "blkio.throttle.write_bps_device", "--io-max"),
    ("io.max", "blkio.throttle.read_iops_device", "--io-max"),
    ("io.max", "blkio.throttle.write_iops_device", "--io-max"),
    ("cgroup.freeze", "freezer.state", "cgset freeze"),
];

fn size_v2(s: Size) -> String {
    s.to_string()
}

fn size_v1(s: Size) -> String {
    match s {
        Size::Bytes(b) => b.to_string(),
        Size::Max => "-1".into(),
    }
}

struct Planner<'a> {
    cg: &'a Cg,
    path: &'a str,
    steps: Vec<Step>,
}

impl Planner<'_> {
    fn dir(&self, controller: &str) -> Result<(Version, PathBuf)> {
        self.cg.dir_of(controller, self.path)
    }

    fn push(&mut self, controller: &str, dir: &Path, file: &str, value: String) {
        self.steps.push(Step {
            controller: controller.into(),
            file: dir.join(file),
            value,
            restore: None,
        });
    }
}

/// Translate the flags into file writes, in a safe order.
pub fn plan(cg: &Cg, path: &str, l: &Limits) -> Result<Vec<Step>> {
    let mut p = Planner {
        cg,
        path,
        steps: Vec::new(),
    };
    if let Some(high) = l.memory_high {
        let (v, d) = p.dir("memory")?;
        if v == Version::V1 {
            return Err(Error::WrongVersion {
                flag: "--memory-high".into(),
                version: "v1",
                hint: "memory.high exists only on cgroup v2 (the nearest v1 knob is \
                       memory.soft_limit_in_bytes: -r memory.soft_limit_in_bytes=SIZE)"
                    .into(),
            });
        }
        p.push("memory", &d, "memory.high", size_v2(high));
    }
    if l.memory.is_some() || l.memory_swap.is_some() {
        let (v, d) = p.dir("memory")?;
        // the memory limit the swap figure is relative to: the new one or the current one
        let mem = match l.memory {
            Some(m) => m,
            None => {
                let f = if v == Version::V2 {
                    "memory.max"
                } else {
                    "memory.limit_in_bytes"
                };
                match read_file(&d.join(f)).ok().as_deref().and_then(parse_limit) {
                    Some(Limit::Value(b)) => Size::Bytes(b),
                    _ => Size::Max,
                }
            }
        };
        if let Some(swap) = l.memory_swap {
            if let (Size::Bytes(s), Size::Bytes(m)) = (swap, mem) {
                if s < m {
                    return Err(Error::Usage(format!(
                        "--memory-swap ({s}) is memory plus swap and must be at least the memory limit ({m})"
                    )));
                }
            } else if swap != Size::Max && mem == Size::Max {
                return Err(Error::Usage(
                    "--memory-swap needs a memory limit (--memory): it is memory plus swap".into(),
                ));
            }
        }
        match v {
            Version::V2 => {
                if let Some(m) = l.memory {
                    p.push("memory", &d, "memory.max", size_v2(m));
                }
                if let Some(swap) = l.memory_swap {
                    let val = match (swap, mem) {
                        (Size::Bytes(s), Size::Bytes(m)) => (s - m).to_string(),
                        _ => "max".into(),
                    };
                    if !d.join("memory.swap.max").exists() {
                        return Err(Error::Unavailable {
                            controller: "memory swap accounting".into(),
                            hint: "memory.swap.max is missing (the kernel was built or booted without swap accounting)".into(),
                        });
                    }
                    p.push("memory", &d, "memory.swap.max", val);
                }
            }
            Version::V1 => {
                let memsw_file = d.join("memory.memsw.limit_in_bytes");
                if l.memory_swap.is_some() && !memsw_file.exists() {
                    return Err(Error::Unavailable {
                        controller: "memory swap accounting".into(),
                        hint: "memory.memsw.limit_in_bytes is missing (boot with swapaccount=1)"
                            .into(),
                    });
                }
                let cur_memsw = read_file(&memsw_file).ok().as_deref().and_then(parse_limit);
                let mem_step = l.memory.map(size_v1);
                let sw_step = l.memory_swap.map(size_v1);
                // v1 keeps memory <= memory+swap at every moment: raise memsw first when the
                // new memory limit would not fit under the current memsw
                let memsw_first = match (l.memory, cur_memsw) {
                    (Some(Size::Max), _) => true,
                    (Some(Size::Bytes(m)), Some(Limit::Value(c))) => m > c,
                    _ => false,
                };
                if memsw_first {
                    if let Some(s) = sw_step.clone() {
                        p.push("memory", &d, "memory.memsw.limit_in_bytes", s);
                    }
                }
                if let Some(m) = mem_step {
                    p.push("memory", &d, "memory.limit_in_bytes", m);
                }
                if !memsw_first {
                    if let Some(s) = sw_step {
                        p.push("memory", &d, "memory.memsw.limit_in_bytes", s);
                    }
                }
            }
        }
    }
    if l.memory_low.is_some() || l.memory_swappiness.is_some() || l.oom_kill_disable {
        let (v, d) = p.dir("memory")?;
        if let Some(low) = l.memory_low {
            match v {
                Version::V2 => p.push("memory", &d, "memory.low", size_v2(low)),
                Version::V1 => p.push("memory", &d, "memory.soft_limit_in_bytes", size_v1(low)),
            }
        }
        for (flag, on, file, value) in [
            (
                "--memory-swappiness",
                l.memory_swappiness.is_some(),
                "memory.swappiness",
                l.memory_swappiness.unwrap_or(0).to_string(),
            ),
            (
                "--oom-kill-disable",
                l.oom_kill_disable,
                "memory.oom_control",
                "1".to_string(),
            ),
        ] {
            if !on {
                continue;
            }
            if v == Version::V2 {
                return Err(Error::WrongVersion {
                    flag: flag.into(),
                    version: "v2",
                    hint: format!("{file} exists only on cgroup v1"),
                });
            }
            p.push("memory", &d, file, value);
        }
    }
    if l.cpu_rt_period.is_some() || l.cpu_rt_runtime.is_some() {
        let (v, d) = p.dir("cpu")?;
        if v == Version::V2 || !d.join("cpu.rt_runtime_us").exists() {
            return Err(Error::Unavailable {
                controller: "cpu real-time".into(),
                hint: "--cpu-rt-period/--cpu-rt-runtime need cgroup v1's cpu.rt_runtime_us (a kernel with CONFIG_RT_GROUP_SCHED)".into(),
            });
        }
        // the period first: the runtime must fit in it
        if let Some(n) = l.cpu_rt_period {
            p.push("cpu", &d, "cpu.rt_period_us", n.to_string());
        }
        if let Some(n) = l.cpu_rt_runtime {
            p.push("cpu", &d, "cpu.rt_runtime_us", n.to_string());
        }
    }
    if l.cpus.is_some() || l.cpu_quota.is_some() || l.cpu_period.is_some() {
        let (v, d) = p.dir("cpu")?;
        let cur_period = match v {
            Version::V2 => read_file(&d.join("cpu.max"))
                .ok()
                .and_then(|s| s.split_whitespace().nth(1).and_then(|x| x.parse().ok())),
            Version::V1 => read_file(&d.join("cpu.cfs_period_us"))
                .ok()
                .and_then(|s| s.parse().ok()),
        };
        let period = l.cpu_period.or(cur_period).unwrap_or(DEFAULT_PERIOD_US);
        let quota = l.cpus.map(|c| match c {
            Cpus::Max => None,
            Cpus::Micro(m) => Some(((m as u128 * period as u128) / 1_000_000).max(1000) as u64),
        });
        // (--cpu-quota: microseconds as given)
        let quota = quota.or(l.cpu_quota.map(|c| match c {
            Cpus::Max => None,
            Cpus::Micro(q) => Some(q),
        }));
        match v {
            Version::V2 => {
                let q = match quota {
                    Some(Some(q)) => q.to_string(),
                    Some(None) => "max".into(),
                    None => read_file(&d.join("cpu.max"))
                        .ok()
                        .and_then(|s| s.split_whitespace().next().map(str::to_string))
                        .unwrap_or_else(|| "max".into()),
                };
                p.push("cpu", &d, "cpu.max", format!("{q} {period}"));
            }
            Version::V1 => {
                if l.cpu_period.is_some() || quota.is_some() {
                    p.push("cpu", &d, "cpu.cfs_period_us", period.to_string());
                }
                if let Some(q) = quota {
                    p.push(
                        "cpu",
                        &d,
                        "cpu.cfs_quota_us",
                        q.map_or("-1".into(), |q| q.to_string()),
                    );
                }
            }
        }
    }
    if l.cpu_weight.is_some() || l.cpu_shares.is_some() {
        let (v, d) = p.dir("cpu")?;
        match v {
            Version::V2 => {
                let w = l
                    .cpu_weight
                    .unwrap_or_else(|| shares_to_weight(l.cpu_shares.unwrap_or(1024)));
                p.push("cpu", &d, "cpu.weight", w.to_string());
            }
            Version::V1 => {
                let s = l
                    .cpu_shares
                    .unwrap_or_else(|| weight_to_shares(l.cpu_weight.unwrap_or(100)));
                p.push("cpu", &d, "cpu.shares", s.to_string());
            }
        }
    }
    for (list, file) in [
        (&l.cpuset_cpus, "cpuset.cpus"),
        (&l.cpuset_mems, "cpuset.mems"),
    ] {
        if let Some(list) = list {
            let (_, d) = p.dir("cpuset")?;
            p.push("cpuset", &d, file, list.to_string());
        }
    }
    if let Some(n) = l.pids {
        let (_, d) = p.dir("pids")?;
        p.push("pids", &d, "pids.max", n.to_string());
    }
    if let Some(w) = l.io_weight {
        let (v, d) = p.dir("io")?;
        match v {
            Version::V2 => p.push("io", &d, "io.weight", format!("default {w}")),
            Version::V1 => {
                let file = ["blkio.weight", "blkio.bfq.weight"]
                    .into_iter()
                    .find(|f| d.join(f).exists());
                let Some(file) = file else {
                    return Err(Error::Unavailable {
                        controller: "blkio weight".into(),
                        hint: "this kernel's v1 blkio has no blkio.weight or blkio.bfq.weight (needs the BFQ scheduler)".into(),
                    });
                };
                // (rounded: Docker's 10..1000 mapped to 1..10000 as runc does comes back whole)
                p.push(
                    "blkio",
                    &d,
                    file,
                    (10 + ((w - 1) * 990 + 4999) / 9999).to_string(),
                );
            }
        }
    }
    for (dev, w) in &l.io_weight_device {
        let (v, d) = p.dir("io")?;
        match v {
            Version::V2 => p.push("io", &d, "io.weight", format!("{dev} {w}")),
            Version::V1 => {
                let file = ["blkio.weight_device", "blkio.bfq.weight_device"]
                    .into_iter()
                    .find(|f| d.join(f).exists());
                let Some(file) = file else {
                    return Err(Error::Unavailable {
                        controller: "blkio weight".into(),
                        hint: "this kernel's v1 blkio has no blkio.weight_device or blkio.bfq.weight_device (needs the BFQ scheduler)".into(),
                    });
                };
                let w1 = 10 + ((w - 1) * 990 + 4999) / 9999;
                p.push("blkio", &d, file, format!("{dev} {w1}"));
            }
        }
    }
    for io in &l.io_max {
        let (v, d) = p.dir("io")?;
        plan_io_max(&mut p, v, &d, io);
    }
    for r in &l.raw {
        let (c, d) = if r.controller == "cgroup" {
            let Some(d) = cg.h.unified_dir(path).filter(|d| d.is_dir()) else {
                return Err(Error::NotFound {
                    path: path.to_string(),
                });
            };
            (Version::V2, d)
        } else {
            p.dir(&r.controller)?
        };
        if !d.join(&r.file).exists() {
            if let Some(e) = wrong_version(c, &r.controller, &r.file) {
                return Err(e);
            }
        }
        p.push(&r.controller, &d, &r.file, r.value.clone());
    }
    Ok(p.steps)
}

fn wrong_version(v: Version, controller: &str, file: &str) -> Option<Error> {
    let (here, other) = match v {
        Version::V2 => ("v2", "v1"),
        Version::V1 => ("v1", "v2"),
    };
    let (theirs, ours, flag) = EQUIVALENTS.iter().find_map(|(v2, v1, flag)| match v {
        Version::V2 if *v1 == file => Some((*v1, *v2, *flag)),
        Version::V1 if *v2 == file => Some((*v2, *v1, *flag)),
        _ => None,
    })?;
    let equivalent = if ours.is_empty() {
        "there is no equivalent".to_string()
    } else {
        format!("use {ours} (or {flag})")
    };
    Some(Error::WrongVersion {
        flag: format!("-r {theirs}"),
        version: here,
        hint: format!(
            "{theirs} is a cgroup {other} file and {controller} is on cgroup {here} here; {equivalent}"
        ),
    })
}

fn plan_io_max(p: &mut Planner<'_>, v: Version, d: &Path, io: &IoMax) {
    let fmt = |x: Option<u64>| x.map_or("max".to_string(), |n| n.to_string());
    match v {
        Version::V2 => {
            let mut parts = vec![io.device.clone()];
            for (k, f) in [
                ("rbps", io.rbps),
                ("wbps", io.wbps),
                ("riops", io.riops),
                ("wiops", io.wiops),
            ] {
                if let Some(x) = f {
                    parts.push(format!("{k}={}", fmt(x)));
                }
            }
            let prev = read_file(&d.join("io.max")).unwrap_or_default();
            let restore = prev
                .lines()
                .find(|l| l.split_whitespace().next() == Some(io.device.as_str()))
                .map(str::to_string)
                .unwrap_or_else(|| format!("{} rbps=max wbps=max riops=max wiops=max", io.device));
            p.steps.push(Step {
                controller: "io".into(),
                file: d.join("io.max"),
                value: parts.join(" "),
                restore: Some(restore),
            });
        }
        Version::V1 => {
            for (f, x) in [
                ("blkio.throttle.read_bps_device", io.rbps),
                ("blkio.throttle.write_bps_device", io.wbps),
                ("blkio.throttle.read_iops_device", io.riops),
                ("blkio.throttle.write_iops_device", io.wiops),
            ] {
                let Some(x) = x else { continue };
                let prev = read_file(&d.join(f)).unwrap_or_default();
                let restore = prev
                    .lines()
                    .find(|l| l.split_whitespace().next() == Some(io.device.as_str()))
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{} 0", io.device));
                p.steps.push(Step {
                    controller: "blkio".into(),
                    file: d.join(f),
                    value: format!("{} {}", io.device, x.unwrap_or(0)),
                    restore: Some(restore),
                });
            }
        }
    }
}

/// The v2 controllers the flags will need (before the cgroup exists, for create).
pub fn flag_controllers(cg: &Cg, l: &Limits) -> BTreeSet<String> {
    let mut c = BTreeSet::new();
    let mut add = |on: bool, name: &str| {
        if on && cg.h.version_of(name) == Some(Version::V2) {
            c.insert(name.to_string());
        }
    };
    add(
        l.memory.is_some()
            || l.memory_high.is_some()
            || l.memory_swap.is_some()
            || l.memory_low.is_some(),
        "memory",
    );
    add(
        l.cpus.is_some()
            || l.cpu_quota.is_some()
            || l.cpu_period.is_some()
            || l.cpu_weight.is_some()
            || l.cpu_shares.is_some(),
        "cpu",
    );
    add(l.cpuset_cpus.is_some() || l.cpuset_mems.is_some(), "cpuset");
    add(l.pids.is_some(), "pids");
    add(
        l.io_weight.is_some() || !l.io_max.is_empty() || !l.io_weight_device.is_empty(),
        "io",
    );
    for r in &l.raw {
        add(
            r.controller != "cgroup",
            common::cgroup::v2_name(&r.controller),
        );
    }
    c
}

/// Write every step; if the kernel refuses one, write back what the earlier ones replaced
/// (newest first) and report the refusal (plus any rollback failure).
pub fn apply(cg: &Cg, path: &str, l: &Limits) -> Result<()> {
    if cg.h.version_of("cpuset") == Some(Version::V1)
        && (l.cpuset_cpus.is_some() || l.cpuset_mems.is_some())
    {
        if let Some(m) = cg.h.mount_of("cpuset") {
            fill_cpuset_ancestors(&m.path, path)?;
        }
    }
    let steps = plan(cg, path, l)?;
    let done = write_steps(&steps)?;
    // the device rules last: on a refusal the files written above are put back too
    if let Some(policy) = l.devices {
        let rules = crate::devices::rules(policy, &l.device_rule);
        if let Err(e) = crate::devices::apply(cg, path, &rules) {
            return Err(rollback(e, &done));
        }
    }
    Ok(())
}

/// Write every step; on a refusal put back what the earlier ones replaced. Returns what
/// each replaced, for a later rollback.
fn write_steps(steps: &[Step]) -> Result<Vec<(PathBuf, String)>> {
    let mut done: Vec<(PathBuf, String)> = Vec::new();
    for s in steps {
        let step = || -> Result<String> {
            let prev = match &s.restore {
                Some(r) => r.clone(),
                None => read_file(&s.file)?,
            };
            common::debug!("write {:?} to {}", s.value, s.file.display());
            write_file(&s.file, &s.value)?;
            // every file takes back what it reads (io.weight reads and takes "default 100")
            Ok(prev.trim().to_string())
        };
        match step() {
            Ok(prev) => done.push((s.file.clone(), prev)),
            Err(e) => return Err(rollback(e, &done)),
        }
    }
    Ok(done)
}

/// Put back what `done` replaced, newest first; the primary error carries any failure.
fn rollback(e: Error, done: &[(PathBuf, String)]) -> Error {
    let mut errors = Vec::new();
    for (f, v) in done.iter().rev() {
        if let Err(re) = write_file(f, v) {
            errors.push(format!(
                "restore {}: {}",
                f.display(),
                common::run::error_line(&re)
            ));
        }
    }
    if errors.is_empty() {
        return e;
    }
    Error::Several(with_cleanup_errors(common::run::error_line(&e), &errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_cpus;
    use std::fs;

    fn w(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }
    fn r(p: &Path) -> String {
        fs::read_to_string(p).unwrap().trim().to_string()
    }

    fn v1_tree() -> (tempfile::TempDir, Cg) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        for m in [
            "memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "blkio",
        ] {
            w(&root.join(m).join("cgroup.procs"), "");
        }
        w(&root.join("unified/cgroup.controllers"), "hugetlb\n");
        let m = root.join("memory/x");
        w(&m.join("memory.limit_in_bytes"), "9223372036854771712\n");
        w(
            &m.join("memory.memsw.limit_in_bytes"),
            "9223372036854771712\n",
        );
        let c = root.join("cpu/x");
        w(&c.join("cpu.cfs_quota_us"), "-1\n");
        w(&c.join("cpu.cfs_period_us"), "100000\n");
        w(&c.join("cpu.shares"), "1024\n");
        w(&root.join("pids/x/pids.max"), "max\n");
        w(&root.join("cpuset/x/cpuset.cpus"), "0-1\n");
        let cg = Cg::open(root).unwrap();
        (t, cg)
    }

    fn v2_tree() -> (tempfile::TempDir, Cg) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        w(
            &root.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        );
        let x = root.join("x");
        w(&x.join("memory.max"), "max\n");
        w(&x.join("memory.high"), "max\n");
        w(&x.join("memory.swap.max"), "max\n");
        w(&x.join("cpu.max"), "max 100000\n");
        w(&x.join("cpu.weight"), "100\n");
        w(&x.join("pids.max"), "max\n");
        w(&x.join("io.max"), "");
        let cg = Cg::open(root).unwrap();
        (t, cg)
    }

    #[test]
    fn v1_translation() {
        let (t, cg) = v1_tree();
        let l = Limits {
            memory: Some(Size::Bytes(32 << 20)),
            memory_swap: Some(Size::Bytes(64 << 20)),
            cpus: Some(parse_cpus("0.5").unwrap()),
            cpu_weight: Some(100),
            pids: Some(Size::Bytes(20)),
            ..Limits::default()
        };
        apply(&cg, "x", &l).unwrap();
        let root = t.path();
        assert_eq!(r(&root.join("memory/x/memory.limit_in_bytes")), "33554432");
        assert_eq!(
            r(&root.join("memory/x/memory.memsw.limit_in_bytes")),
            "67108864"
        );
        assert_eq!(r(&root.join("cpu/x/cpu.cfs_quota_us")), "50000");
        assert_eq!(r(&root.join("cpu/x/cpu.cfs_period_us")), "100000");
        assert_eq!(
            r(&root.join("cpu/x/cpu.shares")),
            weight_to_shares(100).to_string()
        );
        assert_eq!(r(&root.join("pids/x/pids.max")), "20");
        // v2-only knob refused on v1, naming it
        let l = Limits {
            memory_high: Some(Size::Bytes(1 << 20)),
            ..Limits::default()
        };
        let e = plan(&cg, "x", &l).unwrap_err().to_string();
        assert!(e.contains("--memory-high") && e.contains("v1"), "{e}");
        // a v2 file through -r on a v1 controller names the v1 equivalent
        let l = Limits {
            raw: vec![crate::cli::parse_raw("memory.max=1M").unwrap()],
            ..Limits::default()
        };
        let e = plan(&cg, "x", &l).unwrap_err().to_string();
        assert!(e.contains("memory.limit_in_bytes"), "{e}");
    }

    #[test]
    fn v1_memsw_order() {
        let (t, cg) = v1_tree();
        let root = t.path();
        w(
            &root.join("memory/x/memory.memsw.limit_in_bytes"),
            "67108864\n",
        );
        // raising memory above the current memsw: memsw must be written first
        let l = Limits {
            memory: Some(Size::Bytes(128 << 20)),
            memory_swap: Some(Size::Bytes(256 << 20)),
            ..Limits::default()
        };
        let steps = plan(&cg, "x", &l).unwrap();
        let names: Vec<_> = steps
            .iter()
            .map(|s| s.file.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
        );
    }

    #[test]
    fn v2_translation_and_swap_arithmetic() {
        let (t, cg) = v2_tree();
        let root = t.path();
        let l = Limits {
            memory: Some(Size::Bytes(32 << 20)),
            memory_swap: Some(Size::Bytes(48 << 20)),
            memory_high: Some(Size::Bytes(24 << 20)),
            cpus: Some(parse_cpus("1.5").unwrap()),
            cpu_period: Some(200_000),
            cpu_shares: Some(1024),
            pids: Some(Size::Max),
            ..Limits::default()
        };
        apply(&cg, "x", &l).unwrap();
        assert_eq!(r(&root.join("x/memory.max")), "33554432");
        assert_eq!(
            r(&root.join("x/memory.swap.max")),
            (16u64 << 20).to_string()
        );
        assert_eq!(r(&root.join("x/memory.high")), "25165824");
        assert_eq!(r(&root.join("x/cpu.max")), "300000 200000");
        assert_eq!(r(&root.join("x/cpu.weight")), "39");
        assert_eq!(r(&root.join("x/pids.max")), "max");
        // swap given alone: relative to the memory limit now in place
        let l = Limits {
            memory_swap: Some(Size::Bytes(40 << 20)),
            ..Limits::default()
        };
        apply(&cg, "x", &l).unwrap();
        assert_eq!(r(&root.join("x/memory.swap.max")), (8u64 << 20).to_string());
        // equal to memory: no swap at all
        let l = Limits {
            memory_swap: Some(Size::Bytes(32 << 20)),
            ..Limits::default()
        };
        apply(&cg, "x", &l).unwrap();
        assert_eq!(r(&root.join("x/memory.swap.max")), "0");
        // smaller than memory: usage error
        let l = Limits {
            memory_swap: Some(Size::Bytes(1 << 20)),
            ..Limits::default()
        };
        assert!(matches!(plan(&cg, "x", &l), Err(Error::Usage(_))));
        // period alone keeps the quota
        let l = Limits {
            cpu_period: Some(50_000),
            ..Limits::default()
        };
        apply(&cg, "x", &l).unwrap();
        assert_eq!(r(&root.join("x/cpu.max")), "300000 50000");
        // -r of a v1 file on v2 names the v2 file
        let l = Limits {
            raw: vec![crate::cli::parse_raw("cpu.shares=512").unwrap()],
            ..Limits::default()
        };
        let e = plan(&cg, "x", &l).unwrap_err().to_string();
        assert!(e.contains("cpu.weight"), "{e}");
    }

    #[test]
    fn weight_shares_both_ways() {
        let (t, cg) = v2_tree();
        let l = Limits {
            cpu_shares: Some(weight_to_shares(250)),
            ..Limits::default()
        };
        apply(&cg, "x", &l).unwrap();
        assert_eq!(r(&t.path().join("x/cpu.weight")), "250");
        let (t, cg) = v1_tree();
        let l = Limits {
            cpu_weight: Some(shares_to_weight(512)),
            ..Limits::default()
        };
        apply(&cg, "x", &l).unwrap();
        let shares: u64 = r(&t.path().join("cpu/x/cpu.shares")).parse().unwrap();
        assert_eq!(shares_to_weight(shares), shares_to_weight(512));
    }

    #[test]
    fn all_or_nothing() {
        let (t, _cg) = v2_tree();
        let root = t.path();
        // the last write fails (a directory cannot be written): earlier ones are restored
        fs::create_dir_all(root.join("x/bogus.file")).unwrap();
        let steps = vec![
            Step {
                controller: "memory".into(),
                file: root.join("x/memory.max"),
                value: "1234".into(),
                restore: None,
            },
            Step {
                controller: "pids".into(),
                file: root.join("x/pids.max"),
                value: "7".into(),
                restore: None,
            },
            Step {
                controller: "pids".into(),
                file: root.join("x/bogus.file"),
                value: "1".into(),
                restore: None,
            },
        ];
        assert!(write_steps(&steps).is_err());
        assert_eq!(r(&root.join("x/memory.max")), "max");
        assert_eq!(r(&root.join("x/pids.max")), "max");
    }

    #[test]
    fn io_max_v2_line() {
        let (t, cg) = v2_tree();
        let l = Limits {
            io_max: vec![crate::cli::parse_io_max("8:0:rbps=1M,wiops=100").unwrap()],
            ..Limits::default()
        };
        let steps = plan(&cg, "x", &l).unwrap();
        assert_eq!(steps[0].value, "8:0 rbps=1048576 wiops=100");
        assert_eq!(
            steps[0].restore.as_deref(),
            Some("8:0 rbps=max wbps=max riops=max wiops=max")
        );
        drop(t);
    }
}

//! The command line: global flags, the limit flags shared by create/set/exec, subcommands.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use common::parse::{CpuList, Size, parse_cpu_list, parse_duration, parse_size};

/// control groups: create, limit, run in, watch, freeze, kill and delete
///
/// One vocabulary of limits for cgroup v1, hybrid and pure v2 machines; each controller
/// is used on whichever hierarchy holds it. Also accepts libcgroup's form:
/// `cgset -r memory.max=256M PATH`.
#[derive(Debug, Parser)]
#[command(
    subcommand_negates_reqs = true,
    override_usage = "cgset [OPTIONS] <COMMAND>\n       cgset [OPTIONS] -r CONTROLLER.KEY=VALUE... PATH..."
)]
pub struct Cli {
    /// Where the cgroup hierarchies are mounted
    #[arg(long, value_name = "DIR", default_value = common::cgroup::DEFAULT_ROOT, global = true)]
    pub cgroup_root: PathBuf,
    /// Print debug messages on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// libcgroup form: set CONTROLLER.KEY=VALUE on PATH (repeatable)
    #[arg(short = 'r', value_name = "CONTROLLER.KEY=VALUE", value_parser = parse_raw)]
    pub raw: Vec<Raw>,
    /// libcgroup form: the cgroups to set the -r values on
    #[arg(value_name = "PATH", value_parser = parse_path)]
    pub paths: Vec<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a cgroup (and enable the controllers it needs) and apply limits
    Create(CreateArgs),
    /// Apply limits to an existing cgroup, all or nothing
    Set(SetArgs),
    /// Run a command inside a cgroup (exit status: the command's, or 125/126/127)
    Exec(ExecArgs),
    /// Move processes into a cgroup
    Attach(AttachArgs),
    /// List the processes in a cgroup, one PID a line
    Pids(PidsArgs),
    /// Show limits and usage under one schema on v1 and v2
    Get(GetArgs),
    /// Show usage over time, with CPU% per interval
    Watch(WatchArgs),
    /// List cgroups with process counts and limits
    Ls(LsArgs),
    /// Freeze every process in a cgroup subtree
    Freeze(PathArg),
    /// Thaw a frozen cgroup subtree
    Thaw(PathArg),
    /// Signal every process in a cgroup subtree (default SIGKILL)
    Kill(KillArgs),
    /// Remove a cgroup subtree, bottom-up, in every hierarchy
    Delete(DeleteArgs),
    /// Show the hierarchy mode, mount points and controllers
    Info(InfoArgs),
}

/// The limit flags: one vocabulary mapped onto v2 or v1 files.
#[derive(Debug, Clone, Default, Args)]
pub struct Limits {
    /// Memory limit (v2 memory.max, v1 memory.limit_in_bytes): 256M, 1.5G, max
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<Size>,
    /// Memory throttling threshold (v2 memory.high; cgroup v2 only)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_high: Option<Size>,
    /// Memory plus swap, Docker's meaning (v2 memory.swap.max = SIZE - memory, v1 memory.memsw.limit_in_bytes)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_swap: Option<Size>,
    /// CPUs' worth of time per period: 0.5 = half a CPU (v2 cpu.max, v1 cpu.cfs_quota_us), or max
    #[arg(long, value_name = "DEC", value_parser = parse_cpus)]
    pub cpus: Option<Cpus>,
    /// CPU time per period in microseconds, or -1 for none (v2 cpu.max, v1 cpu.cfs_quota_us;
    /// Docker's --cpu-quota)
    #[arg(long, value_name = "US", value_parser = parse_quota, allow_hyphen_values = true, conflicts_with = "cpus")]
    pub cpu_quota: Option<Cpus>,
    /// Real-time period in microseconds (v1 cpu.rt_period_us; needs CONFIG_RT_GROUP_SCHED)
    #[arg(long, value_name = "US", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub cpu_rt_period: Option<u64>,
    /// Real-time runtime per period in microseconds (v1 cpu.rt_runtime_us; the parent must
    /// have that much to give)
    #[arg(long, value_name = "US", value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub cpu_rt_runtime: Option<u64>,
    /// Memory the kernel tries to keep for the cgroup under pressure, Docker's
    /// --memory-reservation (v2 memory.low, v1 memory.soft_limit_in_bytes)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_low: Option<Size>,
    /// How eagerly the kernel swaps the cgroup's pages, 0..100 (v1 memory.swappiness)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=100))]
    pub memory_swappiness: Option<u64>,
    /// Do not OOM-kill the cgroup's processes at its memory limit: they wait (v1
    /// memory.oom_control)
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// The CFS period (v2 cpu.max second field, v1 cpu.cfs_period_us): 100ms
    #[arg(long, value_name = "DURATION", value_parser = parse_period)]
    pub cpu_period: Option<u64>,
    /// Relative CPU weight 1..10000 (v2 cpu.weight; v1 cpu.shares, converted)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10000), conflicts_with = "cpu_shares")]
    pub cpu_weight: Option<u64>,
    /// Relative CPU shares 2..262144 (v1 cpu.shares; v2 cpu.weight, converted)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=262144))]
    pub cpu_shares: Option<u64>,
    /// CPUs the processes may run on: 0-3,6 (cpuset.cpus)
    #[arg(long, value_name = "LIST", value_parser = parse_cpu_list)]
    pub cpuset_cpus: Option<CpuList>,
    /// Memory nodes the processes may use: 0 (cpuset.mems)
    #[arg(long, value_name = "LIST", value_parser = parse_cpu_list)]
    pub cpuset_mems: Option<CpuList>,
    /// Maximum number of processes and threads (pids.max): N or max
    #[arg(long, value_name = "N|max", value_parser = parse_pids)]
    pub pids: Option<Size>,
    /// Relative I/O weight 1..10000 (v2 io.weight; v1 blkio.weight 10..1000, converted)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10000))]
    pub io_weight: Option<u64>,
    /// I/O limit for a device: MAJ:MIN:rbps=..,wbps=..,riops=..,wiops=.. (v2 io.max, v1 blkio.throttle.*)
    #[arg(long, value_name = "SPEC", value_parser = parse_io_max)]
    pub io_max: Vec<IoMax>,
    /// Relative I/O weight 1..10000 for one device: MAJ:MIN:WEIGHT (v2 io.weight, v1
    /// blkio.weight_device or blkio.bfq.weight_device, converted to 10..1000)
    #[arg(long, value_name = "MAJ:MIN:N", value_parser = parse_io_weight_device)]
    pub io_weight_device: Vec<(String, u64)>,
    /// Raw CONTROLLER.KEY=VALUE written to that file as is (repeatable)
    #[arg(short = 'r', long = "raw", value_name = "CONTROLLER.KEY=VALUE", value_parser = parse_raw)]
    pub raw: Vec<Raw>,
    /// Which devices the cgroup may use, replacing its rules: container (runc's and Docker's
    /// default: mknod of any, read/write of null, zero, full, random, urandom, tty, console,
    /// ptmx, pts/*, net/tun), all, or none (v1 devices.deny/allow, v2 a BPF device program)
    #[arg(long, value_name = "POLICY", value_enum)]
    pub devices: Option<crate::devices::Policy>,
    /// Allow devices on top of --devices, Docker's --device-cgroup-rule syntax: 'c 10:237 rwm',
    /// 'b 8:* r', 'a' (repeatable)
    #[arg(long, value_name = "RULE", value_parser = crate::devices::Rule::parse, requires = "devices")]
    pub device_rule: Vec<crate::devices::Rule>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.memory.is_none()
            && self.memory_high.is_none()
            && self.cpu_quota.is_none()
            && self.cpu_rt_period.is_none()
            && self.cpu_rt_runtime.is_none()
            && self.memory_low.is_none()
            && self.memory_swappiness.is_none()
            && !self.oom_kill_disable
            && self.memory_swap.is_none()
            && self.cpus.is_none()
            && self.cpu_period.is_none()
            && self.cpu_weight.is_none()
            && self.cpu_shares.is_none()
            && self.cpuset_cpus.is_none()
            && self.cpuset_mems.is_none()
            && self.pids.is_none()
            && self.io_weight.is_none()
            && self.io_max.is_empty()
            && self.io_weight_device.is_empty()
            && self.raw.is_empty()
            && self.devices.is_none()
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The cgroup, relative to the hierarchy root: ctrkit/web
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// Create missing parent cgroups too
    #[arg(long)]
    pub parent_ok: bool,
    /// Succeed if the cgroup already exists (limits are still applied)
    #[arg(long)]
    pub exist_ok: bool,
    /// v2: when a parent holds processes, move them into a child 'leaf' first
    #[arg(long)]
    pub leaf: bool,
    #[command(flatten)]
    pub limits: Limits,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The cgroup, relative to the hierarchy root
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// v2: when a parent holds processes, move them into a child 'leaf' first
    #[arg(long)]
    pub leaf: bool,
    #[command(flatten)]
    pub limits: Limits,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The cgroup to run in
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// Create the cgroup (and its parents) if missing, with the given limits
    #[arg(long)]
    pub create: bool,
    /// v2: when a parent holds processes, move them into a child 'leaf' first
    #[arg(long)]
    pub leaf: bool,
    #[command(flatten)]
    pub limits: Limits,
    /// The command and its arguments (after --)
    #[arg(required = true, last = true, value_name = "CMD")]
    pub cmd: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The cgroup to move the processes into
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// Process ids
    #[arg(required = true, value_parser = common::parse::parse_pid)]
    pub pids: Vec<i32>,
}

#[derive(Debug, Args)]
pub struct PidsArgs {
    /// The cgroup
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// Include the processes of every descendant cgroup
    #[arg(short, long)]
    pub recursive: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The cgroup
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// Print one JSON object (every key present, null when unknown)
    #[arg(long)]
    pub json: bool,
    /// Only these keys (memory_current_bytes, cpu_usage_usec, pids_max, ...)
    pub keys: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The cgroup
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// Time between samples
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Stop after N samples (default: until interrupted or the cgroup is gone)
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// One JSON object a line per sample
    #[arg(long)]
    pub jsonl: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// The cgroup whose children to list (default: the root)
    #[arg(value_parser = parse_path)]
    pub path: Option<String>,
    /// List every descendant, not only the children
    #[arg(short, long)]
    pub recursive: bool,
    /// Print a JSON array
    #[arg(long)]
    pub json: bool,
    /// Leave out the header line
    #[arg(long)]
    pub no_headers: bool,
}

#[derive(Debug, Args)]
pub struct PathArg {
    /// The cgroup
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// How long to wait for the kernel to finish
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub wait: Duration,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// The cgroup
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// The signal: KILL, TERM, HUP, 9, SIGTERM...
    #[arg(short, long, value_name = "SIG", default_value = "KILL", value_parser = common::parse::parse_signal)]
    pub signal: nix::sys::signal::Signal,
    /// With SIGKILL: how long to wait for the subtree to empty
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub wait: Duration,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The cgroup (its whole subtree is removed)
    #[arg(value_parser = parse_path)]
    pub path: String,
    /// Kill the processes in the subtree first and wait for them to be gone
    #[arg(long)]
    pub kill: bool,
    /// How long to wait for the processes to be gone
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub wait: Duration,
    /// Succeed if the cgroup does not exist
    #[arg(long)]
    pub missing_ok: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

/// `--cpus`: a decimal number of CPUs, kept in millionths, or `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cpus {
    Micro(u64),
    Max,
}

/// `--cpu-quota`: microseconds (1000 or more), or -1/max for none.
pub fn parse_quota(s: &str) -> Result<Cpus, String> {
    match s.trim() {
        "-1" | "max" => Ok(Cpus::Max),
        t => match t.parse::<u64>() {
            Ok(q) if q >= 1000 => Ok(Cpus::Micro(q)),
            _ => Err(format!(
                "'{s}' is not a CPU quota (microseconds, 1000 or more, or -1)"
            )),
        },
    }
}

pub fn parse_cpus(s: &str) -> Result<Cpus, String> {
    let t = s.trim();
    if t == "max" {
        return Ok(Cpus::Max);
    }
    let bad = || format!("'{s}' is not a number of CPUs (expected e.g. 0.5, 2, 1.25 or max)");
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 6
        || int.len() > 6
    {
        return Err(bad());
    }
    let i: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().map_err(|_| bad())? * 10u64.pow(6 - frac.len() as u32)
    };
    let micro = i * 1_000_000 + f;
    if micro < 1000 {
        return Err(format!("'{s}' is too small (at least 0.001 CPUs)"));
    }
    Ok(Cpus::Micro(micro))
}

fn parse_period(s: &str) -> Result<u64, String> {
    let d = parse_duration(s).map_err(|e| e.to_string())?;
    let us = d.as_micros();
    if !(1000..=1_000_000).contains(&us) {
        return Err(format!(
            "'{s}' is out of range (the kernel takes 1ms to 1s)"
        ));
    }
    Ok(us as u64)
}

fn parse_pids(s: &str) -> Result<Size, String> {
    if s.trim() == "max" {
        return Ok(Size::Max);
    }
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 && n < (1 << 31) => Ok(Size::Bytes(n)),
        _ => Err(format!(
            "'{s}' is not a process count (a positive number or max)"
        )),
    }
}

pub fn parse_path(s: &str) -> Result<String, String> {
    common::cgroup::clean_path(s).map_err(|e| e.to_string())
}

/// `CONTROLLER.KEY=VALUE`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub controller: String,
    pub file: String,
    pub value: String,
}

pub fn parse_raw(s: &str) -> Result<Raw, String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not CONTROLLER.KEY=VALUE (e.g. memory.max=256M)"))?;
    let (controller, rest) = key
        .split_once('.')
        .ok_or_else(|| format!("'{key}' is not CONTROLLER.KEY (e.g. memory.max)"))?;
    let ok = |x: &str| {
        !x.is_empty()
            && x.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    if !ok(controller) || !ok(rest) || controller.contains('.') {
        return Err(format!("'{key}' is not a cgroup file name"));
    }
    Ok(Raw {
        controller: controller.to_string(),
        file: key.to_string(),
        value: value.to_string(),
    })
}

/// `--io-max MAJ:MIN:rbps=..,wbps=..,riops=..,wiops=..`; `None` fields are unchanged,
/// `Some(None)` is max (no limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoMax {
    pub device: String,
    pub rbps: Option<Option<u64>>,
    pub wbps: Option<Option<u64>>,
    pub riops: Option<Option<u64>>,
    pub wiops: Option<Option<u64>>,
}

/// `MAJ:MIN:WEIGHT`, WEIGHT 1..10000.
pub fn parse_io_weight_device(s: &str) -> Result<(String, u64), String> {
    let bad = || format!("'{s}' is not MAJ:MIN:WEIGHT (WEIGHT 1..10000)");
    let mut it = s.splitn(3, ':');
    let (maj, min, w) = (
        it.next().ok_or_else(bad)?,
        it.next().ok_or_else(bad)?,
        it.next().ok_or_else(bad)?,
    );
    if maj.parse::<u32>().is_err() || min.parse::<u32>().is_err() {
        return Err(bad());
    }
    match w.parse::<u64>() {
        Ok(w) if (1..=10000).contains(&w) => Ok((format!("{maj}:{min}"), w)),
        _ => Err(bad()),
    }
}

pub fn parse_io_max(s: &str) -> Result<IoMax, String> {
    let bad = || format!("'{s}' is not MAJ:MIN:rbps=N,wbps=N,riops=N,wiops=N");
    let mut it = s.splitn(3, ':');
    let (maj, min, rest) = (
        it.next().ok_or_else(bad)?,
        it.next().ok_or_else(bad)?,
        it.next().ok_or_else(bad)?,
    );
    if maj.parse::<u32>().is_err() || min.parse::<u32>().is_err() || rest.is_empty() {
        return Err(bad());
    }
    let mut io = IoMax {
        device: format!("{maj}:{min}"),
        rbps: None,
        wbps: None,
        riops: None,
        wiops: None,
    };
    for kv in rest.split(',') {
        let (k, v) = kv.split_once('=').ok_or_else(bad)?;
        let val = if v == "max" {
            None
        } else if k.ends_with("bps") {
            Some(common::parse::parse_bytes(v).map_err(|e| format!("{k}: {e}"))?)
        } else {
            Some(
                v.parse::<u64>()
                    .map_err(|_| format!("{k}: '{v}' is not a number"))?,
            )
        };
        match k {
            "rbps" => io.rbps = Some(val),
            "wbps" => io.wbps = Some(val),
            "riops" => io.riops = Some(val),
            "wiops" => io.wiops = Some(val),
            _ => return Err(format!("'{k}' is not one of rbps, wbps, riops, wiops")),
        }
    }
    Ok(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.5"), Ok(Cpus::Micro(500_000)));
        assert_eq!(parse_cpus("2"), Ok(Cpus::Micro(2_000_000)));
        assert_eq!(parse_cpus(".25"), Ok(Cpus::Micro(250_000)));
        assert_eq!(parse_cpus("max"), Ok(Cpus::Max));
        for b in ["", ".", "-1", "0", "1e3", "abc", "0.0001", "1.2.3"] {
            assert!(parse_cpus(b).is_err(), "{b}");
        }
    }

    #[test]
    fn raw_and_io() {
        let r = parse_raw("memory.max=256M").unwrap();
        assert_eq!(
            (r.controller.as_str(), r.file.as_str(), r.value.as_str()),
            ("memory", "memory.max", "256M")
        );
        for b in ["memory", "max=1", "memory./x=1", "../x.y=1"] {
            assert!(parse_raw(b).is_err(), "{b}");
        }
        let io = parse_io_max("8:0:rbps=1M,wiops=max").unwrap();
        assert_eq!(io.device, "8:0");
        assert_eq!(io.rbps, Some(Some(1 << 20)));
        assert_eq!(io.wiops, Some(None));
        assert!(parse_io_max("8:0").is_err());
        assert!(parse_io_max("8:0:foo=1").is_err());
    }
}

//! `ctr-state pid DIR`: the container's first process, as recorded in DIR/pid, but only while
//! that PID is still the same process. A PID is reused once its process has ended; a
//! launcher that signalled or entered the number it recorded could hit an unrelated process.
//! The process is held by a pidfd first, then checked: it must have started no later than
//! the pidfile was written (nsenter-rs writes it once the command runs), and it must be in
//! the container's cgroup (DIR/cgroup) when one is recorded.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::cli::PidArgs;
use crate::error::Error;

pub fn run(a: &PidArgs) -> Result<(), Error> {
    let init = Init::find(&a.dir)?;
    println!("{}", init.pid);
    Ok(())
}

/// The container's first process, checked, and held by a pidfd.
pub struct Init {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

impl Init {
    /// DIR/pid's process, if it still is the one the pidfile was written for.
    pub fn find(dir: &Path) -> Result<Init, Error> {
        let not_running = || Error::NotRunning(dir.to_path_buf());
        if dir.join("exit").exists() {
            return Err(not_running());
        }
        let pidfile = dir.join("pid");
        let text = fs::read_to_string(&pidfile).map_err(|_| not_running())?;
        let pid: i32 = text
            .trim()
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| Error::BadPidFile(pidfile.clone()))?;
        let written = fs::metadata(&pidfile).map_err(|_| not_running())?.mtime();
        let pidfd = rustix::process::Pid::from_raw(pid)
            .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
            .ok_or_else(not_running)?;
        // checked after the pidfd is held: it names this process even if the PID is reused
        let started = start_time(pid).ok_or_else(not_running)?;
        if started > written + 1 {
            return Err(Error::Reused {
                pid,
                dir: dir.to_path_buf(),
                why: format!("it started after {} was written", pidfile.display()),
            });
        }
        if let Ok(cg) = fs::read_to_string(dir.join("cgroup")) {
            let cg = cg.trim().trim_matches('/');
            if !cg.is_empty() && !in_cgroup(pid, cg) {
                return Err(Error::Reused {
                    pid,
                    dir: dir.to_path_buf(),
                    why: format!("it is not in the container's cgroup {cg}"),
                });
            }
        }
        Ok(Init { pid, pidfd })
    }
}

/// When process `pid` started, in seconds since the epoch (/proc/PID/stat field 22, in
/// clock ticks since boot, plus the boot time of /proc/stat).
fn start_time(pid: i32) -> Option<i64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // after the command name in parentheses (which may hold spaces and parentheses)
    let rest = &stat[stat.rfind(')')? + 2..];
    let ticks: i64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let btime: i64 = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = i64::try_from(rustix::param::clock_ticks_per_second())
        .unwrap_or(100)
        .max(1);
    Some(btime + ticks / hz)
}

/// Process `pid` is in cgroup `path` (relative to the hierarchy roots) in some hierarchy.
fn in_cgroup(pid: i32, path: &str) -> bool {
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return false;
    };
    text.lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .any(|p| p.trim_matches('/') == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_start_time_is_in_the_past() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let t = start_time(std::process::id() as i32).unwrap();
        assert!(t <= now + 1 && t > now - 3600, "{t} vs {now}");
    }

    #[test]
    fn cgroup_lines() {
        let own = fs::read_to_string("/proc/self/cgroup").unwrap();
        let path = own
            .lines()
            .filter_map(|l| l.splitn(3, ':').nth(2))
            .find(|p| *p != "/")
            .unwrap_or("/")
            .trim_matches('/')
            .to_string();
        assert!(in_cgroup(std::process::id() as i32, &path));
        assert!(!in_cgroup(
            std::process::id() as i32,
            "no/such/cgroup/of-ctrkit"
        ));
    }
}

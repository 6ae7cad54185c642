//! Rootless containers (`--userns auto|keep-id`, `--prestart`): the ID maps of a new user
//! namespace made from the caller's subordinate ranges (`/etc/subuid`, `/etc/subgid`) and
//! written through the system's setuid `newuidmap`/`newgidmap` (the uidmap package): an
//! unprivileged process may itself write only a one-ID map of its own IDs.
//!
//! - `auto`: root inside is the caller; IDs 1.. inside are the caller's ranges, in order.
//! - `keep-id` (Podman's meaning): the caller's uid and gid are the same inside; the IDs
//!   below and above them are the ranges.
//!
//! A caller without ranges gets the one-ID map (root inside, or its own ID with keep-id),
//! written directly with setgroups denied, as `--map-root-user` does.

use std::io::Read;
use std::path::Path;

use crate::error::Error;
use crate::settings::IdMap;

/// `--userns`: how a new user namespace maps IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// root inside is the caller; the caller's subordinate ranges follow
    Auto,
    /// the caller's uid and gid are the same inside (Podman's keep-id)
    KeepId,
}

/// The maps of one user namespace, and whether they need the setuid helpers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maps {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
    /// written by newuidmap/newgidmap (ranges), not directly (one ID, setgroups denied)
    pub helper: bool,
}

/// The maps for `mode`, for the caller (effective uid and gid), from the system's files.
pub fn maps(mode: Mode) -> Result<Maps, Error> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let name = nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name);
    let subuid = ranges(Path::new("/etc/subuid"), name.as_deref(), uid)?;
    let subgid = ranges(Path::new("/etc/subgid"), name.as_deref(), uid)?;
    Ok(build(mode, uid, gid, &subuid, &subgid))
}

/// The maps for `mode` of an ID pair and its ranges (start, count). With no range of either
/// kind, the one-ID maps (ranges of one kind only are not worth a helper: both or neither).
pub fn build(mode: Mode, uid: u32, gid: u32, subuid: &[(u32, u32)], subgid: &[(u32, u32)]) -> Maps {
    if subuid.is_empty() || subgid.is_empty() {
        let (iu, ig) = match mode {
            Mode::Auto => (0, 0),
            Mode::KeepId => (uid, gid),
        };
        return Maps {
            uid: vec![one(iu, uid)],
            gid: vec![one(ig, gid)],
            helper: false,
        };
    }
    let (iu, ig) = match mode {
        Mode::Auto => (0, 0),
        Mode::KeepId => (uid, gid),
    };
    Maps {
        uid: fill(iu, uid, subuid),
        gid: fill(ig, gid, subgid),
        helper: true,
    }
}

fn one(inside: u32, outside: u32) -> IdMap {
    IdMap {
        inside,
        outside,
        count: 1,
    }
}

/// `own` inside is `outside`; every other inside ID from 0 up is taken from `ranges` in
/// order, skipping `own` (a range is split around it).
fn fill(own: u32, outside: u32, ranges: &[(u32, u32)]) -> Vec<IdMap> {
    let mut out = vec![one(own, outside)];
    let mut next: u32 = if own == 0 { 1 } else { 0 };
    for &(start, count) in ranges {
        let (mut start, mut count) = (start, count);
        while count > 0 {
            // the stretch of inside IDs from `next` that does not cross `own`
            let room = if next < own {
                own - next
            } else {
                u32::MAX - next
            };
            let n = count.min(room);
            if n == 0 {
                break;
            }
            out.push(IdMap {
                inside: next,
                outside: start,
                count: n,
            });
            start += n;
            count -= n;
            next += n;
            if next == own {
                next += 1;
            }
        }
    }
    out
}

/// The ranges of `/etc/subuid`-like `file` (lines `NAME:START:COUNT` or `UID:START:COUNT`)
/// for the user `name` or `uid`; a missing file has none.
pub fn ranges(file: &Path, name: Option<&str>, uid: u32) -> Result<Vec<(u32, u32)>, Error> {
    let mut text = String::new();
    match std::fs::File::open(file) {
        Ok(mut f) => f.read_to_string(&mut text).map_err(|source| Error::Io {
            what: format!("cannot read {}", file.display()),
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                what: format!("cannot read {}", file.display()),
                source,
            });
        }
    };
    Ok(parse(&text, name, uid))
}

fn parse(text: &str, name: Option<&str>, uid: u32) -> Vec<(u32, u32)> {
    let uid_s = uid.to_string();
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            if who != uid_s && Some(who) != name {
                return None;
            }
            let (start, count) = (start.parse::<u32>().ok()?, count.parse::<u32>().ok()?);
            (count > 0 && start.checked_add(count).is_some()).then_some((start, count))
        })
        .collect()
}

/// Write `maps` for the new user namespace of `pid`: through newuidmap and newgidmap, or
/// (one ID) directly with setgroups denied.
pub fn write(pid: i32, maps: &Maps) -> Result<(), Error> {
    if !maps.helper {
        for (file, text) in [
            ("setgroups", "deny\n".to_string()),
            ("uid_map", IdMap::render(&maps.uid)),
            ("gid_map", IdMap::render(&maps.gid)),
        ] {
            let path = format!("/proc/{pid}/{file}");
            std::fs::write(&path, &text).map_err(|source| Error::Io {
                what: format!(
                    "cannot write '{}' to {path}",
                    text.trim().replace('\n', ", ")
                ),
                source,
            })?;
        }
        return Ok(());
    }
    for (tool, m) in [("newuidmap", &maps.uid), ("newgidmap", &maps.gid)] {
        let mut cmd = std::process::Command::new(tool);
        cmd.arg(pid.to_string());
        for e in m {
            cmd.args([
                e.inside.to_string(),
                e.outside.to_string(),
                e.count.to_string(),
            ]);
        }
        run_quiet(&mut cmd, tool)?;
    }
    Ok(())
}

/// `--rootfs-overlay OPTIONS`: in the child's new mount namespace (made private first, so
/// nothing propagates back), overlayfs on the rootfs -- in a new user namespace since Linux
/// 5.11, which is how a rootless container gets its image's layers.
pub fn mount_overlay(root: &Path, opts: &str) -> Result<(), Error> {
    use nix::mount::{MsFlags, mount};
    crate::mounts::make_private()?;
    mount(
        Some("overlay"),
        root,
        Some("overlay"),
        MsFlags::empty(),
        Some(opts),
    )
    .map_err(|source| Error::Sys {
        what: format!("cannot mount overlay on {}", root.display()),
        source,
    })
}

/// `--prestart CMD`: run CMD (split on spaces) with `pid` as its last argument, once the
/// maps are written and before the container's command runs; it must exit 0. (For a
/// user-mode network: `pasta --config-net ... PID` joins the container's user and net
/// namespaces, sets up its interface and stays in the background.)
///
/// With `pidfile` (`--prestart-pidfile`), the process CMD left in the background wrote its
/// PID there: a pidfd of it is returned (taken while it surely runs, so a PID used again
/// later is never hit), for [`Background`] to kill it when the container's command ends --
/// pasta outlives its namespace's last process, and would hold the host's ports until
/// ctr-rm (a `--restart` could not bind them again).
pub fn prestart(
    cmdline: &str,
    pid: i32,
    pidfile: Option<&Path>,
) -> Result<Option<std::os::fd::OwnedFd>, Error> {
    let mut words = cmdline.split(' ').filter(|w| !w.is_empty());
    let Some(prog) = words.next() else {
        return Err(Error::Usage("--prestart needs a command".into()));
    };
    let mut cmd = std::process::Command::new(prog);
    cmd.args(words).arg(pid.to_string());
    run_quiet(&mut cmd, &format!("prestart {prog}"))?;
    let Some(file) = pidfile else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
        what: format!(
            "--prestart-pidfile {}: prestart {prog} wrote no PID there",
            file.display()
        ),
        source,
    })?;
    let bg = text
        .trim()
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| {
            Error::Setup(format!(
                "--prestart-pidfile {}: '{}' is not a PID",
                file.display(),
                text.trim()
            ))
        })?;
    rustix::process::pidfd_open(bg, rustix::process::PidfdFlags::empty())
        .map(Some)
        .map_err(|e| Error::Sys {
            what: format!(
                "--prestart-pidfile {}: cannot open process {}",
                file.display(),
                bg.as_raw_nonzero()
            ),
            source: crate::resolve::errno(e),
        })
}

/// The background process of `--prestart-pidfile` (a pidfd), killed when this is dropped:
/// once the container's command ended, or nsenter-rs failed after the prestart. The drop
/// waits (a second at most) until it is gone, so its ports are free for a restart.
pub struct Background(pub Option<std::os::fd::OwnedFd>);

impl Background {
    /// Leave the process running (`--detach`: nobody is left to wait for the command).
    pub fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let Some(fd) = &self.0 else { return };
        if rustix::process::pidfd_send_signal(fd, rustix::process::Signal::KILL).is_ok() {
            // (a pidfd is readable once its process has exited)
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(1000u16));
        }
    }
}

/// Run `cmd` (stdin and stdout /dev/null), failing with its last stderr line. The status is
/// waited for, not the end of stderr: a helper that stays in the background (pasta) may
/// keep it open, so it is read without blocking once the command exited.
fn run_quiet(cmd: &mut std::process::Command, what: &str) -> Result<(), Error> {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Io {
            what: format!("cannot run {what}"),
            source,
        })?;
    let status = child.wait().map_err(|source| Error::Io {
        what: format!("cannot wait for {what}"),
        source,
    })?;
    if status.success() {
        return Ok(());
    }
    let mut text = Vec::new();
    if let Some(mut err) = child.stderr.take() {
        use std::os::fd::AsFd;
        let fd = err.as_fd();
        if let Ok(fl) = rustix::fs::fcntl_getfl(fd) {
            let _ = rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK);
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 || text.len() > 65536 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
        }
    }
    let text = String::from_utf8_lossy(&text);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(Error::Setup(match (last, status.code()) {
        ("", Some(c)) => format!("{what} failed (exit {c})"),
        ("", None) => format!("{what} failed ({status})"),
        (l, _) => format!("{what} failed: {}", l.trim()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &[(u32, u32, u32)]) -> Vec<IdMap> {
        v.iter()
            .map(|&(inside, outside, count)| IdMap {
                inside,
                outside,
                count,
            })
            .collect()
    }

    #[test]
    fn auto_maps_root_then_the_ranges() {
        let r = build(Mode::Auto, 1001, 1002, &[(100000, 65536)], &[(200000, 10)]);
        assert!(r.helper);
        assert_eq!(r.uid, m(&[(0, 1001, 1), (1, 100000, 65536)]));
        assert_eq!(r.gid, m(&[(0, 1002, 1), (1, 200000, 10)]));
    }

    #[test]
    fn keep_id_splits_a_range_around_the_users_id() {
        let r = build(
            Mode::KeepId,
            1001,
            1001,
            &[(100000, 65536)],
            &[(100000, 65536)],
        );
        assert_eq!(
            r.uid,
            m(&[(1001, 1001, 1), (0, 100000, 1001), (1002, 101001, 64535)])
        );
    }

    #[test]
    fn no_ranges_is_a_one_id_map() {
        let r = build(Mode::KeepId, 1001, 1002, &[], &[(5, 5)]);
        assert!(!r.helper);
        assert_eq!(r.uid, m(&[(1001, 1001, 1)]));
        assert_eq!(r.gid, m(&[(1002, 1002, 1)]));
        let r = build(Mode::Auto, 1001, 1002, &[], &[]);
        assert_eq!(r.uid, m(&[(0, 1001, 1)]));
    }

    #[test]
    fn parse_takes_the_users_lines_by_name_or_uid() {
        let t = "alice:100000:65536\nbob:165536:65536\n1001:300000:5\nbad line\nalice:x:1\n";
        assert_eq!(
            parse(t, Some("alice"), 1001),
            vec![(100000, 65536), (300000, 5)]
        );
        assert_eq!(parse(t, None, 7), vec![]);
    }
}

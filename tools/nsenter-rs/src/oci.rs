//! What an OCI runtime (ctr-oci) needs from nsenter-rs beyond a container's birth:
//!
//! - `--wait-fifo PATH` (create mode): the container is built completely, then its process
//!   waits before exec until someone opens the fifo PATH for reading (`ctr-oci start`), as
//!   runc's `exec.fifo`. The fifo is opened `O_PATH` before anything is created and reopened
//!   for writing through `/proc/self/fd` at the end (the host path is gone after
//!   `pivot_root`). nsenter-rs returns (with `--detach`) once the process waits, not once
//!   it runs.
//! - `--console-socket PATH` (create and enter mode): the command's pty master is sent over
//!   the unix socket PATH with SCM_RIGHTS (runc's protocol: the message text is the pty's
//!   name), and nsenter-rs keeps no copy of it.

use std::io::{IoSlice, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// What the container's process writes on the report pipe once it waits on the fifo: the
/// parent then knows the setup succeeded (the pipe is not closed by an exec yet).
pub const READY: &str = "READY";

/// `--wait-fifo PATH`: the fifo, opened without reading or writing (no blocking).
pub fn open_fifo(path: &Path) -> Result<OwnedFd, Error> {
    use rustix::fs::{Mode, OFlags, open};
    let fd = open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).map_err(|e| Error::Sys {
        what: format!("cannot open wait fifo {}", path.display()),
        source: crate::resolve::errno(e),
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::Sys {
        what: format!("cannot stat wait fifo {}", path.display()),
        source: crate::resolve::errno(e),
    })?;
    if crate::resolve::file_type(&st) != libc::S_IFIFO {
        return Err(Error::Usage(format!(
            "--wait-fifo {} is not a fifo (mkfifo it first)",
            path.display()
        )));
    }
    Ok(fd)
}

/// In the container's process, the last step before exec: tell the parent we are ready
/// (`report`, then closed), and block until the fifo is opened for reading.
pub fn wait_start(fifo: &OwnedFd, report: Option<OwnedFd>) -> Result<(), Error> {
    if let Some(w) = report {
        let _ = std::fs::File::from(w).write_all(format!("{READY}\n").as_bytes());
    }
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let f = loop {
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(f) => break f,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Io {
                    what: "cannot open the wait fifo (is /proc mounted in the container?)".into(),
                    source: e,
                });
            }
        }
    };
    let _ = (&f).write_all(b"0");
    Ok(())
}

/// Connect to the console socket at `path` (before any namespace is joined: its path is the
/// host's).
pub fn connect_console(path: &Path) -> Result<OwnedFd, Error> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketType, connect, socket_with};
    let fail = |what: &str, e: rustix::io::Errno| Error::Sys {
        what: format!("{what} console socket {}", path.display()),
        source: crate::resolve::errno(e),
    };
    let sock = socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| fail("cannot create a socket for", e))?;
    let addr = SocketAddrUnix::new(path).map_err(|e| fail("bad", e))?;
    connect(&sock, &addr).map_err(|e| fail("cannot connect to", e))?;
    Ok(sock)
}

/// Send `master` over the connected console socket `sock` (SCM_RIGHTS), as runc's
/// `--console-socket`; `path` names it in errors.
pub fn send_console(sock: &OwnedFd, path: &Path, master: &OwnedFd) -> Result<(), Error> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [master.as_fd()];
    control.push(SendAncillaryMessage::ScmRights(&fds));
    sendmsg(
        sock,
        &[IoSlice::new(b"/dev/ptmx")],
        &mut control,
        SendFlags::empty(),
    )
    .map_err(|e| Error::Sys {
        what: format!("cannot send the pty over console socket {}", path.display()),
        source: crate::resolve::errno(e),
    })?;
    Ok(())
}

/// `--cap-sets B:E:I:P:A` (hex masks). Capabilities we cannot hand on are left out; an
/// ambient one needs to be permitted and inheritable too (the kernel's rule).
pub fn parse_cap_sets(s: &str) -> Result<crate::capset::Sets, String> {
    let masks: Vec<u64> = s
        .split(':')
        .map(|m| u64::from_str_radix(m.trim().trim_start_matches("0x"), 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{s}' is not five hex masks B:E:I:P:A"))?;
    let [b, e, i, p, a] = masks[..] else {
        return Err(format!("'{s}' is not five hex masks B:E:I:P:A"));
    };
    let avail = crate::capset::mask(&crate::capset::all_available());
    let set = |m: u64| crate::capset::from_mask(m & avail);
    Ok(crate::capset::Sets {
        bounding: set(b),
        effective: set(e & p),
        inheritable: set(i),
        permitted: set(p),
        ambient: set(a & p & i),
    })
}

/// `--mask` and `--readonly-path`, after `pivot_root` ("/" is the rootfs): a folder gets an
/// empty read-only tmpfs, a file /dev/null; a read-only path is bound on itself and
/// remounted read-only. Paths that do not exist are skipped (as runc does).
pub fn apply_masks(masked: &[PathBuf], read_only: &[PathBuf]) -> Result<(), Error> {
    use nix::mount::{MsFlags, mount};
    let fail = |what: String| move |source| Error::Sys { what, source };
    for p in masked {
        let Ok(md) = std::fs::symlink_metadata(p) else {
            continue;
        };
        if md.is_dir() {
            mount(
                Some("tmpfs"),
                p,
                Some("tmpfs"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                Some("size=0"),
            )
        } else {
            mount(
                Some("/dev/null"),
                p,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        }
        .map_err(fail(format!("cannot mask {}", p.display())))?;
    }
    for p in read_only {
        if std::fs::symlink_metadata(p).is_err() {
            continue;
        }
        mount(
            Some(p.as_path()),
            p,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(fail(format!("cannot bind {} on itself", p.display())))?;
        let flags = nix::sys::statvfs::statvfs(p)
            .map(|v| {
                use nix::sys::statvfs::FsFlags;
                let f = v.flags();
                let mut m = MsFlags::empty();
                for (a, b) in [
                    (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
                    (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
                    (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
                ] {
                    if f.contains(a) {
                        m |= b;
                    }
                }
                m
            })
            .unwrap_or(MsFlags::empty());
        mount(
            None::<&str>,
            p,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
            None::<&str>,
        )
        .map_err(fail(format!("cannot make {} read-only", p.display())))?;
    }
    Ok(())
}

/// `--console-size ROWSxCOLS`
pub fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("'{s}' is not ROWSxCOLS (e.g. 24x80)");
    let (r, c) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    Ok((
        r.trim().parse().map_err(|_| bad())?,
        c.trim().parse().map_err(|_| bad())?,
    ))
}

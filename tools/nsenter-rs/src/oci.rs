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
    let open = || match FD_DIR.get() {
        // (--chroot: no /proc in the container; our fd folder opened before the chroot)
        Some(dir) => rustix::fs::openat(
            dir,
            fifo.as_raw_fd().to_string(),
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map(std::fs::File::from)
        .map_err(|e| std::io::Error::from_raw_os_error(e.raw_os_error())),
        None => std::fs::OpenOptions::new().write(true).open(&path),
    };
    let f = loop {
        match open() {
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

/// `--chroot`: /proc/self/fd of the container's process, opened before the chroot.
static FD_DIR: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();

/// Open our /proc/self/fd folder for [`wait_start`] (in the container's process, before
/// `chroot`).
pub fn keep_fd_dir() -> Result<(), Error> {
    use rustix::fs::{Mode, OFlags, open};
    let fd = open(
        "/proc/self/fd",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Sys {
        what: "cannot open /proc/self/fd".into(),
        source: crate::resolve::errno(e),
    })?;
    let _ = FD_DIR.set(fd);
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

/// `--oci-fs FILE` (create mode with --rootfs): what of an OCI config's filesystem nsenter-rs
/// builds beyond its own /proc, /dev (with pts, shm, mqueue) and /sys, as ctr-oci writes it
/// (JSON): `mounts` (the config's, in its order, any type, with their options and
/// propagation; bind sources absolute), `devices` (made with mknod, as runc makes them:
/// the host need not have them) and `rootfsPropagation` (given to "/" after `pivot_root`;
/// everything is built private first, so nothing propagates to or from the host).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Fs {
    pub mounts: Vec<OciMount>,
    pub devices: Vec<OciDevice>,
    pub rootfs_propagation: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct OciMount {
    pub destination: PathBuf,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub source: Option<PathBuf>,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OciDevice {
    pub path: PathBuf,
    #[serde(rename = "type")]
    pub kind: String,
    pub major: u32,
    pub minor: u32,
    pub file_mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// `--oci-fs FILE`: read and check it.
pub fn load_fs(path: &Path) -> Result<Fs, Error> {
    let text = std::fs::read(path).map_err(|source| Error::Io {
        what: format!("cannot read --oci-fs {}", path.display()),
        source,
    })?;
    let fs: Fs = serde_json::from_slice(&text)
        .map_err(|e| Error::Usage(format!("--oci-fs {}: {e}", path.display())))?;
    for m in &fs.mounts {
        if !m.destination.is_absolute() {
            return Err(Error::Usage(format!(
                "--oci-fs {}: mount destination {} is not absolute",
                path.display(),
                m.destination.display()
            )));
        }
        parse_options(&m.options).map_err(|e| Error::Usage(format!("--oci-fs: {e}")))?;
    }
    for d in &fs.devices {
        if !d.path.is_absolute() || d.path.file_name().is_none() {
            return Err(Error::Usage(format!(
                "--oci-fs {}: device path {} is not an absolute file path",
                path.display(),
                d.path.display()
            )));
        }
        device_type(&d.kind).map_err(|e| Error::Usage(format!("--oci-fs: {e}")))?;
    }
    if let Some(p) = &fs.rootfs_propagation {
        propagation(p).ok_or_else(|| {
            Error::Usage(format!(
                "--oci-fs: rootfsPropagation '{p}' is not one of shared, slave, private, unbindable (optionally r...)"
            ))
        })?;
    }
    Ok(fs)
}

/// A propagation option's flags (`rshared`: recursive).
fn propagation(o: &str) -> Option<nix::mount::MsFlags> {
    use nix::mount::MsFlags as F;
    let (rec, base) = match o.strip_prefix('r') {
        Some(b @ ("shared" | "slave" | "private" | "unbindable")) => (F::MS_REC, b),
        _ => (F::empty(), o),
    };
    let f = match base {
        "shared" => F::MS_SHARED,
        "slave" => F::MS_SLAVE,
        "private" => F::MS_PRIVATE,
        "unbindable" => F::MS_UNBINDABLE,
        _ => return None,
    };
    Some(f | rec)
}

/// An OCI mount's options: (flags, propagation changes in order, data for the filesystem).
/// The flag names are mount(8)'s; anything else goes to the filesystem as data.
#[allow(clippy::type_complexity)]
fn parse_options(
    opts: &[String],
) -> Result<(nix::mount::MsFlags, Vec<nix::mount::MsFlags>, String), String> {
    use nix::mount::MsFlags as F;
    let e = F::empty();
    let table: [(&str, F, F); 24] = [
        ("ro", F::MS_RDONLY, e),
        ("rw", e, F::MS_RDONLY),
        ("nosuid", F::MS_NOSUID, e),
        ("suid", e, F::MS_NOSUID),
        ("nodev", F::MS_NODEV, e),
        ("dev", e, F::MS_NODEV),
        ("noexec", F::MS_NOEXEC, e),
        ("exec", e, F::MS_NOEXEC),
        ("sync", F::MS_SYNCHRONOUS, e),
        ("async", e, F::MS_SYNCHRONOUS),
        ("dirsync", F::MS_DIRSYNC, e),
        ("remount", F::MS_REMOUNT, e),
        ("mand", F::MS_MANDLOCK, e),
        ("nomand", e, F::MS_MANDLOCK),
        ("atime", e, F::MS_NOATIME),
        ("noatime", F::MS_NOATIME, e),
        ("diratime", e, F::MS_NODIRATIME),
        ("nodiratime", F::MS_NODIRATIME, e),
        ("relatime", F::MS_RELATIME, e),
        ("norelatime", e, F::MS_RELATIME),
        ("strictatime", F::MS_STRICTATIME, e),
        ("nostrictatime", e, F::MS_STRICTATIME),
        ("bind", F::MS_BIND, e),
        ("rbind", F::MS_BIND.union(F::MS_REC), e),
    ];
    let mut flags = F::empty();
    let mut props = Vec::new();
    let mut data: Vec<&str> = Vec::new();
    for o in opts {
        if let Some((_, set, clear)) = table.iter().find(|(n, _, _)| n == o) {
            flags = (flags - *clear) | *set;
        } else if let Some(p) = propagation(o) {
            props.push(p);
        } else if matches!(
            o.as_str(),
            "tmpcopyup" | "notmpcopyup" | "nocopyup" | "copyup"
        ) {
            // (a runtime's own option on tmpfs: the image's files are not copied up here)
        } else if o.is_empty() || o.contains('\n') {
            return Err(format!("mount option '{o}' is not valid"));
        } else {
            data.push(o);
        }
    }
    Ok((flags, props, data.join(",")))
}

/// c, u (unbuffered char), b, p: the node's type.
fn device_type(t: &str) -> Result<rustix::fs::FileType, String> {
    use rustix::fs::FileType;
    Ok(match t {
        "c" | "u" => FileType::CharacterDevice,
        "b" => FileType::BlockDevice,
        "p" => FileType::Fifo,
        other => return Err(format!("device type '{other}' is not c, u, b or p")),
    })
}

/// The mounts, then the devices, in the rootfs `tree` (before `pivot_root`).
pub fn build(fs: &Fs, tree: &crate::mounts::Tree, in_userns: bool) -> Result<(), Error> {
    for m in &fs.mounts {
        mount_one(m, tree)?;
    }
    for d in &fs.devices {
        make_device(d, tree, in_userns)?;
    }
    Ok(())
}

fn mount_one(m: &OciMount, tree: &crate::mounts::Tree) -> Result<(), Error> {
    use crate::mounts::mount_on;
    use crate::resolve::Want;
    use nix::mount::MsFlags as F;
    let dst = m.destination.as_path();
    let shown = tree.shown(dst);
    let (flags, props, data) = parse_options(&m.options).map_err(Error::Usage)?;
    let kind = m.kind.as_deref().unwrap_or("");
    if flags.contains(F::MS_BIND) || kind == "bind" {
        let src = m
            .source
            .as_deref()
            .ok_or_else(|| Error::Setup(format!("bind mount on {shown} has no source")))?;
        let md = std::fs::metadata(src).map_err(|source| Error::Io {
            what: format!("bind source {}", src.display()),
            source,
        })?;
        let want = if md.is_dir() { Want::Dir } else { Want::File };
        let fd = tree.create(dst, want)?;
        mount_on(
            Some(src),
            &fd,
            &shown,
            None,
            F::MS_BIND | (flags & F::MS_REC),
            None,
        )?;
        // the other flags by a remount of the bind, keeping the ones it has (some may be
        // locked)
        let extra = flags
            & (F::MS_RDONLY
                | F::MS_NOSUID
                | F::MS_NODEV
                | F::MS_NOEXEC
                | F::MS_NOATIME
                | F::MS_NODIRATIME
                | F::MS_RELATIME
                | F::MS_STRICTATIME);
        if !extra.is_empty() {
            let fd = tree.get(dst)?;
            let vfs = nix::sys::statvfs::fstatvfs(&fd).map_err(|source| Error::Sys {
                what: format!("cannot read the mount flags of {shown}"),
                source,
            })?;
            let mut keep = crate::mounts::ro_flags(&vfs) - F::MS_RDONLY;
            if extra.intersects(F::MS_NOATIME | F::MS_RELATIME | F::MS_STRICTATIME) {
                keep -= F::MS_NOATIME | F::MS_RELATIME | F::MS_NODIRATIME;
            }
            mount_on(
                None,
                &fd,
                &shown,
                None,
                keep | extra | F::MS_BIND | F::MS_REMOUNT,
                None,
            )?;
        }
    } else {
        if kind.is_empty() {
            return Err(Error::Setup(format!(
                "mount on {shown} has no type (and is no bind mount)"
            )));
        }
        let fd = tree.create(dst, Want::Dir)?;
        let src = m.source.clone().unwrap_or_else(|| PathBuf::from(kind));
        mount_on(
            Some(&src),
            &fd,
            &shown,
            Some(kind),
            flags - F::MS_REMOUNT,
            (!data.is_empty()).then_some(data.as_str()),
        )?;
    }
    for p in props {
        let fd = tree.get(dst)?;
        mount_on(None, &fd, &shown, None, p, None)?;
    }
    Ok(())
}

/// A `linux.devices` node: made with mknod (type, numbers, mode, owner as the config says);
/// in a user namespace, where mknod is refused, the host's node of the same path is bound.
fn make_device(d: &OciDevice, tree: &crate::mounts::Tree, in_userns: bool) -> Result<(), Error> {
    use crate::resolve::Want;
    let shown = tree.shown(&d.path);
    let kind = device_type(&d.kind).map_err(Error::Usage)?;
    let (Some(parent), Some(name)) = (d.path.parent(), d.path.file_name()) else {
        return Err(Error::Setup(format!("device {shown} names no file")));
    };
    let name = name.to_string_lossy();
    let dir = tree.create(parent, Want::Dir)?;
    let rdev = rustix::fs::makedev(d.major, d.minor);
    let perm = d.file_mode.unwrap_or(0o666) & 0o7777;
    let owner = Some((d.uid.unwrap_or(0), d.gid.unwrap_or(0)));
    let mut made = crate::mounts::make_node(&dir, &name, kind, perm, rdev, owner);
    if made == Err(nix::errno::Errno::EEXIST) {
        // something of the image's is there: the config's node replaces it
        let _ = rustix::fs::unlinkat(&dir, name.as_ref(), rustix::fs::AtFlags::empty());
        made = crate::mounts::make_node(&dir, &name, kind, perm, rdev, owner);
    }
    match made {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) if in_userns => {
            crate::mounts::bind_host_node(&dir, &name, &d.path, &shown)
        }
        Err(source) => Err(Error::Sys {
            what: format!("cannot create device {shown}"),
            source,
        }),
    }
}

/// `rootfsPropagation`: "/" (the rootfs, after `pivot_root`) gets it.
pub fn root_propagation(fs: &Fs) -> Result<(), Error> {
    let Some(p) = fs.rootfs_propagation.as_deref().and_then(propagation) else {
        return Ok(());
    };
    nix::mount::mount(None::<&str>, "/", None::<&str>, p, None::<&str>).map_err(|source| {
        Error::Sys {
            what: format!(
                "cannot make / {}",
                fs.rootfs_propagation.as_deref().unwrap_or("")
            ),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::mount::MsFlags as F;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mount_options_split_into_flags_propagation_and_data() {
        let (f, p, d) = parse_options(&opts(&[
            "nosuid", "ro", "rw", "mode=755", "size=1k", "rbind", "rslave", "shared",
        ]))
        .unwrap();
        assert_eq!(f, F::MS_NOSUID | F::MS_BIND | F::MS_REC);
        assert_eq!(p, vec![F::MS_SLAVE | F::MS_REC, F::MS_SHARED]);
        assert_eq!(d, "mode=755,size=1k");
        let (_, _, d) = parse_options(&opts(&["tmpcopyup", "strictatime"])).unwrap();
        assert_eq!(d, "");
        assert!(parse_options(&opts(&[""])).is_err());
        assert_eq!(
            propagation("runbindable"),
            Some(F::MS_UNBINDABLE | F::MS_REC)
        );
        assert_eq!(propagation("rbind"), None);
        assert!(device_type("x").is_err() && device_type("u").is_ok());
    }
}

//! Thin, fd-relative wrappers over the syscalls layer extraction and mounting need.
//!
//! Every path-taking call here is `*at`-style on a directory fd and never follows a
//! symlink in its last component; multi-component paths are resolved only by
//! [`open_beneath`] (openat2 with `RESOLVE_BENEATH`), so nothing can lead outside the fd.
//!
//! The system calls themselves go through safe wrappers, rustix's for files (openat2, the
//! `*at` family, xattrs) and the new mount API, nix's for mount(2) and umount2 (see the
//! README's dependency notes): this module only fixes the flags layermount wants and maps
//! the crates' errors to `io::Error`.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::mount::{MntFlags, MsFlags, umount2};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::fs::{Gid, Uid, XattrFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags};

/// A name for an `*at` call: "." for the directory fd itself.
fn dot(name: &[u8]) -> &[u8] {
    if name.is_empty() { b"." } else { name }
}

/// Retry on EINTR.
fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// openat2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): symlinks are
/// followed only while they stay below `dirfd`; `..` or an absolute link that leaves it
/// fails with EXDEV.
pub fn open_beneath(dirfd: impl AsFd, path: &[u8], flags: OFlags) -> io::Result<OwnedFd> {
    openat2(
        dirfd,
        path,
        flags,
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    )
}

/// openat2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): no symlink is
/// followed anywhere on the path (ELOOP), so what is opened is the file at that very path
/// below `dirfd`, whatever a concurrent writer swaps in. With `O_PATH | O_NOFOLLOW` a
/// symlink in the last component is opened itself.
pub fn open_strict(dirfd: impl AsFd, path: &[u8], flags: OFlags) -> io::Result<OwnedFd> {
    openat2(
        dirfd,
        path,
        flags,
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
}

fn openat2(
    dirfd: impl AsFd,
    path: &[u8],
    flags: OFlags,
    resolve: ResolveFlags,
) -> io::Result<OwnedFd> {
    let (dirfd, path) = (dirfd.as_fd(), dot(path));
    retry(|| rustix::fs::openat2(dirfd, path, flags | OFlags::CLOEXEC, Mode::empty(), resolve))
}

/// openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode) for one path component.
pub fn openat(dirfd: impl AsFd, name: &[u8], flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
    let (dirfd, flags) = (dirfd.as_fd(), flags | OFlags::NOFOLLOW | OFlags::CLOEXEC);
    retry(|| rustix::fs::openat(dirfd, name, flags, Mode::from_raw_mode(mode)))
}

pub fn open_path(path: &std::path::Path, flags: OFlags) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// readlinkat(dirfd, name): the target of the symlink `name` in `dirfd` (with an empty
/// `name`, of the symlink `dirfd` was opened on with O_PATH | O_NOFOLLOW).
pub fn readlinkat(dirfd: impl AsFd, name: &[u8]) -> io::Result<Vec<u8>> {
    Ok(rustix::fs::readlinkat(dirfd, name, Vec::new())?.into_bytes())
}

/// fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW); `Ok(None)` when it does not exist.
pub fn lstatat(dirfd: impl AsFd, name: &[u8]) -> io::Result<Option<rustix::fs::Stat>> {
    match rustix::fs::statat(dirfd, dot(name), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn mkdirat(dirfd: impl AsFd, name: &[u8], mode: u32) -> io::Result<()> {
    Ok(rustix::fs::mkdirat(dirfd, name, Mode::from_raw_mode(mode))?)
}

pub fn unlinkat(dirfd: impl AsFd, name: &[u8], dir: bool) -> io::Result<()> {
    let flags = if dir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    Ok(rustix::fs::unlinkat(dirfd, name, flags)?)
}

pub fn symlinkat(target: &[u8], dirfd: impl AsFd, name: &[u8]) -> io::Result<()> {
    Ok(rustix::fs::symlinkat(target, dirfd, name)?)
}

/// linkat without AT_SYMLINK_FOLLOW: links the named entry itself.
pub fn linkat(
    olddir: impl AsFd,
    oldname: &[u8],
    newdir: impl AsFd,
    newname: &[u8],
) -> io::Result<()> {
    Ok(rustix::fs::linkat(
        olddir,
        oldname,
        newdir,
        newname,
        AtFlags::empty(),
    )?)
}

/// mknodat with `mode` holding both the file type (`S_IFCHR`, ...) and the permissions.
pub fn mknodat(dirfd: impl AsFd, name: &[u8], mode: u32, major: u32, minor: u32) -> io::Result<()> {
    Ok(rustix::fs::mknodat(
        dirfd,
        name,
        FileType::from_raw_mode(mode),
        Mode::from_raw_mode(mode),
        rustix::fs::makedev(major, minor),
    )?)
}

fn ids(uid: u32, gid: u32) -> (Option<Uid>, Option<Gid>) {
    (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
}

pub fn fchownat_nofollow(dirfd: impl AsFd, name: &[u8], uid: u32, gid: u32) -> io::Result<()> {
    let (u, g) = ids(uid, gid);
    Ok(rustix::fs::chownat(
        dirfd,
        dot(name),
        u,
        g,
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

pub fn fchown(fd: impl AsFd, uid: u32, gid: u32) -> io::Result<()> {
    let (u, g) = ids(uid, gid);
    Ok(rustix::fs::fchown(fd, u, g)?)
}

pub fn fchmod(fd: impl AsFd, mode: u32) -> io::Result<()> {
    Ok(rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?)
}

pub fn fchmodat(dirfd: impl AsFd, name: &[u8], mode: u32) -> io::Result<()> {
    Ok(rustix::fs::chmodat(
        dirfd,
        name,
        Mode::from_raw_mode(mode),
        AtFlags::empty(),
    )?)
}

/// The same time for the last access and the last modification.
fn times(secs: i64, nsec: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: nsec,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Set atime and mtime of `name` in `dirfd` (not following a symlink).
pub fn set_mtime_at(dirfd: impl AsFd, name: &[u8], secs: i64, nsec: i64) -> io::Result<()> {
    Ok(rustix::fs::utimensat(
        dirfd,
        dot(name),
        &times(secs, nsec),
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

pub fn fset_mtime(fd: impl AsFd, secs: i64, nsec: i64) -> io::Result<()> {
    Ok(rustix::fs::futimens(fd, &times(secs, nsec))?)
}

pub fn fsetxattr(fd: impl AsFd, name: &[u8], value: &[u8]) -> io::Result<()> {
    Ok(rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty())?)
}

/// lgetxattr on a path; `Ok(None)` when the attribute is absent or unsupported.
pub fn lgetxattr(path: &std::path::Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(rustix::io::Errno::NODATA) | Err(rustix::io::Errno::NOTSUP) => return Ok(None),
            Err(rustix::io::Errno::RANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e.into()),
        }
    }
}

/// All extended attribute names of a path (not following a symlink).
pub fn llistxattr(path: &std::path::Path) -> io::Result<Vec<Vec<u8>>> {
    let mut buf = vec![0u8; 1024];
    loop {
        match rustix::fs::llistxattr(path, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                break;
            }
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(rustix::io::Errno::RANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(buf
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| s.to_vec())
        .collect())
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// We are in the host's user namespace (the identity map of every ID), not in a rootless
/// user's, where root may chown to mapped IDs but makes no device nodes.
pub fn host_userns() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
        let f: Vec<&str> = m.split_whitespace().collect();
        f == ["0", "0", "4294967295"]
    })
}

/// Remove `name` in `dirfd` and everything below it, without following symlinks.
pub fn remove_all_at(dirfd: impl AsFd, name: &[u8]) -> io::Result<()> {
    let dirfd = dirfd.as_fd();
    let Some(st) = lstatat(dirfd, name)? else {
        return Ok(());
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return unlinkat(dirfd, name, false);
    }
    let fd = openat(dirfd, name, OFlags::RDONLY | OFlags::DIRECTORY, 0)?;
    for child in read_dir_fd(&fd)? {
        remove_all_at(&fd, &child)?;
    }
    drop(fd);
    unlinkat(dirfd, name, true)
}

/// The names in a directory fd (without `.` and `..`).
pub fn read_dir_fd(fd: impl AsFd) -> io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for ent in rustix::fs::Dir::read_from(fd)? {
        let ent = ent?;
        let name = ent.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

pub fn osstr(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

// ---- mounts ------------------------------------------------------------------------------

/// A filesystem context from fsopen(2).
pub struct FsContext(OwnedFd);

impl FsContext {
    pub fn open(fstype: &str) -> io::Result<FsContext> {
        Ok(FsContext(rustix::mount::fsopen(
            fstype,
            FsOpenFlags::FSOPEN_CLOEXEC,
        )?))
    }

    pub fn set_string(&self, key: &str, value: &[u8]) -> io::Result<()> {
        Ok(rustix::mount::fsconfig_set_string(&self.0, key, value)?)
    }

    pub fn set_flag(&self, key: &str) -> io::Result<()> {
        Ok(rustix::mount::fsconfig_set_flag(&self.0, key)?)
    }

    /// The kernel's explanation of the last failure, if it logged one.
    pub fn last_message(&self) -> Option<String> {
        let mut buf = [0u8; 1024];
        match rustix::io::read(&self.0, &mut buf) {
            Ok(n) if n > 0 => Some(String::from_utf8_lossy(&buf[..n]).trim_end().to_string()),
            _ => None,
        }
    }

    /// FSCONFIG_CMD_CREATE, fsmount, move_mount onto `target`.
    pub fn create_and_attach(&self, target: &std::path::Path, readonly: bool) -> io::Result<()> {
        rustix::mount::fsconfig_create(&self.0)?;
        let attr = if readonly {
            MountAttrFlags::MOUNT_ATTR_RDONLY
        } else {
            MountAttrFlags::empty()
        };
        let mfd = rustix::mount::fsmount(&self.0, FsMountFlags::FSMOUNT_CLOEXEC, attr)?;
        Ok(rustix::mount::move_mount(
            &mfd,
            c"",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )?)
    }
}

pub fn umount(target: &std::path::Path) -> io::Result<()> {
    Ok(umount2(target, MntFlags::UMOUNT_NOFOLLOW)?)
}

/// mount(2) of a new filesystem (`MS_RDONLY` when `readonly`) with its option string.
pub fn mount(
    src: &[u8],
    target: &std::path::Path,
    fstype: &str,
    readonly: bool,
    data: &[u8],
) -> io::Result<()> {
    let flags = if readonly {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    Ok(nix::mount::mount(
        Some(src),
        target,
        Some(fstype),
        flags,
        Some(data),
    )?)
}

/// A bind mount of `src` on `target` (MS_BIND).
pub fn bind(src: &std::path::Path, target: &std::path::Path) -> io::Result<()> {
    Ok(nix::mount::mount(
        Some(src),
        target,
        Some(""),
        MsFlags::MS_BIND,
        Some(""),
    )?)
}

/// Make the bind mount on `target` read-only (MS_REMOUNT | MS_BIND | MS_RDONLY).
pub fn remount_bind_readonly(target: &std::path::Path) -> io::Result<()> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    Ok(nix::mount::mount(
        Some(""),
        target,
        Some(""),
        flags,
        Some(""),
    )?)
}

//! Thin, fd-relative wrappers over the syscalls layer extraction and mounting need.
//!
//! Every path-taking call here is `*at`-style on a directory fd and never follows a
//! symlink in its last component; multi-component paths are resolved only by
//! [`open_beneath`] (openat2 with `RESOLVE_BENEATH`), so nothing can lead outside the fd.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

pub fn cstr(s: &[u8]) -> io::Result<CString> {
    CString::new(s)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

fn cvt(rc: libc::c_long) -> io::Result<libc::c_long> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn cvt_i(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Retry on EINTR.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;

/// openat2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): symlinks are
/// followed only while they stay below `dirfd`; `..` or an absolute link that leaves it
/// fails with EXDEV.
pub fn open_beneath(dirfd: RawFd, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
    openat2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
}

/// openat2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): no symlink is
/// followed anywhere on the path (ELOOP), so what is opened is the file at that very path
/// below `dirfd`, whatever a concurrent writer swaps in. With `O_PATH | O_NOFOLLOW` a
/// symlink in the last component is opened itself.
pub fn open_strict(dirfd: RawFd, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
    openat2(
        dirfd,
        path,
        flags,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
}

fn openat2(dirfd: RawFd, path: &[u8], flags: i32, resolve: u64) -> io::Result<OwnedFd> {
    let p = cstr(if path.is_empty() { b"." } else { path })?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    retry(|| {
        // SAFETY: valid C string and a correctly sized open_how struct.
        let fd = cvt(unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                p.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        })?;
        // SAFETY: the kernel returned a new fd we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    })
}

/// openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode) for one path component.
pub fn openat(dirfd: RawFd, name: &[u8], flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let p = cstr(name)?;
    retry(|| {
        // SAFETY: valid C string.
        let fd = cvt_i(unsafe {
            libc::openat(
                dirfd,
                p.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                mode,
            )
        })?;
        // SAFETY: new fd we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    })
}

pub fn open_path(path: &std::path::Path, flags: i32) -> io::Result<OwnedFd> {
    let p = cstr(path.as_os_str().as_bytes())?;
    // SAFETY: valid C string.
    let fd = cvt_i(unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// readlinkat(dirfd, name): the target of the symlink `name` in `dirfd` (with an empty
/// `name`, of the symlink `dirfd` was opened on with O_PATH | O_NOFOLLOW).
pub fn readlinkat(dirfd: RawFd, name: &[u8]) -> io::Result<Vec<u8>> {
    let p = cstr(name)?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C string and buffer.
    let n = unsafe { libc::readlinkat(dirfd, p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

/// fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW); `Ok(None)` when it does not exist.
pub fn lstatat(dirfd: RawFd, name: &[u8]) -> io::Result<Option<libc::stat>> {
    let p = cstr(if name.is_empty() { b"." } else { name })?;
    // SAFETY: zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers.
    let rc = unsafe { libc::fstatat(dirfd, p.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 {
        return Ok(Some(st));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENOENT) {
        Ok(None)
    } else {
        Err(e)
    }
}

pub fn mkdirat(dirfd: RawFd, name: &[u8], mode: u32) -> io::Result<()> {
    let p = cstr(name)?;
    // SAFETY: valid C string.
    cvt_i(unsafe { libc::mkdirat(dirfd, p.as_ptr(), mode) }).map(drop)
}

pub fn unlinkat(dirfd: RawFd, name: &[u8], dir: bool) -> io::Result<()> {
    let p = cstr(name)?;
    let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: valid C string.
    cvt_i(unsafe { libc::unlinkat(dirfd, p.as_ptr(), flags) }).map(drop)
}

pub fn symlinkat(target: &[u8], dirfd: RawFd, name: &[u8]) -> io::Result<()> {
    let t = cstr(target)?;
    let p = cstr(name)?;
    // SAFETY: valid C strings.
    cvt_i(unsafe { libc::symlinkat(t.as_ptr(), dirfd, p.as_ptr()) }).map(drop)
}

/// linkat without AT_SYMLINK_FOLLOW: links the named entry itself.
pub fn linkat(olddir: RawFd, oldname: &[u8], newdir: RawFd, newname: &[u8]) -> io::Result<()> {
    let o = cstr(oldname)?;
    let n = cstr(newname)?;
    // SAFETY: valid C strings.
    cvt_i(unsafe { libc::linkat(olddir, o.as_ptr(), newdir, n.as_ptr(), 0) }).map(drop)
}

pub fn mknodat(dirfd: RawFd, name: &[u8], mode: u32, major: u32, minor: u32) -> io::Result<()> {
    let p = cstr(name)?;
    let dev = libc::makedev(major, minor);
    // SAFETY: valid C string.
    cvt_i(unsafe { libc::mknodat(dirfd, p.as_ptr(), mode, dev) }).map(drop)
}

pub fn fchownat_nofollow(dirfd: RawFd, name: &[u8], uid: u32, gid: u32) -> io::Result<()> {
    let p = cstr(if name.is_empty() { b"." } else { name })?;
    // SAFETY: valid C string.
    cvt_i(unsafe { libc::fchownat(dirfd, p.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) })
        .map(drop)
}

pub fn fchown(fd: RawFd, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt_i(unsafe { libc::fchown(fd, uid, gid) }).map(drop)
}

pub fn fchmod(fd: RawFd, mode: u32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt_i(unsafe { libc::fchmod(fd, mode) }).map(drop)
}

pub fn fchmodat(dirfd: RawFd, name: &[u8], mode: u32) -> io::Result<()> {
    let p = cstr(name)?;
    // SAFETY: valid C string.
    cvt_i(unsafe { libc::fchmodat(dirfd, p.as_ptr(), mode, 0) }).map(drop)
}

fn timespec(secs: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: secs,
        tv_nsec: nsec,
    }
}

/// Set atime and mtime of `name` in `dirfd` (not following a symlink).
pub fn set_mtime_at(dirfd: RawFd, name: &[u8], secs: i64, nsec: i64) -> io::Result<()> {
    let p = cstr(if name.is_empty() { b"." } else { name })?;
    let t = [timespec(secs, nsec), timespec(secs, nsec)];
    // SAFETY: valid C string and 2 timespecs.
    cvt_i(unsafe { libc::utimensat(dirfd, p.as_ptr(), t.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
        .map(drop)
}

pub fn fset_mtime(fd: RawFd, secs: i64, nsec: i64) -> io::Result<()> {
    let t = [timespec(secs, nsec), timespec(secs, nsec)];
    // SAFETY: 2 timespecs.
    cvt_i(unsafe { libc::futimens(fd, t.as_ptr()) }).map(drop)
}

pub fn fsetxattr(fd: RawFd, name: &[u8], value: &[u8]) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid pointers and lengths.
    cvt_i(unsafe { libc::fsetxattr(fd, n.as_ptr(), value.as_ptr().cast(), value.len(), 0) })
        .map(drop)
}

/// lgetxattr on a path; `Ok(None)` when the attribute is absent or unsupported.
pub fn lgetxattr(path: &std::path::Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let p = cstr(path.as_os_str().as_bytes())?;
    let n = cstr(name.as_bytes())?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: valid pointers and lengths.
        let rc =
            unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if rc >= 0 {
            buf.truncate(rc as usize);
            return Ok(Some(buf));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            _ => return Err(e),
        }
    }
}

/// All extended attribute names of a path (not following a symlink).
pub fn llistxattr(path: &std::path::Path) -> io::Result<Vec<Vec<u8>>> {
    let p = cstr(path.as_os_str().as_bytes())?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: valid pointers and lengths.
        let rc = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if rc >= 0 {
            buf.truncate(rc as usize);
            break;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Some(libc::ERANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            _ => return Err(e),
        }
    }
    Ok(buf
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| s.to_vec())
        .collect())
}

pub fn is_root() -> bool {
    // SAFETY: trivial syscall.
    unsafe { libc::geteuid() == 0 }
}

pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: trivial syscall.
    unsafe { libc::isatty(fd) == 1 }
}

/// Remove `name` in `dirfd` and everything below it, without following symlinks.
pub fn remove_all_at(dirfd: RawFd, name: &[u8]) -> io::Result<()> {
    let Some(st) = lstatat(dirfd, name)? else {
        return Ok(());
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return unlinkat(dirfd, name, false);
    }
    let fd = openat(dirfd, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    for child in read_dir_fd(fd.as_raw_fd())? {
        remove_all_at(fd.as_raw_fd(), &child)?;
    }
    drop(fd);
    unlinkat(dirfd, name, true)
}

/// The names in a directory fd (without `.` and `..`).
pub fn read_dir_fd(fd: RawFd) -> io::Result<Vec<Vec<u8>>> {
    // SAFETY: dup of a valid fd; fdopendir takes ownership of the duplicate.
    let dup = cvt_i(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: dup is a directory fd we own.
    let dir = unsafe { libc::fdopendir(dup) };
    if dir.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: closing our own dup.
        unsafe { libc::close(dup) };
        return Err(e);
    }
    // SAFETY: rewind a fresh DIR stream.
    unsafe { libc::rewinddir(dir) };
    let mut names = Vec::new();
    loop {
        // SAFETY: dir is a valid DIR*.
        let ent = unsafe { libc::readdir(dir) };
        if ent.is_null() {
            break;
        }
        // SAFETY: d_name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    // SAFETY: closes the DIR and the dup.
    unsafe { libc::closedir(dir) };
    Ok(names)
}

pub fn osstr(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

// ---- mounts ------------------------------------------------------------------------------

const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const FSMOUNT_CLOEXEC: u32 = 1;
const MOUNT_ATTR_RDONLY: u32 = 1;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 4;

/// A filesystem context from fsopen(2).
pub struct FsContext(OwnedFd);

impl FsContext {
    pub fn open(fstype: &str) -> io::Result<FsContext> {
        let t = cstr(fstype.as_bytes())?;
        // SAFETY: valid C string.
        let fd = cvt(unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), 1u32) })?;
        // SAFETY: new fd we own.
        Ok(FsContext(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    pub fn set_string(&self, key: &str, value: &[u8]) -> io::Result<()> {
        let k = cstr(key.as_bytes())?;
        let v = cstr(value)?;
        // SAFETY: valid C strings.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                FSCONFIG_SET_STRING,
                k.as_ptr(),
                v.as_ptr(),
                0,
            )
        })
        .map(drop)
    }

    pub fn set_flag(&self, key: &str) -> io::Result<()> {
        let k = cstr(key.as_bytes())?;
        // SAFETY: a valid C string; a flag takes no value.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                FSCONFIG_SET_FLAG,
                k.as_ptr(),
                std::ptr::null::<u8>(),
                0,
            )
        })
        .map(drop)
    }

    /// The kernel's explanation of the last failure, if it logged one.
    pub fn last_message(&self) -> Option<String> {
        let mut buf = [0u8; 1024];
        // SAFETY: reading into our buffer.
        let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            Some(
                String::from_utf8_lossy(&buf[..n as usize])
                    .trim_end()
                    .to_string(),
            )
        } else {
            None
        }
    }

    /// FSCONFIG_CMD_CREATE, fsmount, move_mount onto `target`.
    pub fn create_and_attach(&self, target: &std::path::Path, readonly: bool) -> io::Result<()> {
        // SAFETY: plain syscall on our fd.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<u8>(),
                std::ptr::null::<u8>(),
                0,
            )
        })?;
        let attr = if readonly { MOUNT_ATTR_RDONLY } else { 0 };
        // SAFETY: plain syscall on our fd.
        let mfd = cvt(unsafe {
            libc::syscall(libc::SYS_fsmount, self.0.as_raw_fd(), FSMOUNT_CLOEXEC, attr)
        })?;
        // SAFETY: new fd we own.
        let mfd = unsafe { OwnedFd::from_raw_fd(mfd as RawFd) };
        let t = cstr(target.as_os_str().as_bytes())?;
        let empty = cstr(b"")?;
        // SAFETY: valid C strings and fds.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                mfd.as_raw_fd(),
                empty.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        })
        .map(drop)
    }
}

pub fn umount(target: &std::path::Path) -> io::Result<()> {
    let t = cstr(target.as_os_str().as_bytes())?;
    // SAFETY: valid C string.
    cvt_i(unsafe { libc::umount2(t.as_ptr(), libc::UMOUNT_NOFOLLOW) }).map(drop)
}

pub fn mount(
    src: &[u8],
    target: &std::path::Path,
    fstype: &str,
    flags: libc::c_ulong,
    data: &[u8],
) -> io::Result<()> {
    let s = cstr(src)?;
    let t = cstr(target.as_os_str().as_bytes())?;
    let f = cstr(fstype.as_bytes())?;
    let d = cstr(data)?;
    // SAFETY: valid C strings.
    cvt_i(unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), flags, d.as_ptr().cast()) })
        .map(drop)
}

//! Paths inside a root directory, resolved by the kernel with that directory as "/".
//!
//! Every mount target nsenter-rs makes in a container's rootfs comes from here: `openat2(2)`
//! with `RESOLVE_IN_ROOT` from an fd of the rootfs, so an absolute symlink or a `..` in the
//! image stays inside the rootfs whatever it says. Missing components are created inside the
//! rootfs only, one at a time, relative to the already-resolved parent fd (`mkdirat`, `openat`
//! with `O_CREAT|O_EXCL|O_NOFOLLOW`); a dangling symlink is followed by reading it and
//! resolving its target within the root again. The result is an `O_PATH` fd; the caller
//! mounts onto `/proc/self/fd/N`, never onto a path string joined onto the rootfs.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, Stat};

/// How many symlinks one resolution may expand (the kernel's own limit).
const MAX_LINKS: u32 = 40;

/// What to create when the path is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Dir,
    File,
}

/// Why a path could not be resolved; the caller names the path.
#[derive(Debug)]
pub enum ResolveError {
    /// The kernel has no openat2(2) (before 5.6).
    NoOpenat2,
    /// The path exists with the other type (a directory where a file is wanted, ...).
    WrongType { is_dir: bool },
    /// A system call failed.
    Sys(Errno),
}

impl From<Errno> for ResolveError {
    fn from(e: Errno) -> ResolveError {
        ResolveError::Sys(e)
    }
}

/// A directory that serves as "/" for the paths resolved in it.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
}

/// nix's `Errno` (the error type of the tool) for one of rustix's.
pub fn errno(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

/// `openat2(dirfd, path, flags, 0, resolve)`.
fn openat2(
    dirfd: impl AsFd,
    path: &OsStr,
    flags: OFlags,
    resolve: ResolveFlags,
) -> Result<OwnedFd, ResolveError> {
    let dirfd = dirfd.as_fd();
    // EAGAIN: a rename raced with a `..` in the lookup; retry a bounded number of times
    let mut tries = 0;
    loop {
        tries += 1;
        match rustix::fs::openat2(dirfd, path, flags, Mode::empty(), resolve) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) if tries < 128 => continue,
            Err(rustix::io::Errno::NOSYS) => return Err(ResolveError::NoOpenat2),
            Err(e) => return Err(ResolveError::Sys(errno(e))),
        }
    }
}

/// `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)`, or of `dirfd` itself for an empty name.
pub fn lstat_at(dirfd: impl AsFd, name: &OsStr) -> Result<Stat, Errno> {
    let flags = if name.is_empty() {
        AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    rustix::fs::statat(dirfd, name, flags).map_err(errno)
}

/// The type bits of a `stat`.
pub fn file_type(st: &Stat) -> u32 {
    st.st_mode & libc::S_IFMT
}

/// `fstat` of an fd (an `O_PATH` one is fine).
pub fn fstat(fd: &OwnedFd) -> Result<Stat, Errno> {
    lstat_at(fd, OsStr::new(""))
}

/// `/proc/self/fd/N`: the mount(2) target (or source) naming exactly the object behind `fd`.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The components of `p` below "/" ("/etc/hostname" -> ["etc", "hostname"]); `..` is kept
/// (the kernel resolves it, never above the root).
fn parts(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn join(parts: &[OsString]) -> OsString {
    if parts.is_empty() {
        return OsString::from(".");
    }
    let mut s = OsString::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push("/");
        }
        s.push(p);
    }
    s
}

impl Root {
    /// Open `dir` (a host path) as the root of later resolutions.
    pub fn open(dir: &Path) -> Result<Root, Errno> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(dir, flags, Mode::empty()).map_err(errno)?;
        Ok(Root { fd })
    }

    /// The existing object at `p` (absolute or relative: both mean below the root), symlinks
    /// followed within the root, magic links refused. An `O_PATH` fd.
    pub fn open_path(&self, p: &Path) -> Result<OwnedFd, ResolveError> {
        self.open_rel(&join(&parts(p)))
    }

    fn open_rel(&self, rel: &OsStr) -> Result<OwnedFd, ResolveError> {
        openat2(
            &self.fd,
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    }

    /// The object at `p`, created inside the root when missing: every missing directory on
    /// the way, then `want` as the last component (an empty file for [`Want::File`]). A
    /// dangling symlink on the way is followed within the root and its target created. The
    /// result has the wanted type, or [`ResolveError::WrongType`].
    pub fn create_path(&self, p: &Path, want: Want) -> Result<OwnedFd, ResolveError> {
        let fd = self.create_untyped(p, want)?;
        let is_dir = file_type(&fstat(&fd)?) == libc::S_IFDIR;
        if is_dir != (want == Want::Dir) {
            return Err(ResolveError::WrongType { is_dir });
        }
        Ok(fd)
    }

    fn create_untyped(&self, p: &Path, want: Want) -> Result<OwnedFd, ResolveError> {
        let mut todo = parts(p);
        let mut links = 0;
        // each round creates one component or expands one symlink; the bound catches a
        // rootfs that keeps changing under us
        for _ in 0..1024 {
            match self.open_rel(&join(&todo)) {
                Ok(fd) => return Ok(fd),
                Err(ResolveError::Sys(Errno::ENOENT)) => {}
                Err(e) => return Err(e),
            }
            // the deepest existing prefix, resolved in the root
            let mut parent = self.open_rel(OsStr::new("."))?;
            let mut i = 0;
            while i < todo.len() {
                match self.open_rel(&join(&todo[..=i])) {
                    Ok(fd) => parent = fd,
                    Err(ResolveError::Sys(Errno::ENOENT)) => break,
                    Err(e) => return Err(e),
                }
                i += 1;
            }
            if i == todo.len() {
                continue; // appeared meanwhile
            }
            let name = todo[i].clone();
            let last = i + 1 == todo.len();
            match lstat_at(&parent, &name) {
                Err(Errno::ENOENT) => {
                    let r = if last && want == Want::File {
                        rustix::fs::openat(
                            &parent,
                            &name,
                            OFlags::CREATE
                                | OFlags::EXCL
                                | OFlags::NOFOLLOW
                                | OFlags::WRONLY
                                | OFlags::CLOEXEC,
                            Mode::from_raw_mode(0o644),
                        )
                        .map(drop)
                    } else {
                        rustix::fs::mkdirat(&parent, &name, Mode::from_raw_mode(0o755))
                    };
                    match r.map_err(errno) {
                        Ok(_) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(st) if file_type(&st) == libc::S_IFLNK => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Errno::ELOOP.into());
                    }
                    let target = rustix::fs::readlinkat(&parent, &name, Vec::new())
                        .map_err(errno)?
                        .into_bytes();
                    let target = Path::new(std::ffi::OsStr::from_bytes(&target));
                    // an absolute target starts again at the root, a relative one at the
                    // link's directory; `..` is left to the kernel, which stops at the root
                    let mut next = if target.is_absolute() {
                        Vec::new()
                    } else {
                        todo[..i].to_vec()
                    };
                    next.extend(parts(target));
                    next.extend_from_slice(&todo[i + 1..]);
                    todo = next;
                }
                Ok(_) => {} // appeared meanwhile
                Err(e) => return Err(e.into()),
            }
        }
        Err(Errno::ELOOP.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// The path of the object behind an fd, as the kernel names it.
    fn where_(fd: &OwnedFd) -> PathBuf {
        fs::read_link(fd_path(fd)).unwrap()
    }

    struct T {
        _dir: tempfile::TempDir,
        root: PathBuf,
        host: PathBuf,
    }

    fn setup() -> T {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        let host = dir.path().join("host");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::create_dir_all(&host).unwrap();
        T {
            root,
            host,
            _dir: dir,
        }
    }

    #[test]
    fn absolute_dangling_symlink_is_created_inside() {
        let t = setup();
        let hostfile = t.host.join("x/hostname");
        symlink(&hostfile, t.root.join("etc/hostname")).unwrap();
        let r = Root::open(&t.root).unwrap();
        let fd = r
            .create_path(Path::new("/etc/hostname"), Want::File)
            .unwrap();
        assert!(!t.host.join("x").exists(), "created on the host");
        let inside = t.root.join(hostfile.strip_prefix("/").unwrap());
        assert_eq!(where_(&fd), inside);
        assert!(inside.is_file());
    }

    #[test]
    fn relative_escape_is_clamped_to_the_root() {
        let t = setup();
        symlink("../../../../../../host/scratch", t.root.join("scratch")).unwrap();
        let r = Root::open(&t.root).unwrap();
        let fd = r.create_path(Path::new("/scratch/a"), Want::Dir).unwrap();
        assert_eq!(where_(&fd), t.root.join("host/scratch/a"));
        assert!(!t.host.join("scratch").exists());
    }

    #[test]
    fn existing_absolute_symlink_to_a_host_dir_stays_inside() {
        let t = setup();
        // the host directory exists; the same path inside the rootfs does not yet
        symlink(&t.host, t.root.join("data")).unwrap();
        let r = Root::open(&t.root).unwrap();
        let fd = r.create_path(Path::new("/data"), Want::Dir).unwrap();
        assert_eq!(where_(&fd), t.root.join(t.host.strip_prefix("/").unwrap()));
        assert_eq!(fs::read_dir(&t.host).unwrap().count(), 0);
    }

    #[test]
    fn symlink_chains_and_intermediate_links() {
        let t = setup();
        symlink("/b", t.root.join("a")).unwrap();
        symlink("c/d", t.root.join("b")).unwrap();
        let r = Root::open(&t.root).unwrap();
        let fd = r.create_path(Path::new("/a/e/f"), Want::File).unwrap();
        assert_eq!(where_(&fd), t.root.join("c/d/e/f"));
    }

    #[test]
    fn loops_and_wrong_types_fail() {
        let t = setup();
        symlink("/loop", t.root.join("loop")).unwrap();
        let r = Root::open(&t.root).unwrap();
        assert!(matches!(
            r.create_path(Path::new("/loop/x"), Want::Dir),
            Err(ResolveError::Sys(Errno::ELOOP))
        ));
        assert!(matches!(
            r.create_path(Path::new("/etc"), Want::File),
            Err(ResolveError::WrongType { is_dir: true })
        ));
        fs::write(t.root.join("f"), "").unwrap();
        assert!(matches!(
            r.create_path(Path::new("/f"), Want::Dir),
            Err(ResolveError::WrongType { is_dir: false })
        ));
        assert!(matches!(
            r.create_path(Path::new("/f/x"), Want::Dir),
            Err(ResolveError::Sys(Errno::ENOTDIR))
        ));
    }

    #[test]
    fn magic_links_are_refused() {
        let t = setup();
        symlink("/proc/self/root", t.root.join("evil")).unwrap();
        // the rootfs has no /proc: "proc" is created inside, "self" under it, no escape
        let r = Root::open(&t.root).unwrap();
        let fd = r.create_path(Path::new("/evil"), Want::Dir).unwrap();
        assert_eq!(where_(&fd), t.root.join("proc/self/root"));
        // a real procfs below the root: its magic links are not followed
        let r = Root::open(Path::new("/")).unwrap();
        assert!(matches!(
            r.open_path(Path::new("/proc/self/root/etc")),
            Err(ResolveError::Sys(Errno::ELOOP))
        ));
    }
}

//! The container's filesystem, built inside its new mount namespace: private propagation,
//! the rootfs bound onto itself, /proc, read-only /sys, a tmpfs /dev with the usual devices,
//! pts, shm and mqueue, `--device` nodes, volumes and tmpfs mounts, then `pivot_root` and the
//! old root detached; finally the paths runc masks or makes read-only. Everything here lives
//! in the new mount namespace, so a failure leaves nothing mounted on the host.
//!
//! Every target before `pivot_root` is resolved with the rootfs as "/" ([`crate::resolve`])
//! and mounted through its fd, so no symlink in the image can point a mount, a created file
//! or a created directory at the host. After `pivot_root` the old root is detached: "/" is the
//! rootfs and no path reaches the host any more.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::error::{Error, SysContext};
use crate::resolve::{self, ResolveError, Root, Want, errno};
use crate::settings::{BindSpec, DeviceSpec, TmpfsSpec};
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Uid};

/// runc's (and Docker's) masked paths.
pub const MASKED: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// runc's (and Docker's) read-only paths.
pub const READ_ONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// What to build.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rootfs: Option<PathBuf>,
    pub mount_proc: bool,
    pub binds: Vec<BindSpec>,
    pub tmpfs: Vec<TmpfsSpec>,
    /// `--device` nodes (with a rootfs only).
    pub devices: Vec<DeviceSpec>,
    pub read_only: bool,
    pub mask: bool,
    /// In a new user namespace: device nodes are bound from the host, not made.
    pub in_userns: bool,
    /// A new net namespace exists (sysfs can be mounted fresh).
    pub new_net: bool,
    /// `--privileged`: /sys and /sys/fs/cgroup read-write
    pub privileged: bool,
    /// `--shm-size`: the size of /dev/shm in bytes (default 64 MiB)
    pub shm_size: Option<u64>,
    /// `--cgroup-mount`: the container's cgroup directories and where each goes under
    /// /sys/fs/cgroup ("" for the whole of it, on pure cgroup v2)
    pub cgroups: Vec<(PathBuf, String)>,
    /// `--mkdir-workdir`: the working directory to make when missing (with a rootfs)
    pub mkdir_workdir: Option<PathBuf>,
    /// `--oci-fs`: the OCI config's own mounts and devices, made after ours (with a rootfs)
    pub oci: Option<crate::oci::Fs>,
}

/// The tree the mounts go into: the rootfs (or "/" without one), opened once; every target
/// is resolved in it.
pub(crate) struct Tree {
    root: Root,
    /// The rootfs as given, for messages; `None` for the host's "/".
    name: Option<PathBuf>,
}

impl Tree {
    fn open(dir: &Path, name: Option<&Path>) -> Result<Tree, Error> {
        let root = Root::open(dir).sys(|| format!("cannot open rootfs {}", dir.display()))?;
        Ok(Tree {
            root,
            name: name.map(Path::to_path_buf),
        })
    }

    /// `p` as messages name it: the container path, and the rootfs it is in.
    pub(crate) fn shown(&self, p: &Path) -> String {
        match &self.name {
            Some(r) => format!("{} in {}", p.display(), r.display()),
            None => p.display().to_string(),
        }
    }

    fn error(&self, p: &Path, e: ResolveError) -> Error {
        match e {
            ResolveError::NoOpenat2 => Error::NoOpenat2 {
                path: p.to_path_buf(),
            },
            ResolveError::WrongType { is_dir } => Error::RootfsPath {
                path: p.to_path_buf(),
                why: if is_dir {
                    "is a directory".into()
                } else {
                    "is not a directory".into()
                },
            },
            ResolveError::Sys(source) => Error::Sys {
                what: format!("cannot resolve {}", self.shown(p)),
                source,
            },
        }
    }

    /// The existing object at `p`, resolved in the tree.
    pub(crate) fn get(&self, p: &Path) -> Result<OwnedFd, Error> {
        self.root.open_path(p).map_err(|e| self.error(p, e))
    }

    /// The object at `p`, created in the tree when missing.
    pub(crate) fn create(&self, p: &Path, want: Want) -> Result<OwnedFd, Error> {
        self.root.create_path(p, want).map_err(|e| self.error(p, e))
    }

    /// A kernel filesystem's directory right under the root (`proc`, `sys`): it must be a
    /// real directory, as runc requires; a symlink there would move the mount (and with it
    /// the masks) elsewhere.
    fn kernel_dir(&self, name: &str) -> Result<OwnedFd, Error> {
        let p = Path::new("/").join(name);
        let fd = self.get(Path::new("/"))?;
        match lstat_at(&fd, name) {
            Ok(st) if resolve::file_type(&st) == libc::S_IFLNK => {
                return Err(Error::RootfsPath {
                    path: p,
                    why: format!("is a symlink; {name} is mounted on a directory only"),
                });
            }
            _ => {}
        }
        self.create(&p, Want::Dir)
    }
}

/// What the mounts take from the host's tree. Directly by path (the namespace is a copy of
/// the host's); or, with `--mnt-template`, as detached copies opened before the process left
/// the host's tree (`open_tree`), each attached once where it goes (`move_mount`), with the
/// sources' stat taken then.
pub struct Host {
    /// `None`: by path
    cloned: Option<Cloned>,
}

struct Cloned {
    rootfs: Option<OwnedFd>,
    /// (source, detached copy), in the order the mounts take them
    trees: Vec<(PathBuf, OwnedFd)>,
    stats: Vec<(PathBuf, rustix::fs::Stat)>,
}

impl Host {
    /// The host's paths, used as they are.
    pub fn direct() -> Host {
        Host { cloned: None }
    }

    /// Detached copies of everything `plan` binds from the host: the rootfs, the bind
    /// sources, the cgroup folders, the `--device` nodes. Made private: nothing mounted on
    /// either side later shows on the other.
    pub fn clone_for(plan: &Plan) -> Result<Host, Error> {
        let mut c = Cloned {
            rootfs: None,
            trees: Vec::new(),
            stats: Vec::new(),
        };
        if let Some(r) = &plan.rootfs {
            c.rootfs =
                Some(detached_copy(r, true).sys(|| format!("cannot open rootfs {}", r.display()))?);
        }
        for b in &plan.binds {
            let st = rustix::fs::stat(&b.src).map_err(|e| Error::Io {
                what: format!("bind source {}", b.src.display()),
                source: e.into(),
            })?;
            let fd = detached_copy(&b.src, true)
                .sys(|| format!("cannot copy bind source {}", b.src.display()))?;
            c.stats.push((b.src.clone(), st));
            c.trees.push((b.src.clone(), fd));
        }
        for (src, _) in &plan.cgroups {
            let fd = detached_copy(src, true).sys(|| format!("cannot copy {}", src.display()))?;
            let st = rustix::fs::stat(src)
                .map_err(errno)
                .sys(|| format!("cannot stat {}", src.display()))?;
            c.stats.push((src.clone(), st));
            c.trees.push((src.clone(), fd));
        }
        for d in &plan.devices {
            let st = rustix::fs::stat(&d.host).map_err(|e| Error::Sys {
                what: format!("--device {}", d.host.display()),
                source: errno(e),
            })?;
            c.stats.push((d.host.clone(), st));
            if let Ok(fd) = detached_copy(&d.host, false) {
                c.trees.push((d.host.clone(), fd));
            }
        }
        Ok(Host { cloned: Some(c) })
    }

    /// The stat of host path `p` (a bind source, a device node).
    fn stat(&self, p: &Path) -> Result<rustix::fs::Stat, Errno> {
        match &self.cloned {
            None => rustix::fs::stat(p).map_err(errno),
            Some(c) => c
                .stats
                .iter()
                .find(|(s, _)| s == p)
                .map(|(_, st)| *st)
                .ok_or(Errno::ENOENT),
        }
    }

    /// Bind host path `src` on the object behind `target` (`shown` names it), with what is
    /// mounted below `src` when `recursive`.
    fn bind(
        &mut self,
        src: &Path,
        target: &OwnedFd,
        shown: &str,
        recursive: bool,
    ) -> Result<(), Error> {
        let Some(c) = &mut self.cloned else {
            let mut flags = MsFlags::MS_BIND;
            if recursive {
                flags |= MsFlags::MS_REC;
            }
            return mount_on(Some(src), target, shown, None, flags, None);
        };
        let what = || format!("cannot mount {} on {shown}", src.display());
        let i = c.trees.iter().position(|(s, _)| s == src).ok_or_else(|| {
            Error::Setup(format!(
                "{}: the host's {} was not opened before",
                what(),
                src.display()
            ))
        })?;
        let (_, fd) = c.trees.remove(i);
        attach(&fd, target).sys(what)
    }

    /// The rootfs attached at `at` (with --mnt-template), or bound onto itself.
    fn mount_rootfs(&mut self, rootfs: &Path, at: &Path) -> Result<(), Error> {
        match self.cloned.as_mut().and_then(|c| c.rootfs.take()) {
            Some(fd) => {
                let target = rustix::fs::open(
                    at,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(errno)
                .sys(|| format!("cannot open {}", at.display()))?;
                attach(&fd, &target).sys(|| format!("cannot mount rootfs {}", rootfs.display()))
            }
            None => mnt(
                Some(rootfs),
                at,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            ),
        }
    }
}

/// `open_tree(OPEN_TREE_CLONE)`: a detached copy of the mount at `p` (and of the mounts
/// below it, `recursive`), private.
fn detached_copy(p: &Path, recursive: bool) -> Result<OwnedFd, Errno> {
    use rustix::mount::OpenTreeFlags as O;
    let mut flags = O::OPEN_TREE_CLONE | O::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= O::AT_RECURSIVE;
    }
    let fd = rustix::mount::open_tree(rustix::fs::CWD, p, flags).map_err(errno)?;
    set_attr(&fd, 0, 0, MsFlags::MS_PRIVATE.bits(), recursive)?;
    Ok(fd)
}

/// `move_mount`: the detached tree `fd` onto the object behind `target`.
fn attach(fd: &OwnedFd, target: &OwnedFd) -> Result<(), Errno> {
    use rustix::mount::MoveMountFlags as M;
    rustix::mount::move_mount(
        fd,
        c"",
        target,
        c"",
        M::MOVE_MOUNT_F_EMPTY_PATH | M::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(errno)
}

/// `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)`.
pub(crate) fn lstat_at(dir: &OwnedFd, name: &str) -> Result<rustix::fs::Stat, Errno> {
    resolve::lstat_at(dir, std::ffi::OsStr::new(name))
}

/// `openat(dirfd, name, O_PATH|O_NOFOLLOW)`: a name we made ourselves in a fresh tmpfs.
fn open_at(dir: &OwnedFd, name: &str) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)
}

/// Mount onto the object behind `target` (through `/proc/self/fd/N`); `shown` names it.
pub(crate) fn mount_on(
    src: Option<&Path>,
    target: &OwnedFd,
    shown: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Error> {
    mount(src, &resolve::fd_path(target), fstype, flags, data).sys(|| {
        format!(
            "cannot mount {} on {shown}",
            fstype
                .map(str::to_string)
                .or_else(|| src.map(|s| s.display().to_string()))
                .unwrap_or_default(),
        )
    })
}

fn mnt(
    src: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Error> {
    mount(src, target, fstype, flags, data).sys(|| {
        format!(
            "cannot mount {} on {}",
            fstype
                .map(str::to_string)
                .or_else(|| src.map(|s| s.display().to_string()))
                .unwrap_or_default(),
            target.display()
        )
    })
}

/// The mount flags to keep (some may be locked) when remounting a bind read-only.
pub(crate) fn ro_flags(vfs: &nix::sys::statvfs::Statvfs) -> MsFlags {
    use nix::sys::statvfs::FsFlags as F;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    let f = vfs.flags();
    for (ff, mf) in [
        (F::ST_NOSUID, MsFlags::MS_NOSUID),
        (F::ST_NODEV, MsFlags::MS_NODEV),
        (F::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (F::ST_NOATIME, MsFlags::MS_NOATIME),
        (F::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        // ST_RELATIME (0x1000, the kernel's value); nix names it only for glibc
        (F::from_bits_retain(0x1000), MsFlags::MS_RELATIME),
    ] {
        if f.contains(ff) {
            flags |= mf;
        }
    }
    flags
}

/// Remount the bind mount at `target` read-only, keeping its other (possibly locked) flags.
fn remount_ro(target: &Path) -> Result<(), Error> {
    let vfs = nix::sys::statvfs::statvfs(target)
        .sys(|| format!("cannot read the mount flags of {}", target.display()))?;
    mount(
        None::<&str>,
        target,
        None::<&str>,
        ro_flags(&vfs),
        None::<&str>,
    )
    .sys(|| format!("cannot make {} read-only", target.display()))
}

/// Remount read-only the bind mount just made at `p` in the tree, whose source is `src`. The
/// fd used for the mount names the directory under it, so `p` is resolved again, and must
/// now be the root of a mount of `src`.
fn remount_ro_in(tree: &Tree, p: &Path, src: &Path, host: &Host) -> Result<(), Error> {
    let fd = tree.get(p)?;
    let shown = tree.shown(p);
    let now = resolve::fstat(&fd).sys(|| format!("cannot stat {shown}"))?;
    let want = host
        .stat(src)
        .sys(|| format!("cannot stat {}", src.display()))?;
    if (now.st_dev, now.st_ino) != (want.st_dev, want.st_ino) {
        return Err(Error::Setup(format!(
            "{shown} changed while it was being mounted"
        )));
    }
    let vfs = nix::sys::statvfs::fstatvfs(&fd)
        .sys(|| format!("cannot read the mount flags of {shown}"))?;
    mount(
        None::<&str>,
        &resolve::fd_path(&fd),
        None::<&str>,
        ro_flags(&vfs),
        None::<&str>,
    )
    .sys(|| format!("cannot make {shown} read-only"))
}

/// Make every mount of our (new) mount namespace private: nothing mounted from here on
/// propagates back to the namespace it was copied from.
pub(crate) fn make_private() -> Result<(), Error> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .sys(|| "cannot make the mounts private".into())
}

/// Build the filesystem. Runs in the container's setup process, in its new mount namespace
/// (a copy of the host's, or of the template: then `host` holds what it takes of the host's).
pub fn setup(plan: &Plan, host: &mut Host) -> Result<(), Error> {
    // nothing we mount may propagate back to the host
    make_private()?;
    let Some(rootfs) = &plan.rootfs else {
        if plan.mount_proc {
            mnt(
                Some(Path::new("proc")),
                Path::new("/proc"),
                Some("proc"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None,
            )?;
        }
        if !plan.binds.is_empty() || !plan.tmpfs.is_empty() {
            let tree = Tree::open(Path::new("/"), None)?;
            for b in &plan.binds {
                bind(b, &tree, host)?;
            }
            for t in &plan.tmpfs {
                tmpfs(t, &tree)?;
            }
        }
        return Ok(());
    };
    // (with --mnt-template: attached at the template's /rootfs)
    let root = match host.cloned {
        Some(_) => Path::new(crate::template::ROOTFS),
        None => rootfs.as_path(),
    };
    host.mount_rootfs(rootfs, root)?;
    let tree = Tree::open(root, Some(rootfs))?;

    // /proc
    let proc_dir = tree.kernel_dir("proc")?;
    mount_on(
        Some(Path::new("proc")),
        &proc_dir,
        &tree.shown(Path::new("/proc")),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;

    setup_dev(&tree, plan.in_userns, plan.shm_size)?;

    // /sys, read-only (after /dev: the order of the OCI spec's default mounts)
    let sys = Path::new("/sys");
    let sys_dir = tree.kernel_dir("sys")?;
    // (--privileged: read-write, as Docker's)
    let mut ro_sys = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if !plan.privileged {
        ro_sys |= MsFlags::MS_RDONLY;
    }
    match mount(
        Some("sysfs"),
        &resolve::fd_path(&sys_dir),
        Some("sysfs"),
        ro_sys,
        None::<&str>,
    ) {
        Ok(()) => {}
        Err(Errno::EPERM) if (!plan.new_net || plan.in_userns) && host.cloned.is_none() => {
            // sysfs of a net namespace we do not own: bind the host's, read-only
            mount_on(
                Some(sys),
                &sys_dir,
                &tree.shown(sys),
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )?;
            if !plan.privileged {
                remount_ro_in(&tree, sys, sys, host)?;
            }
        }
        Err(source) => {
            return Err(Error::Sys {
                what: format!("cannot mount sysfs on {}", tree.shown(sys)),
                source,
            });
        }
    }

    if !plan.cgroups.is_empty() {
        cgroup_fs(&tree, &plan.cgroups, plan.privileged, host)?;
    }

    for b in &plan.binds {
        bind(b, &tree, host)?;
    }
    for t in &plan.tmpfs {
        tmpfs(t, &tree)?;
    }
    for d in &plan.devices {
        device(d, &tree, plan.in_userns, host)?;
    }
    if let Some(fs) = &plan.oci {
        crate::oci::build(fs, &tree, plan.in_userns)?;
    }
    drop(tree);

    // pivot_root(".", ".") then detach the old root stacked under the new one
    nix::unistd::chdir(root).sys(|| format!("cannot enter rootfs {}", rootfs.display()))?;
    nix::unistd::pivot_root(".", ".")
        .sys(|| format!("cannot pivot_root into {}", rootfs.display()))?;
    umount2(".", MntFlags::MNT_DETACH).sys(|| "cannot detach the old root".to_string())?;
    nix::unistd::chdir("/").sys(|| "cannot change directory to /".to_string())?;

    // From here "/" is the rootfs and the host's tree is detached: a symlink can lead
    // nowhere outside. /proc and /sys are real directories (kernel_dir), so these paths are
    // the kernel's own, not the image's.
    if plan.mask {
        for p in MASKED {
            mask_path(Path::new(p))?;
        }
        for p in READ_ONLY {
            let p = Path::new(p);
            if p.exists() {
                mnt(Some(p), p, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
                remount_ro(p)?;
            }
        }
    }
    // --mkdir-workdir: made before the root may turn read-only (as runc makes the cwd)
    if let Some(w) = &plan.mkdir_workdir {
        crate::process::check_workdir(w)?;
        if !w.exists() {
            std::fs::create_dir_all(w).map_err(|source| Error::Io {
                what: format!("cannot create working directory {}", w.display()),
                source,
            })?;
        }
    }
    if plan.read_only {
        remount_ro(Path::new("/"))?;
    }
    Ok(())
}

fn mask_path(p: &Path) -> Result<(), Error> {
    let Ok(md) = std::fs::metadata(p) else {
        return Ok(());
    };
    if md.is_dir() {
        mnt(
            Some(Path::new("tmpfs")),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=0"),
        )
    } else {
        mnt(
            Some(Path::new("/dev/null")),
            p,
            None,
            MsFlags::MS_BIND,
            None,
        )
    }
}

/// `mknodat(dir, name)` with exactly `perm` (mknod honours the umask), owned by uid:gid.
pub(crate) fn make_node(
    dir: &OwnedFd,
    name: &str,
    kind: FileType,
    perm: u32,
    rdev: libc::dev_t,
    owner: Option<(u32, u32)>,
) -> Result<(), Errno> {
    let mode = Mode::from_raw_mode(perm & 0o7777);
    rustix::fs::mknodat(dir, name, kind, mode, rdev).map_err(errno)?;
    // the node is ours, just made in a directory resolved in the root; it is no symlink
    rustix::fs::chmodat(dir, name, mode, AtFlags::empty()).map_err(errno)?;
    if let Some((uid, gid)) = owner {
        let (u, g) = (Uid::from_raw(uid), Gid::from_raw(gid));
        rustix::fs::chownat(dir, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(errno)?;
    }
    Ok(())
}

fn setup_dev(tree: &Tree, in_userns: bool, shm_size: Option<u64>) -> Result<(), Error> {
    let dev_path = Path::new("/dev");
    let shown = |name: &str| tree.shown(&dev_path.join(name));
    let dev = tree.create(dev_path, Want::Dir)?;
    mount_on(
        Some(Path::new("tmpfs")),
        &dev,
        &tree.shown(dev_path),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    // the fresh tmpfs (the fd above names the directory under it): everything in it is ours
    let dev = tree.get(dev_path)?;
    let fs =
        nix::sys::statfs::fstatfs(&dev).sys(|| format!("cannot stat {}", tree.shown(dev_path)))?;
    if fs.filesystem_type() != nix::sys::statfs::TMPFS_MAGIC {
        return Err(Error::Setup(format!(
            "{} changed while it was being mounted",
            tree.shown(dev_path)
        )));
    }
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let made = !in_userns
            && make_node(
                &dev,
                name,
                FileType::CharacterDevice,
                0o666,
                rustix::fs::makedev(major, minor),
                None,
            )
            .is_ok();
        if !made {
            bind_host_node(&dev, name, &Path::new("/dev").join(name), &shown(name))?;
        }
    }
    let pts_opts = if in_userns {
        "newinstance,ptmxmode=0666,mode=0620"
    } else {
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    };
    let shm_opts = match shm_size {
        Some(b) => format!("mode=1777,size={b}"),
        None => "mode=1777,size=65536k".to_string(),
    };
    for (name, src, fstype, flags, data) in [
        (
            "pts",
            "devpts",
            "devpts",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some(pts_opts),
        ),
        (
            "shm",
            "shm",
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some(shm_opts.as_str()),
        ),
        (
            "mqueue",
            "mqueue",
            "mqueue",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
        ),
    ] {
        rustix::fs::mkdirat(&dev, name, Mode::from_raw_mode(0o755))
            .map_err(errno)
            .sys(|| format!("cannot create {}", shown(name)))?;
        let fd = open_at(&dev, name).sys(|| format!("cannot open {}", shown(name)))?;
        let r = mount_on(
            Some(Path::new(src)),
            &fd,
            &shown(name),
            Some(fstype),
            flags,
            data,
        );
        // mqueue needs an IPC namespace we own; without one the directory stays empty
        if name != "mqueue" {
            r?;
        }
    }
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        rustix::fs::symlinkat(target, &dev, link)
            .map_err(errno)
            .sys(|| format!("cannot create {}", shown(link)))?;
    }
    // no /dev/console: the caller's terminal is not the container's
    Ok(())
}

/// An empty file `name` in `dir`, with the host node `host` bound on it.
pub(crate) fn bind_host_node(
    dir: &OwnedFd,
    name: &str,
    host: &Path,
    shown: &str,
) -> Result<(), Error> {
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC;
    match rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o644)).map_err(errno) {
        Ok(fd) => drop(fd),
        Err(Errno::EEXIST) => {}
        Err(e) => {
            return Err(Error::Sys {
                what: format!("cannot create {shown}"),
                source: e,
            });
        }
    }
    let target = open_at(dir, name).sys(|| format!("cannot open {shown}"))?;
    mount_on(Some(host), &target, shown, None, MsFlags::MS_BIND, None)
}

fn bind(b: &BindSpec, tree: &Tree, host: &mut Host) -> Result<(), Error> {
    let st = host.stat(&b.src).map_err(|e| Error::Io {
        what: format!("bind source {}", b.src.display()),
        source: e.into(),
    })?;
    let want = match resolve::file_type(&st) == libc::S_IFDIR {
        true => Want::Dir,
        false => Want::File,
    };
    let dst = tree.root.create_path(&b.dst, want).map_err(|e| match e {
        ResolveError::WrongType { is_dir } => Error::BindType {
            src: b.src.clone(),
            dst: b.dst.clone(),
            src_kind: if is_dir { "a file" } else { "a directory" },
            dst_kind: if is_dir {
                "a directory"
            } else {
                "not a directory"
            },
        },
        e => tree.error(&b.dst, e),
    })?;
    host.bind(&b.src, &dst, &tree.shown(&b.dst), true)?;
    if b.read_only {
        remount_ro_in(tree, &b.dst, &b.src, host)?;
    }
    if let Some(p) = b.propagation {
        let fd = tree.get(&b.dst)?;
        mount_on(None, &fd, &tree.shown(&b.dst), None, p, None)?;
    }
    Ok(())
}

fn tmpfs(t: &TmpfsSpec, tree: &Tree) -> Result<(), Error> {
    let dst = tree.create(&t.dst, Want::Dir)?;
    mount_on(
        Some(Path::new("tmpfs")),
        &dst,
        &tree.shown(&t.dst),
        Some("tmpfs"),
        t.flags,
        Some(&t.data),
    )
}

/// `--cgroup-mount`: /sys/fs/cgroup shows the container's own cgroups, read-only (with
/// --privileged read-write). Pure v2: its cgroup directory is bound there; v1 or hybrid: a
/// tmpfs there holds one folder per hierarchy with the container's directory bound on it.
fn cgroup_fs(
    tree: &Tree,
    cgroups: &[(PathBuf, String)],
    rw: bool,
    host: &mut Host,
) -> Result<(), Error> {
    let top = Path::new("/sys/fs/cgroup");
    let bind = |host: &mut Host, src: &Path, at: &Path| -> Result<(), Error> {
        let fd = tree.create(at, Want::Dir)?;
        host.bind(src, &fd, &tree.shown(at), true)
    };
    let single = matches!(cgroups, [(_, name)] if name.is_empty());
    let mut bound: Vec<(&Path, PathBuf)> = Vec::new();
    if single {
        bind(host, &cgroups[0].0, top)?;
        bound.push((&cgroups[0].0, top.to_path_buf()));
    } else {
        let fd = tree.create(top, Want::Dir)?;
        mount_on(
            Some(Path::new("tmpfs")),
            &fd,
            &tree.shown(top),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=755"),
        )?;
        for (src, name) in cgroups {
            if name.is_empty() || name.contains('/') {
                continue;
            }
            let at = top.join(name);
            bind(host, src, &at)?;
            bound.push((src, at));
        }
    }
    if rw {
        return Ok(());
    }
    // read-only, the whole tree at once (one mount_setattr where the kernel has it, 5.12+;
    // else each mount remounted, as v1's dozen controllers cost a dozen remounts)
    match set_readonly_recursive(&tree.get(top)?) {
        Ok(()) => return Ok(()),
        Err(Errno::ENOSYS) => {}
        Err(e) => {
            return Err(Error::Sys {
                what: format!("cannot make {} read-only", tree.shown(top)),
                source: e,
            });
        }
    }
    for (src, at) in &bound {
        remount_ro_in(tree, at, src, host)?;
    }
    if !single {
        let fd = tree.get(top)?;
        let flags = MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        mount(
            None::<&str>,
            &resolve::fd_path(&fd),
            None::<&str>,
            flags,
            Some("mode=755"),
        )
        .sys(|| format!("cannot make {} read-only", tree.shown(top)))?;
    }
    Ok(())
}

/// mount_setattr(2) on the mount at `fd` and every mount below it: read-only, nosuid, nodev,
/// noexec. ENOSYS where the kernel has no such call (before 5.12).
fn set_readonly_recursive(fd: &OwnedFd) -> Result<(), Errno> {
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const MOUNT_ATTR_NOSUID: u64 = 0x2;
    const MOUNT_ATTR_NODEV: u64 = 0x4;
    const MOUNT_ATTR_NOEXEC: u64 = 0x8;
    let set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    set_attr(fd, set, 0, 0, true)
}

/// mount_setattr(2) on the mount at `fd` (and every mount below it, `recursive`): the
/// MOUNT_ATTR_* flags `set` and `clear`, and `propagation` (MS_PRIVATE, ...; 0: unchanged).
fn set_attr(
    fd: &OwnedFd,
    set: u64,
    clear: u64,
    propagation: u64,
    recursive: bool,
) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: the path is a NUL-terminated empty string and `attr` a live struct of the
    // size passed, both only read by the kernel during the call; `fd` is open for its
    // duration.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc == 0 { Ok(()) } else { Err(Errno::last()) }
}

/// `--device`: the host node's type, numbers, mode and owner (as Docker and runc copy them) at
/// the container path, made with mknod, or bound from the host where mknod is not allowed.
fn device(d: &DeviceSpec, tree: &Tree, in_userns: bool, host: &mut Host) -> Result<(), Error> {
    let st = host.stat(&d.host).map_err(|e| Error::Sys {
        what: format!("--device {}", d.host.display()),
        source: e,
    })?;
    let kind = match FileType::from_raw_mode(st.st_mode) {
        k @ (FileType::CharacterDevice | FileType::BlockDevice) => k,
        _ => {
            return Err(Error::NotADevice {
                path: d.host.clone(),
            });
        }
    };
    let shown = tree.shown(&d.container);
    let (Some(parent), Some(name)) = (d.container.parent(), d.container.file_name()) else {
        return Err(Error::Setup(format!("--device: {shown} names no file")));
    };
    let name = name.to_string_lossy();
    let dir = tree.create(parent, Want::Dir)?;
    if !in_userns {
        match make_node(
            &dir,
            &name,
            kind,
            st.st_mode & 0o7777,
            st.st_rdev,
            Some((st.st_uid, st.st_gid)),
        ) {
            Ok(()) => return Ok(()),
            Err(Errno::EEXIST) => {
                let have = lstat_at(&dir, &name).sys(|| format!("cannot stat {shown}"))?;
                if have.st_mode & libc::S_IFMT == st.st_mode & libc::S_IFMT
                    && have.st_rdev == st.st_rdev
                {
                    return Ok(());
                }
                // a different object is there (the image's, or an earlier --device): the
                // host node is bound over it below
            }
            Err(Errno::EPERM) => {}
            Err(source) => {
                return Err(Error::Sys {
                    what: format!("cannot create device {shown}"),
                    source,
                });
            }
        }
    }
    let target = tree.create(&d.container, Want::File)?;
    host.bind(&d.host, &target, &shown, false)
}

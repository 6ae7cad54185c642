//! `--mnt-template FILE`: the container's mount namespace made from a small one pinned at
//! FILE, not from the host's.
//!
//! A new mount namespace starts as a copy of its creator's, and the copy costs in proportion
//! to the mounts there: on a host with a thousand containers (each one's overlay, each one's
//! pinned network namespace) making one took 5.9 ms against 0.26 ms on an idle host, and
//! detaching the copied host tree after `pivot_root` as much again. The template holds two
//! mounts: a tmpfs as "/" with an empty `/rootfs` folder, and a procfs at `/proc` (mounts are
//! made through `/proc/self/fd/N`). The container's process opens what it needs of the
//! host's tree while it still sees it (the rootfs, the bind sources, the cgroup folders, as
//! detached copies: `open_tree`), enters the template, makes its own copy of it, and attaches
//! them there ([`crate::mounts::Host`]).
//!
//! The template is made the first time it is needed, under a lock on FILE, and stays pinned
//! (a bind mount of its `/proc/PID/ns/mnt` on FILE) for the containers that follow;
//! `nsenter-rs --unpin` on FILE's folder drops it. Where the kernel will not pin one, or will
//! not attach a bind source's copy (one holding a pinned mount namespace: ELOOP), the
//! container's namespace is a copy of the host's, as without the option ([`leave`]).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::CloneFlags;

use crate::error::{Error, IoContext, SysContext};

/// The kernel's magic number of nsfs (`NSFS_MAGIC`).
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Where each container's rootfs is attached in its copy of the template.
pub const ROOTFS: &str = "/rootfs";

/// The mount namespace pinned at `file`, made and pinned there first if `file` holds none;
/// `None` if the kernel would not let one be pinned (then the host's is copied, as without).
pub fn open_or_make(file: &Path) -> Result<Option<OwnedFd>, Error> {
    if let Some(fd) = open_pinned(file)? {
        return Ok(Some(fd));
    }
    if let Some(dir) = file.parent() {
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(dir)
            .io(|| {
                format!(
                    "cannot create the folder of --mnt-template {}",
                    file.display()
                )
            })?;
    }
    // the lock: FILE itself (the file under the pin, once pinned)
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(file)
        .io(|| format!("cannot create --mnt-template {}", file.display()))?;
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .sys(|| format!("cannot lock --mnt-template {}", file.display()))
        .and_then(|_held| {
            // (another process may have pinned one while we waited)
            if let Some(fd) = open_pinned(file)? {
                return Ok(Some(fd));
            }
            if !make(file)? {
                return Ok(None);
            }
            open_pinned(file)
        })
}

/// `file` opened, if a namespace is pinned there: its filesystem is nsfs.
fn open_pinned(file: &Path) -> Result<Option<OwnedFd>, Error> {
    let f = match File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Io {
                what: format!("cannot open --mnt-template {}", file.display()),
                source: e,
            });
        }
    };
    let fs = nix::sys::statfs::fstatfs(&f).sys(|| {
        format!(
            "cannot read the filesystem of --mnt-template {}",
            file.display()
        )
    })?;
    if fs.filesystem_type().0 as i64 != NSFS_MAGIC {
        return Ok(None);
    }
    Ok(Some(OwnedFd::from(f)))
}

/// Make the template in a child and pin its namespace at `file`.
///
/// The kernel lets a mount namespace be pinned only in an older one (its ID must be higher
/// than ours, against loops), and since 6.18 IDs come from batches per CPU: one made on
/// another CPU than ours may be "older". On EINVAL the child is made again on each CPU in
/// turn; on the one that made ours the IDs only grow. `Ok(false)`: no CPU gave one.
fn make(file: &Path) -> Result<bool, Error> {
    let mut cpus = vec![None];
    if let Ok(set) = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        cpus.extend(
            (0..nix::sched::CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .map(Some),
        );
    }
    for cpu in cpus {
        match make_on(file, cpu) {
            Err(nix::errno::Errno::EINVAL) => {
                common::debug!(
                    "template pinned at {} refused on cpu {cpu:?}: EINVAL",
                    file.display()
                );
            }
            Err(e) => {
                return Err(Error::Sys {
                    what: format!(
                        "cannot pin the template mount namespace at {}",
                        file.display()
                    ),
                    source: e,
                });
            }
            Ok(()) => return Ok(true),
        }
    }
    Ok(false)
}

/// One try of [`make`]: the child (on `cpu`, if given) makes the namespace, we pin it.
fn make_on(file: &Path, cpu: Option<usize>) -> Result<(), nix::errno::Errno> {
    use nix::errno::Errno;
    let pipe =
        || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(crate::resolve::errno);
    // ready: the child's word (an empty pipe: it failed); done: ours, by closing it
    let (ready_r, ready_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    let ret = crate::process::fork_like(0, None);
    if ret < 0 {
        return Err(Errno::last());
    }
    if ret == 0 {
        drop(ready_r);
        drop(done_w);
        if let Some(c) = cpu {
            let mut set = nix::sched::CpuSet::new();
            let _ = set.set(c);
            let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
        }
        let ok = build().is_ok();
        if ok {
            let _ = File::from(ready_w).write_all(b"R");
            let mut buf = [0u8; 1];
            let _ = File::from(done_r).read(&mut buf);
        }
        crate::process::exit_now(if ok { 0 } else { 1 });
    }
    drop(ready_w);
    drop(done_r);
    let child = nix::unistd::Pid::from_raw(ret as i32);
    let mut buf = [0u8; 1];
    let pinned = match File::from(ready_r).read(&mut buf) {
        Ok(1) => mount(
            Some(&format!("/proc/{child}/ns/mnt")[..]),
            file,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        ),
        // (the child failed to build it: not for another CPU to mend)
        _ => Err(Errno::EIO),
    };
    drop(done_w);
    let _ = nix::sys::wait::waitpid(child, None);
    pinned
}

/// In the child: a mount namespace of its own holding a tmpfs as "/" (with `/rootfs` and
/// `/proc` in it) and a procfs on `/proc`, nothing of the host's.
fn build() -> Result<(), Error> {
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).sys(|| "unshare".into())?;
    crate::mounts::make_private()?;
    // the tmpfs on a folder every host has, then made "/" by pivot_root(".", ".")
    mount(
        Some("tmpfs"),
        "/proc",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=0700,size=64k,nr_inodes=16"),
    )
    .sys(|| "tmpfs".into())?;
    nix::unistd::chdir("/proc").sys(|| "chdir".into())?;
    nix::unistd::pivot_root(".", ".").sys(|| "pivot_root".into())?;
    umount2(".", MntFlags::MNT_DETACH).sys(|| "detach".into())?;
    nix::unistd::chdir("/").sys(|| "chdir".into())?;
    for d in [ROOTFS, "/proc"] {
        nix::unistd::mkdir(d, nix::sys::stat::Mode::from_bits_truncate(0o700))
            .sys(|| "mkdir".into())?;
    }
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .sys(|| "proc".into())?;
    Ok(())
}

/// In the container's process: enter the template and make a copy of it of our own.
pub fn enter(template: &OwnedFd) -> Result<(), Error> {
    nix::sched::setns(template.as_fd(), CloneFlags::CLONE_NEWNS)
        .sys(|| "cannot enter the template mount namespace (--mnt-template)".into())?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNS)
        .sys(|| "cannot create a mount namespace from the template".into())
}

/// Back in the host's namespace `home` (left by [`enter`]), and a copy of it of our own.
pub fn leave(home: &OwnedFd) -> Result<(), Error> {
    nix::sched::setns(home.as_fd(), CloneFlags::CLONE_NEWNS)
        .sys(|| "cannot return to the host's mount namespace".into())?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).sys(|| "cannot create a mount namespace".into())
}

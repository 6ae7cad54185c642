//! `--debug`: the host's tools, inside every namespace of the target but mnt, with the
//! target's root mounted at /target (or `--target-dir DIR`).
//!
//! The session's mounts are its own: a private mount namespace copied from the host's, a
//! fresh /proc of the target's pid namespace, and a clone of the target's whole mount tree
//! (taken with `open_tree` from inside the target's mount namespace, since the kernel does
//! not bind another namespace's mounts by path). /target has no folder on the host to be
//! mounted on, so the session's root becomes a tmpfs that holds a bind mount of each entry
//! of the host's root, plus the /target folder. Nothing is written to a host path, and a
//! SIGKILLed session leaves nothing: its mounts end with its namespace.

use std::ffi::OsString;
use std::fs::{self, File};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use rustix::mount::{MoveMountFlags, OpenTreeFlags};

use crate::error::{Error, IoContext, SysContext};

/// Where the target's root is shown when no --target-dir is given.
pub const DEFAULT_TARGET: &str = "/target";

/// Staging point of the session's new root: /proc is mounted afresh afterwards anyway.
const STAGING: &str = "/proc";

/// Check --target-dir before anything is joined: an absolute path to an existing folder.
pub fn check_target_dir(dir: &Path) -> Result<(), Error> {
    if !dir.is_absolute() {
        return Err(Error::Usage(format!(
            "--target-dir {}: must be an absolute path",
            dir.display()
        )));
    }
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::Usage(format!(
            "--target-dir {}: not a folder",
            dir.display()
        ))),
        Err(e) => Err(Error::Io {
            what: format!("--target-dir {}", dir.display()),
            source: e,
        }),
    }
}

/// A detached copy of the mount tree of `pid`'s mount namespace (its root and everything
/// mounted below). We step into that namespace for the one call and come back, to our own
/// working directory too.
pub fn clone_root(pid: i32) -> Result<OwnedFd, Error> {
    let ours = File::open("/proc/self/ns/mnt").io(|| "cannot open /proc/self/ns/mnt".into())?;
    let theirs = File::open(format!("/proc/{pid}/ns/mnt"))
        .io(|| format!("cannot open /proc/{pid}/ns/mnt"))?;
    let cwd = File::open(".").ok();
    nix::sched::setns(theirs.as_fd(), CloneFlags::CLONE_NEWNS)
        .sys(|| format!("cannot join the mount namespace of {pid}"))?;
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        "/",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    );
    nix::sched::setns(ours.as_fd(), CloneFlags::CLONE_NEWNS)
        .sys(|| "cannot return to our mount namespace".into())?;
    if let Some(d) = &cwd {
        let _ = nix::unistd::fchdir(d.as_fd());
    }
    tree.map_err(errno)
        .sys(|| format!("cannot copy the mounts of process {pid}"))
}

/// In the forked child, already in the target's pid namespace: a private mount namespace
/// with a fresh /proc and `tree` mounted at `dir` (an existing folder) or, without one, at
/// /target on a tmpfs root.
pub fn session_mounts(tree: &OwnedFd, dir: Option<&Path>) -> Result<(), Error> {
    nix::sched::unshare(CloneFlags::CLONE_NEWNS)
        .sys(|| "cannot create a mount namespace".into())?;
    let none: Option<&str> = None;
    crate::mounts::make_private()?;
    let at = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let cwd = std::env::current_dir().ok();
            tmpfs_root(DEFAULT_TARGET)?;
            if let Some(c) = cwd {
                let _ = std::env::set_current_dir(c);
            }
            PathBuf::from(DEFAULT_TARGET)
        }
    };
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        rustix::fs::CWD,
        &at,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(errno)
    .sys(|| format!("cannot mount the target's root at {}", at.display()))?;
    nix::mount::mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        none,
    )
    .sys(|| "cannot mount /proc".into())?;
    Ok(())
}

/// Make our root a tmpfs holding the host root's entries (folders and files bind-mounted
/// with everything below them, symlinks copied), an empty /proc, and the folder `extra`
/// (a name right under /).
fn tmpfs_root(extra: &str) -> Result<(), Error> {
    let extra_name = extra.trim_start_matches('/');
    let mut entries: Vec<(OsString, fs::FileType)> = Vec::new();
    for e in fs::read_dir("/").io(|| "cannot list /".into())? {
        let e = e.io(|| "cannot list /".into())?;
        if let Ok(t) = e.file_type() {
            entries.push((e.file_name(), t));
        }
    }
    let none: Option<&str> = None;
    nix::mount::mount(
        Some("tmpfs"),
        STAGING,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .sys(|| "cannot mount the session's root".into())?;
    let new = Path::new(STAGING);
    for (name, kind) in &entries {
        if name.as_bytes() == b"proc" || name.as_bytes() == extra_name.as_bytes() {
            continue;
        }
        let src = Path::new("/").join(name);
        let dst = new.join(name);
        if kind.is_symlink() {
            let to = fs::read_link(&src).io(|| format!("cannot read {}", src.display()))?;
            std::os::unix::fs::symlink(to, &dst).io(|| format!("cannot copy {}", src.display()))?;
            continue;
        }
        if kind.is_dir() {
            fs::create_dir(&dst)
        } else if kind.is_file() {
            File::create(&dst).map(drop)
        } else {
            continue;
        }
        .io(|| format!("cannot make {} in the session's root", src.display()))?;
        nix::mount::mount(
            Some(&src),
            &dst,
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        )
        .sys(|| format!("cannot bind {} into the session's root", src.display()))?;
    }
    for d in ["proc", extra_name] {
        fs::create_dir(new.join(d)).io(|| format!("cannot make /{d} in the session's root"))?;
    }
    nix::unistd::chdir(new).sys(|| "cannot enter the session's root".into())?;
    nix::unistd::pivot_root(".", ".").sys(|| "cannot switch to the session's root".into())?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH)
        .sys(|| "cannot detach the host's root from the session".into())?;
    nix::unistd::chdir("/").sys(|| "cannot enter /".into())?;
    Ok(())
}

/// rustix's error as nix's, for the tool's one error type.
fn errno(e: rustix::io::Errno) -> nix::Error {
    nix::Error::from_raw(e.raw_os_error())
}

//! `ctr-state rm DIR... [--unlink FILE]...`: remove state folders, never through a mount
//! (then the index entries that named them).
//!
//! First a walk that removes nothing: every name in DIR is looked at (statx, without
//! following symlinks) and must be on DIR's own mount, and DIR on its parent's. Anything
//! mounted at or below DIR (an overlay, a pinned namespace, a bind mount of the same
//! filesystem) and nothing is removed. The mount ids tell, not the mount table: on a host
//! with a thousand containers /proc/self/mountinfo takes 14 ms to read, and it would be read
//! for every folder removed. Then the walk that removes, which opens every folder without
//! following symlinks and checks its mount again, in case something was mounted meanwhile.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use crate::cli::RmArgs;
use crate::error::Error;

pub fn run(a: &RmArgs) -> Result<(), Error> {
    // (a folder given to --unlink is refused before anything is removed)
    for file in &a.unlink {
        if fs::symlink_metadata(file).is_ok_and(|m| m.is_dir()) {
            return Err(Error::IsDir(file.clone()));
        }
    }
    for dir in &a.dirs {
        remove(dir)?;
    }
    for file in &a.unlink {
        match fs::remove_file(file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(Error::Remove(file.clone(), e));
            }
            _ => {}
        }
    }
    Ok(())
}

fn remove(dir: &Path) -> Result<(), Error> {
    let io_err = |e: io::Error| Error::Remove(dir.to_path_buf(), e);
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(e)),
        Ok(m) if !m.is_dir() => return Err(Error::NotDir(dir.to_path_buf())),
        Ok(_) => {}
    }
    let real = fs::canonicalize(dir).map_err(io_err)?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let top = rustix::fs::open(&real, flags, Mode::empty()).map_err(|e| io_err(e.into()))?;
    let mount = mount_id(top.as_fd()).map_err(io_err)?;
    // DIR itself a mount point: its mount is not its parent's
    let parent = real.parent().unwrap_or(Path::new("/"));
    let pfd = rustix::fs::open(parent, flags, Mode::empty()).map_err(|e| io_err(e.into()))?;
    if real != parent && mount_id(pfd.as_fd()).map_err(io_err)? != mount {
        return Err(Error::Mounted(
            dir.to_path_buf(),
            vec![real.display().to_string()],
        ));
    }
    drop(pfd);
    let mut below = Vec::new();
    mounted_below(&top, mount, &real, &mut below)?;
    if !below.is_empty() {
        below.sort();
        return Err(Error::Mounted(dir.to_path_buf(), below));
    }
    empty(&top, mount, dir, dir)?;
    drop(top);
    fs::remove_dir(&real).map_err(io_err)
}

/// The names in the open folder `d` (at `path`) and below it that are on another mount than
/// `mount`, added to `below`; a mounted folder is not looked into.
fn mounted_below(
    d: &OwnedFd,
    mount: u64,
    path: &Path,
    below: &mut Vec<String>,
) -> Result<(), Error> {
    use rustix::fs::StatxFlags;
    let dir = Dir::read_from(d).map_err(|e| Error::Remove(path.to_path_buf(), e.into()))?;
    let mut subdirs = Vec::new();
    for e in dir {
        let e = e.map_err(|e| Error::Remove(path.to_path_buf(), e.into()))?;
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let child = path.join(OsStr::from_bytes(name));
        let st = rustix::fs::statx(
            d,
            e.file_name(),
            AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::MNT_ID | StatxFlags::TYPE,
        )
        .map_err(|e| Error::Remove(child.clone(), e.into()))?;
        if stx_mount(&st) != mount {
            below.push(child.display().to_string());
        } else if FileType::from_raw_mode(u32::from(st.stx_mode)) == FileType::Directory {
            subdirs.push((name.to_vec(), child));
        }
    }
    for (name, child) in subdirs {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let sub = rustix::fs::openat(d, name.as_slice(), flags, Mode::empty())
            .map_err(|e| Error::Remove(child.clone(), e.into()))?;
        mounted_below(&sub, mount, &child, below)?;
    }
    Ok(())
}

/// Remove everything in the open folder `d` (at `path`, for messages; `top` is the folder
/// being removed), which is on mount `mount`.
fn empty(d: &OwnedFd, mount: u64, path: &Path, top: &Path) -> Result<(), Error> {
    let mut entries: Vec<(Vec<u8>, FileType)> = Vec::new();
    let dir = Dir::read_from(d).map_err(|e| Error::Remove(path.to_path_buf(), e.into()))?;
    for e in dir {
        let e = e.map_err(|e| Error::Remove(path.to_path_buf(), e.into()))?;
        let name = e.file_name().to_bytes();
        if name != b"." && name != b".." {
            entries.push((name.to_vec(), e.file_type()));
        }
    }
    for (name, kind) in entries {
        let child: PathBuf = path.join(OsStr::from_bytes(&name));
        let err = |e: rustix::io::Errno| Error::Remove(child.clone(), e.into());
        let name = name.as_slice();
        let is_dir = match kind {
            FileType::Unknown => {
                let st = rustix::fs::statat(d, name, AtFlags::SYMLINK_NOFOLLOW).map_err(err)?;
                FileType::from_raw_mode(st.st_mode) == FileType::Directory
            }
            t => t == FileType::Directory,
        };
        if is_dir {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let sub = rustix::fs::openat(d, name, flags, Mode::empty()).map_err(err)?;
            if mount_id(sub.as_fd()).map_err(|e| Error::Remove(child.clone(), e))? != mount {
                let shown = child.display().to_string();
                return Err(Error::Mounted(top.to_path_buf(), vec![shown]));
            }
            empty(&sub, mount, &child, top)?;
            drop(sub);
            rustix::fs::unlinkat(d, name, AtFlags::REMOVEDIR).map_err(err)?;
        } else {
            rustix::fs::unlinkat(d, name, AtFlags::empty()).map_err(err)?;
        }
    }
    Ok(())
}

/// The id of the mount an open file is on (statx STATX_MNT_ID): it tells a bind mount of the
/// same filesystem apart, which the device number does not.
fn mount_id(fd: BorrowedFd<'_>) -> io::Result<u64> {
    use rustix::fs::{AtFlags as At, StatxFlags};
    let st = rustix::fs::statx(fd, c"", At::EMPTY_PATH, StatxFlags::MNT_ID)?;
    Ok(stx_mount(&st))
}

/// The mount id in a statx answer; on a kernel before 5.8, which has none, the device number
/// is the next best thing.
fn stx_mount(st: &rustix::fs::Statx) -> u64 {
    if st.stx_mask & rustix::fs::StatxFlags::MNT_ID.bits() == 0 {
        return u64::from(st.stx_dev_major) << 32 | u64::from(st.stx_dev_minor);
    }
    st.stx_mnt_id
}

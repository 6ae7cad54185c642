//! `ctr-state rm DIR...`: remove state folders, never through a mount.
//!
//! First the mount table: anything mounted at or below DIR (an overlay, a pinned namespace,
//! a bind mount of the same filesystem) and nothing is removed. Then the walk, which opens
//! every folder without following symlinks and checks that it is on DIR's own mount, in case
//! something was mounted meanwhile.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::mounts::{self, Mount};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use crate::cli::RmArgs;
use crate::error::Error;

pub fn run(a: &RmArgs) -> Result<(), Error> {
    let mut table = None;
    for dir in &a.dirs {
        remove(dir, &mut table)?;
    }
    Ok(())
}

fn remove(dir: &Path, table: &mut Option<Vec<Mount>>) -> Result<(), Error> {
    let io_err = |e: io::Error| Error::Remove(dir.to_path_buf(), e);
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(e)),
        Ok(m) if !m.is_dir() => return Err(Error::NotDir(dir.to_path_buf())),
        Ok(_) => {}
    }
    // the mount table names mount points by their real path
    let real = fs::canonicalize(dir).map_err(io_err)?;
    if table.is_none() {
        *table = Some(mounts::own_mounts().map_err(Error::Mounts)?);
    }
    let below = mounts::mounted_below(table.as_deref().unwrap_or_default(), &real);
    if !below.is_empty() {
        let below = below.into_iter().map(str::to_string).collect();
        return Err(Error::Mounted(dir.to_path_buf(), below));
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let top = rustix::fs::open(&real, flags, Mode::empty()).map_err(|e| io_err(e.into()))?;
    let mount = mount_id(top.as_fd()).map_err(io_err)?;
    empty(&top, mount, dir, dir)?;
    drop(top);
    fs::remove_dir(&real).map_err(io_err)
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
    if st.stx_mask & StatxFlags::MNT_ID.bits() == 0 {
        // a kernel before 5.8: the device number is the next best thing
        return Ok(u64::from(st.stx_dev_major) << 32 | u64::from(st.stx_dev_minor));
    }
    Ok(st.stx_mnt_id)
}

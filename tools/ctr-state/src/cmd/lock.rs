//! `ctr-state lock FD`: flock(2) on a descriptor the caller opened. The lock belongs to the
//! open file description, which the caller still holds when ctr-state exits.
//!
//! A lock on a folder that was removed (or replaced) while we waited protects nothing: the
//! next claimer locks the new folder. So once the lock is ours, the descriptor must still be
//! linked (a removed folder has no links left) and, given `--path`, be the very file at that
//! path (same device and inode); if not, the lock is given up and that is an error.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

use crate::cli::LockArgs;
use crate::error::Error;

pub fn run(a: &LockArgs) -> Result<(), Error> {
    let fd = i32::from(a.fd);
    // SAFETY: F_GETFD only asks whether fd is open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(Error::BadFd(a.fd));
    }
    let op = libc::LOCK_EX | if a.nonblock { libc::LOCK_NB } else { 0 };
    loop {
        // SAFETY: flock on an open descriptor; it touches no memory.
        if unsafe { libc::flock(fd, op) } == 0 {
            return still_there(a, fd);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Err(Error::Locked(a.fd)),
            _ => return Err(Error::Lock(a.fd, e)),
        }
    }
}

/// The locked descriptor is still the file at its path; if not, unlock and fail.
fn still_there(a: &LockArgs, fd: i32) -> Result<(), Error> {
    // SAFETY: fstat fills `st`, a plain struct, for an open descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, writable `st`.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(Error::Lock(a.fd, io::Error::last_os_error()));
    }
    let same = st.st_nlink > 0
        && a.path.as_ref().is_none_or(|p| {
            fs::metadata(p).is_ok_and(|m| m.dev() == st.st_dev && m.ino() == st.st_ino)
        });
    if same {
        return Ok(());
    }
    // SAFETY: flock on an open descriptor.
    unsafe { libc::flock(fd, libc::LOCK_UN) };
    let what = a
        .path
        .as_ref()
        .map_or("its file".to_string(), |p| p.display().to_string());
    Err(Error::Gone(a.fd, what))
}

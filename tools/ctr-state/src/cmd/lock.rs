//! `ctr-state lock FD`: flock(2) on a descriptor the caller opened. The lock belongs to the
//! open file description, which the caller still holds when ctr-state exits.
//!
//! A lock on a folder that was removed (or replaced) while we waited protects nothing: the
//! next claimer locks the new folder. So once the lock is ours, the descriptor must still be
//! linked (a removed folder has no links left) and, given `--path`, be the very file at that
//! path (same device and inode); if not, the lock is given up and that is an error.

use std::fs;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::MetadataExt;

use rustix::fs::FlockOperation;

use crate::cli::LockArgs;
use crate::error::Error;

pub fn run(a: &LockArgs) -> Result<(), Error> {
    let fd = inherited(i32::from(a.fd)).ok_or(Error::BadFd(a.fd))?;
    let op = if a.nonblock {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::LockExclusive
    };
    loop {
        match rustix::fs::flock(fd, op) {
            Ok(()) => return still_there(a, fd),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(Error::Locked(a.fd)),
            Err(e) => return Err(Error::Lock(a.fd, e.into())),
        }
    }
}

/// The descriptor `fd` the caller passed us open, or `None` when nothing is open there.
fn inherited(fd: i32) -> Option<BorrowedFd<'static>> {
    // SAFETY: F_GETFD takes no pointer and only asks whether `fd` is open. An open one stays
    // open for as long as this process runs: it is the caller's, and nothing here closes it
    // or takes ownership of it, so borrowing it for 'static is sound.
    unsafe { (libc::fcntl(fd, libc::F_GETFD) >= 0).then(|| BorrowedFd::borrow_raw(fd)) }
}

/// The locked descriptor is still the file at its path; if not, unlock and fail.
fn still_there(a: &LockArgs, fd: BorrowedFd<'_>) -> Result<(), Error> {
    let st = rustix::fs::fstat(fd).map_err(|e| Error::Lock(a.fd, e.into()))?;
    let same = st.st_nlink > 0
        && a.path.as_ref().is_none_or(|p| {
            fs::metadata(p).is_ok_and(|m| m.dev() == st.st_dev && m.ino() == st.st_ino)
        });
    if same {
        return Ok(());
    }
    let _ = rustix::fs::flock(fd, FlockOperation::Unlock);
    let what = a
        .path
        .as_ref()
        .map_or("its file".to_string(), |p| p.display().to_string());
    Err(Error::Gone(a.fd, what))
}

//! `ctr-state lock FD`: flock(2) on a descriptor the caller opened. The lock belongs to the
//! open file description, which the caller still holds when ctr-state exits.

use std::io;

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
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Err(Error::Locked(a.fd)),
            _ => return Err(Error::Lock(a.fd, e)),
        }
    }
}

//! `ctr-state kill DIR [SIGNAL]`: signal the container's first process through a pidfd,
//! only while it is still the process DIR/pid was written for (see `pid`), so a reused PID
//! is never signalled.

use std::os::fd::AsRawFd;

use crate::cli::KillArgs;
use crate::cmd::pid::Init;
use crate::error::Error;

pub fn run(a: &KillArgs) -> Result<(), Error> {
    let init = Init::find(&a.dir)?;
    // SAFETY: pidfd_send_signal with a pidfd we hold and no siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            init.pidfd.as_raw_fd(),
            a.signal as i32,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Err(Error::NotRunning(a.dir.clone()));
        }
        return Err(Error::Signal(init.pid, e));
    }
    Ok(())
}

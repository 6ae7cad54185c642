//! `ctr-state kill DIR [SIGNAL]`: signal the container's first process through a pidfd,
//! only while it is still the process DIR/pid was written for (see `pid`), so a reused PID
//! is never signalled.

use crate::cli::KillArgs;
use crate::cmd::pid::Init;
use crate::error::Error;

pub fn run(a: &KillArgs) -> Result<(), Error> {
    let init = Init::find(&a.dir)?;
    let sig =
        rustix::process::Signal::from_named_raw(a.signal as i32).ok_or(rustix::io::Errno::INVAL);
    if let Err(e) = sig.and_then(|s| rustix::process::pidfd_send_signal(&init.pidfd, s)) {
        let e = std::io::Error::from(e);
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Err(Error::NotRunning(a.dir.clone()));
        }
        return Err(Error::Signal(init.pid, e));
    }
    Ok(())
}

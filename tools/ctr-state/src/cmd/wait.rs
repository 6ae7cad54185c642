//! `ctr-state wait DIR PID... -- CMD...`: a detached container's monitor shell execs into
//! this while the container runs. The PID stays, and with it the children: the container's
//! process and its log relay. A shell would sit there with its whole parsed script resident;
//! this waits in little memory, records the status the moment the container ends (ctr-stop
//! waits for DIR/exit), and hands over to CMD, a new shell that decides what comes next.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::cli::WaitArgs;
use crate::error::Error;

pub fn run(a: &WaitArgs) -> Result<(), Error> {
    // (we wait as long as the container lives: our code out of our resident set)
    common::memory::drop_code_pages();
    let status = wait_for(a.pids[0]);
    if a.id
        .as_deref()
        .is_none_or(|id| id_of(&a.dir).as_deref() == Some(id))
    {
        if let Err(e) = record(&a.dir, status) {
            // (the shell after us writes it when it finds none)
            common::debug!("cannot write {}/exit: {e}", a.dir.display());
        }
    }
    for &pid in &a.pids[1..] {
        wait_for(pid);
    }
    let Some((cmd, args)) = a.then.split_first() else {
        return Err(Error::Usage("no command to run after --".into()));
    };
    let e = Command::new(cmd).args(args).arg(status.to_string()).exec();
    Err(Error::Exec(cmd.to_string_lossy().into_owned(), e))
}

/// The status of child `pid` once it ends, as sh's `wait` gives it: its exit code, or 128
/// plus the signal that killed it; 127 when it is not a child of ours.
fn wait_for(pid: i32) -> i32 {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return 127,
        }
    }
}

/// DIR/id's first line.
fn id_of(dir: &Path) -> Option<String> {
    let s = fs::read_to_string(dir.join("id")).ok()?;
    Some(s.lines().next().unwrap_or("").to_string())
}

/// DIR/exit holds `status`, written whole (a temporary file renamed, as lib.sh's
/// state_write does).
fn record(dir: &Path, status: i32) -> io::Result<()> {
    let tmp = dir.join(".exit.tmp");
    fs::write(&tmp, format!("{status}\n"))?;
    fs::rename(&tmp, dir.join("exit"))
}

//! `cgset exec PATH [--create] -- CMD...`: join the cgroup, then become the command.
//! Exit status: 125 when cgset fails first, 126/127 when the command cannot run, else the
//! command's own (it replaces cgset, so a signal shows as 128+N in the shell).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::sys::signal::{SigHandler, Signal, signal};

use crate::cg::Cg;
use crate::cli::ExecArgs;
use crate::cmd::create;
use crate::error::{Error, Result};

pub fn run(root: &Path, a: ExecArgs) -> Result<i32> {
    prepare(root, &a).map_err(|e| match e {
        Error::Usage(_) => e,
        e => Error::BeforeExec(Box::new(e)),
    })?;
    let argv: Vec<CString> = a
        .cmd
        .iter()
        .map(|s| CString::new(s.as_bytes()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Usage("the command contains a NUL byte".into()))?;
    // Rust ignores SIGPIPE, and an ignored disposition survives execve
    // SAFETY: restoring the default disposition installs no handler code.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
    }
    let e = nix::unistd::execvp(&argv[0], &argv).unwrap_err();
    Err(Error::Exec {
        cmd: a.cmd[0].to_string_lossy().into_owned(),
        source: std::io::Error::from_raw_os_error(e as i32),
    })
}

fn prepare(root: &Path, a: &ExecArgs) -> Result<()> {
    let cg = Cg::open(root)?;
    if a.create {
        create::create_with(&cg, &a.path, &a.limits, true, true, a.leaf)?;
    } else {
        cg.require(&a.path)?;
        if !a.limits.is_empty() {
            create::set(&cg, &a.path, &a.limits, a.leaf)?;
        }
    }
    cg.attach(&a.path, &std::process::id().to_string())
}

//! `cgset exec PATH [--create] -- CMD...`: join the cgroup, then become the command.
//! Exit status: 125 when cgset fails first, 126/127 when the command cannot run, else the
//! command's own (it replaces cgset, so a signal shows as 128+N in the shell).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use std::os::unix::process::CommandExt;

use crate::cg::Cg;
use crate::cli::ExecArgs;
use crate::cmd::create;
use crate::error::{Error, Result};

pub fn run(root: &Path, a: ExecArgs) -> Result<i32> {
    prepare(root, &a).map_err(|e| match e {
        Error::Usage(_) => e,
        e => Error::BeforeExec(Box::new(e)),
    })?;
    if a.cmd.iter().any(|s| s.as_bytes().contains(&0)) {
        return Err(Error::Usage("the command contains a NUL byte".into()));
    }
    // std's exec is execvp after putting SIGPIPE (which Rust ignores, and an ignored
    // disposition survives execve) back to its default and emptying the signal mask
    let source = std::process::Command::new(&a.cmd[0])
        .args(&a.cmd[1..])
        .exec();
    Err(Error::Exec {
        cmd: a.cmd[0].to_string_lossy().into_owned(),
        source,
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

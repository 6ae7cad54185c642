//! Exit statuses: the documented contract of every ctrkit tool (see the crate docs).

pub const OK: i32 = 0;
pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
/// A tool that runs a command failed before running it (Docker, `env`, `chroot`).
pub const CANNOT_RUN: i32 = 125;
/// The command exists but cannot be executed (permission, format).
pub const NOT_EXECUTABLE: i32 = 126;
/// The command was not found.
pub const NOT_FOUND: i32 = 127;

/// The status a shell reports for a child killed by `signal`.
pub fn signaled(signal: i32) -> i32 {
    128 + signal
}

/// Errors that know which exit status they stand for.
pub trait HasExitCode {
    fn exit_code(&self) -> i32 {
        FAILURE
    }
}

/// The status for a failed `execve`: 127 when the file is missing, else 126.
pub fn for_exec_errno(errno: i32) -> i32 {
    if errno == libc::ENOENT || errno == libc::ENOTDIR {
        NOT_FOUND
    } else {
        NOT_EXECUTABLE
    }
}

/// Turn a `waitpid` status into the shell's convention.
pub fn from_wait_status(status: nix::sys::wait::WaitStatus) -> i32 {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => signaled(sig as i32),
        _ => FAILURE,
    }
}

/// Turn a `std::process::ExitStatus` into the shell's convention.
pub fn from_exit_status(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => signaled(sig),
        _ => FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_errno_mapping() {
        assert_eq!(for_exec_errno(libc::ENOENT), 127);
        assert_eq!(for_exec_errno(libc::EACCES), 126);
        assert_eq!(for_exec_errno(libc::ENOEXEC), 126);
    }

    #[test]
    fn signal_status() {
        assert_eq!(signaled(15), 143);
        assert_eq!(signaled(9), 137);
    }
}

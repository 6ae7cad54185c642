//! Processes: finding and exec'ing the command, its environment, signal forwarding and
//! waiting (for the parent and for the built-in init), and the clean signal state a
//! command must start with (STYLE 2.4).

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::error::{Error, IoContext};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The signals the parent (and `--init`) pass on to the container.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// The forwarded signals plus SIGCHLD.
pub fn wait_set() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Block the forwarded signals and SIGCHLD, so they queue until [`wait_forwarding`] takes
/// them (no race between a signal and the wait).
pub fn block_signals() -> Result<(), Error> {
    signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&wait_set()), None).map_err(|source| {
        Error::Sys {
            what: "cannot block signals".into(),
            source,
        }
    })
}

/// Before exec'ing a user command: every signal back to its default action and an empty
/// signal mask. Caught signals reset themselves at exec; only ignored ones (SIGPIPE, which
/// Rust ignores, and whatever our own parent ignored) carry over, so just those are reset.
pub fn reset_signals() {
    let ignored = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        });
    for s in Signal::iterator() {
        if s == Signal::SIGKILL || s == Signal::SIGSTOP {
            continue;
        }
        let is_ignored = ignored.is_none_or(|m| m & (1u64 << (s as i32 - 1)) != 0);
        if is_ignored || s == Signal::SIGPIPE {
            let dfl = signal::SigAction::new(
                SigHandler::SigDfl,
                signal::SaFlags::empty(),
                SigSet::empty(),
            );
            set_action(s, &dfl);
        }
    }
    let _ = signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// The process forwarded signals go to (read by the signal handler).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if let (true, Ok(sig)) = (pid > 0, Signal::try_from(sig)) {
        // kill(2) is async-signal-safe
        let _ = signal::kill(Pid::from_raw(pid), sig);
    }
}

/// sigaction(sig, action): the only handlers nsenter-rs installs are SIG_DFL and [`forward`].
fn set_action(sig: Signal, action: &signal::SigAction) {
    // SAFETY: `forward` is async-signal-safe (an atomic load and kill(2), no allocation, no
    // lock) and SIG_DFL needs nothing; the calls happen while nsenter-rs is single-threaded.
    let _ = unsafe { signal::sigaction(sig, action) };
}

/// Wait for `child`, passing on forwarded signals, and return its status in the shell's
/// convention. With `reap_all` (the built-in init) every other child that exits is reaped
/// too. The signals must be blocked ([`block_signals`]) before `child` was started; here a
/// handler that forwards them is installed and they are unblocked. The wait itself is a
/// plain blocking `waitpid`, whose wake-up on the child's exit the scheduler hands over
/// directly (a signal-based wait costs a scheduling round on a busy machine).
pub fn wait_forwarding(child: Pid, reap_all: bool) -> i32 {
    FORWARD_TO.store(child.as_raw(), Ordering::Relaxed);
    let action = signal::SigAction::new(
        SigHandler::Handler(forward),
        signal::SaFlags::empty(), // no SA_RESTART: waitpid returns EINTR, then waits again
        SigSet::all(),
    );
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set_action(s, &action);
        set.add(s);
    }
    let _ = signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    let who = if reap_all { Pid::from_raw(-1) } else { child };
    loop {
        match waitpid(who, None) {
            Ok(st @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _))) => {
                if pid == child {
                    return common::exit::from_wait_status(st);
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return common::exit::FAILURE,
        }
    }
}

/// Before exec: every descriptor from `3 + preserve` up is closed by the exec (marked
/// close-on-exec), so nothing the caller left open reaches the container (runc's
/// `--preserve-fds N` keeps 3..3+N). Marking instead of closing keeps our own descriptors
/// (the error pipe) usable until the exec itself.
pub fn close_fds_on_exec(preserve: u32) -> Result<(), Error> {
    let first = 3u32.saturating_add(preserve);
    if fd_call(FdCall::CloseRange {
        first,
        cloexec: true,
    }) {
        return Ok(());
    }
    // before Linux 5.11 (no CLOSE_RANGE_CLOEXEC): mark each open descriptor
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .io(|| "cannot list /proc/self/fd".into())?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd: &i32| *fd >= first as i32)
        .collect();
    for fd in fds {
        fd_call(FdCall::SetCloexec(fd));
    }
    Ok(())
}

/// Close every descriptor from `3 + preserve` up now (the built-in init, which never execs).
pub fn close_fds_now(preserve: u32) {
    let first = 3u32.saturating_add(preserve);
    if !fd_call(FdCall::CloseRange {
        first,
        cloexec: false,
    }) {
        let _ = close_fds_on_exec(preserve);
    }
}

/// A call on descriptor numbers (whatever is open there), not on descriptors held as owned
/// Rust objects: no crate wraps these safely.
enum FdCall {
    /// close_range(first, ~0U, CLOSE_RANGE_CLOEXEC or 0): mark or close `first` and above
    CloseRange { first: u32, cloexec: bool },
    /// fcntl(fd, F_SETFD, FD_CLOEXEC); a stale number fails with EBADF
    SetCloexec(i32),
}

/// Whether the call succeeded.
fn fd_call(call: FdCall) -> bool {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: neither call takes a pointer. Setting FD_CLOEXEC changes no descriptor before
    // the exec. Closing is used only by the init, which from then on only waits and exits:
    // no object of ours that still holds a descriptor at or above `first` is used again
    // (each is closed already or dies with the process at _exit).
    let rc = unsafe {
        match call {
            FdCall::CloseRange { first, cloexec } => libc::syscall(
                libc::SYS_close_range,
                first as libc::c_uint,
                libc::c_uint::MAX,
                if cloexec { CLOSE_RANGE_CLOEXEC } else { 0 },
            ),
            FdCall::SetCloexec(fd) => {
                libc::c_long::from(libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC))
            }
        }
    };
    rc == 0
}

/// `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
pub struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

impl CloneArgs {
    /// A fork-like child with `flags` (CLONE_NEW*) made in the cgroup2 directory `cgroup`
    /// (CLONE_INTO_CGROUP); no stack, so the child runs on a copy of ours.
    pub fn into_cgroup(flags: u64, cgroup: &impl std::os::fd::AsRawFd) -> CloneArgs {
        const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
        CloneArgs {
            flags: flags | CLONE_INTO_CGROUP,
            exit_signal: libc::SIGCHLD as u64,
            cgroup: cgroup.as_raw_fd() as u64,
            ..CloneArgs::default()
        }
    }
}

/// A fork-like clone (`SIGCHLD` to the parent at the child's exit): clone3 with `args` when
/// given, else clone with `flags` (0 is a plain fork). Returns what the call returns: the
/// child's pid in the parent, 0 in the child, -1 with errno set.
pub fn fork_like(flags: libc::c_int, args: Option<&CloneArgs>) -> libc::c_long {
    // SAFETY: no new stack is given (the child runs on a copy of ours, as after fork), and
    // `args` outlives the call, its size the one passed. nsenter-rs is single-threaded at
    // every call, so the child holds no lock another thread had; it runs only our own setup
    // code and then execs or leaves with _exit.
    unsafe {
        match args {
            Some(a) => libc::syscall(
                libc::SYS_clone3,
                a as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            ),
            None => libc::syscall(
                libc::SYS_clone,
                (flags | libc::SIGCHLD) as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            ),
        }
    }
}

/// End this process at once: `_exit(2)`, which skips atexit handlers and the flushing of
/// stdio buffers a forked child shares with its parent, and unwinds nothing.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes no pointer and does not return; ending the process leaves no Rust
    // object in an invalid state that anything could observe afterwards.
    unsafe { libc::_exit(code) }
}

/// Make this process non-dumpable: `/proc/PID/exe`, `/proc/PID/mem` and ptrace are then
/// closed to everything in the container that lacks CAP_SYS_PTRACE (CVE-2019-5736). The
/// command's exec makes the new program dumpable again; the tool itself never is.
pub fn make_undumpable() -> Result<(), Error> {
    nix::sys::prctl::set_dumpable(false).map_err(|source| Error::Sys {
        what: "cannot make the process non-dumpable".into(),
        source,
    })
}

/// A new session without a controlling terminal: the container cannot open `/dev/tty`, nor
/// push input into the caller's terminal with TIOCSTI.
pub fn new_session() -> Result<(), Error> {
    nix::unistd::setsid()
        .map(drop)
        .map_err(|source| Error::Sys {
            what: "cannot start a new session".into(),
            source,
        })
}

/// The environment variables that change how a program is loaded or run (glibc's list of
/// unsafe variables for setuid programs, and PATH). `--debug` runs host tools in the host's
/// mount namespace: none of these may come from the container.
pub fn is_loader_variable(name: &OsStr) -> bool {
    const NAMES: [&str; 12] = [
        "PATH",
        "GCONV_PATH",
        "GETCONF_DIR",
        "HOSTALIASES",
        "LOCALDOMAIN",
        "LOCPATH",
        "MALLOC_TRACE",
        "NLSPATH",
        "RESOLV_HOST_CONF",
        "RES_OPTIONS",
        "TMPDIR",
        "TZDIR",
    ];
    let n = name.as_bytes();
    n.starts_with(b"LD_")
        || n.starts_with(b"GLIBC_TUNABLES")
        || n.starts_with(b"MALLOC_")
        || NAMES.iter().any(|v| v.as_bytes() == n)
}

/// A working directory reached through a descriptor (`/proc/self/fd/N`, `/proc/PID/fd/N`)
/// could be a host directory the caller left open: refused.
pub fn check_workdir(w: &std::path::Path) -> Result<(), Error> {
    use std::path::Component;
    let parts: Vec<Component> = w.components().collect();
    let via_fd = parts.windows(3).any(|c| {
        c[0] == Component::Normal("proc".as_ref())
            && c[2] == Component::Normal("fd".as_ref())
            && matches!(c[1], Component::Normal(p) if p == "self" || p == "thread-self" || p.to_str().is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit())))
    });
    if via_fd {
        return Err(Error::Setup(format!(
            "working directory {} is a descriptor's link under /proc: refused",
            w.display()
        )));
    }
    Ok(())
}

/// Find `cmd` like execvp: a name with a slash is taken as is, else each `PATH` entry is
/// tried. Errors say which, for exit status 127 or 126.
pub fn resolve(cmd: &OsStr, path_var: &OsStr, where_: &str) -> Result<PathBuf, Error> {
    let name = cmd.to_string_lossy().into_owned();
    if cmd.is_empty() {
        return Err(Error::NotFound {
            cmd: name,
            where_: where_.into(),
        });
    }
    let candidates: Vec<PathBuf> = if cmd.as_bytes().contains(&b'/') {
        vec![PathBuf::from(cmd)]
    } else {
        std::env::split_paths(path_var)
            .map(|d| {
                if d.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    d
                }
            })
            .map(|d| d.join(cmd))
            .collect()
    };
    let mut found_not_exec = None;
    for c in &candidates {
        if let Ok(md) = std::fs::metadata(c) {
            if md.is_file() && md.permissions().mode() & 0o111 != 0 {
                return Ok(c.clone());
            }
            found_not_exec.get_or_insert(c.clone());
        }
    }
    match found_not_exec {
        Some(p) => Err(Error::Exec {
            cmd: p.to_string_lossy().into_owned(),
            source: Errno::EACCES,
        }),
        None => Err(Error::NotFound {
            cmd: name,
            where_: where_.into(),
        }),
    }
}

/// Replace this process with `path` `args` in `env`. Returns only on failure.
pub fn exec(path: &Path, args: &[OsString], env: &[OsString]) -> Error {
    let to_c = |s: &OsStr| CString::new(s.as_bytes()).ok();
    let Some(cpath) = to_c(path.as_os_str()) else {
        return Error::Usage(format!("command '{}' contains a NUL byte", path.display()));
    };
    let cargs: Option<Vec<CString>> = args.iter().map(|a| to_c(a)).collect();
    let cenv: Option<Vec<CString>> = env.iter().map(|a| to_c(a)).collect();
    let (Some(cargs), Some(cenv)) = (cargs, cenv) else {
        return Error::Usage("an argument or variable contains a NUL byte".into());
    };
    match nix::unistd::execve(&cpath, &cargs, &cenv) {
        Err(source) => Error::Exec {
            cmd: path.to_string_lossy().into_owned(),
            source,
        },
        Ok(never) => match never {},
    }
}

/// Exec `cmd` like execvp: a name with a slash as is, else each `PATH` entry in turn.
/// Returns only on failure: 127 when nowhere found, 126 when found but not executable.
pub fn exec_search(cmd: &[OsString], path_var: &OsStr, env: &[OsString]) -> Error {
    let name = &cmd[0];
    if name.is_empty() {
        return Error::NotFound {
            cmd: String::new(),
            where_: String::new(),
        };
    }
    if name.as_bytes().contains(&b'/') {
        return exec(Path::new(name), cmd, env);
    }
    let mut denied = None;
    for dir in std::env::split_paths(path_var) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        match exec(&dir.join(name), cmd, env) {
            Error::Exec {
                source: Errno::ENOENT | Errno::ENOTDIR,
                ..
            } => {}
            e @ Error::Exec { .. } => {
                denied.get_or_insert(e);
            }
            e => return e,
        }
    }
    denied.unwrap_or_else(|| Error::NotFound {
        cmd: name.to_string_lossy().into_owned(),
        where_: format!(" (PATH {})", path_var.to_string_lossy()),
    })
}

/// An environment as `K=V` entries, last assignment of a name winning.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: Vec<(OsString, OsString)>,
}

impl Env {
    pub fn inherited() -> Env {
        Env {
            vars: std::env::vars_os().collect(),
        }
    }

    /// Parse NUL-separated `K=V` entries (`/proc/PID/environ`).
    pub fn from_environ(data: &[u8]) -> Env {
        let mut env = Env::default();
        for entry in data.split(|b| *b == 0).filter(|e| !e.is_empty()) {
            if let Some(eq) = entry.iter().position(|b| *b == b'=') {
                env.set(
                    OsStr::from_bytes(&entry[..eq]).to_os_string(),
                    OsStr::from_bytes(&entry[eq + 1..]).to_os_string(),
                );
            }
        }
        env
    }

    pub fn set(&mut self, k: OsString, v: OsString) {
        self.vars.retain(|(n, _)| *n != k);
        self.vars.push((k, v));
    }

    /// Keep only the variables whose name passes `keep`.
    pub fn retain(&mut self, keep: impl Fn(&OsStr) -> bool) {
        self.vars.retain(|(n, _)| keep(n));
    }

    pub fn get(&self, k: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .find(|(n, _)| n == OsStr::new(k))
            .map(|(_, v)| v.as_os_str())
    }

    /// Apply `K=V` (or `K`: copy from our own environment, unset if we lack it).
    pub fn assign(&mut self, spec: &str) {
        match spec.split_once('=') {
            Some((k, v)) => self.set(k.into(), v.into()),
            None => {
                if let Some(v) = std::env::var_os(spec) {
                    self.set(spec.into(), v);
                } else {
                    self.vars.retain(|(n, _)| n != OsStr::new(spec));
                }
            }
        }
    }

    /// Apply the lines of an env file: `K=V` or `K`, blank lines and `#` comments skipped.
    pub fn assign_file(&mut self, path: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(path)
            .io(|| format!("cannot read env file {}", path.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name = line.split('=').next().unwrap_or("");
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(Error::Usage(format!(
                    "env file {} line {}: '{line}' is not K=V",
                    path.display(),
                    n + 1
                )));
            }
            self.assign(line);
        }
        Ok(())
    }

    pub fn entries(&self) -> Vec<OsString> {
        self.vars
            .iter()
            .map(|(k, v)| {
                let mut e = k.clone().into_vec();
                e.push(b'=');
                e.extend_from_slice(v.as_bytes());
                OsString::from_vec(e)
            })
            .collect()
    }
}

/// The command to run: the given one, else `$SHELL`, else `/bin/sh`.
pub fn command_or_shell(cmd: &[OsString]) -> Vec<OsString> {
    if cmd.is_empty() {
        let shell = std::env::var_os("SHELL")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into());
        vec![shell]
    } else {
        cmd.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_assignments() {
        let mut e = Env::default();
        e.assign("A=1");
        e.assign("A=2");
        e.assign("B=x=y");
        assert_eq!(e.get("A"), Some(OsStr::new("2")));
        assert_eq!(e.get("B"), Some(OsStr::new("x=y")));
        assert_eq!(e.entries().len(), 2);
        let e = Env::from_environ(b"X=1\0Y=2\0");
        assert_eq!(e.get("Y"), Some(OsStr::new("2")));
    }

    #[test]
    fn resolve_finds_and_names() {
        assert!(resolve(OsStr::new("sh"), OsStr::new("/bin:/usr/bin"), "").is_ok());
        let e = resolve(OsStr::new("no-such-cmd-xyz"), OsStr::new("/bin"), "").unwrap_err();
        assert_eq!(common::HasExitCode::exit_code(&e), 127);
        let e = resolve(OsStr::new("/etc/passwd"), OsStr::new("/bin"), "").unwrap_err();
        assert_eq!(common::HasExitCode::exit_code(&e), 126);
    }
}

//! One error type; each variant names its object, and maps to the exec-tool exit codes:
//! 2 usage, 125 setup failed before the command ran, 126 not executable, 127 not found.

use std::io;
use std::path::PathBuf;

use common::HasExitCode;
use common::exit;
use common::ns::NsKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad combination of options (values are checked by clap).
    #[error("{0}")]
    Usage(String),

    /// A setup step failed for a reason of its own (not a system call).
    #[error("{0}")]
    Setup(String),

    #[error("process {pid} not found")]
    NoProcess { pid: i32 },

    #[error("cannot open {kind} namespace {path}")]
    OpenNs {
        kind: NsKind,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot enter {kind} namespace {path}")]
    Setns {
        kind: NsKind,
        path: PathBuf,
        #[source]
        source: nix::Error,
    },

    /// A system call failed; `what` says on what.
    #[error("{what}")]
    Sys {
        what: String,
        #[source]
        source: nix::Error,
    },

    /// File I/O failed; `what` names the file.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },

    /// A mount target cannot be resolved inside the rootfs without openat2(2).
    #[error(
        "cannot resolve {path} inside the rootfs: openat2(2) is missing (Linux 5.6 or later is needed)"
    )]
    NoOpenat2 { path: PathBuf },

    /// A bind whose source and target differ in type (file onto directory or back).
    #[error(
        "cannot bind {src} on {dst}: {src} is {src_kind} but {dst} is {dst_kind} in the rootfs"
    )]
    BindType {
        src: PathBuf,
        dst: PathBuf,
        src_kind: &'static str,
        dst_kind: &'static str,
    },

    /// A path in the rootfs has the wrong type for its mount (a symlinked /proc, ...).
    #[error("{path} in the rootfs {why}")]
    RootfsPath { path: PathBuf, why: String },

    #[error("--device {path}: not a character or block device")]
    NotADevice { path: PathBuf },

    #[error("cannot set capabilities: {0}")]
    Caps(String),

    #[error("{what}: above the hard limit {hard} and CAP_SYS_RESOURCE is missing")]
    RlimitAboveHard { what: String, hard: String },

    #[error("command '{cmd}' not found{where_}")]
    NotFound { cmd: String, where_: String },

    #[error("cannot run '{cmd}'")]
    Exec {
        cmd: String,
        #[source]
        source: nix::Error,
    },

    #[error("cannot find container '{query}': {reason}")]
    Container { query: String, reason: String },

    /// An error the container's setup process reported over the error pipe.
    #[error("{msg}")]
    Child { code: i32, msg: String },

    /// A seccomp profile file that cannot be used; `msg` names the field at fault.
    #[error("seccomp profile {}: {msg}", path.display())]
    SeccompProfile { path: PathBuf, msg: String },

    #[error("cannot write the output")]
    Output(#[source] io::Error),
}

impl HasExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::NotFound { .. } => exit::NOT_FOUND,
            Error::Exec { source, .. } => exit::for_exec_errno(*source as i32),
            Error::Child { code, .. } => *code,
            Error::Output(_) => exit::FAILURE,
            _ => exit::CANNOT_RUN,
        }
    }
}

/// Context for `nix` results: `.sys(|| format!("cannot mount {x}"))`.
pub trait SysContext<T> {
    fn sys(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Sys {
            what: what(),
            source,
        })
    }
}

/// Context for `io` results: `.io(|| format!("cannot read {path}"))`.
pub trait IoContext<T> {
    fn io(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn io(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Io {
            what: what(),
            source,
        })
    }
}

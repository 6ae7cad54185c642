//! Every way `cgset` can fail, each naming its object.

use std::io;
use std::path::PathBuf;

use common::exit;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value or combination the command line cannot express (exit 2).
    #[error("{0}")]
    Usage(String),
    #[error("cannot find cgroup hierarchies under {root}")]
    Detect {
        root: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no cgroup '{path}' (create it with 'cgset create {path}')")]
    NotFound { path: String },
    #[error("cgroup '{path}' already exists (--exist-ok accepts that)")]
    Exists { path: String },
    #[error("parent cgroup '{parent}' does not exist (--parent-ok creates it)")]
    NoParent { parent: String },
    #[error("controller {controller} is not available: {hint}")]
    Unavailable { controller: String, hint: String },
    #[error("{flag} is not supported on cgroup {version}: {hint}")]
    WrongVersion {
        flag: String,
        version: &'static str,
        hint: String,
    },
    #[error("the kernel refused {value:?} for {path} ({errno}){hint}")]
    Write {
        path: PathBuf,
        value: String,
        errno: String,
        hint: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create cgroup directory {path}")]
    Mkdir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot enable {controller} in '{path}': it holds processes ({pids}), and cgroup v2 lets \
         only leaf cgroups hold processes when controllers are enabled for children (the 'no internal \
         processes' rule); move them into a child first, or pass --leaf to move them into '{path}/leaf'"
    )]
    InternalProcesses {
        path: String,
        controller: String,
        pids: String,
    },
    #[error(
        "cannot move process {pid} into '{path}': on cgroup v2 processes may only join leaf cgroups, \
         and '{path}' has controllers enabled for its children ({controllers}); use a child cgroup"
    )]
    NotLeaf {
        path: String,
        pid: String,
        controllers: String,
    },
    #[error("cannot move process {pid} into {path}")]
    Attach {
        path: PathBuf,
        pid: String,
        #[source]
        source: io::Error,
    },
    #[error("cgroup '{path}' still has processes ({pids}); 'cgset delete --kill' ends them first")]
    Populated { path: String, pids: String },
    #[error("{what}: timed out after {secs:.1}s")]
    Timeout { what: String, secs: f64 },
    #[error("{0}")]
    Several(String),

    #[error("cannot set the device rules of {}: {what}", .path.display())]
    Devices { path: PathBuf, what: String },
    /// `cgset exec`: something failed before the command ran (exit 125).
    #[error(transparent)]
    BeforeExec(Box<Error>),
    #[error("cannot run {cmd}")]
    Exec {
        cmd: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot write output")]
    Output(#[source] io::Error),
}

impl common::HasExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::BeforeExec(_) => exit::CANNOT_RUN,
            Error::Exec { source, .. } => exit::for_exec_errno(source.raw_os_error().unwrap_or(0)),
            _ => exit::FAILURE,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Output(e)
    }
}

/// `EINVAL`, `EBUSY`, ... for an I/O error from the kernel.
pub fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
        None => format!("{:?}", e.kind()),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

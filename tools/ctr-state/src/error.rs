use std::io;
use std::path::PathBuf;

use common::HasExitCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: already exists", .0.display())]
    Exists(PathBuf),
    #[error("cannot create {}", .0.display())]
    Create(PathBuf, #[source] io::Error),
    #[error("file descriptor {0} is not open")]
    BadFd(u16),
    #[error("file descriptor {0} is locked by another process")]
    Locked(u16),
    /// the descriptor, and what it was opened on (the path, or "its file")
    #[error("file descriptor {0}: {1} was removed or replaced while waiting for the lock")]
    Gone(u16, String),
    #[error("cannot lock file descriptor {0}")]
    Lock(u16, #[source] io::Error),
    #[error("{}: not a folder", .0.display())]
    NotDir(PathBuf),
    #[error("{}: a folder, not a file", .0.display())]
    IsDir(PathBuf),
    #[error("not removing {}: still mounted: {}", .0.display(), .1.join(" "))]
    Mounted(PathBuf, Vec<String>),
    #[error("cannot read standard input")]
    Read(#[source] io::Error),
    #[error("cannot write {}", .0.display())]
    Write(PathBuf, #[source] io::Error),
    #[error("{}: the container does not run", .0.display())]
    NotRunning(PathBuf),
    #[error("{}: not a pid", .0.display())]
    BadPidFile(PathBuf),
    #[error("{}: process {pid} is not the container's any more: {why}", .dir.display())]
    Reused { pid: i32, dir: PathBuf, why: String },
    #[error("cannot signal process {0}")]
    Signal(i32, #[source] io::Error),
    #[error("cannot remove {}", .0.display())]
    Remove(PathBuf, #[source] io::Error),
    #[error("the name {0} is already in use")]
    NameInUse(String),
    #[error("cannot rename {}", .0.display())]
    Rename(PathBuf, #[source] io::Error),
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    /// A bad value the command line parser could not judge alone (exit 2).
    #[error("{0}")]
    Usage(String),
    #[error("cannot run {0}")]
    Exec(String, #[source] io::Error),
    #[error("cannot write the output")]
    Output(#[source] io::Error),
}

impl HasExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => common::exit::USAGE,
            _ => common::exit::FAILURE,
        }
    }
}

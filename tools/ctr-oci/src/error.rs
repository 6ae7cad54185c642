use std::io;
use std::path::PathBuf;

use common::HasExitCode;

/// Every error exits 1, as runc's do (clients read the message, not the status).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container does not exist: {0}")]
    NoContainer(String),
    #[error("container with id {0} already exists")]
    Exists(String),
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("cannot {what} container {id} that is not stopped: {status}")]
    WrongStatus {
        what: &'static str,
        id: String,
        status: &'static str,
    },
    #[error("invalid container id '{0}': use letters, digits, '_', '-', '.' (1 to 1024)")]
    BadId(String),
    #[error("cannot read {}", .0.display())]
    Read(PathBuf, #[source] io::Error),
    #[error("cannot write {}", .0.display())]
    Write(PathBuf, #[source] io::Error),
    #[error("{}: invalid JSON", .0.display())]
    Json(PathBuf, #[source] serde_json::Error),
    #[error("config.json: {0}")]
    Config(String),
    #[error("cannot run {0}")]
    Spawn(String, #[source] io::Error),
    #[error("{0}")]
    Tool(String),
    #[error("hook {0}")]
    Hook(String),
    #[error("cannot signal process {0}")]
    Signal(i32, #[source] nix::Error),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write the output")]
    Output(#[source] io::Error),
}

impl HasExitCode for Error {}

use std::io;
use std::path::Path;

use common::HasExitCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation on a named path failed.
    #[error("cannot {op} {path}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
    /// One archive entry could not be placed.
    #[error("{layer}: cannot {op} entry '{entry}'")]
    Entry {
        layer: String,
        entry: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// A hostile or malformed entry was refused.
    #[error("{layer}: entry '{entry}' refused: {reason}")]
    Unsafe {
        layer: String,
        entry: String,
        reason: String,
    },
    /// An archive or compressed stream could not be read.
    #[error("cannot read {what}")]
    Archive {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    Digest {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("invalid JSON in {what}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// An HTTP exchange with a registry failed below HTTP (connection, TLS, protocol).
    #[error("{what}")]
    Http {
        what: String,
        #[source]
        source: Box<ureq::Error>,
    },
    #[error("no such image: {0}")]
    NoImage(String),
    #[error("image reference '{0}' is ambiguous")]
    Ambiguous(String),
    #[error("no such container: {0}")]
    NoContainer(String),
    #[error("cannot mount {what} at {target}{hint}")]
    Mount {
        what: String,
        target: String,
        hint: String,
        #[source]
        source: io::Error,
    },
    /// An import would write more than its size budget.
    #[error("{what}: expands past the size budget of {} ({limit} bytes; --max-size sets it)", common::parse::human_bytes(*.limit))]
    TooBig { what: String, limit: u64 },
    /// Any other failure, with its whole message.
    #[error("{0}")]
    Msg(String),
    /// A usage error found after parsing (exit 2).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    pub fn msg(s: impl Into<String>) -> Error {
        Error::Msg(s.into())
    }
}

impl HasExitCode for Error {
    fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => common::exit::USAGE,
            _ => common::exit::FAILURE,
        }
    }
}

/// `.ctx("read", path)` on io results.
pub trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl AsRef<Path>) -> Result<T, Error>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: impl AsRef<Path>) -> Result<T, Error> {
        self.map_err(|e| Error::io(op, path, e))
    }
}

use common::HasExitCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} is not implemented yet")]
    NotImplemented(&'static str),
}

impl HasExitCode for Error {}

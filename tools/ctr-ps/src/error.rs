use std::io;

use common::HasExitCode;
use common::discover::DiscoverError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot scan /proc for containers")]
    Scan(#[source] io::Error),
    #[error(transparent)]
    Container(#[from] DiscoverError),
    #[error("cannot write to stdout")]
    Output(#[source] io::Error),
}

impl HasExitCode for Error {}

/// Map an output error (a closed pipe stays quiet: common::run sees BrokenPipe).
pub trait OutputExt<T> {
    fn out(self) -> Result<T, Error>;
}

impl<T> OutputExt<T> for io::Result<T> {
    fn out(self) -> Result<T, Error> {
        self.map_err(Error::Output)
    }
}

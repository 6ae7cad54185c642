use crate::cli::Cli;
use crate::error::Error;

pub fn run(_cli: Cli) -> Result<(), Error> {
    Err(Error::NotImplemented("layermount"))
}

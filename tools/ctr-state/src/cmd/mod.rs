//! Dispatch: one file per subcommand.

mod claim;
mod kill;
mod lock;
mod log;
mod ls;
mod pid;
mod rename;
mod rm;
mod stats;
mod template;
mod wait;

use crate::cli::{Cli, Command};
use crate::error::Error;

pub fn dispatch(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Claim(a) => claim::run(&a),
        Command::Lock(a) => lock::run(&a),
        Command::Rm(a) => rm::run(&a),
        Command::Log(a) => log::run(&a),
        Command::Pid(a) => pid::run(&a),
        Command::Kill(a) => kill::run(&a),
        Command::Ls(a) => ls::run(&a),
        Command::Stats(a) => stats::run(&a),
        Command::Rename(a) => rename::run(&a),
        Command::Wait(a) => wait::run(&a),
    }
}

//! The command line: one subcommand per step of a state folder's life.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// claim, lock and remove the container state folders of ctrkit's launcher scripts
///
/// ctr-run keeps each container's state in a folder, $CTRKIT_STATE/containers/NAME/. It
/// claims the name by creating the folder, holds a lock on it while it sets the container
/// up (ctr-rm waits for that lock), and removes the folder at the end. POSIX sh can do none
/// of the three itself; ctr-state does each in one small static process.
#[derive(Debug, Parser)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create DIR; fail if it already exists, so that only one caller claims a name
    Claim(ClaimArgs),
    /// Take an exclusive lock (flock) on an open file descriptor inherited from the caller
    ///
    /// The lock belongs to the descriptor, so it outlives ctr-state: the caller, and every
    /// child that inherits the descriptor, holds it until the last of them closes it or exits.
    /// Typical use from sh: `exec 9<"$dir" && ctr-state lock 9 --path "$dir"`. Once the lock
    /// is taken, a folder removed (or, given --path, replaced) meanwhile is an error and the
    /// lock is given up: a lock on a deleted folder protects nothing.
    Lock(LockArgs),
    /// Remove DIR and everything in it, without following symlinks
    ///
    /// Nothing is removed when anything is mounted at or below DIR (an overlay not yet
    /// unmounted, a pinned namespace): the mount points are listed instead. A missing DIR is
    /// not an error.
    Rm(RmArgs),
}

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// The folder to create
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Create missing parent folders first (an existing DIR is still an error)
    #[arg(short, long)]
    pub parents: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The open file descriptor to lock (a file or a folder)
    #[arg(value_name = "FD")]
    pub fd: u16,
    /// Fail at once if another process holds the lock, instead of waiting
    #[arg(short, long)]
    pub nonblock: bool,
    /// Once locked, check that FD is still the file at PATH (same device and inode), and
    /// fail if it was removed or replaced meanwhile (without it, only removal is checked)
    #[arg(long, value_name = "PATH")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// The folders to remove
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify() {
        super::Cli::command().debug_assert();
    }
}

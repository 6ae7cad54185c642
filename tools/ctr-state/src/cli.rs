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
    /// not an error. Once every DIR is gone, each --unlink FILE goes too (an index entry
    /// naming the folder).
    Rm(RmArgs),
    /// Copy standard input to FILE, rotating it by size (Docker's max-size and max-file)
    ///
    /// Once FILE reaches SIZE it becomes FILE.1 (FILE.1 becomes FILE.2, ...) and a new FILE
    /// is started; files beyond COUNT in all are removed. Lines are kept whole where they
    /// fit. FILE's folder is created (0700) when missing, FILE is 0600. Ends at end of input.
    Log(LogArgs),
    /// Print the PID of the container's first process (DIR/pid), if it is still that process
    ///
    /// A PID is reused once its process ends. The process is held by a pidfd and checked: it
    /// must have started before DIR/pid was written and be in the container's cgroup
    /// (DIR/cgroup). Exit status 1, with one line, when the container does not run.
    Pid(PidArgs),
    /// Send SIGNAL to the container's first process, checked as `pid` does, through a pidfd
    Kill(KillArgs),
    /// List the containers of the state folders as `docker ps` does (ctr-ls)
    ///
    /// Running and paused ones, or every one with --all; newest first; Docker's columns
    /// (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES), filters and --format.
    /// A running container is checked as `pid` checks it.
    Ls(LsArgs),
    /// Show the containers' resource use as `docker stats` does (ctr-stats)
    ///
    /// CPU % over each interval, memory usage (without the inactive page cache, as Docker
    /// counts it) against its limit (the host's memory when it has none), network bytes of
    /// the container's own network namespace (all interfaces but lo), block I/O bytes and
    /// processes, from cgroupfs (v1 or v2) and /proc. Refreshes every interval, clearing the
    /// screen first, until interrupted; --no-stream prints one table.
    Stats(StatsArgs),
    /// Give a container a new name (ctr-rename): move its state folder and log folder
    ///
    /// The move never takes over a name in use (renameat2 RENAME_NOREPLACE). The folder's
    /// records that name paths under the old folder (the undo log, the recorded start) are
    /// rewritten, config's name= updated, and DIR/key keeps the first name, under which the
    /// container's cgroup, writable layer and network lease stay. Running containers too:
    /// mounts in the folder move with it, and their log follows.
    Rename(RenameArgs),
    /// Wait for PIDs, children of this process; record the first one's exit status in
    /// DIR/exit; then run CMD with the status as its last argument
    ///
    /// For a detached container's monitor (a shell): it execs into `ctr-state wait`, which
    /// keeps its PID and so its children (the container and its log relay), and waits for
    /// them in a small process of its own instead of a whole shell; CMD (a new shell) then
    /// goes on. The status is a shell's: the exit code, or 128 + the signal that ended it
    /// (127 for a PID that is not a child). It is written at once, as the shell writes state
    /// files (DIR/.exit.tmp renamed), and only while DIR/id still holds --id.
    Wait(WaitArgs),
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
    /// Then remove FILE (a file or symlink, never a folder; a missing one is fine); may be
    /// given again
    #[arg(long, value_name = "FILE")]
    pub unlink: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// The log file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Rotate at the first line end once the file holds SIZE (10m, 512k; max: never)
    #[arg(long, value_name = "SIZE", default_value = "10m", value_parser = parse_log_size)]
    pub max_size: common::parse::Size,
    /// How many files to keep, the current one included
    #[arg(long, value_name = "COUNT", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_file: u32,
    /// Put the time each line arrived before it (RFC 3339, UTC, in nanoseconds) and a space
    #[arg(long)]
    pub timestamps: bool,
}

#[derive(Debug, Args)]
pub struct PidArgs {
    /// The container's state folder
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// ctrkit's runtime state, where the containers' folders are
    #[arg(long = "state-dir", value_name = "DIR", env = "CTRKIT_STATE", hide_env_values = true, default_value_os_t = common::state::default_state())]
    pub state_dir: PathBuf,
    /// Every container: also created and exited ones
    #[arg(short, long)]
    pub all: bool,
    /// Only the IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// The N most recently created containers, in any state
    #[arg(short = 'n', long = "last", value_name = "N")]
    pub last: Option<usize>,
    /// The most recently created container, in any state
    #[arg(short, long)]
    pub latest: bool,
    /// Whole IDs and commands
    #[arg(long)]
    pub no_trunc: bool,
    /// Only containers with KEY=VALUE: name=PART, id=PREFIX, status=created|running|paused|exited,
    /// ancestor=IMAGE (or image ID prefix), label=KEY or label=KEY=VALUE (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// json (an object a line), or a template: '{{.Names}}\t{{.Status}}' (fields .ID .Names
    /// .Image .Command .CreatedAt .RunningFor .Status .State .Ports .Labels; 'table ...' adds
    /// a header)
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// The same as --format json
    #[arg(long)]
    pub json: bool,
    /// Add the SIZE column: the writable layer's size, and (virtual N) with the image's
    /// (from --sizes)
    #[arg(short, long)]
    pub size: bool,
    /// `layermount df --json`'s output, for --size: a file, or - for standard input
    #[arg(long, value_name = "FILE", requires = "size")]
    pub sizes: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// ctrkit's runtime state, where the containers' folders are
    #[arg(long = "state-dir", value_name = "DIR", env = "CTRKIT_STATE", hide_env_values = true, default_value = common::state::DEFAULT_STATE)]
    pub state_dir: PathBuf,
    /// Every container, also stopped ones (their numbers are 0); default: the running ones
    #[arg(short, long)]
    pub all: bool,
    /// Print one table (after one interval, for CPU %) and exit
    #[arg(long)]
    pub no_stream: bool,
    /// Whole IDs
    #[arg(long)]
    pub no_trunc: bool,
    /// json (an object a line), or a template: 'table {{.Name}}\t{{.MemUsage}}' (fields
    /// .Container .ID .Name .CPUPerc .MemUsage .MemPerc .NetIO .BlockIO .PIDs)
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// The same as --format json
    #[arg(long)]
    pub json: bool,
    /// Time between two readings (CPU % is the use over it): 500ms, 1s, 2s
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// The containers, by the name of their folder (default: every running one)
    #[arg(value_name = "NAME")]
    pub containers: Vec<String>,
}

/// An interval between readings: 10ms at least.
fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let d = common::parse::parse_duration(s).map_err(|e| e.to_string())?;
    if d < std::time::Duration::from_millis(10) {
        return Err(format!("'{s}' is too short (at least 10ms)"));
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container's state folder
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The new name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters
    #[arg(value_name = "NEW")]
    pub new: String,
    /// Also move ROOT/OLD to ROOT/NEW when it exists (the log folder, the boot record);
    /// repeatable
    #[arg(long = "with", value_name = "ROOT")]
    pub with: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// The container's state folder
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The signal, by name or number
    #[arg(value_name = "SIGNAL", default_value = "TERM", value_parser = common::parse::parse_signal)]
    pub signal: nix::sys::signal::Signal,
}

/// A log's size: any size but nothing (a file that rotates at every byte).
fn parse_log_size(s: &str) -> Result<common::parse::Size, String> {
    match common::parse::parse_size(s).map_err(|e| e.to_string())? {
        common::parse::Size::Bytes(0) => Err(format!("'{s}': a log needs a size above 0")),
        size => Ok(size),
    }
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The container's state folder, where the status goes (DIR/exit)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Write DIR/exit only while DIR/id holds ID (a folder renamed meanwhile may hold
    /// another container by then)
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// The children to wait for, in turn; the first one's status is recorded
    #[arg(value_name = "PID", required = true, value_parser = clap::value_parser!(i32).range(1..))]
    pub pids: Vec<i32>,
    /// What to run then (after --), the status added as its last argument
    #[arg(value_name = "CMD", last = true, required = true)]
    pub then: Vec<std::ffi::OsString>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify() {
        super::Cli::command().debug_assert();
    }
}

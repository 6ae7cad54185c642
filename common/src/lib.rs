//! Conventions every ctrkit tool shares, and nothing tool-specific.
//!
//! # Exit status policy
//!
//! Every tool maps its outcome to one exit status, in one place ([`run::run`]):
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success (also: stdout closed early by a reader, e.g. `| head`) |
//! | 1 | the operation failed (`TOOL: error: ...` on stderr) |
//! | 2 | usage error: a bad flag or value, named in the message |
//! | 125 | a tool that runs a command failed before running it |
//! | 126 | the command was found but cannot be executed |
//! | 127 | the command was not found |
//! | 128+N | the command was killed by signal N |
//! | other | the command's own exit status |
//!
//! Errors are one line: `TOOL: error: <what failed>: <cause>: <cause>...`, the
//! `source()` chain joined with `": "`. Only [`run::run`] and exec paths call
//! `process::exit`; command code returns `Result`.
//!
//! # Modules
//! - [`run`]: the `main` wrapper (parse, `--generate`, error printing, exit codes)
//! - [`exit`]: the [`exit::HasExitCode`] trait and the status constants
//! - [`output`]: JSON documents and column tables
//! - [`parse`]: sizes, durations, CPU lists, container names, namespace kinds
//! - [`state`]: `$CTRKIT_ROOT` / `$CTRKIT_STATE`, atomic writes, flock
//! - [`undo`]: a LIFO of cleanup actions for the error path
//! - [`mounts`]: `/proc/PID/mountinfo`, and what is mounted below a folder
//! - [`ns`]: `/proc/PID/ns/*` and `/proc/PID/cgroup` look-ups
//! - [`discover`]: containers of any runtime, found from `/proc` (ctr-ps, nsenter-rs `--container`)
//! - [`cgroup`]: cgroup hierarchy detection (v1/hybrid/v2), paths, usage/limits reader

pub mod cgroup;
pub mod discover;
pub mod exit;
pub mod memory;
pub mod mounts;
pub mod ns;
pub mod output;
pub mod parse;
pub mod run;
pub mod state;
pub mod undo;

mod generate;

pub use exit::HasExitCode;
pub use run::run;

/// The allocator of every ctrkit tool: dlmalloc (the port Rust's standard library uses on
/// wasm) instead of musl's, which maps and unmaps pages as a short-lived process's
/// allocations come and go: one `nsenter-rs --new` made 43 mmap and munmap calls with it,
/// 7 with dlmalloc, and `--version` takes 0.57 ms instead of 0.73 ms here.
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// Print `TOOL: debug: ...` on stderr when debugging is on (`-v` or `CTRKIT_DEBUG=1`).
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::run::debug_enabled() {
            eprintln!("{}: debug: {}", $crate::run::tool_name(), format_args!($($arg)*));
        }
    };
}

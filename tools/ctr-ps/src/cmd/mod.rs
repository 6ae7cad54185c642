//! Dispatch: the container list without a subcommand, else one file per subcommand.

mod inspect;
mod list;
mod ns;
mod procs;
mod top;
mod which;

use crate::cli::{Cli, Command};
use crate::error::Error;

pub fn dispatch(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        None => list::run(&cli.list, &cli.dirs, &cli.sources).map(|()| 0),
        Some(Command::Which(a)) => which::run(&a, &cli.dirs, &cli.sources),
        Some(Command::Procs(a)) => procs::run(&a, &cli.dirs, &cli.sources).map(|()| 0),
        Some(Command::Ns(a)) => ns::run(&a, &cli.dirs, &cli.sources).map(|()| 0),
        Some(Command::Inspect(a)) => inspect::run(&a, &cli.dirs, &cli.sources).map(|()| 0),
        Some(Command::Top(a)) => top::run(&a, &cli.dirs, &cli.sources).map(|()| 0),
    }
}

/// Cut `s` to `n` characters, marking the cut with `...`.
pub fn trunc(s: &str, n: usize, no_trunc: bool) -> String {
    if no_trunc || s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(3)).collect();
    t.push_str("...");
    t
}

/// The id as shown in tables: 12 characters unless `--no-trunc`.
pub fn show_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        common::discover::short_id(id).to_string()
    }
}

/// Tell a non-root user once that some fields were unreadable.
pub fn note_unprivileged(snap: &common::discover::Snapshot) {
    let root = rustix::process::geteuid().is_root();
    if root {
        return;
    }
    let hidden = snap.host_is_self
        || snap
            .procs
            .iter()
            .any(|p| p.ns.is_unknown() && p.state != 'Z');
    if hidden {
        eprintln!(
            "ctr-ps: warning: not root: other users' processes (their namespaces, containers, command lines, addresses) need root and are left out or shown as -"
        );
    }
}

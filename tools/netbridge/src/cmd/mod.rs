//! One file per subcommand; `dispatch` maps the parsed command line to it.

mod attach;
mod create;
mod detach;
mod gc;
mod inspect;
mod leases;
mod ls;
mod rm;

use crate::cli::{Cli, Command};
use crate::error::Error;

pub fn dispatch(cli: Cli) -> Result<(), Error> {
    if cli.verbose {
        common::run::set_debug(true);
    }
    let root = &cli.dirs.root;
    // rootless (issue 21): what makes or changes a bridge needs root; say so at once
    if common::state::rootless()
        && matches!(
            cli.command,
            Command::Create(_)
                | Command::Rm(_)
                | Command::Attach(_)
                | Command::Detach(_)
                | Command::Gc(_)
        )
    {
        return Err(Error::NeedsRoot(nix::unistd::geteuid().as_raw()));
    }
    match cli.command {
        Command::Create(a) => create::run(a, root),
        Command::Rm(a) => rm::run(a, root),
        Command::Ls(a) => ls::run(a, root),
        Command::Inspect(a) => inspect::run(a, root),
        Command::Attach(a) => attach::run(a, root),
        Command::Detach(a) => detach::run(a, root),
        Command::Leases(a) => leases::run(a, root),
        Command::Gc(a) => gc::run(a, root),
    }
}

/// A write error on stdout (closed pipe: quiet success, handled by common::run).
pub fn out(e: std::io::Error) -> Error {
    Error::Write {
        path: "stdout".into(),
        source: e,
    }
}

/// A network's record and its leases, each marked alive or dead (`inspect`, `leases`).
fn network_leases(
    root: &std::path::Path,
    bridge: &str,
) -> Result<(crate::store::Network, Vec<crate::model::LeaseJson>), Error> {
    use crate::error::NlContext;
    let store = crate::store::Store::open(root)?;
    let net = store
        .load(bridge)?
        .ok_or_else(|| Error::NoNetwork(bridge.to_string()))?;
    drop(store);
    let place = net.place(&crate::ops::here()?);
    let mut nl = crate::netlink::Netlink::open().nl(|| "open a netlink socket".into())?;
    let mut leases = Vec::with_capacity(net.leases.len());
    for l in &net.leases {
        // (the veths of a network made in another namespace are not here: its leases
        // live while their namespaces do)
        let alive = match place {
            crate::store::Place::Here => crate::ops::lease_alive(&mut nl, l)?,
            crate::store::Place::Elsewhere => crate::ops::netns_reachable(l),
            crate::store::Place::Stale => false,
        };
        leases.push(crate::model::LeaseJson::of(&net.name, l, alive));
    }
    Ok((net, leases))
}

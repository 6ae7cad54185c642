//! `ctr-ps which PID...`: which container owns a host PID, and the PID inside it.

use std::path::Path;

use common::discover::Snapshot;
use common::discover::Sources;
use common::output::{Table, emit_json};
use common::state::Dirs;
use serde::Serialize;

use crate::cli::WhichArgs;
use crate::cmd::{note_unprivileged, show_id};
use crate::error::{Error, OutputExt};
use crate::procfs;

#[derive(Debug, Serialize)]
struct Owner {
    /// The host PID asked about.
    pid: i32,
    /// null for a host process.
    id: Option<String>,
    name: Option<String>,
    /// `host` for a process in no container.
    runtime: String,
    /// The PID as the container sees it (NSpid), null when unreadable.
    container_pid: Option<i32>,
}

/// Looks up each PID; PIDs that do not exist are reported on stderr and make the exit
/// status 1, after the others are printed.
pub fn run(args: &WhichArgs, dirs: &Dirs, sources: &Sources) -> Result<i32, Error> {
    let snap = common::discover::snapshot_with(dirs, sources).map_err(Error::Scan)?;
    note_unprivileged(&snap);
    let mut owners = Vec::new();
    let mut missing = Vec::new();
    for &pid in &args.pids {
        match owner(&snap, pid) {
            Some(o) => owners.push(o),
            None => missing.push(pid),
        }
    }
    if args.format.json {
        emit_json(&owners).out()?;
    } else {
        let mut t = Table::new(["pid", "id", "name", "runtime", "container_pid"]);
        for o in &owners {
            t.row([
                o.pid.to_string(),
                o.id.as_deref()
                    .map(|i| show_id(i, args.format.no_trunc))
                    .unwrap_or_else(|| "-".into()),
                o.name.clone().unwrap_or_else(|| "-".into()),
                o.runtime.clone(),
                o.container_pid
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        t.print(!args.format.no_headers).out()?;
    }
    for pid in &missing {
        eprintln!("ctr-ps: error: no process {pid}");
    }
    Ok(if missing.is_empty() { 0 } else { 1 })
}

fn owner(snap: &Snapshot, pid: i32) -> Option<Owner> {
    let exists = snap.proc(pid).is_some() || Path::new(&format!("/proc/{pid}/stat")).exists();
    if !exists {
        return None;
    }
    let inner = procfs::status(pid).and_then(|s| s.nspid.last().copied());
    Some(match snap.container_of(pid) {
        Some(c) => Owner {
            pid,
            id: Some(c.id.clone()),
            name: c.name.clone(),
            runtime: c.runtime.clone(),
            container_pid: inner,
        },
        None => Owner {
            pid,
            id: None,
            name: None,
            runtime: "host".into(),
            container_pid: inner,
        },
    })
}

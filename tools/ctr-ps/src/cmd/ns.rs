//! `ctr-ps ns [--type TYPE]`: namespaces like `lsns`, with the owning container.

use std::collections::BTreeMap;

use common::discover::Container;
use common::discover::Sources;
use common::ns::NsKind;
use common::output::{Table, emit_json};
use common::state::Dirs;
use serde::Serialize;

use crate::cli::NsArgs;
use crate::cmd::{note_unprivileged, show_id, trunc};
use crate::error::{Error, OutputExt};
use crate::procfs;

#[derive(Debug, Serialize)]
struct NsRow {
    /// The namespace's inode number.
    ns: u64,
    #[serde(rename = "type")]
    kind: NsKind,
    nprocs: usize,
    /// The lowest host PID in it.
    pid: i32,
    /// The container it belongs to; null for the host's own namespaces.
    container_id: Option<String>,
    container_name: Option<String>,
    /// `host` for the host's namespaces, else the container's runtime.
    runtime: String,
    command: String,
}

pub fn run(args: &NsArgs, dirs: &Dirs, sources: &Sources) -> Result<(), Error> {
    let snap = common::discover::snapshot_with(dirs, sources).map_err(Error::Scan)?;
    note_unprivileged(&snap);
    let kinds: Vec<NsKind> = match args.kind {
        Some(k) => vec![k],
        None => NsKind::ALL.to_vec(),
    };
    // (inode, kind) -> (count, lowest pid)
    let mut seen: BTreeMap<(u64, NsKind), (usize, i32)> = BTreeMap::new();
    for p in &snap.procs {
        for &k in &kinds {
            let ino = p.ns.get(k);
            if ino == 0 {
                continue;
            }
            let e = seen.entry((ino, k)).or_insert((0, p.pid));
            e.0 += 1;
            e.1 = e.1.min(p.pid);
        }
    }
    let owner = |k: NsKind, ino: u64| -> Option<&Container> {
        if snap.host.get(k) == ino {
            return None;
        }
        snap.containers
            .iter()
            .find(|c| c.namespaces.get(&k) == Some(&ino))
    };
    let rows: Vec<NsRow> = seen
        .into_iter()
        .map(|((ino, k), (n, pid))| {
            let c = owner(k, ino);
            let comm = snap
                .proc(pid)
                .filter(|p| p.detailed)
                .map(|p| p.comm.clone())
                .or_else(|| common::discover::read_proc(pid).map(|p| p.comm))
                .unwrap_or_default();
            NsRow {
                ns: ino,
                kind: k,
                nprocs: n,
                pid,
                container_id: c.map(|c| c.id.clone()),
                container_name: c.and_then(|c| c.name.clone()),
                runtime: c
                    .map(|c| c.runtime.clone())
                    .unwrap_or_else(|| "host".into()),
                command: procfs::cmdline(pid).unwrap_or_else(|| format!("[{comm}]")),
            }
        })
        .collect();
    if args.format.json {
        return emit_json(&rows).out();
    }
    let mut t = Table::new([
        "ns",
        "type",
        "nprocs",
        "pid",
        "container",
        "name",
        "runtime",
        "command",
    ]);
    for r in &rows {
        t.row([
            r.ns.to_string(),
            r.kind.to_string(),
            r.nprocs.to_string(),
            r.pid.to_string(),
            r.container_id
                .as_deref()
                .map(|i| show_id(i, args.format.no_trunc))
                .unwrap_or_else(|| "-".into()),
            r.container_name.clone().unwrap_or_else(|| "-".into()),
            r.runtime.clone(),
            trunc(&r.command, 50, args.format.no_trunc),
        ]);
    }
    t.print(!args.format.no_headers).out()
}

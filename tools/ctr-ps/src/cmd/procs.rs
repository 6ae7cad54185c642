//! `ctr-ps procs [ID] [--tree]`: the processes of one container, or of every container.

use std::collections::{BTreeMap, HashMap};

use common::discover::Container;
use common::discover::Sources;
use common::ns::NsKind;
use common::output::{Table, emit_json};
use common::state::Dirs;
use serde::Serialize;

use crate::cli::ProcsArgs;
use crate::cmd::{note_unprivileged, show_id, trunc};
use crate::error::{Error, OutputExt};
use crate::info::Ctx;
use crate::procfs::{self, IdMap};

#[derive(Debug, Serialize)]
struct ProcRow {
    container_id: String,
    container_name: Option<String>,
    /// Host PID.
    pid: i32,
    /// The PID inside the container's pid namespace (NSpid).
    container_pid: Option<i32>,
    /// Host PID of the parent.
    ppid: i32,
    /// Real uid on the host.
    uid: Option<u32>,
    /// The same uid inside the container's user namespace (null when unmapped).
    container_uid: Option<u32>,
    state: String,
    started_at: Option<String>,
    command: String,
    /// Depth in the container's process tree (0 = a top process).
    depth: usize,
}

pub fn run(args: &ProcsArgs, dirs: &Dirs, sources: &Sources) -> Result<(), Error> {
    let ctx = Ctx::new(dirs, sources).map_err(Error::Scan)?;
    note_unprivileged(&ctx.snap);
    let chosen: Vec<&Container> = match &args.container {
        Some(q) => vec![common::discover::resolve_in(q, &ctx.snap.containers)?],
        None => ctx.snap.containers.iter().collect(),
    };
    let mut maps: HashMap<u64, Option<Vec<IdMap>>> = HashMap::new();
    let mut rows = Vec::new();
    for c in &chosen {
        for (pid, depth) in tree_order(&ctx, c) {
            let Some(p) = ctx.snap.proc(pid) else {
                continue;
            };
            let st = procfs::status(pid);
            let uid = st.as_ref().map(|s| s.uid[0]);
            let userns = c.namespaces.get(&NsKind::User).copied().unwrap_or(0);
            let map = maps
                .entry(userns)
                .or_insert_with(|| procfs::id_map(pid, "uid_map"))
                .clone();
            let container_uid = match (uid, map) {
                (Some(u), Some(m)) => procfs::map_to_inside(&m, u),
                _ => None,
            };
            rows.push(ProcRow {
                container_id: c.id.clone(),
                container_name: c.name.clone(),
                pid,
                container_pid: st.as_ref().and_then(|s| s.nspid.last().copied()),
                ppid: p.ppid,
                uid,
                container_uid,
                state: p.state.to_string(),
                started_at: ctx.clock.started(p.start_ticks).map(procfs::rfc3339),
                command: procfs::cmdline(pid).unwrap_or_else(|| format!("[{}]", p.comm)),
                depth,
            });
        }
    }
    if args.format.json {
        return emit_json(&rows).out();
    }
    let mut headers = vec![
        "pid", "cpid", "ppid", "uid", "cuid", "state", "started", "command",
    ];
    let all = args.container.is_none();
    if all {
        headers.insert(0, "container");
    }
    let mut t = Table::new(headers);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for r in &rows {
        let mut command = trunc(&r.command, 60, args.format.no_trunc);
        if args.tree && r.depth > 0 {
            command = format!("{}\\_ {command}", "  ".repeat(r.depth - 1));
        }
        let mut cells = vec![
            r.pid.to_string(),
            opt(r.container_pid.map(|p| p.to_string())),
            r.ppid.to_string(),
            opt(r.uid.map(|u| u.to_string())),
            opt(r.container_uid.map(|u| u.to_string())),
            r.state.clone(),
            opt(r
                .started_at
                .as_deref()
                .map(|s| s.get(11..19).unwrap_or(s).to_string())),
            command,
        ];
        if all {
            let who = r
                .container_name
                .clone()
                .unwrap_or_else(|| show_id(&r.container_id, args.format.no_trunc));
            cells.insert(0, who);
        }
        t.row(cells);
    }
    t.print(!args.format.no_headers).out()
}

/// The container's pids depth-first from its top processes, children by pid, with depth.
fn tree_order(ctx: &Ctx, c: &Container) -> Vec<(i32, usize)> {
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let mut roots = Vec::new();
    for &pid in &c.pids {
        match ctx.snap.proc(pid) {
            Some(p) if p.pid != c.pid && c.pids.binary_search(&p.ppid).is_ok() => {
                children.entry(p.ppid).or_default().push(pid)
            }
            _ => roots.push(pid),
        }
    }
    // the init first, then other top processes (entered with nsenter) by pid
    roots.sort_by_key(|&p| (p != c.pid, p));
    let mut out = Vec::with_capacity(c.pids.len());
    let mut stack: Vec<(i32, usize)> = roots.into_iter().rev().map(|p| (p, 0)).collect();
    while let Some((pid, d)) = stack.pop() {
        out.push((pid, d));
        if let Some(kids) = children.get(&pid) {
            for &k in kids.iter().rev() {
                stack.push((k, d + 1));
            }
        }
    }
    out
}

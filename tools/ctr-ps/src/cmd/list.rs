//! `ctr-ps`: one row per container.

use std::io::Write;

use common::discover::Sources;
use common::discover::{self, Container};
use common::output::{Table, emit_json, write_json_line};
use common::parse::human_bytes;
use common::state::Dirs;

use crate::cli::ListArgs;
use crate::cmd::{note_unprivileged, show_id, trunc};
use crate::error::{Error, OutputExt};
use crate::filter::Field;
use crate::info::{self, Ctx, Row, Want};
use crate::procfs;

pub fn run(args: &ListArgs, dirs: &Dirs, sources: &Sources) -> Result<(), Error> {
    if let Some(q) = &args.pid {
        let pid = discover::resolve_pid_with(q, dirs, sources)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{pid}").and_then(|()| out.flush()).out()?;
        return Ok(());
    }
    let ctx = Ctx::new(dirs, sources).map_err(Error::Scan)?;
    note_unprivileged(&ctx.snap);
    let chosen: Vec<&Container> = ctx
        .snap
        .containers
        .iter()
        .filter(|c| args.filter.iter().all(|f| f.matches(c, &ctx.snap)))
        .collect();

    if args.quiet {
        return common::output::emit_lines(chosen.iter().map(|c| show_id(&c.id, args.no_trunc)))
            .out();
    }
    let fields: Vec<Field> = args
        .output
        .clone()
        .map(|f| f.0)
        .unwrap_or_else(|| Field::DEFAULT.to_vec());
    let want = if args.json || args.jsonl {
        Want::ALL
    } else {
        Want {
            command: fields.contains(&Field::Command),
            memory: fields.contains(&Field::Mem),
            limit: false,
            cpu: fields.contains(&Field::Cpu),
            ip: fields.contains(&Field::Ip),
        }
    };
    let rows: Vec<Row> = chosen.iter().map(|c| info::row(&ctx, c, want)).collect();
    if args.json {
        return emit_json(&rows).out();
    }
    if args.jsonl {
        let mut out = std::io::stdout().lock();
        for r in &rows {
            write_json_line(&mut out, r).out()?;
        }
        return out.flush().out();
    }
    let mut t = Table::new(fields.iter().map(|f| f.name()));
    for r in &rows {
        t.row(fields.iter().map(|f| cell(r, *f, args.no_trunc)));
    }
    t.print(!args.no_headers).out()
}

/// The NAMESPACES cell: the kinds it does not share, and a warning mark for a shared
/// pid or net namespace (`mnt,uts !host:pid,net`).
pub fn namespaces_cell(r: &Row) -> String {
    let mut s = r
        .namespaces
        .iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let shared: Vec<&str> = [(r.shares_host_pid, "pid"), (r.shares_host_net, "net")]
        .into_iter()
        .filter_map(|(b, n)| b.then_some(n))
        .collect();
    if !shared.is_empty() {
        s.push_str(" !host:");
        s.push_str(&shared.join(","));
    }
    s
}

fn cell(r: &Row, f: Field, no_trunc: bool) -> String {
    let dash = || "-".to_string();
    match f {
        Field::Id => show_id(&r.id, no_trunc),
        Field::Name => r.name.clone().unwrap_or_else(dash),
        Field::Runtime => r.runtime.clone(),
        Field::Pid => r.pid.to_string(),
        Field::Command => r
            .command
            .as_deref()
            .map(|c| trunc(c, 32, no_trunc))
            .unwrap_or_else(dash),
        Field::Uptime => r
            .uptime_seconds
            .map(|s| procfs::short_duration(std::time::Duration::from_secs(s)))
            .unwrap_or_else(dash),
        Field::Pids => r.pids.to_string(),
        Field::Mem => human_bytes(r.memory_current_bytes.unwrap_or(r.rss_bytes)),
        Field::Cpu => procfs::cpu_time(r.cpu_usage_usec),
        Field::Ip => match (&r.ip, r.shares_host_net) {
            (_, true) => "host".to_string(),
            (Some(ip), _) => ip.clone(),
            (None, _) => dash(),
        },
        Field::Namespaces => namespaces_cell(r),
        Field::Image => r.image.clone().unwrap_or_else(dash),
        Field::Status => r.status.clone().unwrap_or_else(dash),
        Field::Created => r.created.clone().unwrap_or_else(dash),
        Field::Ports => match &r.ports {
            Some(p) if !p.is_empty() => p.join(","),
            _ => dash(),
        },
        Field::Pod => r.pod.clone().unwrap_or_else(dash),
        Field::PodNamespace => r.pod_namespace.clone().unwrap_or_else(dash),
    }
}

//! `ctr-ps top [ID]`: CPU% over each interval and memory, per container, refreshing.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Instant, SystemTime};

use common::discover::Sources;
use common::discover::{Container, DiscoverError};
use common::output::{Table, write_json_line};
use common::parse::human_bytes;
use common::state::Dirs;
use serde::Serialize;

use crate::cli::TopArgs;
use crate::cmd::show_id;
use crate::error::{Error, OutputExt};
use crate::info::Ctx;
use crate::procfs;

#[derive(Debug, Serialize)]
struct Sample {
    time: String,
    id: String,
    name: Option<String>,
    runtime: String,
    pid: i32,
    /// CPU time used over the interval, in percent of one CPU (null on the first sight).
    cpu_percent: Option<f64>,
    cpu_usage_usec: u64,
    /// The container's own memory cgroup usage (null without one).
    memory_current_bytes: Option<u64>,
    memory_max_bytes: Option<common::cgroup::Limit>,
    rss_bytes: u64,
    pids: usize,
}

struct Reading {
    cpu_usec: u64,
    mem: Option<u64>,
    max: Option<common::cgroup::Limit>,
    rss: u64,
}

fn read(ctx: &Ctx, c: &Container) -> Reading {
    let usage = ctx.usage(c).map(|(u, _)| u);
    Reading {
        cpu_usec: usage
            .as_ref()
            .and_then(|u| u.cpu_usage_usec)
            .unwrap_or_else(|| ctx.proc_cpu_usec(c)),
        mem: usage.as_ref().and_then(|u| u.memory_current_bytes),
        max: usage.as_ref().and_then(|u| u.memory_max_bytes),
        rss: ctx.rss_bytes(c),
    }
}

pub fn run(args: &TopArgs, dirs: &Dirs, sources: &Sources) -> Result<(), Error> {
    // resolve once, then follow that id
    let only: Option<String> = match &args.container {
        Some(q) => {
            let ctx = Ctx::new(dirs, sources).map_err(Error::Scan)?;
            Some(
                common::discover::resolve_in(q, &ctx.snap.containers)?
                    .id
                    .clone(),
            )
        }
        None => None,
    };
    let tty = std::io::stdout().is_terminal() && !args.jsonl;
    let mut prev: HashMap<String, u64> = HashMap::new();
    let mut prev_at = Instant::now();
    // a baseline, so the first printed sample already has a CPU%
    {
        let ctx = Ctx::new(dirs, sources).map_err(Error::Scan)?;
        for c in ctx
            .snap
            .containers
            .iter()
            .filter(|c| only.as_ref().is_none_or(|id| *id == c.id))
        {
            prev.insert(c.id.clone(), read(&ctx, c).cpu_usec);
        }
    }
    let mut tick = 0u64;
    loop {
        std::thread::sleep(args.interval);
        let ctx = Ctx::new(dirs, sources).map_err(Error::Scan)?;
        let now = Instant::now();
        let elapsed_us = now.duration_since(prev_at).as_micros().max(1) as f64;
        let time = procfs::rfc3339(SystemTime::now());
        let chosen: Vec<&Container> = ctx
            .snap
            .containers
            .iter()
            .filter(|c| only.as_ref().is_none_or(|id| *id == c.id))
            .collect();
        if let (Some(id), true) = (&only, chosen.is_empty()) {
            return Err(DiscoverError::NotFound(id.clone()).into());
        }
        let mut next = HashMap::new();
        let samples: Vec<Sample> = chosen
            .iter()
            .map(|c| {
                let r = read(&ctx, c);
                let pct = prev
                    .get(&c.id)
                    .map(|&before| r.cpu_usec.saturating_sub(before) as f64 * 100.0 / elapsed_us)
                    .map(|p| (p * 10.0).round() / 10.0);
                next.insert(c.id.clone(), r.cpu_usec);
                Sample {
                    time: time.clone(),
                    id: c.id.clone(),
                    name: c.name.clone(),
                    runtime: c.runtime.clone(),
                    pid: c.pid,
                    cpu_percent: pct,
                    cpu_usage_usec: r.cpu_usec,
                    memory_current_bytes: r.mem,
                    memory_max_bytes: r.max,
                    rss_bytes: r.rss,
                    pids: c.pids.len(),
                }
            })
            .collect();
        prev = next;
        prev_at = now;
        print_samples(&samples, args, tty)?;
        tick += 1;
        if args.count.is_some_and(|n| tick >= n) {
            return Ok(());
        }
    }
}

fn print_samples(samples: &[Sample], args: &TopArgs, tty: bool) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    if args.jsonl {
        for s in samples {
            write_json_line(&mut out, s).out()?;
        }
        return out.flush().out();
    }
    let mut t = Table::new(["id", "name", "runtime", "cpu%", "mem", "limit", "pids"]);
    for s in samples {
        t.row([
            show_id(&s.id, false),
            s.name.clone().unwrap_or_else(|| "-".into()),
            s.runtime.clone(),
            s.cpu_percent
                .map(|p| format!("{p:.1}"))
                .unwrap_or_else(|| "-".into()),
            human_bytes(s.memory_current_bytes.unwrap_or(s.rss_bytes)),
            match s.memory_max_bytes {
                Some(common::cgroup::Limit::Value(v)) => human_bytes(v),
                Some(common::cgroup::Limit::Max) => "max".into(),
                None => "-".into(),
            },
            s.pids.to_string(),
        ]);
    }
    if tty {
        out.write_all(b"\x1b[H\x1b[2J").out()?;
    }
    out.write_all(t.render(!args.no_headers).as_bytes()).out()?;
    if !tty {
        out.write_all(b"\n").out()?;
    }
    out.flush().out()
}

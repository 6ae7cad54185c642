//! `cgset watch PATH [--interval 1s] [--count N] [--jsonl]`: usage over time.

use std::io::Write;
use std::time::Instant;

use serde_json::Value;

use crate::cg::Cg;
use crate::cli::WatchArgs;
use crate::cmd::get;
use crate::error::Result;

pub fn run(cg: &Cg, a: WatchArgs) -> Result<()> {
    cg.require(&a.path)?;
    let start = Instant::now();
    let mut last: Option<(Instant, u64)> = None;
    let mut n = 0u64;
    let mut out = std::io::stdout().lock();
    if !a.jsonl {
        writeln!(
            out,
            "{:>8}  {:>7}  {:>12}  {:>12}  {:>6}  {:>9}",
            "TIME", "CPU%", "MEMORY", "MEMORY_MAX", "PIDS", "THROTTLED"
        )?;
    }
    loop {
        let Ok(mut s) = get::read(cg, &a.path) else {
            // the cgroup went away: the watch is over
            return Ok(());
        };
        let now = Instant::now();
        let usage = s.get("cpu_usage_usec").and_then(Value::as_u64);
        let cpu_pct = match (last, usage) {
            (Some((t, u0)), Some(u1)) => {
                let wall = now.duration_since(t).as_micros().max(1) as f64;
                Some((u1.saturating_sub(u0) as f64 / wall * 1000.0).round() / 10.0)
            }
            _ => None,
        };
        if let Some(u) = usage {
            last = Some((now, u));
        }
        let secs = (now.duration_since(start).as_secs_f64() * 1000.0).round() / 1000.0;
        if a.jsonl {
            s.insert("time_sec".into(), secs.into());
            s.insert(
                "cpu_percent".into(),
                cpu_pct.map_or(Value::Null, Value::from),
            );
            common::output::write_json_line(&mut out, &s)?;
        } else {
            let f = |k: &str| s.get(k).map(get::text).unwrap_or_else(|| "-".into());
            writeln!(
                out,
                "{:>8.1}  {:>7}  {:>12}  {:>12}  {:>6}  {:>9}",
                secs,
                cpu_pct.map_or("-".into(), |p| format!("{p:.1}")),
                f("memory_current_bytes"),
                f("memory_max_bytes"),
                f("pids_current"),
                f("cpu_nr_throttled"),
            )?;
        }
        out.flush()?;
        n += 1;
        if a.count.is_some_and(|c| n >= c) {
            return Ok(());
        }
        std::thread::sleep(a.interval);
    }
}

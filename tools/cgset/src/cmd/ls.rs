//! `cgset ls [PATH] [-r] [--json]`: the tree with process counts and limits.

use std::collections::BTreeSet;
use std::fs;

use serde::Serialize;

use common::cgroup::{Limit, Usage};

use crate::cg::Cg;
use crate::cli::LsArgs;
use crate::error::Result;

#[derive(Serialize)]
struct Entry {
    path: String,
    procs: usize,
    memory_max_bytes: Option<Limit>,
    cpu_quota_usec: Option<Limit>,
    cpu_period_usec: Option<u64>,
    pids_max: Option<Limit>,
}

fn children(cg: &Cg, path: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for d in cg.existing_dirs(path) {
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    names.insert(e.file_name().to_string_lossy().into_owned());
                }
            }
        }
    }
    names
        .into_iter()
        .map(|n| {
            if path.is_empty() {
                n
            } else {
                format!("{path}/{n}")
            }
        })
        .collect()
}

fn walk(cg: &Cg, path: &str, recursive: bool, out: &mut Vec<Entry>) {
    for c in children(cg, path) {
        let u = Usage::read(&cg.h, &c).unwrap_or_default();
        out.push(Entry {
            procs: cg.pids(&c, false).len(),
            memory_max_bytes: u.memory_max_bytes,
            cpu_quota_usec: u.cpu_quota_usec,
            cpu_period_usec: u.cpu_period_usec,
            pids_max: u.pids_max,
            path: c.clone(),
        });
        if recursive {
            walk(cg, &c, true, out);
        }
    }
}

fn cpus(e: &Entry) -> String {
    match (e.cpu_quota_usec, e.cpu_period_usec) {
        (Some(Limit::Value(q)), Some(p)) if p > 0 => {
            let s = format!("{:.3}", q as f64 / p as f64);
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        (Some(Limit::Max), _) => "max".into(),
        _ => "-".into(),
    }
}

pub fn run(cg: &Cg, a: LsArgs) -> Result<()> {
    let path = a.path.unwrap_or_default();
    cg.require(&path)?;
    let mut entries = Vec::new();
    walk(cg, &path, a.recursive, &mut entries);
    if a.json {
        common::output::emit_json(&entries)?;
        return Ok(());
    }
    let mut t = common::output::Table::new(["path", "procs", "memory_max", "cpus", "pids_max"]);
    let show = |l: Option<Limit>| l.map_or("-".into(), |l| l.to_string());
    for e in &entries {
        t.row([
            e.path.clone(),
            e.procs.to_string(),
            show(e.memory_max_bytes),
            cpus(e),
            show(e.pids_max),
        ]);
    }
    t.print(!a.no_headers)?;
    Ok(())
}

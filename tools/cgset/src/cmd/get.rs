//! `cgset get PATH [--json] [KEY...]`: limits and usage, one schema on v1 and v2.

use common::cgroup::Usage;
use serde_json::{Map, Value};

use crate::cg::Cg;
use crate::cli::GetArgs;
use crate::error::{Error, Result};

pub fn read(cg: &Cg, path: &str) -> Result<Map<String, Value>> {
    cg.require(path)?;
    let u = Usage::read(&cg.h, path).map_err(|_| Error::NotFound {
        path: path.to_string(),
    })?;
    let mut m = match serde_json::to_value(u) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    // the allowed devices (null: no rules of cgset's on a v2 cgroup)
    let devices = crate::devices::read(cg, path)
        .map(|v| Value::Array(v.into_iter().map(Value::String).collect()))
        .unwrap_or(Value::Null);
    m.insert("devices".into(), devices);
    Ok(m)
}

/// A value as text: numbers and strings bare, null as `-`, io as `DEV rbytes=.. ...`.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(rules) if rules.iter().all(Value::is_string) => rules
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(devs) => devs
            .iter()
            .map(|d| {
                let f = |k: &str| d.get(k).map(text).unwrap_or_else(|| "-".into());
                format!(
                    "{} read_bytes={} write_bytes={} read_ios={} write_ios={}",
                    f("device"),
                    f("read_bytes"),
                    f("write_bytes"),
                    f("read_ios"),
                    f("write_ios")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        v => v.to_string(),
    }
}

/// The schema's order, for text output.
const ORDER: &[&str] = &[
    "memory_current_bytes",
    "memory_peak_bytes",
    "memory_max_bytes",
    "memory_high_bytes",
    "memory_swap_max_bytes",
    "memory_oom_count",
    "memory_oom_kill_count",
    "cpu_usage_usec",
    "cpu_user_usec",
    "cpu_system_usec",
    "cpu_nr_periods",
    "cpu_nr_throttled",
    "cpu_throttled_usec",
    "cpu_quota_usec",
    "cpu_period_usec",
    "cpu_weight",
    "cpu_shares",
    "cpuset_cpus",
    "cpuset_mems",
    "pids_current",
    "pids_max",
    "io",
    "devices",
];

pub fn run(cg: &Cg, a: GetArgs) -> Result<()> {
    let all = read(cg, &a.path)?;
    for k in &a.keys {
        if !all.contains_key(k) {
            let keys: Vec<&str> = all.keys().map(String::as_str).collect();
            return Err(Error::Usage(format!(
                "unknown key '{k}' (keys: {})",
                keys.join(", ")
            )));
        }
    }
    let picked: Map<String, Value> = if a.keys.is_empty() {
        all
    } else {
        a.keys.iter().map(|k| (k.clone(), all[k].clone())).collect()
    };
    if a.json {
        common::output::emit_json(&picked)?;
    } else if a.keys.len() == 1 {
        common::output::emit_lines([text(&picked[&a.keys[0]])])?;
    } else {
        let mut t = common::output::Table::new(["key", "value"]);
        let mut keys: Vec<&String> = picked.keys().collect();
        keys.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(usize::MAX));
        for k in keys {
            t.row([k.clone(), text(&picked[k])]);
        }
        t.print(false)?;
    }
    Ok(())
}

//! `ctr-state ls`: the containers of the state folders as `docker ps` lists them: running
//! ones by default, every one with `--all`, newest first, in Docker's columns, filters and
//! `--format`. Only the state folders know the containers that were created or have exited;
//! a running container is checked as `ctr-state pid` checks it (never a reused PID).
//!
//! What each folder holds (written by ctr-run): `id`, `image`, `cmd` (a word a line),
//! `config` (its mtime is the creation time), `pid` (its mtime: the start), `exit` (the
//! status; its mtime: the end), `paused`, `ports` (-p's values), `labels` (KEY=VALUE lines).

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::pid::Init;
use super::template::{Format, render};
use crate::cli::LsArgs;
use crate::error::Error;

/// One container, as its state folder tells it.
struct Entry {
    name: String,
    id: String,
    image: String,
    command: Vec<String>,
    created: SystemTime,
    state: &'static str,
    exit_code: Option<i32>,
    started: Option<SystemTime>,
    finished: Option<SystemTime>,
    ports: Vec<String>,
    labels: Vec<(String, String)>,
    image_id: String,
    /// the name of its writable layer (its first name, after ctr-rename)
    key: String,
}

pub fn run(a: &LsArgs) -> Result<(), Error> {
    let filters = a
        .filter
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let format = Format::parse(a.format.as_deref(), a.json, FIELDS)?;
    let sizes = match (&a.sizes, a.size) {
        (Some(f), true) => Some(Sizes::read(f)?),
        (None, true) => {
            return Err(Error::Usage(
                "--size needs --sizes (layermount df --json's output)".into(),
            ));
        }
        _ => None,
    };
    let mut entries = read_all(&a.state_dir.join("containers"));
    entries.sort_by(|x, y| y.created.cmp(&x.created).then(x.name.cmp(&y.name)));
    let last = if a.latest { Some(1) } else { a.last };
    let all = a.all || last.is_some() || filters.iter().any(|f| f.key == "status");
    entries.retain(|e| all || e.state == "running" || e.state == "paused");
    entries.retain(|e| matches(e, &filters));
    if let Some(n) = last {
        entries.truncate(n);
    }
    let now = SystemTime::now();
    let mut out = String::new();
    if a.quiet {
        for e in &entries {
            out.push_str(short(&e.id, a.no_trunc));
            out.push('\n');
        }
    } else {
        match &format {
            Format::Json => {
                for e in &entries {
                    out.push_str(
                        &with_size(fields(e, now, a.no_trunc), e, sizes.as_ref()).to_string(),
                    );
                    out.push('\n');
                }
            }
            Format::Template { table, parts } => {
                if *table {
                    out.push_str(&render(parts, &header_fields()));
                    out.push('\n');
                }
                for e in &entries {
                    let f = with_size(fields(e, now, a.no_trunc), e, sizes.as_ref());
                    out.push_str(&render(parts, &f));
                    out.push('\n');
                }
            }
            Format::Default => {
                let mut headers = vec![
                    "CONTAINER ID",
                    "IMAGE",
                    "COMMAND",
                    "CREATED",
                    "STATUS",
                    "PORTS",
                    "NAMES",
                ];
                if sizes.is_some() {
                    headers.push("SIZE");
                }
                let mut t = common::output::Table::new(headers);
                for e in &entries {
                    let f = with_size(fields(e, now, a.no_trunc), e, sizes.as_ref());
                    let cell = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                    let command = if a.no_trunc {
                        cell("Command")
                    } else {
                        truncate(&cell("Command"), 20)
                    };
                    let mut row = vec![
                        cell("ID"),
                        cell("Image"),
                        command,
                        format!("{} ago", cell("RunningFor")),
                        cell("Status"),
                        cell("Ports"),
                        cell("Names"),
                    ];
                    if sizes.is_some() {
                        row.push(cell("Size"));
                    }
                    t.row(row);
                }
                return t.print(true).map_err(Error::Output);
            }
        }
    }
    use std::io::Write;
    std::io::stdout()
        .write_all(out.as_bytes())
        .map_err(Error::Output)
}

/// The running and paused containers (every one with `all`), newest first: name and ID.
pub(super) fn list(dir: &Path, all: bool) -> Vec<(String, String)> {
    let mut entries = read_all(dir);
    entries.sort_by(|x, y| y.created.cmp(&x.created).then(x.name.cmp(&y.name)));
    entries
        .into_iter()
        .filter(|e| all || e.state == "running" || e.state == "paused")
        .map(|e| (e.name, e.id))
        .collect()
}

/// Every container folder under `dir` (none when it does not exist).
fn read_all(dir: &Path) -> Vec<Entry> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| read_one(&e.path()))
        .collect()
}

/// One folder; None when it vanished meanwhile (ctr-rm) or is not a container's yet.
fn read_one(dir: &Path) -> Option<Entry> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let first_line = |f: &str| {
        fs::read_to_string(dir.join(f))
            .ok()
            .map(|s| s.lines().next().unwrap_or_default().to_string())
    };
    let mtime = |f: &str| fs::metadata(dir.join(f)).and_then(|m| m.modified()).ok();
    let created = mtime("config").or_else(|| mtime("."))?;
    let exit_code = first_line("exit").and_then(|s| s.trim().parse().ok());
    let state = if exit_code.is_some() || dir.join("exit").exists() {
        "exited"
    } else if Init::find(dir).is_ok() {
        if dir.join("paused").exists() {
            "paused"
        } else {
            "running"
        }
    } else if dir.join("pid").exists() {
        // it ran, but its launcher never recorded how it ended
        "exited"
    } else {
        "created"
    };
    let lines = |f: &str| -> Vec<String> {
        fs::read_to_string(dir.join(f))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let labels = lines("labels")
        .into_iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l, String::new()),
        })
        .collect();
    Some(Entry {
        id: first_line("id").unwrap_or_default(),
        image: first_line("image").unwrap_or_default(),
        image_id: first_line("image.id").unwrap_or_default(),
        command: lines("cmd"),
        created,
        state,
        exit_code,
        started: mtime("pid"),
        finished: mtime("exit"),
        ports: lines("ports"),
        labels,
        key: first_line("key")
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| name.clone()),
        name,
    })
}

/// A container's fields under Docker's names (`docker ps --format '{{json .}}'`).
fn fields(e: &Entry, now: SystemTime, no_trunc: bool) -> Value {
    let ago = |t: SystemTime| human(now.duration_since(t).unwrap_or_default());
    let status = match e.state {
        "running" | "paused" => {
            let up = format!("Up {}", ago(e.started.unwrap_or(e.created)));
            if e.state == "paused" {
                format!("{up} (Paused)")
            } else {
                up
            }
        }
        "exited" => match (e.exit_code, e.finished) {
            (Some(c), Some(t)) => format!("Exited ({c}) {} ago", ago(t)),
            _ => "Exited".to_string(),
        },
        _ => "Created".to_string(),
    };
    let ports: Vec<String> = e.ports.iter().map(|p| docker_port(p)).collect();
    let labels: Vec<String> = e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let command = format!("\"{}\"", e.command.join(" "));
    json!({
        "ID": short(&e.id, no_trunc),
        "Names": e.name,
        "Image": e.image,
        "Command": command,
        "CreatedAt": rfc3339(e.created),
        "RunningFor": ago(e.created),
        "Status": status,
        "State": e.state,
        "Ports": ports.join(", "),
        "Labels": labels.join(","),
    })
}

/// What `layermount df --json` tells: bytes per writable layer (by container name) and per
/// image (by ID).
struct Sizes {
    containers: std::collections::HashMap<String, u64>,
    images: std::collections::HashMap<String, u64>,
}

impl Sizes {
    fn read(f: &Path) -> Result<Sizes, Error> {
        let text = if f == Path::new("-") {
            let mut t = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
                .map_err(|e| Error::Usage(format!("--sizes -: cannot read standard input: {e}")))?;
            t
        } else {
            fs::read_to_string(f)
                .map_err(|e| Error::Usage(format!("--sizes {}: {e}", f.display())))?
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "--sizes {}: not layermount df --json's output: {e}",
                f.display()
            ))
        })?;
        let map = |key: &str| {
            v[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| {
                            let id = o["id"].as_str()?.trim_start_matches("sha256:");
                            Some((id.to_string(), o["size"].as_u64()?))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Sizes {
            containers: map("containers"),
            images: map("images"),
        })
    }
}

/// The fields with Docker's Size (`docker ps -s`): the writable layer's bytes, and the
/// image's added as (virtual N), when sizes were asked for.
fn with_size(mut f: Value, e: &Entry, sizes: Option<&Sizes>) -> Value {
    if let Some(s) = sizes {
        let rw = s.containers.get(&e.key).copied().unwrap_or(0);
        let image = s
            .images
            .get(e.image_id.trim_start_matches("sha256:"))
            .copied()
            .unwrap_or(0);
        f["Size"] = Value::String(format!(
            "{} (virtual {})",
            super::stats::human_size(rw),
            super::stats::human_size(rw + image)
        ));
    }
    f
}

/// The header cell of each field, for `--format 'table ...'`.
fn header_fields() -> Value {
    json!({
        "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
        "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Status": "STATUS",
        "State": "STATE", "Ports": "PORTS", "Labels": "LABELS", "Size": "SIZE",
    })
}

/// ctr-run -p's `HOST_PORT:PORT[/PROTO]` as Docker shows it: `0.0.0.0:8080->80/tcp`.
fn docker_port(p: &str) -> String {
    let (spec, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let (host, port) = spec.rsplit_once(':').unwrap_or(("", spec));
    let (ip, hport) = host.rsplit_once(':').unwrap_or(("0.0.0.0", host));
    format!("{ip}:{hport}->{port}/{proto}")
}

pub(super) fn short(id: &str, no_trunc: bool) -> &str {
    if no_trunc {
        id
    } else {
        &id[..id.len().min(12)]
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Docker's words for a duration: "Less than a second", "5 seconds", "About a minute",
/// "3 minutes", "About an hour", "4 hours", "2 days", "3 weeks", "5 months", "2 years".
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (m, h, day) = (60, 3600, 86400);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        _ if s < m => format!("{s} seconds"),
        _ if s < 2 * m => "About a minute".into(),
        _ if s < h => format!("{} minutes", s / m),
        _ if s < 2 * h => "About an hour".into(),
        _ if s < 2 * day => format!("{} hours", s / h),
        _ if s < 14 * day => format!("{} days", s / day),
        _ if s < 60 * day => format!("{} weeks", s / (7 * day)),
        _ if s < 730 * day => format!("{} months", s / (30 * day)),
        _ => format!("{} years", s / (365 * day)),
    }
}

/// UTC, to the second: 2026-12-04T15:01:02Z.
fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

const FIELDS: &[&str] = &[
    "ID",
    "Names",
    "Image",
    "Command",
    "CreatedAt",
    "RunningFor",
    "Status",
    "State",
    "Ports",
    "Labels",
    "Size",
];

/// `--filter KEY=VALUE`: filters of one key are alternatives, of different keys all must
/// hold (Docker's rule).
struct Filter {
    key: String,
    value: String,
}

const FILTER_KEYS: &[&str] = &["name", "id", "status", "ancestor", "label"];
const STATES: &[&str] = &["created", "running", "paused", "exited"];

impl Filter {
    fn parse(s: &str) -> Result<Filter, Error> {
        let Some((k, v)) = s.split_once('=') else {
            return Err(Error::Usage(format!("--filter {s}: want KEY=VALUE")));
        };
        if !FILTER_KEYS.contains(&k) {
            return Err(Error::Usage(format!(
                "--filter {s}: unknown key '{k}' (name, id, status, ancestor, label)"
            )));
        }
        if k == "status" && !STATES.contains(&v) {
            return Err(Error::Usage(format!(
                "--filter {s}: a status is created, running, paused or exited"
            )));
        }
        Ok(Filter {
            key: k.to_string(),
            value: v.to_string(),
        })
    }

    fn holds(&self, e: &Entry) -> bool {
        let v = self.value.as_str();
        match self.key.as_str() {
            "name" => e.name.contains(v),
            "id" => !v.is_empty() && e.id.starts_with(v),
            "status" => e.state == v,
            "ancestor" => {
                let id = e.image_id.trim_start_matches("sha256:");
                e.image == v
                    || (!v.contains(':') && e.image == format!("{v}:latest"))
                    || (v.len() >= 4 && id.starts_with(v.trim_start_matches("sha256:")))
            }
            _ => match v.split_once('=') {
                Some((k, want)) => e.labels.iter().any(|(lk, lv)| lk == k && lv == want),
                None => e.labels.iter().any(|(lk, _)| lk == v),
            },
        }
    }
}

fn matches(e: &Entry, filters: &[Filter]) -> bool {
    FILTER_KEYS.iter().all(|k| {
        let of_key: Vec<_> = filters.iter().filter(|f| f.key == *k).collect();
        of_key.is_empty() || of_key.iter().any(|f| f.holds(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_words_for_durations() {
        assert_eq!(human(Duration::from_millis(300)), "Less than a second");
        assert_eq!(human(Duration::from_secs(5)), "5 seconds");
        assert_eq!(human(Duration::from_secs(90)), "About a minute");
        assert_eq!(human(Duration::from_secs(600)), "10 minutes");
        assert_eq!(human(Duration::from_secs(5000)), "About an hour");
        assert_eq!(human(Duration::from_secs(3 * 86400)), "3 days");
    }

    #[test]
    fn dates_and_ports() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_796_396_462);
        assert_eq!(rfc3339(t), "2026-12-04T15:01:02Z");
        assert_eq!(docker_port("8080:80"), "0.0.0.0:8080->80/tcp");
        assert_eq!(docker_port("5353:53/udp"), "0.0.0.0:5353->53/udp");
    }
}

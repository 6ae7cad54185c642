//! The state folder of each container, `ROOT/ID/`: `state.json` (what `state` prints and
//! what the other commands need), `exec.fifo` while the container is created but not
//! started, `paused` while it is frozen, `seccomp.json`, and the pidfile nsenter-rs writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::spec::Hooks;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    pub pid: i32,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// the process's start time (/proc/PID/stat field 22): a reused PID is not ours
    pub starttime: u64,
    pub cgroup: String,
    #[serde(default)]
    pub hooks: Option<Hooks>,
    /// the container's seccomp profile and no_new_privs, for exec
    #[serde(default)]
    pub seccomp: Option<String>,
    #[serde(default)]
    pub terminal: bool,
    /// the cgroup was made for this container (delete removes it)
    #[serde(default)]
    pub owned_cgroup: bool,
    /// the container process's environment, working directory and IDs: exec's defaults
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default)]
    pub additional_gids: Vec<u32>,
    /// config.json has no `process`: created, but `start` refuses (the spec)
    #[serde(default)]
    pub no_process: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

pub fn check_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadId(id.to_string()))
    }
}

pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

pub fn load(root: &Path, id: &str) -> Result<Saved, Error> {
    check_id(id)?;
    let p = dir(root, id).join("state.json");
    let text = match std::fs::read(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoContainer(id.to_string()));
        }
        Err(e) => return Err(Error::Read(p, e)),
    };
    serde_json::from_slice(&text).map_err(|e| Error::Json(p, e))
}

pub fn save(root: &Path, s: &Saved) -> Result<(), Error> {
    let p = dir(root, &s.id).join("state.json");
    let data = serde_json::to_vec(s).map_err(|e| Error::Json(p.clone(), e))?;
    common::state::atomic_write(&p, &data).map_err(|e| Error::Write(p, e))
}

/// `/proc/PID/stat`: (state letter, start time).
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = st.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // after the comm: state is field 3, starttime field 22
    let state = f.first()?.chars().next()?;
    let start = f.get(19)?.parse().ok()?;
    Some((state, start))
}

/// The container's process is alive (not a zombie) and is still the one we started.
pub fn alive(s: &Saved) -> bool {
    s.pid > 0
        && proc_stat(s.pid)
            .is_some_and(|(st, start)| !matches!(st, 'Z' | 'X') && start == s.starttime)
}

pub fn status(root: &Path, s: &Saved) -> Status {
    if !alive(s) {
        return Status::Stopped;
    }
    let d = dir(root, &s.id);
    if d.join("exec.fifo").exists() {
        Status::Created
    } else if d.join("paused").exists() {
        Status::Paused
    } else {
        Status::Running
    }
}

/// The spec's state object (what `state` prints and hooks read on stdin).
pub fn state_json(root: &Path, s: &Saved) -> serde_json::Value {
    let st = status(root, s);
    let pid = if st == Status::Stopped { 0 } else { s.pid };
    serde_json::json!({
        "ociVersion": "1.1.0",
        "id": s.id,
        "pid": pid,
        "status": st.as_str(),
        "bundle": s.bundle,
        "rootfs": s.rootfs,
        "created": s.created,
        "owner": s.owner,
        "annotations": s.annotations,
    })
}

/// Every container ID under `root`.
pub fn ids(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("state.json").exists())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

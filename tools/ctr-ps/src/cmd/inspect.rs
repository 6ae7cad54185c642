//! `ctr-ps inspect ID`: everything known about one container, as one JSON object (or as
//! `key = value` lines).

use std::collections::BTreeMap;
use std::io::Write;

use common::cgroup::Usage;
use common::discover::Sources;
use common::mounts::Mount;
use common::ns::NsKind;
use common::output::emit_json;
use common::state::Dirs;
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::error::{Error, OutputExt};
use crate::info::Ctx;
use crate::procfs::{self, IdMap, Interface};

#[derive(Debug, Serialize)]
struct Inspect {
    id: String,
    name: Option<String>,
    runtime: String,
    /// Kubernetes: the pod, its namespace, the container's name in the pod.
    pod: Option<String>,
    pod_namespace: Option<String>,
    container_name: Option<String>,
    /// From the runtime's records.
    image: Option<String>,
    status: Option<String>,
    created: Option<String>,
    ports: Option<Vec<String>>,
    hostname: Option<String>,
    /// The OCI bundle (folder of its config.json).
    bundle: Option<String>,
    /// The runtime's files the above were read from.
    record_files: Vec<String>,
    pid: i32,
    launcher_pid: Option<i32>,
    command: Option<String>,
    started_at: Option<String>,
    uptime_seconds: Option<u64>,
    /// Host PIDs of its processes.
    pids: Vec<i32>,
    /// kind -> inode number, every namespace of the init.
    namespaces: BTreeMap<NsKind, u64>,
    /// The kinds it does not share with the host.
    private_namespaces: Vec<NsKind>,
    shares_host_pid: bool,
    shares_host_net: bool,
    cgroup: CgroupInfo,
    /// The init's mount table (its root and everything under it).
    mounts: Option<Vec<Mount>>,
    /// Interfaces of its network namespace and their addresses.
    interfaces: Option<Vec<Interface>>,
    capabilities: Option<Caps>,
    no_new_privs: Option<bool>,
    /// `disabled`, `strict` or `filter`.
    seccomp: Option<&'static str>,
    uid: Option<u32>,
    gid: Option<u32>,
    uid_map: Option<Vec<IdMap>>,
    gid_map: Option<Vec<IdMap>>,
}

#[derive(Debug, Serialize)]
struct CgroupInfo {
    /// The cgroup path that named it (or its v2/memory path).
    path: Option<String>,
    /// hierarchy (controller list, or `unified`) -> path, from /proc/PID/cgroup.
    paths: BTreeMap<String, String>,
    /// The controllers where it has a cgroup of its own (not its parent's) -> path.
    own: BTreeMap<String, String>,
    /// Limits and usage of its own cgroups; null when it has none.
    usage: Option<Usage>,
}

#[derive(Debug, Serialize)]
struct Caps {
    effective: Vec<String>,
    permitted: Vec<String>,
    inheritable: Vec<String>,
    bounding: Vec<String>,
    ambient: Vec<String>,
}

pub fn run(args: &InspectArgs, dirs: &Dirs, sources: &Sources) -> Result<(), Error> {
    let ctx = Ctx::new(dirs, sources).map_err(Error::Scan)?;
    let c = common::discover::resolve_in(&args.container, &ctx.snap.containers)?;
    let st = procfs::status(c.pid);
    let usage = ctx.usage(c);
    let info = Inspect {
        id: c.id.clone(),
        name: c.name.clone(),
        runtime: c.runtime.clone(),
        pod: c.records.pod.clone(),
        pod_namespace: c.records.pod_namespace.clone(),
        container_name: c.records.container_name.clone(),
        image: c.records.image.clone(),
        status: c.records.status.clone(),
        created: c.records.created.clone(),
        ports: c.records.ports.clone(),
        hostname: c.records.hostname.clone(),
        bundle: c
            .records
            .bundle
            .as_ref()
            .map(|b| b.to_string_lossy().into_owned()),
        record_files: c
            .records
            .files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect(),
        pid: c.pid,
        launcher_pid: c.launcher_pid,
        command: procfs::cmdline(c.pid),
        started_at: ctx.clock.started(c.start_ticks).map(procfs::rfc3339),
        uptime_seconds: ctx.clock.uptime(c.start_ticks).map(|d| d.as_secs()),
        pids: c.pids.clone(),
        namespaces: c.namespaces.clone(),
        private_namespaces: c.private_namespaces.clone(),
        shares_host_pid: c.shares_host(NsKind::Pid),
        shares_host_net: c.shares_host(NsKind::Net),
        cgroup: CgroupInfo {
            path: c.cgroup.clone(),
            paths: c
                .cgroups
                .iter()
                .map(|e| {
                    let key = if e.controllers.is_empty() {
                        "unified".to_string()
                    } else {
                        e.controllers.join(",")
                    };
                    (key, e.path.clone())
                })
                .collect(),
            own: usage
                .as_ref()
                .map(|(_, own)| own.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            usage: usage.map(|(u, _)| u),
        },
        mounts: procfs::mounts(c.pid),
        interfaces: procfs::interfaces(c.pid),
        capabilities: st.as_ref().map(|s| Caps {
            effective: procfs::cap_names(s.cap_eff),
            permitted: procfs::cap_names(s.cap_prm),
            inheritable: procfs::cap_names(s.cap_inh),
            bounding: procfs::cap_names(s.cap_bnd),
            ambient: procfs::cap_names(s.cap_amb),
        }),
        no_new_privs: st.as_ref().and_then(|s| s.no_new_privs),
        seccomp: st
            .as_ref()
            .and_then(|s| s.seccomp)
            .map(procfs::seccomp_mode),
        uid: st.as_ref().map(|s| s.uid[0]),
        gid: st.as_ref().map(|s| s.gid[0]),
        uid_map: procfs::id_map(c.pid, "uid_map"),
        gid_map: procfs::id_map(c.pid, "gid_map"),
    };
    if args.json {
        return emit_json(&info).out();
    }
    let value = serde_json::to_value(&info).map_err(|e| Error::Output(std::io::Error::other(e)))?;
    let mut lines = Vec::new();
    flatten("", &value, &mut lines);
    let mut out = std::io::stdout().lock();
    for l in lines {
        writeln!(out, "{l}").out()?;
    }
    out.flush().out()
}

/// `a.b[0].c = value` lines for the text form.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            let items: Vec<String> = a.iter().map(scalar).collect();
            out.push(format!("{prefix} = {}", items.join(" ")));
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        _ => out.push(format!("{prefix} = {}", scalar(v))),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

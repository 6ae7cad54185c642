//! config.json (the OCI runtime spec 1.1) and how it maps onto nsenter-rs's and cgset's
//! options. What neither tool can do is named in the warnings, never silently dropped.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Spec {
    pub oci_version: String,
    pub process: Option<Process>,
    pub root: Option<Root>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub mounts: Vec<Mount>,
    pub hooks: Option<Hooks>,
    pub annotations: BTreeMap<String, String>,
    pub linux: Option<Linux>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct Process {
    pub terminal: bool,
    pub console_size: Option<ConsoleSize>,
    pub user: User,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub capabilities: Option<Caps>,
    pub rlimits: Vec<RlimitSpec>,
    pub no_new_privileges: bool,
    pub apparmor_profile: Option<String>,
    pub oom_score_adj: Option<i32>,
    pub selinux_label: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct ConsoleSize {
    pub height: u16,
    pub width: u16,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub umask: Option<u32>,
    pub additional_gids: Vec<u32>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct Caps {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub inheritable: Vec<String>,
    pub permitted: Vec<String>,
    pub ambient: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct RlimitSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Root {
    pub path: String,
    pub readonly: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Mount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub source: Option<String>,
    pub options: Vec<String>,
}

#[derive(Debug, Default, Deserialize, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

#[derive(Debug, Default, Deserialize, Clone, serde::Serialize)]
#[serde(default)]
pub struct Hook {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Linux {
    pub namespaces: Vec<Namespace>,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
    pub devices: Vec<Device>,
    pub cgroups_path: Option<String>,
    pub resources: Option<Value>,
    pub rootfs_propagation: Option<String>,
    pub seccomp: Option<Value>,
    pub sysctl: BTreeMap<String, String>,
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    pub mount_label: Option<String>,
    pub intel_rdt: Option<Value>,
    pub personality: Option<Value>,
    pub time_offsets: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IdMapping {
    #[serde(rename = "containerID")]
    pub container_id: u32,
    #[serde(rename = "hostID")]
    pub host_id: u32,
    pub size: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Device {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub major: i64,
    pub minor: i64,
    pub file_mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

pub fn load(bundle: &Path) -> Result<Spec, Error> {
    let p = bundle.join("config.json");
    let text = std::fs::read(&p).map_err(|e| Error::Read(p.clone(), e))?;
    let spec: Spec = serde_json::from_slice(&text).map_err(|e| Error::Json(p, e))?;
    check_version(&spec.oci_version)?;
    Ok(spec)
}

/// ociVersion must be a version of the spec's major 1: `1.MINOR.PATCH[-SUFFIX]`.
fn check_version(v: &str) -> Result<(), Error> {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let ok = parts.len() == 3
        && parts[0] == "1"
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "ociVersion '{v}' is not a version of the runtime spec 1.x (1.MINOR.PATCH)"
        )))
    }
}

/// The spec's namespace type as nsenter-rs names it.
fn ns_name(t: &str) -> Result<&'static str, Error> {
    Ok(match t {
        "pid" => "pid",
        "network" => "net",
        "mount" => "mnt",
        "ipc" => "ipc",
        "uts" => "uts",
        "user" => "user",
        "cgroup" => "cgroup",
        "time" => "time",
        other => return Err(Error::Config(format!("unknown namespace type '{other}'"))),
    })
}

/// The mounts nsenter-rs makes itself with --rootfs (proc, sys, dev and its pts, shm, mqueue).
fn made_by_nsenter(m: &Mount) -> bool {
    matches!(
        m.destination.trim_end_matches('/'),
        "/proc" | "/sys" | "/dev" | "/dev/pts" | "/dev/shm" | "/dev/mqueue" | "/sys/fs/cgroup"
    )
}

/// The nsenter-rs command line for the container (create mode), and warnings about what
/// is not supported. `state_dir` holds the fifo, the pidfile and the seccomp profile.
pub struct Built {
    pub args: Vec<OsString>,
    pub warnings: Vec<String>,
    pub umask: u32,
}

pub fn nsenter_args(
    spec: &Spec,
    bundle: &Path,
    state_dir: &Path,
    cgroup: &str,
) -> Result<Built, Error> {
    let mut a: Vec<OsString> = Vec::new();
    let mut warn = Vec::new();
    let push = |a: &mut Vec<OsString>, k: &str, v: &str| {
        a.push(k.into());
        a.push(v.into());
    };
    let linux = spec.linux.as_ref();
    let empty = Linux::default();
    let linux = linux.unwrap_or(&empty);
    // no process: the container is built and waits; `start` refuses it (the spec), so this
    // name is never looked up
    let placeholder;
    let process = match spec.process.as_ref() {
        Some(p) => p,
        None => {
            placeholder = Process {
                args: vec![NO_PROCESS.into()],
                ..Process::default()
            };
            &placeholder
        }
    };
    if process.args.is_empty() {
        return Err(Error::Config("process.args is empty".into()));
    }
    let root = spec
        .root
        .as_ref()
        .ok_or_else(|| Error::Config("no root".into()))?;
    let rootfs = if Path::new(&root.path).is_absolute() {
        PathBuf::from(&root.path)
    } else {
        bundle.join(&root.path)
    };

    // namespaces: new ones, and the ones joined by path
    let mut new = Vec::new();
    for ns in &linux.namespaces {
        let name = ns_name(&ns.kind)?;
        match ns.path.as_deref().filter(|p| !p.is_empty()) {
            None => new.push(name),
            Some(p) if name == "time" => {
                return Err(Error::Unsupported(format!(
                    "joining an existing {} namespace ({p}) is not supported",
                    ns.kind
                )));
            }
            Some(p) => push(&mut a, "--join", &format!("{name}={p}")),
        }
    }
    // no mount namespace in the config: the process stays in ours, entering the rootfs by
    // chroot; nothing can be mounted (it would be mounted on the host)
    let chroot = !linux.namespaces.iter().any(|n| n.kind == "mount");
    let new_list = if new.is_empty() {
        "none".to_string()
    } else {
        new.join(",")
    };
    let mut args: Vec<OsString> = vec![format!("--new={new_list}").into()];
    args.append(&mut a);
    let mut a = args;
    if new.contains(&"net") {
        a.push("--loopback".into());
    }
    push(&mut a, "--rootfs", &rootfs.to_string_lossy());
    if chroot {
        a.push("--chroot".into());
        warn.push(
            "no mount namespace in config.json: the rootfs is entered by chroot, and its mounts, devices, masks and root.readonly are not applied".into(),
        );
    } else if root.readonly {
        a.push("--read-only".into());
    }
    for m in &linux.uid_mappings {
        push(
            &mut a,
            "--uid-map",
            &format!("{}:{}:{}", m.container_id, m.host_id, m.size),
        );
    }
    for m in &linux.gid_mappings {
        push(
            &mut a,
            "--gid-map",
            &format!("{}:{}:{}", m.container_id, m.host_id, m.size),
        );
    }
    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        push(&mut a, "--hostname", h);
    }
    if let Some(d) = spec.domainname.as_deref().filter(|d| !d.is_empty()) {
        push(&mut a, "--domainname", d);
    }
    for (k, v) in &linux.sysctl {
        push(&mut a, "--sysctl", &format!("{k}={v}"));
    }

    // mounts (but nsenter-rs's own), devices (but its defaults) and rootfsPropagation: as
    // nsenter-rs --oci-fs builds them, in the config's order
    let mut mounts = Vec::new();
    for m in &spec.mounts {
        if made_by_nsenter(m) {
            continue;
        }
        let mut v = serde_json::json!({
            "destination": m.destination,
            "options": m.options,
        });
        if let Some(k) = m.kind.as_deref().filter(|k| !k.is_empty()) {
            v["type"] = k.into();
        }
        let is_bind = m.kind.as_deref() == Some("bind")
            || m.options.iter().any(|o| o == "bind" || o == "rbind");
        if let Some(src) = m.source.as_deref().filter(|s| !s.is_empty()) {
            // a bind's relative source is the bundle's
            let src = if is_bind && !Path::new(src).is_absolute() {
                bundle.join(src).to_string_lossy().into_owned()
            } else {
                src.to_string()
            };
            v["source"] = src.into();
        }
        mounts.push(v);
    }
    let mut devices = Vec::new();
    for d in &linux.devices {
        if matches!(
            d.path.as_str(),
            "/dev/null"
                | "/dev/zero"
                | "/dev/full"
                | "/dev/random"
                | "/dev/urandom"
                | "/dev/tty"
                | "/dev/console"
                | "/dev/ptmx"
        ) {
            continue;
        }
        let (Ok(major), Ok(minor)) = (u32::try_from(d.major), u32::try_from(d.minor)) else {
            return Err(Error::Config(format!(
                "device {}: {}:{} are not device numbers",
                d.path, d.major, d.minor
            )));
        };
        devices.push(serde_json::json!({
            "path": d.path, "type": d.kind, "major": major, "minor": minor,
            "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid,
        }));
    }
    let prop = linux
        .rootfs_propagation
        .as_deref()
        .filter(|p| !p.is_empty());
    if !chroot && (!mounts.is_empty() || !devices.is_empty() || prop.is_some()) {
        let f = state_dir.join("fs.json");
        let doc = serde_json::json!({
            "mounts": mounts, "devices": devices, "rootfsPropagation": prop,
        });
        std::fs::write(&f, doc.to_string()).map_err(|e| Error::Write(f.clone(), e))?;
        push(&mut a, "--oci-fs", &f.to_string_lossy());
    }

    // security: masks, capabilities, seccomp, no_new_privs
    let unmasked = linux.masked_paths.as_ref().is_some_and(Vec::is_empty)
        && linux.readonly_paths.as_ref().is_some_and(Vec::is_empty);
    if chroot {
        // (nothing to mask: nothing is mounted)
    } else if unmasked {
        a.push("--privileged".into());
    } else if linux.masked_paths.is_some() || linux.readonly_paths.is_some() {
        for p in linux.masked_paths.iter().flatten() {
            push(&mut a, "--mask", p);
        }
        for p in linux.readonly_paths.iter().flatten() {
            push(&mut a, "--readonly-path", p);
        }
        if linux.masked_paths.as_ref().is_none_or(Vec::is_empty)
            && linux.readonly_paths.as_ref().is_none_or(Vec::is_empty)
        {
            a.push("--privileged".into());
        }
    }
    let caps = process.capabilities.clone().unwrap_or_default();
    push(&mut a, "--cap-sets", &cap_sets_arg(&cap_masks(&caps)?));
    match &linux.seccomp {
        Some(s) => {
            let f = state_dir.join("seccomp.json");
            std::fs::write(&f, serde_json::to_vec(s).unwrap_or_default())
                .map_err(|e| Error::Write(f.clone(), e))?;
            push(&mut a, "--seccomp", &f.to_string_lossy());
        }
        None => push(&mut a, "--seccomp", "unconfined"),
    }
    if !process.no_new_privileges {
        a.push("--allow-new-privs".into());
    }

    // the process
    for r in &process.rlimits {
        push(
            &mut a,
            "--rlimit",
            &format!("{}={}:{}", r.kind.to_ascii_lowercase(), r.soft, r.hard),
        );
    }
    push(
        &mut a,
        "--user",
        &format!("{}:{}", process.user.uid, process.user.gid),
    );
    if !process.user.additional_gids.is_empty() {
        let g: Vec<String> = process
            .user
            .additional_gids
            .iter()
            .map(u32::to_string)
            .collect();
        push(&mut a, "--groups", &g.join(","));
    }
    if !process.cwd.is_empty() {
        push(&mut a, "--workdir", &process.cwd);
    }
    if let Some(c) = process.console_size.as_ref().filter(|_| process.terminal) {
        push(
            &mut a,
            "--console-size",
            &format!("{}x{}", c.height, c.width),
        );
    }
    a.push("--clear-env".into());
    for e in &process.env {
        if e.contains('=') {
            push(&mut a, "--env", e);
        }
    }
    push(&mut a, "--cgroup", cgroup);

    for (what, on) in [
        (
            "process.apparmorProfile",
            process
                .apparmor_profile
                .as_deref()
                .is_some_and(|s| !s.is_empty()),
        ),
        (
            "process.selinuxLabel",
            process
                .selinux_label
                .as_deref()
                .is_some_and(|s| !s.is_empty()),
        ),
        (
            "linux.mountLabel",
            linux.mount_label.as_deref().is_some_and(|s| !s.is_empty()),
        ),
        ("linux.intelRdt", linux.intel_rdt.is_some()),
        ("linux.personality", linux.personality.is_some()),
        ("linux.timeOffsets", linux.time_offsets.is_some()),
    ] {
        if on {
            warn.push(format!("{what} is not supported here (ignored)"));
        }
    }
    Ok(Built {
        args: a,
        warnings: warn,
        umask: process.user.umask.unwrap_or(0o022),
    })
}

/// A capability's bit (its number), by name with or without CAP_, in any case.
pub fn cap_bit(name: &str) -> Result<u32, Error> {
    let n = name.to_ascii_uppercase();
    let n = n.strip_prefix("CAP_").unwrap_or(&n);
    CAPS.iter()
        .position(|c| *c == n)
        .map(|b| b as u32)
        .ok_or_else(|| Error::Config(format!("unknown capability '{name}'")))
}

/// The five sets as masks: bounding, effective, inheritable, permitted, ambient.
pub fn cap_masks(caps: &Caps) -> Result<[u64; 5], Error> {
    let mut masks = [0u64; 5];
    for (m, set) in masks.iter_mut().zip([
        &caps.bounding,
        &caps.effective,
        &caps.inheritable,
        &caps.permitted,
        &caps.ambient,
    ]) {
        for name in set {
            *m |= 1 << cap_bit(name)?;
        }
    }
    Ok(masks)
}

/// nsenter-rs --cap-sets B:E:I:P:A
pub fn cap_sets_arg(m: &[u64; 5]) -> String {
    m.iter()
        .map(|x| format!("{x:x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The command a container without `process` waits before (never run).
pub const NO_PROCESS: &str = "/ctr-oci: config.json has no process";

/// The capabilities by number (bit), without CAP_.
pub const CAPS: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The cgroup path (relative to the hierarchy roots) of a container.
pub fn cgroup_path(spec: &Spec, id: &str) -> String {
    let p = spec
        .linux
        .as_ref()
        .and_then(|l| l.cgroups_path.clone())
        .unwrap_or_default();
    let p = p.trim_matches('/');
    if p.is_empty() {
        format!("ctr-oci/{id}")
    } else {
        p.to_string()
    }
}

/// cgset options for linux.resources (as `create`/`set` take them), and warnings.
pub fn cgset_args(res: &Value, warn: &mut Vec<String>) -> Vec<String> {
    let mut a = Vec::new();
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64);
    if let Some(m) = res.get("memory") {
        if let Some(l) = num(m, "limit").filter(|l| *l > 0) {
            a.push(format!("--memory={l}"));
            if let Some(s) = num(m, "swap").filter(|s| *s > 0) {
                a.push(format!("--memory-swap={s}"));
            }
        }
        if let Some(r) = num(m, "reservation").filter(|r| *r > 0) {
            a.push(format!("--memory-low={r}"));
        }
        if let Some(s) = m.get("swappiness").and_then(Value::as_u64) {
            if s <= 100 {
                a.push(format!("--memory-swappiness={s}"));
            } else {
                warn.push(format!(
                    "linux.resources.memory.swappiness {s} is not 0..100 (ignored)"
                ));
            }
        }
        if m.get("disableOOMKiller") == Some(&Value::Bool(true)) {
            a.push("--oom-kill-disable".into());
        }
        if num(m, "kernel").is_some() || num(m, "kernelTCP").is_some() {
            warn.push("linux.resources.memory.kernel is gone from the kernel (ignored)".into());
        }
    }
    if let Some(c) = res.get("cpu") {
        if let Some(s) = num(c, "shares").filter(|s| *s > 0) {
            a.push(format!("--cpu-shares={s}"));
        }
        let period = num(c, "period").filter(|p| *p > 0);
        if let Some(p) = period {
            a.push(format!("--cpu-period={p}us"));
        }
        if let Some(q) = num(c, "quota").filter(|q| *q > 0) {
            let p = period.unwrap_or(100_000) as f64;
            a.push(format!("--cpus={}", q as f64 / p));
        }
        if let Some(s) = c
            .get("cpus")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            a.push(format!("--cpuset-cpus={s}"));
        }
        if let Some(s) = c
            .get("mems")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            a.push(format!("--cpuset-mems={s}"));
        }
    }
    if let Some(p) = res.get("pids").and_then(|p| num(p, "limit")) {
        if p > 0 {
            a.push(format!("--pids={p}"));
        } else {
            a.push("--pids=max".into());
        }
    }
    if let Some(w) = res.get("blockIO").and_then(|b| num(b, "weight")) {
        if w > 0 {
            a.push(format!("--io-weight={w}"));
        }
    }
    if let Some(devs) = res.get("devices").and_then(Value::as_array) {
        // the usual shape: deny all, then allow some; anything else is all allowed
        let deny_all = devs.first().is_some_and(|d| {
            d.get("allow") == Some(&Value::Bool(false))
                && d.get("major").is_none_or(Value::is_null)
                && d.get("type").is_none_or(|t| t == "a" || t.is_null())
        });
        if deny_all {
            a.push("--devices=none".into());
            for d in devs.iter().skip(1) {
                if d.get("allow") != Some(&Value::Bool(true)) {
                    continue;
                }
                let t = d.get("type").and_then(Value::as_str).unwrap_or("a");
                let n = |k: &str| {
                    d.get(k)
                        .and_then(Value::as_i64)
                        .filter(|v| *v >= 0)
                        .map_or("*".to_string(), |v| v.to_string())
                };
                let acc = d.get("access").and_then(Value::as_str).unwrap_or("rwm");
                if t == "a" {
                    a.push("--device-rule=a".into());
                } else {
                    a.push(format!(
                        "--device-rule={t} {}:{} {acc}",
                        n("major"),
                        n("minor")
                    ));
                }
            }
            // then runc's default devices (null, zero, full, tty, random, urandom, ptmx, pts,
            // tun, mknod of any), after the spec's rules, as runc adds them
            for r in [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 5:0 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:1 rwm",
                "c 136:* rwm",
                "c 5:2 rwm",
                "c 10:200 rwm",
            ] {
                a.push(format!("--device-rule={r}"));
            }
        }
    }
    if let Some(u) = res.get("unified").and_then(Value::as_object) {
        for (k, v) in u {
            if let Some(v) = v.as_str() {
                a.push(format!("--raw={k}={v}"));
            }
        }
    }
    for k in ["hugepageLimits", "network", "rdma"] {
        if res.get(k).is_some_and(|v| !v.is_null()) {
            warn.push(format!(
                "linux.resources.{k} is not supported here (ignored)"
            ));
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    fn args(s: &Spec) -> Vec<String> {
        let dir = std::env::temp_dir();
        nsenter_args(s, Path::new("/b"), &dir, "cg/x")
            .unwrap()
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn value_of(a: &[String], flag: &str) -> Vec<String> {
        a.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].clone())
            .collect()
    }

    const BASE: &str = r#"{"ociVersion":"1.1.0","root":{"path":"rootfs"},
        "process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}"#;
    const NOPROC: &str = r#"{"ociVersion":"1.1.0","root":{"path":"rootfs"}"#;

    #[test]
    fn versions() {
        assert!(check_version("1.1.0").is_ok());
        assert!(check_version("1.0.2-dev").is_ok());
        assert!(check_version("invalid").is_err());
        assert!(check_version("2.0.0").is_err());
        assert!(check_version("").is_err());
    }

    #[test]
    fn namespaces_new_and_joined() {
        let s = spec(&format!(
            r#"{BASE}, "linux":{{"namespaces":[{{"type":"pid"}},{{"type":"network","path":"/run/netns/x"}},{{"type":"mount"}}]}}}}"#
        ));
        let a = args(&s);
        assert_eq!(a[0], "--new=pid,mnt");
        assert_eq!(value_of(&a, "--join"), vec!["net=/run/netns/x"]);
        assert_eq!(value_of(&a, "--rootfs"), vec!["/b/rootfs"]);
        assert!(!a.contains(&"--loopback".to_string()));
        let s = spec(&format!(
            r#"{BASE}, "linux":{{"namespaces":[{{"type":"pid","path":"/proc/1/ns/pid"}},{{"type":"mount"}}]}}}}"#
        ));
        let a = args(&s);
        assert_eq!(a[0], "--new=mnt");
        assert_eq!(value_of(&a, "--join"), vec!["pid=/proc/1/ns/pid"]);
        let s = spec(&format!(
            r#"{BASE}, "linux":{{"namespaces":[{{"type":"time","path":"/proc/1/ns/time"}}]}}}}"#
        ));
        assert!(nsenter_args(&s, Path::new("/b"), Path::new("/tmp"), "c").is_err());
    }

    #[test]
    fn capability_sets_are_masks_by_bit() {
        let s = spec(&format!(
            r#"{NOPROC}, "process":{{"args":["sh"],"capabilities":{{"bounding":["CAP_CHOWN","CAP_KILL"],
            "effective":["CAP_KILL"],"permitted":["CAP_KILL","CAP_CHOWN"],"inheritable":[],"ambient":[]}}}}}}"#
        ));
        assert_eq!(value_of(&args(&s), "--cap-sets"), vec!["21:20:0:21:0"]);
        let s = spec(&format!(
            r#"{NOPROC}, "process":{{"args":["sh"],"capabilities":{{"bounding":["CAP_BOGUS"]}}}}}}"#
        ));
        assert!(nsenter_args(&s, Path::new("/b"), Path::new("/tmp"), "c").is_err());
    }

    #[test]
    fn masks_binds_and_tmpfs() {
        let s = spec(&format!(
            r#"{BASE}, "mounts":[{{"destination":"/proc","type":"proc"}},
              {{"destination":"/data","type":"bind","source":"vol","options":["rbind","ro"]}},
              {{"destination":"/t","type":"tmpfs","options":["size=1m"]}}],
              "linux":{{"namespaces":[{{"type":"mount"}}],"maskedPaths":["/proc/kcore"],"readonlyPaths":[]}}}}"#
        ));
        let dir = std::env::temp_dir().join(format!("ctr-oci-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a: Vec<String> = nsenter_args(&s, Path::new("/b"), &dir, "cg/x")
            .unwrap()
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        // the config's own mounts go to nsenter-rs --oci-fs, in order, a bind's source
        // made absolute in the bundle; /proc is nsenter-rs's own
        let f = dir.join("fs.json");
        assert_eq!(
            value_of(&a, "--oci-fs"),
            vec![f.to_string_lossy().into_owned()]
        );
        let fs: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let m = fs["mounts"].as_array().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0]["destination"], "/data");
        assert_eq!(m[0]["source"], "/b/vol");
        assert_eq!(m[1]["type"], "tmpfs");
        assert!(value_of(&a, "--bind").is_empty());
        assert_eq!(value_of(&a, "--mask"), vec!["/proc/kcore"]);
        assert!(!a.contains(&"--privileged".to_string()));
        let s = spec(&format!(
            r#"{BASE}, "linux":{{"namespaces":[{{"type":"mount"}}],"maskedPaths":[],"readonlyPaths":[]}}}}"#
        ));
        assert!(args(&s).contains(&"--privileged".to_string()));
        // no mount namespace: chroot, nothing mounted or masked
        let s = spec(&format!(
            r#"{BASE}, "mounts":[{{"destination":"/t","type":"tmpfs"}}], "linux":{{"maskedPaths":["/proc/kcore"]}}}}"#
        ));
        let a = args(&s);
        assert_eq!(a[0], "--new=none");
        assert!(a.contains(&"--chroot".to_string()));
        assert!(value_of(&a, "--mask").is_empty() && value_of(&a, "--oci-fs").is_empty());
    }

    #[test]
    fn device_rules_keep_the_spec_order_then_runc_defaults() {
        let res: Value = serde_json::from_str(
            r#"{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":10,"minor":229,"access":"rwm"}],
                "memory":{"limit":1048576},"pids":{"limit":5},"cpu":{"quota":50000,"period":100000}}"#,
        )
        .unwrap();
        let mut w = Vec::new();
        let a = cgset_args(&res, &mut w);
        let i = a.iter().position(|x| x == "--devices=none").unwrap();
        assert_eq!(a[i + 1], "--device-rule=c 10:229 rwm");
        assert_eq!(a[i + 2], "--device-rule=c *:* m");
        assert!(a.contains(&"--memory=1048576".to_string()));
        assert!(a.contains(&"--pids=5".to_string()));
        assert!(a.contains(&"--cpus=0.5".to_string()));
    }
}

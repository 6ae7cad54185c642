//! What each runtime records about its containers, read from its own files (no daemon):
//! names, image, status, creation time, ports, Kubernetes pod and namespace.
//!
//! Where the records are found, per container, in this order:
//! - its OCI bundle, from the runtime's state (`state.json`'s `bundle=` label for runc and
//!   libcontainer, crun's `status`, containerd's task folder, which is the bundle), or from
//!   the init's parent: conmon's `-b BUNDLE` (Podman, CRI-O), a containerd shim's working
//!   folder (containerd, Docker, nerdctl); the bundle's `config.json` has the hostname and
//!   the annotations: containerd CRI's `io.kubernetes.cri.*`, CRI-O's `io.kubernetes.*`,
//!   nerdctl's `nerdctl/name`;
//! - Docker's `DATA_ROOT/containers/ID/config.v2.json` and `hostconfig.json`: the folder is
//!   the source of the bundle's `/etc/hostname` mount, else under `--docker-root`;
//! - containers/storage (Podman, CRI-O): `containers.json` two folders above a
//!   `.../ID/userdata` bundle, else under each `--podman-root`;
//! - conmon's `-n NAME`, LXC's monitor (`[lxc monitor] PATH NAME`), and systemd-machined's
//!   `/run/systemd/machines/NAME` (`LEADER=PID`) for systemd-nspawn.
//!
//! Every read is best effort: a file that is missing, vanishes or does not parse leaves its
//! fields unknown.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where runtimes started with non-default roots keep their records (ctr-ps flags, with the
/// environment as fallback; nsenter-rs reads the environment).
#[derive(Debug, Clone, clap::Args)]
pub struct Sources {
    /// Docker's data root (dockerd --data-root), read for containers whose records the
    /// bundle does not point at
    #[arg(long, value_name = "DIR", env = "CTRKIT_DOCKER_ROOT", hide_env_values = true, default_value = DEFAULT_DOCKER_ROOT, global = true)]
    pub docker_root: PathBuf,
    /// containers/storage graph roots of Podman and CRI-O (colon separated or repeated),
    /// read for containers whose bundle is not known
    #[arg(long = "podman-root", value_name = "DIR", env = "CTRKIT_PODMAN_ROOT", hide_env_values = true, default_value = DEFAULT_PODMAN_ROOT, value_delimiter = ':', global = true)]
    pub podman_roots: Vec<PathBuf>,
    /// More runc or crun state roots (their --root; colon separated or repeated), read after
    /// /run/runc, /run/crun and containerd's
    #[arg(
        long = "runtime-root",
        value_name = "DIR",
        env = "CTRKIT_RUNTIME_ROOT",
        hide_env_values = true,
        value_delimiter = ':',
        global = true
    )]
    pub runtime_roots: Vec<PathBuf>,
}

pub const DEFAULT_DOCKER_ROOT: &str = "/var/lib/docker";
pub const DEFAULT_PODMAN_ROOT: &str = "/var/lib/containers/storage";

impl Default for Sources {
    fn default() -> Self {
        Sources {
            docker_root: DEFAULT_DOCKER_ROOT.into(),
            podman_roots: vec![DEFAULT_PODMAN_ROOT.into()],
            runtime_roots: Vec::new(),
        }
    }
}

impl Sources {
    /// The locations from `CTRKIT_DOCKER_ROOT`, `CTRKIT_PODMAN_ROOT` and
    /// `CTRKIT_RUNTIME_ROOT` (the last two colon separated), else the defaults.
    pub fn from_env() -> Sources {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let list = |v: std::ffi::OsString| -> Vec<PathBuf> {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        };
        let mut s = Sources::default();
        if let Some(v) = var("CTRKIT_DOCKER_ROOT") {
            s.docker_root = v.into();
        }
        if let Some(v) = var("CTRKIT_PODMAN_ROOT") {
            s.podman_roots = list(v);
        }
        if let Some(v) = var("CTRKIT_RUNTIME_ROOT") {
            s.runtime_roots = list(v);
        }
        s
    }
}

/// What a container's runtime recorded about it. Every field is unknown (`None`, empty)
/// when the runtime records no such thing or its files could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    /// The image, as the runtime names it (`busybox:latest`, `localhost/web:latest`).
    pub image: Option<String>,
    /// `running`, `paused`, `restarting`, ... (Docker's state).
    pub status: Option<String>,
    /// When the runtime created it, RFC 3339 as recorded.
    pub created: Option<String>,
    /// Published ports, `HOST_IP:HOST_PORT->PORT/PROTO`; `None` when not recorded.
    pub ports: Option<Vec<String>>,
    /// The hostname its config gave it.
    pub hostname: Option<String>,
    /// Kubernetes: the pod's name, its namespace and the container's name in the pod.
    pub pod: Option<String>,
    pub pod_namespace: Option<String>,
    pub container_name: Option<String>,
    /// The OCI bundle (folder of its `config.json`).
    pub bundle: Option<PathBuf>,
    /// The files the above were read from.
    pub files: Vec<PathBuf>,
}

/// What discovery found out by itself, handed to [`Reader::read`].
pub(super) struct Seen<'a> {
    pub id: &'a str,
    pub runtime: &'a str,
    pub name: Option<&'a str>,
    /// The init's parent (conmon, a shim, lxc's monitor), 0 when unknown.
    pub ppid: i32,
    pub pid: i32,
    pub launcher: Option<i32>,
    /// The bundle the runtime's state names, if any.
    pub bundle: Option<&'a Path>,
}

/// What [`Reader::read`] found: the records, and a better name, runtime or id where it
/// found one.
pub(super) struct Found {
    pub records: Records,
    pub name: Option<String>,
    pub runtime: Option<&'static str>,
    pub id: Option<String>,
}

/// Reads records, once per scan; files several containers share are read once.
pub(super) struct Reader<'a> {
    sources: &'a Sources,
    storage: RefCell<HashMap<PathBuf, Option<Vec<StorageEntry>>>>,
    /// systemd-machined: leader pid -> machine name
    machines: HashMap<i32, String>,
}

impl<'a> Reader<'a> {
    pub fn new(sources: &'a Sources) -> Reader<'a> {
        Reader {
            sources,
            storage: RefCell::new(HashMap::new()),
            machines: read_machines(Path::new("/run/systemd/machines")),
        }
    }

    pub fn read(&self, seen: &Seen) -> Found {
        let mut rec = Records::default();
        let mut name: Option<String> = None;
        let mut runtime: Option<&'static str> = None;
        let mut id: Option<String> = None;
        let mut bundle = seen.bundle.map(Path::to_path_buf);

        // the init's parent (not for ctrkit's own containers, named by their state folder:
        // their parent is ctrkit's, never a conmon, shim or lxc monitor)
        let parent = (seen.ppid > 0 && seen.runtime != "ctrkit")
            .then(|| parent_of(&proc_root(), seen.ppid))
            .flatten();
        let mut conmon_name = None;
        match parent {
            Some(Parent::Conmon {
                bundle: b,
                name: n,
                cid,
            }) => {
                bundle = bundle.or(b);
                conmon_name = n;
                runtime = Some("podman");
                if seen.runtime == "unshare" {
                    id = cid;
                }
            }
            Some(Parent::Shim { bundle: b, id: sid }) => {
                // one shim may serve a whole pod: its folder is the sandbox's bundle, and
                // the others' are beside it (`.../io.containerd.runtime.v2.task/NS/ID`)
                let b = b.map(|b| match b.parent() {
                    Some(p)
                        if seen.runtime != "unshare"
                            && b.file_name().is_some_and(|n| n != seen.id)
                            && p.join(seen.id).join("config.json").exists() =>
                    {
                        p.join(seen.id)
                    }
                    _ => b,
                });
                bundle = bundle.or(b);
                runtime = Some("containerd");
                if seen.runtime == "unshare" {
                    id = sid;
                }
            }
            Some(Parent::LxcMonitor { name: n }) => {
                name = Some(n);
                runtime = Some("lxc");
            }
            None => {}
        }
        if let Some(n) = self
            .machines
            .get(&seen.pid)
            .or_else(|| seen.launcher.and_then(|l| self.machines.get(&l)))
        {
            name = Some(n.clone());
            runtime = Some("nspawn");
        }

        // the bundle's config.json
        let oci = bundle.as_ref().and_then(|b| {
            let f = b.join("config.json");
            let c: OciConfig = read_json(&f)?;
            rec.files.push(f);
            Some(c)
        });
        rec.bundle = bundle.clone();
        let no_annotations = BTreeMap::new();
        let ann = oci
            .as_ref()
            .and_then(|c| c.annotations.as_ref())
            .unwrap_or(&no_annotations);
        rec.hostname = oci.as_ref().and_then(|c| c.hostname.clone());
        if let Some(k) = kube_of(ann) {
            if ann.keys().any(|k| k.starts_with("io.kubernetes.cri-o.")) {
                runtime = Some("cri-o");
            }
            name = Some(match &k.container {
                Some(c) => format!("{}/{}", k.pod, c),
                None => k.pod.clone(),
            });
            rec.pod = Some(k.pod);
            rec.pod_namespace = k.namespace;
            rec.container_name = k.container;
            rec.image = k.image;
            rec.created = k.created;
        }
        if name.is_none() {
            name = ann.get("nerdctl/name").cloned();
        }

        // Docker's own records
        let docker_dir = oci
            .as_ref()
            .and_then(|c| docker_dir_from_mounts(c, seen.id))
            .or_else(|| {
                (seen.runtime == "docker")
                    .then(|| self.sources.docker_root.join("containers").join(seen.id))
            });
        let mut docker = false;
        if let Some(d) = docker_dir {
            if let Some(dr) = read_docker(&d, &mut rec) {
                docker = true;
                runtime = Some("docker");
                if name.is_none() {
                    name = dr;
                }
            }
        }

        // containers/storage (Podman, CRI-O)
        if !docker {
            let storage_id = bundle
                .as_ref()
                .filter(|b| b.ends_with("userdata"))
                .and_then(|b| b.parent())
                .and_then(|p| p.file_name())
                .map(|s| s.to_string_lossy().into_owned());
            let sid = storage_id.as_deref().unwrap_or(seen.id);
            let mut files: Vec<PathBuf> = Vec::new();
            if let Some(b) = bundle.as_ref().filter(|_| storage_id.is_some()) {
                if let Some(dir) = b.parent().and_then(Path::parent) {
                    files.push(dir.join("containers.json"));
                }
            }
            let podmanish = matches!(seen.runtime, "podman" | "cri-o") || runtime == Some("podman");
            if files.is_empty() && podmanish {
                for root in &self.sources.podman_roots {
                    files.extend(storage_files(root));
                }
            }
            for f in files {
                if let Some(e) = self.storage_entry(&f, sid) {
                    rec.files.push(f);
                    if name.is_none() {
                        name = e.names.first().cloned();
                    }
                    let meta: Option<StorageMeta> = e
                        .metadata
                        .as_deref()
                        .and_then(|m| serde_json::from_str(m).ok());
                    if rec.image.is_none() {
                        rec.image = meta.and_then(|m| m.image_name).or(e.image);
                    }
                    if rec.created.is_none() {
                        rec.created = e.created;
                    }
                    if seen.runtime != "cri-o" && runtime != Some("cri-o") {
                        runtime = Some("podman");
                    }
                    break;
                }
            }
        }
        if name.is_none() {
            name = conmon_name;
        }
        if seen.name.is_some() {
            // ctrkit's own name (or the cgroup's, for lxc and nspawn) stays
            name = None;
        }
        Found {
            records: rec,
            name,
            runtime,
            id,
        }
    }

    /// The entry for `id` in one `containers.json` (read once per scan).
    fn storage_entry(&self, file: &Path, id: &str) -> Option<StorageEntry> {
        let mut cache = self.storage.borrow_mut();
        let list = cache
            .entry(file.to_path_buf())
            .or_insert_with(|| read_json::<Vec<StorageEntry>>(file));
        list.as_ref()?.iter().find(|e| e.id == id).cloned()
    }
}

fn proc_root() -> PathBuf {
    super::proc_root()
}

fn is_hex(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Read and parse a JSON file; `None` when it is missing, vanished or malformed.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let data = fs::read(path).ok()?;
    serde_json::from_slice(&data).ok()
}

// --- the init's parent -------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum Parent {
    /// conmon (Podman, CRI-O): `-b BUNDLE`, `-n NAME`, `-c ID`
    Conmon {
        bundle: Option<PathBuf>,
        name: Option<String>,
        cid: Option<String>,
    },
    /// a containerd shim (`-namespace NS -id ID`): its working folder is the bundle
    Shim {
        bundle: Option<PathBuf>,
        id: Option<String>,
    },
    /// `[lxc monitor] LXCPATH NAME`
    LxcMonitor { name: String },
}

fn parent_of(proc: &Path, ppid: i32) -> Option<Parent> {
    // the command line by one open of its file (most parents are none of these)
    let dir = proc.join(ppid.to_string());
    let mut raw = Vec::with_capacity(256);
    super::read_small(&dir.join("cmdline"), &mut raw, true).ok()?;
    let parent = parse_parent(&super::split_cmdline(&raw))?;
    Some(match parent {
        Parent::Shim { id, .. } => Parent::Shim {
            bundle: fs::read_link(dir.join("cwd")).ok(),
            id,
        },
        p => p,
    })
}

/// Tell conmon, a containerd shim and lxc's monitor from their command lines.
fn parse_parent(args: &[String]) -> Option<Parent> {
    let first = args.first()?;
    if first.starts_with("[lxc monitor]") {
        // one argument ("[lxc monitor] /var/lib/lxc web") or several
        let words: Vec<&str> = args.iter().flat_map(|a| a.split(' ')).collect();
        let name = words.last().filter(|w| !w.is_empty() && words.len() >= 4)?;
        return Some(Parent::LxcMonitor {
            name: name.to_string(),
        });
    }
    let base = first.rsplit('/').next().unwrap_or(first);
    if base.starts_with("containerd-shim") {
        let id = args
            .windows(2)
            .find(|w| w[0] == "-id" || w[0] == "--id")
            .map(|w| w[1].clone());
        return Some(Parent::Shim { bundle: None, id });
    }
    if base != "conmon" {
        return None;
    }
    let mut bundle = None;
    let mut name = None;
    let mut cid = None;
    let mut i = 1;
    while i < args.len() {
        let a = args[i].as_str();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a, None),
        };
        let takes = matches!(flag, "-b" | "--bundle" | "-n" | "--name" | "-c" | "--cid");
        let value = if takes {
            match inline {
                Some(v) => Some(v),
                None => {
                    i += 1;
                    args.get(i).cloned()
                }
            }
        } else {
            None
        };
        match flag {
            "-b" | "--bundle" => bundle = value.map(PathBuf::from),
            "-n" | "--name" => name = value,
            "-c" | "--cid" => cid = value,
            _ => {}
        }
        i += 1;
    }
    Some(Parent::Conmon { bundle, name, cid })
}

// --- OCI config.json, Kubernetes annotations -----------------------------------------------

#[derive(Debug, Deserialize)]
struct OciConfig {
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    mounts: Option<Vec<OciMount>>,
}

#[derive(Debug, Deserialize)]
struct OciMount {
    #[serde(default)]
    destination: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
struct Kube {
    pod: String,
    namespace: Option<String>,
    /// `None` for the pod's sandbox (pause) container
    container: Option<String>,
    image: Option<String>,
    created: Option<String>,
}

/// The pod, namespace and container name from containerd CRI's or CRI-O's annotations.
fn kube_of(ann: &BTreeMap<String, String>) -> Option<Kube> {
    let get = |k: &str| ann.get(k).filter(|v| !v.is_empty()).cloned();
    // containerd's CRI plugin
    if let Some(pod) = get("io.kubernetes.cri.sandbox-name") {
        let sandbox = get("io.kubernetes.cri.container-type").as_deref() == Some("sandbox");
        return Some(Kube {
            pod,
            namespace: get("io.kubernetes.cri.sandbox-namespace"),
            container: if sandbox {
                None
            } else {
                get("io.kubernetes.cri.container-name")
            },
            image: get("io.kubernetes.cri.image-name"),
            created: None,
        });
    }
    // CRI-O
    if let Some(pod) = get("io.kubernetes.pod.name") {
        let sandbox = get("io.kubernetes.cri-o.ContainerType").as_deref() == Some("sandbox");
        return Some(Kube {
            pod,
            namespace: get("io.kubernetes.pod.namespace"),
            container: if sandbox {
                None
            } else {
                get("io.kubernetes.container.name")
            },
            image: get("io.kubernetes.cri-o.ImageName"),
            created: get("io.kubernetes.cri-o.Created"),
        });
    }
    None
}

// --- Docker ------------------------------------------------------------------------------------

/// Docker bind-mounts `DATA_ROOT/containers/ID/hostname` on `/etc/hostname`.
fn docker_dir_from_mounts(c: &OciConfig, id: &str) -> Option<PathBuf> {
    c.mounts.as_ref()?.iter().find_map(|m| {
        if m.destination.as_deref() != Some("/etc/hostname") {
            return None;
        }
        let dir = Path::new(m.source.as_deref()?).parent()?;
        let named = dir.file_name()?.to_string_lossy();
        (dir.parent()?.file_name()? == "containers" && (named == id || is_hex(&named)))
            .then(|| dir.to_path_buf())
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerConfigV2 {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    config: Option<DockerConfig>,
    #[serde(default)]
    state: Option<DockerState>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerConfig {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerState {
    #[serde(default)]
    running: bool,
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    restarting: bool,
    #[serde(default)]
    dead: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerHostConfig {
    #[serde(default)]
    port_bindings: Option<BTreeMap<String, Option<Vec<DockerBinding>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerBinding {
    #[serde(default)]
    host_ip: Option<String>,
    #[serde(default)]
    host_port: Option<String>,
}

/// Fill `rec` from Docker's container folder; `Some(name)` when `config.v2.json` was read.
fn read_docker(dir: &Path, rec: &mut Records) -> Option<Option<String>> {
    let f = dir.join("config.v2.json");
    let c: DockerConfigV2 = read_json(&f)?;
    rec.files.push(f);
    let name = c
        .name
        .map(|n| n.trim_start_matches('/').to_string())
        .filter(|n| !n.is_empty());
    if let Some(cfg) = c.config {
        rec.image = rec.image.take().or(cfg.image);
        rec.hostname = rec.hostname.take().or(cfg.hostname);
    }
    rec.created = rec.created.take().or(c.created);
    let st = c.state.unwrap_or_default();
    rec.status = Some(
        if st.paused {
            "paused"
        } else if st.restarting {
            "restarting"
        } else if st.dead {
            "dead"
        } else if st.running {
            "running"
        } else {
            "exited"
        }
        .to_string(),
    );
    let hf = dir.join("hostconfig.json");
    if let Some(h) = read_json::<DockerHostConfig>(&hf) {
        rec.files.push(hf);
        rec.ports = Some(docker_ports(h.port_bindings.unwrap_or_default()));
    }
    Some(name)
}

/// `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` -> `0.0.0.0:8080->80/tcp`.
fn docker_ports(b: BTreeMap<String, Option<Vec<DockerBinding>>>) -> Vec<String> {
    let mut out = Vec::new();
    for (port, binds) in b {
        for bind in binds.unwrap_or_default() {
            let ip = bind
                .host_ip
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| "0.0.0.0".into());
            let hp = bind.host_port.unwrap_or_default();
            if hp.is_empty() {
                out.push(format!("{ip}->{port}"));
            } else {
                out.push(format!("{ip}:{hp}->{port}"));
            }
        }
    }
    out
}

// --- containers/storage (Podman, CRI-O) ----------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
struct StorageEntry {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
    #[serde(default)]
    created: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StorageMeta {
    #[serde(default, rename = "image-name")]
    image_name: Option<String>,
}

/// `ROOT/*-containers/containers.json` (one per storage driver: overlay, vfs, ...).
fn storage_files(root: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("-containers"))
        .map(|e| e.path().join("containers.json"))
        .collect();
    v.sort();
    v
}

// --- systemd-machined ---------------------------------------------------------------------------

/// `/run/systemd/machines/NAME` files: `LEADER=PID` -> NAME.
fn read_machines(dir: &Path) -> HashMap<i32, String> {
    let mut out = HashMap::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("unit:") || name.starts_with('.') {
            continue;
        }
        let Ok(text) = fs::read_to_string(e.path()) else {
            continue;
        };
        let leader = text
            .lines()
            .find_map(|l| l.strip_prefix("LEADER="))
            .and_then(|v| v.trim().parse::<i32>().ok());
        if let Some(pid) = leader {
            out.insert(pid, name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parents_are_told_apart() {
        let conmon = strings(&[
            "/usr/bin/conmon",
            "--api-version",
            "1",
            "-c",
            "abc123abc123abc1",
            "-u",
            "abc123abc123abc1",
            "-r",
            "/usr/sbin/runc",
            "-b",
            "/var/lib/containers/storage/vfs-containers/abc/userdata",
            "-p",
            "/run/pidfile",
            "-n",
            "pweb",
            "--exit-dir",
            "/x",
        ]);
        assert_eq!(
            parse_parent(&conmon),
            Some(Parent::Conmon {
                bundle: Some("/var/lib/containers/storage/vfs-containers/abc/userdata".into()),
                name: Some("pweb".into()),
                cid: Some("abc123abc123abc1".into()),
            })
        );
        let long = strings(&["conmon", "--bundle=/b", "--name=web"]);
        assert!(matches!(
            parse_parent(&long),
            Some(Parent::Conmon { bundle: Some(b), name: Some(n), .. }) if b == Path::new("/b") && n == "web"
        ));
        // a flag with its value missing at the end is no panic
        assert!(matches!(
            parse_parent(&strings(&["conmon", "-n"])),
            Some(Parent::Conmon { name: None, .. })
        ));
        assert_eq!(
            parse_parent(&strings(&[
                "/usr/bin/containerd-shim-runc-v2",
                "-namespace",
                "moby",
                "-id",
                "c1",
                "-address",
                "/run/containerd/containerd.sock"
            ])),
            Some(Parent::Shim {
                bundle: None,
                id: Some("c1".into())
            })
        );
        assert_eq!(
            parse_parent(&strings(&["[lxc monitor] /var/lib/lxc web"])),
            Some(Parent::LxcMonitor { name: "web".into() })
        );
        assert_eq!(parse_parent(&strings(&["bash", "-c", "x"])), None);
        assert_eq!(parse_parent(&[]), None);
    }

    #[test]
    fn kubernetes_annotations_of_both_cri_runtimes() {
        let ann = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let containerd = ann(&[
            ("io.kubernetes.cri.container-type", "container"),
            ("io.kubernetes.cri.sandbox-name", "web-0"),
            ("io.kubernetes.cri.sandbox-namespace", "prod"),
            ("io.kubernetes.cri.container-name", "app"),
            ("io.kubernetes.cri.image-name", "docker.io/library/nginx:1"),
        ]);
        let k = kube_of(&containerd).unwrap();
        assert_eq!(
            (
                k.pod.as_str(),
                k.namespace.as_deref(),
                k.container.as_deref()
            ),
            ("web-0", Some("prod"), Some("app"))
        );
        assert_eq!(k.image.as_deref(), Some("docker.io/library/nginx:1"));
        let sandbox = ann(&[
            ("io.kubernetes.cri.container-type", "sandbox"),
            ("io.kubernetes.cri.sandbox-name", "web-0"),
        ]);
        assert_eq!(kube_of(&sandbox).unwrap().container, None);
        let crio = ann(&[
            ("io.kubernetes.pod.name", "db-1"),
            ("io.kubernetes.pod.namespace", "stage"),
            ("io.kubernetes.container.name", "pg"),
            ("io.kubernetes.cri-o.ContainerType", "container"),
        ]);
        let k = kube_of(&crio).unwrap();
        assert_eq!(
            (
                k.pod.as_str(),
                k.namespace.as_deref(),
                k.container.as_deref()
            ),
            ("db-1", Some("stage"), Some("pg"))
        );
        assert!(kube_of(&ann(&[("io.kubernetes.cri.sandbox-name", "")])).is_none());
        assert!(kube_of(&BTreeMap::new()).is_none());
    }

    #[test]
    fn docker_records_from_its_files() {
        let t = tempfile::tempdir().unwrap();
        let id = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f";
        let dir = t.path().join("containers").join(id);
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("config.v2.json"),
            r#"{"Name":"/web","Created":"2026-12-04T10:00:00.5Z","Config":{"Image":"busybox","Hostname":"h1"},
                "State":{"Running":true,"Paused":false},"Extra":[1,2]}"#,
        )
        .unwrap();
        fs::write(
            dir.join("hostconfig.json"),
            r#"{"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}],"53/udp":[{"HostIp":"127.0.0.1","HostPort":"5353"}],"9/tcp":null}}"#,
        )
        .unwrap();
        let mut rec = Records::default();
        assert_eq!(read_docker(&dir, &mut rec), Some(Some("web".into())));
        assert_eq!(rec.image.as_deref(), Some("busybox"));
        assert_eq!(rec.status.as_deref(), Some("running"));
        assert_eq!(rec.created.as_deref(), Some("2026-12-04T10:00:00.5Z"));
        assert_eq!(rec.hostname.as_deref(), Some("h1"));
        assert_eq!(
            rec.ports,
            Some(vec![
                "127.0.0.1:5353->53/udp".to_string(),
                "0.0.0.0:8080->80/tcp".to_string()
            ])
        );
        // the hostname mount points at the folder
        let cfg: OciConfig = serde_json::from_str(&format!(
            r#"{{"mounts":[{{"destination":"/proc","source":"proc"}},
               {{"destination":"/etc/hostname","source":"{}/hostname"}}]}}"#,
            dir.display()
        ))
        .unwrap();
        assert_eq!(docker_dir_from_mounts(&cfg, id), Some(dir.clone()));
        // malformed or vanished files leave everything unknown
        fs::write(dir.join("config.v2.json"), "{\"Name\": ").unwrap();
        let mut rec = Records::default();
        assert_eq!(read_docker(&dir, &mut rec), None);
        assert_eq!(rec, Records::default());
        assert_eq!(read_docker(&t.path().join("gone"), &mut rec), None);
    }

    #[test]
    fn podman_storage_and_machines() {
        let t = tempfile::tempdir().unwrap();
        let cdir = t.path().join("vfs-containers");
        fs::create_dir_all(cdir.join("abc/userdata")).unwrap();
        fs::write(
            cdir.join("containers.json"),
            r#"[{"id":"abc","names":["pweb"],"image":"deadbeef","layer":"x",
                 "metadata":"{\"image-name\":\"localhost/img:latest\",\"name\":\"pweb\"}",
                 "created":"2026-12-04T10:00:00Z"}]"#,
        )
        .unwrap();
        fs::write(
            cdir.join("abc/userdata/config.json"),
            r#"{"hostname":"pweb-host","annotations":{"io.container.manager":"libpod"}}"#,
        )
        .unwrap();
        assert_eq!(storage_files(t.path()), vec![cdir.join("containers.json")]);
        let sources = Sources::default();
        let r = Reader::new(&sources);
        let bundle = cdir.join("abc/userdata");
        let found = r.read(&Seen {
            id: "abc",
            runtime: "runc",
            name: None,
            ppid: 0,
            pid: 0,
            launcher: None,
            bundle: Some(&bundle),
        });
        assert_eq!(found.name.as_deref(), Some("pweb"));
        assert_eq!(found.runtime, Some("podman"));
        assert_eq!(found.records.image.as_deref(), Some("localhost/img:latest"));
        assert_eq!(found.records.hostname.as_deref(), Some("pweb-host"));
        assert_eq!(found.records.files.len(), 2);

        let m = t.path().join("machines");
        fs::create_dir_all(&m).unwrap();
        fs::write(m.join("box"), "NAME=box\nLEADER=4242\nCLASS=container\n").unwrap();
        fs::write(m.join("unit:machine-box.scope"), "box").unwrap();
        let got = read_machines(&m);
        assert_eq!(got.get(&4242).map(String::as_str), Some("box"));
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn sources_from_the_environment_split_lists() {
        let s = Sources::default();
        assert_eq!(s.docker_root, Path::new(DEFAULT_DOCKER_ROOT));
        assert_eq!(s.podman_roots, vec![PathBuf::from(DEFAULT_PODMAN_ROOT)]);
    }
}

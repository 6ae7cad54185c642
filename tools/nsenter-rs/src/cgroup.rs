//! Joining a cgroup (create mode `--cgroup PATH`) and the target's cgroups (enter mode
//! `-c`). On a hybrid machine a path is joined in every v1 controller hierarchy where it
//! exists and in the cgroup2 hierarchy at `/sys/fs/cgroup/unified`; on pure v2 it is
//! `/sys/fs/cgroup/PATH`.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, IoContext};

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Is `/sys/fs/cgroup` itself a cgroup2 mount (pure v2)?
pub fn pure_v2(root: &Path) -> bool {
    nix::sys::statfs::statfs(root)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// The hierarchy roots under `root`: one directory per mounted hierarchy. Symlinks (such
/// as `cpu -> cpu,cpuacct`) are left out: they name a directory listed beside them. (No
/// stat of each root: a path is later looked up below each, which is the check.)
fn hierarchies(root: &Path) -> Vec<PathBuf> {
    if pure_v2(root) {
        return vec![root.to_path_buf()];
    }
    let Ok(rd) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// The `cgroup.procs` files that `path` names: an absolute cgroupfs directory names itself;
/// any other path is taken below every hierarchy root where it exists.
pub fn procs_files(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let root = Path::new(CGROUP_ROOT);
    if path.starts_with(root) {
        let f = path.join("cgroup.procs");
        if !f.exists() {
            return Err(Error::Setup(format!(
                "{} is not a cgroup directory",
                path.display()
            )));
        }
        return Ok(vec![f]);
    }
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel
        .components()
        .any(|c| c == std::path::Component::ParentDir)
        || rel.as_os_str().is_empty()
    {
        return Err(Error::Usage(format!(
            "'{}' is not a cgroup path",
            path.display()
        )));
    }
    let files: Vec<PathBuf> = hierarchies(root)
        .into_iter()
        .map(|h| h.join(rel).join("cgroup.procs"))
        .filter(|f| f.exists())
        .collect();
    if files.is_empty() {
        return Err(Error::Setup(format!(
            "cgroup '{}' exists in no hierarchy under {CGROUP_ROOT} (create it first, e.g. with cgset)",
            path.display()
        )));
    }
    Ok(files)
}

/// For `--cgroup-mount`: each `cgroup.procs` file's directory and where it goes under
/// /sys/fs/cgroup ("" for the whole of it on pure v2; else the hierarchy's folder name).
pub fn mount_sources(files: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let root = Path::new(CGROUP_ROOT);
    let v2 = pure_v2(root);
    files
        .iter()
        .filter_map(|f| {
            let dir = f.parent()?;
            let name = if v2 {
                String::new()
            } else {
                let rel = dir.strip_prefix(root).ok()?;
                rel.components()
                    .next()?
                    .as_os_str()
                    .to_string_lossy()
                    .into_owned()
            };
            Some((dir.to_path_buf(), name))
        })
        .collect()
}

/// How a new child gets into its cgroup (create mode). Writing a pid to `cgroup.procs`
/// takes the kernel's threadgroup lock for writing, which first waits for an RCU grace
/// period: 2 ms typically, 20 ms at worst, on every container start. Two ways need no such
/// wait: clone3 with CLONE_INTO_CGROUP makes the child in its cgroup2 directory, and a
/// single-threaded child moving itself ("0") through a v1 hierarchy's `tasks` file moves one
/// thread, not a thread group. What neither covers the parent writes to `cgroup.procs`.
#[derive(Debug, Default)]
pub struct Birth {
    /// The cgroup2 directory for CLONE_INTO_CGROUP, and its `cgroup.procs` should clone3
    /// refuse it.
    pub v2: Option<(OwnedFd, PathBuf)>,
    /// v1 `tasks` files the child writes "0" into.
    pub child_tasks: Vec<PathBuf>,
    /// `cgroup.procs` files the parent writes the child's pid into.
    pub by_parent: Vec<PathBuf>,
}

impl Birth {
    /// Sort `files` (from [`procs_files`]). `child_may_join` is false when the child will be
    /// in a new user namespace, where the host's cgroup files may not be writable.
    pub fn plan(files: &[PathBuf], child_may_join: bool) -> Birth {
        let mut b = Birth::default();
        for f in files {
            let Some(dir) = f.parent() else {
                b.by_parent.push(f.clone());
                continue;
            };
            // a v1 cgroup has a `tasks` file, a cgroup2 one has not
            let v1 = dir.join("tasks").is_file();
            let v2 = !v1
                && nix::sys::statfs::statfs(dir)
                    .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
            if v2 && b.v2.is_none() {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
                match rustix::fs::open(dir, flags, Mode::empty()) {
                    Ok(fd) => b.v2 = Some((fd, f.clone())),
                    Err(_) => b.by_parent.push(f.clone()),
                }
            } else if v1 && child_may_join {
                b.child_tasks.push(dir.join("tasks"));
            } else {
                b.by_parent.push(f.clone());
            }
        }
        b
    }
}

/// In the child: move our only thread into each v1 hierarchy's cgroup (see [`Birth`]).
pub fn join_self(tasks: &[PathBuf]) -> Result<(), Error> {
    for f in tasks {
        fs::write(f, "0").io(|| format!("cannot move into {}", f.display()))?;
    }
    Ok(())
}

/// Move `pid` into each of `files`.
pub fn join(pid: i32, files: &[PathBuf]) -> Result<(), Error> {
    for f in files {
        fs::write(f, format!("{pid}\n"))
            .io(|| format!("cannot move process {pid} into {}", f.display()))?;
    }
    Ok(())
}

/// The `cgroup.procs` files of the cgroups `target` is in, one per hierarchy.
pub fn target_procs_files(target: i32) -> Result<Vec<PathBuf>, Error> {
    let entries =
        common::ns::proc_cgroup(target).io(|| format!("cannot read /proc/{target}/cgroup"))?;
    let root = Path::new(CGROUP_ROOT);
    let v2 = pure_v2(root);
    let mut files = Vec::new();
    for e in entries {
        let rel = e.path.trim_start_matches('/');
        let base = if e.hierarchy == 0 {
            if v2 {
                root.to_path_buf()
            } else {
                root.join("unified")
            }
        } else if let Some(name) = e.controllers.iter().find_map(|c| c.strip_prefix("name=")) {
            root.join(name)
        } else {
            root.join(e.controllers.join(","))
        };
        let f = base.join(rel).join("cgroup.procs");
        if f.exists() {
            files.push(f);
        }
    }
    Ok(files)
}

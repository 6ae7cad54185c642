//! The write side of cgroups: create, enable controllers, attach, freeze, kill, delete.
//! Paths are relative to the hierarchy root and rooted at an injectable mount point
//! (`--cgroup-root`), so the same code runs against fake trees in tests.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::cgroup::{Hierarchy, Mount, Version, join};
use common::undo::Undo;
use nix::sys::signal::Signal;

use crate::error::{Error, Result, errno_name};

/// The controllers a cgset cgroup is created for, in every hierarchy that holds one.
pub const MANAGED_V1: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "blkio", "devices",
];

/// v2 controllers enabled for new cgroups when the parent offers them.
pub const DEFAULT_V2: &[&str] = &["cpu", "memory", "pids", "io"];

pub struct Cg {
    pub h: Hierarchy,
}

/// Write `value` to a cgroup file (one `write(2)`; no file is ever created).
pub fn write_file(file: &Path, value: &str) -> Result<()> {
    let r = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(file)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    r.map_err(|source| {
        let errno = errno_name(&source);
        let hint = hint_for(file, &source);
        Error::Write {
            path: file.to_path_buf(),
            value: value.to_string(),
            errno,
            hint,
            source,
        }
    })
}

fn hint_for(file: &Path, e: &io::Error) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let h = match (e.raw_os_error().unwrap_or(0), name.as_str()) {
        (libc::ENOENT, _) => {
            "no such file: the controller is not enabled for this cgroup or the kernel lacks this knob"
        }
        (libc::EBUSY, "memory.limit_in_bytes") | (libc::EBUSY, "memory.memsw.limit_in_bytes") => {
            "the cgroup already uses more than the new limit and could not reclaim it"
        }
        (libc::EINVAL, "memory.limit_in_bytes") => {
            "on cgroup v1 memory.limit_in_bytes may not exceed memory.memsw.limit_in_bytes"
        }
        (libc::EINVAL, "memory.memsw.limit_in_bytes") => {
            "memory+swap must be at least the memory limit"
        }
        (libc::EINVAL, "cpuset.cpus") | (libc::EINVAL, "cpuset.mems") => {
            "the CPUs or nodes must exist and lie within the parent's"
        }
        (libc::ENOSPC, "cgroup.procs") => {
            "on cgroup v1 cpuset.cpus and cpuset.mems must be set first"
        }
        (libc::ESRCH, "cgroup.procs") => "no such process",
        (libc::EACCES, _) | (libc::EPERM, _) => {
            "permission denied: run as root or delegate the cgroup"
        }
        _ => "",
    };
    if h.is_empty() {
        String::new()
    } else {
        format!(": {h}")
    }
}

pub fn read_file(file: &Path) -> Result<String> {
    fs::read_to_string(file)
        .map(|s| s.trim_end().to_string())
        .map_err(|source| Error::Read {
            path: file.to_path_buf(),
            source,
        })
}

/// The pids listed in `dir/cgroup.procs` (empty if it cannot be read).
pub fn procs_in(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// `dir` and every directory below it, children before parents.
fn subtree_bottom_up(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                subtree_bottom_up(&e.path(), out);
            }
        }
    }
    out.push(dir.to_path_buf());
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

fn join_pids(pids: &[i32]) -> String {
    let mut s: Vec<String> = pids.iter().take(8).map(|p| p.to_string()).collect();
    if pids.len() > 8 {
        s.push(format!("... {} in all", pids.len()));
    }
    s.join(" ")
}

impl Cg {
    pub fn open(root: &Path) -> Result<Cg> {
        let h = Hierarchy::at(root).map_err(|source| Error::Detect {
            root: root.to_path_buf(),
            source,
        })?;
        common::debug!("hierarchy {} at {}", h.mode, h.root.display());
        Ok(Cg { h })
    }

    /// The mounts a cgset cgroup lives in: the v2 mount (if any) and every v1 hierarchy
    /// holding a managed controller (v1 first).
    pub fn managed_mounts(&self) -> Vec<&Mount> {
        let mut v: Vec<&Mount> = self
            .h
            .v1
            .iter()
            .filter(|m| {
                m.controllers
                    .iter()
                    .any(|c| MANAGED_V1.contains(&c.as_str()))
            })
            .collect();
        v.extend(self.h.unified.as_ref());
        v
    }

    /// Every mount, managed or not (for delete: the user named the path).
    pub fn all_mounts(&self) -> Vec<&Mount> {
        let mut v: Vec<&Mount> = self.h.v1.iter().collect();
        v.extend(self.h.unified.as_ref());
        v
    }

    /// The directories of `path` that exist.
    pub fn existing_dirs(&self, path: &str) -> Vec<PathBuf> {
        self.all_mounts()
            .into_iter()
            .map(|m| join(&m.path, path))
            .filter(|d| d.is_dir())
            .collect()
    }

    pub fn exists(&self, path: &str) -> bool {
        path.is_empty() || !self.existing_dirs(path).is_empty()
    }

    pub fn require(&self, path: &str) -> Result<()> {
        if self.exists(path) {
            Ok(())
        } else {
            Err(Error::NotFound {
                path: path.to_string(),
            })
        }
    }

    /// The directory of `path` for `controller`; the controller must be available and the
    /// cgroup must exist in its hierarchy.
    pub fn dir_of(&self, controller: &str, path: &str) -> Result<(Version, PathBuf)> {
        let Some(m) = self.h.mount_of(controller) else {
            return Err(self.unavailable(controller));
        };
        let d = join(&m.path, path);
        if !d.is_dir() {
            return Err(Error::NotFound {
                path: format!(
                    "{path}' in the {controller} hierarchy ({}",
                    m.path.display()
                ),
            });
        }
        Ok((m.version, d))
    }

    pub fn unavailable(&self, controller: &str) -> Error {
        let hint = match &self.h.unified {
            Some(u) if self.h.v1.is_empty() => format!(
                "{} does not list it in cgroup.controllers (the kernel lacks it, or it is bound to a v1 hierarchy)",
                u.path.display()
            ),
            _ => format!(
                "no hierarchy under {} holds it (mount it, e.g. mount -t cgroup -o {c} cgroup {}/{c})",
                self.h.root.display(),
                self.h.root.display(),
                c = common::cgroup::v1_name(controller)
            ),
        };
        Error::Unavailable {
            controller: controller.to_string(),
            hint,
        }
    }

    /// Create `path` in every managed hierarchy. Returns whether it was new and the undo
    /// of what was made (rmdir, newest first).
    pub fn create(
        &self,
        path: &str,
        parent_ok: bool,
        exist_ok: bool,
        undo: &mut Undo,
    ) -> Result<bool> {
        if path.is_empty() {
            return Err(Error::Usage("the root cgroup cannot be created".into()));
        }
        let existed = self.exists(path);
        if existed && !exist_ok {
            return Err(Error::Exists {
                path: path.to_string(),
            });
        }
        let parent = parent_of(path);
        if !parent_ok && !self.exists(parent) {
            return Err(Error::NoParent {
                parent: parent.to_string(),
            });
        }
        let parts: Vec<&str> = path.split('/').collect();
        for m in self.managed_mounts() {
            let is_cpuset_v1 =
                m.version == Version::V1 && m.controllers.iter().any(|c| c == "cpuset");
            let mut cur = m.path.clone();
            for p in &parts {
                let parent_dir = cur.clone();
                cur.push(p);
                if cur.is_dir() {
                    continue;
                }
                match fs::create_dir(&cur) {
                    Ok(()) => {
                        let d = cur.clone();
                        undo.push(format!("remove {}", d.display()), move || {
                            fs::remove_dir(&d)
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(source) => return Err(Error::Mkdir { path: cur, source }),
                }
                if is_cpuset_v1 {
                    fill_cpuset(&parent_dir, &cur)?;
                }
            }
        }
        Ok(!existed)
    }

    /// v2: make `controllers` (v2 names) available to `path` by enabling them in every
    /// ancestor's `cgroup.subtree_control` where missing. `required` ones must succeed;
    /// the others are skipped where an ancestor does not offer them.
    pub fn enable_v2(
        &self,
        path: &str,
        controllers: &BTreeSet<String>,
        required: &BTreeSet<String>,
        leaf: bool,
    ) -> Result<()> {
        let Some(u) = &self.h.unified else {
            return Ok(());
        };
        let parts: Vec<&str> = if path.is_empty() {
            vec![]
        } else {
            path.split('/').collect()
        };
        'ctl: for c in controllers {
            if self.h.version_of(c) != Some(Version::V2) {
                continue;
            }
            for i in 0..parts.len() {
                let anc = parts[..i].join("/");
                let dir = join(&u.path, &anc);
                let enabled = read_file(&dir.join("cgroup.subtree_control")).unwrap_or_default();
                if enabled.split_whitespace().any(|x| x == c) {
                    continue;
                }
                let offered = read_file(&dir.join("cgroup.controllers")).unwrap_or_default();
                if !offered.split_whitespace().any(|x| x == c) {
                    if required.contains(c) {
                        let at = if anc.is_empty() {
                            "the root cgroup".to_string()
                        } else {
                            format!("'{anc}'")
                        };
                        return Err(Error::Unavailable {
                            controller: c.clone(),
                            hint: format!(
                                "{at} does not offer it (not in {}/cgroup.controllers): enable it in its parent's \
                                 cgroup.subtree_control (echo +{c} > .../cgroup.subtree_control) or have it delegated",
                                dir.display()
                            ),
                        });
                    }
                    continue 'ctl;
                }
                self.enable_one(&anc, &dir, c, leaf)?;
            }
        }
        Ok(())
    }

    fn enable_one(&self, anc: &str, dir: &Path, c: &str, leaf: bool) -> Result<()> {
        let file = dir.join("cgroup.subtree_control");
        // Check first: a populated non-root cgroup refuses domain controllers (EBUSY), and
        // once a threaded one (cpu, pids) is enabled over its processes it becomes a thread
        // root that refuses the rest (EOPNOTSUPP).
        if !anc.is_empty() && !procs_in(dir).is_empty() {
            self.make_leaf(anc, dir, c, leaf)?;
        }
        match write_file(&file, &format!("+{c}")) {
            Err(Error::Write { source, .. })
                if matches!(
                    source.raw_os_error(),
                    Some(libc::EBUSY) | Some(libc::EOPNOTSUPP)
                ) && !anc.is_empty()
                    && !procs_in(dir).is_empty() =>
            {
                self.make_leaf(anc, dir, c, leaf)?;
                write_file(&file, &format!("+{c}"))
            }
            r => r,
        }
    }

    /// The 'no internal processes' rule: explain it, or (`leaf`) move the processes of
    /// `dir` into its child `leaf`.
    fn make_leaf(&self, anc: &str, dir: &Path, c: &str, leaf: bool) -> Result<()> {
        let pids = procs_in(dir);
        if !leaf {
            return Err(Error::InternalProcesses {
                path: anc.to_string(),
                controller: c.to_string(),
                pids: join_pids(&pids),
            });
        }
        let leaf_dir = dir.join("leaf");
        if !leaf_dir.is_dir() {
            fs::create_dir(&leaf_dir).map_err(|source| Error::Mkdir {
                path: leaf_dir.clone(),
                source,
            })?;
        }
        common::debug!(
            "moving {} process(es) from {} into {}",
            pids.len(),
            dir.display(),
            leaf_dir.display()
        );
        for _ in 0..3 {
            for p in procs_in(dir) {
                match write_file(&leaf_dir.join("cgroup.procs"), &p.to_string()) {
                    Err(Error::Write { source, .. })
                        if source.raw_os_error() == Some(libc::ESRCH) => {}
                    r => r?,
                }
            }
            if procs_in(dir).is_empty() {
                break;
            }
        }
        Ok(())
    }

    /// Move `pid` ("0" = the caller) into `path` in every hierarchy where it exists.
    pub fn attach(&self, path: &str, pid: &str) -> Result<()> {
        let mut any = false;
        for m in self.managed_mounts() {
            let d = join(&m.path, path);
            if !d.is_dir() {
                continue;
            }
            any = true;
            match write_file(&d.join("cgroup.procs"), pid) {
                Err(Error::Write { source, .. })
                    if m.version == Version::V2 && source.raw_os_error() == Some(libc::EBUSY) =>
                {
                    return Err(Error::NotLeaf {
                        path: path.to_string(),
                        pid: pid.to_string(),
                        controllers: read_file(&d.join("cgroup.subtree_control"))
                            .unwrap_or_default(),
                    });
                }
                Err(Error::Write { source, hint, .. }) => {
                    return Err(Error::Attach {
                        path: d.join("cgroup.procs"),
                        pid: pid.to_string(),
                        source: io::Error::new(
                            source.kind(),
                            format!("{} ({}){hint}", source, errno_name(&source)),
                        ),
                    });
                }
                r => r?,
            }
        }
        if any {
            Ok(())
        } else {
            Err(Error::NotFound {
                path: path.to_string(),
            })
        }
    }

    /// The processes in `path` (and its descendants with `recursive`), over every hierarchy.
    pub fn pids(&self, path: &str, recursive: bool) -> BTreeSet<i32> {
        let mut out = BTreeSet::new();
        for d in self.existing_dirs(path) {
            if recursive {
                let mut all = Vec::new();
                subtree_bottom_up(&d, &mut all);
                for x in all {
                    out.extend(procs_in(&x));
                }
            } else {
                out.extend(procs_in(&d));
            }
        }
        out
    }

    /// Freeze (`on`) or thaw the subtree and wait for the kernel to finish.
    pub fn freeze(&self, path: &str, on: bool, wait: Duration) -> Result<()> {
        self.require(path)?;
        let deadline = Instant::now() + wait;
        let verb = if on { "freeze" } else { "thaw" };
        if self.h.version_of("freezer") == Some(Version::V1) {
            let (_, d) = self.dir_of("freezer", path)?;
            let want = if on { "FROZEN" } else { "THAWED" };
            write_file(&d.join("freezer.state"), want)?;
            loop {
                if read_file(&d.join("freezer.state"))? == want {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err(Error::Timeout {
                        what: format!("{verb} '{path}'"),
                        secs: wait.as_secs_f64(),
                    });
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let Some(d) = self
            .h
            .unified_dir(path)
            .filter(|d| d.join("cgroup.freeze").is_file())
        else {
            return Err(self.unavailable("freezer"));
        };
        write_file(&d.join("cgroup.freeze"), if on { "1" } else { "0" })?;
        let want = if on { "frozen 1" } else { "frozen 0" };
        loop {
            if read_file(&d.join("cgroup.events"))?
                .lines()
                .any(|l| l == want)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: format!("{verb} '{path}'"),
                    secs: wait.as_secs_f64(),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn can_freeze(&self, path: &str) -> bool {
        match self.h.version_of("freezer") {
            Some(Version::V1) => self.dir_of("freezer", path).is_ok(),
            _ => self
                .h
                .unified_dir(path)
                .is_some_and(|d| d.join("cgroup.freeze").is_file()),
        }
    }

    /// Signal every process in the subtree. SIGKILL uses v2 `cgroup.kill` where the kernel
    /// has it, then waits until the subtree is empty; otherwise (and for what `cgroup.kill`
    /// cannot reach, such as processes only in v1 hierarchies) freeze, signal, thaw, repeat.
    pub fn kill(&self, path: &str, sig: Signal, wait: Duration) -> Result<()> {
        self.require(path)?;
        let deadline = Instant::now() + wait;
        if sig == Signal::SIGKILL {
            if let Some(d) = self
                .h
                .unified_dir(path)
                .filter(|d| d.join("cgroup.kill").is_file())
            {
                write_file(&d.join("cgroup.kill"), "1")?;
            }
        }
        let freeze = self.can_freeze(path);
        loop {
            let pids = self.pids(path, true);
            if pids.is_empty() {
                return Ok(());
            }
            if sig == Signal::SIGKILL && Instant::now() > deadline {
                return Err(Error::Timeout {
                    what: format!(
                        "waiting for '{path}' to empty (left: {})",
                        join_pids(&pids.into_iter().collect::<Vec<_>>())
                    ),
                    secs: wait.as_secs_f64(),
                });
            }
            if freeze {
                self.freeze(path, true, Duration::from_secs(2)).ok();
            }
            for p in self.pids(path, true) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), sig);
            }
            if freeze {
                self.freeze(path, false, Duration::from_secs(2))?;
            }
            if sig != Signal::SIGKILL {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Remove the subtree of `path` in every hierarchy, bottom-up. Goes as far as it can and
    /// reports every failure.
    pub fn delete(&self, path: &str, kill: bool, wait: Duration, missing_ok: bool) -> Result<()> {
        if path.is_empty() {
            return Err(Error::Usage("the root cgroup cannot be deleted".into()));
        }
        let dirs = self.existing_dirs(path);
        if dirs.is_empty() {
            return if missing_ok {
                Ok(())
            } else {
                Err(Error::NotFound {
                    path: path.to_string(),
                })
            };
        }
        let pids: Vec<i32> = self.pids(path, true).into_iter().collect();
        if !pids.is_empty() {
            if !kill {
                return Err(Error::Populated {
                    path: path.to_string(),
                    pids: join_pids(&pids),
                });
            }
            self.kill(path, Signal::SIGKILL, wait)?;
        }
        let deadline = Instant::now() + wait;
        let mut errors = Vec::new();
        for d in dirs {
            let mut all = Vec::new();
            subtree_bottom_up(&d, &mut all);
            for x in all {
                loop {
                    match fs::remove_dir(&x) {
                        Ok(()) => break,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                        Err(e)
                            if e.raw_os_error() == Some(libc::EBUSY)
                                && Instant::now() < deadline =>
                        {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => {
                            errors.push(format!(
                                "cannot remove {}: {e} ({})",
                                x.display(),
                                errno_name(&e)
                            ));
                            break;
                        }
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Several(errors.join("; ")))
        }
    }
}

/// v1 cpuset: a new cgroup starts with empty cpus/mems and cannot take processes until
/// they are set; copy the parent's.
fn fill_cpuset(parent: &Path, child: &Path) -> Result<()> {
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let cur = read_file(&child.join(f)).unwrap_or_default();
        if cur.is_empty() {
            let p = read_file(&parent.join(f))?;
            write_file(&child.join(f), &p)?;
        }
    }
    Ok(())
}

/// v1 cpuset: make sure every ancestor of `path` (below the root) has cpus and mems.
pub fn fill_cpuset_ancestors(cpuset_mount: &Path, path: &str) -> Result<()> {
    let mut cur = cpuset_mount.to_path_buf();
    for p in path.split('/').filter(|p| !p.is_empty()) {
        let parent = cur.clone();
        cur.push(p);
        if cur.is_dir() {
            fill_cpuset(&parent, &cur)?;
        }
    }
    Ok(())
}

//! Namespace kinds and the `/proc/PID/ns/*` and `/proc/PID/cgroup` look-ups that more than
//! one tool needs (read with the procfs crate).

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use procfs::process::Process;
use procfs::{FromRead, ProcError};

use crate::parse::ParseError;

/// A namespace type, named as in `/proc/PID/ns/` and util-linux.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum NsKind {
    User,
    Cgroup,
    Ipc,
    Uts,
    Net,
    Pid,
    Time,
    Mnt,
}

impl NsKind {
    /// Every kind, in the order namespaces are joined: user first (it may grant the
    /// rights to join the rest), mnt last (it changes what paths mean).
    pub const ALL: [NsKind; 8] = [
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Net,
        NsKind::Pid,
        NsKind::Time,
        NsKind::Mnt,
    ];

    /// The file name under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::Mnt => "mnt",
            NsKind::Uts => "uts",
            NsKind::Ipc => "ipc",
            NsKind::Net => "net",
            NsKind::Pid => "pid",
            NsKind::User => "user",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }

    /// The `CLONE_NEW*` flag for `unshare(2)` and `setns(2)`.
    pub fn clone_flag(self) -> i32 {
        match self {
            NsKind::Mnt => libc::CLONE_NEWNS,
            NsKind::Uts => libc::CLONE_NEWUTS,
            NsKind::Ipc => libc::CLONE_NEWIPC,
            NsKind::Net => libc::CLONE_NEWNET,
            NsKind::Pid => libc::CLONE_NEWPID,
            NsKind::User => libc::CLONE_NEWUSER,
            NsKind::Cgroup => libc::CLONE_NEWCGROUP,
            NsKind::Time => libc::CLONE_NEWTIME,
        }
    }

    /// `/proc/PID/ns/<kind>`
    pub fn proc_path(self, pid: i32) -> PathBuf {
        PathBuf::from(format!("/proc/{pid}/ns/{}", self.proc_name()))
    }
}

impl fmt::Display for NsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proc_name())
    }
}

impl std::str::FromStr for NsKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<NsKind, ParseError> {
        let t = s.trim().to_ascii_lowercase();
        NsKind::ALL
            .into_iter()
            .find(|k| k.proc_name() == t || (t == "mount" && *k == NsKind::Mnt))
            .ok_or_else(|| {
                ParseError::new(format!(
                    "unknown namespace type '{s}' (expected pid, mnt, uts, ipc, net, user, cgroup, time)"
                ))
            })
    }
}

/// Parse `pid,mnt,net`: a comma list of namespace kinds, without repeats.
pub fn parse_ns_list(s: &str) -> Result<Vec<NsKind>, ParseError> {
    if s.trim().is_empty() {
        return Err(ParseError::new("empty namespace list"));
    }
    let mut kinds = Vec::new();
    for part in s.split(',') {
        let k: NsKind = part.parse()?;
        if kinds.contains(&k) {
            return Err(ParseError::new(format!(
                "namespace type '{part}' given twice"
            )));
        }
        kinds.push(k);
    }
    Ok(kinds)
}

/// The inode number that identifies the namespace of `kind` that `pid` is in
/// (what `readlink /proc/PID/ns/KIND` shows as `kind:[INODE]`).
pub fn ns_inode(pid: i32, kind: NsKind) -> io::Result<u64> {
    let all = Process::new(pid)
        .and_then(|p| p.namespaces())
        .map_err(io_error)?;
    all.0
        .get(OsStr::new(kind.proc_name()))
        .map(|n| n.identifier)
        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

/// A procfs error as the `io::Error` callers print (`No such file or directory (os error
/// 2)`, as the plain read gave, ...).
pub(crate) fn io_error(e: ProcError) -> io::Error {
    match e {
        ProcError::PermissionDenied(_) => io::Error::from_raw_os_error(libc::EACCES),
        ProcError::NotFound(_) => io::Error::from_raw_os_error(libc::ENOENT),
        ProcError::Io(e, _) => e,
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

/// One line of `/proc/PID/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CgroupEntry {
    pub hierarchy: u32,
    /// Empty for the v2 hierarchy (`0::/path`); `name=systemd` for named v1 hierarchies.
    pub controllers: Vec<String>,
    pub path: String,
}

impl From<procfs::ProcessCGroup> for CgroupEntry {
    fn from(c: procfs::ProcessCGroup) -> CgroupEntry {
        CgroupEntry {
            hierarchy: c.hierarchy,
            controllers: c.controllers,
            path: c.pathname,
        }
    }
}

/// Parse the text of `/proc/PID/cgroup` (empty when it is malformed).
pub fn parse_proc_cgroup(text: &str) -> Vec<CgroupEntry> {
    procfs::ProcessCGroups::from_read(text.as_bytes())
        .map(|c| c.into_iter().map(CgroupEntry::from).collect())
        .unwrap_or_default()
}

/// Read `/proc/PID/cgroup`.
pub fn proc_cgroup(pid: i32) -> io::Result<Vec<CgroupEntry>> {
    proc_cgroup_at(&Path::new("/proc").join(pid.to_string()))
}

/// Read `cgroup` in a process's folder (`/proc/PID`, or another procfs mount's).
pub fn proc_cgroup_at(dir: &Path) -> io::Result<Vec<CgroupEntry>> {
    let p = Process::new_with_root(dir.to_path_buf()).map_err(io_error)?;
    let c = p.cgroups().map_err(io_error)?;
    Ok(c.into_iter().map(CgroupEntry::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse() {
        assert_eq!(
            parse_ns_list("pid,mnt").unwrap(),
            vec![NsKind::Pid, NsKind::Mnt]
        );
        assert_eq!("mount".parse::<NsKind>().unwrap(), NsKind::Mnt);
        assert!(
            parse_ns_list("pid,bogus")
                .unwrap_err()
                .to_string()
                .contains("bogus")
        );
        assert!(parse_ns_list("pid,pid").is_err());
        assert!(parse_ns_list("").is_err());
    }

    #[test]
    fn own_namespaces_have_inodes() {
        let me = std::process::id() as i32;
        assert!(ns_inode(me, NsKind::Net).unwrap() > 0);
    }

    #[test]
    fn procfs_errors_read_as_before() {
        let e = proc_cgroup(999_999_999).unwrap_err();
        assert_eq!(e.to_string(), "No such file or directory (os error 2)");
        let me = std::process::id() as i32;
        assert!(!proc_cgroup(me).unwrap().is_empty());
    }

    #[test]
    fn proc_cgroup_lines() {
        let e = parse_proc_cgroup("12:memory:/a/b\n1:name=systemd:/x\n0::/docker/abc\n");
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].controllers, vec!["memory"]);
        assert_eq!(e[2].hierarchy, 0);
        assert!(e[2].controllers.is_empty());
        assert_eq!(e[2].path, "/docker/abc");
    }
}

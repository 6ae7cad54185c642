//! Network namespaces: naming one (a PID or an nsfs file), and running a step inside one.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::sched::{CloneFlags, setns};

/// An open network namespace and how it was named.
#[derive(Debug)]
pub struct NetNs {
    pub file: File,
    /// The path opened (`/proc/PID/ns/net` for a PID).
    pub path: PathBuf,
    /// The namespace inode: its identity while it lives.
    pub inode: u64,
}

/// Where `NETNS` (a PID or a path) points.
pub fn netns_path(arg: &str) -> PathBuf {
    if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit()) {
        PathBuf::from(format!("/proc/{arg}/ns/net"))
    } else {
        PathBuf::from(arg)
    }
}

const NS_GET_NSTYPE: libc::c_ulong = 0xb703; // _IO(0xb7, 0x3)

/// Open `NETNS` and check that it is a network namespace.
pub fn open(arg: &str) -> io::Result<NetNs> {
    let path = netns_path(arg);
    let file = File::open(&path)?;
    // SAFETY: an ioctl without arguments on an owned, open fd.
    let kind = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE as _) };
    if kind != libc::CLONE_NEWNET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a network namespace",
        ));
    }
    let inode = file.metadata()?.ino();
    Ok(NetNs { file, path, inode })
}

/// The inode of the namespace at `path`, if it still exists.
pub fn inode_of(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Run `f` with this thread inside the network namespace `ns`, then come back.
pub fn with_netns<T>(ns: BorrowedFd<'_>, f: impl FnOnce() -> T) -> io::Result<T> {
    let home = File::open("/proc/thread-self/ns/net")?;
    setns(ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
    let out = f();
    if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        // We cannot go on in the wrong namespace: changes would land in the container.
        eprintln!(
            "{}: error: cannot return to the original network namespace: {e}",
            common::run::tool_name()
        );
        std::process::exit(common::exit::FAILURE);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_or_path() {
        assert_eq!(netns_path("42"), PathBuf::from("/proc/42/ns/net"));
        assert_eq!(netns_path("/run/netns/x"), PathBuf::from("/run/netns/x"));
    }

    #[test]
    fn own_netns_opens_and_others_do_not() {
        assert!(open("/proc/self/ns/net").is_ok());
        assert!(open("/proc/self/ns/mnt").is_err());
        assert!(open("/nonexistent/ns").is_err());
    }
}

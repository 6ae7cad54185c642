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
    if ns_type(file.as_fd()) != libc::CLONE_NEWNET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a network namespace",
        ));
    }
    let inode = file.metadata()?.ino();
    Ok(NetNs { file, path, inode })
}

/// The namespace type (`CLONE_NEW*`) of an nsfs descriptor: ioctl NS_GET_NSTYPE, which no
/// crate wraps; -1 for anything else.
fn ns_type(fd: BorrowedFd<'_>) -> libc::c_int {
    // SAFETY: NS_GET_NSTYPE takes no argument and touches no memory of ours; `fd` is open
    // for the whole call (borrowed).
    unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) }
}

/// The inode of the namespace at `path`, if it still exists.
pub fn inode_of(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Which network namespace a network was made in: the boot and the namespace's cookie
/// (`SO_NETNS_COOKIE`, never reused within a boot; the nsfs inode on kernels before 5.14).
/// Two records made in different namespaces never compare equal, and a record from an
/// earlier boot is recognisably stale.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostNs {
    pub boot_id: String,
    /// `cookie:N` or `inode:N`
    pub netns: String,
}

const SO_NETNS_COOKIE: libc::c_int = 71;

/// The network namespace this process is in.
pub fn current_host() -> io::Result<HostNs> {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_string();
    Ok(HostNs {
        boot_id,
        netns: current_netns_id()?,
    })
}

fn current_netns_id() -> io::Result<String> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    if let Some(cookie) = netns_cookie(sock.as_fd()) {
        return Ok(format!("cookie:{cookie}"));
    }
    let ino = std::fs::metadata("/proc/thread-self/ns/net")?.ino();
    Ok(format!("inode:{ino}"))
}

/// getsockopt(SO_NETNS_COOKIE) of a socket (Linux 5.14), which no crate wraps: the cookie
/// of the network namespace the socket was made in.
fn netns_cookie(sock: BorrowedFd<'_>) -> Option<u64> {
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: `cookie` and `len` live across the call, and `len` is the size of `cookie`:
    // the kernel writes at most that many bytes there; `sock` is open (borrowed).
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&raw mut cookie).cast(),
            &mut len,
        )
    };
    (rc == 0 && len as usize == std::mem::size_of::<u64>()).then_some(cookie)
}

/// Run `f` with this thread inside the network namespace `ns`, then come back.
pub fn with_netns<T>(ns: BorrowedFd<'_>, f: impl FnOnce() -> T) -> io::Result<T> {
    let home = File::open("/proc/thread-self/ns/net")?;
    setns(ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
    let out = f();
    go_home(&home);
    Ok(out)
}

/// Bring this thread back into the network namespace `home` (opened before it left).
fn go_home(home: &File) {
    if let Err(e) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
        // We cannot go on in the wrong namespace: changes would land in the other one.
        eprintln!(
            "{}: error: cannot return to the original network namespace: {e}",
            common::run::tool_name()
        );
        std::process::exit(common::exit::FAILURE);
    }
}

/// `attach --new-pin DIR`: a new network namespace, pinned at `DIR/net` by a bind mount of
/// its nsfs file -- what `nsenter-rs --new=net --pin DIR` makes, without a process of its
/// own. Dropped before [`Pinned::keep`], the pin goes again (and DIR, when made here).
pub struct Pinned {
    pub file: PathBuf,
    dir: Option<PathBuf>,
    mounted: bool,
}

impl Pinned {
    /// Keep the pin: the attach succeeded.
    pub fn keep(mut self) {
        self.file = PathBuf::new();
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if self.file.as_os_str().is_empty() {
            return;
        }
        if self.mounted {
            let _ = nix::mount::umount2(&self.file, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_file(&self.file);
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Make a new network namespace pinned at `dir/net` (see [`Pinned`]); this thread stays in
/// its own namespace.
pub fn new_pinned(dir: &std::path::Path) -> io::Result<Pinned> {
    use std::os::unix::fs::DirBuilderExt;
    let made = !dir.exists();
    if made {
        std::fs::DirBuilder::new().mode(0o700).create(dir)?;
    }
    let mut pin = Pinned {
        file: dir.join("net"),
        dir: made.then(|| dir.to_path_buf()),
        mounted: false,
    };
    // (a file already there is someone's pin: never taken over, never removed)
    if let Err(e) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&pin.file)
    {
        pin.file = PathBuf::new();
        if let Some(d) = &pin.dir {
            let _ = std::fs::remove_dir(d);
        }
        return Err(e);
    }
    let home = File::open("/proc/thread-self/ns/net")?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
    let bound = nix::mount::mount(
        Some("/proc/thread-self/ns/net"),
        &pin.file,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    );
    go_home(&home);
    bound.map_err(io::Error::from)?;
    pin.mounted = true;
    Ok(pin)
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
    fn the_current_namespace_has_a_stable_identity() {
        let a = current_host().unwrap();
        assert_eq!(a, current_host().unwrap());
        assert!(a.netns.starts_with("cookie:") || a.netns.starts_with("inode:"));
        assert_eq!(a.boot_id.len(), 36);
    }

    #[test]
    fn own_netns_opens_and_others_do_not() {
        assert!(open("/proc/self/ns/net").is_ok());
        assert!(open("/proc/self/ns/mnt").is_err());
        assert!(open("/nonexistent/ns").is_err());
    }
}

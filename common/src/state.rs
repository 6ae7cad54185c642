//! Where ctrkit keeps things, and how it writes them.
//!
//! - persistent data under `$CTRKIT_ROOT` (default `/var/lib/ctrkit`): layers, images, IPAM;
//! - runtime state under `$CTRKIT_STATE` (default `/run/ctrkit`): one folder per container,
//!   `$CTRKIT_STATE/containers/<name>/`, holding small files (`pid`, `rootfs`, `cgroup`,
//!   `net.json`, ...) that the tools and scripts read and write.
//!
//! Files are written atomically (temp file in the same folder, then rename), and
//! read-modify-write sequences take an flock on a lock file.
//!
//! Both trees are closed to other users (the CVE-2021-41091 class: a world-traversable store
//! lets any local user run an image's setuid binaries or read a container's files from the
//! host side): folders are 0700 and state files 0600. No other user needs a path in them: a
//! container reaches its root through the mount and pivot_root, never through these paths.

use rustix::fs::FlockOperation;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/var/lib/ctrkit";
pub const DEFAULT_STATE: &str = "/run/ctrkit";

/// Rootless: run by a user other than root (effective uid not 0). Such a user's data and
/// state default to folders of their own (see [`default_root`], [`default_state`]).
pub fn rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// `$CTRKIT_ROOT`'s default: `/var/lib/ctrkit` for root; for another user
/// `$XDG_DATA_HOME/ctrkit`, else `$HOME/.local/share/ctrkit`, else
/// `/tmp/ctrkit-UID/data` (a folder of their own, 0700).
pub fn default_root() -> PathBuf {
    if !rootless() {
        return PathBuf::from(DEFAULT_ROOT);
    }
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    match (var("XDG_DATA_HOME"), var("HOME")) {
        (Some(d), _) if d.is_absolute() => d.join("ctrkit"),
        (_, Some(h)) if h.is_absolute() => h.join(".local/share/ctrkit"),
        _ => user_tmp().join("data"),
    }
}

/// `$CTRKIT_STATE`'s default: `/run/ctrkit` for root; for another user
/// `$XDG_RUNTIME_DIR/ctrkit`, else `/tmp/ctrkit-UID` (0700, made by the first tool to write).
pub fn default_state() -> PathBuf {
    if !rootless() {
        return PathBuf::from(DEFAULT_STATE);
    }
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(d) if d.is_absolute() => d.join("ctrkit"),
        _ => user_tmp(),
    }
}

/// `/tmp/ctrkit-UID`: a rootless user's state when there is no `$XDG_RUNTIME_DIR`.
fn user_tmp() -> PathBuf {
    PathBuf::from(format!("/tmp/ctrkit-{}", nix::unistd::geteuid()))
}

/// The mode of every folder ctrkit keeps its data or state in.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every state file ctrkit writes.
pub const FILE_MODE: u32 = 0o600;

/// What [`private_dir`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Private {
    /// The folder was there with no access for other users.
    Kept,
    /// The folder was made, mode 0700.
    Created,
    /// The folder was there with a looser mode (the old one), now 0700.
    Tightened(u32),
}

/// Make sure `path` is a folder closed to other users: create it 0700 (whatever the umask),
/// or take group and other access away from an existing one. A symlink is refused (its
/// target would be tightened, or a looser folder used), and so is a folder owned by another
/// user than the caller (it is not ours to close).
pub fn private_dir(path: &Path) -> io::Result<Private> {
    let made = match fs::DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(e),
    };
    let m = fs::symlink_metadata(path)?;
    if !m.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not a folder",
        ));
    }
    let mode = m.mode() & 0o7777;
    if made {
        // mkdir's mode is masked by the umask: set it whole
        if mode != DIR_MODE {
            fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE))?;
        }
        return Ok(Private::Created);
    }
    if mode & 0o077 == 0 {
        return Ok(Private::Kept);
    }
    if m.uid() != nix::unistd::geteuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "mode {mode:04o} gives other users access, and its owner (uid {}) is not us",
                m.uid()
            ),
        ));
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode & !0o077))?;
    Ok(Private::Tightened(mode))
}

/// `--root` and `--state-dir`, falling back to `$CTRKIT_ROOT` and `$CTRKIT_STATE`.
/// Flatten into a tool's `Cli` with `#[command(flatten)]`.
#[derive(Debug, Clone, clap::Args)]
pub struct Dirs {
    /// Persistent data (layers, images, IPAM); not run by root: $XDG_DATA_HOME/ctrkit, else
    /// ~/.local/share/ctrkit
    #[arg(long, value_name = "DIR", env = "CTRKIT_ROOT", hide_env_values = true, default_value_os_t = default_root(), global = true)]
    pub root: PathBuf,
    /// Runtime state (one folder per container); not run by root: $XDG_RUNTIME_DIR/ctrkit,
    /// else /tmp/ctrkit-UID
    #[arg(long = "state-dir", value_name = "DIR", env = "CTRKIT_STATE", hide_env_values = true, default_value_os_t = default_state(), global = true)]
    pub state_dir: PathBuf,
}

impl Dirs {
    /// The locations from the environment alone (for tools whose `--root` means
    /// something else, such as nsenter-rs).
    pub fn from_env() -> Dirs {
        let get = |k: &str, d: fn() -> PathBuf| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(d)
        };
        Dirs {
            root: get("CTRKIT_ROOT", default_root),
            state_dir: get("CTRKIT_STATE", default_state),
        }
    }

    /// `$CTRKIT_STATE/containers`
    pub fn containers_dir(&self) -> PathBuf {
        self.state_dir.join("containers")
    }

    /// `$CTRKIT_STATE/containers/<name>`
    pub fn container_dir(&self, name: &str) -> PathBuf {
        self.containers_dir().join(name)
    }
}

/// Write `data` to `path` atomically, mode 0600: a temp file in the same folder, then rename. Readers
/// see the old content or the new, never a part. Not synced to disk: an fsync costs a
/// journal commit, and what the tools write this way is runtime state (pidfiles, leases,
/// which a reboot makes moot) or store records that, like `tar -x`, may lose the newest
/// write to a power cut but never show a partial one.
pub fn atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        // an old temp file left by a killed writer keeps its mode: set it
        if f.metadata()?.mode() & 0o077 != 0 {
            f.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
        }
        f.write_all(data)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Read a small state file, without its trailing newline.
pub fn read_trimmed(path: &Path) -> io::Result<String> {
    Ok(fs::read_to_string(path)?.trim_end().to_string())
}

/// An flock held until dropped.
#[derive(Debug)]
pub struct Lock {
    file: File,
}

impl Lock {
    /// Take an exclusive lock on `path` (created if missing), waiting for other holders.
    pub fn exclusive(path: &Path) -> io::Result<Lock> {
        Lock::take(path, FlockOperation::LockExclusive)
    }

    /// Take a shared lock on `path` (created if missing).
    pub fn shared(path: &Path) -> io::Result<Lock> {
        Lock::take(path, FlockOperation::LockShared)
    }

    fn take(path: &Path, op: FlockOperation) -> io::Result<Lock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(path)?;
        loop {
            match rustix::fs::flock(&file, op) {
                Ok(()) => return Ok(Lock { file }),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pid");
        atomic_write(&p, b"123\n").unwrap();
        atomic_write(&p, b"45\n").unwrap();
        assert_eq!(read_trimmed(&p).unwrap(), "45");
        let leftovers: Vec<_> = fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file left behind");
    }

    #[test]
    fn atomic_write_into_missing_dir_fails_cleanly() {
        let d = tempfile::tempdir().unwrap();
        assert!(atomic_write(&d.path().join("nope/pid"), b"1").is_err());
    }

    #[test]
    fn lock_excludes_other_holders() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let _held = Lock::exclusive(&p).unwrap();
        let f = File::open(&p).unwrap();
        let r = rustix::fs::flock(&f, FlockOperation::NonBlockingLockExclusive);
        assert_eq!(
            r,
            Err(rustix::io::Errno::WOULDBLOCK),
            "second exclusive lock must not be granted"
        );
    }

    #[test]
    fn private_dir_creates_and_tightens() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("store");
        assert_eq!(private_dir(&p).unwrap(), Private::Created);
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&p), 0o700);
        assert_eq!(private_dir(&p).unwrap(), Private::Kept);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(private_dir(&p).unwrap(), Private::Tightened(0o755));
        assert_eq!(mode(&p), 0o700);
        let f = d.path().join("file");
        atomic_write(&f, b"x").unwrap();
        assert_eq!(mode(&f), 0o600);
        let l = d.path().join("link");
        std::os::unix::fs::symlink(&p, &l).unwrap();
        assert!(
            private_dir(&l).is_err(),
            "a symlink is not a private folder"
        );
    }

    #[test]
    fn container_dir_layout() {
        let d = Dirs {
            root: "/r".into(),
            state_dir: "/s".into(),
        };
        assert_eq!(d.container_dir("web"), PathBuf::from("/s/containers/web"));
    }
}

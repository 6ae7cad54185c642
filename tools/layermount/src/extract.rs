//! Safe extraction of one layer tar into a directory, converting OCI whiteouts to overlay ones.
//!
//! Every entry is placed with fd-relative syscalls below the layer's root fd:
//! - entry names are split into components; an absolute name or a `..` component is refused;
//! - the parent directory is opened with openat2 `RESOLVE_IN_ROOT`: a symlink from this
//!   archive is followed as if the layer were `/` (`lib -> /usr/lib` then `lib/libx.so` lands
//!   in `usr/lib/`, as in the image), so no path can leave the layer;
//! - the last component is created with `O_EXCL | O_NOFOLLOW` / `mknodat` / `symlinkat` after
//!   removing whatever was there (a duplicate entry replaces a symlink, it never writes
//!   through it);
//! - a hardlink's target is resolved the same way and must be a non-directory in the layer;
//! - `.wh.NAME` becomes a 0:0 character device (overlay's whiteout) unless this layer itself
//!   has NAME, whatever the order of the two entries; `.wh..wh..opq` sets
//!   `trusted.overlay.opaque=y` on its directory; a whiteout naming `.` or `..` is refused;
//! - `trusted.overlay.*` xattrs carried by the archive are dropped (they would steer overlay);
//! - aufs bookkeeping (`.wh..wh.aufs`, the `.wh..wh.plnk/` hardlink store) is not kept: files
//!   in `.wh..wh.plnk/` are extracted only as targets for the layer's hardlinks, and the
//!   folder is removed at the end.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::OFlags;
use std::os::unix::fs::FileExt;

use crate::error::Error;
use crate::sys;

/// What a tar entry's last path component means.
#[derive(Debug, PartialEq, Eq)]
pub enum Name<'a> {
    /// an ordinary file name
    Plain(&'a [u8]),
    /// `.wh.NAME`: NAME is deleted from the layers below
    Whiteout(&'a [u8]),
    /// `.wh..wh..opq`: the directory hides everything below it
    Opaque,
    /// other `.wh..wh.*` names (aufs bookkeeping): ignored
    Meta,
}

pub const OPAQUE: &[u8] = b".wh..wh..opq";
pub const WH_PREFIX: &[u8] = b".wh.";
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// aufs' hardlink store at the top of a layer
pub const AUFS_PLNK: &[u8] = b".wh..wh.plnk";

/// openat2 with `RESOLVE_IN_ROOT`: `path` below `root`, symlinks (absolute ones and `..`
/// included) resolved as if `root` were `/`; magic links refused.
fn open_in_root(root: BorrowedFd<'_>, path: &[u8], flags: OFlags) -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, ResolveFlags};
    let p: &[u8] = if path.is_empty() { b"." } else { path };
    loop {
        match rustix::fs::openat2(
            root,
            p,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => continue,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Classify a path component; a whiteout that names `.`, `..` or nothing is refused.
pub fn classify_name(name: &[u8]) -> Result<Name<'_>, &'static str> {
    if name == OPAQUE {
        return Ok(Name::Opaque);
    }
    if name.starts_with(b".wh..wh.") {
        return Ok(Name::Meta);
    }
    if let Some(target) = name.strip_prefix(WH_PREFIX) {
        if target.is_empty() || target == b"." || target == b".." {
            return Err("whiteout names '.' or '..'");
        }
        return Ok(Name::Whiteout(target));
    }
    Ok(Name::Plain(name))
}

/// Split an archive path into components: `.` and empty ones dropped; an absolute path or
/// a `..` component refused.
pub fn clean_path(path: &[u8]) -> Result<Vec<&[u8]>, &'static str> {
    if path.first() == Some(&b'/') {
        return Err("absolute path");
    }
    let mut out = Vec::new();
    for c in path.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("path has a '..' component"),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub entries: u64,
    /// bytes of file content written (apparent size)
    pub bytes: u64,
}

pub struct Extractor<'a> {
    root: OwnedFd,
    label: &'a str,
    /// chown to the archive's owners (root, or root of a rootless user namespace)
    root_user: bool,
    /// device nodes and privileged xattrs (root of the host's user namespace only)
    host_root: bool,
    cache: Option<(Vec<u8>, OwnedFd)>,
    dir_times: Vec<(Vec<u8>, i64, i64)>,
    stats: Stats,
    buf: Vec<u8>,
}

fn io_err(label: &str, entry: &[u8], op: &'static str, source: io::Error) -> Error {
    Error::Entry {
        layer: label.to_string(),
        entry: String::from_utf8_lossy(entry).into_owned(),
        op,
        source,
    }
}

impl<'a> Extractor<'a> {
    /// Extract into the directory `root_dir` (which must exist); `label` names the layer in errors.
    pub fn new(root_dir: &std::path::Path, label: &'a str) -> Result<Extractor<'a>, Error> {
        let root = sys::open_path(root_dir, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|e| Error::io("open", root_dir, e))?;
        Ok(Extractor {
            root,
            label,
            root_user: sys::is_root(),
            host_root: sys::is_root() && sys::host_userns(),
            cache: None,
            dir_times: Vec::new(),
            stats: Stats::default(),
            buf: vec![0u8; 1 << 20],
        })
    }

    fn refuse(&self, entry: &[u8], reason: &str) -> Error {
        Error::Unsafe {
            layer: self.label.to_string(),
            entry: String::from_utf8_lossy(entry).into_owned(),
            reason: reason.to_string(),
        }
    }

    /// Extract every entry of `archive`, then apply directory mtimes.
    pub fn extract<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<Stats, Error> {
        let label = self.label.to_string();
        let entries = archive.entries().map_err(|e| Error::Archive {
            what: label.clone(),
            source: e,
        })?;
        for entry in entries {
            let mut entry = entry.map_err(|e| Error::Archive {
                what: label.clone(),
                source: e,
            })?;
            self.entry(&mut entry)?;
        }
        self.finish()
    }

    fn finish(&mut self) -> Result<Stats, Error> {
        self.cache = None;
        // aufs' hardlink store served its purpose (the links hold the inodes)
        match sys::remove_all_at(self.root.as_fd(), AUFS_PLNK) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(io_err(self.label, AUFS_PLNK, "remove", e)),
        }
        let mut times = std::mem::take(&mut self.dir_times);
        times.retain(|(p, _, _)| !p.starts_with(AUFS_PLNK));
        // deepest first, so setting a child's time does not disturb its parent's
        times.sort_by_key(|(p, _, _)| {
            std::cmp::Reverse(p.iter().filter(|b| **b == b'/').count() + !p.is_empty() as usize)
        });
        for (path, s, ns) in times {
            let comps = clean_path(&path).map_err(|r| self.refuse(&path, r))?;
            let res = match comps.split_last() {
                None => sys::set_mtime_at(self.root.as_fd(), b".", s, ns),
                Some((name, parent)) => match self.open_dir(&path, parent, false) {
                    Ok(fd) => sys::set_mtime_at(fd.as_fd(), name, s, ns),
                    Err(_) => continue, // replaced by a later entry
                },
            };
            if let Err(e) = res {
                if e.raw_os_error() != Some(libc::ENOENT) {
                    return Err(io_err(self.label, &path, "set the time of", e));
                }
            }
        }
        Ok(self.stats)
    }

    /// Open the directory `comps` (relative to the root) as an O_PATH fd, creating missing
    /// components when `create`. Symlinks are followed only while they stay in the layer.
    fn open_dir(&mut self, entry: &[u8], comps: &[&[u8]], create: bool) -> Result<OwnedFd, Error> {
        let joined = comps.join(&b'/');
        if let Some((p, fd)) = &self.cache {
            if *p == joined {
                return fd
                    .try_clone()
                    .map_err(|e| io_err(self.label, entry, "open", e));
            }
        }
        let flags = OFlags::PATH | OFlags::DIRECTORY;
        let fd = match open_in_root(self.root.as_fd(), &joined, flags) {
            Ok(fd) => fd,
            Err(e) => match e.raw_os_error() {
                Some(libc::EXDEV) | Some(libc::ELOOP) => {
                    return Err(
                        self.refuse(entry, "its path leads outside the layer through a symlink")
                    );
                }
                Some(libc::ENOENT) | Some(libc::ENOTDIR) if create => {
                    self.walk_create(entry, comps)?
                }
                _ => return Err(io_err(self.label, entry, "open the directory of", e)),
            },
        };
        if let Ok(dup) = fd.try_clone() {
            self.cache = Some((joined, dup));
        }
        Ok(fd)
    }

    fn walk_create(&mut self, entry: &[u8], comps: &[&[u8]]) -> Result<OwnedFd, Error> {
        let flags = OFlags::PATH | OFlags::DIRECTORY;
        let mut cur = open_in_root(self.root.as_fd(), b".", flags)
            .map_err(|e| io_err(self.label, entry, "open", e))?;
        for (i, c) in comps.iter().enumerate() {
            // each prefix from the root, so a symlink met on the way resolves in the layer
            let prefix = comps[..=i].join(&b'/');
            let next = match open_in_root(self.root.as_fd(), &prefix, flags) {
                Ok(fd) => fd,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EXDEV) | Some(libc::ELOOP) => {
                        return Err(self
                            .refuse(entry, "its path leads outside the layer through a symlink"));
                    }
                    Some(libc::ENOENT) | Some(libc::ENOTDIR) => {
                        if let Some(st) = sys::lstatat(cur.as_fd(), c)
                            .map_err(|e| io_err(self.label, entry, "stat", e))?
                        {
                            if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                                return Err(self.refuse(entry, "its path goes through a symlink that does not lead to a directory in the layer"));
                            }
                            // a file or whiteout where a directory is needed: the directory wins
                            sys::remove_all_at(cur.as_fd(), c)
                                .map_err(|e| io_err(self.label, entry, "replace", e))?;
                        }
                        sys::mkdirat(cur.as_fd(), c, 0o755)
                            .map_err(|e| io_err(self.label, entry, "create a directory for", e))?;
                        sys::openat(cur.as_fd(), c, flags, 0)
                            .map_err(|e| io_err(self.label, entry, "open", e))?
                    }
                    _ => return Err(io_err(self.label, entry, "open the directory of", e)),
                },
            };
            cur = next;
        }
        Ok(cur)
    }

    /// Remove what is at `name` unless it is a directory and a directory is coming.
    fn make_room(
        &mut self,
        entry: &[u8],
        dir: BorrowedFd<'_>,
        name: &[u8],
        keep_dir: bool,
    ) -> Result<(), Error> {
        let Some(st) = sys::lstatat(dir, name).map_err(|e| io_err(self.label, entry, "stat", e))?
        else {
            return Ok(());
        };
        let fmt = st.st_mode & libc::S_IFMT;
        if keep_dir && fmt == libc::S_IFDIR {
            return Ok(());
        }
        if fmt == libc::S_IFDIR || fmt == libc::S_IFLNK {
            self.cache = None;
        }
        sys::remove_all_at(dir, name).map_err(|e| io_err(self.label, entry, "replace", e))
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), Error> {
        let mut path = entry.path_bytes().into_owned();
        self.stats.entries += 1;
        // pax: xattrs and a precise mtime
        let mut xattrs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut pax_mtime: Option<(i64, i64)> = None;
        // GNU tar's PAX sparse format 1.0: the real name and size in pax, a map before the data
        let mut sparse_v1 = (false, false);
        let mut sparse_name: Option<Vec<u8>> = None;
        let mut sparse_size: Option<u64> = None;
        if let Ok(Some(exts)) = entry.pax_extensions() {
            for ext in exts.flatten() {
                let key = ext.key_bytes();
                if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                    if !name.starts_with(b"trusted.overlay.") {
                        xattrs.push((name.to_vec(), ext.value_bytes().to_vec()));
                    }
                } else if key == b"mtime" {
                    pax_mtime = parse_pax_time(ext.value_bytes());
                } else if key == b"GNU.sparse.major" {
                    sparse_v1.0 = ext.value_bytes() == b"1";
                } else if key == b"GNU.sparse.minor" {
                    sparse_v1.1 = ext.value_bytes() == b"0";
                } else if key == b"GNU.sparse.name" {
                    sparse_name = Some(ext.value_bytes().to_vec());
                } else if key == b"GNU.sparse.realsize" {
                    sparse_size = std::str::from_utf8(ext.value_bytes())
                        .ok()
                        .and_then(|v| v.parse().ok());
                }
            }
        }
        let pax_sparse = match (sparse_v1, sparse_name, sparse_size) {
            ((true, true), Some(n), Some(size)) => {
                path = n;
                Some(size)
            }
            _ => None,
        };
        let comps = clean_path(&path).map_err(|r| self.refuse(&path, r))?;
        let kind = entry.header().entry_type();
        let hdr = entry.header();
        let mode = hdr.mode().unwrap_or(0o644) & 0o7777;
        let uid = hdr.uid().unwrap_or(0) as u32;
        let gid = hdr.gid().unwrap_or(0) as u32;
        let (mt_s, mt_ns) = pax_mtime.unwrap_or((hdr.mtime().unwrap_or(0) as i64, 0));

        let Some((name, parent_comps)) = comps.split_last() else {
            // the layer root itself ("./")
            if kind.is_dir() {
                let fd = sys::openat(
                    self.root.as_fd(),
                    b".",
                    OFlags::RDONLY | OFlags::DIRECTORY,
                    0,
                )
                .map_err(|e| io_err(self.label, &path, "open", e))?;
                self.set_owner_mode(&path, fd.as_fd(), uid, gid, mode, &xattrs)?;
                self.dir_times.push((Vec::new(), mt_s, mt_ns));
            }
            return Ok(());
        };
        let name: &[u8] = name;
        match classify_name(name).map_err(|r| self.refuse(&path, r))? {
            Name::Meta => return Ok(()),
            Name::Opaque => {
                let dir = self.open_dir(&path, parent_comps, true)?;
                let fd = sys::openat(dir.as_fd(), b".", OFlags::RDONLY | OFlags::DIRECTORY, 0)
                    .map_err(|e| io_err(self.label, &path, "open", e))?;
                return sys::fsetxattr(fd.as_fd(), OPAQUE_XATTR.as_bytes(), b"y")
                    .map_err(|e| io_err(self.label, &path, "mark opaque", e));
            }
            Name::Whiteout(target) => {
                let dir = self.open_dir(&path, parent_comps, true)?;
                // the same layer's own entry wins over its whiteout, in either order
                if sys::lstatat(dir.as_fd(), target)
                    .map_err(|e| io_err(self.label, &path, "stat", e))?
                    .is_some()
                {
                    return Ok(());
                }
                return sys::mknodat(dir.as_fd(), target, libc::S_IFCHR, 0, 0)
                    .map_err(|e| io_err(self.label, &path, "create the whiteout for", e));
            }
            Name::Plain(_) => {}
        }
        let dir = self.open_dir(&path, parent_comps, true)?;
        let d = dir.as_fd();
        use tar::EntryType as T;
        match kind {
            T::Directory => {
                self.make_room(&path, d, name, true)?;
                match sys::mkdirat(d, name, 0o700) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                    Err(e) => return Err(io_err(self.label, &path, "create", e)),
                }
                let fd = sys::openat(d, name, OFlags::RDONLY | OFlags::DIRECTORY, 0)
                    .map_err(|e| io_err(self.label, &path, "open", e))?;
                self.set_owner_mode(&path, fd.as_fd(), uid, gid, mode, &xattrs)?;
                self.dir_times.push((comps.join(&b'/'), mt_s, mt_ns));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                self.make_room(&path, d, name, false)?;
                let fd = sys::openat(
                    d,
                    name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
                    0o600,
                )
                .map_err(|e| io_err(self.label, &path, "create", e))?;
                let file = std::fs::File::from(fd);
                // a sparse file's holes are in no stream: count its whole size against the
                // import's budget before making it (the data in the archive is counted as read)
                let apparent = pax_sparse.unwrap_or_else(|| entry.size());
                let stored = entry.header().entry_size().unwrap_or(0);
                crate::import::BUDGET
                    .charge(apparent.saturating_sub(stored))
                    .map_err(|e| io_err(self.label, &path, "write", e))?;
                let size = match pax_sparse {
                    Some(real) => {
                        self.write_pax_sparse(&path, &file, entry, real)?;
                        real
                    }
                    None => {
                        let size = entry.size();
                        self.write_sparse(&path, &file, entry, size)?;
                        size
                    }
                };
                self.set_owner_mode(&path, file.as_fd(), uid, gid, mode, &xattrs)?;
                sys::fset_mtime(file.as_fd(), mt_s, mt_ns)
                    .map_err(|e| io_err(self.label, &path, "set the time of", e))?;
                self.stats.bytes += size;
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                self.make_room(&path, d, name, false)?;
                sys::symlinkat(&target, d, name)
                    .map_err(|e| io_err(self.label, &path, "create", e))?;
                if self.root_user {
                    self.unmapped_ok(sys::fchownat_nofollow(d, name, uid, gid))
                        .map_err(|e| io_err(self.label, &path, "chown", e))?;
                }
                sys::set_mtime_at(d, name, mt_s, mt_ns)
                    .map_err(|e| io_err(self.label, &path, "set the time of", e))?;
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                let tcomps = clean_path(&target)
                    .map_err(|r| self.refuse(&path, &format!("hardlink target: {r}")))?;
                let Some((tname, tparent)) = tcomps.split_last() else {
                    return Err(self.refuse(&path, "hardlink to the layer root"));
                };
                let tdir = self.open_dir(&path, tparent, false).map_err(|e| match e {
                    Error::Unsafe { .. } => {
                        self.refuse(&path, "hardlink target leads outside the layer")
                    }
                    _ => self.refuse(&path, "hardlink target is not in this layer"),
                })?;
                match sys::lstatat(tdir.as_fd(), tname)
                    .map_err(|e| io_err(self.label, &path, "stat", e))?
                {
                    None => return Err(self.refuse(&path, "hardlink target is not in this layer")),
                    Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                        return Err(self.refuse(&path, "hardlink to a directory"));
                    }
                    Some(_) => {}
                }
                if tparent == parent_comps && *tname == name {
                    return Ok(());
                }
                self.make_room(&path, d, name, false)?;
                sys::linkat(tdir.as_fd(), tname, d, name)
                    .map_err(|e| io_err(self.label, &path, "hardlink", e))?;
            }
            T::Char | T::Block | T::Fifo => {
                let fmt = match kind {
                    T::Char => libc::S_IFCHR,
                    T::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                if fmt != libc::S_IFIFO && !self.host_root {
                    common::debug!(
                        "{}: skipping device node {} (not root)",
                        self.label,
                        String::from_utf8_lossy(&path)
                    );
                    return Ok(());
                }
                let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                self.make_room(&path, d, name, false)?;
                sys::mknodat(d, name, fmt | (mode & 0o777), major, minor)
                    .map_err(|e| io_err(self.label, &path, "create", e))?;
                if self.root_user {
                    self.unmapped_ok(sys::fchownat_nofollow(d, name, uid, gid))
                        .map_err(|e| io_err(self.label, &path, "chown", e))?;
                }
                sys::fchmodat(d, name, mode).map_err(|e| io_err(self.label, &path, "chmod", e))?;
                sys::set_mtime_at(d, name, mt_s, mt_ns)
                    .map_err(|e| io_err(self.label, &path, "set the time of", e))?;
            }
            _ => {
                common::debug!(
                    "{}: skipping entry {} of type {:?}",
                    self.label,
                    String::from_utf8_lossy(&path),
                    kind
                );
            }
        }
        Ok(())
    }

    /// A chown's result, where an ID the rootless user namespace does not map (EINVAL) keeps
    /// the owner the file has (the user's own; a debug line says so)
    fn unmapped_ok(&self, r: io::Result<()>) -> io::Result<()> {
        match r {
            Err(e) if !self.host_root && e.raw_os_error() == Some(libc::EINVAL) => {
                common::debug!(
                    "{}: an owner outside the user namespace's map: kept",
                    self.label
                );
                Ok(())
            }
            r => r,
        }
    }

    fn set_owner_mode(
        &self,
        entry: &[u8],
        fd: BorrowedFd<'_>,
        uid: u32,
        gid: u32,
        mode: u32,
        xattrs: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(), Error> {
        if self.root_user {
            self.unmapped_ok(sys::fchown(fd, uid, gid))
                .map_err(|e| io_err(self.label, entry, "chown", e))?;
        }
        // after chown, which clears setuid/setgid
        sys::fchmod(fd, mode).map_err(|e| io_err(self.label, entry, "chmod", e))?;
        // after chown, which clears security.capability
        for (k, v) in xattrs {
            if let Err(e) = sys::fsetxattr(fd, k, v) {
                match e.raw_os_error() {
                    Some(libc::ENOTSUP) => {}
                    Some(libc::EPERM) if !self.host_root => {}
                    _ => return Err(io_err(self.label, entry, "set an xattr on", e)),
                }
            }
        }
        Ok(())
    }

    /// GNU PAX sparse 1.0: decimal lines (count, then offset/length pairs) padded to 512
    /// bytes, then the data chunks back to back.
    fn write_pax_sparse<R: Read>(
        &mut self,
        entry: &[u8],
        file: &std::fs::File,
        r: &mut R,
        real: u64,
    ) -> Result<(), Error> {
        let label = self.label;
        let bad = |why: &str| Error::Unsafe {
            layer: label.to_string(),
            entry: String::from_utf8_lossy(entry).into_owned(),
            reason: format!("bad sparse map: {why}"),
        };
        let arch = |e: io::Error| Error::Archive {
            what: label.to_string(),
            source: e,
        };
        let mut consumed = 0usize;
        let mut line = || -> Result<u64, Error> {
            let mut v = Vec::new();
            let mut b = [0u8; 1];
            loop {
                r.read_exact(&mut b).map_err(arch)?;
                consumed += 1;
                if b[0] == b'\n' {
                    break;
                }
                if v.len() > 20 {
                    return Err(bad("number too long"));
                }
                v.push(b[0]);
            }
            std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("not a number"))
        };
        let n = line()?;
        if n > 1 << 20 {
            return Err(bad("too many chunks"));
        }
        let mut chunks = Vec::new();
        for _ in 0..n {
            chunks.push((line()?, line()?));
        }
        let pad = (512 - consumed % 512) % 512;
        io::copy(&mut r.take(pad as u64), &mut io::sink()).map_err(arch)?;
        let mut buf = std::mem::take(&mut self.buf);
        let res = (|| {
            for (off, len) in chunks {
                if off.checked_add(len).is_none_or(|end| end > real) {
                    return Err(bad("chunk beyond the file size"));
                }
                let mut done = 0u64;
                while done < len {
                    let want = ((len - done) as usize).min(buf.len());
                    r.read_exact(&mut buf[..want]).map_err(arch)?;
                    file.write_all_at(&buf[..want], off + done)
                        .map_err(|e| io_err(label, entry, "write", e))?;
                    done += want as u64;
                }
            }
            file.set_len(real)
                .map_err(|e| io_err(label, entry, "write", e))
        })();
        self.buf = buf;
        res
    }

    /// Copy the entry's data, leaving holes for all-zero 4 KiB blocks (sparse files stay sparse).
    fn write_sparse<R: Read>(
        &mut self,
        entry: &[u8],
        file: &std::fs::File,
        r: &mut R,
        size: u64,
    ) -> Result<(), Error> {
        const BLK: usize = 4096;
        let mut off = 0u64;
        let mut written_end = 0u64;
        let mut buf = std::mem::take(&mut self.buf);
        let res = (|| {
            loop {
                let n = read_full(r, &mut buf).map_err(|e| Error::Archive {
                    what: self.label.to_string(),
                    source: e,
                })?;
                if n == 0 {
                    break;
                }
                let chunk = &buf[..n];
                let mut i = 0;
                while i < n {
                    // skip zero blocks
                    while i < n && chunk[i..(i + BLK).min(n)].iter().all(|b| *b == 0) {
                        i = (i + BLK).min(n);
                    }
                    let start = i;
                    while i < n && !chunk[i..(i + BLK).min(n)].iter().all(|b| *b == 0) {
                        i = (i + BLK).min(n);
                    }
                    if i > start {
                        file.write_all_at(&chunk[start..i], off + start as u64)
                            .map_err(|e| io_err(self.label, entry, "write", e))?;
                        written_end = off + i as u64;
                    }
                }
                off += n as u64;
            }
            if off != size {
                return Err(Error::Archive {
                    what: self.label.to_string(),
                    source: io::Error::new(io::ErrorKind::UnexpectedEof, "archive is truncated"),
                });
            }
            file.set_len(size)
                .map_err(|e| io_err(self.label, entry, "write", e))
        })();
        self.buf = buf;
        res
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn parse_pax_time(v: &[u8]) -> Option<(i64, i64)> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut ns = 0i64;
    for (i, c) in frac.chars().take(9).enumerate() {
        ns += c.to_digit(10)? as i64 * 10i64.pow(8 - i as u32);
    }
    Some((secs, ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn clean_path_refuses_escapes() {
        assert_eq!(
            clean_path(b"./a//b/./c").unwrap(),
            vec![&b"a"[..], b"b", b"c"]
        );
        assert_eq!(clean_path(b"./").unwrap(), Vec::<&[u8]>::new());
        assert_eq!(clean_path(b"/etc/passwd"), Err("absolute path"));
        assert_eq!(clean_path(b"a/../../x"), Err("path has a '..' component"));
        assert_eq!(clean_path(b".."), Err("path has a '..' component"));
        assert_eq!(clean_path(b"a/..b").unwrap(), vec![&b"a"[..], b"..b"]);
    }

    #[test]
    fn whiteout_names() {
        assert_eq!(classify_name(b".wh.foo"), Ok(Name::Whiteout(b"foo")));
        assert_eq!(classify_name(b".wh..wh..opq"), Ok(Name::Opaque));
        assert_eq!(classify_name(b".wh..wh.plnk"), Ok(Name::Meta));
        assert_eq!(classify_name(b"foo.wh."), Ok(Name::Plain(b"foo.wh.")));
        assert!(classify_name(b".wh...").is_err());
        assert!(classify_name(b".wh..").is_err());
        assert!(classify_name(b".wh.").is_err());
    }

    #[test]
    fn pax_time() {
        assert_eq!(
            parse_pax_time(b"1700000000.5"),
            Some((1700000000, 500_000_000))
        );
        assert_eq!(parse_pax_time(b"12"), Some((12, 0)));
        assert_eq!(parse_pax_time(b"x"), None);
    }

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o755);
        h.set_mtime(1_600_000_000);
        h
    }

    fn build(f: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        f(&mut b);
        b.into_inner().unwrap()
    }

    fn extract(bytes: &[u8], dir: &std::path::Path) -> Result<Stats, Error> {
        let mut a = tar::Archive::new(bytes);
        Extractor::new(dir, "test")?.extract(&mut a)
    }

    #[test]
    fn whiteouts_apply_in_either_order() {
        if !sys::is_root() {
            return; // mknod of a whiteout needs root
        }
        let t = tempfile::tempdir().unwrap();
        let tar = build(|b| {
            b.append_data(&mut header(tar::EntryType::Regular, 0), ".wh.gone", &[][..])
                .unwrap();
            // whiteout before the entry it would hide in the same layer: the entry wins
            b.append_data(&mut header(tar::EntryType::Regular, 0), ".wh.kept", &[][..])
                .unwrap();
            b.append_data(&mut header(tar::EntryType::Regular, 2), "kept", &b"hi"[..])
                .unwrap();
            // and after
            b.append_data(&mut header(tar::EntryType::Regular, 2), "kept2", &b"hi"[..])
                .unwrap();
            b.append_data(
                &mut header(tar::EntryType::Regular, 0),
                ".wh.kept2",
                &[][..],
            )
            .unwrap();
            b.append_data(
                &mut header(tar::EntryType::Regular, 0),
                "d/.wh..wh..opq",
                &[][..],
            )
            .unwrap();
            b.append_data(&mut header(tar::EntryType::Directory, 0), "d/", &[][..])
                .unwrap();
        });
        extract(&tar, t.path()).unwrap();
        let gone = std::fs::symlink_metadata(t.path().join("gone")).unwrap();
        assert_eq!(gone.mode() & libc::S_IFMT, libc::S_IFCHR);
        assert_eq!(gone.rdev(), 0);
        assert_eq!(std::fs::read(t.path().join("kept")).unwrap(), b"hi");
        assert_eq!(std::fs::read(t.path().join("kept2")).unwrap(), b"hi");
        assert_eq!(
            sys::lgetxattr(&t.path().join("d"), OPAQUE_XATTR).unwrap(),
            Some(b"y".to_vec())
        );
        assert_eq!(
            std::fs::metadata(t.path().join("d")).unwrap().mtime(),
            1_600_000_000
        );
    }

    #[test]
    fn symlink_escape_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let layer = t.path().join("layer");
        std::fs::create_dir(&layer).unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let tar = build(|b| {
            let mut h = header(tar::EntryType::Symlink, 0);
            b.append_link(&mut h, "evil", &outside).unwrap();
            b.append_data(&mut header(tar::EntryType::Regular, 1), "evil/x", &b"x"[..])
                .unwrap();
        });
        let err = extract(&tar, &layer).unwrap_err();
        assert!(matches!(err, Error::Unsafe { .. }), "{err}");
        assert!(!outside.join("x").exists());
    }

    #[test]
    fn duplicate_entry_replaces_symlink_instead_of_writing_through_it() {
        let t = tempfile::tempdir().unwrap();
        let layer = t.path().join("layer");
        std::fs::create_dir(&layer).unwrap();
        let canary = t.path().join("canary");
        std::fs::write(&canary, "safe").unwrap();
        let tar = build(|b| {
            let mut h = header(tar::EntryType::Symlink, 0);
            b.append_link(&mut h, "f", &canary).unwrap();
            b.append_data(&mut header(tar::EntryType::Regular, 4), "f", &b"evil"[..])
                .unwrap();
        });
        extract(&tar, &layer).unwrap();
        assert_eq!(std::fs::read_to_string(&canary).unwrap(), "safe");
        assert_eq!(std::fs::read_to_string(layer.join("f")).unwrap(), "evil");
        assert!(
            !std::fs::symlink_metadata(layer.join("f"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn hardlink_outside_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let tar = build(|b| {
            let mut h = header(tar::EntryType::Symlink, 0);
            b.append_link(&mut h, "etc", "/etc").unwrap();
            let mut h = header(tar::EntryType::Link, 0);
            b.append_link(&mut h, "pw", "etc/passwd").unwrap();
        });
        let err = extract(&tar, t.path()).unwrap_err();
        assert!(matches!(err, Error::Unsafe { .. }), "{err}");
        assert!(!t.path().join("pw").exists());
    }

    #[test]
    fn sparse_and_modes_are_kept() {
        let t = tempfile::tempdir().unwrap();
        let mut data = vec![0u8; 1 << 20];
        data[0] = 1;
        let tar = build(|b| {
            let mut h = header(tar::EntryType::Regular, data.len() as u64);
            h.set_mode(0o4755);
            b.append_data(&mut h, "big", &data[..]).unwrap();
            let mut h = header(tar::EntryType::Link, 0);
            b.append_link(&mut h, "big2", "big").unwrap();
        });
        let st = extract(&tar, t.path()).unwrap();
        assert_eq!(st.bytes, 1 << 20);
        let m = std::fs::metadata(t.path().join("big")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o4755);
        assert_eq!(m.len(), 1 << 20);
        assert!(
            m.blocks() * 512 < 1 << 19,
            "holes were kept: {} blocks",
            m.blocks()
        );
        assert_eq!(m.nlink(), 2);
        assert_eq!(std::fs::read(t.path().join("big2")).unwrap(), data);
    }
}

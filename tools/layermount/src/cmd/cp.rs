//! `layermount cp`: copy files into or out of a container's filesystem (docker cp).
//!
//! The container's side is a root directory (`--from-root`/`--to-root`: the container's
//! `/proc/PID/root` while it runs, so its volumes are seen too, else its merged tree) in
//! which the given path is resolved with openat2 `RESOLVE_IN_ROOT`: an absolute symlink in
//! the container resolves inside it, never on the host. Below that, every entry is reached
//! by name from its parent's descriptor with `O_NOFOLLOW`: a symlink is copied as a
//! symlink, and a symlink where a folder or file is to be written is refused, so a
//! container that swaps one in cannot make the copy read or write a host path.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};

use crate::cli::CpArgs;
use crate::error::Error;
use crate::sys;

/// One side of the copy: a folder descriptor and a name in it.
struct Place {
    dir: OwnedFd,
    name: Vec<u8>,
    /// How the place is shown in messages.
    shown: String,
}

pub fn run(a: &CpArgs) -> Result<(), Error> {
    let src_root = a.from_root.as_deref().map(open_root).transpose()?;
    let dst_root = a.to_root.as_deref().map(open_root).transpose()?;
    // SRC ending in "/." copies what the folder holds, not the folder (as docker cp)
    let contents = a.src.as_os_str().as_bytes().ends_with(b"/.");
    let src = place(src_root.as_ref(), &a.src, "source")?;
    let st = sys::lstatat(&src.dir, &src.name)
        .map_err(|e| Error::io("read", &src.shown, e))?
        .ok_or_else(|| Error::msg(format!("{}: no such file or folder", src.shown)))?;
    let src_is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    let mut dst = place(dst_root.as_ref(), &a.dest, "destination")?;
    // an existing folder at DEST takes SRC by its own name (or its contents with "/.")
    let dst_st = sys::lstatat(&dst.dir, &dst.name).map_err(|e| Error::io("read", &dst.shown, e))?;
    let dst_is_dir = dst_st
        .as_ref()
        .is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory);
    if contents && src_is_dir {
        if dst_st.is_none() {
            sys::mkdirat(&dst.dir, &dst.name, st.st_mode & 0o7777)
                .map_err(|e| Error::io("create", &dst.shown, e))?;
        }
        let from = open_dir(&src.dir, &src.name, &src.shown)?;
        let into = open_dir(&dst.dir, &dst.name, &dst.shown)?;
        return copy_children(&from, &into, &src.shown, &dst.shown, a);
    }
    if dst_is_dir {
        let into = open_dir(&dst.dir, &dst.name, &dst.shown)?;
        let name = if src.name == b"." {
            // "/" or "." of a root: its own name is nothing, so the contents go in
            let from = open_dir(&src.dir, &src.name, &src.shown)?;
            return copy_children(&from, &into, &src.shown, &dst.shown, a);
        } else {
            src.name.clone()
        };
        dst = Place {
            shown: format!("{}/{}", dst.shown, String::from_utf8_lossy(&name)),
            dir: into,
            name,
        };
    } else if src_is_dir && dst_st.is_some() {
        return Err(Error::msg(format!(
            "cannot copy folder {} onto {}, which is not a folder",
            src.shown, dst.shown
        )));
    }
    copy(
        &src.dir, &src.name, &dst.dir, &dst.name, &src.shown, &dst.shown, a,
    )
}

/// The container's root folder, by descriptor.
fn open_root(dir: &Path) -> Result<OwnedFd, Error> {
    sys::open_path(dir, OFlags::PATH | OFlags::DIRECTORY).map_err(|e| Error::io("open", dir, e))
}

/// The folder holding `path` and its last name: resolved in `root` when given (`..` and
/// symlinks, absolute ones too, stay inside it), else on the host as usual.
fn place(root: Option<&OwnedFd>, path: &Path, what: &str) -> Result<Place, Error> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(Error::Usage(format!("the {what} is an empty path")));
    }
    let trimmed = bytes.strip_suffix(b"/.").unwrap_or(bytes);
    let trimmed = match trimmed.iter().rposition(|b| *b != b'/') {
        Some(end) => &trimmed[..=end],
        None => b"/".as_slice(),
    };
    let (parent, name): (&[u8], &[u8]) = match trimmed.iter().rposition(|b| *b == b'/') {
        _ if trimmed == b"/" => (b"/", b"."),
        Some(0) => (b"/", &trimmed[1..]),
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (b".", trimmed),
    };
    let name = if name == b".." {
        return Err(Error::Usage(format!(
            "the {what} {}: name the folder itself, not '..'",
            path.display()
        )));
    } else {
        name.to_vec()
    };
    let shown = path.display().to_string();
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let dir = match root {
        Some(r) => {
            let rel = parent.strip_prefix(b"/").unwrap_or(parent);
            let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
            rustix::fs::openat2(
                r,
                rel,
                flags,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )
            .map_err(|e| Error::io("open the folder of", &shown, e.into()))?
        }
        None => sys::open_path(
            Path::new(OsStr::from_bytes(parent)),
            OFlags::PATH | OFlags::DIRECTORY,
        )
        .map_err(|e| Error::io("open the folder of", &shown, e))?,
    };
    Ok(Place { dir, name, shown })
}

fn open_dir(dir: impl AsFd, name: &[u8], shown: &str) -> Result<OwnedFd, Error> {
    sys::openat(dir, name, OFlags::RDONLY | OFlags::DIRECTORY, 0).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) {
            Error::msg(format!(
                "{shown}: a symlink or file where a folder is needed: refused"
            ))
        } else {
            Error::io("open", shown, e)
        }
    })
}

fn copy_children(
    from: &OwnedFd,
    into: &OwnedFd,
    src_shown: &str,
    dst_shown: &str,
    a: &CpArgs,
) -> Result<(), Error> {
    let names = sys::read_dir_fd(from).map_err(|e| Error::io("list", src_shown, e))?;
    for n in names {
        let shown = |base: &str| format!("{base}/{}", String::from_utf8_lossy(&n));
        copy(from, &n, into, &n, &shown(src_shown), &shown(dst_shown), a)?;
    }
    Ok(())
}

/// Copy the entry `sname` of `sdir` to `dname` of `ddir`: folders with what they hold,
/// files, symlinks as symlinks; the mode and times kept, and with `--archive` the owner
/// too (else what is written into a container belongs to its root, what comes out to us).
fn copy(
    sdir: &OwnedFd,
    sname: &[u8],
    ddir: &OwnedFd,
    dname: &[u8],
    sshown: &str,
    dshown: &str,
    a: &CpArgs,
) -> Result<(), Error> {
    let st = sys::lstatat(sdir, sname)
        .map_err(|e| Error::io("read", sshown, e))?
        .ok_or_else(|| Error::msg(format!("{sshown}: vanished while copied")))?;
    let mode = st.st_mode & 0o7777;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            match sys::mkdirat(ddir, dname, 0o700) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(Error::io("create", dshown, e)),
            }
            let from = open_dir(sdir, sname, sshown)?;
            let into = open_dir(ddir, dname, dshown)?;
            copy_children(&from, &into, sshown, dshown, a)?;
            finish(into.as_fd(), b"", &st, mode, dshown, a)
        }
        FileType::RegularFile => {
            let src = sys::openat(sdir, sname, OFlags::RDONLY, 0)
                .map_err(|e| Error::io("open", sshown, e))?;
            let dst = sys::openat(
                ddir,
                dname,
                OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC,
                0o600,
            )
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    Error::msg(format!(
                        "{dshown}: a symlink where a file is to be written: refused"
                    ))
                } else {
                    Error::io("create", dshown, e)
                }
            })?;
            let (mut r, mut w) = (File::from(src), File::from(dst));
            io::copy(&mut r, &mut w).map_err(|e| Error::io("copy to", dshown, e))?;
            finish(w.as_fd(), b"", &st, mode, dshown, a)
        }
        FileType::Symlink => {
            let target = sys::readlinkat(sdir, sname).map_err(|e| Error::io("read", sshown, e))?;
            if let Ok(Some(old)) = sys::lstatat(ddir, dname) {
                if FileType::from_raw_mode(old.st_mode) == FileType::Directory {
                    return Err(Error::msg(format!(
                        "cannot put symlink {sshown} in place of folder {dshown}"
                    )));
                }
                sys::unlinkat(ddir, dname, false).map_err(|e| Error::io("replace", dshown, e))?;
            }
            sys::symlinkat(&target, ddir, dname).map_err(|e| Error::io("create", dshown, e))?;
            owner(ddir.as_fd(), dname, &st, dshown, a)
        }
        _ => Err(Error::msg(format!(
            "{sshown}: not a file, folder or symlink (devices, fifos and sockets are not copied)"
        ))),
    }
}

/// Owner, mode and times of a copied file or folder (open as `fd`).
fn finish(
    fd: BorrowedFd<'_>,
    name: &[u8],
    st: &rustix::fs::Stat,
    mode: u32,
    shown: &str,
    a: &CpArgs,
) -> Result<(), Error> {
    owner(fd, name, st, shown, a)?;
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))
        .map_err(|e| Error::io("set the mode of", shown, e.into()))?;
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime as _,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime as _,
            tv_nsec: st.st_mtime_nsec as _,
        },
    };
    rustix::fs::futimens(fd, &times).map_err(|e| Error::io("set the times of", shown, e.into()))
}

fn owner(
    dir: BorrowedFd<'_>,
    name: &[u8],
    st: &rustix::fs::Stat,
    shown: &str,
    a: &CpArgs,
) -> Result<(), Error> {
    let (uid, gid) = if a.archive {
        (st.st_uid, st.st_gid)
    } else if a.to_root.is_some() {
        (0, 0)
    } else {
        return Ok(());
    };
    let (u, g) = (
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    );
    let flags = if name.is_empty() {
        AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    rustix::fs::chownat(dir, name, u, g, flags)
        .map_err(|e| Error::io("set the owner of", shown, e.into()))
}

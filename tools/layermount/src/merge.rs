//! Reading layers back: the merged view of a stack (as overlayfs shows it), and tars of a
//! single layer (overlay whiteouts turned back into OCI `.wh.` entries) or of a merged view.

use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{self, Metadata};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use rustix::fs::OFlags;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext};
use crate::extract::{OPAQUE, OPAQUE_XATTR, WH_PREFIX};
use crate::sys;

pub fn is_whiteout(m: &Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

pub fn is_opaque(p: &Path) -> bool {
    matches!(sys::lgetxattr(p, OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}

/// A layer directory, opened once. Everything below it is reached from this descriptor with
/// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), never by a path walk that follows
/// symlinks: when a running container swaps a file or a folder of its upper layer for a
/// symlink to a host file while it is read (the CVE-2018-15664 race), the symlink itself is
/// what is read, never its target.
pub struct Root {
    pub path: PathBuf,
    fd: OwnedFd,
}

impl Root {
    pub fn open(path: &Path) -> Result<Root, Error> {
        let fd = sys::open_path(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW)
            .ctx("open", path)?;
        Ok(Root {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// `rel` below the root, for messages.
    pub fn show(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    fn open_rel(&self, rel: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        sys::open_strict(self.fd.as_fd(), rel.as_os_str().as_bytes(), flags)
    }

    /// lstat of `rel`, no symlink followed on the way.
    pub fn lstat(&self, rel: &Path) -> io::Result<Metadata> {
        let fd = self.open_rel(rel, OFlags::PATH | OFlags::NOFOLLOW)?;
        fs::File::from(fd).metadata()
    }

    /// The names in the folder `rel`, sorted.
    pub fn names(&self, rel: &Path) -> Result<Vec<OsString>, Error> {
        let fd = self
            .open_rel(rel, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)
            .ctx("read", self.show(rel))?;
        let mut v: Vec<OsString> = sys::read_dir_fd(fd.as_fd())
            .ctx("read", self.show(rel))?
            .into_iter()
            .map(OsString::from_vec)
            .collect();
        v.sort();
        Ok(v)
    }

    /// `rel` as a path through its parent's descriptor (`/proc/self/fd/N/NAME`), for the
    /// xattr calls that have no fd-relative form; only NAME is looked up, and the l* calls
    /// do not follow it. The descriptor must outlive the path's use.
    fn via_parent(&self, rel: &Path) -> io::Result<(OwnedFd, PathBuf)> {
        let parent = rel.parent().unwrap_or(Path::new(""));
        let name = rel.file_name().map_or(OsStr::new("."), |n| n);
        let fd = self.open_rel(parent, OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW)?;
        let p = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())).join(name);
        Ok((fd, p))
    }

    pub fn is_opaque(&self, rel: &Path) -> bool {
        match self.via_parent(rel) {
            Ok((_fd, p)) => is_opaque(&p),
            Err(_) => false,
        }
    }

    /// The target of the symlink `rel`.
    fn read_link(&self, rel: &Path) -> io::Result<Vec<u8>> {
        let fd = self.open_rel(rel, OFlags::PATH | OFlags::NOFOLLOW)?;
        sys::readlinkat(fd.as_fd(), b"")
    }

    /// The regular file `rel`, opened without following a symlink, and checked to be the
    /// file `m` describes.
    fn open_file(&self, rel: &Path, m: &Metadata) -> io::Result<fs::File> {
        let f = fs::File::from(self.open_rel(rel, OFlags::RDONLY | OFlags::NOFOLLOW)?);
        let now = f.metadata()?;
        if !now.is_file() || now.dev() != m.dev() || now.ino() != m.ino() {
            return Err(io::Error::other("replaced while being read"));
        }
        Ok(f)
    }
}

/// Visit the merged view of `layers` (top layer first) in sorted depth-first order, as
/// overlayfs would show it: the topmost entry wins, whiteouts hide, opaque directories
/// stop the merge of what is below them. `f(rel, layer, meta)`.
pub fn walk_merged(
    layers: &[PathBuf],
    f: &mut dyn FnMut(&Path, &Root, &Metadata) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut ls = Vec::new();
    for l in layers {
        ls.push(Root::open(l)?);
        if is_opaque(l) {
            break;
        }
    }
    let all: Vec<&Root> = ls.iter().collect();
    walk_dir(&all, Path::new(""), f)
}

fn walk_dir(
    ls: &[&Root],
    rel: &Path,
    f: &mut dyn FnMut(&Path, &Root, &Metadata) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut names = BTreeSet::new();
    for l in ls {
        names.extend(l.names(rel)?);
    }
    for name in names {
        let r = rel.join(&name);
        let Some((i, m)) = ls
            .iter()
            .enumerate()
            .find_map(|(i, l)| l.lstat(&r).ok().map(|m| (i, m)))
        else {
            continue;
        };
        if is_whiteout(&m) {
            continue;
        }
        f(&r, ls[i], &m)?;
        if m.is_dir() {
            let mut sub = vec![ls[i]];
            if !ls[i].is_opaque(&r) {
                for l in &ls[i + 1..] {
                    match l.lstat(&r) {
                        Err(_) => continue,
                        Ok(m2) if !m2.is_dir() => break,
                        Ok(_) => {
                            sub.push(l);
                            if l.is_opaque(&r) {
                                break;
                            }
                        }
                    }
                }
            }
            walk_dir(&sub, &r, f)?;
        }
    }
    Ok(())
}

/// What an entry's tar record needs from the file besides its metadata.
enum Content {
    File(fs::File),
    Link(Vec<u8>),
    None,
}

/// The file at a path is no longer the one its metadata described: it was replaced by
/// something else (ELOOP: a symlink, where the open allowed none), or removed.
fn is_changed(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ELOOP) | Some(libc::ENOENT) | Some(libc::EINVAL) | Some(libc::ENOTDIR)
    ) || e.kind() == io::ErrorKind::Other
}

/// Writes file-system entries into a tar, keeping owners, modes, mtimes, xattrs
/// (except overlay's own) and hardlinks.
pub struct TarWriter<W: Write> {
    pub b: tar::Builder<W>,
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> TarWriter<W> {
    pub fn new(w: W) -> Self {
        let mut b = tar::Builder::new(w);
        b.mode(tar::HeaderMode::Complete);
        TarWriter {
            b,
            links: HashMap::new(),
        }
    }

    fn base_header(m: &Metadata, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(m.mode() & 0o7777);
        h.set_uid(m.uid() as u64);
        h.set_gid(m.gid() as u64);
        h.set_mtime(m.mtime().max(0) as u64);
        h.set_size(0);
        h
    }

    fn xattrs(&mut self, root: &Root, rel: &Path) -> Result<(), Error> {
        let src = root.show(rel);
        let (_parent, p) = root.via_parent(rel).ctx("open", &src)?;
        let names = match sys::llistxattr(&p) {
            Ok(n) => n,
            // removed since it was opened (a running container's doing): what was read stands
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Vec::new(),
            Err(e) => return Err(Error::io("list the xattrs of", &src, e)),
        };
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        for n in names {
            if n.starts_with(b"trusted.overlay.") {
                continue;
            }
            let key = String::from_utf8_lossy(&n).into_owned();
            if let Some(v) = sys::lgetxattr(&p, &key).ctx("read the xattrs of", &src)? {
                pax.push((format!("SCHILY.xattr.{key}"), v));
            }
        }
        if !pax.is_empty() {
            self.b
                .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                .ctx("write the tar entry for", &src)?;
        }
        Ok(())
    }

    /// Append the entry `rel` of the layer `root`, whose metadata (not followed) is `m`.
    /// A file replaced meanwhile (a running container's doing) is archived as what it has
    /// become, a symlink as a symlink; one removed meanwhile is left out.
    pub fn append(&mut self, rel: &Path, root: &Root, m: &Metadata) -> Result<(), Error> {
        let src = &root.show(rel);
        let mut m = m.clone();
        for _ in 0..8 {
            // what the entry needs from the file itself, taken before anything is written
            let content = if m.is_file() {
                root.open_file(rel, &m).map(Content::File)
            } else if m.file_type().is_symlink() {
                root.read_link(rel).map(Content::Link)
            } else {
                Ok(Content::None)
            };
            match content {
                Ok(c) => return self.append_with(rel, root, &m, c),
                Err(e) if is_changed(&e) => match root.lstat(rel) {
                    Ok(now) => m = now,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(Error::io("stat", src, e)),
                },
                Err(e) => return Err(Error::io("read", src, e)),
            }
        }
        Err(Error::msg(format!(
            "{}: keeps changing while being read",
            src.display()
        )))
    }

    fn append_with(
        &mut self,
        rel: &Path,
        root: &Root,
        m: &Metadata,
        content: Content,
    ) -> Result<(), Error> {
        let src = &root.show(rel);
        let ft = m.file_type();
        let werr = |e| Error::io("write the tar entry for", src, e);
        if ft.is_socket() {
            return Ok(());
        }
        if !ft.is_dir() && m.nlink() > 1 {
            if let Some(first) = self.links.get(&(m.dev(), m.ino())) {
                let mut h = Self::base_header(m, tar::EntryType::Link);
                let first = first.clone();
                return self.b.append_link(&mut h, rel, first).map_err(werr);
            }
            self.links.insert((m.dev(), m.ino()), rel.to_path_buf());
        }
        self.xattrs(root, rel)?;
        match content {
            Content::File(f) => {
                let mut h = Self::base_header(m, tar::EntryType::Regular);
                h.set_size(m.len());
                // exactly the size in the header, even if the file changed meanwhile
                let data = f.take(m.len()).chain(io::repeat(0)).take(m.len());
                return self.b.append_data(&mut h, rel, data).map_err(werr);
            }
            Content::Link(t) => {
                let mut h = Self::base_header(m, tar::EntryType::Symlink);
                return self
                    .b
                    .append_link(&mut h, rel, sys::osstr(&t))
                    .map_err(werr);
            }
            Content::None => {}
        }
        if ft.is_dir() {
            let mut h = Self::base_header(m, tar::EntryType::Directory);
            let mut name = rel.as_os_str().as_bytes().to_vec();
            name.push(b'/');
            self.b
                .append_data(&mut h, sys::osstr(&name), std::io::empty())
                .map_err(werr)
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            let mut h = Self::base_header(m, kind);
            let (ma, mi) = (libc::major(m.rdev()), libc::minor(m.rdev()));
            h.set_device_major(ma).map_err(werr)?;
            h.set_device_minor(mi).map_err(werr)?;
            self.b
                .append_data(&mut h, rel, std::io::empty())
                .map_err(werr)
        }
    }

    /// An empty regular file entry (a whiteout marker).
    pub fn append_marker(&mut self, rel: &Path, mtime: u64) -> Result<(), Error> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(0);
        h.set_mtime(mtime);
        self.b
            .append_data(&mut h, rel, std::io::empty())
            .map_err(|e| Error::io("write the tar entry for", rel, e))
    }

    pub fn finish(self) -> Result<W, Error> {
        self.b
            .into_inner()
            .map_err(|e| Error::io("write", "tar", e))
    }
}

/// The merged view of `layers` as one tar (`docker export`).
pub fn write_merged_tar<W: Write>(layers: &[PathBuf], w: W) -> Result<W, Error> {
    let mut tw = TarWriter::new(w);
    walk_merged(layers, &mut |rel, root, m| tw.append(rel, root, m))?;
    tw.finish()
}

/// One layer directory as an OCI layer tar: overlay whiteouts become `.wh.NAME`, opaque
/// directories get a `.wh..wh..opq` entry.
pub fn write_layer_tar<W: Write>(dir: &Path, w: W) -> Result<W, Error> {
    let mut tw = TarWriter::new(w);
    let root = Root::open(dir)?;
    layer_dir(&mut tw, &root, Path::new(""))?;
    tw.finish()
}

fn layer_dir<W: Write>(tw: &mut TarWriter<W>, root: &Root, rel: &Path) -> Result<(), Error> {
    for name in root.names(rel)? {
        let r = rel.join(&name);
        let m = match root.lstat(&r) {
            Ok(m) => m,
            // removed since the folder was listed
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("stat", root.show(&r), e)),
        };
        if is_whiteout(&m) {
            let mut wh = WH_PREFIX.to_vec();
            wh.extend_from_slice(name.as_bytes());
            tw.append_marker(&rel.join(sys::osstr(&wh)), m.mtime().max(0) as u64)?;
            continue;
        }
        tw.append(&r, root, &m)?;
        if m.is_dir() {
            if root.is_opaque(&r) {
                tw.append_marker(&r.join(sys::osstr(OPAQUE)), m.mtime().max(0) as u64)?;
            }
            layer_dir(tw, root, &r)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(tar: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .unwrap()
            .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
            .collect()
    }

    #[test]
    fn whiteouts_convert_back_to_oci_entries() {
        if !sys::is_root() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::create_dir(d.join("dir")).unwrap();
        fs::write(d.join("dir/new"), "n").unwrap();
        let fd = sys::open_path(d, OFlags::PATH | OFlags::DIRECTORY).unwrap();
        sys::mknodat(&fd, b"gone", libc::S_IFCHR, 0, 0).unwrap();
        let dfd = sys::open_path(&d.join("dir"), OFlags::RDONLY | OFlags::DIRECTORY).unwrap();
        sys::fsetxattr(&dfd, OPAQUE_XATTR.as_bytes(), b"y").unwrap();
        let tar = write_layer_tar(d, Vec::new()).unwrap();
        assert_eq!(
            list(&tar),
            vec!["dir/", "dir/.wh..wh..opq", "dir/new", ".wh.gone"]
        );
        // and the round trip through extraction gives the overlay forms again
        let back = tempfile::tempdir().unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        crate::extract::Extractor::new(back.path(), "t")
            .unwrap()
            .extract(&mut a)
            .unwrap();
        assert!(is_whiteout(
            &fs::symlink_metadata(back.path().join("gone")).unwrap()
        ));
        assert!(is_opaque(&back.path().join("dir")));
    }

    #[test]
    fn merged_view_applies_whiteouts_and_opaque_dirs() {
        if !sys::is_root() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (low, up) = (t.path().join("low"), t.path().join("up"));
        for p in ["low/a", "low/d", "up/d"] {
            fs::create_dir_all(t.path().join(p)).unwrap();
        }
        fs::write(low.join("a/f"), "1").unwrap();
        fs::write(low.join("d/old"), "1").unwrap();
        fs::write(low.join("keep"), "1").unwrap();
        fs::write(up.join("d/new"), "2").unwrap();
        let fd = sys::open_path(&up, OFlags::PATH | OFlags::DIRECTORY).unwrap();
        sys::mknodat(&fd, b"a", libc::S_IFCHR, 0, 0).unwrap();
        let dfd = sys::open_path(&up.join("d"), OFlags::RDONLY | OFlags::DIRECTORY).unwrap();
        sys::fsetxattr(&dfd, OPAQUE_XATTR.as_bytes(), b"y").unwrap();
        let mut seen = Vec::new();
        walk_merged(&[up, low], &mut |rel, _, _| {
            seen.push(rel.display().to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec!["d", "d/new", "keep"]);
    }
}

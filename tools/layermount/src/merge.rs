//! Reading layers back: the merged view of a stack (as overlayfs shows it), and tars of a
//! single layer (overlay whiteouts turned back into OCI `.wh.` entries) or of a merged view.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
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

fn sorted_names(dir: &Path) -> Result<Vec<OsString>, Error> {
    let mut v: Vec<OsString> = Vec::new();
    for e in fs::read_dir(dir).ctx("read", dir)? {
        v.push(e.ctx("read", dir)?.file_name());
    }
    v.sort();
    Ok(v)
}

/// Visit the merged view of `layers` (top layer first) in sorted depth-first order, as
/// overlayfs would show it: the topmost entry wins, whiteouts hide, opaque directories
/// stop the merge of what is below them. `f(rel, src, meta)`.
pub fn walk_merged(
    layers: &[PathBuf],
    f: &mut dyn FnMut(&Path, &Path, &Metadata) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut ls = Vec::new();
    for l in layers {
        ls.push(l.clone());
        if is_opaque(l) {
            break;
        }
    }
    walk_dir(&ls, Path::new(""), f)
}

fn walk_dir(
    ls: &[PathBuf],
    rel: &Path,
    f: &mut dyn FnMut(&Path, &Path, &Metadata) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut names = BTreeSet::new();
    for l in ls {
        names.extend(sorted_names(&l.join(rel))?);
    }
    for name in names {
        let r = rel.join(&name);
        let Some((i, m)) = ls
            .iter()
            .enumerate()
            .find_map(|(i, l)| fs::symlink_metadata(l.join(&r)).ok().map(|m| (i, m)))
        else {
            continue;
        };
        if is_whiteout(&m) {
            continue;
        }
        let src = ls[i].join(&r);
        f(&r, &src, &m)?;
        if m.is_dir() {
            let mut sub = vec![ls[i].clone()];
            if !is_opaque(&src) {
                for l in &ls[i + 1..] {
                    match fs::symlink_metadata(l.join(&r)) {
                        Err(_) => continue,
                        Ok(m2) if !m2.is_dir() => break,
                        Ok(_) => {
                            sub.push(l.clone());
                            if is_opaque(&l.join(&r)) {
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

    fn xattrs(&mut self, src: &Path) -> Result<(), Error> {
        let names = sys::llistxattr(src).ctx("list the xattrs of", src)?;
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        for n in names {
            if n.starts_with(b"trusted.overlay.") {
                continue;
            }
            let key = String::from_utf8_lossy(&n).into_owned();
            if let Some(v) = sys::lgetxattr(src, &key).ctx("read the xattrs of", src)? {
                pax.push((format!("SCHILY.xattr.{key}"), v));
            }
        }
        if !pax.is_empty() {
            self.b
                .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                .ctx("write the tar entry for", src)?;
        }
        Ok(())
    }

    /// Append one entry named `rel` from `src` with metadata `m` (not followed).
    pub fn append(&mut self, rel: &Path, src: &Path, m: &Metadata) -> Result<(), Error> {
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
        self.xattrs(src)?;
        if ft.is_dir() {
            let mut h = Self::base_header(m, tar::EntryType::Directory);
            let mut name = rel.as_os_str().as_bytes().to_vec();
            name.push(b'/');
            self.b
                .append_data(&mut h, sys::osstr(&name), std::io::empty())
                .map_err(werr)
        } else if ft.is_file() {
            let mut h = Self::base_header(m, tar::EntryType::Regular);
            h.set_size(m.len());
            let f = fs::File::open(src).ctx("read", src)?;
            self.b.append_data(&mut h, rel, f).map_err(werr)
        } else if ft.is_symlink() {
            let mut h = Self::base_header(m, tar::EntryType::Symlink);
            let t = fs::read_link(src).ctx("read", src)?;
            self.b.append_link(&mut h, rel, t).map_err(werr)
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
    walk_merged(layers, &mut |rel, src, m| tw.append(rel, src, m))?;
    tw.finish()
}

/// One layer directory as an OCI layer tar: overlay whiteouts become `.wh.NAME`, opaque
/// directories get a `.wh..wh..opq` entry.
pub fn write_layer_tar<W: Write>(dir: &Path, w: W) -> Result<W, Error> {
    let mut tw = TarWriter::new(w);
    layer_dir(&mut tw, dir, Path::new(""))?;
    tw.finish()
}

fn layer_dir<W: Write>(tw: &mut TarWriter<W>, root: &Path, rel: &Path) -> Result<(), Error> {
    for name in sorted_names(&root.join(rel))? {
        let r = rel.join(&name);
        let src = root.join(&r);
        let m = fs::symlink_metadata(&src).ctx("stat", &src)?;
        if is_whiteout(&m) {
            let mut wh = WH_PREFIX.to_vec();
            wh.extend_from_slice(name.as_bytes());
            tw.append_marker(&rel.join(sys::osstr(&wh)), m.mtime().max(0) as u64)?;
            continue;
        }
        tw.append(&r, &src, &m)?;
        if m.is_dir() {
            if is_opaque(&src) {
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
        let fd = sys::open_path(d, libc::O_PATH | libc::O_DIRECTORY).unwrap();
        sys::mknodat(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            b"gone",
            libc::S_IFCHR,
            0,
            0,
        )
        .unwrap();
        let dfd = sys::open_path(&d.join("dir"), libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        sys::fsetxattr(
            std::os::fd::AsRawFd::as_raw_fd(&dfd),
            OPAQUE_XATTR.as_bytes(),
            b"y",
        )
        .unwrap();
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
        let fd = sys::open_path(&up, libc::O_PATH | libc::O_DIRECTORY).unwrap();
        sys::mknodat(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            b"a",
            libc::S_IFCHR,
            0,
            0,
        )
        .unwrap();
        let dfd = sys::open_path(&up.join("d"), libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        sys::fsetxattr(
            std::os::fd::AsRawFd::as_raw_fd(&dfd),
            OPAQUE_XATTR.as_bytes(),
            b"y",
        )
        .unwrap();
        let mut seen = Vec::new();
        walk_merged(&[up, low], &mut |rel, _, _| {
            seen.push(rel.display().to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec!["d", "d/new", "keep"]);
    }
}

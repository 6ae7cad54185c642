//! The original layer tar, byte for byte, from the extracted layer plus a small record of
//! everything in the tar that is not file content (headers, extension records, padding,
//! the end blocks): the idea of Docker's tar-split. `save` and `push` then write the very
//! tar that was imported or pulled, so its diff_id, the config and the image ID stay the same.
//!
//! The record (`layer/<hex>/tar-split`) is a sequence of `M` items (tag, u64 LE length, the
//! raw bytes) and `F` items (tag, u64 LE size, u32 LE path length, the path): an `F` stands
//! for the content of the regular file at that path in the layer. A tar this cannot express
//! (GNU sparse entries, a malformed header, a record past 16 MiB) gets no record; a record
//! that does not reproduce the diff_id is not used (the tar is then made from the files).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

use crate::digest::{Hashed, HashingWriter};
use crate::error::{Error, IoContext};
use crate::store::Store;

const BLOCK: u64 = 512;
const MAX_RECORD: usize = 16 << 20;
pub const FILE_NAME: &str = "tar-split";

enum State {
    /// collecting a 512-byte header
    Header,
    /// the content of an extension header (pax, GNU long name) or of a non-file entry:
    /// recorded
    Ext { left: u64, kind: u8, padding: u64 },
    /// a regular file's content: not recorded
    Content { left: u64, padding: u64 },
    /// padding after content: recorded
    Pad { left: u64 },
    /// from the first zero block on: everything is recorded
    Trailer,
    /// not expressible: no record
    Broken,
}

/// Passes a tar stream through unchanged, recording its non-content bytes.
pub struct Recorder<R> {
    inner: R,
    state: State,
    header: Vec<u8>,
    meta: Vec<u8>,
    out: Vec<u8>,
    ext: Vec<u8>,
    /// pax `path`/`size` or GNU long name for the next entry
    next_path: Option<Vec<u8>>,
    next_size: Option<u64>,
}

fn number(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        // base-256
        let mut v: u64 = (f[0] & 0x7f) as u64;
        for b in &f[1..] {
            v = v.checked_mul(256)?.checked_add(*b as u64)?;
        }
        return Some(v);
    }
    let s: Vec<u8> = f
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&s).ok()?, 8).ok()
}

fn cstr(f: &[u8]) -> &[u8] {
    &f[..f.iter().position(|b| *b == 0).unwrap_or(f.len())]
}

fn padding(n: u64) -> u64 {
    (BLOCK - n % BLOCK) % BLOCK
}

/// pax records `LEN key=value\n`: the `path` and `size` values.
fn pax(ext: &[u8]) -> (Option<Vec<u8>>, Option<u64>) {
    let (mut path, mut size) = (None, None);
    let mut rest = ext;
    while !rest.is_empty() {
        let Some(sp) = rest.iter().position(|b| *b == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        if len <= sp || len > rest.len() {
            break;
        }
        let rec = &rest[sp + 1..len];
        let rec = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Some(eq) = rec.iter().position(|b| *b == b'=') {
            match &rec[..eq] {
                b"path" => path = Some(rec[eq + 1..].to_vec()),
                b"size" => {
                    size = std::str::from_utf8(&rec[eq + 1..])
                        .ok()
                        .and_then(|s| s.parse().ok())
                }
                _ => {}
            }
        }
        rest = &rest[len..];
    }
    (path, size)
}

impl<R: Read> Recorder<R> {
    pub fn new(inner: R) -> Recorder<R> {
        Recorder {
            inner,
            state: State::Header,
            header: Vec::with_capacity(BLOCK as usize),
            meta: Vec::new(),
            out: Vec::new(),
            ext: Vec::new(),
            next_path: None,
            next_size: None,
        }
    }

    /// The record, once the whole stream has been read; `None` if it cannot be expressed.
    pub fn finish(mut self) -> Option<Vec<u8>> {
        match self.state {
            State::Header | State::Trailer => {
                self.flush_meta();
                (self.out.len() <= MAX_RECORD).then_some(self.out)
            }
            _ => None,
        }
    }

    fn flush_meta(&mut self) {
        if !self.meta.is_empty() {
            self.out.push(b'M');
            self.out
                .extend_from_slice(&(self.meta.len() as u64).to_le_bytes());
            self.out.append(&mut self.meta);
        }
    }

    fn on_header(&mut self) {
        let h = std::mem::take(&mut self.header);
        self.meta.extend_from_slice(&h);
        if h.iter().all(|b| *b == 0) {
            self.state = State::Trailer;
            return;
        }
        let Some(size) = number(&h[124..136]) else {
            self.state = State::Broken;
            return;
        };
        let kind = h[156];
        self.state = match kind {
            b'S' => State::Broken,
            b'0' | 0 | b'7' => {
                let size = self.next_size.take().unwrap_or(size);
                let path = self.next_path.take().unwrap_or_else(|| {
                    let name = cstr(&h[0..100]);
                    let prefix = if &h[257..262] == b"ustar" {
                        cstr(&h[345..500])
                    } else {
                        &[]
                    };
                    if prefix.is_empty() {
                        name.to_vec()
                    } else {
                        [prefix, b"/", name].concat()
                    }
                });
                self.flush_meta();
                self.out.push(b'F');
                self.out.extend_from_slice(&size.to_le_bytes());
                self.out
                    .extend_from_slice(&(path.len() as u32).to_le_bytes());
                self.out.extend_from_slice(&path);
                State::Content {
                    left: size,
                    padding: padding(size),
                }
            }
            _ => {
                if !matches!(kind, b'x' | b'g' | b'L' | b'K') {
                    // the path and size were this (non-file) entry's
                    self.next_path = None;
                    self.next_size = None;
                }
                self.ext.clear();
                State::Ext {
                    left: size,
                    kind,
                    padding: padding(size),
                }
            }
        };
        self.settle();
    }

    /// Move past states that have nothing left to consume.
    fn settle(&mut self) {
        loop {
            self.state = match self.state {
                State::Ext {
                    left: 0,
                    kind,
                    padding,
                } => {
                    match kind {
                        b'x' => {
                            let (p, s) = pax(&self.ext);
                            if p.is_some() {
                                self.next_path = p;
                            }
                            if s.is_some() {
                                self.next_size = s;
                            }
                        }
                        b'L' => self.next_path = Some(cstr(&self.ext).to_vec()),
                        _ => {}
                    }
                    State::Pad { left: padding }
                }
                State::Content { left: 0, padding } => State::Pad { left: padding },
                State::Pad { left: 0 } => State::Header,
                _ => return,
            };
        }
    }

    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.meta.len() + self.out.len() > MAX_RECORD {
                self.state = State::Broken;
            }
            match &mut self.state {
                State::Broken => return,
                State::Trailer => {
                    self.meta.extend_from_slice(data);
                    return;
                }
                State::Header => {
                    let n = (BLOCK as usize - self.header.len()).min(data.len());
                    self.header.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if self.header.len() == BLOCK as usize {
                        self.on_header();
                    }
                }
                State::Ext { left, .. } => {
                    let n = (*left).min(data.len() as u64) as usize;
                    *left -= n as u64;
                    self.meta.extend_from_slice(&data[..n]);
                    if self.ext.len() < MAX_RECORD {
                        self.ext.extend_from_slice(&data[..n]);
                    }
                    data = &data[n..];
                    self.settle();
                }
                State::Content { left, .. } => {
                    let n = (*left).min(data.len() as u64) as usize;
                    *left -= n as u64;
                    data = &data[n..];
                    self.settle();
                }
                State::Pad { left } => {
                    let n = (*left).min(data.len() as u64) as usize;
                    *left -= n as u64;
                    self.meta.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    self.settle();
                }
            }
        }
    }
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.feed(&buf[..n]);
        Ok(n)
    }
}

/// Write the tar a record describes, file contents read from the layer directory `diff`
/// (no symlink followed; each must be a regular file of the recorded size).
pub fn regenerate(record: &[u8], diff: &Path, w: &mut dyn Write) -> Result<(), Error> {
    let bad = || {
        Error::msg(format!(
            "{}: the tar-split record is damaged",
            diff.display()
        ))
    };
    let root = crate::sys::open_path(
        diff,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
    )
    .ctx("open", diff)?;
    let mut r = record;
    let mut take = |n: usize| -> Result<&[u8], Error> {
        if r.len() < n {
            return Err(bad());
        }
        let (a, b) = r.split_at(n);
        r = b;
        Ok(a)
    };
    loop {
        let tag = match take(1) {
            Ok(t) => t[0],
            Err(_) => return Ok(()),
        };
        let len = u64::from_le_bytes(take(8)?.try_into().map_err(|_| bad())?);
        match tag {
            b'M' => {
                let b = take(usize::try_from(len).map_err(|_| bad())?)?;
                w.write_all(b).ctx("write", "layer tar")?;
            }
            b'F' => {
                let plen = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad())?);
                let path = take(plen as usize)?;
                if len == 0 {
                    continue;
                }
                let comps = crate::extract::clean_path(path).map_err(|_| bad())?;
                let rel = comps.join(&b'/');
                let what = diff.join(String::from_utf8_lossy(&rel).as_ref());
                let fd = crate::sys::open_strict(root.as_fd(), &rel, rustix::fs::OFlags::RDONLY)
                    .ctx("open", &what)?;
                let f = File::from(fd);
                let m = f.metadata().ctx("stat", &what)?;
                if !m.is_file() || m.len() != len {
                    return Err(Error::msg(format!(
                        "{}: not the file the tar-split record names",
                        what.display()
                    )));
                }
                let n = io::copy(&mut f.take(len), w).ctx("read", &what)?;
                if n != len {
                    return Err(Error::msg(format!(
                        "{}: shorter than recorded",
                        what.display()
                    )));
                }
            }
            _ => return Err(bad()),
        }
    }
}

/// Layer `diff_id` written as a tar into `path` (created anew), gzip-compressed when
/// `gzip`: the original tar when the layer's record reproduces its diff_id, else one made
/// from its files. Returns (the tar's digest, the file's digest, the file's size).
pub fn layer_file(
    store: &Store,
    diff_id: &str,
    path: &Path,
    gzip: bool,
) -> Result<(String, String, u64), Error> {
    let diff = store.layer_diff(diff_id);
    let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
    let rec_path = store.layer_dir(hex).join(FILE_NAME);
    if let Ok(rec) = std::fs::read(&rec_path) {
        match write_to(path, gzip, &mut |w| regenerate(&rec, &diff, w)) {
            Ok(r) if r.0 == diff_id => {
                common::debug!("layer {}: the original tar", crate::store::short(diff_id));
                return Ok(r);
            }
            Ok(r) => common::debug!(
                "layer {}: the record gives {}: made from the files",
                crate::store::short(diff_id),
                r.0
            ),
            Err(e) => common::debug!(
                "layer {}: {e}: made from the files",
                crate::store::short(diff_id)
            ),
        }
    }
    write_to(path, gzip, &mut |w| {
        crate::merge::write_layer_tar(&diff, w).map(|_| ())
    })
}

fn write_to(
    path: &Path,
    gzip: bool,
    f: &mut dyn FnMut(&mut dyn Write) -> Result<(), Error>,
) -> Result<(String, String, u64), Error> {
    let file = File::create(path).ctx("create", path)?;
    let mut inner = HashingWriter {
        inner: io::BufWriter::with_capacity(1 << 20, file),
        h: Hashed::default(),
    };
    let tar_digest = if gzip {
        let gz = flate2::write::GzEncoder::new(&mut inner, flate2::Compression::default());
        let mut outer = HashingWriter {
            inner: gz,
            h: Hashed::default(),
        };
        f(&mut outer)?;
        let d = std::mem::take(&mut outer.h).digest();
        outer.inner.finish().ctx("write", path)?;
        Some(d)
    } else {
        f(&mut inner)?;
        None
    };
    inner.flush().ctx("write", path)?;
    let size = inner.h.bytes;
    let blob = std::mem::take(&mut inner.h).digest();
    Ok((tar_digest.unwrap_or_else(|| blob.clone()), blob, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tar: &[u8]) -> Option<Vec<u8>> {
        let mut r = Recorder::new(tar);
        io::copy(&mut r, &mut io::sink()).unwrap();
        r.finish()
    }

    #[test]
    fn a_tar_comes_back_byte_for_byte() {
        let d = tempfile::tempdir().unwrap();
        let diff = d.path().join("diff");
        std::fs::create_dir_all(diff.join("a")).unwrap();
        let long = "x".repeat(150);
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(123);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, data).unwrap();
            let p = diff.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        };
        add("a/one", b"hello");
        add(&format!("a/{long}"), &vec![7u8; 100_000]);
        add("empty", b"");
        let mut tarball = b.into_inner().unwrap();
        tarball.extend_from_slice(&[0u8; 2048]); // extra end blocks, as some tools write
        let rec = record(&tarball).unwrap();
        assert!(
            rec.len() < tarball.len() - 99_000,
            "the record holds no content"
        );
        let mut out = Vec::new();
        regenerate(&rec, &diff, &mut out).unwrap();
        assert_eq!(out, tarball);
        // a changed file is refused
        std::fs::write(diff.join("a/one"), b"hello!").unwrap();
        assert!(regenerate(&rec, &diff, &mut Vec::new()).is_err());
    }

    #[test]
    fn pax_paths_and_damage() {
        assert_eq!(
            pax(b"20 path=a/b/c/d/e/f\n11 size=42\n"),
            (Some(b"a/b/c/d/e/f".to_vec()), Some(42))
        );
        assert_eq!(pax(b"garbage"), (None, None));
        // a truncated stream has no record
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(600);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "f", &[1u8; 600][..]).unwrap();
        let t = b.into_inner().unwrap();
        assert!(record(&t[..700]).is_none());
        assert!(regenerate(b"Z", Path::new("/"), &mut Vec::new()).is_err());
    }
}

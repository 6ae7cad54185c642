//! sha256 while streaming, and decompression by magic number.

use std::io::{self, BufRead, BufReader, Read, Write};

use sha2::{Digest, Sha256};

#[derive(Default)]
pub struct Hashed {
    hasher: Sha256,
    pub bytes: u64,
}

impl Hashed {
    pub fn digest(self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.finalize()))
    }

    pub fn update(&mut self, b: &[u8]) {
        self.hasher.update(b);
        self.bytes += b.len() as u64;
    }
}

/// A reader that hashes what passes through it.
pub struct HashingReader<'h, R> {
    inner: R,
    h: &'h mut Hashed,
}

impl<'h, R: Read> HashingReader<'h, R> {
    pub fn new(inner: R, h: &'h mut Hashed) -> Self {
        HashingReader { inner, h }
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that hashes what passes through it.
pub struct HashingWriter<W> {
    pub inner: W,
    pub h: Hashed,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wrap `r` in the decoder its first bytes call for (gzip, zstd, or none).
pub fn decompress<'a, R: Read + 'a>(r: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let kind = sniff(br.fill_buf()?);
    Ok(match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(br)?),
        Compression::None => Box::new(br),
    })
}

pub fn sha256_bytes(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_detected_and_decoded() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"hello").unwrap();
        let gz = e.finish().unwrap();
        assert_eq!(sniff(&gz), Compression::Gzip);
        let mut s = String::new();
        decompress(&gz[..]).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        let z = zstd::stream::encode_all(&b"hello"[..], 1).unwrap();
        let mut s = String::new();
        decompress(&z[..]).unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        assert_eq!(
            sha256_bytes(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

//! The store under `$CTRKIT_ROOT/layers/`:
//!
//! ```text
//! layers/
//!   store.lock                 shared: import/commit/mount; exclusive: rm, gc, ref updates
//!   layer/<hex>/diff/          one extracted layer, keyed by its diff_id (sha256 of its tar)
//!   layer/<hex>/layer.json     {diff_id, size, entries, created}
//!   l/<12 hex>                 short symlink to layer/<hex>/diff (legacy mount fallback)
//!   locks/<hex>.lock           held while a layer is being extracted
//!   images/<hex>/config.json   the image config, byte for byte (image ID = its sha256)
//!   images/<hex>/image.json    {id, layers: [diff_id...], created}
//!   refs.json                  {"name:tag": "sha256:..."}
//!   containers/<id>/           container.json, upper/, work/ (overlay) or rootfs/ (vfs)
//!   tmp/                       extraction in progress; renamed into place when complete
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

use crate::cli::Driver;
use crate::error::{Error, IoContext};
use common::state::{Lock, Private, private_dir};

#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
    /// `$CTRKIT_STATE`: where a running container's cgroup is recorded
    pub state_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerRecord {
    pub diff_id: String,
    /// bytes of file content in the layer
    pub size: u64,
    pub entries: u64,
    pub created: String,
}

/// A compressed blob a layer was pulled as, and where from: push reuses it (the registry
/// may have it already, or mount it from that repository) instead of compressing anew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRecord {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    /// `registry/repository`
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    pub id: String,
    /// diff_ids, bottom layer first
    pub layers: Vec<String>,
    pub created: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub image: String,
    /// the image's diff_ids, kept so gc never removes them while the container exists
    pub layers: Vec<String>,
    pub driver: Driver,
    /// where it is mounted (in the mount namespace of the caller that mounted it)
    pub target: Option<String>,
    pub created: String,
}

/// A directory under `tmp/` removed on drop unless kept.
pub struct TempDir {
    pub path: PathBuf,
    keep: bool,
}

impl TempDir {
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// `sha256:<64 hex>` → the hex; anything else is an error naming `what`.
pub fn digest_hex<'a>(d: &'a str, what: &str) -> Result<&'a str, Error> {
    let hex = d.strip_prefix("sha256:").ok_or_else(|| {
        Error::msg(format!(
            "{what}: unsupported digest '{d}' (only sha256 is supported)"
        ))
    })?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::msg(format!("{what}: malformed digest '{d}'")));
    }
    Ok(hex)
}

pub fn short(id: &str) -> &str {
    let h = id.strip_prefix("sha256:").unwrap_or(id);
    &h[..h.len().min(12)]
}

/// `name` → `name:latest`; validates the Docker reference grammar loosely.
pub fn normalize_name(s: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::Usage(format!("invalid image name '{s}': {why}"));
    if s.is_empty() {
        return Err(bad("empty"));
    }
    // NAME@sha256:HEX, what a pull by digest alone names its image
    if let Some((repo, d)) = s.split_once('@') {
        digest_hex(d, s).map_err(|_| bad("the digest must be sha256:<64 hex>"))?;
        normalize_name(repo)?;
        if repo
            .rfind(':')
            .is_some_and(|i| !repo[i + 1..].contains('/'))
        {
            return Err(bad("NAME:TAG@DIGEST: give the tag or the digest"));
        }
        return Ok(s.to_string());
    }
    let (repo, tag) = match s.rfind(':') {
        Some(i) if !s[i + 1..].contains('/') => (&s[..i], &s[i + 1..]),
        _ => (s, "latest"),
    };
    if repo.is_empty() || tag.is_empty() || tag.len() > 128 {
        return Err(bad("NAME and TAG must not be empty"));
    }
    if !repo
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:".contains(&b))
    {
        return Err(bad(
            "NAME may contain lowercase letters, digits and . _ - / only",
        ));
    }
    if !tag
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(bad("TAG may contain letters, digits and . _ - only"));
    }
    Ok(format!("{repo}:{tag}"))
}

/// `common::state::private_dir`, saying so when it tightened a folder.
fn private(p: &Path) -> Result<(), Error> {
    if let Private::Tightened(old) = private_dir(p).ctx("create", p)? {
        common::debug!("{}: was mode {old:04o}, now 0700", p.display());
    }
    Ok(())
}

static TMP_COUNTER: AtomicU32 = AtomicU32::new(0);

impl Store {
    /// Open the store, making its folders; `$CTRKIT_ROOT`, `layers/` and the folders in it
    /// are made 0700, or tightened to it when found looser (see `common::state::private_dir`).
    pub fn open(dirs: &common::state::Dirs) -> Result<Store, Error> {
        if let Some(parent) = dirs.root.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).ctx("create", parent)?;
        }
        private(&dirs.root)?;
        let root = dirs.root.join("layers");
        private(&root)?;
        for sub in ["layer", "l", "locks", "images", "containers", "tmp"] {
            private(&root.join(sub))?;
        }
        // absolute, so paths stay valid across the legacy mount's chdir
        let root = fs::canonicalize(&root).ctx("resolve", &root)?;
        Ok(Store {
            root,
            state_dir: dirs.state_dir.clone(),
        })
    }

    pub fn lock_shared(&self) -> Result<Lock, Error> {
        let p = self.root.join("store.lock");
        Lock::shared(&p).ctx("lock", &p)
    }

    pub fn lock_exclusive(&self) -> Result<Lock, Error> {
        let p = self.root.join("store.lock");
        Lock::exclusive(&p).ctx("lock", &p)
    }

    /// Serialises updates of small records (refs, container records) between shared holders.
    pub fn lock_records(&self) -> Result<Lock, Error> {
        let p = self.root.join("records.lock");
        Lock::exclusive(&p).ctx("lock", &p)
    }

    pub fn layer_lock(&self, hex: &str) -> Result<Lock, Error> {
        let p = self.root.join("locks").join(format!("{hex}.lock"));
        Lock::exclusive(&p).ctx("lock", &p)
    }

    pub fn tempdir(&self, prefix: &str) -> Result<TempDir, Error> {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self
            .root
            .join("tmp")
            .join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).ctx("create", &path)?;
        Ok(TempDir { path, keep: false })
    }

    pub fn layer_dir(&self, hex: &str) -> PathBuf {
        self.root.join("layer").join(hex)
    }

    pub fn layer_diff(&self, diff_id: &str) -> PathBuf {
        let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
        self.layer_dir(hex).join("diff")
    }

    pub fn short_link(&self, diff_id: &str) -> PathBuf {
        self.root.join("l").join(short(diff_id))
    }

    pub fn has_layer(&self, hex: &str) -> bool {
        self.layer_dir(hex).join("layer.json").is_file()
    }

    pub fn read_layer(&self, diff_id: &str) -> Result<LayerRecord, Error> {
        let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
        read_json(&self.layer_dir(hex).join("layer.json"))
    }

    pub fn layers(&self) -> Result<Vec<LayerRecord>, Error> {
        let mut out = Vec::new();
        for hex in list_dir(&self.root.join("layer"))? {
            if self.has_layer(&hex) {
                out.push(self.read_layer(&hex)?);
            }
        }
        Ok(out)
    }

    /// Move a completed extraction (`tmp` holding `diff/`) into place as layer `hex`.
    /// Another process that got there first wins; ours is discarded.
    pub fn commit_layer(&self, tmp: TempDir, rec: &LayerRecord) -> Result<(), Error> {
        let hex = digest_hex(&rec.diff_id, "layer")?.to_string();
        let meta = tmp.path.join("layer.json");
        write_atomic(&meta, &to_json(rec)?)?;
        let dst = self.layer_dir(&hex);
        let src = tmp.keep();
        match fs::rename(&src, &dst) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTEMPTY)) => {
                let _ = fs::remove_dir_all(&src);
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&src);
                return Err(Error::io("move into place", &dst, e));
            }
        }
        let link = self.short_link(&rec.diff_id);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("../layer/{hex}/diff"), &link).ctx("create", &link)?;
        Ok(())
    }

    /// The blobs layer `diff_id` was pulled as (none for an imported or committed layer).
    pub fn layer_blobs(&self, diff_id: &str) -> Vec<BlobRecord> {
        let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
        read_json(&self.layer_dir(hex).join("blobs.json")).unwrap_or_default()
    }

    /// Remember that layer `diff_id` (in the store) was pulled as `b`.
    pub fn add_layer_blob(&self, diff_id: &str, b: BlobRecord) -> Result<(), Error> {
        let hex = digest_hex(diff_id, "layer")?;
        if !self.has_layer(hex) {
            return Ok(());
        }
        let _l = self.lock_records()?;
        let mut v = self.layer_blobs(diff_id);
        if v.contains(&b) {
            return Ok(());
        }
        v.retain(|x| !(x.digest == b.digest && x.source == b.source));
        v.push(b);
        write_atomic(&self.layer_dir(hex).join("blobs.json"), &to_json(&v)?)
    }

    pub fn remove_layer(&self, diff_id: &str) -> Result<(), Error> {
        let hex = digest_hex(diff_id, "layer")?;
        let _ = fs::remove_file(self.short_link(diff_id));
        // rename first so a half-removed layer never looks complete
        let dst = self.layer_dir(hex);
        self.discard(&dst, &format!("rm-{hex}"))
    }

    /// Rename `dir` into `tmp/` (under a name no other run uses: a killed run's leftover
    /// never blocks the rename), then remove it. What a killed run leaves there, gc removes.
    pub fn discard(&self, dir: &Path, prefix: &str) -> Result<(), Error> {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let doomed = self
            .root
            .join("tmp")
            .join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&doomed);
        fs::rename(dir, &doomed).ctx("remove", dir)?;
        fs::remove_dir_all(&doomed).ctx("remove", &doomed)
    }

    // ---- images ------------------------------------------------------------------------

    pub fn image_dir(&self, id: &str) -> PathBuf {
        self.root
            .join("images")
            .join(id.strip_prefix("sha256:").unwrap_or(id))
    }

    pub fn read_image(&self, id: &str) -> Result<ImageRecord, Error> {
        read_json(&self.image_dir(id).join("image.json"))
    }

    pub fn read_config(&self, id: &str) -> Result<Vec<u8>, Error> {
        let p = self.image_dir(id).join("config.json");
        fs::read(&p).ctx("read", &p)
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>, Error> {
        let mut out = Vec::new();
        for hex in list_dir(&self.root.join("images"))? {
            if self.image_dir(&hex).join("image.json").is_file() {
                out.push(self.read_image(&hex)?);
            }
        }
        Ok(out)
    }

    /// Write an image record and its config (atomically: temp dir + rename).
    pub fn write_image(&self, rec: &ImageRecord, config: &[u8]) -> Result<(), Error> {
        let dst = self.image_dir(&rec.id);
        if dst.join("image.json").is_file() {
            return Ok(());
        }
        let tmp = self.tempdir("image")?;
        let c = tmp.path.join("config.json");
        write_atomic(&c, config)?;
        let i = tmp.path.join("image.json");
        write_atomic(&i, &to_json(rec)?)?;
        let src = tmp.keep();
        match fs::rename(&src, &dst) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTEMPTY)) => {
                let _ = fs::remove_dir_all(&src);
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&src);
                Err(Error::io("move into place", &dst, e))
            }
        }
    }

    pub fn remove_image(&self, id: &str) -> Result<(), Error> {
        let dst = self.image_dir(id);
        self.discard(&dst, &format!("rmi-{}", short(id)))
    }

    pub fn refs(&self) -> Result<BTreeMap<String, String>, Error> {
        let p = self.root.join("refs.json");
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Json {
                what: p.display().to_string(),
                source: e,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io("read", &p, e)),
        }
    }

    /// Call with [`Store::lock_records`] held.
    pub fn write_refs(&self, refs: &BTreeMap<String, String>) -> Result<(), Error> {
        let p = self.root.join("refs.json");
        write_atomic(&p, &to_json(refs)?)
    }

    pub fn set_ref(&self, name: &str, id: &str) -> Result<(), Error> {
        let _l = self.lock_records()?;
        let mut refs = self.refs()?;
        refs.insert(name.to_string(), id.to_string());
        self.write_refs(&refs)
    }

    pub fn names_of(&self, refs: &BTreeMap<String, String>, id: &str) -> Vec<String> {
        refs.iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Resolve an image reference: NAME[:TAG], a full ID (with or without `sha256:`), or a
    /// unique ID prefix of at least 4 hex digits.
    pub fn resolve_image(&self, s: &str) -> Result<ImageRecord, Error> {
        let refs = self.refs()?;
        if let Ok(n) = normalize_name(s) {
            if let Some(id) = refs.get(&n) {
                return self.read_image(id);
            }
        }
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let matches: Vec<String> = list_dir(&self.root.join("images"))?
                .into_iter()
                .filter(|h| h.starts_with(hex))
                .collect();
            match matches.len() {
                1 => return self.read_image(&matches[0]),
                0 => {}
                _ => return Err(Error::Ambiguous(s.to_string())),
            }
        }
        Err(Error::NoImage(s.to_string()))
    }

    // ---- containers ----------------------------------------------------------------------

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    pub fn read_container(&self, id: &str) -> Result<ContainerRecord, Error> {
        let p = self.container_dir(id).join("container.json");
        if !p.is_file() {
            return Err(Error::NoContainer(id.to_string()));
        }
        read_json(&p)
    }

    pub fn write_container(&self, rec: &ContainerRecord) -> Result<(), Error> {
        let p = self.container_dir(&rec.id).join("container.json");
        write_atomic(&p, &to_json(rec)?)
    }

    pub fn containers(&self) -> Result<Vec<ContainerRecord>, Error> {
        let mut out = Vec::new();
        for id in list_dir(&self.root.join("containers"))? {
            if let Ok(c) = self.read_container(&id) {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// Replace `path` whole (common's atomic_write: temp file + rename, no fsync). Like `tar -x`
/// and umoci, the store trades power-loss durability of the newest writes for speed; an
/// interrupted process never leaves a partial file or layer under its final name.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    common::state::atomic_write(path, data).map_err(|e| Error::io("write", path, e))
}

pub fn list_dir(p: &Path) -> Result<Vec<String>, Error> {
    let mut v = Vec::new();
    let rd = match fs::read_dir(p) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(Error::io("read", p, e)),
    };
    for e in rd {
        let e = e.ctx("read", p)?;
        if let Some(n) = e.file_name().to_str() {
            v.push(n.to_string());
        }
    }
    v.sort();
    Ok(v)
}

pub fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T, Error> {
    let b = fs::read(p).ctx("read", p)?;
    serde_json::from_slice(&b).map_err(|e| Error::Json {
        what: p.display().to_string(),
        source: e,
    })
}

pub fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, Error> {
    let mut b = serde_json::to_vec_pretty(v).map_err(|e| Error::Json {
        what: "record".into(),
        source: e,
    })?;
    b.push(b'\n');
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize_name("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize_name("a/b:v1").unwrap(), "a/b:v1");
        assert_eq!(
            normalize_name("localhost:5000/x").unwrap(),
            "localhost:5000/x:latest"
        );
        assert!(normalize_name("UPPER").is_err());
        assert!(normalize_name("x:").is_err());
        assert!(normalize_name("").is_err());
    }

    #[test]
    fn digests() {
        let h = "a".repeat(64);
        assert_eq!(digest_hex(&format!("sha256:{h}"), "x").unwrap(), h);
        assert!(digest_hex("sha512:abc", "x").is_err());
        assert!(digest_hex("sha256:../../etc", "x").is_err());
    }
}

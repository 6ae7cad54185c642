//! Reading image archives: docker save, OCI layout (dir or tar), plain rootfs tar; and
//! adding a verified layer to the store.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::OFlags;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::Deserialize;

use crate::digest::{self, Hashed, HashingReader};
use crate::error::{Error, IoContext};
use crate::extract::{self, Extractor};
use crate::platform::Platform;
use crate::store::{self, LayerRecord, Store};
use crate::sys;

/// Where the archive's files come from.
pub enum Source {
    Dir {
        fd: OwnedFd,
        path: PathBuf,
    },
    Tar {
        file: PathBuf,
        index: HashMap<String, (u64, u64)>,
        /// name → (target, is a hardlink)
        links: HashMap<String, (String, bool)>,
    },
}

fn norm(name: &str) -> Option<String> {
    extract::clean_path(name.as_bytes()).ok().map(|c| {
        c.iter()
            .map(|s| String::from_utf8_lossy(s))
            .collect::<Vec<_>>()
            .join("/")
    })
}

impl Source {
    pub fn dir(path: &Path) -> Result<Source, Error> {
        let fd = sys::open_path(path, OFlags::PATH | OFlags::DIRECTORY).ctx("open", path)?;
        Ok(Source::Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Index a tar file's regular files (name → offset, size) without reading their data.
    pub fn tar(file: &Path, label: &str) -> Result<Source, Error> {
        let f = File::open(file).ctx("open", file)?;
        let mut a = tar::Archive::new(f);
        let mut index = HashMap::new();
        let mut links = HashMap::new();
        let bad = |e: io::Error| Error::Archive {
            what: label.to_string(),
            source: e,
        };
        for e in a.entries_with_seek().map_err(bad)? {
            let e = e.map_err(bad)?;
            let Some(name) = norm(&String::from_utf8_lossy(&e.path_bytes())) else {
                continue;
            };
            match e.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    index.insert(name, (e.raw_file_position(), e.size()));
                }
                kind @ (tar::EntryType::Symlink | tar::EntryType::Link) => {
                    if let Some(t) = e.link_name_bytes() {
                        let hard = kind == tar::EntryType::Link;
                        links.insert(name, (String::from_utf8_lossy(&t).into_owned(), hard));
                    }
                }
                _ => {}
            }
        }
        Ok(Source::Tar {
            file: file.to_path_buf(),
            index,
            links,
        })
    }

    pub fn exists(&self, name: &str) -> bool {
        match self {
            Source::Dir { fd, .. } => norm(name)
                .is_some_and(|n| sys::open_beneath(fd.as_fd(), n.as_bytes(), OFlags::PATH).is_ok()),
            Source::Tar { index, .. } => norm(name).is_some_and(|n| index.contains_key(&n)),
        }
    }

    /// Open a member for reading, with its size when known.
    pub fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), Error> {
        let missing = || Error::msg(format!("archive member '{name}' is missing"));
        let n = norm(name)
            .ok_or_else(|| Error::msg(format!("archive member name '{name}' is not allowed")))?;
        match self {
            Source::Dir { fd, path } => {
                let f =
                    sys::open_beneath(fd.as_fd(), n.as_bytes(), OFlags::RDONLY).map_err(|e| {
                        if e.raw_os_error() == Some(libc::ENOENT) {
                            missing()
                        } else {
                            Error::io("open", path.join(&n), e)
                        }
                    })?;
                let f = File::from(f);
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                Ok((Box::new(f), len))
            }
            Source::Tar { file, index, links } => {
                let mut n = n;
                for _ in 0..8 {
                    if let Some((t, hard)) = links.get(&n) {
                        // a symlink's target is relative to its directory; a hardlink's (a
                        // tar member name) to the archive's root, wherever the link is
                        let base = if *hard {
                            String::new()
                        } else {
                            Path::new(&n)
                                .parent()
                                .unwrap_or(Path::new(""))
                                .to_string_lossy()
                                .into_owned()
                        };
                        let joined = if base.is_empty() {
                            t.clone()
                        } else {
                            format!("{base}/{t}")
                        };
                        n = resolve_dots(&joined)
                            .or_else(|| norm(t))
                            .ok_or_else(missing)?;
                        if index.contains_key(&n) {
                            break;
                        }
                    }
                }
                let (off, size) = *index.get(&n).ok_or_else(missing)?;
                let mut f = File::open(file).ctx("open", file)?;
                f.seek(SeekFrom::Start(off)).ctx("read", file)?;
                Ok((Box::new(f.take(size)), size))
            }
        }
    }

    pub fn read_small(&self, name: &str) -> Result<Vec<u8>, Error> {
        let (r, _) = self.open(name)?;
        let mut v = Vec::new();
        r.take(64 << 20)
            .read_to_end(&mut v)
            .map_err(|e| Error::Archive {
                what: name.to_string(),
                source: e,
            })?;
        Ok(v)
    }
}

/// Resolve `a/b/../c` lexically; `None` if it climbs above the root.
fn resolve_dots(p: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out.join("/"))
}

// ---- formats -------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    #[serde(default)]
    pub platform: Option<Platform>,
}

#[derive(Debug, Deserialize)]
pub struct Index {
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct DockerManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// One layer to bring in: where it is in the archive and what it must hash to.
pub struct LayerSource {
    pub member: String,
    pub blob_digest: Option<String>,
    pub size: u64,
}

pub struct Plan {
    pub config: Vec<u8>,
    pub layers: Vec<LayerSource>,
    /// the names the archive gives the image
    pub names: Vec<String>,
}

pub fn parse<'a, T: Deserialize<'a>>(b: &'a [u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(b).map_err(|e| Error::Json {
        what: what.to_string(),
        source: e,
    })
}

pub fn verify(what: &str, expected: &str, data: &[u8]) -> Result<(), Error> {
    let actual = digest::sha256_bytes(data);
    if actual != expected {
        return Err(Error::Digest {
            what: what.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

fn blob_path(d: &str, what: &str) -> Result<String, Error> {
    Ok(format!("blobs/sha256/{}", store::digest_hex(d, what)?))
}

/// The plan for an OCI image layout.
pub fn plan_oci(src: &Source, platform: &Platform) -> Result<Plan, Error> {
    let index: Index = parse(&src.read_small("index.json")?, "index.json")?;
    let mut desc = pick(index.manifests, platform, "index.json")?;
    for _ in 0..4 {
        let what = format!("manifest {}", desc.digest);
        let bytes = src.read_small(&blob_path(&desc.digest, &what)?)?;
        verify(&what, &desc.digest, &bytes)?;
        let v: serde_json::Value = parse(&bytes, &what)?;
        let is_index = v.get("manifests").is_some()
            || desc.media_type.contains("index")
            || desc.media_type.contains("manifest.list");
        if is_index {
            let idx: Index = parse(&bytes, &what)?;
            desc = pick(idx.manifests, platform, &what)?;
            continue;
        }
        let m: Manifest = parse(&bytes, &what)?;
        let cwhat = format!("config {}", m.config.digest);
        let config = src.read_small(&blob_path(&m.config.digest, &cwhat)?)?;
        verify(&cwhat, &m.config.digest, &config)?;
        let mut layers = Vec::new();
        for l in m.layers {
            let lw = format!("layer {}", l.digest);
            layers.push(LayerSource {
                member: blob_path(&l.digest, &lw)?,
                blob_digest: Some(l.digest),
                size: l.size,
            });
        }
        let names = desc
            .annotations
            .get("io.containerd.image.name")
            .or_else(|| {
                desc.annotations
                    .get("org.opencontainers.image.ref.name")
                    .filter(|n| n.contains('/') || n.contains(':'))
            })
            .cloned()
            .into_iter()
            .collect();
        return Ok(Plan {
            config,
            layers,
            names,
        });
    }
    Err(Error::msg("index.json: image indexes nest too deeply"))
}

/// The entry of an index for `platform`. An OCI layout's own index.json may list entries
/// with no platform at all (one per tag): then the first.
pub fn pick(mut ds: Vec<Descriptor>, platform: &Platform, what: &str) -> Result<Descriptor, Error> {
    let i = if !ds.is_empty() && ds.iter().all(|d| d.platform.is_none()) {
        0
    } else {
        let ps: Vec<Option<&Platform>> = ds.iter().map(|d| d.platform.as_ref()).collect();
        crate::platform::pick(&ps, platform, what)?
    };
    Ok(ds.swap_remove(i))
}

/// The plans for a `docker save` archive: one per image it holds, each with all its tags.
pub fn plan_docker(src: &Source) -> Result<Vec<Plan>, Error> {
    let ms: Vec<DockerManifest> = parse(&src.read_small("manifest.json")?, "manifest.json")?;
    if ms.is_empty() {
        return Err(Error::msg("manifest.json: no images"));
    }
    ms.into_iter().map(|m| plan_docker_one(src, m)).collect()
}

fn plan_docker_one(src: &Source, m: DockerManifest) -> Result<Plan, Error> {
    let config = src.read_small(&m.config)?;
    // the config's name is its digest (<hex>.json or blobs/sha256/<hex>)
    if let Some(hex) = hex_in_name(&m.config) {
        verify(
            &format!("config {}", m.config),
            &format!("sha256:{hex}"),
            &config,
        )?;
    }
    let layers = m
        .layers
        .iter()
        .map(|l| LayerSource {
            member: l.clone(),
            blob_digest: l
                .strip_prefix("blobs/sha256/")
                .and_then(hex_in_name)
                .map(|h| format!("sha256:{h}")),
            size: 0,
        })
        .collect();
    Ok(Plan {
        config,
        layers,
        names: m.repo_tags.unwrap_or_default(),
    })
}

/// The plan for skopeo's `dir:` transport: manifest.json (an image manifest), a `version`
/// file, and every blob named by its hex digest.
pub fn plan_dir(src: &Source) -> Result<Plan, Error> {
    let bytes = src.read_small("manifest.json")?;
    let m: Manifest = parse(&bytes, "manifest.json")?;
    let cwhat = format!("config {}", m.config.digest);
    let chex = store::digest_hex(&m.config.digest, &cwhat)?;
    let config = src.read_small(chex)?;
    verify(&cwhat, &m.config.digest, &config)?;
    let mut layers = Vec::new();
    for l in m.layers {
        let lw = format!("layer {}", l.digest);
        layers.push(LayerSource {
            member: store::digest_hex(&l.digest, &lw)?.to_string(),
            blob_digest: Some(l.digest),
            size: l.size,
        });
    }
    Ok(Plan {
        config,
        layers,
        names: Vec::new(),
    })
}

fn hex_in_name(n: &str) -> Option<&str> {
    let base = n.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

// ---- progress ------------------------------------------------------------------------------

/// Progress on stderr, only when stderr is a terminal: one line for the whole, or (after
/// [`Progress::bar`]) one bar per layer, redrawn in place. Shared by the threads that
/// extract layers in parallel; each thread's reads count towards the bar it last chose.
pub struct Progress {
    pub on: bool,
    state: std::sync::Mutex<ProgressState>,
}

struct ProgressState {
    total: u64,
    done: u64,
    last: std::time::Instant,
    label: String,
    bars: Vec<Bar>,
    /// lines of bars on the screen
    drawn: usize,
}

struct Bar {
    label: String,
    done: u64,
    total: u64,
    status: &'static str,
}

thread_local! {
    static BAR: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}

fn bar_text(done: u64, total: u64, w: usize) -> String {
    if total == 0 {
        return format!("{:.1} MB", mb(done));
    }
    let f = ((done.min(total) as f64 / total as f64) * w as f64) as usize;
    format!(
        "[{}{}] {:.1}/{:.1} MB",
        "#".repeat(f),
        " ".repeat(w - f),
        mb(done),
        mb(total)
    )
}

impl Progress {
    pub fn new(total: u64) -> Progress {
        Progress {
            on: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            state: std::sync::Mutex::new(ProgressState {
                total,
                done: 0,
                last: std::time::Instant::now(),
                label: String::new(),
                bars: Vec::new(),
                drawn: 0,
            }),
        }
    }

    pub fn set_label(&self, l: String) {
        if let Ok(mut st) = self.state.lock() {
            st.label = l;
            self.draw(&mut st, true);
        }
    }

    /// Add a bar (`status`: waiting, exists, ...); its index.
    pub fn bar(&self, label: String, total: u64, status: &'static str) -> usize {
        match self.state.lock() {
            Ok(mut st) => {
                st.bars.push(Bar {
                    label,
                    done: 0,
                    total,
                    status,
                });
                st.bars.len() - 1
            }
            Err(_) => 0,
        }
    }

    /// From now on this thread's reads count towards bar `i`, whose status becomes `status`.
    pub fn use_bar(&self, i: usize, status: &'static str) {
        BAR.with(|b| b.set(Some(i)));
        self.set_status(i, status);
    }

    pub fn set_status(&self, i: usize, status: &'static str) {
        if let Ok(mut st) = self.state.lock() {
            if let Some(b) = st.bars.get_mut(i) {
                b.status = status;
                if status == "done" {
                    b.done = b.total.max(b.done);
                }
            }
            self.draw(&mut st, true);
        }
    }

    pub fn add(&self, n: u64) {
        if !self.on {
            return;
        }
        if let Ok(mut st) = self.state.lock() {
            st.done += n;
            if let Some(i) = BAR.with(|b| b.get()) {
                if let Some(b) = st.bars.get_mut(i) {
                    b.done += n;
                }
            }
            self.draw(&mut st, false);
        }
    }

    fn draw(&self, st: &mut ProgressState, force: bool) {
        if !self.on || (!force && st.last.elapsed().as_millis() < 100) {
            return;
        }
        st.last = std::time::Instant::now();
        let mut out = String::new();
        if st.bars.is_empty() {
            out = format!("\r\x1b[K{} {}", st.label, bar_text(st.done, st.total, 30));
        } else {
            if st.drawn > 0 {
                out.push_str(&format!("\x1b[{}A", st.drawn));
            }
            for b in &st.bars {
                out.push_str(&format!(
                    "\r\x1b[K{:<24} {:<9} {}\n",
                    b.label,
                    b.status,
                    if b.status == "exists" {
                        String::new()
                    } else {
                        bar_text(b.done, b.total, 24)
                    }
                ));
            }
            st.drawn = st.bars.len();
        }
        let mut e = io::stderr().lock();
        let _ = e.write_all(out.as_bytes());
        let _ = e.flush();
    }

    /// The last picture: bars stay on the screen (as docker's do), a single line goes.
    pub fn finish(&self) {
        if !self.on {
            return;
        }
        if let Ok(mut st) = self.state.lock() {
            if st.bars.is_empty() {
                eprint!("\r\x1b[K");
            } else {
                self.draw(&mut st, true);
            }
        }
    }
}

struct ProgressReader<'p, R> {
    inner: R,
    p: &'p Progress,
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.p.add(n as u64);
        Ok(n)
    }
}

// ---- size budget ---------------------------------------------------------------------------

/// How many bytes one import may write: decompressed streams and archives, extracted files,
/// and the apparent size of sparse files, all counted together, so that a small compressed
/// archive (a gzip bomb, a huge sparse file) cannot fill the store's filesystem. Unlimited
/// unless `import` sets it.
pub struct Budget {
    limit: AtomicU64,
    used: AtomicU64,
    exceeded: AtomicBool,
}

pub static BUDGET: Budget = Budget {
    limit: AtomicU64::new(u64::MAX),
    used: AtomicU64::new(0),
    exceeded: AtomicBool::new(false),
};

impl Budget {
    pub fn set(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Count `n` more bytes; an error once past the limit (and from then on).
    pub fn charge(&self, n: u64) -> io::Result<()> {
        let used = self.used.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if used > self.limit() || self.exceeded.load(Ordering::Relaxed) {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(io::Error::other("size budget exceeded"));
        }
        Ok(())
    }

    /// `e`, or the budget error for `what` when the budget ran out (whatever error that
    /// caused further up: a short read, a broken archive).
    pub fn explain(&self, e: Error, what: &str) -> Error {
        if self.exceeded.load(Ordering::Relaxed) {
            Error::TooBig {
                what: what.to_string(),
                limit: self.limit(),
            }
        } else {
            e
        }
    }
}

/// Counts what passes through against [`BUDGET`].
pub struct BudgetReader<R>(pub R);

impl<R: Read> Read for BudgetReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        BUDGET.charge(n as u64)?;
        Ok(n)
    }
}

/// The default budget: the free space of the filesystem holding `dir`, minus a margin of
/// 1/20 of its size (what ext4 reserves for root by default), so an import never fills it.
// the statvfs fields are u64 on musl but narrower on some other libcs
#[allow(clippy::unnecessary_cast)]
pub fn default_budget(dir: &Path) -> u64 {
    match nix::sys::statvfs::statvfs(dir) {
        Ok(st) => {
            let frag = st.fragment_size() as u64;
            let free = (st.blocks_available() as u64).saturating_mul(frag);
            let size = (st.blocks() as u64).saturating_mul(frag);
            free.saturating_sub(size / 20)
        }
        Err(_) => u64::MAX,
    }
}

// ---- layers --------------------------------------------------------------------------------

/// Bring one layer into the store (or find it there), verifying its blob digest (when
/// given) and diff_id (when given; a rootfs tar has none and gets its computed one).
/// Returns the layer's record.
pub fn add_layer(
    store: &Store,
    open: &mut dyn FnMut() -> Result<Box<dyn Read + Send>, Error>,
    blob_digest: Option<&str>,
    diff_id: Option<&str>,
    label: &str,
    progress: &Progress,
) -> Result<LayerRecord, Error> {
    let _held = match diff_id {
        Some(d) => {
            let hex = store::digest_hex(d, label)?;
            let lock = store.layer_lock(hex)?;
            if store.has_layer(hex) {
                common::debug!("{label}: already in the store");
                return store.read_layer(d);
            }
            Some(lock)
        }
        None => None,
    };
    let (tmp, rec) = extract_layer(store, open, blob_digest, diff_id, label, progress)?;
    let _late = match diff_id {
        Some(_) => None,
        None => {
            let hex = store::digest_hex(&rec.diff_id, label)?;
            let lock = store.layer_lock(hex)?;
            if store.has_layer(hex) {
                return store.read_layer(&rec.diff_id);
            }
            Some(lock)
        }
    };
    store.commit_layer(tmp, &rec)?;
    Ok(rec)
}

/// Extract and verify one layer into a temporary directory (removed on drop); the caller
/// moves it into place with [`Store::commit_layer`] once everything it depends on is verified.
pub fn extract_layer(
    store: &Store,
    open: &mut dyn FnMut() -> Result<Box<dyn Read + Send>, Error>,
    blob_digest: Option<&str>,
    diff_id: Option<&str>,
    label: &str,
    progress: &Progress,
) -> Result<(store::TempDir, LayerRecord), Error> {
    let tmp = store.tempdir("layer")?;
    let diff = tmp.path.join("diff");
    std::fs::create_dir(&diff).ctx("create", &diff)?;
    let mut blob_h = Hashed::default();
    let mut diff_h = Hashed::default();
    let (stats, record) = {
        let raw = open()?;
        let pr = ProgressReader {
            inner: raw,
            p: progress,
        };
        let hashed = HashingReader::new(pr, &mut blob_h);
        let dec = digest::decompress(hashed).map_err(|e| Error::Archive {
            what: label.to_string(),
            source: e,
        })?;
        // (the record of the tar's non-content bytes, so save and push can write it again)
        let tarstream =
            crate::tarsplit::Recorder::new(HashingReader::new(BudgetReader(dec), &mut diff_h));
        let mut archive = tar::Archive::new(tarstream);
        let stats = Extractor::new(&diff, label)?
            .extract(&mut archive)
            .map_err(|e| BUDGET.explain(e, label))?;
        // hash the rest (end-of-archive padding) so both digests cover every byte
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(|e| {
            BUDGET.explain(
                Error::Archive {
                    what: label.to_string(),
                    source: e,
                },
                label,
            )
        })?;
        (stats, rest.finish())
    };
    let blob = blob_h.digest();
    if let Some(want) = blob_digest {
        if blob != want {
            return Err(Error::Digest {
                what: label.to_string(),
                expected: want.to_string(),
                actual: blob,
            });
        }
    }
    let got = diff_h.digest();
    if let Some(want) = diff_id {
        if got != want {
            return Err(Error::Digest {
                what: format!("{label} diff_id"),
                expected: want.to_string(),
                actual: got,
            });
        }
    }
    match record {
        Some(r) => {
            let p = tmp.path.join(crate::tarsplit::FILE_NAME);
            std::fs::write(&p, r).ctx("write", &p)?;
        }
        None => {
            common::debug!("{label}: no tar-split record (the tar has entries it cannot express)")
        }
    }
    let rec = LayerRecord {
        diff_id: got,
        size: stats.bytes,
        entries: stats.entries,
        created: store::now_rfc3339(),
    };
    Ok((tmp, rec))
}

//! `layermount save IMAGE [--format oci|docker]`

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::with_output;
use crate::cli::{SaveArgs, SaveFormat};
use crate::digest;
use crate::error::{Error, IoContext};
use crate::store::{Store, digest_hex};

struct Blob {
    path: PathBuf,
    digest: String,
    size: u64,
}

fn header(size: u64, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_size(size);
    h.set_mtime(0);
    h
}

fn add_bytes<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) -> Result<(), Error> {
    b.append_data(
        &mut header(data.len() as u64, tar::EntryType::Regular),
        name,
        data,
    )
    .ctx("write", name)
}

fn add_dir<W: Write>(b: &mut tar::Builder<W>, name: &str) -> Result<(), Error> {
    b.append_data(
        &mut header(0, tar::EntryType::Directory),
        name,
        std::io::empty(),
    )
    .ctx("write", name)
}

fn add_file<W: Write>(b: &mut tar::Builder<W>, name: &str, blob: &Blob) -> Result<(), Error> {
    let f = File::open(&blob.path).ctx("open", &blob.path)?;
    b.append_data(&mut header(blob.size, tar::EntryType::Regular), name, f)
        .ctx("write", name)
}

pub fn run(store: &Store, a: SaveArgs) -> Result<(), Error> {
    let _lock = store.lock_shared()?;
    let img = store.resolve_image(&a.image)?;
    let refs = store.refs()?;
    let mut names = store.names_of(&refs, &img.id);
    if let Ok(n) = crate::store::normalize_name(&a.image) {
        if refs.contains_key(&n) {
            names.retain(|x| *x != n);
            names.insert(0, n);
        }
    }
    let raw = store.read_config(&img.id)?;
    let tmp = store.tempdir("save")?;
    // layer tars: the originals, or regenerated from the store (overlay whiteouts back as
    // .wh. entries)
    let mut blobs = Vec::new();
    for (i, d) in img.layers.iter().enumerate() {
        let path = tmp.path.join(format!("{i}.tar"));
        // the imported or pulled tar itself when its record reproduces it
        let (digest, _, size) = crate::tarsplit::layer_file(store, d, &path, false)?;
        blobs.push(Blob { path, digest, size });
    }
    let new_ids: Vec<&str> = blobs.iter().map(|b| b.digest.as_str()).collect();
    // the regenerated tars differ byte-wise from the imported ones: record their diff_ids
    let config = config_with_diff_ids(&img.id, raw, &img.layers, &new_ids)?;
    let cfg_digest = digest::sha256_bytes(&config);
    let cfg_hex = digest_hex(&cfg_digest, "config")?.to_string();
    with_output(a.output.as_deref(), |w| {
        let mut b = tar::Builder::new(w);
        match a.format {
            SaveFormat::Oci => {
                let manifest = json!({
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": config.len()},
                    "layers": blobs.iter().map(|l| json!({
                        "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": l.digest, "size": l.size
                    })).collect::<Vec<_>>(),
                });
                let mbytes = serde_json::to_vec(&manifest).map_err(|e| Error::Json {
                    what: "manifest".into(),
                    source: e,
                })?;
                let mdigest = digest::sha256_bytes(&mbytes);
                let mut desc = json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest, "size": mbytes.len()
                });
                if let Some(n) = names.first() {
                    let tag = n.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
                    desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag, "io.containerd.image.name": n});
                }
                let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]});
                add_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
                add_bytes(
                    &mut b,
                    "index.json",
                    &serde_json::to_vec(&index).unwrap_or_default(),
                )?;
                add_dir(&mut b, "blobs/")?;
                add_dir(&mut b, "blobs/sha256/")?;
                add_bytes(&mut b, &format!("blobs/sha256/{cfg_hex}"), &config)?;
                add_bytes(
                    &mut b,
                    &format!("blobs/sha256/{}", digest_hex(&mdigest, "manifest")?),
                    &mbytes,
                )?;
                for l in &blobs {
                    add_file(
                        &mut b,
                        &format!("blobs/sha256/{}", digest_hex(&l.digest, "layer")?),
                        l,
                    )?;
                }
            }
            SaveFormat::Docker => {
                let mut layer_names = Vec::new();
                add_bytes(&mut b, &format!("{cfg_hex}.json"), &config)?;
                for l in &blobs {
                    let hex = digest_hex(&l.digest, "layer")?;
                    add_dir(&mut b, &format!("{hex}/"))?;
                    let n = format!("{hex}/layer.tar");
                    add_file(&mut b, &n, l)?;
                    layer_names.push(n);
                }
                let m = json!([{"Config": format!("{cfg_hex}.json"), "RepoTags": names, "Layers": layer_names}]);
                add_bytes(
                    &mut b,
                    "manifest.json",
                    &serde_json::to_vec(&m).unwrap_or_default(),
                )?;
            }
        }
        b.into_inner().ctx("write", "archive")?;
        Ok(())
    })
}

/// The image config `raw`, unchanged when `ids` are its layers' diff_ids (`layers`), else
/// with `rootfs.diff_ids` set to `ids` (layers written anew, for save and push).
pub(super) fn config_with_diff_ids(
    image: &str,
    raw: Vec<u8>,
    layers: &[String],
    ids: &[&str],
) -> Result<Vec<u8>, Error> {
    if ids.iter().copied().eq(layers.iter().map(String::as_str)) {
        return Ok(raw);
    }
    let mut cfg: Value = serde_json::from_slice(&raw).map_err(|e| Error::Json {
        what: format!("config of {image}"),
        source: e,
    })?;
    cfg["rootfs"] = json!({"type": "layers", "diff_ids": ids});
    serde_json::to_vec(&cfg).map_err(|e| Error::Json {
        what: "config".into(),
        source: e,
    })
}

//! `layermount push IMAGE [DEST]` and `layermount tag SRC DST`.
//!
//! A layer that was pulled goes up as the blob it came as, when the registry has it already
//! or mounts it from the repository it came from; any other layer is made into a tar from
//! the store and gzip-compressed, and sent only when the registry lacks it.

use std::fs::File;

use serde_json::json;

use super::pull::options;
use crate::cli::{PushArgs, TagArgs};
use crate::digest;
use crate::error::{Error, IoContext};
use crate::registry::client::Client;
use crate::registry::reference::Reference;
use crate::store::{self, ImageRecord, Store};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// An image by store name or ID, or by a reference whose short name the store has.
fn resolve(store: &Store, s: &str) -> Result<ImageRecord, Error> {
    match store.resolve_image(s) {
        Ok(i) => Ok(i),
        Err(e @ Error::NoImage(_)) => match Reference::parse(s) {
            Ok(r) => store.resolve_image(&r.store_name()).map_err(|_| e),
            Err(_) => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// The OCI media type of a layer blob pulled with media type `mt` (the same bytes).
fn oci_layer_type(mt: &str) -> Option<&'static str> {
    Some(match mt {
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => OCI_GZIP,
        "application/vnd.oci.image.layer.v1.tar+zstd" => {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        }
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => {
            "application/vnd.oci.image.layer.v1.tar"
        }
        _ => return None,
    })
}

pub fn run(store: &Store, a: PushArgs) -> Result<(), Error> {
    let dest = a.dest.as_deref().unwrap_or(&a.image);
    let r = Reference::parse(dest)?;
    if r.tag.is_none() || r.digest.is_some() {
        return Err(Error::Usage(format!(
            "push {dest}: name the destination by TAG, not by digest"
        )));
    }
    let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
    let _lock = store.lock_shared()?;
    let img = resolve(store, &a.image)?;
    let raw = store.read_config(&img.id)?;
    let client = Client::connect(&r, &options(&a.registry, true)?)?;
    let tmp = store.tempdir("push")?;
    let n = img.layers.len();
    let mut layers = Vec::new();
    let mut ids = Vec::new();
    let (mut sent, mut reused) = (0, 0);
    for (i, d) in img.layers.iter().enumerate() {
        let what = format!("{r}: layer {}/{n} ({})", i + 1, store::short(d));
        // the blob it was pulled as, if the registry has it or can mount it
        let mut done = None;
        for b in store.layer_blobs(d) {
            let Some(mt) = oci_layer_type(&b.media_type) else {
                continue;
            };
            let from = b
                .source
                .split_once('/')
                .filter(|(reg, repo)| *reg == r.registry && *repo != r.repository)
                .map(|(_, repo)| repo.to_string());
            if client.has_blob(&b.digest)?
                || from.is_some_and(|f| client.mount_blob(&b.digest, &f, &what).unwrap_or(false))
            {
                common::debug!("{what}: reused {}", b.digest);
                done = Some(json!({"mediaType": mt, "digest": b.digest, "size": b.size}));
                break;
            }
        }
        if let Some(desc) = done {
            reused += 1;
            layers.push(desc);
            ids.push(d.clone());
            continue;
        }
        // a gzip-compressed tar of the layer (the original tar when its record reproduces
        // it), hashed before and after compression
        let path = tmp.path.join(format!("{i}.tar.gz"));
        let (diff_id, blob, size) = crate::tarsplit::layer_file(store, d, &path, true)?;
        if client.put_blob(&blob, &|| File::open(&path), &what)? {
            sent += 1;
        }
        common::debug!("{what}: {blob} ({size} bytes)");
        layers.push(json!({"mediaType": OCI_GZIP, "digest": blob, "size": size}));
        ids.push(diff_id);
    }
    // the layers made anew differ byte-wise from the pulled or imported ones
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let config = super::save::config_with_diff_ids(&img.id, raw, &img.layers, &id_refs)?;
    let cdigest = digest::sha256_bytes(&config);
    let cpath = tmp.path.join("config.json");
    std::fs::write(&cpath, &config).ctx("write", &cpath)?;
    client.put_blob(&cdigest, &|| File::open(&cpath), &format!("{r}: config"))?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cdigest, "size": config.len()},
        "layers": layers,
    });
    let mbytes = serde_json::to_vec(&manifest).map_err(|e| Error::Json {
        what: "manifest".into(),
        source: e,
    })?;
    client.put_manifest(&tag, OCI_MANIFEST, &mbytes, &r.to_string())?;
    common::debug!(
        "{r}: {sent} layers sent, {reused} reused, {} already there",
        n - sent - reused
    );
    println!("{}", digest::sha256_bytes(&mbytes));
    Ok(())
}

pub fn tag(store: &Store, a: TagArgs) -> Result<(), Error> {
    let name = store::normalize_name(&Reference::parse(&a.target)?.store_name())?;
    let _lock = store.lock_shared()?;
    let img = resolve(store, &a.source)?;
    store.set_ref(&name, &img.id)
}

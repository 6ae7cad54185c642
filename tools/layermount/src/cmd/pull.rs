//! `layermount pull REF`: manifest (through an index, by platform), config, then the
//! missing layers in parallel, each streamed from the socket through its decompressor, both
//! digests and the extractor at once, and moved into the store as soon as it is verified (so
//! an interrupted pull resumes with the layers it completed).

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::Value;

use crate::cli::{PullArgs, RegistryArgs};
use crate::error::Error;
use crate::import::{BUDGET, Index, Manifest, Progress, add_layer, default_budget, parse, verify};
use crate::platform::Platform;
use crate::registry::auth::Credentials;
use crate::registry::client::{Client, Options};
use crate::registry::mirrors;
use crate::registry::reference::Reference;
use crate::store::{self, BlobRecord, ImageRecord, Store};

pub fn run(store: &Store, a: PullArgs) -> Result<(), Error> {
    let r = Reference::parse(&a.reference)?;
    let opts = options(&a.registry, false)?;
    let platform = a.platform.unwrap_or_else(Platform::host);
    let id = pull(store, &r, &opts, &platform, a.quiet, a.jobs as usize)?;
    println!("{id}");
    Ok(())
}

pub fn options(a: &RegistryArgs, push: bool) -> Result<Options, Error> {
    let creds = a
        .creds
        .as_deref()
        .map(|c| match c.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credentials {
                username: u.into(),
                password: p.into(),
            }),
            _ => Err(Error::Usage("--creds takes USER:PASSWORD".into())),
        })
        .transpose()?;
    Ok(Options {
        tls_verify: a.tls_verify,
        authfile: a.authfile.clone(),
        creds,
        push,
    })
}

fn media_type(header: &str, v: &Value) -> String {
    v.get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or(header)
        .to_string()
}

/// The image manifest for `platform` (through an index if the tag names one), verified.
fn resolve_manifest(
    client: &Client,
    r: &Reference,
    platform: &Platform,
) -> Result<(Manifest, String), Error> {
    let (mut bytes, mut ct, mut digest) = client.manifest(r.object())?;
    let mut what = r.to_string();
    if let Some(d) = &r.digest {
        verify(&format!("{what}: manifest"), d, &bytes)?;
    }
    for _ in 0..4 {
        let v: Value = parse(&bytes, &format!("{what}: manifest"))?;
        let mt = media_type(&ct, &v);
        if v.get("schemaVersion").and_then(Value::as_u64) == Some(1)
            || mt.starts_with("application/vnd.docker.distribution.manifest.v1")
        {
            return Err(Error::msg(format!(
                "{what}: a Docker schema 1 manifest, which is obsolete and not supported"
            )));
        }
        let index =
            mt.contains("index") || mt.contains("manifest.list") || v.get("manifests").is_some();
        if !index {
            let m: Manifest = parse(&bytes, &format!("{what}: manifest"))?;
            return Ok((m, digest));
        }
        let idx: Index = parse(&bytes, &format!("{what}: index"))?;
        let d = crate::import::pick(idx.manifests, platform, &what)?;
        common::debug!("{what}: {platform} is {}", d.digest);
        store::digest_hex(&d.digest, &what)?;
        (bytes, ct, digest) = client.manifest(&d.digest)?;
        verify(&format!("{what}: manifest {}", d.digest), &d.digest, &bytes)?;
        what = format!("{}/{}@{}", r.registry, r.repository, d.digest);
    }
    Err(Error::msg(format!("{what}: image indexes nest too deeply")))
}

/// Pull `r` into the store; the image ID.
pub fn pull(
    store: &Store,
    r: &Reference,
    opts: &Options,
    platform: &Platform,
    quiet: bool,
    jobs: usize,
) -> Result<String, Error> {
    let budget = default_budget(&store.root);
    BUDGET.set(budget);
    let _lock = store.lock_shared()?;
    // mirrors (registries.conf) first, then the registry itself; the last error stands
    let mut found = None;
    let mut last_err = None;
    for (cand, insecure) in mirrors::candidates(r)? {
        let mut o = opts.clone();
        if insecure && o.tls_verify.is_none() {
            o.tls_verify = Some(false);
        }
        // --creds are for the registry named; a mirror on another host gets its own
        // credentials from the auth files
        if cand.registry != r.registry {
            o.creds = None;
        }
        match Client::connect(&cand, &o).and_then(|c| {
            let m = resolve_manifest(&c, &cand, platform)?;
            Ok((c, m))
        }) {
            Ok(x) => {
                if cand != *r {
                    common::debug!("{r}: from the mirror {cand}");
                }
                found = Some(x);
                break;
            }
            Err(e) => {
                common::debug!("{cand}: {e}");
                last_err = Some(e);
            }
        }
    }
    let Some((client, (m, mdigest))) = found else {
        return Err(
            last_err.unwrap_or_else(|| Error::msg(format!("{r}: no registry to pull from")))
        );
    };
    let source = format!(
        "{}/{}",
        client.reference.registry, client.reference.repository
    );
    let name = r.store_name();
    let label = r.to_string();
    common::debug!("{label}: manifest {mdigest}");
    let cdigest = m.config.digest.clone();
    store::digest_hex(&cdigest, &label)?;
    // already here, whole: only the name
    if let Ok(img) = store.read_image(&cdigest) {
        if img
            .layers
            .iter()
            .all(|d| store::digest_hex(d, &label).is_ok_and(|h| store.has_layer(h)))
        {
            common::debug!("{label}: image {} is up to date", store::short(&cdigest));
            store.set_ref(&name, &cdigest)?;
            return Ok(cdigest);
        }
    }
    let config = {
        let mut v = Vec::new();
        client
            .blob(&cdigest, &format!("{label}: config"))?
            .take(16 << 20)
            .read_to_end(&mut v)
            .map_err(|e| Error::Archive {
                what: format!("{label}: config {cdigest}"),
                source: e,
            })?;
        v
    };
    verify(&format!("{label}: config"), &cdigest, &config)?;
    let cfg: Value = parse(&config, &format!("{label}: config"))?;
    let ids = super::import::diff_ids(&cfg, &label)?;
    if ids.len() != m.layers.len() {
        return Err(Error::msg(format!(
            "{label}: the config lists {} diff_ids but the manifest has {} layers",
            ids.len(),
            m.layers.len()
        )));
    }
    let n = ids.len();
    let mut todo = Vec::new();
    let total: u64 = m.layers.iter().map(|l| l.size).sum();
    let mut progress = Progress::new(total);
    progress.on &= !quiet;
    for (i, (l, d)) in m.layers.iter().zip(&ids).enumerate() {
        store::digest_hex(&l.digest, &label)?;
        let bar = format!("{} ({}/{n})", store::short(&l.digest), i + 1);
        if store.has_layer(store::digest_hex(d, &label)?)
            || todo
                .iter()
                .any(|&(_, _, t, _): &(usize, _, &String, usize)| t == d)
        {
            common::debug!(
                "{label}: layer {}/{n} ({}): in the store",
                i + 1,
                store::short(d)
            );
            progress.bar(bar, l.size, "exists");
            continue;
        }
        let b = progress.bar(bar, l.size, "waiting");
        todo.push((i, l, d, b));
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = jobs.min(todo.len()).max(1);
    let results: Vec<Result<(), Error>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= todo.len() || failed.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        let (i, l, d, b) = todo[k];
                        let what = format!("{label}: layer {}/{n} ({})", i + 1, store::short(d));
                        progress.use_bar(b, "pulling");
                        let res = add_layer(
                            store,
                            &mut || client.blob(&l.digest, &what),
                            Some(&l.digest),
                            Some(d),
                            &what,
                            &progress,
                        );
                        match res {
                            Ok(_) => {
                                progress.set_status(b, "done");
                                common::debug!("{what}: done");
                            }
                            Err(e) => {
                                progress.set_status(b, "failed");
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::msg("a download thread panicked")))
            })
            .collect()
    });
    progress.finish();
    for r in results {
        r?;
    }
    for (l, d) in m.layers.iter().zip(&ids) {
        store.add_layer_blob(
            d,
            BlobRecord {
                digest: l.digest.clone(),
                size: l.size,
                media_type: l.media_type.clone(),
                source: source.clone(),
            },
        )?;
    }
    store.write_image(
        &ImageRecord {
            id: cdigest.clone(),
            layers: ids,
            created: store::now_rfc3339(),
        },
        &config,
    )?;
    store.set_ref(&name, &cdigest)?;
    Ok(cdigest)
}

//! `layermount import FILE|DIR|-`

use std::fs;
use std::io::{self, Read};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::cli::ImportArgs;
use crate::digest::{self, Compression};
use crate::error::{Error, IoContext};
use crate::import::{
    BUDGET, BudgetReader, Plan, Progress, Source, add_layer, default_budget, extract_layer,
    plan_dir, plan_docker, plan_oci,
};
use crate::store::{self, ImageRecord, LayerRecord, Store, normalize_name};

pub fn run(store: &Store, a: ImportArgs) -> Result<(), Error> {
    let name = a.name.as_deref().map(normalize_name).transpose()?;
    let budget = a.max_size.unwrap_or_else(|| default_budget(&store.root));
    BUDGET.set(budget);
    common::debug!("size budget: {budget} bytes");
    let _lock = store.lock_shared()?;
    let work = store.tempdir("import")?;
    let mut path = a.source.clone();
    let label = path.display().to_string();
    if path.as_os_str() == "-" {
        let p = work.path.join("stdin");
        let mut f = fs::File::create(&p).ctx("create", &p)?;
        let what = "standard input";
        io::copy(&mut BudgetReader(io::stdin().lock()), &mut f).map_err(|e| {
            BUDGET.explain(
                Error::Archive {
                    what: what.into(),
                    source: e,
                },
                what,
            )
        })?;
        path = p;
    }
    let meta = fs::metadata(&path).ctx("read", &a.source)?;
    let (src, file) = if meta.is_dir() {
        (Source::dir(&path)?, None)
    } else {
        // a compressed archive (docker save | gzip, rootfs.tar.zst): decompress first
        let mut head = [0u8; 4];
        let n = fs::File::open(&path)
            .ctx("open", &path)?
            .read(&mut head)
            .ctx("read", &path)?;
        if digest::sniff(&head[..n]) != Compression::None {
            let p = work.path.join("archive.tar");
            let mut out = fs::File::create(&p).ctx("create", &p)?;
            let mut r =
                digest::decompress(fs::File::open(&path).ctx("open", &path)?).map_err(|e| {
                    Error::Archive {
                        what: label.clone(),
                        source: e,
                    }
                })?;
            io::copy(&mut BudgetReader(&mut r), &mut out).map_err(|e| {
                BUDGET.explain(
                    Error::Archive {
                        what: label.clone(),
                        source: e,
                    },
                    &label,
                )
            })?;
            path = p;
        }
        (Source::tar(&path, &label)?, Some(path.clone()))
    };
    let platform = a
        .platform
        .clone()
        .unwrap_or_else(crate::platform::Platform::host);
    let ids = if src.exists("oci-layout") {
        vec![import_plan(
            store,
            &src,
            plan_oci(&src, &platform)?,
            name,
            &label,
        )?]
    } else if src.exists("manifest.json") && src.exists("version") {
        // skopeo's dir: transport
        vec![import_plan(store, &src, plan_dir(&src)?, name, &label)?]
    } else if src.exists("manifest.json") {
        let plans = plan_docker(&src)?;
        if plans.len() > 1 && name.is_some() {
            return Err(Error::Usage(format!(
                "{label} holds {} images: --name names one (import without it to keep the archive's names)",
                plans.len()
            )));
        }
        let n = plans.len();
        let mut ids = Vec::new();
        for (i, p) in plans.into_iter().enumerate() {
            let what = if n > 1 {
                format!("{label}: image {}/{n}", i + 1)
            } else {
                label.clone()
            };
            ids.push(import_plan(store, &src, p, name.clone(), &what)?);
        }
        ids
    } else if let Some(file) = file {
        vec![import_rootfs(store, file, name, &label)?]
    } else {
        return Err(Error::msg(format!(
            "{label}: neither an OCI image layout (no oci-layout) nor a docker save directory (no manifest.json)"
        )));
    };
    for id in ids {
        println!("{id}");
    }
    Ok(())
}

pub fn diff_ids(config: &Value, what: &str) -> Result<Vec<String>, Error> {
    let ids = config
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::msg(format!("{what}: the image config has no rootfs.diff_ids")))?;
    ids.iter()
        .map(|v| {
            let s = v
                .as_str()
                .ok_or_else(|| Error::msg(format!("{what}: a diff_id is not a string")))?;
            store::digest_hex(s, what)?;
            Ok(s.to_string())
        })
        .collect()
}

fn import_plan(
    store: &Store,
    src: &Source,
    plan: Plan,
    name: Option<String>,
    label: &str,
) -> Result<String, Error> {
    let config: Value = serde_json::from_slice(&plan.config).map_err(|e| Error::Json {
        what: format!("{label}: image config"),
        source: e,
    })?;
    let ids = diff_ids(&config, label)?;
    if ids.len() != plan.layers.len() {
        return Err(Error::msg(format!(
            "{label}: the config lists {} diff_ids but the manifest has {} layers",
            ids.len(),
            plan.layers.len()
        )));
    }
    let total: u64 = plan.layers.iter().map(|l| l.size).sum();
    let progress = Progress::new(total);
    // all-or-nothing: hold every layer's lock (sorted, so concurrent imports cannot
    // deadlock), extract the missing ones, and move them into place only when all verified
    let mut hexes: Vec<&str> = ids
        .iter()
        .map(|d| store::digest_hex(d, label))
        .collect::<Result<_, _>>()?;
    hexes.sort();
    hexes.dedup();
    let _locks = hexes
        .iter()
        .map(|h| store.layer_lock(h))
        .collect::<Result<Vec<_>, _>>()?;
    let n = ids.len();
    let mut todo: Vec<(usize, &crate::import::LayerSource, &String)> = Vec::new();
    for (i, (l, d)) in plan.layers.iter().zip(&ids).enumerate() {
        let what = format!("{label}: layer {}/{n} ({})", i + 1, store::short(d));
        if store.has_layer(store::digest_hex(d, label)?) || todo.iter().any(|(_, _, t)| *t == d) {
            common::debug!("{what}: already in the store");
            continue;
        }
        todo.push((i, l, d));
    }
    // extract the missing layers in parallel, one thread per CPU
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(todo.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    type Staged = (store::TempDir, LayerRecord);
    let results: Vec<Result<Vec<Staged>, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if k >= todo.len() || failed.load(std::sync::atomic::Ordering::Relaxed) {
                            return Ok(mine);
                        }
                        let (i, l, d) = todo[k];
                        let what = format!("{label}: layer {}/{n} ({})", i + 1, store::short(d));
                        progress.set_label(format!("layer {}/{n}", i + 1));
                        let member = l.member.clone();
                        match extract_layer(
                            store,
                            &mut || src.open(&member).map(|(r, _)| r),
                            l.blob_digest.as_deref(),
                            Some(d),
                            &what,
                            &progress,
                        ) {
                            Ok(x) => mine.push(x),
                            Err(e) => {
                                failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::msg("an extraction thread panicked")))
            })
            .collect()
    });
    progress.finish();
    let mut staged = Vec::new();
    let mut first_err = None;
    for r in results {
        match r {
            Ok(v) => staged.extend(v),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    for (tmp, rec) in staged {
        store.commit_layer(tmp, &rec)?;
    }
    let id = digest::sha256_bytes(&plan.config);
    store.write_image(
        &ImageRecord {
            id: id.clone(),
            layers: ids,
            created: store::now_rfc3339(),
        },
        &plan.config,
    )?;
    let names: Vec<String> = match name {
        Some(n) => vec![n],
        None => plan
            .names
            .iter()
            .filter_map(|n| match normalize_name(n) {
                Ok(n) => Some(n),
                Err(e) => {
                    common::debug!("{label}: name '{n}' skipped: {e}");
                    None
                }
            })
            .collect(),
    };
    for n in names {
        store.set_ref(&n, &id)?;
    }
    Ok(id)
}

fn import_rootfs(
    store: &Store,
    file: PathBuf,
    name: Option<String>,
    label: &str,
) -> Result<String, Error> {
    let size = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let progress = Progress::new(size);
    progress.set_label("rootfs".into());
    let rec = add_layer(
        store,
        &mut || Ok(Box::new(fs::File::open(&file).ctx("open", &file)?) as Box<dyn Read + Send>),
        None,
        None,
        &format!("{label}: rootfs"),
        &progress,
    );
    progress.finish();
    let rec = rec?;
    let now = store::now_rfc3339();
    let config = json!({
        "created": now,
        "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [rec.diff_id]},
        "history": [{"created": now, "created_by": "layermount import"}],
    });
    let bytes = serde_json::to_vec(&config).map_err(|e| Error::Json {
        what: "config".into(),
        source: e,
    })?;
    let id = digest::sha256_bytes(&bytes);
    store.write_image(
        &ImageRecord {
            id: id.clone(),
            layers: vec![rec.diff_id],
            created: now,
        },
        &bytes,
    )?;
    if let Some(n) = name {
        store.set_ref(&n, &id)?;
    }
    Ok(id)
}

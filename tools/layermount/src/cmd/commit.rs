//! `layermount commit ID --name NEW[:TAG]`: the container's upper dir as a new layer.

use std::fs::File;
use std::io::{BufWriter, Read, Write};

use serde_json::{Value, json};

use crate::cli::{CommitArgs, Driver};
use crate::digest::{self, Hashed, HashingWriter};
use crate::error::{Error, IoContext};
use crate::import::{Progress, add_layer};
use crate::merge::write_layer_tar;
use crate::store::{self, ImageRecord, Store, normalize_name};

pub fn run(store: &Store, a: CommitArgs) -> Result<(), Error> {
    let name = normalize_name(&a.name)?;
    let _lock = store.lock_shared()?;
    let c = store.read_container(&a.id)?;
    if c.driver != Driver::Overlay {
        return Err(Error::msg(format!(
            "container {}: commit needs the overlay driver",
            a.id
        )));
    }
    let raw = store.read_config(&c.image).map_err(|_| {
        Error::msg(format!(
            "container {}: its image {} is no longer in the store",
            a.id, c.image
        ))
    })?;
    let mut cfg: Value = serde_json::from_slice(&raw).map_err(|e| Error::Json {
        what: format!("config of {}", c.image),
        source: e,
    })?;
    let upper = store.container_dir(&a.id).join("upper");
    let tmp = store.tempdir("commit")?;
    let frozen = super::freeze_container(store, &a.id)?;
    let tarp = tmp.path.join("layer.tar");
    let f = File::create(&tarp).ctx("create", &tarp)?;
    let hw = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, f),
        h: Hashed::default(),
    };
    let mut hw = write_layer_tar(&upper, hw)?;
    hw.flush().ctx("write", &tarp)?;
    let HashingWriter { inner, h } = hw;
    drop(inner);
    drop(frozen);
    let diff_id = h.digest();
    let label = format!("container {} layer", a.id);
    add_layer(
        store,
        &mut || Ok(Box::new(File::open(&tarp).ctx("open", &tarp)?) as Box<dyn Read + Send>),
        None,
        Some(&diff_id),
        &label,
        &Progress::new(0),
    )?;
    let now = store::now_rfc3339();
    let obj = cfg
        .as_object_mut()
        .ok_or_else(|| Error::msg(format!("config of {} is not an object", c.image)))?;
    obj.insert("created".into(), json!(now));
    let rootfs = obj
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    match rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
        Some(ids) => ids.push(json!(diff_id)),
        None => {
            return Err(Error::msg(format!(
                "config of {} has no rootfs.diff_ids",
                c.image
            )));
        }
    }
    let mut h = json!({"created": now, "created_by": format!("layermount commit {}", a.id)});
    if let Some(m) = &a.message {
        h["comment"] = json!(m);
    }
    match obj.get_mut("history").and_then(Value::as_array_mut) {
        Some(hist) => hist.push(h),
        None => {
            obj.insert("history".into(), json!([h]));
        }
    }
    let bytes = serde_json::to_vec(&cfg).map_err(|e| Error::Json {
        what: "config".into(),
        source: e,
    })?;
    let id = digest::sha256_bytes(&bytes);
    let mut layers = c.layers.clone();
    layers.push(diff_id);
    store.write_image(
        &ImageRecord {
            id: id.clone(),
            layers,
            created: now,
        },
        &bytes,
    )?;
    store.set_ref(&name, &id)?;
    println!("{id}");
    Ok(())
}

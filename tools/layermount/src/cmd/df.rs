//! `layermount df`: disk use per image, split into bytes shared with other images and unique ones.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use super::human;
use crate::cli::ListArgs;
use crate::error::{Error, IoContext};
use crate::store::{Store, short};
use common::output::{Table, emit_json};

#[derive(Serialize)]
struct ImageUse {
    id: String,
    names: Vec<String>,
    size: u64,
    shared: u64,
    unique: u64,
    containers: usize,
}

#[derive(Serialize)]
struct ContainerUse {
    id: String,
    image: String,
    size: u64,
}

#[derive(Serialize)]
struct Report {
    images: Vec<ImageUse>,
    layers: usize,
    layers_size: u64,
    containers: Vec<ContainerUse>,
}

/// Bytes allocated below `p` (not following symlinks, hardlinks counted once).
fn du(p: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    let mut n = if seen.insert((m.dev(), m.ino())) {
        m.blocks() * 512
    } else {
        0
    };
    if m.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                n += du(&e.path(), seen);
            }
        }
    }
    n
}

pub fn run(store: &Store, a: ListArgs) -> Result<(), Error> {
    let refs = store.refs()?;
    let images = store.images()?;
    let containers = store.containers()?;
    let mut count: HashMap<&str, usize> = HashMap::new();
    for i in &images {
        for d in &i.layers {
            *count.entry(d.as_str()).or_default() += 1;
        }
    }
    let layers = store.layers()?;
    let size_of: HashMap<&str, u64> = layers
        .iter()
        .map(|l| (l.diff_id.as_str(), l.size))
        .collect();
    let mut rows = Vec::new();
    for i in &images {
        let (mut shared, mut unique) = (0, 0);
        for d in &i.layers {
            let s = size_of.get(d.as_str()).copied().unwrap_or(0);
            if count.get(d.as_str()).copied().unwrap_or(0) > 1 {
                shared += s
            } else {
                unique += s
            }
        }
        rows.push(ImageUse {
            id: i.id.clone(),
            names: store.names_of(&refs, &i.id),
            size: shared + unique,
            shared,
            unique,
            containers: containers.iter().filter(|c| c.image == i.id).count(),
        });
    }
    let cont: Vec<ContainerUse> = containers
        .iter()
        .map(|c| ContainerUse {
            id: c.id.clone(),
            image: c.image.clone(),
            size: du(&store.container_dir(&c.id), &mut Default::default()),
        })
        .collect();
    let report = Report {
        images: rows,
        layers: layers.len(),
        layers_size: layers.iter().map(|l| l.size).sum(),
        containers: cont,
    };
    if a.json {
        return emit_json(&report).ctx("write", "stdout");
    }
    let mut t = Table::new([
        "image id",
        "names",
        "size",
        "shared",
        "unique",
        "containers",
    ]);
    for r in &report.images {
        let names = if r.names.is_empty() {
            "<none>".to_string()
        } else {
            r.names.join(",")
        };
        t.row([
            short(&r.id).to_string(),
            names,
            human(r.size),
            human(r.shared),
            human(r.unique),
            r.containers.to_string(),
        ]);
    }
    t.print(!a.no_headers).ctx("write", "stdout")?;
    println!(
        "\n{} layers, {} in total; {} containers, {} in writable layers",
        report.layers,
        human(report.layers_size),
        report.containers.len(),
        human(report.containers.iter().map(|c| c.size).sum())
    );
    Ok(())
}

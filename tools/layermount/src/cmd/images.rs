//! `layermount images`

use serde::Serialize;

use super::{human, image_size};
use crate::cli::ListArgs;
use crate::error::{Error, IoContext};
use crate::store::{Store, short};
use common::output::{Table, emit_json};

#[derive(Serialize)]
struct Row {
    id: String,
    names: Vec<String>,
    layers: usize,
    size: u64,
    created: String,
}

pub fn run(store: &Store, a: ListArgs) -> Result<(), Error> {
    let refs = store.refs()?;
    let rows: Vec<Row> = store
        .images()?
        .into_iter()
        .map(|i| Row {
            names: store.names_of(&refs, &i.id),
            layers: i.layers.len(),
            size: image_size(store, &i),
            created: i.created.clone(),
            id: i.id,
        })
        .collect();
    if a.json {
        return emit_json(&rows).ctx("write", "stdout");
    }
    let mut t = Table::new(["image id", "names", "layers", "size", "created"]);
    for r in &rows {
        let names = if r.names.is_empty() {
            "<none>".to_string()
        } else {
            r.names.join(",")
        };
        t.row([
            short(&r.id).to_string(),
            names,
            r.layers.to_string(),
            human(r.size),
            r.created.clone(),
        ]);
    }
    t.print(!a.no_headers).ctx("write", "stdout")
}

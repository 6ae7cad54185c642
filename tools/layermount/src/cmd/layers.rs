//! `layermount layers`

use std::collections::BTreeMap;

use serde::Serialize;

use super::human;
use crate::cli::ListArgs;
use crate::error::{Error, IoContext};
use crate::store::{Store, short};
use common::output::{Table, emit_json};

#[derive(Serialize)]
struct Row {
    diff_id: String,
    size: u64,
    entries: u64,
    images: Vec<String>,
    created: String,
}

pub fn run(store: &Store, a: ListArgs) -> Result<(), Error> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in store.images()? {
        for d in &i.layers {
            users.entry(d.clone()).or_default().push(i.id.clone());
        }
    }
    let rows: Vec<Row> = store
        .layers()?
        .into_iter()
        .map(|l| Row {
            images: users.get(&l.diff_id).cloned().unwrap_or_default(),
            size: l.size,
            entries: l.entries,
            created: l.created,
            diff_id: l.diff_id,
        })
        .collect();
    if a.json {
        return emit_json(&rows).ctx("write", "stdout");
    }
    let mut t = Table::new(["diff id", "size", "entries", "images", "created"]);
    for r in &rows {
        t.row([
            short(&r.diff_id).to_string(),
            human(r.size),
            r.entries.to_string(),
            r.images.len().to_string(),
            r.created.clone(),
        ]);
    }
    t.print(!a.no_headers).ctx("write", "stdout")
}

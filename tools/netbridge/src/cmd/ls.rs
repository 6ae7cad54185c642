use std::path::Path;

use common::output::{Table, emit_json, emit_lines};

use crate::cli::LsArgs;
use crate::error::Error;
use crate::model::NetworkJson;
use crate::store::Store;

pub fn run(a: LsArgs, root: &Path) -> Result<(), Error> {
    let store = Store::open(root)?;
    let nets: Vec<NetworkJson> = store.networks()?.iter().map(NetworkJson::of).collect();
    drop(store);
    if a.json {
        return emit_json(&nets).map_err(super::out);
    }
    if a.quiet {
        return emit_lines(nets.iter().map(|n| &n.name)).map_err(super::out);
    }
    let mut t = Table::new([
        "name",
        "subnet",
        "gateway",
        "nat",
        "internal",
        "attachments",
    ]);
    for n in &nets {
        t.row([
            n.name.clone(),
            n.subnet.clone(),
            n.gateway.clone(),
            yes_no(n.nat),
            yes_no(n.internal),
            n.attachments.to_string(),
        ]);
    }
    t.print(!a.no_headers).map_err(super::out)
}

pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

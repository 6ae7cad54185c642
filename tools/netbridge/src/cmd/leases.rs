use std::path::Path;

use common::output::{Table, emit_json};

use crate::cli::LeasesArgs;
use crate::error::Error;

pub fn run(a: LeasesArgs, root: &Path) -> Result<(), Error> {
    let (_, rows) = super::network_leases(root, &a.bridge)?;
    if a.json {
        return emit_json(&rows).map_err(super::out);
    }
    let mut t = Table::new(["ip", "mac", "veth", "name", "netns", "ports", "state"]);
    for r in &rows {
        t.row([
            r.ip.clone(),
            r.mac.clone(),
            r.veth.clone(),
            r.name
                .clone()
                .or(r.container_id.clone())
                .unwrap_or_else(|| "-".into()),
            r.netns.clone(),
            if r.ports.is_empty() {
                "-".into()
            } else {
                r.ports.join(",")
            },
            if r.alive { "alive" } else { "dead" }.into(),
        ]);
    }
    t.print(!a.no_headers).map_err(super::out)
}

use std::path::Path;

use common::output::{Table, emit_json};

use crate::cli::LeasesArgs;
use crate::error::{Error, NlContext};
use crate::model::LeaseJson;
use crate::netlink::Netlink;
use crate::ops;
use crate::store::Store;

pub fn run(a: LeasesArgs, root: &Path) -> Result<(), Error> {
    let store = Store::open(root)?;
    let net = store
        .load(&a.bridge)?
        .ok_or_else(|| Error::NoNetwork(a.bridge.clone()))?;
    drop(store);
    let mut nl = Netlink::open().nl(|| "open a netlink socket".into())?;
    let mut rows = Vec::new();
    for l in &net.leases {
        rows.push(LeaseJson::of(&net.name, l, ops::lease_alive(&mut nl, l)?));
    }
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

use std::io::Write;
use std::path::Path;

use crate::cli::InspectArgs;
use crate::error::{Error, NlContext};
use crate::model::{InspectJson, LeaseJson, NetworkJson};
use crate::netlink::Netlink;
use crate::ops;
use crate::store::Store;

pub fn run(a: InspectArgs, root: &Path) -> Result<(), Error> {
    let store = Store::open(root)?;
    let net = store
        .load(&a.bridge)?
        .ok_or_else(|| Error::NoNetwork(a.bridge.clone()))?;
    drop(store);
    let mut nl = Netlink::open().nl(|| "open a netlink socket".into())?;
    let mut leases = Vec::new();
    for l in &net.leases {
        leases.push(LeaseJson::of(&net.name, l, ops::lease_alive(&mut nl, l)?));
    }
    let doc = InspectJson {
        network: NetworkJson::of(&net),
        leases,
    };
    if a.json {
        return common::output::emit_json(&doc).map_err(super::out);
    }
    let n = &doc.network;
    let mut s = format!(
        "name: {}\nsubnet: {}\ngateway: {}\nmtu: {}\nnat: {}\ninternal: {}\nattachments: {}\n",
        n.name,
        n.subnet,
        n.gateway,
        n.mtu.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
        super::ls::yes_no(n.nat),
        super::ls::yes_no(n.internal),
        n.attachments
    );
    for l in &doc.leases {
        s.push_str(&format!(
            "lease: {} {} {}\n",
            l.ip,
            l.veth,
            l.name.as_deref().unwrap_or(&l.netns)
        ));
    }
    std::io::stdout()
        .lock()
        .write_all(s.as_bytes())
        .map_err(super::out)
}

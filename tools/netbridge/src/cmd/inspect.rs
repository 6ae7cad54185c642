use std::io::Write;
use std::path::Path;

use crate::cli::InspectArgs;
use crate::error::Error;
use crate::model::{InspectJson, NetworkJson};

pub fn run(a: InspectArgs, root: &Path) -> Result<(), Error> {
    let (net, leases) = super::network_leases(root, &a.bridge)?;
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

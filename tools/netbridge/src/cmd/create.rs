use std::path::Path;

use crate::cli::CreateArgs;
use crate::error::Error;
use crate::ops::{self, CreateSpec};
use crate::store::Store;

pub fn run(a: CreateArgs, root: &Path) -> Result<(), Error> {
    let store = Store::open(root)?;
    let net = ops::create(
        &store,
        CreateSpec {
            name: a.bridge,
            subnet: a.subnet,
            gateway: a.gateway,
            mtu: a.mtu,
            nat: !a.no_nat,
            internal: a.internal,
            gateway_on_bridge: true,
            bridge: a.bridge_name,
            ip_range: a.ip_range,
            labels: a.label.into_iter().collect(),
            options: a.options.into_iter().collect(),
            subnet6: a.subnet6,
            gateway6: a.gateway6,
        },
    )?;
    common::output::emit_lines([net.subnet]).map_err(super::out)
}

use std::path::Path;

use crate::cli::AttachArgs;
use crate::error::Error;
use crate::model::{CniResult, CniRoute};
use crate::ops::{self, AttachSpec};
use crate::store::Store;

pub fn run(a: AttachArgs, root: &Path) -> Result<(), Error> {
    if a.none {
        return ops::attach_none(&ops::open_netns(a.netns.as_deref().unwrap_or_default())?);
    }
    let Some(bridge) = a.bridge else {
        return Err(Error::Usage("--bridge is required (or --none)".into()));
    };
    let store = Store::open(root)?;
    // --new-pin: the namespace is made here (and goes again, when anything below fails)
    let pin = match &a.new_pin {
        Some(dir) => Some(crate::netns::new_pinned(dir).map_err(|e| {
            Error::Failed(format!(
                "cannot pin a new network namespace at {}/net: {e}",
                dir.display()
            ))
        })?),
        None => None,
    };
    let netns = match &pin {
        Some(p) => p.file.to_string_lossy().into_owned(),
        None => a.netns.unwrap_or_default(),
    };
    let ns = ops::open_netns(&netns)?;
    let done = ops::attach(
        &store,
        &ns,
        AttachSpec {
            bridge,
            ip: a.ip,
            ip6: a.ip6,
            ifname: a.ifname,
            mac: a.mac,
            name: a.name,
            container_id: None,
            ports: a.publish.into_iter().flat_map(|p| p.0).collect(),
            etc: a.etc,
            aliases: a.alias,
            hostname: a.hostname,
            extra_hosts: a.add_host,
            dns: ops::Dns {
                servers: a.dns,
                search: a.dns_search,
                options: a.dns_option,
            },
            default_route: true,
            routes: vec![],
            delegated: None,
        },
    )?;
    drop(store);
    if let Some(p) = pin {
        p.keep();
    }
    if a.json {
        let routes = if done.network.internal {
            vec![]
        } else {
            vec![CniRoute {
                dst: "0.0.0.0/0".into(),
                gw: Some(done.network.gateway.to_string()),
            }]
        };
        // (the CNI result, plus the ports as published: their host ports picked here)
        let mut v = serde_json::to_value(CniResult::of(&done, "1.0.0", routes))
            .map_err(|e| Error::Failed(e.to_string()))?;
        v["ports"] = serde_json::json!(
            done.lease
                .ports
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
        );
        return common::output::emit_json(&v).map_err(super::out);
    }
    common::output::emit_lines([done.lease.ip]).map_err(super::out)
}

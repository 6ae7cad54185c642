//! `cgset info [--json]`: mode, mount points, available and enabled controllers.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use common::cgroup::{Mode, Version};

use crate::cg::{Cg, read_file};
use crate::cli::InfoArgs;
use crate::error::Result;

#[derive(Serialize)]
struct MountInfo {
    path: PathBuf,
    version: Version,
    controllers: Vec<String>,
    /// v2: the root's cgroup.subtree_control (controllers enabled for children)
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Info {
    mode: Mode,
    root: PathBuf,
    mounts: Vec<MountInfo>,
    controllers: BTreeMap<String, Version>,
}

pub fn run(cg: &Cg, a: InfoArgs) -> Result<()> {
    let mut mounts = Vec::new();
    for m in cg.all_mounts() {
        let enabled = (m.version == Version::V2).then(|| {
            read_file(&m.path.join("cgroup.subtree_control"))
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        });
        mounts.push(MountInfo {
            path: m.path.clone(),
            version: m.version,
            controllers: m.controllers.clone(),
            enabled,
        });
    }
    let info = Info {
        mode: cg.h.mode,
        root: cg.h.root.clone(),
        mounts,
        controllers: cg.h.controllers(),
    };
    if a.json {
        common::output::emit_json(&info)?;
        return Ok(());
    }
    println!("mode: {}", info.mode);
    println!("root: {}", info.root.display());
    for m in &info.mounts {
        let v = if m.version == Version::V2 { "v2" } else { "v1" };
        let mut line = format!(
            "mount: {} {v} {}",
            m.path.display(),
            m.controllers.join(",")
        );
        if let Some(e) = &m.enabled {
            line.push_str(&format!(
                " (enabled for children: {})",
                if e.is_empty() {
                    "none".into()
                } else {
                    e.join(",")
                }
            ));
        }
        println!("{}", line.trim_end());
    }
    let list: Vec<String> = info
        .controllers
        .iter()
        .map(|(c, v)| format!("{c}({})", if *v == Version::V2 { "v2" } else { "v1" }))
        .collect();
    println!("controllers: {}", list.join(" "));
    Ok(())
}

//! `--container NAME|ID|ID-PREFIX`: the host PID of a container's first process, found by
//! the discovery code ctr-ps uses (`common::discover`): a ctrkit container by name in its
//! state folder, runc/crun containers by ID in their state dirs, and Docker, Podman,
//! containerd/Kubernetes containers by ID (or unique ID prefix) from their cgroup paths.

use std::path::Path;

use common::state::Dirs;

use crate::error::Error;

pub fn resolve(query: &str, state_dir: &Path) -> Result<i32, Error> {
    let dirs = Dirs {
        state_dir: state_dir.to_path_buf(),
        ..Dirs::from_env()
    };
    common::discover::resolve_pid(query, &dirs).map_err(|e| Error::Container {
        query: query.to_string(),
        reason: e.to_string(),
    })
}

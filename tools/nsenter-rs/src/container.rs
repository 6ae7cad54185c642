//! `--container NAME|ID|ID-PREFIX`: the host PID of a container's first process, found by
//! the discovery code ctr-ps uses (`common::discover`): a ctrkit container by name in its
//! state folder; Docker, Podman, containerd (nerdctl) and Kubernetes containers by the
//! names their runtimes recorded (`POD/CONTAINER` for a pod's), by ID or by a unique ID
//! prefix. A name or prefix that fits several containers is an error naming them all.
//! Runtimes whose records are under non-default roots are found through
//! `CTRKIT_DOCKER_ROOT`, `CTRKIT_PODMAN_ROOT` and `CTRKIT_RUNTIME_ROOT`, as by ctr-ps.

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
